"""The grammar of authentication header values (RFC 7235 §2.1, RFC 3261 §25.1), sans-I/O.

A challenge or credentials value is an auth-scheme followed by a comma-separated list of auth-params
(``name=token`` or ``name="quoted string"``) or a token68; a challenge list may hold several. This module
reads that grammar (:func:`parse_auth_items`, with a regular-expression fast path and a character scanner,
:class:`AuthScanner`, that names what is wrong) and writes it back safely (:func:`quote`,
:func:`require_token`, :func:`check_quotable`: never a control character on the wire). The Digest header
models built on it are in :mod:`.digest_headers`.
"""

from __future__ import annotations

import re

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

__all__ = [
    "WHITESPACE",
    "AuthItem",
    "AuthScanner",
    "check_quotable",
    "decode_ext_value",
    "digest_params",
    "format_extra",
    "is_token",
    "parse_auth_items",
    "parse_bool",
    "quote",
    "require_param",
    "require_token",
    "single_digest_item",
    "split_params",
]

# --------------------------------------------------------------------------------------------------------
# Auth header grammar (RFC 7235 §2.1 / RFC 3261 §25.1): challenges and credentials
# --------------------------------------------------------------------------------------------------------

_TOKEN_CHARS = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]"
_TOKEN_RE = re.compile(f"{_TOKEN_CHARS}+")
_TOKEN68_RE = re.compile(r"[-._~+/0-9A-Za-z]+=*")
_QUOTED = r'"([^"\\]*(?:\\.[^"\\]*)*)"'  # a quoted-string; its content (escapes kept) is group 1
_QUOTED_RE = re.compile(_QUOTED, re.DOTALL)
_QUOTED_PAIR_RE = re.compile(r"\\(.)", re.DOTALL)
_FOLD_RE = re.compile(r"\r?\n[ \t]+")
_CONTROL_RE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
# One auth-param with the whitespace after it: name, quoted value (escapes kept) or token value.
_PARAM_RE = re.compile(rf"({_TOKEN_CHARS}+)[ \t]*=[ \t]*(?:{_QUOTED}|({_TOKEN_CHARS}+))[ \t]*", re.DOTALL)
# Where an auth-param starts: token OWS "=" OWS (DQUOTE / tchar).
_PARAM_START_RE = re.compile(rf'{_TOKEN_CHARS}+[ \t]*=[ \t]*(?:"|{_TOKEN_CHARS})')
WHITESPACE = " \t"


def is_token(value: str) -> bool:
    """Whether ``value`` is an RFC 7230 token (one or more tchar)."""
    return _TOKEN_RE.fullmatch(value) is not None


def _unfold(text: str, what: str) -> str:
    """Replace folded line breaks (CRLF followed by whitespace) by one space; refuse any other control."""
    if "\n" in text:
        text = _FOLD_RE.sub(" ", text)
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise ParseError(f"{what}: control character U+{ord(bad.group()):04X} at offset {bad.start()}")
    return text


