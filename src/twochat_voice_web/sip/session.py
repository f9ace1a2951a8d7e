"""INVITE sessions: the life of one call, its offer/answer state and its session timer (RFC 4028).

Design
======
A call goes through :class:`CallState`. The allowed moves are the table :data:`CALL_TRANSITIONS`
``{(state, stimulus): next_state}``; :meth:`InviteSession.move` applies a row or fails with
:class:`~.errors.LocalProtocolError` naming state and stimulus (for local stimuli — the application asked for
something the call cannot do now) or returns ``None`` (for network stimuli — a late or duplicated message,
absorbed). The user agent (:mod:`.useragent`) runs the actions: it owns transactions, dialogs and I/O.

Outgoing call (UAC)::

    CALLING --1xx--> PROCEEDING --1xx+tag--> EARLY --2xx--> CONFIRMED --BYE--> TERMINATED
       |  \\___________________________________/  |
       |          3xx-6xx / timer B ---------------+--> TERMINATED
       +--hangup--> CANCELLING (CANCEL waits for the first 1xx, RFC 3261 §9.1) --487/2xx+BYE--> TERMINATED

Incoming call (UAS)::

    INCOMING --ring--> EARLY --answer--> ANSWERED --ACK--> CONFIRMED --BYE--> TERMINATED
       \\__ reject / CANCEL / hangup _____/    \\--hangup--> BYE_AFTER_ACK --ACK/timer--> TERMINATED

(RFC 3261 §15: the callee must not send BYE before the ACK of its 2xx, hence BYE_AFTER_ACK.)

Offer/answer is a second, orthogonal state (:class:`OfferState`): STABLE, LOCAL_OFFER (our re-INVITE or
UPDATE offer awaits its answer), REMOTE_OFFER (the peer's offer awaits the application's answer) and
OFFER_IN_2XX (we put an offer in a 2xx to an offerless INVITE and await the answer in the ACK). It decides
glare (491 when both sides offer, RFC 3261 §14.2) and 500-with-Retry-After for overlapping INVITEs.

The session timer (:class:`SessionTimer`) is armed when either side asks for it (Session-Expires):
the refresher refreshes at half the interval; the other side ends the call if no refresh arrives by
``interval - min(32, interval/3)`` (RFC 4028 §10).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass, field

from .dialog import Dialog
from .errors import LocalProtocolError, ParseError
from .message import Request
from .transaction import ClientTransaction, ServerTransaction

__all__ = [
    "CALL_TRANSITIONS",
    "CallState",
    "CallStimulus",
    "InviteSession",
    "OfferState",
    "SessionExpires",
    "SessionTimer",
    "parse_session_expires",
]


class CallState(enum.Enum):
    """Where a call is in its life."""

    CALLING = "calling"
    PROCEEDING = "proceeding"
    EARLY = "early"
    CANCELLING = "cancelling"
    INCOMING = "incoming"
    ANSWERED = "answered"
    CONFIRMED = "confirmed"
    BYE_AFTER_ACK = "bye-after-ack"
    TERMINATED = "terminated"


class CallStimulus(enum.Enum):
    """What moves a call. ``LOCAL_*`` come from the application, the rest from the network or timers."""

    RECV_1XX = "1xx without dialog"
    RECV_1XX_DIALOG = "1xx with To tag"
    RECV_2XX = "2xx to INVITE"
    RECV_FAILURE = "3xx-6xx to INVITE"
    TIMEOUT = "INVITE timed out"
    LOCAL_CANCEL = "hang up an unanswered outgoing call"
    CANCEL_TIMEOUT = "no final response after CANCEL"
    LOCAL_RING = "send a provisional response"
    LOCAL_ANSWER = "answer"
    LOCAL_REJECT = "reject"
    RECV_CANCEL = "CANCEL received"
    RECV_ACK = "ACK received"
    ACK_TIMEOUT = "no ACK for our 2xx"
    LOCAL_BYE = "hang up an established call"
    RECV_BYE = "BYE received"
    DIALOG_LOST = "481/408 to an in-dialog request"
    SESSION_EXPIRED = "session timer expired"
    TRANSPORT_FAILED = "transport failed under the INVITE"


_C, _X = CallState, CallStimulus
_UAC_EARLY = (_C.CALLING, _C.PROCEEDING, _C.EARLY)

#: ``CALL_TRANSITIONS[(state, stimulus)] -> next state``.
CALL_TRANSITIONS: dict[tuple[CallState, CallStimulus], CallState] = {
    (_C.CALLING, _X.RECV_1XX): _C.PROCEEDING,
    (_C.CALLING, _X.RECV_1XX_DIALOG): _C.EARLY,
    (_C.PROCEEDING, _X.RECV_1XX): _C.PROCEEDING,
    (_C.PROCEEDING, _X.RECV_1XX_DIALOG): _C.EARLY,
    (_C.EARLY, _X.RECV_1XX): _C.EARLY,
    (_C.EARLY, _X.RECV_1XX_DIALOG): _C.EARLY,
    **{(state, _X.RECV_2XX): _C.CONFIRMED for state in _UAC_EARLY},
    **{(state, _X.RECV_FAILURE): _C.TERMINATED for state in _UAC_EARLY},
    **{(state, _X.TIMEOUT): _C.TERMINATED for state in _UAC_EARLY},
    **{(state, _X.TRANSPORT_FAILED): _C.TERMINATED for state in _UAC_EARLY},
    **{(state, _X.LOCAL_CANCEL): _C.CANCELLING for state in _UAC_EARLY},
    (_C.EARLY, _X.RECV_BYE): _C.TERMINATED,
    (_C.CANCELLING, _X.RECV_1XX): _C.CANCELLING,
    (_C.CANCELLING, _X.RECV_1XX_DIALOG): _C.CANCELLING,
    (_C.CANCELLING, _X.RECV_2XX): _C.TERMINATED,
    (_C.CANCELLING, _X.RECV_FAILURE): _C.TERMINATED,
    (_C.CANCELLING, _X.TIMEOUT): _C.TERMINATED,
    (_C.CANCELLING, _X.CANCEL_TIMEOUT): _C.TERMINATED,
    (_C.CANCELLING, _X.TRANSPORT_FAILED): _C.TERMINATED,
    (_C.CANCELLING, _X.LOCAL_CANCEL): _C.CANCELLING,
    (_C.INCOMING, _X.LOCAL_RING): _C.EARLY,
    (_C.EARLY, _X.LOCAL_RING): _C.EARLY,
    (_C.INCOMING, _X.LOCAL_ANSWER): _C.ANSWERED,
    (_C.EARLY, _X.LOCAL_ANSWER): _C.ANSWERED,
    (_C.INCOMING, _X.LOCAL_REJECT): _C.TERMINATED,
    (_C.EARLY, _X.LOCAL_REJECT): _C.TERMINATED,
    (_C.INCOMING, _X.RECV_CANCEL): _C.TERMINATED,
    (_C.EARLY, _X.RECV_CANCEL): _C.TERMINATED,
    (_C.ANSWERED, _X.RECV_ACK): _C.CONFIRMED,
    (_C.ANSWERED, _X.ACK_TIMEOUT): _C.TERMINATED,
    (_C.ANSWERED, _X.LOCAL_BYE): _C.BYE_AFTER_ACK,
    (_C.ANSWERED, _X.RECV_BYE): _C.TERMINATED,
    (_C.ANSWERED, _X.DIALOG_LOST): _C.TERMINATED,
    (_C.BYE_AFTER_ACK, _X.RECV_ACK): _C.TERMINATED,
    (_C.BYE_AFTER_ACK, _X.ACK_TIMEOUT): _C.TERMINATED,
    (_C.BYE_AFTER_ACK, _X.RECV_BYE): _C.TERMINATED,
    (_C.BYE_AFTER_ACK, _X.LOCAL_BYE): _C.BYE_AFTER_ACK,
    (_C.CONFIRMED, _X.LOCAL_BYE): _C.TERMINATED,
    (_C.CONFIRMED, _X.RECV_BYE): _C.TERMINATED,
    (_C.CONFIRMED, _X.DIALOG_LOST): _C.TERMINATED,
    (_C.CONFIRMED, _X.SESSION_EXPIRED): _C.TERMINATED,
    (_C.CONFIRMED, _X.RECV_ACK): _C.CONFIRMED,
}
del _C, _X

_LOCAL_STIMULI = frozenset(s for s in CallStimulus if s.name.startswith("LOCAL_"))


class OfferState(enum.Enum):
    """The SDP offer/answer exchange of an established call (RFC 3264, RFC 3261 §13.2.1 and §14)."""

    STABLE = "stable"
    LOCAL_OFFER = "local-offer"
    REMOTE_OFFER = "remote-offer"
    OFFER_IN_2XX = "offer-in-2xx"


_SE_RE = re.compile(r"\s*(\d{1,10})\s*((?:;.*)?)$", re.DOTALL)


@dataclass(frozen=True, slots=True)
class SessionExpires:
    """A Session-Expires header (RFC 4028 §4): interval in seconds and who refreshes."""

    interval: int
    refresher: str | None = None
    """"uac", "uas" or None (not said)."""

    def __str__(self) -> str:
        return f"{self.interval};refresher={self.refresher}" if self.refresher else str(self.interval)


def parse_session_expires(value: str) -> SessionExpires:
    """Parse a Session-Expires (or compact ``x``) value; ParseError when malformed."""
    match = _SE_RE.match(value)
    if match is None:
        raise ParseError(f"malformed Session-Expires value {value[:60]!r}")
    interval = int(match.group(1))
    if interval <= 0:
        raise ParseError("Session-Expires must be positive")
    refresher: str | None = None
    for part in match.group(2).split(";"):
        name, _, param = part.partition("=")
        if name.strip().lower() == "refresher":
            refresher = param.strip().lower()
            if refresher not in ("uac", "uas"):
                raise ParseError(f"Session-Expires refresher must be uac or uas, not {param.strip()[:20]!r}")
    return SessionExpires(interval, refresher)


@dataclass(slots=True)
class SessionTimer:
    """The running session timer of a confirmed call (RFC 4028 §10)."""

    interval: int
    local_refresher: bool
    refresh_at: float | None = None
    expires_at: float | None = None

    def restart(self, now: float) -> None:
        """A refresh succeeded (sent or received) at ``now``: re-arm."""
        if self.local_refresher:
            self.refresh_at = now + self.interval / 2
            self.expires_at = None
        else:
            self.refresh_at = None
            self.expires_at = now + self.interval - min(32.0, self.interval / 3)

    def next_deadline(self) -> float | None:
        """When something is due."""
        return self.refresh_at if self.local_refresher else self.expires_at


@dataclass(eq=False)
class InviteSession:
    """One call: what the user agent knows about it. The user agent runs the transitions' actions."""

    handle: str
    """The call handle."""
    is_uac: bool
    """True for the call we placed."""
    invite: Request
    """The dialog-creating INVITE (for the UAC: the latest one sent, after auth or 422 retries)."""
    state: CallState
    invite_tx: ClientTransaction | None = None
    """Our client transaction for the INVITE (UAC)."""
    invite_server_tx: ServerTransaction | None = None
    """The server transaction of the INVITE (UAS)."""
    dialog: Dialog | None = None
    """The dialog once established (confirmed, or the early one that last sent a provisional response)."""
    early_dialogs: dict[str, Dialog] = field(default_factory=dict)
    """Early dialogs by remote tag (UAC; forking can create several)."""
    local_tag: str | None = None
    """Our To tag (UAS)."""
    local_sdp: str | None = None
    """The SDP we sent last (offer or answer)."""
    remote_sdp: str | None = None
    """The SDP the peer sent last (offer or answer)."""
    offer_state: OfferState = OfferState.STABLE
    offer_tx: ClientTransaction | None = None
    """Our pending re-INVITE/UPDATE transaction, while an offer of ours awaits its answer."""
    remote_offer_tx: ServerTransaction | None = None
    """The peer's re-INVITE/UPDATE awaiting our answer."""
    pending_previous_remote_sdp: str | None = None
    """The remote SDP before the pending remote offer (restored if we reject that offer)."""
    cancel_deferred: bool = False
    """UAC hang-up before any provisional response: CANCEL goes out with the first 1xx."""
    cancel_deadline: float | None = None
    ack_deadline: float | None = None
    """UAS: when to give up waiting for the ACK of our 2xx."""
    glare_retry_at: float | None = None
    """Glare back-off (RFC 3261 §14.1): when to emit OfferRetryDue."""
    session_timer: SessionTimer | None = None
    peer_allows_update: bool = False
    """The peer listed UPDATE in Allow (then session refreshes use UPDATE without a body)."""
    invite_retries: int = 0
    """How many times the INVITE was re-sent after 401/407/422."""

    def move(self, stimulus: CallStimulus) -> CallState | None:
        """Apply ``stimulus``; returns the previous state, or None when a network stimulus is absorbed."""
        next_state = CALL_TRANSITIONS.get((self.state, stimulus))
        if next_state is None:
            if stimulus in _LOCAL_STIMULI:
                raise LocalProtocolError(
                    f"call {self.handle} can't {stimulus.value!r} in state {self.state.value}"
                )
            return None
        previous = self.state
        self.state = next_state
        return previous

    @property
    def ended(self) -> bool:
        """True once the call is over for the application."""
        return self.state in (CallState.TERMINATED, CallState.BYE_AFTER_ACK)

    def next_deadline(self) -> float | None:
        """The earliest session-level timer."""
        candidates = [self.cancel_deadline, self.ack_deadline, self.glare_retry_at]
        if self.session_timer is not None and self.state is CallState.CONFIRMED:
            candidates.append(self.session_timer.next_deadline())
        return min((c for c in candidates if c is not None), default=None)
