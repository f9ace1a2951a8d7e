"""The four RFC 3261 §17 transaction machines, checked against the RFC's figures written out here.

The tables below are transcribed from the RFC, not from :data:`transaction.TRANSITIONS`: RFC 3261 figure 5
(INVITE client, §17.1.1) and figure 7 (INVITE server, §17.2.1) as RFC 6026 §8.4 and §8.7 redraw them with
the Accepted state, figure 6 (non-INVITE client, §17.1.2) and figure 8 (non-INVITE server, §17.2.2).
Every row drives a real transaction object through the RFC's path to the row's state, applies the row's
event and checks the resulting state and what was sent or reported. Every (state, event) pair the RFC has
no arrow for is checked too: a late or duplicated network message is absorbed, a TU response is refused.
Where the implementation knowingly differs from a figure, the difference is listed in :data:`DEVIATIONS`
with its reason, and what the implementation does instead is asserted: nothing is skipped.

Timers A, E and G (retransmissions) are for unreliable transports only (§17.1.1.2, §17.1.2.2, §17.2.1);
this implementation runs over WebSocket/TCP/TLS, so they are absent from the tables and a test checks that
nothing is ever retransmitted. To make the Completed and Confirmed states last (timers D, I, J and K are
zero on a reliable transport) the rows run with the unreliable-transport durations of those four timers.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from uapair import ack_for, request, respond

from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.message import Request, Response
from twochat_voice_web.sip.transaction import (
    ClientTransaction,
    DeliverResponse,
    NewRequest,
    SendMessage,
    ServerTransaction,
    State,
    StrayAck,
    StrayResponse,
    Timer,
    TimerConfig,
    TransactionOutput,
    TransactionTable,
    TransactionTimedOut,
    TransportFailed,
)

NOW = 100.0
UNRELIABLE = TimerConfig(reliable=False)  # D, I, J, K non-zero: Completed and Confirmed last

# Events, named as on the RFC's arrows. Client side: responses from the network. Server side: a
# retransmitted request and the ACK from the network, responses "from TU". Timers by their RFC letter;
# "Timer Trying" is figure 7's "send 100 if TU won't in 200 ms".
R1XX, R2XX, R3XX = "1xx", "2xx", "300-699"
REQUEST, ACK = "request retransmitted", "ACK"
TU1XX, TU2XX, TU3XX = "1xx from TU", "2xx from TU", "300-699 from TU"
TRANSPORT_ERR = "Transport Err."
CLIENT_EVENTS = (R1XX, R2XX, R3XX, TRANSPORT_ERR)
SERVER_EVENTS = (REQUEST, TU1XX, TU2XX, TU3XX, TRANSPORT_ERR)

# Actions, as on the RFC's arrows.
TO_TU = "response to TU"
ACK_SENT = "ACK sent"
SEND = "send response"  # the response the TU just gave
RESEND = "send response (the last one again)"
SEND_100 = "send 100 Trying"
INFORM_TIMEOUT = "inform TU (timeout)"
INFORM_TRANSPORT = "inform TU (transport error)"

Row = tuple[str, tuple[str, ...]]

#: RFC 3261 figure 5 with RFC 6026 §8.4 (INVITE client transaction), timer A left out.
ICT: dict[tuple[str, str], Row] = {
    ("Calling", R1XX): ("Proceeding", (TO_TU,)),
    ("Calling", R2XX): ("Accepted", (TO_TU,)),
    ("Calling", R3XX): ("Completed", (ACK_SENT, TO_TU)),
    ("Calling", "Timer B"): ("Terminated", (INFORM_TIMEOUT,)),
    ("Calling", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Proceeding", R1XX): ("Proceeding", (TO_TU,)),
    ("Proceeding", R2XX): ("Accepted", (TO_TU,)),
    ("Proceeding", R3XX): ("Completed", (ACK_SENT, TO_TU)),
    ("Completed", R3XX): ("Completed", (ACK_SENT,)),
    ("Completed", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Completed", "Timer D"): ("Terminated", ()),
    ("Accepted", R2XX): ("Accepted", (TO_TU,)),
    ("Accepted", "Timer M"): ("Terminated", ()),
}

#: RFC 3261 figure 6 (non-INVITE client transaction), timer E left out; "200-699" is 2xx and 300-699.
NICT: dict[tuple[str, str], Row] = {
    ("Trying", R1XX): ("Proceeding", (TO_TU,)),
    ("Trying", R2XX): ("Completed", (TO_TU,)),
    ("Trying", R3XX): ("Completed", (TO_TU,)),
    ("Trying", "Timer F"): ("Terminated", (INFORM_TIMEOUT,)),
    ("Trying", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Proceeding", R1XX): ("Proceeding", (TO_TU,)),
    ("Proceeding", R2XX): ("Completed", (TO_TU,)),
    ("Proceeding", R3XX): ("Completed", (TO_TU,)),
    ("Proceeding", "Timer F"): ("Terminated", (INFORM_TIMEOUT,)),
    ("Proceeding", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Completed", "Timer K"): ("Terminated", ()),
}

#: RFC 3261 figure 7 with RFC 6026 §8.7 (INVITE server transaction), timer G left out. Timer H's arrow
#: informs the TU as §17.2.1's text requires ("MUST indicate to the TU that a transaction failure has
#: occurred"), although RFC 6026's redrawn figure labels it "-".
IST: dict[tuple[str, str], Row] = {
    ("Proceeding", REQUEST): ("Proceeding", (RESEND,)),
    ("Proceeding", TU1XX): ("Proceeding", (SEND,)),
    ("Proceeding", TU2XX): ("Accepted", (SEND,)),
    ("Proceeding", TU3XX): ("Completed", (SEND,)),
    ("Proceeding", "Timer Trying"): ("Proceeding", (SEND_100,)),
    ("Proceeding", TRANSPORT_ERR): ("Proceeding", (INFORM_TRANSPORT,)),
    ("Completed", REQUEST): ("Completed", (RESEND,)),
    ("Completed", ACK): ("Confirmed", ()),
    ("Completed", "Timer H"): ("Terminated", (INFORM_TIMEOUT,)),
    ("Completed", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Confirmed", "Timer I"): ("Terminated", ()),
    ("Accepted", REQUEST): ("Accepted", ()),
    ("Accepted", ACK): ("Accepted", (TO_TU,)),
    ("Accepted", TU2XX): ("Accepted", (SEND,)),
    ("Accepted", TRANSPORT_ERR): ("Accepted", (INFORM_TRANSPORT,)),
    ("Accepted", "Timer L"): ("Terminated", ()),
}

#: RFC 3261 figure 8 (non-INVITE server transaction).
NIST: dict[tuple[str, str], Row] = {
    ("Trying", TU1XX): ("Proceeding", (SEND,)),
    ("Trying", TU2XX): ("Completed", (SEND,)),
    ("Trying", TU3XX): ("Completed", (SEND,)),
    ("Proceeding", REQUEST): ("Proceeding", (RESEND,)),
    ("Proceeding", TU1XX): ("Proceeding", (SEND,)),
    ("Proceeding", TU2XX): ("Completed", (SEND,)),
    ("Proceeding", TU3XX): ("Completed", (SEND,)),
    ("Proceeding", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Completed", REQUEST): ("Completed", (RESEND,)),
    ("Completed", TRANSPORT_ERR): ("Terminated", (INFORM_TRANSPORT,)),
    ("Completed", "Timer J"): ("Terminated", ()),
}


@dataclass(frozen=True)
class Machine:
    """One RFC machine: its table, how to create it, and a path of events to each of its states."""

    name: str
    method: str
    client: bool
    table: dict[tuple[str, str], Row]
    events: tuple[str, ...]
    paths: dict[str, tuple[tuple[str, ...], ...]]


MACHINES = {
    "ICT": Machine(
        "ICT", "INVITE", True, ICT, CLIENT_EVENTS,
        {
            "Calling": ((),),
            "Proceeding": ((R1XX,),),
            "Completed": ((R3XX,), (R1XX, R3XX)),
            "Accepted": ((R2XX,), (R1XX, R2XX)),
            "Terminated": (("Timer B",), (R3XX, "Timer D"), (R2XX, "Timer M")),
        },
    ),
    "NICT": Machine(
        "NICT", "OPTIONS", True, NICT, CLIENT_EVENTS,
        {
            "Trying": ((),),
            "Proceeding": ((R1XX,),),
            "Completed": ((R2XX,), (R3XX,), (R1XX, R2XX)),
            "Terminated": (("Timer F",), (R2XX, "Timer K")),
        },
    ),
    "IST": Machine(
        "IST", "INVITE", False, IST, (*SERVER_EVENTS, ACK),
        {
            "Proceeding": ((), (TU1XX,), ("Timer Trying",)),
            "Completed": ((TU3XX,), (TU1XX, TU3XX)),
            "Confirmed": ((TU3XX, ACK),),
            "Accepted": ((TU2XX,), (TU1XX, TU2XX)),
            "Terminated": ((TU3XX, "Timer H"), (TU3XX, ACK, "Timer I"), (TU2XX, "Timer L")),
        },
    ),
    "NIST": Machine(
        "NIST", "OPTIONS", False, NIST, SERVER_EVENTS,
        {
            "Trying": ((),),
            "Proceeding": ((TU1XX,),),
            "Completed": ((TU2XX,), (TU1XX, TU3XX)),
            "Terminated": ((TU2XX, "Timer J"),),
        },
    ),
}

#: Where the implementation knowingly does something else than the figure: (machine, state, event) ->
#: (next state, actions, why). ``None`` as the RFC row means the figure has no arrow there.
DEVIATIONS: dict[tuple[str, str, str], tuple[Row, str]] = {
    ("ICT", "Proceeding", TRANSPORT_ERR): (
        ("Terminated", (INFORM_TRANSPORT,)),
        "§17.1.4: a transport failure terminates a client transaction and informs the TU; on a WebSocket "
        "the loss of the flow can reach a transaction in Proceeding, which figure 5 does not draw",
    ),
    ("ICT", "Completed", TRANSPORT_ERR): (
        ("Completed", ()),
        "on a reliable transport Completed lasts no time (timer D is zero); only the unreliable timer "
        "durations used by these tests make the state last, and the ACK was already handed to the transport",
    ),
    ("NIST", "Trying", TRANSPORT_ERR): (
        ("Terminated", (INFORM_TRANSPORT,)),
        "the loss of the flow ends a server transaction that has not answered yet (figure 8 draws no "
        "transport error before a response is sent)",
    ),
    ("NIST", "Completed", TRANSPORT_ERR): (
        ("Completed", ()),
        "on a reliable transport Completed lasts no time (timer J is zero)",
    ),
    ("IST", "Proceeding", TRANSPORT_ERR): (
        ("Terminated", (INFORM_TRANSPORT,)),
        "follows RFC 3261's figure 7 (to Terminated), not RFC 6026's redrawn loop back to Proceeding",
    ),
    ("IST", "Accepted", ACK): (
        ("Accepted", ()),
        "the ACK of a 2xx carries its own branch, so the TransactionTable never matches it to the INVITE "
        "server transaction: it reaches the TU as a StrayAck (see TestTable.test_ack_for_2xx_is_stray)",
    ),
    ("IST", "Accepted", TRANSPORT_ERR): (
        ("Accepted", ()),
        "the 2xx is the dialog's to retransmit; the TU learns of a lost flow from the transport itself",
    ),
}


CODES = {R1XX: 180, R2XX: 200, R3XX: 486, TU1XX: 180, TU2XX: 200, TU3XX: 486}
Seen = tuple[object, ...]


class Driver:
    """A real transaction object, fed events by their RFC names, remembering what the TU sent."""

    def __init__(self, machine: Machine, timers: TimerConfig = UNRELIABLE) -> None:
        self.machine = machine
        self.now = NOW
        req = request(machine.method)
        self.tx: ClientTransaction | ServerTransaction = (
            ClientTransaction(req, NOW, timers) if machine.client else ServerTransaction(req, NOW, timers)
        )
        self.last_sent: int | None = None  # status code of the last response the server side sent

    @property
    def state(self) -> str:
        """The transaction's state, by its RFC name."""
        return self.tx.state.value

    def running(self) -> set[str]:
        """The running timers, as RFC event names."""
        return {f"Timer {timer.value}" for timer in self.tx.running_timers()}

    def apply(self, event: str) -> list[TransactionOutput]:
        """Feed one event to the transaction."""
        tx, req = self.tx, self.tx.request
        if event.startswith("Timer "):
            self.now = tx.running_timers()[Timer(event.removeprefix("Timer "))]
            out = tx.handle_timer(self.now)
        elif event in (R1XX, R2XX, R3XX):
            assert isinstance(tx, ClientTransaction)
            out = tx.receive_response(respond(req, CODES[event]), self.now)
        elif event in (TU1XX, TU2XX, TU3XX):
            assert isinstance(tx, ServerTransaction)
            out = tx.send_response(respond(req, CODES[event]), self.now)
        elif event == REQUEST:
            assert isinstance(tx, ServerTransaction)
            out = tx.receive_request(req, self.now)
        elif event == ACK:
            assert isinstance(tx, ServerTransaction)
            out = tx.receive_request(ack_for(req, respond(req, 486)), self.now)
        else:
            assert event == TRANSPORT_ERR
            out = tx.transport_error(self.now)
        for sent in out:
            if isinstance(sent, SendMessage) and isinstance(sent.message, Response):
                self.last_sent = sent.message.status_code
        return out

    def seen(self, out: list[TransactionOutput]) -> list[Seen]:
        """The outputs in comparable form."""
        seen: list[Seen] = []
        for item in out:
            if isinstance(item, SendMessage) and isinstance(item.message, Request):
                seen.append(("sent", item.message.method, item.message.via[0].branch))
            elif isinstance(item, SendMessage):
                seen.append(("sent", item.message.status_code))
            elif isinstance(item, DeliverResponse):
                seen.append(("to TU", item.transaction is self.tx, item.response.status_code))
            elif isinstance(item, TransactionTimedOut):
                seen.append(("timeout", item.transaction is self.tx))
            else:
                assert isinstance(item, TransportFailed)
                seen.append(("transport", item.transaction is self.tx))
        return seen

    def expected(self, event: str, actions: tuple[str, ...], last_sent: int | None) -> list[Seen]:
        """What the RFC's actions look like as outputs, for ``event`` arriving now."""
        seen: list[Seen] = []
        for action in actions:
            if action == TO_TU:
                seen.append(("to TU", True, CODES[event]))
            elif action == ACK_SENT:
                seen.append(("sent", "ACK", self.tx.request.via[0].branch))
            elif action == SEND:
                seen.append(("sent", CODES[event]))
            elif action == RESEND:
                if last_sent is not None:  # nothing to resend before the first response
                    seen.append(("sent", last_sent))
            elif action == SEND_100:
                if last_sent is None:  # only if the TU has not answered
                    seen.append(("sent", 100))
            elif action == INFORM_TIMEOUT:
                seen.append(("timeout", True))
            else:
                assert action == INFORM_TRANSPORT
                seen.append(("transport", True))
        return seen


