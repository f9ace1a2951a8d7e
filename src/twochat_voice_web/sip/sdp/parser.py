"""Reading SDP: :func:`parse_sdp`, strict about RFC 8866 line order and grammar, tolerant of what
peers send."""

from __future__ import annotations

from dataclasses import replace

from twochat_voice_web.sip.errors import LocalProtocolError

from .candidate import parse_candidate
from .grammar import (
    BANDWIDTH_RE,
    DIGITS_RE,
    DIRECTION_NAMES,
    FORBIDDEN_TEXT_RE,
    ICE_CHARS_RE,
    KNOWN_TYPES,
    MAX_PORT,
    MEDIA_RANK,
    MEDIA_REPEATABLE,
    PORT_RE,
    PROTO_RE,
    RTCP_RE,
    SESSION_RANK,
    SESSION_REPEATABLE,
    Attribute,
    SdpError,
    is_token,
    parse_fmtp,
    parse_rtpmap,
)
from .model import (
    Bandwidth,
    ConnectionData,
    MediaDescription,
    Origin,
    SessionDescription,
    Timing,
    UnknownLine,
)

__all__ = ["parse_sdp"]


def _check_attribute(attribute: Attribute) -> None:
    """Validate the attributes this module interprets, so that their typed views cannot fail later."""
    name, value = attribute.name, attribute.value
    if name in DIRECTION_NAMES:
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
        parse_rtpmap(value)
    elif name == "fmtp":
        parse_fmtp(value)
    elif name == "candidate":
        parse_candidate(value)
    elif name == "rtcp":
        match = RTCP_RE.fullmatch(value)
        if match is None or int(match.group(1)) > MAX_PORT:
            raise SdpError(f"a=rtcp must be '<port> [<nettype> <addrtype> <address>]', got {value!r}")
    elif name in ("ice-ufrag", "ice-pwd"):
        if ICE_CHARS_RE.fullmatch(value) is None:
            raise SdpError(f"a={name} must be 1-256 ice-chars (ALPHA / DIGIT / + / /), got {value!r}")
    elif name == "mid":
        if not is_token(value):
            raise SdpError(f"a=mid must be a token, got {value!r}")
    elif name == "group":
        parts = value.split()
        if not parts or not all(is_token(part) for part in parts):
            raise SdpError(f"a=group must be '<semantics> *(SP <mid>)', got {value!r}")
    elif name == "fingerprint":
        parts = value.split()
        if len(parts) != 2 or not is_token(parts[0]):
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
        if FORBIDDEN_TEXT_RE.search(stripped):
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
    if DIGITS_RE.fullmatch(version) is None or len(version) > 40:
        raise line.error(f"o= sess-version must be a number (at most 40 digits), got {version!r}")
    if not is_token(network_type) or not is_token(address_type):
        raise line.error("o= nettype and addrtype must be tokens")
    return Origin(username, session_id, int(version), network_type, address_type, address)


def _parse_connection(line: _Line) -> ConnectionData:
    fields = line.value.split()
    if len(fields) != 3:
        raise line.error("c= needs 3 fields: nettype addrtype connection-address")
    network_type, address_type, address = fields
    if not is_token(network_type) or not is_token(address_type):
        raise line.error("c= nettype and addrtype must be tokens")
    return ConnectionData(network_type, address_type, address)


def _parse_bandwidth(line: _Line) -> Bandwidth:
    match = BANDWIDTH_RE.fullmatch(line.value.strip())
    if match is None:
        raise line.error("b= must be '<bwtype>:<bandwidth>'")
    return Bandwidth(match.group(1), int(match.group(2)))


def _parse_timing(line: _Line) -> Timing:
    fields = line.value.split()
    if len(fields) != 2 or not all(DIGITS_RE.fullmatch(f) and len(f) <= 20 for f in fields):
        raise line.error("t= must be '<start-time> <stop-time>' (numbers)")
    return Timing(int(fields[0]), int(fields[1]))


def _parse_attribute(line: _Line) -> Attribute:
    name, colon, value = line.value.partition(":")
    if not is_token(name):
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
    if not is_token(media):
        raise line.error("m= media must be a token")
    port_match = PORT_RE.fullmatch(port_text)
    if port_match is None:
        raise line.error(f"m= port must be a number (optionally /count), got {port_text!r}")
    port = int(port_match.group(1))
    if port > MAX_PORT:
        raise line.error(f"m= port {port} is out of range 0..65535")
    port_count = int(port_match.group(2)) if port_match.group(2) is not None else None
    if port_count is not None and not 1 <= port_count <= MAX_PORT:
        raise line.error(f"m= port count {port_count} is out of range")
    if PROTO_RE.fullmatch(protocol) is None:
        raise line.error(f"m= proto must be token *(/token), got {protocol!r}")
    for fmt in formats:
        if not is_token(fmt):
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
    connection: ConnectionData | None = None
    bandwidths: list[Bandwidth] = []
    timings: list[Timing] = []
    time_zones: str | None = None
    encryption_key: str | None = None
    attributes: list[Attribute] = []
    unknown: list[UnknownLine] = []
    media_list: list[MediaDescription] = []

    order = _SectionOrder(SESSION_RANK, SESSION_REPEATABLE, "v", strict_order, "the session description")
    order.seen.add("v")
    index = 1
    while index < len(lines) and lines[index].type != "m":
        line = lines[index]
        index += 1
        kind = line.type
        if kind not in KNOWN_TYPES:
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
            MEDIA_RANK, MEDIA_REPEATABLE, "m", strict_order, f"media description {len(media_list)}"
        )
        while index < len(lines) and lines[index].type != "m":
            line = lines[index]
            index += 1
            kind = line.type
            if kind not in KNOWN_TYPES:
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
    directions = [a.name for a in attributes if a.name in DIRECTION_NAMES]
    if len(directions) > 1:
        raise line.error(f"{where} has several direction attributes: {', '.join(directions)}")
