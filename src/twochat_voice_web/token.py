"""Access tokens: the short-lived JWT a backend mints for one 2Chat user.

The browser cannot verify the HS256 signature (it has no secret), so the SDK decodes the token unverified,
only to read ``exp`` and refuse a malformed or expired token *before* any network call. Servers verify it.

Decoding an unverified JWS needs only base64url and JSON, so it is done here with the standard library,
exactly as pyjwt's ``decode(options={"verify_signature": False})`` does it: importing pyjwt in the browser
would cost about 0.3 s at start-up and pull ``urllib.request``, ``http`` and ``email`` into the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, TokenError

__all__ = ["TokenInfo", "decode_token", "looks_like_jwt", "unverified_claims"]


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


_BASE64URL_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def _base64url(segment: str, part: str) -> bytes:
    """One base64url segment of a JWS; ValueError unless it is canonical base64url.

    Up to two trailing ``=`` are accepted (some issuers pad), anything outside the alphabet is refused,
    and the segment must be the canonical encoding of what it decodes to.
    """
    stripped = segment.rstrip("=")
    padding = len(segment) - len(stripped)
    if (
        padding > 2
        or (padding and len(segment) % 4)
        or len(stripped) % 4 == 1
        or not _BASE64URL_ALPHABET.issuperset(stripped)
    ):
        raise ValueError(f"Invalid {part} padding")
    try:
        decoded = base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError):
        raise ValueError(f"Invalid {part} padding") from None
    if base64.urlsafe_b64encode(decoded).decode("ascii").rstrip("=") != stripped:
        raise ValueError(f"Invalid {part} padding")
    return decoded


def _json_object(data: bytes, part: str) -> dict[str, Any]:
    """The JSON object in ``data``; ValueError when it is not JSON or not an object."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        raise ValueError(f"Invalid {part} string: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"Invalid {part} string: must be a json object")
    return value


def unverified_claims(token: str) -> dict[str, Any]:
    """The claims of a JWS compact serialisation, read without checking its signature.

    The header must be a JSON object, the signature valid base64url, the payload a JSON object (the checks
    of pyjwt's ``decode`` without signature verification).

    Raises:
        ValueError: naming the part that is malformed (``Not enough segments``, ``Invalid payload
            padding``, ``Invalid header string: ...``).
    """
    signing_input, _, signature_segment = token.rpartition(".")
    header_segment, dot, payload_segment = signing_input.partition(".")
    if not dot:
        raise ValueError("Not enough segments")
    header = _json_object(_base64url(header_segment, "header"), "header")
    if header.get("b64", True) is False:  # RFC 7797 detached payload: nothing to read here
        if payload_segment:
            raise ValueError("Payload segment must be empty when 'b64' is false.")
        payload = b""
    else:
        payload = _base64url(payload_segment, "payload")
    _base64url(signature_segment, "crypto")
    return _json_object(payload, "payload")


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
        raise TokenError(ErrorCode.TOKEN_INVALID, "the token must be a non-empty string")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in token):
        raise TokenError(ErrorCode.TOKEN_INVALID, "the token contains whitespace or control characters")
    if not looks_like_jwt(token):
        if require_jwt:
            raise TokenError(
                ErrorCode.TOKEN_INVALID,
                "the token is not a JWT (expected three dot-separated parts)",
            )
        return TokenInfo(token, None, None, None)
    try:
        claims = unverified_claims(token)
    except ValueError as exc:
        raise TokenError(ErrorCode.TOKEN_INVALID, f"the token is not a valid JWT: {exc}", exc) from None
    exp = claims.get("exp")
    if exp is not None and (isinstance(exp, bool) or not isinstance(exp, int | float)):
        raise TokenError(ErrorCode.TOKEN_INVALID, "the token's exp claim is not a number")
    info = TokenInfo(
        raw=token,
        expires_at=float(exp) if exp is not None else None,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        label=claims.get("label") if isinstance(claims.get("label"), str) else None,
    )
    left = info.seconds_left(now)
    if left is not None and left <= 0:
        raise TokenError(
            ErrorCode.TOKEN_EXPIRED,
            f"the token expired {-left:.0f} s ago; mint a new one and call update_token()",
        )
    return info
