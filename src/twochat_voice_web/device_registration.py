"""The Device's registration: from the held token to the registrar's 200, and back to ``unregistered``.

:class:`DeviceRegistration` registers this tab itself (the single-tab path, or a multi-tab group's
leader): it checks the token locally (``TOKEN_INVALID``/``TOKEN_EXPIRED`` before any network call), moves
the lifecycle to ``registering``, gets the SIP credentials (:func:`~.credentials.obtain_credentials`), hands
them to the signalling, opens the WebSocket and REGISTERs; on the 200 the lifecycle is ``registered``, the
token timers (``tokenWillExpire``) are armed and the Device emits ``registered``. A failure closes the
transport and the lifecycle takes ``REGISTER_FAILED``. ``register`` is idempotent while registering (field
lesson §B-5): a second caller awaits the first attempt; while the reconnection loop owns the transport it
waits for that loop instead of opening a second WebSocket.

It also unregisters (``UNREGISTER_ERROR`` when the registrar does not confirm, the WebSocket closes
anyway), fetches fresh credentials when a reconnection attempt is refused, and notices a registration lost
on refresh while the transport is up (an ``error``, ``unregistered``, then the reconnection loop).

What it needs of its Device is :class:`RegistrationHost`; it drives the Device's
:class:`~.lifecycle.DeviceLifecycle`, :class:`~.signalling.Signalling`, :class:`~.reconnection.Reconnection`
and :class:`~.access_token.HeldToken`, which the Device hands it.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .access_token import HeldToken
from .credentials import CredentialsProvider, SipCredentials, obtain_credentials
from .errors import ErrorCode, VoiceSDKError
from .lifecycle import DeviceLifecycle, DeviceState, LifecycleCause
from .options import DeviceOptions
from .platform import Platform
from .reconnection import Reconnection
from .signalling import Signalling, registration_error
from .sip import events as sip_events
from .sip.events import RegistrationState

__all__ = ["DeviceRegistration", "RegistrationHost"]


class RegistrationHost(Protocol):
    """What the registration needs of its Device."""

    @property
    def platform(self) -> Platform:
        """The runtime (``http_get_json`` for the credentials)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's options (``api_base_url``, ``credentials_path``, ``multi_tab``)."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed."""

    def check_alive(self) -> None:
        """Raise ``DESTROYED`` once the Device was destroyed."""

    def emit(self, event: str, *args: object) -> None:
        """Emit a Device event (``registering``, ``registered``, ``unregistered``)."""

    def emit_error(self, error: VoiceSDKError) -> None:
        """Emit a non-fatal ``error`` on the Device."""

    def watch_page(self) -> None:
        """Hook the page's lifecycle (leaving the page destroys the Device)."""

    def registered_alone(self, aor: str) -> None:
        """This tab registered on its own (no ``multi_tab``): link it to the user's other tabs."""


class DeviceRegistration:
    """The registration of one Device (see the module docstring)."""

    def __init__(
        self,
        host: RegistrationHost,
        *,
        token: HeldToken,
        provider: CredentialsProvider | None,
        lifecycle: DeviceLifecycle,
        signalling: Signalling,
        reconnection: Reconnection,
    ) -> None:
        self._host = host
        self._token = token
        self._provider = provider
        self._lifecycle = lifecycle
        self._signalling = signalling
        self._reconnection = reconnection
        self._task: asyncio.Future[None] | None = None
        self.credentials: SipCredentials | None = None
        """The credentials last fetched (None before the first registration)."""

    async def register(self) -> None:
        """Register this tab itself; resolves on the registrar's 200 (at once when registered)."""
        host, lifecycle = self._host, self._lifecycle
        host.check_alive()
        if lifecycle.state is DeviceState.RECONNECTING and self._reconnection.running:
            # The reconnect loop owns the transport: a second registration would open a second WebSocket.
            await self._reconnection.wait()
            host.check_alive()
        if lifecycle.state is DeviceState.REGISTERED:
            return
        if self._task is not None and not self._task.done():
            await asyncio.shield(self._task)
            return
        self._token.check_current()
        host.watch_page()
        task = asyncio.ensure_future(self._register())
        self._task = task
        await asyncio.shield(task)

    async def _register(self) -> None:
        host, lifecycle, signalling = self._host, self._lifecycle, self._signalling
        if lifecycle.state is not DeviceState.REGISTERING:  # a multi-tab follower said it already
            lifecycle.handle(LifecycleCause.REGISTER)
            host.emit("registering")
        try:
            credentials = await self.load_credentials()
            signalling.use_credentials(credentials)
            await signalling.open_transport()
            await signalling.register()
        except BaseException:
            signalling.close_transport()
            if not host.destroyed:
                lifecycle.handle(LifecycleCause.REGISTER_FAILED)
            raise
        lifecycle.handle(LifecycleCause.REGISTERED)
        self.arm_token_timers()
        if host.options.multi_tab is False:
            host.registered_alone(str(credentials.aor()))
        host.emit("registered")

    async def unregister(self) -> None:
        """Un-REGISTER this tab and close the WebSocket (nothing when not registered)."""
        host = self._host
        if host.destroyed or self._lifecycle.state is DeviceState.UNREGISTERED:
            return
        self._reconnection.stop()
        if not await self._signalling.unregister():
            host.emit_error(
                VoiceSDKError(ErrorCode.UNREGISTER_ERROR, "the registrar did not confirm the unregistration")
            )
        self._signalling.close_transport()
        self._lifecycle.handle(LifecycleCause.UNREGISTER)
        host.emit("unregistered")

    async def load_credentials(self) -> SipCredentials:
        """Get the SIP credentials (the provider, or 2Chat's endpoint with the token) and keep them."""
        options = self._host.options
        credentials = await obtain_credentials(
            self._host.platform,
            self._token.raw,
            provider=self._provider,
            api_base_url=options.api_base_url,
            path=options.credentials_path,
            clock=self._token.server_clock,
        )
        self.credentials = credentials
        return credentials

    async def prepare(self) -> SipCredentials:
        """Check the current token and get credentials (a multi-tab registration, before the election)."""
        self._token.check_current()
        return await self.load_credentials()

    async def renew_credentials(self) -> None:
        """The server refused our credentials on reconnect: check the token, hand the user agent fresh ones.

        Raises:
            VoiceSDKError: the token or the credentials are not usable.
        """
        self._token.check(self._token.raw)
        self._signalling.refresh_credentials(await self.load_credentials())

    def lost(self, event: sip_events.RegistrationChanged) -> None:
        """The user agent's registration changed: a refresh that failed with the transport up is reported,
        the Device is ``unregistered`` and reconnects."""
        if (
            event.state is RegistrationState.UNREGISTERED
            and self._lifecycle.state is DeviceState.REGISTERED
            and event.reason != "transport lost"
        ):
            self._host.emit_error(registration_error(event))
            self._lifecycle.handle(LifecycleCause.REGISTRATION_LOST)
            self._host.emit("unregistered")
            self._reconnection.start(reason="registration lost")

    def arm_token_timers(self) -> None:
        """(Re)start ``tokenWillExpire``/``TOKEN_EXPIRED`` for the current token, while registered."""
        if self._host.destroyed:
            self._token.cancel_timers()
            return
        self._token.arm_timers(
            registered=self._lifecycle.state in (DeviceState.REGISTERED, DeviceState.RECONNECTING)
        )

    def cancel(self) -> None:
        """Stop a registration under way (the Device is destroyed)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
