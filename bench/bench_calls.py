"""Call benchmark: ``connect()`` → ``accepted``, call set-up with a dead STUN server, memory after 100 calls.

Our SDK (bench/pages/ours.html) and JsSIP (bench/pages/jssip.html) run in the same Chromium, each in its
own page, against the same servers, their calls interleaved round by round (one warm-up call per page
first, not counted: the first call of a page opens the microphone):

- ``connect_to_accepted_ms``, the stacks: the sandbox's echo number +15550100 (our ``device.connect()`` →
  the call's ``accepted`` event; JsSIP ``ua.call()`` → the session's ``accepted`` event), both sending the
  offer on the same early-ICE rule: ours ``ice_gathering="fast"`` (the default), JsSIP the same rule
  through its ``icecandidate`` event's ``ready()`` (bench/pages/jssip.html, ``ice: "early"``);
- ``connect_to_accepted_policy_ms``, the policies: ours (``fast``) against JsSIP as shipped (its offer
  waits for the end of ICE gathering), from the same rounds;
- ``connect_to_accepted_complete_ms``: ours with ``ice_gathering="complete"`` against JsSIP as shipped
  (both wait for the end of gathering), from the same rounds;
- ``connect_to_accepted_kamailio_ms`` / ``..._warm_ms``: Kamailio + rtpengine + the sipp echo callee of
  tests/interop/stack.py (users 1001 and 1002, ``sip:echo@sip.test``), when the interop tools are
  installed: each round a new Device and a new JsSIP UA register and call twice; the first call (nothing
  cached: both INVITEs meet Kamailio's 407) and the second (ours authenticates it preemptively with the
  first call's nonce, JsSIP answers the 407 again); both on the early-ICE rule;
- ``setup_dead_stun_ms``: the sandbox echo call with a STUN server configured that never answers (a UDP
  socket on 127.0.0.1 that swallows every request). JsSIP (as shipped) waits for ICE gathering to end, so
  its calls are placed all at once to keep the bench short;
- memory after ``--calls`` echo calls (connect → accepted → hang up), measured every ten calls:
  ``memory_after_100_calls_bytes`` (ours: the JS heap after a full GC + Pyodide's wasm linear memory;
  JsSIP: its JS heap after a full GC), each part (``heap_after_100_calls_bytes``,
  ``wasm_memory_after_100_calls_bytes``), ``leaked_proxies_after_100_calls`` (the SDK's live JS proxies
  after the calls minus before) and ``memory_growth_per_call_bytes`` (the slope over the second half of
  the calls: flat or not, a row, not an assertion).

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
import time
from collections.abc import Iterator
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Side:
    """One contender of a round: a page and the ``connect_accepted`` arguments of its bench API."""

    name: str
    page: Page
    kwargs: dict[str, Any]


def rounds(sides: list[Side], *, runs: int, loads: list[float]) -> tuple[dict[str, list[dict[str, float]]],
                                                                           dict[str, float]]:
    """One warm-up call per side, then ``runs`` rounds of one call per side, in turn; the calls of each
    side (``ms``: connect → accepted, ``invite_ms``: connect → INVITE sent) and the warm-up times."""
    first = {
        f"{side.name}_first_call":
            common.bench_run(side.page, "connect_accepted", runs=1, **side.kwargs)[0]["ms"]
        for side in sides
    }
    calls: dict[str, list[dict[str, float]]] = {side.name: [] for side in sides}
    for _ in range(runs):
        loads.append(common.load_average())
        for side in sides:
            calls[side.name] += common.bench_run(side.page, "connect_accepted", runs=1, **side.kwargs)
    return calls, first


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
    metric: str, ours: list[dict[str, float]], jssip: list[dict[str, float]], loads: list[float], where: str,
    *, target: bool = True,
) -> dict[str, Any]:
    """A connect → accepted row: ours against JsSIP's median on the same server."""
    met = statistics.median(totals(ours)) <= statistics.median(totals(jssip))
    return common.row(
        metric, "ms", ours=totals(ours), jssip=totals(jssip), loads=loads,
        target="≤ JsSIP's median (same server)" if target else "",
        target_met=met if target else None,
        note=f"{where}; {phases(ours, jssip)}",
    )