def _reach(machine: Machine, state: str, path: tuple[str, ...]) -> Driver:
    driver = Driver(machine)
    for event in path:
        driver.apply(event)
    assert driver.state == state, f"{machine.name}: path {path} ends in {driver.state}, not {state}"
    return driver


def _expected_row(machine: Machine, state: str, event: str) -> Row | None:
    """The RFC row, or the listed deviation; None when neither has an arrow (absorb or refuse)."""
    deviation = DEVIATIONS.get((machine.name, state, event))
    if deviation is not None:
        return deviation[0]
    return machine.table.get((state, event))


RFC_ROWS = [
    pytest.param(machine, state, event, path, id=f"{machine.name}-{state}-{event}-{'/'.join(path) or 'new'}")
    for machine in MACHINES.values()
    for (state, event) in machine.table
    for path in machine.paths[state]
]

NO_ARROW = [
    pytest.param(machine, state, event, path, id=f"{machine.name}-{state}-{event}-{'/'.join(path) or 'new'}")
    for machine in MACHINES.values()
    for state, paths in machine.paths.items()
    for event in machine.events
    if (state, event) not in machine.table
    for path in paths
]


@pytest.mark.parametrize(("machine", "state", "event", "path"), RFC_ROWS)
def test_rfc_transition(machine: Machine, state: str, event: str, path: tuple[str, ...]) -> None:
    driver = _reach(machine, state, path)
    if event.startswith("Timer "):
        assert event in driver.running(), f"{event} should run in {state}"
    row = _expected_row(machine, state, event)
    assert row is not None
    next_state, actions = row
    last_sent = driver.last_sent
    out = driver.apply(event)
    assert driver.state == next_state
    assert driver.seen(out) == driver.expected(event, actions, last_sent)


