"""Test audio: a tone WAV generator and a loudness measure for recorded WAVs (stdlib only, no audioop)."""

from __future__ import annotations

import array
import math
import sys
import wave
from dataclasses import dataclass
from pathlib import Path

__all__ = ["AudioFileError", "WavLevel", "wav_level", "write_tone_wav"]


class AudioFileError(ValueError):
    """A WAV file is missing, damaged or in a format these helpers do not read."""


@dataclass(frozen=True, slots=True)
class WavLevel:
    """Loudness of a 16-bit PCM WAV file."""

    frames: int
    sample_rate: int
    rms: float  # root mean square of all samples, full scale = 32768
    peak: int

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.frames / self.sample_rate if self.sample_rate else 0.0

    @property
    def silent(self) -> bool:
        """True when the file is empty or below about -60 dBFS (rms < 33)."""
        return self.frames == 0 or self.rms < 33.0


def write_tone_wav(
    path: Path | str,
    frequency: float = 440.0,
    seconds: float = 30.0,
    sample_rate: int = 8000,
    amplitude: int = 12000,
) -> Path:
    """Write a mono 16-bit sine tone and return its path (baresip's `aufile` source plays it)."""
    if frequency <= 0 or seconds <= 0 or sample_rate <= 0:
        raise AudioFileError(
            f"tone needs positive frequency/seconds/sample_rate, got {frequency}/{seconds}/{sample_rate}"
        )
    if not 0 < amplitude <= 32767:
        raise AudioFileError(f"amplitude must be in 1..32767, got {amplitude}")
    path = Path(path)
    count = round(seconds * sample_rate)
    step = 2 * math.pi * frequency / sample_rate
    samples = array.array("h", (round(amplitude * math.sin(step * i)) for i in range(count)))
    if sys.byteorder == "big":
        samples.byteswap()
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(sample_rate)
        out.writeframes(samples.tobytes())
    return path


def wav_level(path: Path | str) -> WavLevel:
    """Measure a 16-bit PCM WAV file (all channels mixed into one measure)."""
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as source:
            if source.getsampwidth() != 2:
                raise AudioFileError(f"{path}: {8 * source.getsampwidth()}-bit samples, expected 16-bit PCM")
            rate = source.getframerate()
            frames = source.getnframes()
            raw = source.readframes(frames)
            channels = source.getnchannels()
    except (OSError, EOFError, wave.Error) as exc:
        raise AudioFileError(f"{path}: cannot read WAV: {exc}") from exc
    samples = array.array("h")
    samples.frombytes(raw[: len(raw) - len(raw) % 2])
    if sys.byteorder == "big":
        samples.byteswap()
    if not samples:
        return WavLevel(0, rate, 0.0, 0)
    energy = math.fsum(float(s) * s for s in samples)
    return WavLevel(
        len(samples) // max(channels, 1), rate, math.sqrt(energy / len(samples)), max(abs(s) for s in samples)
    )
