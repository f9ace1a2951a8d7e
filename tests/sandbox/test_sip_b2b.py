"""Calls between registered users through the back-to-back bridge (fake SDP: the media is the peers')."""

from __future__ import annotations

from sipdriver import SipClient, SipEnv, eventually, fake_answer, fake_offer, run_sip

from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.events import EndReason


async def _ringing_call(env: SipEnv, caller: SipClient, callee: SipClient, target: str = "bob", **kw: object):
    handle = caller.call(target, fake_offer(), **kw)  # type: ignore[arg-type]
    incoming = await callee.wait_event(ev.IncomingCall)
    callee.act(lambda ua, now: ua.ring(incoming.call, now))
    await caller.wait_event(ev.CallProgress, lambda e: e.call == handle and e.status_code == 180)
    return handle, incoming


async def _answered_call(
    env: SipEnv, caller: SipClient, callee: SipClient, target: str = "bob", **kw: object
):
    handle, incoming = await _ringing_call(env, caller, callee, target, **kw)
    callee.act(lambda ua, now: ua.answer(incoming.call, fake_answer(), now))
    await caller.wait_event(ev.CallAnswered, lambda e: e.call == handle)
    await callee.wait_event(ev.CallAnswered, lambda e: e.call == incoming.call)
    return handle, incoming


def test_call_rings_answers_and_bye_is_relayed() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _ringing_call(
            env, alice, bob, headers=[("X-2Chat-Ticket-Id", "T-42"), ("X-Other", "dropped")]
        )
        request = incoming.request
        call_id = alice.call_id(handle)
        assert request.call_id == call_id  # one Call-ID end to end
        assert request.headers.get("X-2Chat-Ticket-Id") == "T-42"
        assert "X-Other" not in request.headers
        assert request.body.decode() == fake_offer()  # the offer, unchanged
        assert incoming.remote.uri.user == "alice"  # type: ignore[union-attr]
        assert incoming.local.uri.user == "bob"  # type: ignore[union-attr]
        bob.act(lambda ua, now: ua.answer(incoming.call, fake_answer(), now))
        answered = await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        assert answered.sdp == fake_answer()
        await env.wait_logged("answered", call_id=call_id, by="callee")
        started = await env.wait_logged("call_started", call_id=call_id)
        assert started["headers"] == {"X-2Chat-Ticket-Id": "T-42"}
        _status, body = await env.json("GET", "/sandbox/calls")
        assert [(c["call_type"], c["state"]) for c in body["calls"]] == [("user", "answered")]
        alice.act(lambda ua, now: ua.hangup(handle, now))
        ended = await bob.wait_event(ev.CallEnded)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", call_id=call_id, who="caller")
        assert len(env.logged("call_ended", call_id=call_id)) == 1

    run_sip(scenario)


def test_callee_bye_reaches_the_caller() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered_call(env, alice, bob)
        bob.act(lambda ua, now: ua.hangup(incoming.call, now))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", who="callee")

    run_sip(scenario)


def test_caller_cancel_is_relayed() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _ringing_call(env, alice, bob)
        alice.act(lambda ua, now: ua.hangup(handle, now))
        ended = await bob.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert ended.reason is EndReason.REMOTE_CANCEL
        mine = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert mine.status_code == 487
        await env.wait_logged("cancel", by="caller")

    run_sip(scenario)


def test_callee_rejection_is_relayed_and_offline_users_get_480() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        handle = alice.call("bob")
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.status_code == 480
        await env.wait_logged("rejected", status=480, reason="the user has no registration")
        bob = await env.registered("bob")
        handle = alice.call("bob")
        incoming = await bob.wait_event(ev.IncomingCall)
        bob.act(lambda ua, now: ua.reject(incoming.call, now, status_code=486))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REJECTED
        assert ended.status_code == 486
        await env.wait_logged("rejected", status=486, by="callee")

    run_sip(scenario)


def test_callee_found_by_number_and_by_uuid_and_caller_id_presented() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        bob_uuid = env.state.users.by_sip_username("bob").uuid  # type: ignore[union-attr]
        for target in ("+15550210", "15550210", bob_uuid):
            handle = alice.call(target, headers=[("X-2Chat-Caller-Id", "VCI0a1ce0201f4b4d2c9e8a7b61")])
            incoming = await bob.wait_event(
                ev.IncomingCall, lambda e, h=handle: e.request.call_id == alice.call_id(h)
            )
            assert str(incoming.remote.uri) == "sip:+15550201@sandbox.2chat.test"  # alice's support line
            alice.act(lambda ua, now, h=handle: ua.hangup(h, now))
            await bob.wait_event(ev.CallEnded, lambda e, c=incoming.call: e.call == c)
        # a number that is not alice's own is not presented
        handle = alice.call("bob", headers=[("X-2Chat-From", "+15550210")])
        incoming = await bob.wait_event(ev.IncomingCall, lambda e: e.request.call_id == alice.call_id(handle))
        assert str(incoming.remote.uri) == "sip:alice@sandbox.2chat.test"

    run_sip(scenario)


