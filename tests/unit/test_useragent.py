"""Whole flows between two in-memory UserAgents with a fake clock."""

from __future__ import annotations

import random

import pytest
from uapair import ANSWER, HOLD_ANSWER, HOLD_OFFER, OFFER, Pair, bob_uri, call_pair, config, registrar_pair

from twochat_voice_web.server.digest import VerifyResult
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.events import EndReason, RegistrationState
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.session import CallState, OfferState
from twochat_voice_web.sip.useragent import UserAgent

# ------------------------------------------------------------------------------------------ registration


def _register(pair: Pair, registrar, *, call: bool = True) -> None:
    if call:
        pair.a.ua.register(pair.now)
    for _ in range(6):
        pair.flush()
        if not registrar.serve(pair.b, pair.now):
            break
    pair.flush()


def test_register_with_digest_challenge():
    pair, registrar = registrar_pair()
    _register(pair, registrar)
    states = [e.state for e in pair.a.of(ev.RegistrationChanged)]
    assert states == [RegistrationState.REGISTERING, RegistrationState.REGISTERED]
    final = pair.a.last(ev.RegistrationChanged)
    assert final.expires == 300  # granted by the registrar (asked 600)
    registers = pair.b.requests("REGISTER")
    assert len(registers) == 2
    assert "Authorization" not in registers[0].headers
    assert "algorithm=SHA-256" in (registers[1].headers.get("Authorization") or "")
    assert registrar.results == [VerifyResult.OK]
    contact = registers[1].contacts[0]
    assert contact.param("reg-id") == "1"
    assert contact.param(
        "+sip.instance",
    ).startswith('"<urn:uuid:')
    assert contact.uri.has_param("ob")
    assert registers[1].call_id == registers[0].call_id
    assert registers[1].cseq.seq == registers[0].cseq.seq + 1


def test_register_is_idempotent_while_pending_and_registered():
    pair, registrar = registrar_pair()
    pair.a.ua.register(pair.now)
    pair.a.ua.register(pair.now)
    pair.flush()
    assert len(pair.b.requests("REGISTER")) == 1
    _register(pair, registrar)
    pair.a.ua.register(pair.now)
    pair.flush()
    assert len(pair.b.requests("REGISTER")) == 2  # the challenge round trip only
    assert pair.a.ua.registration_state is RegistrationState.REGISTERED


def test_wrong_password_fails_after_bounded_retries():
    pair, registrar = registrar_pair(password="wrong")
    _register(pair, registrar)
    final = pair.a.last(ev.RegistrationChanged)
    assert final.state is RegistrationState.UNREGISTERED
    assert final.status_code == 401
    assert len(pair.b.requests("REGISTER")) == 2  # no endless loop
    assert registrar.results == [VerifyResult.BAD_CREDENTIALS]


def test_423_interval_too_brief_raises_expiry():
    pair, registrar = registrar_pair(register_expires=60)
    registrar.min_expires = 120
    _register(pair, registrar)
    assert pair.a.ua.registration_state is RegistrationState.REGISTERED
    expires = [r.headers.get("Expires") for r in pair.b.requests("REGISTER")]
    assert expires[-1] == "120"
    assert "60" in expires


def test_refresh_before_expiry_uses_preemptive_credentials():
    pair, registrar = registrar_pair()
    _register(pair, registrar)
    before = len(pair.b.requests("REGISTER"))
    deadline = pair.a.ua.next_deadline()
    assert deadline is not None
    assert deadline - pair.now == pytest.approx(300 - 32)  # granted 300: refresh 32 s before expiry
    pair.advance(deadline - pair.now)
    registrar.serve(pair.b, pair.now)
    pair.flush()
    assert len(pair.b.requests("REGISTER")) == before + 1  # no 401 round trip
    states = [e.state for e in pair.a.of(ev.RegistrationChanged)]
    assert states[-2:] == [RegistrationState.REFRESHING, RegistrationState.REGISTERED]


def test_unregister_sends_expires_zero():
    pair, registrar = registrar_pair()
    _register(pair, registrar)
    pair.a.ua.unregister(pair.now)
    pair.flush()
    registrar.serve(pair.b, pair.now)
    pair.flush()
    last = pair.b.requests("REGISTER")[-1]
    assert last.headers.get("Expires") == "0"
    assert last.contacts[0].param("expires") == "0"
    assert pair.a.ua.registration_state is RegistrationState.UNREGISTERED
    assert pair.a.ua.next_deadline() is None


