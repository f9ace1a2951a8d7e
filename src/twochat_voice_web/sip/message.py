"""SIP messages: parsing, serialisation and responses built from requests (RFC 3261 §7, §8.2.6, §18.3).

Parsing (:func:`parse_message`) is strict about what other modules rely on and lenient nowhere else:

* The start line must be ``Method SP Request-URI SP SIP-Version`` or ``SIP-Version SP Status-Code SP
  Reason-Phrase`` with single spaces; the version must be ``SIP/2.0`` (case-insensitive, RFC 3261 §7.1;
  any other version raises :class:`ParseError` with ``status_hint`` 505). A Request-URI must not carry
  ``?headers`` (RFC 3261 §19.1.1 table 1). Unknown URI schemes are accepted as :class:`AbsoluteUri`.
* Lines end with CRLF. A bare CR or LF, NUL, or any other control character except HTAB in the header
  section is refused, except as the escaped character of a quoted-pair inside a quoted-string
  (``"BEL:\\<0x07>"``, RFC 3261 §25.1, RFC 4475 §3.1.1.2). Leading CRLFs before the start line are skipped
  (RFC 3261 §7.5).
* **Encoding decision:** the header section must be valid UTF-8 (RFC 3261 §7.3.1); anything else raises
  :class:`ParseError` naming the offset of the first bad byte. The body is never decoded.
* Folded lines (``CRLF 1*WSP``) are unfolded to one SP; values are stripped of surrounding whitespace;
  header names must be tokens; names keep their spelling and unknown headers their raw value.
* The mandatory headers of RFC 3261 §8.1.1 are validated with their full grammar: at least one Via,
  exactly one From, To, Call-ID and CSeq, a CSeq method equal to the request method. Content-Length and
  Max-Forwards may appear at most once. Other known headers are validated when accessed.
* Content-Length, when present, must not exceed the body; extra body octets beyond it are discarded, as
  RFC 3261 §18.3 requires for datagrams (a WebSocket message is one datagram-like unit, RFC 7118).
  Without Content-Length the body is everything after the blank line.
* :class:`ParserLimits` bounds the message size, header count and unfolded header-line length;
  exceeding one raises :class:`MessageTooLargeError` (``status_hint`` 513).

Serialisation (:meth:`Message.to_bytes`) writes ``Name: value`` for every header in order and always
writes a Content-Length equal to ``len(body)`` (replacing the value of an existing one in place).
"""

from __future__ import annotations

import abc
import functools
from collections.abc import Iterable
from dataclasses import dataclass, field

from . import grammar as g
from .errors import LocalProtocolError, MessageTooLargeError, ParseError
from .headers import (
    HEADER_KEYS,
    CSeq,
    Headers,
    NameAddr,
    Via,
    check_header_value,
    clear_header_caches,
    header_key,
    parse_cseq_cached,
    parse_name_addr_cached,
    parse_name_addr_list_cached,
    parse_via_list_cached,
    split_list_cached,
    unquoted_control,
)
from .uri import SipUri, Uri, clear_uri_caches, parse_uri, snippet

__all__ = [
    "DEFAULT_LIMITS",
    "REASON_PHRASES",
    "Message",
    "ParserLimits",
    "Request",
    "Response",
    "StreamParser",
    "clear_parse_caches",
    "make_response",
    "parse_message",
]

