"""The four RFC 3261 §17 transaction machines, one test per row of their transition tables."""

from __future__ import annotations

import pytest
from uapair import ack_for, request, respond

from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.transaction import (
    STATE_TIMERS,
    TRANSITIONS,
    Action,
    ClientTransaction,
    DeliverResponse,
    NewRequest,
    SendMessage,
    ServerTransaction,
    State,
    Stimulus,
    StrayAck,
    StrayResponse,
    Timer,
    TimerConfig,
    TransactionKind,
    TransactionOutput,
    TransactionTable,
    TransactionTimedOut,
    TransportFailed,
)

NOW = 100.0
UNRELIABLE = TimerConfig(reliable=False)  # Completed/Confirmed last, so every table row is reachable


def _new(kind: TransactionKind) -> ClientTransaction | ServerTransaction:
    method = "INVITE" if kind in (TransactionKind.ICT, TransactionKind.IST) else "OPTIONS"
    req = request(method)
    if kind in (TransactionKind.ICT, TransactionKind.NICT):
        return ClientTransaction(req, NOW, UNRELIABLE)
    return ServerTransaction(req, NOW, UNRELIABLE)


def _drive(tx: ClientTransaction | ServerTransaction, state: State) -> None:
    """Bring a new transaction to ``state`` by the shortest legal path."""
    req = tx.request
    paths: dict[tuple[TransactionKind, State], list[Stimulus]] = {
        (TransactionKind.ICT, State.PROCEEDING): [Stimulus.RECV_1XX],
        (TransactionKind.ICT, State.COMPLETED): [Stimulus.RECV_3XX_6XX],
        (TransactionKind.ICT, State.ACCEPTED): [Stimulus.RECV_2XX],
        (TransactionKind.NICT, State.PROCEEDING): [Stimulus.RECV_1XX],
        (TransactionKind.NICT, State.COMPLETED): [Stimulus.RECV_2XX],
        (TransactionKind.IST, State.COMPLETED): [Stimulus.SEND_3XX_6XX],
        (TransactionKind.IST, State.CONFIRMED): [Stimulus.SEND_3XX_6XX, Stimulus.RECV_ACK],
        (TransactionKind.IST, State.ACCEPTED): [Stimulus.SEND_2XX],
        (TransactionKind.NIST, State.PROCEEDING): [Stimulus.SEND_1XX],
        (TransactionKind.NIST, State.COMPLETED): [Stimulus.SEND_2XX],
    }
    for stimulus in paths.get((tx.kind, state), []):
        _apply(tx, stimulus, req)
    assert tx.state is state


def _apply(
    tx: ClientTransaction | ServerTransaction, stimulus: Stimulus, req: Request
) -> list[TransactionOutput]:
    codes = {
        Stimulus.RECV_1XX: 180,
        Stimulus.RECV_2XX: 200,
        Stimulus.RECV_3XX_6XX: 486,
        Stimulus.SEND_1XX: 180,
        Stimulus.SEND_2XX: 200,
        Stimulus.SEND_3XX_6XX: 486,
    }
    if stimulus in (Stimulus.RECV_1XX, Stimulus.RECV_2XX, Stimulus.RECV_3XX_6XX):
        assert isinstance(tx, ClientTransaction)
        return tx.receive_response(respond(req, codes[stimulus]), NOW)
    if stimulus in (Stimulus.SEND_1XX, Stimulus.SEND_2XX, Stimulus.SEND_3XX_6XX):
        assert isinstance(tx, ServerTransaction)
        return tx.send_response(respond(req, codes[stimulus]), NOW)
    if stimulus is Stimulus.RECV_REQUEST:
        assert isinstance(tx, ServerTransaction)
        return tx.receive_request(req, NOW)
    if stimulus is Stimulus.RECV_ACK:
        assert isinstance(tx, ServerTransaction)
        return tx.receive_request(ack_for(req, respond(req, 486)), NOW)
    if stimulus is Stimulus.TRANSPORT_ERROR:
        return tx.transport_error(NOW)
    timer = Timer(stimulus.value.removeprefix("timer "))
    deadline = tx.running_timers()[timer]
    return tx.handle_timer(deadline)


ROWS = [
    pytest.param(kind, state, stimulus, transition, id=f"{kind.name}-{state.name}-{stimulus.name}")
    for kind, table in TRANSITIONS.items()
    for (state, stimulus), transition in table.items()
]

_OUTPUT_OF_ACTION: dict[Action, type] = {
    Action.DELIVER: DeliverResponse,
    Action.SEND: SendMessage,
    Action.RESEND_LAST: SendMessage,
    Action.SEND_ACK: SendMessage,
    Action.SEND_100: SendMessage,
    Action.REPORT_TIMEOUT: TransactionTimedOut,
    Action.REPORT_TRANSPORT_ERROR: TransportFailed,
}


@pytest.mark.parametrize(("kind", "state", "stimulus", "transition"), ROWS)
def test_every_transition_row(kind, state, stimulus, transition):
    tx = _new(kind)
    _drive(tx, state)
    had_response = getattr(tx, "last_response", None) is not None
    out = _apply(tx, stimulus, tx.request)
    assert tx.state is transition.next_state
    expected = [
        _OUTPUT_OF_ACTION[a]
        for a in transition.actions
        if a is not Action.RESEND_LAST or had_response  # nothing to resend before the first response
    ]
    assert [type(o) for o in out] == expected
    running = set(tx.running_timers())
    assert running <= set(STATE_TIMERS[kind].get(tx.state, ()))


@pytest.mark.parametrize("kind", list(TransactionKind))
def test_missing_rows_absorb_network_and_refuse_tu(kind):
    for state in State:
        if state is State.TERMINATED:
            continue
        for stimulus in (
            Stimulus.SEND_1XX,
            Stimulus.SEND_2XX,
            Stimulus.SEND_3XX_6XX,
            Stimulus.RECV_1XX,
            Stimulus.RECV_2XX,
            Stimulus.RECV_3XX_6XX,
            Stimulus.RECV_REQUEST,
        ):
            if (state, stimulus) in TRANSITIONS[kind]:
                continue
            tx = _new(kind)
            try:
                _drive(tx, state)
            except AssertionError:
                continue  # the state does not exist for this machine
            client_stimulus = stimulus.name.startswith("RECV_") and stimulus is not Stimulus.RECV_REQUEST
            if client_stimulus != isinstance(tx, ClientTransaction):
                continue
            if stimulus.name.startswith("SEND_"):
                with pytest.raises(LocalProtocolError, match=state.value):
                    _apply(tx, stimulus, tx.request)
            else:
                assert _apply(tx, stimulus, tx.request) == []
                assert tx.state is state


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