def test_unregister_while_registering_waits_for_the_pending_register():
    pair, registrar = registrar_pair()
    pair.a.ua.register(pair.now)
    pair.a.ua.unregister(pair.now)
    _register(pair, registrar, call=False)
    registers = pair.b.requests("REGISTER")
    assert registers[-1].headers.get("Expires") == "0"
    assert pair.a.ua.registration_state is RegistrationState.UNREGISTERED


def test_transport_loss_then_reregister_with_same_identity():
    pair, registrar = registrar_pair()
    _register(pair, registrar)
    first = pair.b.requests("REGISTER")[-1]
    pair.a.ua.transport_lost(pair.now)
    assert pair.a.ua.registration_state is RegistrationState.UNREGISTERED
    assert pair.a.ua.data_to_send() == []
    pair.now += 3
    pair.a.ua.transport_restored(pair.now)
    pair.flush()
    registrar.serve(pair.b, pair.now)
    pair.flush()
    again = pair.b.requests("REGISTER")[-1]
    assert pair.a.ua.registration_state is RegistrationState.REGISTERED
    assert again.call_id == first.call_id
    assert again.contacts[0].param("+sip.instance") == first.contacts[0].param("+sip.instance")
    assert again.contacts[0].param("reg-id") == first.contacts[0].param("reg-id")
    assert str(again.contacts[0].uri) == str(first.contacts[0].uri)


def test_register_timeout():
    pair, _registrar = registrar_pair()
    pair.a.ua.register(pair.now)
    pair.flush()
    pair.advance(33)
    final = pair.a.last(ev.RegistrationChanged)
    assert final.state is RegistrationState.UNREGISTERED
    assert final.reason == "timeout"


# ------------------------------------------------------------------------------------------ calls


def _call(pair: Pair, *, ring: bool = True, answer: bool = True) -> tuple[str, str]:
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER, headers=[("X-2Chat-Ticket-Id", "42")])
    pair.flush()
    incoming = pair.b.last(ev.IncomingCall)
    if ring:
        pair.b.ua.ring(incoming.call, pair.now)
        pair.flush()
    if answer:
        pair.b.ua.answer(incoming.call, ANSWER, pair.now)
        pair.flush()
    return call, incoming.call


def test_basic_call_ring_answer_and_hangup():
    pair = call_pair()
    a_call, b_call = _call(pair)
    incoming = pair.b.last(ev.IncomingCall)
    assert incoming.sdp == OFFER
    assert incoming.request.headers.get("X-2Chat-Ticket-Id") == "42"
    assert incoming.remote.uri.user == "alice"
    progress = pair.a.last(ev.CallProgress)
    assert (progress.status_code, progress.sdp) == (180, None)
    answered = pair.a.last(ev.CallAnswered)
    assert answered.sdp == ANSWER
    assert pair.b.last(ev.CallAnswered).call == b_call  # on the ACK
    assert len(pair.b.requests("ACK")) == 1
    assert pair.a.ua.call_info(a_call).state is CallState.CONFIRMED
    pair.a.ua.hangup(a_call, pair.now)
    pair.flush()
    assert pair.a.last(ev.CallEnded).reason is EndReason.LOCAL_BYE
    assert pair.b.last(ev.CallEnded).reason is EndReason.REMOTE_BYE
    assert [r.cseq.method for r in pair.a.responses(200)][-1] == "BYE"
    assert pair.a.ua.calls == [] and pair.b.ua.calls == []


def test_remote_bye():
    pair = call_pair()
    a_call, b_call = _call(pair)
    pair.b.ua.hangup(b_call, pair.now)
    pair.flush()
    ended = pair.a.last(ev.CallEnded)
    assert (ended.call, ended.reason) == (a_call, EndReason.REMOTE_BYE)


def test_early_media_183_then_200():
    pair = call_pair()
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    pair.flush()
    b_call = pair.b.last(ev.IncomingCall).call
    pair.b.ua.ring(b_call, pair.now, status_code=183, sdp=ANSWER)
    pair.flush()
    progress = pair.a.last(ev.CallProgress)
    assert (progress.status_code, progress.sdp) == (183, ANSWER)
    assert pair.a.ua.call_info(call).state is CallState.EARLY
    pair.b.ua.answer(b_call, ANSWER, pair.now)
    pair.flush()
    assert pair.a.last(ev.CallAnswered).sdp == ANSWER