def kamailio_first_calls(
    ours: Page, jssip: Page, stack: Any, *, runs: int, loads: list[float]
) -> dict[str, list[list[dict[str, float]]]]:
    """``runs`` rounds: in each, a new Device (1001) and a new JsSIP UA (1002) register to Kamailio and
    place two calls each: the first (nothing cached: the INVITE meets a 407) and the second."""
    out: dict[str, list[list[dict[str, float]]]] = {"ours": [], "jssip": []}
    for run in range(runs):
        loads.append(common.load_average())
        out["ours"].append(common.bench_run(
            ours, "first_and_second_call", key=f"kamailio-{run}", number=KAMAILIO_ECHO,
            credentials=stack.credentials("1001"),
        ))
        out["jssip"].append(common.bench_run(
            jssip, "first_and_second_call", key=f"kamailio-{run}", target=KAMAILIO_ECHO,
            credentials=stack.credentials("1002"), ice="early",
        ))
    return out


MEMORY_BATCH = 10
IDLE_SECONDS = 40.0
FLAT_BYTES_PER_CALL = 2_000


def memory_after_calls(
    context: BrowserContext, ours: Page, jssip: Page, jssip_target: str, calls: int
) -> dict[str, Any]:
    """``calls`` echo calls in each page, in batches of ten, with after each batch the JS heap (after a
    full GC), and for ours the wasm linear memory, the live JS proxies and the objects Python's collector
    tracks."""
    result: dict[str, Any] = {}
    for name, page, kwargs in (
        ("ours", ours, {"number": ECHO_NUMBER}), ("jssip", jssip, {"target": jssip_target})
    ):
        series: list[dict[str, Any]] = []
        done = failures = 0
        seconds = 0.0
        types: dict[str, dict[str, int]] = {}
        while True:
            point: dict[str, Any] = {"calls": done, "js_heap": common.js_heap_used(context, page)}
            if name == "ours":
                point.update(common.bench_run(page, "memory"))
                if done in (0, calls):
                    types["before" if done == 0 else "after"] = common.bench_run(page, "object_types")
            series.append(point)
            if done >= calls:
                break
            batch = min(MEMORY_BATCH, calls - done)
            outcome = common.bench_run(page, "many_calls", key="start", count=batch, settle_ms=300, **kwargs)
            done += batch
            failures += int(outcome["failures"])
            seconds += float(outcome["seconds"])
        result[name] = {"series": series, "failures": failures, "seconds": round(seconds, 1),
                        "finished": time.monotonic()}
        if types:
            result[name]["object_types"] = types
    # Then idle: the transactions of the last calls end with their timers (RFC 3261's 32 s at most).
    time.sleep(max(0.0, IDLE_SECONDS - (time.monotonic() - result["ours"]["finished"])))
    for name, page in (("ours", ours), ("jssip", jssip)):
        idle: dict[str, Any] = {"seconds_idle": round(time.monotonic() - result[name].pop("finished"), 1),
                                "js_heap": common.js_heap_used(context, page)}
        if name == "ours":
            idle.update(common.bench_run(page, "memory"))
            idle_types = common.bench_run(page, "object_types")
            before_types = result[name]["object_types"]["before"]
            idle["object_types_grown"] = {
                kind: idle_types.get(kind, 0) - before_types.get(kind, 0)
                for kind in set(idle_types) | set(before_types)
                if idle_types.get(kind, 0) - before_types.get(kind, 0) >= MEMORY_BATCH
            }
        result[name]["idle"] = idle
    return result


def _total(point: dict[str, Any]) -> float:
    return float(point["js_heap"]) + float(point.get("wasm_bytes", 0))


