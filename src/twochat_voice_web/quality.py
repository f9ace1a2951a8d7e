"""Call quality: a MOS estimate, one-second samples and Twilio-style quality warnings.

Pure Python and sans-I/O like :mod:`twochat_voice_web.sip`: no ``js``, no ``asyncio``, no clock. The caller
reads the statistics (``pc.get_stats()`` reduced by :func:`twochat_voice_web.call_stats.summarize_stats`) and
passes them in with the time; this module turns them into :class:`Sample` objects and
:class:`WarningChange` events.

Three public pieces:

* :func:`mos_from` — the ITU-T G.107 E-model in the simplified form WebRTC SDKs use (see below);
* :class:`QualityMonitor` — fed once a second with a stats summary and ``now``; computes per-interval deltas
  (loss fraction, bitrates), a :class:`Sample`, and raises/clears warnings with the thresholds of Twilio's
  Voice JS SDK (:class:`Thresholds`);
* :func:`grade` — Twilio's PreflightTest ``CallQuality`` bands for a MOS value.

MOS formula
-----------
``R = R0 - Id - Ie_eff`` and ``MOS = 1 + 0.035 R + 7e-6 R (R - 60) (100 - R)``, with ``R`` clamped to
[0, 100] and the MOS to [1.0, 4.5]:

* ``R0 = 94.768`` and the delay impairment ``Id`` are Twilio's (``lib/twilio/rtc/mos.ts`` in
  twilio/twilio-voice.js, the same code as twilio-video.js ``preflight/mos.js``): the effective latency
  ``EL = rtt + 2·jitter + 10`` ms, ``Id = EL / 40`` below 160 ms, ``(EL - 120) / 10`` above (the two pieces
  meet at 160 ms). 94.768 is G.107's default basic signal-to-noise ratio ``Ro`` (94.77).
* The loss impairment is G.107's effective equipment impairment factor (ITU-T G.107, clause 7, "Ie-eff")
  ``Ie_eff = Ie + (95 - Ie) · Ppl / (Ppl / BurstR + Bpl)`` with ``Ppl`` the loss in percent and
  ``BurstR = 1`` (random loss: one-second counters say nothing about bursts). ``Ie`` and ``Bpl`` depend on
  the codec (:data:`CODEC_IMPAIRMENTS`):

  - G.711 (PCMU/PCMA): ``Ie = 0``, ``Bpl = 25.1``, the ITU-T G.113 Appendix I values for G.711 with packet
    loss concealment (WebRTC's NetEq conceals lost G.711 frames), random loss.
  - G.722: no narrowband-scale value exists in G.113 Appendix I. On the narrowband scale G.722 (wideband)
    is at least as good as G.711, so ``Ie = 0``; WebRTC conceals G.722 losses with the same NetEq
    expansion as G.711, so it gets G.711's ``Bpl = 25.1``.
  - Opus: no ITU-T narrowband value either. ``Ie = 0`` (better than G.711 at WebRTC bitrates) and
    ``Bpl = 38``, **our calibration**: at low loss it costs 95/38 = 2.5 R points per percent, exactly the
    slope of Twilio's ``mos.ts`` (which has no codec term), so opus calls score like Twilio's for the
    losses that matter (≤ 5 %) while keeping G.107's saturating curve at high loss. RED (RFC 2198, used by
    WebRTC around opus) counts as opus.
* Twilio's ``mos.ts`` subtracts a linear ``2.5 · Ppl`` instead of ``Ie_eff`` and floors ``R`` at 6.52 (where
  the polynomial crosses 1.0); here the MOS itself is clamped to [1.0, 4.5] (G.107 Annex B: MOS = 1 for
  R < 0, 4.5 for R > 100). With no loss the result equals Twilio's to the last digit: a perfect network
  (RTT 0, jitter 0) gives 4.43.

The MOS is on the narrowband scale (like Twilio's): the advantage of wideband codecs is not modelled, and
the thresholds below (``low-mos`` < 3.5, the preflight bands) were set for that scale.

Warnings (Twilio's names and thresholds, ``statsMonitor.ts`` and its documentation)
-----------------------------------------------------------------------------------
=============================== ====================================================================
``high-rtt``                    RTT > 400 ms
``high-jitter``                 jitter > 30 ms
``high-packet-loss``            average loss over the last 7 samples > 3 %; clears at ≤ 1 %
``low-mos``                     MOS < 3.5
``constant-audio-input-level``  the microphone level's standard deviation over the last 10 samples is
                                below 0.5 dB (dead or stuck microphone); never while muted
``constant-audio-output-level`` the same for the remote audio we play; never while on hold
``low-bytes-received``          no byte received in the interval (also: no inbound report at all)
``low-bytes-sent``              no byte sent in the interval
=============================== ====================================================================

A warning is raised once its condition has held for ``raise_after`` (3) consecutive samples and cleared once
it has not held for ``clear_after`` (3) consecutive samples; a sample without the data to judge (no RTT
yet, a window not yet full, a field missing or unusable) leaves both counts as they are. Windowed rules
(packet loss, levels) start judging once their window is full, so ``constant-audio-input-level`` is raised
after about 12 s of a dead microphone, ``high-packet-loss`` after about 9 s of loss, ``low-bytes-received``
after 3 s without audio.

Where we differ from Twilio, on purpose:

* ``low-mos``: Twilio's documentation says MOS < 3.5, its code default is ``mos: {min: 3}``; we follow the
  documentation.
* ``high-packet-loss``: the documented rule (average > 3 % over 7 samples, cleared at ≤ 1 %). Twilio's code
  names that rule ``high-packets-lost-fraction`` and uses ``high-packet-loss`` for "> 1 % in 3 of the recent
  samples"; we have only the documented one.
* Twilio raises when 3 of the last samples exceed (5 samples in its documentation; in ``statsMonitor.ts``
  the window is the largest ``sampleCount``, 10) and clears when none of them does, never within 5 s of
  raising; here both directions need 3 consecutive samples, which is simpler to reason about and keeps a
  raised warning up for at least 3 s.
* Audio levels: Twilio measures an analyser's level on a dB scale (0..32767 for -100..-30 dB) many times a
  second and raises when its standard deviation over 10 s is below 1 % of the range (0.7 dB). We get one
  level per second from the statistics: the RMS over the interval from ``totalAudioEnergy`` (or the
  instantaneous ``audioLevel``), converted to dBov (floor -100 dB), with a 0.5 dB threshold because
  one-second averages wobble less than instantaneous readings. Digital silence (a dead microphone, a
  disabled track) is exactly constant; speech varies by tens of dB.
* ``constant-audio-output-level`` is emitted (Twilio only logs it). It also fires when the far end sends
  digital silence for 12 s; an application that finds it noisy can switch it off with
  ``Thresholds(disabled=frozenset({"constant-audio-output-level"}))``.

Hold, mute, resets
------------------
* ``muted=True``: the microphone level is not judged (a muted track sends silence) and its window restarts
  on unmute; an active ``constant-audio-input-level`` clears after ``clear_after`` samples.
* ``on_hold=True`` (pass it while *either* side holds the call): the rules that need media flowing both ways
  (``low-bytes-received``, ``low-bytes-sent``, ``constant-audio-output-level``, ``high-packet-loss``,
  ``high-jitter``, ``low-mos``) count as not holding, so they are never raised and clear if active; the loss
  and output-level windows restart. Only ``high-rtt`` (ICE keeps measuring) and the microphone level are
  judged. Chrome may remove the inbound-rtp report while the call is held and start a new one from zero
  after it resumes; both that and a report that stays are handled.
* Counter resets: when ``packets_received``/``bytes_received`` (or ``packets_sent``/``bytes_sent``, or an
  audio energy) go *down*, the stream was replaced and the new counters started at zero: the interval's
  delta is the new value, never negative. A counter that was absent from the previous summary (its report
  was gone, as on hold) also counts from zero when it comes back. ``packets_lost`` may legitimately go
  down (RTP duplicates); a loss delta below zero counts as zero.
* :meth:`QualityMonitor.reset` (ICE restart, any moment the counters may jump): forgets the baselines,
  windows and streaks but keeps the active warnings (they clear through later samples); the next update
  returns no sample, like the first.
* Missing report vs unusable value: a counter *absent* from the summary means the report does not exist
  (``low-bytes-received`` holds: one-way audio looks exactly like that, since webrtc-stats creates an
  inbound-rtp report only with the first packet received); a value that is present but not a usable
  number (garbage, NaN, negative, a bool) is treated as unknown. The monitor never raises on the
  summary's content.

Wiring in a call: :class:`~twochat_voice_web.call_quality.CallQualitySampler`
-------------------------------------------------------------------------------
Once the call is accepted (both directions) the sampler, every second, reduces ``pc.get_stats()`` with
``summarize_stats`` (a failed getStats skips one sample; it is not a missing report) and calls
``update(summary, time.monotonic(), muted=..., on_hold=...)`` (``on_hold``: either side holds the call),
then emits ``sample`` for a non-None sample and ``warning``/``warning-cleared`` for each change. Before
an ICE-restart re-INVITE (:mod:`twochat_voice_web.renegotiation`) the call resets the monitor.

``Sample.to_dict()`` and ``WarningChange.to_dict()`` give plain dictionaries for JavaScript callers.
"""