class AuthScanner:
    """A cursor over one auth header value (already unfolded and free of control characters)."""

    __slots__ = ("pos", "text", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.pos = 0
        self.what = what

    def error(self, message: str) -> ParseError:
        """A ParseError naming ``message``, the offset and an excerpt of the value."""
        excerpt = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return ParseError(f"{self.what}: {message} at offset {self.pos} in {excerpt!r}")

    def at_end(self) -> bool:
        """Whether the whole value was read."""
        return self.pos >= len(self.text)

    def peek(self) -> str:
        """The next character ('' at the end)."""
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ows(self) -> None:
        """Skip optional whitespace (spaces and tabs)."""
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in WHITESPACE:
            pos += 1
        self.pos = pos

    def skip_separators(self) -> None:
        """Skip whitespace and commas (RFC 7230 #rule allows empty list elements)."""
        text, pos = self.text, self.pos
        while pos < len(text) and (text[pos] in WHITESPACE or text[pos] == ","):
            pos += 1
        self.pos = pos

    def token(self) -> str:
        """Read a token ('' when none starts here)."""
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def token68(self) -> str:
        """Read a token68 ('' when none starts here)."""
        match = _TOKEN68_RE.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def quoted(self) -> str:
        """Read a quoted-string and return its content, quoted-pairs unescaped."""
        match = _QUOTED_RE.match(self.text, self.pos)
        if match is None:
            raise self.error("unterminated quoted-string")
        self.pos = match.end()
        return _QUOTED_PAIR_RE.sub(r"\1", match.group(1))

    def at_param(self) -> bool:
        """Whether an auth-param (``token OWS "=" OWS (token / quoted-string)``) starts here."""
        return _PARAM_START_RE.match(self.text, self.pos) is not None

    def params(self) -> list[tuple[str, str]]:
        """Read a comma-separated auth-param list, stopping at the end or where the next challenge starts.

        Each well-formed param is one regular-expression match; at the first one that does not match,
        :meth:`_params_slowly` takes over from there to name what is wrong.
        """
        params: list[tuple[str, str]] = []
        text = self.text
        while True:
            match = _PARAM_RE.match(text, self.pos)
            if match is None:
                return self._params_slowly(params)
            name, quoted, value = match.groups()
            if quoted is not None:
                value = _QUOTED_PAIR_RE.sub(r"\1", quoted) if "\\" in quoted else quoted
            params.append((name, value))
            self.pos = match.end()
            if self.pos >= len(text):
                return params
            if text[self.pos] != ",":
                raise self.error(f"expected ',' after parameter {name!r}")
            self.skip_separators()
            if self.at_end() or not self.at_param():
                return params

    def _params_slowly(self, params: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """:meth:`params` character by character from here: raises the ParseError naming the problem."""
        while True:
            name = self.token()
            self.skip_ows()
            if self.peek() != "=":
                raise self.error(f"expected '=' after parameter name {name!r}")
            self.pos += 1
            self.skip_ows()
            if self.peek() == '"':
                value = self.quoted()
            else:
                value = self.token()
                if not value:
                    raise self.error(f"expected a token or quoted-string value for {name!r}")
            params.append((name, value))
            self.skip_ows()
            if self.at_end():
                return params
            if self.peek() != ",":
                raise self.error(f"expected ',' after parameter {name!r}")
            self.skip_separators()
            if self.at_end() or not self.at_param():
                return params


AuthItem = tuple[str, list[tuple[str, str]], str | None]


def parse_auth_items(value: str, what: str) -> list[AuthItem]:
    """Split an auth header value into (scheme, auth-params, token68) items (RFC 7235 challenge list)."""
    if not isinstance(value, str):
        raise ParseError(f"{what}: expected a string, got {type(value).__name__}")
    scanner = AuthScanner(_unfold(value, what), what)
    items: list[AuthItem] = []
    while True:
        scanner.skip_separators()
        if scanner.at_end():
            return items
        scheme = scanner.token()
        if not scheme:
            raise scanner.error("expected an auth-scheme")
        after_scheme = scanner.pos
        scanner.skip_ows()
        if scanner.at_end() or scanner.peek() == ",":
            items.append((scheme, [], None))
            continue
        if scanner.pos == after_scheme:
            raise scanner.error(f"expected whitespace after auth-scheme {scheme!r}")
        if scanner.at_param():
            items.append((scheme, scanner.params(), None))
            continue
        token68 = scanner.token68()
        if not token68:
            raise scanner.error(f"expected auth-params or a token68 after auth-scheme {scheme!r}")
        scanner.skip_ows()
        if not scanner.at_end() and scanner.peek() != ",":
            raise scanner.error("unexpected character after token68")
        items.append((scheme, [], token68))


def single_digest_item(value: str, what: str) -> list[tuple[str, str]]:
    """The auth-params of a value that must hold exactly one Digest item; ParseError otherwise."""
    items = parse_auth_items(value, what)
    if len(items) != 1:
        raise ParseError(f"{what}: expected exactly one Digest value, found {len(items)}")
    return digest_params(items[0], what)


def digest_params(item: AuthItem, what: str) -> list[tuple[str, str]]:
    """The auth-params of one parsed item, which must be Digest with auth-params (no token68)."""
    scheme, params, token68 = item
    if scheme.lower() != "digest":
        raise ParseError(f"{what}: auth-scheme {scheme!r} is not Digest")
    if token68 is not None:
        raise ParseError(f"{what}: Digest takes auth-params, not a token68 ({token68!r})")
    return params


def split_params(
    params: list[tuple[str, str]], known: frozenset[str], what: str
) -> tuple[dict[str, str], tuple[tuple[str, str], ...]]:
    """Known parameters by lower-case name, and the others in order; a repeated name is an error."""
    seen: set[str] = set()
    found: dict[str, str] = {}
    extra: list[tuple[str, str]] = []
    for name, value in params:
        lower = name.lower()
        if lower in seen:
            raise ParseError(f"{what}: parameter {name!r} appears more than once")
        seen.add(lower)
        if lower in known:
            found[lower] = value
        else:
            extra.append((name, value))
    return found, tuple(extra)


def parse_bool(value: str, name: str, what: str) -> bool:
    """``true``/``false`` (any case) as a bool; ParseError otherwise."""
    lower = value.lower()
    if lower == "true":
        return True
    if lower == "false":
        return False
    raise ParseError(f"{what}: {name} must be true or false, got {value!r}")


def require_param(found: dict[str, str], name: str, what: str) -> str:
    """The value of the required parameter ``name``; ParseError when missing."""
    value = found.get(name)
    if value is None:
        raise ParseError(f"{what}: missing required parameter {name!r}")
    return value


def check_quotable(value: str, name: str) -> None:
    """Refuse (LocalProtocolError) a value that a quoted-string cannot carry: control characters."""
    for char in value:
        code = ord(char)
        if (code < 0x20 and char != "\t") or code == 0x7F:
            raise LocalProtocolError(
                f"digest parameter {name}: control character U+{code:04X} cannot be sent: {value!r}"
            )


def quote(value: str, name: str) -> str:
    """A quoted-string for ``value``; backslash and double quote are escaped, controls are refused."""
    check_quotable(value, name)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def require_token(value: str, name: str) -> str:
    """``value`` when it is a token (to be sent bare); LocalProtocolError otherwise."""
    if not is_token(value):
        raise LocalProtocolError(f"digest parameter {name} must be a token, got {value!r}")
    return value


def format_extra(extra: tuple[tuple[str, str], ...]) -> list[str]:
    """``name=value`` for unknown auth-params, values quoted unless they are tokens."""
    parts = []
    for name, value in extra:
        require_token(name, "name")
        parts.append(f"{name}={value if is_token(value) else quote(value, name)}")
    return parts


def decode_ext_value(value: str, what: str) -> str:
    """Decode an RFC 8187 ext-value (``UTF-8''J%C3%A4s%C3%B8n``), as used by ``username*``."""
    parts = value.split("'")
    if len(parts) != 3:
        raise ParseError(f"{what}: username* is not charset'lang'value: {value!r}")
    charset, _language, encoded = parts
    if charset.lower() not in ("utf-8", "iso-8859-1"):
        raise ParseError(f"{what}: username* charset {charset!r} is not supported")
    raw = bytearray()
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char == "%":
            pair = encoded[index + 1 : index + 3]
            if len(pair) != 2 or not all(c in "0123456789abcdefABCDEF" for c in pair):
                raise ParseError(f"{what}: bad percent-escape in username*: {value!r}")
            raw.append(int(pair, 16))
            index += 3
        elif char.isascii():
            raw.append(ord(char))
            index += 1
        else:
            raise ParseError(f"{what}: non-ASCII character in username*: {value!r}")
    try:
        return raw.decode("utf-8" if charset.lower() == "utf-8" else "latin-1")
    except UnicodeDecodeError as exc:
        raise ParseError(f"{what}: username* is not valid {charset}: {value!r}") from exc