@pytest.mark.parametrize(("machine", "state", "event", "path"), NO_ARROW)
def test_no_arrow_absorbs_network_and_refuses_tu(
    machine: Machine, state: str, event: str, path: tuple[str, ...]
) -> None:
    driver = _reach(machine, state, path)
    row = _expected_row(machine, state, event)
    if row is not None:  # a listed deviation
        last_sent = driver.last_sent
        out = driver.apply(event)
        assert driver.state == row[0]
        assert driver.seen(out) == driver.expected(event, row[1], last_sent)
    elif event in (TU1XX, TU2XX, TU3XX):
        with pytest.raises(LocalProtocolError, match=state):
            driver.apply(event)
        assert driver.state == state
    else:
        assert driver.apply(event) == []
        assert driver.state == state


@pytest.mark.parametrize(
    ("machine", "state", "path"),
    [
        pytest.param(machine, state, path, id=f"{machine.name}-{state}-{'/'.join(path) or 'new'}")
        for machine in MACHINES.values()
        for state, paths in machine.paths.items()
        for path in paths
    ],
)
def test_running_timers_are_those_the_figure_draws(
    machine: Machine, state: str, path: tuple[str, ...]
) -> None:
    driver = _reach(machine, state, path)
    drawn = {event for (start, event) in machine.table if start == state and event.startswith("Timer")}
    assert driver.running() == drawn


