"""INVITE as caller: the initial INVITE, its responses and forks, CANCEL, and the 422 retry.

Design
======
The call's state is :class:`~twochat_voice_web.sip.session.CallState` moved by
:meth:`~twochat_voice_web.sip.session.InviteSession.move` (the table of :mod:`..session`); this module maps
what arrives to its stimuli and runs the actions:

===============================================  ==================  ======================================
input                                            stimulus            action
===============================================  ==================  ======================================
1xx (with a To tag: an early dialog per fork)    RECV_1XX(_DIALOG)   CallProgress; a deferred CANCEL goes
2xx of the INVITE transaction                    RECV_2XX            ACK; the first 2xx confirms the call;
                                                                     CallAnswered (BYE if we cancelled)
2xx of another fork, or a retransmission         -                   ACK, and BYE unless it is our dialog
3xx-6xx                                          RECV_FAILURE        CallEnded (422: retry with Min-SE)
timer B / transport lost                         TIMEOUT/TRANSPORT   CallEnded
``hangup()`` before the final response           LOCAL_CANCEL        CANCEL (after the first 1xx, §9.1)
no final response 64*T1 after CANCEL             CANCEL_TIMEOUT      CallEnded
===============================================  ==================  ======================================

Forks (RFC 3261 §13.2.2.4): each 1xx with a new To tag creates an early dialog; the first 2xx wins, every
later 2xx is acknowledged and released with BYE. A 422 Session Interval Too Small is retried at most twice
with the Min-SE it asks for (RFC 4028 §6).
"""

from __future__ import annotations

from collections.abc import Iterable

from twochat_voice_web.sip.dialog import Dialog
from twochat_voice_web.sip.errors import LocalProtocolError, RemoteProtocolError
from twochat_voice_web.sip.events import CallAnswered, CallProgress, EndReason
from twochat_voice_web.sip.grammar import CALLID_RE
from twochat_voice_web.sip.headers import Headers, NameAddr
from twochat_voice_web.sip.message import Request, Response
from twochat_voice_web.sip.session import CallState, CallStimulus, InviteSession
from twochat_voice_web.sip.transaction import ClientTransaction
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri, Uri, parse_uri

from .context import (
    ALLOWED_METHODS,
    SDP_CONTENT_TYPE,
    SUPPORTED_OPTIONS,
    FailureCause,
    PendingRequest,
    Purpose,
    UaContext,
    body_text,
    is_sdp,
    leading_int,
    safe_tokens,
)
from .digest_retry import DigestRetry
from .session_timer import SessionTimers

__all__ = ["MAX_422_RETRIES", "InviteClient"]

MAX_422_RETRIES = 2
"""How often an INVITE answered 422 Session Interval Too Small is sent again with a larger interval."""


