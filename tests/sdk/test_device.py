"""Device and Call logic in CPython, against an in-memory platform and a SIP server made of our own UA."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from fakes import FakePlatform, holds_for, make_token, sdp, wait_until

from twochat_voice_web import Call, Device
from twochat_voice_web.early_media import RTP_DTMF_WAIT
from twochat_voice_web.errors import AuthError, ErrorCode, MediaError, TokenError, VoiceSDKError
from twochat_voice_web.sip import events as ev

API = "http://127.0.0.1:9999"


async def until_status(call: Call, status: str) -> None:
    """Wait (with a deadline) until ``call`` reaches ``status``."""
    await wait_until(lambda: call.status == status, what=f"the call to be {status}")


def server_events(platform: FakePlatform, kind: type) -> list:
    """The events of type ``kind`` the fake SIP server has seen."""
    return [e for e in platform.server.events if isinstance(e, kind)]


def recorder(emitter, *names):
    seen: list[tuple[str, object]] = []
    for name in names:
        emitter.on(name, lambda *args, _n=name: seen.append((_n, args[0] if args else None)))
    return seen


async def registered(**options) -> tuple[Device, FakePlatform]:
    platform = FakePlatform()
    device = Device(make_token(), api_base_url=API, platform=platform, **options)
    await device.register()
    return device, platform


def answer_incoming(
    platform: FakePlatform, *, ring: bool = True, code: int | None = None, early: bool = False
):
    """Make the server answer the Device's INVITEs."""
    calls: list[str] = []

    def on_incoming(event: ev.IncomingCall) -> None:
        calls.append(event.call)
        if early:
            platform.server.call("ring", event.call, status_code=183, sdp=sdp(50))
        elif ring:
            platform.server.call("ring", event.call)
        if code is None:
            platform.server.call("answer", event.call, sdp(50))
        elif code >= 300:
            platform.server.call("reject", event.call, status_code=code)

    platform.server.on_incoming = on_incoming
    return calls


# ------------------------------------------------------------------------------------------ registration


async def test_register_fetches_credentials_and_registers_with_digest():
    platform = FakePlatform()
    token = make_token()
    device = Device(token, api_base_url=API, platform=platform)
    seen = recorder(device, "registering", "registered")
    await device.register()
    assert device.state == "registered"
    assert [name for name, _ in seen] == ["registering", "registered"]
    assert platform.fetches == [(API + "/sdk/voip/sip-credentials", {"Authorization": f"Bearer {token}"})]
    registers = platform.server.requests("REGISTER")
    assert len(registers) == 2
    assert "Authorization" in registers[1].headers
    assert device.identity == "sip:alice@sandbox.test"
    assert device.caller_ids == [{"uuid": "VCI1", "phone_number": "+15550200"}]


async def test_register_is_idempotent_while_pending():
    platform = FakePlatform()
    device = Device(make_token(), api_base_url=API, platform=platform)
    await asyncio.gather(device.register(), device.register())
    await device.register()
    assert len(platform.server.requests("REGISTER")) == 2
    assert platform.connections == 1


@pytest.mark.parametrize(
    ("token", "code"),
    [
        ("not-a-jwt", ErrorCode.TOKEN_INVALID),
        ("a.b.c", ErrorCode.TOKEN_INVALID),
        (make_token(ttl=-10), ErrorCode.TOKEN_EXPIRED),
    ],
)
async def test_bad_tokens_fail_before_any_network_call(token, code):
    platform = FakePlatform()
    device = Device(token, api_base_url=API, platform=platform)
    with pytest.raises(TokenError) as info:
        await device.register()
    assert info.value.code is code
    assert platform.fetches == []
    assert platform.connections == 0
    assert device.state == "unregistered"


@pytest.mark.parametrize(
    ("status", "code"), [(401, ErrorCode.TOKEN_INVALID), (500, ErrorCode.CONFIG_FETCH_FAILED)]
)
async def test_credentials_endpoint_errors(status, code):
    platform = FakePlatform()
    platform.credentials_status = status
    device = Device(make_token(), api_base_url=API, platform=platform)
    with pytest.raises(VoiceSDKError) as info:
        await device.register()
    assert info.value.code is code
    assert platform.connections == 0


