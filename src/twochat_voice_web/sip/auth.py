"""SIP digest authentication (RFC 2617, RFC 7616, RFC 8760), sans-I/O: the client side and the grammar.

Client side (the browser answering a 401/407)::

    client = DigestClient("alice", "secret")
    challenge = select_challenge(response.headers.get_all("WWW-Authenticate"))
    if challenge is not None and client.should_retry(challenge, sent_credentials, attempts=retries):
        credentials = client.authorize("REGISTER", str(request.uri), challenge)
        request.headers.set("Authorization", str(credentials))

The server side (issuing nonces, verifying credentials: :class:`DigestServer`) is server-only code and
ships in the twochat-voice-web-sandbox distribution: :mod:`twochat_voice_web.server.digest`, built on the
public helpers here (:func:`require_algorithm`, :func:`hash_parts`, :func:`check_quotable` ...).

Notes for callers:

* ``WWW-Authenticate``, ``Authorization``, ``Proxy-Authenticate`` and ``Proxy-Authorization`` are never
  comma-combined (RFC 3261 §7.3.1): read them with ``Headers.get_all`` (one value per header line), not
  ``get_list``. :func:`parse_challenges` still accepts the HTTP form with several challenges in one value.
* Hashes are always taken over the UTF-8 encoding of the (unquoted, unescaped) values.
* ``SHA-512-256`` is recognised and used only when the runtime's :mod:`hashlib` provides ``sha512_256``
  (CPython with OpenSSL does; Pyodide without its OpenSSL package may not): see :data:`SUPPORTED_ALGORITHMS`.
* Nothing here reads a clock: ``now`` (seconds, the same origin for every call on one server) is passed in,
  and randomness comes from an injectable ``random_bytes(n) -> bytes`` (default :func:`secrets.token_bytes`).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestClient",
    "DigestCredentials",
    "Ha1",
    "RandomBytes",
    "algorithm_named",
    "check_quotable",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
    "hash_hex",
    "hash_parts",
    "parse_challenges",
    "require_algorithm",
    "select_challenge",
    "select_challenges",
]

RandomBytes = Callable[[int], bytes]
"""A source of random bytes: called with a length, returns that many bytes."""


# --------------------------------------------------------------------------------------------------------
# Algorithms
# --------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DigestAlgorithm:
    """A digest algorithm (RFC 7616 §6.1, RFC 8760): its name, hash and whether it is a ``-sess`` variant."""

    name: str  # canonical spelling, as registered with IANA
    hash_name: str  # hashlib name
    sess: bool
    strength: int  # RFC 8760 preference: higher is stronger

    @property
    def base(self) -> str:
        """The name without ``-sess``."""
        return self.name.removesuffix("-sess")


_ALL_ALGORITHMS: tuple[DigestAlgorithm, ...] = (
    DigestAlgorithm("MD5", "md5", sess=False, strength=1),
    DigestAlgorithm("MD5-sess", "md5", sess=True, strength=1),
    DigestAlgorithm("SHA-256", "sha256", sess=False, strength=2),
    DigestAlgorithm("SHA-256-sess", "sha256", sess=True, strength=2),
    DigestAlgorithm("SHA-512-256", "sha512_256", sess=False, strength=3),
    DigestAlgorithm("SHA-512-256-sess", "sha512_256", sess=True, strength=3),
)


def _hash_available(hash_name: str) -> bool:
    try:
        hashlib.new(hash_name, b"")
    except (ValueError, TypeError):
        return False
    return True


_CANONICAL_NAMES: dict[str, str] = {algo.name.lower(): algo.name for algo in _ALL_ALGORITHMS}
_ALGORITHMS: dict[str, DigestAlgorithm] = {
    algo.name.lower(): algo for algo in _ALL_ALGORITHMS if _hash_available(algo.hash_name)
}

SUPPORTED_ALGORITHMS: tuple[str, ...] = tuple(algo.name for algo in _ALGORITHMS.values())
"""The digest algorithms this runtime can compute, canonical spelling (``SHA-512-256*`` if hashlib can)."""


def _canonical_algorithm(name: str) -> str:
    """The registered spelling of a known algorithm name (case-insensitive), else the name as given."""
    return _CANONICAL_NAMES.get(name.lower(), name)


def algorithm_named(name: str | None) -> DigestAlgorithm | None:
    """The supported algorithm called ``name`` (absent means MD5), or None when unknown or unavailable."""
    return _ALGORITHMS.get("md5" if name is None else name.lower())


def require_algorithm(name: str | None) -> DigestAlgorithm:
    """The supported algorithm called ``name``; LocalProtocolError when unknown or unavailable."""
    algo = algorithm_named(name)
    if algo is None:
        raise LocalProtocolError(
            f"digest algorithm {name!r} is not supported (supported: {', '.join(SUPPORTED_ALGORITHMS)})"
        )
    return algo


def hash_hex(algo: DigestAlgorithm, data: bytes) -> str:
    """``algo``'s hash of ``data``, lower-case hex."""
    return hashlib.new(algo.hash_name, data).hexdigest()


