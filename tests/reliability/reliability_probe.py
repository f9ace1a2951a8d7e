"""In-page driver of the reliability tests and benchmark (runs inside Pyodide, in Chromium).

Loaded into the page of ``tests/pages/sdk_harness.html`` (which exposes ``window.pyodide`` with our wheel
installed) by :class:`reliability.driver.Probe`: the source is written to Pyodide's file system and imported,
then ``window.relRun(command, kwargs)`` awaits ``reliability_probe.<command>(**kwargs)`` and returns JSON text
``{"ok": result}`` or ``{"error": {...}}``.

Unlike the generic driver of the Device/Call tests it stamps every event with the page's wall clock
(``time.time()``, i.e. ``Date.now()``, the same clock as the test process on this machine), so a test can
measure "server reachable again -> ``registered``", and it can sample received audio in the background to
find gaps. :func:`call_loop` places many calls inside the page without keeping them (the leak test), and
:func:`memory` reports what the page holds (JS proxies, live microphone tracks, open peer connections,
``<audio>`` elements, Python objects, JS heap).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import inspect
import json
import time
import traceback
from collections.abc import Mapping
from typing import Any

from twochat_voice_web import Call, Device, VoiceSDKError

_devices: dict[str, Device] = {}
_calls: dict[str, Call] = {}
_ids: dict[int, str] = {}
_log: list[dict[str, Any]] = []
_counter = {"device": 0, "call": 0, "seq": 0}
_changed = asyncio.Event()
_samplers: dict[str, asyncio.Task[None]] = {}
_samples: dict[str, list[dict[str, float]]] = {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, VoiceSDKError):
        return {"error": True, **value.to_json()}
    if isinstance(value, Call):
        return {"call": _register_call(value)}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        to_dict = getattr(value, "to_dict", None)
        return _jsonable(to_dict() if callable(to_dict) else dataclasses.asdict(value))
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _record(target: str, name: str, args: tuple[Any, ...]) -> None:
    _counter["seq"] += 1
    _log.append(
        {
            "seq": _counter["seq"],
            "t": time.time(),
            "target": target,
            "name": name,
            "args": [_jsonable(a) for a in args],
        }
    )
    _changed.set()


def _register_call(call: Call) -> str:
    key = _ids.get(id(call))
    if key is not None:
        return key
    _counter["call"] += 1
    key = f"c{_counter['call']}"
    _ids[id(call)] = key
    _calls[key] = call
    for event in sorted(Call.EVENTS - {"sample"}):
        call.on(event, lambda *args, _k=key, _e=event: _record(_k, _e, args))
    return key


# ------------------------------------------------------------------------------------------ devices, calls


async def create_device(
    token: str,
    options: dict[str, Any] | None = None,
    credentials: dict[str, Any] | None = None,
    log: bool = True,
) -> str:
    """A Device with every event logged (time-stamped); ``credentials`` installs a fixed provider.

    ``log=False`` logs nothing (the leak test: a logged ``incoming`` event would keep its Call).
    """
    _counter["device"] += 1
    key = f"d{_counter['device']}"
    options = dict(options or {})
    if credentials is not None:
        fixed = dict(credentials)

        async def provider(_token: str) -> dict[str, Any]:
            _record(key, "credentials_provider", ())
            return fixed

        options["credentials_provider"] = provider
    device = Device(token, **options)
    _devices[key] = device
    if log:
        for event in sorted(Device.EVENTS):
            device.on(event, lambda *args, _k=key, _e=event: _record(_k, _e, args))
    return key


async def _invoke(target: Any, method: str, args: list[Any] | None, kwargs: dict[str, Any] | None) -> Any:
    attribute = getattr(target, method)
    if not callable(attribute):
        return attribute
    result = attribute(*(args or []), **(kwargs or {}))
    if inspect.isawaitable(result):
        result = await result
    return result


async def device(
    device_id: str, method: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None
) -> Any:
    """Call a Device method (awaited when it is a coroutine), or read a property."""
    return await _invoke(_devices[device_id], method, args, kwargs)


async def call(
    call_id: str, method: str, args: list[Any] | None = None, kwargs: dict[str, Any] | None = None
) -> Any:
    """Call a Call method (awaited when it is a coroutine), or read a property."""
    return await _invoke(_calls[call_id], method, args, kwargs)


async def destroy_all() -> int:
    """Destroy every Device (and so every call); forget calls and samplers. Returns how many devices."""
    for task in _samplers.values():
        task.cancel()
    _samplers.clear()
    count = 0
    for dev in list(_devices.values()):
        if dev.state != "destroyed":
            dev.destroy()
            count += 1
    _devices.clear()
    _calls.clear()
    _ids.clear()
    return count


# ------------------------------------------------------------------------------------------ the event log


async def events(since: int = 0, target: str | None = None) -> list[dict[str, Any]]:
    """Logged events after sequence number ``since`` (of one target, or all)."""
    return [e for e in _log if e["seq"] > since and (target is None or e["target"] == target)]


async def last_seq() -> int:
    """The sequence number of the newest event."""
    return _counter["seq"]


async def wait_event(
    target: str, name: str, since: int = 0, timeout: float = 20.0, names: list[str] | None = None
) -> dict[str, Any]:
    """The first ``name`` event (or any of ``names``) of ``target`` after ``since`` (waits ``timeout`` s)."""
    wanted = set(names or [name])
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while True:
        for entry in _log:
            if entry["seq"] > since and entry["target"] == target and entry["name"] in wanted:
                return entry
        left = deadline - loop.time()
        if left <= 0:
            seen = [(e["target"], e["name"]) for e in _log if e["seq"] > since]
            raise TimeoutError(f"no {sorted(wanted)} from {target} within {timeout} s; seen: {seen[-30:]}")
        _changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_changed.wait(), timeout=min(left, 0.5))


# ------------------------------------------------------------------------------------------ audio


async def _audio_now(call_obj: Call) -> dict[str, float]:
    stats = await call_obj.get_stats()
    return {
        "t": time.time(),
        "bytes": float(stats.get("bytes_received") or 0),
        "packets": float(stats.get("packets_received") or 0),
        "energy": float(stats.get("total_audio_energy_in") or 0.0),
    }


async def audio(call_id: str) -> dict[str, float]:
    """Received audio so far: ``bytes``, ``packets``, ``energy`` (totalAudioEnergy) and the time ``t``."""
    return await _audio_now(_calls[call_id])


async def audio_flow(call_id: str, seconds: float = 2.0) -> dict[str, float]:
    """What the call received during the next ``seconds``: deltas of ``bytes``, ``packets``, ``energy``."""
    call_obj = _calls[call_id]
    first = await _audio_now(call_obj)
    await asyncio.sleep(seconds)
    second = await _audio_now(call_obj)
    return {key: second[key] - first[key] for key in ("t", "bytes", "packets", "energy")}


async def wait_audio(call_id: str, timeout: float = 10.0, min_packets: int = 25) -> dict[str, float]:
    """Wait until the call received ``min_packets`` new packets (and some energy); returns when, and how long.

    Raises TimeoutError when the audio does not come back within ``timeout`` seconds.
    """
    call_obj = _calls[call_id]
    start = await _audio_now(call_obj)
    deadline = start["t"] + timeout
    while True:
        await asyncio.sleep(0.1)
        if call_obj.ended:
            raise RuntimeError(f"the call ended while waiting for audio ({call_obj.status})")
        now = await _audio_now(call_obj)
        if now["packets"] - start["packets"] >= min_packets and now["energy"] > start["energy"]:
            gained = now["packets"] - start["packets"]
            return {"t": now["t"], "waited_s": now["t"] - start["t"], "packets": gained}
        if now["t"] > deadline:
            raise TimeoutError(
                f"no audio within {timeout} s: {now['packets'] - start['packets']:.0f} packets, "
                f"energy +{now['energy'] - start['energy']:.4f}"
            )


async def start_sampling(call_id: str, interval: float = 0.2) -> None:
    """Sample the received audio every ``interval`` seconds in the background (see :func:`samples`)."""
    call_obj = _calls[call_id]
    store: list[dict[str, float]] = []
    _samples[call_id] = store

    async def sampler() -> None:
        while not call_obj.ended:
            with contextlib.suppress(Exception):
                store.append(await _audio_now(call_obj))
            await asyncio.sleep(interval)

    _samplers[call_id] = asyncio.ensure_future(sampler())


async def samples(call_id: str, stop: bool = True) -> list[dict[str, float]]:
    """The samples taken by :func:`start_sampling` (and stop sampling, unless ``stop`` is False)."""
    if stop:
        task = _samplers.pop(call_id, None)
        if task is not None:
            task.cancel()
    return list(_samples.get(call_id, []))


# ------------------------------------------------------------------------------------------ memory, leaks


def _js_counts() -> dict[str, float]:
    from js import document, window

    counts: dict[str, float] = {"audio_elements": float(document.querySelectorAll("audio").length)}
    probe = getattr(window, "__relProbe", None)
    if probe is not None:
        counts.update({str(k): float(v) for k, v in probe.counts().to_py().items()})
    return counts


async def memory(collect: bool = True) -> dict[str, float]:
    """What the page holds: live proxies, live microphone tracks, open peer connections, ``<audio>``
    elements, Python objects (after emptying the SIP parse caches, which are bounded LRU caches, and
    ``gc.collect()``), the JS heap and the wasm memory, in one dict."""
    from js import performance

    from twochat_voice_web.browser._proxies import live_proxies
    from twochat_voice_web.sip.message import clear_parse_caches

    if collect:
        clear_parse_caches()
        gc.collect()
    out: dict[str, float] = {
        "live_proxies": float(live_proxies()),
        "python_objects": float(len(gc.get_objects())),
    }
    out.update(_js_counts())
    heap = getattr(performance, "memory", None)
    if heap is not None:
        out["js_heap_used"] = float(heap.usedJSHeapSize)
    with contextlib.suppress(Exception):
        from pyodide_js import _module  # type: ignore[import-not-found]

        out["wasm_memory"] = float(_module.HEAP8.length)
    out["devices"] = float(len([d for d in _devices.values() if d.state != "destroyed"]))
    out["calls_registered"] = float(len(_calls))
    return out


async def call_loop(device_id: str, plan: list[dict[str, Any]], sandbox_url: str = "") -> dict[str, Any]:
    """Place the calls of ``plan`` one after the other inside the page, keeping no reference to them.

    Each step is ``{"kind": "answered" | "cancelled" | "rejected" | "failed" | "inbound-accept" |
    "inbound-reject" | "inbound-cancel", "to": number}``. Inbound steps ask the sandbox at
    ``sandbox_url`` (``POST /sandbox/calls``) to call the Device. Returns the outcome counts and the end
    reasons seen (``{"outcomes": {...}, "reasons": {...}, "errors": [...]}``).
    """
    dev = _devices[device_id]
    outcomes: dict[str, int] = {}
    reasons: dict[str, int] = {}
    errors: list[str] = []
    for index, step in enumerate(plan):
        kind = str(step["kind"])
        try:
            reason = await _one_call(dev, kind, str(step.get("to", "")), sandbox_url)
        except Exception as exc:
            errors.append(f"#{index} {kind}: {type(exc).__name__}: {exc}")
            reason = "error"
        outcomes[kind] = outcomes.get(kind, 0) + 1
        key = f"{kind}:{reason}"
        reasons[key] = reasons.get(key, 0) + 1
    return {"outcomes": outcomes, "reasons": reasons, "errors": errors[:20]}


def _end_waiter(call_obj: Call) -> asyncio.Future[str]:
    """A future for the reason of the call's ``disconnect`` (listening from now on, synchronously)."""
    done: asyncio.Future[str] = asyncio.get_event_loop().create_future()

    def on_disconnect(payload: dict[str, Any]) -> None:
        if not done.done():
            done.set_result(str(payload.get("reason")))

    call_obj.once("disconnect", on_disconnect)
    if call_obj.ended and not done.done():
        done.set_result("ended-before-listening")
    return done


