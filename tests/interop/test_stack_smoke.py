"""Smoke tests of the interop fixtures, driven by JsSIP in Chromium (our SDK's scenarios reuse them).

They prove that the stack the SDK scenario tests run against works: registration over ws and wss
with digest (and the SHA-256 instance), every scenario callee, media through rtpengine, RFC 4733
events on the wire, SIP INFO, hold/unhold, inbound calls from sipp with X-2Chat-* headers,
baresip both ways with a recording that is not silent, and re-registration after a Kamailio restart.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest

from .jssip_peer import JsSipPeer
from .stack import LOOPBACK, InteropStack
from .udp_phone import digest_register

PeerFactory = Callable[[str], JsSipPeer]


def _registered_peer(
    stack: InteropStack, new_peer: PeerFactory, user: str, *, secure: bool = False, **options: Any
) -> JsSipPeer:
    peer = new_peer(user)
    peer.register(stack.wss_url if secure else stack.ws_url, stack.uri(user), stack.password(user), **options)
    return peer


def _assert_one_media_path(stack: InteropStack, peer: JsSipPeer, call_id: str, timeout: float = 5.0) -> str:
    """Wait until rtpengine sends the call's media to the browser's selected candidate (the pair
    Chromium uses) and return that endpoint; AssertionError naming both sides after ``timeout``.

    ICE is over when both agents use the same pair. If rtpengine keeps a pair the browser no longer
    selects, the browser hears the call only while Chromium keeps that other connection."""
    deadline = time.monotonic() + timeout
    while True:
        stats = peer.stats() or {}
        selected = str(stats.get("pair") or "").split(" -> ")[0]
        relayed_to = stack.rtpengine.peer_endpoints(call_id)
        if selected and selected in relayed_to:
            return selected
        if time.monotonic() > deadline:
            raise AssertionError(
                f"the browser selected {selected or 'no pair'} but rtpengine sends to {relayed_to}; "
                f"pairs: {stats.get('pairs')}"
            )
        time.sleep(0.1)


# --------------------------------------------------------------------------- registration


def test_register_over_ws_and_wss(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    over_ws = _registered_peer(interop_stack, jssip_peer, "1001")
    over_wss = _registered_peer(interop_stack, jssip_peer, "1002", secure=True)

    assert over_ws.wait_for("registered")["status"] == 200
    assert over_wss.wait_for("registered")["status"] == 200
    kamailio = interop_stack.kamailio
    kamailio.wait_registered("1001")
    kamailio.wait_registered("1002")
    over_tcp = kamailio.registrations("1001")
    over_tls = kamailio.registrations("1002")
    assert [c["Socket"] for c in over_tcp] == [f"tcp:{LOOPBACK}:{kamailio.ws_port}"], over_tcp
    assert [c["Socket"] for c in over_tls] == [f"tls:{LOOPBACK}:{kamailio.wss_port}"], over_tls
    # JsSIP's Contact has an .invalid host; Kamailio keeps where the REGISTER really came from
    assert over_tcp[0]["Address"].endswith(".invalid;transport=ws"), over_tcp
    assert over_tls[0]["Received"].startswith(f"sip:{LOOPBACK}:"), over_tls


def test_wrong_password_is_rejected(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    peer = jssip_peer("1003-bad-password")
    since = peer.start(interop_stack.ws_url, interop_stack.uri("1003"), "not-the-password")

    failed = peer.wait_for("registrationFailed", since=since)

    assert failed["status"] == 403, failed
    assert failed["reason"] == "Wrong password"


def test_digest_md5_and_sha256_instances(interop_stack: InteropStack) -> None:
    md5_challenge, md5_result = digest_register(
        interop_stack.kamailio, "1009", interop_stack.password("1009")
    )
    sha256 = interop_stack.sha256_kamailio()
    sha_challenge, sha_result = digest_register(sha256, "1009", interop_stack.password("1009"))
    _, sha_wrong = digest_register(sha256, "1009", "wrong")

    assert "algorithm" not in md5_challenge  # MD5 implied (RFC 2617 style)
    assert md5_challenge["qop"] == "auth"
    assert md5_result == "SIP/2.0 200 OK"
    assert sha_challenge["algorithm"] == "SHA-256"
    assert sha_result == "SIP/2.0 200 OK"
    assert sha_wrong == "SIP/2.0 403 Wrong password"
    assert sha256.contacts("1009")


# --------------------------------------------------------------------------- outbound to the callees


def test_echo_call_media_dtmf_info_hold(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    echo = interop_stack.callee("echo")
    peer = _registered_peer(interop_stack, jssip_peer, "1001")
    capture = interop_stack.packet_capture([echo.media_port], name="echo-dtmf")
    seen = len(echo.messages())
    started = interop_stack.log_mark().time

    since = peer.call(echo.uri)
    peer.wait_for("confirmed", since=since)
    before, after = peer.wait_inbound_growth(min_bytes=8000)
    stats = peer.stats()
    assert stats is not None
    assert stats["dtls"] == "connected", stats
    assert "audio/PCMU/0" in stats["codecs"] or any("PCMU" in c for c in stats["codecs"]), stats

    assert peer.dtmf("123#", transport="rfc4733") is True
    peer.wait_for("tonechange", since=since)
    # the four RFC 4733 events reach sipp (and come back): wait for them on the wire, not for a time
    deadline = time.monotonic() + 10
    while capture.dtmf_digits(dst_port=echo.media_port) != "123#":
        assert time.monotonic() < deadline, capture.dtmf_digits(dst_port=echo.media_port)
        time.sleep(0.1)
    peer.dtmf("9", transport="info")
    echo.wait_for_message("INFO ", since=seen)  # sipp has it before the hold re-INVITE goes out

    mark = peer.hold()
    peer.wait_for("holdDone", since=mark)
    mark = peer.unhold()
    peer.wait_for("unholdDone", since=mark)
    peer.wait_inbound_growth(min_bytes=4000)

    mark = peer.hangup()
    peer.wait_for("ended", since=mark)
    capture.stop()

    assert capture.dtmf_digits(dst_port=echo.media_port) == "123#"
    assert capture.dtmf_digits(src_port=echo.media_port) == "123#"  # echoed back
    echo.wait_for_message("BYE ", since=seen)  # JsSIP reports "ended" before the 200 comes back
    info = echo.wait_for_message("INFO ", since=seen)
    assert "Signal=9" in info.message, info.message
    received = [m for m in echo.messages()[seen:] if m.direction == "received"]
    reinvites = [m.message for m in received if m.first_line.startswith("INVITE ")][1:]
    assert "a=sendonly" in reinvites[0] and "a=sendrecv" in reinvites[1], reinvites
    answers = [m.message for m in echo.messages()[seen:] if m.direction == "sent" and "\nv=0" in m.message]
    assert [re.findall(r"^a=(sendrecv|recvonly)\s*$", a, re.MULTILINE) for a in answers] == [
        ["sendrecv"],
        ["recvonly"],
        ["sendrecv"],
    ], answers
    ladder = interop_stack.sip_ladder(since=started)
    assert re.search(r"ws client 1001 :\d+ -> kamailio \[ws\]\s+INVITE sip:echo@", ladder), ladder
    assert re.search(r"kamailio -> sipp echo \[udp\]\s+INVITE sip:echo@", ladder), ladder
    assert re.search(r"sipp echo -> kamailio \[udp\]\s+SIP/2.0 200 OK", ladder), ladder
    assert after > before


@pytest.mark.parametrize(("callee", "status"), [("busy", 486), ("decline", 603)])
def test_rejecting_callees(
    interop_stack: InteropStack, jssip_peer: PeerFactory, callee: str, status: int
) -> None:
    peer = _registered_peer(interop_stack, jssip_peer, "1002")

    since = peer.call(interop_stack.callee_uri(callee))
    failed = peer.wait_for("failed", since=since)

    assert failed["status"] == status, failed
    assert failed["originator"] == "remote"


def test_ring_then_answer_and_early_media(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    peer = _registered_peer(interop_stack, jssip_peer, "1002")

    since = peer.call(interop_stack.callee_uri("ring"))
    ringing = peer.wait_for("progress", since=since)
    confirmed = peer.wait_for("confirmed", since=since)
    assert ringing["status"] == 180 and ringing["sdp"] is False
    assert confirmed["seq"] > ringing["seq"]
    peer.wait_for("ended", since=peer.hangup())

    since = peer.call(interop_stack.callee_uri("early"))
    early = peer.wait_for("progress", since=since)
    assert early["status"] == 183 and early["sdp"] is True
    before, after = peer.wait_inbound_growth(min_bytes=2000, timeout=1.8)  # echo flows before the 200
    assert peer.find("accepted", since) is None, "the early-media callee answered too soon"
    peer.wait_for("confirmed", since=since)
    peer.wait_for("ended", since=peer.hangup())
    assert after > before


def test_cancel_while_ringing(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    noanswer = interop_stack.callee("noanswer")
    seen = len(noanswer.messages())
    peer = _registered_peer(interop_stack, jssip_peer, "1002")

    since = peer.call(noanswer.uri)
    peer.wait_for("progress", since=since)
    peer.hangup()
    failed = peer.wait_for("failed", since=since)

    assert failed["cause"] == "Canceled" and failed["originator"] == "local", failed
    noanswer.wait_for_message("CANCEL ", since=seen)
    noanswer.wait_for_message("SIP/2.0 487 Request Terminated", since=seen, direction="sent")
    noanswer.wait_for_message("ACK ", since=seen)


def test_remote_hold_and_remote_bye(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    peer = _registered_peer(interop_stack, jssip_peer, "1002")

    since = peer.call(interop_stack.callee_uri("rhold"))
    peer.wait_for("confirmed", since=since)
    held = peer.wait_for("hold", since=since)
    resumed = peer.wait_for("unhold", since=since)
    assert held["originator"] == "remote" and resumed["originator"] == "remote"
    peer.wait_inbound_growth(min_bytes=2000)
    peer.wait_for("ended", since=peer.hangup())

    since = peer.call(interop_stack.callee_uri("rbye"))
    peer.wait_for("confirmed", since=since)
    ended = peer.wait_for("ended", since=since, timeout=10)
    assert ended["originator"] == "remote", ended


# --------------------------------------------------------------------------- inbound from sipp


def test_inbound_from_sipp_with_x2chat_headers(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    peer = _registered_peer(interop_stack, jssip_peer, "1003", secure=True, auto_answer=True)
    since = peer.mark()

    caller = interop_stack.sipp_caller("1003", ticket_id="T-4242", customer="ACME Corp", duration_ms=3000)
    incoming = peer.wait_for("newRTCSession", since=since)
    peer.wait_for("confirmed", since=since)
    _assert_one_media_path(interop_stack, peer, incoming["call_id"])
    peer.wait_inbound_growth(min_bytes=4000)
    ended = peer.wait_for("ended", since=since, timeout=15)

    assert caller.wait(20) == 0, caller.process.log_tail()
    headers = {k.lower(): v for k, v in incoming["headers"].items()}
    assert headers["x-2chat-ticket-id"] == "T-4242"
    assert headers["x-2chat-customer"] == "ACME Corp"
    assert incoming["originator"] == "remote"
    assert ended["originator"] == "remote"


def test_inbound_callee_hangs_up_and_caller_cancels(
    interop_stack: InteropStack, jssip_peer: PeerFactory
) -> None:
    peer = _registered_peer(interop_stack, jssip_peer, "1004", auto_answer=True)

    since = peer.mark()
    waiter = interop_stack.sipp_caller("1004", scenario="wait_bye")
    peer.wait_for("confirmed", since=since)
    peer.wait_for("ended", since=peer.hangup())
    assert waiter.wait(20) == 0, waiter.process.log_tail()
    assert waiter.received("BYE ")

    peer.page.evaluate("PEER.options.auto_answer = false")
    since = peer.mark()
    canceller = interop_stack.sipp_caller("1004", scenario="cancel", cancel_after_ms=500)
    failed = peer.wait_for("failed", since=since)
    assert failed["cause"] == "Canceled" and failed["originator"] == "remote", failed
    assert canceller.wait(20) == 0, canceller.process.log_tail()


# --------------------------------------------------------------------------- baresip


def test_baresip_both_directions_records_audio(interop_stack: InteropStack, jssip_peer: PeerFactory) -> None:
    baresip = interop_stack.baresip()
    peer = _registered_peer(interop_stack, jssip_peer, "1004", auto_answer=True)
    recorded_before = set(baresip.recordings())

    since = peer.call(baresip.uri)
    call_id = peer.wait_for("newRTCSession", since=since)["call_id"]
    peer.wait_for("confirmed", since=since)
    _assert_one_media_path(interop_stack, peer, call_id)
    peer.wait_inbound_growth(min_bytes=8000)  # baresip plays its 440 Hz tone
    peer.wait_sent_sound()  # Chromium's fake microphone beeps once a second: one beep reaches baresip
    peer.wait_for("ended", since=peer.hangup())

    since = peer.mark()
    baresip.dial(interop_stack.uri("1004"))
    incoming = peer.wait_for("newRTCSession", since=since)
    peer.wait_for("confirmed", since=since)
    _assert_one_media_path(interop_stack, peer, incoming["call_id"])
    peer.wait_inbound_growth(min_bytes=4000)
    peer.wait_sent_sound()
    peer.wait_for("ended", since=peer.hangup())

    baresip.wait_heard(recorded_before, calls=2)  # what baresip heard from the browser, both calls
    assert incoming["from"].startswith(f"sip:{baresip.user}@"), incoming


def test_baresip_plays_its_whole_tone_after_a_reregistration(
    interop_stack: InteropStack, jssip_peer: PeerFactory
) -> None:
    """What a Kamailio restart does to baresip (`Baresip.reregister`), twice, then a call: baresip is
    still running a second into the call and its tone keeps coming. baresip 1.0 re-registered with
    ``uadel`` + ``uanew`` kept a pointer to the freed user agent and crashed 100 ms into the next call
    (SIGSEGV in ``ua_call``; the far end got 7 packets of tone)."""
    baresip = interop_stack.baresip()
    baresip.reregister()
    baresip.reregister()
    peer = _registered_peer(interop_stack, jssip_peer, "1004", auto_answer=True)

    since = peer.call(baresip.uri)
    call_id = peer.wait_for("newRTCSession", since=since)["call_id"]
    peer.wait_for("confirmed", since=since)
    _assert_one_media_path(interop_stack, peer, call_id)
    peer.wait_inbound_growth(min_bytes=8000)  # one second of tone: 50 packets, not 7
    peer.wait_inbound_growth(min_bytes=8000)
    assert baresip.process.running, baresip.process.death_notice()
    peer.wait_for("ended", since=peer.hangup())


# --------------------------------------------------------------------------- restart, hygiene


def test_kamailio_restart_reregisters_and_keeps_the_call(
    interop_stack: InteropStack, jssip_peer: PeerFactory
) -> None:
    echo = interop_stack.callee("echo")
    peer = _registered_peer(interop_stack, jssip_peer, "1001")
    since = peer.call(echo.uri)
    peer.wait_for("confirmed", since=since)
    seen = len(echo.messages())
    restart_mark = peer.mark()

    interop_stack.kamailio.restart()
    peer.wait_for("disconnected", since=restart_mark, timeout=10)
    reregistered = peer.wait_for("registered", since=restart_mark, timeout=40)
    peer.wait_inbound_growth(min_bytes=4000)  # media never went through Kamailio
    peer.wait_for("ended", since=peer.hangup())

    assert reregistered["status"] == 200
    assert interop_stack.kamailio.wait_registered("1001")
    # the BYE after the restart still reaches the callee (loose routing needs no state)
    echo.wait_for_message("BYE ", since=seen)


def test_two_browsers_call_each_other_through_kamailio(
    interop_stack: InteropStack, jssip_peer: PeerFactory
) -> None:
    caller = _registered_peer(interop_stack, jssip_peer, "1005")
    callee = _registered_peer(interop_stack, jssip_peer, "1006", secure=True, auto_answer=True)

    since = caller.call(interop_stack.uri("1006"))
    call_id = caller.wait_for("newRTCSession", since=since)["call_id"]
    caller.wait_for("confirmed", since=since)
    callee.wait_for("confirmed")
    _assert_one_media_path(interop_stack, caller, call_id)
    _assert_one_media_path(interop_stack, callee, call_id)
    caller.wait_inbound_growth(min_bytes=4000)
    callee.wait_inbound_growth(min_bytes=4000)
    stats = caller.stats()
    caller.hangup()
    ended = callee.wait_for("ended")

    assert ended["originator"] == "remote"
    assert stats is not None and stats["dtls"] == "connected", stats
    assert any(codec.startswith("audio/opus") for codec in stats["codecs"]), stats  # rtpengine passes opus


def test_everything_listens_on_loopback_only(interop_stack: InteropStack) -> None:
    interop_stack.baresip()
    interop_stack.sha256_kamailio()

    # baresip 1.0's DNS client keeps unconnected ephemeral sockets on the wildcard address; it only
    # ever sends to dns_server 127.0.0.1:53. Everything else must be bound to 127.0.0.1.
    offending = [
        line
        for line in interop_stack.check_loopback_only()
        if not ('"baresip"' in line and int(line.split()[4].rsplit(":", 1)[1]) >= 32768)
    ]

    assert offending == []
