"""Call benchmark: ``connect()`` → ``accepted``, call set-up with a dead STUN server, memory after 100 calls.

Our SDK (bench/pages/ours.html) and JsSIP (bench/pages/jssip.html) run in the same Chromium, each in its
own page, against the same servers, their calls interleaved round by round:

- ``connect_to_accepted_ms``: the sandbox's echo number +15550100 (our ``device.connect()`` → the call's
  ``accepted`` event; JsSIP ``ua.call()`` → the session's ``accepted`` event). One warm-up call per page
  first (not counted: the first call of a page opens the microphone);
- ``connect_to_accepted_complete_ms``: the same with ``ice_gathering="complete"`` (our offer waits for the
  end of ICE gathering, like JsSIP's; the default ``fast`` policy does not wait for ICE-TCP candidates);
- ``connect_to_accepted_kamailio_ms``: the same against Kamailio + rtpengine + the sipp echo callee of
  tests/interop/stack.py (users 1001 and 1002, ``sip:echo@sip.test``), when the interop tools are installed;
- ``setup_dead_stun_ms``: the sandbox echo call with a STUN server configured that never answers (a UDP
  socket on 127.0.0.1 that swallows every request). JsSIP waits for ICE gathering to end, so its calls are
  placed all at once to keep the bench short;
- ``heap_after_100_calls_bytes`` / ``wasm_memory_after_100_calls_bytes``: the page's JS heap after a full
  garbage collection (Chrome DevTools Protocol) and, for ours, the wasm linear memory, after ``--calls``
  calls to the echo number (connect → accepted → hang up), with the values before in the JSON.

Run: ``python3 build.py bench calls`` (or ``.venv/bin/python bench/bench_calls.py [--runs N] [--calls N]``).
Writes bench/results/calls.json, then bench/results/latest.{json,md,png} (see _common.py).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import statistics
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from playwright.sync_api import BrowserContext, Page, sync_playwright

from browser.harness import PageGuard, mint_token

ECHO_NUMBER = "+15550100"
KAMAILIO_ECHO = "sip:echo@sip.test"
DEAD_STUN_BUDGET_MS = 2500.0


@contextlib.contextmanager
def dead_stun_server() -> Iterator[int]:
    """A UDP port on 127.0.0.1 that reads every STUN request and never answers; yields the port."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    stop = threading.Event()

    def swallow() -> None:
        while not stop.is_set():
            with contextlib.suppress(OSError):
                sock.recv(2048)

    thread = threading.Thread(target=swallow, name="dead-stun", daemon=True)
    thread.start()
    try:
        yield int(sock.getsockname()[1])
    finally:
        stop.set()
        thread.join(timeout=2)
        sock.close()


@contextlib.contextmanager
def kamailio_stack(workdir: Path) -> Iterator[Any]:
    """tests/interop/stack.py's Kamailio + rtpengine + sipp echo, or None when the tools are missing."""
    from interop.stack import InteropStack, find_missing_binaries

    missing = find_missing_binaries()
    if missing:
        print(f"Kamailio rows skipped: {', '.join(missing)} not installed", flush=True)
        yield None
        return
    stack = InteropStack(workdir)
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()


def open_pages(context: BrowserContext, url: str) -> tuple[Page, Page, dict[str, Any]]:
    """ours.html (alice) and jssip.html (bob), both registered to the sandbox; JsSIP's credentials."""
    ours = context.new_page()
    ours.goto(url + "/bench/pages/ours.html?user=alice&sw=0")
    jssip = context.new_page()
    jssip.goto(url + "/bench/pages/jssip.html?user=bob")
    common.wait_ready(ours, driver=True)
    state = common.wait_ready(jssip)
    return ours, jssip, state["credentials"]


def interleaved(
    ours: Page, jssip: Page, *, ours_key: str, ours_target: str, jssip_key: str, jssip_target: str, runs: int,
    loads: list[float],
) -> tuple[list[dict[str, float]], list[dict[str, float]], dict[str, float]]:
    """One warm-up call each, then ``runs`` rounds of one call each; (ours, jssip, warm-up times).

    Each call: ``ms`` (connect → accepted) and ``invite_ms`` (connect → INVITE sent).
    """
    warm_ours = common.bench_run(ours, "connect_accepted", key=ours_key, number=ours_target, runs=1)[0]
    warm_jssip = common.bench_run(jssip, "connect_accepted", key=jssip_key, target=jssip_target, runs=1)[0]
    ours_times: list[dict[str, float]] = []
    jssip_times: list[dict[str, float]] = []
    for _ in range(runs):
        loads.append(common.load_average())
        ours_times += common.bench_run(ours, "connect_accepted", key=ours_key, number=ours_target, runs=1)
        jssip_times += common.bench_run(jssip, "connect_accepted", key=jssip_key, target=jssip_target, runs=1)
    return ours_times, jssip_times, {"ours_first_call": warm_ours["ms"], "jssip_first_call": warm_jssip["ms"]}


