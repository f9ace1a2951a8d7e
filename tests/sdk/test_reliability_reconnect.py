"""Reconnection, media recovery, tokens and bounded waits of Device/Call, in CPython (issue 7).

The in-memory platform of ``fakes.py``: a SIP server made of our own UA behind a fake WebSocket that the
test can drop, refuse or silence. The browser tests in tests/reliability/ prove the same against the real
sandbox and Kamailio; these pin down the orderings and edge cases that are hard to provoke there.
"""

from __future__ import annotations

import asyncio
import itertools
import random
from typing import Any

import pytest
from fakes import FAKE_API, FakePlatform, holds_for, make_token, new_device, serve_calls, wait_until
from fakes import registered_device as registered

from twochat_voice_web import Device
from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.message import Request

API = FAKE_API


def recorder(emitter: Any, *names: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    for name in names:
        emitter.on(name, lambda *args, _n=name: seen.append((_n, args[0] if args else None)))
    return seen








def sent_after(platform: FakePlatform, index: int) -> list[str]:
    """Methods (and response codes) the server received after message number ``index``."""
    out = []
    for message in platform.server.received[index:]:
        out.append(message.method if isinstance(message, Request) else str(message.status_code))
    return out


async def answered(call: Any) -> None:
    """Wait (with a deadline) until the server's answer reached the call."""
    await wait_until(lambda: call.status == "accepted", what="the call to be answered")


def drop(platform: FakePlatform) -> None:
    """The network drops the Device's connection."""
    assert platform.connection is not None
    platform.connection.drop()


async def go_offline(device: Device, platform: FakePlatform) -> None:
    platform.refuse_connections = True
    drop(platform)
    await wait_until(lambda: device.state == "reconnecting", what="reconnecting")


async def come_back(device: Device, platform: FakePlatform) -> None:
    platform.refuse_connections = False
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: device.state == "registered")


# ------------------------------------------------------------------------------------------ reconnect


async def test_register_while_reconnecting_waits_for_the_reconnect_and_opens_no_second_socket() -> None:
    device, platform = await registered(reconnect_min_ms=300, reconnect_max_ms=300)
    await go_offline(device, platform)
    connections = platform.connections
    mark = len(platform.server.received)
    registering = asyncio.ensure_future(device.register())  # the app reacting to "reconnecting" (§B-5)
    # while the server refuses connections, a register() that did not wait for the reconnect would fail
    # (or finish) at once: a few event-loop turns
    await holds_for(lambda: not registering.done(), seconds=0.1, what="register() waiting")
    platform.refuse_connections = False
    await asyncio.wait_for(registering, 10.0)
    assert device.state == "registered"
    # a second WebSocket (or REGISTER) would follow within a few event-loop turns of the first
    await holds_for(
        lambda: platform.connections == connections + 1, seconds=0.3, what="a single new WebSocket"
    )
    assert device.state == "registered"
    assert sent_after(platform, mark).count("REGISTER") == 1  # preemptive credentials: no new challenge


async def test_hangup_while_offline_sends_the_bye_after_the_register() -> None:
    device, platform = await registered(reconnect_min_ms=1000, reconnect_max_ms=1000)
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    await go_offline(device, platform)
    mark = len(platform.server.received)
    ending = asyncio.ensure_future(call.disconnect())
    # at once: before the network comes back (the server refuses every connection until come_back())
    await wait_until(lambda: platform.peers[0].closed, what="the media to be released while offline")
    await come_back(device, platform)
    await asyncio.wait_for(ending, 10.0)
    await wait_until(lambda: "BYE" in sent_after(platform, mark))
    methods = sent_after(platform, mark)
    assert methods.index("REGISTER") < methods.index("BYE")
    assert call.status == "disconnected"
    assert any(isinstance(e, ev.CallEnded) for e in platform.server.events)