async def test_wrong_password_is_auth_error():
    platform = FakePlatform()
    platform.credentials["password"] = "wrong"
    device = Device(make_token(), api_base_url=API, platform=platform)
    with pytest.raises(AuthError) as info:
        await device.register()
    assert info.value.code is ErrorCode.AUTH_ERROR
    assert device.state == "unregistered"


async def test_insecure_websocket_to_a_remote_host_is_refused():
    platform = FakePlatform()
    platform.credentials["ws_url"] = "ws://sip.example.com/ws"
    device = Device(make_token(), api_base_url=API, platform=platform)
    with pytest.raises(VoiceSDKError) as info:
        await device.register()
    assert info.value.code is ErrorCode.CONFIG_FETCH_FAILED
    assert "'ws_url'" in info.value.message
    assert platform.connections == 0


@pytest.mark.parametrize(
    "options",
    [
        {"log_level": "loud"},
        {"ice_gathering_timeout_ms": 0},
        {"ice_gathering": "eventually"},
        {"dtmf_transport": "smoke"},
        {"default_extra_headers": ["X-Ok: 1", "Bad Header: x"]},
        {"default_extra_headers": ["X-Inject: a\r\nVia: evil"]},
        {"default_extra_headers": "X-Single: string"},
        {"default_extra_headers": ["Call-ID: mine"]},
        {"ice_servers": [{"urls": "http://not-stun"}]},
        {"api_base_url": "ftp://x"},
        {"api_base_url": "http://api.example.com"},
        {"token_expiry_lead_ms": -1},
        {"surprise": True},
    ],
)
async def test_bad_options_are_refused_up_front(options):
    with pytest.raises(VoiceSDKError) as info:
        Device(
            make_token(), api_base_url=options.pop("api_base_url", API), platform=FakePlatform(), **options
        )
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


async def test_unknown_event_names_are_refused():
    device = Device(make_token(), api_base_url=API, platform=FakePlatform())
    with pytest.raises(VoiceSDKError, match="unknown event"):
        device.on("registred", lambda: None)


async def test_unregister_then_connect_is_not_registered():
    device, platform = await registered()
    seen = recorder(device, "unregistered")
    await device.unregister()
    assert platform.server.requests("REGISTER")[-1].headers.get("Expires") == "0"
    assert device.state == "unregistered"
    assert seen == [("unregistered", None)]
    with pytest.raises(VoiceSDKError) as info:
        await device.connect("+15550100")
    assert info.value.code is ErrorCode.NOT_REGISTERED


# ------------------------------------------------------------------------------------------ outbound


async def test_outbound_call_ring_answer_hangup_releases_media():
    device, platform = await registered()
    answer_incoming(platform)
    call = await device.connect("+15550100", from_="+15550200", extra_headers=["X-2Chat-Ticket: 7"])
    seen = recorder(call, "ringing", "accepted", "disconnect")
    assert isinstance(call, Call)
    assert call.direction == "outbound"
    await until_status(call, "accepted")
    invite = platform.server.requests("INVITE")[0]
    assert str(invite.uri) == "sip:+15550100@sandbox.test"
    assert invite.headers.get("X-2Chat-From") == "+15550200"
    assert invite.headers.get("X-2Chat-Ticket") == "7"
    assert call.sip_call_id == invite.call_id
    peer = platform.peers[0]
    assert peer.remote[-1] == (sdp(50), False)
    assert peer.options.gathering_policy == "fast"  # the default: UDP candidates, no ICE-TCP wait
    await call.disconnect()
    assert [name for name, _ in seen] == ["ringing", "accepted", "disconnect"]
    assert seen[-1][1] == {"reason": "local", "status_code": None}
    assert peer.closed and platform.outputs[0].closed and platform.media.live == []
    assert device.calls == []
    await wait_until(lambda: bool(platform.server.requests("BYE")), what="the BYE")
    assert {"invite_sent", "first_provisional", "answered", "ended"} <= set(call.timings)


