"""RFC 3261 §17 transactions for reliable transports (WebSocket, TCP, TLS), with RFC 6026's Accepted state.

Design
======
A transaction is the request plus every response to it, seen from one side. There are four machines:
INVITE client (ICT), non-INVITE client (NICT), INVITE server (IST) and non-INVITE server (NIST). All four
are written as *data*: a transition table ``{(state, stimulus): Transition}`` per kind, in the style of
h11's ``_state.py``. Everything that affects a transition lives in this module; nothing here knows about
dialogs, calls or registrations (that is the transaction user, "TU": :mod:`.useragent`).

Stimuli are of three sorts:

* from the network: a response of class 1xx / 2xx / 3xx-6xx (client side), a retransmitted request or an
  ACK (server side);
* from the TU: a response to send (server side);
* from the clock: a timer named after RFC 3261 (B, D, F, H, I, J, K, plus L and M from RFC 6026, plus
  ``TRYING``, the 200 ms after which an INVITE server transaction answers ``100 Trying`` on its own).

Timers belong to states. Entering a state arms the timers listed for it in ``STATE_TIMERS`` (unless they
already run), and cancels every running timer the new state does not list. On a reliable transport timers
A, E and G (retransmissions) do not exist and D, I, J and K are zero: a zero timer fires at once, as part of
the transition that armed it, so e.g. an ICT that receives a 486 sends its ACK and is Terminated in the same
call.

Time is passed in (``now``, seconds on any monotonic clock): each transaction reports
:meth:`Transaction.next_deadline` and is driven by :meth:`Transaction.handle_timer`, as in aioquic. No I/O
happens here: a transition returns *outputs* (:class:`SendMessage`, :class:`DeliverResponse`,
:class:`TransactionTimedOut`, :class:`TransportFailed`) for the TU to act on.

A stimulus that is missing from a table is either a TU mistake — sending a response in a state that does not
allow it raises :class:`~.errors.LocalProtocolError` — or a late or duplicated network message, which is
absorbed silently, as RFC 3261 prescribes.

:class:`TransactionTable` owns the transactions of one transport flow: it matches incoming messages to
them (§17.1.3 and §17.2.3), creates server transactions for new requests and forgets terminated ones.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from .errors import LocalProtocolError
from .headers import Headers, canonical_name
from .message import Request, Response, make_response

__all__ = [
    "MAGIC_COOKIE",
    "STATE_TIMERS",
    "TRANSITIONS",
    "Action",
    "ClientTransaction",
    "DeliverResponse",
    "NewRequest",
    "SendMessage",
    "ServerTransaction",
    "State",
    "Stimulus",
    "StrayAck",
    "StrayResponse",
    "Timer",
    "TimerConfig",
    "Transaction",
    "TransactionKind",
    "TransactionOutput",
    "TransactionTable",
    "TransactionTimedOut",
    "Transition",
    "TransportFailed",
]

MAGIC_COOKIE = "z9hG4bK"
"""The RFC 3261 branch prefix that marks a branch as globally unique (§8.1.1.7)."""


class TransactionKind(enum.Enum):
    """The four transaction machines of RFC 3261 §17."""

    ICT = "INVITE client"
    """INVITE client transaction (§17.1.1)."""
    NICT = "non-INVITE client"
    """Non-INVITE client transaction (§17.1.2)."""
    IST = "INVITE server"
    """INVITE server transaction (§17.2.1)."""
    NIST = "non-INVITE server"
    """Non-INVITE server transaction (§17.2.2)."""


class State(enum.Enum):
    """Transaction states, named as in RFC 3261 (Accepted from RFC 6026)."""

    CALLING = "Calling"
    TRYING = "Trying"
    PROCEEDING = "Proceeding"
    COMPLETED = "Completed"
    CONFIRMED = "Confirmed"
    ACCEPTED = "Accepted"
    TERMINATED = "Terminated"


class Timer(enum.Enum):
    """Transaction timers (reliable-transport subset of RFC 3261 Table 4, plus RFC 6026's L and M)."""

    B = "B"  #: ICT: INVITE timeout
    D = "D"  #: ICT: wait for response retransmissions (0 on reliable transports)
    F = "F"  #: NICT: non-INVITE timeout
    K = "K"  #: NICT: wait for response retransmissions (0 on reliable transports)
    H = "H"  #: IST: wait for the ACK of a non-2xx final response
    I = "I"  #: IST: wait for ACK retransmissions (0 on reliable transports)  # noqa: E741
    J = "J"  #: NIST: wait for request retransmissions (0 on reliable transports)
    L = "L"  #: IST (RFC 6026): wait in Accepted for retransmitted INVITEs
    M = "M"  #: ICT (RFC 6026): wait in Accepted for further 2xx (forking)
    TRYING = "Trying"  #: IST: send 100 Trying if the TU has said nothing after 200 ms


class Stimulus(enum.Enum):
    """What can happen to a transaction."""

    RECV_1XX = "received 1xx"
    RECV_2XX = "received 2xx"
    RECV_3XX_6XX = "received 3xx-6xx"
    RECV_REQUEST = "received request retransmission"
    RECV_ACK = "received ACK"
    SEND_1XX = "TU sends 1xx"
    SEND_2XX = "TU sends 2xx"
    SEND_3XX_6XX = "TU sends 3xx-6xx"
    TIMER_B = "timer B"
    TIMER_D = "timer D"
    TIMER_F = "timer F"
    TIMER_K = "timer K"
    TIMER_H = "timer H"
    TIMER_I = "timer I"
    TIMER_J = "timer J"
    TIMER_L = "timer L"
    TIMER_M = "timer M"
    TIMER_TRYING = "timer Trying"
    TRANSPORT_ERROR = "transport error"


class Action(enum.Enum):
    """What a transition does besides changing state."""

    DELIVER = "pass the response to the TU"
    SEND = "send the TU's response"
    RESEND_LAST = "resend the last response sent"
    SEND_ACK = "send ACK for the non-2xx final response"
    SEND_100 = "send 100 Trying"
    REPORT_TIMEOUT = "tell the TU the transaction timed out"
    REPORT_TRANSPORT_ERROR = "tell the TU the transport failed"


@dataclass(frozen=True, slots=True)
class Transition:
    """One row of a transition table: the next state and the actions to run, in order."""

    next_state: State
    actions: tuple[Action, ...] = ()


_ICT, _NICT, _IST, _NIST = (
    TransactionKind.ICT,
    TransactionKind.NICT,
    TransactionKind.IST,
    TransactionKind.NIST,
)
S, X, A = State, Stimulus, Action
_T = Transition

#: The four machines as data: ``TRANSITIONS[kind][(state, stimulus)]``.
TRANSITIONS: dict[TransactionKind, dict[tuple[State, Stimulus], Transition]] = {
    _ICT: {
        (S.CALLING, X.RECV_1XX): _T(S.PROCEEDING, (A.DELIVER,)),
        (S.CALLING, X.RECV_2XX): _T(S.ACCEPTED, (A.DELIVER,)),
        (S.CALLING, X.RECV_3XX_6XX): _T(S.COMPLETED, (A.SEND_ACK, A.DELIVER)),
        (S.CALLING, X.TIMER_B): _T(S.TERMINATED, (A.REPORT_TIMEOUT,)),
        (S.CALLING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.PROCEEDING, X.RECV_1XX): _T(S.PROCEEDING, (A.DELIVER,)),
        (S.PROCEEDING, X.RECV_2XX): _T(S.ACCEPTED, (A.DELIVER,)),
        (S.PROCEEDING, X.RECV_3XX_6XX): _T(S.COMPLETED, (A.SEND_ACK, A.DELIVER)),
        (S.PROCEEDING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.COMPLETED, X.RECV_3XX_6XX): _T(S.COMPLETED, (A.SEND_ACK,)),
        (S.COMPLETED, X.TIMER_D): _T(S.TERMINATED),
        (S.ACCEPTED, X.RECV_2XX): _T(S.ACCEPTED, (A.DELIVER,)),
        (S.ACCEPTED, X.TIMER_M): _T(S.TERMINATED),
    },
    _NICT: {
        (S.TRYING, X.RECV_1XX): _T(S.PROCEEDING, (A.DELIVER,)),
        (S.TRYING, X.RECV_2XX): _T(S.COMPLETED, (A.DELIVER,)),
        (S.TRYING, X.RECV_3XX_6XX): _T(S.COMPLETED, (A.DELIVER,)),
        (S.TRYING, X.TIMER_F): _T(S.TERMINATED, (A.REPORT_TIMEOUT,)),
        (S.TRYING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.PROCEEDING, X.RECV_1XX): _T(S.PROCEEDING, (A.DELIVER,)),
        (S.PROCEEDING, X.RECV_2XX): _T(S.COMPLETED, (A.DELIVER,)),
        (S.PROCEEDING, X.RECV_3XX_6XX): _T(S.COMPLETED, (A.DELIVER,)),
        (S.PROCEEDING, X.TIMER_F): _T(S.TERMINATED, (A.REPORT_TIMEOUT,)),
        (S.PROCEEDING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.COMPLETED, X.TIMER_K): _T(S.TERMINATED),
    },
    _IST: {
        (S.PROCEEDING, X.RECV_REQUEST): _T(S.PROCEEDING, (A.RESEND_LAST,)),
        (S.PROCEEDING, X.SEND_1XX): _T(S.PROCEEDING, (A.SEND,)),
        (S.PROCEEDING, X.SEND_2XX): _T(S.ACCEPTED, (A.SEND,)),
        (S.PROCEEDING, X.SEND_3XX_6XX): _T(S.COMPLETED, (A.SEND,)),
        (S.PROCEEDING, X.TIMER_TRYING): _T(S.PROCEEDING, (A.SEND_100,)),
        (S.PROCEEDING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.COMPLETED, X.RECV_REQUEST): _T(S.COMPLETED, (A.RESEND_LAST,)),
        (S.COMPLETED, X.RECV_ACK): _T(S.CONFIRMED),
        (S.COMPLETED, X.TIMER_H): _T(S.TERMINATED, (A.REPORT_TIMEOUT,)),
        (S.COMPLETED, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.CONFIRMED, X.TIMER_I): _T(S.TERMINATED),
        (S.ACCEPTED, X.SEND_2XX): _T(S.ACCEPTED, (A.SEND,)),
        (S.ACCEPTED, X.TIMER_L): _T(S.TERMINATED),
    },
    _NIST: {
        (S.TRYING, X.SEND_1XX): _T(S.PROCEEDING, (A.SEND,)),
        (S.TRYING, X.SEND_2XX): _T(S.COMPLETED, (A.SEND,)),
        (S.TRYING, X.SEND_3XX_6XX): _T(S.COMPLETED, (A.SEND,)),
        (S.TRYING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.PROCEEDING, X.RECV_REQUEST): _T(S.PROCEEDING, (A.RESEND_LAST,)),
        (S.PROCEEDING, X.SEND_1XX): _T(S.PROCEEDING, (A.SEND,)),
        (S.PROCEEDING, X.SEND_2XX): _T(S.COMPLETED, (A.SEND,)),
        (S.PROCEEDING, X.SEND_3XX_6XX): _T(S.COMPLETED, (A.SEND,)),
        (S.PROCEEDING, X.TRANSPORT_ERROR): _T(S.TERMINATED, (A.REPORT_TRANSPORT_ERROR,)),
        (S.COMPLETED, X.RECV_REQUEST): _T(S.COMPLETED, (A.RESEND_LAST,)),
        (S.COMPLETED, X.TIMER_J): _T(S.TERMINATED),
    },
}

#: Timers that run while a machine is in a state: ``STATE_TIMERS[kind][state]``.
STATE_TIMERS: dict[TransactionKind, dict[State, tuple[Timer, ...]]] = {
    _ICT: {S.CALLING: (Timer.B,), S.COMPLETED: (Timer.D,), S.ACCEPTED: (Timer.M,)},
    _NICT: {S.TRYING: (Timer.F,), S.PROCEEDING: (Timer.F,), S.COMPLETED: (Timer.K,)},
    _IST: {
        S.PROCEEDING: (Timer.TRYING,),
        S.COMPLETED: (Timer.H,),
        S.CONFIRMED: (Timer.I,),
        S.ACCEPTED: (Timer.L,),
    },
    _NIST: {S.COMPLETED: (Timer.J,)},
}

#: The state each machine starts in.
INITIAL_STATE: dict[TransactionKind, State] = {
    _ICT: S.CALLING,
    _NICT: S.TRYING,
    _IST: S.PROCEEDING,
    _NIST: S.TRYING,
}

_TIMER_STIMULUS: dict[Timer, Stimulus] = {
    Timer.B: X.TIMER_B,
    Timer.D: X.TIMER_D,
    Timer.F: X.TIMER_F,
    Timer.K: X.TIMER_K,
    Timer.H: X.TIMER_H,
    Timer.I: X.TIMER_I,
    Timer.J: X.TIMER_J,
    Timer.L: X.TIMER_L,
    Timer.M: X.TIMER_M,
    Timer.TRYING: X.TIMER_TRYING,
}
del S, X, A, _T


@dataclass(frozen=True, slots=True)
class TimerConfig:
    """RFC 3261 timer values, in seconds.

    Attributes:
        t1: RTT estimate (default 500 ms); B, F, H, L and M are 64*T1.
        t2: maximum retransmission interval for non-INVITE requests.
        t4: maximum time a message stays in the network.
        trying: how long an INVITE server transaction waits for the TU before answering 100 Trying.
        reliable: True for WebSocket/TCP/TLS, where D, I, J and K are zero. False gives them their
            unreliable-transport values (D 32 s, I and K T4, J 64*T1) so the Completed and Confirmed
            states last; retransmission timers (A, E, G) are not implemented in either case.
    """

    t1: float = 0.5
    t2: float = 4.0
    t4: float = 5.0
    trying: float = 0.2
    reliable: bool = True

    def duration(self, timer: Timer) -> float:
        """The duration of ``timer``."""
        if timer in (Timer.B, Timer.F, Timer.H, Timer.L, Timer.M):
            return 64 * self.t1
        if timer is Timer.TRYING:
            return self.trying
        if self.reliable:
            return 0.0
        if timer is Timer.D:
            return max(32.0, 64 * self.t1)
        if timer is Timer.J:
            return 64 * self.t1
        return self.t4  # I, K


# ---------------------------------------------------------------------------------------------------------
# Outputs: what a transaction asks its user to do.


@dataclass(frozen=True, slots=True)
class SendMessage:
    """Send this message on the transport."""

    message: Request | Response


@dataclass(frozen=True, slots=True)
class DeliverResponse:
    """A response for the TU: ``transaction`` is the client transaction it belongs to."""

    transaction: ClientTransaction
    response: Response


@dataclass(frozen=True, slots=True)
class TransactionTimedOut:
    """Timer B, F or H fired: the peer never answered (or never acknowledged)."""

    transaction: Transaction


@dataclass(frozen=True, slots=True)
class TransportFailed:
    """The transport reported a failure while the transaction was waiting."""

    transaction: Transaction


@dataclass(frozen=True, slots=True)
class NewRequest:
    """A request that starts a new server transaction (returned by :meth:`TransactionTable.receive`)."""

    transaction: ServerTransaction
    request: Request


@dataclass(frozen=True, slots=True)
class StrayAck:
    """An ACK that matches no server transaction: the ACK of a 2xx, which belongs to the dialog."""

    request: Request


@dataclass(frozen=True, slots=True)
class StrayResponse:
    """A response that matches no client transaction (for example a 2xx retransmitted after Timer M)."""

    response: Response


TransactionOutput = (
    SendMessage
    | DeliverResponse
    | TransactionTimedOut
    | TransportFailed
    | NewRequest
    | StrayAck
    | StrayResponse
)


def _response_stimulus(status_code: int, *, sending: bool) -> Stimulus:
    if status_code < 200:
        return Stimulus.SEND_1XX if sending else Stimulus.RECV_1XX
    if status_code < 300:
        return Stimulus.SEND_2XX if sending else Stimulus.RECV_2XX
    return Stimulus.SEND_3XX_6XX if sending else Stimulus.RECV_3XX_6XX


def _branch_of(message: Request | Response) -> str:
    """The top Via's branch, or a key derived from RFC 2543 fields when the peer sent no branch."""
    top = message.via[0]
    branch = top.branch
    if branch:
        return branch
    return f"rfc2543:{message.call_id}:{message.cseq.seq}:{message.from_.tag}:{top}"


class Transaction:
    """State shared by the four machines: the state, its timers, and the transition engine."""

    kind: TransactionKind

    def __init__(self, kind: TransactionKind, request: Request, now: float, timers: TimerConfig) -> None:
        self.kind = kind
        #: The request that created the transaction.
        self.request = request
        #: The top Via branch: the transaction's identifier.
        self.branch = _branch_of(request)
        #: The method the transaction is for (CANCEL and ACK never share an INVITE transaction).
        self.method = request.method
        self.state = INITIAL_STATE[kind]
        self._timer_config = timers
        self._deadlines: dict[Timer, float] = {}
        self._pending: list[Timer] = []
        self._enter(self.state, now)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.kind.value} {self.method} {self.branch} {self.state.value}>"

    @property
    def terminated(self) -> bool:
        """True once the machine reached Terminated (it then accepts nothing more)."""
        return self.state is State.TERMINATED

    def next_deadline(self) -> float | None:
        """The earliest time at which :meth:`handle_timer` has something to do, or None."""
        return min(self._deadlines.values(), default=None)

    def running_timers(self) -> dict[Timer, float]:
        """The timers currently armed, with their deadlines (a copy, for tests and traces)."""
        return dict(self._deadlines)

    def handle_timer(self, now: float) -> list[TransactionOutput]:
        """Fire every timer due at ``now`` (in deadline order)."""
        out: list[TransactionOutput] = []
        while True:
            due = [(deadline, timer) for timer, deadline in self._deadlines.items() if deadline <= now]
            if not due or self.terminated:
                return out
            _, timer = min(due, key=lambda item: item[0])
            del self._deadlines[timer]
            out.extend(self._fire(_TIMER_STIMULUS[timer], now, None))

    def transport_error(self, now: float) -> list[TransactionOutput]:
        """The transport failed to deliver (or lost the flow): terminate, telling the TU if it waits."""
        if self.terminated:
            return []
        return self._fire(Stimulus.TRANSPORT_ERROR, now, None)

    # -- engine ------------------------------------------------------------------------------------------

    def _fire(
        self, stimulus: Stimulus, now: float, message: Request | Response | None
    ) -> list[TransactionOutput]:
        transition = TRANSITIONS[self.kind].get((self.state, stimulus))
        if transition is None:
            if stimulus in (Stimulus.SEND_1XX, Stimulus.SEND_2XX, Stimulus.SEND_3XX_6XX):
                raise LocalProtocolError(
                    f"can't handle {stimulus.value!r} in state {self.state.value} of {self.kind.value} "
                    f"transaction {self.branch}"
                )
            return []  # a late or duplicated network message: absorbed (RFC 3261 §17)
        out: list[TransactionOutput] = []
        for action in transition.actions:
            self._act(action, message, out)
        self._enter(transition.next_state, now)
        # Zero-length timers (reliable transport) fire as part of the transition that armed them.
        while self._pending and not self.terminated:
            timer = self._pending.pop(0)
            if self._deadlines.get(timer) == now:
                del self._deadlines[timer]
                out.extend(self._fire(_TIMER_STIMULUS[timer], now, None))
        return out

    def _enter(self, state: State, now: float) -> None:
        self.state = state
        wanted = STATE_TIMERS[self.kind].get(state, ())
        for timer in list(self._deadlines):
            if timer not in wanted:
                del self._deadlines[timer]
        for timer in wanted:
            if timer not in self._deadlines:
                duration = self._timer_config.duration(timer)
                self._deadlines[timer] = now + duration
                if duration == 0:
                    self._pending.append(timer)

    def _act(self, action: Action, message: Request | Response | None, out: list[TransactionOutput]) -> None:
        raise LocalProtocolError(f"action {action.value!r} is not defined for {self.kind.value} transactions")


