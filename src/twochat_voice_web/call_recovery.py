"""Keeping a call alive when its paths fail: ICE restarts and the ``reconnecting`` phase.

Field lessons §B-1..4. A call is ``reconnecting`` (the ``reconnecting`` event, once) while its media path or
its Device's signalling is down, and ``reconnected`` once both are back:

* **Media.** ICE ``disconnected`` often recovers alone: after :data:`ICE_DISCONNECTED_GRACE` seconds (at
  once on ``failed``) an accepted call re-INVITEs with an ICE restart. A refused restart is tried again,
  every :data:`ICE_DISCONNECTED_GRACE` seconds, :data:`ICE_RESTART_RETRIES` times while ICE stays down;
  while signalling is down the restart waits for it.
* **Signalling.** When the Device's WebSocket drops, its calls are ``reconnecting``; once it registered
  again, every accepted call re-INVITEs with an ICE restart, which refreshes the peer's remote target (our
  new flow) and the media path.
* **Grace.** A call still ``reconnecting`` after the Device's ``reconnect_grace_ms`` (while either path is
  still down) ends with reason ``reconnect-failed``.

:class:`CallRecovery` is the call's collaborator for this; what it needs of its call is :class:`RecoveryLine`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, Protocol

from .errors import ErrorCode, VoiceSDKError
from .platform import PeerConnection

__all__ = ["ICE_DISCONNECTED_GRACE", "ICE_RESTART_RETRIES", "CallRecovery", "RecoveryLine"]

ICE_DISCONNECTED_GRACE = 2.0
"""Wait in iceConnectionState "disconnected" this long before restarting ICE (it often recovers alone)."""
ICE_RESTART_RETRIES = 3
"""ICE-restart re-INVITEs tried again (every ``ICE_DISCONNECTED_GRACE`` s) when refused while ICE is down."""

_MEDIA_UP = ("connected", "completed")


class RecoveryLine(Protocol):
    """What recovery needs of its call."""

    @property
    def ended(self) -> bool:
        """True once the call ended."""

    @property
    def answered(self) -> bool:
        """True while the call is accepted (only those restart ICE)."""

    @property
    def peer(self) -> PeerConnection | None:
        """The call's peer connection, while it has one."""

    @property
    def signalling_down(self) -> bool:
        """True while the Device's WebSocket is down."""

    @property
    def grace_seconds(self) -> float:
        """The Device's ``reconnect_grace_ms``, in seconds."""

    def media_connected(self) -> None:
        """ICE connected (records the ``media_connected`` timing once)."""

    async def restart_ice(self) -> bool | None:
        """Re-INVITE with an ICE restart under the call's lock: True when answered, False when refused,
        None when there is nothing to restart (no peer connection, or the call ended)."""

    def emit(self, event: str) -> None:
        """Emit ``reconnecting`` or ``reconnected`` on the call."""

    def report(self, error: VoiceSDKError) -> None:
        """Report a non-fatal ``error`` event on the call."""

    def reconnect_failed(self, error: VoiceSDKError) -> None:
        """End the call for good (``reconnect-failed``)."""

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Run ``work`` as one of the call's tasks."""


