"""POST /sandbox/calls: the sandbox calls a registered client (real aiortc offer), and hangs up on request."""

from __future__ import annotations

import pytest
from sipdriver import SipClient, SipEnv, eventually, run_sip

from twochat_voice_web.sandbox.media import MediaBehaviour, MediaEndpoint
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.events import EndReason


async def _place(env: SipEnv, body: dict[str, object]) -> str:
    status, reply = await env.json("POST", "/sandbox/calls", body)
    assert status == 200, reply
    assert reply["status"] == "calling"
    return str(reply["call_id"])


async def _answer(client: SipClient, incoming: ev.IncomingCall, media: MediaEndpoint) -> None:
    assert incoming.sdp is not None
    answer = await media.answer(incoming.sdp)
    client.act(lambda ua, now: ua.answer(incoming.call, answer, now))
    await client.wait_event(ev.CallAnswered, lambda e: e.call == incoming.call)
    await eventually(lambda: media.stats.connection_state == "connected", "media connected", timeout=30)


def test_inbound_call_rings_is_answered_hears_the_tone_and_the_sandbox_hangs_up_first() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        call_id = await _place(
            env, {"to": "alice", "headers": {"X-2Chat-Ticket-Id": "T-7", "X-2Chat-Queue": "sales"}}
        )
        incoming = await alice.wait_event(ev.IncomingCall)
        request = incoming.request
        assert request.call_id == call_id  # the POST's call_id is the SDK's sip_call_id
        assert request.headers.get("X-2Chat-Ticket-Id") == "T-7"
        assert request.headers.get("X-2Chat-Queue") == "sales"
        assert str(incoming.remote.uri) == "sip:+15550199@sandbox.2chat.test"
        assert incoming.local.uri.user == "alice"  # type: ignore[union-attr]
        alice.act(lambda ua, now: ua.ring(incoming.call, now))
        await env.wait_logged("ringing", call_id=call_id, status_code=180)
        media = env.media(MediaBehaviour.ECHO)
        await _answer(alice, incoming, media)
        await env.wait_logged("answered", call_id=call_id, by="client")
        await eventually(
            lambda: any(w.rms_avg > 1000 for w in media.stats.audio_levels), "the sandbox's tone", timeout=30
        )
        status, body = await env.json("GET", "/sandbox/calls")
        assert [(c["call_id"], c["call_type"], c["state"]) for c in body["calls"]] == [
            (call_id, "sandbox", "answered")
        ]
        status, body = await env.json("DELETE", f"/sandbox/calls/{call_id}")
        assert status == 200
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", call_id=call_id, who="sandbox")
        await eventually(lambda: not env.server.calls, "the call leaves the registry")

    run_sip(scenario)


def test_client_rejects_with_486() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        call_id = await _place(env, {"to": "+15550200", "from": "15557777", "display": "Support"})
        incoming = await alice.wait_event(ev.IncomingCall)
        assert incoming.remote.display_name == "Support"
        assert str(incoming.remote.uri) == "sip:+15557777@sandbox.2chat.test"
        alice.act(lambda ua, now: ua.reject(incoming.call, now, status_code=486))
        rejected = await env.wait_logged("rejected", call_id=call_id)
        assert rejected["status"] == 486
        assert rejected["by"] == "client"

    run_sip(scenario)


def test_caller_hangs_up_first_while_ringing() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        call_id = await _place(env, {"to": "alice", "media": "silence"})
        incoming = await alice.wait_event(ev.IncomingCall)
        alice.act(lambda ua, now: ua.ring(incoming.call, now))
        await env.wait_logged("ringing", call_id=call_id)
        status, _ = await env.json("DELETE", f"/sandbox/calls/{call_id}")
        assert status == 200
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == incoming.call)
        assert ended.reason is EndReason.REMOTE_CANCEL
        await env.wait_logged("cancel", call_id=call_id, by="sandbox", reason="hung up by the sandbox")
        await env.wait_logged("call_ended", call_id=call_id)
        assert not env.logged("rejected", call_id=call_id)

    run_sip(scenario)


def test_fork_answer_timeout_and_hangup_after() -> None:
    async def scenario(env: SipEnv) -> None:
        alice1 = await env.registered("alice")
        alice2 = await env.registered("alice")
        # nobody answers: both forks are cancelled after answer_timeout
        call_id = await _place(env, {"to": "alice", "answer_timeout": 0.5})
        for client in (alice1, alice2):
            ended = await client.wait_event(ev.CallEnded)
            assert ended.reason is EndReason.REMOTE_CANCEL
        await env.wait_logged("cancel", call_id=call_id, reason="answer_timeout")
        # the second registration answers; the first is cancelled; BYE after hangup_after
        call_id = await _place(env, {"to": "alice", "hangup_after": 0.5})
        in1 = await alice1.wait_event(ev.IncomingCall, lambda e: e.request.call_id == call_id)
        in2 = await alice2.wait_event(ev.IncomingCall, lambda e: e.request.call_id == call_id)
        await _answer(alice2, in2, env.media())
        cancelled = await alice1.wait_event(ev.CallEnded, lambda e: e.call == in1.call)
        assert cancelled.reason is EndReason.REMOTE_CANCEL
        ended = await alice2.wait_event(ev.CallEnded, lambda e: e.call == in2.call)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", call_id=call_id, who="sandbox", reason="hangup_after")

    run_sip(scenario)


def test_client_hangs_up_and_holds() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        call_id = await _place(env, {"to": "alice"})
        incoming = await alice.wait_event(ev.IncomingCall)
        media = env.media()
        await _answer(alice, incoming, media)
        hold = (await media.create_offer()).replace("a=sendrecv", "a=sendonly")
        alice.act(lambda ua, now: ua.reinvite(incoming.call, hold, now))
        answer = await alice.wait_event(ev.RemoteAnswer)
        assert "a=recvonly" in answer.sdp
        await media.accept_answer(answer.sdp)
        await env.wait_logged("hold", call_id=call_id, on_hold=True)
        alice.act(lambda ua, now: ua.hangup(incoming.call, now))
        await env.wait_logged("bye", call_id=call_id, who="client")

    run_sip(scenario)


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"to": "nobody"}, 404, "no sandbox user"),
        ({"to": "bob"}, 409, "no SIP registration"),
        ({}, 400, "'to'"),
        ({"to": "alice", "headers": {"X-Other": "1"}}, 400, "only X-2Chat-*"),
        ({"to": "alice", "headers": {"X-2Chat-A": "a\r\nB: c"}}, 400, "CR"),
        ({"to": "alice", "media": "video"}, 400, "'media'"),
        ({"to": "alice", "hangup_after": -1}, 400, "hangup_after"),
        ({"to": "alice", "from": 5}, 400, "'from'"),
    ],
)
def test_bad_requests(body: dict[str, object], status: int, needle: str) -> None:
    async def scenario(env: SipEnv) -> None:
        await env.registered("alice")
        got, reply = await env.json("POST", "/sandbox/calls", body)
        assert got == status
        assert reply["success"] is False
        assert needle in reply["error_message"]

    run_sip(scenario)


def test_delete_unknown_call_is_404_and_non_json_is_400() -> None:
    async def scenario(env: SipEnv) -> None:
        status, _ = await env.json("DELETE", "/sandbox/calls/nope")
        assert status == 404
        response = await env.http.post("/sandbox/calls", data=b"not json")
        assert response.status == 400

    run_sip(scenario)
