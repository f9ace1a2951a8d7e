"""Access tokens: the short-lived JWT a backend mints for one 2Chat user.

The browser cannot verify the HS256 signature (it has no secret), so the SDK decodes the token unverified
with pyjwt, only to read ``exp`` and refuse a malformed or expired token *before* any network call.
Servers verify it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import jwt

from .errors import ErrorCode, TokenError

__all__ = ["TokenInfo", "decode_token", "looks_like_jwt"]


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """What the SDK reads from a token."""

    raw: str
    """The token as given."""
    expires_at: float | None
    """``exp`` as seconds since the epoch, or None when the token carries none."""
    subject: str | None
    """``sub`` (the 2Chat user uuid), if present."""
    label: str | None
    """``label``, if present."""

    def seconds_left(self, now: float | None = None) -> float | None:
        """Seconds until ``exp`` (negative once expired), or None without ``exp``."""
        if self.expires_at is None:
            return None
        return self.expires_at - (time.time() if now is None else now)


def looks_like_jwt(token: str) -> bool:
    """True when ``token`` has the three dot-separated parts of a JWS compact serialisation."""
    parts = token.split(".")
    return len(parts) == 3 and all(parts[:2])


def decode_token(token: object, *, now: float | None = None, require_jwt: bool = True) -> TokenInfo:
    """Decode ``token`` without verifying its signature, and check it is usable now.

    Args:
        token: the access token.
        now: the current time (seconds since the epoch); default the wall clock.
        require_jwt: False when a ``credentials_provider`` accepts opaque tokens: a non-JWT string is then
            returned as-is (no expiry known); a JWT is still checked.

    Raises:
        TokenError: ``TOKEN_INVALID`` (not a string, empty, malformed, control characters) or
            ``TOKEN_EXPIRED`` (past ``exp``).
    """
    if not isinstance(token, str) or not token.strip():
        raise TokenError("the token must be a non-empty string", code=ErrorCode.TOKEN_INVALID)
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in token):
        raise TokenError("the token contains whitespace or control characters", code=ErrorCode.TOKEN_INVALID)
    if not looks_like_jwt(token):
        if require_jwt:
            raise TokenError(
                "the token is not a JWT (expected three dot-separated parts)", code=ErrorCode.TOKEN_INVALID
            )
        return TokenInfo(token, None, None, None)
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError as exc:
        raise TokenError(f"the token is not a valid JWT: {exc}", exc, code=ErrorCode.TOKEN_INVALID) from None
    exp = claims.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
        raise TokenError("the token's exp claim is not a number", code=ErrorCode.TOKEN_INVALID)
    info = TokenInfo(
        raw=token,
        expires_at=float(exp) if exp is not None else None,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        label=claims.get("label") if isinstance(claims.get("label"), str) else None,
    )
    left = info.seconds_left(now)
    if left is not None and left <= 0:
        raise TokenError(
            f"the token expired {-left:.0f} s ago; mint a new one and call update_token()",
            code=ErrorCode.TOKEN_EXPIRED,
        )
    return info
