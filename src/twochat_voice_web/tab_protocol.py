"""The multi-tab wire protocol (:mod:`.tabs`): channel and lock names, the messages the tabs of a group
exchange and their JSON codec.

Messages are JSON objects ``{"p": PROTOCOL, "type": ..., "sender": tab id, ...}`` made from the frozen
dataclasses below (:func:`encode_message`, :func:`decode_message`). Decoding is strict: anything that is not
a well-formed message of this version raises :class:`TabMessageError` and changes nothing. The version is
also part of every channel and lock name, so tabs running different SDK versions form separate groups
instead of misreading each other. Call states travel as :class:`CallSnapshot`; event arguments and errors
as plain JSON (:func:`encode_args`, :func:`error_from`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from .call import Call, CallDirection, CallStatus
from .errors import AuthError, ErrorCode, MediaError, RegistrationError, TokenError, VoiceSDKError
from .quality import Sample, WarningChange, WarningName

__all__ = [
    "MIRRORED_DEVICE_EVENTS",
    "PROTOCOL",
    "SHARED_ERROR_CODES",
    "CallSnapshot",
    "CallUpdate",
    "Claim",
    "Handled",
    "Heartbeat",
    "Hello",
    "LeaderAnnounce",
    "Reply",
    "Resign",
    "Snapshot",
    "StateUpdate",
    "TabMessage",
    "TabMessageError",
    "TabRequest",
    "WhoLeads",
    "decode_args",
    "decode_message",
    "encode_args",
    "encode_message",
    "error_from",
    "group_channel_name",
    "leader_lock_name",
    "plain_json",
    "user_channel_name",
]

_log = logging.getLogger("twochat_voice_web")

PROTOCOL = "twochat-voice/v1"
"""The message-format version; also the prefix of every channel and lock name."""


MIRRORED_DEVICE_EVENTS = frozenset(
    {"registering", "registered", "unregistered", "reconnecting", "reconnected"}
)
"""The leader's Device events that every follower re-emits (with ``incoming`` and shared errors)."""

SHARED_ERROR_CODES = frozenset(
    {
        ErrorCode.TOKEN_INVALID,
        ErrorCode.TOKEN_EXPIRED,
        ErrorCode.AUTH_ERROR,
        ErrorCode.CONFIG_FETCH_FAILED,
        ErrorCode.REGISTRATION_FAILED,
        ErrorCode.REGISTER_ERROR,
        ErrorCode.UNREGISTER_ERROR,
        ErrorCode.TRANSPORT_ERROR,
        ErrorCode.PROTOCOL_ERROR,
    }
)
"""Leader ``error`` events about the shared registration, re-emitted by followers. Others (autoplay,
devices) concern the leader tab only."""

def group_channel_name(group: str) -> str:
    """The BroadcastChannel of a multi-tab group."""
    return f"{PROTOCOL}/{group}"


def leader_lock_name(group: str) -> str:
    """The Web Lock whose holder leads the group."""
    return f"{PROTOCOL}/{group}/leader"


def user_channel_name(aor: str) -> str:
    """The per-user channel of independent tabs ("answered elsewhere")."""
    return f"{PROTOCOL}/{aor}/independent"





class TabMessageError(VoiceSDKError):
    """A message on a tab channel that is not ours or is malformed (``PROTOCOL_ERROR``)."""

    def __init__(self, message: str) -> None:
        super().__init__(ErrorCode.PROTOCOL_ERROR, message)


