"""Calls from a registered client to the test numbers (product.md §6), real aiortc media where it matters.

Timings are checked only as lower bounds (a slow machine makes them longer, never shorter).
"""

from __future__ import annotations

import asyncio

import pytest
from sipdriver import FAKE_OFFER, SipClient, SipEnv, eventually, run_sip

from twochat_voice_web.sandbox.media import MediaBehaviour, MediaEndpoint
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.events import EndReason


async def _answered_call(
    env: SipEnv, client: SipClient, number: str, media: MediaEndpoint, **kwargs: object
) -> tuple[str, ev.CallAnswered]:
    offer = await media.create_offer()
    handle = client.call(number, offer, **kwargs)  # type: ignore[arg-type]
    answered = await client.wait_event(ev.CallAnswered, lambda e: e.call == handle)
    assert answered.sdp is not None
    await media.accept_answer(answered.sdp)
    await _connected(media)
    return handle, answered


async def _connected(media: MediaEndpoint) -> None:
    """ICE+DTLS up (closing an aiortc peer while ICE is still connecting can strand aioice's consent task)."""
    await eventually(lambda: media.stats.connection_state == "connected", "media connected", timeout=30)


@pytest.mark.parametrize(
    ("target", "status", "number"),
    [
        ("+15550102", 486, "+15550102"),
        ("15550102", 486, "+15550102"),
        ("+1-555-0102", 486, "+15550102"),
        ("sip:15550102@sandbox.2chat.test;user=phone", 486, "+15550102"),
        ("+15550104", 603, "+15550104"),
        ("+15550199", 404, None),
        ("nobody", 404, None),
    ],
)
def test_numbers_that_reject(target: str, status: int, number: str | None) -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        handle = alice.call(target)
        call_id = alice.call_id(handle)
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REJECTED
        assert ended.status_code == status
        rejected = await env.wait_logged("rejected", call_id=call_id)
        assert rejected["status"] == status
        if number is not None:
            started = await env.wait_logged("call_started", call_id=call_id)
            assert started["number"] == number
            assert rejected["number"] == number

    run_sip(scenario)


def test_ring_forever_until_cancelled() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        handle = alice.call("+15550103")
        call_id = alice.call_id(handle)
        await alice.wait_event(ev.CallProgress, lambda e: e.status_code == 180)
        await env.wait_logged("ringing", call_id=call_id, status_code=180)
        _status, body = await env.json("GET", "/sandbox/calls")
        assert [(c["call_id"], c["state"], c["number"]) for c in body["calls"]] == [
            (call_id, "ringing", "+15550103")
        ]
        alice.act(lambda ua, now: ua.hangup(handle, now))
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.LOCAL_CANCEL
        assert ended.status_code == 487
        await env.wait_logged("cancel", call_id=call_id, by="caller")
        await env.wait_logged("call_ended", call_id=call_id, reason="remote-cancel")
        await eventually(lambda: not env.server.calls, "the call leaves the registry")

    run_sip(scenario)


def test_echo_answers_with_real_media_records_info_dtmf_and_hold() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.TONE)
        handle, _answered = await _answered_call(
            env, alice, "+15550100", media, headers=[("X-2Chat-From", "+15550200")]
        )
        call_id = alice.call_id(handle)
        assert not alice.of(ev.CallProgress) or all(p.status_code == 100 for p in alice.of(ev.CallProgress))
        started = await env.wait_logged("call_started", call_id=call_id)
        assert started["number"] == "+15550100"
        assert started["headers"] == {"X-2Chat-From": "+15550200"}
        await env.wait_logged("answered", call_id=call_id)
        # the echo sends our tone back
        await eventually(
            lambda: any(w.rms_avg > 1000 for w in media.stats.audio_levels), "the echoed tone", timeout=30
        )
        level = await env.wait_logged("audio_level", call_id=call_id)
        assert level["number"] == "+15550100"
        # DTMF by SIP INFO
        for digit in "5#":
            alice.act(lambda ua, now, d=digit: ua.send_dtmf_info(handle, d, now))
        await env.wait_logged("dtmf", call_id=call_id, digits="5#", transport="info")
        # hold: a sendonly re-offer is answered recvonly and logged
        hold_offer = (await media.create_offer()).replace("a=sendrecv", "a=sendonly")
        alice.act(lambda ua, now: ua.reinvite(handle, hold_offer, now))
        answer = await alice.wait_event(ev.RemoteAnswer, lambda e: e.call == handle)
        assert "a=recvonly" in answer.sdp
        await media.accept_answer(answer.sdp)
        hold = await env.wait_logged("hold", call_id=call_id)
        assert hold["direction"] == "sendonly"
        assert hold["on_hold"] is True
        reinvite = await env.wait_logged("reinvite", call_id=call_id)
        assert reinvite["status"] == 200
        assert reinvite["direction"] == "sendonly"
        # BYE from the client
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await env.wait_logged("bye", call_id=call_id, who="caller")
        await eventually(lambda: not env.server.calls, "the call leaves the registry")

    run_sip(scenario)


