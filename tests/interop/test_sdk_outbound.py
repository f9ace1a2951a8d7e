"""Our SDK calls the sipp callees through Kamailio + rtpengine (WebRTC on our side, plain RTP at sipp).

Every test checks both what the SDK reports (events, statuses, get_stats) and what the far end saw:
sipp's message trace, Kamailio's sipdump (what reached or left the SDK's WebSocket) and, for RFC 4733,
the RTP on the loopback interface. The echo callee returns our own audio, so inbound audio that grows
with energy proves that audio flows both ways.
"""

from __future__ import annotations

import re
import time

import pytest

from .sdk_peer import (
    InteropSdk,
    dialog_records,
    sdp_directions,
    sipp_dialog,
    wait_sip_record,
    wait_sipp_dialog_message,
)
from .stack import InteropStack

USER = "1001"


def _accepted_call(sdk: InteropSdk, device: str, uri: str) -> tuple[str, str]:
    """Call ``uri``, wait for ``accepted``; (call id, SIP Call-ID)."""
    call = sdk.connect(device, uri)
    sdk.wait(call, "accepted")
    return call, str(sdk.call(call, "sip_call_id"))


def _hang_up(sdk: InteropSdk, call: str) -> None:
    sdk.call(call, "disconnect")
    disconnect = sdk.wait(call, "disconnect")
    assert disconnect["args"][0]["reason"] == "local", f"{sdk.label(call)} ended with {disconnect['args']}"


# --------------------------------------------------------------------------- audio


