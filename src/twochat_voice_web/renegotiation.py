"""Renegotiating a call's media in a re-INVITE (RFC 3261 §14): ours (hold, resume, ICE restart) and the
peer's.

Ours (:meth:`Renegotiation.hold`, :meth:`~Renegotiation.restart_ice`): a new offer goes out in a
re-INVITE and the call waits for the peer's answer (at most :data:`REOFFER_TIMEOUT`). A refusal rolls the
local description back; on 491 Request Pending (glare, RFC 3261 §14.1) the user agent says when to try again
(``OfferRetryDue``), and a refused re-INVITE leaves the dialog as it was. :class:`Renegotiation` is the
call's collaborator for this; what it needs of its call is :class:`RenegotiationLine`, and the call hands it
the user agent's answers (:meth:`Renegotiation.answered`, :meth:`~Renegotiation.rejected`,
:meth:`~Renegotiation.retry_due`).

The peer's: its offer is answered (488 Not Acceptable Here when the peer connection cannot take it) and
its direction tells whether the peer holds the call (:func:`offers_hold`: ``sendonly`` or ``inactive``
audio); an offerless re-INVITE gets our offer in the 200 OK. Both sides run under the call's media lock.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from .errors import ErrorCode, VoiceSDKError
from .platform import PeerConnection
from .sip import events as sip_events
from .sip.errors import LocalProtocolError, ParseError
from .sip.sdp import Direction, parse_sdp

__all__ = ["REOFFER_TIMEOUT", "Renegotiation", "RenegotiationLine", "offers_hold"]

REOFFER_TIMEOUT = 34.0
"""How long to wait for the peer to answer a re-INVITE of ours before giving up (timer B is 32 s)."""
_ATTEMPTS = 4
_RETRY_TIMEOUT = 10.0


def offers_hold(sdp: str) -> bool:
    """True when ``sdp`` puts its audio on hold (``sendonly`` or ``inactive``, RFC 3264 §8.4); False for an
    active stream, no audio or an SDP that does not parse."""
    try:
        description = parse_sdp(sdp)
    except ParseError:
        return False
    for media in description.media:
        if media.media == "audio" and media.port != 0:
            return media.direction in (Direction.SENDONLY, Direction.INACTIVE)
    return False


class RenegotiationLine(Protocol):
    """What renegotiation needs of its call."""

    @property
    def ended(self) -> bool:
        """True once the call ended."""

    @property
    def peer(self) -> PeerConnection | None:
        """The call's peer connection, while it has one."""

    @property
    def in_session(self) -> bool:
        """True while the call has not ended and has a SIP session to re-INVITE in."""

    def reinvite(self, offer: str) -> None:
        """Send ``offer`` in a re-INVITE (LocalProtocolError while another transaction is in progress)."""

    def media_restarting(self) -> None:
        """An ICE restart starts (call quality starts over)."""

    def answer_offer(self, sdp: str) -> None:
        """Send ``sdp`` in the 200 to the peer's re-INVITE (our answer, or our offer when it had none)."""

    def reject_offer(self, status_code: int) -> None:
        """Refuse the peer's re-INVITE offer with ``status_code``."""

    def remote_hold(self, held: bool) -> None:
        """The peer's latest offer holds the call (True) or resumes it (False)."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""


class Renegotiation:
    """The re-INVITEs of one call (see the module docstring)."""

    def __init__(self, line: RenegotiationLine, lock: asyncio.Lock) -> None:
        self._line = line
        self._lock = lock
        self._offer_waiter: asyncio.Future[str | sip_events.OfferRejected] | None = None
        self._retry_waiter: asyncio.Future[None] | None = None

    async def run(self, *, ice_restart: bool = False) -> bool:
        """Send a new offer in a re-INVITE and apply the answer, handling 491 glare (the caller holds the
        call's media lock).

        Returns True when the peer's answer was applied, False when it refused or did not answer.
        """
        line = self._line
        pc = line.peer
        assert pc is not None
        loop = asyncio.get_event_loop()
        for _attempt in range(_ATTEMPTS):
            if not line.in_session:
                return False
            if ice_restart:
                line.media_restarting()
            offer = await pc.create_offer(ice_restart=ice_restart)
            waiter: asyncio.Future[str | sip_events.OfferRejected] = loop.create_future()
            self._offer_waiter = waiter
            try:
                line.reinvite(offer)
            except LocalProtocolError:
                await pc.rollback()
                await asyncio.sleep(0.5)
                continue
            try:
                result = await asyncio.wait_for(waiter, timeout=REOFFER_TIMEOUT)
            except TimeoutError:
                await pc.rollback()
                return False
            finally:
                self._offer_waiter = None
            if isinstance(result, str):
                await pc.accept_answer(result)
                return True
            await pc.rollback()
            if not result.will_retry:
                return False
            retry: asyncio.Future[None] = loop.create_future()
            self._retry_waiter = retry
            try:
                await asyncio.wait_for(retry, timeout=_RETRY_TIMEOUT)
            except TimeoutError:
                return False
            finally:
                self._retry_waiter = None
        return False

    async def hold(self, hold: bool, *, held: bool) -> None:
        """Put the call on hold (``hold`` True: ``sendonly``) or resume it (``sendrecv``) with a re-INVITE,
        under the call's media lock; ``held`` is whether it is on hold now.

        Raises:
            VoiceSDKError: ``HOLD_FAILED`` (the peer refused: the direction is back to what it was).
        """
        async with self._lock:
            pc = self._line.peer
            assert pc is not None
            pc.set_direction("sendonly" if hold else "sendrecv")
            if not await self.run():
                pc.set_direction("sendonly" if held else "sendrecv")
                raise VoiceSDKError(
                    ErrorCode.HOLD_FAILED, f"the peer refused to {'hold' if hold else 'resume'} the call"
                )

    async def restart_ice(self) -> bool | None:
        """Re-INVITE with an ICE restart under the call's media lock: True when answered, False when refused,
        None when there is nothing to restart (no peer connection, or the call ended)."""
        async with self._lock:
            if self._line.peer is None or self._line.ended:
                return None
            return await self.run(ice_restart=True)

    def answered(self, sdp: str) -> None:
        """The peer answered our offer."""
        if self._offer_waiter is not None and not self._offer_waiter.done():
            self._offer_waiter.set_result(sdp)

    def rejected(self, event: sip_events.OfferRejected) -> None:
        """The peer refused our offer."""
        if self._offer_waiter is not None and not self._offer_waiter.done():
            self._offer_waiter.set_result(event)

    def retry_due(self) -> None:
        """After a glare: the time to offer again has come."""
        if self._retry_waiter is not None and not self._retry_waiter.done():
            self._retry_waiter.set_result(None)

    def cancel(self) -> None:
        """The call ended: stop waiting."""
        if self._offer_waiter is not None and not self._offer_waiter.done():
            self._offer_waiter.cancel()
        if self._retry_waiter is not None and not self._retry_waiter.done():
            self._retry_waiter.cancel()

    async def remote_offer(self, sdp: str) -> None:
        """The peer re-INVITEd with ``sdp``: answer it (488 when the peer connection cannot), then report
        whether it holds the call."""
        line = self._line
        async with self._lock:
            pc = line.peer
            if pc is None or not line.in_session:
                return
            try:
                answer = await pc.create_answer(sdp)
            except Exception as exc:  # a JS exception from setRemoteDescription/createAnswer
                line.logger.warning("cannot answer the peer's offer: %s", exc)
                line.reject_offer(488)
                return
            line.answer_offer(answer)
        line.remote_hold(offers_hold(sdp))

    async def offer_requested(self) -> None:
        """The peer re-INVITEd without an offer: ours goes in the 200 OK."""
        line = self._line
        async with self._lock:
            pc = line.peer
            if pc is None or not line.in_session:
                return
            offer = await pc.create_offer()
            line.answer_offer(offer)
