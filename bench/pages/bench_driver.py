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
    """The page's wasm linear memory and the SDK's live JS proxies."""
    module = js.pyodide._module
    live = 0
    for device in _devices.values():
        try:
            live = int(device.platform.live_proxies())
            break
        except Exception:
            continue
    return {"wasm_bytes": int(module.HEAP8.length), "live_proxies": live}


async def many_calls(key: str, number: str, count: int = 100, timeout: float = 30.0) -> dict[str, Any]:
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
    await asyncio.sleep(1.0)  # let the last call's objects go
    return {"before": before, "after": memory(), "seconds": round((_now() - started) / 1000, 1),
            "failures": failures}


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
