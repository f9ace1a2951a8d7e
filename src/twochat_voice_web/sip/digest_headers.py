"""The Digest header values (RFC 7616, RFC 3261 §22.4), sans-I/O: challenges and credentials.

:class:`DigestChallenge` is a ``WWW-Authenticate``/``Proxy-Authenticate`` value, :class:`DigestCredentials`
an ``Authorization``/``Proxy-Authorization`` value; both parse (:class:`ParseError` on bad input) and format
(:class:`LocalProtocolError` for a value that cannot be carried). :func:`select_challenge` and
:func:`select_challenges` pick the strongest answerable challenge(s) among several header lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twochat_voice_web.sip.auth_params import (
    WHITESPACE,
    decode_ext_value,
    digest_params,
    format_extra,
    is_token,
    parse_auth_items,
    parse_bool,
    quote,
    require_param,
    require_token,
    single_digest_item,
    split_params,
)
from twochat_voice_web.sip.digest_hash import algorithm_named, canonical_algorithm, format_nc
from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

__all__ = [
    "DigestChallenge",
    "DigestCredentials",
    "parse_challenges",
    "select_challenge",
    "select_challenges",
]

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
        return cls._from_params(single_digest_item(value, what), what)

    @classmethod
    def _from_params(cls, params: list[tuple[str, str]], what: str) -> DigestChallenge:
        found, extra = split_params(params, _CHALLENGE_PARAMS, what)
        algorithm = found.get("algorithm")
        qop_value = found.get("qop")
        domain_value = found.get("domain")
        return cls(
            realm=require_param(found, "realm", what),
            nonce=require_param(found, "nonce", what),
            opaque=found.get("opaque"),
            algorithm=None if algorithm is None else canonical_algorithm(algorithm),
            qop=()
            if qop_value is None
            else tuple(q.strip().lower() for q in qop_value.split(",") if q.strip()),
            stale=parse_bool(found["stale"], "stale", what) if "stale" in found else False,
            domain=() if domain_value is None else tuple(domain_value.split()),
            userhash=parse_bool(found["userhash"], "userhash", what) if "userhash" in found else False,
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
        parts = [f"realm={quote(self.realm, 'realm')}"]
        if self.domain:
            for uri in self.domain:
                if not uri or any(c in WHITESPACE for c in uri):
                    raise LocalProtocolError(f"digest domain URI {uri!r} is empty or contains whitespace")
            parts.append(f"domain={quote(' '.join(self.domain), 'domain')}")
        parts.append(f"nonce={quote(self.nonce, 'nonce')}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque, 'opaque')}")
        if self.stale:
            parts.append("stale=true")
        if self.algorithm is not None:
            parts.append(f"algorithm={require_token(self.algorithm, 'algorithm')}")
        if self.qop:
            parts.append(f'qop="{",".join(require_token(q, "qop") for q in self.qop)}"')
        if self.charset is not None:
            parts.append(f"charset={require_token(self.charset, 'charset')}")
        if self.userhash:
            parts.append("userhash=true")
        parts.extend(format_extra(self.extra))
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
        found, extra = split_params(single_digest_item(value, what), _CREDENTIALS_PARAMS, what)
        if "username" in found and "username*" in found:
            raise ParseError(f"{what}: both username and username* are present")
        if "username*" in found:
            username = decode_ext_value(found["username*"], what)
        else:
            username = require_param(found, "username", what)
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
            if not is_token(qop):
                raise ParseError(f"{what}: qop must be a single token, got {qop!r}")
            if nc is None or "cnonce" not in found:
                raise ParseError(f"{what}: qop={qop} requires nc and cnonce")
        return cls(
            username=username,
            realm=require_param(found, "realm", what),
            nonce=require_param(found, "nonce", what),
            uri=require_param(found, "uri", what),
            response=require_param(found, "response", what),
            algorithm=None if algorithm is None else canonical_algorithm(algorithm),
            cnonce=found.get("cnonce"),
            opaque=found.get("opaque"),
            qop=qop,
            nc=nc,
            userhash=parse_bool(found["userhash"], "userhash", what) if "userhash" in found else False,
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
            f"username={quote(self.username, 'username')}",
            f"realm={quote(self.realm, 'realm')}",
            f"nonce={quote(self.nonce, 'nonce')}",
            f"uri={quote(self.uri, 'uri')}",
            f"response={quote(self.response, 'response')}",
        ]
        if self.algorithm is not None:
            parts.append(f"algorithm={require_token(self.algorithm, 'algorithm')}")
        if self.cnonce is not None:
            parts.append(f"cnonce={quote(self.cnonce, 'cnonce')}")
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque, 'opaque')}")
        if self.qop is not None:
            parts.append(f"qop={require_token(self.qop, 'qop')}")
        if self.nc is not None:
            parts.append(f"nc={format_nc(self.nc)}")
        if self.userhash:
            parts.append("userhash=true")
        parts.extend(format_extra(self.extra))
        return "Digest " + ", ".join(parts)


def parse_challenges(value: str) -> list[DigestChallenge]:
    """Parse a header value that may list several challenges (RFC 7235 form); keep the Digest ones.

    Other schemes (``Basic``, ``Bearer token68``...) are parsed for their boundaries and skipped. Any
    syntax error, or a Digest challenge without realm/nonce, raises :class:`ParseError`.
    """
    what = "authentication challenge list"
    return [
        DigestChallenge._from_params(digest_params(item, what), what)
        for item in parse_auth_items(value, what)
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
