"""The SDP grammar this package shares: :class:`SdpError`, token and text rules, line order tables,
directions and ``a=`` attributes (RFC 8866 §5, §6, §9; RFC 8839 §5.1).

Everything here is pure data and validation; the typed model is :mod:`.model`, reading is :mod:`.parser`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError


class SdpError(ParseError):
    """An SDP body does not follow RFC 8866 (or the grammar of an attribute this module interprets)."""


# --- grammar (RFC 8866 §9, RFC 8839 §5.1) --------------------------------------------------------------
TOKEN_CHARS = r"!#$%&'*+\-.0-9A-Z^_`a-z{|}~"
TOKEN = rf"[{TOKEN_CHARS}]+"
TOKEN_RE = re.compile(TOKEN)
PROTO_RE = re.compile(rf"{TOKEN}(?:/{TOKEN})*")
DIGITS_RE = re.compile(r"[0-9]+")
PORT_RE = re.compile(r"([0-9]{1,5})(?:/([0-9]{1,5}))?")
BANDWIDTH_RE = re.compile(rf"({TOKEN}):([0-9]{{1,18}})")
RTPMAP_RE = re.compile(r"([^\s/]+) +([^\s/]+)/([0-9]{1,10})(?:/([0-9]{1,3}))?")
FMTP_RE = re.compile(r"([^\s]+)(?: +(.*))?")
RTCP_RE = re.compile(rf"([0-9]{{1,5}})(?: +({TOKEN}) +({TOKEN}) +([^\s]+))?")
ICE_CHARS_RE = re.compile(r"[A-Za-z0-9+/]{1,256}")
FOUNDATION_RE = re.compile(r"[A-Za-z0-9+/]{1,32}")
EVENT_LIST_RE = re.compile(r"[0-9]{1,3}(?:-[0-9]{1,3})?(?:,[0-9]{1,3}(?:-[0-9]{1,3})?)*")
FORBIDDEN_TEXT_RE = re.compile(r"[\x00\r\n\ud800-\udfff]")  # surrogates cannot be UTF-8

SESSION_RANK = {
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
SESSION_REPEATABLE = frozenset("epbtra")
MEDIA_RANK = {"i": 1, "c": 2, "b": 3, "k": 4, "a": 5}
MEDIA_REPEATABLE = frozenset("cba")
KNOWN_TYPES = frozenset("vosiuepcbtrzkam")
SESSION_SLOTS = ("v", "o", "s", "i", "u", "e", "p", "c", "b", "t", "z", "k", "a")
MEDIA_SLOTS = ("m", "i", "c", "b", "k", "a")

MAX_PORT = 65_535
MAX_PRIORITY = 2**32 - 1
UNSPECIFIED_ADDRESSES = frozenset({"0.0.0.0", "::"})


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 8866 token."""
    return TOKEN_RE.fullmatch(text) is not None


def require_token(what: str, text: str) -> None:
    """:class:`LocalProtocolError` unless ``text`` is a token (``what`` names the field)."""
    if not isinstance(text, str) or not is_token(text):
        raise LocalProtocolError(f"SDP {what} must be a token, got {text!r}")


def require_text(what: str, text: str, *, allow_empty: bool = True, allow_space: bool = True) -> None:
    """:class:`LocalProtocolError` unless ``text`` can stand on one SDP line (no CR, LF, NUL, surrogate)."""
    if not isinstance(text, str):
        raise LocalProtocolError(f"SDP {what} must be a str, got {type(text).__name__}")
    if FORBIDDEN_TEXT_RE.search(text):
        raise LocalProtocolError(f"SDP {what} must not contain CR, LF, NUL or surrogates: {text!r}")
    if not allow_empty and not text:
        raise LocalProtocolError(f"SDP {what} must not be empty")
    if not allow_space and any(ch.isspace() for ch in text):
        raise LocalProtocolError(f"SDP {what} must not contain whitespace: {text!r}")


def require_int(what: str, value: int, low: int, high: int | None = None) -> None:
    """:class:`LocalProtocolError` unless ``value`` is an int (not a bool) in ``low..high``."""
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


DIRECTION_NAMES = frozenset(d.value for d in Direction)


def parse_int(text: str, what: str, low: int, high: int) -> int:
    """``text`` as a decimal int in ``low..high``, or :class:`SdpError`."""
    if DIGITS_RE.fullmatch(text) is None or len(text) > 20:
        raise SdpError(f"{what} is not a number: {text!r}")
    value = int(text)
    if not low <= value <= high:
        raise SdpError(f"{what} {value} is out of range {low}..{high}")
    return value


# --- sections ---------------------------------------------------------------------------------------------
# --- parsing ----------------------------------------------------------------------------------------------
def parse_rtpmap(value: str) -> tuple[str, tuple[str, int, int | None]]:
    """``a=rtpmap`` value -> (payload type, (encoding, clock rate, channels)), or :class:`SdpError`."""
    match = RTPMAP_RE.fullmatch(value)
    if match is None:
        raise SdpError(f"a=rtpmap must be '<pt> <encoding>/<clock rate>[/<channels>]', got {value!r}")
    payload_type, name, clock_rate, channels = match.groups()
    if not is_token(payload_type):
        raise SdpError(f"a=rtpmap payload type is not a token: {payload_type!r}")
    rate = int(clock_rate)
    if rate <= 0:
        raise SdpError(f"a=rtpmap clock rate must be positive: {value!r}")
    channel_count = int(channels) if channels is not None else None
    if channel_count is not None and channel_count <= 0:
        raise SdpError(f"a=rtpmap channel count must be positive: {value!r}")
    return payload_type, (name, rate, channel_count)


def parse_fmtp(value: str) -> tuple[str, str]:
    """``a=fmtp`` value -> (payload type, parameters), or :class:`SdpError`."""
    match = FMTP_RE.fullmatch(value)
    if match is None or not is_token(match.group(1)):
        raise SdpError(f"a=fmtp must be '<format> <parameters>', got {value!r}")
    return match.group(1), match.group(2) or ""


@dataclass(frozen=True, slots=True)
class Attribute:
    """One ``a=`` line: ``a=name`` (``value is None``) or ``a=name:value`` (value verbatim, may be "")."""

    name: str
    value: str | None = None

    def __post_init__(self) -> None:
        require_token("attribute name", self.name)
        if self.value is not None:
            require_text(f"a={self.name} value", self.value)

    def __str__(self) -> str:
        return self.name if self.value is None else f"{self.name}:{self.value}"