REASON_PHRASES: dict[int, str] = {
    100: "Trying",
    180: "Ringing",
    181: "Call Is Being Forwarded",
    182: "Queued",
    183: "Session Progress",
    199: "Early Dialog Terminated",
    200: "OK",
    202: "Accepted",
    204: "No Notification",
    300: "Multiple Choices",
    301: "Moved Permanently",
    302: "Moved Temporarily",
    305: "Use Proxy",
    380: "Alternative Service",
    400: "Bad Request",
    401: "Unauthorized",
    402: "Payment Required",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    406: "Not Acceptable",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    410: "Gone",
    412: "Conditional Request Failed",
    413: "Request Entity Too Large",
    414: "Request-URI Too Long",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    417: "Unknown Resource-Priority",
    420: "Bad Extension",
    421: "Extension Required",
    422: "Session Interval Too Small",
    423: "Interval Too Brief",
    428: "Use Identity Header",
    429: "Provide Referrer Identity",
    430: "Flow Failed",
    433: "Anonymity Disallowed",
    436: "Bad Identity Info",
    437: "Unsupported Certificate",
    438: "Invalid Identity Header",
    439: "First Hop Lacks Outbound Support",
    440: "Max-Breadth Exceeded",
    469: "Bad Info Package",
    470: "Consent Needed",
    480: "Temporarily Unavailable",
    481: "Call/Transaction Does Not Exist",
    482: "Loop Detected",
    483: "Too Many Hops",
    484: "Address Incomplete",
    485: "Ambiguous",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    489: "Bad Event",
    491: "Request Pending",
    493: "Undecipherable",
    494: "Security Agreement Required",
    500: "Server Internal Error",
    501: "Not Implemented",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Server Time-out",
    505: "Version Not Supported",
    513: "Message Too Large",
    555: "Push Notification Service Not Supported",
    580: "Precondition Failure",
    600: "Busy Everywhere",
    603: "Decline",
    604: "Does Not Exist Anywhere",
    606: "Not Acceptable",
    607: "Unwanted",
    608: "Rejected",
}
"""Default reason phrases by status code (RFC 3261 §21 and later RFCs)."""

_CLASS_REASONS = {
    1: "Trying",
    2: "OK",
    3: "Redirection",
    4: "Client Error",
    5: "Server Error",
    6: "Global Failure",
}

# Methods whose 101-299 responses create a dialog, so that Record-Route is copied (RFC 3261 §12.1.1,
# RFC 6665 for SUBSCRIBE/NOTIFY, RFC 3515 for REFER).
_DIALOG_CREATING_METHODS = frozenset({"INVITE", "SUBSCRIBE", "REFER", "NOTIFY"})

_SINGLE_KEYS = (("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq"))

_MAX_INT_DIGITS = 10
_MAX_EXPIRES = 2**32 - 1


