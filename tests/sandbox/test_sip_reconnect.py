"""Calls survive a client's WebSocket loss: re-REGISTER on a new connection re-attaches the client's agent.

Field lesson SIP.js #1088: after the reconnect, in-dialog requests in both directions must work — the
client's re-INVITE (ICE restart) and BYE, and a BYE from the far side reaching the client on its new flow.
"""

from __future__ import annotations

import asyncio

from sipdriver import SipClient, SipEnv, eventually, fake_answer, fake_offer, run_sip

from twochat_voice_web.sandbox.media import MediaBehaviour
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.events import EndReason, RegistrationState
from twochat_voice_web.sip.message import Request


async def _answered(env: SipEnv, alice: SipClient, bob: SipClient) -> tuple[str, ev.IncomingCall]:
    handle = alice.call("bob", fake_offer())
    incoming = await bob.wait_event(ev.IncomingCall)
    bob.act(lambda ua, now: ua.answer(incoming.call, fake_answer(), now))
    await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
    await bob.wait_event(ev.CallAnswered, lambda e: e.call == incoming.call)
    return handle, incoming


async def _reregistered(client: SipClient, mark: int) -> None:
    await eventually(
        lambda: any(
            e.state is RegistrationState.REGISTERED for e in client.of(ev.RegistrationChanged)[mark:]
        ),
        "re-registered",
    )


def test_call_survives_a_network_drop_reinvite_and_far_side_bye_after_reconnect() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        call_id = alice.call_id(handle)
        # the sandbox drops alice's TCP connection (network loss)
        status, body = await env.json("POST", "/sandbox/drop", {"user": "alice"})
        assert (status, body["dropped"]) == (200, 1)
        await alice.closed_by_server.wait()
        closed = await env.wait_logged("connection_closed", user="alice")
        assert closed["calls"] == 1
        await env.wait_logged("unregister", user="alice", reason="connection_closed")
        assert alice.ua.calls == [handle]
        # new connection, same instance: the agent (and its dialogs) is re-attached
        mark = len(alice.of(ev.RegistrationChanged))
        await alice.reconnect()
        await _reregistered(alice, mark)
        reconnected = await env.wait_logged("reconnected", user="alice")
        assert reconnected["calls"] == 1
        assert reconnected["instance"] == alice.ua.instance_id
        register = env.logged("register", user="alice")[-1]
        assert register["reconnect"] is True
        # re-INVITE with an ICE restart from the client reaches bob
        alice.act(lambda ua, now: ua.reinvite(handle, fake_offer(2, ufrag="rest"), now))
        offer = await bob.wait_event(ev.RemoteOffer, lambda e: e.call == incoming.call)
        assert "ice-ufrag:rest" in offer.sdp
        bob.act(lambda ua, now: ua.answer_offer(incoming.call, fake_answer(2), now))
        await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)
        restart = await env.wait_logged("reinvite", call_id=call_id, by="caller")
        assert restart["ice_restart"] is True
        # the far side hangs up: the BYE reaches alice on her new connection
        bob.act(lambda ua, now: ua.hangup(incoming.call, now))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", call_id=call_id, who="callee")

    run_sip(scenario)


def test_requests_queued_while_offline_follow_the_register_and_the_client_bye_works() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        await alice.drop()  # the client notices first
        await env.wait_logged("connection_closed", user="alice")
        # while offline the client queues a re-INVITE; it goes out right behind the REGISTER
        alice.act(lambda ua, now: ua.reinvite(handle, fake_offer(2, ufrag="gone"), now))
        await alice.reconnect()
        offer = await bob.wait_event(ev.RemoteOffer, lambda e: e.call == incoming.call)
        assert "ice-ufrag:gone" in offer.sdp
        bob.act(lambda ua, now: ua.answer_offer(incoming.call, fake_answer(2), now))
        await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)
        assert not alice.responses(481)
        alice.act(lambda ua, now: ua.hangup(handle, now))
        ended = await bob.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert ended.reason is EndReason.REMOTE_BYE

    run_sip(scenario)


def test_far_side_bye_while_offline_is_delivered_after_the_reconnect() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        await alice.drop()
        await env.wait_logged("connection_closed", user="alice")
        bob.act(lambda ua, now: ua.hangup(incoming.call, now))
        await env.wait_logged("bye", who="callee")
        assert alice.ua.calls == [handle]
        await alice.reconnect()
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REMOTE_BYE

    run_sip(scenario)


