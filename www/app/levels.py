"""Audio levels and call-quality figures for display (pure Python, no ``js``).

The Call's ``sample`` event (once a second) carries a :class:`twochat_voice_web.quality.Sample` whose
``audio_input_level`` / ``audio_output_level`` are linear 0..1 (1.0 = full scale). Ears and VU meters
work in decibels, so :func:`level_percent` maps -60 dBFS..0 dBFS onto 0..100 % of a meter.
"""

from __future__ import annotations

import math
from typing import Any

__all__ = ["METER_FLOOR_DB", "describe_sample", "level_percent"]

METER_FLOOR_DB = -60.0
"""The level shown as an empty meter; anything quieter is silence for a person."""


def level_percent(level: float | None) -> float:
    """How full a meter is (0..100) for a linear level 0..1; None, NaN and ≤ 0 give 0."""
    if level is None or not level > 0:
        return 0.0
    decibels = 20.0 * math.log10(min(level, 1.0))
    return round(max(0.0, min(100.0, (1.0 - decibels / METER_FLOOR_DB) * 100.0)), 1)


def describe_sample(sample: Any) -> str:
    """One line about a quality sample: ``opus · MOS 4.4 · RTT 3 ms · jitter 1 ms · loss 0 %``.

    ``sample`` is a :class:`~twochat_voice_web.quality.Sample` (read by attribute; missing figures are
    left out).
    """
    parts: list[str] = []
    codec = getattr(sample, "codec", None)
    if codec:
        parts.append(str(codec))
    mos = getattr(sample, "mos", None)
    if mos is not None:
        parts.append(f"MOS {mos:.1f}")
    rtt = getattr(sample, "rtt_ms", None)
    if rtt is not None:
        parts.append(f"RTT {rtt:.0f} ms")
    jitter = getattr(sample, "jitter_ms", None)
    if jitter is not None:
        parts.append(f"jitter {jitter:.0f} ms")
    loss = getattr(sample, "packets_lost_fraction", None)
    if loss is not None:
        parts.append(f"loss {loss * 100:.0f} %")
    bitrate_in, bitrate_out = getattr(sample, "bitrate_in", None), getattr(sample, "bitrate_out", None)
    if bitrate_in is not None and bitrate_out is not None:
        parts.append(f"{bitrate_out / 1000:.0f}↑/{bitrate_in / 1000:.0f}↓ kbit/s")
    return " · ".join(parts) if parts else "measuring…"
