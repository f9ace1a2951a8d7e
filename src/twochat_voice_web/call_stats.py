"""A call's media statistics, summarised: what ``call.get_stats()`` returns and call quality reads.

:func:`summarize_stats` reduces an ``RTCStatsReport`` (a list of dicts) to the audio figures a call-quality
view needs (packets, bytes, loss, jitter, round-trip time, levels, the codec and the nominated candidate
pair), keeping every report in ``raw``; :mod:`.quality` grades the summaries.
"""

from __future__ import annotations

from typing import Any

__all__ = ["summarize_stats"]


def summarize_stats(raw: list[dict[str, Any]]) -> dict[str, Any]:
    """Reduce an RTCStatsReport (list of dicts) to the figures a call-quality view needs."""
    out: dict[str, Any] = {"raw": raw}
    by_id = {str(report.get("id")): report for report in raw}
    for report in raw:
        kind = report.get("type")
        if report.get("kind", "audio") != "audio" and kind in ("inbound-rtp", "outbound-rtp"):
            continue
        if kind == "inbound-rtp":
            out["packets_received"] = report.get("packetsReceived", 0)
            out["packets_lost"] = report.get("packetsLost", 0)
            out["bytes_received"] = report.get("bytesReceived", 0)
            out["jitter_ms"] = float(report.get("jitter", 0.0)) * 1000
            out["audio_level_in"] = report.get("audioLevel")
            out["total_audio_energy_in"] = report.get("totalAudioEnergy")
            codec = by_id.get(str(report.get("codecId")))
            if codec is not None:
                out["codec"] = str(codec.get("mimeType", "")).removeprefix("audio/")
        elif kind == "outbound-rtp":
            out["packets_sent"] = report.get("packetsSent", 0)
            out["bytes_sent"] = report.get("bytesSent", 0)
        elif kind == "media-source" and report.get("kind") == "audio":
            out["audio_level_out"] = report.get("audioLevel")
            out["total_audio_energy_out"] = report.get("totalAudioEnergy")
        elif kind == "candidate-pair" and report.get("nominated") and report.get("state") == "succeeded":
            rtt = report.get("currentRoundTripTime")
            if rtt is not None:
                out["rtt_ms"] = float(rtt) * 1000
            local = by_id.get(str(report.get("localCandidateId")))
            remote = by_id.get(str(report.get("remoteCandidateId")))
            if local is not None and remote is not None:
                out["local_candidate"] = (
                    f"{local.get('address')}:{local.get('port')} {local.get('candidateType')}"
                )
                out["remote_candidate"] = (
                    f"{remote.get('address')}:{remote.get('port')} {remote.get('candidateType')}"
                )
        elif kind == "remote-inbound-rtp" and "rtt_ms" not in out and report.get("roundTripTime") is not None:
            out["rtt_ms"] = float(report["roundTripTime"]) * 1000
    return out
