"""The kill/restart scenarios of the reliability report (tests/reliability and bench/bench_reliability.py).

Each scenario places a call from our SDK in Chromium, breaks something while the call is up, and records one
:class:`RunOutcome` per run:

=====================  =====================================================================================
scenario               what breaks, and what must happen
=====================  =====================================================================================
``ws-drop``            ``POST /sandbox/drop`` resets the SIP WebSocket (network blip). The sandbox keeps the
                       call for its grace period: the Device reconnects, re-REGISTERs, the call sends a
                       re-INVITE with an ICE restart, audio flows, and the far side's BYE reaches the SDK.
``network-loss``       The browser goes offline (Playwright) and the WebSocket is reset; the Device backs
                       off 10-30 s; the browser's ``online`` event must wake it at once on return.
``sandbox-restart``    The sandbox is SIGKILLed and started again on the same port (same secrets): its
                       registrations and call state are gone. Re-registration is measured; the call cannot
                       survive (its media endpoint died with the process): the ICE-restart re-INVITE gets
                       481 and the call must end cleanly with reason ``dialog-lost``.
``kamailio-restart``   Kamailio (registrar + proxy) is SIGKILLed and started again while the SDK talks to
                       the sipp echo through Kamailio + rtpengine. A proxy keeps no dialog state: the call
                       must survive (re-INVITE with ICE restart through the new Kamailio, audio flows).
``rtpengine-restart``  The media relay restarts while signalling stays up: ICE goes disconnected/failed in
                       the browser, the call restarts ICE by itself and audio flows again.
=====================  =====================================================================================

Re-registration time = the SDK's ``registered`` event minus the moment the server was reachable again (the
port accepted TCP connections again; for the two scenarios where the server never went away, the moment
the connection was cut or the network came back). Page and test process share the machine's wall clock.

The two restart scenarios cap the reconnection back-off at :data:`RESTART_BACKOFF_CAP_MS`: with the
default cap (20 s, full jitter) the first attempt after a restart comes up to 20 s late, which measures the
jitter rather than the recovery, and can outlast the calls' 30 s reconnect grace on a loaded machine.
"""

from __future__ import annotations

import json
import signal
import statistics
import time
import urllib.request
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from playwright.sync_api import BrowserContext

from .driver import Probe, ProbeError
from .restartable_sandbox import PortWatcher, RestartableSandbox

__all__ = [
    "NOTES",
    "SCENARIOS",
    "RunOutcome",
    "SandboxRest",
    "ScenarioRow",
    "markdown_table",
    "rows_json",
    "run_kamailio_restart",
    "run_network_loss",
    "run_rtpengine_restart",
    "run_sandbox_restart",
    "run_ws_drop",
    "summarize",
]

ECHO_NUMBER = "+15550100"
ALICE_UUID = "USR5a1d0c3e9b7f4a2e8c6d1f0a"
DOWN_FOR = 1.0
"""Seconds a killed server stays down before it is started again."""
RESTART_BACKOFF_CAP_MS = 2000
"""``reconnect_max_delay_ms`` of the devices of the two restart scenarios (see the module docstring)."""

SCENARIOS = ("ws-drop", "network-loss", "sandbox-restart", "kamailio-restart", "rtpengine-restart")

NOTES = {
    "ws-drop": "sandbox keeps the call for its 60 s grace period; re-INVITE with ICE restart on the new flow",
    "network-loss": "offline + connection reset; back-off 10-30 s, woken by the browser's online event",
    "sandbox-restart": "by design no call survives: the sandbox's media endpoint and B2BUA state died with "
    "the process; the ICE-restart re-INVITE gets 481 and the call ends cleanly as dialog-lost",
    "kamailio-restart": "stateless proxy restarted (usrloc lost); dialog and media (rtpengine) kept",
    "rtpengine-restart": "media relay restarted while signalling stays up: ICE restart by the SDK alone; "
    "no re-registration involved",
}


@dataclass
class RunOutcome:
    """One run of one scenario."""

    scenario: str
    run: int
    survived: bool
    """The call is still up after the event, got ``reconnected``, and audio flows again."""
    reregister_ms: float | None
    """Server reachable again -> ``registered`` (None when the scenario does not re-register)."""
    call_back_ms: float | None = None
    """Server reachable again -> the call's ``reconnected`` (its ICE-restart re-INVITE was answered)."""
    end_reason: str | None = None
    """How the call ended when it did not survive (``dialog-lost``...)."""
    status_code: int | None = None
    ended_cleanly: bool = False
    """The call ended with the expected reason, no ``error`` event, media released."""
    far_side_bye: bool | None = None
    """After the reconnect the far side hung up and the SDK saw ``disconnect`` reason ``remote``."""
    detail: str = ""


