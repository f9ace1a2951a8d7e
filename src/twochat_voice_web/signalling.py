"""The Device's SIP signalling: the sans-I/O user agent, its driver and the WebSocket under them.

:class:`Signalling` builds the :class:`~.sip.useragent.UserAgent` from the credentials (kept, with its
calls, while they stay the same), drives it through the one :class:`~.driver.UserAgentDriver`, opens the
WebSocket on the credentials' servers (:class:`~.signalling_servers.SignallingServers`: failover to the
next one), traces every SIP message at ``debug`` (secrets redacted) and runs REGISTER and its un-REGISTER
with their timeouts. It decides nothing about the Device's state: registration changes that nobody awaits,
the loss of the WebSocket, a server change and every other user-agent event go to the Device through
:class:`SignallingHost`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from .credentials import SipCredentials
from .driver import UserAgentDriver
from .errors import AuthError, ErrorCode, RegistrationError, VoiceSDKError
from .options import DeviceOptions
from .platform import Platform, SignallingConnection
from .signalling_servers import SignallingServers
from .sip import events as sip_events
from .sip.errors import LocalProtocolError
from .sip.events import RegistrationState
from .sip.trace import redact_message
from .sip.useragent import CallInfo, UserAgent, UserAgentConfig

__all__ = ["Signalling", "SignallingHost", "registration_error"]

T = TypeVar("T")

UNREGISTER_TIMEOUT = 5.0
"""How long ``unregister()`` waits for the registrar's answer before closing anyway (seconds)."""


class SignallingHost(Protocol):
    """What the signalling needs of its Device."""

    @property
    def platform(self) -> Platform:
        """The runtime (opens the WebSocket)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's options (``register_expires``, ``register_timeout_ms``)."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger (the SIP trace goes there at ``debug``)."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed (frames are then ignored)."""

    def on_sip_event(self, event: sip_events.Event) -> None:
        """A user-agent event other than a registration change somebody awaits."""

    def transport_lost(self, code: int) -> None:
        """The WebSocket closed under us (already cleaned up here)."""

    def server_changed(self, current: str | None, previous: str | None) -> None:
        """A new connection went to another server than the previous one."""


def registration_error(event: sip_events.RegistrationChanged) -> VoiceSDKError:
    """The SDK error for a failed REGISTER: ``AUTH_ERROR`` (401/403/407), ``REGISTER_ERROR`` (the
    connection closed) or ``REGISTRATION_FAILED``."""
    code = event.status_code
    if code in (401, 403, 407):
        return AuthError(
            None, f"the SIP server refused our credentials ({code} {event.reason or ''})".strip(), code
        )
    if code is None and event.reason in ("transport", "transport lost"):
        return RegistrationError(
            ErrorCode.REGISTER_ERROR,
            "the connection closed while registering",
            event.reason,
        )
    return RegistrationError(None, f"REGISTER failed: {code or ''} {event.reason or ''}".strip(), code)


