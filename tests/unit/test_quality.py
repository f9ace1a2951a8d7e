"""Tests for twochat_voice_web.quality: the E-model MOS, the preflight grade and the QualityMonitor.

Pure tests (stdlib, pytest, hypothesis): they also run inside Pyodide. Time is a plain number advanced by
the tests; the summaries have the shape ``call.summarize_stats()`` returns.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.quality import (
    CODEC_IMPAIRMENTS,
    CallQuality,
    CodecImpairment,
    QualityMonitor,
    Sample,
    Thresholds,
    WarningChange,
    WarningName,
    codec_impairment,
    grade,
    mos_from,
    r_factor,
)


def twilio_mos(rtt: float, jitter: float, loss_percent: float) -> float:
    """twilio-voice.js lib/twilio/rtc/mos.ts, transcribed as the reference for the no-loss case."""
    effective_latency = rtt + jitter * 2 + 10
    r = 0.0
    if effective_latency < 160:
        r = 94.768 - effective_latency / 40
    elif effective_latency < 1000:
        r = 94.768 - (effective_latency - 120) / 10
    r = max(r - loss_percent * 2.5, 6.52) if loss_percent <= r / 2.5 else 0.0
    return 1 + 0.035 * r + 0.000007 * r * (r - 60) * (100 - r)


def twilio_mos_r(rtt: float, jitter: float, loss_percent: float) -> float:
    """The rating ``r`` of twilio-voice.js lib/twilio/rtc/mos.ts (before its conversion to MOS)."""
    effective_latency = rtt + jitter * 2 + 10
    delay = effective_latency / 40 if effective_latency < 160 else (effective_latency - 120) / 10
    r = 94.768 - delay
    return r - loss_percent * 2.5


def invalid(excinfo: pytest.ExceptionInfo[VoiceSDKError]) -> bool:
    return excinfo.value.code is ErrorCode.INVALID_ARGUMENT


# ============================================================================================== MOS


class TestMos:
    @pytest.mark.parametrize("codec", ["opus", "PCMU", "PCMA", "G722"])
    def test_perfect_network_scores_about_4_43(self, codec: str) -> None:
        assert 4.4 <= mos_from(0, 0, 0, codec) <= 4.5
        assert mos_from(0, 0, 0, codec) == pytest.approx(4.4333, abs=1e-4)

    @pytest.mark.parametrize("rtt", [0, 20, 80, 149, 150, 200, 400, 600, 900])
    @pytest.mark.parametrize("jitter", [0, 5, 30])
    def test_equals_twilio_without_loss(self, rtt: float, jitter: float) -> None:
        assert mos_from(rtt, jitter, 0.0) == pytest.approx(twilio_mos(rtt, jitter, 0.0), abs=1e-9)

    def test_delay_impairment_is_continuous_at_160_ms(self) -> None:
        below = r_factor(149.999, 0, 0)  # effective latency 159.999
        above = r_factor(150.001, 0, 0)
        assert below - above == pytest.approx(0.0, abs=1e-3)

    @pytest.mark.parametrize("loss", [0.005, 0.01, 0.02])
    def test_opus_matches_twilio_at_low_loss(self, loss: float) -> None:
        assert mos_from(50, 5, loss) == pytest.approx(twilio_mos(50, 5, loss * 100), abs=0.02)

    def test_opus_loses_twilio_s_2_5_r_points_per_percent_of_loss(self) -> None:
        # mos.ts: ``r - loss_percent * 2.5``; the slope of the rating where the loss starts
        lossless = r_factor(50, 5, 0.0)
        assert (lossless - r_factor(50, 5, 0.0001)) / 0.01 == pytest.approx(2.5, rel=1e-3)
        assert lossless - r_factor(50, 5, 0.0001) == pytest.approx(
            twilio_mos_r(50, 5, 0.0) - twilio_mos_r(50, 5, 0.01), rel=1e-3
        )

    def test_good_call_is_excellent(self) -> None:
        assert mos_from(100, 5, 0.0) > 4.3
        assert grade(mos_from(100, 5, 0.0)) is CallQuality.EXCELLENT

    def test_three_percent_loss_and_300_ms_rtt_is_below_3_5(self) -> None:
        assert mos_from(300, 0, 0.03, "PCMU") < 3.5
        assert mos_from(300, 20, 0.03, "opus") < 3.5
        # with no jitter at all opus sits right at the line, as Twilio's own formula does (3.51)
        assert mos_from(300, 0, 0.03, "opus") == pytest.approx(twilio_mos(300, 0, 3), abs=0.05)

    def test_bad_network_is_degraded(self) -> None:
        assert mos_from(800, 50, 0.1) < 2.0
        assert grade(mos_from(600, 40, 0.05)) is CallQuality.DEGRADED

    def test_g711_is_more_sensitive_to_loss_than_opus(self) -> None:
        for loss in (0.01, 0.05, 0.2):
            assert mos_from(50, 5, loss, "PCMU") < mos_from(50, 5, loss, "opus")

    def test_g711_variants_and_g722_share_parameters(self) -> None:
        values = {mos_from(80, 10, 0.04, name) for name in ("PCMU", "PCMA", "G722", "g711", "G.711")}
        assert len(values) == 1

    @pytest.mark.parametrize(("loss_percent", "ie_eff"), [(1, 3.64), (2, 7.01), (5, 15.78), (10, 27.07)])
    def test_g711_loss_costs_g107_ie_eff_with_g113_plc_figures(
        self, loss_percent: float, ie_eff: float
    ) -> None:
        # G.107 eq. 7-29, Ie_eff = Ie + (95 - Ie) * Ppl / (Ppl + Bpl), with G.113 Appendix I's G.711 with
        # PLC (Ie 0, Bpl 25.1), random loss: the figures above, worked by hand
        lost = r_factor(0, 0, 0.0, "PCMU") - r_factor(0, 0, loss_percent / 100, "PCMU")
        assert lost == pytest.approx(ie_eff, abs=0.01)

    def test_g107_default_rating_93_2_is_mos_4_41(self) -> None:
        # G.107: the default parameter set rates R = 93.2, MOS 4.41 (Annex B's R-to-MOS curve). With
        # Twilio's delay term (R0 94.768 less effective latency / 40) R is 93.2 at 62.72 ms effective
        # latency, which is 52.72 ms of RTT plus mos.ts's fixed 10 ms.
        assert r_factor(52.72, 0, 0.0) == pytest.approx(93.2, abs=1e-9)
        assert mos_from(52.72, 0, 0.0) == pytest.approx(4.41, abs=0.005)

    @pytest.mark.parametrize(
        ("name", "expected"),
        [
            ("opus", "opus"),
            ("OPUS", "opus"),
            ("audio/opus", "opus"),
            ("red", "opus"),
            ("audio/PCMU", "pcmu"),
            ("PCMA", "pcma"),
            ("G722", "g722"),
            ("G.722", "g722"),
            (" g-711 ", "g711"),
        ],
    )
    def test_codec_names_are_normalised(self, name: str, expected: str) -> None:
        assert codec_impairment(name) == CODEC_IMPAIRMENTS[expected]

    @pytest.mark.parametrize("name", ["", "G729", "telephone-event", None, 3])
    def test_unknown_codec_lookup_is_none(self, name: Any) -> None:
        assert codec_impairment(name) is None

    def test_unknown_codec_name_is_refused(self) -> None:
        with pytest.raises(VoiceSDKError, match="unknown codec 'G729'") as excinfo:
            mos_from(0, 0, 0, "G729")
        assert invalid(excinfo)

    def test_explicit_codec_impairment(self) -> None:
        poor = CodecImpairment(ie=11.0, bpl=19.0)  # G.729A + VAD in G.113 Appendix I
        assert mos_from(0, 0, 0, poor) < mos_from(0, 0, 0, "opus")
        assert mos_from(0, 0, 0.02, poor) < mos_from(0, 0, 0.02, "PCMU")

    @pytest.mark.parametrize(
        ("ie", "bpl"),
        [(-1, 10), (95, 10), (0, 0), (0, -3), (0, math.inf), (math.nan, 1), (0, 10**400), ("0", 1)],
    )
    def test_bad_codec_impairment_is_refused(self, ie: float, bpl: float) -> None:
        with pytest.raises(VoiceSDKError) as excinfo:
            CodecImpairment(ie=ie, bpl=bpl)
        assert invalid(excinfo)

    def test_clamped_to_one_for_hopeless_networks(self) -> None:
        assert mos_from(5000, 0, 0) == 1.0
        assert mos_from(math.inf, 0, 0) == 1.0
        assert mos_from(0, math.inf, 1.0) == 1.0
        assert mos_from(10**400, 0, 0) == 1.0
        assert r_factor(5000, 0, 0) < 0

    def test_total_loss_is_far_below_the_low_mos_line(self) -> None:
        # G.107's loss term saturates (Ie_eff -> 95 only as loss -> infinity): a silent call is caught by
        # low-bytes-received, the MOS only has to be clearly bad
        assert mos_from(0, 0, 1.0) < 1.5
        assert mos_from(0, 0, 1.0, "PCMU") < 1.5

    @pytest.mark.parametrize(
        "args",
        [
            (-1, 0, 0),
            (0, -0.1, 0),
            (0, 0, -0.01),
            (0, 0, 1.01),
            (math.nan, 0, 0),
            (0, math.nan, 0),
            (0, 0, math.nan),
            (True, 0, 0),
            ("10", 0, 0),
            (None, 0, 0),
        ],
    )
    def test_bad_measurements_are_refused(self, args: tuple[Any, Any, Any]) -> None:
        with pytest.raises(VoiceSDKError) as excinfo:
            mos_from(*args)
        assert invalid(excinfo)

    @given(
        rtt=st.floats(min_value=0, allow_nan=False),
        jitter=st.floats(min_value=0, allow_nan=False),
        loss=st.floats(min_value=0, max_value=1),
        codec=st.sampled_from(["opus", "PCMU", "PCMA", "G722"]),
    )
    def test_always_within_1_and_4_5(self, rtt: float, jitter: float, loss: float, codec: str) -> None:
        assert 1.0 <= mos_from(rtt, jitter, loss, codec) <= 4.5

    @given(
        rtt=st.floats(min_value=0, max_value=5000),
        jitter=st.floats(min_value=0, max_value=1000),
        loss=st.floats(min_value=0, max_value=1),
        more=st.floats(min_value=0, max_value=2000),
        codec=st.sampled_from(["opus", "PCMU", "G722"]),
    )
    def test_monotonic_in_every_impairment(
        self, rtt: float, jitter: float, loss: float, more: float, codec: str
    ) -> None:
        base = mos_from(rtt, jitter, loss, codec)
        assert mos_from(rtt + more, jitter, loss, codec) <= base
        assert mos_from(rtt, jitter + more, loss, codec) <= base
        worse_loss = min(1.0, loss + more / 2000)
        assert mos_from(rtt, jitter, worse_loss, codec) <= base

    def test_strictly_lower_for_visible_changes(self) -> None:
        assert mos_from(300, 10, 0.01) < mos_from(100, 10, 0.01)
        assert mos_from(100, 40, 0.01) < mos_from(100, 10, 0.01)
        assert mos_from(100, 10, 0.05) < mos_from(100, 10, 0.01)


# ============================================================================================== grade


class TestGrade:
    @pytest.mark.parametrize(
        ("mos", "expected"),
        [
            (4.5, "excellent"),
            (4.21, "excellent"),
            (4.2, "great"),
            (4.1, "great"),
            (4.05, "good"),  # Twilio's code leaves 4.0-4.1 uncovered ("degraded"); contiguous here
            (4.0, "good"),
            (3.7, "good"),
            (3.65, "fair"),  # likewise 3.6-3.7
            (3.6, "fair"),
            (3.1, "fair"),
            (3.09, "degraded"),
            (3.0, "degraded"),
            (1.0, "degraded"),
            (0.0, "degraded"),
        ],
    )
    def test_twilio_preflight_bands(self, mos: float, expected: str) -> None:
        result = grade(mos)
        assert result == expected
        assert isinstance(result, str)
        assert isinstance(result, CallQuality)

    def test_integers_are_numbers_too(self) -> None:
        assert grade(4) == "good"
        assert grade(10**400) == "excellent"
        assert grade(-(10**400)) == "degraded"

    @pytest.mark.parametrize("bad", [math.nan, "4.3", None, True])
    def test_bad_input_is_refused(self, bad: Any) -> None:
        with pytest.raises(VoiceSDKError) as excinfo:
            grade(bad)
        assert invalid(excinfo)


# ============================================================================================== thresholds


class TestThresholds:
    # Twilio's documented warning rules (field-lessons.md, "Call quality warnings"): high-rtt > 400 ms,
    # high-jitter > 30 ms, high-packet-loss average > 3 % over 7 samples, raised after 3 samples a second.
    @pytest.mark.parametrize(
        ("name", "at_the_line", "over_it"),
        [
            (WarningName.HIGH_RTT, {"rtt": 400.0}, {"rtt": 401.0}),
            (WarningName.HIGH_JITTER, {"jitter": 30.0}, {"jitter": 31.0}),
        ],
    )
    def test_default_rtt_and_jitter_lines_are_twilio_s(
        self, name: WarningName, at_the_line: dict[str, float], over_it: dict[str, float]
    ) -> None:
        monitor, stream = started()
        assert first_change(feed(monitor, stream, 6, **at_the_line), name) is None
        monitor, stream = started()
        assert first_change(feed(monitor, stream, 6, **over_it), name) == 3

    def test_default_packet_loss_line_is_twilio_s_3_percent_over_7_samples(self) -> None:
        monitor, stream = started()
        at_the_line = feed(monitor, stream, 12, received=97, lost=3)
        assert first_change(at_the_line, WarningName.HIGH_PACKET_LOSS) is None
        monitor, stream = started()
        over_it = feed(monitor, stream, 12, received=96, lost=4)
        assert first_change(over_it, WarningName.HIGH_PACKET_LOSS) == 7 + 3 - 1

    def test_nothing_is_disabled_by_default(self) -> None:
        assert Thresholds().disabled == frozenset()

    def test_frozen(self) -> None:
        with pytest.raises(dataclasses.FrozenInstanceError):
            Thresholds().max_rtt_ms = 1.0  # type: ignore[misc]

    @pytest.mark.parametrize(
        "kwargs",
        [
            {"max_rtt_ms": -1},
            {"max_rtt_ms": 10**400},
            {"max_jitter_ms": math.nan},
            {"min_mos": math.inf},
            {"min_audio_level_stddev_db": "1"},
            {"max_average_packet_loss": 1.5},
            {"clear_average_packet_loss": 0.05},  # above the raise level
            {"packet_loss_window": 0},
            {"audio_level_window": 1},
            {"raise_after": 0},
            {"clear_after": 1.5},
            {"raise_after": True},
            {"min_bytes_per_interval": -1},
            {"disabled": {"high-rtt"}},  # a set, not a frozenset
            {"disabled": frozenset({"high-rtt", "loud-music"})},
        ],
    )
    def test_bad_values_are_refused(self, kwargs: dict[str, Any]) -> None:
        with pytest.raises(VoiceSDKError) as excinfo:
            Thresholds(**kwargs)
        assert invalid(excinfo)
        assert next(iter(kwargs)) in excinfo.value.message

    def test_threshold_of_every_warning(self) -> None:
        limits = Thresholds()
        assert limits.threshold_of(WarningName.HIGH_RTT) == 400
        assert limits.threshold_of(WarningName.HIGH_PACKET_LOSS) == 0.03
        assert limits.threshold_of(WarningName.LOW_MOS) == 3.5
        assert limits.threshold_of(WarningName.LOW_BYTES_SENT) == 1.0
        assert all(isinstance(limits.threshold_of(name), float) for name in WarningName)

    def test_monitor_refuses_other_objects(self) -> None:
        with pytest.raises(VoiceSDKError) as excinfo:
            QualityMonitor({"max_rtt_ms": 100})  # type: ignore[arg-type]
        assert invalid(excinfo)


# ============================================================================================== monitor

#: Speech-like microphone/remote levels (linear 0..1): they vary by tens of dB from second to second.
SPEECH = (0.08, 0.2, 0.02, 0.3, 0.05, 0.12, 0.01, 0.25, 0.04, 0.15)


class FakeStream:
    """Cumulative counters of one call as summarize_stats() reports them, advanced one second per step."""

    def __init__(self) -> None:
        self.now = 100.0
        self.step_index = 0
        self.totals: dict[str, float] = {
            "packets_received": 0,
            "packets_lost": 0,
            "bytes_received": 0,
            "packets_sent": 0,
            "bytes_sent": 0,
            "total_audio_energy_in": 0.0,
            "total_audio_energy_out": 0.0,
        }

    def step(
        self,
        *,
        received: int = 50,
        lost: int = 0,
        bytes_in: int | None = None,
        sent: int = 50,
        bytes_out: int | None = None,
        mic: float | None = None,
        remote: float | None = None,
        rtt: float | None = 40.0,
        jitter: float | None = 4.0,
        codec: str | None = "opus",
        dt: float = 1.0,
        inbound: bool = True,
    ) -> dict[str, Any]:
        mic = SPEECH[self.step_index % len(SPEECH)] if mic is None else mic
        remote = SPEECH[(self.step_index + 3) % len(SPEECH)] if remote is None else remote
        self.step_index += 1
        self.now += dt
        t = self.totals
        t["packets_received"] += received
        t["packets_lost"] += lost
        t["bytes_received"] += received * 80 if bytes_in is None else bytes_in
        t["packets_sent"] += sent
        t["bytes_sent"] += sent * 80 if bytes_out is None else bytes_out
        t["total_audio_energy_in"] += remote * remote * dt
        t["total_audio_energy_out"] += mic * mic * dt
        summary: dict[str, Any] = {
            "packets_sent": int(t["packets_sent"]),
            "bytes_sent": int(t["bytes_sent"]),
            "audio_level_out": mic,
            "total_audio_energy_out": t["total_audio_energy_out"],
        }
        if inbound:
            summary.update(
                packets_received=int(t["packets_received"]),
                packets_lost=int(t["packets_lost"]),
                bytes_received=int(t["bytes_received"]),
                audio_level_in=remote,
                total_audio_energy_in=t["total_audio_energy_in"],
            )
            if jitter is not None:
                summary["jitter_ms"] = jitter
            if codec is not None:
                summary["codec"] = codec
        if rtt is not None:
            summary["rtt_ms"] = rtt
        return summary

    def restart_inbound(self) -> None:
        """Chrome after unhold: a new inbound-rtp report whose counters start at zero."""
        for key in ("packets_received", "packets_lost", "bytes_received", "total_audio_energy_in"):
            self.totals[key] = 0


def feed(
    monitor: QualityMonitor,
    stream: FakeStream,
    count: int,
    *,
    muted: bool = False,
    on_hold: bool = False,
    **step: Any,
) -> list[tuple[Sample | None, list[WarningChange]]]:
    return [
        monitor.update(stream.step(**step), stream.now, muted=muted, on_hold=on_hold) for _ in range(count)
    ]


def started(thresholds: Thresholds | None = None) -> tuple[QualityMonitor, FakeStream]:
    """A monitor that has its baseline (the first update) from a healthy stream."""
    monitor = QualityMonitor(thresholds)
    stream = FakeStream()
    assert monitor.update(stream.step(), stream.now) == (None, [])
    return monitor, stream


def changes_of(results: Iterable[tuple[Sample | None, list[WarningChange]]]) -> list[list[tuple[str, bool]]]:
    return [[(change.name.value, change.raised) for change in changes] for _sample, changes in results]


def first_change(results: list[tuple[Sample | None, list[WarningChange]]], name: WarningName) -> int | None:
    """The 1-based position of the first update that changed ``name``."""
    for position, (_sample, changes) in enumerate(results, start=1):
        if any(change.name is name for change in changes):
            return position
    return None


class TestSamples:
    def test_first_update_has_no_sample(self) -> None:
        monitor = QualityMonitor()
        assert monitor.update({"packets_received": 10}, 0.0) == (None, [])
        assert monitor.active_warnings == frozenset()

    def test_interval_deltas_and_rates(self) -> None:
        monitor, stream = started()
        sample, changes = monitor.update(
            stream.step(received=45, lost=5, bytes_in=4000, sent=50, bytes_out=3000, mic=0.1, remote=0.2),
            stream.now,
        )
        assert changes == []
        assert sample is not None
        assert sample.timestamp == stream.now
        assert sample.interval == pytest.approx(1.0)
        assert sample.packets_received == 45
        assert sample.packets_lost == 5
        assert sample.packets_lost_fraction == pytest.approx(0.1)
        assert sample.bytes_received == 4000
        assert sample.bytes_sent == 3000
        assert sample.packets_sent == 50
        assert sample.bitrate_in == pytest.approx(32000)
        assert sample.bitrate_out == pytest.approx(24000)
        assert sample.rtt_ms == 40.0
        assert sample.jitter_ms == 4.0
        assert sample.codec == "opus"
        assert sample.mos == pytest.approx(mos_from(40, 4, 0.1, "opus"))
        # the microphone is "input" (summary: audio_level_out), the remote audio "output" (audio_level_in)
        assert sample.audio_input_level == pytest.approx(0.1)
        assert sample.audio_output_level == pytest.approx(0.2)

    def test_level_is_the_rms_over_the_interval(self) -> None:
        monitor, stream = started()
        summary = stream.step(mic=0.1)
        summary["total_audio_energy_out"] = stream.totals["total_audio_energy_out"] = (
            stream.totals["total_audio_energy_out"] - 0.01 + 0.0004  # level 0.02 on average over 1 s
        )
        summary["audio_level_out"] = 0.5  # the instantaneous reading is ignored when energy is known
        sample, _ = monitor.update(summary, stream.now)
        assert sample is not None
        assert sample.audio_input_level == pytest.approx(0.02)

    def test_level_falls_back_to_the_instantaneous_reading(self) -> None:
        monitor, stream = started()
        summary = stream.step(mic=0.3)
        del summary["total_audio_energy_out"]
        sample, _ = monitor.update(summary, stream.now)
        assert sample is not None
        assert sample.audio_input_level == pytest.approx(0.3)

    def test_codec_drives_the_mos(self) -> None:
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(received=90, lost=10, codec="PCMU"), stream.now)
        assert sample is not None
        assert sample.codec == "PCMU"
        assert sample.mos == pytest.approx(mos_from(40, 4, 0.1, "PCMU"))

    def test_unknown_or_missing_codec_scores_as_opus(self) -> None:
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(received=90, lost=10, codec="G729"), stream.now)
        assert sample is not None
        assert sample.mos == pytest.approx(mos_from(40, 4, 0.1, "opus"))
        sample, _ = monitor.update(stream.step(received=90, lost=10, codec=None), stream.now)
        assert sample is not None
        assert sample.codec is None
        assert sample.mos == pytest.approx(mos_from(40, 4, 0.1, "opus"))

    def test_rtt_is_carried_forward(self) -> None:
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(rtt=None), stream.now)
        assert sample is not None
        assert sample.rtt_ms == 40.0
        assert sample.mos is not None

    def test_mos_unknown_without_rtt_jitter_or_packets(self) -> None:
        monitor = QualityMonitor()
        stream = FakeStream()
        monitor.update(stream.step(rtt=None), stream.now)
        sample, _ = monitor.update(stream.step(rtt=None), stream.now)
        assert sample is not None
        assert sample.rtt_ms is None
        assert sample.mos is None
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(jitter=None), stream.now)
        assert sample is not None
        assert sample.mos is None
        sample, _ = monitor.update(stream.step(received=0, lost=0), stream.now)
        assert sample is not None
        assert sample.packets_lost_fraction is None
        assert sample.mos is None

    def test_clock_that_does_not_advance(self) -> None:
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(dt=0.0, mic=0.3), stream.now)
        assert sample is not None
        assert sample.interval is None
        assert sample.bitrate_in is None
        assert sample.bytes_received == 4000
        assert sample.audio_input_level == pytest.approx(0.3)  # instantaneous: no interval to divide by
        sample, _ = monitor.update(stream.step(dt=-5.0), stream.now)
        assert sample is not None
        assert sample.interval is None

    def test_sample_is_frozen_and_converts_to_a_dict(self) -> None:
        monitor, stream = started()
        sample, _ = monitor.update(stream.step(), stream.now)
        assert sample is not None
        with pytest.raises(dataclasses.FrozenInstanceError):
            sample.mos = 1.0  # type: ignore[misc]
        data = sample.to_dict()
        assert data["bytes_received"] == 4000
        assert data["codec"] == "opus"
        assert set(data) == {f.name for f in dataclasses.fields(Sample)}

    def test_now_and_summary_are_validated(self) -> None:
        monitor = QualityMonitor()
        for bad_now in (math.nan, math.inf, "1", None, True):
            with pytest.raises(VoiceSDKError) as excinfo:
                monitor.update({}, bad_now)  # type: ignore[arg-type]
            assert invalid(excinfo)
        with pytest.raises(VoiceSDKError) as excinfo:
            monitor.update([("rtt_ms", 1)], 0.0)  # type: ignore[arg-type]
        assert invalid(excinfo)


BAD_STEPS: dict[WarningName, dict[str, Any]] = {
    WarningName.HIGH_RTT: {"rtt": 450.0},
    WarningName.HIGH_JITTER: {"jitter": 35.0},
    WarningName.LOW_MOS: {"rtt": 390.0, "jitter": 29.0, "received": 88, "lost": 12},
    WarningName.LOW_BYTES_RECEIVED: {"received": 0, "bytes_in": 0},
    WarningName.LOW_BYTES_SENT: {"sent": 0, "bytes_out": 0},
}


class TestWarnings:
    @pytest.mark.parametrize("name", list(BAD_STEPS))
    def test_raised_after_three_samples_and_cleared_after_three_good_ones(self, name: WarningName) -> None:
        monitor, stream = started()
        bad = feed(monitor, stream, 5, **BAD_STEPS[name])
        assert first_change(bad, name) == 3
        assert name in monitor.active_warnings
        raised = next(change for change in bad[2][1] if change.name is name)
        assert raised.raised
        assert raised.threshold == monitor.thresholds.threshold_of(name)
        assert raised.timestamp == pytest.approx(stream.now - 2)
        good = feed(monitor, stream, 5)
        assert first_change(good, name) == 3
        cleared = next(change for change in good[2][1] if change.name is name)
        assert cleared.cleared
        assert name not in monitor.active_warnings

    def test_only_the_matching_warning_is_raised(self) -> None:
        monitor, stream = started()
        assert changes_of(feed(monitor, stream, 4, jitter=35.0)) == [[], [], [("high-jitter", True)], []]
        monitor, stream = started()
        results = feed(monitor, stream, 4, received=0, bytes_in=0)
        assert changes_of(results) == [[], [], [("low-bytes-received", True)], []]

    def test_rtt_above_400_ms_also_means_a_low_mos(self) -> None:
        # effective latency 410 ms costs 29 R points: MOS 3.3 even without loss (Twilio's formula too)
        monitor, stream = started()
        results = feed(monitor, stream, 3, rtt=400.5, jitter=0.0)
        assert changes_of(results)[-1] == [("high-rtt", True), ("low-mos", True)]

    def test_values_reported_with_the_change(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 3, jitter=42.0)
        (change,) = results[-1][1]
        assert change.name == "high-jitter"
        assert change.value == 42.0
        assert change.threshold == 30.0
        assert change.to_dict() == {
            "name": "high-jitter",
            "raised": True,
            "value": 42.0,
            "threshold": 30.0,
            "timestamp": stream.now,
        }

    def test_two_bad_samples_then_a_good_one_do_not_raise(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 2, rtt=450.0)
        feed(monitor, stream, 1)
        results = feed(monitor, stream, 2, rtt=450.0)
        assert changes_of(results) == [[], []]
        assert monitor.active_warnings == frozenset()

    def test_one_good_sample_does_not_clear(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 3, rtt=450.0)
        feed(monitor, stream, 2)
        feed(monitor, stream, 1, rtt=450.0)
        assert changes_of(feed(monitor, stream, 2)) == [[], []]
        assert WarningName.HIGH_RTT in monitor.active_warnings

    def test_low_mos_alone(self) -> None:
        # 5 % loss keeps the 7-sample average above 3 %: also high-packet-loss, later
        monitor, stream = started()
        results = feed(monitor, stream, 3, **BAD_STEPS[WarningName.LOW_MOS])
        assert results[-1][0] is not None
        assert (results[-1][0].mos or 5) < 3.5
        assert changes_of(results)[-1] == [("low-mos", True)]

    def test_high_packet_loss_needs_a_full_window(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 12, received=95, lost=5)  # 5 % each second
        # window of 7 full at sample 7, then 3 consecutive samples above 3 % -> raised at sample 9
        assert first_change(results, WarningName.HIGH_PACKET_LOSS) == 9
        (change,) = (c for c in results[8][1] if c.name is WarningName.HIGH_PACKET_LOSS)
        assert change.value == pytest.approx(0.05)
        assert change.threshold == 0.03

    def test_high_packet_loss_clears_at_one_percent_average(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 9, received=95, lost=5)
        assert WarningName.HIGH_PACKET_LOSS in monitor.active_warnings
        results = feed(monitor, stream, 10)
        # averages after k clean seconds: 5 % * (7 - k) / 7; <= 1 % from k = 6; 3 such samples -> k = 8
        assert first_change(results, WarningName.HIGH_PACKET_LOSS) == 8
        (change,) = (c for c in results[7][1] if c.name is WarningName.HIGH_PACKET_LOSS)
        assert change.cleared
        assert change.value == pytest.approx(0.0)

    def test_loss_between_one_and_three_percent_neither_raises_nor_clears(self) -> None:
        monitor, stream = started()
        assert (
            first_change(feed(monitor, stream, 20, received=98, lost=2), WarningName.HIGH_PACKET_LOSS) is None
        )
        feed(monitor, stream, 9, received=90, lost=10)
        assert WarningName.HIGH_PACKET_LOSS in monitor.active_warnings
        feed(monitor, stream, 20, received=98, lost=2)
        assert WarningName.HIGH_PACKET_LOSS in monitor.active_warnings

    @pytest.mark.parametrize(
        ("name", "silent"),
        [
            (WarningName.CONSTANT_AUDIO_INPUT_LEVEL, {"mic": 0.0}),
            (WarningName.CONSTANT_AUDIO_OUTPUT_LEVEL, {"remote": 0.0}),
        ],
    )
    def test_constant_level_after_ten_seconds(self, name: WarningName, silent: dict[str, Any]) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 14, **silent)
        # window of 10 full at sample 10, then 3 consecutive constant samples -> raised at sample 12
        assert first_change(results, name) == 12
        (change,) = (c for c in results[11][1] if c.name is name)
        assert change.value == pytest.approx(0.0)
        assert change.threshold == 0.5
        assert changes_of(results) == [[]] * 11 + [[(name.value, True)]] + [[]] * 2
        back = feed(monitor, stream, 4)
        assert first_change(back, name) == 3

    def test_a_stuck_nonzero_level_is_constant_too(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 12, mic=0.25)
        assert first_change(results, WarningName.CONSTANT_AUDIO_INPUT_LEVEL) == 12

    def test_quiet_but_live_microphone_is_not_constant(self) -> None:
        monitor, stream = started()
        noise = (0.001, 0.0014, 0.0009, 0.0016, 0.0011, 0.0008, 0.0013)  # room noise around -58 dBov
        results = [monitor.update(stream.step(mic=noise[i % len(noise)]), stream.now) for i in range(30)]
        assert first_change(results, WarningName.CONSTANT_AUDIO_INPUT_LEVEL) is None

    def test_custom_raise_and_clear_counts(self) -> None:
        monitor, stream = started(Thresholds(raise_after=1, clear_after=2))
        assert changes_of(feed(monitor, stream, 1, jitter=35.0)) == [[("high-jitter", True)]]
        assert changes_of(feed(monitor, stream, 2)) == [[], [("high-jitter", False)]]

    def test_custom_threshold(self) -> None:
        monitor, stream = started(Thresholds(max_rtt_ms=100))
        assert first_change(feed(monitor, stream, 3, rtt=150.0), WarningName.HIGH_RTT) == 3

    def test_disabled_warning_is_never_raised(self) -> None:
        monitor, stream = started(Thresholds(disabled=frozenset({"constant-audio-output-level", "high-rtt"})))
        results = feed(monitor, stream, 20, remote=0.0, rtt=900.0)
        names = {name for changes in changes_of(results) for name, _raised in changes}
        assert names == {"low-mos"}

    def test_changes_come_in_a_stable_order(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 3, rtt=450.0, jitter=50.0, sent=0, bytes_out=0)
        assert changes_of(results)[-1] == [
            ("high-rtt", True),
            ("high-jitter", True),
            ("low-mos", True),
            ("low-bytes-sent", True),
        ]


class TestMuteHoldAndResets:
    def test_muted_microphone_never_raises_constant_input_level(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 30, muted=True, mic=0.0)
        assert changes_of(results) == [[]] * 30

    def test_unmuting_restarts_the_level_window(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 30, muted=True, mic=0.0)
        results = feed(monitor, stream, 12, mic=0.0)  # a dead microphone after unmute: judged afresh
        assert first_change(results, WarningName.CONSTANT_AUDIO_INPUT_LEVEL) == 12

    def test_muting_clears_an_active_constant_input_level(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 12, mic=0.0)
        assert WarningName.CONSTANT_AUDIO_INPUT_LEVEL in monitor.active_warnings
        results = feed(monitor, stream, 3, muted=True, mic=0.0)
        assert changes_of(results) == [[], [], [("constant-audio-input-level", False)]]
        assert results[-1][1][0].value is None

    def test_hold_with_the_inbound_report_gone_raises_nothing(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 20, on_hold=True, inbound=False, remote=0.0)
        assert changes_of(results) == [[]] * 20
        sample = results[-1][0]
        assert sample is not None
        assert sample.bytes_received == 0
        assert sample.packets_lost_fraction is None
        assert sample.mos is None

    def test_hold_while_the_peer_stops_sending_raises_nothing(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 20, on_hold=True, received=0, bytes_in=0, sent=0, bytes_out=0)
        assert changes_of(results) == [[]] * 20

    def test_hold_clears_low_bytes_received(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 3, received=0, bytes_in=0)
        assert monitor.active_warnings == {WarningName.LOW_BYTES_RECEIVED}
        results = feed(monitor, stream, 3, on_hold=True, inbound=False)
        assert changes_of(results) == [[], [], [("low-bytes-received", False)]]

    def test_rtt_is_still_judged_on_hold(self) -> None:
        monitor, stream = started()
        results = feed(monitor, stream, 3, on_hold=True, inbound=False, rtt=500.0)
        assert changes_of(results)[-1] == [("high-rtt", True)]

    def test_unhold_with_a_new_inbound_report_from_zero(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 10)
        feed(monitor, stream, 5, on_hold=True, inbound=False)
        stream.restart_inbound()
        results = feed(monitor, stream, 15, received=50, lost=0)
        assert changes_of(results) == [[]] * 15
        first = results[0][0]
        assert first is not None
        assert first.packets_received == 50  # counted from the new report's zero, not negative
        assert first.bytes_received == 4000
        assert first.packets_lost_fraction == 0.0
        assert all(sample is not None and sample.bytes_received == 4000 for sample, _ in results)

    def test_a_report_that_comes_back_counts_from_zero(self) -> None:
        # the new report may already have more packets than the old one had: still a new stream
        monitor, stream = started()
        feed(monitor, stream, 1, on_hold=True, inbound=False)
        stream.restart_inbound()
        stream.totals["packets_received"] = 500
        stream.totals["bytes_received"] = 40000
        sample, changes = monitor.update(stream.step(), stream.now)
        assert changes == []
        assert sample is not None
        assert sample.packets_received == 550
        assert sample.bytes_received == 44000

    def test_counter_reset_mid_call_gives_no_negative_delta_and_no_warning(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 10)
        stream.restart_inbound()
        results = feed(monitor, stream, 10)
        assert changes_of(results) == [[]] * 10
        for sample, _ in results:
            assert sample is not None
            assert sample.packets_received == 50
            assert sample.packets_lost == 0
            assert sample.packets_lost_fraction == 0.0

    def test_outbound_counter_reset(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 3)
        stream.totals["packets_sent"] = stream.totals["bytes_sent"] = 0
        sample, changes = monitor.update(stream.step(), stream.now)
        assert changes == []
        assert sample is not None
        assert sample.packets_sent == 50
        assert sample.bytes_sent == 4000

    def test_packets_lost_going_down_is_not_negative_loss(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 3, received=90, lost=10)
        summary = stream.step(received=50)
        summary["packets_lost"] -= 4  # duplicates: RTP's cumulative loss decreases
        stream.totals["packets_lost"] -= 4
        sample, _ = monitor.update(summary, stream.now)
        assert sample is not None
        assert sample.packets_lost == 0
        assert sample.packets_lost_fraction == 0.0
        assert sample.packets_received == 50  # not mistaken for a replaced stream

    def test_reset_keeps_warnings_and_needs_a_new_baseline(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 3, jitter=35.0)
        monitor.reset()
        assert monitor.active_warnings == {WarningName.HIGH_JITTER}
        stream.restart_inbound()  # counters may jump after an ICE restart
        stream.totals["bytes_sent"] += 10**9
        assert monitor.update(stream.step(), stream.now) == (None, [])
        results = feed(monitor, stream, 3)
        assert changes_of(results) == [[], [], [("high-jitter", False)]]
        assert results[0][0] is not None
        assert results[0][0].bytes_sent == 4000

    def test_reset_restarts_streaks(self) -> None:
        monitor, stream = started()
        feed(monitor, stream, 2, rtt=450.0)
        monitor.reset()
        monitor.update(stream.step(rtt=450.0), stream.now)  # baseline
        results = feed(monitor, stream, 3, rtt=450.0)
        assert first_change(results, WarningName.HIGH_RTT) == 3


class TestMissingAndGarbage:
    def test_empty_summaries_are_tolerated(self) -> None:
        monitor = QualityMonitor()
        results = [monitor.update({}, float(t)) for t in range(6)]
        assert results[0] == (None, [])
        sample = results[1][0]
        assert sample is not None
        assert (sample.rtt_ms, sample.jitter_ms, sample.mos, sample.codec) == (None, None, None, None)
        assert (sample.bytes_received, sample.packets_sent, sample.bitrate_in) == (0, 0, None)
        # no inbound/outbound report at all is what one-way audio looks like: reported as such
        assert changes_of(results)[3] == [("low-bytes-received", True), ("low-bytes-sent", True)]

    def test_unusable_values_are_unknown_not_zero(self) -> None:
        monitor, stream = started()
        garbage = {"bytes_received": "lots", "bytes_sent": math.nan, "rtt_ms": -3, "jitter_ms": True}
        results = [monitor.update(garbage, stream.now + i) for i in range(1, 6)]
        assert changes_of(results) == [[]] * 5
        sample = results[-1][0]
        assert sample is not None
        assert sample.jitter_ms is None
        assert sample.rtt_ms == 40.0  # the last usable one

    def test_partial_summary(self) -> None:
        monitor, stream = started()
        summary = stream.step()
        for key in ("packets_lost", "jitter_ms", "audio_level_in", "total_audio_energy_in", "codec"):
            del summary[key]
        sample, _ = monitor.update(summary, stream.now)
        assert sample is not None
        assert sample.packets_received == 50
        assert sample.packets_lost_fraction is None
        assert sample.audio_output_level is None
        assert sample.mos is None

    def test_huge_counters_do_not_overflow(self) -> None:
        monitor = QualityMonitor()
        monitor.update({"bytes_received": 0, "bytes_sent": 2**62}, 0.0)
        sample, _ = monitor.update({"bytes_received": 2**62, "bytes_sent": 10**400}, 1e-300)
        assert sample is not None
        assert sample.bitrate_in is None  # infinite: unknown
        assert sample.bytes_received == 2**62

    JUNK = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
        st.text(max_size=5),
        st.lists(st.integers(), max_size=2),
        st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    )
    KEYS = st.sampled_from(
        [
            "packets_received",
            "packets_lost",
            "bytes_received",
            "bytes_sent",
            "packets_sent",
            "jitter_ms",
            "rtt_ms",
            "audio_level_in",
            "audio_level_out",
            "total_audio_energy_in",
            "total_audio_energy_out",
            "codec",
            "raw",
            "local_candidate",
        ]
    )

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(
        updates=st.lists(
            st.tuples(
                st.dictionaries(KEYS, JUNK, max_size=14),
                st.floats(min_value=-1e6, max_value=1e6),
                st.booleans(),
                st.booleans(),
            ),
            max_size=25,
        ),
        reset_at=st.integers(min_value=-1, max_value=25),
    )
    def test_never_raises_on_garbage(
        self, updates: list[tuple[dict[str, Any], float, bool, bool]], reset_at: int
    ) -> None:
        monitor = QualityMonitor(Thresholds(raise_after=1, clear_after=1, audio_level_window=2))
        for index, (summary, now, muted, on_hold) in enumerate(updates):
            if index == reset_at:
                monitor.reset()
            sample, changes = monitor.update(summary, now, muted=muted, on_hold=on_hold)
            assert_sane(sample, changes)

    @settings(max_examples=100, deadline=None)
    @given(
        steps=st.lists(
            st.tuples(
                st.integers(min_value=0, max_value=200),  # received
                st.integers(min_value=-5, max_value=50),  # lost (may go down)
                st.booleans(),  # restart the inbound report
                st.booleans(),  # inbound report missing
                st.floats(min_value=0, max_value=1),  # microphone level
            ),
            max_size=30,
        )
    )
    def test_realistic_streams_keep_invariants(self, steps: list[tuple[int, int, bool, bool, float]]) -> None:
        monitor = QualityMonitor()
        stream = FakeStream()
        monitor.update(stream.step(), stream.now)
        active: set[WarningName] = set()
        for received, lost, restart, missing, mic in steps:
            if restart:
                stream.restart_inbound()
            sample, changes = monitor.update(
                stream.step(received=received, lost=lost, mic=mic, inbound=not missing), stream.now
            )
            assert_sane(sample, changes)
            assert sample is not None
            for change in changes:  # raise/clear alternate per warning
                assert (change.name in active) != change.raised
                (active.add if change.raised else active.discard)(change.name)
            assert active == monitor.active_warnings


def assert_sane(sample: Sample | None, changes: list[WarningChange]) -> None:
    for change in changes:
        assert isinstance(change.name, WarningName)
        assert change.value is None or math.isfinite(change.value)
    if sample is None:
        assert changes == []
        return
    assert sample.mos is None or 1.0 <= sample.mos <= 4.5
    assert sample.packets_lost_fraction is None or 0.0 <= sample.packets_lost_fraction <= 1.0
    for level in (sample.audio_input_level, sample.audio_output_level):
        assert level is None or 0.0 <= level <= 1.0
    for count in (
        sample.bytes_received,
        sample.bytes_sent,
        sample.packets_received,
        sample.packets_sent,
        sample.packets_lost,
    ):
        assert isinstance(count, int)
        assert count >= 0
    for rate in (sample.bitrate_in, sample.bitrate_out):
        assert rate is None or (math.isfinite(rate) and rate >= 0)
    assert sample.interval is None or sample.interval > 0