@pytest.mark.parametrize(
    ("code", "reason"), [(486, "busy"), (603, "declined"), (404, "not-found"), (500, "failed")]
)
async def test_outbound_rejected(code, reason):
    device, platform = await registered()
    answer_incoming(platform, code=code)
    call = await device.connect("+15550102")
    seen = recorder(call, "failed", "disconnect")
    await wait_until(lambda: call.ended, what="the call to end")
    assert call.status == "failed"
    assert seen == [
        ("failed", {"reason": reason, "status_code": code}),
        ("disconnect", {"reason": reason, "status_code": code}),
    ]
    assert platform.media.live == []


async def test_cancel_while_ringing():
    device, platform = await registered()
    answer_incoming(platform, code=0)  # rings forever
    call = await device.connect("+15550103")
    await until_status(call, "ringing")
    seen = recorder(call, "disconnect")
    await call.disconnect()
    assert platform.server.requests("CANCEL")
    assert seen == [("disconnect", {"reason": "cancelled", "status_code": 487})]
    assert call.status == "disconnected"


async def test_early_media_uses_pranswer_then_answer():
    device, platform = await registered()
    answer_incoming(platform, early=True)
    call = await device.connect("+15550107")
    seen = recorder(call, "ringing")
    await until_status(call, "accepted")  # set once the final answer is applied
    peer = platform.peers[0]
    assert peer.remote == [(sdp(50), True), (sdp(50), False)]
    assert call.status == "accepted"
    del seen


@pytest.mark.parametrize(
    ("to", "kwargs"),
    [
        ("5550100", {}),
        ("+0123", {}),
        ("sip:bad uri@x", {}),
        ("http://x", {}),
        ("+15550100", {"from_": "15550200"}),
        ("+15550100", {"extra_headers": ["X-A: 1\r\nX-B: 2"]}),
        ("+15550100", {"extra_headers": ["Contact: <sip:evil>"]}),
        ("+15550100", {"caller_id": "bad id!"}),
        ("+15550100", {"surprise": 1}),
    ],
)
async def test_bad_connect_input_is_refused_and_nothing_sent(to, kwargs):
    device, platform = await registered()
    with pytest.raises(VoiceSDKError) as info:
        await device.connect(to, **kwargs)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert platform.server.requests("INVITE") == []
    assert platform.media.opened == []


async def test_microphone_denied_is_raised_from_connect():
    device, platform = await registered()
    platform.media.fail_with = MediaError(ErrorCode.MEDIA_PERMISSION_DENIED, "denied")
    with pytest.raises(MediaError) as info:
        await device.connect("+15550100")
    assert info.value.code is ErrorCode.MEDIA_PERMISSION_DENIED
    assert platform.server.requests("INVITE") == []
    assert device.calls == []


# ------------------------------------------------------------------------------------------ in call


async def test_mute_hold_dtmf_and_device_switch():
    device, platform = await registered()
    answer_incoming(platform)
    offers: list[str] = []

    def on_event(event):
        if isinstance(event, ev.RemoteOffer):
            offers.append(event.sdp)
            direction = "recvonly" if "a=sendonly" in event.sdp else "sendrecv"
            platform.server.call("answer_offer", event.call, sdp(60 + len(offers), direction))

    platform.server.on_event = on_event
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    seen = recorder(call, "mute", "hold")
    call.mute(True)
    assert platform.media.opened[0].enabled is False and call.is_muted()
    await call.hold(True)
    assert call.is_on_hold() and "a=sendonly" in offers[-1]
    await call.hold(False)
    assert not call.is_on_hold() and "a=sendrecv" in offers[-1]
    assert seen == [("mute", True), ("hold", True), ("hold", False)]
    call.send_digits("12w#")
    await wait_until(lambda: len(platform.peers[0].dtmf) >= 3, what="three tones (and the pause)")
    assert platform.peers[0].dtmf == ["1", "2", "#"]
    await call.set_input_device("usb-mic")
    assert platform.media.opened[0].stopped and platform.media.opened[1].device_id == "usb-mic"
    assert platform.media.opened[1].enabled is False  # still muted
    await call.set_output_device("spk")
    assert platform.outputs[0].sink == "spk"
    stats = await call.get_stats()
    assert stats["packets_received"] >= 50
    assert stats["codec"] == "opus"
    with pytest.raises(VoiceSDKError):
        call.send_digits("12x")
    await call.disconnect()


