"""Reliability benchmark: calls that survive the network, servers that die and come back (issue 7).

Our SDK in Chromium (Pyodide, real WebRTC) places calls and, while each call is up, the benchmark breaks
something: it resets the SIP WebSocket, takes the browser offline, SIGKILLs the sandbox and starts it
again on the same port, SIGKILLs Kamailio (proxy + registrar in front of a sipp echo, media through
rtpengine) and starts it again, or restarts rtpengine (media only). Each scenario runs ``--runs`` times
(default 20, or ``TWOCHAT_RELIABILITY_RUNS``); the scenarios themselves live in
tests/reliability/scenarios.py, which the test suite runs 3 times each.

For every scenario the table gives: how many calls survived (the call got ``reconnected`` and audio flows
again), the median and worst re-registration time (server reachable again -> the SDK's ``registered``),
the median time until the call was back (its ICE-restart re-INVITE answered), how many calls that could
not survive ended cleanly (``dialog-lost``, no error, media released), and how many far-side BYEs sent after
the reconnect reached the SDK. Goal: every survivable call survives; re-registration within 1 s.

Run: ``python3 build.py bench reliability`` (or ``.venv/bin/python bench/bench_reliability.py [--runs N]
[--only ws-drop,kamailio-restart]``). Writes bench/results/reliability.json and reliability.md. Exit 1
when a scenario misbehaved (a survivable call lost, a lost call not ended cleanly), 0 otherwise.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import sync_playwright  # noqa: E402

from browser.chromium import find_chromium, launch_options  # noqa: E402
from browser.harness import PageGuard, load_build_module  # noqa: E402
from reliability.driver import PAGE_INSTRUMENTATION, Probe  # noqa: E402
from reliability.restartable_sandbox import RestartableSandbox  # noqa: E402
from reliability.scenarios import (  # noqa: E402
    NOTES,
    SCENARIOS,
    RunOutcome,
    ScenarioRow,
    markdown_table,
    rows_json,
    run_kamailio_restart,
    run_network_loss,
    run_rtpengine_restart,
    run_sandbox_restart,
    run_ws_drop,
    summarize,
)

SURVIVABLE = {"ws-drop", "network-loss", "kamailio-restart", "rtpengine-restart"}


def _environment() -> dict[str, Any]:
    from twochat_voice_web import __version__

    return {
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "sdk": __version__,
        "python": platform.python_version(),
        "chromium": "?",
        "cpus": os.cpu_count(),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def _misbehaved(row: ScenarioRow) -> bool:
    if row.runs == 0:
        return False
    if row.scenario in SURVIVABLE:
        return row.survived < row.runs
    return row.ended_cleanly < row.runs


def run(
    runs: int, only: set[str], env: dict[str, Any]
) -> tuple[list[ScenarioRow], list[RunOutcome], dict[str, str]]:
    """Run the scenarios; the table rows, every run's outcome, and scenarios skipped (with why).

    ``env`` receives the browser's version.
    """
    build = load_build_module()
    build.build_site()
    build.stage_test_assets()
    skipped: dict[str, str] = {}
    outcomes: dict[str, list[RunOutcome]] = {}
    work = Path(tempfile.mkdtemp(prefix="bench-reliability-"))
    sandbox = RestartableSandbox(
        work / "sandbox",
        ["--site", str(build.SITE), "--mount", f"/test={build.TEST_ASSETS}", "--test-hooks"],
    )
    sandbox.start()
    stack: Any = None
    wanted = [name for name in SCENARIOS if name in only]
    try:
        if {"kamailio-restart", "rtpengine-restart"} & set(wanted):
            from interop.stack import InteropStack, find_missing_binaries

            missing = find_missing_binaries()
            if missing:
                for name in ("kamailio-restart", "rtpengine-restart"):
                    skipped[name] = f"missing {', '.join(missing)}"
            else:
                (work / "interop").mkdir()
                stack = InteropStack(work / "interop")
                stack.start()
        chromium = find_chromium()
        if chromium is None:
            raise SystemExit("no Chromium found (python3 build.py test installs Debian's chromium)")
        with sync_playwright() as playwright:
            options: dict[str, Any] = launch_options(chromium, headless=True)
            browser = playwright.chromium.launch(**options)
            env["chromium"] = f"Chromium {browser.version}"
            context = browser.new_context(permissions=["microphone"], ignore_https_errors=True)
            context.add_init_script(PAGE_INSTRUMENTATION)
            guard = PageGuard()
            guard.attach_context(context)
            probe = Probe.open(context, sandbox.url)
            for name in wanted:
                if name in skipped:
                    continue
                started = time.monotonic()
                print(f"== {name}: {runs} runs", flush=True)
                try:
                    if name == "ws-drop":
                        outcomes[name] = run_ws_drop(probe, sandbox, runs)
                    elif name == "network-loss":
                        outcomes[name] = run_network_loss(probe, context, sandbox, runs)
                    elif name == "sandbox-restart":
                        outcomes[name] = run_sandbox_restart(probe, sandbox, runs)
                    elif name == "kamailio-restart":
                        outcomes[name] = run_kamailio_restart(probe, stack, runs)
                    elif name == "rtpengine-restart":
                        outcomes[name] = run_rtpengine_restart(probe, stack, runs)
                except Exception as exc:  # report what ran; a crashed scenario is a failure of its own
                    traceback.print_exc()
                    skipped[name] = f"crashed: {type(exc).__name__}: {exc}"[:300]
                    probe.destroy_all()
                row = summarize(name, outcomes.get(name, []))
                print(f"   {row.survived}/{row.runs} survived, re-register median {row.reregister_ms_median} "
                      f"ms, {time.monotonic() - started:.0f} s", flush=True)
            problems = guard.problems()
            if problems:
                skipped["page-guard"] = "; ".join(problems)[:500]
            browser.close()
    finally:
        if stack is not None:
            stack.stop()
        sandbox.stop()
    rows = [summarize(name, outcomes[name]) for name in wanted if name in outcomes]
    return rows, [o for name in wanted for o in outcomes.get(name, [])], skipped


def write_report(
    rows: list[ScenarioRow], outcomes: list[RunOutcome], skipped: dict[str, str], env: dict[str, Any],
    runs: int,
) -> None:
    """bench/results/reliability.json and its Markdown twin."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    env = {**env, "loadavg_end": [round(x, 2) for x in os.getloadavg()]}
    document = {
        "benchmark": "reliability",
        "runs_per_scenario": runs,
        "environment": env,
        "rows": rows_json(rows),
        "skipped": skipped,
        "outcomes": [o.__dict__ for o in outcomes],
    }
    (RESULTS / "reliability.json").write_text(json.dumps(document, indent=2) + "\n")
    lines = [
        "# Reliability: calls across network loss and server restarts",
        "",
        f"{runs} runs per scenario, {env['date']}, SDK {env['sdk']}, {env['chromium']}, "
        f"{env['cpus']} CPUs shared (load {env['loadavg_start']} -> {env['loadavg_end']}).",
        "Produced by `python3 build.py bench reliability` (bench/bench_reliability.py; scenarios in "
        "tests/reliability/scenarios.py, which the test suite also runs, 3 times each).",
        "",
        markdown_table(rows),
        "*survived*: the call got `reconnected` and audio flowed again. *re-register*: server reachable "
        "again (port open; for ws-drop the moment of the reset, for network-loss the moment the browser "
        "was back online) -> the SDK's `registered`. *call back*: same start -> the call's `reconnected` "
        "(ICE-restart re-INVITE answered). *ended cleanly*: of the calls that did not survive, those that "
        "ended `dialog-lost` without an error event, microphone released. *far-side BYE*: after the "
        "reconnect the sandbox hung up and the SDK saw `disconnect` reason `remote` (tried in ws-drop; "
        "through Kamailio it is a test: baresip hangs up after a Kamailio restart). n/a: does not apply.",
        "",
        "Goal: every survivable call survives, re-registration within 1 s of the server's return.",
        "",
    ]
    for row in rows:
        if row.failures:
            lines.append(f"- {row.scenario} failures: " + "; ".join(row.failures)[:1000])
    for name, why in skipped.items():
        lines.append(f"- {name} not measured: {why} ({NOTES.get(name, '')})")
    (RESULTS / "reliability.md").write_text("\n".join(lines).rstrip() + "\n")


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when every scenario behaved."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("TWOCHAT_RELIABILITY_RUNS", "20")))
    parser.add_argument("--only", default=",".join(SCENARIOS), help="comma-separated scenario names")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    unknown = only - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenario(s) {sorted(unknown)}; known: {', '.join(SCENARIOS)}")
    env = _environment()
    rows, outcomes, skipped = run(args.runs, only, env)
    write_report(rows, outcomes, skipped, env, args.runs)
    print(markdown_table(rows))
    for name, why in skipped.items():
        print(f"not measured: {name}: {why}")
    bad = [row.scenario for row in rows if _misbehaved(row)] + [n for n, w in skipped.items() if "crash" in w]
    if bad:
        print(f"misbehaved: {', '.join(bad)}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
