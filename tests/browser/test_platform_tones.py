"""The default sounds of twochat_voice_web.browser (pure synthesis; runs on CPython, no browser)."""

from __future__ import annotations

import io
import math
import wave
from array import array

import pytest

from twochat_voice_web.browser._tones import (
    DTMF_FREQUENCIES,
    SAMPLE_RATE,
    SOUND_NAMES,
    TONE_PLANS,
    render_pcm,
    render_wav,
)
from twochat_voice_web.device import SOUND_NAMES as DEVICE_SOUND_NAMES


def goertzel_power(samples: array[int], frequency: float) -> float:
    """Relative power of ``frequency`` in ``samples``."""
    coefficient = 2 * math.cos(2 * math.pi * frequency / SAMPLE_RATE)
    previous = before_previous = 0.0
    for sample in samples:
        previous, before_previous = sample + coefficient * previous - before_previous, previous
    return (previous**2 + before_previous**2 - coefficient * previous * before_previous) / len(samples) ** 2


def test_every_sound_the_device_knows_has_a_default() -> None:
    assert SOUND_NAMES == DEVICE_SOUND_NAMES


@pytest.mark.parametrize("name", sorted(SOUND_NAMES))
def test_wav_files_are_valid_pcm(name: str) -> None:
    data = render_wav(name)
    with wave.open(io.BytesIO(data)) as reader:
        assert reader.getnchannels() == 1
        assert reader.getsampwidth() == 2
        assert reader.getframerate() == SAMPLE_RATE
        frames = reader.getnframes()
    expected_seconds = sum(seconds for _, seconds in TONE_PLANS[name])
    assert frames == pytest.approx(expected_seconds * SAMPLE_RATE, abs=len(TONE_PLANS[name]))
    assert len(data) == 44 + 2 * frames


@pytest.mark.parametrize(("suffix", "key"), [("1", "1"), ("5", "5"), ("0", "0"), ("s", "*"), ("h", "#"),
                                             ("d", "D")])
def test_dtmf_sounds_carry_their_two_frequencies(suffix: str, key: str) -> None:
    samples = render_pcm(f"dtmf{suffix}")
    low, high = DTMF_FREQUENCIES[key]
    wanted = min(goertzel_power(samples, low), goertzel_power(samples, high))
    others = {f for pair in DTMF_FREQUENCIES.values() for f in pair} - {low, high}
    assert wanted > 50 * max(goertzel_power(samples, f) for f in others)


def test_tones_fade_in_and_out_without_clipping() -> None:
    samples = render_pcm("outgoing")
    assert abs(samples[0]) < 2000 and max(abs(s) for s in samples) < 32767
    on = samples[: 2 * SAMPLE_RATE]
    assert abs(on[-1]) < 2000  # faded out at the end of the 2 s tone
    assert set(samples[2 * SAMPLE_RATE + 1 :]) == {0}  # then 4 s of silence


def test_unknown_sound_is_refused_with_the_known_names() -> None:
    with pytest.raises(ValueError, match="unknown sound 'trumpet'; known: disconnect, dtmf0"):
        render_wav("trumpet")
