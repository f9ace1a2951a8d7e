"""What Twilio Voice JS users rely on (issue #18), driven for real: our SDK in Chromium against the sandbox.

DTMF in early media, codec preferences, the call's streams, the ``volume`` event. The sandbox tells what
it saw (its event log, ``GET /sandbox/calls``), so each test checks the far end, not only what the SDK says.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from browser import test_device_calls
from browser.harness import Sandbox
from browser.sdk_driver import SdkError
from browser.test_device_calls import Sdk, sandbox_events, sandbox_json, wait_sandbox_event

sdk = test_device_calls.sdk
"""The harness page with a driver (the fixture of test_device_calls: no proxy or <audio> left after)."""

pytestmark = pytest.mark.browser

EARLY_IVR = "+15550108"
"""The sandbox number that answers 183 with an IVR prompt and answers only once ``#`` arrives."""


# ----------------------------------------------------------------------------------- DTMF in early media


def test_digits_reach_an_ivr_in_early_media_before_the_answer(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", EARLY_IVR)["call"]
    ringing = sdk.wait(call, "ringing")
    assert ringing["args"] == [{"has_early_media": True}]
    assert sdk.call(call, "status") == "ringing"
    call_id = sdk.call(call, "sip_call_id")
    sdk.call(call, "send_digits", "12#")
    sdk.wait(call, "accepted", since=ringing["seq"], timeout=15)  # the IVR answers on "#" only
    digits = sandbox_events(sandbox, call_id=call_id, kind="dtmf")
    assert "".join(e["digit"] for e in digits) == "12#"
    assert {e["transport"] for e in digits} == {"rfc4733"}
    assert {e["call_state"] for e in digits} == {"early"}, "a digit arrived after the answer"
    answered = wait_sandbox_event(sandbox, lambda e: e["kind"] == "answered", call_id=call_id)
    assert answered["time"] >= max(e["time"] for e in digits)
    sdk.call(call, "disconnect")


def test_early_digits_are_refused_when_they_cannot_go_out(sdk: Sdk, sandbox: Sandbox) -> None:
    # SIP INFO is not routed before the answer: the Device that insists on INFO gets INVALID_STATE.
    device = sdk.registered_device(dtmf_transport="info")
    call = sdk.device(device, "connect", EARLY_IVR)["call"]
    sdk.wait(call, "ringing")
    call_id = sdk.call(call, "sip_call_id")
    with pytest.raises(SdkError) as refused:
        sdk.call(call, "send_digits", "1")
    assert refused.value.code == "INVALID_STATE"
    assert "dtmf_transport" in str(refused.value.error["message"])
    # A plain 180 (no early media) has nothing to carry digits either.
    ringer = sdk.device(device, "connect", "+15550103")["call"]
    sdk.wait(ringer, "ringing")
    with pytest.raises(SdkError) as not_yet:
        sdk.call(ringer, "send_digits", "1")
    assert not_yet.value.code == "INVALID_STATE"
    assert sdk.call(call, "status") == "ringing" and sdk.call(ringer, "status") == "ringing"
    assert sandbox_events(sandbox, call_id=call_id, kind="dtmf") == []
    sdk.call(call, "disconnect")
    sdk.call(ringer, "disconnect")


# ----------------------------------------------------------------------------------- codec preferences


def _negotiated(sandbox: Sandbox, call_id: str) -> dict[str, Any]:
    return wait_sandbox_event(sandbox, lambda e: e["kind"] == "negotiated", call_id=call_id)


def test_device_codec_preferences_and_opus_parameters_reach_the_far_end(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device(codec_preferences=["pcmu", "opus"], max_average_bitrate=20000, dtx=True)
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    call_id = sdk.call(call, "sip_call_id")
    negotiated = _negotiated(sandbox, call_id)
    assert negotiated["offered"][:2] == ["PCMU", "opus"], negotiated
    assert negotiated["codec"] == "PCMU"
    assert "telephone-event" in negotiated["offered"], "DTMF must stay negotiable"
    # RFC 7587 §6.1 parameter names, as the far end reads them from our offer.
    assert negotiated["client_opus_fmtp"]["maxaveragebitrate"] == "20000"
    assert negotiated["client_opus_fmtp"]["usedtx"] == "1"
    _energy, received = sdk.wait_audio_growing(call, seconds=1.5)
    assert received > 0, "no audio came back over PCMU"
    assert sdk.call(call, "get_stats")["codec"].upper() == "PCMU"  # what the browser decodes
    sdk.call(call, "disconnect")


def test_a_call_overrides_the_device_codecs_and_rtc_configuration(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device(codec_preferences=["PCMU"])
    call = sdk.device(device, "connect", "+15550100", codec_preferences=["PCMA"], dtx=False)["call"]
    sdk.wait(call, "accepted")
    negotiated = _negotiated(sandbox, sdk.call(call, "sip_call_id"))
    assert negotiated["offered"][0] == "PCMA" and negotiated["codec"] == "PCMA"
    assert negotiated["client_opus_fmtp"]["usedtx"] == "0"
    assert negotiated["client_candidates"] > 0
    sdk.call(call, "disconnect")
    # A relay-only RTCConfiguration without a TURN server gathers no candidate: the offer shows it (and
    # the sandbox, which cannot reach a client without candidates, refuses the call).
    relay = sdk.device(device, "connect", "+15550100", rtc_configuration={"iceTransportPolicy": "relay"})
    relay_id = sdk.call(relay["call"], "sip_call_id")
    started = wait_sandbox_event(sandbox, lambda e: e["kind"] == "call_started", call_id=relay_id)
    assert started["offer_candidates"] == 0
    sdk.wait(relay["call"], "disconnect")


def test_accept_with_codec_preferences(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device("alice")
    sandbox_json(sandbox, "POST", "/sandbox/calls", {"to": "alice", "media": "echo"})
    incoming = sdk.wait(device, "incoming")
    call = incoming["args"][0]["call"]
    sdk.call(call, "accept", codec_preferences=["PCMA"], max_average_bitrate=16000)
    sdk.wait(call, "accepted")
    negotiated = _negotiated(sandbox, sdk.call(call, "sip_call_id"))
    assert negotiated["answered"][0] == "PCMA" and negotiated["codec"] == "PCMA"
    assert negotiated["client_opus_fmtp"].get("maxaveragebitrate") in (None, "16000")
    sdk.call(call, "disconnect")


def test_bad_media_options_are_refused_and_change_nothing(sdk: Sdk, sandbox: Sandbox) -> None:
    with pytest.raises(SdkError) as unknown:
        sdk.new_device(codec_preferences=["opus", "G729"])
    assert unknown.value.code == "INVALID_ARGUMENT" and "G729" in str(unknown.value.error["message"])
    device = sdk.registered_device()
    since = time.time()
    for options in (
        {"codec_preferences": ["opus", "opus"]},
        {"codec_preferences": "opus"},
        {"max_average_bitrate": 5999},
        {"dtx": "yes"},
        {"rtc_configuration": {"iceTransportPolicy": "nohost"}},
        {"rtc_configuration": {"certificates": []}},
    ):
        with pytest.raises(SdkError) as refused:
            sdk.device(device, "connect", "+15550100", **options)
        assert refused.value.code == "INVALID_ARGUMENT", options
    assert sdk.device(device, "calls") == []
    started = [e for e in sandbox_events(sandbox, kind="call_started") if float(e.get("time", 0)) >= since]
    assert started == [], "a refused connect() still placed a call"


# ----------------------------------------------------------------------------------- streams and volume


def test_local_and_remote_streams_are_the_ones_on_the_wire(sdk: Sdk) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    sdk.wait_audio_growing(call, seconds=1.0)
    local = sdk.run("stream_info", call_id=call, which="local")
    remote = sdk.run("stream_info", call_id=call, which="remote")
    assert [t["ready_state"] for t in local["audio_tracks"]] == ["live"]
    assert [t["ready_state"] for t in remote["audio_tracks"]] == ["live"]
    raw = sdk.call(call, "get_stats")["raw"]
    sent = {r.get("trackIdentifier") for r in raw if r.get("type") == "media-source"}
    received = {r.get("trackIdentifier") for r in raw if r.get("type") == "inbound-rtp"}
    assert local["audio_tracks"][0]["id"] in sent, "the local stream is not what the call sends"
    assert remote["audio_tracks"][0]["id"] in received, "the remote stream is not what the call receives"
    sdk.call(call, "disconnect")
    for which in ("local", "remote"):
        with pytest.raises(SdkError) as ended:
            sdk.run("stream_info", call_id=call, which=which)
        assert ended.value.code == "INVALID_STATE"
    # The SDK released the microphone: the stream the page held has no live track left.
    assert [
        t["ready_state"] for t in sdk.run("kept_stream_info", call_id=call, which="local")["audio_tracks"]
    ] == ["ended"]


def test_volume_events_report_both_directions_and_follow_mute(sdk: Sdk) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550100")["call"]
    accepted = sdk.wait(call, "accepted")

    def volumes(since: int) -> list[tuple[int, float, float]]:
        return [
            (e["seq"], float(e["args"][0]), float(e["args"][1]))
            for e in sdk.events(since)
            if e["target"] == call and e["name"] == "volume"
        ]

    # Chromium's fake microphone beeps; the echo number sends it back: both levels rise above 0.
    seen: list[tuple[int, float, float]] = []
    deadline = time.monotonic() + 20
    while not (any(i > 0 for _, i, _ in seen) and any(o > 0 for _, _, o in seen)):
        assert time.monotonic() < deadline, f"no input and output level in {len(seen)} volume events"
        sdk.wait(call, "volume", since=seen[-1][0] if seen else accepted["seq"])
        seen = volumes(accepted["seq"])
    assert all(0.0 <= i <= 1.0 and 0.0 <= o <= 1.0 for _, i, o in seen)
    # Several volume events between two quality samples (10 a second against 1 a second).
    first = sdk.wait(call, "sample", since=seen[-1][0])
    second = sdk.wait(call, "sample", since=first["seq"])
    between = [v for v in volumes(first["seq"]) if v[0] < second["seq"]]
    assert len(between) >= 3, f"only {len(between)} volume events in a one-second sample period"
    sdk.call(call, "mute", True)
    muted = sdk.wait(call, "mute")
    deadline = time.monotonic() + 10
    while not any(i == 0.0 for _, i, _ in volumes(muted["seq"])):
        assert time.monotonic() < deadline, "the input level did not fall to 0 while muted"
        sdk.wait(call, "volume", since=max([muted["seq"], *(v[0] for v in volumes(muted["seq"]))]))
    sdk.call(call, "disconnect")
