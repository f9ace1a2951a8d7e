"""In-page driver for the Device/Call browser tests (runs inside Pyodide, loaded by sdk_harness.html).

The Playwright side calls ``window.sdkRun(command, kwargs)``; every command returns JSON text. Devices and
calls live in registries under short ids ("d1", "c1"); every event any of them emits is logged with a
sequence number so tests can wait for it (``wait_event``) or read the log (``events``).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
import traceback
from collections.abc import Mapping
from typing import Any

from twochat_voice_web import Call, Device, VoiceSDKError
from twochat_voice_web.call import Call as CallClass
from twochat_voice_web.device import Device as DeviceClass

_devices: dict[str, Device] = {}
_calls: dict[str, Call] = {}
_ids: dict[int, str] = {}
_log: list[dict[str, Any]] = []
_counter = {"device": 0, "call": 0, "seq": 0}
_log_changed = asyncio.Event()
_provider_calls: dict[str, int] = {}


def _jsonable(value: Any) -> Any:
    if isinstance(value, VoiceSDKError):
        return {"error": True, **value.to_json()}
    if isinstance(value, CallClass):
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
        {"seq": _counter["seq"], "target": target, "name": name, "args": [_jsonable(a) for a in args]}
    )
    _log_changed.set()


def _register_call(call: Call) -> str:
    key = _ids.get(id(call))
    if key is not None:
        return key
    _counter["call"] += 1
    key = f"c{_counter['call']}"
    _ids[id(call)] = key
    _calls[key] = call
    for event in sorted(CallClass.EVENTS):
        call.on(event, lambda *args, _k=key, _e=event: _record(_k, _e, args))
    return key


async def create_device(
    token: str, options: dict[str, Any] | None = None, credentials: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A Device with every event logged; returns its id.

    ``credentials`` (a SipCredentials-shaped dict) installs a ``credentials_provider`` returning it, to
    register with any SIP-over-WebSocket server (Kamailio in the interop tests); ``credentials_calls``
    in :func:`snapshot` counts how often the provider ran.
    """
    _counter["device"] += 1
    key = f"d{_counter['device']}"
    options = dict(options or {})
    if credentials is not None:
        fixed = dict(credentials)

        async def provider(_token: str) -> dict[str, Any]:
            _provider_calls[key] = _provider_calls.get(key, 0) + 1
            return fixed

        options["credentials_provider"] = provider
    device = Device(token, **options)
    _devices[key] = device
    for event in sorted(DeviceClass.EVENTS):
        device.on(event, lambda *args, _k=key, _e=event: _record(_k, _e, args))
    return {"device": key}


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


async def _invoke(target: Any, method: str, args: list[Any] | None, kwargs: dict[str, Any] | None) -> Any:
    attribute = getattr(target, method)
    if not callable(attribute):
        return attribute
    result = attribute(*(args or []), **(kwargs or {}))
    if inspect.isawaitable(result):
        result = await result
    return result


async def events(since: int = 0) -> list[dict[str, Any]]:
    """Every logged event after sequence number ``since``."""
    return [entry for entry in _log if entry["seq"] > since]


async def wait_event(target: str, name: str, since: int = 0, timeout: float = 20.0) -> dict[str, Any]:
    """The first ``name`` event of ``target`` after ``since`` (waits up to ``timeout`` seconds)."""
    loop = asyncio.get_event_loop()
    deadline = loop.time() + timeout
    while True:
        for entry in _log:
            if entry["seq"] > since and entry["target"] == target and entry["name"] == name:
                return entry
        left = deadline - loop.time()
        if left <= 0:
            seen = [(e["target"], e["name"]) for e in _log if e["seq"] > since]
            raise TimeoutError(f"no {name!r} from {target} within {timeout} s; seen: {seen}")
        _log_changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(_log_changed.wait(), timeout=min(left, 0.5))


async def snapshot() -> dict[str, Any]:
    """Device states, call statuses, the live JS proxy count and the last log sequence number."""
    live = 0
    for dev in _devices.values():
        try:
            live = dev.platform.live_proxies()
            break
        except Exception:
            continue
    return {
        "devices": {k: d.state for k, d in _devices.items()},
        "calls": {k: c.status for k, c in _calls.items()},
        "live_proxies": live,
        "seq": _counter["seq"],
        "credentials_calls": dict(_provider_calls),
        "audio_elements": _count_audio_elements(),
    }


async def sounds(device_id: str) -> dict[str, bool]:
    """Which of a Device's sounds play right now (``{"incoming": True, ...}``; {} before any sound)."""
    player = getattr(_devices[device_id], "_sound_player", None)
    is_playing = getattr(player, "is_playing", None)
    if not callable(is_playing):
        return {}
    return {name: bool(is_playing(name)) for name in ("incoming", "outgoing", "disconnect")}


def _count_audio_elements() -> int:
    from js import document

    return int(document.querySelectorAll("audio").length)


async def run_json(name: str, kwargs_json: str) -> str:
    """Entry point used by the page: run ``name(**kwargs)`` and return ``{"ok": result}`` or ``{"error"}``."""
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


_streams: dict[str, Any] = {}


def _describe_stream(stream: Any) -> dict[str, Any]:
    tracks = stream.getAudioTracks()
    return {
        "id": str(stream.id),
        "audio_tracks": [
            {"id": str(t.id), "ready_state": str(t.readyState), "enabled": bool(t.enabled)} for t in tracks
        ],
    }


async def stream_info(call_id: str, which: str) -> dict[str, Any] | None:
    """``call.get_<which>_stream()`` (``local`` / ``remote``) described; the stream is kept for
    :func:`kept_stream_info`. None when the call has no stream yet."""
    stream = getattr(_calls[call_id], f"get_{which}_stream")()
    if stream is None:
        return None
    _streams[f"{call_id}:{which}"] = stream
    return _describe_stream(stream)


async def kept_stream_info(call_id: str, which: str) -> dict[str, Any]:
    """The stream :func:`stream_info` returned earlier, described now (e.g. after the call ended)."""
    return _describe_stream(_streams[f"{call_id}:{which}"])