def test_fork_to_two_registrations_first_answer_wins_the_other_is_cancelled() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob1 = await env.registered("bob")
        bob2 = await env.registered("bob")
        handle = alice.call("bob")
        in1 = await bob1.wait_event(ev.IncomingCall)
        in2 = await bob2.wait_event(ev.IncomingCall)
        assert in1.request.call_id == in2.request.call_id == alice.call_id(handle)
        bob1.act(lambda ua, now: ua.ring(in1.call, now))
        bob2.act(lambda ua, now: ua.ring(in2.call, now))
        await alice.wait_event(ev.CallProgress, lambda e: e.status_code == 180)
        bob2.act(lambda ua, now: ua.answer(in2.call, fake_answer(), now))
        await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        cancelled = await bob1.wait_event(ev.CallEnded, lambda e: e.call == in1.call)
        assert cancelled.reason is EndReason.REMOTE_CANCEL
        answered = await env.wait_logged("answered", call_id=alice.call_id(handle))
        assert answered["instance"] == bob2.ua.instance_id
        await env.wait_logged("cancel", reason="answered elsewhere", instance=bob1.ua.instance_id)
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await bob2.wait_event(ev.CallEnded, lambda e: e.call == in2.call)

    run_sip(scenario)


def test_all_forks_failing_relays_the_best_failure() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob1 = await env.registered("bob")
        bob2 = await env.registered("bob")
        handle = alice.call("bob")
        in1 = await bob1.wait_event(ev.IncomingCall)
        in2 = await bob2.wait_event(ev.IncomingCall)
        bob1.act(lambda ua, now: ua.reject(in1.call, now, status_code=480))
        bob2.act(lambda ua, now: ua.reject(in2.call, now, status_code=603))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.status_code == 603  # a 6xx wins

    run_sip(scenario)


def test_hold_reinvite_and_info_are_relayed_both_ways() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered_call(env, alice, bob)
        call_id = alice.call_id(handle)
        # alice holds
        alice.act(lambda ua, now: ua.reinvite(handle, fake_offer(2, direction="sendonly"), now))
        offer = await bob.wait_event(ev.RemoteOffer, lambda e: e.call == incoming.call)
        assert "a=sendonly" in offer.sdp
        bob.act(lambda ua, now: ua.answer_offer(incoming.call, fake_answer(2, direction="recvonly"), now))
        answer = await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)
        assert "a=recvonly" in answer.sdp
        hold = await env.wait_logged("hold", call_id=call_id, by="caller")
        assert hold["on_hold"] is True
        assert hold["direction"] == "sendonly"
        # bob's re-INVITE (ICE restart) is refused by alice: the refusal is relayed
        bob.act(lambda ua, now: ua.reinvite(incoming.call, fake_answer(3).replace("bbbb", "cccc"), now))
        reoffer = await alice.wait_event(ev.RemoteOffer, lambda e: e.call == handle)
        restart = await env.wait_logged("reinvite", call_id=call_id, by="callee")
        assert restart["ice_restart"] is True
        alice.act(lambda ua, now: ua.reject_offer(reoffer.call, now, status_code=488))
        refused = await bob.wait_event(ev.OfferRejected, lambda e: e.call == incoming.call)
        assert refused.status_code == 488
        # INFO both ways: DTMF and other bodies
        alice.act(lambda ua, now: ua.send_dtmf_info(handle, "7", now))
        digit = await bob.wait_event(ev.DtmfInfoReceived)
        assert digit.digit == "7"
        bob.act(lambda ua, now: ua.send_info(incoming.call, "application/json", b'{"hello": 1}', now))
        info = await alice.wait_event(ev.InfoReceived)
        assert info.request.body == b'{"hello": 1}'
        await env.wait_logged("dtmf", call_id=call_id, digit="7", transport="info", by="caller")
        await env.wait_logged("info", call_id=call_id, by="callee")
        # the calls stay up
        assert alice.ua.calls == [handle]
        assert bob.ua.calls == [incoming.call]

    run_sip(scenario)


def test_the_sandbox_can_end_a_bridged_call() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered_call(env, alice, bob)
        call_id = alice.call_id(handle)
        status, _ = await env.json("DELETE", f"/sandbox/calls/{call_id}")
        assert status == 200
        for client, call in ((alice, handle), (bob, incoming.call)):
            ended = await client.wait_event(ev.CallEnded, lambda e, c=call: e.call == c)
            assert ended.reason is EndReason.REMOTE_BYE
        status, _ = await env.json("DELETE", f"/sandbox/calls/{call_id}")
        assert status == 404
        await eventually(lambda: not env.server.calls, "no live call")

    run_sip(scenario)


def test_unanswered_call_times_out_with_408() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _ringing_call(env, alice, bob)
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.status_code == 408
        cancelled = await bob.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert cancelled.reason is EndReason.REMOTE_CANCEL

    run_sip(scenario, settings={"ring_timeout": 2.0})
