"""Access tokens: the short-lived JWT a backend mints for one 2Chat user.

The browser cannot verify the HS256 signature (it has no secret), so the SDK decodes the token unverified,
only to read ``exp`` and refuse a malformed or expired token *before* any network call. Servers verify it.

``exp`` is judged by the server's clock, not the page's: :class:`ServerClock` holds the offset between the
two, measured from the HTTP ``Date`` of the credentials response or bounded by a token's ``iat``.

Decoding an unverified JWS needs only base64url and JSON, so it is done here with the standard library,
exactly as pyjwt's ``decode(options={"verify_signature": False})`` does it: importing pyjwt in the browser
would cost about 0.3 s at start-up and pull ``urllib.request``, ``http`` and ``email`` into the page.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .errors import ErrorCode, TokenError

__all__ = ["ServerClock", "TokenInfo", "decode_token", "looks_like_jwt", "token_subject", "unverified_claims"]


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
    issued_at: float | None = None
    """``iat`` as seconds since the epoch, or None when the token carries none."""

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
    iat = claims.get("iat")
    if isinstance(iat, bool) or not isinstance(iat, int | float) or not math.isfinite(iat):
        iat = None  # informative only (a clock hint): a malformed iat is ignored, as pyjwt does unverified
    info = TokenInfo(
        raw=token,
        expires_at=float(exp) if exp is not None else None,
        subject=claims.get("sub") if isinstance(claims.get("sub"), str) else None,
        label=claims.get("label") if isinstance(claims.get("label"), str) else None,
        issued_at=float(iat) if iat is not None else None,
    )
    left = info.seconds_left(now)
    if left is not None and left <= 0:
        raise TokenError(
            ErrorCode.TOKEN_EXPIRED,
            f"the token expired {-left:.0f} s ago; mint a new one and call update_token()",
        )
    return info


def token_subject(token: str) -> str | None:
    """The ``sub`` claim of a JWT (read unverified, expired or not), or None (opaque token, no ``sub``)."""
    if not looks_like_jwt(token):
        return None
    try:
        subject = unverified_claims(token).get("sub")
    except ValueError:
        return None
    return subject if isinstance(subject, str) else None


class ServerClock:
    """The server's wall clock as seen from the page: the page's clock plus a measured offset.

    A token's ``exp`` is judged by the server that issued it. A page whose clock is off would warn too late
    (a slow clock: the token expires before ``tokenWillExpire``) or too early (a fast clock: a fresh token
    looks expired). The offset comes from:

    * the HTTP ``Date`` of a response of the API (:meth:`observe_date`): the server's time in the middle of
      the request, to within half a second plus half the round trip. The latest measurement wins. (In a
      page, a cross-origin API must list ``Date`` in ``Access-Control-Expose-Headers`` for the page to read
      it.)
    * a token's ``iat`` (:meth:`observe_issued_at`): when the page receives a token, the server's clock is
      at least ``iat``. A page clock behind ``iat`` is slow by at least that much and is moved forward. A
      page clock ahead of ``iat`` cannot be told from an old token, so without a ``Date`` it is trusted:
      the warning then comes early, never late.

    Args:
        wall: the page's clock (seconds since the epoch); ``time.time`` by default.
    """

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall
        self._measured: float | None = None
        self._floor: float | None = None

    def page_time(self) -> float:
        """The page's clock, seconds since the epoch."""
        return self._wall()

    @property
    def measured(self) -> bool:
        """True once an HTTP ``Date`` gave the offset."""
        return self._measured is not None

    @property
    def offset(self) -> float:
        """Seconds to add to the page's clock to get the server's (positive: the page's clock is slow)."""
        if self._floor is None:
            return self._measured if self._measured is not None else 0.0
        if self._measured is None:
            return max(0.0, self._floor)
        return max(self._measured, self._floor)

    def now(self) -> float:
        """The server's current time (seconds since the epoch), as well as the page can tell."""
        return self._wall() + self.offset

    def observe_date(self, server_date: float | None, *, sent_at: float, received_at: float) -> None:
        """Take the offset from an HTTP ``Date`` (``server_date``: its value, seconds since the epoch).

        ``sent_at`` and ``received_at`` are the page's clock when the request left and the response came
        back. ``Date`` has a one-second resolution (it is truncated), so the server's time in the middle of
        the exchange is ``server_date + 0.5``. Nothing is learnt without a date, or when the page's clock
        went backwards during the request.
        """
        if server_date is None or not math.isfinite(server_date) or received_at < sent_at:
            return
        self._measured = server_date + 0.5 - (sent_at + received_at) / 2

    def observe_issued_at(self, issued_at: float | None) -> None:
        """A token issued at ``issued_at`` (``iat``) was just received: the server's clock is past it."""
        if issued_at is None or not math.isfinite(issued_at):
            return
        floor = issued_at - self._wall()
        self._floor = floor if self._floor is None else max(self._floor, floor)
