"""The SDP model (RFC 8866): a :class:`SessionDescription` of typed lines and :class:`MediaDescription` s.

See the package docstring (:mod:`twochat_voice_web.sip.sdp`) for the design: attributes kept verbatim,
typed views computed on access, media sections linked to their session for inherited values.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import Any, SupportsIndex, overload

from twochat_voice_web.sip.errors import LocalProtocolError

from .candidate import Candidate, parse_candidate
from .grammar import (
    DIRECTION_NAMES,
    EVENT_LIST_RE,
    KNOWN_TYPES,
    MAX_PORT,
    MEDIA_SLOTS,
    PROTO_RE,
    SESSION_SLOTS,
    UNSPECIFIED_ADDRESSES,
    Attribute,
    Direction,
    SdpError,
    parse_fmtp,
    parse_rtpmap,
    require_int,
    require_text,
    require_token,
)

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "Bandwidth",
    "Codec",
    "ConnectionData",
    "MediaDescription",
    "MediaList",
    "Origin",
    "SessionDescription",
    "Timing",
    "UnknownLine",
]


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
        require_text("o= username", self.username, allow_empty=False, allow_space=False)
        require_text("o= sess-id", self.session_id, allow_empty=False, allow_space=False)
        require_int("o= sess-version", self.session_version, 0)
        require_token("o= nettype", self.network_type)
        require_token("o= addrtype", self.address_type)
        require_text("o= address", self.address, allow_empty=False, allow_space=False)

    def __str__(self) -> str:
        return (
            f"{self.username} {self.session_id} {self.session_version} {self.network_type} "
            f"{self.address_type} {self.address}"
        )


@dataclass(frozen=True, slots=True)
class ConnectionData:
    """A ``c=`` line: ``nettype addrtype connection-address`` (address verbatim, with any /ttl/count)."""

    network_type: str = "IN"
    address_type: str = "IP4"
    address: str = "127.0.0.1"

    def __post_init__(self) -> None:
        require_token("c= nettype", self.network_type)
        require_token("c= addrtype", self.address_type)
        require_text("c= address", self.address, allow_empty=False, allow_space=False)

    @property
    def host(self) -> str:
        """The address without a multicast ``/ttl`` or ``/count`` suffix."""
        return self.address.split("/", 1)[0]

    @property
    def is_unspecified(self) -> bool:
        """True for ``0.0.0.0`` or ``::`` (RFC 2543 hold, or the RFC 8840 ICE placeholder)."""
        return self.host in UNSPECIFIED_ADDRESSES

    @classmethod
    def for_address(cls, address: str) -> ConnectionData:
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
        require_token("b= bwtype", self.type)
        require_int("b= bandwidth", self.value, 0)

    def __str__(self) -> str:
        return f"{self.type}:{self.value}"


@dataclass(frozen=True, slots=True)
class Timing:
    """A ``t=`` line (NTP start and stop times, 0 = unbounded) and the ``r=`` lines that follow it."""

    start: int = 0
    stop: int = 0
    repeats: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        require_int("t= start time", self.start, 0)
        require_int("t= stop time", self.stop, 0)
        for repeat in self.repeats:
            require_text("r= value", repeat, allow_empty=False)


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
        if len(self.type) != 1 or not ("a" <= self.type <= "z") or self.type in KNOWN_TYPES:
            raise LocalProtocolError(f"SDP unknown line type must be an undefined letter, got {self.type!r}")
        require_text(f"{self.type}= value", self.value)
        if self.after not in SESSION_SLOTS and self.after not in MEDIA_SLOTS:
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
        if EVENT_LIST_RE.fullmatch(text) is None:
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
            if attribute.name in DIRECTION_NAMES:
                return Direction(attribute.name)
        return None

    def _set_own_direction(self, direction: Direction | None) -> None:
        for index, attribute in enumerate(self.attributes):
            if attribute.name in DIRECTION_NAMES:
                rest = [a for a in self.attributes[index + 1 :] if a.name not in DIRECTION_NAMES]
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
    connections: list[ConnectionData] = field(default_factory=list)
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
    def connection(self) -> ConnectionData | None:
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
                payload_type, mapping = parse_rtpmap(attribute.value)
                rtpmaps.setdefault(payload_type, mapping)
            elif attribute.name == "fmtp" and attribute.value is not None:
                payload_type, parameters = parse_fmtp(attribute.value)
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
        require_token("m= media", self.media)
        require_int("m= port", self.port, 0, MAX_PORT)
        if self.port_count is not None:
            require_int("m= port count", self.port_count, 1, MAX_PORT)
        if not isinstance(self.protocol, str) or PROTO_RE.fullmatch(self.protocol) is None:
            raise LocalProtocolError(f"SDP m= proto must be token *(/token), got {self.protocol!r}")
        if not self.formats:
            raise LocalProtocolError("SDP m= line needs at least one format")
        for fmt in self.formats:
            require_token("m= fmt", fmt)
        if self.information is not None:
            require_text("i= value", self.information)
        if self.encryption_key is not None:
            require_text("k= value", self.encryption_key)
        _check_unknown_slots(self.unknown_lines, MEDIA_SLOTS, "a media description")
        port = f"{self.port}/{self.port_count}" if self.port_count is not None else str(self.port)
        groups: dict[str, list[str]] = {
            "m": [f"m={self.media} {port} {self.protocol} {' '.join(self.formats)}"],
            "i": [f"i={self.information}"] if self.information is not None else [],
            "c": [f"c={c}" for c in self.connections],
            "b": [f"b={b}" for b in self.bandwidths],
            "k": [f"k={self.encryption_key}"] if self.encryption_key is not None else [],
            "a": [f"a={a}" for a in self.attributes],
        }
        return _emit(groups, MEDIA_SLOTS, self.unknown_lines)

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
    connection: ConnectionData | None = None
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
        require_text("s= value", self.session_name)
        for what, value in (
            ("i= value", self.information),
            ("u= value", self.uri),
            ("z= value", self.time_zones),
            ("k= value", self.encryption_key),
        ):
            if value is not None:
                require_text(what, value)
        for value in (*self.emails, *self.phones):
            require_text("e=/p= value", value)
        _check_unknown_slots(self.unknown_lines, SESSION_SLOTS, "the session description")
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
        out = _emit(groups, SESSION_SLOTS, self.unknown_lines)
        for media in self.media:
            out.extend(media.lines())
        return out

    def __str__(self) -> str:
        return "".join(line + "\r\n" for line in self.lines())

    def to_bytes(self) -> bytes:
        """The SDP body as UTF-8 bytes with CRLF line endings."""
        return str(self).encode("utf-8")

    __bytes__ = to_bytes
