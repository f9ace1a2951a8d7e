"""Preflight: can this browser, on this network, make a good call? (Twilio's ``runPreflight`` idea.)

:func:`run_preflight` (exposed as :meth:`Device.run_preflight`) checks, in order:

1. **Microphone**: it opens (permission, device), with its label.
2. **ICE**: a throw-away peer connection gathers candidates with the configured STUN/TURN servers,
   bounded by ``ice_gathering_timeout_ms``; the report lists the candidate types found (``host``,
   ``srflx`` = STUN reachable, ``relay`` = TURN reachable) and how long gathering took.
3. **Echo call** (when ``echo_number`` is given and the Device is registered): a short call to a number
   that echoes audio (the sandbox's ``+15550100``), sampled every second by the call-quality monitor:
   average MOS and its grade (``excellent`` ... ``degraded``), RTT, jitter, loss, whether audio came back
   and the microphone level seen in the outgoing stream.

Every step is bounded and reports its own failure instead of raising, so a page can show the whole report.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import asdict, dataclass, field
from math import fsum
from typing import TYPE_CHECKING, Any, Protocol

from .errors import VoiceSDKError
from .ice import candidates_in
from .options import DeviceOptions
from .platform import IceServer, PeerConnectionOptions, Platform
from .quality import Sample, grade

if TYPE_CHECKING:
    from .call import Call

__all__ = ["PreflightHost", "PreflightReport", "run_preflight"]


class PreflightHost(Protocol):
    """What :func:`run_preflight` needs of the Device that runs it."""

    @property
    def platform(self) -> Platform:
        """The runtime (microphone, peer connections)."""

    @property
    def input_device_id(self) -> str | None:
        """The microphone to test (None: the browser's default)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's validated options (ICE gathering)."""

    def ice_servers(self) -> tuple[IceServer, ...]:
        """The STUN/TURN servers to test."""

    async def connect(self, to: str) -> Call:
        """Place the echo call (``Device.connect``)."""


@dataclass
class PreflightReport:
    """What :func:`run_preflight` found. ``ok`` is True when the microphone, ICE and (if run) the echo
    call all worked."""

    ok: bool = False
    microphone_ok: bool = False
    microphone_label: str | None = None
    microphone_error: str | None = None
    ice_ok: bool = False
    candidate_types: list[str] = field(default_factory=list)
    stun_reachable: bool = False
    turn_reachable: bool = False
    gathering_ms: float | None = None
    ice_error: str | None = None
    call_ran: bool = False
    call_ok: bool = False
    call_error: str | None = None
    mos: float | None = None
    quality: str | None = None
    rtt_ms: float | None = None
    jitter_ms: float | None = None
    packet_loss: float | None = None
    audio_received: bool = False
    microphone_level: float | None = None
    warnings: list[str] = field(default_factory=list)
    duration_ms: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dictionary."""
        return asdict(self)


async def run_preflight(
    device: PreflightHost, *, echo_number: str | None = None, call_seconds: float = 5.0
) -> PreflightReport:
    """Run the checks of the module docstring; never raises for a failing check."""
    started = time.monotonic()
    report = PreflightReport()
    platform = device.platform
    mic = None
    try:
        mic = await platform.media.get_microphone(device.input_device_id)
        report.microphone_ok = True
        report.microphone_label = mic.label or None
    except VoiceSDKError as exc:
        report.microphone_error = f"{exc.code.value}: {exc.message}"
    peer = platform.create_peer_connection(
        PeerConnectionOptions(
            ice_servers=device.ice_servers(),
            gathering_timeout=device.options.ice_gathering_timeout_ms / 1000,
            gathering_policy="complete",  # the report lists every candidate type the browser finds
        )
    )
    try:
        await peer.set_microphone(mic)
        gather_start = time.monotonic()
        offer = await peer.create_offer()
        report.gathering_ms = round((time.monotonic() - gather_start) * 1000, 1)
        types = _candidate_types(offer)
        report.candidate_types = sorted(types)
        report.stun_reachable = "srflx" in types
        report.turn_reachable = "relay" in types
        report.ice_ok = bool(types)
        if not types:
            report.ice_error = "no ICE candidates were gathered"
    except Exception as exc:
        report.ice_error = str(exc)
    finally:
        peer.close()
        if mic is not None:
            mic.stop()
    if echo_number is not None:
        await _echo_call(device, echo_number, call_seconds, report)
    report.ok = report.microphone_ok and report.ice_ok and (report.call_ok or not report.call_ran)
    report.duration_ms = round((time.monotonic() - started) * 1000, 1)
    return report


def _candidate_types(sdp: str) -> set[str]:
    return {candidate.type for candidate in candidates_in(sdp)}


async def _echo_call(device: PreflightHost, number: str, seconds: float, report: PreflightReport) -> None:
    report.call_ran = True
    samples: list[Sample] = []
    warnings: list[str] = []
    try:
        call = await device.connect(number)
    except VoiceSDKError as exc:
        report.call_error = f"{exc.code.value}: {exc.message}"
        return
    answered: asyncio.Future[bool] = asyncio.get_event_loop().create_future()

    def on_accepted() -> None:
        if not answered.done():
            answered.set_result(True)

    def on_end(payload: dict[str, Any]) -> None:
        if not answered.done():
            answered.set_result(False)

    call.on("accepted", on_accepted)
    call.on("disconnect", on_end)
    call.on("sample", samples.append)
    call.on("warning", lambda name, _change: warnings.append(name))
    try:
        if call.status == "accepted" or await asyncio.wait_for(answered, timeout=15.0):
            await asyncio.sleep(seconds)
        else:
            report.call_error = "the echo call was not answered"
    except TimeoutError:
        report.call_error = "the echo call was not answered within 15 s"
    finally:
        await call.disconnect()
    report.warnings = sorted(set(warnings))
    if not samples:
        if report.call_error is None:
            report.call_error = "no quality samples (the call was too short or had no media)"
        return
    scores = [s.mos for s in samples if s.mos is not None]
    report.mos = round(_average(scores), 2) if scores else None
    report.quality = str(grade(report.mos)) if report.mos is not None else None
    rtts = [s.rtt_ms for s in samples if s.rtt_ms is not None]
    jitters = [s.jitter_ms for s in samples if s.jitter_ms is not None]
    losses = [s.packets_lost_fraction for s in samples if s.packets_lost_fraction is not None]
    report.rtt_ms = round(_average(rtts), 1) if rtts else None
    report.jitter_ms = round(_average(jitters), 1) if jitters else None
    report.packet_loss = round(_average(losses), 4) if losses else None
    report.audio_received = any((s.bytes_received or 0) > 0 for s in samples)
    levels = [s.audio_input_level for s in samples if s.audio_input_level is not None]
    report.microphone_level = round(max(levels), 3) if levels else None
    report.call_ok = report.audio_received and report.mos is not None


def _average(values: list[float]) -> float:
    """The arithmetic mean of ``values`` (not empty), summed exactly (``math.fsum``), as
    ``statistics.fmean`` does: the browser bundle leaves ``statistics`` out (see build.py)."""
    return fsum(values) / len(values)
