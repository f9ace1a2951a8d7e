"""INVITE as callee: checking a new INVITE, ringing, answering, rejecting, CANCEL and the ACK of our 2xx.

Design
======
The call's state is :class:`~twochat_voice_web.sip.session.CallState` moved by
:meth:`~twochat_voice_web.sip.session.InviteSession.move` (the table of :mod:`..session`):

=========================================  ================  ===========================================
input                                      stimulus          action
=========================================  ================  ===========================================
a new INVITE that passes the checks        -                 IncomingCall (state INCOMING)
``ring()``                                 LOCAL_RING        1xx (183 with SDP: early media)
``answer()``                               LOCAL_ANSWER      2xx with SDP; ACK deadline 64*T1
``reject()``                               LOCAL_REJECT      3xx-6xx; CallEnded
CANCEL before the final response           RECV_CANCEL       200 to CANCEL, 487 to INVITE; CallEnded
ACK of our 2xx                             RECV_ACK          CallAnswered (answer in ACK: RemoteAnswer)
no ACK by the deadline                     ACK_TIMEOUT       BYE; CallEnded (RFC 3261 §13.3.1.4)
=========================================  ================  ===========================================

A new INVITE is refused before the application sees it when its Request-URI is no SIP URI (416), its body
is no SDP (415), it has no Contact (400), its Session-Expires is below our Min-SE (422, RFC 4028), or it
is a merged request — same Call-ID and From tag as a call we already have (482, RFC 3261 §8.2.2.2).
"""

from __future__ import annotations

from collections.abc import Iterable

from twochat_voice_web.sip.dialog import Dialog, DialogEvent
from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.events import CallAnswered, EndReason, IncomingCall, RemoteAnswer
from twochat_voice_web.sip.message import Request, make_response
from twochat_voice_web.sip.session import CallState, CallStimulus, InviteSession, OfferState
from twochat_voice_web.sip.transaction import ServerTransaction
from twochat_voice_web.sip.uri import SipUri

from .context import SDP_CONTENT_TYPE, SUPPORTED_OPTIONS, UaContext, body_text, is_sdp, safe_tokens
from .session_timer import SessionTimers

__all__ = ["InviteServer"]