async def test_refused_hold_raises_and_rolls_back():
    device, platform = await registered()
    answer_incoming(platform)
    platform.server.on_event = lambda e: (
        isinstance(e, ev.RemoteOffer) and platform.server.call("reject_offer", e.call)
    )
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    with pytest.raises(VoiceSDKError) as info:
        await call.hold(True)
    assert info.value.code is ErrorCode.HOLD_FAILED
    assert not call.is_on_hold()
    assert platform.peers[0].rollbacks == 1
    assert platform.peers[0].direction == "sendrecv"


async def test_dtmf_over_sip_info_when_configured():
    device, platform = await registered(dtmf_transport="info")
    answer_incoming(platform)
    call = await device.connect("+15550106")
    await until_status(call, "accepted")
    call.send_digits("59")
    await wait_until(lambda: len(server_events(platform, ev.DtmfInfoReceived)) >= 2, what="two INFOs")
    digits = [e.digit for e in server_events(platform, ev.DtmfInfoReceived)]
    assert digits == ["5", "9"]


async def test_digits_typed_before_the_transport_is_writable_wait_for_rtp_not_info():
    # The browser inserts RFC 4733 tones only once the transport has been writable (ICE, then DTLS),
    # which can come a moment after the 200 OK: digits typed at once must still go out as RTP events,
    # since the peer negotiated telephone-event (RFC 4733 §2.5), and not fall back to SIP INFO.
    device, platform = await registered()
    answer_incoming(platform)
    call = await device.connect("+15550106")
    await until_status(call, "accepted")
    peer = platform.peers[0]
    peer.dtmf_ready = False
    call.send_digits("7")
    asyncio.get_running_loop().call_later(0.2, setattr, peer, "dtmf_ready", True)
    await wait_until(lambda: peer.dtmf == ["7"], what="the digit as an RTP event once the transport is up")
    assert server_events(platform, ev.DtmfInfoReceived) == []


async def test_digits_while_the_peer_holds_the_call_go_out_as_info_at_once():
    # Held by the peer (its re-INVITE offers sendonly, RFC 3264 §8.4) we only receive: the browser cannot
    # insert RTP tones until it resumes, so waiting for the transport would only delay the digit.
    device, platform = await registered()
    server_calls = answer_incoming(platform)
    call = await device.connect("+15550106")
    await until_status(call, "accepted")
    held = recorder(call, "remote-hold")
    platform.server.call("reinvite", server_calls[0], sdp(70, "sendonly"))
    await wait_until(lambda: held == [("remote-hold", True)], what="remote-hold")
    platform.peers[0].dtmf_ready = False  # a recvonly sender: canInsertDTMF is false
    call.send_digits("3")
    await wait_until(
        lambda: [e.digit for e in server_events(platform, ev.DtmfInfoReceived)] == ["3"],
        timeout=RTP_DTMF_WAIT / 2,
        what="the digit as SIP INFO, well before the wait for an RTP transport would end",
    )


async def test_remote_hold_is_reflected():
    device, platform = await registered()
    server_calls = answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    seen = recorder(call, "remote-hold")
    platform.server.call("reinvite", server_calls[0], sdp(70, "sendonly"))
    # the server's re-INVITE exchange is over (it has the answer) before it may send the next offer
    await wait_until(
        lambda: len(seen) == 1 and len(server_events(platform, ev.RemoteAnswer)) == 1,
        what="remote-hold, and the answer at the server",
    )
    assert call.is_remote_hold()
    platform.server.call("reinvite", server_calls[0], sdp(71, "sendrecv"))
    await wait_until(lambda: len(seen) == 2, what="the end of the remote hold")
    assert seen == [("remote-hold", True), ("remote-hold", False)]


async def test_remote_bye():
    device, platform = await registered()
    server_calls = answer_incoming(platform)
    call = await device.connect("+15550105")
    await until_status(call, "accepted")
    seen = recorder(call, "disconnect")
    platform.server.call("hangup", server_calls[0])
    await wait_until(lambda: bool(seen), what="disconnect")
    assert seen == [("disconnect", {"reason": "remote", "status_code": None})]
    assert platform.media.live == []


# ------------------------------------------------------------------------------------------ inbound


async def inbound(platform: FakePlatform, headers=()) -> str:
    from twochat_voice_web.sip.uri import parse_uri

    return platform.server.call(
        "invite", parse_uri("sip:alice@sandbox.test"), sdp=sdp(80), headers=list(headers)
    )