class Signalling:
    """One Device's user agent, driver and WebSocket (see the module docstring)."""

    def __init__(self, host: SignallingHost) -> None:
        self._host = host
        self._driver: UserAgentDriver | None = None
        self._conn: SignallingConnection | None = None
        self._servers: SignallingServers | None = None
        self._ua_credentials: tuple[str, str, str] | None = None
        self._waiters: list[asyncio.Future[sip_events.RegistrationChanged]] = []
        self.down = False
        """True while the WebSocket is down (calls wait for it before restarting ICE)."""

    # ---------------------------------------------------------------- state

    @property
    def ua(self) -> UserAgent | None:
        """The user agent (None before the first credentials)."""
        return self._driver.ua if self._driver is not None else None

    @property
    def transport_open(self) -> bool:
        """True while the WebSocket is open."""
        return self._conn is not None

    @property
    def ws_url(self) -> str | None:
        """The server in use, or last used; None before the first connection."""
        return self._servers.connected if self._servers is not None else None

    def now(self) -> float:
        """The loop's time, which the user agent is given."""
        return asyncio.get_event_loop().time()

    # ---------------------------------------------------------------- credentials

    def use_credentials(self, credentials: SipCredentials) -> None:
        """Build the user agent for ``credentials`` (the current one is kept when they did not change)."""
        if self.ua is not None and self._matches(credentials):
            self._use_servers(credentials)
            return
        aor = credentials.aor()
        transport = "WSS" if credentials.ws_url.lower().startswith("wss:") else "WS"
        if self._driver is not None:
            self._driver.close()
        ua = UserAgent(
            UserAgentConfig(
                aor=aor,
                display_name=credentials.display_name,
                username=credentials.username,
                password=credentials.password,
                transport=transport,
                register_expires=self._host.options.register_expires,
            )
        )
        self._driver = UserAgentDriver(ua, on_event=self._dispatch)
        self._ua_credentials = (credentials.username, credentials.password, credentials.sip_uri)
        self._use_servers(credentials)

    def refresh_credentials(self, credentials: SipCredentials) -> None:
        """Fresh credentials on reconnection: the user agent (and its calls) stays, with the new secret."""
        ua = self.ua
        if ua is not None and not self._matches(credentials):
            ua.update_credentials(username=credentials.username, password=credentials.password)
            self._ua_credentials = (credentials.username, credentials.password, credentials.sip_uri)
        self._use_servers(credentials)

    def _use_servers(self, credentials: SipCredentials) -> None:
        """Take the credentials' WebSocket URLs (kept as they are when the list did not change)."""
        if self._servers is None or not self._servers.same_list(credentials.all_ws_urls):
            self._servers = SignallingServers(credentials.all_ws_urls)

    def _matches(self, credentials: SipCredentials) -> bool:
        return self._ua_credentials == (credentials.username, credentials.password, credentials.sip_uri)

    # ---------------------------------------------------------------- transport

    async def open_transport(self) -> None:
        """Open the WebSocket; a failure is ``REGISTER_ERROR`` with the platform's error as ``cause``."""
        assert self._servers is not None
        try:
            self._conn, previous = await self._servers.connect(
                lambda url: self._host.platform.open_signalling(
                    url, on_message=self._on_frame, on_close=self._on_transport_closed, timeout=10.0
                )
            )
        except VoiceSDKError as exc:
            raise RegistrationError(
                ErrorCode.REGISTER_ERROR, f"could not open the WebSocket: {exc.message}", exc
            ) from None
        if self._driver is not None:
            self._driver.writer = self._write
        self.down = False
        current = self._servers.current
        if previous != current:
            self._host.server_changed(current, previous)

    def close_transport(self, *, keep_ua: bool = False) -> None:
        """Close the WebSocket; the user agent learns it lost its transport (its calls survive)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self.down = True
        if self._driver is not None:
            self._driver.writer = None
            if not keep_ua:
                self._driver.cancel_timer()
        ua = self.ua
        if ua is not None and ua.connected:
            ua.transport_lost(self.now())
            ua.events()  # the registration loss is ours, not news

    def _on_frame(self, data: bytes) -> None:
        if self._driver is None or self._host.destroyed:
            return
        self._trace("received", data)
        self._driver.receive_data(data)

    def _write(self, data: bytes) -> None:
        """The driver's writer while the WebSocket is open."""
        conn = self._conn
        if conn is None:
            return
        self._trace("sent", data)
        try:
            conn.send(data)
        except Exception as exc:
            self._host.logger.warning("WebSocket send failed: %s", exc)
            self._on_transport_closed(1006, "send failed")

    def _trace(self, direction: str, data: bytes) -> None:
        """At ``debug``: log one SIP message, secrets redacted."""
        log = self._host.logger
        if log.isEnabledFor(logging.DEBUG):
            log.debug("SIP %s (%d bytes):\n%s", direction, len(data), redact_message(data))

    def _on_transport_closed(self, code: int, reason: str) -> None:
        if self._host.destroyed or self._conn is None:
            return
        self._host.logger.warning("signalling connection closed (%s %s)", code, reason)
        self._conn = None
        self.down = True
        if self._servers is not None:
            self._servers.rotate()  # reconnect to the next server first
        if self._driver is not None:
            self._driver.writer = None
            self._driver.transport_lost()
        self._host.transport_lost(code)

    # ---------------------------------------------------------------- registration

    async def register(self) -> sip_events.RegistrationChanged:
        """REGISTER (or re-REGISTER after a lost transport) and wait for the final answer.

        Raises:
            AuthError, RegistrationError: as :func:`registration_error`; ``REGISTRATION_FAILED`` with a
                ``TIMEOUT`` cause after ``register_timeout_ms``.
        """
        ua = self.ua
        assert ua is not None
        waiter = self._registration_waiter()
        if ua.connected:
            ua.register(self.now())
        else:
            ua.transport_restored(self.now())
            if ua.registration_state is RegistrationState.UNREGISTERED:
                ua.register(self.now())
        self.pump()
        timeout_ms = self._host.options.register_timeout_ms
        try:
            event = await asyncio.wait_for(waiter, timeout=timeout_ms / 1000)
        except TimeoutError:
            seconds = timeout_ms / 1000
            timeout = VoiceSDKError(ErrorCode.TIMEOUT, f"no final answer to REGISTER within {seconds:g} s")
            raise RegistrationError(
                ErrorCode.REGISTRATION_FAILED, "the registrar did not answer in time", timeout
            ) from None
        if event.state is not RegistrationState.REGISTERED:
            raise registration_error(event)
        return event

    async def unregister(self) -> bool:
        """Remove the registration (when there is one and the WebSocket is open); False when the registrar
        did not confirm it within :data:`UNREGISTER_TIMEOUT`."""
        ua = self.ua
        if ua is None or self._conn is None or ua.registration_state is RegistrationState.UNREGISTERED:
            return True
        waiter = self._registration_waiter()
        ua.unregister(self.now())
        self.pump()
        try:
            await asyncio.wait_for(waiter, timeout=UNREGISTER_TIMEOUT)
        except (TimeoutError, asyncio.CancelledError):
            return False
        return True

    def _registration_waiter(self) -> asyncio.Future[sip_events.RegistrationChanged]:
        waiter: asyncio.Future[sip_events.RegistrationChanged] = asyncio.get_event_loop().create_future()
        self._waiters.append(waiter)
        return waiter

    # ---------------------------------------------------------------- the user agent

    def _dispatch(self, event: sip_events.Event) -> None:
        if isinstance(event, sip_events.RegistrationChanged) and event.state in (
            RegistrationState.REGISTERED,
            RegistrationState.UNREGISTERED,
        ):
            waiters, self._waiters = self._waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(event)
            if waiters:
                return
        self._host.on_sip_event(event)

    def pump(self) -> None:
        """Write what the user agent produced and hand out its events."""
        if self._driver is not None:
            self._driver.pump()

    def act(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(user_agent, now)`` through the driver (which pumps afterwards)."""
        driver = self._driver
        if driver is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the Device has no SIP session")
        return driver.act(action)

    def call_info(self, handle: str | None) -> CallInfo | None:
        """What the user agent knows of call ``handle`` (None when nothing)."""
        ua = self.ua
        if ua is None or handle is None:
            return None
        try:
            return ua.call_info(handle)
        except LocalProtocolError:
            return None

    def hang_up_everything(self) -> None:
        """The Device is being destroyed: BYE/CANCEL every call and un-REGISTER, best effort, sent now."""
        ua = self.ua
        if ua is None or self._conn is None:
            return
        for handle in ua.calls:
            with contextlib.suppress(LocalProtocolError):
                ua.hangup(handle, self.now())
        if ua.registration_state is RegistrationState.REGISTERED:
            ua.unregister(self.now())
        if self._driver is not None:
            self._driver.flush()

    def close(self) -> None:
        """Close the WebSocket and the driver."""
        self.close_transport()
        if self._driver is not None:
            self._driver.close()

    def cancel_waiters(self) -> None:
        """Cancel whoever awaits a registration change (the Device is destroyed)."""
        for waiter in self._waiters:
            if not waiter.done():
                waiter.cancel()
