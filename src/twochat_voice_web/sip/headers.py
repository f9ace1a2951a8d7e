"""SIP header fields: the ordered :class:`Headers` list and typed values (RFC 3261 §7.3, §20, §25).

:class:`Headers` keeps every field as the ``(name, value)`` pair that was received or added: names keep
their wire spelling (``v``, ``VIA``, ``Via``), values are the raw text with the surrounding whitespace
removed, and unknown headers round-trip unchanged. Lookups are case-insensitive and understand compact
forms (``get("Via")`` also finds ``v:`` lines).

Typed values (:class:`NameAddr`, :class:`Via`, :class:`CSeq`) are frozen dataclasses produced by the
``parse_*`` functions, which are cached by raw text so that asking a message for its ``via`` twice costs
one parse. The functions that return lists return a fresh list each time.

Header-parameter values (``tag``, ``expires``, ``+sip.instance``, ``branch``...) are stored **as written**:
a quoted-string value keeps its double quotes (``'"<urn:uuid:...>"'``), so that re-serialising gives the
same text. Use :func:`unquote_string` to read the content of a quoted value and :func:`quote_string` to
build one.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, replace

from . import grammar as g
from .errors import LocalProtocolError, ParseError
from .uri import (
    AbsoluteUri,
    Params,
    SipUri,
    TelUri,
    Uri,
    build_trusted,
    find_param,
    params_with,
    params_without,
    parse_uri,
    snippet,
)

__all__ = [
    "COMPACT_FORMS",
    "CSeq",
    "Headers",
    "NameAddr",
    "Via",
    "canonical_name",
    "clear_header_caches",
    "parse_cseq",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_params",
    "parse_via",
    "parse_via_list",
    "quote_string",
    "split_list",
    "unquote_string",
]

_CACHE_SIZE = 2048

COMPACT_FORMS: dict[str, str] = {
    "a": "Accept-Contact",
    "b": "Referred-By",
    "c": "Content-Type",
    "d": "Request-Disposition",
    "e": "Content-Encoding",
    "f": "From",
    "i": "Call-ID",
    "j": "Reject-Contact",
    "k": "Supported",
    "l": "Content-Length",
    "m": "Contact",
    "o": "Event",
    "r": "Refer-To",
    "s": "Subject",
    "t": "To",
    "u": "Allow-Events",
    "v": "Via",
    "x": "Session-Expires",
    "y": "Identity",
}
"""Compact header names (RFC 3261 §7.3.3 and later RFCs) mapped to their long canonical names."""

_KNOWN_HEADERS = (
    "Accept",
    "Accept-Contact",
    "Accept-Encoding",
    "Accept-Language",
    "Alert-Info",
    "Allow",
    "Allow-Events",
    "Authentication-Info",
    "Authorization",
    "Call-ID",
    "Call-Info",
    "Contact",
    "Content-Disposition",
    "Content-Encoding",
    "Content-Language",
    "Content-Length",
    "Content-Type",
    "CSeq",
    "Date",
    "Error-Info",
    "Event",
    "Expires",
    "From",
    "Identity",
    "In-Reply-To",
    "Max-Forwards",
    "Min-Expires",
    "Min-SE",
    "MIME-Version",
    "Organization",
    "P-Asserted-Identity",
    "P-Preferred-Identity",
    "Path",
    "Priority",
    "Privacy",
    "Proxy-Authenticate",
    "Proxy-Authorization",
    "Proxy-Require",
    "RAck",
    "Reason",
    "Record-Route",
    "Refer-To",
    "Referred-By",
    "Reject-Contact",
    "Replaces",
    "Reply-To",
    "Request-Disposition",
    "Require",
    "Retry-After",
    "Route",
    "RSeq",
    "Server",
    "Service-Route",
    "Session-Expires",
    "SIP-ETag",
    "SIP-If-Match",
    "Subject",
    "Subscription-State",
    "Supported",
    "Timestamp",
    "To",
    "Unsupported",
    "User-Agent",
    "Via",
    "Warning",
    "WWW-Authenticate",
)
_CANONICAL: dict[str, str] = {name.lower(): name for name in _KNOWN_HEADERS}
for _short, _long in COMPACT_FORMS.items():
    _CANONICAL[_short] = _long

# key used for lookups: lower-case long name.  Pre-filled for the spellings seen on the wire.
HEADER_KEYS: dict[str, str] = {}
for _lower, _name in _CANONICAL.items():
    for _spelling in (_lower, _name, _lower.upper()):
        HEADER_KEYS[_spelling] = _name.lower()


def header_key(name: str) -> str:
    """Return the lookup key of a header name: lower-case, compact forms expanded."""
    key = HEADER_KEYS.get(name)
    if key is not None:
        return key
    lower = name.lower()
    canonical = _CANONICAL.get(lower)
    return canonical.lower() if canonical is not None else lower


def canonical_name(name: str) -> str:
    """Return the canonical spelling of a header name: compact forms expanded (``"i"`` -> ``"Call-ID"``),
    known headers in their RFC spelling (``"call-id"`` -> ``"Call-ID"``), unknown names unchanged."""
    return _CANONICAL.get(name.lower(), name)


def _check_name(name: str) -> None:
    """Raise LocalProtocolError unless ``name`` is a header-name token."""
    if not isinstance(name, str) or not g.TOKEN_RE.fullmatch(name):
        raise LocalProtocolError(f"header name is not a token: {name!r}")


def _blank_controls(quoted: re.Match[str]) -> str:
    """Replace the (escaped) control characters of one quoted-string by '?', keeping every offset."""
    return g.FORBIDDEN_HEADER_CHAR_RE.sub("?", quoted.group())


def unquoted_control(text: str, forbidden: re.Pattern[str]) -> re.Match[str] | None:
    """Return the first match of ``forbidden`` in ``text`` that is not the character of a quoted-pair in a
    quoted-string (RFC 3261 §25.1: ``quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F)``), or None.

    Only called once a control character was found, so the common case never pays for it.
    """
    return forbidden.search(g.QUOTED_CONTROLS_RE.sub(_blank_controls, text))


def check_header_value(name: str, value: str) -> None:
    """Raise LocalProtocolError if a header value contains CR, LF, NUL or another control character
    other than HTAB, except as the escaped character of a quoted-pair."""
    if not isinstance(value, str):
        raise LocalProtocolError(f"{name}: header value must be a str, got {type(value).__name__}")
    bad = g.FORBIDDEN_VALUE_CHAR_RE.search(value)
    if bad is not None:
        bad = unquoted_control(value, g.FORBIDDEN_VALUE_CHAR_RE)
    if bad is not None:
        raise LocalProtocolError(
            f"{name}: header value contains the control character {bad.group()!r} (CR, LF, NUL and other "
            "control characters other than HTAB are allowed only as a quoted-pair inside a quoted string)"
        )
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{name}: header value cannot be encoded as UTF-8") from None


class Headers:
    """An ordered list of SIP header fields ``(name, value)``.

    Names keep their spelling; lookups by name are case-insensitive and compact-form aware. Values are
    raw text. ``add``/``prepend``/``set`` refuse names that are not tokens and values with CR, LF, NUL or
    other control characters (HTAB excepted), so a header built here can never split a line on the wire.

    Lookups go through an index (lookup key -> values, in order) built on first use and dropped by every
    change, so reading a parsed message's dozen headers costs one pass over them, not one per lookup.
    """

    __slots__ = ("_index", "_items")

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: list[tuple[str, str, str]] = []
        self._index: dict[str, list[str]] | None = None
        for name, value in items:
            self.add(name, value)

    @classmethod
    def from_trusted_items(cls, items: list[tuple[str, str, str]]) -> Headers:
        """Build from already validated ``(key, name, value)`` triples (used by the parser)."""
        headers = cls.__new__(cls)
        headers._items = items
        headers._index = None
        return headers

    def _lookup(self) -> dict[str, list[str]]:
        """The index: lookup key -> every value of that header, in order (built once per change)."""
        index = self._index
        if index is None:
            index = {}
            for key, _, value in self._items:
                values = index.get(key)
                if values is None:
                    index[key] = [value]
                else:
                    values.append(value)
            self._index = index
        return index

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for _, name, value in self._items:
            yield name, value

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, name: object) -> bool:
        if not isinstance(name, str):
            return False
        return header_key(name) in self._lookup()

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Headers):
            return NotImplemented
        return [item[1:] for item in self._items] == [item[1:] for item in other._items]

    __hash__ = None  # type: ignore[assignment]  # mutable

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"

    def get(self, name: str) -> str | None:
        """Return the first value of header ``name``, raw, or None when absent."""
        values = self._lookup().get(header_key(name))
        return values[0] if values else None

    def get_all(self, name: str) -> list[str]:
        """Return every value of header ``name``, one per header line, raw and unsplit."""
        values = self._lookup().get(header_key(name))
        return list(values) if values else []

    def _values(self, name: str) -> Sequence[str]:
        """Every value of header ``name`` without a copy (read-only: for the typed views of messages)."""
        return self._lookup().get(header_key(name)) or ()

    def get_list(self, name: str) -> list[str]:
        """Return every element of a list header: each line split at top-level commas (quoted strings and
        ``<...>`` respected), elements stripped, empty elements skipped.

        Raises:
            ParseError: a value has an unterminated quoted string or ``<``.
        """
        key = header_key(name)
        out: list[str] = []
        for item in self._items:
            if item[0] == key:
                out.extend(element for element in split_list_cached(item[2], item[1]) if element)
        return out

    def count(self, name: str) -> int:
        """Return how many header lines are called ``name``."""
        values = self._lookup().get(header_key(name))
        return len(values) if values else 0

    def add(self, name: str, value: str) -> None:
        """Append a header field.

        Raises:
            LocalProtocolError: ``name`` is not a token, or ``value`` has CR, LF, NUL or other controls.
        """
        _check_name(name)
        check_header_value(name, value)
        self._items.append((header_key(name), name, value))
        self._index = None

    def prepend(self, name: str, value: str) -> None:
        """Insert a header field before all others (a new top Via, for instance).

        Raises:
            LocalProtocolError: as :meth:`add`.
        """
        _check_name(name)
        check_header_value(name, value)
        self._items.insert(0, (header_key(name), name, value))
        self._index = None

    def set(self, name: str, value: str) -> None:
        """Replace every ``name`` field by one ``name: value`` at the place of the first, or append it.

        Raises:
            LocalProtocolError: as :meth:`add`.
        """
        _check_name(name)
        check_header_value(name, value)
        key = header_key(name)
        new: list[tuple[str, str, str]] = []
        placed = False
        for item in self._items:
            if item[0] == key:
                if not placed:
                    new.append((key, name, value))
                    placed = True
            else:
                new.append(item)
        if not placed:
            new.append((key, name, value))
        self._items = new
        self._index = None

    def remove(self, name: str) -> None:
        """Remove every ``name`` field (no error when there is none)."""
        key = header_key(name)
        self._items = [item for item in self._items if item[0] != key]
        self._index = None

    def copy(self) -> Headers:
        """Return an independent copy."""
        return Headers.from_trusted_items(list(self._items))


def split_list(text: str, what: str = "header") -> list[str]:
    """Split a header value at top-level commas (quoted strings and ``<...>`` are opaque).

    Elements are stripped of surrounding whitespace; empty elements are kept as ``""`` so that callers
    can refuse them.

    Raises:
        ParseError: an unterminated quoted string or ``<``, naming ``what``.
    """
    return list(split_list_cached(text, what))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def split_list_cached(text: str, what: str) -> tuple[str, ...]:
    """Cached body of :func:`split_list`."""
    if '"' not in text and "<" not in text:
        return tuple(part.strip(" \t") for part in text.split(","))
    out: list[str] = []
    pos = 0
    end = len(text)
    match = g.LIST_ELEMENT_RE.match
    while True:
        m = match(text, pos)
        stop = m.end() if m is not None else pos
        out.append(text[pos:stop].strip(" \t"))
        if stop == end:
            return tuple(out)
        if text[stop] != ",":
            kind = "quoted string" if text[stop] == '"' else "'<'"
            raise ParseError(f"{what}: unterminated {kind} in {snippet(text)}")
        pos = stop + 1


def quote_string(s: str) -> str:
    """Return ``s`` as a quoted-string: ``"``, ``\\`` and control characters other than HTAB are escaped
    with a backslash (quoted-pairs, RFC 3261 §25.1).

    Raises:
        LocalProtocolError: ``s`` contains CR or LF, which no quoted-string can carry.
    """
    _check_quotable("quoted string", s)
    return '"' + g.QUOTE_ESCAPE_RE.sub(r"\\\g<0>", s) + '"'


def _check_quotable(what: str, s: str) -> None:
    """Raise LocalProtocolError unless ``s`` can be written as a quoted-string (no CR, LF; UTF-8)."""
    if "\r" in s or "\n" in s:
        raise LocalProtocolError(f"{what}: CR and LF cannot appear in a quoted string: {s!r}")
    if not s.isascii():
        try:
            s.encode("utf-8")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{what} cannot be encoded as UTF-8: {s!r}") from None


def unquote_string(s: str) -> str:
    """Return the content of a quoted-string with quoted-pairs resolved (``"a\\"b"`` -> ``a"b``).

    Text that does not start with ``"`` (after whitespace) is returned stripped and unchanged, so this can
    be applied to any gen-value (token or quoted-string).

    Raises:
        ParseError: the text starts with ``"`` but is not one complete quoted-string.
    """
    s = s.strip(" \t")
    if not s.startswith('"'):
        return s
    if not g.QUOTED_STRING_RE.fullmatch(s):
        raise ParseError(f"not a valid quoted string: {snippet(s)}")
    inner = s[1:-1]
    if "\\" not in inner:
        return inner
    return g.QUOTED_PAIR_SUB_RE.sub(r"\1", inner)


def _check_gen_value(owner: str, name: str, value: str | None) -> None:
    """Raise LocalProtocolError unless ``name`` is a token and ``value`` a gen-value (or None)."""
    if not isinstance(name, str) or not g.TOKEN_RE.fullmatch(name):
        raise LocalProtocolError(f"{owner} parameter name is not a token: {name!r}")
    if value is not None and (not isinstance(value, str) or not g.GEN_VALUE_RE.fullmatch(value)):
        raise LocalProtocolError(
            f"{owner} parameter {name!r}: value must be a token, a host or a quoted string "
            f"(use quote_string), got {value!r}"
        )


def _format_params(params: Params) -> str:
    """Serialise header parameters as ``;name=value;flag``."""
    return "".join(f";{name}" if value is None else f";{name}={value}" for name, value in params)


def parse_params(text: str) -> Params:
    """Parse header parameters ``;a=b;c`` (the leading ``;`` is optional); values are kept as written.

    Raises:
        ParseError: the text is not a list of generic-params.
    """
    if not isinstance(text, str):
        raise ParseError(f"parameters must be text, got {type(text).__name__}")
    stripped = text.strip(" \t")
    if stripped and not stripped.startswith(";"):
        stripped = ";" + stripped
    return _parse_header_params(stripped, "parameters")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_header_params(text: str, what: str) -> Params:
    """Validate and split ``;a=b;c`` header parameters (``text`` may start/end with whitespace)."""
    if not text or text.isspace():
        return ()
    if not g.HEADER_PARAMS_RE.fullmatch(text):
        raise ParseError(f"{what}: parameters are not valid: {snippet(text)}")
    return tuple((name, value or None) for name, value in g.HEADER_PARAM_ITEM_RE.findall(text))


# --- name-addr ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NameAddr:
    """A name-addr or addr-spec with header parameters: From, To, Contact, Route, Record-Route, Refer-To.

    Attributes:
        uri: the address.
        display_name: the display name, unquoted and unescaped, or None.
        params: header parameters in order (``tag``, ``expires``, ``q``, ``+sip.instance``...), values as
            written (a quoted value keeps its quotes).
    """

    uri: Uri
    display_name: str | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        if not isinstance(self.uri, SipUri | TelUri | AbsoluteUri):
            raise LocalProtocolError(
                f"NameAddr uri must be a SipUri, TelUri or AbsoluteUri, got {self.uri!r}"
            )
        if self.display_name is not None:
            if not isinstance(self.display_name, str):
                raise LocalProtocolError(f"display name must be a str, got {self.display_name!r}")
            _check_quotable("display name", self.display_name)
        for name, value in self.params:
            _check_gen_value("NameAddr", name, value)

    def has_param(self, name: str) -> bool:
        """Return True if header parameter ``name`` (case-insensitive) is present."""
        return find_param(self.params, name) is not None

    def param(self, name: str) -> str | None:
        """Return the value of header parameter ``name``; None when absent or value-less."""
        item = find_param(self.params, name)
        return None if item is None else item[1]

    def with_param(self, name: str, value: str | None = None) -> NameAddr:
        """Return a copy with header parameter ``name`` set (replaced in place, or appended).

        Raises:
            LocalProtocolError: the name is not a token or the value not a token/host/quoted-string.
        """
        return replace(self, params=params_with(self.params, name, value))

    def without_param(self, name: str) -> NameAddr:
        """Return a copy without header parameter ``name``."""
        return replace(self, params=params_without(self.params, name))

    @property
    def tag(self) -> str | None:
        """The ``tag`` parameter, or None."""
        return self.param("tag")

    def __str__(self) -> str:
        params = _format_params(self.params) if self.params else ""
        if self.display_name is None:
            return f"<{self.uri}>{params}"
        return f"{quote_string(self.display_name)} <{self.uri}>{params}"


def parse_name_addr(text: str) -> NameAddr:
    """Parse a name-addr (``"Alice" <sip:a@b>;tag=1``) or an addr-spec (``sip:a@b;tag=1``).

    After an addr-spec without angle brackets, every ``;param`` is a header parameter (RFC 3261 §20.10),
    and the URI must not contain ``,``, ``?`` or ``;``.

    Raises:
        ParseError: naming what is wrong.
    """
    if not isinstance(text, str):
        raise ParseError(f"name-addr must be text, got {type(text).__name__}")
    return parse_name_addr_cached(text, "name-addr")


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parse_name_addr_cached(text: str, what: str) -> NameAddr:
    """Cached body of :func:`parse_name_addr`; ``what`` names the header in error messages."""
    display: str | None = None
    m = g.NAME_ADDR_RE.fullmatch(text)
    if m is not None:
        quoted = m.group("quoted")
        display = unquote_string(quoted) if quoted is not None else m.group("tokens")
    else:
        if "<" in text or ">" in text:
            raise ParseError(_explain_bad_name_addr(text, what))
        m = g.ADDR_SPEC_FORM_RE.fullmatch(text)
        if m is None:
            stripped = text.strip(" \t")
            if not stripped:
                raise ParseError(f"{what}: empty value")
            if stripped.startswith('"'):
                raise ParseError(f"{what}: display name without <addr-spec>: {snippet(text)}")
            raise ParseError(
                f"{what}: not a name-addr or addr-spec (a URI with spaces, ',' or quotes "
                f"must be in <...>): {snippet(text)}"
            )
        if "?" in m.group("uri"):
            raise ParseError(f"{what}: a URI with '?' headers must be enclosed in <...>: {snippet(text)}")
    try:
        uri = parse_uri(m.group("uri"))
    except ParseError as exc:
        raise ParseError(f"{what}: {exc.message}") from None
    params = _parse_header_params(m.group("params"), what)
    for name, value in params:
        if value is None and name.lower() == "tag":
            raise ParseError(f"{what}: tag parameter without a value: {snippet(text)}")
    return build_trusted(NameAddr, uri, display, params)


def _explain_bad_name_addr(text: str, what: str) -> str:
    """Name the problem in a name-addr that contains angle brackets but does not match the grammar."""
    stripped = text.strip(" \t")
    if stripped.count('"') % 2 == 1 and not g.QUOTED_STRING_RE.search(stripped):
        return f"{what}: unterminated quoted string in display name: {snippet(text)}"
    if stripped.startswith('"') and not g.QUOTED_STRING_RE.match(stripped):
        return f"{what}: unterminated quoted string in display name: {snippet(text)}"
    if ">" not in stripped or stripped.find(">") < stripped.find("<") or "<" not in stripped:
        return f"{what}: unbalanced '<' '>' around the URI: {snippet(text)}"
    after = stripped[stripped.find(">") + 1 :].strip(" \t")
    if after and not after.startswith(";"):
        return f"{what}: unexpected text after '>' (parameters start with ';'): {snippet(text)}"
    inner = stripped[stripped.find("<") + 1 : stripped.find(">")]
    if any(c in inner for c in " \t"):
        return f"{what}: whitespace inside <addr-spec>: {snippet(text)}"
    before = stripped[: stripped.find("<")].strip(" \t")
    if before and not before.startswith('"') and not g.DISPLAY_NAME_TOKENS_RE.fullmatch(before):
        return f"{what}: display name must be tokens or a quoted string: {snippet(text)}"
    return f"{what}: not a valid name-addr: {snippet(text)}"


def parse_name_addr_list(text: str) -> list[NameAddr]:
    """Parse a comma-separated list of name-addrs (Contact except ``*``, Route, Record-Route).

    Raises:
        ParseError: an element is empty or not a name-addr/addr-spec (``*`` included).
    """
    if not isinstance(text, str):
        raise ParseError(f"name-addr list must be text, got {type(text).__name__}")
    return list(parse_name_addr_list_cached(text, "name-addr list"))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parse_name_addr_list_cached(text: str, what: str) -> tuple[NameAddr, ...]:
    """Cached body of :func:`parse_name_addr_list`."""
    out: list[NameAddr] = []
    for element in split_list_cached(text, what):
        if not element:
            raise ParseError(f"{what}: empty element in {snippet(text)}")
        if element == "*":
            raise ParseError(f"{what}: '*' is only allowed alone, in a Contact of a REGISTER")
        out.append(parse_name_addr_cached(element, what))
    return tuple(out)


# --- Via ------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Via:
    """One via-parm: ``SIP/2.0/WSS host:port;branch=z9hG4bK...;rport``.

    Attributes:
        transport: the transport in upper case (``"WS"``, ``"WSS"``, ``"UDP"``, ``"TCP"``, ``"TLS"``).
        host: the sent-by host as written (an IPv6 reference keeps its brackets).
        port: the sent-by port, or None.
        params: via parameters in order, values as written (``rport`` without value is ``None``).
    """

    transport: str
    host: str
    port: int | None = None
    params: Params = ()

    def __post_init__(self) -> None:
        if not isinstance(self.transport, str) or not g.TOKEN_RE.fullmatch(self.transport):
            raise LocalProtocolError(f"Via transport is not a token: {self.transport!r}")
        if not isinstance(self.host, str) or not g.HOST_RE.fullmatch(self.host):
            raise LocalProtocolError(
                f"Via host is not a hostname, IPv4 address or IPv6 reference: {self.host!r}"
            )
        if self.port is not None and (
            isinstance(self.port, bool) or not isinstance(self.port, int) or not 0 <= self.port <= 65535
        ):
            raise LocalProtocolError(f"Via port must be an int in 0..65535, got {self.port!r}")
        for name, value in self.params:
            _check_gen_value("Via", name, value)

    def has_param(self, name: str) -> bool:
        """Return True if parameter ``name`` (case-insensitive) is present."""
        return find_param(self.params, name) is not None

    def param(self, name: str) -> str | None:
        """Return the value of parameter ``name``; None when absent or value-less."""
        item = find_param(self.params, name)
        return None if item is None else item[1]

    def with_param(self, name: str, value: str | None = None) -> Via:
        """Return a copy with parameter ``name`` set (replaced in place, or appended).

        Raises:
            LocalProtocolError: the name is not a token or the value not a token/host/quoted-string.
        """
        return replace(self, params=params_with(self.params, name, value))

    def without_param(self, name: str) -> Via:
        """Return a copy without parameter ``name``."""
        return replace(self, params=params_without(self.params, name))

    @property
    def branch(self) -> str | None:
        """The ``branch`` parameter, or None."""
        return self.param("branch")

    @property
    def received(self) -> str | None:
        """The ``received`` parameter, or None."""
        return self.param("received")

    @property
    def rport(self) -> int | None:
        """The ``rport`` value filled in by a server, or None (also when present as a bare flag)."""
        value = self.param("rport")
        return int(value) if value is not None and g.DIGITS_RE.fullmatch(value) else None

    @property
    def sent_by(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        params = _format_params(self.params) if self.params else ""
        return f"SIP/2.0/{self.transport} {self.sent_by}{params}"


def parse_via(text: str) -> Via:
    """Parse one via-parm (a single element of a Via header).

    Raises:
        ParseError: naming what is wrong.
    """
    if not isinstance(text, str):
        raise ParseError(f"Via must be text, got {type(text).__name__}")
    return _parse_via(text.strip(" \t"))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def _parse_via(text: str) -> Via:
    """Cached body of :func:`parse_via` (``text`` already stripped)."""
    m = g.VIA_PARM_RE.fullmatch(text)
    if m is None:
        raise ParseError(_explain_bad_via(text))
    if m.group("proto").upper() != "SIP" or m.group("version") != "2.0":
        raise ParseError(f"Via: sent-protocol must be SIP/2.0: {snippet(text)}")
    port_text = m.group("port")
    port = int(port_text) if port_text is not None else None
    if port is not None and port > 65535:
        raise ParseError(f"Via: port out of range (0..65535): {snippet(text)}")
    params = _parse_header_params(m.group("params"), "Via")
    for name, value in params:
        lname = name.lower()
        if lname == "branch":
            if value is None or not g.TOKEN_RE.fullmatch(value):
                raise ParseError(f"Via: branch needs a token value: {snippet(text)}")
        elif lname == "received":
            if value is None or not (
                g.IPV4_RE.fullmatch(value)
                or g.IPV6ADDRESS_RE.fullmatch(value)
                or g.IPV6REFERENCE_RE.fullmatch(value)
            ):
                raise ParseError(f"Via: received must be an IP address: {snippet(text)}")
        elif lname == "rport":
            if value is not None and not (
                g.DIGITS_RE.fullmatch(value) and len(value) <= 5 and int(value) <= 65535
            ):
                raise ParseError(f"Via: rport must be empty or a port number: {snippet(text)}")
        elif lname == "ttl":
            if value is None or not (g.DIGITS_RE.fullmatch(value) and len(value) <= 3 and int(value) <= 255):
                raise ParseError(f"Via: ttl must be 0..255: {snippet(text)}")
        elif lname == "maddr" and (value is None or not g.HOST_RE.fullmatch(value)):
            raise ParseError(f"Via: maddr must be a host: {snippet(text)}")
    return build_trusted(Via, m.group("transport").upper(), m.group("host"), port, params)


def _explain_bad_via(text: str) -> str:
    """Name the problem in a via-parm that does not match the grammar."""
    if not text:
        return "Via: empty value"
    proto, _, rest = text.partition("/")
    if not rest or not g.TOKEN_RE.fullmatch(proto.strip(" \t")):
        return f"Via: sent-protocol must be SIP/2.0/<transport>: {snippet(text)}"
    parts = [p.strip(" \t") for p in text.split("/", 2)]
    if len(parts) < 3:
        return f"Via: sent-protocol must be SIP/2.0/<transport>: {snippet(text)}"
    transport_and_rest = parts[2]
    transport, _, sent_by = transport_and_rest.partition(" ")
    if not sent_by.strip(" \t"):
        transport, _, sent_by = transport_and_rest.partition("\t")
    sent_by = sent_by.strip(" \t")
    if not g.TOKEN_RE.fullmatch(transport) or not sent_by:
        return f"Via: missing sent-by host after the transport: {snippet(text)}"
    host_port = sent_by.partition(";")[0]
    host_port = host_port.strip(" \t")
    if host_port.startswith("["):
        host = host_port[: host_port.find("]") + 1] if "]" in host_port else host_port
    else:
        host = host_port.partition(":")[0].strip(" \t")
    if not g.HOST_RE.fullmatch(host):
        return f"Via: sent-by host is not valid: {snippet(text)}"
    after_host = host_port[len(host) :].strip(" \t")
    if after_host and not g.DIGITS_RE.fullmatch(after_host.lstrip(":").strip(" \t")):
        return f"Via: sent-by port is not a number: {snippet(text)}"
    return f"Via: parameters are not valid: {snippet(text)}"


def parse_via_list(text: str) -> list[Via]:
    """Parse a Via header value (one or more comma-separated via-parms).

    Raises:
        ParseError: naming what is wrong.
    """
    if not isinstance(text, str):
        raise ParseError(f"Via must be text, got {type(text).__name__}")
    return list(parse_via_list_cached(text))


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parse_via_list_cached(text: str) -> tuple[Via, ...]:
    """Cached body of :func:`parse_via_list`."""
    out: list[Via] = []
    for element in split_list_cached(text, "Via"):
        if not element:
            raise ParseError(f"Via: empty element in {snippet(text)}")
        out.append(_parse_via(element))
    return tuple(out)


# --- CSeq -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CSeq:
    """A CSeq value: sequence number (0 <= seq < 2**31) and method."""

    seq: int
    method: str

    def __post_init__(self) -> None:
        if isinstance(self.seq, bool) or not isinstance(self.seq, int) or not 0 <= self.seq < 2**31:
            raise LocalProtocolError(f"CSeq number must be an int in 0..2**31-1, got {self.seq!r}")
        if not isinstance(self.method, str) or not g.TOKEN_RE.fullmatch(self.method):
            raise LocalProtocolError(f"CSeq method is not a token: {self.method!r}")

    def __str__(self) -> str:
        return f"{self.seq} {self.method}"


def parse_cseq(text: str) -> CSeq:
    """Parse a CSeq value such as ``"314159 INVITE"``.

    Raises:
        ParseError: not ``number method``, or the number is 2**31 or more.
    """
    if not isinstance(text, str):
        raise ParseError(f"CSeq must be text, got {type(text).__name__}")
    return parse_cseq_cached(text)


@functools.lru_cache(maxsize=_CACHE_SIZE)
def parse_cseq_cached(text: str) -> CSeq:
    """Cached body of :func:`parse_cseq`."""
    m = g.CSEQ_RE.fullmatch(text.strip(" \t"))
    if m is None:
        raise ParseError(f"CSeq: expected '<number> <method>': {snippet(text)}")
    digits = m.group("seq").lstrip("0") or "0"
    if len(digits) > 10 or int(digits) >= 2**31:
        raise ParseError(f"CSeq: sequence number must be less than 2**31: {snippet(text)}")
    return build_trusted(CSeq, int(digits), m.group("method"))


def clear_header_caches() -> None:
    """Empty the header parse caches (for benchmarks that measure cold parsing)."""
    for cached in (
        split_list_cached,
        _parse_header_params,
        parse_name_addr_cached,
        parse_name_addr_list_cached,
        _parse_via,
        parse_via_list_cached,
        parse_cseq_cached,
    ):
        cached.cache_clear()
