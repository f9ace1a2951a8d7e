"""Microphone capture control: audio constraints and an audio processor (Twilio's
``setAudioConstraints()`` / ``unsetAudioConstraints()`` and ``AudioProcessor``).

* :class:`AudioConstraints`: the ``getUserMedia`` audio constraints a page may set, ``echo_cancellation``,
  ``noise_suppression``, ``auto_gain_control`` (bools) and ``channel_count`` (1 or 2); camelCase names
  (``echoCancellation``...) are accepted too. They are given to ``getUserMedia`` as plain values (the
  browser's "ideal", as Twilio does), so a browser that cannot honour one still opens the microphone;
  ``track.getSettings()`` says what it did.
* :class:`AudioProcessor`: the page's hook on the outgoing audio. When a call's microphone is opened, the
  processor's ``create_processed_stream(stream)`` (JavaScript: ``createProcessedStream``), or the processor
  itself when it is a plain callable, receives the microphone's ``MediaStream`` and returns (or resolves
  with) the ``MediaStream`` to send, e.g. the output of a WebAudio graph. When the microphone is released
  (the call ends, the microphone is switched or re-opened), ``destroy_processed_stream(stream)``
  (``destroyProcessedStream``), if the processor has one, receives the processed stream.

:class:`MicrophoneCapture` holds a Device's current choice and opens microphones with it. A change at run
time (:meth:`Device.set_audio_constraints <twochat_voice_web.Device.set_audio_constraints>`) re-opens the
microphone of every live call with the new constraints and swaps the sent track (``replaceTrack``, no
renegotiation), as Twilio re-acquires its input device.

Bad input (an unknown constraint, a value of the wrong type, a channel count other than 1 or 2, a processor
without ``create_processed_stream``) is a ``VoiceSDKError`` (``INVALID_ARGUMENT``) and changes nothing.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields
from typing import Any, Protocol, TypeVar

from .errors import ErrorCode, MediaError, VoiceSDKError

__all__ = [
    "AUDIO_CONSTRAINT_NAMES",
    "AudioConstraints",
    "AudioProcessor",
    "MicrophoneCapture",
    "MicrophoneOpener",
    "parse_audio_constraints",
    "parse_audio_processor",
]

_log = logging.getLogger("twochat_voice_web.audio_capture")

AUDIO_CONSTRAINT_NAMES: dict[str, str] = {
    "echo_cancellation": "echoCancellation",
    "noise_suppression": "noiseSuppression",
    "auto_gain_control": "autoGainControl",
    "channel_count": "channelCount",
}
"""Python name -> the ``MediaTrackConstraints`` member (W3C Media Capture and Streams §4.3.8)."""

_BY_JS_NAME = {camel: snake for snake, camel in AUDIO_CONSTRAINT_NAMES.items()}
_CHANNEL_COUNTS = (1, 2)


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


@dataclass(frozen=True, slots=True)
class AudioConstraints:
    """Validated microphone constraints; None leaves the browser's default.

    Attributes:
        echo_cancellation: ``echoCancellation``.
        noise_suppression: ``noiseSuppression``.
        auto_gain_control: ``autoGainControl``.
        channel_count: ``channelCount``, 1 (mono) or 2 (stereo).
    """

    echo_cancellation: bool | None = None
    noise_suppression: bool | None = None
    auto_gain_control: bool | None = None
    channel_count: int | None = None

    @property
    def is_default(self) -> bool:
        """True when nothing is asked (``getUserMedia({audio: true})``)."""
        return all(getattr(self, item.name) is None for item in fields(self))

    def to_dict(self) -> dict[str, bool | int]:
        """The constraints set, by their Python names: ``{"echo_cancellation": False}``."""
        return {
            item.name: getattr(self, item.name)
            for item in fields(self)
            if getattr(self, item.name) is not None
        }

    def to_media_track_constraints(self) -> dict[str, bool | int]:
        """The ``MediaTrackConstraints`` members set: ``{"echoCancellation": False, "channelCount": 1}``."""
        return {AUDIO_CONSTRAINT_NAMES[name]: value for name, value in self.to_dict().items()}


def parse_audio_constraints(value: Mapping[str, Any] | None) -> AudioConstraints:
    """Validate audio constraints given as a mapping (snake_case or camelCase keys); None: the defaults.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for something other than a mapping, an unknown key, a key
            given twice (in both spellings), a flag that is not a bool or a ``channel_count`` other than
            the integer 1 or 2.
    """
    if value is None:
        return AudioConstraints()
    if not isinstance(value, Mapping):
        raise _invalid(
            "audio_constraints must be an object such as {'echo_cancellation': False, 'channel_count': 1}"
        )
    chosen: dict[str, Any] = {}
    for raw_key, item in value.items():
        key = _BY_JS_NAME.get(raw_key, raw_key) if isinstance(raw_key, str) else raw_key
        if key not in AUDIO_CONSTRAINT_NAMES:
            known = ", ".join(AUDIO_CONSTRAINT_NAMES)
            raise _invalid(f"unknown audio constraint {raw_key!r}; known: {known}")
        if key in chosen:
            raise _invalid(f"audio constraint {key} is given twice")
        if item is None:
            continue
        if key == "channel_count":
            if not isinstance(item, int) or isinstance(item, bool) or item not in _CHANNEL_COUNTS:
                raise _invalid(f"audio constraint channel_count must be 1 or 2, got {item!r}")
        elif not isinstance(item, bool):
            raise _invalid(f"audio constraint {key} must be True or False, got {item!r}")
        chosen[key] = item
    return AudioConstraints(**chosen)


# ------------------------------------------------------------------------------------------ processor

_CREATE_NAMES = ("create_processed_stream", "createProcessedStream")
_DESTROY_NAMES = ("destroy_processed_stream", "destroyProcessedStream")


def _member(value: object, names: tuple[str, ...]) -> Callable[[Any], Any] | None:
    for name in names:
        try:
            member = getattr(value, name, None)
        except Exception:  # an exotic object whose attribute access raises: not a processor
            member = None
        if member is not None and callable(member):
            return member  # type: ignore[no-any-return]
    return None


async def _settled(result: Any) -> Any:
    return await result if inspect.isawaitable(result) else result


@dataclass(frozen=True, slots=True)
class AudioProcessor:
    """The page's processor, reduced to its two hooks (see the module's description).

    Attributes:
        create: ``(stream) -> stream`` (or an awaitable of it): the stream to send instead of ``stream``.
        destroy: ``(processed_stream) -> None`` (or an awaitable), or None.
        source: what the page gave (compared by identity, e.g. to tell whether it is the Device's).
    """

    create: Callable[[Any], Any]
    destroy: Callable[[Any], Any] | None
    source: object

    async def process(self, stream: Any) -> Any:
        """The processed stream for ``stream`` (awaits a Promise or coroutine the hook returns).

        Raises:
            MediaError: ``MEDIA_DEVICE_ERROR`` when the hook raises or rejects, or returns nothing.
        """
        try:
            processed = await _settled(self.create(stream))
        except Exception as exc:
            raise MediaError(
                ErrorCode.MEDIA_DEVICE_ERROR,
                f"the audio processor failed on the microphone's stream ({exc})",
                exc,
            ) from exc
        if processed is None:
            raise MediaError(ErrorCode.MEDIA_DEVICE_ERROR, "the audio processor returned no MediaStream")
        return processed

    def release(self, processed: Any) -> None:
        """Call ``destroy(processed)`` if the processor has one; its failure is logged, never raised."""
        if self.destroy is None:
            return
        try:
            result = self.destroy(processed)
        except Exception:
            _log.warning("the audio processor's destroy_processed_stream() failed", exc_info=True)
            return
        if inspect.isawaitable(result):
            task = asyncio.ensure_future(_settled(result))
            task.add_done_callback(_log_destroy_failure)


def _log_destroy_failure(task: asyncio.Future[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        _log.warning("the audio processor's destroy_processed_stream() failed: %s", task.exception())


def parse_audio_processor(value: object) -> AudioProcessor | None:
    """The hooks of a processor: an object with ``create_processed_stream`` (or ``createProcessedStream``)
    and optionally ``destroy_processed_stream`` (``destroyProcessedStream``), or a plain callable
    ``(stream) -> stream``; None: no processor.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for anything else.
    """
    if value is None:
        return None
    create = _member(value, _CREATE_NAMES)
    if create is not None:
        return AudioProcessor(create=create, destroy=_member(value, _DESTROY_NAMES), source=value)
    if callable(value):
        return AudioProcessor(create=value, destroy=None, source=value)
    raise _invalid(
        "audio_processor must have a create_processed_stream(stream) method (JavaScript: "
        "createProcessedStream) or be a callable (stream) -> stream"
    )


# ------------------------------------------------------------------------------------------ per Device

Capture_co = TypeVar("Capture_co", covariant=True)


class MicrophoneOpener(Protocol[Capture_co]):
    """What :class:`MicrophoneCapture` needs to open a microphone: the platform's ``MediaDevices``."""

    async def get_microphone(
        self,
        device_id: str | None = None,
        *,
        constraints: AudioConstraints | None = None,
        processor: AudioProcessor | None = None,
    ) -> Capture_co:
        """Open the microphone ``device_id`` with ``constraints``, sending what ``processor`` makes of it."""
        ...


class MicrophoneCapture:
    """A Device's capture settings; opens microphones with them.

    Args:
        constraints: the audio constraints new microphones get.
        processor: the audio processor, or None.
    """

    def __init__(self, constraints: AudioConstraints, processor: AudioProcessor | None) -> None:
        self._constraints = constraints
        self._processor = processor

    @property
    def constraints(self) -> AudioConstraints:
        """The constraints in force."""
        return self._constraints

    @property
    def processor(self) -> AudioProcessor | None:
        """The processor in force."""
        return self._processor

    def set_constraints(self, constraints: AudioConstraints) -> bool:
        """Use ``constraints`` from now on; True when they differ from the former ones."""
        changed = constraints != self._constraints
        self._constraints = constraints
        return changed

    async def open(self, media: MicrophoneOpener[Capture_co], device_id: str | None) -> Capture_co:
        """Open the microphone ``device_id`` (None: the default) with the constraints and processor.

        Raises:
            MediaError: as the platform's ``MediaDevices.get_microphone``; ``MEDIA_DEVICE_ERROR`` also
                when the processor fails (the microphone is then released).
        """
        if self._constraints.is_default and self._processor is None:
            return await media.get_microphone(device_id)  # a platform without these keywords works too
        return await media.get_microphone(
            device_id,
            constraints=None if self._constraints.is_default else self._constraints,
            processor=self._processor,
        )
