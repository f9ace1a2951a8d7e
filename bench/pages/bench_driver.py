"""In-page benchmark driver for our SDK (runs in Pyodide, loaded by bench/pages/ours.html after start-up).

The Playwright side (bench/_common.py, ``Page.run``) calls ``window.benchRun(name, kwargs)``, which awaits
``bench_driver.<name>(**kwargs)`` and returns JSON text ``{"ok": result}`` or ``{"error": message}``.
Times are milliseconds from ``performance.now()`` in the page; nothing here asserts anything.
"""

from __future__ import annotations

import asyncio
import json
import traceback
from typing import Any

import js

from twochat_voice_web import Call, Device

_devices: dict[str, Device] = {}


def _now() -> float:
    return float(js.performance.now())


async def add_device(
    key: str,
    token: str | None = None,
    credentials: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Create and register a Device under ``key`` (a sandbox token, or fixed SIP credentials)."""
    opts: dict[str, Any] = dict(options or {})
    if credentials is not None:
        fixed = dict(credentials)

        async def provider(_token: str) -> dict[str, Any]:
            return fixed

        opts["credentials_provider"] = provider
        token = token or "bench-opaque-token"
    else:
        opts.setdefault("api_base_url", str(js.location.origin))
    started = _now()
    device = Device(token or "", **opts)
    await device.register()
    _devices[key] = device
    return {"register_ms": round(_now() - started, 1), "state": device.state}


async def _accepted(call: Call, timeout: float) -> None:
    """Wait for the call's ``accepted`` event (or fail on ``failed``/``disconnect``)."""
    loop = asyncio.get_event_loop()
    done: asyncio.Future[None] = loop.create_future()

    def accepted(*_: Any) -> None:
        if not done.done():
            done.set_result(None)

    def ended(*args: Any) -> None:
        if not done.done():
            done.set_exception(RuntimeError(f"the call ended before it was accepted: {args!r}"))

    call.on("accepted", accepted)
    call.on("failed", ended)
    call.on("disconnect", ended)
    if call.status == "accepted":
        accepted()
    await asyncio.wait_for(done, timeout)


async def _disconnected(call: Call, timeout: float) -> None:
    """Hang up; ``disconnect()`` returns once the call has ended."""
    await asyncio.wait_for(call.disconnect(), timeout)


async def connect_accepted(
    key: str, number: str, runs: int = 5, *, hold_ms: int = 300, pause_ms: int = 300, timeout: float = 30.0
) -> list[dict[str, float]]:
    """``device.connect(number)`` → ``accepted``, ``runs`` calls in a row (each hung up after ``hold_ms``).

    Each result: ``ms`` (connect → accepted) and ``invite_ms`` (connect → INVITE sent: microphone, peer
    connection, offer and ICE gathering).
    """
    device = _devices[key]
    times: list[dict[str, float]] = []
    for _ in range(runs):
        started = _now()
        call = await device.connect(number)
        invite_sent = _now()
        await _accepted(call, timeout)
        times.append({"ms": round(_now() - started, 1), "invite_ms": round(invite_sent - started, 1)})
        await asyncio.sleep(hold_ms / 1000)
        await _disconnected(call, timeout)
        await asyncio.sleep(pause_ms / 1000)
    return times


def memory() -> dict[str, Any]:
    """The page's wasm linear memory, the SDK's live JS proxies and the objects Python's collector tracks
    after a full collection (what the Python heap holds, which the wasm memory's size, only ever growing,
    hides; ``sys.getallocatedblocks()`` is 0 in Pyodide)."""
    import gc

    module = js.pyodide._module
    live = 0
    for device in _devices.values():
        try:
            live = int(device.platform.live_proxies())
            break
        except Exception:
            continue
    gc.collect()
    return {"wasm_bytes": int(module.HEAP8.length), "live_proxies": live,
            "python_objects": len(gc.get_objects())}


def object_types(minimum: int = 20) -> dict[str, int]:
    """How many objects of each type Python's collector tracks (types with at least ``minimum``), after a
    full collection: compared before and after the calls, it names what the calls leave behind."""
    import gc
    from collections import Counter

    gc.collect()
    counts = Counter(f"{type(item).__module__}.{type(item).__qualname__}" for item in gc.get_objects())
    return {name: count for name, count in counts.items() if count >= minimum}


async def many_calls(
    key: str, number: str, count: int = 100, timeout: float = 30.0, settle_ms: int = 1000
) -> dict[str, Any]:
    """``count`` calls in a row (connect → accepted → hang up), with memory before and after."""
    before = memory()
    device = _devices[key]
    started = _now()
    failures = 0
    for _ in range(count):
        call = await device.connect(number)
        try:
            await _accepted(call, timeout)
        except (RuntimeError, TimeoutError):
            failures += 1
        await _disconnected(call, timeout)
    await asyncio.sleep(settle_ms / 1000)  # let the last call's objects go
    return {"before": before, "after": memory(), "seconds": round((_now() - started) / 1000, 1),
            "failures": failures}


async def first_and_second_call(
    key: str,
    number: str,
    *,
    token: str | None = None,
    credentials: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    hold_ms: int = 300,
    timeout: float = 30.0,
) -> list[dict[str, float]]:
    """A new Device registered under ``key``, its first call (nothing cached for the INVITE's
    authentication) and its second one (``connect_accepted``'s fields each); the Device is destroyed."""
    await add_device(key, token=token, credentials=credentials, options=options)
    try:
        return await connect_accepted(key, number, runs=2, hold_ms=hold_ms, pause_ms=hold_ms, timeout=timeout)
    finally:
        destroy(key)


def destroy(key: str) -> bool:
    """Destroy one Device."""
    device = _devices.pop(key, None)
    if device is not None:
        device.destroy()
    return device is not None


def parse_mix_run(iterations: int) -> dict[str, float]:
    """One run of bench_parse.mix_run() in this page (Pyodide): the mix rate and µs per INVITE."""
    import bench_parse

    return bench_parse.mix_run(iterations)


def serialise_run(iterations: int) -> float:
    """One run of bench_parse.serialise_run() in this page: to_bytes() rate (messages/s)."""
    import bench_parse

    return bench_parse.serialise_run(iterations)


def parse_full_run(iterations: int, runs: int) -> list[dict[str, object]]:
    """bench_parse.run_full() in this page: the full-grammar rate of each sample message."""
    import bench_parse

    return bench_parse.run_full(iterations, runs)


_frame_handler: Any = None


def clear_caches() -> bool:
    """Empty the SIP parser's caches (before a timed run on fresh messages)."""
    from twochat_voice_web.sip.message import clear_parse_caches

    clear_parse_caches()
    return True


def _on_frame(event: Any) -> None:
    """A WebSocket "message" event as the SDK's signalling connection takes it (browser/_signalling.py:
    a text frame's JS string becomes a Python str, then UTF-8 bytes), parsed with the full grammar."""
    import bench_parse

    data = event.data
    payload = data.encode("utf-8") if isinstance(data, str) else js.Uint8Array.new(data).to_bytes()
    bench_parse.parse_full(payload)


def install_frame_handler() -> bool:
    """``window.benchFrameHandler``: :func:`_on_frame` as a JS function, for a page's EventTarget (an
    event listener proxy, as the SDK's own listeners are); :func:`remove_frame_handler` destroys it."""
    from pyodide.ffi import create_proxy

    global _frame_handler
    if _frame_handler is None:
        _frame_handler = create_proxy(_on_frame)
        js.window.benchFrameHandler = _frame_handler
    return True


def remove_frame_handler() -> bool:
    """Destroy the proxy of :func:`install_frame_handler`."""
    global _frame_handler
    handler, _frame_handler = _frame_handler, None
    if handler is None:
        return False
    js.window.benchFrameHandler = None
    handler.destroy()
    return True


def sample_messages(count: int) -> dict[str, list[str]]:
    """bench_parse's fresh sample messages as text, for JsSIP's parser in the same page."""
    import bench_parse

    sample = bench_parse.fresh_sample(count)
    return {name: [data.decode() for data in items] for name, items in sample.items()}


async def run_json(name: str, kwargs_json: str) -> str:
    """Entry point for the page: run ``name(**kwargs)``; ``{"ok": result}`` or ``{"error": text}``."""
    try:
        result = globals()[name](**json.loads(kwargs_json))
        if asyncio.iscoroutine(result):
            result = await result
        return json.dumps({"ok": result})
    except Exception as exc:
        return json.dumps({"error": f"{type(exc).__name__}: {exc}", "traceback": traceback.format_exc()})
