"""Our SDK and other user agents through Kamailio: inbound calls from sipp with X-2Chat-* headers,
JsSIP and baresip in both directions, and two of our Devices calling each other.

Audio is checked on both sides: our inbound statistics (bytes and energy), JsSIP's inbound
statistics, baresip's recording of what it heard (not silent), sipp's echo of our own audio.
"""

from __future__ import annotations

from collections.abc import Callable

from .jssip_peer import JsSipPeer
from .sdk_peer import InteropSdk, sipp_dialog
from .stack import Baresip, InteropStack
from .udp_phone import UdpPhone

PeerFactory = Callable[[str], JsSipPeer]


def _hang_up(sdk: InteropSdk, call: str) -> None:
    sdk.call(call, "disconnect")
    disconnect = sdk.wait(call, "disconnect")
    assert disconnect["args"][0]["reason"] == "local", f"{sdk.label(call)} ended with {disconnect['args']}"


def _remote_hang_up(sdk: InteropSdk, call: str, peer: str) -> None:
    disconnect = sdk.wait(call, "disconnect", timeout=15)
    assert disconnect["args"] == [{"reason": "remote", "status_code": None}], (
        f"{peer} hung up; {sdk.label(call)} reported {disconnect['args']}"
    )


# --------------------------------------------------------------------------- sipp caller