def test_every_state_of_every_figure_is_reached() -> None:
    for machine in MACHINES.values():
        states = {state for state, _ in machine.table} | {row[0] for row in machine.table.values()}
        assert set(machine.paths) == states, machine.name


def test_deviations_name_real_rows_and_really_differ() -> None:
    for (name, state, event), (row, why) in DEVIATIONS.items():
        machine = MACHINES[name]
        assert state in machine.paths and event in machine.events and why
        assert machine.table.get((state, event)) != row
        if (state, event) not in machine.table:  # an arrow the figure lacks: the RFC default differs
            assert row != (state, ())


@pytest.mark.parametrize(
    ("machine", "path"),
    [("ICT", ()), ("ICT", (R1XX,)), ("NICT", ()), ("NICT", (R1XX,)), ("IST", (TU3XX,)), ("IST", (TU2XX,))],
)
def test_no_retransmissions_on_a_reliable_transport(machine: str, path: tuple[str, ...]) -> None:
    """Timers A, E and G do not exist over WebSocket/TCP/TLS: nothing is sent again before B, F or H."""
    driver = Driver(MACHINES[machine], TimerConfig())
    for event in path:
        driver.apply(event)
    state = driver.state
    t1 = 0.5
    for multiple in (1, 2, 4, 8, 16, 32, 63):
        assert driver.tx.handle_timer(NOW + multiple * t1 - 0.001) == []
    assert driver.state == state


