"""The Python side of the JavaScript facade (``www/twochat-voice.js``, served as ``/twochat-voice.js`` and,
built by build.py as a classic script, ``/twochat-voice.global.js``).

``twochat-voice.js`` gives JavaScript apps the ``@2chat/voice-sdk`` API (``new Device({token, ...})``,
``device.connect({to})``, camelCase names, promises, ``VoiceSDKError``) on top of this package's
:class:`~twochat_voice_web.Device` and :class:`~twochat_voice_web.Call`. This module is everything the
JavaScript side talks to.

Protocol (designed so that no PyProxy is ever created per Device, per call or per event):

* JavaScript holds one PyProxy per function of this module, taken once at start-up. It calls them with
  strings and numbers only, and they return strings (JSON) or nothing: nothing crosses the boundary that
  would need a proxy.
* Objects are named by string ids: JavaScript chooses Device ids (``"d1"``; a Device can be created before
  Python is loaded), this module chooses call ids (``"c1"``).
* :func:`invoke` runs a method. A synchronous one answers ``{"ok": value}`` or ``{"error": error}`` at
  once; a coroutine answers ``{"pending": true}`` and, when it finishes, this module calls the JavaScript
  ``settle(request_id, json)`` function given to :func:`install` with ``{"ok"}`` or ``{"error"}``.
* Every event of every Device and Call is forwarded to the JavaScript ``emit(target_id, event, args_json,
  extra_json)``: ``args_json`` is the JSON array of the handler arguments, ``extra_json`` carries the
  call's final state with its ``disconnect`` event (after which this module forgets the call; the
  JavaScript wrapper answers from that snapshot).
* Values are plain JSON with camelCase keys (``{"reason", "statusCode"}``). Two markers stand for objects:
  ``{"$call": descriptor}`` (JavaScript makes or finds the ``Call`` wrapper) and ``{"$error": error}``
  (JavaScript builds a ``VoiceSDKError``). Errors are ``{"name", "code", "message", "cause"?}``;
  messages name options and methods in their JavaScript spelling (``logLevel``, ``updateToken()``).

Nothing here creates a JS proxy (:func:`live_objects` reports the platform's proxy counter and this
module's registries, which are empty again once every Device is destroyed).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import math
import re
import sys
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

import js

from twochat_voice_web._version import __version__
from twochat_voice_web.call import Call
from twochat_voice_web.device import Device
from twochat_voice_web.errors import ErrorCode, VoiceSDKError

from ._ffi import JsCallError, is_nullish
from ._proxies import live_proxies

__all__ = [
    "ACCEPT_OPTIONS",
    "CALL_METHODS",
    "CONNECT_PARAMS",
    "DEVICE_METHODS",
    "DEVICE_OPTIONS",
    "MEDIA_OPTIONS",
    "camel_key",
    "create_device",
    "error_json",
    "install",
    "invoke",
    "js_message",
    "live_objects",
    "stream",
]

_log = logging.getLogger("twochat_voice_web")

#: JavaScript Device option -> Python keyword (``token``, ``media`` and ``credentialsProvider`` aside).
DEVICE_OPTIONS: dict[str, str] = {
    "logLevel": "log_level",
    "allowIncomingWhileBusy": "allow_incoming_while_busy",
    "iceServers": "ice_servers",
    "ringtoneUrl": "ringtone_url",
    "defaultExtraHeaders": "default_extra_headers",
    "tokenExpiryLeadMs": "token_expiry_lead_ms",
    "apiBaseUrl": "api_base_url",
    "iceGatheringTimeoutMs": "ice_gathering_timeout_ms",
    "iceGathering": "ice_gathering",
    "dtmfTransport": "dtmf_transport",
    "sounds": "sounds",
    "credentialsPath": "credentials_path",
    "registerTimeoutMs": "register_timeout_ms",
    "reconnectMinMs": "reconnect_min_ms",
    "reconnectMaxMs": "reconnect_max_ms",
    "reconnectMaxDelayMs": "reconnect_max_delay_ms",
    "reconnectMaxAttempts": "reconnect_max_attempts",
    "reconnectGraceMs": "reconnect_grace_ms",
    "registerExpires": "register_expires",
    "multiTab": "multi_tab",
    "codecPreferences": "codec_preferences",
    "maxAverageBitrate": "max_average_bitrate",
    "dtx": "dtx",
    "closeProtection": "close_protection",
}
#: ``options.media`` keys -> Python keywords.
MEDIA_OPTIONS: dict[str, str] = {"inputDeviceId": "input_device_id", "outputDeviceId": "output_device_id"}
#: ``connect(params)`` keys -> Python keywords.
CONNECT_PARAMS: dict[str, str] = {
    "to": "to",
    "from": "from_",
    "callerId": "caller_id",
    "extraHeaders": "extra_headers",
    "codecPreferences": "codec_preferences",
    "maxAverageBitrate": "max_average_bitrate",
    "dtx": "dtx",
    "rtcConfiguration": "rtc_configuration",
}
#: ``call.accept(options)`` keys -> Python keywords.
ACCEPT_OPTIONS: dict[str, str] = {
    "codecPreferences": "codec_preferences",
    "maxAverageBitrate": "max_average_bitrate",
    "dtx": "dtx",
    "rtcConfiguration": "rtc_configuration",
}
_PREFLIGHT_PARAMS: dict[str, str] = {"echoNumber": "echo_number", "callSeconds": "call_seconds"}

# Python names that appear in error messages -> their JavaScript spelling.
_JS_NAMES: dict[str, str] = {
    **{python: js_name for js_name, python in DEVICE_OPTIONS.items()},
    **{python: js_name for js_name, python in MEDIA_OPTIONS.items()},
    **{python: js_name for js_name, python in _PREFLIGHT_PARAMS.items()},
    "caller_id": "callerId",
    "extra_headers": "extraHeaders",
    "credentials_provider": "credentialsProvider",
    "update_token": "updateToken",
    "set_input_device": "setInputDevice",
    "set_output_device": "setOutputDevice",
    "send_digits": "sendDigits",
    "run_preflight": "runPreflight",
    "list_audio_devices": "listAudioDevices",
    "sip_call_id": "sipCallId",
    "rtc_configuration": "rtcConfiguration",
    "get_local_stream": "getLocalStream",
    "get_remote_stream": "getRemoteStream",
}
_JS_NAME_PATTERN = re.compile(r"\b(" + "|".join(sorted(_JS_NAMES, key=len, reverse=True)) + r")\b")
_SNAKE_KEY = re.compile(r"_([a-z0-9])")
_CAMEL_KEY = re.compile(r"(?<=[a-z0-9])([A-Z])")

Args = list[Any]
Method = Callable[[Any, Args], Any]


class _FacadeArgumentError(VoiceSDKError):
    """A facade call with arguments of the wrong shape (always ``INVALID_ARGUMENT``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.INVALID_ARGUMENT, message)

    @property
    def name(self) -> str:
        """Reported to JavaScript as a plain ``VoiceSDKError``."""
        return "VoiceSDKError"