def test_ring_then_tone_rings_first_then_answers_with_a_tone() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.SILENCE)
        loop = asyncio.get_running_loop()
        offer = await media.create_offer()
        handle = alice.call("+15550101", offer)
        await alice.wait_event(ev.CallProgress, lambda e: e.status_code == 180)
        rang_at = loop.time()
        answered = await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        assert loop.time() - rang_at > 1.5  # 2 s of ringing (lower bound only)
        assert answered.sdp is not None
        await media.accept_answer(answered.sdp)
        await _connected(media)
        await eventually(
            lambda: any(w.rms_avg > 1000 for w in media.stats.audio_levels), "the 440 Hz tone", timeout=30
        )
        alice.act(lambda ua, now: ua.hangup(handle, now))
        await env.wait_logged("bye", who="caller")

    run_sip(scenario)


def test_tone_then_bye_hangs_up_by_itself() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.SILENCE)
        loop = asyncio.get_running_loop()
        handle, _ = await _answered_call(env, alice, "+15550105", media)
        answered_at = loop.time()
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle, timeout=30)
        assert ended.reason is EndReason.REMOTE_BYE
        assert loop.time() - answered_at > 2.0  # BYE 3 s after the 200 (lower bound only)
        await env.wait_logged("bye", call_id=ended.call, who="number")

    run_sip(scenario)


def test_ivr_collects_digits_sent_as_sip_info() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.SILENCE)
        handle, _ = await _answered_call(env, alice, "+15550106", media)
        call_id = alice.call_id(handle)
        for digit in "12#":
            alice.act(lambda ua, now, d=digit: ua.send_dtmf_info(handle, d, now))
        await env.wait_logged("dtmf", call_id=call_id, digits="12#")
        digits = [e["digit"] for e in env.logged("dtmf", call_id=call_id)]
        assert digits == ["1", "2", "#"]
        assert {e["transport"] for e in env.logged("dtmf", call_id=call_id)} == {"info"}
        status, body = await env.json("GET", "/sandbox/calls")
        assert body["calls"][0]["digits"] == "12#"
        assert body["calls"][0]["behaviour"] == "ivr"
        # the sandbox hangs up (DELETE): the client gets a BYE
        status, body = await env.json("DELETE", f"/sandbox/calls/{call_id}")
        assert status == 200
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.reason is EndReason.REMOTE_BYE
        await env.wait_logged("bye", call_id=call_id, who="sandbox")

    run_sip(scenario)


def test_early_media_183_with_sdp_then_200_with_the_same_sdp() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media(MediaBehaviour.SILENCE)
        loop = asyncio.get_running_loop()
        offer = await media.create_offer()
        handle = alice.call("+15550107", offer)
        early = await alice.wait_event(ev.CallProgress, lambda e: e.status_code == 183)
        early_at = loop.time()
        assert early.sdp is not None
        answered = await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        assert loop.time() - early_at > 1.5
        assert answered.sdp == early.sdp
        await media.accept_answer(answered.sdp)
        await _connected(media)
        await env.wait_logged("ringing", call_id=alice.call_id(handle), status_code=183, early_media=True)

    run_sip(scenario)


def test_an_offer_the_media_endpoint_cannot_use_gets_488() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        handle = alice.call("+15550100", FAKE_OFFER)  # no fingerprint, no candidates
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.status_code == 488
        rejected = await env.wait_logged("rejected", status=488)
        assert "DTLS fingerprint" in rejected["error"] or "candidate" in rejected["error"]

    run_sip(scenario)