async def test_inbound_accept_with_custom_headers():
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    handle = await inbound(
        platform, [("X-2Chat-Ticket-Id", "42"), ("X-2Chat-Customer", "ACME"), ("X-Other", "no")]
    )
    await wait_until(
        lambda: bool(incoming) and 180 in [e.status_code for e in server_events(platform, ev.CallProgress)],
        what="incoming, and the 180 at the server",
    )
    (call,) = incoming
    assert call.direction == "inbound" and call.status == "pending"
    assert dict(call.custom_headers) == {"Ticket-Id": "42", "Customer": "ACME"}
    assert any(isinstance(e, ev.CallProgress) and e.status_code == 180 for e in platform.server.events)
    seen = recorder(call, "accepted")
    await call.accept()
    await wait_until(lambda: bool(server_events(platform, ev.CallAnswered)), what="the 200 at the server")
    assert call.status == "accepted" and seen == [("accepted", None)]
    answered = server_events(platform, ev.CallAnswered)
    assert answered and answered[0].call == handle and "m=audio" in (answered[0].sdp or "")
    await call.disconnect()


async def test_inbound_reject_ignore_and_caller_cancel():
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 1, what="incoming")
    first = incoming[0]
    seen = recorder(first, "reject", "disconnect")
    first.reject()
    await wait_until(lambda: bool(server_events(platform, ev.CallEnded)), what="the rejection at the server")
    ended = server_events(platform, ev.CallEnded)
    assert ended[-1].status_code == 486
    assert seen[0] == ("reject", None)
    handle = await inbound(platform)
    await wait_until(lambda: len(incoming) == 2, what="the second incoming")
    second = incoming[1]
    second.ignore()
    assert second.status == "pending" and second.ignored
    seen2 = recorder(second, "cancel", "disconnect")
    platform.server.call("hangup", handle)
    await wait_until(lambda: len(seen2) == 2, what="cancel and disconnect")
    assert seen2 == [("cancel", None), ("disconnect", {"reason": "remote-cancelled", "status_code": 487})]
    with pytest.raises(VoiceSDKError):
        await second.accept()


async def test_busy_device_rejects_a_second_call_with_486():
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 1, what="incoming")
    await incoming[0].accept()
    await inbound(platform)
    await wait_until(lambda: bool(server_events(platform, ev.CallEnded)), what="the second call to end")
    codes = [e.status_code for e in server_events(platform, ev.CallEnded)]
    assert 486 in codes
    assert len(incoming) == 1  # the Device answered 486 without emitting incoming


async def test_busy_allowed():
    device, platform = await registered(allow_incoming_while_busy=True)
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 1, what="incoming")
    await incoming[0].accept()
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 2, what="the second incoming")


# ------------------------------------------------------------------------------------------ tokens


async def test_token_will_expire_rearms_on_every_update_without_network():
    platform = FakePlatform()
    minted = [time.time()]  # every token warns 0.3 s after it is minted (ttl 3.3 s, lead 3 s)
    device = Device(make_token(ttl=3.3), api_base_url=API, platform=platform, token_expiry_lead_ms=3000)
    fired: list[float] = []
    device.on("tokenWillExpire", lambda: fired.append(time.time()))
    await device.register()
    registers = len(platform.server.requests("REGISTER"))
    for count in range(1, 4):
        await wait_until(lambda n=count: len(fired) >= n, what=f"tokenWillExpire number {count}")
        assert len(fired) == count, "tokenWillExpire fired more than once for one token"
        minted.append(time.time())
        await device.update_token(make_token(ttl=3.3))
    await wait_until(lambda: len(fired) >= 4, what="tokenWillExpire for the last token")
    assert len(fired) == 4
    # each update re-arms the warning for its own token, never fires it at once: each warning came when
    # its token was 0.3 s old (a load can only make it later)
    assert all(when - mint >= 0.25 for when, mint in zip(fired, minted, strict=True)), (fired, minted)
    assert len(platform.server.requests("REGISTER")) == registers
    with pytest.raises(TokenError):
        await device.update_token("garbage")