def test_inbound_from_sipp_with_x2chat_headers(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    device = sdk.registered_device("1005", secure=True)
    mark = sdk.mark()

    caller = interop_stack.sipp_caller("1005", ticket_id="T-7001", customer="ACME Corp", duration_ms=4000)
    call = sdk.incoming(device, since=mark)
    headers = sdk.call(call, "custom_headers")
    direction = sdk.call(call, "direction")
    sdk.call(call, "accept")
    sdk.wait(call, "accepted")
    sdk.wait_audio(call, min_bytes=4000, peer="the sipp caller (echoing our audio)")
    _remote_hang_up(sdk, call, "the sipp caller")

    assert headers == {"Ticket-Id": "T-7001", "Customer": "ACME Corp"}, (
        f"sipp sent X-2Chat-Ticket-Id: T-7001 and X-2Chat-Customer: ACME Corp; the SDK saw {headers}"
    )
    assert direction == "inbound"
    assert caller.wait(20) == 0, f"the sipp caller's scenario failed:\n{caller.process.log_tail()}"
    call_id = str(sdk.call(call, "sip_call_id"))
    answer = [m for m in sipp_dialog(caller.messages(), call_id) if m.first_line.startswith("SIP/2.0 200")]
    assert answer and "RTP/AVP" in answer[0].message, "the sipp caller did not get a plain RTP answer"


# --------------------------------------------------------------------------- JsSIP


def test_sdk_and_jssip_call_each_other(
    sdk: InteropSdk, interop_stack: InteropStack, jssip_peer: PeerFactory
) -> None:
    device = sdk.registered_device("1006")
    peer = jssip_peer("JsSIP 1007")
    peer.register(
        interop_stack.ws_url, interop_stack.uri("1007"), interop_stack.password("1007"), auto_answer=True
    )

    # our SDK calls JsSIP (which answers by itself), then hangs up
    since = peer.mark()
    call = sdk.connect(device, interop_stack.uri("1007"))
    sdk.wait(call, "accepted")
    peer.wait_for("confirmed", since=since)
    sdk.wait_audio(call, peer="JsSIP 1007")
    peer.wait_inbound_growth(min_bytes=4000)
    codec = sdk.stats(call).get("codec")
    _hang_up(sdk, call)
    ended = peer.wait_for("ended", since=since)
    assert ended["originator"] == "remote", f"JsSIP 1007 saw the SDK's hang-up as {ended}"

    # JsSIP calls our SDK, we answer, JsSIP hangs up
    mark = sdk.mark()
    since = peer.call(interop_stack.uri("1006"))
    incoming = sdk.incoming(device, since=mark)
    sdk.call(incoming, "accept")
    peer.wait_for("confirmed", since=since)
    sdk.wait_audio(incoming, peer="JsSIP 1007")
    peer.wait_inbound_growth(min_bytes=4000)
    peer.hangup()
    _remote_hang_up(sdk, incoming, "JsSIP 1007")

    assert "opus" in str(codec).lower(), f"browser to browser through rtpengine should be opus, got {codec}"
    assert sdk.call(incoming, "remote_identity").startswith("sip:1007@"), sdk.call(
        incoming, "remote_identity"
    )


# --------------------------------------------------------------------------- baresip


def _registered_baresip(stack: InteropStack) -> Baresip:
    """baresip, registered with the main Kamailio (a restart by another test makes it re-register)."""
    baresip = stack.baresip()
    if not any(f":{baresip.sip_port}" in c for c in stack.kamailio.contacts(baresip.user)):
        baresip.reregister()
    return baresip


def test_sdk_and_baresip_call_each_other(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    baresip = _registered_baresip(interop_stack)
    recorded_before = set(baresip.recordings())
    device = sdk.registered_device("1008")

    # our SDK calls baresip (auto-answer, plays a 440 Hz tone); we hang up
    call = sdk.connect(device, baresip.uri)
    sdk.wait(call, "accepted")
    sdk.wait_audio(call, min_bytes=8000, peer="baresip 1010 (its 440 Hz tone)")
    sdk.wait_sent_sound(call)  # Chromium's fake microphone beeps once a second: one beep reaches baresip
    _hang_up(sdk, call)

    # baresip calls our SDK; we answer; baresip hangs up
    mark = sdk.mark()
    baresip.dial(interop_stack.uri("1008"))
    incoming = sdk.incoming(device, since=mark)
    sdk.call(incoming, "accept")
    sdk.wait(incoming, "accepted")
    sdk.wait_audio(incoming, min_bytes=8000, peer="baresip 1010 (its 440 Hz tone)")
    sdk.wait_sent_sound(incoming)
    baresip.hangup()
    _remote_hang_up(sdk, incoming, "baresip 1010")

    baresip.wait_heard(recorded_before, calls=2)  # what baresip heard from us, both calls
    assert sdk.call(incoming, "remote_identity").startswith("sip:1010@")


# --------------------------------------------------------------------------- two of our Devices


def test_two_sdk_devices_call_each_other(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    alice = sdk.registered_device("1003")
    bob = sdk.registered_device("1009", secure=True)

    for caller, callee, callee_user in ((alice, bob, "1009"), (bob, alice, "1003")):
        mark = sdk.mark()
        outgoing = sdk.connect(caller, interop_stack.uri(callee_user))
        incoming = sdk.incoming(callee, since=mark)
        sdk.call(incoming, "accept")
        sdk.wait(outgoing, "accepted")
        sdk.wait_audio(outgoing, peer=sdk.label(callee))
        sdk.wait_audio(incoming, peer=sdk.label(caller))
        codec = sdk.stats(outgoing).get("codec")
        _hang_up(sdk, outgoing)
        _remote_hang_up(sdk, incoming, sdk.label(caller))
        assert "opus" in str(codec).lower(), f"{sdk.label(outgoing)} uses {codec}"
        assert sdk.device(callee, "calls") == [] and sdk.device(caller, "calls") == []


def test_a_user_on_a_browser_and_a_udp_phone_gets_one_sdp_per_branch(
    sdk: InteropSdk, interop_stack: InteropStack
) -> None:
    """Kamailio forks to both contacts of 1009: the plain-RTP phone must get RTP/AVP (RFC 3551) without
    DTLS, and the browser a WebRTC offer with a fingerprint (RFC 8827: mandatory), each from rtpengine."""
    bob = sdk.registered_device("1009", secure=True)
    alice = sdk.registered_device("1003")
    with UdpPhone(interop_stack.kamailio, "1009", interop_stack.password("1009")) as phone:
        mark = sdk.mark()
        outgoing = sdk.connect(alice, interop_stack.uri("1009"))
        invite = phone.wait_invite()
        incoming = sdk.incoming(bob, since=mark)
        sdk.call(incoming, "accept")
        sdk.wait(outgoing, "accepted")
        sdk.wait_audio(outgoing, peer=sdk.label(bob))
        sdk.wait_audio(incoming, peer=sdk.label(alice))
        _hang_up(sdk, outgoing)
        _remote_hang_up(sdk, incoming, sdk.label(alice))
    body = invite.split("\r\n\r\n", 1)[1]
    assert "m=audio" in body and " RTP/AVP " in body, body
    assert "a=fingerprint" not in body and "a=ice-ufrag" not in body, body
