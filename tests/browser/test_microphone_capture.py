"""Microphone capture control (issue #18 item 1, Twilio's ``setAudioConstraints`` and ``AudioProcessor``),
driven for real: our SDK in Chromium against the sandbox.

The constraints are read back from the page (``track.getSettings()`` / ``getConstraints()``, W3C Media
Capture and Streams names), the track actually sent from the sender's ``media-source`` statistics
(``trackIdentifier``), and the processed audio from what the sandbox's echo number measured.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from browser import test_device_calls
from browser.harness import Sandbox
from browser.sdk_driver import SdkError
from browser.test_device_calls import Sdk, wait_sandbox_event

sdk = test_device_calls.sdk
"""The harness page with a driver (the fixture of test_device_calls: no proxy or <audio> left after)."""

pytestmark = pytest.mark.browser

ECHO = "+15550100"


def _sent_track_is(sdk: Sdk, call: str, track_id: str) -> dict[str, Any]:
    """Wait (with a deadline) until the sender's media-source reports ``track_id``; the capture info."""
    info: dict[str, Any] = sdk.run("capture_info", call_id=call)
    for _ in range(50):
        if info["sent_track_ids"] == [track_id]:
            return info
        sdk.page.wait_for_timeout(100)  # statistics are cached for a moment after replaceTrack
        info = sdk.run("capture_info", call_id=call)
    raise AssertionError(f"the sender sends {info['sent_track_ids']}, not {track_id}")


def test_constraints_reach_the_track_and_change_during_a_call(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device(
        audio_constraints={
            "echo_cancellation": False,
            "noise_suppression": False,
            "auto_gain_control": False,
            "channel_count": 1,
        }
    )
    call = sdk.device(device, "connect", ECHO)["call"]
    sdk.wait(call, "accepted")
    first = sdk.run("capture_info", call_id=call)
    assert first["constraints"] == {
        "echoCancellation": False,
        "noiseSuppression": False,
        "autoGainControl": False,
        "channelCount": 1,
    }
    settings = first["settings"]
    assert (settings["echoCancellation"], settings["noiseSuppression"], settings["autoGainControl"]) == (
        False,
        False,
        False,
    )
    _sent_track_is(sdk, call, first["track_id"])

    # At run time: the live call's microphone is re-opened with the new constraints and sent instead.
    sdk.call(call, "mute", True)
    sdk.device(device, "set_audio_constraints", {"echoCancellation": True, "noiseSuppression": True})
    assert sdk.device(device, "audio_constraints") == {"echo_cancellation": True, "noise_suppression": True}
    second = sdk.run("capture_info", call_id=call)
    assert second["track_id"] != first["track_id"]
    assert second["constraints"] == {"echoCancellation": True, "noiseSuppression": True}
    assert second["settings"]["echoCancellation"] is True and second["settings"]["noiseSuppression"] is True
    assert sdk.run("stream_info", call_id=call, which="local")["audio_tracks"][0]["enabled"] is False
    _sent_track_is(sdk, call, second["track_id"])
    sdk.call(call, "mute", False)
    _energy, received = sdk.wait_audio_growing(call, seconds=1.5)
    assert received > 0, "no audio after the microphone was re-opened"

    # Bad input: a clear error, and nothing changes (same track, same constraints).
    for bad in ({"channel_count": 3}, {"echo_cancellation": "no"}, {"sampleRate": 8000}):
        with pytest.raises(SdkError) as refused:
            sdk.device(device, "set_audio_constraints", bad)
        assert refused.value.code == "INVALID_ARGUMENT"
    assert sdk.run("capture_info", call_id=call)["track_id"] == second["track_id"]
    assert sdk.device(device, "audio_constraints") == {"echo_cancellation": True, "noise_suppression": True}

    sdk.device(device, "unset_audio_constraints")
    third = sdk.run("capture_info", call_id=call)
    assert third["constraints"] == {} and third["track_id"] != second["track_id"]
    sdk.call(call, "disconnect")


def test_the_processed_stream_is_what_is_sent(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device(test_processor="tone")
    call = sdk.device(device, "connect", ECHO)["call"]
    sdk.wait(call, "accepted")
    log = sdk.run("processor_log", device_id=device)
    assert len(log["created"]) == 1 and log["destroyed"] == []
    info = _sent_track_is(sdk, call, log["created"][0])
    assert info["track_id"] == log["created"][0], "get_local_stream() must give the processed stream"
    assert log["inputs"][0] != log["created"][0]
    # The far end hears the processor's tone, not the microphone: a 1 kHz sine at half scale has an RMS
    # of 0.5 / sqrt(2) of full scale (s16: ~11585), whatever the codec does to its shape.
    expected = 0.5 / math.sqrt(2) * 32767
    call_id = sdk.call(call, "sip_call_id")
    heard = wait_sandbox_event(
        sandbox,
        lambda e: e["kind"] == "audio_level" and 0.6 * expected < float(e["rms_avg"]) < 1.4 * expected,
        call_id=call_id,
    )
    assert heard["rms_avg"]
    sdk.call(call, "disconnect")
    log = sdk.run("processor_log", device_id=device)
    assert log["destroyed"] == log["created"], "the processed stream must be handed back to destroy"


def test_a_failing_processor_fails_the_call_cleanly(sdk: Sdk) -> None:
    device = sdk.registered_device(test_processor="not-a-stream")
    with pytest.raises(SdkError) as failed:
        sdk.device(device, "connect", ECHO)
    assert failed.value.code == "MEDIA_DEVICE_ERROR"
    assert "audio processor" in str(failed.value.error["message"])
    assert sdk.device(device, "calls") == []