class ClientTransaction(Transaction):
    """An ICT (for INVITE) or NICT (anything else but ACK): sends one request, collects its responses."""

    def __init__(self, request: Request, now: float, timers: TimerConfig | None = None) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK never starts a client transaction")
        kind = TransactionKind.ICT if request.method == "INVITE" else TransactionKind.NICT
        super().__init__(kind, request, now, timers or TimerConfig())
        #: The final response, once received.
        self.final_response: Response | None = None
        #: Every provisional response received, in order.
        self.provisional_responses: list[Response] = []

    def start(self) -> list[TransactionOutput]:
        """The outputs that start the transaction: send its request."""
        return [SendMessage(self.request)]

    def receive_response(self, response: Response, now: float) -> list[TransactionOutput]:
        """Feed a response matched to this transaction."""
        if self.terminated:
            return []
        if response.status_code < 200:
            self.provisional_responses.append(response)
        elif self.final_response is None:
            self.final_response = response
        return self._fire(_response_stimulus(response.status_code, sending=False), now, response)

    def _act(self, action: Action, message: Request | Response | None, out: list[TransactionOutput]) -> None:
        if action is Action.DELIVER:
            assert isinstance(message, Response)
            out.append(DeliverResponse(self, message))
        elif action is Action.SEND_ACK:
            assert isinstance(message, Response)
            out.append(SendMessage(build_non_2xx_ack(self.request, message)))
        elif action is Action.REPORT_TIMEOUT:
            out.append(TransactionTimedOut(self))
        elif action is Action.REPORT_TRANSPORT_ERROR:
            out.append(TransportFailed(self))
        else:
            super()._act(action, message, out)