def phases(ours: list[dict[str, float]], jssip: list[dict[str, float]]) -> str:
    """Where the time goes, for a note: before the INVITE (media, offer, ICE gathering), then the rest."""
    def median(calls: list[dict[str, float]], key: str) -> float:
        return statistics.median(call[key] for call in calls)

    return (
        f"connect → INVITE sent {median(ours, 'invite_ms'):.0f} ms (JsSIP {median(jssip, 'invite_ms'):.0f}), "
        f"INVITE → accepted {median(ours, 'ms') - median(ours, 'invite_ms'):.0f} ms "
        f"(JsSIP {median(jssip, 'ms') - median(jssip, 'invite_ms'):.0f})"
    )


def totals(calls: list[dict[str, float]]) -> list[float]:
    """connect → accepted of each call."""
    return [call["ms"] for call in calls]


def connect_row(
    metric: str, ours: list[dict[str, float]], jssip: list[dict[str, float]], loads: list[float], where: str
) -> dict[str, Any]:
    """A connect → accepted row: ours against JsSIP's median on the same server."""
    return common.row(
        metric, "ms", ours=totals(ours), jssip=totals(jssip), loads=loads,
        target="≤ JsSIP's median (same server)",
        target_met=statistics.median(totals(ours)) <= statistics.median(totals(jssip)),
        note=f"{where}; {phases(ours, jssip)}",
    )


def memory_after_calls(
    context: BrowserContext, ours: Page, jssip: Page, jssip_target: str, calls: int
) -> dict[str, Any]:
    """``calls`` echo calls in each page, with the JS heap (after a full GC) before and after."""
    result: dict[str, Any] = {}
    for name, page, kwargs in (
        ("ours", ours, {"number": ECHO_NUMBER}), ("jssip", jssip, {"target": jssip_target})
    ):
        before = common.js_heap_used(context, page)
        outcome = common.bench_run(page, "many_calls", key="start", count=calls, **kwargs)
        after = common.js_heap_used(context, page)
        result[name] = {"js_heap_before": before, "js_heap_after": after, **outcome}
    return result