@pytest.mark.parametrize("code", [486, 603, 404])
def test_rejected_call(code):
    pair = call_pair()
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    pair.flush()
    pair.b.ua.reject(pair.b.last(ev.IncomingCall).call, pair.now, status_code=code)
    pair.flush()
    ended = pair.a.last(ev.CallEnded)
    assert (ended.call, ended.reason, ended.status_code) == (call, EndReason.REJECTED, code)
    assert pair.b.last(ev.CallEnded).reason is EndReason.LOCAL_REJECT
    assert len(pair.b.requests("ACK")) == 1  # the transaction ACKs the non-2xx


def test_cancel_while_ringing():
    pair = call_pair()
    a_call, _b_call = _call(pair, answer=False)
    pair.a.ua.hangup(a_call, pair.now)
    pair.flush()
    assert len(pair.b.requests("CANCEL")) == 1
    assert pair.b.last(ev.CallEnded).reason is EndReason.REMOTE_CANCEL
    ended = pair.a.last(ev.CallEnded)
    assert (ended.reason, ended.status_code) == (EndReason.LOCAL_CANCEL, 487)
    cancel = pair.b.requests("CANCEL")[0]
    invite = pair.b.requests("INVITE")[0]
    assert cancel.via[0].branch == invite.via[0].branch
    assert cancel.cseq.seq == invite.cseq.seq


def test_cancel_before_any_provisional_waits_for_100_trying():
    pair = call_pair()
    a_call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    pair.a.ua.hangup(a_call, pair.now)  # nothing received yet: CANCEL must wait (RFC 3261 §9.1)
    pair.flush()
    assert pair.b.requests("CANCEL") == []
    pair.advance(0.25)  # bob's INVITE server transaction answers 100 Trying by itself
    assert len(pair.b.requests("CANCEL")) == 1
    assert pair.a.last(ev.CallEnded).reason is EndReason.LOCAL_CANCEL
    assert pair.b.last(ev.CallEnded).reason is EndReason.REMOTE_CANCEL


def test_cancel_racing_a_200_ends_with_ack_and_bye():
    pair = call_pair()
    a_call, b_call = _call(pair, answer=False)
    pair.b.ua.answer(b_call, ANSWER, pair.now)  # the 200 is on the wire...
    pair.a.ua.hangup(a_call, pair.now)  # ...while alice cancels
    pair.flush()
    assert pair.a.last(ev.CallEnded).reason is EndReason.LOCAL_CANCEL
    assert len(pair.b.requests("ACK")) == 1
    assert len(pair.b.requests("BYE")) == 1
    assert pair.b.last(ev.CallEnded).reason is EndReason.REMOTE_BYE


def test_invite_timeout_without_any_response():
    pair = call_pair()
    pair.keep = lambda direction, m: direction != "a->b"
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    pair.advance(32)
    ended = pair.a.last(ev.CallEnded)
    assert (ended.call, ended.reason, ended.status_code) == (call, EndReason.TIMEOUT, 408)


def test_missing_ack_makes_callee_hang_up():
    pair = call_pair()
    pair.keep = lambda direction, m: not (isinstance(m, Request) and m.method == "ACK")
    _a_call, b_call = _call(pair)
    assert pair.b.of(ev.CallAnswered) == []
    pair.advance(32)
    ended = pair.b.last(ev.CallEnded)
    assert (ended.call, ended.reason) == (b_call, EndReason.TIMEOUT)
    assert pair.a.requests("BYE")
    assert pair.a.last(ev.CallEnded).reason is EndReason.REMOTE_BYE


def test_callee_hangup_before_ack_waits_for_the_ack():
    pair = call_pair()
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    pair.flush()
    b_call = pair.b.last(ev.IncomingCall).call
    held: list[bytes] = []
    pair.b.ua.answer(b_call, ANSWER, pair.now)
    pair.b.ua.hangup(b_call, pair.now)  # before the ACK (RFC 3261 §15)
    held.extend(pair.b.ua.data_to_send())
    assert all(b"BYE " not in m.split(b"\r\n")[0] for m in held)
    for raw in held:
        pair.a.ua.receive_data(raw, pair.now)
    pair.flush()
    assert pair.b.of(ev.CallEnded)[0].reason is EndReason.LOCAL_BYE
    assert pair.a.last(ev.CallEnded).reason is EndReason.REMOTE_BYE
    assert pair.a.ua.calls == [] and call not in pair.a.ua.calls