@dataclass
class ScenarioRow:
    """One line of the reliability table."""

    scenario: str
    runs: int
    survived: int
    reregister_ms_median: float | None
    reregister_ms_max: float | None = None
    call_back_ms_median: float | None = None
    ended_cleanly: int = 0
    ended: int = 0
    """Calls that did not survive; ``ended_cleanly`` counts those that ended as expected (dialog-lost)."""
    far_side_bye: int = 0
    far_side_bye_runs: int = 0
    """Runs that tried a far-side BYE after the reconnect; ``far_side_bye`` counts those that arrived."""
    note: str = ""
    failures: list[str] = field(default_factory=list)


def summarize(scenario: str, outcomes: Iterable[RunOutcome]) -> ScenarioRow:
    """The table row of one scenario's runs."""
    runs = list(outcomes)
    reregister = [o.reregister_ms for o in runs if o.reregister_ms is not None]
    back = [o.call_back_ms for o in runs if o.call_back_ms is not None]
    return ScenarioRow(
        scenario=scenario,
        runs=len(runs),
        survived=sum(o.survived for o in runs),
        reregister_ms_median=round(statistics.median(reregister), 1) if reregister else None,
        reregister_ms_max=round(max(reregister), 1) if reregister else None,
        call_back_ms_median=round(statistics.median(back), 1) if back else None,
        ended_cleanly=sum(o.ended_cleanly for o in runs),
        ended=sum(not o.survived for o in runs),
        far_side_bye=sum(bool(o.far_side_bye) for o in runs),
        far_side_bye_runs=sum(o.far_side_bye is not None for o in runs),
        note=NOTES.get(scenario, ""),
        failures=[f"run {o.run}: {o.detail}" for o in runs if o.detail],
    )


def markdown_table(rows: Iterable[ScenarioRow]) -> str:
    """The rows as a Markdown table."""

    def ms(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.0f}"

    def share(count: int, out_of: int) -> str:
        return f"{count}/{out_of}" if out_of else "n/a"

    lines = [
        "| scenario | runs | survived | re-register median (ms) | max (ms) | call back median (ms) "
        "| ended cleanly | far-side BYE after reconnect | note |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario} | {row.runs} | {row.survived}/{row.runs} | {ms(row.reregister_ms_median)} "
            f"| {ms(row.reregister_ms_max)} | {ms(row.call_back_ms_median)} "
            f"| {share(row.ended_cleanly, row.ended)} | {share(row.far_side_bye, row.far_side_bye_runs)} "
            f"| {row.note} |"
        )
    return "\n".join(lines) + "\n"


def rows_json(rows: Iterable[ScenarioRow]) -> list[dict[str, Any]]:
    """The rows as JSON-ready dicts."""
    return [asdict(row) for row in rows]


# ------------------------------------------------------------------------------------------ helpers