class _Reader:
    """Typed access to one decoded JSON object; every failure is a :class:`TabMessageError`."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, dict):
            raise TabMessageError(f"{what} must be a JSON object")
        self.data: dict[str, Any] = data
        self.what = what

    def _get(self, name: str) -> Any:
        if name not in self.data:
            raise TabMessageError(f"{self.what}: missing {name!r}")
        return self.data[name]

    def text(self, name: str) -> str:
        value = self._get(name)
        if not isinstance(value, str):
            raise TabMessageError(f"{self.what}: {name!r} must be a string")
        return value

    def opt_text(self, name: str) -> str | None:
        value = self.data.get(name)
        if value is not None and not isinstance(value, str):
            raise TabMessageError(f"{self.what}: {name!r} must be a string or null")
        return value

    def flag(self, name: str) -> bool:
        value = self._get(name)
        if not isinstance(value, bool):
            raise TabMessageError(f"{self.what}: {name!r} must be a boolean")
        return value

    def count(self, name: str) -> int:
        """A non-negative integer; ``0`` when absent (a field added to the protocol later)."""
        value = self.data.get(name, 0)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise TabMessageError(f"{self.what}: {name!r} must be a non-negative integer")
        return value

    def items(self, name: str) -> list[Any]:
        value = self.data.get(name, [])
        if not isinstance(value, list):
            raise TabMessageError(f"{self.what}: {name!r} must be a list")
        return value

    def mapping(self, name: str) -> dict[str, Any]:
        value = self.data.get(name, {})
        if not isinstance(value, dict):
            raise TabMessageError(f"{self.what}: {name!r} must be an object")
        return value

    def text_map(self, name: str) -> dict[str, str]:
        value = self.mapping(name)
        if not all(isinstance(v, str) for v in value.values()):
            raise TabMessageError(f"{self.what}: {name!r} must map strings to strings")
        return dict(value)

    def number_map(self, name: str) -> dict[str, float]:
        value = self.mapping(name)
        out: dict[str, float] = {}
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, int | float) or not math.isfinite(item):
                raise TabMessageError(f"{self.what}: {name!r} must map strings to numbers")
            out[key] = float(item)
        return out


@dataclass(frozen=True, slots=True)
class CallSnapshot:
    """Everything a follower shows of one leader call."""

    key: str
    """``<owner tab id>/<SIP Call-ID>``: unique in the group."""
    owner: str
    """The tab id of the leader whose peer connection carries the call."""
    direction: str
    remote_identity: str | None
    custom_headers: Mapping[str, str]
    sip_call_id: str
    status: str
    muted: bool = False
    on_hold: bool = False
    remote_hold: bool = False
    ignored: bool = False
    timings: Mapping[str, float] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()
    revision: int = 0
    """The owner tab's count of the snapshots it made, in the order it made them. Messages of one tab arrive
    in order, but a reply (``connect``'s) is applied when the awaiting coroutine resumes, after updates that
    arrived meanwhile: a follower never applies a snapshot older than the one it shows."""

    @classmethod
    def of(cls, call: Call, owner: str, revision: int = 0) -> CallSnapshot:
        """The snapshot of a real call of the leader tab ``owner`` (which has a SIP Call-ID), made as the
        owner's ``revision``-th snapshot."""
        if call.sip_call_id is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "a call without a SIP Call-ID cannot be mirrored")
        return cls(
            key=f"{owner}/{call.sip_call_id}",
            owner=owner,
            direction=call.direction,
            remote_identity=call.remote_identity,
            custom_headers=dict(call.custom_headers),
            sip_call_id=call.sip_call_id,
            status=call.status,
            muted=call.is_muted(),
            on_hold=call.is_on_hold(),
            remote_hold=call.is_remote_hold(),
            ignored=call.ignored,
            timings=call.timings,
            warnings=tuple(call.active_warnings),
            revision=revision,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return {
            "key": self.key,
            "owner": self.owner,
            "direction": self.direction,
            "remote_identity": self.remote_identity,
            "custom_headers": dict(self.custom_headers),
            "sip_call_id": self.sip_call_id,
            "status": self.status,
            "muted": self.muted,
            "on_hold": self.on_hold,
            "remote_hold": self.remote_hold,
            "ignored": self.ignored,
            "timings": dict(self.timings),
            "warnings": list(self.warnings),
            "revision": self.revision,
        }

    @classmethod
    def from_json(cls, data: object) -> CallSnapshot:
        """Parse :meth:`to_json` output.

        Raises:
            TabMessageError: a field is missing, of the wrong type, or has an unknown value.
        """
        reader = _Reader(data, "call snapshot")
        direction = reader.text("direction")
        status = reader.text("status")
        if direction not in {d.value for d in CallDirection}:
            raise TabMessageError(f"call snapshot: unknown direction {direction!r}")
        if status not in {s.value for s in CallStatus}:
            raise TabMessageError(f"call snapshot: unknown status {status!r}")
        warnings = reader.items("warnings")
        if not all(isinstance(w, str) for w in warnings):
            raise TabMessageError("call snapshot: 'warnings' must be a list of strings")
        return cls(
            key=reader.text("key"),
            owner=reader.text("owner"),
            direction=direction,
            remote_identity=reader.opt_text("remote_identity"),
            custom_headers=reader.text_map("custom_headers"),
            sip_call_id=reader.text("sip_call_id"),
            status=status,
            muted=reader.flag("muted"),
            on_hold=reader.flag("on_hold"),
            remote_hold=reader.flag("remote_hold"),
            ignored=reader.flag("ignored"),
            timings=reader.number_map("timings"),
            warnings=tuple(warnings),
            revision=reader.count("revision"),
        )

    @property
    def ended(self) -> bool:
        """True when the call is disconnected or failed."""
        return self.status in (CallStatus.DISCONNECTED.value, CallStatus.FAILED.value)


@dataclass(frozen=True, slots=True)
class TabMessage:
    """Base of every message on a tab channel; ``sender`` is the sending tab's id."""

    TYPE: ClassVar[str] = ""
    sender: str


@dataclass(frozen=True, slots=True)
class Hello(TabMessage):
    """A tab joined the group: the leader answers with a :class:`Snapshot`."""

    TYPE: ClassVar[str] = "hello"


@dataclass(frozen=True, slots=True)
class LeaderAnnounce(TabMessage):
    """The sender is the group's leader from now on."""

    TYPE: ClassVar[str] = "leader"


@dataclass(frozen=True, slots=True)
class Resign(TabMessage):
    """The sender (the leader) leaves the group: its calls are over for the others."""

    TYPE: ClassVar[str] = "resign"


@dataclass(frozen=True, slots=True)
class StateUpdate(TabMessage):
    """The leader's Device state, and the Device event that changed it (None: state only)."""

    TYPE: ClassVar[str] = "state"
    state: str
    event: str | None = None
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class CallUpdate(TabMessage):
    """One leader call's state after ``event`` (None: the call was created)."""

    TYPE: ClassVar[str] = "call"
    call: CallSnapshot
    event: str | None = None
    args: tuple[Any, ...] = ()


@dataclass(frozen=True, slots=True)
class Snapshot(TabMessage):
    """The leader's answer to :class:`Hello`: its state and live calls."""

    TYPE: ClassVar[str] = "snapshot"
    state: str
    calls: tuple[CallSnapshot, ...] = ()


@dataclass(frozen=True, slots=True)
class Handled(TabMessage):
    """A user accepted, rejected or ignored an inbound call in some tab: stop ringing for it."""

    TYPE: ClassVar[str] = "handled"
    sip_call_id: str
    action: str
    key: str | None = None


@dataclass(frozen=True, slots=True)
class TabRequest(TabMessage):
    """A follower asks the leader ``target`` to run ``op`` (a call method, or ``connect``)."""

    TYPE: ClassVar[str] = "request"
    target: str
    request_id: str
    op: str
    key: str | None = None
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Reply(TabMessage):
    """The leader's answer to a :class:`TabRequest` of tab ``target``."""

    TYPE: ClassVar[str] = "reply"
    target: str
    request_id: str
    ok: bool
    result: Any = None
    error_code: str | None = None
    error_message: str | None = None


@dataclass(frozen=True, slots=True)
class WhoLeads(TabMessage):
    """Channel election: a tab joined and asks whether a leader is alive."""

    TYPE: ClassVar[str] = "who-leads"


@dataclass(frozen=True, slots=True)
class Heartbeat(TabMessage):
    """Channel election: the leader is alive."""

    TYPE: ClassVar[str] = "heartbeat"


@dataclass(frozen=True, slots=True)
class Claim(TabMessage):
    """Channel election: the sender wants to lead (the lowest tab id wins)."""

    TYPE: ClassVar[str] = "claim"


_MESSAGE_TYPES: dict[str, type[TabMessage]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        LeaderAnnounce,
        Resign,
        StateUpdate,
        CallUpdate,
        Snapshot,
        Handled,
        TabRequest,
        Reply,
        WhoLeads,
        Heartbeat,
        Claim,
    )
}