# ------------------------------------------------------------------------------------------ re-INVITE


def test_hold_and_unhold_by_reinvite():
    pair = call_pair()
    a_call, b_call = _call(pair)
    pair.a.ua.reinvite(a_call, HOLD_OFFER, pair.now)
    pair.flush()
    offer = pair.b.last(ev.RemoteOffer)
    assert (offer.call, offer.sdp, offer.method) == (b_call, HOLD_OFFER, "INVITE")
    assert pair.b.ua.call_info(b_call).offer_state is OfferState.REMOTE_OFFER
    pair.b.ua.answer_offer(b_call, HOLD_ANSWER, pair.now)
    pair.flush()
    assert pair.a.last(ev.RemoteAnswer).sdp == HOLD_ANSWER
    assert len(pair.b.requests("ACK")) == 2
    info = pair.a.ua.call_info(a_call)
    assert (info.local_sdp, info.remote_sdp, info.offer_state) == (HOLD_OFFER, HOLD_ANSWER, OfferState.STABLE)
    pair.a.ua.reinvite(a_call, OFFER.replace("o=- 1 1", "o=- 1 3"), pair.now)
    pair.flush()
    pair.b.ua.answer_offer(b_call, ANSWER.replace("o=- 2 1", "o=- 2 3"), pair.now)
    pair.flush()
    assert pair.a.ua.call_info(a_call).offer_state is OfferState.STABLE
    assert len(pair.a.of(ev.RemoteAnswer)) == 2


def test_rejected_reinvite_keeps_the_session():
    pair = call_pair()
    a_call, b_call = _call(pair)
    pair.a.ua.reinvite(a_call, HOLD_OFFER, pair.now)
    pair.flush()
    pair.b.ua.reject_offer(b_call, pair.now)
    pair.flush()
    rejected = pair.a.last(ev.OfferRejected)
    assert (rejected.status_code, rejected.will_retry) == (488, False)
    assert pair.a.ua.call_info(a_call).local_sdp == OFFER
    assert pair.b.ua.call_info(b_call).remote_sdp == OFFER
    assert pair.a.ua.call_info(a_call).state is CallState.CONFIRMED


def test_reinvite_glare_backs_off_per_rfc3261():
    pair = call_pair()
    a_call, b_call = _call(pair)
    start = pair.now
    pair.a.ua.reinvite(a_call, HOLD_OFFER, pair.now)
    pair.b.ua.reinvite(b_call, HOLD_OFFER, pair.now)
    pair.flush()
    assert pair.a.last(ev.OfferRejected).will_retry
    assert pair.b.last(ev.OfferRejected).will_retry
    with pytest.raises(LocalProtocolError):
        pair.a.ua.reinvite(a_call, HOLD_OFFER, pair.now)  # must wait for OfferRetryDue
    times: dict[str, float] = {}
    for _ in range(500):
        pair.advance(0.01)
        for name, side in (("a", pair.a), ("b", pair.b)):
            if name not in times and side.of(ev.OfferRetryDue):
                times[name] = pair.now - start
        if len(times) == 2:
            break
    assert 2.1 <= times["a"] <= 4.01  # alice owns the Call-ID
    assert 0 <= times["b"] <= 2.01
    pair.b.ua.reinvite(b_call, HOLD_OFFER, pair.now)  # bob retries first and wins
    pair.flush()
    pair.a.ua.answer_offer(a_call, HOLD_ANSWER, pair.now)
    pair.flush()
    assert pair.b.last(ev.RemoteAnswer).sdp == HOLD_ANSWER


