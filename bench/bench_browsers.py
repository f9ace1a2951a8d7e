"""Start-up in Firefox beside Chromium: navigation → ``registered``, cold and warm, ours beside JsSIP.

The real-browser tier's set-up (tests/realbrowser): a network namespace of this run's own, the sandbox in
it, and each browser launched in it by puppeteer-core (driver.mjs) the way people run it: Firefox ESR
(WebDriver BiDi, its defaults) and Chromium (no test flag but the fake microphone). Both pages of
bench_startup.py are loaded in both engines, one after the other in every round, served the same way:

- ``ours`` (bench/pages/ours.html): the SDK's fast start, then ``Device(token).register()``;
- ``jssip`` (bench/pages/jssip.html): JsSIP registering with the same token to the same sandbox.

A round uses a fresh profile directory per engine and page: the first load is *cold*; then the browser
is closed and started again on the same profile: *warm* (HTTP cache, code caches, Cache Storage, the
service worker). Before closing a cold visit of ``ours``, the bench waits until the snapshot is stored
and the service worker is active, as bench_startup.py does. Ready is the page's own mark
(``window.benchState.marks.ready``, ms after navigation start).

Rows: ``time_to_ready_firefox_{cold,warm}_ms`` and ``time_to_ready_chromium_puppeteer_{cold,warm}_ms``
(ours against JsSIP in the same engine and run). bench_startup.py keeps the Playwright Chromium rows.

Run: ``python3 build.py bench browsers`` (root: it makes a network namespace).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from bench_startup import (
    CLASSIC_FACADE,
    PATH_NOTES,
    PATH_TARGET,
    PYSCRIPT_DRIVER_JS,
    VISIT_SETTLED_JS,
)

from browser.harness import load_build_module, start_sandbox
from realbrowser.browser_driver import DRIVER_SCRIPT, BrowserDriver
from realbrowser.conftest import engine_executable
from realbrowser.netns import NetworkNamespace, namespaces_supported

PAGES = {
    "ours": "/bench/pages/ours.html?driver=0",
    "jssip": "/bench/pages/jssip.html",
    "pyscript": "/index.html?user=alice",
    "facade_esm": "/bench/pages/facade_esm.html",
    "facade_classic": "/bench/pages/facade_classic.html",
}
ENGINES = ("firefox", "chromium")
# The user paths (bench_startup.py's, with its sign-in driver for the PyScript page) are measured in Firefox:
# bench_startup.py measures them in Chromium.
PATH_ENGINES = ("firefox",)
METRIC = {"firefox": "time_to_ready_firefox", "chromium": "time_to_ready_chromium_puppeteer"}
READY = "(() => { const s = window.benchState; return !!(s && (s.ready || s.error)); })()"


def visit(driver: BrowserDriver, engine: str, url: str, page: str, profile: Path, *, cold: bool) -> float:
    """Launch ``engine`` on ``profile``, load ``page`` until ready; its ready mark in ms."""
    executable = engine_executable(engine)
    assert executable is not None, f"{engine} is not installed"
    driver.launch(engine, executable, profile)
    try:
        tab = int(driver.request("open", url=url + PAGES[page], timeout=240.0)["page"])
        if page == "pyscript":
            # driver.mjs has no init script: the sign-in driver starts after "load", long before Python
            # enables the button (and clicks at once if it is already enabled)
            driver.request("evaluate", page=tab, expression=PYSCRIPT_DRIVER_JS.rstrip().removesuffix(";"))
        driver.request("wait", page=tab, expression=READY, timeout_ms=180_000, timeout=240.0)
        state: dict[str, Any] = driver.request(
            "evaluate", page=tab, expression="JSON.parse(JSON.stringify(window.benchState))"
        )
        if state.get("error"):
            raise RuntimeError(f"{engine} {page}: {state['error']}")
        if cold and state.get("snapshot") == "made":
            driver.request(
                "wait", page=tab, expression="window.benchState.snapshotSaved === true", timeout_ms=60_000
            )
        if cold and page == "ours":
            driver.request("evaluate", page=tab, expression="navigator.serviceWorker.ready.then(() => true)")
        elif cold:
            driver.request("evaluate", page=tab, expression=f"({VISIT_SETTLED_JS})()")
        report = driver.guard(tab)
        if report["page_errors"] or report["foreign_requests"]:
            raise RuntimeError(f"{engine} {page} misbehaved: {report}")
        return float(state["marks"]["ready"])
    finally:
        driver.quit_browser()


Samples = dict[str, dict[str, dict[str, list[float]]]]
"""engine -> page -> phase -> ready marks (ms)."""


def rows_from(samples: Samples, loads: list[float]) -> list[dict[str, Any]]:
    """One row per engine and phase: ours against JsSIP."""
    rows: list[dict[str, Any]] = []
    for engine in ENGINES:
        for path in (page for page in samples[engine] if page not in ("ours", "jssip")):
            for phase in ("cold", "warm"):
                measured, fast = samples[engine][path][phase], samples[engine]["ours"][phase]
                jssip = samples[engine]["jssip"][phase]
                to_fast = statistics.median(measured) / statistics.median(fast)
                rows.append(common.row(
                    f"{METRIC[engine]}_{path}_{phase}_ms", "ms", ours=measured, jssip=jssip, loads=loads,
                    target=f"≤ {PATH_TARGET:.2f}x the fast start", target_met=to_fast <= PATH_TARGET,
                    note=(f"{engine} as people run it: {PATH_NOTES[path]} ({PAGES[path]}), navigation → "
                          f"registered, {phase}; {to_fast:.2f}x the fast start, "
                          f"{statistics.median(measured) / statistics.median(jssip):.2f}x JsSIP, same run"),
                    extra={"ratio_to_fast_start": round(to_fast, 3)},
                ))
        for phase in ("cold", "warm"):
            ours, jssip = samples[engine]["ours"][phase], samples[engine]["jssip"][phase]
            ratio = statistics.median(ours) / statistics.median(jssip)
            rows.append(common.row(
                f"{METRIC[engine]}_{phase}_ms", "ms", ours=ours, jssip=jssip, loads=loads,
                note=(f"{engine} launched as people run it (puppeteer-core, in a network namespace): "
                      f"navigation → registered, {phase} ("
                      + ("fresh profile" if phase == "cold" else "restarted on the same profile")
                      + f"); ours / JsSIP = {ratio:.2f}x in the same run"),
            ))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write bench/results/browsers.json and the merged latest files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("TWOCHAT_BENCH_RUNS", "5")))
    args = parser.parse_args(argv)
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    reason = namespaces_supported()
    if reason is not None:
        raise SystemExit(reason)
    build = load_build_module()
    build.build_site()
    build.stage_test_assets()
    common.jssip_bench_bundle()
    paths = [path for path in ("pyscript", "facade_esm", "facade_classic")
             if path != "facade_classic" or (Path(build.SITE) / CLASSIC_FACADE).is_file()]
    pages_of = {engine: ["ours", "jssip", *(paths if engine in PATH_ENGINES else [])] for engine in ENGINES}
    samples: Samples = {
        engine: {page: {"cold": [], "warm": []} for page in pages_of[engine]} for engine in ENGINES
    }
    loads: list[float] = []
    versions: dict[str, str] = {}
    namespace = NetworkNamespace.create(f"twochat-bench-{os.getpid()}")
    scratch = Path(tempfile.mkdtemp(prefix="twochat-bench-browsers-"))
    try:
        sandbox = start_sandbox(
            site=Path(build.SITE),
            run_dir=scratch / "sandbox",
            mounts={"/bench": common.ROOT / "bench", "/bench-dist": common.BENCH_DIST},
            prefix=namespace.command([]),
        )
        driver = BrowserDriver(
            namespace.command(["node", str(DRIVER_SCRIPT)]), cwd=common.ROOT, log_path=scratch / "driver.log"
        )
        try:
            url = str(sandbox.info.url)
            for run in range(args.runs):
                for engine in ENGINES:
                    for page in pages_of[engine]:
                        profile = scratch / f"profile-{engine}-{page}-{run}"
                        profile.mkdir()
                        loads.append(common.load_average())
                        cold = visit(driver, engine, url, page, profile, cold=True)
                        warm = visit(driver, engine, url, page, profile, cold=False)
                        versions[engine] = driver.version
                        shutil.rmtree(profile, ignore_errors=True)
                        samples[engine][page]["cold"].append(cold)
                        samples[engine][page]["warm"].append(warm)
                        print(f"run {run + 1}/{args.runs} {engine:>8} {page:>14}: cold {cold:>6.0f} ms | "
                              f"warm {warm:>6.0f} ms | load {loads[-1]}", flush=True)
        finally:
            driver.close()
            sandbox.stop()
    finally:
        namespace.remove()
        shutil.rmtree(scratch, ignore_errors=True)
    info = json.loads((Path(build.SITE) / "build-info.json").read_text())
    env = {**common.environment(None, versions.get("chromium")), "browsers": versions}
    env.update(pyodide=info.get("pyodide_version"), sdk=info.get("sdk_version"))
    rows = rows_from(samples, loads)
    common.write_results("browsers", rows, env, samples)
    common.write_latest()
    print(common.markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