# ------------------------------------------------------------------------------------------ conversion


def js_message(message: str) -> str:
    """``message`` with the Python option and method names it mentions in their JavaScript spelling."""
    return _JS_NAME_PATTERN.sub(lambda match: _JS_NAMES[match.group(1)], message)


def camel_key(key: str) -> str:
    """``status_code`` -> ``statusCode``."""
    return _SNAKE_KEY.sub(lambda match: match.group(1).upper(), key)


def _snake_keys(value: Any) -> Any:
    """Credentials from a JavaScript provider: camelCase keys (``wsUrl``) also accepted, made snake_case."""
    if isinstance(value, dict):
        return {_CAMEL_KEY.sub(r"_\1", str(k)).lower(): _snake_keys(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_snake_keys(item) for item in value]
    return value


def _cause_json(cause: Any) -> Any:
    if cause is None:
        return None
    if isinstance(cause, VoiceSDKError):
        return error_json(cause)
    if isinstance(cause, JsCallError):
        return {"name": cause.name, "message": cause.message}
    if isinstance(cause, BaseException):
        return {"name": type(cause).__name__, "message": str(cause)}
    if isinstance(cause, bool | int | str):
        return cause
    if isinstance(cause, float):
        return cause if math.isfinite(cause) else None
    return str(cause)


def error_json(error: BaseException) -> dict[str, Any]:
    """``{"name", "code", "message", "cause"?}`` for JavaScript's ``VoiceSDKError``.

    An exception that is not a :class:`VoiceSDKError` is a bug of the SDK or of this facade: it is logged
    and reported with the facade-only code ``INTERNAL_ERROR``.
    """
    if isinstance(error, VoiceSDKError):
        out: dict[str, Any] = {
            "name": error.name,
            "code": error.code.value,
            "message": js_message(error.message),
        }
        cause = _cause_json(error.cause)
        if cause is not None:
            out["cause"] = cause
        return out
    _log.error("internal error in the JavaScript facade", exc_info=error)
    return {
        "name": "VoiceSDKError",
        "code": "INTERNAL_ERROR",
        "message": f"internal error: {type(error).__name__}: {error}",
    }


def _dumps(value: Any) -> str:
    return json.dumps(value, allow_nan=False, separators=(",", ":"))


def _timings(call: Call) -> dict[str, float]:
    return {camel_key(name): value for name, value in call.timings.items()}


# ------------------------------------------------------------------------------------------ the bridge


@dataclasses.dataclass
class _CallEntry:
    call: Call
    call_id: str
    device_id: str
    forwarders: list[tuple[str, Callable[..., None]]] = dataclasses.field(default_factory=list)


class _Bridge:
    """The registries and the two JavaScript callbacks (one instance per page: :data:`_BRIDGE`)."""

    def __init__(self) -> None:
        self.emit_js: Any = None
        self.settle_js: Any = None
        self.devices: dict[str, Device] = {}
        self.calls: dict[str, _CallEntry] = {}
        self.call_ids: dict[Call, str] = {}
        self.tasks: set[asyncio.Task[None]] = set()
        self.call_counter = 0

    # -------------------------------------------------------------- values

    def plain(self, value: Any, owner: str) -> Any:
        """A JSON-ready value: camelCase keys, ``$call``/``$error`` markers; ``owner`` is the Device id."""
        if isinstance(value, Call):
            return {"$call": self.describe(value, owner)}
        if isinstance(value, VoiceSDKError):
            return {"$error": error_json(value)}
        if value is None or isinstance(value, bool | int | str):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else None
        to_dict = getattr(value, "to_dict", None)
        if dataclasses.is_dataclass(value) and not isinstance(value, type) and callable(to_dict):
            return self.plain(to_dict(), owner)
        if isinstance(value, Mapping):
            return {camel_key(str(k)): self.plain(v, owner) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self.plain(item, owner) for item in value]
        return str(value)

    def describe(self, call: Call, device_id: str) -> dict[str, Any]:
        """The call's descriptor; registers it (and forwards its events) the first time."""
        call_id = self.call_ids.get(call)
        if call_id is None:
            self.call_counter += 1
            call_id = f"c{self.call_counter}"
            self.call_ids[call] = call_id
            entry = _CallEntry(call, call_id, device_id)
            self.calls[call_id] = entry
            for event in sorted(Call.EVENTS - _ON_DEMAND_EVENTS):
                handler = self._forwarder(call_id, event, device_id)
                call.on(event, handler)
                entry.forwarders.append((event, handler))
        return {
            "id": call_id,
            "deviceId": device_id,
            "direction": call.direction,
            "remoteIdentity": call.remote_identity,
            "remoteDisplayName": call.remote_display_name,
            "customHeaders": dict(call.custom_headers),
            "sipCallId": call.sip_call_id,
            "status": call.status,
        }

    @staticmethod
    def final_state(call: Call) -> dict[str, Any]:
        """What the JavaScript wrapper answers once the call is over (and forgotten here)."""
        return {
            "status": call.status,
            "sipCallId": call.sip_call_id,
            "timings": _timings(call),
            "muted": call.is_muted(),
            "onHold": call.is_on_hold(),
            "remoteHold": call.is_remote_hold(),
            "ignored": call.ignored,
        }

    # -------------------------------------------------------------- events

    def _forwarder(self, target_id: str, event: str, device_id: str) -> Callable[..., None]:
        def forward(*args: Any) -> None:
            self.forward(target_id, event, device_id, args)

        return forward

    def forward(self, target_id: str, event: str, device_id: str, args: tuple[Any, ...]) -> None:
        """Send one event to JavaScript; a call's ``disconnect`` carries its final state and ends it here."""
        try:
            payload = _dumps([self.plain(arg, device_id) for arg in args])
            extra: dict[str, Any] = {}
            entry = self.calls.get(target_id)
            if event == "disconnect" and entry is not None:
                extra["final"] = self.final_state(entry.call)
        except Exception as exc:
            _log.error("could not convert a %r event for JavaScript", event, exc_info=exc)
            return
        self.call_js(self.emit_js, target_id, event, payload, _dumps(extra))
        if event == "disconnect" and entry is not None:
            self.forget_call(entry)

    def watch(self, call: Call, event: str) -> None:
        """Forward an on-demand event (``volume``) of ``call`` from now on (JavaScript got a listener)."""
        entry = self.calls.get(self.call_ids.get(call, ""))
        if event not in _ON_DEMAND_EVENTS or entry is None:
            raise _FacadeArgumentError(f"{event!r} is not an event to watch")
        if any(name == event for name, _handler in entry.forwarders):
            return
        handler = self._forwarder(entry.call_id, event, entry.device_id)
        call.on(event, handler)
        entry.forwarders.append((event, handler))

    def stream(self, call_id: str, which: str) -> Any:
        """The JS MediaStream of a call (``which``: ``local`` or ``remote``), None, or JSON ``{"error"}``."""
        entry = self.calls.get(call_id)
        try:
            if entry is None:
                raise VoiceSDKError(ErrorCode.INVALID_STATE, f"get_{which}_stream(): the call has ended")
            if which == "local":
                return entry.call.get_local_stream()
            if which == "remote":
                return entry.call.get_remote_stream()
            raise _FacadeArgumentError(f"no {which!r} stream: 'local' or 'remote'")
        except VoiceSDKError as exc:
            return _dumps({"error": error_json(exc)})

    def forget_call(self, entry: _CallEntry) -> None:
        """Drop a call from the registries and detach this module's handlers (only those)."""
        self.calls.pop(entry.call_id, None)
        self.call_ids.pop(entry.call, None)
        forwarders, entry.forwarders = entry.forwarders, []
        for event, handler in forwarders:
            entry.call.off(event, handler)

    def call_js(self, function: Any, *args: Any) -> None:
        """Call a JavaScript callback with strings/numbers; a failure there is logged, never raised."""
        if function is None:
            return
        try:
            function(*args)
        except Exception as exc:
            _log.error("the JavaScript facade callback failed", exc_info=exc)

    # -------------------------------------------------------------- devices

    def create_device(self, device_id: str, options_json: str, provider: Any) -> dict[str, Any]:
        """Create and register a Device under ``device_id`` (see :func:`create_device`)."""
        if not isinstance(device_id, str) or not device_id or device_id in self.devices:
            raise _FacadeArgumentError(f"bad or duplicate Device id {device_id!r}")
        options = _load_object(options_json, "new Device(options)")
        token = options.pop("token", None)
        kwargs: dict[str, Any] = {}
        media = options.pop("media", None)
        if media is not None:
            if not isinstance(media, dict):
                raise _FacadeArgumentError("options.media must be an object {inputDeviceId, outputDeviceId}")
            kwargs.update(_rename(media, MEDIA_OPTIONS, "options.media"))
        kwargs.update(_rename(options, DEVICE_OPTIONS, "new Device(options)"))
        if not is_nullish(provider):
            kwargs["credentials_provider"] = _js_credentials_provider(provider)
        try:
            device = Device(token, **kwargs)
        except TypeError as exc:  # defensive: _rename only passes known keywords
            raise _FacadeArgumentError(str(exc)) from None
        self.devices[device_id] = device
        for event in sorted(Device.EVENTS):
            device.on(event, self._forwarder(device_id, event, device_id))
        return {"state": device.state}

    def forget_device(self, device_id: str) -> None:
        """Drop a destroyed Device and every call it still had here."""
        self.devices.pop(device_id, None)
        for entry in [e for e in self.calls.values() if e.device_id == device_id]:
            self.forget_call(entry)

    # -------------------------------------------------------------- methods

    def invoke(self, request_id: int, target_id: str, method: str, args_json: str) -> dict[str, Any]:
        """Run ``method`` on a Device or Call (see :func:`invoke`)."""
        args = json.loads(args_json) if args_json else []
        if not isinstance(args, list):
            raise _FacadeArgumentError("the arguments must be a JSON array")
        if target_id in self.devices:
            target: Any = self.devices[target_id]
            table, owner, what = DEVICE_METHODS, target_id, "Device"
        elif target_id in self.calls:
            entry = self.calls[target_id]
            target, table, owner, what = entry.call, CALL_METHODS, entry.device_id, "Call"
        else:
            raise VoiceSDKError(
                ErrorCode.INVALID_STATE, f"{target_id!r} is no longer known (destroyed or ended)"
            )
        handler = table.get(method)
        if handler is None:
            raise _FacadeArgumentError(f"{what} has no method or property {method!r}")
        result = handler(target, args)
        if method == "destroy" and what == "Device":
            self.forget_device(target_id)
        if asyncio.iscoroutine(result):
            task = asyncio.ensure_future(self._complete(request_id, owner, result))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return {"pending": True}
        return {"ok": self.plain(result, owner)}

    async def _complete(self, request_id: int, owner: str, coroutine: Coroutine[Any, Any, Any]) -> None:
        try:
            value = await coroutine
            payload: dict[str, Any] = {"ok": self.plain(value, owner)}
        except asyncio.CancelledError:
            device = self.devices.get(owner)
            if device is None or device.state == "destroyed":
                error = VoiceSDKError(ErrorCode.DESTROYED, "the Device was destroyed")
            else:
                error = VoiceSDKError(ErrorCode.INVALID_STATE, "the operation was cancelled")
            payload = {"error": error_json(error)}
        except Exception as exc:
            payload = {"error": error_json(exc)}
        try:
            text = _dumps(payload)
        except ValueError as exc:
            text = _dumps({"error": error_json(exc)})
        self.call_js(self.settle_js, request_id, text)


_BRIDGE = _Bridge()

_ON_DEMAND_EVENTS = frozenset({"volume"})
"""Call events forwarded only once JavaScript listens (``watch``): ``volume`` reads stats every 100 ms."""


def _load_object(text: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(text) if text else {}
    except ValueError:
        raise _FacadeArgumentError(f"{what}: not a JSON object") from None
    if not isinstance(value, dict):
        raise _FacadeArgumentError(f"{what} must be an object")
    return value


def _rename(values: Mapping[str, Any], names: Mapping[str, str], what: str) -> dict[str, Any]:
    """JavaScript keys -> Python keywords; ``null`` means "not given"; unknown keys are refused."""
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise _FacadeArgumentError(
            f"{what}: unknown option(s) {', '.join(unknown)}; known: {', '.join(sorted(names))}"
        )
    return {names[key]: value for key, value in values.items() if value is not None}


def _js_credentials_provider(provider: Any) -> Callable[[str], Coroutine[Any, Any, dict[str, Any]]]:
    """Wrap JavaScript's provider wrapper (it always resolves with ``{"ok"}``/``{"error"}`` JSON text)."""

    async def credentials(token: str) -> dict[str, Any]:
        text = await provider(token)
        outcome = json.loads(str(text))
        if "error" in outcome:
            error = outcome["error"] or {}
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED,
                f"the credentials provider failed: {error.get('name', 'Error')}: {error.get('message', '')}",
            )
        value = outcome.get("ok")
        if not isinstance(value, dict):
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, "the credentials provider must resolve with an object"
            )
        result: dict[str, Any] = _snake_keys(value)
        return result

    return credentials