@pytest.mark.parametrize(
    ("machine", "path"),
    [("ICT", (R3XX,)), ("NICT", (R2XX,)), ("NICT", (R1XX, R3XX)), ("IST", (TU3XX, ACK)), ("NIST", (TU2XX,))],
)
def test_zero_timers_end_the_wait_states_at_once_on_a_reliable_transport(
    machine: str, path: tuple[str, ...]
) -> None:
    """Timers D, I, J and K are zero on a reliable transport (RFC 3261 Table 4)."""
    driver = Driver(MACHINES[machine], TimerConfig())
    for event in path:
        driver.apply(event)
    assert driver.state == "Terminated"


def test_reliable_zero_timers_terminate_at_once():
    req = request("INVITE")
    tx = ClientTransaction(req, NOW)
    out = tx.receive_response(respond(req, 486), NOW)
    assert [type(o) for o in out] == [SendMessage, DeliverResponse]
    ack = out[0].message
    assert isinstance(ack, Request) and ack.method == "ACK"
    assert ack.headers.get_all("Via") == req.headers.get_all("Via")  # same branch (§17.1.1.3)
    assert ack.to.tag == "srv1"
    assert tx.terminated


def test_timer_values_for_reliable_transport():
    timers = TimerConfig()
    assert timers.duration(Timer.B) == timers.duration(Timer.F) == timers.duration(Timer.H) == 32.0
    assert timers.duration(Timer.L) == timers.duration(Timer.M) == 32.0
    assert {timers.duration(t) for t in (Timer.D, Timer.I, Timer.J, Timer.K)} == {0.0}