from __future__ import annotations

import enum
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from types import MappingProxyType
from typing import Any, Final, TypeGuard

from .errors import ErrorCode, VoiceSDKError

__all__ = [
    "CODEC_IMPAIRMENTS",
    "DEFAULT_CODEC",
    "CallQuality",
    "CodecImpairment",
    "QualityMonitor",
    "Sample",
    "Thresholds",
    "WarningChange",
    "WarningName",
    "codec_impairment",
    "grade",
    "mos_from",
    "r_factor",
]


# ---------------------------------------------------------------------------------------------- helpers

_MAX_COUNTER = 2**63
"""Counters larger than this are garbage (and would overflow float arithmetic)."""
_SILENCE_LEVEL = 1e-5
"""Levels at or below this (-100 dBov) are digital silence."""
_SILENCE_DB = -100.0


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


def _is_real(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_measure(name: str, value: object) -> float:
    """A measurement as a float (>= 0, possibly inf); INVALID_ARGUMENT for anything else."""
    if not _is_real(value) or (isinstance(value, float) and math.isnan(value)) or value < 0:
        raise _invalid(f"{name} must be a number >= 0, got {value!r}")
    try:
        return float(value)
    except OverflowError:  # an int beyond float range: as good as infinite
        return math.inf


def _as_float(value: object) -> float | None:
    """A finite float from an int/float (not bool), else None."""
    if not _is_real(value):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _counter(summary: Mapping[str, Any], key: str) -> float | _Absent | None:
    """A cumulative counter: its value, ABSENT when the key is missing, None when present but unusable."""
    if key not in summary:
        return _ABSENT
    number = _as_float(summary[key])
    if number is None:
        return None
    if key == "packets_lost":  # RTP cumulative loss may be negative (duplicates)
        return number if abs(number) <= _MAX_COUNTER else None
    return number if 0 <= number <= _MAX_COUNTER else None


def _measure(value: object) -> float | None:
    """A non-negative finite measurement, else None."""
    number = _as_float(value)
    return number if number is not None and number >= 0 else None


def _loss_fraction(deltas: Mapping[str, float]) -> float | None:
    received = deltas.get("packets_received")
    lost = deltas.get("packets_lost")
    if received is None or lost is None:
        return None
    expected = received + lost
    if expected <= 0:
        return None
    return min(lost / expected, 1.0)


def _level(instant: object, energy_delta: float | None, interval: float | None) -> float | None:
    """The interval's RMS level from the audio-energy delta, else the instantaneous level, 0..1."""
    if energy_delta is not None and interval is not None:
        mean_square = energy_delta / interval
        if math.isfinite(mean_square):
            return min(math.sqrt(mean_square), 1.0)
    level = _measure(instant)
    return None if level is None else min(level, 1.0)


def _to_db(level: float) -> float:
    if level <= _SILENCE_LEVEL:
        return _SILENCE_DB
    return 20 * math.log10(level)


def _int_delta(delta: float | None) -> int:
    return int(delta) if delta is not None else 0


def _rate(byte_delta: float | None, interval: float | None) -> float | None:
    if byte_delta is None or interval is None:
        return None
    rate = byte_delta * 8 / interval
    return rate if math.isfinite(rate) else None


def _above(value: float | None, limit: float) -> tuple[_Verdict, float | None]:
    if value is None:
        return _Verdict.UNKNOWN, None
    return (_Verdict.HOLDS if value > limit else _Verdict.FINE), value


def _below(value: float | None, limit: float) -> tuple[_Verdict, float | None]:
    if value is None:
        return _Verdict.UNKNOWN, None
    return (_Verdict.HOLDS if value < limit else _Verdict.FINE), value


# ---------------------------------------------------------------------------------------------- MOS


@dataclass(frozen=True, slots=True)
class CodecImpairment:
    """A codec's E-model parameters (ITU-T G.107 ``Ie`` and ``Bpl``) on the narrowband scale."""

    ie: float
    """Equipment impairment factor ``Ie`` at zero loss (0 = as good as G.711)."""
    bpl: float
    """Packet-loss robustness factor ``Bpl``: the larger, the better the codec hides losses."""

    def __post_init__(self) -> None:
        ie = _as_float(self.ie)
        if ie is None or not 0 <= ie < 95:
            raise _invalid(f"CodecImpairment.ie must be a number in [0, 95), got {self.ie!r}")
        bpl = _as_float(self.bpl)
        if bpl is None or bpl <= 0:
            raise _invalid(f"CodecImpairment.bpl must be a positive finite number, got {self.bpl!r}")


_G711 = CodecImpairment(ie=0.0, bpl=25.1)
_OPUS = CodecImpairment(ie=0.0, bpl=38.0)

#: E-model parameters by normalised codec name (see the module docstring for the sources).
CODEC_IMPAIRMENTS: Final[Mapping[str, CodecImpairment]] = MappingProxyType(
    {
        "opus": _OPUS,
        "red": _OPUS,
        "pcmu": _G711,
        "pcma": _G711,
        "g711": _G711,
        "g711u": _G711,
        "g711a": _G711,
        "g722": _G711,
    }
)
DEFAULT_CODEC: Final = "opus"
"""The codec assumed when the statistics do not name one (WebRTC's default)."""

_R0 = 94.768
"""Twilio's ``r0`` (G.107's default ``Ro``)."""


def _normalise_codec(name: str) -> str:
    return name.strip().lower().removeprefix("audio/").replace(".", "").replace("-", "").replace("_", "")


def codec_impairment(name: str | None) -> CodecImpairment | None:
    """The parameters for a codec name (``"opus"``, ``"PCMU"``, ``"audio/G722"``, ``"G.711"``...).

    Returns None when the name is unknown (or None).
    """
    if not isinstance(name, str):
        return None
    return CODEC_IMPAIRMENTS.get(_normalise_codec(name))


def r_factor(
    rtt_ms: float, jitter_ms: float, loss_fraction: float, codec: str | CodecImpairment = DEFAULT_CODEC
) -> float:
    """The E-model transmission rating ``R`` (unclamped; may be negative or ``-inf``).

    Args:
        rtt_ms: round-trip time in milliseconds (>= 0, may be ``inf``).
        jitter_ms: interarrival jitter in milliseconds (>= 0, may be ``inf``).
        loss_fraction: fraction of packets lost, 0..1.
        codec: a codec name known to :func:`codec_impairment`, or explicit :class:`CodecImpairment`.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for a negative or NaN measurement, a loss above 1, or an unknown
            codec name.
    """
    rtt = _check_measure("rtt_ms", rtt_ms)
    jitter = _check_measure("jitter_ms", jitter_ms)
    loss = _check_measure("loss_fraction", loss_fraction)
    if loss > 1:
        raise _invalid(f"loss_fraction is a fraction (0..1), got {loss_fraction!r}")
    if isinstance(codec, CodecImpairment):
        params = codec
    else:
        found = codec_impairment(codec)
        if found is None:
            known = ", ".join(sorted(CODEC_IMPAIRMENTS))
            raise _invalid(f"unknown codec {codec!r} (known: {known}; or pass a CodecImpairment)")
        params = found
    effective_latency = rtt + 2 * jitter + 10
    # Twilio's piecewise delay impairment: gentle below 160 ms, 1 R point per 10 ms above.
    delay_impairment = effective_latency / 40 if effective_latency < 160 else (effective_latency - 120) / 10
    loss_percent = loss * 100
    loss_impairment = params.ie + (95 - params.ie) * loss_percent / (loss_percent + params.bpl)
    return _R0 - delay_impairment - loss_impairment


def mos_from(
    rtt_ms: float, jitter_ms: float, loss_fraction: float, codec: str | CodecImpairment = DEFAULT_CODEC
) -> float:
    """Estimate the Mean Opinion Score (1.0 bad .. 4.5 excellent) of a call's audio.

    The simplified ITU-T G.107 E-model described in the module docstring: Twilio's delay term
    (``twilio-voice.js`` ``rtc/mos.ts``) and G.107's ``Ie_eff`` loss term with per-codec ``Ie``/``Bpl``
    (ITU-T G.113 Appendix I for G.711). A perfect network gives 4.43.

    Args:
        rtt_ms: round-trip time in milliseconds (>= 0, may be ``inf``).
        jitter_ms: interarrival jitter in milliseconds (>= 0, may be ``inf``).
        loss_fraction: fraction of packets lost, 0..1.
        codec: ``"opus"`` (default), ``"PCMU"``, ``"PCMA"``, ``"G722"``... or a :class:`CodecImpairment`.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` (see :func:`r_factor`).
    """
    rating = min(max(r_factor(rtt_ms, jitter_ms, loss_fraction, codec), 0.0), 100.0)
    mos = 1 + 0.035 * rating + 7e-6 * rating * (rating - 60) * (100 - rating)
    return min(max(mos, 1.0), 4.5)


class CallQuality(enum.StrEnum):
    """Twilio's PreflightTest ``CallQuality`` bands (a str: ``grade(4.3) == "excellent"``)."""

    EXCELLENT = "excellent"
    GREAT = "great"
    GOOD = "good"
    FAIR = "fair"
    DEGRADED = "degraded"


def grade(mos: float) -> CallQuality:
    """The call-quality band of a MOS value (for a preflight report: pass the average MOS).

    Twilio's PreflightTest documentation: excellent > 4.2, great 4.1-4.2, good 3.7-4.0, fair 3.1-3.6,
    degraded below. Its code (``preflight.ts`` ``_getCallQuality``) leaves 4.0-4.1 and 3.6-3.7 uncovered
    (they fall to "degraded"); here each band starts at its documented lower bound and runs up to the next
    one: excellent > 4.2, great >= 4.1, good >= 3.7, fair >= 3.1, degraded < 3.1.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` when ``mos`` is not a number or is NaN.
    """
    if not _is_real(mos) or (isinstance(mos, float) and math.isnan(mos)):
        raise _invalid(f"grade() takes a MOS number, got {mos!r}")
    if mos > 4.2:
        return CallQuality.EXCELLENT
    if mos >= 4.1:
        return CallQuality.GREAT
    if mos >= 3.7:
        return CallQuality.GOOD
    if mos >= 3.1:
        return CallQuality.FAIR
    return CallQuality.DEGRADED


# ---------------------------------------------------------------------------------------------- events


class WarningName(enum.StrEnum):
    """The quality warnings (Twilio's names)."""

    HIGH_RTT = "high-rtt"
    HIGH_JITTER = "high-jitter"
    HIGH_PACKET_LOSS = "high-packet-loss"
    LOW_MOS = "low-mos"
    CONSTANT_AUDIO_INPUT_LEVEL = "constant-audio-input-level"
    CONSTANT_AUDIO_OUTPUT_LEVEL = "constant-audio-output-level"
    LOW_BYTES_RECEIVED = "low-bytes-received"
    LOW_BYTES_SENT = "low-bytes-sent"


#: Rules that need media flowing both ways: not judged (count as not holding) while the call is on hold.
_MEDIA_FLOW_RULES: Final = frozenset(
    {
        WarningName.LOW_BYTES_RECEIVED,
        WarningName.LOW_BYTES_SENT,
        WarningName.CONSTANT_AUDIO_OUTPUT_LEVEL,
        WarningName.HIGH_PACKET_LOSS,
        WarningName.HIGH_JITTER,
        WarningName.LOW_MOS,
    }
)


@dataclass(frozen=True, slots=True)
class Sample:
    """One interval's measurements (the ``sample`` event). Deltas cover the interval since the previous
    update; levels and rates describe that interval."""

    timestamp: float
    """The ``now`` given to :meth:`QualityMonitor.update` (seconds, the caller's clock)."""
    interval: float | None
    """Seconds since the previous update; None when the clock did not advance."""
    rtt_ms: float | None
    """Round-trip time (ms); the last known value when this summary had none; None before any."""
    jitter_ms: float | None
    """Inbound interarrival jitter (ms); None when not reported."""
    packets_lost_fraction: float | None
    """Inbound packets lost in the interval / packets expected, 0..1; None when none were expected."""
    mos: float | None
    """:func:`mos_from` for the interval; None when RTT, jitter or loss is unknown."""
    audio_input_level: float | None
    """Our microphone's level, 0..1 linear (1.0 = 0 dBov): RMS over the interval when the audio energy is
    reported, else the instantaneous level; None when not reported.
    """
    audio_output_level: float | None
    """The level of the remote audio we play, 0..1 linear; as ``audio_input_level``."""
    bytes_received: int
    """Bytes received in the interval (0 when not reported)."""
    bytes_sent: int
    """Bytes sent in the interval (0 when not reported)."""
    packets_received: int
    """Packets received in the interval (0 when not reported)."""
    packets_sent: int
    """Packets sent in the interval (0 when not reported)."""
    packets_lost: int
    """Inbound packets lost in the interval (0 when not reported; never negative)."""
    bitrate_in: float | None
    """Received bitrate, bits per second (None when unknown)."""
    bitrate_out: float | None
    """Sent bitrate, bits per second (None when unknown)."""
    codec: str | None
    """The inbound codec as reported (``"opus"``, ``"PCMU"``...); None when unknown."""

    def to_dict(self) -> dict[str, Any]:
        """The sample as a plain dictionary (snake_case keys, JSON-friendly values)."""
        return asdict(self)


@dataclass(frozen=True, slots=True)
class WarningChange:
    """A warning raised or cleared (the ``warning`` / ``warning-cleared`` events)."""

    name: WarningName
    """Which warning."""
    raised: bool
    """True when raised, False when cleared."""
    value: float | None
    """The measured value that decided it (RTT ms, jitter ms, average loss fraction, MOS, level standard
    deviation dB, bytes in the interval); None when cleared for lack of media (hold, mute).
    """
    threshold: float
    """The threshold it was compared with (same unit as ``value``)."""
    timestamp: float
    """The ``now`` of the update that produced it."""

    @property
    def cleared(self) -> bool:
        """True for a warning-cleared event."""
        return not self.raised

    def to_dict(self) -> dict[str, Any]:
        """``{"name", "raised", "value", "threshold", "timestamp"}`` with ``name`` as a plain str."""
        return {
            "name": self.name.value,
            "raised": self.raised,
            "value": self.value,
            "threshold": self.threshold,
            "timestamp": self.timestamp,
        }


# ---------------------------------------------------------------------------------------------- thresholds


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When warnings are raised (defaults: Twilio's documented thresholds; see the module docstring)."""

    max_rtt_ms: float = 400.0
    """``high-rtt`` when the round-trip time is above this (ms)."""
    max_jitter_ms: float = 30.0
    """``high-jitter`` when the jitter is above this (ms)."""
    max_average_packet_loss: float = 0.03
    """``high-packet-loss`` when the average loss fraction over the window is above this."""
    clear_average_packet_loss: float = 0.01
    """... and it counts as fine again at or below this."""
    packet_loss_window: int = 7
    """How many samples the loss average covers."""
    min_mos: float = 3.5
    """``low-mos`` when the MOS is below this."""
    audio_level_window: int = 10
    """How many samples the level standard deviation covers."""
    min_audio_level_stddev_db: float = 0.5
    """``constant-audio-*-level`` when the level's standard deviation (dB) is below this."""
    min_bytes_per_interval: int = 1
    """``low-bytes-*`` when fewer bytes than this moved in an interval."""
    raise_after: int = 3
    """Consecutive samples a condition must hold before its warning is raised."""
    clear_after: int = 3
    """Consecutive samples a condition must not hold before its warning is cleared."""
    disabled: frozenset[str] = field(default_factory=frozenset)
    """Warnings never raised (names as :class:`WarningName` values)."""

    def __post_init__(self) -> None:
        for name in ("max_rtt_ms", "max_jitter_ms", "min_mos", "min_audio_level_stddev_db"):
            value = getattr(self, name)
            number = _as_float(value)
            if number is None or number < 0:
                raise _invalid(f"Thresholds.{name} must be a finite number >= 0, got {value!r}")
        for name in ("max_average_packet_loss", "clear_average_packet_loss"):
            value = getattr(self, name)
            number = _as_float(value)
            if number is None or not 0 <= number <= 1:
                raise _invalid(f"Thresholds.{name} is a fraction (0..1), got {value!r}")
        if self.clear_average_packet_loss > self.max_average_packet_loss:
            raise _invalid(
                "Thresholds.clear_average_packet_loss must not exceed max_average_packet_loss "
                f"({self.clear_average_packet_loss!r} > {self.max_average_packet_loss!r})"
            )
        minimums = {
            "packet_loss_window": 1,
            "audio_level_window": 2,
            "min_bytes_per_interval": 0,
            "raise_after": 1,
            "clear_after": 1,
        }
        for name, minimum in minimums.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not minimum <= value <= _MAX_COUNTER:
                raise _invalid(f"Thresholds.{name} must be an int >= {minimum}, got {value!r}")
        if not isinstance(self.disabled, frozenset):
            raise _invalid(f"Thresholds.disabled must be a frozenset of warning names, got {self.disabled!r}")
        unknown = sorted(str(name) for name in self.disabled if name not in _WARNING_VALUES)
        if unknown:
            raise _invalid(f"Thresholds.disabled names unknown warnings: {', '.join(unknown)}")

    def threshold_of(self, name: WarningName) -> float:
        """The threshold reported with ``name``'s :class:`WarningChange`."""
        return {
            WarningName.HIGH_RTT: self.max_rtt_ms,
            WarningName.HIGH_JITTER: self.max_jitter_ms,
            WarningName.HIGH_PACKET_LOSS: self.max_average_packet_loss,
            WarningName.LOW_MOS: self.min_mos,
            WarningName.CONSTANT_AUDIO_INPUT_LEVEL: self.min_audio_level_stddev_db,
            WarningName.CONSTANT_AUDIO_OUTPUT_LEVEL: self.min_audio_level_stddev_db,
            WarningName.LOW_BYTES_RECEIVED: float(self.min_bytes_per_interval),
            WarningName.LOW_BYTES_SENT: float(self.min_bytes_per_interval),
        }[name]


_WARNING_VALUES: Final = frozenset(name.value for name in WarningName)


# ---------------------------------------------------------------------------------------------- the monitor


class _Verdict(enum.Enum):
    HOLDS = "holds"  # the bad condition holds in this sample
    FINE = "fine"  # it clearly does not hold
    BETWEEN = "between"  # inside a hysteresis band: breaks both streaks
    UNKNOWN = "unknown"  # no data to judge: both streaks unchanged


@dataclass(slots=True)
class _RuleState:
    active: bool = False
    bad_streak: int = 0
    good_streak: int = 0


class _Absent(enum.Enum):
    ABSENT = "absent"


_ABSENT: Final = _Absent.ABSENT


class QualityMonitor:
    """Turns one-second stats summaries into :class:`Sample` objects and warning changes.

    Feed :meth:`update` about once a second with the summary (cumulative counters as
    :func:`twochat_voice_web.call_stats.summarize_stats` returns them) and the current time. The first update
    (and the first after :meth:`reset`) only records the baselines and returns no sample. See the module
    docstring for every rule, and for how hold, mute and counter resets are handled.
    """

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        if thresholds is not None and not isinstance(thresholds, Thresholds):
            raise _invalid(f"QualityMonitor takes a Thresholds, got {thresholds!r}")
        self._thresholds = thresholds if thresholds is not None else Thresholds()
        self._states: dict[WarningName, _RuleState] = {name: _RuleState() for name in WarningName}
        self._last_now: float | None = None
        self._last_counters: dict[str, float] = {}
        self._last_rtt: float | None = None
        self._loss_window: deque[float] = deque(maxlen=self._thresholds.packet_loss_window)
        self._input_levels: deque[float] = deque(maxlen=self._thresholds.audio_level_window)
        self._output_levels: deque[float] = deque(maxlen=self._thresholds.audio_level_window)

    @property
    def thresholds(self) -> Thresholds:
        """The thresholds in use."""
        return self._thresholds

    @property
    def active_warnings(self) -> frozenset[WarningName]:
        """The warnings raised and not yet cleared."""
        return frozenset(name for name, state in self._states.items() if state.active)

    def reset(self) -> None:
        """Forget baselines, windows and streaks (ICE restart...); active warnings stay active.

        The next :meth:`update` records new baselines and returns no sample.
        """
        self._last_now = None
        self._last_counters.clear()
        self._last_rtt = None
        self._loss_window.clear()
        self._input_levels.clear()
        self._output_levels.clear()
        for state in self._states.values():
            state.bad_streak = 0
            state.good_streak = 0

    def update(
        self, summary: Mapping[str, Any], now: float, *, muted: bool = False, on_hold: bool = False
    ) -> tuple[Sample | None, list[WarningChange]]:
        """Take one stats summary; return the interval's sample (None the first time) and warning changes.

        Args:
            summary: cumulative figures (``packets_received``, ``packets_lost``, ``bytes_received``,
                ``bytes_sent``, ``packets_sent``, ``jitter_ms``, ``rtt_ms``, ``audio_level_in`` (remote
                audio), ``audio_level_out`` (microphone), ``total_audio_energy_in/out``, ``codec``); any may
                be missing or unusable.
            now: the current time in seconds (any monotonic origin).
            muted: True while our microphone is muted.
            on_hold: True while either side holds the call.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` when ``summary`` is not a mapping or ``now`` is not a finite
                number (never because of the summary's content).
        """
        if not isinstance(summary, Mapping):
            raise _invalid(f"update() takes the stats summary as a mapping, got {type(summary).__name__}")
        if not _is_real(now) or not math.isfinite(now):
            raise _invalid(f"update() takes now as a finite number of seconds, got {now!r}")
        now = float(now)
        counters = {key: _counter(summary, key) for key in _COUNTER_KEYS}
        first = self._last_now is None
        interval = None if first or self._last_now is None or now <= self._last_now else now - self._last_now
        deltas = self._deltas(counters)
        self._last_now = now
        for key, value in counters.items():
            if isinstance(value, float):
                self._last_counters[key] = value
            elif value is _ABSENT:  # the report is gone: whatever comes back is a new one, from zero
                self._last_counters.pop(key, None)
        rtt = _measure(summary.get("rtt_ms"))
        if rtt is not None:
            self._last_rtt = rtt
        if first:
            return None, []

        jitter = _measure(summary.get("jitter_ms"))
        codec_value = summary.get("codec")
        codec = codec_value if isinstance(codec_value, str) and codec_value else None
        loss = _loss_fraction(deltas)
        mos = None
        if self._last_rtt is not None and jitter is not None and loss is not None:
            mos = mos_from(self._last_rtt, jitter, loss, codec_impairment(codec) or _OPUS)
        input_level = _level(summary.get("audio_level_out"), deltas.get("total_audio_energy_out"), interval)
        output_level = _level(summary.get("audio_level_in"), deltas.get("total_audio_energy_in"), interval)

        if muted:
            self._input_levels.clear()
        elif input_level is not None:
            self._input_levels.append(_to_db(input_level))
        if on_hold:
            self._output_levels.clear()
            self._loss_window.clear()
        else:
            if output_level is not None:
                self._output_levels.append(_to_db(output_level))
            if loss is not None:
                self._loss_window.append(loss)

        bytes_in = _int_delta(deltas.get("bytes_received"))
        bytes_out = _int_delta(deltas.get("bytes_sent"))
        verdicts = self._judge(
            counters=counters,
            rtt=self._last_rtt,
            jitter=jitter,
            mos=mos,
            bytes_in=bytes_in,
            bytes_out=bytes_out,
            muted=muted,
            on_hold=on_hold,
        )
        changes = self._apply(verdicts, now)
        sample = Sample(
            timestamp=now,
            interval=interval,
            rtt_ms=self._last_rtt,
            jitter_ms=jitter,
            packets_lost_fraction=loss,
            mos=mos,
            audio_input_level=input_level,
            audio_output_level=output_level,
            bytes_received=bytes_in,
            bytes_sent=bytes_out,
            packets_received=_int_delta(deltas.get("packets_received")),
            packets_sent=_int_delta(deltas.get("packets_sent")),
            packets_lost=_int_delta(deltas.get("packets_lost")),
            bitrate_in=_rate(deltas.get("bytes_received"), interval),
            bitrate_out=_rate(deltas.get("bytes_sent"), interval),
            codec=codec,
        )
        return sample, changes

    # ------------------------------------------------------------------ internals

    def _deltas(self, counters: Mapping[str, float | _Absent | None]) -> dict[str, float]:
        """Per-interval deltas, with stream replacement (a counter going down) detected per group.

        A counter seen for the first time, or in a replaced stream, counts from zero (its delta is its value);
        audio energies then have no delta (their level falls back to the instantaneous one).
        """
        deltas: dict[str, float] = {}
        for group in _COUNTER_GROUPS:
            present: dict[str, float] = {}
            for key in group:
                value = counters[key]
                if isinstance(value, float):
                    present[key] = value
            replaced = False
            for key, value in present.items():
                previous = self._last_counters.get(key)
                if key != "packets_lost" and previous is not None and value < previous:
                    replaced = True
            for key, value in present.items():
                previous = self._last_counters.get(key)
                if key in _ENERGY_KEYS:
                    if previous is not None and not replaced:
                        deltas[key] = value - previous
                elif replaced or previous is None:
                    deltas[key] = value
                else:
                    deltas[key] = value - previous
        if "packets_lost" in deltas:
            deltas["packets_lost"] = max(deltas["packets_lost"], 0.0)
        return deltas

    def _judge(
        self,
        *,
        counters: Mapping[str, float | _Absent | None],
        rtt: float | None,
        jitter: float | None,
        mos: float | None,
        bytes_in: int,
        bytes_out: int,
        muted: bool,
        on_hold: bool,
    ) -> dict[WarningName, tuple[_Verdict, float | None]]:
        limits = self._thresholds
        verdicts: dict[WarningName, tuple[_Verdict, float | None]] = {
            WarningName.HIGH_RTT: _above(rtt, limits.max_rtt_ms),
            WarningName.HIGH_JITTER: _above(jitter, limits.max_jitter_ms),
            WarningName.LOW_MOS: _below(mos, limits.min_mos),
        }
        if len(self._loss_window) == limits.packet_loss_window:
            average = sum(self._loss_window) / len(self._loss_window)
            if average > limits.max_average_packet_loss:
                verdicts[WarningName.HIGH_PACKET_LOSS] = (_Verdict.HOLDS, average)
            elif average <= limits.clear_average_packet_loss:
                verdicts[WarningName.HIGH_PACKET_LOSS] = (_Verdict.FINE, average)
            else:
                verdicts[WarningName.HIGH_PACKET_LOSS] = (_Verdict.BETWEEN, average)
        else:
            verdicts[WarningName.HIGH_PACKET_LOSS] = (_Verdict.UNKNOWN, None)
        verdicts[WarningName.CONSTANT_AUDIO_INPUT_LEVEL] = self._constant(self._input_levels)
        verdicts[WarningName.CONSTANT_AUDIO_OUTPUT_LEVEL] = self._constant(self._output_levels)
        verdicts[WarningName.LOW_BYTES_RECEIVED] = self._bytes_verdict(counters["bytes_received"], bytes_in)
        verdicts[WarningName.LOW_BYTES_SENT] = self._bytes_verdict(counters["bytes_sent"], bytes_out)
        if muted:
            verdicts[WarningName.CONSTANT_AUDIO_INPUT_LEVEL] = (_Verdict.FINE, None)
        if on_hold:
            for name in _MEDIA_FLOW_RULES:
                verdicts[name] = (_Verdict.FINE, None)
        return verdicts

    def _constant(self, window: deque[float]) -> tuple[_Verdict, float | None]:
        if len(window) < self._thresholds.audio_level_window:
            return _Verdict.UNKNOWN, None
        mean = sum(window) / len(window)
        deviation = math.sqrt(sum((value - mean) ** 2 for value in window) / len(window))
        if deviation < self._thresholds.min_audio_level_stddev_db:
            return _Verdict.HOLDS, deviation
        return _Verdict.FINE, deviation

    def _bytes_verdict(self, counter: float | _Absent | None, moved: int) -> tuple[_Verdict, float | None]:
        if counter is None:  # present but unusable
            return _Verdict.UNKNOWN, None
        if moved < self._thresholds.min_bytes_per_interval:
            return _Verdict.HOLDS, float(moved)
        return _Verdict.FINE, float(moved)

    def _apply(
        self, verdicts: Mapping[WarningName, tuple[_Verdict, float | None]], now: float
    ) -> list[WarningChange]:
        limits = self._thresholds
        changes: list[WarningChange] = []
        for name in WarningName:
            state = self._states[name]
            verdict, value = verdicts[name]
            if name.value in limits.disabled:
                verdict = _Verdict.FINE
            if verdict is _Verdict.HOLDS:
                state.bad_streak += 1
                state.good_streak = 0
            elif verdict is _Verdict.FINE:
                state.good_streak += 1
                state.bad_streak = 0
            elif verdict is _Verdict.BETWEEN:
                state.bad_streak = 0
                state.good_streak = 0
            if not state.active and state.bad_streak >= limits.raise_after:
                state.active = True
                changes.append(WarningChange(name, True, value, limits.threshold_of(name), now))
            elif state.active and state.good_streak >= limits.clear_after:
                state.active = False
                changes.append(WarningChange(name, False, value, limits.threshold_of(name), now))
        return changes


_COUNTER_GROUPS: Final = (
    ("packets_received", "bytes_received", "packets_lost"),
    ("packets_sent", "bytes_sent"),
    ("total_audio_energy_in",),
    ("total_audio_energy_out",),
)
_COUNTER_KEYS: Final = tuple(key for group in _COUNTER_GROUPS for key in group)
_ENERGY_KEYS: Final = frozenset({"total_audio_energy_in", "total_audio_energy_out"})
