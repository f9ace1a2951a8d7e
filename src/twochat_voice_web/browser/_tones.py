"""The SDK's default sounds, synthesised as small WAV files. Pure: no ``js`` import, stdlib only.

Every sound is a plan of (frequencies, seconds) segments (an empty frequency tuple is silence), rendered
to 16-bit mono PCM at 8 kHz (telephone band) with 5 ms fades so nothing clicks:

- ``incoming`` (ringtone): the classic double ring, 400+450 Hz, 0.4 s on, 0.2 s off, 0.4 s on, 2 s off.
- ``outgoing`` (ringback): the North American ringback, 440+480 Hz, 2 s on, 4 s off.
- ``disconnect``: two short descending beeps (660 Hz then 440 Hz).
- ``dtmf0``..``dtmf9``, ``dtmfs`` (*), ``dtmfh`` (#), ``dtmfa``..``dtmfd``: the DTMF pairs, 120 ms.

The browser plays them from ``blob:`` URLs through ordinary ``<audio>`` elements, so default and custom
sounds share one playback path (looping, output device selection, autoplay detection).
"""

from __future__ import annotations

import math
import struct
from array import array
from collections.abc import Sequence

__all__ = ["DTMF_FREQUENCIES", "SAMPLE_RATE", "SOUND_NAMES", "TONE_PLANS", "render_wav"]

SAMPLE_RATE = 8000
_AMPLITUDE = 0.35  # of full scale, shared by the tones of a segment
_FADE_SECONDS = 0.005

#: Row and column frequencies (Hz) of each DTMF key.
DTMF_FREQUENCIES: dict[str, tuple[float, float]] = {
    "1": (697, 1209), "2": (697, 1336), "3": (697, 1477), "A": (697, 1633),
    "4": (770, 1209), "5": (770, 1336), "6": (770, 1477), "B": (770, 1633),
    "7": (852, 1209), "8": (852, 1336), "9": (852, 1477), "C": (852, 1633),
    "*": (941, 1209), "0": (941, 1336), "#": (941, 1477), "D": (941, 1633),
}

_DTMF_SOUND_KEYS = {**{digit: digit for digit in "0123456789"}, "s": "*", "h": "#",
                    "a": "A", "b": "B", "c": "C", "d": "D"}

Segment = tuple[tuple[float, ...], float]

#: Each sound's segments: (frequencies in Hz, duration in seconds); no frequency = silence.
TONE_PLANS: dict[str, tuple[Segment, ...]] = {
    "incoming": (((400.0, 450.0), 0.4), ((), 0.2), ((400.0, 450.0), 0.4), ((), 2.0)),
    "outgoing": (((440.0, 480.0), 2.0), ((), 4.0)),
    "disconnect": (((660.0,), 0.12), ((), 0.05), ((440.0,), 0.2)),
    **{
        f"dtmf{suffix}": ((DTMF_FREQUENCIES[key], 0.12),)
        for suffix, key in _DTMF_SOUND_KEYS.items()
    },
}

#: Every sound name (the names of the 2Chat/Twilio SDKs).
SOUND_NAMES = frozenset(TONE_PLANS)


def _segment_samples(frequencies: Sequence[float], seconds: float) -> array[int]:
    count = round(seconds * SAMPLE_RATE)
    samples = array("h", bytes(2 * count))
    if not frequencies:
        return samples
    fade = max(1, round(_FADE_SECONDS * SAMPLE_RATE))
    scale = 32767 * _AMPLITUDE / len(frequencies)
    steps = [2 * math.pi * frequency / SAMPLE_RATE for frequency in frequencies]
    for index in range(count):
        value = sum(math.sin(step * index) for step in steps) * scale
        envelope = min(1.0, (index + 1) / fade, (count - index) / fade)
        samples[index] = round(value * envelope)
    return samples


def render_pcm(name: str) -> array[int]:
    """The 16-bit samples of sound ``name`` (KeyError-free: raises ValueError for an unknown name)."""
    plan = TONE_PLANS.get(name)
    if plan is None:
        raise ValueError(f"unknown sound {name!r}; known: {', '.join(sorted(SOUND_NAMES))}")
    samples = array("h")
    for frequencies, seconds in plan:
        samples.extend(_segment_samples(frequencies, seconds))
    return samples


def render_wav(name: str) -> bytes:
    """Sound ``name`` as a complete WAV file (RIFF, PCM 16-bit mono, 8 kHz).

    Raises:
        ValueError: for an unknown sound name.
    """
    samples = render_pcm(name)
    if struct.pack("=h", 1) != struct.pack("<h", 1):
        samples.byteswap()  # WAV is little-endian
    data = samples.tobytes()
    header = struct.pack(
        "<4sI4s4sIHHIIHH4sI",
        b"RIFF", 36 + len(data), b"WAVE",
        b"fmt ", 16, 1, 1, SAMPLE_RATE, SAMPLE_RATE * 2, 2, 16,
        b"data", len(data),
    )
    return header + data