class SandboxRest:
    """The sandbox's REST and control endpoints, as the tests use them."""

    def __init__(self, sandbox: RestartableSandbox) -> None:
        self.sandbox = sandbox

    def request(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """Send a JSON request (with the API key) and decode the JSON answer."""
        request = urllib.request.Request(
            self.sandbox.url + path,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={"Content-Type": "application/json", "X-User-API-Key": self.sandbox.info["api_key"]},
        )
        with urllib.request.urlopen(request, timeout=15) as response:
            return json.load(response)

    def mint(self, user_uuid: str = ALICE_UUID, ttl: int | None = None) -> str:
        """A fresh access token."""
        body: dict[str, Any] = {"user_uuid": user_uuid}
        if ttl is not None:
            body["ttl"] = ttl
        return str(self.request("POST", "/sdk/voip/access-token", body)["token"])

    def events(self, kind: str | None = None, call_id: str | None = None) -> list[dict[str, Any]]:
        """The sandbox's event log (optionally one kind / one call)."""
        query = "&".join(f"{k}={v}" for k, v in (("kind", kind), ("call_id", call_id)) if v)
        result = self.request("GET", "/sandbox/events?" + query)
        events: list[dict[str, Any]] = result["events"]
        return events

    def drop(self, user: str = "alice") -> int:
        """Reset the user's SIP WebSocket(s)."""
        return int(self.request("POST", "/sandbox/drop", {"user": user})["dropped"])

    def hang_up(self, call_id: str) -> None:
        """The sandbox side hangs up the call."""
        self.request("DELETE", f"/sandbox/calls/{call_id}")


class StackLike(Protocol):
    """What the Kamailio scenarios need of ``interop.stack.InteropStack``."""

    kamailio: Any
    rtpengine: Any

    def credentials(self, user: str) -> dict[str, Any]:
        """Credentials for a Kamailio user."""

    def callee_uri(self, name: str) -> str:
        """``sip:<callee>@<domain>``."""


def _call_up(probe: Probe, device: str, target: str) -> str:
    call = str(probe.device(device, "connect", target)["call"])
    probe.wait(call, "accepted", timeout=20)
    probe.wait_audio(call, timeout=10)
    return call


def _survives(probe: Probe, call: str, since: int, reachable: float, outcome: RunOutcome) -> None:
    """Wait for the call's ``reconnected`` and for audio; fill ``outcome`` (survived, call_back_ms)."""
    try:
        event = probe.wait(call, "reconnected", since=since, timeout=30, names=["reconnected", "disconnect"])
    except ProbeError as error:
        outcome.detail = f"no reconnected/disconnect: {error}"
        return
    if event["name"] != "reconnected":
        outcome.end_reason = str(event["args"][0].get("reason")) if event["args"] else None
        outcome.detail = f"the call ended: {event['args']}"
        return
    outcome.call_back_ms = (float(event["t"]) - reachable) * 1000
    try:
        probe.wait_audio(call, timeout=10)
    except ProbeError as error:
        outcome.detail = f"no audio after reconnecting: {error}"
        return
    errors = [e for e in probe.events(since, call) if e["name"] == "error"]
    outcome.survived = probe.call(call, "status") == "accepted"
    if errors:
        outcome.detail = f"error events on the call: {[e['args'] for e in errors]}"


def _registered_after(probe: Probe, device: str, since: int, reachable: float, timeout: float = 30) -> float:
    event = probe.wait(device, "registered", since=since, timeout=timeout)
    return (float(event["t"]) - reachable) * 1000


def _hang_up_locally(probe: Probe, call: str) -> None:
    if probe.call(call, "status") not in ("disconnected", "failed"):
        probe.call(call, "disconnect")


# ------------------------------------------------------------------------------------------ scenarios


def run_ws_drop(probe: Probe, sandbox: RestartableSandbox, runs: int) -> list[RunOutcome]:
    """``ws-drop``: see the module docstring."""
    rest = SandboxRest(sandbox)
    device = probe.new_device(rest.mint(), api_base_url=sandbox.url)
    probe.device(device, "register")
    outcomes = []
    try:
        for run in range(1, runs + 1):
            outcome = RunOutcome("ws-drop", run, survived=False, reregister_ms=None)
            outcomes.append(outcome)
            call = _call_up(probe, device, ECHO_NUMBER)
            call_id = str(probe.call(call, "sip_call_id"))
            since = probe.seq()
            if rest.drop() != 1:
                outcome.detail = "the sandbox had no connection to drop"
                continue
            cut = time.time()
            outcome.reregister_ms = _registered_after(probe, device, since, cut)
            _survives(probe, call, since, cut, outcome)
            if outcome.survived:
                mark = probe.seq()
                rest.hang_up(call_id)
                ended = probe.wait(call, "disconnect", since=mark, timeout=15)
                outcome.far_side_bye = ended["args"][0].get("reason") == "remote"
            else:
                _hang_up_locally(probe, call)
    finally:
        probe.device(device, "destroy")
    return outcomes


def run_network_loss(
    probe: Probe, context: BrowserContext, sandbox: RestartableSandbox, runs: int, offline_s: float = 2.0
) -> list[RunOutcome]:
    """``network-loss``: see the module docstring."""
    rest = SandboxRest(sandbox)
    device = probe.new_device(
        rest.mint(), api_base_url=sandbox.url, reconnect_min_ms=20_000, reconnect_max_ms=30_000
    )
    probe.device(device, "register")
    outcomes = []
    try:
        for run in range(1, runs + 1):
            outcome = RunOutcome("network-loss", run, survived=False, reregister_ms=None)
            outcomes.append(outcome)
            call = _call_up(probe, device, ECHO_NUMBER)
            since = probe.seq()
            context.set_offline(True)
            try:
                rest.drop()
                probe.wait(device, "reconnecting", since=since, timeout=10)
                time.sleep(offline_s)
            finally:
                back = time.time()
                context.set_offline(False)
            outcome.reregister_ms = _registered_after(probe, device, since, back)
            _survives(probe, call, since, back, outcome)
            _hang_up_locally(probe, call)
    finally:
        context.set_offline(False)
        probe.device(device, "destroy")
    return outcomes


def run_sandbox_restart(probe: Probe, sandbox: RestartableSandbox, runs: int) -> list[RunOutcome]:
    """``sandbox-restart``: see the module docstring. A run counts as clean when the call ends
    ``dialog-lost`` (481) without any ``error`` event and releases its media."""
    rest = SandboxRest(sandbox)
    device = probe.new_device(
        rest.mint(), api_base_url=sandbox.url, reconnect_max_delay_ms=RESTART_BACKOFF_CAP_MS
    )
    probe.device(device, "register")
    outcomes = []
    try:
        for run in range(1, runs + 1):
            outcome = RunOutcome("sandbox-restart", run, survived=False, reregister_ms=None)
            outcomes.append(outcome)
            call = _call_up(probe, device, ECHO_NUMBER)
            since = probe.seq()
            sandbox.kill()
            time.sleep(DOWN_FOR)
            reachable = sandbox.start()
            outcome.reregister_ms = _registered_after(probe, device, since, reachable)
            try:
                event = probe.wait(
                    call, "disconnect", since=since, timeout=30, names=["disconnect", "reconnected"]
                )
            except ProbeError as error:
                outcome.detail = f"the call neither ended nor came back: {error}"
                _hang_up_locally(probe, call)
                continue
            if event["name"] == "reconnected":
                outcome.detail = "the call claims to be back although the sandbox lost it"
                _hang_up_locally(probe, call)
                continue
            payload = event["args"][0]
            outcome.end_reason = payload.get("reason")
            outcome.status_code = payload.get("status_code")
            errors = [e for e in probe.events(since, call) if e["name"] == "error"]
            memory = probe.memory(collect=False)
            outcome.ended_cleanly = (
                outcome.end_reason == "dialog-lost" and not errors and memory.get("live_tracks", 0) == 0
            )
            if not outcome.ended_cleanly:
                outcome.detail = f"ended {payload}, errors {[e['args'] for e in errors]}, {memory}"
    finally:
        probe.device(device, "destroy")
    return outcomes


def run_kamailio_restart(probe: Probe, stack: StackLike, runs: int, user: str = "1001") -> list[RunOutcome]:
    """``kamailio-restart``: see the module docstring."""
    device = probe.new_device(
        "kamailio-has-no-token",
        credentials=stack.credentials(user),
        reconnect_max_delay_ms=RESTART_BACKOFF_CAP_MS,
    )
    probe.device(device, "register")
    outcomes = []
    try:
        for run in range(1, runs + 1):
            outcome = RunOutcome("kamailio-restart", run, survived=False, reregister_ms=None)
            outcomes.append(outcome)
            call = _call_up(probe, device, stack.callee_uri("echo"))
            since = probe.seq()
            kamailio = stack.kamailio
            kamailio.process.stop(sig=signal.SIGKILL)
            time.sleep(DOWN_FOR)
            watcher = PortWatcher(kamailio.ws_port)
            kamailio.start()
            reachable = watcher.wait(15)
            outcome.reregister_ms = _registered_after(probe, device, since, reachable)
            _survives(probe, call, since, reachable, outcome)
            _hang_up_locally(probe, call)
    finally:
        probe.device(device, "destroy")
    return outcomes


def run_rtpengine_restart(probe: Probe, stack: StackLike, runs: int, user: str = "1002") -> list[RunOutcome]:
    """``rtpengine-restart``: see the module docstring (``reregister_ms`` stays None)."""
    device = probe.new_device("kamailio-has-no-token", credentials=stack.credentials(user))
    probe.device(device, "register")
    outcomes = []
    try:
        for run in range(1, runs + 1):
            outcome = RunOutcome("rtpengine-restart", run, survived=False, reregister_ms=None)
            outcomes.append(outcome)
            call = _call_up(probe, device, stack.callee_uri("echo"))
            since = probe.seq()
            stack.rtpengine.process.stop(sig=signal.SIGKILL)
            stack.rtpengine.start()
            restarted = time.time()
            _survives(probe, call, since, restarted, outcome)
            names = probe.names(call, since)
            if outcome.survived and "reconnecting" not in names:
                outcome.survived = False
                outcome.detail = f"audio flowed without an ICE restart? events {names}"
            _hang_up_locally(probe, call)
    finally:
        probe.device(device, "destroy")
    return outcomes


RUNNERS: dict[str, Callable[..., list[RunOutcome]]] = {
    "ws-drop": run_ws_drop,
    "network-loss": run_network_loss,
    "sandbox-restart": run_sandbox_restart,
    "kamailio-restart": run_kamailio_restart,
    "rtpengine-restart": run_rtpengine_restart,
}
