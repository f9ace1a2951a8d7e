"""Start-up benchmark: time to Python ready and bytes transferred, cold and warm, median of N runs.

Each run uses a fresh on-disk Chromium profile (so the disk HTTP cache and the V8/wasm code cache are
real): the first load is *cold*; then Chromium is closed and started again on the same profile and
the page loaded again: *warm*. Measured in the page, from navigation start (``performance.now()``):

- ``python_ready_ms``: PyScript's ``py:ready`` (Pyodide up, wheels unpacked) - the "Starting Python" end;
- ``sdk_ready_ms``: the page's Python imported the SDK and announced readiness (``window.twochat``);
- ``bytes_transferred``: Resource Timing ``transferSize`` of the document and every resource (headers
  included, 0 for cache hits), i.e. what crossed the wire;
- ``requests`` and ``from_cache``: how many resources, and how many came from the cache.

JsSIP (the JS SDK's stack, npm jssip bundled by build.py) is measured the same way as a baseline.
Everything is served by the sandbox on 127.0.0.1; any request leaving loopback aborts the benchmark.

Run: ``python3 build.py bench startup`` (or ``.venv/bin/python bench/bench_startup.py [--runs N]``).
Writes bench/results/startup.json and bench/results/startup.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT / "tests"))

from playwright.sync_api import Page, Playwright, sync_playwright  # noqa: E402

from browser.chromium import find_chromium, launch_options  # noqa: E402
from browser.harness import PageGuard, load_build_module, start_sandbox, wait_for_sdk_ready  # noqa: E402

PAGES = {
    "pyscript-demo": "/index.html",
    "jssip-baseline": "/test/pages/jssip-startup.html",
}
METRICS = ("python_ready_ms", "sdk_ready_ms", "wall_ms", "bytes_transferred", "requests", "from_cache")

MEASURE_JS = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const state = window.twochat;
  return {
    python_ready_ms: state.steps.python ? state.steps.python.end : null,
    sdk_ready_ms: state.steps.ready.end,
    bytes_transferred: navigation.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
    requests: resources.length + 1,
    from_cache: resources.filter((r) => r.transferSize === 0 && r.decodedBodySize > 0).length,
    sdk: state.sdk,
    python: state.python,
  };
}"""


def load_once(playwright: Playwright, options: dict[str, Any], profile: Path, url: str) -> dict[str, Any]:
    """Start Chromium on ``profile``, load ``url`` until ready, measure, close."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), **options, permissions=["microphone"], ignore_https_errors=True
    )
    guard = PageGuard()
    guard.attach_context(context)
    try:
        page: Page = context.pages[0] if context.pages else context.new_page()
        guard.attach_page(page)
        started = time.perf_counter()
        page.goto(url)
        wait_for_sdk_ready(page, timeout_ms=180_000)
        wall_ms = (time.perf_counter() - started) * 1000
        sample: dict[str, Any] = page.evaluate(MEASURE_JS)
        sample["wall_ms"] = round(wall_ms)
    finally:
        context.close()
    if guard.problems():
        raise RuntimeError("the page misbehaved: " + guard.report(guard.problems()))
    return sample


def summarise(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Median, min and max of every metric over the runs."""
    summary: dict[str, Any] = {}
    for metric in METRICS:
        values = [sample[metric] for sample in samples if sample.get(metric) is not None]
        if values:
            summary[metric] = {
                "median": statistics.median(values), "min": min(values), "max": max(values), "n": len(values),
            }
    return summary


def chromium_version(playwright: Playwright, options: dict[str, Any]) -> str:
    """The browser's version string."""
    browser = playwright.chromium.launch(**options)
    try:
        return browser.version
    finally:
        browser.close()


