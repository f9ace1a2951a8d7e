"""Watching a call's quality while it is accepted: the ``sample``, ``warning``/``warning-cleared`` and
``volume`` events.

Every :data:`SAMPLE_INTERVAL` seconds the peer connection's statistics are summarised
(:func:`~.call_stats.summarize_stats`) and graded (:class:`~.quality.QualityMonitor`: E-model MOS,
Twilio-style warnings, which a muted or held call does not raise); a call whose media plays in this tab also
measures its input and output volume (:class:`~.volume.VolumeMeter`, only while ``volume`` is listened to).
:class:`CallQualitySampler` is the call's collaborator for this; what it needs of its call is
:class:`QualityLine`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any, Protocol

from .call_stats import summarize_stats
from .platform import PeerConnection
from .quality import QualityMonitor
from .tasks import TaskSet
from .volume import VolumeMeter

__all__ = ["SAMPLE_INTERVAL", "CallQualitySampler", "QualityLine"]

SAMPLE_INTERVAL = 1.0
"""Call-quality sampling period, seconds (Twilio samples every second)."""


class QualityLine(Protocol):
    """What quality sampling needs of its call."""

    @property
    def ended(self) -> bool:
        """True once the call ended (sampling stops)."""

    @property
    def peer(self) -> PeerConnection | None:
        """The call's peer connection, while it has one."""

    @property
    def muted(self) -> bool:
        """True while our microphone is muted."""

    @property
    def held(self) -> bool:
        """True while either side holds the call."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""

    def listens_to_volume(self) -> bool:
        """True while the page listens to ``volume``."""

    def emit(self, event: str, *args: Any) -> None:
        """Emit a call event."""


class CallQualitySampler:
    """The quality sampling and volume metering of one call (see the module docstring)."""

    def __init__(self, line: QualityLine, tasks: TaskSet) -> None:
        self._line = line
        self._tasks = tasks
        self._monitor = QualityMonitor()
        self._sampler: asyncio.Future[None] | None = None
        self._volume_meter: VolumeMeter | None = None

    @property
    def active_warnings(self) -> list[str]:
        """The warnings currently raised (``high-rtt``, ``high-packet-loss``...)."""
        return [str(name) for name in self._monitor.active_warnings]

    def start(self, *, local_media: bool) -> None:
        """The call is accepted: sample every second; meter the volume when its media plays here."""
        line = self._line
        if self._sampler is None and not line.ended:
            self._sampler = self._tasks.spawn(self._sample())
        if self._volume_meter is None and not line.ended and local_media:

            def stats() -> Awaitable[list[dict[str, Any]]] | None:
                peer = line.peer
                return peer.get_stats() if peer is not None and not line.ended else None

            self._volume_meter = VolumeMeter(
                stats,
                line.listens_to_volume,
                lambda level_in, level_out: line.emit("volume", level_in, level_out),
            )

    def reset(self) -> None:
        """The media path restarts (ICE restart): grade it afresh."""
        self._monitor.reset()

    def stop(self) -> None:
        """The call ended."""
        if self._sampler is not None and not self._sampler.done():
            self._sampler.cancel()
        if self._volume_meter is not None:
            self._volume_meter.stop()

    async def _sample(self) -> None:
        """Every second: getStats -> QualityMonitor -> ``sample`` and ``warning``/``warning-cleared``."""
        line = self._line
        while not line.ended:
            await asyncio.sleep(SAMPLE_INTERVAL)
            pc = line.peer
            if pc is None or line.ended:
                return
            try:
                summary = summarize_stats(await pc.get_stats())
            except Exception as exc:  # a closing peer connection: skip this sample
                line.logger.debug("getStats failed: %s", exc)
                continue
            if line.ended:
                return
            sample, changes = self._monitor.update(
                summary, time.monotonic(), muted=line.muted, on_hold=line.held
            )
            if sample is not None:
                line.emit("sample", sample)
            for change in changes:
                line.emit("warning" if change.raised else "warning-cleared", str(change.name), change)
