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
    # A relay-only RTCConfiguration without a TURN server gathers no candidate: the offer shows it.
    relay = sdk.device(device, "connect", "+15550100", rtc_configuration={"iceTransportPolicy": "relay"})
    relay_id = sdk.call(relay["call"], "sip_call_id")
    assert _negotiated(sandbox, relay_id)["client_candidates"] == 0
    sdk.call(relay["call"], "disconnect")


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
