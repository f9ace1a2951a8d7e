"""The Device's reconnection policy: after the WebSocket drops, try again until registered or out of attempts.

Field lessons §B-1..4. Calls stay up while the Device reconnects. Attempt *n* waits a random time between 0
and ``min(reconnect_max_delay_ms, reconnect_min_ms * 2**n)`` (exponential back-off with full jitter, which
spreads the reconnections of many pages that lost the same server); the browser's ``online`` event starts
an attempt at once and the back-off over. An attempt opens the WebSocket (the next server first) and
re-REGISTERs; a server that refuses our credentials gets fresh ones (they may have rotated). After
``reconnect_max_attempts`` failed attempts the Device gives up.

:class:`Reconnection` owns the loop, its timer and its ``online`` subscription; what it needs of the Device
is :class:`ReconnectionHost` (opening the transport, registering, and what to do at the start, the success
and the end of the attempts).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable
from typing import Protocol

from .errors import AuthError, VoiceSDKError
from .options import DeviceOptions
from .platform import Disposable

__all__ = ["Reconnection", "ReconnectionHost"]


class ReconnectionHost(Protocol):
    """What the reconnection loop needs of its Device."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's options (the ``reconnect_*`` ones)."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed (the loop stops)."""

    @property
    def transport_open(self) -> bool:
        """True while the WebSocket is open."""

    def on_online(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` on the browser's ``online`` event (raises where the runtime has none)."""

    async def open_transport(self) -> None:
        """Open the WebSocket (``REGISTER_ERROR`` when it cannot)."""

    async def register_again(self) -> None:
        """REGISTER on the open WebSocket; resolves on the registrar's 200."""

    async def refresh_credentials(self) -> VoiceSDKError | None:
        """Fetch fresh credentials; the error (already reported) when they could not be had."""

    def close_transport(self) -> None:
        """Close the WebSocket after a failed attempt, keeping the user agent and its calls."""

    def reconnecting(self, reason: str) -> None:
        """The reconnection starts: the Device and its calls are ``reconnecting``."""

    def reconnected(self) -> None:
        """An attempt registered: the Device and its calls are back."""

    def gave_up(self, attempts: int, last_error: VoiceSDKError | None) -> None:
        """The last attempt failed: end the calls and be ``unregistered``."""


class Reconnection:
    """The reconnection loop of one Device (see the module docstring)."""

    def __init__(self, host: ReconnectionHost) -> None:
        self._host = host
        self.rng = random.Random()
        self._task: asyncio.Task[None] | None = None
        self._wakeup: asyncio.Event | None = None
        self._online: Disposable | None = None

    @property
    def running(self) -> bool:
        """True while attempts are being made."""
        return self._task is not None and not self._task.done()

    async def wait(self) -> None:
        """Wait until the running attempts end (at once when none run)."""
        task = self._task
        if task is not None and not task.done():
            await asyncio.wait({task})

    def start(self, *, reason: str) -> None:
        """Start reconnecting (nothing when already reconnecting or the Device is destroyed)."""
        if self._host.destroyed or self.running:
            return
        self._host.reconnecting(reason)
        if self._online is None:
            try:
                self._online = self._host.on_online(self._wake)
            except Exception:  # a platform without the notion of "online"
                self._online = None
        self._wakeup = asyncio.Event()
        self._task = asyncio.ensure_future(self._loop())

    def stop(self) -> None:
        """Cancel the attempts and the ``online`` subscription."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None
        self._release_online()

    def backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter: a random delay in [0, min(cap, base * 2**attempt)] s."""
        options = self._host.options
        base = options.reconnect_min_ms / 1000
        cap = options.reconnect_max_delay_ms / 1000
        ceiling = min(cap, base * (1 << min(attempt, 30)))
        return self.rng.uniform(0.0, ceiling)

    def _wake(self) -> None:
        if self._wakeup is not None:
            self._wakeup.set()

    def _release_online(self) -> None:
        if self._online is not None:
            self._online.dispose()
            self._online = None

    async def _loop(self) -> None:
        """Attempt after attempt, each after a back-off delay (or at once on ``online``), up to the limit."""
        host = self._host
        limit = host.options.reconnect_max_attempts
        attempts = 0
        step = 0  # the back-off exponent; the browser's "online" event starts it again
        last_error: VoiceSDKError | None = None
        while not host.destroyed:
            if limit is not None and attempts >= limit:
                self._release_online()
                self._wakeup = None
                host.gave_up(attempts, last_error)
                return
            wakeup = self._wakeup
            if wakeup is not None:
                if not wakeup.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), timeout=self.backoff(step))
                if wakeup.is_set():  # "online" (now, or during the last attempt): try at once
                    wakeup.clear()
                    step = 0
            step += 1
            attempts += 1
            try:
                if not host.transport_open:
                    await host.open_transport()
                await host.register_again()
            except AuthError as exc:
                host.logger.info(
                    "reconnect attempt %d: the server refused the credentials: %s", attempts, exc
                )
                last_error = await host.refresh_credentials() or exc
                continue
            except VoiceSDKError as exc:
                host.logger.info("reconnect attempt %d failed: %s", attempts, exc)
                last_error = exc
                host.close_transport()
                continue
            host.reconnected()
            return
