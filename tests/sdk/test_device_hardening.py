"""Issue 14, items 1-4: busy means an accepted call, token timers follow the registration, tokens judged on
the server's clock and refused for another user, and a bounded reconnect policy.

In-memory platform of ``fakes.py`` (a SIP server made of our own UA behind a fake WebSocket). The page's
clock is skewed by giving the Device a :class:`ServerClock` over a shifted wall clock; the fake server's
clock (HTTP ``Date``, the tokens' ``iat``/``exp``) stays ``time.time()``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, cast

import pytest
from fakes import (
    FAKE_API,
    FakePeer,
    FakePlatform,
    holds_for,
    make_token,
    new_device,
    sdp,
    serve_calls,
    wait_until,
)
from fakes import registered_device as registered

from twochat_voice_web import Call, Device
from twochat_voice_web.errors import ErrorCode, RegistrationError, TokenError, VoiceSDKError
from twochat_voice_web.platform import HttpResponse, parse_http_date
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.uri import parse_uri
from twochat_voice_web.token import ServerClock, decode_token

API = FAKE_API


def recorder(emitter: Any, *names: str) -> list[tuple[str, Any]]:
    seen: list[tuple[str, Any]] = []
    for name in names:
        emitter.on(name, lambda *args, _n=name: seen.append((_n, args[0] if args else None)))
    return seen








def ring_in(platform: FakePlatform) -> str:
    """A caller INVITEs the Device (the fake server places the call); its server-side handle."""
    return cast(
        str,
        platform.server.call(
            "invite", parse_uri("sip:alice@sandbox.test"), sdp=sdp(80), headers=[("X-2Chat-Queue", "sales")]
        ),
    )


def final_codes(platform: FakePlatform) -> list[int | None]:
    return [e.status_code for e in platform.server.events if isinstance(e, ev.CallEnded)]


def sent_after(platform: FakePlatform, index: int) -> list[str]:
    return [
        m.method if isinstance(m, Request) else str(m.status_code) for m in platform.server.received[index:]
    ]


# ============================================================================ 1. busy means an accepted call


async def test_two_inbound_calls_ringing_at_once_both_reach_incoming() -> None:
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    rejected = recorder(device, "incomingRejected")
    ring_in(platform)
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 2)
    assert [c.status for c in incoming] == ["pending", "pending"]
    assert not device.is_busy
    assert 486 not in final_codes(platform) and rejected == []
    await incoming[1].accept()
    assert device.is_busy
    assert incoming[0].status == "pending", "a ringing call is not ended by accepting another"
    await incoming[1].disconnect()
    await incoming[0].disconnect()


async def test_an_ignored_call_does_not_make_the_next_caller_busy() -> None:
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 1)
    incoming[0].ignore()
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 2)
    # a 486 would be the Device's answer to the INVITE: at the server within a few event-loop turns
    await holds_for(lambda: 486 not in final_codes(platform), seconds=0.05, what="no 486")


async def test_an_outbound_call_not_yet_answered_does_not_make_the_device_busy() -> None:
    device, platform = await registered()
    platform.server.on_incoming = lambda e: platform.server.call("ring", e.call)  # rings forever
    outbound = await device.connect("+15550103")
    await wait_until(lambda: outbound.status == "ringing")
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 1)
    assert not device.is_busy
    await outbound.disconnect()


async def test_an_accepted_or_held_call_rejects_the_next_caller_with_486_an_event_and_a_log(
    caplog: pytest.LogCaptureFixture,
) -> None:
    device, platform = await registered(log_level="info")
    serve_calls(platform)
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    rejected = recorder(device, "incomingRejected")
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 1)
    await incoming[0].accept()
    with caplog.at_level(logging.INFO, logger="twochat_voice_web"):
        handle = ring_in(platform)
        await wait_until(lambda: len(rejected) == 1)
    assert len(incoming) == 1
    _name, payload = rejected[0]
    assert payload["reason"] == "busy" and payload["status_code"] == 486
    assert payload["custom_headers"] == {"Queue": "sales"}
    assert payload["sip_call_id"] and isinstance(payload["remote_identity"], str)
    await wait_until(lambda: 486 in final_codes(platform))
    ended = [e for e in platform.server.events if isinstance(e, ev.CallEnded) and e.call == handle]
    assert ended[0].status_code == 486
    assert any("486 Busy Here" in r.getMessage() for r in caplog.records), caplog.text
    await incoming[0].hold(True)  # on hold: still busy
    assert device.is_busy
    ring_in(platform)
    await wait_until(lambda: len(rejected) == 2)
    assert len(incoming) == 1
    await incoming[0].disconnect()
    assert not device.is_busy


async def test_allow_incoming_while_busy_delivers_the_caller_and_emits_no_rejection() -> None:
    device, platform = await registered(allow_incoming_while_busy=True)
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    rejected = recorder(device, "incomingRejected")
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 1)
    await incoming[0].accept()
    ring_in(platform)
    await wait_until(lambda: len(incoming) == 2)
    assert rejected == []


# ======================================================================== 2. timers follow the registration


async def test_unregister_stops_the_token_timers_and_register_arms_them_again() -> None:
    platform = FakePlatform()
    device = new_device(platform, make_token(ttl=1.0), token_expiry_lead_ms=700)
    warned: list[float] = []
    errors: list[VoiceSDKError] = []
    device.on("tokenWillExpire", lambda: warned.append(time.monotonic()))
    device.on("error", errors.append)
    await device.register()
    await device.unregister()
    assert device._access_token.timers == []
    # past the warning (0.3 s) and the expiry (1.0 s): timers due in the window run before it ends
    await holds_for(
        lambda: warned == [] and errors == [], seconds=1.2, what="no token timer after unregister"
    )
    await device.update_token(make_token(ttl=3.0))  # unregistered: swapped, but no timer yet
    assert device._access_token.timers == []
    await holds_for(lambda: warned == [], seconds=0.3, what="no warning while unregistered")
    await device.register()
    assert len(device._access_token.timers) == 2
    await wait_until(lambda: len(warned) == 1)  # 2.3 s after the token was minted
    await wait_until(lambda: [e.code for e in errors] == [ErrorCode.TOKEN_EXPIRED])


async def test_destroy_cancels_the_token_timers() -> None:
    device, _platform = await registered(token_expiry_lead_ms=1000)
    timers = list(device._access_token.timers)
    assert len(timers) == 2
    device.destroy()
    assert device._access_token.timers == []
    assert all(cast(asyncio.TimerHandle, timer).cancelled() for timer in timers)


# ============================================================================ 3. tokens


async def test_update_token_for_another_user_is_refused_and_changes_nothing() -> None:
    device, _platform = await registered()
    token = device.token
    timers = list(device._access_token.timers)
    with pytest.raises(TokenError) as info:
        await device.update_token(make_token(sub="USRbob"))
    assert info.value.code is ErrorCode.TOKEN_INVALID
    assert "USRbob" in info.value.message
    assert device.token == token
    assert device._access_token.timers == timers and not any(
        cast(asyncio.TimerHandle, t).cancelled() for t in timers
    )
    await device.update_token(make_token(sub="USRalice", ttl=7200))  # the same user: fine
    assert device.token != token


async def test_update_token_before_register_checks_the_user_too() -> None:
    device = new_device(FakePlatform(), make_token(sub="USRalice"))
    with pytest.raises(TokenError):
        await device.update_token(make_token(sub="USRbob"))
    assert device.token != "" and decode_token(device.token).subject == "USRalice"


def skew_page_clock(device: Device, seconds: float) -> None:
    """The page's clock is ``seconds`` ahead (negative: behind) of the server's."""
    device._access_token.server_clock = ServerClock(wall=lambda: time.time() + seconds)


@pytest.mark.parametrize("skew", [600.0, -600.0])
async def test_token_will_expire_fires_the_lead_before_the_real_expiry_whatever_the_page_clock(
    skew: float,
) -> None:
    """With the page's clock 10 minutes off either way, the HTTP Date of the credentials response gives the
    offset: the warning comes 1.5 s after minting on the server's clock (±0.5 s: Date has 1 s steps).
    Uncorrected, a fast page warns at once and a slow one in 10 minutes."""
    platform = FakePlatform()
    platform.send_date = True
    ttl = 3600.0
    minted = time.time()  # the fake server's clock
    device = new_device(platform, make_token(ttl=ttl), token_expiry_lead_ms=int((ttl - 1.5) * 1000))
    skew_page_clock(device, skew)
    warned: list[float] = []
    device.on("tokenWillExpire", lambda: warned.append(time.time()))
    await device.register()
    await wait_until(lambda: bool(warned), timeout=30.0)
    # ±0.5 s (Date) and half the request time: early by well under 1 s; uncorrected, a fast page warns
    # right after register().
    assert warned[0] - minted >= 0.5, "too early: the page's fast clock was trusted"
    assert abs(device._access_token.server_clock.offset + skew) < 1.5


async def test_a_slow_page_clock_without_a_date_header_is_corrected_by_iat() -> None:
    platform = FakePlatform()  # no Date header (a cross-origin API that does not expose it)
    ttl = 3600.0
    minted = time.time()
    device = new_device(
        platform, make_token(ttl=ttl, iat=minted), token_expiry_lead_ms=int((ttl - 1.5) * 1000)
    )
    skew_page_clock(device, -600.0)
    warned: list[float] = []
    device.on("tokenWillExpire", lambda: warned.append(time.time()))
    await device.register()
    await wait_until(lambda: bool(warned), timeout=30.0)  # uncorrected, it would come in 10 minutes
    assert warned[0] - minted >= 1.4  # iat only moves a slow clock forward up to the truth: never early


async def test_a_fast_page_clock_accepts_a_fresh_short_token_once_the_server_time_is_known() -> None:
    platform = FakePlatform()
    platform.send_date = True
    device = new_device(platform, make_token(ttl=3600))
    skew_page_clock(device, 600.0)
    await device.register()
    await device.update_token(make_token(ttl=120))  # on the page's clock it expired 8 minutes ago
    with pytest.raises(TokenError) as info:
        await device.update_token(make_token(ttl=-5))
    assert info.value.code is ErrorCode.TOKEN_EXPIRED


def test_server_clock_offsets() -> None:
    page = [1000.0]
    clock = ServerClock(wall=lambda: page[0])
    assert clock.now() == 1000.0 and not clock.measured
    clock.observe_issued_at(990.0)  # iat behind the page's clock: an old token or a fast page, unknown
    assert clock.offset == 0.0
    clock.observe_issued_at(1300.0)  # iat ahead: the page's clock is at least 300 s slow
    assert clock.offset == 300.0
    clock.observe_date(1600.0, sent_at=999.0, received_at=1001.0)  # Date: server ~1600.5 at page 1000
    assert clock.measured and clock.offset == 600.5
    clock.observe_date(400.0, sent_at=999.0, received_at=1001.0)  # page fast... but iat bounds it
    assert clock.offset == 300.0
    other = ServerClock(wall=lambda: page[0])
    other.observe_date(400.0, sent_at=999.0, received_at=1001.0)
    assert other.offset == -599.5
    other.observe_date(None, sent_at=999.0, received_at=1001.0)  # no Date: nothing learnt
    other.observe_date(5000.0, sent_at=1001.0, received_at=999.0)  # the page's clock went back
    assert other.offset == -599.5


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Nov 1994 08:49:37 GMT", 784111777.0),
        ("Sunday, 06-Nov-94 08:49:37 GMT", 784111777.0),
        ("Sun Nov  6 08:49:37 1994", 784111777.0),
        ("Mon, 31 Feb 2020 00:00:00 GMT", None),
        ("Sun, 06 Nov 1994 08:49:37 UTC", None),
        ("yesterday", None),
    ],
)
def test_http_dates(text: str, expected: float | None) -> None:
    assert parse_http_date(text) == expected
    assert HttpResponse(200, None, {"Date": text}).date == expected


# ============================================================================ 4. reconnect policy


@pytest.mark.parametrize(
    "options",
    [
        {"reconnect_max_delay_ms": 0},
        {"reconnect_max_delay_ms": 600_001},
        {"reconnect_max_delay_ms": True},
        {"reconnect_max_delay_ms": "20000"},
        {"reconnect_max_attempts": 0},
        {"reconnect_max_attempts": 2.5},
        {"reconnect_max_attempts": False},
        {"reconnect_min_ms": 5000, "reconnect_max_delay_ms": 1000},
        {"reconnect_max_delay_ms": 5000, "reconnect_max_ms": 6000},
        {"reconnect_grace_ms": 0},
    ],
)
def test_reconnect_options_are_validated(options: dict[str, Any]) -> None:
    with pytest.raises(VoiceSDKError) as info:
        new_device(FakePlatform(), **options)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


def test_reconnect_defaults_and_the_former_option_name() -> None:
    device = new_device(FakePlatform())
    options = device._options
    assert (options.reconnect_min_ms, options.reconnect_max_delay_ms) == (500, 20_000)
    assert (options.reconnect_max_attempts, options.reconnect_grace_ms) == (30, 30_000)
    assert all(device._reconnection.backoff(0) <= 0.5 for _ in range(100))
    assert all(device._reconnection.backoff(12) <= 20.0 for _ in range(100))
    assert max(device._reconnection.backoff(12) for _ in range(200)) > 15.0
    assert new_device(FakePlatform(), reconnect_max_ms=4000)._options.reconnect_max_delay_ms == 4000
    forever = new_device(FakePlatform(), reconnect_max_attempts=None)
    assert forever._options.reconnect_max_attempts is None


async def test_after_the_last_attempt_the_device_reports_a_terminal_error_and_is_unregistered() -> None:
    device, platform = await registered(
        reconnect_min_ms=10, reconnect_max_delay_ms=20, reconnect_max_attempts=3
    )
    serve_calls(platform)
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted")
    seen = recorder(device, "reconnecting", "error", "unregistered", "reconnected", "registered")
    call_seen = recorder(call, "error", "disconnect")
    attempts: list[float] = []
    original = platform.open_signalling

    async def counting(*args: Any, **kwargs: Any) -> Any:
        attempts.append(time.monotonic())
        return await original(*args, **kwargs)

    platform.open_signalling = counting  # type: ignore[method-assign]
    platform.refuse_connections = True
    assert platform.connection is not None
    platform.connection.drop()
    await wait_until(lambda: device.state == "unregistered")
    assert len(attempts) == 3
    assert [name for name, _ in seen] == ["reconnecting", "error", "unregistered"]
    error = seen[1][1]
    assert isinstance(error, RegistrationError) and error.code is ErrorCode.REGISTRATION_FAILED
    # the last attempt's failure: the WebSocket could not open (REGISTER_ERROR, transport detail inside)
    last = error.cause
    assert isinstance(last, VoiceSDKError) and last.code is ErrorCode.REGISTER_ERROR
    assert isinstance(last.cause, VoiceSDKError) and last.cause.code is ErrorCode.TRANSPORT_ERROR
    assert "3 attempt" in error.message
    assert call_seen[-1] == ("disconnect", {"reason": "reconnect-failed", "status_code": None})
    assert call.status == "disconnected" and platform.peers[0].closed
    assert device._access_token.timers == []
    for callback in platform.online_callbacks:  # the Device gave up: "online" no longer wakes it
        callback()
    # a woken loop would try at once: an attempt within a few event-loop turns
    await holds_for(
        lambda: device.state == "unregistered" and len(attempts) == 3,
        seconds=0.1,
        what="no attempt on online",
    )
    mark = len(platform.server.received)
    platform.refuse_connections = False
    await device.register()  # the app may try again
    assert device.state == "registered" and len(device._access_token.timers) == 2
    await wait_until(lambda: "BYE" in sent_after(platform, mark))
    methods = sent_after(platform, mark)
    assert methods.index("REGISTER") < methods.index("BYE"), "the far end hears the call is over"


async def test_the_online_event_tries_at_once_even_during_an_attempt_and_restarts_the_backoff() -> None:
    device, platform = await registered(reconnect_max_attempts=None)
    steps: list[int] = []
    device._reconnection.backoff = lambda step: steps.append(step) or 600.0  # type: ignore[method-assign,func-returns-value]
    gate = asyncio.Event()
    attempts: list[float] = []
    original = platform.open_signalling

    async def slow_refusal(*args: Any, **kwargs: Any) -> Any:
        attempts.append(time.monotonic())
        if len(attempts) == 1:
            await gate.wait()  # an attempt in flight when the network comes back
        if platform.refuse_connections:
            raise VoiceSDKError(ErrorCode.TRANSPORT_ERROR, "connection refused")
        return await original(*args, **kwargs)

    platform.open_signalling = slow_refusal  # type: ignore[method-assign]
    platform.refuse_connections = True
    assert platform.connection is not None
    platform.connection.drop()
    await wait_until(lambda: device.state == "reconnecting")
    await holds_for(
        lambda: attempts == [], seconds=0.05, what="the first attempt waiting its back-off (600 s)"
    )
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: len(attempts) == 1)
    for callback in platform.online_callbacks:  # "online" again while that attempt is in flight
        callback()
    gate.set()
    await wait_until(lambda: len(attempts) == 2)  # not after a 600 s back-off
    platform.refuse_connections = False
    await wait_until(lambda: len(steps) >= 2, what="the loop back in its back-off after the second attempt")
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: device.state == "registered")
    assert steps[0] == 0 and steps[-1] == 1, steps  # each "online" starts the back-off again


async def test_a_call_left_reconnecting_ends_after_the_grace_with_a_clear_reason() -> None:
    device, platform = await registered(reconnect_grace_ms=300, reconnect_max_attempts=None)
    device._reconnection.backoff = lambda step: 600.0  # type: ignore[method-assign]
    serve_calls(platform)
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted")
    seen = recorder(call, "reconnecting", "error", "disconnect")
    platform.refuse_connections = True
    assert platform.connection is not None
    platform.connection.drop()
    await wait_until(lambda: call.ended)
    assert [name for name, _ in seen] == ["reconnecting", "error", "disconnect"]
    assert seen[1][1].code is ErrorCode.TRANSPORT_ERROR and "0.3 s" in seen[1][1].message
    assert seen[2][1] == {"reason": "reconnect-failed", "status_code": None}
    assert platform.peers[0].closed and platform.media.live == []
    assert device.state == "reconnecting", "the Device itself keeps trying"
    mark = len(platform.server.received)
    platform.refuse_connections = False
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: device.state == "registered")
    await wait_until(lambda: "BYE" in sent_after(platform, mark))


async def test_a_call_that_reconnects_within_the_grace_stays_up() -> None:
    device, platform = await registered(reconnect_grace_ms=2000, reconnect_max_attempts=None)
    device._reconnection.backoff = lambda step: 600.0  # type: ignore[method-assign]
    serve_calls(platform)
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted")
    seen = recorder(call, "reconnecting", "reconnected", "disconnect")
    assert platform.connection is not None
    platform.connection.drop()
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: ("reconnected", None) in seen)
    # past the grace (2 s from "reconnecting"): the grace timer, had it not stopped, runs within the window
    await holds_for(
        lambda: [name for name, _ in seen] == ["reconnecting", "reconnected"] and call.status == "accepted",
        seconds=2.5,
        what="the call up after the grace",
    )
    await call.disconnect()


async def test_a_slow_refresh_with_signalling_and_media_back_does_not_end_the_call() -> None:
    device, platform = await registered(reconnect_grace_ms=1000, reconnect_max_attempts=None)
    device._reconnection.backoff = lambda step: 600.0  # type: ignore[method-assign]
    serve_calls(platform)
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted")
    offers: list[str] = []
    platform.server.on_event = lambda e: offers.append(e.sdp) if isinstance(e, ev.RemoteOffer) else None
    seen = recorder(call, "reconnecting", "disconnect")
    assert platform.connection is not None
    platform.connection.drop()
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: device.state == "registered" and len(offers) == 1)  # the re-INVITE is unanswered
    # more than twice the grace (1 s): the grace timer, had it ended the call, runs within the window
    await holds_for(
        lambda: [name for name, _ in seen] == ["reconnecting"] and call.status == "accepted",
        seconds=2.5,
        what="the call up while its refresh is slow",
    )
    await call.disconnect()


async def test_a_call_whose_media_does_not_come_back_ends_after_the_grace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import twochat_voice_web.call_recovery as call_module

    class DeadMediaPeer(FakePeer):
        @property
        def ice_state(self) -> str:
            return "failed"

    monkeypatch.setattr(call_module, "ICE_DISCONNECTED_GRACE", 0.05)
    device, platform = await registered(reconnect_grace_ms=600)
    serve_calls(platform)
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted")
    peer = platform.peers[0]
    peer.__class__ = DeadMediaPeer

    def refuse(event: ev.Event) -> None:
        if isinstance(event, ev.RemoteOffer):
            platform.server.call("reject_offer", event.call, status_code=488)

    platform.server.on_event = refuse
    seen = recorder(call, "reconnecting", "disconnect")
    errors: list[VoiceSDKError] = []
    call.on("error", errors.append)
    mark = len(platform.server.received)
    assert peer.options.on_ice_state is not None
    peer.options.on_ice_state("failed")
    await wait_until(lambda: call.ended)
    assert seen == [
        ("reconnecting", None),
        ("disconnect", {"reason": "reconnect-failed", "status_code": None}),
    ]
    assert errors[-1].code is ErrorCode.ICE_FAILED and "media" in errors[-1].message
    await wait_until(lambda: "BYE" in sent_after(platform, mark))
    assert device.state == "registered"
