"""The "Check my setup" card: :meth:`Device.run_preflight` reports turned into readable rows (pure)."""

from __future__ import annotations

from typing import Any

__all__ = ["ECHO_NUMBER", "preflight_rows"]

#: The sandbox's echo number (product.md §6): the check's test call goes there.
ECHO_NUMBER = "+15550100"


def preflight_rows(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    """``(label, text, ok)`` rows for a :class:`~twochat_voice_web.preflight.PreflightReport` dict."""
    rows: list[tuple[str, str, bool]] = []
    if report.get("microphone_ok"):
        rows.append(("Microphone", str(report.get("microphone_label") or "working"), True))
    else:
        rows.append(("Microphone", str(report.get("microphone_error") or "not available"), False))
    types = list(report.get("candidate_types") or [])
    if report.get("ice_ok"):
        reach = []
        if report.get("stun_reachable"):
            reach.append("STUN reachable")
        if report.get("turn_reachable"):
            reach.append("TURN reachable")
        gathering = report.get("gathering_ms")
        detail = f"{', '.join(types)} candidates"
        if gathering is not None:
            detail += f" in {gathering:.0f} ms"
        rows.append(("Network", "; ".join([detail, *reach]), True))
    else:
        rows.append(("Network", str(report.get("ice_error") or "no ICE candidates"), False))
    if report.get("call_ran"):
        if report.get("call_ok"):
            mos = report.get("mos")
            grade = report.get("quality") or ""
            rows.append(("Test call", f"MOS {mos:.2f} ({grade})" if mos is not None else "connected", True))
            figures = [
                f"RTT {report['rtt_ms']:.0f} ms" if report.get("rtt_ms") is not None else None,
                f"jitter {report['jitter_ms']:.0f} ms" if report.get("jitter_ms") is not None else None,
                f"loss {report['packet_loss'] * 100:.1f} %"
                if report.get("packet_loss") is not None
                else None,
            ]
            rows.append(("Quality", ", ".join(f for f in figures if f) or "no figures", True))
        else:
            rows.append(("Test call", str(report.get("call_error") or "no audio came back"), False))
        warnings = report.get("warnings") or []
        if warnings:
            rows.append(("Warnings", ", ".join(str(w) for w in warnings), False))
    return rows