@dataclass(frozen=True)
class ParserLimits:
    """Limits that protect the parser against abusive input.

    Attributes:
        max_message_bytes: the largest message accepted, header section and body together.
        max_headers: the largest number of header lines (after unfolding).
        max_header_bytes: the longest header line, in bytes, after unfolding.
    """

    max_message_bytes: int = 65_536
    max_headers: int = 256
    max_header_bytes: int = 16_384

    def __post_init__(self) -> None:
        for name in ("max_message_bytes", "max_headers", "max_header_bytes"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise LocalProtocolError(f"ParserLimits.{name} must be a positive int, got {value!r}")


DEFAULT_LIMITS = ParserLimits()
"""The limits used when none are given."""


def _int_value(text: str, what: str, maximum: int) -> int:
    """Parse a non-negative decimal number no larger than ``maximum``."""
    text = text.strip(" \t")
    if not g.DIGITS_RE.fullmatch(text):
        raise ParseError(f"{what}: expected a non-negative number, got {snippet(text)}")
    digits = text.lstrip("0") or "0"
    if len(digits) > _MAX_INT_DIGITS or int(digits) > maximum:
        raise ParseError(f"{what}: value {snippet(text)} is larger than {maximum}")
    return int(digits)


@functools.lru_cache(maxsize=1024)
def _token_list(text: str, what: str) -> tuple[str, ...]:
    """Split a comma-separated list of tokens (Allow, Supported, Require...)."""
    out: list[str] = []
    for raw in text.split(","):
        element = raw.strip(" \t")
        if not element:
            continue
        if not g.TOKEN_RE.fullmatch(element):
            raise ParseError(f"{what}: {snippet(element)} is not a token")
        out.append(element)
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _media_type(text: str) -> str:
    """Return ``type/subtype`` in lower case from a Content-Type value."""
    m = g.MEDIA_TYPE_RE.fullmatch(text.strip(" \t"))
    if m is None:
        raise ParseError(f"Content-Type: expected type/subtype[;params], got {snippet(text)}")
    return f"{m.group('type')}/{m.group('subtype')}".lower()


class Message(abc.ABC):
    """Common part of :class:`Request` and :class:`Response`.

    Messages are mutable while being built; do not mutate one after it was sent. The typed properties
    parse the raw header values on access (the parsers are cached by raw value, so repeated access is
    cheap) and raise :class:`ParseError` when a value does not follow its grammar.
    """

    headers: Headers
    body: bytes

    # --- typed views ------------------------------------------------------------------------------------
    def _single(self, name: str) -> str:
        """Return the value of a header that must appear exactly once."""
        values = self.headers._values(name)
        if not values:
            raise ParseError(f"missing {name} header")
        if len(values) > 1:
            raise ParseError(f"{name} header appears {len(values)} times; it must appear once")
        return values[0]

    def _optional_single(self, name: str) -> str | None:
        """Return the value of a header that may appear at most once, or None."""
        values = self.headers._values(name)
        if len(values) > 1:
            raise ParseError(f"{name} header appears {len(values)} times; it may appear once")
        return values[0] if values else None

    @property
    def call_id(self) -> str:
        """The Call-ID value."""
        value = self._single("Call-ID")
        if not g.CALLID_RE.fullmatch(value):
            raise ParseError(f"Call-ID: not word[@word]: {snippet(value)}")
        return value

    @property
    def cseq(self) -> CSeq:
        """The CSeq value."""
        return parse_cseq_cached(self._single("CSeq"))

    @property
    def from_(self) -> NameAddr:
        """The From value."""
        return parse_name_addr_cached(self._single("From"), "From")

    @property
    def to(self) -> NameAddr:
        """The To value."""
        return parse_name_addr_cached(self._single("To"), "To")

    @property
    def via(self) -> list[Via]:
        """All Via values, top first (several per line are split)."""
        out: list[Via] = []
        for value in self.headers._values("Via"):
            out.extend(parse_via_list_cached(value))
        return out

    @property
    def top_via(self) -> Via:
        """The first Via value."""
        for value in self.headers._values("Via"):
            return parse_via_list_cached(value)[0]
        raise ParseError("missing Via header")

    @property
    def contact_is_star(self) -> bool:
        """True when the message has ``Contact: *`` (a REGISTER that removes every binding)."""
        values = self.headers._values("Contact")
        return len(values) == 1 and values[0] == "*"

    @property
    def contacts(self) -> list[NameAddr]:
        """All Contact values in order; ``[]`` when absent or ``*``."""
        values = self.headers._values("Contact")
        if not values:
            return []
        if self.contact_is_star:
            return []
        out: list[NameAddr] = []
        for value in values:
            elements = split_list_cached(value, "Contact")
            if "*" in elements:
                raise ParseError("Contact: '*' must be the only Contact value")
            out.extend(parse_name_addr_list_cached(value, "Contact"))
        return out

    @property
    def routes(self) -> list[NameAddr]:
        """All Route values in order."""
        out: list[NameAddr] = []
        for value in self.headers._values("Route"):
            out.extend(parse_name_addr_list_cached(value, "Route"))
        return out

    @property
    def record_routes(self) -> list[NameAddr]:
        """All Record-Route values in order."""
        out: list[NameAddr] = []
        for value in self.headers._values("Record-Route"):
            out.extend(parse_name_addr_list_cached(value, "Record-Route"))
        return out

    @property
    def content_type(self) -> str | None:
        """The media type of the body without parameters, in lower case (``"application/sdp"``)."""
        value = self._optional_single("Content-Type")
        return _media_type(value) if value is not None else None

    @property
    def content_length(self) -> int | None:
        """The Content-Length header as received, or None (``to_bytes`` always writes ``len(body)``)."""
        value = self._optional_single("Content-Length")
        return _int_value(value, "Content-Length", _MAX_EXPIRES) if value is not None else None

    @property
    def max_forwards(self) -> int | None:
        """The Max-Forwards value (0..255), or None when absent."""
        value = self._optional_single("Max-Forwards")
        return _int_value(value, "Max-Forwards", 255) if value is not None else None

    @property
    def expires(self) -> int | None:
        """The Expires header in seconds (0..2**32-1), or None when absent."""
        value = self._optional_single("Expires")
        return _int_value(value, "Expires", _MAX_EXPIRES) if value is not None else None

    @property
    def min_expires(self) -> int | None:
        """The Min-Expires header in seconds, or None when absent."""
        value = self._optional_single("Min-Expires")
        return _int_value(value, "Min-Expires", _MAX_EXPIRES) if value is not None else None

    def _tokens(self, name: str) -> list[str]:
        out: list[str] = []
        for value in self.headers._values(name):
            out.extend(_token_list(value, name))
        return out

    @property
    def allow(self) -> list[str]:
        """The methods in Allow headers, as written."""
        return self._tokens("Allow")

    @property
    def supported(self) -> list[str]:
        """The option tags in Supported headers."""
        return self._tokens("Supported")

    @property
    def require(self) -> list[str]:
        """The option tags in Require headers."""
        return self._tokens("Require")

    @property
    def proxy_require(self) -> list[str]:
        """The option tags in Proxy-Require headers."""
        return self._tokens("Proxy-Require")

    @property
    def unsupported(self) -> list[str]:
        """The option tags in Unsupported headers."""
        return self._tokens("Unsupported")

    @property
    def session_expires(self) -> str | None:
        """The raw Session-Expires value (RFC 4028), or None."""
        return self.headers.get("Session-Expires")

    @property
    @abc.abstractmethod
    def start_line(self) -> str:
        """The start line without CRLF."""

    # --- serialisation ----------------------------------------------------------------------------------
    def to_bytes(self) -> bytes:
        """Serialise the message; Content-Length is written as ``len(body)``.

        Raises:
            LocalProtocolError: the start line fields or the body are not valid.
        """
        body = self.body
        if not isinstance(body, bytes | bytearray | memoryview):
            raise LocalProtocolError(f"body must be bytes, got {type(body).__name__}")
        body = bytes(body)
        lines = [self.start_line]
        length_written = False
        for key, name, value in self.headers._items:
            if key == "content-length":
                if not length_written:
                    lines.append(f"{name}: {len(body)}")
                    length_written = True
            else:
                lines.append(f"{name}: {value}")
        if not length_written:
            lines.append(f"Content-Length: {len(body)}")
        lines.append("")
        lines.append("")
        return "\r\n".join(lines).encode("utf-8") + body

    def __bytes__(self) -> bytes:
        return self.to_bytes()


@dataclass(eq=False)
class Request(Message):
    """A SIP request.

    Attributes:
        method: the method token (``"INVITE"``), case-sensitive.
        uri: the Request-URI.
        headers: the header fields in order.
        body: the body octets (never decoded).
    """

    method: str
    uri: Uri
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    # The Request-URI text as received, written back while ``uri`` is still the object parsed from it.
    _raw_uri: tuple[Uri, str] | None = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.method, str) or not g.TOKEN_RE.fullmatch(self.method):
            raise LocalProtocolError(f"request method is not a token: {self.method!r}")
        if not isinstance(self.headers, Headers):
            raise LocalProtocolError(f"headers must be a Headers, got {type(self.headers).__name__}")

    @property
    def start_line(self) -> str:
        """``METHOD uri SIP/2.0``.

        Raises:
            LocalProtocolError: the method is not a token.
        """
        if not g.TOKEN_RE.fullmatch(self.method):
            raise LocalProtocolError(f"request method is not a token: {self.method!r}")
        raw = self._raw_uri
        uri_text = raw[1] if raw is not None and raw[0] is self.uri else str(self.uri)
        return f"{self.method} {uri_text} SIP/2.0"