def test_echo_call_has_audio_both_ways(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    echo = interop_stack.callee("echo")
    device = sdk.registered_device(USER)

    call, call_id = _accepted_call(sdk, device, echo.uri)
    energy, received = sdk.wait_audio(call, min_bytes=8000, peer="sipp echo (our audio, echoed)")
    stats = sdk.stats(call)
    _hang_up(sdk, call)

    # sipp's echo returns the RTP it gets (through rtpengine): what came back cannot exceed what we sent.
    # (Not "> 8000": wait_audio returns as soon as 8000 echoed bytes are in, when exactly as many may
    # have been sent, 50 PCMU packets of 160 bytes.)
    assert stats.get("bytes_sent", 0) >= received, f"{sdk.label(call)} sent less than it got back: {stats}"
    assert "PCMU" in str(stats.get("codec")), f"sipp answers PCMU only; the SDK uses {stats.get('codec')}"
    assert {"invite_sent", "answered", "media_connected"} <= set(sdk.call(call, "timings"))
    wait_sipp_dialog_message(echo, call_id, "BYE ")
    ws_side = dialog_records(interop_stack.kamailio, call_id)
    offer = next(r for r in ws_side if r.direction == "rcv" and r.first_line.startswith("INVITE "))
    assert offer.proto == "ws" and "UDP/TLS/RTP/SAVPF" in offer.message, "the SDK's offer is not WebRTC"
    at_sipp = [m for m in sipp_dialog(echo.messages(), call_id) if m.first_line.startswith("INVITE ")]
    assert at_sipp and "RTP/AVP" in at_sipp[0].message, "rtpengine did not give sipp a plain RTP offer"
    assert energy > 0 and received >= 8000


# --------------------------------------------------------------------------- DTMF


def test_dtmf_rfc4733_events_on_the_wire(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    echo = interop_stack.callee("echo")
    capture = interop_stack.packet_capture([echo.media_port], name="sdk-dtmf")
    try:
        device = sdk.registered_device(USER)
        call, call_id = _accepted_call(sdk, device, echo.uri)
        sdk.wait_audio(call, min_bytes=2000, peer="sipp echo")

        sdk.call(call, "send_digits", "159#")
        deadline = time.monotonic() + 8.0
        digits = ""
        while time.monotonic() < deadline and digits != "159#":
            time.sleep(0.3)
            digits = capture.dtmf_digits(dst_port=echo.media_port)
        echoed = capture.dtmf_digits(src_port=echo.media_port)
        _hang_up(sdk, call)
    finally:
        capture.stop()

    assert digits == "159#", (
        f"RFC 4733 events from rtpengine to sipp echo (port {echo.media_port}) decode to {digits!r}, "
        "the SDK sent '159#'"
    )
    assert echoed.startswith("159"), f"sipp echo returned the events as {echoed!r}"
    infos = [m for m in sipp_dialog(echo.messages(), call_id) if m.first_line.startswith("INFO ")]
    assert infos == [], "the SDK sent SIP INFO although telephone-event was negotiated"


def test_dtmf_as_sip_info(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    echo = interop_stack.callee("echo")
    device = sdk.registered_device(USER, dtmf_transport="info")
    call, call_id = _accepted_call(sdk, device, echo.uri)

    sdk.call(call, "send_digits", "42*")
    infos = wait_sipp_dialog_message(echo, call_id, "INFO ", count=3)
    _hang_up(sdk, call)

    signals = [re.findall(r"^Signal=\s*(\S+)", m.message, re.MULTILINE) for m in infos]
    assert signals == [["4"], ["2"], ["*"]], f"sipp echo received INFO bodies: {[m.message for m in infos]}"
    assert all("application/dtmf-relay" in (m.header("Content-Type") or "") for m in infos), infos


# --------------------------------------------------------------------------- hold


def test_hold_and_unhold_by_us(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    echo = interop_stack.callee("echo")
    device = sdk.registered_device(USER)
    call, call_id = _accepted_call(sdk, device, echo.uri)
    sdk.wait_audio(call, min_bytes=2000, peer="sipp echo")

    sdk.call(call, "hold", True)
    held = sdk.call(call, "is_on_hold")
    sdk.call(call, "hold", False)
    resumed = not sdk.call(call, "is_on_hold")
    sdk.wait_audio(call, min_bytes=4000, peer="sipp echo, after unhold")
    _hang_up(sdk, call)

    assert held and resumed
    assert [e["args"] for e in sdk.events(sdk.start_seq) if e["target"] == call and e["name"] == "hold"] == [
        [True],
        [False],
    ]
    dialog = sipp_dialog(echo.messages(), call_id)
    offers = [sdp_directions(m.message) for m in dialog if m.direction == "received" and "\nv=0" in m.message]
    answers = [sdp_directions(m.message) for m in dialog if m.direction == "sent" and "\nv=0" in m.message]
    assert offers == [["sendrecv"], ["sendonly"], ["sendrecv"]], f"offers sipp echo received: {offers}"
    assert answers == [["sendrecv"], ["recvonly"], ["sendrecv"]], f"answers sipp echo sent: {answers}"
    ws_side = [r for r in dialog_records(interop_stack.kamailio, call_id) if r.proto == "ws"]
    answered = [
        r
        for r in ws_side
        if r.direction == "snd" and r.first_line.startswith("SIP/2.0 200") and "v=0" in r.message
    ]
    answered_cseqs = {r.header("CSeq") for r in answered}
    from_sdk = [  # the offers that got a 200 (not the first INVITE that drew Kamailio's 407)
        sdp_directions(r.message)
        for r in ws_side
        if r.direction == "rcv" and r.first_line.startswith("INVITE ") and r.header("CSeq") in answered_cseqs
    ]
    to_sdk = [sdp_directions(r.message) for r in answered]
    assert from_sdk == [["sendrecv"], ["sendonly"], ["sendrecv"]], f"the SDK's offers: {from_sdk}"
    assert to_sdk == [["sendrecv"], ["recvonly"], ["sendrecv"]], f"answers that reached the SDK: {to_sdk}"


def test_remote_hold_and_resume(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    rhold = interop_stack.callee("rhold")
    device = sdk.registered_device(USER)
    call, call_id = _accepted_call(sdk, device, rhold.uri)

    held = sdk.wait(call, "remote-hold", timeout=10)
    resumed = sdk.wait(call, "remote-hold", since=held["seq"], timeout=10)
    still_held = sdk.call(call, "is_remote_hold")
    sdk.wait_audio(call, min_bytes=2000, peer="sipp rhold after it resumed")
    _hang_up(sdk, call)

    assert held["args"] == [True] and resumed["args"] == [False], (held, resumed)
    assert still_held is False
    answers = [
        sdp_directions(m.message)
        for m in sipp_dialog(rhold.messages(), call_id)
        if m.direction == "received" and m.first_line.startswith("SIP/2.0 200") and "\nv=0" in m.message
    ]
    assert answers == [["recvonly"], ["sendrecv"]], f"the SDK answered sipp rhold's re-INVITEs with {answers}"


# --------------------------------------------------------------------------- endings


def test_remote_bye(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    rbye = interop_stack.callee("rbye")
    device = sdk.registered_device(USER)
    call, call_id = _accepted_call(sdk, device, rbye.uri)

    disconnect = sdk.wait(call, "disconnect", timeout=10)

    assert disconnect["args"] == [{"reason": "remote", "status_code": None}], (
        f"after sipp rbye's BYE the SDK reported {disconnect['args']}"
    )
    assert sdk.call(call, "status") == "disconnected"
    wait_sipp_dialog_message(rbye, call_id, "SIP/2.0 200", direction="received")


def test_cancel_while_ringing(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    noanswer = interop_stack.callee("noanswer")
    device = sdk.registered_device(USER)
    call = sdk.connect(device, noanswer.uri)
    ringing = sdk.wait(call, "ringing")
    call_id = str(sdk.call(call, "sip_call_id"))

    sdk.call(call, "disconnect")
    disconnect = sdk.wait(call, "disconnect")

    assert ringing["args"] == [{"has_early_media": False}]
    assert disconnect["args"][0]["reason"] == "cancelled", (
        f"{sdk.label(call)} ended with {disconnect['args']}"
    )
    assert sdk.call(call, "status") == "disconnected"
    wait_sipp_dialog_message(noanswer, call_id, "CANCEL ")
    wait_sipp_dialog_message(noanswer, call_id, "SIP/2.0 487", direction="sent")
    wait_sipp_dialog_message(noanswer, call_id, "ACK ")


@pytest.mark.parametrize(
    ("callee", "reason", "status"), [("busy", "busy", 486), ("decline", "declined", 603)]
)
def test_callee_rejects(
    sdk: InteropSdk, interop_stack: InteropStack, callee: str, reason: str, status: int
) -> None:
    uri = interop_stack.callee_uri(callee)
    device = sdk.registered_device(USER)
    call = sdk.connect(device, uri)

    failed = sdk.wait(call, "failed")
    disconnect = sdk.wait(call, "disconnect", since=failed["seq"])

    assert failed["args"] == [{"reason": reason, "status_code": status}], (
        f"sipp {callee} answered {status}; the SDK reported failed {failed['args']}"
    )
    assert disconnect["args"] == failed["args"]
    assert sdk.call(call, "status") == "failed"
    assert sdk.device(device, "calls") == []
    wait_sip_record(
        interop_stack.kamailio,
        lambda r: r.direction == "snd" and r.proto == "ws" and r.first_line.startswith(f"SIP/2.0 {status}"),
        f"the {status} forwarded to the SDK",
    )


def test_early_media_then_answer(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    early = interop_stack.callee("early")
    device = sdk.registered_device(USER)
    call = sdk.connect(device, early.uri)
    ringing = sdk.wait(call, "ringing")

    heard_while_ringing = False
    stats: dict[str, object] = {}
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        energy, received = sdk.audio_in(call)
        status = sdk.call(call, "status")  # read after the stats: they were taken while it was ringing
        if status != "ringing":
            break
        if received > 0 and energy > 0:
            heard_while_ringing = True
            break
        time.sleep(0.15)
    stats = sdk.stats(call)
    accepted = sdk.wait(call, "accepted", since=ringing["seq"], timeout=10)
    sdk.wait_audio(call, min_bytes=2000, peer="sipp early, after its 200")
    _hang_up(sdk, call)

    assert ringing["args"] == [{"has_early_media": True}], (
        f"after sipp early's 183 with SDP: {ringing['args']}"
    )
    assert heard_while_ringing, f"{sdk.label(call)}: no early media (echo) before the 200; stats: {stats}"
    assert accepted["seq"] > ringing["seq"]