async def test_hold_and_info_dtmf_while_offline_go_out_after_reconnecting() -> None:
    device, platform = await registered(dtmf_transport="info", reconnect_min_ms=800, reconnect_max_ms=800)
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    await go_offline(device, platform)
    mark = len(platform.server.received)
    holding = asyncio.ensure_future(call.hold(True))
    call.send_digits("7")
    peer = platform.peers[0]
    await wait_until(lambda: peer.state == "have-local-offer", what="the hold's offer, made while offline")
    await come_back(device, platform)
    await asyncio.wait_for(holding, 10.0)
    await wait_until(lambda: any(isinstance(e, ev.DtmfInfoReceived) for e in platform.server.events))
    assert call.is_on_hold()
    # the ICE restart's re-INVITE may follow the INFO: wait for it rather than read the count at once
    await wait_until(lambda: sent_after(platform, mark).count("INVITE") >= 2, what="both re-INVITEs")
    methods = sent_after(platform, mark)
    assert methods[0] == "REGISTER"
    assert methods.count("INVITE") == 2, methods  # the hold, then the ICE restart that refreshes the target
    assert call.status == "accepted"
    await call.disconnect()


async def test_far_side_bye_after_reconnect_reaches_the_call() -> None:
    device, platform = await registered()
    server_calls = serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    seen = recorder(call, "reconnecting", "reconnected", "disconnect")
    await go_offline(device, platform)
    await come_back(device, platform)
    await wait_until(lambda: ("reconnected", None) in seen)
    platform.server.call("hangup", server_calls[0])
    await wait_until(lambda: call.ended)
    assert seen[-1] == ("disconnect", {"reason": "remote", "status_code": None})


async def test_a_dialog_the_server_lost_ends_cleanly_as_dialog_lost() -> None:
    device, platform = await registered()
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    errors: list[VoiceSDKError] = []
    call.on("error", errors.append)
    seen = recorder(call, "disconnect", "failed")
    await go_offline(device, platform)

    def lose_dialog(event: ev.Event) -> None:
        if isinstance(event, ev.RemoteOffer):
            platform.server.call("reject_offer", event.call, status_code=481)

    platform.server.on_event = lose_dialog
    await come_back(device, platform)
    await wait_until(lambda: call.ended)
    assert seen == [("disconnect", {"reason": "dialog-lost", "status_code": 481})]
    assert call.status == "disconnected"
    assert platform.peers[0].closed and platform.media.opened[0].stopped
    assert device.state == "registered" and device.calls == []


async def test_rotated_sip_password_is_refetched_once_and_only_then() -> None:
    device, platform = await registered(reconnect_min_ms=50, reconnect_max_ms=100)
    assert len(platform.fetches) == 1
    drop(platform)
    await wait_until(lambda: device.state == "registered")
    assert len(platform.fetches) == 1, "a plain reconnect must not fetch credentials again"
    platform.server.passwords["alice"] = "rotated"
    platform.credentials = {**platform.credentials, "password": "rotated"}
    drop(platform)
    await wait_until(lambda: device.state == "reconnecting")
    await wait_until(lambda: device.state == "registered")
    assert len(platform.fetches) == 2


async def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    device = new_device(FakePlatform(), make_token(), reconnect_min_ms=100, reconnect_max_delay_ms=1600)
    device._reconnection.rng = random.Random(7)
    for attempt in range(12):
        ceiling = min(1.6, 0.1 * 2**attempt)
        delays = [device._reconnection.backoff(attempt) for _ in range(400)]
        assert all(0 <= d <= ceiling for d in delays)
        assert min(delays) < ceiling / 10 and max(delays) > ceiling * 0.9, "full jitter spans [0, ceiling]"
        assert ceiling * 0.4 < sum(delays) / len(delays) < ceiling * 0.6