def memory_rows(memory: dict[str, Any], calls: int) -> list[dict[str, Any]]:
    """The heap and wasm-memory rows."""
    ours, jssip = memory["ours"], memory["jssip"]
    mb = {key: {part: side[part] / 1e6 for part in ("js_heap_before", "js_heap_after")}
          for key, side in memory.items()}
    proxies = f"{ours['before']['live_proxies']} → {ours['after']['live_proxies']}"
    heap_note = (
        f"JS heap in use after a full GC, after {calls} echo calls (connect → accepted → hang up): ours "
        f"{mb['ours']['js_heap_before']:.1f} → {mb['ours']['js_heap_after']:.1f} MB (Pyodide's JS side; "
        f"{ours['failures']} failed calls; live JS proxies {proxies}), JsSIP "
        f"{mb['jssip']['js_heap_before']:.1f} → {mb['jssip']['js_heap_after']:.1f} MB "
        f"({jssip['failures']} failed)"
    )
    wasm_before, wasm_after = ours["before"]["wasm_bytes"], ours["after"]["wasm_bytes"]
    return [
        common.row(f"heap_after_{calls}_calls_bytes", "bytes", ours=[ours["js_heap_after"]],
                   jssip=[jssip["js_heap_after"]], loads=[common.load_average()], note=heap_note),
        common.row(f"wasm_memory_after_{calls}_calls_bytes", "bytes", ours=[wasm_after],
                   loads=[common.load_average()],
                   note=(f"Pyodide's wasm linear memory (it only grows): {wasm_before / 1e6:.1f} MB before "
                         f"the calls, {wasm_after / 1e6:.1f} MB after; JsSIP has none")),
    ]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write bench/results/calls.json and the merged latest files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("TWOCHAT_BENCH_RUNS", "5")))
    parser.add_argument("--calls", type=int, default=100, help="calls before measuring memory")
    parser.add_argument("--skip-kamailio", action="store_true")
    args = parser.parse_args(argv)
    if args.runs < 1 or args.calls < 1:
        parser.error("--runs and --calls must be at least 1")
    rows: list[dict[str, Any]] = []
    raw: dict[str, Any] = {}
    with (
        common.served_site() as served,
        tempfile.TemporaryDirectory(prefix="twochat-bench-interop-") as interop_dir,
        contextlib.nullcontext(None) if args.skip_kamailio else kamailio_stack(Path(interop_dir)) as stack,
        dead_stun_server() as stun_port,
        sync_playwright() as playwright,
    ):
        browser = playwright.chromium.launch(**served.launch_options())
        guard = PageGuard()
        try:
            context = browser.new_context(permissions=["microphone"])
            guard.attach_context(context)
            ours, jssip, credentials = open_pages(context, served.url)
            domain = credentials["sip_uri"].split("@", 1)[1]

            # 1. connect() -> accepted, sandbox echo number
            loads: list[float] = []
            ours_times, jssip_times, first = interleaved(
                ours, jssip, ours_key="start", ours_target=ECHO_NUMBER, jssip_key="start",
                jssip_target=f"sip:{ECHO_NUMBER}@{domain}", runs=args.runs, loads=loads,
            )
            raw["sandbox"] = {"ours": ours_times, "jssip": jssip_times, **first}
            rows.append(connect_row(
                "connect_to_accepted_ms", ours_times, jssip_times, loads,
                f"sandbox echo number {ECHO_NUMBER}, after one warm-up call per page (in calls.json: the "
                "first call of the browser also opens the fake microphone device)",
            ))
            print(f"sandbox connect→accepted: ours {ours_times} | JsSIP {jssip_times}", flush=True)

            # 1b. the same with ice_gathering="complete" (wait for the end of gathering, as JsSIP does)
            common.bench_run(ours, "add_device", key="complete",
                             token=mint_token(served.sandbox.info, "alice"),
                             options={"ice_gathering": "complete"})
            loads = []
            complete_times, complete_jssip, first = interleaved(
                ours, jssip, ours_key="complete", ours_target=ECHO_NUMBER, jssip_key="start",
                jssip_target=f"sip:{ECHO_NUMBER}@{domain}", runs=args.runs, loads=loads,
            )
            common.bench_run(ours, "destroy", key="complete")
            raw["sandbox_complete"] = {"ours": complete_times, "jssip": complete_jssip, **first}
            rows.append(common.row(
                "connect_to_accepted_complete_ms", "ms", ours=totals(complete_times),
                jssip=totals(complete_jssip), loads=loads,
                note=("the sandbox echo call with ice_gathering=\"complete\" (the offer waits for the end "
                      "of ICE gathering, Chromium's ICE-TCP candidates included, as JsSIP's does); "
                      f"{phases(complete_times, complete_jssip)}"),
            ))
            print(f"sandbox (complete) connect→accepted: ours {complete_times} | JsSIP {complete_jssip}",
                  flush=True)

            # 2. the same against Kamailio
            if stack is not None:
                common.bench_run(ours, "add_device", key="kamailio", credentials=stack.credentials("1001"))
                common.bench_run(jssip, "add_ua", key="kamailio", credentials=stack.credentials("1002"))
                loads = []
                ours_times, jssip_times, first = interleaved(
                    ours, jssip, ours_key="kamailio", ours_target=KAMAILIO_ECHO, jssip_key="kamailio",
                    jssip_target=KAMAILIO_ECHO, runs=args.runs, loads=loads,
                )
                raw["kamailio"] = {"ours": ours_times, "jssip": jssip_times, **first}
                rows.append(connect_row(
                    "connect_to_accepted_kamailio_ms", ours_times, jssip_times, loads,
                    "Kamailio + rtpengine + sipp echo (tests/interop/stack.py), ws://, digest MD5, 407 on "
                    "INVITE, after one warm-up call per page",
                ))
                common.bench_run(ours, "destroy", key="kamailio")
                common.bench_run(jssip, "close", key="kamailio")
                print(f"Kamailio connect→accepted: ours {ours_times} | JsSIP {jssip_times}", flush=True)

            # 3. call set-up with a STUN server that never answers
            stun = [{"urls": f"stun:127.0.0.1:{stun_port}"}]
            common.bench_run(ours, "add_device", key="stun", token=mint_token(served.sandbox.info, "alice"),
                             options={"ice_servers": stun})
            loads = [common.load_average()]
            ours_stun = common.bench_run(
                ours, "connect_accepted", key="stun", number=ECHO_NUMBER, runs=args.runs
            )
            loads.append(common.load_average())
            jssip_stun = common.bench_run(
                jssip, "connect_accepted_parallel", key="start", target=f"sip:{ECHO_NUMBER}@{domain}",
                count=args.runs, ice_servers=stun, timeout_ms=90_000,
            )
            common.bench_run(ours, "destroy", key="stun")
            raw["dead_stun"] = {"ours": ours_stun, "jssip": jssip_stun, "stun": stun}
            jssip_done = [value for value in jssip_stun if value is not None]
            rows.append(common.row(
                "setup_dead_stun_ms", "ms", ours=totals(ours_stun), jssip=totals(jssip_done), loads=loads,
                target=f"≤ {DEAD_STUN_BUDGET_MS:.0f} ms",
                target_met=statistics.median(totals(ours_stun)) <= DEAD_STUN_BUDGET_MS,
                note=("connect() → accepted with a STUN server that never answers: we send the offer after "
                      "the ICE gathering timeout (ice_gathering_timeout_ms, 2 s by default); JsSIP waits for "
                      f"gathering to end ({len(jssip_stun) - len(jssip_done)} of its calls timed out)"),
            ))
            print(f"dead STUN: ours {ours_stun} | JsSIP {jssip_stun}", flush=True)

            # 4. memory after N calls
            jssip_echo = f"sip:{ECHO_NUMBER}@{domain}"
            raw["memory"] = memory_after_calls(context, ours, jssip, jssip_echo, args.calls)
            rows += memory_rows(raw["memory"], args.calls)
            print(f"memory: {raw['memory']}", flush=True)
            env = common.environment(served, browser.version)
        finally:
            browser.close()
    if guard.problems():
        print("the pages misbehaved: " + guard.report(guard.problems()), file=sys.stderr)
        return 1
    common.write_results("calls", rows, env, raw)
    common.write_latest()
    print(common.markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
