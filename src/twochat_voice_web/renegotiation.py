"""Renegotiating a call's media in a re-INVITE of ours (hold, resume, ICE restart), RFC 3261 §14.

A new offer goes out in a re-INVITE and the call waits for the peer's answer (at most
:data:`REOFFER_TIMEOUT`). A refusal rolls the local description back; on 491 Request Pending (glare,
RFC 3261 §14.1) the user agent says when to try again (``OfferRetryDue``), and a refused re-INVITE leaves
the dialog as it was. :class:`Renegotiation` is the call's collaborator for this; what it needs of its call
is :class:`RenegotiationLine`, and the call hands it the user agent's answers (:meth:`Renegotiation.answered`,
:meth:`~Renegotiation.rejected`, :meth:`~Renegotiation.retry_due`).
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from .platform import PeerConnection
from .sip import events as sip_events
from .sip.errors import LocalProtocolError

__all__ = ["REOFFER_TIMEOUT", "Renegotiation", "RenegotiationLine"]

REOFFER_TIMEOUT = 34.0
"""How long to wait for the peer to answer a re-INVITE of ours before giving up (timer B is 32 s)."""
_ATTEMPTS = 4
_RETRY_TIMEOUT = 10.0


class RenegotiationLine(Protocol):
    """What renegotiation needs of its call."""

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


class Renegotiation:
    """The re-INVITEs of one call (see the module docstring)."""

    def __init__(self, line: RenegotiationLine) -> None:
        self._line = line
        self._offer_waiter: asyncio.Future[str | sip_events.OfferRejected] | None = None
        self._retry_waiter: asyncio.Future[None] | None = None

    async def run(self, *, ice_restart: bool = False) -> bool:
        """Send a new offer in a re-INVITE and apply the answer, handling 491 glare (hold the call's lock).

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
