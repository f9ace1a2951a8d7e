"""Digest algorithms and the hash computations of RFC 7616 §3.4 (RFC 2617, RFC 8760), sans-I/O.

The algorithms this runtime can compute (:data:`SUPPORTED_ALGORITHMS`: ``SHA-512-256*`` only when
:mod:`hashlib` has ``sha512_256``), HA1, the user hash and the request-digest (:func:`compute_response`).
Hashes are always taken over the UTF-8 encoding of the (unquoted, unescaped) values. Used by the client
(:mod:`.digest_client`), the header models (:mod:`.digest_headers`) and the sandbox's server side.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from twochat_voice_web.sip.errors import LocalProtocolError

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "DigestAlgorithm",
    "Ha1",
    "algorithm_named",
    "canonical_algorithm",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
    "digest_size_hex",
    "format_nc",
    "hash_hex",
    "hash_parts",
    "require_algorithm",
]


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


def canonical_algorithm(name: str) -> str:
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


def digest_size_hex(algo: DigestAlgorithm) -> int:
    """How many hex digits ``algo``'s hash has."""
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
    return hash_parts(algo, ha1, nonce, format_nc(nc), cnonce, qop, ha2)


def format_nc(nc: int) -> str:
    """A nonce count as the 8 hex digits of the wire; LocalProtocolError when it does not fit."""
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
        base = canonical_algorithm(algo.base)
        value = self.value.lower()
        if len(value) != digest_size_hex(algo) or not all(c in "0123456789abcdef" for c in value):
            raise LocalProtocolError(
                f"HA1 for {base} must be {digest_size_hex(algo)} hex digits, got {self.value!r}"
            )
        object.__setattr__(self, "value", value)
        object.__setattr__(self, "algorithm", base)

    def usable_for(self, algorithm: str | None) -> bool:
        """Whether this HA1 can answer a challenge with ``algorithm`` (same hash function)."""
        algo = algorithm_named(algorithm)
        return algo is not None and algo.base == self.algorithm
