"""Offer/answer after the call is up: re-INVITE and UPDATE both ways, and 491 glare back-off (RFC 3264, 3311).

Design
======
Each call has an :class:`~twochat_voice_web.sip.session.OfferState` (see :mod:`..session`). The moves this
module makes, by input:

==========================================  ===========================  ==================================
input                                       from                         to / effect
==========================================  ===========================  ==================================
``reinvite()`` (our offer)                  STABLE, no back-off pending  LOCAL_OFFER
2xx to our re-INVITE                        LOCAL_OFFER                  STABLE, RemoteAnswer
491 to our re-INVITE                        LOCAL_OFFER                  STABLE, back-off, then OfferRetryDue
other failure to our re-INVITE              LOCAL_OFFER                  STABLE, OfferRejected
the peer's re-INVITE/UPDATE with an offer   STABLE                       REMOTE_OFFER, RemoteOffer
... with our own unchanged offer back       STABLE                       STABLE (answered here: a refresh)
the peer's offerless re-INVITE              STABLE                       OFFER_IN_2XX, OfferRequested
``answer_offer()``                          REMOTE_OFFER / OFFER_IN_2XX  STABLE / OFFER_IN_2XX (ACK answers)
``reject_offer()``                          REMOTE_OFFER                 STABLE, previous remote SDP back
the peer's offer while we offer             LOCAL_OFFER                  491 (glare, RFC 3261 §14.2)
the peer's INVITE while one is open         any                          500 with Retry-After (§14.2)
==========================================  ===========================  ==================================

The glare back-off (RFC 3261 §14.1) is 2.1-4 s when we own the Call-ID (we are the dialog's UAC), else
0-2 s, in 10 ms steps; while it runs, ``reinvite()`` is refused, and :class:`OfferRetryDue` says when to
offer again.
"""

from __future__ import annotations

from collections.abc import Iterable

from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.events import (
    OfferRejected,
    OfferRequested,
    OfferRetryDue,
    RemoteAnswer,
    RemoteOffer,
)
from twochat_voice_web.sip.message import Request, Response, make_response
from twochat_voice_web.sip.session import CallState, InviteSession, OfferState
from twochat_voice_web.sip.transaction import ServerTransaction

from .context import SDP_CONTENT_TYPE, PendingRequest, Purpose, UaContext, body_text, is_sdp, safe_tokens
from .session_timer import SessionTimers

__all__ = ["OfferAnswer"]


def _retry_after(context: UaContext) -> list[tuple[str, str]]:
    return [("Retry-After", str(context.rng.randint(1, 10)))]


