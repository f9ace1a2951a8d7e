"""SDP (RFC 8866, formerly RFC 4566) parsing and serialisation, and RFC 3264 offer/answer helpers.

Design notes
============

*Model.* A :class:`SessionDescription` holds the session-level fields as typed values (``o=`` is an
:class:`Origin`, ``c=`` a :class:`Connection`, ``b=`` a list of :class:`Bandwidth`, ``t=``/``r=`` a list of
:class:`Timing`) and every ``a=`` line, in order, as an :class:`Attribute` (name, value or ``None``).
Each ``m=`` section is a :class:`MediaDescription` with the same shape. Attributes are kept verbatim,
including the ones this module interprets (``rtpmap``, ``candidate``, ``sendonly``...): the typed views
(:attr:`MediaDescription.codecs`, :attr:`MediaDescription.candidates`, :attr:`MediaDescription.direction`)
are computed from the attribute list on access, so there is exactly one source of truth and
``parse_sdp(str(sdp)) == sdp`` always holds. Lines of a type letter RFC 8866 does not define (``y=``,
``f=`` from some camera firmwares) are kept as :class:`UnknownLine` and written back in the same place.

*Inheritance.* Several values of a media section fall back to the session level: the direction
attribute, ``c=``, ``a=ice-ufrag``/``a=ice-pwd``, ``a=fingerprint``, ``a=setup``. A media description
therefore knows the session it belongs to: :attr:`SessionDescription.media` is a :class:`MediaList`
that links every member on insertion (the link is not part of equality or ``repr``).

*Strictness.* :func:`parse_sdp` enforces the line order of RFC 8866 §5 (``v o s i u e p c b t r z k a``
at session level, ``m i c b k a`` per media), the mandatory ``v=0``, ``o=``, ``s=`` and ``t=`` lines,
the grammar of the typed lines and of the attributes this module interprets, and that every active
stream has connection data. It tolerates what real peers send: LF-only line endings, trailing
whitespace, empty lines at the end, an empty ``s=``, multiple spaces between fields. Pass
``strict_order=False`` to also accept known lines out of order (they are then written back in canonical
order). Bad input raises :class:`SdpError` (a :class:`~twochat_voice_web.sip.errors.ParseError`) naming
the line; API misuse raises :class:`~twochat_voice_web.sip.errors.LocalProtocolError`.

*Offer/answer.* :func:`answer_direction` is the RFC 3264 §6.1 table; :func:`validate_answer` checks an
answer against its offer (§6, §6.1, RFC 8843 BUNDLE, RFC 5763 ``a=setup``). Hold is expressed with
direction attributes only (§8.4): :func:`make_hold_offer` keeps connection data, ICE credentials,
candidates and fingerprints and bumps ``o=`` — it never writes ``c=0.0.0.0``. A *received* RFC 2543
hold (``c=IN IP4 0.0.0.0`` without ICE) is still recognised by
:attr:`MediaDescription.effective_direction` and :func:`is_on_hold`. With ICE, ``0.0.0.0`` plus port 9
is the RFC 8840 "no candidate yet" placeholder that Chromium writes before gathering, not a hold.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, SupportsIndex, overload

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "Attribute",
    "Bandwidth",
    "Candidate",
    "Codec",
    "Connection",
    "Direction",
    "MediaDescription",
    "MediaList",
    "Origin",
    "SdpError",
    "SessionDescription",
    "Timing",
    "UnknownLine",
    "active_media",
    "add_telephone_event",
    "answer_direction",
    "apply_answer_directions",
    "audio_codecs",
    "filter_candidates",
    "has_telephone_event",
    "ice_candidates",
    "ice_credentials",
    "is_allowed_answer_direction",
    "is_ice_restart",
    "is_on_hold",
    "make_hold_offer",
    "make_resume_offer",
    "parse_candidate",
    "parse_sdp",
    "remove_codec",
    "remove_telephone_event",
    "telephone_event",
    "telephone_events",
    "validate_answer",
]


class SdpError(ParseError):
    """An SDP body does not follow RFC 8866 (or the grammar of an attribute this module interprets)."""


# --- grammar (RFC 8866 §9, RFC 8839 §5.1) --------------------------------------------------------------
_TOKEN_CHARS = r"!#$%&'*+\-.0-9A-Z^_`a-z{|}~"
_TOKEN = rf"[{_TOKEN_CHARS}]+"
_TOKEN_RE = re.compile(_TOKEN)
_PROTO_RE = re.compile(rf"{_TOKEN}(?:/{_TOKEN})*")
_DIGITS_RE = re.compile(r"[0-9]+")
_NON_WS_RE = re.compile(r"[^\s]+")
_PORT_RE = re.compile(r"([0-9]{1,5})(?:/([0-9]{1,5}))?")
_BANDWIDTH_RE = re.compile(rf"({_TOKEN}):([0-9]{{1,18}})")
_RTPMAP_RE = re.compile(r"([^\s/]+) +([^\s/]+)/([0-9]{1,10})(?:/([0-9]{1,3}))?")
_FMTP_RE = re.compile(r"([^\s]+)(?: +(.*))?")
_RTCP_RE = re.compile(rf"([0-9]{{1,5}})(?: +({_TOKEN}) +({_TOKEN}) +([^\s]+))?")
_ICE_CHARS_RE = re.compile(r"[A-Za-z0-9+/]{1,256}")
_FOUNDATION_RE = re.compile(r"[A-Za-z0-9+/]{1,32}")
_EVENT_LIST_RE = re.compile(r"[0-9]{1,3}(?:-[0-9]{1,3})?(?:,[0-9]{1,3}(?:-[0-9]{1,3})?)*")
_FORBIDDEN_TEXT_RE = re.compile(r"[\x00\r\n\ud800-\udfff]")  # surrogates cannot be UTF-8

_SESSION_RANK = {
    "v": 0,
    "o": 1,
    "s": 2,
    "i": 3,
    "u": 4,
    "e": 5,
    "p": 6,
    "c": 7,
    "b": 8,
    "t": 9,
    "r": 9,
    "z": 10,
    "k": 11,
    "a": 12,
}
_SESSION_REPEATABLE = frozenset("epbtra")
_MEDIA_RANK = {"i": 1, "c": 2, "b": 3, "k": 4, "a": 5}
_MEDIA_REPEATABLE = frozenset("cba")
_KNOWN_TYPES = frozenset("vosiuepcbtrzkam")
_SESSION_SLOTS = ("v", "o", "s", "i", "u", "e", "p", "c", "b", "t", "z", "k", "a")
_MEDIA_SLOTS = ("m", "i", "c", "b", "k", "a")

_MAX_PORT = 65_535
_MAX_PRIORITY = 2**32 - 1
_DYNAMIC_PAYLOAD_TYPES = tuple(str(pt) for pt in range(96, 128))
_UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::"})


def _is_token(text: str) -> bool:
    return _TOKEN_RE.fullmatch(text) is not None


def _require_token(what: str, text: str) -> None:
    if not isinstance(text, str) or not _is_token(text):
        raise LocalProtocolError(f"SDP {what} must be a token, got {text!r}")


def _require_text(what: str, text: str, *, allow_empty: bool = True, allow_space: bool = True) -> None:
    if not isinstance(text, str):
        raise LocalProtocolError(f"SDP {what} must be a str, got {type(text).__name__}")
    if _FORBIDDEN_TEXT_RE.search(text):
        raise LocalProtocolError(f"SDP {what} must not contain CR, LF, NUL or surrogates: {text!r}")
    if not allow_empty and not text:
        raise LocalProtocolError(f"SDP {what} must not be empty")
    if not allow_space and any(ch.isspace() for ch in text):
        raise LocalProtocolError(f"SDP {what} must not contain whitespace: {text!r}")


def _require_int(what: str, value: int, low: int, high: int | None = None) -> None:
    in_range = isinstance(value, int) and low <= value and (high is None or value <= high)
    if not in_range or isinstance(value, bool):
        bound = f"{low}..{high}" if high is not None else f">= {low}"
        raise LocalProtocolError(f"SDP {what} must be an int in {bound}, got {value!r}")


# --- value types ------------------------------------------------------------------------------------------
class Direction(StrEnum):
    """Media direction attribute (RFC 8866 §6.7), as seen by the side that wrote the SDP."""

    #: send and receive (the default when no direction attribute is present)
    SENDRECV = "sendrecv"
    #: send only: the writer does not want to receive (it is putting the peer on hold)
    SENDONLY = "sendonly"
    #: receive only: the writer will not send
    RECVONLY = "recvonly"
    #: neither send nor receive
    INACTIVE = "inactive"

    @classmethod
    def from_flags(cls, *, sends: bool, receives: bool) -> Direction:
        """The direction that sends and/or receives as given."""
        if sends and receives:
            return cls.SENDRECV
        if sends:
            return cls.SENDONLY
        if receives:
            return cls.RECVONLY
        return cls.INACTIVE

    @property
    def sends(self) -> bool:
        """True when the writer of the SDP sends media (sendrecv, sendonly)."""
        return self in (Direction.SENDRECV, Direction.SENDONLY)

    @property
    def receives(self) -> bool:
        """True when the writer of the SDP wants to receive media (sendrecv, recvonly)."""
        return self in (Direction.SENDRECV, Direction.RECVONLY)

    def reverse(self) -> Direction:
        """The same stream seen from the other side: sendonly <-> recvonly, others unchanged."""
        return Direction.from_flags(sends=self.receives, receives=self.sends)


_DIRECTION_NAMES = frozenset(d.value for d in Direction)


def answer_direction(offer: Direction, local: Direction) -> Direction:
    """The direction to put in an answer, per RFC 3264 §6.1.

    ``offer`` is the direction in the offer; ``local`` is what the answerer would like (for example
    ``SENDONLY`` while it holds the call, ``RECVONLY`` without a microphone). The answer sends only if
    the offerer receives and the answerer wants to send, and receives only if the offerer sends and the
    answerer wants to receive: sendonly -> recvonly/inactive, recvonly -> sendonly/inactive,
    inactive -> inactive, sendrecv -> ``local``.
    """
    return Direction.from_flags(sends=offer.receives and local.sends, receives=offer.sends and local.receives)


def is_allowed_answer_direction(offer: Direction, answer: Direction) -> bool:
    """True when ``answer`` is a direction RFC 3264 §6.1 allows in reply to ``offer``."""
    return (not answer.sends or offer.receives) and (not answer.receives or offer.sends)


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: ``a=name`` (``value is None``) or ``a=name:value`` (value verbatim, may be "")."""

    name: str
    value: str | None = None

    def __post_init__(self) -> None:
        _require_token("attribute name", self.name)
        if self.value is not None:
            _require_text(f"a={self.name} value", self.value)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"


