"""What every part of the user agent shares: state, the purpose of each client transaction, and primitives.

Design
======
The user agent is one transaction user (RFC 3261 §8) split by concept (see :mod:`twochat_voice_web.sip.ua`).
Its parts share one :class:`UaContext`: the transaction table, the outbox (bytes for the transport), the
event queue, the registration machine and the call table (each
:class:`~twochat_voice_web.sip.session.InviteSession` by handle, by dialog id and by INVITE server
transaction). The context also owns the primitives all parts
use — send a request in a fresh client transaction, answer a server transaction, end a call — so each rule
is written once.

Every client transaction we start is tagged with a :class:`PendingRequest` whose :class:`Purpose` says what it
is for. The facade routes its responses and failures through handler tables keyed by that purpose (no
string comparison anywhere). Transaction outputs other than bytes to send go to the facade's
:class:`OutputRouter`, so :meth:`UaContext.process` can run from any part without knowing the others.
"""

from __future__ import annotations

import enum
import random
import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from twochat_voice_web.sip.auth import DigestChallenge
from twochat_voice_web.sip.dialog import DialogEvent
from twochat_voice_web.sip.errors import LocalProtocolError, ParseError
from twochat_voice_web.sip.events import CallEnded, EndReason, Event
from twochat_voice_web.sip.headers import NameAddr, Via
from twochat_voice_web.sip.message import Request, Response, make_response
from twochat_voice_web.sip.registration import Registration
from twochat_voice_web.sip.session import CallState, CallStimulus, InviteSession
from twochat_voice_web.sip.transaction import (
    MAGIC_COOKIE,
    ClientTransaction,
    SendMessage,
    ServerTransaction,
    TransactionOutput,
    TransactionTable,
)
from twochat_voice_web.sip.uri import SipUri

from .config import UserAgentConfig

__all__ = [
    "ALLOWED_METHODS",
    "SDP_CONTENT_TYPE",
    "SUPPORTED_OPTIONS",
    "DialogKey",
    "FailureCause",
    "OutputRouter",
    "PendingRequest",
    "Purpose",
    "UaContext",
    "body_text",
    "is_sdp",
    "leading_int",
    "safe_tokens",
    "sanitize",
    "split_host_port",
]

ALLOWED_METHODS = ("INVITE", "ACK", "CANCEL", "BYE", "UPDATE", "INFO", "OPTIONS", "NOTIFY")
"""Methods this user agent implements (the Allow header)."""
SUPPORTED_OPTIONS = "timer, outbound, gruu"
"""The Supported header of our INVITEs, refreshes and OPTIONS answers (RFC 4028, RFC 5626, RFC 5627)."""
SDP_CONTENT_TYPE = "application/sdp"
_TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"

DialogKey = tuple[str, str, str]
"""(Call-ID, local tag, remote tag): how the call table finds the call of an in-dialog request."""


class Purpose(enum.Enum):
    """What one of our client transactions is for: the key of the facade's response and failure tables."""

    REGISTER = "register"
    INVITE = "invite"
    CANCEL = "cancel"
    BYE = "bye"
    FORK_BYE = "fork-bye"
    """The BYE of a 2xx from a fork we did not take (RFC 3261 §13.2.2.4)."""
    REINVITE = "reinvite"
    REFRESH = "refresh"
    """A session refresh (RFC 4028): UPDATE, or a re-INVITE with our unchanged SDP."""
    INFO = "info"
    APP = "app"
    """An out-of-dialog request of the application (``UserAgent.send_request``)."""


class FailureCause(enum.StrEnum):
    """Why a client transaction ended without a final response."""

    TIMEOUT = "timeout"
    TRANSPORT = "transport"


@dataclass(eq=False)
class PendingRequest:
    """The transaction user's bookkeeping of one client transaction (kept across digest retries)."""

    purpose: Purpose
    session: InviteSession | None = None
    handle: str | None = None
    auth_attempts: int = 0
    credentials_answered: bool = False


class OutputRouter(Protocol):
    """Where :meth:`UaContext.process` sends the transaction outputs that are not bytes to write."""

    def route(self, output: TransactionOutput, now: float) -> None:
        """Handle one transaction output (a response, a new request, a stray message, a failure)."""


def is_sdp(message: Request | Response) -> bool:
    """Whether ``message`` carries an SDP body."""
    return bool(message.body) and message.content_type == SDP_CONTENT_TYPE


def body_text(body: bytes) -> str:
    """A message body as text (undecodable bytes replaced)."""
    return body.decode("utf-8", errors="replace")