def slope(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(x, y)`` points (0 with fewer than two distinct x)."""
    xs = [x for x, _ in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(y for _, y in points)
    spread = sum((x - mean_x) ** 2 for x in xs)
    if not spread:
        return 0.0
    return sum((x - mean_x) * (y - mean_y) for x, y in points) / spread


def memory_rows(memory: dict[str, Any], calls: int) -> list[dict[str, Any]]:
    """The memory rows: JS heap + wasm against JsSIP's heap, each part, leaked proxies, growth per call."""
    ours, jssip = memory["ours"]["series"], memory["jssip"]["series"]
    before, after = ours[0], ours[-1]
    loads = [common.load_average()]
    second_half = [point for point in ours if point["calls"] >= calls / 2]
    second_half_jssip = [point for point in jssip if point["calls"] >= calls / 2]
    growth = slope([(point["calls"], _total(point)) for point in second_half])
    growth_jssip = slope([(point["calls"], _total(point)) for point in second_half_jssip])
    growth_heap = slope([(point["calls"], float(point["js_heap"])) for point in second_half])
    growth_objects = slope([(point["calls"], float(point["python_objects"])) for point in second_half])
    wasm_growth = second_half[-1]["wasm_bytes"] - second_half[0]["wasm_bytes"]
    flat = growth <= FLAT_BYTES_PER_CALL and wasm_growth == 0
    leaked = int(after["live_proxies"]) - int(before["live_proxies"])
    idle, idle_jssip = memory["ours"]["idle"], memory["jssip"]["idle"]
    during = (after["python_objects"] - before["python_objects"]) / calls
    after_idle = (
        f"after {idle['seconds_idle']:.0f} s idle: ours {_total(idle) / 1e6:.2f} MB, Python objects "
        f"{idle['python_objects'] - before['python_objects']:+,} against before the calls (types grown by "
        f"{MEMORY_BATCH} or more: {idle['object_types_grown'] or 'none'}), live proxies "
        f"{idle['live_proxies']}; JsSIP {idle_jssip['js_heap'] / 1e6:.2f} MB"
    )
    failed = f"{memory['ours']['failures']} failed calls (JsSIP {memory['jssip']['failures']})"
    return [
        common.row(
            f"memory_after_{calls}_calls_bytes", "bytes", ours=[_total(after)], jssip=[_total(jssip[-1])],
            loads=loads, target="≤ 30 MB", target_met=_total(after) <= 30e6,
            note=(f"what the page holds after {calls} echo calls (connect → accepted → hang up): ours = "
                  f"JS heap after a full GC ({after['js_heap'] / 1e6:.1f} MB) + Pyodide's wasm linear memory "
                  f"({after['wasm_bytes'] / 1e6:.1f} MB), JsSIP = its JS heap after a full GC "
                  f"({jssip[-1]['js_heap'] / 1e6:.1f} MB); before the calls: ours "
                  f"{_total(before) / 1e6:.1f} MB, JsSIP {_total(jssip[0]) / 1e6:.1f} MB; {failed}"),
        ),
        common.row(
            f"heap_after_{calls}_calls_bytes", "bytes", ours=[after["js_heap"]], jssip=[jssip[-1]["js_heap"]],
            loads=loads,
            note=(f"the JS heap alone after a full GC (Chrome DevTools Protocol), after {calls} echo calls: "
                  f"ours {before['js_heap'] / 1e6:.1f} → {after['js_heap'] / 1e6:.1f} MB (Pyodide's JS "
                  f"side), JsSIP {jssip[0]['js_heap'] / 1e6:.1f} → {jssip[-1]['js_heap'] / 1e6:.1f} MB"),
        ),
        common.row(
            f"wasm_memory_after_{calls}_calls_bytes", "bytes", ours=[after["wasm_bytes"]], loads=loads,
            note=(f"Pyodide's wasm linear memory (it only grows): {before['wasm_bytes'] / 1e6:.1f} MB before "
                  f"the calls, {after['wasm_bytes'] / 1e6:.1f} MB after; Python objects tracked "
                  f"by the collector {before['python_objects']:,} → {after['python_objects']:,}; JsSIP has "
                  "none"),
        ),
        common.row(
            f"leaked_proxies_after_{calls}_calls", "proxies", ours=[leaked], loads=loads,
            target="0", target_met=leaked == 0,
            note=(f"the SDK's live JS proxies after the {calls} calls minus before them (the Device stays "
                  f"registered): {before['live_proxies']} → {after['live_proxies']}"),
        ),
        common.row(
            "memory_growth_per_call_bytes", "bytes/call", ours=[round(growth, 1)],
            jssip=[round(growth_jssip, 1)],
            loads=loads,
            target=f"flat: ≤ {FLAT_BYTES_PER_CALL / 1e3:.0f} kB per call, wasm memory not growing",
            target_met=flat,
            note=(f"least-squares slope of the page's memory (as in memory_after_{calls}_calls_bytes, "
                  f"measured every {MEMORY_BATCH} calls) over calls {calls // 2}-{calls}: ours {growth:,.0f} "
                  f"B/call (JS heap {growth_heap:,.0f} B/call, wasm memory {wasm_growth:+,} B over "
                  f"those calls, Python objects {growth_objects:+.1f}/call), JsSIP {growth_jssip:,.0f} "
                  "B/call; a row, not an assertion (the series is in calls.json). During the calls Python "
                  f"holds {during:+.0f} objects more per call (each call's transactions live until their "
                  f"timers end); {after_idle}"),
            extra={"series": {"ours": ours, "jssip": jssip}, "idle": {"ours": idle, "jssip": idle_jssip}},
        ),
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

            # 1. connect() -> accepted, sandbox echo number: ours with the default ICE rule ("fast") and
            # with "complete"; JsSIP with the same early-ICE rule as ours (its icecandidate hook) and as
            # shipped (the offer waits for the end of ICE gathering); one call of each per round.
            common.bench_run(ours, "add_device", key="complete",
                             token=mint_token(served.sandbox.info, "alice"),
                             options={"ice_gathering": "complete"})
            jssip_echo = f"sip:{ECHO_NUMBER}@{domain}"
            loads: list[float] = []
            sandbox, first = rounds([
                Side("ours", ours, {"key": "start", "number": ECHO_NUMBER}),
                Side("ours_complete", ours, {"key": "complete", "number": ECHO_NUMBER}),
                Side("jssip_early", jssip, {"key": "start", "target": jssip_echo, "ice": "early"}),
                Side("jssip", jssip, {"key": "start", "target": jssip_echo}),
            ], runs=args.runs, loads=loads)
            common.bench_run(ours, "destroy", key="complete")
            raw["sandbox"] = {**sandbox, **first}
            rows.append(connect_row(
                "connect_to_accepted_ms", sandbox["ours"], sandbox["jssip_early"], loads,
                f"the stacks: sandbox echo number {ECHO_NUMBER}, both sides sending the offer on the same "
                "early-ICE rule (ours: ice_gathering=\"fast\"; JsSIP: its icecandidate event's ready() on "
                "the same rule), after one warm-up call per page (it opens the fake microphone)",
            ))
            rows.append(connect_row(
                "connect_to_accepted_policy_ms", sandbox["ours"], sandbox["jssip"], loads,
                "the policies, as each stack ships: ours (ice_gathering=\"fast\") against JsSIP as shipped "
                "(the offer waits for the end of ICE gathering, Chromium's ICE-TCP phase included), same "
                "rounds as connect_to_accepted_ms",
                target=False,
            ))
            rows.append(connect_row(
                "connect_to_accepted_complete_ms", sandbox["ours_complete"], sandbox["jssip"], loads,
                "the stacks on JsSIP's policy: ours with ice_gathering=\"complete\" (the offer waits for the "
                "end of ICE gathering) against JsSIP as shipped, same rounds as connect_to_accepted_ms",
                target=False,
            ))
            print("sandbox connect→accepted: " + " | ".join(
                f"{name} {totals(calls)}" for name, calls in sandbox.items()), flush=True)

            # 2. the same against Kamailio: a first call (new Device / UA, nothing cached) and a second one
            if stack is not None:
                loads = []
                kamailio = kamailio_first_calls(ours, jssip, stack, runs=args.runs, loads=loads)
                raw["kamailio"] = kamailio
                where = ("Kamailio + rtpengine + sipp echo (tests/interop/stack.py), ws://, digest MD5, 407 "
                         "on INVITE; each round a new Device and a new JsSIP UA register, then call twice; "
                         "both send the offer on the same early-ICE rule")
                rows.append(connect_row(
                    "connect_to_accepted_kamailio_ms", [pair[0] for pair in kamailio["ours"]],
                    [pair[0] for pair in kamailio["jssip"]], loads,
                    f"{where}; the FIRST call of each (no cached authentication: both INVITEs meet the 407)",
                ))
                rows.append(connect_row(
                    "connect_to_accepted_kamailio_warm_ms", [pair[1] for pair in kamailio["ours"]],
                    [pair[1] for pair in kamailio["jssip"]], loads,
                    f"{where}; the SECOND call of each (ours sends Proxy-Authorization preemptively with the "
                    "nonce of the first call's 407; JsSIP authenticates every INVITE anew)",
                    target=False,
                ))
                print(f"Kamailio first, second call: {kamailio}", flush=True)

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