async def test_expired_token_mid_session_is_an_error_event_not_a_hangup():
    platform = FakePlatform()
    device = Device(make_token(ttl=1.0), api_base_url=API, platform=platform, token_expiry_lead_ms=0)
    answer_incoming(platform)
    errors: list[VoiceSDKError] = []
    device.on("error", errors.append)
    await device.register()
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    await wait_until(lambda: bool(errors), what="the TOKEN_EXPIRED error")
    assert [e.code for e in errors] == [ErrorCode.TOKEN_EXPIRED]
    # not a hangup: nothing ends the call or the registration in the next 0.2 s either (a hang-up on
    # expiry would be a BYE through the in-memory server: a few event-loop turns)
    await holds_for(
        lambda: call.status == "accepted" and device.state == "registered",
        seconds=0.2,
        what="the call and the registration",
    )


# ------------------------------------------------------------------------------------------ reconnect


async def test_reconnect_keeps_the_call_and_restarts_ice():
    # The back-off (full jitter, doubling from 0.5 s) is capped at 1 s so that the reconnect that follows
    # some refused attempts comes within the deadline below (uncapped it may wait up to 20 s).
    device, platform = await registered(reconnect_max_delay_ms=1000)
    answer_incoming(platform)
    platform.server.on_event = lambda e: (
        isinstance(e, ev.RemoteOffer) and platform.server.call("answer_offer", e.call, sdp(90))
    )
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    device_events = recorder(device, "reconnecting", "reconnected", "registered")
    call_events = recorder(call, "reconnecting", "reconnected")
    first_register = platform.server.requests("REGISTER")[-1]
    refused: list[float] = []
    original = platform.open_signalling

    async def counting(*args: Any, **kwargs: Any) -> Any:
        try:
            return await original(*args, **kwargs)
        except VoiceSDKError:
            refused.append(time.monotonic())
            raise

    platform.open_signalling = counting  # type: ignore[method-assign]
    platform.refuse_connections = True
    platform.connection.drop()
    await wait_until(lambda: bool(refused), what="a refused reconnect attempt")
    assert device.state == "reconnecting"
    platform.refuse_connections = False
    await wait_until(lambda: device.state == "registered", what="the reconnect")
    await wait_until(lambda: ("reconnected", None) in call_events, what="the call's reconnected")
    names = [n for n, _ in device_events]
    assert names[:2] == ["reconnecting", "reconnected"]
    again = platform.server.requests("REGISTER")[-1]
    assert again.call_id == first_register.call_id
    assert again.contacts[0].param("+sip.instance") == first_register.contacts[0].param("+sip.instance")
    assert platform.peers[0].ice_restarts == 1
    assert [n for n, _ in call_events] == ["reconnecting", "reconnected"]
    assert call.status == "accepted"
    await call.disconnect()


async def test_online_event_wakes_the_reconnect_loop():
    device, platform = await registered(reconnect_min_ms=5000, reconnect_max_ms=10000)
    device._reconnection.backoff = lambda step: 600.0  # only "online" ends the wait
    platform.connection.drop()
    assert device.state == "reconnecting"
    for callback in platform.online_callbacks:
        callback()
    await wait_until(lambda: device.state == "registered", what="the reconnect woken by online")


async def test_destroy_ends_everything():
    device, platform = await registered()
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    seen = recorder(call, "disconnect")
    device.destroy()
    assert device.state == "destroyed"
    assert seen == [("disconnect", {"reason": "destroyed", "status_code": None})]
    assert platform.media.live == [] and all(p.closed for p in platform.peers)
    with pytest.raises(VoiceSDKError) as info:
        await device.register()
    assert info.value.code is ErrorCode.DESTROYED
    await wait_until(lambda: bool(platform.server.requests("BYE")), what="the BYE")


# ------------------------------------------------------------------------------------------ sounds


