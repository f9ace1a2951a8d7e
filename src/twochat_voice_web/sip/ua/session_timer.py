"""RFC 4028 session timers: negotiating Session-Expires, refreshing, and ending a call nobody refreshes.

Design
======
A call has a :class:`~twochat_voice_web.sip.session.SessionTimer` once either side asks for one; its state is
``(interval, local_refresher, refresh_at, expires_at)`` and moves on four inputs:

=============================================  ==================================================
input                                          effect
=============================================  ==================================================
a 2xx we send to INVITE/UPDATE                 :meth:`SessionTimers.uas_headers` arms the timer
                                               with the peer's interval and refresher (§9)
the peer's re-INVITE/UPDATE with Session-Exp.  :meth:`SessionTimers.adopt_remote` re-arms it
a 2xx to our INVITE/UPDATE                     :meth:`SessionTimers.negotiate_from_response`
                                               adopts the answer's interval (none: disarm, §7.4)
a deadline (:meth:`SessionTimers.check`)       refresher: send UPDATE (or a re-INVITE with our
                                               SDP when the peer has no UPDATE) at half time;
                                               other side: BYE at ``interval - min(32, i/3)`` (§10)
=============================================  ==================================================

A refresh answered 422 retries with the peer's Min-SE; any other failure retries 2 s later. A 408 or 481
ends the call (handled with the other in-dialog requests in :mod:`.in_dialog`).
"""

from __future__ import annotations

from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.events import EndReason, SessionRefreshed
from twochat_voice_web.sip.message import Request, Response
from twochat_voice_web.sip.session import (
    CallState,
    CallStimulus,
    InviteSession,
    OfferState,
    SessionExpires,
    SessionTimer,
    parse_session_expires,
)

from .context import SUPPORTED_OPTIONS, PendingRequest, Purpose, UaContext, leading_int, safe_tokens

__all__ = ["RETRY_SECONDS", "SessionTimers"]

RETRY_SECONDS = 2.0
"""How long a refresh that could not go out, or failed, waits before trying again."""


def _peer_supports_timer(request: Request) -> bool:
    return "timer" in (t.lower() for t in safe_tokens(request, "supported"))