async def test_reconnect_attempts_follow_the_backoff_until_the_server_returns() -> None:
    device, platform = await registered(reconnect_min_ms=20, reconnect_max_ms=80, reconnect_max_attempts=None)
    attempts: list[float] = []
    delays: list[float] = []
    original = platform.open_signalling
    backoff = device._reconnection.backoff

    async def counting(*args: Any, **kwargs: Any) -> Any:
        attempts.append(asyncio.get_event_loop().time())
        return await original(*args, **kwargs)

    def recording(step: int) -> float:
        delays.append(backoff(step))
        return delays[-1]

    platform.open_signalling = counting  # type: ignore[method-assign]
    device._reconnection.backoff = recording  # type: ignore[method-assign]
    await go_offline(device, platform)
    # Capped at 80 ms (40 ms on average with full jitter): 10 attempts in well under a second; uncapped
    # doubling would need 0.6 s on average for the 7th alone, and ask for delays far above the cap.
    await wait_until(lambda: len(attempts) >= 10, what="10 reconnect attempts")
    assert max(delays) <= 0.08, delays
    # each attempt waited the delay it was given (a loaded machine can only make the gaps longer)
    gaps = [later - earlier for earlier, later in itertools.pairwise(attempts)]
    assert all(gap >= delay - 0.002 for gap, delay in zip(gaps, delays[1:], strict=False)), (gaps, delays)
    platform.refuse_connections = False
    await wait_until(lambda: device.state == "registered")


# ------------------------------------------------------------------------------------------ media recovery


async def test_ice_failure_with_signalling_up_restarts_ice_once() -> None:
    device, platform = await registered()
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    seen = recorder(call, "reconnecting", "reconnected")
    peer = platform.peers[0]
    on_ice = peer.options.on_ice_state
    assert on_ice is not None
    on_ice("failed")
    await wait_until(lambda: peer.ice_restarts == 1)
    on_ice("connected")
    await wait_until(lambda: ("reconnected", None) in seen)
    assert seen == [("reconnecting", None), ("reconnected", None)]
    assert peer.ice_restarts == 1
    await call.disconnect()


async def test_ice_disconnected_while_offline_waits_for_signalling_then_restarts_once() -> None:
    device, platform = await registered(reconnect_min_ms=1500, reconnect_max_ms=1500)
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    peer = platform.peers[0]
    await go_offline(device, platform)
    assert peer.options.on_ice_state is not None
    peer.options.on_ice_state("failed")
    # an ICE restart starts with create_offer() within a few event-loop turns of the "failed" state; the
    # server refuses connections, so signalling stays down for the whole window
    await holds_for(lambda: peer.ice_restarts == 0, seconds=0.2, what="no offer while signalling is down")
    await come_back(device, platform)
    await wait_until(lambda: peer.ice_restarts == 1)
    # a second restart would follow the first's answer (a few event-loop turns on the in-memory server)
    await holds_for(lambda: peer.ice_restarts == 1, seconds=0.3, what="a single ICE restart")
    assert call.status == "accepted"


# ------------------------------------------------------------------------------------------ tokens


async def test_token_expiry_during_reconnect_is_reported_and_calls_stay() -> None:
    platform = FakePlatform()
    device = new_device(platform, make_token(ttl=0.6), token_expiry_lead_ms=0)
    serve_calls(platform)
    errors: list[VoiceSDKError] = []
    device.on("error", errors.append)
    await device.register()
    call = await device.connect("+15550100")
    await answered(call)
    await go_offline(device, platform)  # the server refuses connections until the token has expired
    await wait_until(lambda: ErrorCode.TOKEN_EXPIRED in [e.code for e in errors], what="TOKEN_EXPIRED")
    assert device.state == "reconnecting"
    await come_back(device, platform)
    assert call.status == "accepted"
    assert len(platform.fetches) == 1, "an expired token needs no credentials while the password works"


# ------------------------------------------------------------------------------------------ bounded waits


async def test_a_registrar_that_never_answers_gives_a_typed_timeout() -> None:
    platform = FakePlatform()
    platform.server.receive = lambda data: None  # type: ignore[method-assign]  # a black hole
    device = new_device(platform, make_token(), register_timeout_ms=300)
    loop = asyncio.get_event_loop()
    started = loop.time()
    with pytest.raises(VoiceSDKError) as info:
        await device.register()
    assert info.value.code is ErrorCode.REGISTRATION_FAILED
    assert isinstance(info.value.cause, VoiceSDKError)
    assert info.value.cause.code is ErrorCode.TIMEOUT
    assert loop.time() - started < 3.0
    assert device.state == "unregistered"