def encode_message(message: TabMessage) -> str:
    """The JSON text of a message."""
    out: dict[str, Any] = {"p": PROTOCOL, "type": message.TYPE}
    for item in dataclasses.fields(message):
        value = getattr(message, item.name)
        if isinstance(value, CallSnapshot):
            value = value.to_json()
        elif isinstance(value, tuple) and value and isinstance(value[0], CallSnapshot):
            value = [snapshot.to_json() for snapshot in value]
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, Mapping):
            value = dict(value)
        out[item.name] = value
    return json.dumps(out, separators=(",", ":"), allow_nan=False, default=str)


def decode_message(text: str) -> TabMessage:
    """Parse :func:`encode_message` output.

    Raises:
        TabMessageError: not JSON, another protocol version, an unknown type or a malformed field.
    """
    try:
        data = json.loads(text)
    except (ValueError, TypeError) as exc:
        raise TabMessageError(f"not JSON: {exc}") from None
    reader = _Reader(data, "tab message")
    if data.get("p") != PROTOCOL:
        raise TabMessageError(f"not a {PROTOCOL} message")
    kind = reader.text("type")
    cls = _MESSAGE_TYPES.get(kind)
    if cls is None:
        raise TabMessageError(f"unknown message type {kind!r}")
    reader.what = f"{kind!r} message"
    sender = reader.text("sender")
    if cls is StateUpdate:
        args = tuple(reader.items("args"))
        return StateUpdate(sender, reader.text("state"), reader.opt_text("event"), args)
    if cls is CallUpdate:
        return CallUpdate(
            sender,
            CallSnapshot.from_json(reader.mapping("call")),
            reader.opt_text("event"),
            tuple(reader.items("args")),
        )
    if cls is Snapshot:
        calls = tuple(CallSnapshot.from_json(item) for item in reader.items("calls"))
        return Snapshot(sender, reader.text("state"), calls)
    if cls is Handled:
        return Handled(sender, reader.text("sip_call_id"), reader.text("action"), reader.opt_text("key"))
    if cls is TabRequest:
        return TabRequest(
            sender,
            reader.text("target"),
            reader.text("request_id"),
            reader.text("op"),
            reader.opt_text("key"),
            tuple(reader.items("args")),
            reader.mapping("kwargs"),
        )
    if cls is Reply:
        return Reply(
            sender,
            reader.text("target"),
            reader.text("request_id"),
            reader.flag("ok"),
            data.get("result"),
            reader.opt_text("error_code"),
            reader.opt_text("error_message"),
        )
    return cls(sender)