# ------------------------------------------------------------------------------------------ method tables


def _expect(args: Args, at_most: int, what: str) -> Args:
    if len(args) > at_most:
        raise _FacadeArgumentError(f"{what} takes at most {at_most} argument(s), got {len(args)}")
    return args + [None] * (at_most - len(args))


def _no_args(what: str, action: Callable[[Any], Any]) -> Method:
    def run(target: Any, args: Args) -> Any:
        _expect(args, 0, what)
        return action(target)

    return run


def _one_arg(what: str, action: Callable[[Any, Any], Any]) -> Method:
    def run(target: Any, args: Args) -> Any:
        (value,) = _expect(args, 1, what)
        return action(target, value)

    return run


def _connect(device: Device, args: Args) -> Any:
    (params,) = _expect(args, 1, "connect()")
    if not isinstance(params, dict):
        raise _FacadeArgumentError("connect() takes an object {to, from, callerId, extraHeaders}")
    kwargs = _rename(params, CONNECT_PARAMS, "connect(params)")
    to = kwargs.pop("to", None)
    return device.connect(to, **kwargs)


def _preflight(device: Device, args: Args) -> Any:
    (params,) = _expect(args, 1, "runPreflight()")
    if params is not None and not isinstance(params, dict):
        raise _FacadeArgumentError("runPreflight() takes an object {echoNumber, callSeconds}")
    return device.run_preflight(**_rename(params or {}, _PREFLIGHT_PARAMS, "runPreflight(options)"))