@dataclass(frozen=True, slots=True)
class Origin:
    """The ``o=`` line: ``username sess-id sess-version nettype addrtype unicast-address``."""

    username: str = "-"
    session_id: str = "0"
    session_version: int = 0
    network_type: str = "IN"
    address_type: str = "IP4"
    address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        _require_text("o= username", self.username, allow_empty=False, allow_space=False)
        _require_text("o= sess-id", self.session_id, allow_empty=False, allow_space=False)
        _require_int("o= sess-version", self.session_version, 0)
        _require_token("o= nettype", self.network_type)
        _require_token("o= addrtype", self.address_type)
        _require_text("o= address", self.address, allow_empty=False, allow_space=False)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} {self.network_type} "
            f"{self.address_type} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class Connection:
    """A ``c=`` line: ``nettype addrtype connection-address`` (address verbatim, with any /ttl/count)."""

    network_type: str = "IN"
    address_type: str = "IP4"
    address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        _require_token("c= nettype", self.network_type)
        _require_token("c= addrtype", self.address_type)
        _require_text("c= address", self.address, allow_empty=False, allow_space=False)

    @property
    def host(self) -> str:
        """The address without a multicast ``/ttl`` or ``/count`` suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_unspecified(self) -> bool:
        """True for ``0.0.0.0`` or ``::`` (RFC 2543 hold, or the RFC 8840 ICE placeholder)."""
        return self.host in _UNSPECIFIED_ADDRESSES

    @classmethod
    def for_address(cls, address: str) -> Connection:
        """``IN IP4 address`` or ``IN IP6 address``, chosen from the address' syntax."""
        return cls("IN", "IP6" if ":" in address else "IP4", address)

    def __str__(self) -> str:
        return f"{self.network_type} {self.address_type} {self.address}"