def test_invite_server_sends_100_trying_after_200ms_unless_tu_answered():
    tx = ServerTransaction(request("INVITE"), NOW)
    assert tx.next_deadline() == pytest.approx(NOW + 0.2)
    out = tx.handle_timer(NOW + 0.2)
    assert [o.message.status_code for o in out if isinstance(o, SendMessage)] == [100]  # type: ignore[union-attr]
    quick = ServerTransaction(request("INVITE"), NOW)
    quick.send_response(respond(quick.request, 180), NOW + 0.05)
    assert quick.handle_timer(NOW + 0.3) == []


def test_ict_timer_b_reports_timeout():
    tx = ClientTransaction(request("INVITE"), NOW)
    assert tx.next_deadline() == NOW + 32
    out = tx.handle_timer(NOW + 32)
    assert [type(o) for o in out] == [TransactionTimedOut]
    assert tx.terminated


def test_ist_accepted_waits_timer_l_then_terminates():
    tx = ServerTransaction(request("INVITE"), NOW)
    tx.send_response(respond(tx.request, 200), NOW)
    assert tx.state is State.ACCEPTED
    assert tx.receive_request(tx.request, NOW + 1) == []  # retransmitted INVITE absorbed (RFC 6026)
    tx.handle_timer(NOW + 32)
    assert tx.terminated


def test_ack_never_starts_a_transaction():
    req = request("INVITE")
    ack = ack_for(req, respond(req, 200))
    with pytest.raises(LocalProtocolError):
        ClientTransaction(ack, NOW)
    with pytest.raises(LocalProtocolError):
        ServerTransaction(ack, NOW)


def test_send_response_out_of_range():
    tx = ServerTransaction(request("OPTIONS"), NOW)
    response = respond(tx.request, 200)
    response.status_code = 700
    with pytest.raises(LocalProtocolError):
        tx.send_response(response, NOW)