def test_offerless_reinvite_asks_for_an_offer():
    pair = call_pair()
    a_call, b_call = _call(pair)
    dialog = pair.b.ua._sessions[b_call].dialog
    reinvite = dialog.create_request("INVITE", headers=[("Contact", "<sip:bob@b.invalid;transport=ws>")])
    reinvite.headers.prepend("Via", "SIP/2.0/WS b.invalid;branch=z9hG4bKofferless")
    pair.a.ua.receive_data(reinvite.to_bytes(), pair.now)
    assert [type(e) for e in pair.a.ua.events()] == [ev.OfferRequested]
    new_offer = OFFER.replace("o=- 1 1", "o=- 1 5")
    pair.a.ua.answer_offer(a_call, new_offer, pair.now)
    ok = list(map(
            __import__("twochat_voice_web.sip.message", fromlist=["x"]).parse_message,
            pair.a.ua.data_to_send(),
        ))
    assert ok[0].status_code == 200 and ok[0].body.decode() == new_offer
    assert pair.a.ua.call_info(a_call).offer_state is OfferState.OFFER_IN_2XX
    ack = dialog.create_ack(reinvite, body=ANSWER.encode(), content_type="application/sdp")
    ack.headers.prepend("Via", "SIP/2.0/WS b.invalid;branch=z9hG4bKack2")
    pair.a.ua.receive_data(ack.to_bytes(), pair.now)
    assert [e.sdp for e in pair.a.ua.events() if isinstance(e, ev.RemoteAnswer)] == [ANSWER]
    assert pair.a.ua.call_info(a_call).offer_state is OfferState.STABLE
    assert pair.a.ua.call_info(a_call).local_sdp == new_offer


def test_unchanged_offer_is_answered_automatically():
    pair = call_pair()
    a_call, _b_call = _call(pair)
    pair.a.ua.reinvite(a_call, OFFER, pair.now)  # same SDP as before: a refresh-like re-INVITE
    pair.flush()
    assert pair.b.of(ev.RemoteOffer) == []
    assert pair.a.last(ev.RemoteAnswer).sdp == ANSWER


# ------------------------------------------------------------------------------------------ session timers


def test_session_timer_refresh_by_update_and_expiry():
    pair = call_pair(alice={"session_expires": 90})
    a_call, b_call = _call(pair)
    invite = pair.b.requests("INVITE")[0]
    assert invite.headers.get("Session-Expires") == "90"
    ok = next(r for r in pair.a.responses(200) if r.cseq.method == "INVITE")
    assert ok.headers.get("Session-Expires") == "90;refresher=uac"
    assert ok.headers.get("Require") == "timer"
    assert pair.a.ua.call_info(a_call).session_interval == 90
    pair.advance(45)
    updates = pair.b.requests("UPDATE")
    assert len(updates) == 1 and not updates[0].body
    assert pair.a.last(ev.SessionRefreshed).local_refresher
    assert not pair.b.last(ev.SessionRefreshed).local_refresher
    pair.keep = lambda direction, m: not (isinstance(m, Request) and m.method == "UPDATE")
    pair.advance(70)  # alice's refreshes are lost: bob ends the call at 90 - 30 s
    ended = pair.b.last(ev.CallEnded)
    assert (ended.call, ended.reason) == (b_call, EndReason.SESSION_EXPIRED)
    assert pair.a.last(ev.CallEnded).reason is EndReason.REMOTE_BYE


def test_422_session_interval_too_small_retries_with_min_se():
    pair = call_pair(alice={"session_expires": 90}, bob={"min_se": 120})
    _call(pair)
    invites = pair.b.requests("INVITE")
    assert [i.headers.get("Session-Expires") for i in invites] == ["90", "120"]
    assert pair.a.last(ev.CallAnswered)


# ------------------------------------------------------------------------------------------ other requests


def test_dtmf_info_both_encodings():
    pair = call_pair()
    a_call, b_call = _call(pair)
    pair.a.ua.send_dtmf_info(a_call, "5", pair.now, duration_ms=200)
    pair.flush()
    digit = pair.b.last(ev.DtmfInfoReceived)
    assert (digit.call, digit.digit, digit.duration_ms) == (b_call, "5", 200)
    pair.a.ua.send_info(a_call, "application/dtmf", b"#", pair.now)
    pair.flush()
    assert pair.b.last(ev.DtmfInfoReceived).digit == "#"
    pair.a.ua.send_info(a_call, "application/x-custom", b"hello", pair.now)
    pair.flush()
    assert pair.b.last(ev.InfoReceived).request.body == b"hello"
    with pytest.raises(LocalProtocolError):
        pair.a.ua.send_dtmf_info(a_call, "X", pair.now)