def _destroy(device: Device, args: Args) -> None:
    _expect(args, 0, "destroy()")
    device.destroy()


def _object_or_empty(value: Any, what: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise _FacadeArgumentError(f"{what} takes an options object")
    return value


def _optional(value: Any, default: Any) -> Any:
    return default if value is None else value


#: Device methods and properties JavaScript may call: name -> runner(device, args).
DEVICE_METHODS: dict[str, Method] = {
    "register": _no_args("register()", lambda d: d.register()),
    "unregister": _no_args("unregister()", lambda d: d.unregister()),
    "connect": _connect,
    "updateToken": _one_arg("updateToken()", lambda d, token: d.update_token(token)),
    "destroy": _destroy,
    "listAudioDevices": _no_args("listAudioDevices()", lambda d: d.list_audio_devices()),
    "setInputDevice": _one_arg("setInputDevice()", lambda d, device_id: d.set_input_device(device_id)),
    "setOutputDevice": _one_arg("setOutputDevice()", lambda d, device_id: d.set_output_device(device_id)),
    "runPreflight": _preflight,
    "state": _no_args("state", lambda d: d.state),
    "token": _no_args("token", lambda d: d.token),
    "identity": _no_args("identity", lambda d: d.identity),
    "callerIds": _no_args("callerIds", lambda d: d.caller_ids),
    "calls": _no_args("calls", lambda d: d.calls),
    "isBusy": _no_args("isBusy", lambda d: d.is_busy),
    "inputDeviceId": _no_args("inputDeviceId", lambda d: d.input_device_id),
    "outputDeviceId": _no_args("outputDeviceId", lambda d: d.output_device_id),
    "isOutputSelectionSupported": _no_args(
        "isOutputSelectionSupported", lambda d: d.is_output_selection_supported
    ),
    "tabRole": _no_args("tabRole", lambda d: d.tab_role),
    "wsUrl": _no_args("wsUrl", lambda d: d.ws_url),
}

#: Call methods and properties JavaScript may call: name -> runner(call, args).
CALL_METHODS: dict[str, Method] = {
    "accept": _one_arg(
        "accept()",
        lambda c, options: c.accept(
            **_rename(_object_or_empty(options, "accept()"), ACCEPT_OPTIONS, "accept(options)")
        ),
    ),
    "watch": _one_arg("watch()", _BRIDGE.watch),
    "reject": _one_arg("reject()", lambda c, status: c.reject(_optional(status, 486))),
    "ignore": _no_args("ignore()", lambda c: c.ignore()),
    "disconnect": _no_args("disconnect()", lambda c: c.disconnect()),
    "mute": _one_arg("mute()", lambda c, muted: c.mute(_optional(muted, True))),
    "hold": _one_arg("hold()", lambda c, hold: c.hold(_optional(hold, True))),
    "sendDigits": _one_arg("sendDigits()", lambda c, digits: c.send_digits(digits)),
    "setInputDevice": _one_arg("setInputDevice()", lambda c, device_id: c.set_input_device(device_id)),
    "setOutputDevice": _one_arg("setOutputDevice()", lambda c, device_id: c.set_output_device(device_id)),
    "getStats": _no_args("getStats()", lambda c: c.get_stats()),
    "isMuted": _no_args("isMuted()", lambda c: c.is_muted()),
    "isOnHold": _no_args("isOnHold()", lambda c: c.is_on_hold()),
    "isRemoteHold": _no_args("isRemoteHold()", lambda c: c.is_remote_hold()),
    "getStatus": _no_args("getStatus()", lambda c: c.get_status()),
    "status": _no_args("status", lambda c: c.status),
    "sipCallId": _no_args("sipCallId", lambda c: c.sip_call_id),
    "timings": _no_args("timings", _timings),
    "ended": _no_args("ended", lambda c: c.ended),
    "ignored": _no_args("ignored", lambda c: c.ignored),
    "activeWarnings": _no_args("activeWarnings", lambda c: c.active_warnings),
}


# ------------------------------------------------------------------------------------------ logging


class _ConsoleHandler(logging.Handler):
    """The SDK's log records on the browser console, at the matching console level."""

    def emit(self, record: logging.LogRecord) -> None:
        """Write one record with ``console.error``/``warn``/``info``/``debug``."""
        try:
            text = self.format(record)
            level = record.levelno
            if level >= logging.ERROR:
                js.console.error(text)
            elif level >= logging.WARNING:
                js.console.warn(text)
            elif level >= logging.INFO:
                js.console.info(text)
            else:
                js.console.debug(text)
        except Exception:
            self.handleError(record)


def _install_console_logging() -> None:
    logger = logging.getLogger("twochat_voice_web")
    if not any(isinstance(handler, _ConsoleHandler) for handler in logger.handlers):
        handler = _ConsoleHandler()
        handler.setFormatter(logging.Formatter("[twochat-voice] %(message)s"))
        logger.addHandler(handler)


# ------------------------------------------------------------------------------------------ entry points


def _respond(action: Callable[[], dict[str, Any]]) -> str:
    try:
        return _dumps(action())
    except Exception as exc:
        return _dumps({"error": error_json(exc)})


def install(emit: Any, settle: Any) -> str:
    """Connect the JavaScript side: ``emit(target_id, event, args_json, extra_json)`` receives every event,
    ``settle(request_id, result_json)`` every asynchronous result. Idempotent (the last pair wins).

    Also routes the SDK's log records to the browser console (``[twochat-voice] ...``).

    Returns:
        JSON ``{"sdkVersion", "python", "deviceEvents", "callEvents"}``.
    """
    _BRIDGE.emit_js = emit
    _BRIDGE.settle_js = settle
    _install_console_logging()
    return _dumps(
        {
            "sdkVersion": __version__,
            "python": sys.version.split()[0],
            "deviceEvents": sorted(Device.EVENTS),
            "callEvents": sorted(Call.EVENTS),
        }
    )


def create_device(device_id: str, options_json: str, provider: Any = None) -> str:
    """Create a Device from the JavaScript options (JSON, camelCase) under the id JavaScript chose.

    ``provider`` is JavaScript's ``credentialsProvider`` wrapper (or undefined): ``async (token) ->
    JSON text`` of ``{"ok": credentials}`` or ``{"error": {"name", "message"}}``.

    Returns:
        JSON ``{"ok": {"state"}}`` or ``{"error": error}`` (``INVALID_ARGUMENT``, ``TOKEN_INVALID``...).
    """
    return _respond(lambda: {"ok": _BRIDGE.create_device(device_id, options_json, provider)})


def invoke(request_id: int, target_id: str, method: str, args_json: str) -> str:
    """Call ``method`` (a JavaScript name from :data:`DEVICE_METHODS`/:data:`CALL_METHODS`) with the JSON
    array ``args_json`` on the Device or Call ``target_id``.

    Returns:
        JSON ``{"ok": value}``, ``{"error": error}``, or ``{"pending": true}`` for a coroutine, whose
        outcome goes to ``settle(request_id, ...)`` later.
    """
    return _respond(lambda: _BRIDGE.invoke(request_id, target_id, method, args_json))


def stream(call_id: str, which: str) -> Any:
    """``call.getLocalStream()`` / ``getRemoteStream()``: the JS MediaStream itself (Pyodide hands the JS
    object back, no proxy is made), None (undefined) before the call has media, or JSON ``{"error"}`` text.
    """
    return _BRIDGE.stream(call_id, which)


def live_objects() -> str:
    """JSON ``{"platformProxies", "devices", "calls", "tasks"}``: the browser platform's live JS proxies
    (:func:`~twochat_voice_web.browser.live_proxies`) and what this module still holds."""
    return _dumps(
        {
            "platformProxies": live_proxies(),
            "devices": len(_BRIDGE.devices),
            "calls": len(_BRIDGE.calls),
            "tasks": len(_BRIDGE.tasks),
        }
    )
