"""No leaks after 100 calls in one page (issue 7, field lesson §B-13).

One Device places and receives 100 calls inside the page (answered, cancelled, rejected, failed, and inbound
accepted, rejected and cancelled by the caller), without the test keeping any of them. The baseline is taken
after one warm-up call of each kind (lazily created things such as the sound player exist then). After
the 100 calls: no extra live JS proxy, every microphone track stopped, every peer connection closed, no
extra ``<audio>`` element. Then, once the last calls' transactions have run out (RFC 6026's Accepted state
keeps an answered INVITE's transaction 32 s), the Python objects and the JS heap (after a garbage
collection) are back near the baseline: nothing is kept per call. Finally ``destroy()`` leaves zero
proxies.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from .driver import Probe
from .scenarios import SandboxRest

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(600)]

KINDS: dict[str, tuple[str, int]] = {
    # kind: (destination, how many of the 100)
    "answered": ("+15550100", 35),
    "cancelled": ("+15550103", 15),
    "rejected": ("+15550102", 10),
    "declined": ("+15550104", 5),
    "failed": ("+15559999", 10),  # not a test number nor a user: 404
    "inbound-accept": ("", 10),
    "inbound-reject": ("", 8),
    "inbound-cancel": ("", 7),
}
EXPECTED_REASONS = {
    "answered": {"local"},
    "cancelled": {"cancelled"},
    "rejected": {"busy", "declined"},
    "failed": {"not-found"},
    "inbound-accept": {"local"},
    "inbound-reject": {"rejected"},
    "inbound-cancel": {"remote-cancelled"},
}
ACCEPTED_WINDOW_MS = 34_000
"""RFC 6026 timer M (64*T1 = 32 s) plus a margin: after it, no transaction of the 100 calls is left."""
PYTHON_OBJECTS_BUDGET = 600
"""Growth of ``len(gc.get_objects())`` allowed over the 100 calls (parse caches emptied). The call kept
by a lost transaction bookkeeping entry was ~50 objects per answered call: 35 of them exceed it."""
JS_HEAP_BUDGET = 4 * 1024 * 1024
"""Growth of the JS heap allowed over the 100 calls, after a forced garbage collection."""


def _plan() -> list[dict[str, Any]]:
    steps = [
        {"kind": "rejected" if kind == "declined" else kind, "to": to}
        for kind, (to, count) in KINDS.items()
        for _ in range(count)
    ]
    random.Random(2026).shuffle(steps)
    return steps


def _collect_garbage(probe: Probe) -> None:
    session = probe.page.context.new_cdp_session(probe.page)
    try:
        session.send("HeapProfiler.collectGarbage")
    finally:
        session.detach()


def _memory(probe: Probe) -> dict[str, float]:
    _collect_garbage(probe)
    probe.page.wait_for_timeout(300)
    return probe.memory()


def test_a_hundred_calls_leave_nothing_behind(probe: Probe, rel_rest: SandboxRest) -> None:
    url = rel_rest.sandbox.url
    device = probe.new_device(rel_rest.mint(), api_base_url=url, log=False)
    probe.device(device, "register")
    plan = _plan()
    assert len(plan) == 100
    warmup = [
        {"kind": "rejected" if kind == "declined" else kind, "to": to} for kind, (to, _) in KINDS.items()
    ]
    result = probe.run("call_loop", device_id=device, plan=warmup, sandbox_url=url)
    assert not result["errors"], result
    baseline = _memory(probe)

    first = probe.run("call_loop", device_id=device, plan=plan[:50], sandbox_url=url)
    rest = probe.run("call_loop", device_id=device, plan=plan[50:], sandbox_url=url)
    after_100 = _memory(probe)

    errors = first["errors"] + rest["errors"]
    assert not errors, errors
    reasons: dict[str, int] = {}
    for part in (first, rest):
        for key, count in part["reasons"].items():
            reasons[key] = reasons.get(key, 0) + count
    for key in reasons:
        kind, reason = key.split(":", 1)
        assert reason in EXPECTED_REASONS[kind], f"{key}: unexpected end reason ({reasons})"
    assert sum(reasons.values()) == 100

    report: dict[str, Any] = {"baseline": baseline, "after_100": after_100}
    assert after_100["live_proxies"] == baseline["live_proxies"], report
    assert after_100["live_tracks"] == 0, report
    assert after_100["open_peers"] == 0, report
    assert after_100["audio_elements"] <= baseline["audio_elements"], report
    opened = after_100["tracks_created"] - baseline["tracks_created"]
    assert opened >= 80, f"every outbound and accepted call opens the microphone: {opened}"
    assert probe.device(device, "state") == "registered"
    assert probe.device(device, "calls") == []

    probe.page.wait_for_timeout(ACCEPTED_WINDOW_MS)
    settled = _memory(probe)
    report["settled"] = settled
    print("leak test memory:", report)  # shown with -s / on failure
    grown = settled["python_objects"] - baseline["python_objects"]
    assert grown < PYTHON_OBJECTS_BUDGET, f"{grown:.0f} more Python objects after 100 calls: {report}"
    if "js_heap_used" in settled:
        heap = settled["js_heap_used"] - baseline["js_heap_used"]
        assert heap < JS_HEAP_BUDGET, f"the JS heap grew {heap / 1e6:.1f} MB: {report}"
    assert settled["live_proxies"] == baseline["live_proxies"], report

    probe.device(device, "destroy")
    probe.page.wait_for_timeout(300)
    final = probe.memory()
    assert final["live_proxies"] == 0, final
    assert final["live_tracks"] == 0 and final["open_peers"] == 0, final