class ServerTransaction(Transaction):
    """An IST (for INVITE) or NIST (anything else but ACK): receives one request, sends its responses."""

    def __init__(self, request: Request, now: float, timers: TimerConfig | None = None) -> None:
        if request.method == "ACK":
            raise LocalProtocolError("ACK never starts a server transaction")
        kind = TransactionKind.IST if request.method == "INVITE" else TransactionKind.NIST
        #: The last response sent (resent when the request is retransmitted).
        self.last_response: Response | None = None
        self._to_send: Response | None = None
        super().__init__(kind, request, now, timers or TimerConfig())

    @property
    def sent_final(self) -> bool:
        """True once a final (2xx-6xx) response was sent."""
        return self.last_response is not None and self.last_response.status_code >= 200

    def send_response(self, response: Response, now: float) -> list[TransactionOutput]:
        """Send a response from the TU; raises LocalProtocolError if the state does not allow it."""
        if not 100 <= response.status_code <= 699:
            raise LocalProtocolError(f"status code {response.status_code} is out of range 100-699")
        self._to_send = response
        try:
            return self._fire(_response_stimulus(response.status_code, sending=True), now, response)
        finally:
            self._to_send = None

    def receive_request(self, request: Request, now: float) -> list[TransactionOutput]:
        """Feed a retransmitted request, or (IST only) the ACK of a non-2xx final response."""
        stimulus = Stimulus.RECV_ACK if request.method == "ACK" else Stimulus.RECV_REQUEST
        return self._fire(stimulus, now, request)

    def _act(self, action: Action, message: Request | Response | None, out: list[TransactionOutput]) -> None:
        if action is Action.SEND:
            assert self._to_send is not None
            self.last_response = self._to_send
            out.append(SendMessage(self._to_send))
        elif action is Action.RESEND_LAST:
            if self.last_response is not None:
                out.append(SendMessage(self.last_response))
        elif action is Action.SEND_100:
            if self.last_response is None:
                self.last_response = make_response(self.request, 100)
                out.append(SendMessage(self.last_response))
        elif action is Action.REPORT_TIMEOUT:
            out.append(TransactionTimedOut(self))
        elif action is Action.REPORT_TRANSPORT_ERROR:
            out.append(TransportFailed(self))
        else:
            super()._act(action, message, out)


