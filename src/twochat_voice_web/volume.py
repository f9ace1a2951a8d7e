"""The ``volume`` event of a call: input and output levels, ten times a second.

Twilio's ``volume(inputVolume, outputVolume)`` drives level meters. Here a :class:`VolumeMeter` reads the
peer connection's statistics every :data:`VOLUME_INTERVAL` (100 ms) while the call is up *and* someone
listens to ``volume``, and emits ``volume`` with two floats from 0.0 to 1.0:

* ``input_volume``: the ``audioLevel`` of the ``media-source`` report, the microphone as captured (0 while
  muted, since the muted track carries silence);
* ``output_volume``: the ``audioLevel`` of the ``inbound-rtp`` report, the far end's audio as played.

(W3C webrtc-stats: ``audioLevel`` is linear, 0..1, 1 for 0 dBov.) A level the browser does not report is
0.0. The once-a-second ``sample`` event (call quality) is separate and unchanged.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["VOLUME_INTERVAL", "VolumeMeter", "levels_from_stats"]

VOLUME_INTERVAL = 0.1
"""Seconds between two ``volume`` events (ten a second)."""


def levels_from_stats(raw: list[dict[str, Any]]) -> tuple[float, float]:
    """(input, output) audio levels, 0..1, from an RTCStatsReport as a list of dicts."""
    level_in = 0.0
    level_out = 0.0
    for report in raw:
        kind = report.get("type")
        if report.get("kind", "audio") != "audio":
            continue
        level = report.get("audioLevel")
        if not isinstance(level, int | float) or isinstance(level, bool):
            continue
        if kind == "media-source":
            level_in = max(level_in, float(level))
        elif kind == "inbound-rtp":
            level_out = max(level_out, float(level))
    return min(level_in, 1.0), min(level_out, 1.0)


class VolumeMeter:
    """Polls statistics and reports levels until stopped.

    Args:
        read_stats: returns the current RTCStatsReport (raises once the peer connection is closed).
        wanted: True while someone listens to ``volume`` (nothing is read otherwise).
        report: called with ``(input_volume, output_volume)`` every interval.
        interval: seconds between reports.
    """

    def __init__(
        self,
        read_stats: Callable[[], Awaitable[list[dict[str, Any]]] | None],
        wanted: Callable[[], bool],
        report: Callable[[float, float], None],
        *,
        interval: float = VOLUME_INTERVAL,
    ) -> None:
        self._read_stats = read_stats
        self._wanted = wanted
        self._report = report
        self._interval = interval
        self._task: asyncio.Task[None] | None = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._interval)
            if not self._wanted():
                continue
            pending = self._read_stats()
            if pending is None:
                return  # no media any more
            try:
                raw = await pending
            except Exception:  # a closing peer connection: the meter is about to stop
                continue
            if self._task is None:
                return
            self._report(*levels_from_stats(raw))

    def stop(self) -> None:
        """Stop reporting (idempotent)."""
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
