"""The audio of a sandbox media endpoint: what it sends (tone, silence, echo), how it measures what it hears.

:class:`OutboundAudioTrack` is the track aiortc encodes: paced 20 ms s16 frames in the encoder's own format
(:data:`CODEC_FORMATS`), from a precomputed second of tone (:func:`tone_pcm`), silence, or the caller's
own decoded audio. :func:`frame_rms` estimates the level of a received frame. The endpoint that uses
them, and the SDP side, are in :mod:`.media` and :mod:`.media_sdp`.
"""

from __future__ import annotations

import asyncio
import fractions
import math
import operator
from array import array
from collections import deque
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache
from typing import Final

from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame, AudioResampler

__all__ = [
    "CODEC_FORMATS",
    "DEFAULT_FORMAT",
    "AudioSource",
    "OutboundAudioTrack",
    "PcmFormat",
    "format_matches",
    "frame_rms",
    "make_frame",
    "silence_pcm",
    "tone_pcm",
]

_PTIME_DIVISOR: Final = 50  # 20 ms frames
_RMS_SUBSAMPLES: Final = 120  # samples per frame used for the RMS estimate
_ECHO_QUEUE_FRAMES: Final = 3  # at most 60 ms of echo backlog; older frames are dropped
_MAX_LAG_S: Final = 0.2  # a sender this late drops its backlog instead of bursting


@dataclass(frozen=True, slots=True)
class PcmFormat:
    """The s16 format of the frames we hand to aiortc's encoder (one per call, never changes)."""

    rate: int
    channels: int

    @property
    def layout(self) -> str:
        """The av channel layout: ``mono`` or ``stereo``."""
        return "stereo" if self.channels == 2 else "mono"

    @property
    def samples_per_frame(self) -> int:
        """Samples per channel in one 20 ms frame."""
        return self.rate // _PTIME_DIVISOR

    @property
    def bytes_per_frame(self) -> int:
        """Bytes of one 20 ms frame, every channel."""
        return self.samples_per_frame * 2 * self.channels

    @property
    def time_base(self) -> fractions.Fraction:
        """The frames' time base: one sample."""
        return fractions.Fraction(1, self.rate)


# The encoders' own formats, so that echoed frames pass through without conversion.
CODEC_FORMATS: Final = {
    "opus": PcmFormat(48000, 2),
    "pcmu": PcmFormat(8000, 1),
    "pcma": PcmFormat(8000, 1),
    "g722": PcmFormat(16000, 1),
}
DEFAULT_FORMAT: Final = PcmFormat(48000, 1)


@lru_cache(maxsize=16)
def tone_pcm(fmt: PcmFormat, hz: float, amplitude: float) -> bytes:
    """One second of a sine as s16 (interleaved when stereo); an integer ``hz`` loops without a seam.

    On stereo each channel carries ``amplitude / sqrt(2)`` (equal power, like FFmpeg's mono->stereo
    upmix that aiortc applies to mono tracks): Chromium sums channel energies, so a 0.3 tone reads as
    RMS 0.212 in its ``audioLevel``/``totalAudioEnergy`` on every codec.
    """
    peak = amplitude * 32767 / math.sqrt(fmt.channels)
    step = 2 * math.pi * hz / fmt.rate
    mono = array("h", (round(peak * math.sin(step * i)) for i in range(fmt.rate)))
    if fmt.channels == 1:
        return mono.tobytes()
    interleaved = array("h", bytes(4 * fmt.rate))
    interleaved[0::2] = mono
    interleaved[1::2] = mono
    return interleaved.tobytes()


@lru_cache(maxsize=8)
def silence_pcm(fmt: PcmFormat) -> bytes:
    """One 20 ms frame of digital silence as s16."""
    return bytes(fmt.bytes_per_frame)