@dataclass(eq=False)
class Response(Message):
    """A SIP response.

    Attributes:
        status_code: 100..699.
        reason: the reason phrase (may be empty).
        headers: the header fields in order.
        body: the body octets (never decoded).
    """

    status_code: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def __post_init__(self) -> None:
        _check_status(self.status_code, self.reason)
        if not isinstance(self.headers, Headers):
            raise LocalProtocolError(f"headers must be a Headers, got {type(self.headers).__name__}")

    @property
    def start_line(self) -> str:
        """``SIP/2.0 code reason``.

        Raises:
            LocalProtocolError: the status code or reason is not valid.
        """
        _check_status(self.status_code, self.reason)
        return f"SIP/2.0 {self.status_code} {self.reason}"


def _check_status(status_code: int, reason: str) -> None:
    """Raise LocalProtocolError unless the status code is 100..699 and the reason has no controls."""
    if isinstance(status_code, bool) or not isinstance(status_code, int) or not 100 <= status_code <= 699:
        raise LocalProtocolError(f"status code must be an int in 100..699, got {status_code!r}")
    if not isinstance(reason, str) or g.FORBIDDEN_VALUE_CHAR_RE.search(reason):
        raise LocalProtocolError(f"reason phrase must be text without control characters, got {reason!r}")
    if not reason.isascii():
        check_header_value("reason phrase", reason)