async def test_ringtone_ringback_dtmf_and_disconnect_sounds():
    device, platform = await registered(sounds={"disconnect": True, "dtmf5": False}, ringtone_url="/ring.mp3")
    sounds = platform.sounds
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 1, what="incoming")  # the ringtone starts before the event
    assert sounds.sources == {"incoming": "/ring.mp3"}
    assert sounds.enabled == {"disconnect": True, "dtmf5": False}
    assert sounds.playing == {"incoming"}
    await incoming[0].accept()
    assert sounds.playing == set()
    await incoming[0].disconnect()
    assert sounds.log[-1] == ("play", "disconnect")
    answer_incoming(platform, code=0)
    call = await device.connect("+15550103")
    await until_status(call, "ringing")  # the ringback starts with the 180
    assert sounds.playing == {"outgoing"}
    await call.disconnect()
    assert sounds.playing == set()
    assert ("play", "disconnect") not in sounds.log[-2:]  # a call that never connected plays no hang-up tone


async def test_dtmf_feedback_and_no_ringback_with_early_media():
    device, platform = await registered()
    answer_incoming(platform, early=True)
    call = await device.connect("+15550107")
    await until_status(call, "accepted")  # the early media (183), then the answer: no ringback in between
    assert ("play", "outgoing") not in platform.sounds.log

    def tones() -> list[str]:
        return [n for op, n in platform.sounds.log if n.startswith("dtmf")]

    call.send_digits("1*#")
    await wait_until(lambda: len(tones()) >= 3, what="three DTMF feedback tones")
    assert tones() == ["dtmf1", "dtmfs", "dtmfh"]


async def test_blocked_autoplay_is_reported():
    device, platform = await registered()
    platform.sounds.blocked = True
    errors: list[VoiceSDKError] = []
    device.on("error", errors.append)
    await inbound(platform)
    await wait_until(lambda: bool(errors), what="the AUTOPLAY_BLOCKED error")
    assert [e.code for e in errors] == [ErrorCode.AUTOPLAY_BLOCKED]


async def test_unknown_sound_name_refused():
    with pytest.raises(VoiceSDKError):
        Device(make_token(), api_base_url=API, platform=FakePlatform(), sounds={"boom": "/x.mp3"})


async def test_quality_samples_every_second_and_warnings():
    device, platform = await registered()
    answer_incoming(platform)
    call = await device.connect("+15550100")
    samples: list[object] = []
    warnings: list[str] = []
    call.on("sample", samples.append)
    call.on("warning", lambda name, change: warnings.append(name))
    # the first second only primes the counters: the first sample comes after about 2 s
    await wait_until(lambda: len(samples) >= 1, what="the first quality sample")
    assert samples[0].mos > 4  # type: ignore[attr-defined]
    assert warnings == []
    platform.peers[0].stalled = True  # no more media: 3 samples later, low-bytes-received
    await wait_until(lambda: "low-bytes-received" in warnings, what="the low-bytes-received warning")
    assert "low-bytes-received" in call.active_warnings
    await call.disconnect()
    count = len(samples)
    # sampling stops with the call: a sampler still running would emit within its 1 s interval
    await holds_for(lambda: len(samples) == count, seconds=1.2, what="no sample after the call ended")


async def test_accept_with_a_failing_microphone_fails_the_call():
    device, platform = await registered()
    incoming: list[Call] = []
    device.on("incoming", incoming.append)
    await inbound(platform)
    await wait_until(lambda: len(incoming) == 1, what="incoming")
    call = incoming[0]
    seen = recorder(call, "failed", "disconnect", "reject", "error")
    platform.media.fail_with = MediaError(ErrorCode.MEDIA_PERMISSION_DENIED, "denied")
    with pytest.raises(MediaError):
        await call.accept()
    await wait_until(lambda: bool(server_events(platform, ev.CallEnded)), what="the end at the server")
    names = [n for n, _ in seen]
    assert names == ["error", "failed", "disconnect"]
    assert seen[-1][1] == {"reason": "media", "status_code": None}
    assert call.status == "failed"
    ended = [e for e in platform.server.events if isinstance(e, ev.CallEnded)]
    assert ended[-1].status_code == 480