class SessionTimers:
    """The RFC 4028 session timers of every call of one user agent."""

    def __init__(self, context: UaContext) -> None:
        self._context = context

    def uas_headers(self, session: InviteSession, request: Request) -> list[tuple[str, str]]:
        """Session-Expires/Require for a 2xx to an INVITE or UPDATE; arms the session's timer."""
        config = self._context.config
        se_value = request.headers.get("Session-Expires")
        supports_timer = _peer_supports_timer(request)
        if se_value is None:
            if (
                session.session_timer is None
                and request.method == "INVITE"
                and config.session_expires
                and supports_timer
            ):
                session.session_timer = SessionTimer(config.session_expires, local_refresher=False)
                return [
                    ("Session-Expires", f"{config.session_expires};refresher=uac"),
                    ("Require", "timer"),
                ]
            if session.session_timer is not None and request.method in ("INVITE", "UPDATE"):
                timer = session.session_timer
                refresher = "uas" if timer.local_refresher else "uac"
                return [("Session-Expires", f"{timer.interval};refresher={refresher}")]
            return []
        requested = parse_session_expires(se_value)
        refresher = requested.refresher or ("uac" if supports_timer else "uas")
        session.session_timer = SessionTimer(requested.interval, local_refresher=refresher == "uas")
        out = [("Session-Expires", f"{requested.interval};refresher={refresher}")]
        if refresher == "uac":
            out.append(("Require", "timer"))
        return out

    def requested(self, request: Request) -> SessionExpires | None:
        """The Session-Expires a request asks for, or None.

        Raises :class:`~twochat_voice_web.sip.errors.ParseError` for a malformed Session-Expires.
        """
        value = request.headers.get("Session-Expires")
        return parse_session_expires(value) if value is not None else None

    def below_min_se(self, requested: SessionExpires) -> list[tuple[str, str]] | None:
        """The headers of a 422 when ``requested`` is below our Min-SE (RFC 4028 §8.1), else None."""
        min_se = self._context.config.min_se
        return [("Min-SE", str(min_se))] if requested.interval < min_se else None

    def adopt_remote(self, session: InviteSession, request: Request, requested: SessionExpires) -> None:
        """The peer's re-INVITE/UPDATE carries Session-Expires: re-arm the timer with its values."""
        refresher = requested.refresher or ("uac" if _peer_supports_timer(request) else "uas")
        session.session_timer = SessionTimer(requested.interval, local_refresher=refresher == "uas")

    def negotiate_from_response(self, session: InviteSession, response: Response, now: float) -> None:
        """Read Session-Expires from a 2xx to our INVITE/UPDATE (we were the UAC of that transaction)."""
        value = response.headers.get("Session-Expires")
        if value is None:
            if session.session_timer is not None and response.cseq.method in ("INVITE", "UPDATE"):
                session.session_timer = None  # the peer no longer wants session timers
            return
        try:
            se = parse_session_expires(value)
        except ParseError:
            return
        session.session_timer = SessionTimer(se.interval, local_refresher=se.refresher != "uas")
        session.session_timer.restart(now)

    def refresh_headers(self, session: InviteSession) -> list[tuple[str, str]]:
        """The headers of a target refresh we send (re-INVITE or UPDATE), Session-Expires included."""
        timer = session.session_timer
        headers = [*self._context.contact_and_allow(), ("Supported", SUPPORTED_OPTIONS)]
        if timer is not None:
            refresher = "uac" if timer.local_refresher else "uas"
            headers.append(("Session-Expires", f"{timer.interval};refresher={refresher}"))
            headers.append(("Min-SE", str(self._context.config.min_se)))
        return headers

    def refreshed(self, session: InviteSession, now: float) -> None:
        """The session was refreshed (either way): restart the timer and tell the application."""
        timer = session.session_timer
        if timer is None:
            return
        timer.restart(now)
        self._context.events.append(SessionRefreshed(session.handle, timer.interval, timer.local_refresher))

    def send_refresh(self, session: InviteSession, now: float) -> None:
        """Refresh now: UPDATE when the peer allows it, else a re-INVITE with our unchanged SDP."""
        timer = session.session_timer
        assert timer is not None
        busy = (
            session.offer_state is not OfferState.STABLE
            or session.offer_tx is not None
            or session.remote_offer_tx is not None
        )
        context = self._context
        if session.peer_allows_update:
            request = context.in_dialog_request(session, "UPDATE", headers=self.refresh_headers(session))
        elif busy or session.local_sdp is None:
            timer.refresh_at = now + RETRY_SECONDS
            return
        else:
            request = context.in_dialog_request(
                session, "INVITE", headers=self.refresh_headers(session), sdp=session.local_sdp
            )
        timer.refresh_at = None
        context.send_request(request, now, PendingRequest(Purpose.REFRESH, session))

    def on_refresh_final(self, session: InviteSession, response: Response, now: float) -> None:
        """The final response to our refresh (other than 408/481)."""
        code = response.status_code
        if 200 <= code < 300:
            self.negotiate_from_response(session, response, now)
            self.refreshed(session, now)
        elif code == 422:
            minimum = leading_int(response.headers.get("Min-SE") or "")
            if minimum is not None and session.session_timer is not None:
                session.session_timer.interval = max(minimum, session.session_timer.interval)
                self.send_refresh(session, now)
        elif session.session_timer is not None:
            session.session_timer.refresh_at = now + RETRY_SECONDS  # e.g. 491, 500 Retry-After

    def check(self, session: InviteSession, now: float) -> None:
        """Run the call's session-timer deadline: refresh (we refresh) or end the call (the peer does)."""
        timer = session.session_timer
        if timer is None or session.state is not CallState.CONFIRMED:
            return
        if timer.local_refresher and timer.refresh_at is not None and now >= timer.refresh_at:
            self.send_refresh(session, now)
        elif not timer.local_refresher and timer.expires_at is not None and now >= timer.expires_at:
            session.move(CallStimulus.SESSION_EXPIRED)
            self._context.send_bye(session, now)
            self._context.end(session, EndReason.SESSION_EXPIRED, None, "session timer expired")
