"""SIP, SIPS, tel and other URIs (RFC 3261 §19.1, RFC 3966).

Parsed URIs are frozen dataclasses: :class:`SipUri` for ``sip:``/``sips:``, :class:`TelUri` for ``tel:``
and :class:`AbsoluteUri` for every other scheme (kept opaque). :func:`parse_uri` picks the right one.

Escaping: the components of a :class:`SipUri` are stored **unescaped** (``%61lice`` becomes ``alice``), and
``str()`` escapes every character that the grammar does not allow in that component, so a serialised URI
never contains CR, LF, SP or an unescaped separator. Escaped octets that are not valid UTF-8 (``%FF``) are
kept as lone surrogates (Python's ``surrogateescape``) so that they are written back as the same octets.

Parsing is cached by the raw text (the results are immutable), so parsing the same URI again is cheap.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from dataclasses import dataclass, replace
from typing import TypeVar
from urllib.parse import quote as _url_quote
from urllib.parse import unquote as _url_unquote

from . import grammar as g
from .errors import LocalProtocolError, ParseError

__all__ = [
    "AbsoluteUri",
    "Params",
    "SipUri",
    "TelUri",
    "Uri",
    "clear_uri_caches",
    "parse_sip_uri",
    "parse_uri",
]

_T = TypeVar("_T")

Params = tuple[tuple[str, str | None], ...]
"""Ordered parameters; a value of ``None`` is a parameter written without ``=value``."""

_URI_CACHE_SIZE = 2048

# Characters written as-is in each SIP-URI component (everything else is %-escaped).
_SAFE_USER = "-_.!~*'()&=+$,;?/"
_SAFE_PASSWORD = "-_.!~*'()&=+$,"
_SAFE_PARAM = "-_.!~*'()[]/:&+$"
_SAFE_HEADER = "-_.!~*'()[]/?:+$"

# Parameters that, when present in only one of two URIs, make them differ (RFC 3261 §19.1.4).
_SIGNIFICANT_PARAMS = frozenset({"user", "ttl", "method", "maddr", "transport"})


def snippet(text: str, limit: int = 60) -> str:
    """Return ``repr(text)`` shortened for an error message."""
    if len(text) > limit:
        return repr(text[:limit]) + "..."
    return repr(text)


def _unescape(text: str) -> str:
    """Decode %-escapes; invalid UTF-8 octets become lone surrogates (surrogateescape)."""
    if "%" not in text:
        return text
    return _url_unquote(text, errors="surrogateescape")


def _escape(text: str, safe: str) -> str:
    """%-escape every character of ``text`` that is not alphanumeric or in ``safe``."""
    return _url_quote(text.encode("utf-8", "surrogateescape"), safe=safe)


def build_trusted(cls: type[_T], *values: object) -> _T:
    """Build a frozen slotted dataclass without running ``__post_init__``.

    Only for values that a parser has already validated against the grammar: it skips the checks that
    protect hand-built objects, which would repeat work on the hot parse path.
    """
    obj = object.__new__(cls)
    for name, value in zip(cls.__slots__, values, strict=True):  # type: ignore[attr-defined]
        object.__setattr__(obj, name, value)
    return obj


def _split_uri_params(text: str) -> Params:
    """Split validated ``;a=b;c`` uri-parameters into unescaped pairs."""
    if not text:
        return ()
    out: list[tuple[str, str | None]] = []
    for item in text[1:].split(";"):
        name, eq, value = item.partition("=")
        out.append((_unescape(name), _unescape(value) if eq else None))
    return tuple(out)


def find_param(params: Params, name: str) -> tuple[str, str | None] | None:
    """Return the first parameter whose name equals ``name`` case-insensitively."""
    lname = name.lower()
    for item in params:
        if item[0].lower() == lname:
            return item
    return None


def params_without(params: Params, name: str) -> Params:
    """Return ``params`` without any parameter called ``name`` (case-insensitive)."""
    lname = name.lower()
    return tuple(item for item in params if item[0].lower() != lname)


def params_with(params: Params, name: str, value: str | None) -> Params:
    """Replace the first ``name`` parameter in place (dropping duplicates) or append it."""
    lname = name.lower()
    out: list[tuple[str, str | None]] = []
    replaced = False
    for item in params:
        if item[0].lower() == lname:
            if not replaced:
                out.append((name, value))
                replaced = True
        else:
            out.append(item)
    if not replaced:
        out.append((name, value))
    return tuple(out)


def _check_port(port: int | None, what: str) -> None:
    """Raise LocalProtocolError unless ``port`` is None or in 0..65535."""
    if port is not None and (isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535):
        raise LocalProtocolError(f"{what}: port must be an int in 0..65535, got {port!r}")


def _check_text(value: str, what: str) -> None:
    """Raise LocalProtocolError unless ``value`` is a str that can be %-escaped as UTF-8 octets."""
    if not isinstance(value, str):
        raise LocalProtocolError(f"{what} must be a str, got {type(value).__name__}")
    if not value.isascii():
        try:
            value.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:
            raise LocalProtocolError(f"{what} cannot be encoded as UTF-8: {value!r}") from None


def _normalise_host(host: str) -> str:
    """Lower-case a host and canonicalise IPv6 references for comparison."""
    host = host.lower()
    if host.startswith("["):
        # RFC 5118 §4.10: "[2001:db8:::192.0.2.1]" (RFC 3261's ABNF bug) is "[2001:db8::192.0.2.1]".
        address = host[1:-1].replace(":::", "::", 1)
        try:
            return "[" + str(ipaddress.IPv6Address(address)) + "]"
        except ValueError:
            return host
    return host.removesuffix(".") if not g.IPV4_RE.fullmatch(host) else host


@dataclass(frozen=True, slots=True)
class SipUri:
    """A ``sip:`` or ``sips:`` URI (RFC 3261 §19.1.1).

    Attributes:
        scheme: ``"sip"`` or ``"sips"`` (lower-case).
        user: the user part, unescaped, or None.
        password: the password part, unescaped, or None.
        host: a host name, an IPv4 address, or an IPv6 reference ``"[::1]"``, as written.
        port: the port, or None when absent.
        params: uri-parameters in order, unescaped; names as written.
        headers: the ``?name=value&...`` header components, unescaped.
    """

    scheme: str = "sip"
    user: str | None = None
    password: str | None = None
    host: str = ""
    port: int | None = None
    params: Params = ()
    headers: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        if self.scheme not in ("sip", "sips"):
            raise LocalProtocolError(f"SipUri scheme must be 'sip' or 'sips', got {self.scheme!r}")
        if not isinstance(self.host, str) or not g.HOST_RE.fullmatch(self.host):
            raise LocalProtocolError(
                f"SipUri host is not a hostname, IPv4 address or IPv6 reference: {self.host!r}"
            )
        _check_port(self.port, "SipUri")
        if self.user is not None:
            _check_text(self.user, "SipUri user")
            if not self.user:
                raise LocalProtocolError("SipUri user must not be empty (use None)")
        if self.password is not None:
            _check_text(self.password, "SipUri password")
            if self.user is None:
                raise LocalProtocolError("SipUri password needs a user")
        for name, value in self.params:
            _check_text(name, "SipUri parameter name")
            if not name:
                raise LocalProtocolError("SipUri parameter name must not be empty")
            if value is not None:
                _check_text(value, "SipUri parameter value")
                if not value:
                    raise LocalProtocolError(f"SipUri parameter {name!r}: value must not be empty (use None)")
        for name, value in self.headers:
            _check_text(name, "SipUri header name")
            _check_text(value, "SipUri header value")
            if not name:
                raise LocalProtocolError("SipUri header name must not be empty")

    def has_param(self, name: str) -> bool:
        """Return True if the URI has parameter ``name`` (case-insensitive), with or without a value."""
        return find_param(self.params, name) is not None

    def param(self, name: str) -> str | None:
        """Return the value of parameter ``name`` (case-insensitive); None when absent or value-less."""
        item = find_param(self.params, name)
        return None if item is None else item[1]

    def with_param(self, name: str, value: str | None = None) -> SipUri:
        """Return a copy with parameter ``name`` set to ``value`` (replaced in place, or appended)."""
        return replace(self, params=params_with(self.params, name, value))

    def without_param(self, name: str) -> SipUri:
        """Return a copy without parameter ``name`` (case-insensitive)."""
        return replace(self, params=params_without(self.params, name))

    @property
    def transport(self) -> str | None:
        """The ``transport`` parameter in lower case (``"ws"``, ``"wss"``, ``"udp"``...), or None."""
        value = self.param("transport")
        return value.lower() if value is not None else None

    @property
    def host_port(self) -> str:
        """``host`` or ``host:port``."""
        return self.host if self.port is None else f"{self.host}:{self.port}"

    @property
    def aor(self) -> str:
        """The address-of-record form ``scheme:user@host`` (no port, parameters or headers)."""
        if self.user is None:
            return f"{self.scheme}:{self.host.lower()}"
        return f"{self.scheme}:{_escape(self.user, _SAFE_USER)}@{self.host.lower()}"

    def matches(self, other: SipUri) -> bool:
        """Compare two URIs with the equivalence rules of RFC 3261 §19.1.4.

        Scheme, user and password compare case-sensitively after unescaping; host and parameter names and
        values case-insensitively. A ``user``, ``ttl``, ``method``, ``maddr`` or ``transport`` parameter
        present in only one URI makes them differ; other parameters present in only one are ignored.
        Header components must be present in both and equal. A missing port differs from an explicit one.
        """
        if not isinstance(other, SipUri):
            return False
        if self.scheme != other.scheme or self.user != other.user or self.password != other.password:
            return False
        if self.port != other.port or _normalise_host(self.host) != _normalise_host(other.host):
            return False
        mine = {name.lower(): value for name, value in reversed(self.params)}
        theirs = {name.lower(): value for name, value in reversed(other.params)}
        for name in mine.keys() | theirs.keys():
            if name in mine and name in theirs:
                a, b = mine[name], theirs[name]
                if (a is None) != (b is None) or (a is not None and b is not None and a.lower() != b.lower()):
                    return False
            elif name in _SIGNIFICANT_PARAMS:
                return False
        my_headers = {name.lower(): value for name, value in self.headers}
        their_headers = {name.lower(): value for name, value in other.headers}
        return my_headers == their_headers

    def __str__(self) -> str:
        parts = [self.scheme, ":"]
        if self.user is not None:
            parts.append(_escape(self.user, _SAFE_USER))
            if self.password is not None:
                parts.append(":")
                parts.append(_escape(self.password, _SAFE_PASSWORD))
            parts.append("@")
        parts.append(self.host)
        if self.port is not None:
            parts.append(f":{self.port}")
        for name, value in self.params:
            parts.append(";")
            parts.append(_escape(name, _SAFE_PARAM))
            if value is not None:
                parts.append("=")
                parts.append(_escape(value, _SAFE_PARAM))
        sep = "?"
        for name, value in self.headers:
            parts.append(sep)
            parts.append(_escape(name, _SAFE_HEADER))
            parts.append("=")
            parts.append(_escape(value, _SAFE_HEADER))
            sep = "&"
        return "".join(parts)


@dataclass(frozen=True, slots=True)
class TelUri:
    """A ``tel:`` URI (RFC 3966).

    Attributes:
        number: the telephone number as written, visual separators included (``"+1-555-0100"``).
        params: parameters in order (``ext``, ``isub``, ``phone-context``...), values unescaped.
    """

    number: str
    params: Params = ()

    def __post_init__(self) -> None:
        if not isinstance(self.number, str) or not g.TEL_NUMBER_RE.fullmatch(self.number):
            raise LocalProtocolError(f"TelUri number is not a global or local number: {self.number!r}")
        for name, value in self.params:
            if not isinstance(name, str) or not g.TEL_PNAME_RE.fullmatch(name):
                raise LocalProtocolError(f"TelUri parameter name is not valid: {name!r}")
            if value is not None:
                _check_text(value, "TelUri parameter value")
                if not value:
                    raise LocalProtocolError(f"TelUri parameter {name!r}: value must not be empty (use None)")

    @property
    def is_global(self) -> bool:
        """True for a global number (``+`` followed by digits)."""
        return self.number.startswith("+")

    @property
    def digits(self) -> str:
        """The number without visual separators (``"+15550100"``)."""
        return self.number.translate(_VISUAL_SEPARATORS)

    def has_param(self, name: str) -> bool:
        """Return True if parameter ``name`` (case-insensitive) is present."""
        return find_param(self.params, name) is not None

    def param(self, name: str) -> str | None:
        """Return the value of parameter ``name`` (case-insensitive); None when absent or value-less."""
        item = find_param(self.params, name)
        return None if item is None else item[1]

    def __str__(self) -> str:
        parts = ["tel:", self.number]
        for name, value in self.params:
            parts.append(";")
            parts.append(name)
            if value is not None:
                parts.append("=")
                parts.append(_escape(value, _SAFE_PARAM))
        return "".join(parts)


_VISUAL_SEPARATORS = str.maketrans("", "", "-.()")


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """A URI with any other scheme (``urn:``, ``http:``, ``mailto:``...), kept opaque.

    Attributes:
        scheme: the scheme in lower case.
        rest: everything after the ``:`` as written.
    """

    scheme: str
    rest: str

    def __post_init__(self) -> None:
        if not isinstance(self.scheme, str) or not g.SCHEME_RE.fullmatch(self.scheme):
            raise LocalProtocolError(f"AbsoluteUri scheme is not valid: {self.scheme!r}")
        if not isinstance(self.rest, str) or not g.OPAQUE_PART_RE.fullmatch(self.rest):
            raise LocalProtocolError(f"AbsoluteUri part after the scheme is not valid: {self.rest!r}")

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"


Uri = SipUri | TelUri | AbsoluteUri
"""Any URI that can appear in a Request-URI or a name-addr."""


def parse_sip_uri(text: str) -> SipUri:
    """Parse a ``sip:`` or ``sips:`` URI (cached by text; the result is immutable).

    Raises:
        ParseError: the text is not a SIP or SIPS URI, naming the part that is wrong.
    """
    if not isinstance(text, str):
        raise ParseError(f"SIP URI must be text, got {type(text).__name__}")
    return _parse_sip_uri(text)


@functools.lru_cache(maxsize=_URI_CACHE_SIZE)
def _parse_sip_uri(text: str) -> SipUri:
    """Cached body of :func:`parse_sip_uri`."""
    m = g.SIP_URI_RE.fullmatch(text)
    if m is None:
        raise ParseError(_explain_bad_sip_uri(text))
    port_text = m.group("port")
    port = int(port_text) if port_text is not None else None
    if port is not None and port > 65535:
        raise ParseError(f"SIP URI port out of range (0..65535): {snippet(text)}")
    user = m.group("user")
    password = m.group("password")
    headers_text = m.group("headers")
    headers: tuple[tuple[str, str], ...] = ()
    if headers_text:
        pairs: list[tuple[str, str]] = []
        for item in headers_text.split("&"):
            name, _, value = item.partition("=")
            pairs.append((_unescape(name), _unescape(value)))
        headers = tuple(pairs)
    return build_trusted(
        SipUri,
        m.group("scheme").lower(),
        _unescape(user) if user is not None else None,
        _unescape(password) if password is not None else None,
        m.group("host"),
        port,
        _split_uri_params(m.group("params")),
        headers,
    )


def _explain_bad_sip_uri(text: str) -> str:
    """Build an error message naming the first part of a bad SIP URI that does not follow the grammar."""
    scheme, colon, rest = text.partition(":")
    if not colon or scheme.lower() not in ("sip", "sips"):
        return f"not a sip: or sips: URI: {snippet(text)}"
    if not rest:
        return f"SIP URI has no host: {snippet(text)}"
    if any(c in rest for c in " \t\r\n"):
        return f"SIP URI contains whitespace: {snippet(text)}"
    hostport = rest
    if "@" in rest:
        userinfo, _, hostport = rest.rpartition("@")
        user, _, password = userinfo.partition(":")
        if not re.fullmatch(g.USER, user):
            return f"SIP URI user part is not valid (unescaped or bad %-escape): {snippet(text)}"
        if password and not re.fullmatch(g.PASSWORD, password):
            return f"SIP URI password is not valid: {snippet(text)}"
    hostport, _, tail = hostport.partition("?")
    hostport, _, params = hostport.partition(";")
    if hostport.startswith("[") and "]" not in hostport:
        return f"SIP URI host: unterminated IPv6 reference: {snippet(text)}"
    if hostport.startswith("["):
        host, _, after = hostport.partition("]")
        host += "]"
        port = after[1:] if after.startswith(":") else after
    else:
        host, _, port = hostport.partition(":")
    if not g.HOST_RE.fullmatch(host):
        return f"SIP URI host is not a hostname, IPv4 address or IPv6 reference: {snippet(text)}"
    if (port or hostport.endswith(":")) and not re.fullmatch(g.PORT, port):
        return f"SIP URI port is not a number: {snippet(text)}"
    if params and not g.URI_PARAMETERS_RE.fullmatch(";" + params):
        return f"SIP URI parameters are not valid: {snippet(text)}"
    if tail or text.endswith("?"):
        return f"SIP URI headers are not valid: {snippet(text)}"
    return f"SIP URI is not valid: {snippet(text)}"


def _parse_tel_uri(text: str) -> TelUri:
    """Parse a ``tel:`` URI (RFC 3966)."""
    m = g.TEL_URI_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"tel: URI is not valid (RFC 3966): {snippet(text)}")
    number = m.group("number")
    params = _split_uri_params(m.group("params"))
    if not number.startswith("+") and find_param(params, "phone-context") is None:
        raise ParseError(f"tel: URI with a local number needs a phone-context parameter: {snippet(text)}")
    return build_trusted(TelUri, number, params)


def parse_uri(text: str) -> Uri:
    """Parse any URI: ``sip:``/``sips:`` to :class:`SipUri`, ``tel:`` to :class:`TelUri`, anything else
    to :class:`AbsoluteUri` (cached by text; the result is immutable).

    Raises:
        ParseError: the text is not a URI of its scheme, naming what is wrong.
    """
    if not isinstance(text, str):
        raise ParseError(f"URI must be text, got {type(text).__name__}")
    return _parse_uri(text)


@functools.lru_cache(maxsize=_URI_CACHE_SIZE)
def _parse_uri(text: str) -> Uri:
    """Cached body of :func:`parse_uri`."""
    scheme, colon, _ = text.partition(":")
    lscheme = scheme.lower()
    if lscheme in ("sip", "sips"):
        return _parse_sip_uri(text)
    if lscheme == "tel":
        return _parse_tel_uri(text)
    if not colon:
        raise ParseError(f"URI has no scheme: {snippet(text)}")
    if not g.SCHEME_RE.fullmatch(scheme):
        raise ParseError(f"URI scheme is not valid: {snippet(text)}")
    if len(text) == len(scheme) + 1:
        raise ParseError(f"URI has nothing after the scheme: {snippet(text)}")
    m = g.ABSOLUTE_URI_RE.fullmatch(text)
    if m is None:
        raise ParseError(f"URI contains characters that must be %-escaped: {snippet(text)}")
    return build_trusted(AbsoluteUri, lscheme, m.group("rest"))


def clear_uri_caches() -> None:
    """Empty the URI parse caches (for benchmarks that measure cold parsing)."""
    _parse_sip_uri.cache_clear()
    _parse_uri.cache_clear()