class CallRecovery:
    """The ICE-restart and reconnecting logic of one call (see the module docstring)."""

    def __init__(self, line: RecoveryLine) -> None:
        self._line = line
        self._ice_timer: asyncio.Handle | None = None
        self._grace_timer: asyncio.Handle | None = None
        self._restart_retries = 0
        self.reconnecting = False

    def on_ice_state(self, state: str) -> None:
        """The peer connection's ``iceConnectionState`` changed."""
        line = self._line
        if line.ended:
            return
        if state in _MEDIA_UP:
            line.media_connected()
            self._restart_retries = 0
            if self._ice_timer is not None:
                self._ice_timer.cancel()
                self._ice_timer = None
            if not line.signalling_down:
                self.end_reconnecting()
        elif state == "disconnected":
            if self._ice_timer is None:
                self._ice_timer = asyncio.get_event_loop().call_later(
                    ICE_DISCONNECTED_GRACE, self._ice_restart_due
                )
        elif state == "failed":
            self._ice_restart_due()

    def signalling_lost(self) -> None:
        """The Device's WebSocket dropped."""
        if not self._line.ended:
            self.start_reconnecting()

    def signalling_restored(self) -> None:
        """The Device registered again: refresh an accepted call (re-INVITE with an ICE restart)."""
        line = self._line
        if line.ended or not line.answered:
            if not line.ended:
                self.end_reconnecting()
            return
        line.spawn(self._refresh_after_reconnect())

    def start_reconnecting(self) -> None:
        """Enter ``reconnecting`` (once) and start the grace timer."""
        if not self.reconnecting:
            self.reconnecting = True
            self._grace_timer = asyncio.get_event_loop().call_later(
                self._line.grace_seconds, self._reconnect_grace_over
            )
            self._line.emit("reconnecting")

    def end_reconnecting(self) -> None:
        """Signalling and media are back: ``reconnected`` (once), and the grace timer stops."""
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None
        if self.reconnecting:
            self.reconnecting = False
            self._line.emit("reconnected")

    def stop(self) -> None:
        """The call ended: cancel both timers."""
        if self._ice_timer is not None:
            self._ice_timer.cancel()
            self._ice_timer = None
        if self._grace_timer is not None:
            self._grace_timer.cancel()
            self._grace_timer = None

    def _ice_restart_due(self) -> None:
        self._ice_timer = None
        line = self._line
        if line.ended or not line.answered:
            return
        if line.signalling_down:
            return  # the restart happens once signalling is back
        self.start_reconnecting()
        line.spawn(self._restart_media())

    def _reconnect_grace_over(self) -> None:
        """``reconnect_grace_ms`` in ``reconnecting``: the call is not coming back; end it."""
        self._grace_timer = None
        line = self._line
        if line.ended or not self.reconnecting:
            return
        grace = line.grace_seconds
        peer = line.peer
        media_up = peer is not None and peer.ice_state in _MEDIA_UP
        if media_up and not line.signalling_down:
            # Both are back; only the refreshing re-INVITE is still out (it is bounded and ends the phase).
            self._grace_timer = asyncio.get_event_loop().call_later(grace, self._reconnect_grace_over)
            return
        if line.signalling_down:
            error = VoiceSDKError(
                ErrorCode.TRANSPORT_ERROR, f"the signalling connection was not restored within {grace:g} s"
            )
        else:
            error = VoiceSDKError(ErrorCode.ICE_FAILED, f"the media path was not restored within {grace:g} s")
        line.reconnect_failed(error)

    async def _restart_media(self) -> None:
        ok = await self._line.restart_ice()
        if ok is None:
            return
        if not ok and not self._line.ended:
            self._line.report(VoiceSDKError(ErrorCode.ICE_FAILED, "the ICE restart re-INVITE was refused"))
            self._after_refused_restart()

    def _after_refused_restart(self) -> None:
        """An ICE-restart re-INVITE was refused (the dialog lives on): never stay ``reconnecting`` for good.

        Media still up: the reconnection is over (``reconnected``). Media down: try again a few times.
        """
        peer = self._line.peer
        if self._line.ended or peer is None:
            return
        if peer.ice_state in _MEDIA_UP:
            self._restart_retries = 0
            self.end_reconnecting()
        elif self._ice_timer is None and self._restart_retries < ICE_RESTART_RETRIES:
            self._restart_retries += 1
            loop = asyncio.get_event_loop()
            self._ice_timer = loop.call_later(ICE_DISCONNECTED_GRACE, self._ice_restart_due)

    async def _refresh_after_reconnect(self) -> None:
        """A re-INVITE with ICE restart: refreshes the remote target (our new flow) and the media path."""
        ok = await self._line.restart_ice()
        if ok is None or self._line.ended:
            return
        if ok:
            self.end_reconnecting()
        else:
            self._line.report(
                VoiceSDKError(ErrorCode.ICE_FAILED, "could not refresh the call after reconnecting")
            )
            self._after_refused_restart()

