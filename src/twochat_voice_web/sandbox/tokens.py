"""Access tokens of the sandbox: HS256 JWTs with the claims of product.md §4.

Claims: ``sub`` (user UUID), ``label`` (string or null), ``iat``, ``exp`` (integer Unix seconds) and ``jti``
(random id). Verification is strict: HS256 only (``alg: none`` and every other algorithm refused), valid
signature, ``exp``/``iat``/``sub`` required, expiry checked against the injectable clock with leeway 0
(a token is expired from its ``exp`` second on).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum

import jwt

from .config import DEFAULT_TTL_SECONDS, MAX_TTL_SECONDS, MIN_TTL_SECONDS

__all__ = [
    "ALGORITHM",
    "MintedToken",
    "TokenClaims",
    "TokenIssuer",
    "TokenRejectedError",
    "TokenRejection",
    "iso_utc",
]

ALGORITHM = "HS256"
"""The only signing algorithm issued and accepted."""


def iso_utc(timestamp: float) -> str:
    """ISO 8601 UTC with an explicit offset, seconds precision: ``2026-05-08T14:30:00+00:00``."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC).isoformat()


class TokenRejection(Enum):
    """Why a bearer token was refused."""

    MALFORMED = "malformed"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"
    MISSING_CLAIM = "missing_claim"


class TokenRejectedError(Exception):
    """A bearer token failed verification; ``reason`` says why (the message is safe to show)."""

    def __init__(self, reason: TokenRejection, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenClaims:
    """The verified claims of an access token."""

    sub: str
    label: str | None
    iat: int
    exp: int
    jti: str | None


@dataclass(frozen=True, slots=True)
class MintedToken:
    """A freshly minted access token and its claims."""

    token: str
    claims: TokenClaims

    @property
    def expires_at(self) -> str:
        """The expiry in the mint response's ISO form."""
        return iso_utc(self.claims.exp)


class TokenIssuer:
    """Mints and verifies the sandbox's access tokens with one secret and one clock."""

    def __init__(
        self,
        secret: str,
        *,
        clock: Callable[[], float] = time.time,
        min_ttl: int = MIN_TTL_SECONDS,
        max_ttl: int = MAX_TTL_SECONDS,
        default_ttl: int = DEFAULT_TTL_SECONDS,
    ) -> None:
        self._secret = secret
        self._clock = clock
        self.min_ttl = min_ttl
        self.max_ttl = max_ttl
        self.default_ttl = default_ttl

    def clamp_ttl(self, ttl: int | None) -> int:
        """The lifetime actually granted for a requested ``ttl`` (``None``: the default)."""
        if ttl is None:
            return self.default_ttl
        return max(self.min_ttl, min(self.max_ttl, ttl))

    def mint(self, user_uuid: str, *, label: str | None = None, ttl: int | None = None) -> MintedToken:
        """Sign a token for ``user_uuid`` valid for ``clamp_ttl(ttl)`` seconds from now."""
        iat = int(self._clock())
        claims = TokenClaims(
            sub=user_uuid, label=label, iat=iat, exp=iat + self.clamp_ttl(ttl), jti=secrets.token_hex(12)
        )
        payload = {
            "sub": claims.sub, "label": claims.label, "iat": claims.iat, "exp": claims.exp, "jti": claims.jti
        }
        token = jwt.encode(payload, self._secret, algorithm=ALGORITHM, headers={"typ": "JWT"})
        return MintedToken(token=token, claims=claims)

    def verify(self, token: str) -> TokenClaims:
        """Check ``token``'s signature and expiry; return its claims or raise :class:`TokenRejectedError`."""
        malformed = TokenRejectedError(TokenRejection.MALFORMED, "access token is not a well-formed JWT")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.InvalidTokenError:
            raise malformed from None
        if header.get("alg") != ALGORITHM:
            message = f"access token must be signed with {ALGORITHM}"
            raise TokenRejectedError(TokenRejection.BAD_SIGNATURE, message)
        try:
            payload = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                options={
                    "require": ["sub", "iat", "exp"],
                    "verify_exp": False,  # checked below against the injectable clock
                    "verify_iat": False,
                    "verify_nbf": False,
                },
            )
        except jwt.InvalidSignatureError:
            message = "access token signature is invalid"
            raise TokenRejectedError(TokenRejection.BAD_SIGNATURE, message) from None
        except jwt.MissingRequiredClaimError as exc:
            message = f"access token lacks the {exc.claim!r} claim"
            raise TokenRejectedError(TokenRejection.MISSING_CLAIM, message) from None
        except jwt.InvalidTokenError:
            raise malformed from None
        sub, exp, iat = payload.get("sub"), payload.get("exp"), payload.get("iat")
        label, jti = payload.get("label"), payload.get("jti")
        if not isinstance(sub, str) or not sub:
            raise TokenRejectedError(TokenRejection.MISSING_CLAIM, "access token 'sub' must be a user UUID")
        if type(exp) is not int or type(iat) is not int:
            raise TokenRejectedError(TokenRejection.MALFORMED, "access token 'iat'/'exp' must be integers")
        if label is not None and not isinstance(label, str):
            raise TokenRejectedError(TokenRejection.MALFORMED, "access token 'label' must be a string")
        if jti is not None and not isinstance(jti, str):
            raise TokenRejectedError(TokenRejection.MALFORMED, "access token 'jti' must be a string")
        if self._clock() >= exp:
            raise TokenRejectedError(TokenRejection.EXPIRED, "access token has expired")
        return TokenClaims(sub=sub, label=label, iat=iat, exp=exp, jti=jti)