# --- parsing --------------------------------------------------------------------------------------------


def parse_message(data: bytes | str, limits: ParserLimits = DEFAULT_LIMITS) -> Request | Response:
    """Parse one complete SIP message (a WebSocket message or a datagram).

    ``str`` input is encoded as UTF-8 first. See the module docstring for exactly what is checked.

    Raises:
        MessageTooLargeError: a :class:`ParserLimits` limit was exceeded.
        ParseError: the message is malformed; the message names what is wrong.
    """
    if isinstance(data, str):
        try:
            data = data.encode("utf-8")
        except UnicodeEncodeError:
            raise ParseError("message text cannot be encoded as UTF-8") from None
    elif isinstance(data, bytearray | memoryview):
        data = bytes(data)
    elif not isinstance(data, bytes):
        raise ParseError(f"message must be bytes or str, got {type(data).__name__}")
    if len(data) > limits.max_message_bytes:
        raise MessageTooLargeError(
            f"message is {len(data)} bytes, more than the limit of {limits.max_message_bytes}"
        )
    start = 0
    while data.startswith(b"\r\n", start):
        start += 2
    end = data.find(b"\r\n\r\n", start)
    if end < 0:
        if start == len(data):
            raise ParseError("empty message")
        raise ParseError("message has no blank line (CRLF CRLF) ending the header section")
    try:
        head = data[start:end].decode("utf-8")
    except UnicodeDecodeError as exc:
        offset = start + exc.start
        raise ParseError(
            f"header section is not valid UTF-8: byte 0x{data[offset]:02x} at offset {offset}"
        ) from None
    bad = g.FORBIDDEN_HEADER_CHAR_RE.search(head)
    if bad is not None and bad.start() > head.find("\r\n") >= 0:
        # Past the start line a control character is legal as the escaped character of a quoted-pair
        # (RFC 3261 §25.1; RFC 4475 §3.1.1.2): look again with the quoted-strings' escapes blanked out.
        bad = unquoted_control(head, g.FORBIDDEN_HEADER_CHAR_RE)
    if bad is None:
        crlf_count = head.count("\r\n")
        if head.count("\r") != crlf_count or head.count("\n") != crlf_count:
            bad = g.BARE_CR_OR_LF_RE.search(head)
    if bad is not None:
        line_no = head.count("\r\n", 0, bad.start()) + 1
        if bad.group() in ("\r", "\n"):
            raise ParseError(
                f"control character {bad.group()!r} (a bare CR or LF; lines must end with CRLF) in line "
                f"{line_no} of the header section"
            )
        raise ParseError(f"control character {bad.group()!r} in line {line_no} of the header section")
    start_line, _, rest = head.partition("\r\n")
    if rest[:1] in (" ", "\t"):
        raise ParseError("the first header line starts with whitespace (folding onto the start line)")
    if "\r\n " in rest or "\r\n\t" in rest:
        rest = g.FOLD_RE.sub(" ", rest)
    items = _parse_header_lines(rest, limits) if rest else []
    message: Request | Response
    if start_line[:4].upper() == "SIP/":
        message = _parse_status_line(start_line)
    else:
        message = _parse_request_line(start_line)
    headers = Headers.from_trusted_items(items)
    message.headers = headers
    message.body = _check_headers(message, headers._lookup(), data[end + 4 :])
    return message