async def test_device_change_reopens_the_default_microphone_and_lists_devices():
    device, platform = await registered()
    answer_incoming(platform)
    devices = await device.list_audio_devices()
    assert {d["kind"] for d in devices} == {"audioinput", "audiooutput"}
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    seen = recorder(device, "deviceChange")
    assert len(platform.media.opened) == 1
    for callback in platform.media.change_callbacks:
        callback()
    await wait_until(
        lambda: len(platform.media.opened) >= 2 and platform.peers[0].mic is platform.media.opened[-1],
        what="a new microphone on the peer",
    )
    assert seen == [("deviceChange", None)]
    assert len(platform.media.opened) == 2 and platform.media.opened[0].stopped
    assert platform.peers[0].mic is platform.media.opened[1]
    await device.set_output_device("spk")
    assert platform.outputs[0].sink == "spk" and platform.sounds.output == "spk"
    await device.set_input_device("usb")
    assert platform.media.opened[-1].device_id == "usb"
    opened = len(platform.media.opened)
    for callback in platform.media.change_callbacks:  # a chosen device that still works is kept
        callback()
    # a re-open would be spawned by the callback and open a microphone within a few event-loop turns
    await holds_for(lambda: len(platform.media.opened) == opened, seconds=0.1, what="no microphone re-opened")
    assert platform.media.opened[-1].device_id == "usb"
    await call.disconnect()


async def test_preflight_reports_microphone_ice_and_echo_quality():
    device, platform = await registered()
    answer_incoming(platform)
    report = await device.run_preflight(echo_number="+15550100", call_seconds=2.2)
    assert report.microphone_ok and report.microphone_label == "Fake mic default"
    assert report.candidate_types == ["host", "srflx"] and report.stun_reachable and not report.turn_reachable
    assert report.call_ran and report.call_ok and report.audio_received
    assert report.mos is not None and report.mos > 4 and report.quality in ("excellent", "great")
    assert report.ok
    assert platform.media.live == [] and all(p.closed for p in platform.peers)
    assert device.calls == []
    report = await device.run_preflight()
    assert not report.call_ran and report.ok


async def test_preflight_reports_a_denied_microphone_without_raising():
    device, platform = await registered()
    platform.media.fail_with = MediaError(ErrorCode.MEDIA_PERMISSION_DENIED, "denied")
    report = await device.run_preflight(echo_number="+15550100", call_seconds=1.0)
    assert not report.microphone_ok and "MEDIA_PERMISSION_DENIED" in (report.microphone_error or "")
    assert report.call_ran and not report.call_ok and not report.ok


async def test_blocked_remote_audio_resumes_on_the_first_user_gesture():
    device, platform = await registered()
    answer_incoming(platform)
    errors: list[VoiceSDKError] = []
    device.on("error", errors.append)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    call_errors: list[VoiceSDKError] = []
    call.on("error", call_errors.append)
    platform.outputs[0].block_autoplay()
    platform.outputs[0].block_autoplay()  # reported once
    assert [e.code for e in errors] == [ErrorCode.AUTOPLAY_BLOCKED]
    assert [e.code for e in call_errors] == [ErrorCode.AUTOPLAY_BLOCKED]
    platform.user_gesture()
    await wait_until(lambda: platform.outputs[0].resumed >= 1, what="the remote audio to resume")
    assert platform.outputs[0].resumed == 1 and not platform.outputs[0].autoplay_blocked
    await call.disconnect()


async def test_unplugged_microphone_is_replaced_by_the_default_one():
    device, platform = await registered()
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    platform.media.opened[0].unplug()
    await wait_until(
        lambda: len(platform.media.opened) >= 2 and platform.peers[0].mic is platform.media.opened[-1],
        what="the default microphone on the peer",
    )
    assert len(platform.media.opened) == 2
    assert platform.peers[0].mic is platform.media.opened[1]
    await call.disconnect()


async def test_cancel_without_any_final_response_still_ends_as_cancelled():
    device, platform = await registered()
    answer_incoming(platform, code=0)
    call = await device.connect("+15550103")
    await until_status(call, "ringing")
    seen = recorder(call, "disconnect")
    platform.server.on_event = None
    platform.server.ua.receive_data = lambda data, now: None  # the far side goes silent
    await call.disconnect()
    assert seen == [("disconnect", {"reason": "cancelled", "status_code": None})]


async def test_ice_gathering_complete_reaches_the_peer_connection():
    device, platform = await registered(ice_gathering="complete", ice_gathering_timeout_ms=700)
    call = await device.connect("+15550100")
    await wait_until(lambda: bool(platform.peers), what="the peer connection")
    options = platform.peers[0].options
    assert (options.gathering_policy, options.gathering_timeout) == ("complete", 0.7)
    await call.disconnect()