def test_a_client_that_does_not_come_back_is_hung_up_after_the_grace_period() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        await alice.drop()
        ended = await bob.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert ended.reason is EndReason.REMOTE_BYE
        expired = await env.wait_logged("grace_expired", user="alice")
        assert expired["calls"] == 1
        await eventually(lambda: not env.server.calls, "no live call")
        assert ("alice", alice.ua.instance_id) not in env.server.agents
        # coming back later: a fresh registration; the old dialog is gone (481)
        await alice.reconnect()
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await eventually(lambda: alice.responses(481, "BYE"), "481 for the forgotten dialog")

    run_sip(scenario, settings={"grace_period": 0.5})


def test_a_new_flow_of_the_same_instance_replaces_a_stale_one() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        await alice.switch_connection()  # the server still thinks the old WebSocket is fine
        replaced = await env.wait_logged("connection_replaced")
        await env.wait_logged("reconnected", user="alice", calls=1)
        await eventually(lambda: len(env.server.connections) == 2, "the stale connection is closed")
        _status, body = await env.json("GET", "/sandbox/registrations")
        alice_rows = [r for r in body["registrations"] if r["user"] == "alice"]
        assert len(alice_rows) == 1
        assert alice_rows[0]["connection"] == replaced["by"]
        bob.act(lambda ua, now: ua.hangup(incoming.call, now))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REMOTE_BYE

    run_sip(scenario)


def test_another_user_cannot_take_over_an_instance() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, _incoming = await _answered(env, alice, bob)
        await alice.drop()
        await env.wait_logged("connection_closed", user="alice")
        # bob registers with alice's instance id: a binding of bob's own, alice's agent is untouched
        await env.registered("bob", instance_id=alice.ua.instance_id)
        assert not env.logged("reconnected")
        assert ("alice", alice.ua.instance_id) in env.server.agents
        await alice.reconnect()
        await env.wait_logged("reconnected", user="alice", calls=1)
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await env.wait_logged("bye", who="caller")

    run_sip(scenario)


def test_a_test_number_call_survives_a_reconnect() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.TONE)
        offer = await media.create_offer()
        handle = alice.call("+15550100", offer)
        answered = await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        assert answered.sdp is not None
        await media.accept_answer(answered.sdp)
        await eventually(lambda: media.stats.connection_state == "connected", "media connected", timeout=30)
        call_id = alice.call_id(handle)
        await env.json("POST", "/sandbox/drop", {"user": "alice", "mode": "close"})
        await alice.closed_by_server.wait()
        await alice.reconnect()
        await env.wait_logged("reconnected", user="alice", calls=1)
        reoffer = await media.create_offer()
        alice.act(lambda ua, now: ua.reinvite(handle, reoffer, now))
        answer = await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)
        await media.accept_answer(answer.sdp)
        await env.wait_logged("reinvite", call_id=call_id, status=200)
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await env.wait_logged("bye", call_id=call_id, who="caller")

    run_sip(scenario)


def test_requests_behind_a_challenged_register_wait_for_the_authentication() -> None:
    async def scenario(env: SipEnv) -> None:
        env.server.registrar.set_nonce_ttl(1.5)
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        handle, incoming = await _answered(env, alice, bob)
        await alice.drop()
        await env.wait_logged("connection_closed", user="alice")
        # the cached nonce is now stale: the REGISTER gets a 401 first. A timer test: time must pass beyond
        # the nonce TTL (1.5 s) and a loaded machine only makes more pass; a stale nonce never turns fresh
        await asyncio.sleep(2.0)
        alice.act(lambda ua, now: ua.reinvite(handle, fake_offer(2, ufrag="late"), now))
        await alice.reconnect()
        offer = await bob.wait_event(ev.RemoteOffer, lambda e: e.call == incoming.call)
        assert "ice-ufrag:late" in offer.sdp
        stale = [
            r
            for r in alice.responses(401, "REGISTER")
            if "stale=true" in (r.headers.get("WWW-Authenticate") or "")
        ]
        assert stale
        # the re-INVITE went out between the stale REGISTER and the authenticated one, and was held
        methods = [m.method for m in alice.sent if isinstance(m, Request)]
        assert methods[-3:] == ["REGISTER", "INVITE", "REGISTER"]
        assert not alice.responses(481)
        bob.act(lambda ua, now: ua.answer_offer(incoming.call, fake_answer(2), now))
        await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)

    run_sip(scenario)