@dataclass(frozen=True, slots=True)
class Bandwidth:
    """A ``b=`` line: ``bwtype:bandwidth`` (``AS``, ``CT``, ``TIAS``...; kbit/s except TIAS in bit/s)."""

    type: str
    value: int

    def __post_init__(self) -> None:
        _require_token("b= bwtype", self.type)
        _require_int("b= bandwidth", self.value, 0)

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """A ``t=`` line (NTP start and stop times, 0 = unbounded) and the ``r=`` lines that follow it."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _require_int("t= start time", self.start, 0)
        _require_int("t= stop time", self.stop, 0)
        for repeat in self.repeats:
            _require_text("r= value", repeat, allow_empty=False)


@dataclass(frozen=True, slots=True)
class UnknownLine:
    """A line with a type letter RFC 8866 does not define, kept so that serialisation is stable.

    ``after`` is the type letter of the known line group it followed in its section (``"m"`` or
    ``"v"`` when it came right after the section start); it is written back after that group. Parsing
    always records the last group actually present, so ``after`` naming an absent group serialises fine
    but re-parses with the letter of the group present before it.
    """

    type: str
    value: str
    after: str

    def __post_init__(self) -> None:
        if len(self.type) != 1 or not ("a" <= self.type <= "z") or self.type in _KNOWN_TYPES:
            raise LocalProtocolError(f"SDP unknown line type must be an undefined letter, got {self.type!r}")
        _require_text(f"{self.type}= value", self.value)
        if self.after not in _SESSION_SLOTS and self.after not in _MEDIA_SLOTS:
            raise LocalProtocolError(f"SDP unknown line slot must be a line type letter, got {self.after!r}")


# RFC 3551 §6 static payload types (name, clock rate, channels as an rtpmap would write them).
STATIC_PAYLOAD_TYPES: dict[str, tuple[str, int, int | None]] = {
    "0": ("PCMU", 8000, None),
    "3": ("GSM", 8000, None),
    "4": ("G723", 8000, None),
    "5": ("DVI4", 8000, None),
    "6": ("DVI4", 16000, None),
    "7": ("LPC", 8000, None),
    "8": ("PCMA", 8000, None),
    "9": ("G722", 8000, None),
    "10": ("L16", 44100, 2),
    "11": ("L16", 44100, None),
    "12": ("QCELP", 8000, None),
    "13": ("CN", 8000, None),
    "14": ("MPA", 90000, None),
    "15": ("G728", 8000, None),
    "16": ("DVI4", 11025, None),
    "17": ("DVI4", 22050, None),
    "18": ("G729", 8000, None),
}


@dataclass(frozen=True, slots=True)
class Codec:
    """An RTP payload format of a media section: its ``a=rtpmap`` (or RFC 3551 static entry) and ``a=fmtp``.

    ``payload_type`` stays a string as written in the ``m=`` line; ``channels`` is ``None`` when the
    rtpmap omits it (one channel for audio); ``fmtp`` is the parameter text after the payload type.
    """

    payload_type: str
    name: str
    clock_rate: int
    channels: int | None = None
    fmtp: str | None = None

    @property
    def is_telephone_event(self) -> bool:
        """True for RFC 4733 ``telephone-event`` (DTMF over RTP)."""
        return self.name.lower() == "telephone-event"

    @property
    def rtpmap(self) -> str:
        """The rtpmap value without the payload type: ``opus/48000/2``."""
        suffix = f"/{self.channels}" if self.channels is not None else ""
        return f"{self.name}/{self.clock_rate}{suffix}"

    def parameters(self) -> dict[str, str]:
        """The fmtp as ``key=value`` pairs split at ``;`` (a bare item maps to ""); {} without fmtp."""
        result: dict[str, str] = {}
        if not self.fmtp:
            return result
        for item in self.fmtp.split(";"):
            key, _, value = item.strip().partition("=")
            if key:
                result[key.strip()] = value.strip()
        return result

    def event_codes(self) -> frozenset[int]:
        """The RFC 4733 events a telephone-event codec supports (fmtp ``0-16``; "0-15" when absent).

        Raises :class:`SdpError` when the fmtp is not an event list, :class:`LocalProtocolError` when
        this codec is not telephone-event.
        """
        if not self.is_telephone_event:
            raise LocalProtocolError(f"payload type {self.payload_type} is {self.name}, not telephone-event")
        text = (self.fmtp or "0-15").replace(" ", "")
        if _EVENT_LIST_RE.fullmatch(text) is None:
            raise SdpError(f"telephone-event fmtp is not an event list: {self.fmtp!r}")
        codes: set[int] = set()
        for part in text.split(","):
            low_text, _, high_text = part.partition("-")
            low = int(low_text)
            high = int(high_text) if high_text else low
            if low > high or high > 255:
                raise SdpError(f"telephone-event fmtp has a bad range {part!r}")
            codes.update(range(low, high + 1))
        return frozenset(codes)

    def same_format(self, other: Codec) -> bool:
        """True when both describe the same encoding: name (case-insensitive), clock rate, channels."""
        return (
            self.name.lower() == other.name.lower()
            and self.clock_rate == other.clock_rate
            and (self.channels or 1) == (other.channels or 1)
        )


@dataclass(frozen=True, slots=True)
class Candidate:
    """An ICE candidate (RFC 8839 §5.1), the value of ``a=candidate:``.

    ``transport`` keeps its spelling (``udp``, ``UDP``, ``tcp``); ``extra`` holds the extension pairs
    after the typed part in order (``generation 0``, ``tcptype active``, ``network-id 1``...).
    """

    foundation: str
    component: int
    transport: str
    priority: int
    address: str
    port: int
    type: str
    related_address: str | None = None
    related_port: int | None = None
    extra: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.foundation, str) or _FOUNDATION_RE.fullmatch(self.foundation) is None:
            raise LocalProtocolError(f"ICE foundation must be 1-32 ice-chars, got {self.foundation!r}")
        _require_int("candidate component", self.component, 1, 256)
        _require_token("candidate transport", self.transport)
        _require_int("candidate priority", self.priority, 0, _MAX_PRIORITY)
        _require_text("candidate address", self.address, allow_empty=False, allow_space=False)
        _require_int("candidate port", self.port, 0, _MAX_PORT)
        _require_token("candidate type", self.type)
        if self.related_address is not None:
            _require_text("candidate raddr", self.related_address, allow_empty=False, allow_space=False)
        if self.related_port is not None:
            _require_int("candidate rport", self.related_port, 0, _MAX_PORT)
        for name, value in self.extra:
            _require_text("candidate extension name", name, allow_empty=False, allow_space=False)
            _require_text("candidate extension value", value, allow_empty=False, allow_space=False)

    @property
    def ip(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
        """The address as an IP address, or ``None`` for a hostname (an mDNS ``.local`` name, say)."""
        try:
            return ipaddress.ip_address(self.address)
        except ValueError:
            return None

    @property
    def is_loopback(self) -> bool:
        """True for 127.0.0.0/8 and ::1."""
        ip = self.ip
        return ip is not None and ip.is_loopback

    @property
    def extensions(self) -> dict[str, str]:
        """The extension pairs as a dict (first occurrence wins)."""
        result: dict[str, str] = {}
        for name, value in self.extra:
            result.setdefault(name, value)
        return result

    def to_attribute(self) -> Attribute:
        """This candidate as an ``a=candidate:`` attribute."""
        return Attribute("candidate", str(self))

    def __str__(self) -> str:
        parts = [
            self.foundation,
            str(self.component),
            self.transport,
            str(self.priority),
            self.address,
            str(self.port),
            "typ",
            self.type,
        ]
        if self.related_address is not None:
            parts += ["raddr", self.related_address]
        if self.related_port is not None:
            parts += ["rport", str(self.related_port)]
        for name, value in self.extra:
            parts += [name, value]
        return " ".join(parts)


def parse_candidate(text: str) -> Candidate:
    """Parse an ICE candidate: ``a=candidate:...``, ``candidate:...`` (RTCIceCandidate) or the bare value.

    Raises :class:`SdpError` when it does not follow RFC 8839 §5.1.
    """
    if not isinstance(text, str):
        raise LocalProtocolError(f"parse_candidate() needs a str, got {type(text).__name__}")
    value = text.strip()
    for prefix in ("a=candidate:", "candidate:"):
        if value.startswith(prefix):
            value = value[len(prefix) :]
            break
    if _FORBIDDEN_TEXT_RE.search(value):
        raise SdpError(f"ICE candidate contains CR, LF, NUL or a surrogate: {text!r}")
    fields = value.split()
    if len(fields) < 8:
        raise SdpError(f"ICE candidate needs 8 fields (foundation ... typ type), got {len(fields)}: {text!r}")
    foundation, component, transport, priority, address, port, typ, cand_type = fields[:8]
    if _FOUNDATION_RE.fullmatch(foundation) is None:
        raise SdpError(f"ICE candidate has a bad foundation {foundation!r}")
    component_value = _parse_int(component, "ICE candidate component", 1, 256)
    if not _is_token(transport):
        raise SdpError(f"ICE candidate has a bad transport {transport!r}")
    priority_value = _parse_int(priority, "ICE candidate priority", 0, _MAX_PRIORITY)
    port_value = _parse_int(port, "ICE candidate port", 0, _MAX_PORT)
    if typ != "typ":
        raise SdpError(f"ICE candidate: expected 'typ' after the port, got {typ!r}")
    if not _is_token(cand_type):
        raise SdpError(f"ICE candidate has a bad type {cand_type!r}")
    rest = fields[8:]
    related_address: str | None = None
    related_port: int | None = None
    if len(rest) >= 2 and rest[0] == "raddr":
        related_address = rest[1]
        rest = rest[2:]
    if len(rest) >= 2 and rest[0] == "rport":
        related_port = _parse_int(rest[1], "ICE candidate rport", 0, _MAX_PORT)
        rest = rest[2:]
    if len(rest) % 2:
        raise SdpError(f"ICE candidate extensions must be name/value pairs: {' '.join(rest)!r}")
    extra = tuple((rest[i], rest[i + 1]) for i in range(0, len(rest), 2))
    return Candidate(
        foundation,
        component_value,
        transport,
        priority_value,
        address,
        port_value,
        cand_type,
        related_address,
        related_port,
        extra,
    )


def _parse_int(text: str, what: str, low: int, high: int) -> int:
    if _DIGITS_RE.fullmatch(text) is None or len(text) > 20:
        raise SdpError(f"{what} is not a number: {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise SdpError(f"{what} {value} is out of range {low}..{high}")
    return value


# --- sections ---------------------------------------------------------------------------------------------
class _AttributeOwner:
    """Attribute helpers shared by the session and media levels (which keep ``attributes`` in order)."""

    attributes: list[Attribute]

    def has_attribute(self, name: str) -> bool:
        """True when an ``a=name`` or ``a=name:...`` line is present (names are case-sensitive)."""
        return any(attribute.name == name for attribute in self.attributes)

    def get_attribute(self, name: str) -> Attribute | None:
        """The first attribute with this name, or ``None``."""
        for attribute in self.attributes:
            if attribute.name == name:
                return attribute
        return None

    def attribute_value(self, name: str) -> str | None:
        """The value of the first attribute with this name (``None`` if absent or value-less)."""
        attribute = self.get_attribute(name)
        return None if attribute is None else attribute.value

    def attribute_values(self, name: str) -> list[str]:
        """The values of every attribute with this name, in order (value-less ones skipped)."""
        return [a.value for a in self.attributes if a.name == name and a.value is not None]

    def add_attribute(self, name: str, value: str | None = None) -> None:
        """Append ``a=name[:value]``."""
        self.attributes.append(Attribute(name, value))

    def set_attribute(self, name: str, value: str | None = None) -> None:
        """Replace every ``a=name`` by one line at the place of the first one, or append it."""
        new = Attribute(name, value)
        for index, attribute in enumerate(self.attributes):
            if attribute.name == name:
                self.attributes[index] = new
                self.attributes[index + 1 :] = [a for a in self.attributes[index + 1 :] if a.name != name]
                return
        self.attributes.append(new)

    def remove_attribute(self, name: str, predicate: Callable[[Attribute], bool] | None = None) -> int:
        """Remove the attributes with this name (and matching ``predicate`` if given); return the count."""
        kept = [a for a in self.attributes if a.name != name or (predicate is not None and not predicate(a))]
        removed = len(self.attributes) - len(kept)
        self.attributes[:] = kept
        return removed

    def _own_direction(self) -> Direction | None:
        for attribute in self.attributes:
            if attribute.name in _DIRECTION_NAMES:
                return Direction(attribute.name)
        return None

    def _set_own_direction(self, direction: Direction | None) -> None:
        for index, attribute in enumerate(self.attributes):
            if attribute.name in _DIRECTION_NAMES:
                rest = [a for a in self.attributes[index + 1 :] if a.name not in _DIRECTION_NAMES]
                if direction is None:
                    self.attributes[index:] = rest
                else:
                    self.attributes[index:] = [Attribute(direction.value), *rest]
                return
        if direction is not None:
            self.attributes.append(Attribute(direction.value))


def _check_unknown_slots(lines: list[UnknownLine], slots: tuple[str, ...], where: str) -> None:
    for line in lines:
        if line.after not in slots:
            raise LocalProtocolError(f"unknown {line.type}= line cannot follow {line.after}= in {where}")


@dataclass(eq=True)
class MediaDescription(_AttributeOwner):
    """One media section: the ``m=`` line and the ``i=``, ``c=``, ``b=``, ``k=`` and ``a=`` lines after it.

    ``formats`` are the payload types / formats of the m= line as strings, in preference order;
    ``port_count`` is the ``/number`` of ``m=audio 49170/2 ...`` (``None`` when absent).
    """

    media: str
    port: int
    protocol: str
    formats: list[str]
    port_count: int | None = None
    information: str | None = None
    connections: list[Connection] = field(default_factory=list)
    bandwidths: list[Bandwidth] = field(default_factory=list)
    encryption_key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    unknown_lines: list[UnknownLine] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Not a dataclass field: keeps the back-reference out of ==, repr() and dataclasses.asdict().
        self._session: SessionDescription | None = None

    # -- identity and state --
    @property
    def session(self) -> SessionDescription | None:
        """The session description this section belongs to (for inherited values), if any."""
        return self._session

    @property
    def mid(self) -> str | None:
        """The ``a=mid`` identification tag (RFC 5888), if any."""
        return self.attribute_value("mid")

    @property
    def is_rtp(self) -> bool:
        """True when the transport protocol is RTP based (``RTP/AVP``, ``UDP/TLS/RTP/SAVPF``...)."""
        return "RTP" in self.protocol.upper().split("/")

    @property
    def bundle_only(self) -> bool:
        """True with ``a=bundle-only`` (RFC 8843): port 0 then does not mean rejected."""
        return self.has_attribute("bundle-only")

    @property
    def rejected(self) -> bool:
        """True when the stream is rejected or disabled: port 0 without ``a=bundle-only``."""
        return self.port == 0 and not self.bundle_only

    @property
    def rtcp_mux(self) -> bool:
        """True with ``a=rtcp-mux`` (RFC 5761)."""
        return self.has_attribute("rtcp-mux")

    def inherited_attribute(self, name: str) -> str | None:
        """The value of ``a=name`` at media level, else at session level (ice-ufrag, fingerprint...)."""
        value = self.attribute_value(name)
        if value is None and self._session is not None:
            value = self._session.attribute_value(name)
        return value

    # -- direction --
    @property
    def media_direction(self) -> Direction | None:
        """The direction attribute written in this section, or ``None``."""
        return self._own_direction()

    @property
    def direction(self) -> Direction:
        """The declared direction: media level, else session level, else ``SENDRECV`` (RFC 8866 §6.7)."""
        own = self._own_direction()
        if own is not None:
            return own
        if self._session is not None:
            inherited = self._session.session_direction
            if inherited is not None:
                return inherited
        return Direction.SENDRECV

    @property
    def uses_ice(self) -> bool:
        """True when ICE credentials are present at media or session level."""
        return self.inherited_attribute("ice-ufrag") is not None

    @property
    def legacy_hold(self) -> bool:
        """True for an RFC 2543 hold: connection address ``0.0.0.0``/``::`` in a section without ICE.

        With ICE the unspecified address is the RFC 8840 placeholder for "no candidate yet", so it does
        not count as hold.
        """
        connection = self.connection
        return connection is not None and connection.is_unspecified and not self.uses_ice

    @property
    def effective_direction(self) -> Direction:
        """:attr:`direction` minus "receive" for an RFC 2543 ``c=0.0.0.0`` hold (nothing can reach it)."""
        declared = self.direction
        if self.legacy_hold:
            return Direction.from_flags(sends=declared.sends, receives=False)
        return declared

    def set_direction(self, direction: Direction) -> None:
        """Write ``direction`` at media level (in place of an existing direction attribute, else appended)."""
        self._set_own_direction(Direction(direction))

    # -- connection --
    @property
    def connection(self) -> Connection | None:
        """The first media-level ``c=``, else the session-level one."""
        if self.connections:
            return self.connections[0]
        return self._session.connection if self._session is not None else None

    # -- codecs --
    @property
    def codecs(self) -> list[Codec]:
        """The RTP payload formats in m= line order, from ``a=rtpmap`` or the RFC 3551 static table.

        Dynamic payload types without an rtpmap are left out. Raises :class:`SdpError` when an rtpmap
        added after parsing is malformed.
        """
        rtpmaps: dict[str, tuple[str, int, int | None]] = {}
        fmtps: dict[str, str] = {}
        for attribute in self.attributes:
            if attribute.name == "rtpmap" and attribute.value is not None:
                payload_type, mapping = _parse_rtpmap(attribute.value)
                rtpmaps.setdefault(payload_type, mapping)
            elif attribute.name == "fmtp" and attribute.value is not None:
                payload_type, parameters = _parse_fmtp(attribute.value)
                fmtps.setdefault(payload_type, parameters)
        result: list[Codec] = []
        for payload_type in self.formats:
            mapping_or_none = rtpmaps.get(payload_type) or STATIC_PAYLOAD_TYPES.get(payload_type)
            if mapping_or_none is None:
                continue
            name, clock_rate, channels = mapping_or_none
            result.append(Codec(payload_type, name, clock_rate, channels, fmtps.get(payload_type)))
        return result

    def codec(self, payload_type: str) -> Codec | None:
        """The codec for this payload type, if listed in the m= line."""
        for codec in self.codecs:
            if codec.payload_type == payload_type:
                return codec
        return None

    # -- ICE --
    @property
    def candidates(self) -> list[Candidate]:
        """The ``a=candidate`` lines of this section, parsed, in order."""
        return [parse_candidate(value) for value in self.attribute_values("candidate")]

    # -- serialisation --
    def copy(self) -> MediaDescription:
        """A deep copy, not attached to any session."""
        return MediaDescription(
            media=self.media,
            port=self.port,
            protocol=self.protocol,
            formats=list(self.formats),
            port_count=self.port_count,
            information=self.information,
            connections=list(self.connections),
            bandwidths=list(self.bandwidths),
            encryption_key=self.encryption_key,
            attributes=list(self.attributes),
            unknown_lines=list(self.unknown_lines),
        )

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_session"] = None  # re-attached by the owning SessionDescription's __setstate__
        return state

    def lines(self) -> list[str]:
        """This section as SDP lines without line endings; raises LocalProtocolError on invalid fields."""
        _require_token("m= media", self.media)
        _require_int("m= port", self.port, 0, _MAX_PORT)
        if self.port_count is not None:
            _require_int("m= port count", self.port_count, 1, _MAX_PORT)
        if not isinstance(self.protocol, str) or _PROTO_RE.fullmatch(self.protocol) is None:
            raise LocalProtocolError(f"SDP m= proto must be token *(/token), got {self.protocol!r}")
        if not self.formats:
            raise LocalProtocolError("SDP m= line needs at least one format")
        for fmt in self.formats:
            _require_token("m= fmt", fmt)
        if self.information is not None:
            _require_text("i= value", self.information)
        if self.encryption_key is not None:
            _require_text("k= value", self.encryption_key)
        _check_unknown_slots(self.unknown_lines, _MEDIA_SLOTS, "a media description")
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        groups: dict[str, list[str]] = {
            "m": [f"m={self.media} {port} {self.protocol} {' '.join(self.formats)}"],
            "i": [f"i={self.information}"] if self.information is not None else [],
            "c": [f"c={c}" for c in self.connections],
            "b": [f"b={b}" for b in self.bandwidths],
            "k": [f"k={self.encryption_key}"] if self.encryption_key is not None else [],
            "a": [f"a={a}" for a in self.attributes],
        }
        return _emit(groups, _MEDIA_SLOTS, self.unknown_lines)

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())


def _emit(groups: dict[str, list[str]], slots: tuple[str, ...], unknown: list[UnknownLine]) -> list[str]:
    out: list[str] = []
    for slot in slots:
        out.extend(groups[slot])
        out.extend(f"{line.type}={line.value}" for line in unknown if line.after == slot)
    return out


class MediaList(list[MediaDescription]):
    """The media sections of a session: a list that attaches each member to the session it is in.

    Constructed like a list (``MediaList(items, owner=session)``); without an owner it is a plain list
    (that is what ``dataclasses.asdict`` and unpickling build before the session takes it over).
    """

    _owner: SessionDescription | None = None

    def __init__(
        self, items: Iterable[MediaDescription] = (), /, *, owner: SessionDescription | None = None
    ) -> None:
        super().__init__()
        self._owner = owner
        self.extend(items)

    def _attach(self, media: MediaDescription) -> MediaDescription:
        if self._owner is None:
            return media
        if not isinstance(media, MediaDescription):
            raise LocalProtocolError(f"media sections are MediaDescription, got {type(media).__name__}")
        media._session = self._owner
        return media

    def append(self, media: MediaDescription, /) -> None:
        """Append a media section and attach it to this session."""
        super().append(self._attach(media))

    def insert(self, index: SupportsIndex, media: MediaDescription, /) -> None:
        """Insert a media section and attach it to this session."""
        super().insert(index, self._attach(media))

    def extend(self, items: Iterable[MediaDescription], /) -> None:
        """Append media sections and attach them to this session."""
        super().extend([self._attach(media) for media in items])

    def __reduce__(self) -> tuple[Any, ...]:
        return (MediaList, (list(self),))

    def __iadd__(self, items: Iterable[MediaDescription], /) -> MediaList:  # type: ignore[override, misc]
        self.extend(items)
        return self

    @overload
    def __setitem__(self, index: SupportsIndex, value: MediaDescription, /) -> None: ...
    @overload
    def __setitem__(self, index: slice, value: Iterable[MediaDescription], /) -> None: ...
    def __setitem__(self, index: SupportsIndex | slice, value: Any, /) -> None:
        if isinstance(index, slice):
            super().__setitem__(index, [self._attach(media) for media in value])
        else:
            super().__setitem__(index, self._attach(value))


@dataclass(eq=True)
class SessionDescription(_AttributeOwner):
    """A whole SDP body. ``str(sdp)`` serialises it with CRLF line endings; :func:`parse_sdp` reads it.

    ``session_name`` is ``s=`` (an empty name is written ``s= `` as RFC 8866 asks); ``timings`` holds the
    ``t=``/``r=`` lines (at least one is written: ``t=0 0`` by default); ``media`` is a :class:`MediaList`.
    """

    origin: Origin = field(default_factory=Origin)
    session_name: str = "-"
    information: str | None = None
    uri: str | None = None
    emails: list[str] = field(default_factory=list)
    phones: list[str] = field(default_factory=list)
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = field(default_factory=list)
    timings: list[Timing] = field(default_factory=lambda: [Timing()])
    time_zones: str | None = None
    encryption_key: str | None = None
    attributes: list[Attribute] = field(default_factory=list)
    media: list[MediaDescription] = field(default_factory=list)
    unknown_lines: list[UnknownLine] = field(default_factory=list)

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "media" and not (isinstance(value, MediaList) and value._owner is self):
            value = MediaList(value, owner=self)
        object.__setattr__(self, name, value)

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)

    # -- direction --
    @property
    def session_direction(self) -> Direction | None:
        """The session-level direction attribute, or ``None``."""
        return self._own_direction()

    def set_direction(self, direction: Direction, *, include_rejected: bool = False) -> None:
        """Write ``direction`` on every RTP media section and drop the session-level direction attribute."""
        direction = Direction(direction)
        self._set_own_direction(None)
        for media in self.media:
            if media.is_rtp and (include_rejected or not media.rejected):
                media.set_direction(direction)

    # -- versioning --
    def bump_version(self) -> None:
        """Increment the ``o=`` sess-version by one (RFC 3264 §8: every changed offer bumps it)."""
        self.origin = replace(self.origin, session_version=self.origin.session_version + 1)

    # -- grouping --
    def bundle_groups(self) -> list[list[str]]:
        """The identification tags of each ``a=group:BUNDLE`` line (RFC 8843), in order."""
        groups: list[list[str]] = []
        for value in self.attribute_values("group"):
            parts = value.split()
            if parts and parts[0].upper() == "BUNDLE":
                groups.append(parts[1:])
        return groups

    def media_by_mid(self, mid: str) -> MediaDescription | None:
        """The media section with ``a=mid:<mid>``, if any."""
        for media in self.media:
            if media.mid == mid:
                return media
        return None

    # -- serialisation --
    def copy(self) -> SessionDescription:
        """A deep copy (media sections copied and attached to the copy)."""
        return SessionDescription(
            origin=self.origin,
            session_name=self.session_name,
            information=self.information,
            uri=self.uri,
            emails=list(self.emails),
            phones=list(self.phones),
            connection=self.connection,
            bandwidths=list(self.bandwidths),
            timings=list(self.timings),
            time_zones=self.time_zones,
            encryption_key=self.encryption_key,
            attributes=list(self.attributes),
            media=[media.copy() for media in self.media],
            unknown_lines=list(self.unknown_lines),
        )

    def lines(self) -> list[str]:
        """The SDP as lines without line endings; raises LocalProtocolError on invalid fields."""
        _require_text("s= value", self.session_name)
        for what, value in (
            ("i= value", self.information),
            ("u= value", self.uri),
            ("z= value", self.time_zones),
            ("k= value", self.encryption_key),
        ):
            if value is not None:
                _require_text(what, value)
        for value in (*self.emails, *self.phones):
            _require_text("e=/p= value", value)
        _check_unknown_slots(self.unknown_lines, _SESSION_SLOTS, "the session description")
        timings = self.timings or [Timing()]
        time_lines: list[str] = []
        for timing in timings:
            time_lines.append(f"t={timing.start} {timing.stop}")
            time_lines.extend(f"r={repeat}" for repeat in timing.repeats)
        groups: dict[str, list[str]] = {
            "v": ["v=0"],
            "o": [f"o={self.origin}"],
            "s": [f"s={self.session_name or ' '}"],
            "i": [f"i={self.information}"] if self.information is not None else [],
            "u": [f"u={self.uri}"] if self.uri is not None else [],
            "e": [f"e={email}" for email in self.emails],
            "p": [f"p={phone}" for phone in self.phones],
            "c": [f"c={self.connection}"] if self.connection is not None else [],
            "b": [f"b={b}" for b in self.bandwidths],
            "t": time_lines,
            "z": [f"z={self.time_zones}"] if self.time_zones is not None else [],
            "k": [f"k={self.encryption_key}"] if self.encryption_key is not None else [],
            "a": [f"a={a}" for a in self.attributes],
        }
        out = _emit(groups, _SESSION_SLOTS, self.unknown_lines)
        for media in self.media:
            out.extend(media.lines())
        return out

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def to_bytes(self) -> bytes:
        """The SDP body as UTF-8 bytes with CRLF line endings."""
        return str(self).encode("utf-8")

    __bytes__ = to_bytes


# --- parsing ----------------------------------------------------------------------------------------------
def _parse_rtpmap(value: str) -> tuple[str, tuple[str, int, int | None]]:
    match = _RTPMAP_RE.fullmatch(value)
    if match is None:
        raise SdpError(f"a=rtpmap must be '<pt> <encoding>/<clock rate>[/<channels>]', got {value!r}")
    payload_type, name, clock_rate, channels = match.groups()
    if not _is_token(payload_type):
        raise SdpError(f"a=rtpmap payload type is not a token: {payload_type!r}")
    rate = int(clock_rate)
    if rate <= 0:
        raise SdpError(f"a=rtpmap clock rate must be positive: {value!r}")
    channel_count = int(channels) if channels is not None else None
    if channel_count is not None and channel_count <= 0:
        raise SdpError(f"a=rtpmap channel count must be positive: {value!r}")
    return payload_type, (name, rate, channel_count)


def _parse_fmtp(value: str) -> tuple[str, str]:
    match = _FMTP_RE.fullmatch(value)
    if match is None or not _is_token(match.group(1)):
        raise SdpError(f"a=fmtp must be '<format> <parameters>', got {value!r}")
    return match.group(1), match.group(2) or ""


def _check_attribute(attribute: Attribute) -> None:
    """Validate the attributes this module interprets, so that their typed views cannot fail later."""
    name, value = attribute.name, attribute.value
    if name in _DIRECTION_NAMES:
        if value is not None:
            raise SdpError(f"a={name} takes no value, got {value!r}")
        return
    needs_value = (
        "rtpmap",
        "fmtp",
        "candidate",
        "rtcp",
        "ice-ufrag",
        "ice-pwd",
        "mid",
        "group",
        "fingerprint",
        "setup",
    )
    if name not in needs_value:
        return
    if not value:
        raise SdpError(f"a={name} needs a value")
    if name == "rtpmap":
        _parse_rtpmap(value)
    elif name == "fmtp":
        _parse_fmtp(value)
    elif name == "candidate":
        parse_candidate(value)
    elif name == "rtcp":
        match = _RTCP_RE.fullmatch(value)
        if match is None or int(match.group(1)) > _MAX_PORT:
            raise SdpError(f"a=rtcp must be '<port> [<nettype> <addrtype> <address>]', got {value!r}")
    elif name in ("ice-ufrag", "ice-pwd"):
        if _ICE_CHARS_RE.fullmatch(value) is None:
            raise SdpError(f"a={name} must be 1-256 ice-chars (ALPHA / DIGIT / + / /), got {value!r}")
    elif name == "mid":
        if not _is_token(value):
            raise SdpError(f"a=mid must be a token, got {value!r}")
    elif name == "group":
        parts = value.split()
        if not parts or not all(_is_token(part) for part in parts):
            raise SdpError(f"a=group must be '<semantics> *(SP <mid>)', got {value!r}")
    elif name == "fingerprint":
        parts = value.split()
        if len(parts) != 2 or not _is_token(parts[0]):
            raise SdpError(f"a=fingerprint must be '<hash-func> <fingerprint>', got {value!r}")
    elif name == "setup" and value.lower() not in ("actpass", "active", "passive", "holdconn"):
        raise SdpError(f"a=setup must be actpass, active, passive or holdconn, got {value!r}")


class _Line:
    __slots__ = ("number", "text", "type", "value")

    def __init__(self, number: int, text: str) -> None:
        self.number = number
        self.text = text
        self.type = text[0]
        self.value = text[2:]

    def error(self, what: str) -> SdpError:
        shown = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return SdpError(f"SDP line {self.number} ({shown!r}): {what}")


def _split_lines(text: str) -> list[_Line]:
    raw_lines = text.split("\n")
    while raw_lines and not raw_lines[-1].strip(" \t\r"):
        raw_lines.pop()
    if not raw_lines:
        raise SdpError("SDP is empty")
    lines: list[_Line] = []
    for number, raw in enumerate(raw_lines, start=1):
        stripped = raw.rstrip(" \t\r")
        if not stripped:
            raise SdpError(f"SDP line {number} is empty")
        if _FORBIDDEN_TEXT_RE.search(stripped):
            raise SdpError(f"SDP line {number} contains a bare CR, a NUL or a lone surrogate")
        if len(stripped) < 2 or stripped[1] != "=" or not ("a" <= stripped[0] <= "z"):
            shown = stripped if len(stripped) <= 80 else stripped[:77] + "..."
            raise SdpError(f"SDP line {number} is not '<type>=<value>' with a lower-case letter: {shown!r}")
        lines.append(_Line(number, stripped))
    return lines


def _parse_origin(line: _Line) -> Origin:
    fields = line.value.split()
    if len(fields) != 6:
        raise line.error("o= needs 6 fields: username sess-id sess-version nettype addrtype address")
    username, session_id, version, network_type, address_type, address = fields
    if _DIGITS_RE.fullmatch(version) is None or len(version) > 40:
        raise line.error(f"o= sess-version must be a number (at most 40 digits), got {version!r}")
    if not _is_token(network_type) or not _is_token(address_type):
        raise line.error("o= nettype and addrtype must be tokens")
    return Origin(username, session_id, int(version), network_type, address_type, address)


def _parse_connection(line: _Line) -> Connection:
    fields = line.value.split()
    if len(fields) != 3:
        raise line.error("c= needs 3 fields: nettype addrtype connection-address")
    network_type, address_type, address = fields
    if not _is_token(network_type) or not _is_token(address_type):
        raise line.error("c= nettype and addrtype must be tokens")
    return Connection(network_type, address_type, address)


def _parse_bandwidth(line: _Line) -> Bandwidth:
    match = _BANDWIDTH_RE.fullmatch(line.value.strip())
    if match is None:
        raise line.error("b= must be '<bwtype>:<bandwidth>'")
    return Bandwidth(match.group(1), int(match.group(2)))


def _parse_timing(line: _Line) -> Timing:
    fields = line.value.split()
    if len(fields) != 2 or not all(_DIGITS_RE.fullmatch(f) and len(f) <= 20 for f in fields):
        raise line.error("t= must be '<start-time> <stop-time>' (numbers)")
    return Timing(int(fields[0]), int(fields[1]))


def _parse_attribute(line: _Line) -> Attribute:
    name, colon, value = line.value.partition(":")
    if not _is_token(name):
        raise line.error("attribute name must be a token")
    attribute = Attribute(name, value if colon else None)
    try:
        _check_attribute(attribute)
    except SdpError as exc:
        raise line.error(exc.message) from None
    return attribute


def _parse_media_line(line: _Line) -> MediaDescription:
    fields = line.value.split()
    if len(fields) < 4:
        raise line.error("m= needs '<media> <port>[/<number>] <proto> <fmt> ...'")
    media, port_text, protocol, *formats = fields
    if not _is_token(media):
        raise line.error("m= media must be a token")
    port_match = _PORT_RE.fullmatch(port_text)
    if port_match is None:
        raise line.error(f"m= port must be a number (optionally /count), got {port_text!r}")
    port = int(port_match.group(1))
    if port > _MAX_PORT:
        raise line.error(f"m= port {port} is out of range 0..65535")
    port_count = int(port_match.group(2)) if port_match.group(2) is not None else None
    if port_count is not None and not 1 <= port_count <= _MAX_PORT:
        raise line.error(f"m= port count {port_count} is out of range")
    if _PROTO_RE.fullmatch(protocol) is None:
        raise line.error(f"m= proto must be token *(/token), got {protocol!r}")
    for fmt in formats:
        if not _is_token(fmt):
            raise line.error(f"m= fmt must be a token, got {fmt!r}")
    return MediaDescription(media, port, protocol, formats, port_count)


class _SectionOrder:
    """Checks RFC 8866 §5 line order within one section and tracks the slot for unknown lines."""

    def __init__(
        self, ranks: dict[str, int], repeatable: frozenset[str], start: str, strict: bool, where: str
    ) -> None:
        self.ranks = ranks
        self.repeatable = repeatable
        self.strict = strict
        self.where = where
        self.rank = ranks.get(start, 0)
        self.seen: set[str] = set()
        self.slot = start

    def accept(self, line: _Line) -> None:
        kind = line.type
        rank = self.ranks.get(kind)
        if rank is None:
            raise line.error(f"{kind}= line is not allowed in {self.where}")
        if kind in self.seen and kind not in self.repeatable:
            raise line.error(f"only one {kind}= line is allowed in {self.where}")
        if self.strict and rank < self.rank:
            raise line.error(f"{kind}= line is out of order in {self.where} (RFC 8866 §5 order)")
        self.rank = max(self.rank, rank)
        self.seen.add(kind)
        self.slot = "t" if kind == "r" else kind


def parse_sdp(text: str | bytes, *, strict_order: bool = True) -> SessionDescription:
    """Parse an SDP body (RFC 8866) into a :class:`SessionDescription`.

    Accepts ``str`` or UTF-8 ``bytes``, CRLF or LF line endings, trailing whitespace and trailing empty
    lines. Raises :class:`SdpError` (a ``ParseError``) on anything malformed: non-UTF-8 bytes, a line
    that is not ``<letter>=<value>``, missing or misplaced ``v=0``/``o=``/``s=``/``t=``, lines out of
    RFC 8866 order (unless ``strict_order=False``), a bad ``o=``/``c=``/``b=``/``t=``/``m=`` line, a
    malformed rtpmap/fmtp/candidate/rtcp/ice/mid/group/fingerprint/setup/direction attribute, or an
    active stream without connection data.
    """
    if isinstance(text, bytes | bytearray | memoryview):
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SdpError(f"SDP is not valid UTF-8 (byte {exc.start})") from None
    elif not isinstance(text, str):
        raise LocalProtocolError(f"parse_sdp() needs str or bytes, got {type(text).__name__}")
    lines = _split_lines(text)

    first = lines[0]
    if first.type != "v":
        raise first.error("SDP must start with v=0")
    if first.value.strip() != "0":
        raise first.error("only SDP version 0 exists")

    origin: Origin | None = None
    session_name: str | None = None
    information: str | None = None
    uri: str | None = None
    emails: list[str] = []
    phones: list[str] = []
    connection: Connection | None = None
    bandwidths: list[Bandwidth] = []
    timings: list[Timing] = []
    time_zones: str | None = None
    encryption_key: str | None = None
    attributes: list[Attribute] = []
    unknown: list[UnknownLine] = []
    media_list: list[MediaDescription] = []

    order = _SectionOrder(_SESSION_RANK, _SESSION_REPEATABLE, "v", strict_order, "the session description")
    order.seen.add("v")
    index = 1
    while index < len(lines) and lines[index].type != "m":
        line = lines[index]
        index += 1
        kind = line.type
        if kind not in _KNOWN_TYPES:
            unknown.append(UnknownLine(kind, line.value, order.slot))
            continue
        if kind == "v":
            raise line.error("v= may appear only once, as the first line")
        if strict_order:
            if kind != "o" and origin is None:
                raise line.error("o= must be the second line")
            if kind not in ("o", "s") and session_name is None:
                raise line.error("s= must be the third line")
        previous_slot = order.slot
        order.accept(line)
        if kind == "o":
            origin = _parse_origin(line)
        elif kind == "s":
            session_name = line.value
        elif kind == "i":
            information = line.value
        elif kind == "u":
            uri = line.value
        elif kind == "e":
            emails.append(line.value)
        elif kind == "p":
            phones.append(line.value)
        elif kind == "c":
            connection = _parse_connection(line)
        elif kind == "b":
            bandwidths.append(_parse_bandwidth(line))
        elif kind == "t":
            timings.append(_parse_timing(line))
        elif kind == "r":
            if not timings or (strict_order and previous_slot != "t"):
                raise line.error("r= must follow a t= line")
            if not line.value:
                raise line.error("r= needs a value")
            timings[-1] = replace(timings[-1], repeats=(*timings[-1].repeats, line.value))
        elif kind == "z":
            time_zones = line.value
        elif kind == "k":
            encryption_key = line.value
        else:  # "a"
            attributes.append(_parse_attribute(line))

    where = lines[index] if index < len(lines) else lines[-1]
    if origin is None:
        raise where.error("the session description has no o= line")
    if session_name is None:
        raise where.error("the session description has no s= line")
    if not timings:
        raise where.error("the session description has no t= line")
    _check_single_direction(attributes, where, "the session description")

    while index < len(lines):
        media_line = lines[index]
        index += 1
        media = _parse_media_line(media_line)
        media_order = _SectionOrder(
            _MEDIA_RANK, _MEDIA_REPEATABLE, "m", strict_order, f"media description {len(media_list)}"
        )
        while index < len(lines) and lines[index].type != "m":
            line = lines[index]
            index += 1
            kind = line.type
            if kind not in _KNOWN_TYPES:
                media.unknown_lines.append(UnknownLine(kind, line.value, media_order.slot))
                continue
            media_order.accept(line)
            if kind == "i":
                media.information = line.value
            elif kind == "c":
                media.connections.append(_parse_connection(line))
            elif kind == "b":
                media.bandwidths.append(_parse_bandwidth(line))
            elif kind == "k":
                media.encryption_key = line.value
            else:  # "a"
                media.attributes.append(_parse_attribute(line))
        _check_single_direction(media.attributes, media_line, f"media description {len(media_list)}")
        if media.port != 0 and not media.connections and connection is None:
            raise media_line.error("this stream has no c= line and the session has none (RFC 8866 §5.7)")
        media_list.append(media)

    return SessionDescription(
        origin=origin,
        session_name=session_name,
        information=information,
        uri=uri,
        emails=emails,
        phones=phones,
        connection=connection,
        bandwidths=bandwidths,
        timings=timings,
        time_zones=time_zones,
        encryption_key=encryption_key,
        attributes=attributes,
        media=media_list,
        unknown_lines=unknown,
    )


def _check_single_direction(attributes: list[Attribute], line: _Line, where: str) -> None:
    directions = [a.name for a in attributes if a.name in _DIRECTION_NAMES]
    if len(directions) > 1:
        raise line.error(f"{where} has several direction attributes: {', '.join(directions)}")


# --- codec and DTMF helpers -------------------------------------------------------------------------------
def active_media(sdp: SessionDescription, kind: str | None = "audio") -> list[MediaDescription]:
    """The media sections that are not rejected, of the given media type (``None``: any type)."""
    return [m for m in sdp.media if not m.rejected and (kind is None or m.media == kind)]


def audio_codecs(sdp: SessionDescription) -> list[Codec]:
    """The codecs of the first active audio section, in preference order ([] without one)."""
    audio = active_media(sdp, "audio")
    return audio[0].codecs if audio else []


def telephone_events(media: MediaDescription) -> list[Codec]:
    """Every RFC 4733 telephone-event format of this section (Chromium offers /48000 and /8000)."""
    return [codec for codec in media.codecs if codec.is_telephone_event]


def telephone_event(media: MediaDescription, clock_rate: int | None = None) -> Codec | None:
    """The first telephone-event format of this section (with this clock rate if given), or ``None``.

    To send DTMF over RTP, pick the one whose clock rate matches the audio codec in use.
    """
    for codec in telephone_events(media):
        if clock_rate is None or codec.clock_rate == clock_rate:
            return codec
    return None


def has_telephone_event(sdp: SessionDescription) -> bool:
    """True when some active audio section lists telephone-event (so DTMF can go over RTP).

    Ask it of the *answer* (the remote description after our offer, or our answer): what an answer
    lists is what was negotiated.
    """
    return any(telephone_event(media) is not None for media in active_media(sdp, "audio"))


def _is_format_attribute(attribute: Attribute, payload_type: str) -> bool:
    if attribute.name not in ("rtpmap", "fmtp", "rtcp-fb") or attribute.value is None:
        return False
    return attribute.value.split(" ", 1)[0] == payload_type


def remove_codec(media: MediaDescription, payload_type: str) -> bool:
    """Remove a format from the m= line with its rtpmap, fmtp and rtcp-fb lines; False if not listed.

    Raises :class:`LocalProtocolError` when it is the only format (an m= line needs one).
    """
    if payload_type not in media.formats:
        return False
    if len(media.formats) == 1:
        raise LocalProtocolError(f"cannot remove {payload_type}: it is the only format of the m= line")
    media.formats[:] = [fmt for fmt in media.formats if fmt != payload_type]
    media.attributes[:] = [a for a in media.attributes if not _is_format_attribute(a, payload_type)]
    return True


def remove_telephone_event(media: MediaDescription) -> int:
    """Remove every telephone-event format from this section; return how many were removed."""
    removed = 0
    for codec in telephone_events(media):
        removed += remove_codec(media, codec.payload_type)
    return removed


def add_telephone_event(
    media: MediaDescription, *, clock_rate: int = 8000, payload_type: str | None = None, events: str = "0-16"
) -> Codec:
    """Add RFC 4733 telephone-event at ``clock_rate`` (idempotent: an existing one is returned as is).

    The payload type defaults to the first free one of 101, 96-127. The rtpmap and fmtp lines are put
    after the last rtpmap/fmtp/rtcp-fb line. Raises :class:`LocalProtocolError` when ``payload_type``
    is taken or malformed, or ``events`` is not an event list.
    """
    _require_int("telephone-event clock rate", clock_rate, 1)
    existing = telephone_event(media, clock_rate)
    if existing is not None:
        return existing
    used = set(media.formats)
    for attribute in media.attributes:
        if attribute.name == "rtpmap" and attribute.value:
            used.add(attribute.value.split(" ", 1)[0])
    if payload_type is None:
        free = [pt for pt in ("101", *_DYNAMIC_PAYLOAD_TYPES) if pt not in used]
        if not free:
            raise LocalProtocolError("no free dynamic payload type for telephone-event")
        payload_type = free[0]
    elif _DIGITS_RE.fullmatch(payload_type) is None or int(payload_type) > 127:
        raise LocalProtocolError(f"payload type must be a number 0..127, got {payload_type!r}")
    elif payload_type in used:
        raise LocalProtocolError(f"payload type {payload_type} is already used in this m= line")
    codec = Codec(payload_type, "telephone-event", clock_rate, None, events)
    try:
        codec.event_codes()
    except SdpError as exc:
        raise LocalProtocolError(exc.message) from None
    insert_at = len(media.attributes)
    for index, attribute in enumerate(media.attributes):
        if attribute.name in ("rtpmap", "fmtp", "rtcp-fb"):
            insert_at = index + 1
    media.attributes[insert_at:insert_at] = [
        Attribute("rtpmap", f"{payload_type} {codec.rtpmap}"),
        Attribute("fmtp", f"{payload_type} {events}"),
    ]
    media.formats.append(payload_type)
    return codec


# --- hold and direction helpers ---------------------------------------------------------------------------
def is_on_hold(sdp: SessionDescription) -> bool:
    """True when the writer of ``sdp`` does not want to receive on any active RTP stream.

    Use it on a *remote* offer: sendonly/inactive (or an RFC 2543 ``c=0.0.0.0`` without ICE) on every
    active stream means the peer put us on hold. False when there is no active RTP stream.
    """
    streams = [m for m in sdp.media if m.is_rtp and not m.rejected]
    return bool(streams) and all(not m.effective_direction.receives for m in streams)


def make_hold_offer(
    previous_local: SessionDescription, direction: Direction = Direction.SENDONLY
) -> SessionDescription:
    """A re-INVITE offer that holds the call, built from our previous local SDP (RFC 3264 §8.4).

    Each active RTP stream loses "receive": sendrecv becomes ``direction`` (sendonly by default, or
    inactive), recvonly becomes inactive. Connection data, ports, ICE credentials and candidates,
    fingerprints and codecs are kept; ``c=0.0.0.0`` is never written; ``o=`` sess-version is bumped.
    Raises :class:`LocalProtocolError` unless ``direction`` is SENDONLY or INACTIVE, or when the
    previous SDP itself has an RFC 2543 ``c=0.0.0.0`` (no real address to keep).
    """
    direction = Direction(direction)
    if direction not in (Direction.SENDONLY, Direction.INACTIVE):
        raise LocalProtocolError(f"a hold offer is sendonly or inactive, not {direction.value}")
    _refuse_legacy_hold_address(previous_local)
    offer = previous_local.copy()
    for media in offer.media:
        if media.is_rtp and not media.rejected:
            media.set_direction(
                Direction.from_flags(sends=media.direction.sends and direction.sends, receives=False)
            )
    offer.bump_version()
    return offer


def make_resume_offer(
    previous_local: SessionDescription, direction: Direction = Direction.SENDRECV
) -> SessionDescription:
    """A re-INVITE offer that takes the call off hold: every active RTP stream gets ``direction``.

    Everything else is kept as in :func:`make_hold_offer`; ``o=`` sess-version is bumped.
    """
    direction = Direction(direction)
    _refuse_legacy_hold_address(previous_local)
    offer = previous_local.copy()
    for media in offer.media:
        if media.is_rtp and not media.rejected:
            media.set_direction(direction)
    offer.bump_version()
    return offer


def _refuse_legacy_hold_address(sdp: SessionDescription) -> None:
    for index, media in enumerate(sdp.media):
        if media.is_rtp and not media.rejected and media.legacy_hold:
            raise LocalProtocolError(
                f"m= line {index} has connection address 0.0.0.0 without ICE: the "
                "previous local SDP has no real address to keep (RFC 3264 §8.4)"
            )


def apply_answer_directions(
    offer: SessionDescription, answer: SessionDescription, local: Direction = Direction.SENDRECV
) -> SessionDescription:
    """A copy of ``answer`` whose RTP streams carry :func:`answer_direction` of the offer's and ``local``.

    For an answer produced by a media stack that ignores §6.1 (answering sendrecv to a sendonly hold).
    Raises :class:`LocalProtocolError` when the m= line counts differ.
    """
    if len(offer.media) != len(answer.media):
        raise LocalProtocolError(f"offer has {len(offer.media)} m= lines, answer {len(answer.media)}")
    local = Direction(local)
    result = answer.copy()
    for offered, answered in zip(offer.media, result.media, strict=True):
        if answered.is_rtp and not answered.rejected:
            answered.set_direction(answer_direction(offered.direction, local))
    return result


# --- ICE helpers ------------------------------------------------------------------------------------------
def ice_credentials(media: MediaDescription) -> tuple[str, str] | None:
    """``(ice-ufrag, ice-pwd)`` of this section (each inherited from the session level), or ``None``."""
    ufrag = media.inherited_attribute("ice-ufrag")
    pwd = media.inherited_attribute("ice-pwd")
    if ufrag is None or pwd is None:
        return None
    return ufrag, pwd


def ice_candidates(sdp: SessionDescription) -> list[tuple[int, str | None, Candidate]]:
    """Every candidate as ``(m= line index, mid, candidate)``: the sdpMLineIndex/sdpMid of RTCIceCandidate."""
    return [
        (index, media.mid, candidate)
        for index, media in enumerate(sdp.media)
        for candidate in media.candidates
    ]


def is_ice_restart(old: SessionDescription, new: SessionDescription) -> bool:
    """True when ``new`` restarts ICE relative to ``old`` (RFC 8839 §4.4.1.1.1).

    That is when a stream present and active in both has ICE credentials in both and the ufrag or the
    password changed. A stream that gained or lost ICE, or new m= lines, do not count.
    """
    for old_media, new_media in zip(old.media, new.media, strict=False):
        if old_media.rejected or new_media.rejected:
            continue
        before, after = ice_credentials(old_media), ice_credentials(new_media)
        if before is not None and after is not None and before != after:
            return True
    return False


def filter_candidates(
    sdp: SessionDescription, predicate: Callable[[Candidate], bool], *, update_default: bool = True
) -> SessionDescription:
    """A copy of ``sdp`` keeping only the ``a=candidate`` lines for which ``predicate`` is true.

    With ``update_default`` (the default), a stream whose default address (``c=`` and m= port) was a
    removed candidate gets the highest-priority kept RTP candidate (component 1) as its new default, so
    that c=/m= stay consistent with the candidates (RFC 8839 §5.1).
    """
    result = sdp.copy()
    for media in result.media:
        if not media.has_attribute("candidate"):
            continue
        kept_attributes: list[Attribute] = []
        for attribute in media.attributes:
            is_candidate = attribute.name == "candidate" and attribute.value is not None
            if is_candidate and not predicate(parse_candidate(attribute.value or "")):
                continue
            kept_attributes.append(attribute)
        media.attributes[:] = kept_attributes
        if update_default and media.port != 0:
            _update_default_candidate(media)
    return result


def _update_default_candidate(media: MediaDescription) -> None:
    rtp_candidates = [c for c in media.candidates if c.component == 1]
    if not rtp_candidates:
        return
    connection = media.connection
    host = connection.host if connection is not None else None
    if any(c.address == host and c.port == media.port for c in rtp_candidates):
        return
    if connection is not None and connection.is_unspecified and media.port == 9:
        return  # RFC 8840 placeholder: the default was never a candidate
    best = max(rtp_candidates, key=lambda c: c.priority)
    new_connection = Connection.for_address(best.address)
    if media.connections:
        media.connections[0] = replace(
            media.connections[0], address_type=new_connection.address_type, address=best.address
        )
    else:
        media.connections.append(new_connection)
    media.port = best.port


# --- answer validation ------------------------------------------------------------------------------------
def _setup_problem(offered: str | None, answered: str | None) -> str | None:
    if offered is None or answered is None:
        return None
    offered, answered = offered.lower(), answered.lower()
    if answered == "actpass":
        return "a=setup:actpass is not allowed in an answer (RFC 5763 §5)"
    allowed = {
        "actpass": ("active", "passive"),
        "active": ("passive",),
        "passive": ("active",),
        "holdconn": ("holdconn",),
    }.get(offered, ())
    if answered not in allowed:
        return f"a=setup:{answered} does not fit an offer of a=setup:{offered} (RFC 4145 §4.1)"
    return None


def _formats_in_common(offered: MediaDescription, answered: MediaDescription) -> bool:
    if not offered.is_rtp:
        return bool(set(offered.formats) & set(answered.formats))
    offered_codecs = offered.codecs
    for codec in answered.codecs:
        if any(codec.same_format(other) for other in offered_codecs):
            return True
    known = {codec.payload_type for codec in answered.codecs}
    # formats without an rtpmap and outside the static table can only be compared by number
    unknown_answered = [fmt for fmt in answered.formats if fmt not in known]
    return bool(set(unknown_answered) & set(offered.formats))


def validate_answer(offer: SessionDescription, answer: SessionDescription) -> list[str]:
    """Check an answer against its offer (RFC 3264 §6, §6.1; RFC 8843; RFC 5763). Returns the problems.

    Checks: same number of m= lines; same media type per line; t= equal; a stream offered with port 0
    is rejected; accepted streams keep the transport protocol, use a direction §6.1 allows for the
    offered one (sendrecv to a sendonly hold is a violation), share at least one format with the offer
    and keep the offer's a=mid; a=setup fits the offer; BUNDLE groups only name offered mids.
    An empty list means the answer is acceptable.
    """
    problems: list[str] = []
    if len(offer.media) != len(answer.media):
        problems.append(
            f"the answer has {len(answer.media)} m= lines, the offer {len(offer.media)} "
            "(RFC 3264 §6: exactly the same number, in the same order)"
        )
    offered_times = [(t.start, t.stop) for t in offer.timings]
    answered_times = [(t.start, t.stop) for t in answer.timings]
    if offered_times != answered_times:
        problems.append(
            f"the answer's t= {answered_times} differs from the offer's {offered_times} (RFC 3264 §6)"
        )
    for index, (offered, answered) in enumerate(zip(offer.media, answer.media, strict=False)):
        label = f"m= line {index} ({offered.media})"
        if answered.media != offered.media:
            problems.append(
                f"{label}: the answer has media type {answered.media!r} (RFC 3264 §6.1: must match)"
            )
            continue
        if offered.rejected:
            if answered.port != 0:
                problems.append(
                    f"{label}: offered with port 0 but answered with port {answered.port} "
                    "(a disabled stream must stay rejected)"
                )
            continue
        if answered.rejected:
            continue
        if answered.protocol.upper() != offered.protocol.upper():
            problems.append(f"{label}: the answer uses {answered.protocol}, the offer {offered.protocol}")
        if offered.is_rtp:
            offered_direction, answered_direction = offered.direction, answered.direction
            if not is_allowed_answer_direction(offered_direction, answered_direction):
                allowed = sorted({answer_direction(offered_direction, local).value for local in Direction})
                problems.append(
                    f"{label}: answer direction {answered_direction.value} is not allowed for an "
                    f"offer of {offered_direction.value} (RFC 3264 §6.1 allows "
                    f"{' or '.join(allowed)})"
                )
        if not _formats_in_common(offered, answered):
            problems.append(
                f"{label}: the answer has no format in common with the offer "
                f"(offer {' '.join(offered.formats)}, answer {' '.join(answered.formats)})"
            )
        if offered.mid is not None and answered.mid is not None and offered.mid != answered.mid:
            problems.append(
                f"{label}: the answer's a=mid:{answered.mid} differs from the offer's a=mid:{offered.mid}"
            )
        setup_problem = _setup_problem(
            offered.inherited_attribute("setup"), answered.inherited_attribute("setup")
        )
        if setup_problem is not None:
            problems.append(f"{label}: {setup_problem}")
    offered_bundle = {mid for group in offer.bundle_groups() for mid in group}
    for group in answer.bundle_groups():
        for mid in group:
            if mid not in offered_bundle:
                problems.append(
                    f"the answer's BUNDLE group names mid {mid!r}, which the offer did not "
                    "bundle (RFC 8843 §7.3)"
                )
    return problems
