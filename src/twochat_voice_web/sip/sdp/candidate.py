"""ICE candidates in SDP (RFC 8839 §5.1): the one :class:`Candidate` type of the package and the SDK."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from twochat_voice_web.sip.errors import LocalProtocolError

from .grammar import (
    FORBIDDEN_TEXT_RE,
    FOUNDATION_RE,
    MAX_PORT,
    MAX_PRIORITY,
    Attribute,
    SdpError,
    is_token,
    parse_int,
    require_int,
    require_text,
    require_token,
)

__all__ = ["Candidate", "parse_candidate"]


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
        if not isinstance(self.foundation, str) or FOUNDATION_RE.fullmatch(self.foundation) is None:
            raise LocalProtocolError(f"ICE foundation must be 1-32 ice-chars, got {self.foundation!r}")
        require_int("candidate component", self.component, 1, 256)
        require_token("candidate transport", self.transport)
        require_int("candidate priority", self.priority, 0, MAX_PRIORITY)
        require_text("candidate address", self.address, allow_empty=False, allow_space=False)
        require_int("candidate port", self.port, 0, MAX_PORT)
        require_token("candidate type", self.type)
        if self.related_address is not None:
            require_text("candidate raddr", self.related_address, allow_empty=False, allow_space=False)
        if self.related_port is not None:
            require_int("candidate rport", self.related_port, 0, MAX_PORT)
        for name, value in self.extra:
            require_text("candidate extension name", name, allow_empty=False, allow_space=False)
            require_text("candidate extension value", value, allow_empty=False, allow_space=False)

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
    if FORBIDDEN_TEXT_RE.search(value):
        raise SdpError(f"ICE candidate contains CR, LF, NUL or a surrogate: {text!r}")
    fields = value.split()
    if len(fields) < 8:
        raise SdpError(f"ICE candidate needs 8 fields (foundation ... typ type), got {len(fields)}: {text!r}")
    foundation, component, transport, priority, address, port, typ, cand_type = fields[:8]
    if FOUNDATION_RE.fullmatch(foundation) is None:
        raise SdpError(f"ICE candidate has a bad foundation {foundation!r}")
    component_value = parse_int(component, "ICE candidate component", 1, 256)
    if not is_token(transport):
        raise SdpError(f"ICE candidate has a bad transport {transport!r}")
    priority_value = parse_int(priority, "ICE candidate priority", 0, MAX_PRIORITY)
    port_value = parse_int(port, "ICE candidate port", 0, MAX_PORT)
    if typ != "typ":
        raise SdpError(f"ICE candidate: expected 'typ' after the port, got {typ!r}")
    if not is_token(cand_type):
        raise SdpError(f"ICE candidate has a bad type {cand_type!r}")
    rest = fields[8:]
    related_address: str | None = None
    related_port: int | None = None
    if len(rest) >= 2 and rest[0] == "raddr":
        related_address = rest[1]
        rest = rest[2:]
    if len(rest) >= 2 and rest[0] == "rport":
        related_port = parse_int(rest[1], "ICE candidate rport", 0, MAX_PORT)
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