def build_non_2xx_ack(invite: Request, response: Response) -> Request:
    """The ACK an INVITE client transaction sends for a 3xx-6xx final response (RFC 3261 §17.1.1.3).

    Same Request-URI, Call-ID, From, CSeq number and top Via (hence branch) as the INVITE, the To of the
    response (with its tag), and the INVITE's Route headers.
    """
    headers = [("Via", invite.headers.get_all("Via")[0])]
    for name, value in invite.headers:
        if canonical_name(name) in ("Max-Forwards", "From", "Call-ID", "Route"):
            headers.append((name, value))
    to_value = response.headers.get("To")
    if to_value is not None:
        headers.append(("To", to_value))
    headers.append(("CSeq", f"{invite.cseq.seq} ACK"))
    return Request("ACK", invite.uri, Headers(headers))


class TransactionTable:
    """The transactions of one transport flow, with RFC 3261 §17.1.3/§17.2.3 matching.

    :meth:`receive` takes a parsed message and returns outputs: responses for client transactions,
    :class:`NewRequest` for requests that start a server transaction, retransmission handling, and
    :class:`StrayAck`/:class:`StrayResponse` for what matches nothing. Terminated transactions are
    forgotten after every call.
    """

    def __init__(self, timers: TimerConfig | None = None) -> None:
        self.timers = timers or TimerConfig()
        self._client: dict[tuple[str, str], ClientTransaction] = {}
        self._server: dict[tuple[str, str, str], ServerTransaction] = {}

    def __len__(self) -> int:
        return len(self._client) + len(self._server)

    def server_transactions(self) -> Iterator[ServerTransaction]:
        """The live server transactions."""
        return iter(list(self._server.values()))

    def send_request(self, request: Request, now: float) -> tuple[ClientTransaction, list[TransactionOutput]]:
        """Start a client transaction for ``request`` (which must carry its top Via with a branch)."""
        tx = ClientTransaction(request, now, self.timers)
        key = (tx.branch, tx.method)
        if key in self._client:
            raise LocalProtocolError(f"a client transaction with branch {tx.branch} already exists")
        self._client[key] = tx
        return tx, tx.start()

    def send_response(self, tx: ServerTransaction, response: Response, now: float) -> list[TransactionOutput]:
        """Send a TU response through its server transaction."""
        out = tx.send_response(response, now)
        self._collect()
        return out

    def receive(self, message: Request | Response, now: float) -> list[TransactionOutput]:
        """Match an incoming message to a transaction and run it."""
        if isinstance(message, Response):
            ctx = self._client.get((_branch_of(message), message.cseq.method))
            if ctx is None:
                return [StrayResponse(message)]
            out = ctx.receive_response(message, now)
            self._collect()
            return out
        key = self._server_key(message)
        stx = self._server.get(key)
        if message.method == "ACK":
            if stx is None or stx.kind is not TransactionKind.IST:
                return [StrayAck(message)]
            out = stx.receive_request(message, now)
            self._collect()
            return out
        if stx is not None:
            out = stx.receive_request(message, now)
            self._collect()
            return out
        stx = ServerTransaction(message, now, self.timers)
        self._server[key] = stx
        return [NewRequest(stx, message)]

    def find_invite_server_transaction(self, cancel: Request) -> ServerTransaction | None:
        """The INVITE server transaction a CANCEL targets (same branch and sent-by, §9.2)."""
        branch, sent_by, _ = self._server_key(cancel)
        tx = self._server.get((branch, sent_by, "INVITE"))
        return tx if tx is not None and not tx.terminated else None

    def next_deadline(self) -> float | None:
        """The earliest deadline over all transactions."""
        deadlines = [
            d
            for tx in (*self._client.values(), *self._server.values())
            if (d := tx.next_deadline()) is not None
        ]
        return min(deadlines, default=None)

    def handle_timer(self, now: float) -> list[TransactionOutput]:
        """Fire every due timer of every transaction."""
        out: list[TransactionOutput] = []
        for tx in (*self._client.values(), *self._server.values()):
            deadline = tx.next_deadline()
            if deadline is not None and deadline <= now:
                out.extend(tx.handle_timer(now))
        self._collect()
        return out

    def transport_error(
        self, now: float, *, keep: Callable[[Transaction], bool] | None = None
    ) -> list[TransactionOutput]:
        """The flow failed: every transaction still waiting (except those ``keep`` selects) terminates."""
        out: list[TransactionOutput] = []
        for tx in (*self._client.values(), *self._server.values()):
            if keep is None or not keep(tx):
                out.extend(tx.transport_error(now))
        self._collect()
        return out

    def _server_key(self, request: Request) -> tuple[str, str, str]:
        top = request.via[0]
        sent_by = f"{top.host.lower()}:{top.port or ''}"
        method = "INVITE" if request.method == "ACK" else request.method
        return _branch_of(request), sent_by, method

    def _collect(self) -> None:
        for ckey in [k for k, tx in self._client.items() if tx.terminated]:
            del self._client[ckey]
        for skey in [k for k, tx in self._server.items() if tx.terminated]:
            del self._server[skey]