def _parse_header_lines(text: str, limits: ParserLimits) -> list[tuple[str, str, str]]:
    """Split the unfolded header lines into ``(key, name, value)`` triples."""
    count = text.count("\r\n") + 1
    if count > limits.max_headers:
        raise MessageTooLargeError(f"{count} header lines, more than the limit of {limits.max_headers}")
    max_line = limits.max_header_bytes
    if len(text) > max_line:
        for line in text.split("\r\n"):
            if len(line) > max_line // 4 and len(line.encode("utf-8")) > max_line:
                raise MessageTooLargeError(
                    f"header line {snippet(line, 30)} is longer than the limit of {max_line} bytes"
                )
    pairs = g.HEADER_LINE_RE.findall(text)
    if len(pairs) != count:
        _explain_bad_header_line(text)
    keys = HEADER_KEYS
    return [(keys.get(name) or header_key(name), name, value.rstrip(" \t")) for name, value in pairs]


def _explain_bad_header_line(text: str) -> None:
    """Raise a ParseError naming the first header line that is not ``token: value``."""
    for line in text.split("\r\n"):
        name, colon, _ = line.partition(":")
        if not colon:
            raise ParseError(f"header line without ':': {snippet(line)}")
        if not g.TOKEN_RE.fullmatch(name.rstrip(" \t")):
            raise ParseError(f"header name is not a token: {snippet(name)}")
    raise ParseError("malformed header section")  # pragma: no cover - every bad line is named above


def _check_version(version: str, line: str) -> None:
    """Raise ParseError unless ``version`` is SIP/2.0 (case-insensitive)."""
    if version.upper() == "SIP/2.0":
        return
    if g.SIP_VERSION_RE.fullmatch(version):
        raise ParseError(f"unsupported SIP version {snippet(version)} (only SIP/2.0)", status_hint=505)
    raise ParseError(f"bad SIP-Version {snippet(version)} in start line {snippet(line)}")


def _parse_request_line(line: str) -> Request:
    """Parse ``Method SP Request-URI SP SIP-Version``."""
    m = g.REQUEST_LINE_RE.fullmatch(line)
    if m is None:
        if not line:
            raise ParseError("empty start line")
        if "  " in line or line.startswith(" ") or line.endswith(" "):
            raise ParseError(f"Request-Line elements must be separated by single spaces: {snippet(line)}")
        parts = line.split(" ")
        if "/" in parts[0]:
            raise ParseError(f"start line is neither a SIP request nor a SIP/2.0 response: {snippet(line)}")
        if not g.TOKEN_RE.fullmatch(parts[0]):
            raise ParseError(f"request method is not a token: {snippet(line)}")
        if len(parts) > 3:
            raise ParseError(f"Request-URI contains whitespace: {snippet(line)}")
        raise ParseError(f"bad Request-Line (expected 'METHOD uri SIP/2.0'): {snippet(line)}")
    _check_version(m.group("version"), line)
    uri_text = m.group("uri")
    try:
        uri = parse_uri(uri_text)
    except ParseError as exc:
        raise ParseError(f"bad Request-URI: {exc.message}") from None
    if isinstance(uri, SipUri) and uri.headers:
        raise ParseError(f"Request-URI must not contain headers ('?...'): {snippet(uri_text)}")
    request = Request(m.group("method"), uri)
    request._raw_uri = (uri, uri_text)
    return request


def _parse_status_line(line: str) -> Response:
    """Parse ``SIP-Version SP Status-Code SP Reason-Phrase``."""
    m = g.STATUS_LINE_RE.fullmatch(line)
    if m is None:
        version, _, rest = line.partition(" ")
        _check_version(version, line)
        code_text = rest.partition(" ")[0]
        raise ParseError(f"status code must be three digits, got {snippet(code_text)}")
    _check_version(m.group("version"), line)
    code = int(m.group("code"))
    if not 100 <= code <= 699:
        raise ParseError(f"status code {code} is not in 100..699")
    return Response(code, m.group("reason") or "")


