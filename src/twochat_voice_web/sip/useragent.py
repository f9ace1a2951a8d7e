"""The user agent: one sans-I/O SIP endpoint on one transport flow (bytes in, events out, time passed in).

Design
======
:class:`UserAgent` composes the layers of this package the way aioquic's ``QuicConnection`` composes its
parts, and is driven by exactly three inputs:

* API calls (``register``, ``invite``, ``answer``, ``hangup``, ``reinvite``...), which queue bytes;
* :meth:`UserAgent.receive_data` with one whole SIP message (WebSocket delivers one message per frame,
  RFC 7118), which queues bytes and events;
* :meth:`UserAgent.handle_timer` at :meth:`UserAgent.next_deadline`.

After any input the host drains :meth:`UserAgent.data_to_send` (bytes for the transport) and
:meth:`UserAgent.next_event` / :meth:`UserAgent.events` (frozen dataclasses of :mod:`.events`). The same class
serves both roles: the browser SDK (registers, calls, answers) and the sandbox server (one UserAgent per
WebSocket connection, answering REGISTER through :class:`~.events.RequestReceived` and routing calls).

Layers, bottom up:

* :mod:`.message` parses and builds messages; a malformed request is answered 400 (or 513) when enough of
  it can be read, and reported as :class:`~.events.MessageRejected` either way — nothing a peer sends can
  raise out of :meth:`receive_data`.
* :mod:`.transaction` matches messages to transactions and runs their timers.
* The transaction user is this facade plus its parts in :mod:`.ua`, one RFC concept a module: INVITE as
  caller (:mod:`.ua.invite_client`) and as callee (:mod:`.ua.invite_server`), re-INVITE/UPDATE offer/answer
  with 491 glare back-off (:mod:`.ua.offer_answer`), RFC 4028 session timers (:mod:`.ua.session_timer`),
  digest retries and preemptive credentials (:mod:`.ua.digest_retry`), RFC 3261 §8.2 request checks and
  answers to bad input (:mod:`.ua.request_checks`), DTMF INFO (:mod:`.ua.dtmf_info`) and the other
  in-dialog requests (:mod:`.ua.in_dialog`). It keeps :mod:`.registration` and the calls (:mod:`.session`,
  :mod:`.dialog`) in one shared :class:`~.ua.context.UaContext`.

Dispatch is by table, not by string: every client transaction carries a :class:`~.ua.context.Purpose`, and
its responses and failures go to the facade's handler tables (``_on_final``, ``_on_failure``) for that
purpose; transaction outputs go by type (``_routes``), new requests by method (``_out_of_dialog`` and
``_in_dialog``, the rest answered by :meth:`~.ua.request_checks.RequestChecks.unhandled`).

Transport loss: :meth:`transport_lost` fails the client transactions that were in flight on the dead flow,
drops the registration to UNREGISTERED (remembering it), and keeps calls and server transactions. Bytes
queued meanwhile are held; :meth:`transport_restored` re-registers with the same Contact, ``+sip.instance``
and ``reg-id`` (RFC 5626) and releases what was queued, so in-dialog requests made while offline go out.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .errors import LocalProtocolError, ParseError, ProtocolError
from .events import (
    EndReason,
    Event,
    RegistrationChanged,
    RegistrationState,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
)
from .headers import Headers, NameAddr
from .message import Request, Response, make_response, parse_message
from .registration import Registration
from .session import CallState, CallStimulus, InviteSession, OfferState
from .transaction import (
    ClientTransaction,
    DeliverResponse,
    NewRequest,
    SendMessage,
    ServerTransaction,
    StrayAck,
    StrayResponse,
    TransactionOutput,
    TransactionTimedOut,
    TransportFailed,
)
from .ua.config import UserAgentConfig
from .ua.context import ALLOWED_METHODS, FailureCause, PendingRequest, Purpose, UaContext
from .ua.digest_retry import DigestRetry
from .ua.dtmf_info import DTMF_RELAY, dtmf_relay_body
from .ua.in_dialog import InDialog
from .ua.invite_client import InviteClient
from .ua.invite_server import InviteServer
from .ua.offer_answer import OfferAnswer
from .ua.request_checks import RequestChecks
from .ua.session_timer import SessionTimers
from .uri import SipUri, Uri, parse_uri

__all__ = ["ALLOWED_METHODS", "CallInfo", "UserAgent", "UserAgentConfig"]

_FinalHandler = Callable[[PendingRequest, ClientTransaction, Response, float], None]
_FailureHandler = Callable[[PendingRequest, ClientTransaction, FailureCause, float], None]
_RequestHandler = Callable[[ServerTransaction, Request, float], None]
_DialogRequestHandler = Callable[[InviteSession, ServerTransaction, Request, float], None]


@dataclass(frozen=True, slots=True)
class CallInfo:
    """A read-only snapshot of one call, from :meth:`UserAgent.call_info`."""

    handle: str
    call_id: str
    is_uac: bool
    state: CallState
    offer_state: OfferState
    remote: NameAddr
    local: NameAddr
    local_sdp: str | None
    remote_sdp: str | None
    session_interval: int | None
    """Negotiated session interval (RFC 4028), or None."""


class UserAgent:
    """A sans-I/O SIP user agent. See the module docstring for the model.

    Args:
        config: how we present ourselves.
        rng: randomness for tags, branches, Call-IDs and cnonces; default the system's CSPRNG. Tests pass
            a seeded :class:`random.Random`.
    """

    def __init__(self, config: UserAgentConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        context = UaContext(config, rng if rng is not None else random.SystemRandom())
        context.router = self
        self._context = context
        self._timers = SessionTimers(context)
        self._digest = DigestRetry(context)
        self._checks = RequestChecks(context)
        self._offers = OfferAnswer(context, self._timers)
        self._client = InviteClient(context, self._timers, self._digest)
        self._server = InviteServer(context, self._timers)
        self._in_dialog = InDialog(context, self._offers, self._timers)
        # the call table and the client transactions, under the names white-box tests read
        self._sessions = context.sessions
        self._by_dialog = context.by_dialog
        self._pending = context.pending
        self._app_server_tx: dict[str, ServerTransaction] = {}
        self._app_tags: dict[str, str] = {}
        in_dialog_final: _FinalHandler = self._in_dialog.on_final
        self._on_final: dict[Purpose, _FinalHandler] = {
            Purpose.REGISTER: self._on_register_response,
            Purpose.INVITE: self._on_invite_response,
            Purpose.APP: self._on_app_response,
            **{purpose: in_dialog_final for purpose in Purpose if purpose not in _OWN_FINAL},
        }
        self._on_failure: dict[Purpose, _FailureHandler] = {
            Purpose.REGISTER: self._on_register_failure,
            Purpose.INVITE: self._on_invite_failure,
            Purpose.APP: self._on_app_failure,
            **{purpose: self._on_in_dialog_failure for purpose in Purpose if purpose not in _OWN_FINAL},
        }
        self._out_of_dialog: dict[str, _RequestHandler] = {
            "INVITE": self._server.on_new_invite,
            "CANCEL": self._server.on_cancel,
        }
        """Out-of-dialog methods handled before the application's passthrough methods."""
        self._standalone: dict[str, _RequestHandler] = {"OPTIONS": self._checks.options}
        """Out-of-dialog methods handled when the application does not take them."""
        self._in_dialog_methods: dict[str, _DialogRequestHandler] = {
            "BYE": self._in_dialog.on_bye,
            "INVITE": self._offers.on_remote_offer_request,
            "UPDATE": self._offers.on_remote_offer_request,
            "INFO": self._in_dialog.on_info,
            "NOTIFY": self._in_dialog.on_notify,
            "OPTIONS": self._options_in_dialog,
        }

    # ================================================================ identity

    @property
    def via_host(self) -> str:
        """The sent-by host of our Via."""
        return self._context.via_host

    @property
    def via_port(self) -> int | None:
        """The sent-by port of our Via, or None."""
        return self._context.via_port

    @property
    def instance_id(self) -> str:
        """Our ``+sip.instance`` URN (RFC 5626)."""
        return self._context.instance_id

    @property
    def contact_uri(self) -> SipUri:
        """Our Contact URI."""
        return self._context.contact_uri

    @property
    def gruu(self) -> SipUri | None:
        """The public GRUU the registrar gave us (RFC 5627), used as dialog Contact when set."""
        return self._context.gruu

    # ================================================================ host interface

    def receive_data(self, data: bytes | str, now: float) -> None:
        """Process one whole SIP message received on the transport (a keep-alive CRLF is ignored)."""
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else bytes(data)
        if not raw.strip(b"\r\n"):
            return  # RFC 5626 keep-alive (CRLF) or empty frame
        try:
            message = parse_message(raw, self.config.parser_limits)
        except ParseError as exc:
            self._checks.reject_unparseable(raw, exc)
            return
        context = self._context
        try:
            context.process(context.transactions.receive(message, now), now)
        except ProtocolError as exc:
            self._checks.reject_parsed(message, exc, now)

    def data_to_send(self) -> list[bytes]:
        """The messages to write to the transport, in order (empty while the transport is down)."""
        context = self._context
        if not context.connected:
            return []
        out, context.outbox = context.outbox, []
        return out

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        events = self._context.events
        return events.popleft() if events else None

    def events(self) -> list[Event]:
        """Every pending event, in order."""
        events = self._context.events
        out = list(events)
        events.clear()
        return out

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timer` must be called, or None."""
        context = self._context
        candidates = [context.transactions.next_deadline(), context.registration.next_deadline()]
        candidates.extend(s.next_deadline() for s in context.sessions.values())
        return min((c for c in candidates if c is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now``."""
        context = self._context
        context.process(context.transactions.handle_timer(now), now)
        # An INVITE client transaction leaves Accepted (timer M) without any output: forget it here, or
        # every answered outbound call would stay reachable (with its session and dialog) for good.
        for tx in [t for t in context.pending if t.terminated]:
            del context.pending[tx]
        event, request = context.registration.handle_timer(now)
        self._after_registration(event, request, now)
        for session in list(context.sessions.values()):
            if self._client.check(session, now) or self._server.check(session, now):
                continue
            self._offers.check(session, now)
            self._timers.check(session, now)

    def transport_lost(self, now: float) -> None:
        """The transport flow is gone. Calls stay up; see the module docstring."""
        context = self._context
        if not context.connected:
            return
        context.connected = False
        context.outbox.clear()
        failed = context.transactions.transport_error(now, keep=lambda tx: isinstance(tx, ServerTransaction))
        event = context.registration.transport_lost(now)
        if event is not None:
            context.events.append(event)
        context.process(failed, now)

    def transport_restored(self, now: float) -> None:
        """A new transport flow is up: re-register if we were, and release queued messages."""
        context = self._context
        if context.connected:
            return
        context.connected = True
        event, request = context.registration.restore(now)
        self._after_registration(event, request, now, first=True)

    @property
    def connected(self) -> bool:
        """False between :meth:`transport_lost` and :meth:`transport_restored`."""
        return self._context.connected

    def update_credentials(
        self, *, username: str | None = None, password: str | None = None, ha1: str | None = None
    ) -> None:
        """Answer future challenges with new credentials (rotated password); drops cached challenges."""
        self._digest.update_credentials(username=username, password=password, ha1=ha1)

    # ================================================================ registration

    @property
    def registration_state(self) -> RegistrationState:
        """The state of our registration."""
        return self._context.registration.state

    @property
    def registration(self) -> Registration:
        """The registration machine (read-only use: state, granted expiry, Service-Route)."""
        return self._context.registration

    def register(self, now: float, *, expires: int | None = None) -> None:
        """Register our Contact (idempotent while registering or registered)."""
        registration = self._context.registration
        if expires is not None:
            if expires <= 0:
                raise LocalProtocolError("expires must be positive; use unregister() to remove the binding")
            registration.requested_expires = expires
        event, request = registration.register(now)
        self._after_registration(event, request, now)

    def unregister(self, now: float) -> None:
        """Remove our binding (REGISTER with expires=0)."""
        event, request = self._context.registration.unregister(now)
        self._after_registration(event, request, now)

    def _after_registration(
        self, event: RegistrationChanged | None, request: Request | None, now: float, *, first: bool = False
    ) -> None:
        context = self._context
        if event is not None:
            context.events.append(event)
        if request is not None:
            self._digest.preempt(request)
            context.send_request(request, now, PendingRequest(Purpose.REGISTER), front=first)

    def _on_register_response(
        self, pending: PendingRequest, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        if response.status_code < 200:
            return
        context = self._context
        if 200 <= response.status_code < 300 and self.config.use_gruu:
            for contact in response.contacts:
                if contact.param("+sip.instance") == f'"<{context.instance_id}>"':
                    gruu = contact.param("pub-gruu")
                    if gruu:
                        try:
                            uri = parse_uri(gruu.strip('"'))
                        except ParseError:
                            uri = None
                        context.gruu = uri if isinstance(uri, SipUri) else None
        event, again = context.registration.on_final_response(tx.request, response, now)
        self._after_registration(event, again, now)

    def _on_register_failure(
        self, pending: PendingRequest, tx: ClientTransaction, cause: FailureCause, now: float
    ) -> None:
        event, again = self._context.registration.on_timeout(tx.request, now, cause.value)
        self._after_registration(event, again, now)

    # ================================================================ calls

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
        """Place a call to ``target`` with an SDP offer; returns the call handle.

        ``headers`` are extra header lines (e.g. ``X-2Chat-...``); they are validated (token names, no
        CR/LF) before anything is sent. ``call_id`` sets the Call-ID (default: a fresh random one); a
        back-to-back server uses it to keep one Call-ID on every leg of a call, as a proxy would.
        ``to_uri`` puts another URI in To than the Request-URI (a proxy or B2BUA sending
        to a registered Contact while addressing the user).
        """
        return self._client.invite(
            target,
            now,
            sdp=sdp,
            headers=headers,
            from_uri=from_uri,
            from_display=from_display,
            to_display=to_display,
            call_id=call_id,
            to_uri=to_uri,
        )

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
        self._server.ring(call, now, status_code=status_code, reason=reason, sdp=sdp, headers=headers)

    def answer(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer an incoming call with 200 OK carrying ``sdp``.

        ``sdp`` is the answer to the caller's offer, or an offer when the INVITE had none.
        """
        self._server.answer(call, sdp, now, headers=headers)

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
        self._server.reject(call, now, status_code=status_code, reason=reason, headers=headers)

    def hangup(self, call: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """End a call the right way for its state: CANCEL, reject (603), or BYE. No-op once ended."""
        context = self._context
        session = context.sessions.get(call)
        if session is None or session.ended:
            return
        state = session.state
        if session.is_uac and state in (CallState.CALLING, CallState.PROCEEDING, CallState.EARLY):
            self._client.cancel(session, now)
        elif session.is_uac and state is CallState.CANCELLING:
            return
        elif not session.is_uac and state in (CallState.INCOMING, CallState.EARLY):
            self._server.reject(call, now, status_code=603, headers=headers)
        elif state is CallState.ANSWERED:
            session.move(CallStimulus.LOCAL_BYE)
            context.end(session, EndReason.LOCAL_BYE, None, "hung up", forget=False)
        elif state is CallState.CONFIRMED:
            offer_tx = session.remote_offer_tx
            if offer_tx is not None and not offer_tx.terminated:
                context.send_response(offer_tx, make_response(offer_tx.request, 487), now)
            session.move(CallStimulus.LOCAL_BYE)
            context.send_bye(session, now, headers=headers)
            context.end(session, EndReason.LOCAL_BYE, None, "hung up")

    def reinvite(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send a new offer in a re-INVITE (hold, resume, ICE restart)."""
        self._offers.reinvite(call, sdp, now, headers=headers)

    def answer_offer(
        self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer the peer's re-INVITE/UPDATE offer (after :class:`RemoteOffer`), or send the offer it asked
        for (after :class:`OfferRequested`)."""
        self._offers.answer_offer(call, sdp, now, headers=headers)

    def reject_offer(self, call: str, now: float, *, status_code: int = 488) -> None:
        """Refuse the peer's offer (488 Not Acceptable Here by default); the session stays as it was."""
        self._offers.reject_offer(call, now, status_code=status_code)

    def send_info(
        self,
        call: str,
        content_type: str,
        body: bytes,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Send an INFO in the call's dialog."""
        context = self._context
        session = context.confirmed(call)
        request = context.in_dialog_request(session, "INFO", headers=list(headers))
        request.body = bytes(body)
        request.headers.set("Content-Type", content_type)
        context.send_request(request, now, PendingRequest(Purpose.INFO, session))

    def send_dtmf_info(self, call: str, digit: str, now: float, *, duration_ms: int = 160) -> None:
        """Send one DTMF digit as SIP INFO (application/dtmf-relay, as JsSIP does)."""
        self.send_info(call, DTMF_RELAY, dtmf_relay_body(digit, duration_ms), now)

    def call_info(self, call: str) -> CallInfo:
        """A snapshot of a live call."""
        session = self._context.session(call)
        local = session.invite.from_ if session.is_uac else session.invite.to
        remote = session.invite.to if session.is_uac else session.invite.from_
        timer = session.session_timer
        return CallInfo(
            handle=session.handle,
            call_id=session.invite.call_id,
            is_uac=session.is_uac,
            state=session.state,
            offer_state=session.offer_state,
            remote=remote.without_param("tag"),
            local=local.without_param("tag"),
            local_sdp=session.local_sdp,
            remote_sdp=session.remote_sdp,
            session_interval=timer.interval if timer is not None else None,
        )

    @property
    def calls(self) -> list[str]:
        """Handles of the live calls."""
        return [h for h, s in self._context.sessions.items() if not s.ended]

    def _on_invite_response(
        self, pending: PendingRequest, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        assert pending.session is not None
        self._client.on_response(pending.session, tx, response, now)
        if 200 <= response.status_code < 300:
            self._context.pending[tx] = pending  # keep catching forked/retransmitted 2xx while Accepted

    def _on_invite_failure(
        self, pending: PendingRequest, tx: ClientTransaction, cause: FailureCause, now: float
    ) -> None:
        assert pending.session is not None
        self._client.on_transaction_failure(pending.session, tx, cause)

    def _on_in_dialog_failure(
        self, pending: PendingRequest, tx: ClientTransaction, cause: FailureCause, now: float
    ) -> None:
        self._in_dialog.on_failure(pending, cause, now)

    # ================================================================ generic requests (application)

    def send_request(
        self,
        method: str,
        uri: Uri | str,
        now: float,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        to: NameAddr | None = None,
    ) -> str:
        """Send an out-of-dialog request (OPTIONS ping, MESSAGE...); returns a request handle.

        Its responses arrive as :class:`ResponseReceived`, a failure as :class:`RequestFailed`.
        """
        if method in ("INVITE", "ACK", "CANCEL", "BYE", "REGISTER"):
            raise LocalProtocolError(f"use the dedicated method for {method}")
        context = self._context
        target = parse_uri(uri) if isinstance(uri, str) else uri
        extra = Headers(headers)
        out = Headers()
        for route in context.initial_routes():
            out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("To", str(to or NameAddr(target)))
        out.add(
            "From",
            str(NameAddr(self.config.aor, self.config.display_name).with_param("tag", context.token(10))),
        )
        out.add("Call-ID", context.token(22))
        out.add("CSeq", f"1 {method}")
        if self.config.user_agent:
            out.add("User-Agent", self.config.user_agent)
        for name, value in extra:
            out.add(name, value)
        if content_type is not None and body:
            out.set("Content-Type", content_type)
        request = Request(method, target, out, bytes(body))
        context.request_counter += 1
        handle = f"req-{context.request_counter}"
        self._digest.preempt(request)
        context.send_request(request, now, PendingRequest(Purpose.APP, handle=handle))
        return handle

    def respond(
        self,
        handle: str,
        status_code: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
    ) -> None:
        """Answer a request delivered as :class:`RequestReceived`."""
        tx = self._app_server_tx.get(handle)
        if tx is None or tx.terminated:
            raise LocalProtocolError(f"no request {handle} awaits a response")
        tag = self._app_tags.get(handle)
        response = make_response(
            tx.request,
            status_code,
            reason,
            to_tag=tag if status_code > 100 else None,
            headers=headers,
            body=body,
            content_type=content_type,
        )
        self._context.send_response(tx, response, now)
        if status_code >= 200:
            self._app_server_tx.pop(handle, None)
            self._app_tags.pop(handle, None)

    def _on_app_response(
        self, pending: PendingRequest, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        assert pending.handle is not None
        self._context.events.append(ResponseReceived(pending.handle, tx.request, response))

    def _on_app_failure(
        self, pending: PendingRequest, tx: ClientTransaction, cause: FailureCause, now: float
    ) -> None:
        assert pending.handle is not None
        self._context.events.append(RequestFailed(pending.handle, tx.request, cause.value))

    def _pass_to_application(self, tx: ServerTransaction, request: Request, now: float) -> None:
        context = self._context
        context.request_counter += 1
        handle = f"srv-{context.request_counter}"
        self._app_server_tx[handle] = tx
        self._app_tags[handle] = context.token(10)
        context.events.append(RequestReceived(handle, request))

    # ================================================================ dispatch

    def route(self, output: TransactionOutput, now: float) -> None:
        """Handle one transaction output (the :class:`~.ua.context.OutputRouter` of the shared context)."""
        match output:
            case SendMessage():
                self._context.outbox.append(output.message.to_bytes())
            case DeliverResponse():
                self._on_response(output.transaction, output.response, now)
            case NewRequest():
                self._on_new_request(output.transaction, output.request, now)
            case StrayAck():
                self._server.on_ack(output.request, now)
            case StrayResponse():
                self._client.on_stray_response(output.response, now)
            case TransactionTimedOut() | TransportFailed():
                cause = (
                    FailureCause.TIMEOUT
                    if isinstance(output, TransactionTimedOut)
                    else FailureCause.TRANSPORT
                )
                tx = output.transaction
                if isinstance(tx, ClientTransaction):
                    pending = self._context.pending.pop(tx, None)
                    if pending is not None:
                        self._on_failure[pending.purpose](pending, tx, cause, now)
                elif isinstance(tx, ServerTransaction):
                    self._server.on_transaction_failure(tx)

    def _on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        pending = self._context.pending.get(tx)
        if pending is None:
            return
        if response.status_code >= 200:
            self._context.pending.pop(tx, None)
        if response.status_code in (401, 407) and self._digest.retry(tx, pending, response, now):
            return
        self._on_final[pending.purpose](pending, tx, response, now)

    def _on_new_request(self, tx: ServerTransaction, request: Request, now: float) -> None:
        if self._checks.refuse(tx, request, now):
            return
        method = request.method
        to_tag = request.to.tag
        if to_tag:
            if method == "CANCEL":
                self._server.on_cancel(tx, request, now)
                return
            session = self._context.by_dialog.get((request.call_id, to_tag, request.from_.tag or ""))
            if session is None or session.dialog is None:
                self._context.respond(tx, 481, now)
            elif self._in_dialog.accept(session, tx, request, now):
                handler = self._in_dialog_methods.get(method)
                if handler is None:
                    self._checks.unhandled(tx, request, now, in_dialog=True)
                else:
                    handler(session, tx, request, now)
            return
        found = self._out_of_dialog.get(method)
        if found is None and method in self.config.passthrough_methods:
            found = self._pass_to_application
        if found is None:
            found = self._standalone.get(method)
        if found is None:
            self._checks.unhandled(tx, request, now, in_dialog=False)
        else:
            found(tx, request, now)

    def _options_in_dialog(
        self, session: InviteSession, tx: ServerTransaction, request: Request, now: float
    ) -> None:
        self._checks.options(tx, request, now)


_OWN_FINAL = frozenset({Purpose.REGISTER, Purpose.INVITE, Purpose.APP})
"""Purposes with handlers of their own; every other purpose is an in-dialog request (:mod:`.ua.in_dialog`)."""
