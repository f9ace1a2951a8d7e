"""Microphone capture control through the Device (constraints for new and live calls, the processor's
lifecycle), in CPython against the in-memory platform; tests/browser/test_microphone_capture.py drives the
same in Chromium."""

from __future__ import annotations

from typing import Any

import pytest
from fakes import FakePlatform, make_token
from test_device import API, answer_incoming, registered, until_status

from twochat_voice_web import Device
from twochat_voice_web.audio_capture import AudioConstraints
from twochat_voice_web.errors import ErrorCode, VoiceSDKError


class Processor:
    def __init__(self) -> None:
        self.created: list[Any] = []
        self.destroyed: list[Any] = []

    def create_processed_stream(self, stream: Any) -> Any:
        processed = ("processed", stream)
        self.created.append(processed)
        return processed

    def destroy_processed_stream(self, stream: Any) -> None:
        self.destroyed.append(stream)


async def test_constraints_reach_new_calls_and_live_ones() -> None:
    device, platform = await registered(audio_constraints={"echoCancellation": False})
    assert device.audio_constraints == {"echo_cancellation": False}
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    call.mute()
    first = platform.media.opened[0]
    assert first.constraints == AudioConstraints(echo_cancellation=False)
    await device.set_audio_constraints({"noise_suppression": False, "channel_count": 1})
    second = platform.media.opened[-1]
    assert second.constraints == AudioConstraints(noise_suppression=False, channel_count=1)
    assert first.stopped and not second.stopped
    assert platform.peers[0].mic is second, "the live call must send the re-opened microphone"
    assert second.enabled is False, "the mute state is kept"
    await device.unset_audio_constraints()
    assert device.audio_constraints == {}
    latest = platform.media.opened[-1]
    assert latest.constraints is None and platform.peers[0].mic is latest
    await call.disconnect()


async def test_the_same_constraints_again_reopen_nothing() -> None:
    device, platform = await registered(audio_constraints={"auto_gain_control": True})
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    await device.set_audio_constraints({"autoGainControl": True})
    assert len(platform.media.opened) == 1
    await call.disconnect()


@pytest.mark.parametrize(
    "bad", [{"echo_cancellation": "off"}, {"channel_count": 6}, {"volume": 1.0}, "echoCancellation"]
)
async def test_bad_constraints_change_nothing(bad: Any) -> None:
    device, platform = await registered(audio_constraints={"channel_count": 2})
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    with pytest.raises(VoiceSDKError) as info:
        await device.set_audio_constraints(bad)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert device.audio_constraints == {"channel_count": 2}
    assert len(platform.media.opened) == 1 and not platform.media.opened[0].stopped
    await call.disconnect()


def test_bad_device_options_are_refused() -> None:
    platform = FakePlatform()
    for options in ({"audio_constraints": {"channelCount": 3}}, {"audio_processor": 7}):
        with pytest.raises(VoiceSDKError) as info:
            Device(make_token(), api_base_url=API, platform=platform, **options)
        assert info.value.code is ErrorCode.INVALID_ARGUMENT


async def test_the_processor_runs_per_microphone_and_is_destroyed_with_it() -> None:
    processor = Processor()
    device, platform = await registered(audio_processor=processor)
    answer_incoming(platform)
    call = await device.connect("+15550100")
    await until_status(call, "accepted")
    mic = platform.media.opened[0]
    assert processor.created == [("processed", mic)] and mic.sent == ("processed", mic)
    await call.set_input_device("usb")  # a new microphone: processed anew, the former one destroyed
    usb = platform.media.opened[1]
    assert processor.created[-1] == ("processed", usb)
    assert processor.destroyed == [("processed", mic)]
    await call.disconnect()
    assert processor.destroyed == [("processed", mic), ("processed", usb)]