def _check_headers(message: Request | Response, index: dict[str, list[str]], body: bytes) -> bytes:
    """Validate the mandatory headers and Content-Length; return the body. ``index``: the headers by
    lookup key (``Headers._lookup``)."""
    vias = index.get("via")
    if not vias:
        raise ParseError("missing Via header")
    for key, name in _SINGLE_KEYS:
        values = index.get(key)
        if values is None or len(values) != 1:
            if values is None:
                raise ParseError(f"missing {name} header")
            raise ParseError(f"{name} header appears {len(values)} times; it must appear once")
    for value in vias:
        parse_via_list_cached(value)
    parse_name_addr_cached(index["from"][0], "From")
    parse_name_addr_cached(index["to"][0], "To")
    call_id = index["call-id"][0]
    if not g.CALLID_RE.fullmatch(call_id):
        raise ParseError(f"Call-ID: not word[@word]: {snippet(call_id)}")
    cseq = parse_cseq_cached(index["cseq"][0])
    if isinstance(message, Request) and cseq.method != message.method:
        raise ParseError(f"CSeq method {cseq.method!r} does not match the request method {message.method!r}")
    max_forwards = index.get("max-forwards")
    if max_forwards is not None and len(max_forwards) > 1:
        raise ParseError(f"Max-Forwards header appears {len(max_forwards)} times; it may appear once")
    lengths = index.get("content-length")
    if lengths is None:
        return body
    if len(lengths) > 1:
        raise ParseError(f"Content-Length header appears {len(lengths)} times; it may appear once")
    text = lengths[0]
    if not g.DIGITS_RE.fullmatch(text):
        raise ParseError(f"Content-Length: expected a non-negative number, got {snippet(text)}")
    digits = text.lstrip("0") or "0"
    if len(digits) > _MAX_INT_DIGITS or int(digits) > len(body):
        raise ParseError(f"Content-Length {snippet(text)} is larger than the body ({len(body)} bytes)")
    length = int(digits)
    return body if length == len(body) else body[:length]


# --- stream framing -------------------------------------------------------------------------------------


