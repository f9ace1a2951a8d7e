"""Requests inside a call's dialog: the peer's BYE, INFO and NOTIFY, and the results of our own requests.

Design
======
The peer's in-dialog request first passes the dialog's checks (:meth:`~twochat_voice_web.sip.dialog.Dialog
.receive_request`: CSeq order, RFC 3261 §12.2.2), answered with the status the error suggests; then the
facade's method table picks its handler (BYE, INFO and NOTIFY here; re-INVITE and UPDATE in
:mod:`.offer_answer`).

Our own in-dialog requests end in :meth:`InDialog.on_final` or :meth:`InDialog.on_failure`, in this order:

1. the dialog learns the response (target refresh, route set);
2. BYE, CANCEL and the BYE of a fork need nothing more;
3. a 2xx to a re-INVITE is acknowledged (the ACK of a 2xx is ours to send, §13.2.2.4);
4. 408 and 481 mean the dialog is gone: the call ends (RFC 3261 §12.2.1.2);
5. the purpose's own handler runs: :data:`~.context.Purpose` REINVITE in :mod:`.offer_answer`, REFRESH in
   :mod:`.session_timer`.

A re-INVITE that fails for the transport leaves the call up (:class:`OfferRejected` 503); one that times
out, or a refresh or INFO that times out, ends it.
"""

from __future__ import annotations

from twochat_voice_web.sip.errors import RemoteProtocolError
from twochat_voice_web.sip.events import DtmfInfoReceived, EndReason, InfoReceived, OfferRejected
from twochat_voice_web.sip.message import Request, Response, make_response
from twochat_voice_web.sip.session import CallStimulus, InviteSession
from twochat_voice_web.sip.transaction import ClientTransaction, ServerTransaction

from .context import FailureCause, PendingRequest, Purpose, UaContext, sanitize
from .dtmf_info import dtmf_from_info
from .offer_answer import OfferAnswer
from .session_timer import SessionTimers

__all__ = ["ENDS_WITHOUT_RESULT", "InDialog"]

ENDS_WITHOUT_RESULT = frozenset({Purpose.BYE, Purpose.FORK_BYE, Purpose.CANCEL})
"""Purposes whose final response changes nothing but the dialog."""


class InDialog:
    """In-dialog requests of one user agent, both ways."""

    def __init__(self, context: UaContext, offers: OfferAnswer, timers: SessionTimers) -> None:
        self._context = context
        self._offers = offers
        self._timers = timers

    def accept(self, session: InviteSession, tx: ServerTransaction, request: Request, now: float) -> bool:
        """Run the dialog's checks on the peer's request; False when it was refused."""
        dialog = session.dialog
        assert dialog is not None
        try:
            dialog.receive_request(request)
        except RemoteProtocolError as exc:
            self._context.respond(tx, exc.status_hint, now, reason=sanitize(exc.message) or None)
            return False
        return True

    def on_bye(self, session: InviteSession, tx: ServerTransaction, request: Request, now: float) -> None:
        """The peer hangs up: 200, 487 to an offer of theirs still open, CallEnded."""
        context = self._context
        context.respond(tx, 200, now)
        pending = session.remote_offer_tx
        if pending is not None and not pending.sent_final:
            session.remote_offer_tx = None
            context.send_response(pending, make_response(pending.request, 487), now)
        if session.ended:
            context.forget(session)
            return
        session.move(CallStimulus.RECV_BYE)
        context.end(session, EndReason.REMOTE_BYE, None, "remote hung up")

    def on_info(self, session: InviteSession, tx: ServerTransaction, request: Request, now: float) -> None:
        """INFO: 200, then DtmfInfoReceived for a DTMF body, InfoReceived for anything else."""
        context = self._context
        context.respond(tx, 200, now)
        digit = dtmf_from_info(request)
        if digit is not None:
            context.events.append(DtmfInfoReceived(session.handle, digit[0], digit[1]))
        else:
            context.events.append(InfoReceived(session.handle, request))

    def on_notify(self, session: InviteSession, tx: ServerTransaction, request: Request, now: float) -> None:
        """NOTIFY in a call's dialog (e.g. of an implicit subscription): 200, handed to the application."""
        self._context.respond(tx, 200, now)
        self._context.events.append(InfoReceived(session.handle, request))

    # ---------------------------------------------------------------- our requests

    def on_final(
        self, pending: PendingRequest, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        """A response to one of our in-dialog requests (provisional ones change nothing here)."""
        session = pending.session
        if session is None or response.status_code < 200:
            return
        context = self._context
        code = response.status_code
        request = tx.request
        if session.dialog is not None and not session.ended:
            session.dialog.receive_response(request, response)
        if pending.purpose in ENDS_WITHOUT_RESULT:
            return
        if request.method == "INVITE" and 200 <= code < 300 and session.dialog is not None:
            context.send_stateless(session.dialog.create_ack(request))
        if code in (408, 481):
            if pending.purpose is Purpose.REINVITE:
                self._offers.abandon(session)
            if not session.ended:
                context.lose_dialog(session, code, response.reason, now)
            return
        if pending.purpose is Purpose.REINVITE:
            self._offers.on_reinvite_final(session, request, response, now)
        elif pending.purpose is Purpose.REFRESH:
            self._timers.on_refresh_final(session, response, now)

    def on_failure(self, pending: PendingRequest, cause: FailureCause, now: float) -> None:
        """One of our in-dialog requests got no final response."""
        session = pending.session
        if session is None or session.ended:
            return
        context = self._context
        if pending.purpose is Purpose.REINVITE:
            self._offers.abandon(session)
            if cause is FailureCause.TRANSPORT:
                context.events.append(OfferRejected(session.handle, 503, will_retry=False))
                return
            context.lose_dialog(session, 408, "re-INVITE timed out", now)
        elif pending.purpose in (Purpose.REFRESH, Purpose.INFO) and cause is FailureCause.TIMEOUT:
            context.lose_dialog(session, 408, f"{pending.purpose.value} timed out", now)