def sanitize(text: str, limit: int = 120) -> str:
    """``text`` made safe for a reason phrase or a Warning header: printable ASCII, no quote or backslash."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 and ch not in '"\\' else " " for ch in text)
    return cleaned[:limit].strip()


def leading_int(value: str) -> int | None:
    """The number a header value starts with (``"90;x=y"`` -> 90), or None."""
    match = re.match(r"\s*(\d{1,10})", value)
    return int(match.group(1)) if match else None


def split_host_port(value: str) -> tuple[str, int | None]:
    """``"host"``, ``"host:port"``, ``"[v6]:port"`` -> (host, port)."""
    match = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(\d{1,5}))?", value)
    if match is None:
        raise LocalProtocolError(f"via_host must be host or host:port, got {value!r}")
    port = int(match.group(2)) if match.group(2) else None
    if port is not None and not 0 < port < 65536:
        raise LocalProtocolError(f"via_host port out of range: {value!r}")
    return match.group(1), port


def safe_tokens(message: Request | Response, attribute: str) -> list[str]:
    """A token-list header of ``message`` (``allow``, ``supported``, ``require``); empty when malformed."""
    try:
        values: list[str] = getattr(message, attribute)
    except ParseError:
        return []
    return values


class UaContext:
    """The state the parts of one user agent share, and the primitives they build on.

    Args:
        config: how the user agent presents itself.
        rng: randomness for tags, branches, Call-IDs and cnonces.
    """

    def __init__(self, config: UserAgentConfig, rng: random.Random) -> None:
        self.config = config
        self.rng = rng
        self.transport = config.transport.upper()
        self.via_host, self.via_port = split_host_port(config.via_host or f"{self.token(12)}.invalid")
        self.instance_id = config.instance_id or f"urn:uuid:{self.uuid4()}"
        if config.contact_uri is not None:
            self.contact_uri = config.contact_uri
        else:
            params: tuple[tuple[str, str | None], ...] = (("transport", self.transport.lower()), ("ob", None))
            self.contact_uri = SipUri("sip", self.token(8), None, self.via_host, self.via_port, params)
        #: The public GRUU the registrar gave us (RFC 5627), used as dialog Contact when set.
        self.gruu: SipUri | None = None
        self.transactions = TransactionTable(config.timers)
        self.pending: dict[ClientTransaction, PendingRequest] = {}
        self.events: deque[Event] = deque()
        self.outbox: list[bytes] = []
        self.connected = True
        self.sessions: dict[str, InviteSession] = {}
        self.by_dialog: dict[DialogKey, InviteSession] = {}
        self.by_server_tx: dict[ServerTransaction, InviteSession] = {}
        self.request_counter = 0
        #: The last challenge answered, by credentials header (preemptive authentication).
        self.auth_cache: dict[str, DigestChallenge] = {}
        self.router: OutputRouter | None = None
        aor = NameAddr(config.aor, config.display_name)
        registrar = config.registrar or SipUri(
            "sips" if config.aor.scheme == "sips" else "sip", host=config.aor.host
        )
        contact = NameAddr(self.contact_uri).with_param("+sip.instance", f'"<{self.instance_id}>"')
        contact = contact.with_param("reg-id", str(config.reg_id))
        self.registration = Registration(
            aor=aor,
            registrar=registrar,
            contact=contact,
            call_id=self.token(22),
            from_tag=self.token(10),
            expires=config.register_expires,
        )
        extra = [("Allow", ", ".join(ALLOWED_METHODS)), ("Supported", "path, outbound, gruu")]
        if config.user_agent:
            extra.append(("User-Agent", config.user_agent))
        self.registration.extra_headers = extra

    # ---------------------------------------------------------------- randomness

    def token(self, length: int) -> str:
        """A random lower-case alphanumeric token (tags, Call-IDs, branches)."""
        return "".join(self.rng.choice(_TOKEN_ALPHABET) for _ in range(length))

    def random_bytes(self, n: int) -> bytes:
        """``n`` random bytes (digest cnonces)."""
        return bytes(self.rng.getrandbits(8) for _ in range(n))

    def uuid4(self) -> str:
        """A random RFC 4122 version-4 UUID."""
        raw = bytearray(self.random_bytes(16))
        raw[6] = (raw[6] & 0x0F) | 0x40
        raw[8] = (raw[8] & 0x3F) | 0x80
        h = raw.hex()
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    # ---------------------------------------------------------------- sending

    def process(self, outputs: list[TransactionOutput], now: float) -> None:
        """Queue the bytes among ``outputs`` and route the rest (in order) to the facade."""
        for output in outputs:
            if isinstance(output, SendMessage):
                self.outbox.append(output.message.to_bytes())
            elif self.router is not None:
                self.router.route(output, now)

    def new_via(self) -> str:
        """Our Via header value, with a fresh branch."""
        branch = f"{MAGIC_COOKIE}{self.token(16)}"
        return str(Via(self.transport, self.via_host, self.via_port, (("branch", branch),)))

    def send_request(
        self, request: Request, now: float, pending: PendingRequest, *, front: bool = False
    ) -> ClientTransaction:
        """Add our Via (fresh branch) and start a client transaction tagged with ``pending``.

        ``front`` puts the request ahead of what is queued (the REGISTER that restores a flow).
        """
        request.headers.prepend("Via", self.new_via())
        tx, outputs = self.transactions.send_request(request, now)
        self.pending[tx] = pending
        if front and outputs:
            first = outputs[0]
            if isinstance(first, SendMessage):
                self.outbox.insert(0, first.message.to_bytes())
                outputs = outputs[1:]
        self.process(outputs, now)
        return tx

    def send_stateless(self, request: Request) -> None:
        """Send a request outside any transaction (the ACK of a 2xx)."""
        request.headers.prepend("Via", self.new_via())
        self.outbox.append(request.to_bytes())

    def send_response(self, tx: ServerTransaction, response: Response, now: float) -> None:
        """Send ``response`` in the server transaction ``tx``."""
        self.process(self.transactions.send_response(tx, response, now), now)

    def respond(
        self,
        tx: ServerTransaction,
        status_code: int,
        now: float,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        """Answer the request of ``tx`` with a bodiless response (a fresh To tag when it has none)."""
        tag = None if tx.request.to.tag or status_code == 100 else self.token(10)
        self.send_response(
            tx, make_response(tx.request, status_code, reason, to_tag=tag, headers=headers), now
        )

    def initial_routes(self) -> list[str]:
        """The Route set of an initial request: the preloaded routes, else the registrar's Service-Route."""
        return list(self.config.preloaded_routes) or list(self.registration.service_route)

    def dialog_contact(self) -> NameAddr:
        """The Contact of our dialogs: the public GRUU when we have one, else our Contact URI."""
        if self.gruu is not None and self.config.use_gruu:
            return NameAddr(self.gruu)
        return NameAddr(self.contact_uri)

    def contact_and_allow(self) -> list[tuple[str, str]]:
        """Contact and Allow, the headers of every dialog-creating or target-refreshing message we send."""
        return [("Contact", str(self.dialog_contact())), ("Allow", ", ".join(ALLOWED_METHODS))]

    def in_dialog_request(
        self,
        session: InviteSession,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        sdp: str | None = None,
    ) -> Request:
        """A request in the call's dialog (not sent yet), with ``sdp`` as its body when given."""
        dialog = session.dialog
        if dialog is None:
            raise LocalProtocolError(f"call {session.handle} has no dialog yet")
        body = sdp.encode() if sdp is not None else b""
        return dialog.create_request(
            method, headers=headers, body=body, content_type=SDP_CONTENT_TYPE if sdp is not None else None
        )

    def send_bye(
        self, session: InviteSession, now: float, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        """Send BYE in the call's dialog (nothing when it has none)."""
        dialog = session.dialog
        if dialog is None:
            return
        extra = list(headers)
        if self.config.user_agent:
            extra.append(("User-Agent", self.config.user_agent))
        bye = dialog.create_request("BYE", headers=extra)
        self.send_request(bye, now, PendingRequest(Purpose.BYE, session))

    # ---------------------------------------------------------------- the call table

    def new_handle(self, call_id: str) -> str:
        """A call handle: the Call-ID, made unique with ``#n`` when it is already in use."""
        handle = call_id
        n = 1
        while handle in self.sessions:
            n += 1
            handle = f"{call_id}#{n}"
        return handle

    def session(self, call: str) -> InviteSession:
        """The live call ``call``, or :class:`LocalProtocolError`."""
        session = self.sessions.get(call)
        if session is None or session.ended:
            raise LocalProtocolError(f"no live call {call!r}")
        return session

    def confirmed(self, call: str) -> InviteSession:
        """The confirmed call ``call``, or :class:`LocalProtocolError`."""
        session = self.session(call)
        if session.state is not CallState.CONFIRMED:
            raise LocalProtocolError(f"call {call} is {session.state.value}, not confirmed")
        return session

    def index_dialog(self, session: InviteSession) -> None:
        """Make the call's dialog findable by in-dialog requests."""
        dialog = session.dialog
        if dialog is not None:
            self.by_dialog[(dialog.id.call_id, dialog.id.local_tag, dialog.id.remote_tag)] = session

    def end(
        self,
        session: InviteSession,
        reason: EndReason,
        status: int | None,
        text: str | None,
        *,
        forget: bool = True,
    ) -> None:
        """The call is over: stop its timers, terminate its dialog, emit :class:`CallEnded`."""
        session.cancel_deadline = None
        session.glare_retry_at = None
        session.session_timer = None
        if session.dialog is not None and not session.dialog.terminated:
            session.dialog.apply(DialogEvent.BYE)
        self.events.append(CallEnded(session.handle, reason, status, text))
        if forget:
            self.forget(session)

    def forget(self, session: InviteSession) -> None:
        """Drop the call from the call table."""
        session.state = CallState.TERMINATED
        session.ack_deadline = None
        self.sessions.pop(session.handle, None)
        for key in [k for k, s in self.by_dialog.items() if s is session]:
            del self.by_dialog[key]
        for tx in [t for t, s in self.by_server_tx.items() if s is session]:
            del self.by_server_tx[tx]

    def lose_dialog(self, session: InviteSession, code: int, text: str, now: float) -> None:
        """The dialog is gone (408/481 to one of our requests, RFC 3261 §12.2.1.2): end the call."""
        if session.state is CallState.CONFIRMED:
            session.move(CallStimulus.DIALOG_LOST)
            if code == 408:
                self.send_bye(session, now)
        elif session.state is CallState.ANSWERED:
            session.move(CallStimulus.DIALOG_LOST)
        else:
            return
        self.end(session, EndReason.DIALOG_LOST, code, text)