class OfferAnswer:
    """Offer/answer on established calls, for one user agent."""

    def __init__(self, context: UaContext, timers: SessionTimers) -> None:
        self._context = context
        self._timers = timers

    # ---------------------------------------------------------------- our offers

    def reinvite(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send a new offer in a re-INVITE (hold, resume, ICE restart)."""
        context = self._context
        session = context.confirmed(call)
        self._check_can_offer(session)
        request = context.in_dialog_request(
            session, "INVITE", headers=[*self._timers.refresh_headers(session), *headers], sdp=sdp
        )
        session.offer_state = OfferState.LOCAL_OFFER
        session.offer_tx = context.send_request(request, now, PendingRequest(Purpose.REINVITE, session))

    def _check_can_offer(self, session: InviteSession) -> None:
        if (
            session.offer_state is not OfferState.STABLE
            or session.offer_tx is not None
            or session.remote_offer_tx is not None
        ):
            raise LocalProtocolError(
                f"call {session.handle}: an offer/answer exchange is already in progress"
            )
        if session.glare_retry_at is not None:
            raise LocalProtocolError(f"call {session.handle}: waiting for the glare back-off (OfferRetryDue)")

    def on_reinvite_final(
        self, session: InviteSession, request: Request, response: Response, now: float
    ) -> None:
        """The final response to our re-INVITE (other than 408/481)."""
        events = self._context.events
        code = response.status_code
        session.offer_tx = None
        session.offer_state = OfferState.STABLE
        if 200 <= code < 300:
            session.local_sdp = body_text(request.body)
            self._timers.negotiate_from_response(session, response, now)
            if is_sdp(response):
                session.remote_sdp = body_text(response.body)
                events.append(RemoteAnswer(session.handle, session.remote_sdp))
            else:
                events.append(OfferRejected(session.handle, code, will_retry=False))
        elif code == 491:
            session.glare_retry_at = now + self._glare_backoff(session)
            events.append(OfferRejected(session.handle, code, will_retry=True))
        else:
            events.append(OfferRejected(session.handle, code, will_retry=False))

    def abandon(self, session: InviteSession) -> None:
        """Our re-INVITE got no usable answer (timeout, transport, 408/481): the offer is void."""
        session.offer_tx = None
        session.offer_state = OfferState.STABLE

    def _glare_backoff(self, session: InviteSession) -> float:
        """RFC 3261 §14.1 back-off: 2.1-4 s if we own the Call-ID (dialog UAC), else 0-2 s, 10 ms steps."""
        rng = self._context.rng
        if session.dialog is not None and session.dialog.is_uac:
            return rng.randint(210, 400) / 100
        return rng.randint(0, 200) / 100

    def check(self, session: InviteSession, now: float) -> None:
        """Run the call's glare back-off deadline."""
        if session.glare_retry_at is not None and now >= session.glare_retry_at:
            session.glare_retry_at = None
            if session.state is CallState.CONFIRMED:
                self._context.events.append(OfferRetryDue(session.handle))

    # ---------------------------------------------------------------- the peer's offers

    def on_remote_offer_request(
        self, session: InviteSession, tx: ServerTransaction, request: Request, now: float
    ) -> None:
        """The peer's re-INVITE or UPDATE in the call's dialog."""
        context = self._context
        method = request.method
        if session.state not in (CallState.CONFIRMED, CallState.EARLY) or session.ended:
            context.respond(tx, 500 if method == "INVITE" else 491, now, headers=_retry_after(context))
            return
        if session.offer_state is OfferState.LOCAL_OFFER and (method == "INVITE" or is_sdp(request)):
            context.respond(tx, 491, now)  # glare (RFC 3261 §14.2)
            return
        if session.remote_offer_tx is not None or (
            method == "INVITE" and session.offer_state is OfferState.OFFER_IN_2XX
        ):
            context.respond(tx, 500, now, headers=_retry_after(context))
            return
        if request.body and request.content_type != SDP_CONTENT_TYPE:
            context.respond(tx, 415, now, headers=[("Accept", SDP_CONTENT_TYPE)])
            return
        requested = self._timers.requested(request)
        if requested is not None:
            too_small = self._timers.below_min_se(requested)
            if too_small is not None:
                context.respond(tx, 422, now, headers=too_small)
                return
            self._timers.adopt_remote(session, request, requested)
        if method == "INVITE" and "allow" in request.headers:
            session.peer_allows_update = "UPDATE" in (m.upper() for m in safe_tokens(request, "allow"))
        if not request.body:
            if method == "UPDATE":
                context.respond(tx, 200, now, headers=self._timers.uas_headers(session, request))
                self._timers.refreshed(session, now)
                return
            session.remote_offer_tx = tx
            session.offer_state = OfferState.OFFER_IN_2XX
            context.events.append(OfferRequested(session.handle))
            return
        sdp = body_text(request.body)
        if sdp == session.remote_sdp and session.local_sdp is not None:
            # An unchanged offer (typically a session refresh): answer with our unchanged SDP ourselves.
            context.send_response(tx, self._answer(session, tx, session.local_sdp, ()), now)
            self._timers.refreshed(session, now)
            return
        session.pending_previous_remote_sdp = session.remote_sdp
        session.remote_sdp = sdp
        session.remote_offer_tx = tx
        session.offer_state = OfferState.REMOTE_OFFER
        context.events.append(RemoteOffer(session.handle, sdp, method))

    def _answer(
        self, session: InviteSession, tx: ServerTransaction, sdp: str, headers: Iterable[tuple[str, str]]
    ) -> Response:
        """Our 2xx with ``sdp`` to the peer's re-INVITE/UPDATE (arms the session timer it asks for)."""
        extra: list[tuple[str, str]] = []
        if tx.request.method == "INVITE":
            extra += self._context.contact_and_allow()
        extra += self._timers.uas_headers(session, tx.request)
        return make_response(
            tx.request, 200, headers=[*extra, *headers], body=sdp.encode(), content_type=SDP_CONTENT_TYPE
        )

    def answer_offer(
        self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer the peer's re-INVITE/UPDATE offer (after :class:`RemoteOffer`), or send the offer it asked
        for (after :class:`OfferRequested`)."""
        session = self._context.session(call)
        tx = session.remote_offer_tx
        if session.offer_state not in (OfferState.REMOTE_OFFER, OfferState.OFFER_IN_2XX) or tx is None:
            raise LocalProtocolError(f"call {call} has no offer to answer")
        if tx.terminated or tx.sent_final:
            raise LocalProtocolError(f"call {call}: the peer's request is already answered")
        response = self._answer(session, tx, sdp, headers)
        session.local_sdp = sdp
        session.remote_offer_tx = None
        if session.offer_state is OfferState.REMOTE_OFFER:
            session.offer_state = OfferState.STABLE
        self._context.send_response(tx, response, now)
        if session.session_timer is not None:
            session.session_timer.restart(now)

    def reject_offer(self, call: str, now: float, *, status_code: int = 488) -> None:
        """Refuse the peer's offer (488 Not Acceptable Here by default); the session stays as it was."""
        session = self._context.session(call)
        tx = session.remote_offer_tx
        if tx is None or tx.terminated or tx.sent_final:
            raise LocalProtocolError(f"call {call} has no offer to reject")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError("reject_offer() sends 300..699")
        session.remote_offer_tx = None
        session.offer_state = OfferState.STABLE
        session.remote_sdp = session.pending_previous_remote_sdp
        self._context.send_response(tx, make_response(tx.request, status_code), now)