def test_options_answered_and_unknown_methods_refused():
    pair = call_pair()
    handles = {
        method: pair.a.ua.send_request(method, bob_uri(), pair.now)
        for method in ("OPTIONS", "MESSAGE", "FOOBAR", "INFO")
    }
    pair.flush()
    codes = {e.handle: e.response.status_code for e in pair.a.of(ev.ResponseReceived)}
    assert codes[handles["OPTIONS"]] == 200
    assert codes[handles["MESSAGE"]] == 405
    assert codes[handles["FOOBAR"]] == 501
    assert codes[handles["INFO"]] == 481  # out of dialog
    ok = next(r for r in pair.a.responses(200) if r.cseq.method == "OPTIONS")
    assert "INVITE" in (ok.headers.get("Allow") or "")


def test_in_dialog_request_for_unknown_dialog_gets_481():
    pair2 = call_pair()
    a2, _ = _call(pair2)
    pair2.b.ua._sessions.clear()
    pair2.b.ua._by_dialog.clear()
    pair2.a.ua.send_dtmf_info(a2, "1", pair2.now)
    pair2.flush()
    assert pair2.a.last(ev.CallEnded).reason is EndReason.DIALOG_LOST


def test_lower_cseq_in_dialog_gets_500():
    pair = call_pair()
    a_call, _b_call = _call(pair)
    dialog = pair.a.ua._sessions[a_call].dialog
    dialog.local_seq = 0  # the next request reuses a low CSeq
    pair.a.ua.send_dtmf_info(a_call, "1", pair.now)
    pair.flush()
    assert [r.status_code for r in pair.a.responses() if r.cseq.method == "INFO"] == [500]


def test_proxy_authentication_on_invite_and_ack_carries_credentials():
    pair = call_pair()
    rng = random.Random(3)
    from twochat_voice_web.server.digest import DigestServer

    server = DigestServer("example.com", b"s" * 32, random_bytes=rng.randbytes)
    challenged: list[str] = []

    def challenge_first(direction, message):
        if (
            direction == "a->b"
            and isinstance(message, Request)
            and message.method == "INVITE"
            and not challenged
        ):
            challenged.append(message.call_id)
            from twochat_voice_web.sip.message import make_response

            resp = make_response(
                message,
                407,
                to_tag="proxy1",
                headers=[("Proxy-Authenticate", str(server.challenge(pair.now)[0]))],
            )
            pair.a.ua.receive_data(resp.to_bytes(), pair.now)
            return False
        return True

    pair.keep = challenge_first
    _call(pair)
    invites = pair.b.requests("INVITE")
    assert len(invites) == 1 and "Proxy-Authorization" in invites[0].headers
    ack = pair.b.requests("ACK")[-1]
    assert ack.headers.get("Proxy-Authorization") == invites[0].headers.get("Proxy-Authorization")
    assert pair.a.last(ev.CallAnswered)


def test_incoming_calls_are_distinguished_and_merged_requests_refused():
    pair = call_pair()
    call = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER)
    raw = pair.a.ua.data_to_send()[0]
    pair.b.ua.receive_data(raw, pair.now)
    pair.b.ua.receive_data(
        raw.replace(b"branch=z9hG4bK", b"branch=z9hG4bKx"), pair.now
    )  # same call, new branch
    out = pair.b.ua.data_to_send()
    assert any(b"SIP/2.0 482" in m for m in out)
    assert len([e for e in pair.b.ua.events() if isinstance(e, ev.IncomingCall)]) == 1
    assert call


# ------------------------------------------------------------------------------------------ hostile input


def test_garbage_and_malformed_requests_are_rejected_not_raised():
    ua = UserAgent(config("bob"), rng=random.Random(5))
    ua.receive_data(b"\x00\xff garbage", 1.0)
    assert ua.data_to_send() == []
    bad = (
        b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKq\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 99\r\n\r\nshort"
    )
    ua.receive_data(bad, 1.0)
    out = ua.data_to_send()
    assert len(out) == 1 and out[0].startswith(b"SIP/2.0 400 ")
    assert b"Warning: 399" in out[0]
    rejected = [e for e in ua.events() if isinstance(e, ev.MessageRejected)]
    assert [r.status_code for r in rejected] == [None, 400]
    huge = bad.replace(b"short", b"x" * 99).replace(
        b"Content-Length: 99", b"Content-Length: 99\r\nX-Big: " + b"y" * 70000
    )
    ua.receive_data(huge, 1.0)
    assert ua.data_to_send()[0].startswith(b"SIP/2.0 513 ")


