"""The Device's reconnection policy: after the WebSocket drops, try again until registered or out of attempts.

Field lessons §B-1..4. Calls stay up while the Device reconnects. Attempt *n* waits a random time between 0
and ``min(reconnect_max_delay_ms, reconnect_min_ms * 2**n)`` (exponential back-off with full jitter, which
spreads the reconnections of many pages that lost the same server); the browser's ``online`` event starts
an attempt at once and the back-off over. An attempt opens the WebSocket (the next server first) and
re-REGISTERs; a server that refuses our credentials gets fresh ones (they may have rotated). After
``reconnect_max_attempts`` failed attempts the Device gives up.

What reconnecting does to the Device and its calls is here too: at the start the Device (lifecycle cause
``RECONNECT``) and every call are ``reconnecting``; on success they are ``reconnected`` (and the Device
``registered`` again); when it gives up, every call ends (``reconnect-failed``), the Device reports
``REGISTRATION_FAILED`` and is ``unregistered``.

:class:`Reconnection` owns the loop, its timer and its ``online`` subscription; what it needs of the Device
is :class:`ReconnectionHost` (its state, events and calls, fresh credentials); it opens the transport and
registers through the Device's :class:`~.signalling.Signalling`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from typing import Protocol

from .call import CallControl
from .device_view import DeviceView
from .errors import AuthError, ErrorCode, RegistrationError, VoiceSDKError
from .lifecycle import LifecycleCause
from .options import DeviceOptions
from .platform import Disposable
from .signalling import Signalling

__all__ = ["Reconnection", "ReconnectionHost"]


class ReconnectionHost(DeviceView, Protocol):
    """What the reconnection loop needs of its Device (besides its ``platform.on_online``, ``destroyed``
    and ``calls``)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's options (the ``reconnect_*`` ones)."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""

    def change_state(self, cause: LifecycleCause) -> None:
        """Move the Device's lifecycle by ``cause`` (``RECONNECT``, ``RECONNECTED``, ``GIVE_UP``)."""

    def emit(self, event: str, *args: object) -> None:
        """Emit a Device event."""

    def emit_error(self, error: VoiceSDKError) -> None:
        """Emit a non-fatal ``error`` on the Device."""

    async def renew_credentials(self) -> None:
        """Check the token and fetch fresh credentials for the user agent (``VoiceSDKError`` when not)."""

    def cancel_token_timers(self) -> None:
        """Stop ``tokenWillExpire``/``TOKEN_EXPIRED`` (the registration is over)."""


class Reconnection:
    """The reconnection loop of one Device (see the module docstring)."""

    def __init__(self, host: ReconnectionHost, signalling: Signalling) -> None:
        self._host = host
        self._signalling = signalling
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
        self._host.change_state(LifecycleCause.RECONNECT)
        self._host.emit("reconnecting", {"reason": reason})
        for call in self._host.calls:
            CallControl(call).signalling_lost()
        if self._online is None:
            try:
                self._online = self._host.platform.on_online(self._wake)
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
                self._give_up(attempts, last_error)
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
                if not self._signalling.transport_open:
                    await self._signalling.open_transport()
                await self._signalling.register()
            except AuthError as exc:
                host.logger.info(
                    "reconnect attempt %d: the server refused the credentials: %s", attempts, exc
                )
                last_error = await self._refresh_credentials() or exc
                continue
            except VoiceSDKError as exc:
                host.logger.info("reconnect attempt %d failed: %s", attempts, exc)
                last_error = exc
                self._signalling.close_transport(keep_ua=True)
                continue
            host.change_state(LifecycleCause.RECONNECTED)
            host.emit("reconnected")
            host.emit("registered")
            for call in host.calls:
                CallControl(call).signalling_restored()
            return

    async def _refresh_credentials(self) -> VoiceSDKError | None:
        """The server refused our credentials on reconnect: fetch fresh ones (they may have rotated).

        Returns the error (also emitted) when they could not be had; the back-off then waits as usual.
        """
        try:
            await self._host.renew_credentials()
        except VoiceSDKError as exc:
            self._host.emit_error(exc)
            return exc
        return None

    def _give_up(self, attempts: int, last_error: VoiceSDKError | None) -> None:
        """The last attempt failed: end the calls, report a terminal error, be ``unregistered``."""
        host = self._host
        detail = f" (last: {last_error.message})" if last_error is not None else ""
        for call in list(host.calls):
            CallControl(call).reconnect_failed(
                VoiceSDKError(
                    ErrorCode.TRANSPORT_ERROR,
                    f"the Device gave up reconnecting after {attempts} attempt(s){detail}",
                    last_error,
                )
            )
        self._signalling.close_transport()
        host.cancel_token_timers()
        host.change_state(LifecycleCause.GIVE_UP)
        host.logger.error("gave up reconnecting after %d attempt(s)%s", attempts, detail)
        host.emit(
            "error",
            RegistrationError(
                ErrorCode.REGISTRATION_FAILED,
                f"gave up reconnecting after {attempts} attempt(s){detail}; call register() to try again",
                last_error,
            ),
        )
        host.emit("unregistered")