def hash_parts(algo: DigestAlgorithm, *parts: str) -> str:
    """H(part1 ":" part2 ":" ...) over UTF-8, lower-case hex."""
    return hash_hex(algo, ":".join(parts).encode("utf-8", "surrogatepass"))


def _digest_size_hex(algo: DigestAlgorithm) -> int:
    return hashlib.new(algo.hash_name).digest_size * 2


# --------------------------------------------------------------------------------------------------------
# Hash computations (RFC 7616 §3.4)
# --------------------------------------------------------------------------------------------------------


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """Return the base HA1 = H(username ":" realm ":" password) in lower-case hex.

    ``algorithm`` may name a ``-sess`` variant; the base hash is returned either way (the session key is
    derived from it by :func:`compute_response`). Raises :class:`LocalProtocolError` for an unsupported
    algorithm.
    """
    return hash_parts(require_algorithm(algorithm), username, realm, password)


def compute_userhash(username: str, realm: str, algorithm: str = "MD5") -> str:
    """Return the RFC 7616 §3.4.4 user hash H(username ":" realm), sent as username when userhash=true."""
    return hash_parts(require_algorithm(algorithm), username, realm)


def compute_response(
    algorithm: str | None,
    ha1: str,
    *,
    nonce: str,
    method: str,
    uri: str,
    qop: str | None = None,
    nc: int | None = None,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """Return the request-digest (the ``response`` parameter) in lower-case hex.

    Args:
        algorithm: the challenge's algorithm (None means MD5); ``-sess`` variants derive the session key
            H(ha1 ":" nonce ":" cnonce) first.
        ha1: the base HA1 (see :func:`compute_ha1`), hex.
        nonce, method, uri: as in the request (``uri`` is the digest-uri, normally the Request-URI).
        qop: ``"auth"``, ``"auth-int"`` (HA2 also covers H(body)) or None for the RFC 2069 form
            H(HA1 ":" nonce ":" HA2).
        nc, cnonce: required with a qop and with ``-sess``.
        body: the message body, used only by ``auth-int``.

    Raises:
        LocalProtocolError: unsupported algorithm or qop, or a missing nc/cnonce.
    """
    algo = require_algorithm(algorithm)
    if algo.sess:
        if cnonce is None:
            raise LocalProtocolError(f"digest {algo.name} needs a cnonce")
        ha1 = hash_parts(algo, ha1.lower(), nonce, cnonce)
    else:
        ha1 = ha1.lower()
    if qop is None or qop == "auth":
        ha2 = hash_parts(algo, method, uri)
    elif qop == "auth-int":
        ha2 = hash_parts(algo, method, uri, hash_hex(algo, body))
    else:
        raise LocalProtocolError(f"digest qop {qop!r} is not supported (auth, auth-int)")
    if qop is None:
        return hash_parts(algo, ha1, nonce, ha2)
    if nc is None or cnonce is None:
        raise LocalProtocolError(f"digest qop={qop} needs nc and cnonce")
    return hash_parts(algo, ha1, nonce, _format_nc(nc), cnonce, qop, ha2)


def _format_nc(nc: int) -> str:
    if not 0 <= nc <= 0xFFFFFFFF:
        raise LocalProtocolError(f"digest nc {nc} does not fit in 8 hex digits")
    return f"{nc:08x}"


@dataclass(frozen=True, slots=True)
class Ha1:
    """A precomputed HA1 = H(username ":" realm ":" password), as stored by registrars (and JsSIP's ``ha1``).

    Attributes:
        value: the hash, hex (normalised to lower case).
        algorithm: the base algorithm it was computed with (``MD5``, ``SHA-256``, ``SHA-512-256``);
            ``-sess`` variants of the same hash can use it too.
    """

    value: str
    algorithm: str = "MD5"

    def __post_init__(self) -> None:
        algo = require_algorithm(self.algorithm)
        base = _canonical_algorithm(algo.base)
        value = self.value.lower()
        if len(value) != _digest_size_hex(algo) or not all(c in "0123456789abcdef" for c in value):
            raise LocalProtocolError(
                f"HA1 for {base} must be {_digest_size_hex(algo)} hex digits, got {self.value!r}"
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "algorithm", base)

    def usable_for(self, algorithm: str | None) -> bool:
        """Whether this HA1 can answer a challenge with ``algorithm`` (same hash function)."""
        algo = algorithm_named(algorithm)
        return algo is not None and algo.base == self.algorithm


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
_PARAM_RE = re.compile(
    rf"({_TOKEN_CHARS}+)[ \t]*=[ \t]*(?:{_QUOTED}|({_TOKEN_CHARS}+))[ \t]*", re.DOTALL
)
# Where an auth-param starts: token OWS "=" OWS (DQUOTE / tchar).
_PARAM_START_RE = re.compile(rf'{_TOKEN_CHARS}+[ \t]*=[ \t]*(?:"|{_TOKEN_CHARS})')
_WS = " \t"


def _is_token(value: str) -> bool:
    return _TOKEN_RE.fullmatch(value) is not None


def _unfold(text: str, what: str) -> str:
    """Replace folded line breaks (CRLF followed by whitespace) by one space; refuse any other control."""
    if "\n" in text:
        text = _FOLD_RE.sub(" ", text)
    bad = _CONTROL_RE.search(text)
    if bad is not None:
        raise ParseError(f"{what}: control character U+{ord(bad.group()):04X} at offset {bad.start()}")
    return text


class _Scanner:
    """A cursor over one auth header value (already unfolded and free of control characters)."""

    __slots__ = ("pos", "text", "what")

    def __init__(self, text: str, what: str) -> None:
        self.text = text
        self.pos = 0
        self.what = what

    def error(self, message: str) -> ParseError:
        excerpt = self.text if len(self.text) <= 80 else self.text[:77] + "..."
        return ParseError(f"{self.what}: {message} at offset {self.pos} in {excerpt!r}")

    def at_end(self) -> bool:
        return self.pos >= len(self.text)

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def skip_ows(self) -> None:
        text, pos = self.text, self.pos
        while pos < len(text) and text[pos] in _WS:
            pos += 1
        self.pos = pos

    def skip_separators(self) -> None:
        """Skip whitespace and commas (RFC 7230 #rule allows empty list elements)."""
        text, pos = self.text, self.pos
        while pos < len(text) and (text[pos] in _WS or text[pos] == ","):
            pos += 1
        self.pos = pos

    def token(self) -> str:
        match = _TOKEN_RE.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def token68(self) -> str:
        match = _TOKEN68_RE.match(self.text, self.pos)
        if match is None:
            return ""
        self.pos = match.end()
        return match.group()

    def quoted(self) -> str:
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


_Item = tuple[str, list[tuple[str, str]], str | None]


def _parse_auth_items(value: str, what: str) -> list[_Item]:
    """Split an auth header value into (scheme, auth-params, token68) items (RFC 7235 challenge list)."""
    if not isinstance(value, str):
        raise ParseError(f"{what}: expected a string, got {type(value).__name__}")
    scanner = _Scanner(_unfold(value, what), what)
    items: list[_Item] = []
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


def _single_digest_item(value: str, what: str) -> list[tuple[str, str]]:
    items = _parse_auth_items(value, what)
    if len(items) != 1:
        raise ParseError(f"{what}: expected exactly one Digest value, found {len(items)}")
    return _digest_params(items[0], what)


def _digest_params(item: _Item, what: str) -> list[tuple[str, str]]:
    scheme, params, token68 = item
    if scheme.lower() != "digest":
        raise ParseError(f"{what}: auth-scheme {scheme!r} is not Digest")
    if token68 is not None:
        raise ParseError(f"{what}: Digest takes auth-params, not a token68 ({token68!r})")
    return params


def _split_params(
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


def _parse_bool(value: str, name: str, what: str) -> bool:
    lower = value.lower()
    if lower == "true":
        return True
    if lower == "false":
        return False
    raise ParseError(f"{what}: {name} must be true or false, got {value!r}")


def _require(found: dict[str, str], name: str, what: str) -> str:
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


def _quote(value: str, name: str) -> str:
    """A quoted-string for ``value``; backslash and double quote are escaped, controls are refused."""
    check_quotable(value, name)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _token(value: str, name: str) -> str:
    if not _is_token(value):
        raise LocalProtocolError(f"digest parameter {name} must be a token, got {value!r}")
    return value


def _format_extra(extra: tuple[tuple[str, str], ...]) -> list[str]:
    parts = []
    for name, value in extra:
        _token(name, "name")
        parts.append(f"{name}={value if _is_token(value) else _quote(value, name)}")
    return parts


def _decode_ext_value(value: str, what: str) -> str:
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


_CHALLENGE_PARAMS = frozenset(
    {"realm", "nonce", "opaque", "algorithm", "qop", "stale", "domain", "userhash", "charset"}
)
_CREDENTIALS_PARAMS = frozenset(
    {
        "username",
        "username*",
        "realm",
        "nonce",
        "uri",
        "response",
        "algorithm",
        "cnonce",
        "opaque",
        "qop",
        "nc",
        "userhash",
    }
)
_NC_RE = re.compile(r"[0-9a-fA-F]{8}")


@dataclass(frozen=True, slots=True)
class DigestChallenge:
    """One Digest challenge: the value of a WWW-Authenticate or Proxy-Authenticate header field.

    Attributes:
        realm: the protection space (required).
        nonce: the server nonce (required).
        opaque: echoed back unchanged by the client when present.
        algorithm: the algorithm as sent, in canonical spelling when recognised (``MD5``, ``MD5-sess``,
            ``SHA-256``, ``SHA-256-sess``, ``SHA-512-256``...); None when absent (which means MD5).
        qop: the offered quality-of-protection values, lower case (``("auth", "auth-int")``); empty when
            the server offers none (RFC 2069 compatibility).
        stale: the previous request's nonce was stale but its credentials were right.
        domain: the URIs of the protection space (space-separated in the header).
        userhash: the server accepts a hashed username (RFC 7616 §3.4.4).
        charset: ``UTF-8`` when the server announced it.
        extra: unknown auth-params, in order, names as written, values unquoted.
    """

    realm: str
    nonce: str
    opaque: str | None = None
    algorithm: str | None = None
    qop: tuple[str, ...] = ()
    stale: bool = False
    domain: tuple[str, ...] = ()
    userhash: bool = False
    charset: str | None = None
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str) -> DigestChallenge:
        """Parse one header value holding exactly one Digest challenge; :class:`ParseError` otherwise."""
        what = "Digest challenge"
        return cls._from_params(_single_digest_item(value, what), what)

    @classmethod
    def _from_params(cls, params: list[tuple[str, str]], what: str) -> DigestChallenge:
        found, extra = _split_params(params, _CHALLENGE_PARAMS, what)
        algorithm = found.get("algorithm")
        qop_value = found.get("qop")
        domain_value = found.get("domain")
        return cls(
            realm=_require(found, "realm", what),
            nonce=_require(found, "nonce", what),
            opaque=found.get("opaque"),
            algorithm=None if algorithm is None else _canonical_algorithm(algorithm),
            qop=()
            if qop_value is None
            else tuple(q.strip().lower() for q in qop_value.split(",") if q.strip()),
            stale=_parse_bool(found["stale"], "stale", what) if "stale" in found else False,
            domain=() if domain_value is None else tuple(domain_value.split()),
            userhash=_parse_bool(found["userhash"], "userhash", what) if "userhash" in found else False,
            charset=found.get("charset"),
            extra=extra,
        )

    @property
    def effective_algorithm(self) -> str:
        """The algorithm in force: :attr:`algorithm`, or ``MD5`` when the challenge names none."""
        return "MD5" if self.algorithm is None else self.algorithm

    @property
    def supported(self) -> bool:
        """Whether this module can answer the challenge (known algorithm and a usable qop)."""
        algo = algorithm_named(self.algorithm)
        if algo is None:
            return False
        if not self.qop:
            return not algo.sess  # -sess needs a cnonce, which RFC 2617 forbids without qop
        return "auth" in self.qop or "auth-int" in self.qop

    @property
    def strength(self) -> int:
        """RFC 8760 preference of the algorithm (MD5 1, SHA-256 2, SHA-512-256 3); 0 when unsupported."""
        algo = algorithm_named(self.algorithm)
        return 0 if algo is None else algo.strength

    def __str__(self) -> str:
        """The header value, e.g. ``Digest realm="x", nonce="y", algorithm=SHA-256, qop="auth"``.

        Raises :class:`LocalProtocolError` when a value cannot be carried (control characters, or a token
        parameter that is not a token).
        """
        parts = [f"realm={_quote(self.realm, 'realm')}"]
        if self.domain:
            for uri in self.domain:
                if not uri or any(c in _WS for c in uri):
                    raise LocalProtocolError(f"digest domain URI {uri!r} is empty or contains whitespace")
            parts.append(f"domain={_quote(' '.join(self.domain), 'domain')}")
        parts.append(f"nonce={_quote(self.nonce, 'nonce')}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque, 'opaque')}")
        if self.stale:
            parts.append("stale=true")
        if self.algorithm is not None:
            parts.append(f"algorithm={_token(self.algorithm, 'algorithm')}")
        if self.qop:
            parts.append(f'qop="{",".join(_token(q, "qop") for q in self.qop)}"')
        if self.charset is not None:
            parts.append(f"charset={_token(self.charset, 'charset')}")
        if self.userhash:
            parts.append("userhash=true")
        parts.extend(_format_extra(self.extra))
        return "Digest " + ", ".join(parts)


@dataclass(frozen=True, slots=True)
class DigestCredentials:
    """Digest credentials: the value of an Authorization or Proxy-Authorization header field.

    Attributes:
        username: the user name (the hash H(username:realm) when :attr:`userhash` is true). A received
            ``username*`` (RFC 8187) is decoded into this field; formatting always writes ``username``.
        realm, nonce, opaque: copied from the challenge.
        uri: the digest-uri (the Request-URI).
        response: the request-digest, hex.
        algorithm: canonical spelling when recognised; None when absent (MD5).
        cnonce: the client nonce (with a qop).
        qop: the chosen quality of protection, lower case (``auth``/``auth-int``), or None.
        nc: the nonce count (sent as 8 hex digits), or None without qop.
        userhash: :attr:`username` is hashed.
        extra: unknown auth-params, in order, values unquoted.
    """

    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str | None = None
    cnonce: str | None = None
    opaque: str | None = None
    qop: str | None = None
    nc: int | None = None
    userhash: bool = False
    extra: tuple[tuple[str, str], ...] = ()

    @classmethod
    def parse(cls, value: str) -> DigestCredentials:
        """Parse an Authorization/Proxy-Authorization value; :class:`ParseError` on bad input.

        Quoting is accepted either way for every parameter (some clients quote ``qop`` or ``algorithm``).
        """
        what = "Digest credentials"
        found, extra = _split_params(_single_digest_item(value, what), _CREDENTIALS_PARAMS, what)
        if "username" in found and "username*" in found:
            raise ParseError(f"{what}: both username and username* are present")
        if "username*" in found:
            username = _decode_ext_value(found["username*"], what)
        else:
            username = _require(found, "username", what)
        algorithm = found.get("algorithm")
        qop = found.get("qop")
        nc_value = found.get("nc")
        nc: int | None = None
        if nc_value is not None:
            if _NC_RE.fullmatch(nc_value) is None:
                raise ParseError(f"{what}: nc must be 8 hex digits, got {nc_value!r}")
            nc = int(nc_value, 16)
        if qop is not None:
            qop = qop.lower()
            if not _is_token(qop):
                raise ParseError(f"{what}: qop must be a single token, got {qop!r}")
            if nc is None or "cnonce" not in found:
                raise ParseError(f"{what}: qop={qop} requires nc and cnonce")
        return cls(
            username=username,
            realm=_require(found, "realm", what),
            nonce=_require(found, "nonce", what),
            uri=_require(found, "uri", what),
            response=_require(found, "response", what),
            algorithm=None if algorithm is None else _canonical_algorithm(algorithm),
            cnonce=found.get("cnonce"),
            opaque=found.get("opaque"),
            qop=qop,
            nc=nc,
            userhash=_parse_bool(found["userhash"], "userhash", what) if "userhash" in found else False,
            extra=extra,
        )

    @property
    def effective_algorithm(self) -> str:
        """The algorithm in force: :attr:`algorithm`, or ``MD5`` when absent."""
        return "MD5" if self.algorithm is None else self.algorithm

    def __str__(self) -> str:
        """The header value. Quoted: username, realm, nonce, uri, response, cnonce, opaque; bare: algorithm,
        qop, nc (8 hex digits), userhash.

        Raises :class:`LocalProtocolError` when a value cannot be carried safely.
        """
        parts = [
            f"username={_quote(self.username, 'username')}",
            f"realm={_quote(self.realm, 'realm')}",
            f"nonce={_quote(self.nonce, 'nonce')}",
            f"uri={_quote(self.uri, 'uri')}",
            f"response={_quote(self.response, 'response')}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={_token(self.algorithm, 'algorithm')}")
        if self.cnonce is not None:
            parts.append(f"cnonce={_quote(self.cnonce, 'cnonce')}")
        if self.opaque is not None:
            parts.append(f"opaque={_quote(self.opaque, 'opaque')}")
        if self.qop is not None:
            parts.append(f"qop={_token(self.qop, 'qop')}")
        if self.nc is not None:
            parts.append(f"nc={_format_nc(self.nc)}")
        if self.userhash:
            parts.append("userhash=true")
        parts.extend(_format_extra(self.extra))
        return "Digest " + ", ".join(parts)


def parse_challenges(value: str) -> list[DigestChallenge]:
    """Parse a header value that may list several challenges (RFC 7235 form); keep the Digest ones.

    Other schemes (``Basic``, ``Bearer token68``...) are parsed for their boundaries and skipped. Any
    syntax error, or a Digest challenge without realm/nonce, raises :class:`ParseError`.
    """
    what = "authentication challenge list"
    return [
        DigestChallenge._from_params(_digest_params(item, what), what)
        for item in _parse_auth_items(value, what)
        if item[0].lower() == "digest"
    ]


def _candidates(
    header_values: Iterable[str | DigestChallenge],
    accept: Callable[[DigestChallenge], bool],
) -> list[DigestChallenge]:
    usable: list[DigestChallenge] = []
    first_error: ParseError | None = None
    for value in header_values:
        if isinstance(value, DigestChallenge):
            parsed = [value]
        else:
            try:
                parsed = parse_challenges(value)
            except ParseError as exc:
                first_error = first_error or exc
                continue
        usable.extend(challenge for challenge in parsed if accept(challenge))
    if not usable and first_error is not None:
        raise first_error
    return usable


def _supported(challenge: DigestChallenge) -> bool:
    return challenge.supported


def select_challenges(
    header_values: Iterable[str | DigestChallenge],
    *,
    accept: Callable[[DigestChallenge], bool] = _supported,
) -> list[DigestChallenge]:
    """Pick, for every realm, the strongest challenge we can answer among several header lines.

    A request that crossed several proxies can draw one Proxy-Authenticate per proxy realm (RFC 3261
    §22.3) and should answer each of them. Within one realm the strongest algorithm wins (SHA-512-256 >
    SHA-256 > MD5; a local policy, RFC 8760 otherwise takes the topmost supported one), ties going to the
    topmost. Realms keep the order of their first appearance. Unparsable lines are skipped when some
    other line gives a usable challenge; when none does, the first :class:`ParseError` is raised (an
    empty list means "nothing we support").

    Args:
        header_values: the raw values (``Headers.get_all``) or already parsed challenges.
        accept: which challenges are answerable (default :attr:`DigestChallenge.supported`; a
            :class:`DigestClient` passes its own :meth:`DigestClient.supports`).
    """
    best: dict[str, DigestChallenge] = {}
    for challenge in _candidates(header_values, accept):
        current = best.get(challenge.realm)
        if current is None or challenge.strength > current.strength:
            best[challenge.realm] = challenge
    return list(best.values())


def select_challenge(
    header_values: Iterable[str | DigestChallenge],
    *,
    accept: Callable[[DigestChallenge], bool] = _supported,
) -> DigestChallenge | None:
    """The single strongest answerable challenge among several header lines (topmost on ties), or None.

    Same parsing policy as :func:`select_challenges`.
    """
    best: DigestChallenge | None = None
    for challenge in _candidates(header_values, accept):
        if best is None or challenge.strength > best.strength:
            best = challenge
    return best


# --------------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _NonceUse:
    nc: int
    cnonce: str  # the session cnonce, reused for every request with this nonce under a -sess algorithm


_MAX_REMEMBERED_NONCES = 32


class DigestClient:
    """Answers Digest challenges for one user (the UAC side of RFC 3261 §22.2/22.3).

    Keeps one nonce count per (realm, nonce): answering a second request with the same challenge sends
    nc=00000002 and so on. Safe to share between concurrent requests of one user agent.
    """

    def __init__(
        self,
        username: str,
        password: str | None = None,
        *,
        ha1: str | Ha1 | None = None,
        random_bytes: RandomBytes = secrets.token_bytes,
        max_attempts: int = 2,
    ) -> None:
        """Create a client.

        Args:
            username: the authentication user name.
            password: the password; give this or ``ha1``, not both.
            ha1: a precomputed H(username:realm:password) instead of the password (as JsSIP's ``ha1``);
                a plain string is an MD5 HA1, an :class:`Ha1` names its algorithm. Only challenges of that
                hash (and its ``-sess`` variant) can then be answered.
            random_bytes: source of randomness for cnonces.
            max_attempts: how many authenticated retries one request may make (see :meth:`should_retry`).

        Raises:
            LocalProtocolError: on a user name that cannot be sent, a missing or double secret, a malformed
                HA1, or ``max_attempts < 1``.
        """
        if not isinstance(username, str) or not username:
            raise LocalProtocolError("digest username must be a non-empty string")
        check_quotable(username, "username")
        if (password is None) == (ha1 is None):
            raise LocalProtocolError("give exactly one of password and ha1")
        if max_attempts < 1:
            raise LocalProtocolError(f"max_attempts must be at least 1, got {max_attempts}")
        self._username = username
        self._password = password
        self._ha1: Ha1 | None = Ha1(ha1) if isinstance(ha1, str) else ha1
        self._random_bytes = random_bytes
        self._max_attempts = max_attempts
        self._nonces: dict[tuple[str, str], _NonceUse] = {}

    @property
    def username(self) -> str:
        """The authentication user name."""
        return self._username

    @property
    def max_attempts(self) -> int:
        """How many authenticated retries one request may make."""
        return self._max_attempts

    def supports(self, challenge: DigestChallenge) -> bool:
        """Whether this client can answer ``challenge`` (algorithm, qop, and the HA1 hash if one is used)."""
        if not challenge.supported:
            return False
        return self._ha1 is None or self._ha1.usable_for(challenge.algorithm)

    def select_challenge(self, header_values: Iterable[str | DigestChallenge]) -> DigestChallenge | None:
        """The strongest challenge this client can answer among header lines (:func:`select_challenge`)."""
        return select_challenge(header_values, accept=self.supports)

    def should_retry(
        self, challenge: DigestChallenge, previous_credentials_sent: bool, *, attempts: int
    ) -> bool:
        """Whether to resend the request with credentials after it drew ``challenge``.

        Args:
            challenge: the (selected) challenge of the 401/407.
            previous_credentials_sent: the request that drew it carried our credentials for this realm.
            attempts: how many authenticated retries this request has already made (0 on the first
                challenge). The caller counts per request, so concurrent requests do not interfere.

        Returns:
            True after a first challenge, and after ``stale=true`` (only the nonce expired); False when
            the server challenges our credentials again without ``stale`` (wrong password), when
            ``attempts`` reached :attr:`max_attempts`, or when the challenge cannot be answered.
        """
        if not self.supports(challenge) or attempts >= self._max_attempts:
            return False
        return not previous_credentials_sent or challenge.stale

    def authorize(
        self, method: str, uri: str, challenge: DigestChallenge, body: bytes = b""
    ) -> DigestCredentials:
        """Compute the credentials that answer ``challenge`` for a request.

        qop ``auth`` is used when offered, ``auth-int`` (covering ``body``) when it is the only one, and
        the RFC 2069 form when the challenge has no qop. The nonce count for this nonce is incremented.

        Args:
            method: the request method (``REGISTER``, ``INVITE``...). A CANCEL, and the ACK of a non-2xx
                final response, carry the INVITE's credentials unchanged (RFC 3261 §22.1): copy the header
                value instead of calling this.
            uri: the Request-URI as sent.
            challenge: the challenge to answer.
            body: the request body (only ``auth-int`` uses it).

        Raises:
            LocalProtocolError: the challenge cannot be answered (check :meth:`supports` first), or the
                method is not a token.
        """
        if not self.supports(challenge):
            raise LocalProtocolError(
                f"cannot answer Digest challenge with algorithm={challenge.effective_algorithm} "
                f"qop={','.join(challenge.qop) or 'none'}"
                + ("" if self._ha1 is None else f" using an {self._ha1.algorithm} HA1")
            )
        _token(method, "method")
        check_quotable(uri, "uri")
        algo = require_algorithm(challenge.algorithm)
        if "auth" in challenge.qop:
            qop: str | None = "auth"
        elif "auth-int" in challenge.qop:
            qop = "auth-int"
        else:
            qop = None
        use = self._next_use(challenge.realm, challenge.nonce)
        cnonce: str | None = None
        if qop is not None:
            cnonce = use.cnonce if algo.sess else self._new_cnonce()
        if self._ha1 is not None:
            ha1 = self._ha1.value
        else:
            ha1 = hash_parts(algo, self._username, challenge.realm, self._password or "")
        response = compute_response(
            algo.name,
            ha1,
            nonce=challenge.nonce,
            method=method,
            uri=uri,
            qop=qop,
            nc=use.nc,
            cnonce=cnonce,
            body=body,
        )
        username = hash_parts(algo, self._username, challenge.realm) if challenge.userhash else self._username
        return DigestCredentials(
            username=username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            cnonce=cnonce,
            opaque=challenge.opaque,
            qop=qop,
            nc=use.nc if qop is not None else None,
            userhash=challenge.userhash,
        )

    def _new_cnonce(self) -> str:
        return self._random_bytes(16).hex()

    def _next_use(self, realm: str, nonce: str) -> _NonceUse:
        key = (realm, nonce)
        use = self._nonces.pop(key, None)
        if use is None or use.nc >= 0xFFFFFFFF:
            use = _NonceUse(nc=0, cnonce=self._new_cnonce())
        use.nc += 1
        self._nonces[key] = use  # most recently used last
        while len(self._nonces) > _MAX_REMEMBERED_NONCES:
            del self._nonces[next(iter(self._nonces))]
        return use