def test_bad_contact_on_invite_answers_400():
    ua = UserAgent(config("bob"), rng=random.Random(5))
    msg = (
        b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKq\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c1\r\nCSeq: 1 INVITE\r\n"
        b"Contact: <<<nonsense\r\nContent-Length: 0\r\n\r\n"
    )
    ua.receive_data(msg, 1.0)
    out = ua.data_to_send()
    assert out and out[0].startswith(b"SIP/2.0 400")
    assert ua.calls == []


def test_requires_unknown_extension_gets_420_and_zero_max_forwards_483():
    ua = UserAgent(config("bob"), rng=random.Random(5))
    base = (
        "OPTIONS sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bK{b}\r\n"
        "From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: c{b}\r\nCSeq: 1 {m}\r\n{extra}"
        "Content-Length: 0\r\n\r\n"
    )
    ua.receive_data(base.format(b=1, m="OPTIONS", extra="Require: 100rel, foo\r\n").encode(), 1.0)
    out = ua.data_to_send()
    assert out[0].startswith(b"SIP/2.0 420") and b"Unsupported: 100rel, foo" in out[0]
    ua.receive_data(
        base.format(b=2, m="OPTIONS", extra="Max-Forwards: 0\r\n")
        .replace("OPTIONS sip", "MESSAGE sip")
        .replace("1 OPTIONS", "1 MESSAGE")
        .encode(),
        1.0,
    )
    assert ua.data_to_send()[0].startswith(b"SIP/2.0 483")


def test_api_refuses_bad_headers_before_sending():
    ua = UserAgent(config("alice"), rng=random.Random(5))
    with pytest.raises(LocalProtocolError):
        ua.invite(bob_uri(), 1.0, sdp=OFFER, headers=[("X-Evil", "a\r\nInjected: yes")])
    with pytest.raises(LocalProtocolError):
        ua.invite(bob_uri(), 1.0, sdp=OFFER, headers=[("Bad Name", "x")])
    assert ua.data_to_send() == []
    assert ua.calls == []


def test_unparseable_request_with_a_bad_call_id_gets_no_unparseable_answer():
    ua = UserAgent(config("bob"), rng=random.Random(5))
    bad = (
        b"INVITE sip:bob@example.com SIP/2.0\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKq\r\n"
        b"From: <sip:a@b>;tag=1\r\nTo: <sip:bob@example.com>\r\n"
        b"Call-ID: bad id with spaces\r\nCSeq: 1 INVITE\r\n"
        b"Content-Length: 99\r\n\r\nshort"
    )
    ua.receive_data(bad, 1.0)
    assert ua.data_to_send() == []
    assert [type(e) for e in ua.events()] == [ev.MessageRejected]


def test_invite_to_a_contact_while_addressing_the_user():
    pair = call_pair()
    contact = bob_uri().with_param("transport", "ws")
    pair.a.ua.invite(contact, pair.now, sdp=OFFER, to_uri=bob_uri())
    pair.flush()
    invite = pair.b.requests("INVITE")[0]
    assert str(invite.uri) == "sip:bob@example.com;transport=ws"
    assert str(invite.to.uri) == "sip:bob@example.com"


def test_dtmf_relay_numeric_signals_and_flash():
    """application/dtmf-relay (the de facto format, e.g. Cisco/Asterisk): ``Signal=`` is a key or its
    RFC 4733 event number; 10 = ``*``, 11 = ``#``, 12-15 = A-D. 16 is hook flash (RFC 4733 §3.2), not a
    DTMF key: it must arrive as a plain INFO, answered 200, never as a digit nor as an error."""
    pair = call_pair()
    a_call, b_call = _call(pair)
    for signal, key in (("10", "*"), ("11", "#"), ("12", "A"), ("15", "D"), ("d", "D")):
        body = f"Signal={signal}\r\nDuration=160\r\n".encode()
        pair.a.ua.send_info(a_call, "application/dtmf-relay", body, pair.now)
        pair.flush()
        assert pair.b.last(ev.DtmfInfoReceived).digit == key, signal
    pair.a.ua.send_info(a_call, "application/dtmf-relay", b"Signal=16\r\nDuration=160\r\n", pair.now)
    pair.flush()
    info = pair.b.last(ev.InfoReceived)
    assert info.call == b_call and info.request.body.startswith(b"Signal=16")
    answers = [r for r in pair.a.responses() if str(r.headers.get("CSeq")).endswith("INFO")]
    assert answers[-1].status_code == 200