class InviteClient:
    """The calls one user agent places."""

    def __init__(self, context: UaContext, timers: SessionTimers, digest: DigestRetry) -> None:
        self._context = context
        self._timers = timers
        self._digest = digest

    def invite(
        self,
        target: Uri | str,
        now: float,
        *,
        sdp: str,
        headers: Iterable[tuple[str, str]] = (),
        from_uri: SipUri | None = None,
        from_display: str | None = None,
        to_display: str | None = None,
        call_id: str | None = None,
        to_uri: Uri | None = None,
    ) -> str:
        """Place a call (see :meth:`twochat_voice_web.sip.useragent.UserAgent.invite`); returns its handle."""
        context = self._context
        config = context.config
        uri = parse_uri(target) if isinstance(target, str) else target
        if isinstance(uri, AbsoluteUri):
            raise LocalProtocolError(f"can't call a {uri.scheme}: URI")
        if not sdp:
            raise LocalProtocolError("an outgoing INVITE carries an SDP offer")
        if call_id is not None and not CALLID_RE.fullmatch(call_id):
            raise LocalProtocolError(f"not a valid Call-ID: {call_id!r}")
        extra = Headers(headers)  # validates names and values
        call_id = call_id or context.token(22)
        local = NameAddr(from_uri or config.aor, from_display or config.display_name)
        remote = NameAddr(to_uri or uri, to_display)
        out = Headers()
        for route in context.initial_routes():
            out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("To", str(remote))
        out.add("From", str(local.with_param("tag", context.token(10))))
        out.add("Call-ID", call_id)
        out.add("CSeq", f"{context.rng.randint(1, 9999)} INVITE")
        out.add("Contact", str(context.dialog_contact()))
        out.add("Allow", ", ".join(ALLOWED_METHODS))
        out.add("Supported", SUPPORTED_OPTIONS)
        if config.session_expires is not None:
            out.add("Session-Expires", str(config.session_expires))
            out.add("Min-SE", str(config.min_se))
        if config.user_agent:
            out.add("User-Agent", config.user_agent)
        for name, value in extra:
            out.add(name, value)
        out.set("Content-Type", SDP_CONTENT_TYPE)
        request = Request("INVITE", uri, out, sdp.encode())
        handle = context.new_handle(call_id)
        session = InviteSession(handle=handle, is_uac=True, invite=request, state=CallState.CALLING)
        session.local_sdp = sdp
        context.sessions[handle] = session
        self._digest.preempt(request)
        session.invite_tx = context.send_request(request, now, PendingRequest(Purpose.INVITE, session))
        return handle

    # ---------------------------------------------------------------- responses

    def on_response(
        self, session: InviteSession, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        """A response to one of the call's INVITEs."""
        if tx is not session.invite_tx:
            if 200 <= response.status_code < 300:
                self._ack_and_bye_fork(session, tx.request, response, now)
            return
        code = response.status_code
        if code < 200:
            self._on_provisional(session, response, now)
        elif code < 300:
            self._on_2xx(session, response, now)
        else:
            self._on_failure(session, response, now)

    def _on_provisional(self, session: InviteSession, response: Response, now: float) -> None:
        context = self._context
        tag = response.to.tag
        stimulus = CallStimulus.RECV_1XX
        if tag and response.status_code > 100:
            dialog = session.early_dialogs.get(tag)
            if dialog is None:
                dialog = Dialog.from_uac(session.invite, response)
                session.early_dialogs[tag] = dialog
                context.by_dialog[(dialog.id.call_id, dialog.id.local_tag, tag)] = session
            else:
                dialog.receive_response(session.invite, response)
            session.dialog = dialog
            stimulus = CallStimulus.RECV_1XX_DIALOG
        if session.move(stimulus) is None:
            return
        if session.state is CallState.CANCELLING:
            if session.cancel_deferred:
                session.cancel_deferred = False
                self.send_cancel(session, now)
            return
        sdp = body_text(response.body) if is_sdp(response) else None
        if sdp is not None:
            session.remote_sdp = sdp
        context.events.append(
            CallProgress(session.handle, response.status_code, response.reason, sdp, response)
        )

    def _on_2xx(self, session: InviteSession, response: Response, now: float) -> None:
        context = self._context
        tag = response.to.tag or ""
        if session.state in (CallState.CONFIRMED, CallState.TERMINATED, CallState.BYE_AFTER_ACK):
            self._ack_and_bye_fork(session, session.invite, response, now)
            return
        dialog = session.early_dialogs.pop(tag, None)
        if dialog is not None:
            dialog.receive_response(session.invite, response)
        else:
            dialog = Dialog.from_uac(session.invite, response)
        for other_tag in list(session.early_dialogs):
            context.by_dialog.pop((dialog.id.call_id, dialog.id.local_tag, other_tag), None)
        session.early_dialogs.clear()
        session.dialog = dialog
        context.index_dialog(session)
        context.send_stateless(dialog.create_ack(session.invite))
        previous = session.move(CallStimulus.RECV_2XX)
        if previous is CallState.CANCELLING:
            context.send_bye(session, now)
            context.end(session, EndReason.LOCAL_CANCEL, None, "cancelled (answered during cancel)")
            return
        session.peer_allows_update = "UPDATE" in (m.upper() for m in safe_tokens(response, "allow"))
        self._timers.negotiate_from_response(session, response, now)
        sdp = body_text(response.body) if is_sdp(response) else None
        if sdp is not None:
            session.remote_sdp = sdp
        context.events.append(CallAnswered(session.handle, sdp, response))

    def _on_failure(self, session: InviteSession, response: Response, now: float) -> None:
        code = response.status_code
        if (
            code == 422
            and session.invite_retries < MAX_422_RETRIES
            and session.state is not CallState.CANCELLING
        ):
            minimum = response.headers.get("Min-SE")
            interval = leading_int(minimum) if minimum else None
            if interval is not None:
                self._resend(session, now, session_interval=max(interval, self._context.config.min_se))
                return
        previous = session.move(CallStimulus.RECV_FAILURE)
        if previous is None:
            return
        reason = EndReason.LOCAL_CANCEL if previous is CallState.CANCELLING else EndReason.REJECTED
        self._context.end(session, reason, code, response.reason)

    def _resend(self, session: InviteSession, now: float, *, session_interval: int) -> None:
        old = session.invite
        headers = old.headers.copy()
        headers.remove("Via")
        headers.set("CSeq", f"{old.cseq.seq + 1} INVITE")
        headers.set("Session-Expires", str(session_interval))
        headers.set("Min-SE", str(session_interval))
        request = Request("INVITE", old.uri, headers, old.body)
        session.invite = request
        session.invite_retries += 1
        session.invite_tx = self._context.send_request(request, now, PendingRequest(Purpose.INVITE, session))

    def _ack_and_bye_fork(
        self, session: InviteSession, invite: Request, response: Response, now: float
    ) -> None:
        """A 2xx we did not take (retransmission or another fork): ACK it, and BYE it unless it is ours."""
        context = self._context
        try:
            dialog = Dialog.from_uac(invite, response)
        except RemoteProtocolError:
            return
        ours = session.dialog
        context.send_stateless(dialog.create_ack(invite))
        if ours is not None and ours.id == dialog.id and session.state is CallState.CONFIRMED:
            return  # a retransmission of the 2xx we took
        context.send_request(dialog.create_request("BYE"), now, PendingRequest(Purpose.FORK_BYE))

    def on_stray_response(self, response: Response, now: float) -> None:
        """A 2xx to an INVITE whose transaction is gone (a late fork): ACK and BYE it."""
        if not 200 <= response.status_code < 300 or response.cseq.method != "INVITE":
            return
        for session in self._context.sessions.values():
            if session.is_uac and session.invite.call_id == response.call_id:
                self._ack_and_bye_fork(session, session.invite, response, now)
                return

    def on_transaction_failure(
        self, session: InviteSession, tx: ClientTransaction, cause: FailureCause
    ) -> None:
        """The INVITE got no final response (timer B, or the transport went away)."""
        if tx is not session.invite_tx or session.ended:
            return
        stimulus = CallStimulus.TIMEOUT if cause is FailureCause.TIMEOUT else CallStimulus.TRANSPORT_FAILED
        previous = session.move(stimulus)
        if previous is None:
            return
        context = self._context
        if previous is CallState.CANCELLING:
            context.end(session, EndReason.LOCAL_CANCEL, None, "cancelled")
        elif cause is FailureCause.TIMEOUT:
            context.end(session, EndReason.TIMEOUT, 408, "no answer from the network")
        else:
            context.end(session, EndReason.TRANSPORT_ERROR, None, "transport lost during call setup")

    # ---------------------------------------------------------------- CANCEL

    def cancel(self, session: InviteSession, now: float) -> None:
        """``hangup()`` before the final response: CANCEL now, or after the first 1xx (RFC 3261 §9.1)."""
        state = session.state
        session.move(CallStimulus.LOCAL_CANCEL)
        if state is CallState.CALLING:
            session.cancel_deferred = True
            session.cancel_deadline = now + 64 * self._context.config.timers.t1
        else:
            self.send_cancel(session, now)

    def send_cancel(self, session: InviteSession, now: float) -> None:
        """Send CANCEL for the call's INVITE (RFC 3261 §9.1: same Via, Route, From, To, Call-ID, CSeq)."""
        context = self._context
        invite = session.invite
        headers = Headers()
        headers.add("Via", invite.headers.get_all("Via")[0])
        for name, value in invite.headers:
            if name.lower() == "route":
                headers.add(name, value)
        headers.add("Max-Forwards", "70")
        headers.add("From", invite.headers.get("From") or "")
        headers.add("To", invite.headers.get("To") or "")
        headers.add("Call-ID", invite.call_id)
        headers.add("CSeq", f"{invite.cseq.seq} CANCEL")
        if context.config.user_agent:
            headers.add("User-Agent", context.config.user_agent)
        cancel = Request("CANCEL", invite.uri, headers)
        tx, outputs = context.transactions.send_request(cancel, now)
        context.pending[tx] = PendingRequest(Purpose.CANCEL, session)
        session.cancel_deadline = now + 64 * context.config.timers.t1
        context.process(outputs, now)

    def check(self, session: InviteSession, now: float) -> bool:
        """Run the call's CANCEL deadline; True when that ended the call."""
        if session.cancel_deadline is not None and now >= session.cancel_deadline:
            session.cancel_deadline = None
            if session.move(CallStimulus.CANCEL_TIMEOUT) is not None:
                self._context.end(session, EndReason.LOCAL_CANCEL, None, "no response to CANCEL")
                return True
        return False
