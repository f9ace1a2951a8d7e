"""Tokens that rotate (issue 7, field lessons §B-6/7): the SDK in Chromium against the sandbox.

The reliability sandbox runs with ``--min-token-ttl 5``, so tokens really expire within a test.
"""

from __future__ import annotations

import itertools
import json
import time

import pytest

from .driver import Probe
from .restartable_sandbox import RestartableSandbox
from .scenarios import ECHO_NUMBER, SandboxRest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


def _registers(rest: SandboxRest, since: float) -> list[dict[str, object]]:
    return [e for e in rest.events(kind="register") if float(e["time"]) >= since]


def _fetches(rest: SandboxRest, since: float) -> int:
    return len([e for e in rest.events(kind="credentials_fetched") if float(e["time"]) >= since])


def test_three_refreshes_in_a_row_each_rearm_token_will_expire(probe: Probe, rel_rest: SandboxRest) -> None:
    started = time.time()
    # 8 s tokens, 6.5 s lead: tokenWillExpire ~1.5 s after each update.
    device = probe.new_device(
        rel_rest.mint(ttl=8), api_base_url=rel_rest.sandbox.url, token_expiry_lead_ms=6500
    )
    # The first warning can come while register() is still resolving (a slow machine spends more than
    # the 1.5 s before it on fetching credentials and registering): count from before the register.
    since = probe.seq()
    probe.device(device, "register")
    registers = len(_registers(rel_rest, started))
    for _ in range(3):
        fired = probe.wait(device, "tokenWillExpire", since=since, timeout=10)
        since = fired["seq"]
        probe.device(device, "update_token", rel_rest.mint(ttl=8))
    probe.wait(device, "tokenWillExpire", since=since, timeout=10)
    names = probe.names(device)
    assert names.count("tokenWillExpire") == 4
    assert "error" not in names, "no token expired: every refresh came in time"
    assert len(_registers(rel_rest, started)) == registers, "a token refresh must not re-register"
    assert _fetches(rel_rest, started) == 1, "a token refresh must not fetch credentials"


def test_a_refresh_during_a_call_sends_nothing_and_leaves_no_audio_gap(
    probe: Probe, rel_rest: SandboxRest
) -> None:
    started = time.time()
    device = probe.new_device(rel_rest.mint(ttl=60), api_base_url=rel_rest.sandbox.url)
    probe.device(device, "register")
    call = probe.device(device, "connect", ECHO_NUMBER)["call"]
    probe.wait(call, "accepted")
    probe.wait_audio(call)
    call_id = probe.call(call, "sip_call_id")
    registers = len(_registers(rel_rest, started))
    frames: list[str] = []
    probe.page.on("websocket", lambda ws: ws.on("framesent", lambda payload: frames.append(str(payload))))
    probe.run("start_sampling", call_id=call, interval=0.1)
    refreshed_at = []
    for _ in range(3):
        probe.page.wait_for_timeout(700)
        refreshed_at.append(time.time())
        probe.device(device, "update_token", rel_rest.mint(ttl=60))
    probe.page.wait_for_timeout(1000)
    samples = probe.run("samples", call_id=call)
    assert rel_rest.events(kind="reinvite", call_id=call_id) == [], "a token refresh must not re-INVITE"
    assert len(_registers(rel_rest, started)) == registers
    assert not [f for f in frames if f.startswith(("INVITE", "REGISTER", "UPDATE"))]
    # Audio kept flowing through the refreshes: packets grew throughout, no stall of 0.5 s or more.
    window = [s for s in samples if refreshed_at[0] - 0.5 <= s["t"] <= refreshed_at[-1] + 0.8]
    assert len(window) >= 10, samples
    stall_started = window[0]["t"]
    longest = 0.0
    for before, after in itertools.pairwise(window):
        if after["packets"] > before["packets"]:
            stall_started = after["t"]
        longest = max(longest, after["t"] - stall_started)
    assert longest < 0.5, f"received audio stalled {longest:.2f} s around a refresh: {json.dumps(window)}"
    assert probe.call(call, "status") == "accepted"
    probe.call(call, "disconnect")


def test_an_expired_token_mid_call_is_an_error_event_and_the_call_stays_up(
    probe: Probe, rel_rest: SandboxRest
) -> None:
    started = time.time()
    device = probe.new_device(rel_rest.mint(ttl=5), api_base_url=rel_rest.sandbox.url, token_expiry_lead_ms=0)
    probe.device(device, "register")
    call = probe.device(device, "connect", ECHO_NUMBER)["call"]
    probe.wait(call, "accepted")
    error = probe.wait(device, "error", timeout=15)
    assert error["args"][0]["code"] == "TOKEN_EXPIRED"
    assert probe.device(device, "state") == "registered"
    assert probe.call(call, "status") == "accepted"
    flow = probe.audio_flow(call, 1.5)
    assert flow["packets"] > 30 and flow["energy"] > 0, flow
    assert [e["name"] for e in probe.events(target=call)].count("disconnect") == 0
    # An expired token does not stop the registration either: the SIP credentials are still good.
    assert _fetches(rel_rest, started) == 1
    probe.call(call, "disconnect")


def test_credentials_are_fetched_again_only_when_the_server_refuses_them(
    probe: Probe, rel_sandbox: RestartableSandbox, rel_rest: SandboxRest
) -> None:
    # A 2 s back-off cap: the default (20 s, full jitter) could outlast the 20 s wait after the restart.
    device = probe.new_device(rel_rest.mint(), api_base_url=rel_sandbox.url, reconnect_max_delay_ms=2000)
    probe.device(device, "register")
    since = probe.seq()
    mark = time.time()
    rel_rest.drop()
    probe.wait(device, "registered", since=since, timeout=15)
    assert _fetches(rel_rest, mark) == 0, "a reconnect with working credentials must not fetch them"
    # The server comes back with rotated SIP passwords (same token secret): one fetch, then registered.
    secrets = json.loads(rel_sandbox.secrets_file.read_text())
    secrets["passwords"] = [p[::-1] + "x" for p in secrets["passwords"]]
    rel_sandbox.secrets_file.write_text(json.dumps(secrets))
    since = probe.seq()
    rel_sandbox.kill()
    rel_sandbox.start()
    probe.wait(device, "registered", since=since, timeout=20)
    assert _fetches(rel_rest, 0) == 1, "exactly one credentials fetch after the password rotation"
    auth_errors = [e for e in probe.events(since, device) if e["name"] == "error"]
    assert auth_errors == [], auth_errors