class TestTable:
    def test_client_matching_by_branch_and_method(self):
        table = TransactionTable()
        req = request("INVITE", branch="z9hG4bKone")
        _tx, out = table.send_request(req, NOW)
        assert [type(o) for o in out] == [SendMessage]
        assert [type(o) for o in table.receive(respond(req, 180), NOW)] == [DeliverResponse]
        other = request("INVITE", branch="z9hG4bKtwo")
        assert [type(o) for o in table.receive(respond(other, 180), NOW)] == [StrayResponse]
        cancel_like = request("CANCEL", branch="z9hG4bKone")
        assert [type(o) for o in table.receive(respond(cancel_like, 200), NOW)] == [StrayResponse]
        table.receive(respond(req, 486), NOW)
        assert len(table) == 0  # terminated at once (reliable) and forgotten

    def test_duplicate_branch_refused(self):
        table = TransactionTable()
        table.send_request(request("OPTIONS"), NOW)
        with pytest.raises(LocalProtocolError):
            table.send_request(request("OPTIONS"), NOW)

    def test_server_new_retransmission_and_ack(self):
        table = TransactionTable(UNRELIABLE)
        req = request("INVITE")
        out = table.receive(req, NOW)
        assert [type(o) for o in out] == [NewRequest]
        stx = out[0].transaction  # type: ignore[union-attr]
        final = respond(req, 486)
        table.send_response(stx, final, NOW)
        resent = table.receive(req, NOW)
        assert [o.message for o in resent] == [final]  # type: ignore[union-attr]
        assert table.receive(ack_for(req, final), NOW) == []
        assert stx.state is State.CONFIRMED

    def test_ack_for_2xx_is_stray(self):
        table = TransactionTable()
        req = request("INVITE")
        stx = table.receive(req, NOW)[0].transaction  # type: ignore[union-attr]
        table.send_response(stx, respond(req, 200), NOW)
        ack = request("ACK", branch="z9hG4bKnewbranch")
        assert [type(o) for o in table.receive(ack, NOW)] == [StrayAck]

    def test_cancel_finds_invite_transaction(self):
        table = TransactionTable()
        invite = request("INVITE", branch="z9hG4bKinv")
        table.receive(invite, NOW)
        cancel = request("CANCEL", branch="z9hG4bKinv")
        found = table.receive(cancel, NOW)
        assert [type(o) for o in found] == [NewRequest]
        ist = table.find_invite_server_transaction(cancel)
        assert ist is not None and ist.request is invite
        assert table.find_invite_server_transaction(request("CANCEL", branch="z9hG4bKother")) is None

    def test_rfc2543_requests_without_branch_still_match(self):
        table = TransactionTable()
        req = request("OPTIONS", branch="")
        assert [type(o) for o in table.receive(req, NOW)] == [NewRequest]
        assert table.receive(req, NOW) == []  # retransmission absorbed by the Trying NIST

    def test_deadlines_and_timer_dispatch(self):
        table = TransactionTable()
        table.send_request(request("OPTIONS", branch="z9hG4bKa"), NOW)
        table.send_request(request("INVITE", branch="z9hG4bKb"), NOW + 1)
        assert table.next_deadline() == NOW + 32
        out = table.handle_timer(NOW + 32)
        assert [type(o) for o in out] == [TransactionTimedOut]
        assert table.next_deadline() == NOW + 33
        assert len(table) == 1

    def test_transport_error_keeps_selected(self):
        table = TransactionTable()
        table.send_request(request("OPTIONS", branch="z9hG4bKa"), NOW)
        table.receive(request("INVITE", branch="z9hG4bKsrv"), NOW)
        out = table.transport_error(NOW, keep=lambda tx: isinstance(tx, ServerTransaction))
        assert [type(o) for o in out] == [TransportFailed]
        assert len(table) == 1