# ------------------------------------------------------------------------------------ event payloads


def encode_args(args: Iterable[Any]) -> tuple[Any, ...]:
    """Event arguments as JSON values; errors, quality samples and warnings are tagged to be rebuilt."""
    return tuple(_encode_value(arg) for arg in args)


def _encode_value(value: Any) -> Any:
    if isinstance(value, VoiceSDKError):
        return {"$error": {"code": value.code.value, "message": value.message}}
    if isinstance(value, Sample):
        return {"$sample": value.to_dict()}
    if isinstance(value, WarningChange):
        return {"$warning": value.to_dict()}
    return plain_json(value)


def decode_args(args: Iterable[Any]) -> tuple[Any, ...]:
    """The inverse of :func:`encode_args` (malformed tagged values stay plain)."""
    return tuple(_decode_value(arg) for arg in args)


def _decode_value(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((tag, body),) = value.items()
        try:
            if tag == "$error" and isinstance(body, dict):
                return error_from(str(body.get("code")), str(body.get("message", "")))
            if tag == "$sample" and isinstance(body, dict):
                return Sample(**body)
            if tag == "$warning" and isinstance(body, dict):
                return WarningChange(**{**body, "name": WarningName(body["name"])})
        except (TypeError, ValueError, KeyError) as exc:
            _log.debug("could not rebuild a mirrored %s: %s", tag, exc)
    return value


def plain_json(value: Any) -> Any:
    """``value`` reduced to JSON types (mappings, lists, str, finite numbers, bool, None; others as str)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [plain_json(v) for v in value]
    return str(value)


_ERROR_CLASSES: dict[ErrorCode, type[VoiceSDKError]] = {
    ErrorCode.TOKEN_INVALID: TokenError,
    ErrorCode.TOKEN_EXPIRED: TokenError,
    ErrorCode.AUTH_ERROR: AuthError,
    ErrorCode.REGISTRATION_FAILED: RegistrationError,
    ErrorCode.REGISTER_ERROR: RegistrationError,
    ErrorCode.NOT_REGISTERED: RegistrationError,
    ErrorCode.MEDIA_PERMISSION_DENIED: MediaError,
    ErrorCode.MEDIA_DEVICE_ERROR: MediaError,
    ErrorCode.OUTPUT_DEVICE_UNSUPPORTED: MediaError,
    ErrorCode.OUTPUT_DEVICE_ERROR: MediaError,
}


def error_from(code: str | None, message: str) -> VoiceSDKError:
    """The error another tab reported, as the same class and code (unknown codes: ``CALL_FAILED``)."""
    try:
        resolved = ErrorCode(code or "")
    except ValueError:
        return VoiceSDKError(ErrorCode.CALL_FAILED, message)
    return _ERROR_CLASSES.get(resolved, VoiceSDKError)(resolved, message)