class InviteServer:
    """The calls one user agent receives."""

    def __init__(self, context: UaContext, timers: SessionTimers) -> None:
        self._context = context
        self._timers = timers

    def on_new_invite(self, tx: ServerTransaction, request: Request, now: float) -> None:
        """An INVITE outside any dialog: refuse it, or announce it as :class:`IncomingCall`."""
        context = self._context
        if not isinstance(request.uri, SipUri):
            context.respond(tx, 416, now)
            return
        if request.body and request.content_type != SDP_CONTENT_TYPE:
            context.respond(tx, 415, now, headers=[("Accept", SDP_CONTENT_TYPE)])
            return
        if not request.contacts:
            context.respond(tx, 400, now, reason="Missing Contact")
            return
        requested = self._timers.requested(request)
        too_small = self._timers.below_min_se(requested) if requested is not None else None
        if too_small is not None:
            context.respond(tx, 422, now, headers=too_small)
            return
        from_tag = request.from_.tag or ""
        for other in context.sessions.values():
            if (
                not other.is_uac
                and other.invite.call_id == request.call_id
                and other.invite.from_.tag == from_tag
            ):
                context.respond(tx, 482, now)  # merged request (RFC 3261 §8.2.2.2)
                return
        handle = context.new_handle(request.call_id)
        session = InviteSession(
            handle=handle, is_uac=False, invite=request, state=CallState.INCOMING, invite_server_tx=tx
        )
        session.local_tag = context.token(10)
        session.peer_allows_update = "UPDATE" in (m.upper() for m in safe_tokens(request, "allow"))
        if is_sdp(request):
            session.remote_sdp = body_text(request.body)
        context.sessions[handle] = session
        context.by_server_tx[tx] = session
        context.events.append(
            IncomingCall(
                handle,
                request,
                request.from_.without_param("tag"),
                request.to.without_param("tag"),
                session.remote_sdp,
            )
        )

    def _incoming(self, call: str, what: str) -> InviteSession:
        session = self._context.session(call)
        if session.is_uac:
            raise LocalProtocolError(what)
        return session

    def _invite_server_tx(self, session: InviteSession) -> ServerTransaction:
        tx = session.invite_server_tx
        if tx is None or tx.terminated:
            raise LocalProtocolError(f"call {session.handle}: the INVITE transaction is over")
        return tx

    def ring(
        self,
        call: str,
        now: float,
        *,
        status_code: int = 180,
        reason: str | None = None,
        sdp: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send a provisional response (180 Ringing; 183 with ``sdp`` for early media)."""
        context = self._context
        session = context.session(call)
        if not 101 <= status_code <= 199:
            raise LocalProtocolError("ring() sends 101..199")
        if session.is_uac:
            raise LocalProtocolError("ring() is for incoming calls")
        session.move(CallStimulus.LOCAL_RING)
        tx = self._invite_server_tx(session)
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, session.local_tag or "")
            context.index_dialog(session)
        extra = [*context.contact_and_allow(), *headers]
        body = b""
        content_type = None
        if sdp is not None:
            if session.remote_sdp is None:
                raise LocalProtocolError("early media needs the caller's offer")
            body, content_type = sdp.encode(), SDP_CONTENT_TYPE
            session.local_sdp = sdp
        response = make_response(
            session.invite,
            status_code,
            reason,
            to_tag=session.local_tag,
            headers=extra,
            body=body,
            content_type=content_type,
        )
        context.send_response(tx, response, now)

    def answer(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer an incoming call with 200 OK carrying ``sdp`` (an answer, or an offer to an offerless
        INVITE)."""
        context = self._context
        session = self._incoming(call, "answer() is for incoming calls")
        if not sdp:
            raise LocalProtocolError("a 200 to INVITE carries SDP")
        session.move(CallStimulus.LOCAL_ANSWER)
        tx = self._invite_server_tx(session)
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, session.local_tag or "", confirmed=True)
            context.index_dialog(session)
        else:
            session.dialog.apply(DialogEvent.CONFIRM)
        extra: list[tuple[str, str]] = [
            *context.contact_and_allow(),
            ("Supported", SUPPORTED_OPTIONS),
            *self._timers.uas_headers(session, session.invite),
            *headers,
        ]
        response = make_response(
            session.invite,
            200,
            None,
            to_tag=session.local_tag,
            headers=extra,
            body=sdp.encode(),
            content_type=SDP_CONTENT_TYPE,
        )
        if session.remote_sdp is None:
            session.offer_state = OfferState.OFFER_IN_2XX
        session.local_sdp = sdp
        session.ack_deadline = now + 64 * context.config.timers.t1
        context.send_response(tx, response, now)

    def reject(
        self,
        call: str,
        now: float,
        *,
        status_code: int = 486,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Reject an incoming call with a final 3xx-6xx response (486 Busy Here by default)."""
        context = self._context
        session = self._incoming(call, "reject() is for incoming calls; use hangup()")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError("reject() sends 300..699")
        session.move(CallStimulus.LOCAL_REJECT)
        response = make_response(
            session.invite, status_code, reason, to_tag=session.local_tag, headers=headers
        )
        context.send_response(self._invite_server_tx(session), response, now)
        context.end(session, EndReason.LOCAL_REJECT, status_code, response.reason)

    def on_cancel(self, tx: ServerTransaction, request: Request, now: float) -> None:
        """CANCEL: 200 to it (481 without its INVITE), and 487 to the INVITE if not answered yet."""
        context = self._context
        ist = context.transactions.find_invite_server_transaction(request)
        if ist is None:
            context.respond(tx, 481, now)
            return
        context.respond(tx, 200, now)
        session = context.by_server_tx.get(ist)
        if session is None or session.invite_server_tx is not ist:
            return
        if session.state in (CallState.INCOMING, CallState.EARLY):
            response = make_response(session.invite, 487, None, to_tag=session.local_tag)
            context.send_response(ist, response, now)
            session.move(CallStimulus.RECV_CANCEL)
            context.end(session, EndReason.REMOTE_CANCEL, 487, "Request Terminated")

    def on_ack(self, request: Request, now: float) -> None:
        """The ACK of one of our 2xx (initial INVITE or re-INVITE); a stray ACK is dropped (§17.2.3)."""
        context = self._context
        key = (request.call_id, request.to.tag or "", request.from_.tag or "")
        session = context.by_dialog.get(key)
        if session is None or session.dialog is None:
            return
        if request.cseq.seq != (session.dialog.remote_seq or 0) and session.state is not CallState.ANSWERED:
            return
        body_sdp = body_text(request.body) if is_sdp(request) else None
        previous = session.move(CallStimulus.RECV_ACK)
        if previous is None:
            return
        session.ack_deadline = None
        if previous is CallState.BYE_AFTER_ACK:
            context.send_bye(session, now)
            context.forget(session)
            return
        if session.offer_state is OfferState.OFFER_IN_2XX:
            session.offer_state = OfferState.STABLE
            if body_sdp is not None:
                session.remote_sdp = body_sdp
                if previous is CallState.CONFIRMED:
                    context.events.append(RemoteAnswer(session.handle, body_sdp))
        if previous is CallState.ANSWERED:
            if session.session_timer is not None:
                session.session_timer.restart(now)
            context.events.append(CallAnswered(session.handle, body_sdp, request))

    def on_transaction_failure(self, tx: ServerTransaction) -> None:
        """The INVITE server transaction failed (timer H, transport): the call cannot be set up."""
        session = self._context.by_server_tx.get(tx)
        if session is None or session.invite_server_tx is not tx or session.ended:
            return
        if session.state is CallState.ANSWERED:
            return  # the ACK deadline of the session decides
        session.move(CallStimulus.TRANSPORT_FAILED)

    def check(self, session: InviteSession, now: float) -> bool:
        """Run the call's ACK deadline; True when it fired."""
        if session.ack_deadline is None or now < session.ack_deadline:
            return False
        session.ack_deadline = None
        previous = session.move(CallStimulus.ACK_TIMEOUT)
        if previous is None:
            return False
        context = self._context
        context.send_bye(session, now)
        if previous is CallState.BYE_AFTER_ACK:
            context.forget(session)
        else:
            context.end(session, EndReason.TIMEOUT, None, "no ACK for our 200 OK")
        return True
