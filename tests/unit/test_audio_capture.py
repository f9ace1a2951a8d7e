"""Microphone capture control (:mod:`twochat_voice_web.audio_capture`): validation of the audio constraints
against the W3C MediaTrackConstraints names, and the audio processor's two hooks."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

from twochat_voice_web.audio_capture import (
    AudioConstraints,
    parse_audio_constraints,
    parse_audio_processor,
)
from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError

# The members of MediaTrackConstraintSet (W3C Media Capture and Streams, §4.3.8) this control covers.
W3C_NAMES = {"echoCancellation", "noiseSuppression", "autoGainControl", "channelCount"}


def test_snake_and_camel_names_give_the_w3c_constraints() -> None:
    snake = parse_audio_constraints(
        {
            "echo_cancellation": False,
            "noise_suppression": True,
            "auto_gain_control": False,
            "channel_count": 2,
        }
    )
    camel = parse_audio_constraints(
        {"echoCancellation": False, "noiseSuppression": True, "autoGainControl": False, "channelCount": 2}
    )
    assert snake == camel
    assert camel.to_media_track_constraints() == {
        "echoCancellation": False,
        "noiseSuppression": True,
        "autoGainControl": False,
        "channelCount": 2,
    }
    assert set(camel.to_media_track_constraints()) == W3C_NAMES
    assert snake.to_dict()["channel_count"] == 2


def test_nothing_asked_is_the_default() -> None:
    assert parse_audio_constraints(None).is_default
    assert parse_audio_constraints({}).is_default
    assert parse_audio_constraints({"echo_cancellation": None}) == AudioConstraints()
    assert parse_audio_constraints({"channel_count": 1}).to_media_track_constraints() == {"channelCount": 1}
    assert not parse_audio_constraints({"channel_count": 1}).is_default


@pytest.mark.parametrize(
    ("value", "mentions"),
    [
        ({"echo_cancelation": True}, "unknown audio constraint"),
        ({"sampleRate": 48000}, "unknown audio constraint"),
        ({"echo_cancellation": "yes"}, "True or False"),
        ({"noiseSuppression": 1}, "True or False"),
        ({"auto_gain_control": 0}, "True or False"),
        ({"channel_count": 3}, "1 or 2"),
        ({"channel_count": 0}, "1 or 2"),
        ({"channel_count": True}, "1 or 2"),
        ({"channel_count": 1.0}, "1 or 2"),
        ({"channelCount": "2"}, "1 or 2"),
        ({"echo_cancellation": True, "echoCancellation": False}, "twice"),
        ("echoCancellation", "must be an object"),
        ([("echo_cancellation", True)], "must be an object"),
        ({1: True}, "unknown audio constraint"),
    ],
)
def test_bad_constraints_are_invalid_arguments(value: Any, mentions: str) -> None:
    with pytest.raises(VoiceSDKError) as info:
        parse_audio_constraints(value)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert mentions in info.value.message


# ------------------------------------------------------------------------------------------ processor


class Processor:
    """A processor object in Twilio's shape (snake_case for Python)."""

    def __init__(self) -> None:
        self.created: list[Any] = []
        self.destroyed: list[Any] = []

    async def create_processed_stream(self, stream: Any) -> Any:
        self.created.append(stream)
        return ("processed", stream)

    def destroy_processed_stream(self, stream: Any) -> None:
        self.destroyed.append(stream)


def test_a_processor_object_creates_and_destroys() -> None:
    asyncio.run(_test_a_processor_object_creates_and_destroys())


async def _test_a_processor_object_creates_and_destroys() -> None:
    page = Processor()
    processor = parse_audio_processor(page)
    assert processor is not None and processor.source is page
    assert await processor.process("mic") == ("processed", "mic")
    processor.release(("processed", "mic"))
    assert page.created == ["mic"] and page.destroyed == [("processed", "mic")]


def test_camel_case_hooks_and_awaitable_destroy() -> None:
    asyncio.run(_test_camel_case_hooks_and_awaitable_destroy())


async def _test_camel_case_hooks_and_awaitable_destroy() -> None:
    released: list[Any] = []

    class JsStyle:
        def createProcessedStream(self, stream: Any) -> Any:
            return f"processed {stream}"

        async def destroyProcessedStream(self, stream: Any) -> None:
            released.append(stream)

    processor = parse_audio_processor(JsStyle())
    assert processor is not None
    assert await processor.process("mic") == "processed mic"
    processor.release("processed mic")
    deadline = time.monotonic() + 10.0  # the hook runs as a task of its own: wait for it, with a deadline
    while not released and time.monotonic() < deadline:
        await asyncio.sleep(0.005)
    assert released == ["processed mic"]


def test_a_plain_callable_is_a_processor_without_destroy() -> None:
    asyncio.run(_test_a_plain_callable_is_a_processor_without_destroy())


async def _test_a_plain_callable_is_a_processor_without_destroy() -> None:
    processor = parse_audio_processor(lambda stream: f"louder {stream}")
    assert processor is not None and processor.destroy is None
    assert await processor.process("mic") == "louder mic"
    processor.release("louder mic")  # nothing to call, nothing raised


def test_a_failing_processor_is_a_media_error() -> None:
    asyncio.run(_test_a_failing_processor_is_a_media_error())


async def _test_a_failing_processor_is_a_media_error() -> None:
    def broken(_stream: Any) -> Any:
        raise RuntimeError("no AudioContext")

    processor = parse_audio_processor(broken)
    assert processor is not None
    with pytest.raises(MediaError) as info:
        await processor.process("mic")
    assert info.value.code is ErrorCode.MEDIA_DEVICE_ERROR and "no AudioContext" in info.value.message
    nothing = parse_audio_processor(lambda _stream: None)
    assert nothing is not None
    with pytest.raises(MediaError):
        await nothing.process("mic")


def test_a_failing_destroy_is_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    class Leaky(Processor):
        def destroy_processed_stream(self, stream: Any) -> None:
            raise RuntimeError("already closed")

    processor = parse_audio_processor(Leaky())
    assert processor is not None
    processor.release("x")
    assert "destroy_processed_stream() failed" in caplog.text


@pytest.mark.parametrize("value", [42, "processor", {"create": 1}, object()])
def test_something_else_is_not_a_processor(value: object) -> None:
    with pytest.raises(VoiceSDKError) as info:
        parse_audio_processor(value)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert parse_audio_processor(None) is None
