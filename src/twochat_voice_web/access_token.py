"""The Device's access token: checked before use, swapped only for the same user, and watched for expiry.

Field lessons §B-6/7: ``update_token()`` only swaps the token and re-arms the ``tokenWillExpire`` timer; it
never touches media or re-registers. ``exp`` is judged on the server's clock
(:class:`~.token.ServerClock`, corrected from the credentials' ``Date`` and the token's ``iat``); the timers
themselves run on the loop's monotonic clock, so a later change of the page's clock does not move them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .errors import ErrorCode, TokenError
from .token import ServerClock, TokenInfo, decode_token, looks_like_jwt, token_subject

__all__ = ["HeldToken"]


class HeldToken:
    """The token a Device holds, with its expiry timers.

    Args:
        raw: the token as given.
        jwt_only: True when the token must be a JWT (2Chat's credentials endpoint); False with a
            ``credentials_provider``, which may take opaque tokens (a JWT-looking one is still checked).
        lead_ms: how long before ``exp`` ``on_will_expire`` runs.
        on_will_expire: called once the current token is ``lead_ms`` from expiry.
        on_expired: called with ``TOKEN_EXPIRED`` once the current token expired.
    """

    def __init__(
        self,
        raw: str,
        *,
        jwt_only: bool,
        lead_ms: int,
        on_will_expire: Callable[[], None],
        on_expired: Callable[[TokenError], None],
    ) -> None:
        self.raw = raw
        self.info: TokenInfo | None = None
        self.server_clock = ServerClock()
        self.timers: list[asyncio.Handle] = []
        self._jwt_only = jwt_only
        self._lead = lead_ms / 1000
        self._on_will_expire = on_will_expire
        self._on_expired = on_expired

    def check(self, token: str) -> TokenInfo:
        """Decode ``token`` and check its dates on the server's clock.

        Raises:
            TokenError: ``TOKEN_INVALID`` (malformed), ``TOKEN_EXPIRED``.
        """
        return decode_token(
            token, now=self.server_clock.now(), require_jwt=self._jwt_only or looks_like_jwt(token)
        )

    def check_current(self) -> TokenInfo:
        """Check the current token and remember what it says (before a registration)."""
        self.info = self.check(self.raw)
        return self.info

    def swap(self, token: str) -> None:
        """Take ``token`` instead of the current one; the timers are the caller's to re-arm.

        Raises:
            TokenError: ``TOKEN_INVALID`` (malformed, or for another user: nothing changes),
                ``TOKEN_EXPIRED``.
        """
        info = self.check(token)
        current = self.info.subject if self.info is not None else token_subject(self.raw)
        if current is not None and info.subject is not None and info.subject != current:
            raise TokenError(
                ErrorCode.TOKEN_INVALID,
                f"update_token(): this token is for user {info.subject!r}, but the Device is {current!r}; "
                "a token for another user needs its own Device",
            )
        self.raw = token
        self.info = info

    def arm_timers(self, *, registered: bool) -> None:
        """(Re)start the ``will expire``/``expired`` timers of the current token; only while ``registered``
        (registered or reconnecting) and when the token has an ``exp``."""
        self.cancel_timers()
        info = self.info
        if info is None:
            return
        self.server_clock.observe_issued_at(info.issued_at)
        if info.expires_at is None or not registered:
            return
        loop = asyncio.get_event_loop()
        left = info.expires_at - self.server_clock.now()
        self.timers.append(loop.call_later(max(0.0, left - self._lead), self._will_expire, info.raw))
        self.timers.append(loop.call_later(max(0.0, left), self._expired, info.raw))

    def cancel_timers(self) -> None:
        """Stop both timers."""
        for timer in self.timers:
            timer.cancel()
        self.timers.clear()

    def _will_expire(self, raw: str) -> None:
        if raw == self.raw:
            self._on_will_expire()

    def _expired(self, raw: str) -> None:
        if raw == self.raw:
            self._on_expired(
                TokenError(
                    ErrorCode.TOKEN_EXPIRED,
                    "the access token expired; call update_token() with a fresh one",
                )
            )
