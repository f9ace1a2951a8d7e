"""Several tabs, one user: a leader tab holds the registration, the others mirror it (``multi_tab``).

Field lesson §B-15: with the SDK open in several tabs, every tab registers and rings, and accepting in one
does not stop the others. This module is the remedy, in two strengths. It is pure Python (no ``js``): it
talks to the browser through two primitives of the platform seam, ``Platform.open_tab_channel(name)``
(``BroadcastChannel``) and ``Platform.acquire_leadership(name, on_acquired)`` (the Web Locks API), which
:mod:`twochat_voice_web.browser._tabs` implements and ``tests/sdk/fakes.py`` fakes in memory.

Default (``Device(multi_tab=False)``): independent tabs
=====================================================
Each tab registers on its own, with its own ``+sip.instance``, so the server forks an inbound INVITE to
every tab and CANCELs the others once one answers. :class:`AnsweredElsewhere` only makes that immediate:
when a tab accepts or rejects an inbound call it says so on the per-user channel, and the other tabs stop
their ringtone for the same SIP Call-ID at once; the server's CANCEL that follows then ends their call with
reason ``answered-elsewhere`` (and no ``cancel`` event) instead of ``remote-cancelled``. Nothing else is
shared.

``multi_tab=True`` (or a group name): one leader, mirrored followers
===================================================================
Tabs of one *group* (the string given, else the user's address of record ``sip:user@domain``) share one
registration. :class:`TabCoordinator` runs in each tab:

* **Election.** Every tab that called ``register()`` queues for the exclusive Web Lock
  ``twochat-voice/v1/<group>/leader``. The holder is the *leader*: it alone opens the WebSocket and
  REGISTERs (the ordinary single-tab code path, :meth:`Device._register_here`). The lock is released when
  the leader's Device is destroyed or unregistered, or when its tab closes or crashes (the browser releases
  it), and the next tab in the queue becomes the leader. Without Web Locks (old browsers), the tabs elect a
  leader over the channel instead (:class:`ChannelElection`: heartbeats, lowest tab id wins; a tab whose
  timers the browser throttles hard may be taken for dead, and then two tabs lead and both register — the
  group degrades to independent tabs, never to none).
* **Mirroring.** The leader broadcasts, on the channel ``twochat-voice/v1/<group>``, its Device state and
  events (``registering``, ``registered``, ``unregistered``, ``reconnecting``, ``reconnected``, and
  ``error`` for the registration-wide codes of :data:`SHARED_ERROR_CODES`), and every call's state
  (:class:`CallSnapshot`) with every call event. Followers set ``device.state`` and emit the same Device
  events; each leader call appears in every follower as a :class:`MirroredCall` (a :class:`Call`): inbound
  calls arrive with the ``incoming`` event and ring in every tab (each tab plays its own ringtone: the
  user may be looking at any of them, and a tab without a user gesture may not be allowed to play).
* **Forwarding.** A follower's ``accept()``, ``reject()``, ``ignore()``, ``disconnect()``, ``mute()``,
  ``hold()``, ``send_digits()``, ``set_input_device()``, ``set_output_device()``, ``get_stats()`` and the
  Device's ``connect()`` are requests to the leader (:class:`Request`/:class:`Reply`), which runs them on
  the real call and answers; errors come back with their code. **Media lives where the peer connection
  is: in the leader tab.** Accepting in a follower answers in the leader tab: the leader opens the
  microphone and plays the remote audio, and the follower shows and controls the call. Microphone
  permission is per origin, so one grant covers every tab; if it was never granted, the prompt appears in
  the leader tab.
* **Answered elsewhere.** As soon as a call is accepted, rejected or ignored in any tab, the leader says so
  (:class:`Handled`) and every tab stops ringing for it. An accepted call stays visible in every tab as
  ``accepted`` (one call, controllable from any tab); a rejected or ended one ends in every tab with the
  leader's reason. ``ignore()`` silences the call in every tab of the group.
* **Leader loss.** When the leader goes away, the next tab in the queue becomes the leader: its mirrored
  calls, and those of every other follower, end with reason ``leader-lost`` (they lived in the dead tab's
  peer connection); it then registers with its *own* ``+sip.instance`` (``registering``, ``registered`` in
  every tab). Requests still waiting for the old leader fail with ``CALL_FAILED``.
* **Leaving.** ``unregister()`` and ``destroy()`` take a tab out of the group: a leader unregisters and
  hands over (the next tab registers), a follower stops mirroring (its mirrored calls end locally with
  ``detached`` or ``destroyed``; the calls themselves go on in the leader tab).

The messages are JSON objects ``{"p": PROTOCOL, "type": ..., "sender": tab id, ...}`` made from the
dataclasses below (:func:`encode_message`, :func:`decode_message`); the version is also part of the channel
and lock names, so tabs running different SDK versions form separate groups instead of misreading each
other.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import inspect
import json
import logging
import math
import re
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from .call import Call, CallDirection, CallStatus
from .errors import AuthError, ErrorCode, MediaError, RegistrationError, TokenError, VoiceSDKError
from .media_options import CallMediaOptions, parse_call_media_options
from .platform import Disposable, TabChannel
from .quality import Sample, WarningChange, WarningName

if TYPE_CHECKING:
    from .device import Device

__all__ = [
    "MIRRORED_DEVICE_EVENTS",
    "PROTOCOL",
    "SHARED_ERROR_CODES",
    "AnsweredElsewhere",
    "CallSnapshot",
    "CallUpdate",
    "ChannelElection",
    "Claim",
    "Handled",
    "Heartbeat",
    "Hello",
    "LeaderAnnounce",
    "MirroredCall",
    "Reply",
    "Request",
    "Resign",
    "Snapshot",
    "StateUpdate",
    "TabCoordinator",
    "TabLink",
    "TabMessage",
    "TabMessageError",
    "TabRole",
    "WhoLeads",
    "decode_message",
    "encode_message",
    "group_channel_name",
    "leader_lock_name",
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

REQUEST_TIMEOUT = 30.0
"""How long a follower waits for the leader to run a forwarded method (accept may open the microphone)."""
HEARTBEAT_INTERVAL = 1.0
"""Channel election: how often the leader says it is alive (seconds)."""
LEADER_TIMEOUT = 5.0
"""Channel election: silence after which followers take the leader for dead (seconds)."""
CLAIM_WAIT = 0.4
"""Channel election: how long a claim waits for objections before it wins (seconds)."""

_FORWARDED_CALL_METHODS = frozenset(
    {
        "accept",
        "reject",
        "ignore",
        "disconnect",
        "mute",
        "hold",
        "send_digits",
        "set_input_device",
        "set_output_device",
        "get_stats",
    }
)
_DIGITS_RE = re.compile(r"^[0-9A-Da-d*#wW,]+$")


def group_channel_name(group: str) -> str:
    """The BroadcastChannel of a multi-tab group."""
    return f"{PROTOCOL}/{group}"


def leader_lock_name(group: str) -> str:
    """The Web Lock whose holder leads the group."""
    return f"{PROTOCOL}/{group}/leader"


def user_channel_name(aor: str) -> str:
    """The per-user channel of independent tabs ("answered elsewhere")."""
    return f"{PROTOCOL}/{aor}/independent"


def _new_tab_id() -> str:
    return uuid.uuid4().hex[:16]


# ================================================================================================ messages


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

    @classmethod
    def of(cls, call: Call, owner: str) -> CallSnapshot:
        """The snapshot of a real call of the leader tab ``owner`` (which has a SIP Call-ID)."""
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
class Request(TabMessage):
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
    """The leader's answer to a :class:`Request` of tab ``target``."""

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
        Request,
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
    if cls is Request:
        return Request(
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


# ================================================================================================ roles


class TabRole(enum.StrEnum):
    """Where a tab stands in its group."""

    IDLE = "idle"
    """Not in a group (before ``register()``, after ``unregister()``)."""
    FOLLOWER = "follower"
    """In the group, mirroring the leader (and queued for leadership)."""
    LEADER = "leader"
    """Holds the registration."""


class TabLink:
    """The hooks a Device calls when tabs are linked; the default does nothing.

    :class:`TabCoordinator` (``multi_tab``) and :class:`AnsweredElsewhere` (independent tabs) override them.
    """

    @property
    def is_follower(self) -> bool:
        """True when this tab's calls live in another tab (Device methods are forwarded)."""
        return False

    def device_event(self, event: str, args: tuple[Any, ...]) -> None:
        """The Device is emitting ``event``."""

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        """A call of this tab is emitting ``event``."""

    def call_added(self, call: Call) -> None:
        """``connect()`` created an outbound call in this tab."""

    def call_action(self, call: Call, action: str) -> None:
        """The user began to ``accept``, ``reject`` or ``ignore`` an inbound call of this tab."""

    def close(self) -> None:
        """The Device is destroyed: stop talking to the other tabs."""


# ============================================================================ independent tabs (default)


class AnsweredElsewhere(TabLink):
    """Independent tabs of one user: say when an inbound call was accepted or rejected here, and stop
    ringing when another tab did (see the module docstring)."""

    def __init__(self, device: Device, channel: TabChannel) -> None:
        self._device = device
        self._channel: TabChannel | None = channel
        self.tab_id = _new_tab_id()
        self._subscription: Disposable | None = channel.on_message(self._on_message)

    @classmethod
    def open(cls, device: Device, aor: str) -> AnsweredElsewhere | None:
        """Link ``device`` to the other tabs of ``aor``; None when the runtime has no tab channels."""
        opener = getattr(device.platform, "open_tab_channel", None)
        channel = opener(user_channel_name(aor)) if callable(opener) else None
        return cls(device, channel) if channel is not None else None

    def call_action(self, call: Call, action: str) -> None:
        """Tell the other tabs that the user accepted or rejected this call here."""
        if action in ("accept", "reject") and call.sip_call_id is not None and self._channel is not None:
            self._channel.post(encode_message(Handled(self.tab_id, call.sip_call_id, action)))

    def _on_message(self, text: str) -> None:
        try:
            message = decode_message(text)
        except TabMessageError as exc:
            _log.debug("ignored a tab message: %s", exc)
            return
        if not isinstance(message, Handled):
            return
        for call in self._device.calls:
            if (
                call.sip_call_id == message.sip_call_id
                and call.direction == CallDirection.INBOUND.value
                and call.status == CallStatus.PENDING.value
            ):
                call._answered_elsewhere = True
                self._device._stop_ringtone(call)

    def close(self) -> None:
        """Unsubscribe and close the channel; idempotent."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()


# ================================================================================================ mirrors


class MirroredCall(Call):
    """A call of the leader tab, seen from a follower tab (``multi_tab``).

    Its properties and events mirror the leader's call. Its methods ask the leader to act on the real call
    (media plays in the leader tab); the async ones resolve when the leader answered, the others
    (``reject``, ``ignore``, ``mute``, ``send_digits``) return at once and report a refusal as an ``error``
    event. ``get_stats()`` returns the leader's figures.
    """

    _LOCAL_MEDIA = False

    def __init__(self, device: Device, coordinator: TabCoordinator, snapshot: CallSnapshot) -> None:
        super().__init__(
            device,
            direction=CallDirection(snapshot.direction),
            remote_identity=snapshot.remote_identity,
            custom_headers=snapshot.custom_headers,
            sip_call_id=snapshot.sip_call_id,
        )
        self._coordinator = coordinator
        self._key = snapshot.key
        self._owner = snapshot.owner
        self._warnings: tuple[str, ...] = ()
        self._held: list[tuple[CallSnapshot, str | None, tuple[Any, ...]]] | None = None
        self._apply(snapshot)

    def __repr__(self) -> str:
        return f"<MirroredCall {self.direction} {self.remote_identity!r} {self.status} of tab {self._owner}>"

    @property
    def key(self) -> str:
        """The call's id in the group (``<leader tab id>/<SIP Call-ID>``)."""
        return self._key

    @property
    def leader_tab(self) -> str:
        """The id of the tab whose peer connection carries this call."""
        return self._owner

    @property
    def active_warnings(self) -> list[str]:
        """The call-quality warnings raised in the leader tab."""
        return list(self._warnings)

    def _apply(self, snapshot: CallSnapshot) -> None:
        if self.ended:
            return
        if not snapshot.ended:
            self._status = CallStatus(snapshot.status)
        self._muted = snapshot.muted
        self._local_hold = snapshot.on_hold
        self._remote_hold = snapshot.remote_hold
        self._ignored = snapshot.ignored
        self._timings.update(snapshot.timings)
        self._warnings = tuple(snapshot.warnings)

    # -- forwarded methods ------------------------------------------------------------------------------

    async def accept(
        self,
        *,
        codec_preferences: list[str] | None = None,
        max_average_bitrate: int | None = None,
        dtx: bool | None = None,
        rtc_configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer in the leader tab (its microphone, its speaker); resolves once it answered.

        Per-call media options are not forwarded: the leader answers with its own Device's.

        Raises:
            VoiceSDKError: as :meth:`Call.accept`, reported by the leader; ``CALL_FAILED`` when the leader
                tab went away, ``TIMEOUT`` when it did not answer; ``INVALID_ARGUMENT`` for media options.
        """
        media_options = parse_call_media_options(
            codec_preferences=codec_preferences,
            max_average_bitrate=max_average_bitrate,
            dtx=dtx,
            rtc_configuration=rtc_configuration,
        )
        if media_options != CallMediaOptions():
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                "accept() media options apply where the media is: this tab mirrors the leader's call",
            )
        self._device._check_alive()
        if self._direction is not CallDirection.INBOUND:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "accept() is for inbound calls")
        if self._status is not CallStatus.PENDING:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot accept a call that is {self._status.value}")
        self._ignored = False
        self._device._stop_ringtone(self)
        await self._coordinator.request("accept", self)

    def reject(self, status_code: int = 486) -> None:
        """Ask the leader to reject the call (486 by default); a refusal is an ``error`` event.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` or ``INVALID_ARGUMENT`` (status not 300-699).
        """
        if self._direction is not CallDirection.INBOUND:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "reject() is for inbound calls; use disconnect()")
        if isinstance(status_code, bool) or not isinstance(status_code, int) or not 300 <= status_code <= 699:
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"reject() takes a SIP status 300-699, got {status_code!r}"
            )
        if self._status is not CallStatus.PENDING:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot reject a call that is {self._status.value}")
        self._device._stop_ringtone(self)
        self._coordinator.send("reject", self, status_code)

    def ignore(self) -> None:
        """Stop ringing in every tab of the group without telling the caller."""
        if self._direction is not CallDirection.INBOUND or self._status is not CallStatus.PENDING:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "ignore() is for pending inbound calls")
        self._ignored = True
        self._device._stop_ringtone(self)
        self._coordinator.send("ignore", self)

    async def disconnect(self) -> None:
        """Hang up in the leader tab (as :meth:`Call.disconnect`); resolves once the call ended."""
        if self.ended:
            return
        try:
            await self._coordinator.request("disconnect", self)
        except VoiceSDKError as exc:
            if not self.ended:
                raise
            _log.debug("disconnect(): %s (the call ended anyway)", exc)

    def mute(self, muted: bool = True) -> None:
        """Mute (True) or unmute (False) the leader tab's microphone; ``mute`` follows from the leader."""
        if not isinstance(muted, bool):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "mute() takes a bool")
        if self.ended:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        if muted == self._muted:
            return
        self._muted = muted
        self._coordinator.send("mute", self, muted)

    async def hold(self, hold: bool = True) -> None:
        """Hold or resume in the leader tab (a re-INVITE there); resolves when done.

        Raises:
            VoiceSDKError: as :meth:`Call.hold`, reported by the leader.
        """
        if not isinstance(hold, bool):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "hold() takes a bool")
        self._require_live_accepted("hold")
        await self._coordinator.request("hold", self, hold)

    def send_digits(self, digits: str) -> None:
        """Send DTMF from the leader tab (as :meth:`Call.send_digits`).

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` (illegal character) or ``INVALID_STATE`` (not accepted).
        """
        if not isinstance(digits, str) or not _DIGITS_RE.match(digits):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"DTMF digits must be 0-9, *, #, A-D, w or ',', got {digits!r}"
            )
        self._require_live_accepted("send_digits")
        self._coordinator.send("send_digits", self, digits)

    async def set_input_device(self, device_id: str) -> None:
        """Switch the microphone of the leader tab's call."""
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_input_device() takes a device id")
        if self.ended:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        await self._coordinator.request("set_input_device", self, device_id)

    async def set_output_device(self, device_id: str) -> None:
        """Route the leader tab's remote audio of this call to another speaker."""
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_output_device() takes a device id")
        await self._coordinator.request("set_output_device", self, device_id)

    async def get_stats(self) -> dict[str, Any]:
        """The leader tab's media statistics for this call ({} once it ended)."""
        if self.ended:
            return {}
        result = await self._coordinator.request("get_stats", self)
        return dict(result) if isinstance(result, dict) else {}

    def _require_live_accepted(self, what: str) -> None:
        if self._status is not CallStatus.ACCEPTED:
            raise VoiceSDKError(
                ErrorCode.INVALID_STATE, f"{what}() needs an accepted call (it is {self._status.value})"
            )

    # -- mirrored events --------------------------------------------------------------------------------

    def _hold_events(self) -> None:
        """Queue mirrored events until :meth:`_release_events` (``connect()`` has not returned this call)."""
        if self._held is None:
            self._held = []

    def _release_events(self) -> None:
        held, self._held = self._held, None
        for snapshot, event, args in held or ():
            self._mirror_event(snapshot, event, args)

    def _mirror_event(self, snapshot: CallSnapshot, event: str | None, args: tuple[Any, ...]) -> None:
        """Apply the leader's state after ``event`` and re-emit it here."""
        if self._held is not None:
            self._held.append((snapshot, event, args))
            return
        if self.ended:
            return
        self._apply(snapshot)
        if snapshot.status != CallStatus.PENDING.value or snapshot.ignored:
            self._device._stop_ringtone(self)
        if event is None or event == "failed":
            return  # "failed" is re-emitted by _finish, with "disconnect"
        if event == "disconnect":
            payload = args[0] if args and isinstance(args[0], dict) else {}
            reason = str(payload.get("reason") or "remote")
            code = payload.get("status_code")
            failed = snapshot.status == CallStatus.FAILED.value
            status = CallStatus.FAILED if failed else CallStatus.DISCONNECTED
            self._finish(
                status,
                "leader-lost" if reason == "destroyed" else reason,
                code if isinstance(code, int) and not isinstance(code, bool) else None,
            )
            return
        self.emit(event, *args)


# ============================================================================================ election


class ChannelElection:
    """Leader election over the group channel, for runtimes without Web Locks.

    A joining tab asks :class:`WhoLeads`; a live leader answers with a :class:`Heartbeat` (and sends one
    every :data:`HEARTBEAT_INTERVAL`). With no answer within :data:`CLAIM_WAIT`, or no heartbeat for
    :data:`LEADER_TIMEOUT`, or after a :class:`Resign`, a tab posts a :class:`Claim` and wins unless it
    hears, within :data:`CLAIM_WAIT`, a leader or a claim from a lower tab id. Tabs with a lower id contest
    a claim they hear while no leader is alive, so the lowest id wins a simultaneous election.
    """

    def __init__(
        self,
        tab_id: str,
        post: Callable[[TabMessage], None],
        on_elected: Callable[[], None],
        *,
        heartbeat: float | None = None,
        leader_timeout: float | None = None,
        claim_wait: float | None = None,
    ) -> None:
        self.tab_id = tab_id
        self._post = post
        self._on_elected = on_elected
        self._heartbeat = heartbeat if heartbeat is not None else HEARTBEAT_INTERVAL
        self._leader_timeout = leader_timeout if leader_timeout is not None else LEADER_TIMEOUT
        self._claim_wait = claim_wait if claim_wait is not None else CLAIM_WAIT
        self._timer: asyncio.TimerHandle | None = None
        self._claiming = False
        self._leader_alive = False
        self._lowest_claim: str | None = None  # the best rival claim of this election round
        self._rivals: set[str] = set()
        self.leading = False
        self._disposed = False

    def start(self) -> None:
        """Ask who leads; claim if nobody answers."""
        self._post(WhoLeads(self.tab_id))
        self._arm(self._claim_wait, self._claim)

    def handle(self, message: TabMessage) -> None:
        """Feed every message of the group channel from another tab."""
        if self._disposed or message.sender == self.tab_id:
            return
        if isinstance(message, Heartbeat | LeaderAnnounce):
            if self.leading:
                if message.sender not in self._rivals:
                    self._rivals.add(message.sender)
                    _log.warning("two tabs lead this group (%s and %s)", self.tab_id, message.sender)
                return
            self._claiming = False
            self._leader_alive = True
            self._lowest_claim = None
            self._arm(self._leader_timeout, self._leader_silent)
        elif isinstance(message, WhoLeads):
            if self.leading:
                self._post(Heartbeat(self.tab_id))
        elif isinstance(message, Claim):
            if self.leading:
                self._post(Heartbeat(self.tab_id))
                return
            if self._lowest_claim is None or message.sender < self._lowest_claim:
                self._lowest_claim = message.sender
            if self._claiming and message.sender < self.tab_id:
                self._claiming = False
                self._arm(self._leader_timeout, self._leader_silent)
            elif not self._claiming and not self._leader_alive and self.tab_id < self._lowest_claim:
                self._claim()  # we outrank every claim heard: contest
        elif isinstance(message, Resign) and not self.leading:
            self._leader_alive = False
            self._lowest_claim = None
            self._claim()

    def _leader_silent(self) -> None:
        self._leader_alive = False
        self._lowest_claim = None
        self._claim()

    def _claim(self) -> None:
        if self.leading or self._disposed:
            return
        self._claiming = True
        self._post(Claim(self.tab_id))
        self._arm(self._claim_wait, self._claim_won)

    def _claim_won(self) -> None:
        if not self._claiming or self._disposed:
            return
        self._claiming = False
        self.leading = True
        self._beat()
        self._on_elected()

    def _beat(self) -> None:
        if self._disposed:
            return
        self._post(Heartbeat(self.tab_id))
        self._arm(self._heartbeat, self._beat)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_event_loop().call_later(delay, callback)

    def dispose(self) -> None:
        """Stop electing and heart-beating; idempotent."""
        self._disposed = True
        self.leading = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


# ========================================================================================= coordinator


@dataclass
class _Pending:
    target: str
    future: asyncio.Future[Any]


class TabCoordinator(TabLink):
    """One tab's part in a multi-tab group (see the module docstring): election, mirroring, forwarding.

    The Device creates it for ``multi_tab`` and delegates ``register()``, ``unregister()``, a follower's
    ``connect()`` and ``destroy()`` to it; its hooks see every Device and call event.
    """

    def __init__(self, device: Device, *, group: str | None = None, tab_id: str | None = None) -> None:
        self._device = device
        self._fixed_group = group
        self.group: str | None = group
        self.tab_id = tab_id or _new_tab_id()
        self.role = TabRole.IDLE
        self.leader_id: str | None = None
        self._channel: TabChannel | None = None
        self._subscription: Disposable | None = None
        self._lease: Disposable | None = None
        self._election: ChannelElection | None = None
        self._mirrors: dict[str, MirroredCall] = {}
        self._pending: dict[str, _Pending] = {}
        self._request_counter = 0
        self._tasks: set[asyncio.Task[Any]] = set()
        self._registered: asyncio.Future[None] | None = None
        self._leader_state: str | None = None
        self._lead_task: asyncio.Task[None] | None = None
        self._solo = False
        self._closed = False
        self._rivals: set[str] = set()
        self._connecting = 0

    # ------------------------------------------------------------------ properties

    @property
    def is_follower(self) -> bool:
        """True while another tab leads (Device and call methods are forwarded to it)."""
        return self.role is TabRole.FOLLOWER

    @property
    def is_leader(self) -> bool:
        """True while this tab holds the registration."""
        return self.role is TabRole.LEADER

    @property
    def mirrored_calls(self) -> list[MirroredCall]:
        """The live calls of the leader, as seen here."""
        return [call for call in self._mirrors.values() if not call.ended]

    # ------------------------------------------------------------------ membership

    async def register(self) -> None:
        """``Device.register()`` in a multi-tab group: join, then wait until the group is registered.

        The leader registers itself (the single-tab path); a follower resolves when the leader reports
        ``registered``.

        Raises:
            TokenError, VoiceSDKError, AuthError, RegistrationError: as ``Device.register()``; a follower
                that hears no registered leader within ``register_timeout_ms`` gets ``TIMEOUT`` and leaves.
        """
        device = self._device
        if self.role is TabRole.LEADER:
            await device._register_here()
            return
        if self.role is TabRole.FOLLOWER and device.state == "registered":
            return
        if self.role is TabRole.IDLE:
            device._token_info = device._check_token(device._token)
            credentials = await device._load_credentials()
            device._check_alive()
            if self.role is TabRole.IDLE:
                self.group = self._fixed_group or str(credentials.aor())
                if not self._join():
                    self._solo = True
                    self.role = TabRole.LEADER
                    self.leader_id = self.tab_id
                    await device._register_here()
                    return
        await self._wait_registered()

    async def _wait_registered(self) -> None:
        device = self._device
        loop = asyncio.get_event_loop()
        if self._registered is None or self._registered.done():
            self._registered = loop.create_future()
        waiter = self._registered
        timeout = device._options.register_timeout_ms / 1000
        while True:
            if device.state == "registered":
                return
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout=timeout)
                return
            except TimeoutError:
                if self.role is TabRole.LEADER or self._leader_state in ("registering", "reconnecting"):
                    continue  # registrations have their own timeouts; a reconnecting leader may come back
                self.leave(reason="detached")
                raise RegistrationError(
                    ErrorCode.REGISTRATION_FAILED,
                    "no tab of this group registered in time",
                    VoiceSDKError(ErrorCode.TIMEOUT, f"no registered tab within {timeout:g} s"),
                ) from None

    def _join(self) -> bool:
        device = self._device
        platform = device.platform
        opener = getattr(platform, "open_tab_channel", None)
        channel = opener(group_channel_name(self.group or "")) if callable(opener) else None
        if channel is None:
            _log.warning("multi_tab: this runtime has no BroadcastChannel; this tab registers on its own")
            return False
        self._channel = channel
        self._subscription = channel.on_message(self._on_message)
        self.role = TabRole.FOLLOWER
        if device.state != "registering":
            device._set_state("registering")
            device.emit("registering")
        acquire = getattr(platform, "acquire_leadership", None)
        lease = (
            acquire(leader_lock_name(self.group or ""), self._on_lock_granted, on_failed=self._on_lock_failed)
            if callable(acquire)
            else None
        )
        if lease is not None:
            self._lease = lease
        else:
            self._start_channel_election()
        self._post(Hello(self.tab_id))
        return True

    def _start_channel_election(self) -> None:
        self._election = ChannelElection(self.tab_id, self._post, self._on_lock_granted)
        self._election.start()

    def _on_lock_failed(self, message: str) -> None:
        # Called from inside the lock's own JS callback: dispose of it on the next turn, not from within.
        asyncio.get_event_loop().call_soon(self._fall_back_to_channel_election, message)

    def _fall_back_to_channel_election(self, message: str) -> None:
        _log.warning("multi_tab: Web Locks refused (%s); electing over BroadcastChannel", message)
        if self._lease is not None:
            self._lease.dispose()
            self._lease = None
        if self.role is TabRole.FOLLOWER and self._election is None:
            self._start_channel_election()

    def _on_lock_granted(self) -> None:
        # The platform may call back from inside acquire_leadership() or from a JS callback: act on the loop.
        asyncio.get_event_loop().call_soon(self._become_leader)

    def _become_leader(self) -> None:
        device = self._device
        if self.role is not TabRole.FOLLOWER or self._closed:
            return
        self.role = TabRole.LEADER
        self.leader_id = self.tab_id
        self._leader_state = None
        _log.info("multi_tab: this tab leads group %s", self.group)
        self._end_mirrors(lambda call: True, "leader-lost")
        self._fail_pending(lambda pending: True, "the leader tab went away")
        self._post(LeaderAnnounce(self.tab_id))
        if device.state != "registering":
            device._set_state("unregistered")
        self._lead_task = self._spawn(self._lead())

    async def _lead(self) -> None:
        device = self._device
        try:
            await device._register_here()
        except asyncio.CancelledError:
            raise
        except VoiceSDKError as exc:
            waiter = self._registered
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            else:
                device._emit_error(exc)
                device.emit("unregistered")
            self.leave(reason="detached")
            return
        waiter = self._registered
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def unregister(self) -> None:
        """``Device.unregister()``: a leader unregisters and hands over; a follower stops mirroring."""
        device = self._device
        if self.role is TabRole.LEADER:
            await device._unregister_here()
            self.leave(reason="detached")
            return
        if self.role is TabRole.FOLLOWER:
            self.leave(reason="detached")
            device._set_state("unregistered")
            device.emit("unregistered")

    def leave(self, *, reason: str) -> None:
        """Leave the group: resign if leading, end the mirrors (``reason``), release the lock, close."""
        if self.role is TabRole.IDLE:
            return
        was_leader = self.role is TabRole.LEADER
        self.role = TabRole.IDLE
        if was_leader:
            self._post(Resign(self.tab_id))
        self.leader_id = None
        self._leader_state = None
        self._end_mirrors(lambda call: True, reason)
        self._fail_pending(lambda pending: True, "this tab left its multi-tab group")
        waiter = self._registered
        if waiter is not None and not waiter.done():
            waiter.set_exception(VoiceSDKError(ErrorCode.NOT_REGISTERED, "this tab left its multi-tab group"))
            waiter.exception()  # retrieved: nobody may be waiting
        if self._election is not None:
            self._election.dispose()
            self._election = None
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.dispose()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        self._solo = False

    def close(self) -> None:
        """The Device is destroyed: leave the group, cancel everything; idempotent."""
        if self._closed:
            return
        self.leave(reason="destroyed")
        self._closed = True
        for task in list(self._tasks):
            task.cancel()

    # ------------------------------------------------------------------ leader side: hooks

    def device_event(self, event: str, args: tuple[Any, ...]) -> None:
        """Broadcast the leader's registration events, shared errors and incoming calls."""
        if self.role is not TabRole.LEADER or self._solo:
            return
        if event in MIRRORED_DEVICE_EVENTS:
            self._post(StateUpdate(self.tab_id, self._device.state, event, encode_args(args)))
        elif event == "error" and args and isinstance(args[0], VoiceSDKError):
            if args[0].code in SHARED_ERROR_CODES:
                self._post(StateUpdate(self.tab_id, self._device.state, "error", encode_args(args[:1])))
        elif event == "incoming" and args and isinstance(args[0], Call):
            self._post_call(args[0], "incoming", ())

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        """Broadcast a leader call's event with its new state."""
        if self.role is TabRole.LEADER and not self._solo and not isinstance(call, MirroredCall):
            self._post_call(call, event, args)

    def call_added(self, call: Call) -> None:
        """Announce an outbound call placed in the leader tab."""
        if self.role is TabRole.LEADER and not self._solo:
            self._post_call(call, None, ())

    def call_action(self, call: Call, action: str) -> None:
        """An inbound leader call is being accepted, rejected or ignored: every tab stops ringing now."""
        if self.role is not TabRole.LEADER or self._solo or call.sip_call_id is None:
            return
        key = f"{self.tab_id}/{call.sip_call_id}"
        self._post(Handled(self.tab_id, call.sip_call_id, action, key))

    def _post_call(self, call: Call, event: str | None, args: tuple[Any, ...]) -> None:
        if call.sip_call_id is None:
            return  # an outbound call that failed before its INVITE: nobody else knows it
        self._post(CallUpdate(self.tab_id, CallSnapshot.of(call, self.tab_id), event, encode_args(args)))

    # ------------------------------------------------------------------ messages

    def _post(self, message: TabMessage) -> None:
        channel = self._channel
        if channel is not None:
            channel.post(encode_message(message))

    def _on_message(self, text: str) -> None:
        if self._closed or self.role is TabRole.IDLE:
            return
        try:
            message = decode_message(text)
        except TabMessageError as exc:
            _log.debug("ignored a tab message: %s", exc)
            return
        if message.sender == self.tab_id:
            return
        if self._election is not None:
            self._election.handle(message)
        if self.role is TabRole.LEADER:
            self._on_message_as_leader(message)
        else:
            self._on_message_as_follower(message)

    def _on_message_as_leader(self, message: TabMessage) -> None:
        if isinstance(message, Hello):
            calls = []
            for call in self._device.calls:
                if call.sip_call_id is not None and not isinstance(call, MirroredCall):
                    calls.append(CallSnapshot.of(call, self.tab_id))
            self._post(Snapshot(self.tab_id, self._device.state, tuple(calls)))
        elif isinstance(message, Request) and message.target == self.tab_id:
            self._spawn(self._serve(message))
        elif isinstance(message, LeaderAnnounce) and message.sender not in self._rivals:
            self._rivals.add(message.sender)
            _log.warning("multi_tab: tab %s also leads group %s", message.sender, self.group)

    def _on_message_as_follower(self, message: TabMessage) -> None:
        if isinstance(message, LeaderAnnounce):
            self._switch_leader(message.sender)
        elif isinstance(message, Resign):
            if message.sender == self.leader_id:
                self.leader_id = None
                self._leader_state = None
            self._leader_gone(message.sender)
        elif isinstance(message, StateUpdate):
            if self._follows(message.sender):
                self._mirror_state(message.state, message.event, decode_args(message.args))
        elif isinstance(message, Snapshot):
            if self._follows(message.sender):
                self._mirror_state(message.state, None, ())
            for snapshot in message.calls:
                self._mirror_call(snapshot, None, ())
        elif isinstance(message, CallUpdate):
            self._follows(message.sender)
            self._mirror_call(message.call, message.event, decode_args(message.args))
        elif isinstance(message, Handled):
            mirror = self._mirrors.get(message.key or "")
            if mirror is not None and not mirror.ended:
                if message.action == "ignore":
                    mirror._ignored = True
                self._device._stop_ringtone(mirror)
        elif isinstance(message, Reply) and message.target == self.tab_id:
            pending = self._pending.pop(message.request_id, None)
            if pending is not None and not pending.future.done():
                if message.ok:
                    pending.future.set_result(message.result)
                else:
                    pending.future.set_exception(
                        error_from(message.error_code, message.error_message or "the leader tab refused")
                    )

    def _follows(self, sender: str) -> bool:
        """True when ``sender`` is our leader (adopted now if we had none: we joined after its announce).

        Calls of another leader are still mirrored (keyed by their owner): two leaders only happen with the
        channel election, and then both tabs' calls are real.
        """
        if self.leader_id is None:
            self.leader_id = sender
        return sender == self.leader_id

    def _switch_leader(self, leader: str) -> None:
        previous, self.leader_id = self.leader_id, leader
        self._leader_state = None
        if previous is not None and previous != leader:
            self._leader_gone(previous)

    def _leader_gone(self, leader: str) -> None:
        self._end_mirrors(lambda call: call.leader_tab == leader, "leader-lost")
        self._fail_pending(lambda pending: pending.target == leader, "the leader tab went away")

    def _mirror_state(self, state: str, event: str | None, args: tuple[Any, ...]) -> None:
        device = self._device
        self._leader_state = state
        if event == "error":
            if args and isinstance(args[0], VoiceSDKError):
                device._emit_error(args[0])
            return
        if event is None:
            if state == device.state or state not in MIRRORED_DEVICE_EVENTS:
                return
            event = state
        elif event not in MIRRORED_DEVICE_EVENTS:
            return
        elif event == "registering" and device.state == "registering":
            return  # said already (when this tab joined, or by a leader that then failed)
        first_registration = state == "registered" and device.state != "registered"
        device._set_state(state)
        device.emit(event, *args)
        if state == "registered":
            if first_registration:
                device._arm_token_timers()
            waiter = self._registered
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _mirror_call(
        self, snapshot: CallSnapshot, event: str | None, args: tuple[Any, ...], *, create_ended: bool = False
    ) -> MirroredCall | None:
        device = self._device
        mirror = self._mirrors.get(snapshot.key)
        if mirror is None:
            if snapshot.ended and not create_ended:
                return None
            mirror = MirroredCall(device, self, snapshot)
            self._mirrors[snapshot.key] = mirror
            if self._connecting and mirror.direction == CallDirection.OUTBOUND.value:
                mirror._hold_events()  # perhaps the call a pending connect() will return: no event before
            if not snapshot.ended:
                device._bind_call(f"tab:{snapshot.key}", mirror)
            if mirror.direction == CallDirection.INBOUND.value and mirror.status == CallStatus.PENDING.value:
                if not mirror.ignored:
                    device._start_ringtone(mirror)
                device.emit("incoming", mirror)
            if event in (None, "incoming"):
                return mirror
        mirror._mirror_event(snapshot, None if event == "incoming" else event, args)
        if mirror.ended:
            self._mirrors.pop(snapshot.key, None)
        return mirror

    def _end_mirrors(self, which: Callable[[MirroredCall], bool], reason: str) -> None:
        for key, mirror in list(self._mirrors.items()):
            if which(mirror):
                self._mirrors.pop(key, None)
                if reason == "destroyed":
                    mirror._finish_destroyed()
                else:
                    mirror._finish(CallStatus.DISCONNECTED, reason, None)

    # ------------------------------------------------------------------ follower side: requests

    async def request(self, op: str, call: MirroredCall | None, *args: Any, **kwargs: Any) -> Any:
        """Ask the leader to run ``op`` (a method of ``call``'s real call, or ``connect``); its result.

        Raises:
            VoiceSDKError: what the leader raised (same code); ``CALL_FAILED`` when the leader tab went away
                or this tab left the group, ``TIMEOUT`` after :data:`REQUEST_TIMEOUT`.
        """
        target = call.leader_tab if call is not None else self.leader_id
        if target is None or self.role is not TabRole.FOLLOWER:
            raise VoiceSDKError(ErrorCode.CALL_FAILED, "no leader tab to run this (the group has none now)")
        self._request_counter += 1
        request_id = f"{self.tab_id}:{self._request_counter}"
        future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        self._pending[request_id] = _Pending(target, future)
        message = Request(
            self.tab_id,
            target,
            request_id,
            op,
            call.key if call is not None else None,
            tuple(plain_json(list(args))),
            plain_json(kwargs),
        )
        self._post(message)
        try:
            return await asyncio.wait_for(future, timeout=REQUEST_TIMEOUT)
        except TimeoutError:
            raise VoiceSDKError(ErrorCode.TIMEOUT, f"the leader tab did not answer {op}() in time") from None
        finally:
            self._pending.pop(request_id, None)

    def send(self, op: str, call: MirroredCall, *args: Any) -> None:
        """:meth:`request` without waiting; a refusal becomes an ``error`` event of ``call``."""

        async def run() -> None:
            try:
                await self.request(op, call, *args)
            except VoiceSDKError as exc:
                if not call.ended:
                    call._emit_error(exc)

        self._spawn(run())

    async def forward_connect(
        self, to: str, from_: str | None, caller_id: str | None, extra_headers: list[str]
    ) -> MirroredCall:
        """``Device.connect()`` in a follower: the leader places the call (its media plays there).

        Raises:
            VoiceSDKError: what the leader's ``connect()`` raised, ``CALL_FAILED`` / ``TIMEOUT``.
        """
        self._connecting += 1
        try:
            result = await self.request(
                "connect", None, to=to, from_=from_, caller_id=caller_id, extra_headers=extra_headers
            )
            try:
                snapshot = CallSnapshot.from_json(result)
            except TabMessageError as exc:
                raise VoiceSDKError(
                    ErrorCode.CALL_FAILED, f"the leader tab answered badly: {exc.message}"
                ) from None
            mirror = self._mirror_call(snapshot, None, (), create_ended=True)
            assert mirror is not None
            return mirror
        finally:
            self._connecting -= 1
            if not self._connecting:
                # Replay what arrived meanwhile once the caller of connect() had the call (and its handlers).
                for held in [m for m in self._mirrors.values() if m._held is not None]:
                    asyncio.get_event_loop().call_soon(held._release_events)

    def _fail_pending(self, which: Callable[[_Pending], bool], why: str) -> None:
        for request_id, pending in list(self._pending.items()):
            if which(pending):
                self._pending.pop(request_id, None)
                if not pending.future.done():
                    pending.future.set_exception(VoiceSDKError(ErrorCode.CALL_FAILED, why))

    # ------------------------------------------------------------------ leader side: serving requests

    async def _serve(self, request: Request) -> None:
        try:
            result = await self._perform(request)
        except VoiceSDKError as exc:
            reply = Reply(
                self.tab_id, request.sender, request.request_id, False, None, exc.code.value, exc.message
            )
        except Exception as exc:
            _log.exception("multi_tab: serving %s failed", request.op)
            reply = Reply(
                self.tab_id,
                request.sender,
                request.request_id,
                False,
                None,
                ErrorCode.CALL_FAILED.value,
                f"the leader tab failed: {exc}",
            )
        else:
            reply = Reply(self.tab_id, request.sender, request.request_id, True, plain_json(result))
        if self.role is TabRole.LEADER:
            self._post(reply)

    async def _perform(self, request: Request) -> Any:
        device = self._device
        if request.op == "connect":
            kwargs = dict(request.kwargs)
            extra = kwargs.get("extra_headers") or []
            call = await device.connect(
                str(kwargs.get("to", "")),
                from_=kwargs.get("from_"),
                caller_id=kwargs.get("caller_id"),
                extra_headers=extra if isinstance(extra, list) else [],
            )
            return CallSnapshot.of(call, self.tab_id).to_json()
        if request.op not in _FORWARDED_CALL_METHODS:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, f"{request.op!r} cannot be forwarded")
        call_id = (request.key or "").partition("/")[2]
        target = next((c for c in device.calls if c.sip_call_id == call_id and not c.ended), None)
        if target is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        result = getattr(target, request.op)(*request.args)
        if inspect.isawaitable(result):
            result = await result
        return result if request.op == "get_stats" else None

    # ------------------------------------------------------------------ helpers

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task: asyncio.Task[Any] = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            _log.error("multi_tab task failed", exc_info=task.exception())