def make_frame(fmt: PcmFormat, data: bytes) -> AudioFrame:
    """An s16 ``AudioFrame`` of ``fmt`` holding ``data``."""
    frame = AudioFrame(format="s16", layout=fmt.layout, samples=len(data) // (2 * fmt.channels))
    frame.planes[0].update(data)
    frame.sample_rate = fmt.rate
    return frame


def frame_rms(frame: AudioFrame) -> int:
    """RMS (s16 units) of a decoded s16 frame, estimated on about 120 samples of its first channel."""
    if frame.format.name not in ("s16", "s16p") or frame.samples <= 0:
        return 0
    channels = 1 if frame.format.is_planar else len(frame.layout.channels)
    samples = array("h")
    samples.frombytes(memoryview(frame.planes[0])[: frame.samples * channels * 2])
    subsample = samples[:: channels * max(1, frame.samples // _RMS_SUBSAMPLES)]
    if not subsample:
        return 0
    return math.isqrt(sum(map(operator.mul, subsample, subsample)) // len(subsample))


def format_matches(frame: AudioFrame, fmt: PcmFormat) -> bool:
    """Whether ``frame`` is already s16 of ``fmt``'s rate and channels (no conversion needed)."""
    return (
        frame.format.name == "s16"
        and frame.sample_rate == fmt.rate
        and len(frame.layout.channels) == fmt.channels
    )


class AudioSource(Enum):
    """What the outbound track's next frames carry."""

    ECHO = "echo"
    TONE = "tone"
    SILENCE = "silence"


class OutboundAudioTrack(MediaStreamTrack):
    """The track aiortc encodes: paced 20 ms frames of tone, silence or the caller's echoed audio.

    Its s16 format is fixed by the first ``recv`` (aiortc's encoders keep one resampler per call, which
    refuses format changes), so switching sources mid-call is seamless.
    """

    kind = "audio"

    def __init__(self, source: AudioSource, tone_hz: float, tone_amplitude: float) -> None:
        super().__init__()
        self.source = source
        self._tone_hz = tone_hz
        self._tone_amplitude = tone_amplitude
        self._format: PcmFormat | None = None
        self._started = False
        self._clock_start = 0.0
        self._samples_sent = 0
        self._tone_offset = 0
        self._echo: deque[AudioFrame] = deque(maxlen=_ECHO_QUEUE_FRAMES)
        self._resampler: AudioResampler | None = None

    def configure(self, fmt: PcmFormat) -> None:
        """Choose the frame format before the first ``recv`` (ignored afterwards)."""
        if not self._started:
            self._format = fmt

    def set_source(self, source: AudioSource) -> None:
        """Switch what the next frames carry."""
        if source is not AudioSource.ECHO:
            self._echo.clear()
        self.source = source

    def push_echo(self, frame: AudioFrame) -> None:
        """Queue a received frame for echoing (converted to our format when it differs)."""
        fmt = self._format or DEFAULT_FORMAT
        if format_matches(frame, fmt):
            self._echo.append(frame)
            return
        if self._resampler is None:
            self._resampler = AudioResampler(format="s16", layout=fmt.layout, rate=fmt.rate)
        self._echo.extend(self._resampler.resample(frame))

    async def recv(self) -> AudioFrame:
        """Return the next frame, paced in real time like aiortc's ``AudioStreamTrack``."""
        if self.readyState != "live":
            raise MediaStreamError
        loop = asyncio.get_running_loop()
        if self._format is None:
            self._format = DEFAULT_FORMAT
        fmt = self._format
        if not self._started:
            self._started = True
            self._clock_start = loop.time()
        else:
            wait = self._clock_start + self._samples_sent / fmt.rate - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
                if self.readyState != "live":
                    raise MediaStreamError
            elif wait < -_MAX_LAG_S:
                self._clock_start = loop.time() - self._samples_sent / fmt.rate
        frame = self._next_frame(fmt)
        frame.pts = self._samples_sent
        frame.time_base = fmt.time_base
        self._samples_sent += frame.samples
        return frame

    def _next_frame(self, fmt: PcmFormat) -> AudioFrame:
        if self.source is AudioSource.ECHO and self._echo:
            return self._echo.popleft()
        if self.source is AudioSource.TONE:
            pcm = tone_pcm(fmt, self._tone_hz, self._tone_amplitude)
            start = self._tone_offset
            self._tone_offset = (start + fmt.bytes_per_frame) % len(pcm)
            return make_frame(fmt, pcm[start : start + fmt.bytes_per_frame])
        return make_frame(fmt, silence_pcm(fmt))

    def stop(self) -> None:
        """End the track and drop queued echo frames."""
        self._echo.clear()
        super().stop()