# ------------------------------------------------------------------------------------------ refused refreshes


def refuse_offers(platform: FakePlatform, status: int = 488) -> list[str]:
    offers: list[str] = []

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.RemoteOffer):
            offers.append(event.sdp)
            platform.server.call("reject_offer", event.call, status_code=status)

    platform.server.on_event = on_event
    return offers


async def test_a_refused_refresh_with_media_up_still_ends_the_reconnecting_phase() -> None:
    device, platform = await registered()
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    seen = recorder(call, "reconnecting", "reconnected", "error", "disconnect")
    await go_offline(device, platform)
    offers = refuse_offers(platform)
    await come_back(device, platform)
    await wait_until(lambda: ("reconnected", None) in seen)
    names = [name for name, _ in seen]
    assert names == ["reconnecting", "error", "reconnected"]
    assert seen[1][1].code is ErrorCode.ICE_FAILED
    assert len(offers) == 1 and call.status == "accepted"


async def test_a_refused_ice_restart_with_media_down_is_retried_a_few_times(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from fakes import FakePeer

    import twochat_voice_web.call_recovery as call_module

    class DeadMediaPeer(FakePeer):
        @property
        def ice_state(self) -> str:
            return "failed"

    monkeypatch.setattr(call_module, "ICE_DISCONNECTED_GRACE", 0.05)
    device, platform = await registered()
    serve_calls(platform)
    call = await device.connect("+15550100")
    await answered(call)
    peer = platform.peers[0]
    peer.__class__ = DeadMediaPeer
    offers = refuse_offers(platform)
    assert peer.options.on_ice_state is not None
    peer.options.on_ice_state("failed")
    await wait_until(lambda: len(offers) == 1 + call_module.ICE_RESTART_RETRIES)
    # retries come every ICE_DISCONNECTED_GRACE (0.05 s here): the window holds six of them
    await holds_for(
        lambda: len(offers) == 1 + call_module.ICE_RESTART_RETRIES, seconds=0.3, what="retries must stop"
    )
    assert call.status == "accepted"


async def test_a_deadline_already_past_is_scheduled_on_a_loop_that_refuses_the_past(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Pyodide's WebLoop raises "Can't schedule in the past" from call_at()/call_later(): a busy page
    that pumps after a SIP timer came due must not break the Device (it did, after ~70 calls)."""
    device, _platform = await registered()
    loop = asyncio.get_event_loop()
    original_call_at = loop.call_at

    def strict_call_at(when: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        if when < loop.time():
            raise ValueError("Can't schedule in the past")
        return original_call_at(when, callback, *args, **kwargs)

    def strict_call_later(delay: float, callback: Any, *args: Any, **kwargs: Any) -> Any:
        if delay < 0:
            raise ValueError("Can't schedule in the past")
        return original_call_at(loop.time() + delay, callback, *args, **kwargs)

    monkeypatch.setattr(loop, "call_later", strict_call_later)
    monkeypatch.setattr(loop, "call_at", strict_call_at)
    ua = device._signalling.ua
    assert ua is not None
    fired: list[float] = []
    monkeypatch.setattr(ua, "next_deadline", lambda: loop.time() - 0.5)
    monkeypatch.setattr(ua, "handle_timer", fired.append)
    device._signalling.pump()  # must not raise
    await wait_until(lambda: bool(fired))


# ------------------------------------------------------------------------------------------ leaks


async def test_answered_outbound_calls_leave_nothing_in_the_user_agent() -> None:
    """The INVITE client transaction's Accepted state ends by timer M without any output; its bookkeeping
    must go then (it kept every answered outbound call's session and dialog alive: ~17 objects per call
    in the 100-call browser test)."""
    device, platform = await registered()
    serve_calls(platform)
    for _ in range(3):
        call = await device.connect("+15550100")
        await answered(call)
        await call.disconnect()
    ua = device._signalling.ua
    assert ua is not None
    ua.handle_timer(asyncio.get_event_loop().time() + 64 * 0.5 + 1)  # past timer M (64*T1)
    assert ua._pending == {}
    assert ua._sessions == {}
    assert device.calls == []