class StreamParser:
    """Frame SIP messages on a stream transport (TCP, TLS) by Content-Length (RFC 3261 §18.3).

    WebSocket transports deliver whole messages: use :func:`parse_message` directly there. CRLFs between
    messages (RFC 5626 keep-alive pings, ``CRLF CRLF``) are skipped and counted in :attr:`pings`. After
    a :class:`ParseError` the stream cannot be re-synchronised: every later :meth:`feed` raises it again.
    """

    def __init__(self, limits: ParserLimits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.pings = 0
        self._buffer = bytearray()
        self._crlfs = 0  # CRLFs seen in a row between messages
        self._error: ParseError | None = None

    @property
    def buffered(self) -> int:
        """Number of bytes received but not yet part of a complete message."""
        return len(self._buffer)

    def feed(self, data: bytes) -> list[Request | Response]:
        """Add received bytes; return the messages completed by them (possibly none).

        Raises:
            ParseError: a message is malformed or has no Content-Length (mandatory on streams).
            MessageTooLargeError: a message exceeds the limits.
        """
        if self._error is not None:
            raise self._error
        try:
            return self._feed(data)
        except ParseError as exc:
            self._error = exc
            raise

    def _feed(self, data: bytes) -> list[Request | Response]:
        buffer = self._buffer
        buffer += data
        out: list[Request | Response] = []
        while True:
            skipped = 0
            while buffer.startswith(b"\r\n", skipped):
                skipped += 2
            if skipped:
                crlfs = self._crlfs + skipped // 2
                self.pings += crlfs // 2
                self._crlfs = crlfs % 2
                del buffer[:skipped]
            if buffer and buffer[:1] != b"\r":
                self._crlfs = 0
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                if len(buffer) > self.limits.max_message_bytes:
                    raise MessageTooLargeError(
                        f"no end of header section within {self.limits.max_message_bytes} bytes"
                    )
                return out
            length = _stream_content_length(bytes(buffer[:end]))
            total = end + 4 + length
            if total > self.limits.max_message_bytes:
                raise MessageTooLargeError(
                    f"message is {total} bytes, more than the limit of {self.limits.max_message_bytes}"
                )
            if len(buffer) < total:
                return out
            out.append(parse_message(bytes(buffer[:total]), self.limits))
            del buffer[:total]


def _stream_content_length(head: bytes) -> int:
    """Find the Content-Length value in a raw header section (stream framing)."""
    for line in head.split(b"\r\n")[1:]:
        name, colon, value = line.partition(b":")
        if colon and name.rstrip(b" \t").lower() in (b"content-length", b"l"):
            text = value.strip(b" \t")
            if not text.isdigit() or len(text.lstrip(b"0")) > _MAX_INT_DIGITS:
                raise ParseError(f"Content-Length: expected a non-negative number, got {text[:20]!r}")
            return int(text)
    raise ParseError("missing Content-Length header (mandatory on stream transports)")


# --- responses ------------------------------------------------------------------------------------------


def make_response(
    request: Request,
    status_code: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
    content_type: str | None = None,
) -> Response:
    """Build a response to ``request`` as RFC 3261 §8.2.6 says.

    Copied from the request: every Via line byte-exact and in order (names as written), From, To,
    Call-ID and CSeq; Record-Route for 101..299 responses to dialog-creating requests (INVITE, SUBSCRIBE,
    REFER, NOTIFY, RFC 3261 §12.1.1); Timestamp for 100 Trying (§8.2.6.1). ``to_tag`` is appended to To
    when To has no tag yet. Then ``headers``, then ``Content-Type: content_type`` when given; Content-Length
    is written by :meth:`Message.to_bytes`.

    Raises:
        LocalProtocolError: bad status code or reason, a to_tag that is not a token or that conflicts
            with the tag already in To, a request without the mandatory headers, or an ACK.
    """
    if reason is None:
        reason = REASON_PHRASES.get(status_code) or _CLASS_REASONS.get(
            status_code // 100 if isinstance(status_code, int) else 0, ""
        )
    _check_status(status_code, reason)
    if request.method == "ACK":
        raise LocalProtocolError("an ACK is never answered (RFC 3261 §17.1.1.3)")
    if to_tag is not None and (not isinstance(to_tag, str) or not g.TOKEN_RE.fullmatch(to_tag)):
        raise LocalProtocolError(f"to_tag must be a token, got {to_tag!r}")
    src = request.headers._items
    copied: list[tuple[str, str, str]] = [item for item in src if item[0] == "via"]
    if not copied:
        raise LocalProtocolError("cannot answer a request without Via")
    for key, name in (("from", "From"), ("to", "To"), ("call-id", "Call-ID"), ("cseq", "CSeq")):
        found = [item for item in src if item[0] == key]
        if len(found) != 1:
            raise LocalProtocolError(f"cannot answer a request with {len(found)} {name} headers")
        item = found[0]
        if key == "to" and to_tag is not None:
            try:
                existing = parse_name_addr_cached(item[2], "To").tag
            except ParseError as exc:
                raise LocalProtocolError(f"cannot add a tag to a malformed To: {exc.message}") from None
            if existing is None:
                item = (item[0], item[1], f"{item[2]};tag={to_tag}")
            elif existing != to_tag:
                raise LocalProtocolError(f"To already has tag {existing!r}, cannot set {to_tag!r}")
        copied.append(item)
    if 101 <= status_code <= 299 and request.method in _DIALOG_CREATING_METHODS:
        copied.extend(item for item in src if item[0] == "record-route")
    if status_code == 100:
        copied.extend(item for item in src if item[0] == "timestamp")
    response = Response(status_code, reason, Headers.from_trusted_items(copied), bytes(body))
    for name, value in headers:
        response.headers.add(name, value)
    if content_type is not None:
        response.headers.set("Content-Type", content_type)
    return response


def clear_parse_caches() -> None:
    """Empty every parse cache of the message layer (for benchmarks that measure cold parsing)."""
    clear_uri_caches()
    clear_header_caches()
    _token_list.cache_clear()
    _media_type.cache_clear()
