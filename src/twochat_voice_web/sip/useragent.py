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
* This module is the transaction user: it authenticates (401/407, bounded, with preemptive credentials
  on later requests), keeps :mod:`.registration` and the calls (:mod:`.session`, :mod:`.dialog`), applies
  RFC 3261 §8.2 request checks (483, 420, 416, 481, 405/501), the RFC 3264 offer/answer rules with 491
  glare back-off (§14.1), and RFC 4028 session timers when the peer asks for them.

Transport loss: :meth:`transport_lost` fails the client transactions that were in flight on the dead flow,
drops the registration to UNREGISTERED (remembering it), and keeps calls and server transactions. Bytes
queued meanwhile are held; :meth:`transport_restored` re-registers with the same Contact, ``+sip.instance``
and ``reg-id`` (RFC 5626) and releases what was queued, so in-dialog requests made while offline go out.
"""

from __future__ import annotations

import random
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from twochat_voice_web._version import __version__

from . import _grammar
from ._grammar import CALLID_RE
from .auth import DigestChallenge, DigestClient
from .dialog import Dialog, DialogEvent
from .dtmf import DTMF_EVENTS, MAX_DURATION_MS, MIN_DURATION_MS
from .errors import LocalProtocolError, MessageTooLargeError, ParseError, ProtocolError, RemoteProtocolError
from .events import (
    CallAnswered,
    CallEnded,
    CallProgress,
    DtmfInfoReceived,
    EndReason,
    Event,
    IncomingCall,
    InfoReceived,
    MessageRejected,
    OfferRejected,
    OfferRequested,
    OfferRetryDue,
    RegistrationChanged,
    RegistrationState,
    RemoteAnswer,
    RemoteOffer,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    SessionRefreshed,
)
from .headers import Headers, NameAddr, Via, canonical_name, parse_cseq, parse_name_addr, parse_via_list
from .message import DEFAULT_LIMITS, ParserLimits, Request, Response, make_response, parse_message
from .registration import Registration
from .session import (
    CallState,
    CallStimulus,
    InviteSession,
    OfferState,
    SessionExpires,
    SessionTimer,
    parse_session_expires,
)
from .transaction import (
    MAGIC_COOKIE,
    ClientTransaction,
    DeliverResponse,
    NewRequest,
    SendMessage,
    ServerTransaction,
    StrayAck,
    StrayResponse,
    TimerConfig,
    TransactionOutput,
    TransactionTable,
    TransactionTimedOut,
    TransportFailed,
)
from .uri import AbsoluteUri, SipUri, Uri, parse_uri

__all__ = ["ALLOWED_METHODS", "CallInfo", "UserAgent", "UserAgentConfig"]

ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "INFO", "OPTIONS", "NOTIFY")
"""Methods this user agent implements (the Allow header)."""
_KNOWN_UNSUPPORTED = frozenset({"REGISTER", "SUBSCRIBE", "PUBLISH", "REFER", "MESSAGE", "PRACK"})
"""Methods we recognise but do not implement: 405 Method Not Allowed (anything else: 501)."""
_SUPPORTED_EXTENSIONS = frozenset({"timer"})
"""Extensions we can honour when a request Requires them."""
_SDP = "application/sdp"
# Signal= is a key or its RFC 4733 event number (10-15 = * # A-D); 16 (hook flash) is no DTMF key, so such
# an INFO reaches the application as a plain InfoReceived
_DTMF_RELAY_RE = re.compile(
    rf"^\s*signal\s*=\s*([{re.escape(DTMF_EVENTS)}]|1[0-5])\s*$", re.IGNORECASE | re.MULTILINE
)
_DTMF_DURATION_RE = re.compile(r"^\s*duration\s*=\s*(\d{1,6})\s*$", re.IGNORECASE | re.MULTILINE)
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


@dataclass(frozen=True)
class UserAgentConfig:
    """How a :class:`UserAgent` presents itself. Only ``aor`` is required.

    Attributes:
        aor: our address of record (``sip:alice@example.com``): From of our requests, To of REGISTER.
        display_name: display name in From.
        username: digest user name (defaults to the AOR's user part).
        password: digest password (or give ``ha1``). Without either, challenges are not answered.
        ha1: precomputed MD5 H(user:realm:password), instead of the password.
        transport: the Via transport token, ``"WSS"`` or ``"WS"`` (or ``"TCP"``/``"TLS"``).
        via_host: sent-by of our Via (``host`` or ``host:port``); default a random ``.invalid`` name
            (RFC 7118 §5). The default Contact uses the same host and port.
        contact_uri: our Contact URI; default ``sip:<random>@<via_host>;transport=<ws|wss>;ob``.
        instance_id: ``+sip.instance`` URN (RFC 5626); default a random ``urn:uuid:``.
        reg_id: RFC 5626 ``reg-id`` of our flow.
        registrar: Request-URI of REGISTER; default ``sip:<aor host>``.
        register_expires: the registration interval we ask for, seconds.
        preloaded_routes: Route header values for initial requests (an outbound proxy).
        user_agent: the User-Agent header of our requests (None: no header).
        session_expires: ask for RFC 4028 session timers on our INVITEs (seconds), or None to use them
            only when the peer asks.
        min_se: the smallest session interval we accept (Min-SE), seconds.
        timers: transaction timer values.
        max_auth_attempts: authenticated retries per request before giving up.
        passthrough_methods: out-of-dialog methods handed to the application as
            :class:`~.events.RequestReceived` instead of being answered here (e.g. ``{"REGISTER"}`` on a
            registrar).
        parser_limits: limits applied to incoming messages.
        use_gruu: use the public GRUU the registrar gives us (RFC 5627) as Contact of our dialogs.
    """

    aor: SipUri
    display_name: str | None = None
    username: str | None = None
    password: str | None = None
    ha1: str | None = None
    transport: str = "WSS"
    via_host: str | None = None
    contact_uri: SipUri | None = None
    instance_id: str | None = None
    reg_id: int = 1
    registrar: SipUri | None = None
    register_expires: int = 600
    preloaded_routes: tuple[str, ...] = ()
    user_agent: str | None = f"twochat-voice-web/{__version__}"
    session_expires: int | None = None
    min_se: int = 90
    timers: TimerConfig = field(default_factory=TimerConfig)
    max_auth_attempts: int = 2
    passthrough_methods: frozenset[str] = frozenset()
    parser_limits: ParserLimits = DEFAULT_LIMITS
    use_gruu: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.aor, SipUri):
            raise LocalProtocolError("aor must be a SipUri")
        if self.transport.upper() not in ("WS", "WSS", "TCP", "TLS", "UDP"):
            raise LocalProtocolError(f"unknown transport {self.transport!r}")
        if self.min_se < 90:
            raise LocalProtocolError("min_se must be at least 90 seconds (RFC 4028 §5)")
        if self.session_expires is not None and self.session_expires < self.min_se:
            raise LocalProtocolError("session_expires must not be below min_se")
        if self.register_expires <= 0:
            raise LocalProtocolError("register_expires must be positive")


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


@dataclass(eq=False)
class _Pending:
    """What a client transaction is for (the transaction user's bookkeeping)."""

    purpose: str  # register | invite | cancel | bye | reinvite | update | refresh | info | app | fork-bye
    session: InviteSession | None = None
    handle: str | None = None
    auth_attempts: int = 0
    credentials_answered: bool = False


def _is_sdp(message: Request | Response) -> bool:
    return bool(message.body) and message.content_type == _SDP


def _text(body: bytes) -> str:
    return body.decode("utf-8", errors="replace")


def _sanitize(text: str, limit: int = 120) -> str:
    cleaned = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else " " for ch in text)
    return cleaned[:limit].strip()


class UserAgent:
    """A sans-I/O SIP user agent. See the module docstring for the model.

    Args:
        config: how we present ourselves.
        rng: randomness for tags, branches, Call-IDs and cnonces; default the system's CSPRNG. Tests pass
            a seeded :class:`random.Random`.
    """

    def __init__(self, config: UserAgentConfig, *, rng: random.Random | None = None) -> None:
        self.config = config
        self._rng = rng if rng is not None else random.SystemRandom()
        self._transport = config.transport.upper()
        self.via_host, self.via_port = _split_host_port(config.via_host or f"{self._token(12)}.invalid")
        self.instance_id = config.instance_id or f"urn:uuid:{self._uuid4()}"
        if config.contact_uri is not None:
            self.contact_uri = config.contact_uri
        else:
            params: tuple[tuple[str, str | None], ...] = (
                ("transport", self._transport.lower()),
                ("ob", None),
            )
            self.contact_uri = SipUri("sip", self._token(8), None, self.via_host, self.via_port, params)
        #: The public GRUU the registrar gave us (RFC 5627), used as dialog Contact when set.
        self.gruu: SipUri | None = None
        self._transactions = TransactionTable(config.timers)
        self._pending: dict[ClientTransaction, _Pending] = {}
        self._events: deque[Event] = deque()
        self._outbox: list[bytes] = []
        self._connected = True
        self._sessions: dict[str, InviteSession] = {}
        self._by_dialog: dict[tuple[str, str, str], InviteSession] = {}
        self._by_server_tx: dict[ServerTransaction, InviteSession] = {}
        self._app_server_tx: dict[str, ServerTransaction] = {}
        self._app_tags: dict[str, str] = {}
        self._request_counter = 0
        self._auth_cache: dict[str, DigestChallenge] = {}
        self._digest: DigestClient | None = None
        username = config.username or config.aor.user
        if username and (config.password is not None or config.ha1 is not None):
            self._digest = DigestClient(
                username,
                config.password,
                ha1=config.ha1,
                random_bytes=self._random_bytes,
                max_attempts=config.max_auth_attempts,
            )
        aor = NameAddr(config.aor, config.display_name)
        registrar = config.registrar or SipUri(
            "sips" if config.aor.scheme == "sips" else "sip", host=config.aor.host
        )
        contact = NameAddr(self.contact_uri).with_param("+sip.instance", f'"<{self.instance_id}>"')
        contact = contact.with_param("reg-id", str(config.reg_id))
        self._registration = Registration(
            aor=aor,
            registrar=registrar,
            contact=contact,
            call_id=self._token(22),
            from_tag=self._token(10),
            expires=config.register_expires,
        )
        extra = [("Allow", ", ".join(ALLOWED_METHODS)), ("Supported", "path, outbound, gruu")]
        if config.user_agent:
            extra.append(("User-Agent", config.user_agent))
        self._registration.extra_headers = extra

    # ================================================================ host interface

    def receive_data(self, data: bytes | str, now: float) -> None:
        """Process one whole SIP message received on the transport (a keep-alive CRLF is ignored)."""
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else bytes(data)
        if not raw.strip(b"\r\n"):
            return  # RFC 5626 keep-alive (CRLF) or empty frame
        try:
            message = parse_message(raw, self.config.parser_limits)
        except ParseError as exc:
            self._reject_unparseable(raw, exc, now)
            return
        try:
            self._process(self._transactions.receive(message, now), now)
        except ProtocolError as exc:
            self._reject_parsed(message, exc, now)

    def data_to_send(self) -> list[bytes]:
        """The messages to write to the transport, in order (empty while the transport is down)."""
        if not self._connected:
            return []
        out, self._outbox = self._outbox, []
        return out

    def next_event(self) -> Event | None:
        """The next event, or None when there is none."""
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        """Every pending event, in order."""
        out = list(self._events)
        self._events.clear()
        return out

    def next_deadline(self) -> float | None:
        """The earliest time :meth:`handle_timer` must be called, or None."""
        candidates = [self._transactions.next_deadline(), self._registration.next_deadline()]
        candidates.extend(s.next_deadline() for s in self._sessions.values())
        return min((c for c in candidates if c is not None), default=None)

    def handle_timer(self, now: float) -> None:
        """Run every timer due at ``now``."""
        self._process(self._transactions.handle_timer(now), now)
        # An INVITE client transaction leaves Accepted (timer M) without any output: forget it here, or
        # every answered outbound call would stay reachable (with its session and dialog) for good.
        for tx in [t for t in self._pending if t.terminated]:
            del self._pending[tx]
        event, request = self._registration.handle_timer(now)
        self._after_registration(event, request, now)
        for session in list(self._sessions.values()):
            self._session_timers(session, now)

    def transport_lost(self, now: float) -> None:
        """The transport flow is gone. Calls stay up; see the module docstring."""
        if not self._connected:
            return
        self._connected = False
        self._outbox.clear()
        failed = self._transactions.transport_error(now, keep=lambda tx: isinstance(tx, ServerTransaction))
        event = self._registration.transport_lost(now)
        if event is not None:
            self._events.append(event)
        self._process(failed, now)

    def transport_restored(self, now: float) -> None:
        """A new transport flow is up: re-register if we were, and release queued messages."""
        if self._connected:
            return
        self._connected = True
        event, request = self._registration.restore(now)
        self._after_registration(event, request, now, first=True)

    @property
    def connected(self) -> bool:
        """False between :meth:`transport_lost` and :meth:`transport_restored`."""
        return self._connected

    def update_credentials(
        self, *, username: str | None = None, password: str | None = None, ha1: str | None = None
    ) -> None:
        """Answer future challenges with new credentials (rotated password); drops cached challenges."""
        if (password is None) == (ha1 is None):
            raise LocalProtocolError("give exactly one of password and ha1")
        user = username or self.config.username or self.config.aor.user
        if not user:
            raise LocalProtocolError("digest authentication needs a user name")
        self._digest = DigestClient(
            user,
            password,
            ha1=ha1,
            random_bytes=self._random_bytes,
            max_attempts=self.config.max_auth_attempts,
        )
        self._auth_cache.clear()

    # ================================================================ registration

    @property
    def registration_state(self) -> RegistrationState:
        """The state of our registration."""
        return self._registration.state

    @property
    def registration(self) -> Registration:
        """The registration machine (read-only use: state, granted expiry, Service-Route)."""
        return self._registration

    def register(self, now: float, *, expires: int | None = None) -> None:
        """Register our Contact (idempotent while registering or registered)."""
        if expires is not None:
            if expires <= 0:
                raise LocalProtocolError("expires must be positive; use unregister() to remove the binding")
            self._registration.requested_expires = expires
        event, request = self._registration.register(now)
        self._after_registration(event, request, now)

    def unregister(self, now: float) -> None:
        """Remove our binding (REGISTER with expires=0)."""
        event, request = self._registration.unregister(now)
        self._after_registration(event, request, now)

    def _after_registration(
        self, event: RegistrationChanged | None, request: Request | None, now: float, *, first: bool = False
    ) -> None:
        if event is not None:
            self._events.append(event)
        if request is not None:
            self._preemptive_auth(request)
            tx = self._send_request(request, now, _Pending("register"), front=first)
            del tx

    def _on_register_final(self, request: Request, response: Response, now: float) -> None:
        if 200 <= response.status_code < 300 and self.config.use_gruu:
            for contact in response.contacts:
                if contact.param("+sip.instance") == f'"<{self.instance_id}>"':
                    gruu = contact.param("pub-gruu")
                    if gruu:
                        try:
                            uri = parse_uri(gruu.strip('"'))
                        except ParseError:
                            uri = None
                        self.gruu = uri if isinstance(uri, SipUri) else None
        event, again = self._registration.on_final_response(request, response, now)
        self._after_registration(event, again, now)

    # ================================================================ calls: UAC

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
        uri = parse_uri(target) if isinstance(target, str) else target
        if isinstance(uri, AbsoluteUri):
            raise LocalProtocolError(f"can't call a {uri.scheme}: URI")
        if not sdp:
            raise LocalProtocolError("an outgoing INVITE carries an SDP offer")
        if call_id is not None and not _grammar.CALLID_RE.fullmatch(call_id):
            raise LocalProtocolError(f"not a valid Call-ID: {call_id!r}")
        extra = Headers(headers)  # validates names and values
        call_id = call_id or self._token(22)
        local = NameAddr(from_uri or self.config.aor, from_display or self.config.display_name)
        remote = NameAddr(to_uri or uri, to_display)
        out = Headers()
        for route in self._initial_routes():
            out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("To", str(remote))
        out.add("From", str(local.with_param("tag", self._token(10))))
        out.add("Call-ID", call_id)
        out.add("CSeq", f"{self._rng.randint(1, 9999)} INVITE")
        out.add("Contact", str(self._dialog_contact()))
        out.add("Allow", ", ".join(ALLOWED_METHODS))
        out.add("Supported", "timer, outbound, gruu")
        if self.config.session_expires is not None:
            out.add("Session-Expires", str(self.config.session_expires))
            out.add("Min-SE", str(self.config.min_se))
        if self.config.user_agent:
            out.add("User-Agent", self.config.user_agent)
        for name, value in extra:
            out.add(name, value)
        out.set("Content-Type", _SDP)
        request = Request("INVITE", uri, out, sdp.encode())
        handle = self._new_handle(call_id)
        session = InviteSession(handle=handle, is_uac=True, invite=request, state=CallState.CALLING)
        session.local_sdp = sdp
        self._sessions[handle] = session
        self._preemptive_auth(request)
        session.invite_tx = self._send_request(request, now, _Pending("invite", session))
        return handle

    def _on_invite_response(
        self, session: InviteSession, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        if tx is not session.invite_tx:
            if 200 <= response.status_code < 300:
                self._ack_and_bye_fork(session, tx.request, response, now)
            return
        code = response.status_code
        if code < 200:
            self._on_invite_provisional(session, response, now)
        elif code < 300:
            self._on_invite_2xx(session, response, now)
        else:
            self._on_invite_failure(session, response, now)

    def _on_invite_provisional(self, session: InviteSession, response: Response, now: float) -> None:
        tag = response.to.tag
        stimulus = CallStimulus.RECV_1XX
        if tag and response.status_code > 100:
            dialog = session.early_dialogs.get(tag)
            if dialog is None:
                dialog = Dialog.from_uac(session.invite, response)
                session.early_dialogs[tag] = dialog
                self._by_dialog[(dialog.id.call_id, dialog.id.local_tag, tag)] = session
            else:
                dialog.receive_response(session.invite, response)
            session.dialog = dialog
            stimulus = CallStimulus.RECV_1XX_DIALOG
        if session.move(stimulus) is None:
            return
        if session.state is CallState.CANCELLING:
            if session.cancel_deferred:
                session.cancel_deferred = False
                self._send_cancel(session, now)
            return
        sdp = _text(response.body) if _is_sdp(response) else None
        if sdp is not None:
            session.remote_sdp = sdp
        self._events.append(
            CallProgress(session.handle, response.status_code, response.reason, sdp, response)
        )

    def _on_invite_2xx(self, session: InviteSession, response: Response, now: float) -> None:
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
            self._by_dialog.pop((dialog.id.call_id, dialog.id.local_tag, other_tag), None)
        session.early_dialogs.clear()
        session.dialog = dialog
        self._by_dialog[(dialog.id.call_id, dialog.id.local_tag, dialog.id.remote_tag)] = session
        self._send_stateless(dialog.create_ack(session.invite))
        previous = session.move(CallStimulus.RECV_2XX)
        if previous is CallState.CANCELLING:
            self._send_bye(session, now)
            self._end(session, EndReason.LOCAL_CANCEL, None, "cancelled (answered during cancel)")
            return
        session.peer_allows_update = "UPDATE" in (m.upper() for m in self._safe_tokens(response, "allow"))
        self._negotiate_timer_from_response(session, response, now)
        sdp = _text(response.body) if _is_sdp(response) else None
        if sdp is not None:
            session.remote_sdp = sdp
        self._events.append(CallAnswered(session.handle, sdp, response))

    def _on_invite_failure(self, session: InviteSession, response: Response, now: float) -> None:
        code = response.status_code
        if code == 422 and session.invite_retries < 2 and session.state is not CallState.CANCELLING:
            minimum = response.headers.get("Min-SE")
            interval = _leading_int(minimum) if minimum else None
            if interval is not None:
                self._resend_invite(session, now, session_interval=max(interval, self.config.min_se))
                return
        previous = session.move(CallStimulus.RECV_FAILURE)
        if previous is None:
            return
        reason = EndReason.LOCAL_CANCEL if previous is CallState.CANCELLING else EndReason.REJECTED
        self._end(session, reason, code, response.reason)

    def _resend_invite(self, session: InviteSession, now: float, *, session_interval: int) -> None:
        old = session.invite
        headers = old.headers.copy()
        headers.remove("Via")
        headers.set("CSeq", f"{old.cseq.seq + 1} INVITE")
        headers.set("Session-Expires", str(session_interval))
        headers.set("Min-SE", str(session_interval))
        request = Request("INVITE", old.uri, headers, old.body)
        session.invite = request
        session.invite_retries += 1
        session.invite_tx = self._send_request(request, now, _Pending("invite", session))

    def _ack_and_bye_fork(
        self, session: InviteSession, invite: Request, response: Response, now: float
    ) -> None:
        """A 2xx we did not take (retransmission or another fork): ACK it, and BYE it unless it is ours."""
        try:
            dialog = Dialog.from_uac(invite, response)
        except RemoteProtocolError:
            return
        ours = session.dialog
        self._send_stateless(dialog.create_ack(invite))
        if ours is not None and ours.id == dialog.id and session.state is CallState.CONFIRMED:
            return  # a retransmission of the 2xx we took
        bye = dialog.create_request("BYE")
        self._send_request(bye, now, _Pending("fork-bye"))

    def _send_cancel(self, session: InviteSession, now: float) -> None:
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
        if self.config.user_agent:
            headers.add("User-Agent", self.config.user_agent)
        cancel = Request("CANCEL", invite.uri, headers)
        tx, outputs = self._transactions.send_request(cancel, now)
        self._pending[tx] = _Pending("cancel", session)
        session.cancel_deadline = now + 64 * self.config.timers.t1
        self._process(outputs, now)

    # ================================================================ calls: UAS

    def _on_new_invite(self, tx: ServerTransaction, request: Request, now: float) -> None:
        if not isinstance(request.uri, SipUri):
            self._respond(tx, 416, now)
            return
        if request.body and request.content_type != _SDP:
            self._respond(tx, 415, now, headers=[("Accept", _SDP)])
            return
        if not request.contacts:
            self._respond(tx, 400, now, reason="Missing Contact")
            return
        se_value = request.headers.get("Session-Expires")
        timer: SessionExpires | None = None
        if se_value is not None:
            timer = parse_session_expires(se_value)
            if timer.interval < self.config.min_se:
                self._respond(tx, 422, now, headers=[("Min-SE", str(self.config.min_se))])
                return
        from_tag = request.from_.tag or ""
        for other in self._sessions.values():
            if (
                not other.is_uac
                and other.invite.call_id == request.call_id
                and other.invite.from_.tag == from_tag
            ):
                self._respond(tx, 482, now)  # merged request (RFC 3261 §8.2.2.2)
                return
        handle = self._new_handle(request.call_id)
        session = InviteSession(
            handle=handle, is_uac=False, invite=request, state=CallState.INCOMING, invite_server_tx=tx
        )
        session.local_tag = self._token(10)
        session.peer_allows_update = "UPDATE" in (m.upper() for m in self._safe_tokens(request, "allow"))
        if _is_sdp(request):
            session.remote_sdp = _text(request.body)
        self._sessions[handle] = session
        self._by_server_tx[tx] = session
        self._events.append(
            IncomingCall(
                handle,
                request,
                request.from_.without_param("tag"),
                request.to.without_param("tag"),
                session.remote_sdp,
            )
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
        session = self._session(call)
        if not 101 <= status_code <= 199:
            raise LocalProtocolError("ring() sends 101..199")
        if session.is_uac:
            raise LocalProtocolError("ring() is for incoming calls")
        session.move(CallStimulus.LOCAL_RING)
        tx = self._invite_server_tx(session)
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, session.local_tag or "")
            self._index_dialog(session)
        extra = [("Contact", str(self._dialog_contact())), ("Allow", ", ".join(ALLOWED_METHODS)), *headers]
        body = b""
        content_type = None
        if sdp is not None:
            if session.remote_sdp is None:
                raise LocalProtocolError("early media needs the caller's offer")
            body, content_type = sdp.encode(), _SDP
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
        self._process(self._transactions.send_response(tx, response, now), now)

    def answer(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Answer an incoming call with 200 OK carrying ``sdp``.

        ``sdp`` is the answer to the caller's offer, or an offer when the INVITE had none.
        """
        session = self._session(call)
        if session.is_uac:
            raise LocalProtocolError("answer() is for incoming calls")
        if not sdp:
            raise LocalProtocolError("a 200 to INVITE carries SDP")
        session.move(CallStimulus.LOCAL_ANSWER)
        tx = self._invite_server_tx(session)
        if session.dialog is None:
            session.dialog = Dialog.from_uas(session.invite, session.local_tag or "", confirmed=True)
            self._index_dialog(session)
        else:
            session.dialog.apply(DialogEvent.CONFIRM)
        extra: list[tuple[str, str]] = [
            ("Contact", str(self._dialog_contact())),
            ("Allow", ", ".join(ALLOWED_METHODS)),
            ("Supported", "timer, outbound, gruu"),
            *self._uas_timer_headers(session, session.invite),
            *headers,
        ]
        response = make_response(
            session.invite,
            200,
            None,
            to_tag=session.local_tag,
            headers=extra,
            body=sdp.encode(),
            content_type=_SDP,
        )
        if session.remote_sdp is None:
            session.offer_state = OfferState.OFFER_IN_2XX
        session.local_sdp = sdp
        session.ack_deadline = now + 64 * self.config.timers.t1
        self._process(self._transactions.send_response(tx, response, now), now)

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
        session = self._session(call)
        if session.is_uac:
            raise LocalProtocolError("reject() is for incoming calls; use hangup()")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError("reject() sends 300..699")
        session.move(CallStimulus.LOCAL_REJECT)
        response = make_response(
            session.invite, status_code, reason, to_tag=session.local_tag, headers=headers
        )
        self._process(self._transactions.send_response(self._invite_server_tx(session), response, now), now)
        self._end(session, EndReason.LOCAL_REJECT, status_code, response.reason)

    def _on_cancel(self, tx: ServerTransaction, request: Request, now: float) -> None:
        ist = self._transactions.find_invite_server_transaction(request)
        if ist is None:
            self._respond(tx, 481, now)
            return
        self._respond(tx, 200, now)
        session = self._by_server_tx.get(ist)
        if session is None or session.invite_server_tx is not ist:
            return
        if session.state in (CallState.INCOMING, CallState.EARLY):
            response = make_response(session.invite, 487, None, to_tag=session.local_tag)
            self._process(self._transactions.send_response(ist, response, now), now)
            session.move(CallStimulus.RECV_CANCEL)
            self._end(session, EndReason.REMOTE_CANCEL, 487, "Request Terminated")

    def _on_ack(self, request: Request, now: float) -> None:
        key = (request.call_id, request.to.tag or "", request.from_.tag or "")
        session = self._by_dialog.get(key)
        if session is None or session.dialog is None:
            return  # stray ACK: nothing to do (RFC 3261 §17.2.3)
        if request.cseq.seq != (session.dialog.remote_seq or 0) and session.state is not CallState.ANSWERED:
            return
        body_sdp = _text(request.body) if _is_sdp(request) else None
        previous = session.move(CallStimulus.RECV_ACK)
        if previous is None:
            return
        session.ack_deadline = None
        if previous is CallState.BYE_AFTER_ACK:
            self._send_bye(session, now)
            self._forget(session)
            return
        if session.offer_state is OfferState.OFFER_IN_2XX:
            session.offer_state = OfferState.STABLE
            if body_sdp is not None:
                session.remote_sdp = body_sdp
                if previous is CallState.CONFIRMED:
                    self._events.append(RemoteAnswer(session.handle, body_sdp))
        if previous is CallState.ANSWERED:
            if session.session_timer is not None:
                session.session_timer.restart(now)
            self._events.append(CallAnswered(session.handle, body_sdp, request))

    # ================================================================ calls: both sides

    def hangup(self, call: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """End a call the right way for its state: CANCEL, reject (603), or BYE. No-op once ended."""
        session = self._sessions.get(call)
        if session is None or session.ended:
            return
        state = session.state
        if session.is_uac and state in (CallState.CALLING, CallState.PROCEEDING, CallState.EARLY):
            session.move(CallStimulus.LOCAL_CANCEL)
            if state is CallState.CALLING:
                session.cancel_deferred = True
                session.cancel_deadline = now + 64 * self.config.timers.t1
            else:
                self._send_cancel(session, now)
        elif session.is_uac and state is CallState.CANCELLING:
            return
        elif not session.is_uac and state in (CallState.INCOMING, CallState.EARLY):
            self.reject(call, now, status_code=603, headers=headers)
        elif state is CallState.ANSWERED:
            session.move(CallStimulus.LOCAL_BYE)
            self._end(session, EndReason.LOCAL_BYE, None, "hung up", forget=False)
        elif state is CallState.CONFIRMED:
            if session.remote_offer_tx is not None and not session.remote_offer_tx.terminated:
                response = make_response(session.remote_offer_tx.request, 487)
                self._process(self._transactions.send_response(session.remote_offer_tx, response, now), now)
            session.move(CallStimulus.LOCAL_BYE)
            self._send_bye(session, now, headers=headers)
            self._end(session, EndReason.LOCAL_BYE, None, "hung up")

    def reinvite(self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()) -> None:
        """Send a new offer in a re-INVITE (hold, resume, ICE restart)."""
        session = self._confirmed(call)
        self._check_can_offer(session)
        request = self._in_dialog_request(
            session, "INVITE", headers=[*self._refresh_headers(session), *headers], sdp=sdp
        )
        session.offer_state = OfferState.LOCAL_OFFER
        session.offer_tx = self._send_request(request, now, _Pending("reinvite", session))

    def answer_offer(
        self, call: str, sdp: str, now: float, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Answer the peer's re-INVITE/UPDATE offer (after :class:`RemoteOffer`), or send the offer it asked
        for (after :class:`OfferRequested`)."""
        session = self._session(call)
        tx = session.remote_offer_tx
        if session.offer_state not in (OfferState.REMOTE_OFFER, OfferState.OFFER_IN_2XX) or tx is None:
            raise LocalProtocolError(f"call {call} has no offer to answer")
        if tx.terminated or tx.sent_final:
            raise LocalProtocolError(f"call {call}: the peer's request is already answered")
        extra: list[tuple[str, str]] = []
        if tx.request.method == "INVITE":
            extra += [("Contact", str(self._dialog_contact())), ("Allow", ", ".join(ALLOWED_METHODS))]
        extra += self._uas_timer_headers(session, tx.request)
        response = make_response(
            tx.request, 200, headers=[*extra, *headers], body=sdp.encode(), content_type=_SDP
        )
        session.local_sdp = sdp
        session.remote_offer_tx = None
        if session.offer_state is OfferState.REMOTE_OFFER:
            session.offer_state = OfferState.STABLE
        self._process(self._transactions.send_response(tx, response, now), now)
        if session.session_timer is not None:
            session.session_timer.restart(now)

    def reject_offer(self, call: str, now: float, *, status_code: int = 488) -> None:
        """Refuse the peer's offer (488 Not Acceptable Here by default); the session stays as it was."""
        session = self._session(call)
        tx = session.remote_offer_tx
        if tx is None or tx.terminated or tx.sent_final:
            raise LocalProtocolError(f"call {call} has no offer to reject")
        if not 300 <= status_code <= 699:
            raise LocalProtocolError("reject_offer() sends 300..699")
        session.remote_offer_tx = None
        session.offer_state = OfferState.STABLE
        session.remote_sdp = session.pending_previous_remote_sdp
        self._process(self._transactions.send_response(tx, make_response(tx.request, status_code), now), now)

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
        session = self._confirmed(call)
        request = self._in_dialog_request(session, "INFO", headers=list(headers))
        request.body = bytes(body)
        request.headers.set("Content-Type", content_type)
        self._send_request(request, now, _Pending("info", session))

    def send_dtmf_info(self, call: str, digit: str, now: float, *, duration_ms: int = 160) -> None:
        """Send one DTMF digit as SIP INFO (application/dtmf-relay, as JsSIP does)."""
        if len(digit) != 1 or digit.upper() not in DTMF_EVENTS:
            raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
        if not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS:
            raise LocalProtocolError(f"DTMF duration must be {MIN_DURATION_MS}..{MAX_DURATION_MS} ms")
        body = f"Signal={digit.upper()}\r\nDuration={duration_ms}\r\n".encode()
        self.send_info(call, "application/dtmf-relay", body, now)

    def call_info(self, call: str) -> CallInfo:
        """A snapshot of a live call."""
        session = self._session(call)
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
        return [h for h, s in self._sessions.items() if not s.ended]

    # ---------------------------------------------------------------- in-dialog requests from the peer

    def _on_in_dialog_request(
        self, session: InviteSession, tx: ServerTransaction, request: Request, now: float
    ) -> None:
        dialog = session.dialog
        assert dialog is not None
        try:
            dialog.receive_request(request)
        except RemoteProtocolError as exc:
            self._respond(tx, exc.status_hint, now, reason=_sanitize(exc.message) or None)
            return
        method = request.method
        if method == "BYE":
            self._respond(tx, 200, now)
            if session.remote_offer_tx is not None and not session.remote_offer_tx.sent_final:
                pending = session.remote_offer_tx
                session.remote_offer_tx = None
                self._process(
                    self._transactions.send_response(pending, make_response(pending.request, 487), now), now
                )
            if session.ended:
                self._forget(session)
                return
            session.move(CallStimulus.RECV_BYE)
            self._end(session, EndReason.REMOTE_BYE, None, "remote hung up")
        elif method in ("INVITE", "UPDATE"):
            self._on_remote_offer_request(session, tx, request, now)
        elif method == "INFO":
            self._respond(tx, 200, now)
            digit = _dtmf_from_info(request)
            if digit is not None:
                self._events.append(DtmfInfoReceived(session.handle, digit[0], digit[1]))
            else:
                self._events.append(InfoReceived(session.handle, request))
        elif method == "OPTIONS":
            self._respond_options(tx, now)
        elif method == "NOTIFY":
            self._respond(tx, 200, now)
            self._events.append(InfoReceived(session.handle, request))
        elif method == "PRACK":
            self._respond(tx, 481, now)  # we never send reliable provisional responses
        elif method in _KNOWN_UNSUPPORTED:
            self._respond(tx, 405, now, headers=[("Allow", ", ".join(ALLOWED_METHODS))])
        else:
            self._respond(tx, 501, now)

    def _on_remote_offer_request(
        self, session: InviteSession, tx: ServerTransaction, request: Request, now: float
    ) -> None:
        method = request.method
        if session.state not in (CallState.CONFIRMED, CallState.EARLY) or session.ended:
            self._respond(
                tx,
                500 if method == "INVITE" else 491,
                now,
                headers=[("Retry-After", str(self._rng.randint(1, 10)))],
            )
            return
        if session.offer_state is OfferState.LOCAL_OFFER and (method == "INVITE" or _is_sdp(request)):
            self._respond(tx, 491, now)  # glare (RFC 3261 §14.2)
            return
        if session.remote_offer_tx is not None or (
            method == "INVITE" and session.offer_state is OfferState.OFFER_IN_2XX
        ):
            self._respond(tx, 500, now, headers=[("Retry-After", str(self._rng.randint(1, 10)))])
            return
        if request.body and request.content_type != _SDP:
            self._respond(tx, 415, now, headers=[("Accept", _SDP)])
            return
        se_value = request.headers.get("Session-Expires")
        if se_value is not None:
            timer = parse_session_expires(se_value)
            if timer.interval < self.config.min_se:
                self._respond(tx, 422, now, headers=[("Min-SE", str(self.config.min_se))])
                return
            self._adopt_remote_timer(session, request, timer)
        if method == "INVITE" and "allow" in request.headers:
            session.peer_allows_update = "UPDATE" in (m.upper() for m in self._safe_tokens(request, "allow"))
        if not request.body:
            if method == "UPDATE":
                self._respond(tx, 200, now, headers=self._uas_timer_headers(session, request))
                self._refreshed(session, now)
                return
            session.remote_offer_tx = tx
            session.offer_state = OfferState.OFFER_IN_2XX
            self._events.append(OfferRequested(session.handle))
            return
        sdp = _text(request.body)
        if sdp == session.remote_sdp and session.local_sdp is not None:
            # An unchanged offer (typically a session refresh): answer with our unchanged SDP ourselves.
            extra: list[tuple[str, str]] = []
            if method == "INVITE":
                extra += [("Contact", str(self._dialog_contact())), ("Allow", ", ".join(ALLOWED_METHODS))]
            extra += self._uas_timer_headers(session, request)
            response = make_response(
                request, 200, headers=extra, body=session.local_sdp.encode(), content_type=_SDP
            )
            self._process(self._transactions.send_response(tx, response, now), now)
            self._refreshed(session, now)
            return
        session.pending_previous_remote_sdp = session.remote_sdp
        session.remote_sdp = sdp
        session.remote_offer_tx = tx
        session.offer_state = OfferState.REMOTE_OFFER
        self._events.append(RemoteOffer(session.handle, sdp, method))

    # ---------------------------------------------------------------- responses to our in-dialog requests

    def _on_in_dialog_response(
        self, pending: _Pending, tx: ClientTransaction, response: Response, now: float
    ) -> None:
        session = pending.session
        if session is None or response.status_code < 200:
            return
        code = response.status_code
        request = tx.request
        if session.dialog is not None and not session.ended:
            session.dialog.receive_response(request, response)
        if pending.purpose in ("bye", "fork-bye", "cancel"):
            return
        if request.method == "INVITE" and 200 <= code < 300 and session.dialog is not None:
            self._send_stateless(session.dialog.create_ack(request))
        if code in (408, 481):
            if pending.purpose == "reinvite":
                session.offer_tx = None
                session.offer_state = OfferState.STABLE
            if not session.ended:
                self._lose_dialog(session, code, response.reason, now)
            return
        if pending.purpose == "reinvite":
            session.offer_tx = None
            if 200 <= code < 300:
                session.offer_state = OfferState.STABLE
                session.local_sdp = _text(request.body)
                self._negotiate_timer_from_response(session, response, now)
                if _is_sdp(response):
                    session.remote_sdp = _text(response.body)
                    self._events.append(RemoteAnswer(session.handle, session.remote_sdp))
                else:
                    self._events.append(OfferRejected(session.handle, code, will_retry=False))
            elif code == 491:
                session.offer_state = OfferState.STABLE
                session.glare_retry_at = now + self._glare_backoff(session)
                self._events.append(OfferRejected(session.handle, code, will_retry=True))
            else:
                session.offer_state = OfferState.STABLE
                self._events.append(OfferRejected(session.handle, code, will_retry=False))
        elif pending.purpose == "refresh":
            if 200 <= code < 300:
                self._negotiate_timer_from_response(session, response, now)
                self._refreshed(session, now)
            elif code == 422:
                minimum = _leading_int(response.headers.get("Min-SE") or "")
                if minimum is not None and session.session_timer is not None:
                    session.session_timer.interval = max(minimum, session.session_timer.interval)
                    self._send_refresh(session, now)
            elif session.session_timer is not None:
                session.session_timer.refresh_at = now + 2.0  # try again shortly (e.g. 491, 500 Retry-After)

    def _on_in_dialog_failure(self, pending: _Pending, reason: str, now: float) -> None:
        session = pending.session
        if session is None or session.ended:
            return
        if pending.purpose == "reinvite":
            session.offer_tx = None
            session.offer_state = OfferState.STABLE
            if reason == "transport":
                self._events.append(OfferRejected(session.handle, 503, will_retry=False))
                return
            self._lose_dialog(session, 408, "re-INVITE timed out", now)
        elif pending.purpose in ("refresh", "info") and reason == "timeout":
            self._lose_dialog(session, 408, f"{pending.purpose} timed out", now)

    def _lose_dialog(self, session: InviteSession, code: int, text: str, now: float) -> None:
        if session.state is CallState.CONFIRMED:
            session.move(CallStimulus.DIALOG_LOST)
            if code == 408:
                self._send_bye(session, now)
        elif session.state is CallState.ANSWERED:
            session.move(CallStimulus.DIALOG_LOST)
        else:
            return
        self._end(session, EndReason.DIALOG_LOST, code, text)

    # ---------------------------------------------------------------- session timers (RFC 4028)

    def _uas_timer_headers(self, session: InviteSession, request: Request) -> list[tuple[str, str]]:
        """Session-Expires/Require for a 2xx to an INVITE or UPDATE; arms the session's timer."""
        se_value = request.headers.get("Session-Expires")
        supports_timer = "timer" in (t.lower() for t in self._safe_tokens(request, "supported"))
        if se_value is None:
            if (
                session.session_timer is None
                and request.method == "INVITE"
                and self.config.session_expires
                and supports_timer
            ):
                session.session_timer = SessionTimer(self.config.session_expires, local_refresher=False)
                return [
                    ("Session-Expires", f"{self.config.session_expires};refresher=uac"),
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

    def _adopt_remote_timer(
        self, session: InviteSession, request: Request, requested: SessionExpires
    ) -> None:
        supports_timer = "timer" in (t.lower() for t in self._safe_tokens(request, "supported"))
        refresher = requested.refresher or ("uac" if supports_timer else "uas")
        session.session_timer = SessionTimer(requested.interval, local_refresher=refresher == "uas")

    def _negotiate_timer_from_response(self, session: InviteSession, response: Response, now: float) -> None:
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

    def _refresh_headers(self, session: InviteSession) -> list[tuple[str, str]]:
        timer = session.session_timer
        headers = [
            ("Contact", str(self._dialog_contact())),
            ("Allow", ", ".join(ALLOWED_METHODS)),
            ("Supported", "timer, outbound, gruu"),
        ]
        if timer is not None:
            refresher = "uac" if timer.local_refresher else "uas"
            headers.append(("Session-Expires", f"{timer.interval};refresher={refresher}"))
            headers.append(("Min-SE", str(self.config.min_se)))
        return headers

    def _refreshed(self, session: InviteSession, now: float) -> None:
        timer = session.session_timer
        if timer is None:
            return
        timer.restart(now)
        self._events.append(SessionRefreshed(session.handle, timer.interval, timer.local_refresher))

    def _send_refresh(self, session: InviteSession, now: float) -> None:
        timer = session.session_timer
        assert timer is not None
        busy = (
            session.offer_state is not OfferState.STABLE
            or session.offer_tx is not None
            or session.remote_offer_tx is not None
        )
        if session.peer_allows_update:
            request = self._in_dialog_request(session, "UPDATE", headers=self._refresh_headers(session))
        elif busy or session.local_sdp is None:
            timer.refresh_at = now + 2.0
            return
        else:
            request = self._in_dialog_request(
                session, "INVITE", headers=self._refresh_headers(session), sdp=session.local_sdp
            )
        timer.refresh_at = None
        self._send_request(request, now, _Pending("refresh", session))

    def _session_timers(self, session: InviteSession, now: float) -> None:
        if session.cancel_deadline is not None and now >= session.cancel_deadline:
            session.cancel_deadline = None
            if session.move(CallStimulus.CANCEL_TIMEOUT) is not None:
                self._end(session, EndReason.LOCAL_CANCEL, None, "no response to CANCEL")
                return
        if session.ack_deadline is not None and now >= session.ack_deadline:
            session.ack_deadline = None
            previous = session.move(CallStimulus.ACK_TIMEOUT)
            if previous is not None:
                self._send_bye(session, now)
                if previous is CallState.BYE_AFTER_ACK:
                    self._forget(session)
                else:
                    self._end(session, EndReason.TIMEOUT, None, "no ACK for our 200 OK")
                return
        if session.glare_retry_at is not None and now >= session.glare_retry_at:
            session.glare_retry_at = None
            if session.state is CallState.CONFIRMED:
                self._events.append(OfferRetryDue(session.handle))
        timer = session.session_timer
        if timer is not None and session.state is CallState.CONFIRMED:
            if timer.local_refresher and timer.refresh_at is not None and now >= timer.refresh_at:
                self._send_refresh(session, now)
            elif not timer.local_refresher and timer.expires_at is not None and now >= timer.expires_at:
                session.move(CallStimulus.SESSION_EXPIRED)
                self._send_bye(session, now)
                self._end(session, EndReason.SESSION_EXPIRED, None, "session timer expired")

    def _glare_backoff(self, session: InviteSession) -> float:
        """RFC 3261 §14.1 back-off: 2.1-4 s if we own the Call-ID (dialog UAC), else 0-2 s, 10 ms steps."""
        if session.dialog is not None and session.dialog.is_uac:
            return self._rng.randint(210, 400) / 100
        return self._rng.randint(0, 200) / 100

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
        target = parse_uri(uri) if isinstance(uri, str) else uri
        extra = Headers(headers)
        out = Headers()
        for route in self._initial_routes():
            out.add("Route", route)
        out.add("Max-Forwards", "70")
        out.add("To", str(to or NameAddr(target)))
        out.add(
            "From",
            str(NameAddr(self.config.aor, self.config.display_name).with_param("tag", self._token(10))),
        )
        out.add("Call-ID", self._token(22))
        out.add("CSeq", f"1 {method}")
        if self.config.user_agent:
            out.add("User-Agent", self.config.user_agent)
        for name, value in extra:
            out.add(name, value)
        if content_type is not None and body:
            out.set("Content-Type", content_type)
        request = Request(method, target, out, bytes(body))
        self._request_counter += 1
        handle = f"req-{self._request_counter}"
        self._preemptive_auth(request)
        self._send_request(request, now, _Pending("app", handle=handle))
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
        self._process(self._transactions.send_response(tx, response, now), now)
        if status_code >= 200:
            self._app_server_tx.pop(handle, None)
            self._app_tags.pop(handle, None)

    # ================================================================ internals: dispatch

    def _process(self, outputs: list[TransactionOutput], now: float) -> None:
        for output in outputs:
            if isinstance(output, SendMessage):
                self._outbox.append(output.message.to_bytes())
            elif isinstance(output, DeliverResponse):
                self._on_response(output.transaction, output.response, now)
            elif isinstance(output, NewRequest):
                self._on_new_request(output.transaction, output.request, now)
            elif isinstance(output, StrayAck):
                self._on_ack(output.request, now)
            elif isinstance(output, StrayResponse):
                self._on_stray_response(output.response, now)
            elif isinstance(output, TransactionTimedOut | TransportFailed):
                reason = "timeout" if isinstance(output, TransactionTimedOut) else "transport"
                tx = output.transaction
                if isinstance(tx, ClientTransaction):
                    self._on_client_failure(tx, reason, now)
                elif isinstance(tx, ServerTransaction):
                    session = self._by_server_tx.get(tx)
                    if session is not None and session.invite_server_tx is tx and not session.ended:
                        if session.state is CallState.ANSWERED:
                            continue  # the ACK deadline of the session decides
                        session.move(CallStimulus.TRANSPORT_FAILED)

    def _on_response(self, tx: ClientTransaction, response: Response, now: float) -> None:
        pending = self._pending.get(tx)
        if pending is None:
            return
        if response.status_code >= 200:
            self._pending.pop(tx, None)
        if response.status_code in (401, 407) and self._retry_with_auth(tx, pending, response, now):
            return
        purpose = pending.purpose
        if purpose == "register":
            if response.status_code >= 200:
                self._on_register_final(tx.request, response, now)
        elif purpose == "invite":
            assert pending.session is not None
            self._on_invite_response(pending.session, tx, response, now)
            if 200 <= response.status_code < 300:
                self._pending[tx] = pending  # keep catching forked/retransmitted 2xx while Accepted
        elif purpose == "app":
            assert pending.handle is not None
            self._events.append(ResponseReceived(pending.handle, tx.request, response))
        else:
            self._on_in_dialog_response(pending, tx, response, now)

    def _on_client_failure(self, tx: ClientTransaction, reason: str, now: float) -> None:
        pending = self._pending.pop(tx, None)
        if pending is None:
            return
        purpose = pending.purpose
        if purpose == "register":
            event, again = self._registration.on_timeout(tx.request, now, reason)
            self._after_registration(event, again, now)
        elif purpose == "invite":
            session = pending.session
            assert session is not None
            if tx is not session.invite_tx or session.ended:
                return
            stimulus = CallStimulus.TIMEOUT if reason == "timeout" else CallStimulus.TRANSPORT_FAILED
            previous = session.move(stimulus)
            if previous is None:
                return
            if previous is CallState.CANCELLING:
                self._end(session, EndReason.LOCAL_CANCEL, None, "cancelled")
            elif reason == "timeout":
                self._end(session, EndReason.TIMEOUT, 408, "no answer from the network")
            else:
                self._end(session, EndReason.TRANSPORT_ERROR, None, "transport lost during call setup")
        elif purpose == "app":
            assert pending.handle is not None
            self._events.append(RequestFailed(pending.handle, tx.request, reason))
        else:
            self._on_in_dialog_failure(pending, reason, now)

    def _on_stray_response(self, response: Response, now: float) -> None:
        if not 200 <= response.status_code < 300 or response.cseq.method != "INVITE":
            return
        for session in self._sessions.values():
            if session.is_uac and session.invite.call_id == response.call_id:
                self._ack_and_bye_fork(session, session.invite, response, now)
                return

    def _on_new_request(self, tx: ServerTransaction, request: Request, now: float) -> None:
        method = request.method
        if method != "CANCEL":
            max_forwards = request.max_forwards
            if max_forwards is not None and max_forwards == 0 and method != "OPTIONS":
                self._respond(tx, 483, now)
                return
            unsupported = [
                ext
                for ext in self._safe_tokens(request, "require")
                if ext.lower() not in _SUPPORTED_EXTENSIONS
            ]
            if unsupported:
                self._respond(tx, 420, now, headers=[("Unsupported", ", ".join(unsupported))])
                return
        to_tag = request.to.tag
        if to_tag:
            key = (request.call_id, to_tag, request.from_.tag or "")
            session = self._by_dialog.get(key)
            if method == "CANCEL":
                self._on_cancel(tx, request, now)
            elif session is None or session.dialog is None:
                self._respond(tx, 481, now)
            else:
                self._on_in_dialog_request(session, tx, request, now)
            return
        if method == "INVITE":
            self._on_new_invite(tx, request, now)
        elif method == "CANCEL":
            self._on_cancel(tx, request, now)
        elif method in self.config.passthrough_methods:
            self._request_counter += 1
            handle = f"srv-{self._request_counter}"
            self._app_server_tx[handle] = tx
            self._app_tags[handle] = self._token(10)
            self._events.append(RequestReceived(handle, request))
        elif method == "OPTIONS":
            self._respond_options(tx, now)
        elif method in ("BYE", "INFO", "UPDATE", "PRACK", "NOTIFY"):
            self._respond(tx, 481, now)
        elif method in _KNOWN_UNSUPPORTED:
            self._respond(tx, 405, now, headers=[("Allow", ", ".join(ALLOWED_METHODS))])
        else:
            self._respond(tx, 501, now)

    def _respond_options(self, tx: ServerTransaction, now: float) -> None:
        self._respond(
            tx,
            200,
            now,
            headers=[
                ("Allow", ", ".join(ALLOWED_METHODS)),
                ("Accept", f"{_SDP}, application/dtmf-relay, application/dtmf"),
                ("Supported", "timer, outbound, gruu"),
            ],
        )

    def _respond(
        self,
        tx: ServerTransaction,
        status_code: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        tag = None if tx.request.to.tag or status_code == 100 else self._token(10)
        response = make_response(tx.request, status_code, reason, to_tag=tag, headers=headers)
        self._process(self._transactions.send_response(tx, response, now), now)

    # ---------------------------------------------------------------- bad input

    def _reject_unparseable(self, raw: bytes, exc: ParseError, now: float) -> None:
        status: int | None = None
        if not raw.lstrip().upper().startswith(b"SIP/"):
            status = exc.status_hint if isinstance(exc, MessageTooLargeError) else 400
            response = _salvage_error_response(raw, status, exc.message, self.config.parser_limits)
            if response is None:
                status = None
            else:
                self._outbox.append(response.to_bytes())
        self._events.append(MessageRejected(exc.message, status))

    def _reject_parsed(self, message: Request | Response, exc: ProtocolError, now: float) -> None:
        status: int | None = None
        if isinstance(message, Request) and message.method != "ACK":
            status = exc.status_hint if 300 <= exc.status_hint <= 699 else 400
            try:
                response = make_response(
                    message,
                    status,
                    _sanitize(exc.message) or None,
                    to_tag=None if message.to.tag else self._token(10),
                )
            except ProtocolError:
                status = None
            else:
                tx = next((t for t in self._transactions.server_transactions() if t.request is message), None)
                if tx is not None and not tx.sent_final:
                    self._process(self._transactions.send_response(tx, response, now), now)
                else:
                    self._outbox.append(response.to_bytes())
        self._events.append(MessageRejected(exc.message, status))

    # ================================================================ internals: helpers

    def _send_request(
        self, request: Request, now: float, pending: _Pending, *, front: bool = False
    ) -> ClientTransaction:
        """Add our Via (fresh branch) and start a client transaction."""
        via = Via(
            self._transport, self.via_host, self.via_port, (("branch", f"{MAGIC_COOKIE}{self._token(16)}"),)
        )
        request.headers.prepend("Via", str(via))
        tx, outputs = self._transactions.send_request(request, now)
        self._pending[tx] = pending
        if front and outputs:
            first = outputs[0]
            if isinstance(first, SendMessage):
                self._outbox.insert(0, first.message.to_bytes())
                outputs = outputs[1:]
        self._process(outputs, now)
        return tx

    def _send_stateless(self, request: Request) -> None:
        """Send a request outside any transaction (the ACK of a 2xx)."""
        via = Via(
            self._transport, self.via_host, self.via_port, (("branch", f"{MAGIC_COOKIE}{self._token(16)}"),)
        )
        request.headers.prepend("Via", str(via))
        self._outbox.append(request.to_bytes())

    def _send_bye(
        self, session: InviteSession, now: float, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        dialog = session.dialog
        if dialog is None:
            return
        extra = list(headers)
        if self.config.user_agent:
            extra.append(("User-Agent", self.config.user_agent))
        bye = dialog.create_request("BYE", headers=extra)
        self._send_request(bye, now, _Pending("bye", session))

    def _in_dialog_request(
        self,
        session: InviteSession,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        sdp: str | None = None,
    ) -> Request:
        dialog = session.dialog
        if dialog is None:
            raise LocalProtocolError(f"call {session.handle} has no dialog yet")
        body = sdp.encode() if sdp is not None else b""
        return dialog.create_request(
            method, headers=headers, body=body, content_type=_SDP if sdp is not None else None
        )

    def _retry_with_auth(
        self, tx: ClientTransaction, pending: _Pending, response: Response, now: float
    ) -> bool:
        if self._digest is None or pending.purpose in ("cancel",):
            return False
        proxy = response.status_code == 407
        challenge_header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        credentials_header = "Proxy-Authorization" if proxy else "Authorization"
        try:
            challenge = self._digest.select_challenge(response.headers.get_all(challenge_header))
        except ParseError:
            challenge = None
        if challenge is None:
            return False
        if not self._digest.should_retry(
            challenge, pending.credentials_answered, attempts=pending.auth_attempts
        ):
            return False
        old = tx.request
        headers = old.headers.copy()
        headers.remove("Via")
        headers.remove(credentials_header)
        if pending.purpose == "register":
            seq = self._registration.retry_cseq()
        elif (
            pending.session is not None and pending.session.dialog is not None and pending.purpose != "invite"
        ):
            seq = pending.session.dialog.next_cseq()
        else:
            seq = old.cseq.seq + 1
        headers.set("CSeq", f"{seq} {old.method}")
        credentials = self._digest.authorize(old.method, str(old.uri), challenge, old.body)
        headers.add(credentials_header, str(credentials))
        self._auth_cache[credentials_header] = challenge
        request = Request(old.method, old.uri, headers, old.body)
        pending.auth_attempts += 1
        pending.credentials_answered = True
        new_tx = self._send_request(request, now, pending)
        session = pending.session
        if pending.purpose == "register":
            self._registration.replace_in_flight(old, request)
        elif pending.purpose == "invite" and session is not None:
            session.invite = request
            session.invite_tx = new_tx
            if session.state is CallState.CANCELLING and not session.cancel_deferred:
                session.cancel_deferred = True  # the new INVITE needs its own CANCEL after its first 1xx
        elif pending.purpose == "reinvite" and session is not None:
            session.offer_tx = new_tx
        return True

    def _preemptive_auth(self, request: Request) -> None:
        """Answer the last challenge of the same kind ahead of time (saves a round trip)."""
        if self._digest is None:
            return
        header = "Authorization" if request.method == "REGISTER" else "Proxy-Authorization"
        challenge = self._auth_cache.get(header)
        if challenge is None or header in request.headers:
            return
        credentials = self._digest.authorize(request.method, str(request.uri), challenge, request.body)
        request.headers.add(header, str(credentials))

    def _initial_routes(self) -> list[str]:
        return list(self.config.preloaded_routes) or list(self._registration.service_route)

    def _dialog_contact(self) -> NameAddr:
        if self.gruu is not None and self.config.use_gruu:
            return NameAddr(self.gruu)
        return NameAddr(self.contact_uri)

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

    def _session(self, call: str) -> InviteSession:
        session = self._sessions.get(call)
        if session is None or session.ended:
            raise LocalProtocolError(f"no live call {call!r}")
        return session

    def _confirmed(self, call: str) -> InviteSession:
        session = self._session(call)
        if session.state is not CallState.CONFIRMED:
            raise LocalProtocolError(f"call {call} is {session.state.value}, not confirmed")
        return session

    def _invite_server_tx(self, session: InviteSession) -> ServerTransaction:
        tx = session.invite_server_tx
        if tx is None or tx.terminated:
            raise LocalProtocolError(f"call {session.handle}: the INVITE transaction is over")
        return tx

    def _index_dialog(self, session: InviteSession) -> None:
        dialog = session.dialog
        if dialog is not None:
            self._by_dialog[(dialog.id.call_id, dialog.id.local_tag, dialog.id.remote_tag)] = session

    def _end(
        self,
        session: InviteSession,
        reason: EndReason,
        status: int | None,
        text: str | None,
        *,
        forget: bool = True,
    ) -> None:
        session.end_status = status
        session.cancel_deadline = None
        session.glare_retry_at = None
        session.session_timer = None
        if session.dialog is not None and not session.dialog.terminated:
            session.dialog.apply(DialogEvent.BYE)
        self._events.append(CallEnded(session.handle, reason, status, text))
        if forget:
            self._forget(session)

    def _forget(self, session: InviteSession) -> None:
        session.state = CallState.TERMINATED
        session.ack_deadline = None
        self._sessions.pop(session.handle, None)
        for key in [k for k, s in self._by_dialog.items() if s is session]:
            del self._by_dialog[key]
        for tx in [t for t, s in self._by_server_tx.items() if s is session]:
            del self._by_server_tx[tx]

    def _new_handle(self, call_id: str) -> str:
        handle = call_id
        n = 1
        while handle in self._sessions:
            n += 1
            handle = f"{call_id}#{n}"
        return handle

    @staticmethod
    def _safe_tokens(message: Request | Response, attribute: str) -> list[str]:
        try:
            values: list[str] = getattr(message, attribute)
        except ParseError:
            return []
        return values

    def _token(self, length: int) -> str:
        return "".join(self._rng.choice(_TOKEN_ALPHABET) for _ in range(length))

    def _random_bytes(self, n: int) -> bytes:
        return bytes(self._rng.getrandbits(8) for _ in range(n))

    def _uuid4(self) -> str:
        raw = bytearray(self._random_bytes(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _split_host_port(value: str) -> tuple[str, int | None]:
    """``"host"``, ``"host:port"``, ``"[v6]:port"`` -> (host, port)."""
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", value)
    if match is None:
        raise LocalProtocolError(f"via_host must be host or host:port, got {value!r}")
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise LocalProtocolError(f"via_host port out of range: {value!r}")
    return match.group(1), port


def _leading_int(value: str) -> int | None:
    match = re.match(r"\s*(\d{1,10})", value)
    return int(match.group(1)) if match else None


def _dtmf_from_info(request: Request) -> tuple[str, int | None] | None:
    content_type = request.content_type
    text = _text(request.body)
    if content_type == "application/dtmf-relay":
        match = _DTMF_RELAY_RE.search(text)
        if match is None:
            return None
        signal = match.group(1).upper()
        if signal.isdigit() and int(signal) >= 10:
            signal = DTMF_EVENTS[int(signal)]
        duration = _DTMF_DURATION_RE.search(text)
        return signal, int(duration.group(1)) if duration else None
    if content_type == "application/dtmf":
        digit = text.strip().upper()
        if len(digit) == 1 and digit in DTMF_EVENTS:
            return digit, None
    return None


def _salvage_error_response(raw: bytes, status: int, error: str, limits: ParserLimits) -> Response | None:
    """Build a 400/513 for a request that failed to parse, when its routing headers can still be read."""
    head = raw[: limits.max_message_bytes].split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    try:
        lines = head.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    wanted = ("Via", "From", "To", "Call-ID", "CSeq")
    found: list[tuple[str, str]] = []
    for line in lines[1 : limits.max_headers + 1]:
        name, sep, value = line.partition(":")
        canonical = canonical_name(name.strip())
        if sep and canonical in wanted:
            found.append((canonical, value.strip()))
    try:
        vias = [v for n, v in found if n == "Via"]
        singles = {n: [v for m, v in found if m == n] for n in ("From", "To", "Call-ID", "CSeq")}
        if not vias or any(len(v) != 1 for v in singles.values()):
            return None
        for via in vias:
            parse_via_list(via)
        parse_name_addr(singles["From"][0])
        to = parse_name_addr(singles["To"][0])
        cseq = parse_cseq(singles["CSeq"][0])
        if cseq.method == "ACK" or not CALLID_RE.fullmatch(singles["Call-ID"][0]):
            return None  # an ACK is never answered; a malformed Call-ID cannot go back on the wire
        headers = Headers([("Via", v) for v in vias])
        headers.add("From", singles["From"][0])
        headers.add(
            "To", singles["To"][0] if to.tag else f"{singles['To'][0]};tag=err{abs(hash(raw)) % 10**8}"
        )
        headers.add("Call-ID", singles["Call-ID"][0])
        headers.add("CSeq", singles["CSeq"][0])
        headers.add("Warning", f'399 - "{_sanitize(error)}"')
        reason = "Message Too Large" if status == 513 else "Bad Request"
        return Response(status, reason, headers)
    except ProtocolError:
        return None
