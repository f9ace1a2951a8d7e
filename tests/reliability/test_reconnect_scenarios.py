"""Calls that survive the network: the kill/restart scenarios of the reliability report, 3 runs each.

``bench/bench_reliability.py`` runs the same scenarios (tests/reliability/scenarios.py) 20 times each and
writes the table; here every run must behave: calls survive a WebSocket reset, a network loss and a
Kamailio restart (re-INVITE with ICE restart, audio again, the far side's BYE still arrives), and a call
whose server lost the dialog (sandbox killed) ends cleanly as ``dialog-lost``. Wall-clock figures are
reported, never asserted (2 shared cores).
"""

from __future__ import annotations

import json
import signal
import time
from typing import Any

import pytest
from playwright.sync_api import BrowserContext

from .driver import Probe
from .restartable_sandbox import RestartableSandbox
from .scenarios import (
    RunOutcome,
    SandboxRest,
    run_kamailio_restart,
    run_network_loss,
    run_rtpengine_restart,
    run_sandbox_restart,
    run_ws_drop,
    summarize,
)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(300)]

RUNS = 3


def _report(outcomes: list[RunOutcome]) -> str:
    return json.dumps([o.__dict__ for o in outcomes], indent=1)


def test_calls_survive_websocket_resets_and_the_far_side_bye_arrives_after_each(
    probe: Probe, rel_sandbox: RestartableSandbox
) -> None:
    outcomes = run_ws_drop(probe, rel_sandbox, RUNS)
    row = summarize("ws-drop", outcomes)
    assert row.survived == RUNS, _report(outcomes)
    assert row.far_side_bye == RUNS, _report(outcomes)
    assert all(o.reregister_ms is not None for o in outcomes)


def test_the_online_event_ends_the_backoff_after_a_network_loss(
    probe: Probe, rel_context: BrowserContext, rel_sandbox: RestartableSandbox
) -> None:
    outcomes = run_network_loss(probe, rel_context, rel_sandbox, 2)
    assert summarize("network-loss", outcomes).survived == 2, _report(outcomes)
    # The back-off (full jitter) waits 0-20 s, then 0-30 s: a re-registration within 8 s of the network's
    # return is, almost always, the online event's.
    assert all((o.reregister_ms or 1e9) < 8000 for o in outcomes), _report(outcomes)


def test_a_sandbox_killed_mid_call_re_registers_and_the_lost_call_ends_as_dialog_lost(
    probe: Probe, rel_sandbox: RestartableSandbox
) -> None:
    outcomes = run_sandbox_restart(probe, rel_sandbox, RUNS)
    assert all(o.reregister_ms is not None for o in outcomes), _report(outcomes)
    assert all(o.ended_cleanly for o in outcomes), _report(outcomes)
    assert {(o.end_reason, o.status_code) for o in outcomes} == {("dialog-lost", 481)}


@pytest.mark.interop
def test_calls_through_kamailio_survive_its_restart(probe: Probe, interop_stack_rel: object) -> None:
    outcomes = run_kamailio_restart(probe, interop_stack_rel, RUNS)  # type: ignore[arg-type]
    assert summarize("kamailio-restart", outcomes).survived == RUNS, _report(outcomes)


@pytest.mark.interop
def test_media_relay_restart_is_healed_by_an_ice_restart(probe: Probe, interop_stack_rel: object) -> None:
    outcomes = run_rtpengine_restart(probe, interop_stack_rel, 1)  # type: ignore[arg-type]
    assert summarize("rtpengine-restart", outcomes).survived == 1, _report(outcomes)


@pytest.mark.interop
def test_a_far_side_bye_through_a_restarted_kamailio_reaches_the_sdk(
    probe: Probe, interop_stack_rel: Any
) -> None:
    """SIP.js #1088 against real infrastructure: baresip hangs up after Kamailio was restarted; its BYE
    follows the remote target our ICE-restart re-INVITE refreshed (the new WebSocket) and reaches us."""
    stack = interop_stack_rel
    baresip = stack.baresip()
    device = probe.new_device("kamailio-has-no-token", credentials=stack.credentials("1003"))
    probe.device(device, "register")
    call = probe.device(device, "connect", baresip.uri)["call"]
    probe.wait(call, "accepted", timeout=20)
    probe.wait_audio(call)
    since = probe.seq()
    # Not InteropStack.restart_kamailio(): its baresip re-registration (uadel/uanew) ends baresip's calls.
    stack.kamailio.process.stop(sig=signal.SIGKILL)
    time.sleep(1.0)
    stack.kamailio.start()
    probe.wait(device, "registered", since=since, timeout=30)
    probe.wait(call, "reconnected", since=since, timeout=30)
    probe.wait_audio(call)
    mark = probe.seq()
    baresip.hangup()
    ended = probe.wait(call, "disconnect", since=mark, timeout=15)
    assert ended["args"][0] == {"reason": "remote", "status_code": None}
    assert [e for e in probe.events(since, call) if e["name"] == "error"] == []


def test_dtmf_and_a_hang_up_made_while_offline_reach_the_sandbox_after_the_reconnect(
    probe: Probe, rel_context: BrowserContext, rel_rest: SandboxRest
) -> None:
    """In-dialog requests made while signalling is down (SIP INFO DTMF, the BYE) are queued and go out,
    in order, behind the REGISTER of the reconnect (field lesson §B-1)."""
    device = probe.new_device(
        rel_rest.mint(), api_base_url=rel_rest.sandbox.url, dtmf_transport="info",
        reconnect_min_ms=20_000, reconnect_max_ms=30_000,
    )
    probe.device(device, "register")
    call = probe.device(device, "connect", "+15550106")["call"]  # the IVR records DTMF
    probe.wait(call, "accepted")
    call_id = str(probe.call(call, "sip_call_id"))
    since = probe.seq()
    rel_context.set_offline(True)
    try:
        rel_rest.drop()
        probe.wait(device, "reconnecting", since=since, timeout=10)
        probe.call(call, "send_digits", "73")
        probe.page.wait_for_timeout(600)  # both INFOs queued (one tone + gap is 170 ms)
        # disconnect() waits for the BYE's answer: start it without waiting, then come back online.
        probe.page.evaluate(
            """(id) => { window.relRun("call", {call_id: id, method: "disconnect", args: [], kwargs: {}});
                        return true; }""",
            call,
        )
        probe.page.wait_for_timeout(1000)
        assert rel_rest.events(kind="bye", call_id=call_id) == [], "nothing can be sent while offline"
    finally:
        rel_context.set_offline(False)
    probe.wait(device, "registered", since=since, timeout=15)
    deadline = time.monotonic() + 15
    while not rel_rest.events(kind="bye", call_id=call_id) and time.monotonic() < deadline:
        probe.page.wait_for_timeout(200)
    digits = [e.get("digits") for e in rel_rest.events(kind="dtmf", call_id=call_id)]
    assert digits and digits[-1] == "73", digits
    byes = rel_rest.events(kind="bye", call_id=call_id)
    assert byes and byes[0].get("who") in ("caller", "client"), byes
    assert probe.call(call, "status") == "disconnected"
    assert [e for e in probe.events(since, call) if e["name"] == "error"] == []