def git_commit() -> str:
    """The commit measured (with ``+dirty`` when the tree has changes)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown table (bench/results/startup.md)."""
    env = result["environment"]
    lines = [
        "# Start-up: time to ready and bytes transferred",
        "",
        f"{result['runs']} runs per cell, median (min-max). Fresh on-disk profile per run; *warm* = Chromium",
        "restarted on the same profile. Times from navigation start; bytes = Resource Timing transferSize",
        "(headers included, 0 for cache hits). Served by the sandbox on 127.0.0.1 (gzip twins for the",
        "vendored runtime).",
        "",
        f"Chromium {env['chromium']}, Pyodide {env['pyodide']}, PyScript {env['pyscript']}, "
        f"twochat_voice_web {env['sdk']}, {env['cpus']} CPUs (load {env['load_average']}), "
        f"commit {env['commit']}, {result['measured_at']}.",
        "",
        "| page | cache | Python ready (ms) | SDK ready (ms) | wall (ms) | bytes transferred | requests "
        "(from cache) |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]

    def cell(summary: dict[str, Any], metric: str, *, thousands: bool = False) -> str:
        if metric not in summary:
            return "n/a"
        values = summary[metric]
        form = "{:,.0f}" if thousands else "{:.0f}"
        median = form.format(values["median"])
        low, high = form.format(values["min"]), form.format(values["max"])
        return f"{median} ({low}-{high})"

    for name, page in result["pages"].items():
        for cache in ("cold", "warm"):
            summary = page[cache]["summary"]
            requests = f"{summary['requests']['median']:.0f} ({summary['from_cache']['median']:.0f})"
            cells = [
                name, cache, cell(summary, "python_ready_ms"), cell(summary, "sdk_ready_ms"),
                cell(summary, "wall_ms"), cell(summary, "bytes_transferred", thousands=True), requests,
            ]
            lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Raw samples: startup.json.", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write bench/results/startup.{json,md}."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("TWOCHAT_BENCH_RUNS", "5")))
    parser.add_argument("--pages", nargs="*", default=list(PAGES), choices=list(PAGES))
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    executable = find_chromium()
    if executable is None:
        print("no Chromium found (python3 build.py bench installs it)", file=sys.stderr)
        return 1
    build = load_build_module()
    build.build_site()
    build.stage_test_assets()
    build_info = json.loads((Path(build.SITE) / "build-info.json").read_text())
    scratch = Path(tempfile.mkdtemp(prefix="twochat-bench-"))
    sandbox = start_sandbox(
        site=Path(build.SITE), run_dir=scratch / "sandbox", mounts={"/test": Path(build.TEST_ASSETS)}
    )
    options = launch_options(executable)
    pages: dict[str, Any] = {}
    try:
        with sync_playwright() as playwright:
            chromium = chromium_version(playwright, options)
            for name in args.pages:
                url = sandbox.info.url + PAGES[name]
                cold: list[dict[str, Any]] = []
                warm: list[dict[str, Any]] = []
                for run in range(args.runs):
                    profile = scratch / f"profile-{name}-{run}"
                    cold.append(load_once(playwright, options, profile, url))
                    warm.append(load_once(playwright, options, profile, url))
                    shutil.rmtree(profile, ignore_errors=True)
                    print(
                        f"{name} run {run + 1}/{args.runs}: cold sdk ready {cold[-1]['sdk_ready_ms']} ms "
                        f"{cold[-1]['bytes_transferred']:,} B | warm {warm[-1]['sdk_ready_ms']} ms "
                        f"{warm[-1]['bytes_transferred']:,} B",
                        flush=True,
                    )
                pages[name] = {
                    "url_path": PAGES[name],
                    "cold": {"summary": summarise(cold), "samples": cold},
                    "warm": {"summary": summarise(warm), "samples": warm},
                }
    finally:
        sandbox.stop()
        shutil.rmtree(scratch, ignore_errors=True)
    result = {
        "benchmark": "startup",
        "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "runs": args.runs,
        "environment": {
            "chromium": chromium,
            "pyodide": build_info["pyodide_version"],
            "pyscript": build_info["pyscript_version"],
            "sdk": build_info["sdk_version"],
            "python_host": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": " ".join(f"{value:.1f}" for value in os.getloadavg()),
            "commit": git_commit(),
        },
        "pages": pages,
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "startup.json").write_text(json.dumps(result, indent=2) + "\n")
    (RESULTS / "startup.md").write_text(markdown(result))
    print((RESULTS / "startup.md").read_text())
    return 0


if __name__ == "__main__":
    sys.exit(main())