async def _event(emitter: Any, name: str, timeout: float) -> Any:
    fired: asyncio.Future[Any] = asyncio.get_event_loop().create_future()

    def handler(*args: Any) -> None:
        if not fired.done():
            fired.set_result(args[0] if args else None)

    emitter.once(name, handler)
    return await asyncio.wait_for(fired, timeout)


async def _post_json(url: str, body: dict[str, Any]) -> dict[str, Any]:
    from js import JSON, Object, fetch
    from pyodide.ffi import to_js

    init = to_js(
        {"method": "POST", "headers": {"Content-Type": "application/json"}, "body": json.dumps(body)},
        dict_converter=Object.fromEntries,
    )
    response = await fetch(url, init)
    text = await response.text()
    result: dict[str, Any] = JSON.parse(text).to_py()
    return result


async def _one_call(dev: Device, kind: str, to: str, sandbox_url: str) -> str:
    if kind.startswith("inbound"):
        incoming = asyncio.ensure_future(_event(dev, "incoming", 15.0))
        body = {"to": "alice", "media": "silence", "answer_timeout": 30}
        await _post_json(f"{sandbox_url}/sandbox/calls", body)
        call_obj: Call = await incoming
        ended = _end_waiter(call_obj)
        if kind == "inbound-accept":
            await call_obj.accept()
            await asyncio.sleep(0.3)
            await call_obj.disconnect()
        elif kind == "inbound-reject":
            call_obj.reject()
        else:  # inbound-cancel: the sandbox hangs up before we answer
            call_id = call_obj.sip_call_id
            from js import fetch

            await fetch(f"{sandbox_url}/sandbox/calls/{call_id}", _js_init({"method": "DELETE"}))
        return await asyncio.wait_for(ended, 20.0)
    call_obj = await dev.connect(to)
    ended = _end_waiter(call_obj)
    if kind == "answered":
        await _event(call_obj, "accepted", 15.0)
        await asyncio.sleep(0.3)
        await call_obj.disconnect()
    elif kind == "cancelled":
        await _event(call_obj, "ringing", 15.0)
        await call_obj.disconnect()
    return await asyncio.wait_for(ended, 20.0)


def _js_init(init: dict[str, Any]) -> Any:
    from js import Object
    from pyodide.ffi import to_js

    return to_js(init, dict_converter=Object.fromEntries)


# ------------------------------------------------------------------------------------------ entry point


async def run_json(name: str, kwargs_json: str) -> str:
    """Run ``name(**kwargs)`` and return ``{"ok": result}`` or ``{"error": {...}}`` as JSON text."""
    try:
        result = await globals()[name](**json.loads(kwargs_json))
        return json.dumps({"ok": _jsonable(result)})
    except VoiceSDKError as exc:
        return json.dumps({"error": exc.to_json()})
    except Exception as exc:
        return json.dumps(
            {
                "error": {
                    "name": type(exc).__name__,
                    "code": "EXCEPTION",
                    "message": str(exc),
                    "traceback": traceback.format_exc(),
                }
            }
        )
