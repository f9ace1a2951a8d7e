"""Start-up benchmark: time to ready (navigation → ``registered``) cold and warm, and bytes on a first load.

Pages served by the sandbox on 127.0.0.1 and loaded in the same Chromium run, one after the other in every
round (so that the machine's load hits them alike):

- ``ours`` (bench/pages/ours.html): our SDK's fast start (www/scripts/twochat-start.mjs: the runtime's
  downloads start in <head> in parallel with the token fetch, the trimmed bytecode Python bundle, brotli,
  the memory snapshot and the service worker), then ``Device(token).register()``: ready = ``registered``;
- ``jssip`` (bench/pages/jssip.html): JsSIP with the same token and SIP credentials, registering to the
  same sandbox, its bundle served compressed like ours (brotli/gzip twins): ready = ``registered``;
- ``bare`` (bench/pages/bare.html): stock ``loadPyodide()``, nothing else: ready = Python is up. The floor
  of any Pyodide page, without an SDK or a registration;
- the user paths, each a row ``time_to_ready_<path>_<cold|warm>_ms`` beside JsSIP and as a ratio to the
  fast start: ``pyscript`` (www/index.html, the PyScript demo page: its ``<script type="py">`` tag; an
  init script clicks "Sign in" the moment the page enables it, ready = its state pill says
  ``registered``), ``facade_esm`` (bench/pages/facade_esm.html: docs/js-facade.md's quick start, an ES
  module import of /twochat-voice.js, ``new TwoChatVoice.Device({token}).register()``) and
  ``facade_classic`` (bench/pages/facade_classic.html, the classic ``<script src>`` build, when the site
  has it).

Each round uses a fresh on-disk Chromium profile per page: the first load is *cold* (empty caches); then
Chromium is closed and started again on the same profile and the page loaded again: *warm* (HTTP cache,
V8/wasm code cache, Cache Storage and the service worker of a returning visitor). Before closing the cold
visit of ``ours``, the bench waits until the snapshot is stored and the service worker is active, as it
would be for a visitor who stayed a few seconds.

Other variants for measuring one optimisation at a time (``--pages``): ``ours-no-snapshot``,
``ours-no-sw``, ``ours-plain`` (neither; measured by default) and ``demo`` (the PyScript demo page, ready =
SDK imported).

Run: ``python3 build.py bench startup`` (or ``.venv/bin/python bench/bench_startup.py [--runs N]``).
Writes bench/results/startup.json, then bench/results/latest.{json,md,png} (see _common.py).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common as common
from playwright.sync_api import Playwright, sync_playwright

from browser.harness import PageGuard

PAGES = {
    "ours": "/bench/pages/ours.html?driver=0",
    "jssip": "/bench/pages/jssip.html",
    "bare": "/bench/pages/bare.html",
    "pyscript": "/index.html?user=alice",
    "facade_esm": "/bench/pages/facade_esm.html",
    "facade_classic": "/bench/pages/facade_classic.html",
    "ours-no-snapshot": "/bench/pages/ours.html?driver=0&snapshot=0",
    "ours-no-sw": "/bench/pages/ours.html?driver=0&sw=0",
    "ours-plain": "/bench/pages/ours.html?driver=0&sw=0&snapshot=0",
    "demo": "/index.html",
    "pyscript-tag": "/bench/pages/pyscript.html",
}
DEFAULT_PAGES = ("ours", "jssip", "bare")
# The user paths, each a row beside JsSIP (time_to_ready_<path>_<cold|warm>_ms): the PyScript demo page
# (www/index.html: its <script type="py"> tag, signed in as soon as its button allows), and the JS facade
# (docs/js-facade.md's quick start) as an ES module and, when the site has the classic build, as a classic
# script. The fast start (ours) keeps time_to_ready_cold_ms / time_to_ready_warm_ms.
USER_PATHS = ("pyscript", "facade_esm", "facade_classic")
CLASSIC_FACADE = "twochat-voice.global.js"
# Measured by default too, as a variant row: the fast start without snapshot and service worker.
DEFAULT_VARIANTS = ("ours-plain", "pyscript-tag")
PATH_TARGET = 1.15
VARIANT_NOTES = {
    "ours-plain": "navigation → registered with the Python bundle alone (no snapshot, no service worker)",
    "ours-no-snapshot": "navigation → registered without the memory snapshot",
    "ours-no-sw": "navigation → registered without the service worker",
    "demo": "the PyScript demo page (the fast start through PyScript, the demo's modules as bytecode): "
            "navigation → SDK imported, no registration",
    "pyscript-tag": "navigation → registered from a minimal <script type=\"py\"> page in a sub-folder "
                    "with the site's /pyscript.json (the quickstart's shape)",
}
PATH_NOTES = {
    "pyscript": "the PyScript demo page (its <script type=\"py\"> tag), signed in the moment its button "
                "allows",
    "facade_esm": "the JS facade as an ES module (import TwoChatVoice from \"/twochat-voice.js\")",
    "facade_classic": f"the JS facade's classic build (<script src=\"/{CLASSIC_FACADE}\">, "
                      "TwoChatVoice.Device)",
}
FIRST_LOAD_BUDGET = 4_000_000
WARM_BUDGET_MS = 1500.0
OVER_BARE_MS = 300.0

# The PyScript demo page (www/index.html) signs in on a click: this script clicks "Sign in" the moment
# the page enables it and marks the moment the Device's state pill says "registered" (MutationObserver
# callbacks run right after the change), in window.benchState like the bench pages.
PYSCRIPT_DRIVER_JS = """(() => {
  if (!/^\\/(index\\.html)?$/.test(location.pathname) || window.benchState) return;
  const marks = {};
  const state = { ready: false, error: null, marks };
  window.benchState = state;
  const now = () => Math.round(performance.now());
  window.addEventListener("twochat:error", (event) => { state.error = String(event.detail); });
  function check() {
    const button = document.getElementById("sign-in-button");
    const pill = document.getElementById("device-state");
    if (button && !button.disabled && !button.hidden && marks.sign_in === undefined) {
      marks.sign_in = now();
      button.click();
    }
    if (pill && pill.dataset.state === "registered" && !state.ready) {
      marks.registered = marks.ready = now();
      const python = window.twochat && window.twochat.steps && window.twochat.steps.python;
      if (python && python.end !== null) marks.python = python.end;
      state.ready = true;
    } else if (pill && pill.dataset.state === "error" && !state.error) {
      const status = document.getElementById("status");
      state.error = "sign-in failed: " + (status ? status.textContent : "?");
    }
  }
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["disabled", "hidden", "data-state"],
  });
  check();
})();"""

# A returning visitor stayed a few seconds: before the browser closes on a cold visit, the memory snapshot
# the page made is stored (the fast start's snapshotSaved promise, exposed by the PyScript pages as
# window.twochatStart; a page without that signal gets 2 s more) and whatever service worker the page
# registers is active (at most 3 s for a registration to appear, then until it is ready).
VISIT_SETTLED_JS = """async () => {
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  const start = globalThis.twochatStart;
  let snapshot = "no signal";
  if (start && start.snapshotSaved && typeof start.snapshotSaved.then === "function") {
    snapshot = String(await start.snapshotSaved);
  } else {
    await sleep(2000);
  }
  let worker = "none";
  if ("serviceWorker" in navigator) {
    for (let waited = 0; waited < 3000; waited += 100) {
      if (await navigator.serviceWorker.getRegistration()) {
        await navigator.serviceWorker.ready;
        worker = "active";
        break;
      }
      await sleep(100);
    }
  }
  return { snapshot, worker };
}"""

DEMO_READY_JS = """() => {
  const s = window.twochat;
  if (!s || !(s.ready || s.error)) return null;
  return { ready: s.ready, error: s.error, marks: { python: s.steps.python.end, ready: s.steps.ready.end } };
}"""


def visit(
    playwright: Playwright, served: common.Served, profile: Path, name: str, *, cold: bool
) -> dict[str, Any]:
    """Start Chromium on ``profile``, load page ``name`` until ready, measure, close Chromium."""
    context = playwright.chromium.launch_persistent_context(
        str(profile), **served.launch_options(), permissions=["microphone"]
    )
    guard = PageGuard()
    guard.attach_context(context)
    if name == "pyscript":
        context.add_init_script(PYSCRIPT_DRIVER_JS)
    try:
        page = context.pages[0] if context.pages else context.new_page()
        load = common.load_average()
        page.goto(served.url + PAGES[name])
        if name == "demo":
            page.wait_for_function(DEMO_READY_JS, timeout=180_000, polling=20)
            state = page.evaluate(DEMO_READY_JS)
            if state.get("error"):
                raise RuntimeError(f"the demo page failed: {state['error']}")
        else:
            state = common.wait_ready(page)
        sample: dict[str, Any] = {
            "ready_ms": state["marks"]["ready"],
            "marks": state["marks"],
            "snapshot": state.get("snapshot"),
            "load_average": load,
            **common.transfer(page),
        }
        if cold and name.startswith("ours"):
            # A returning visitor stayed long enough for the snapshot to be stored and the worker to start.
            if state.get("snapshot") == "made":
                page.wait_for_function("() => window.benchState.snapshotSaved === true", timeout=60_000)
            if "sw=0" not in PAGES[name]:
                page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        elif cold:
            if state.get("snapshot") == "made":
                page.wait_for_function("() => window.benchState.snapshotSaved === true", timeout=60_000)
            sample["settled"] = page.evaluate(VISIT_SETTLED_JS)
    finally:
        context.close()
    if guard.problems():
        raise RuntimeError(f"{name}: the page misbehaved: " + guard.report(guard.problems()))
    return sample


def chromium_version(playwright: Playwright, served: common.Served) -> str:
    """The browser's version string."""
    browser = playwright.chromium.launch(**served.launch_options())
    try:
        return str(browser.version)
    finally:
        browser.close()


def rows_from(samples: dict[str, dict[str, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    """The result rows of the default pages (plus one row per extra variant)."""
    def values(page: str, phase: str, key: str = "ready_ms") -> list[float] | None:
        if page not in samples:
            return None
        return [float(sample[key]) for sample in samples[page][phase]]

    def loads(phase: str) -> list[float]:
        return [sample["load_average"] for page in samples.values() for sample in page[phase]]

    rows: list[dict[str, Any]] = []
    for phase in ("cold", "warm"):
        ours = values("ours", phase)
        if ours is None:
            continue
        bare = values("bare", phase)
        ours_median = statistics.median(ours)
        bare_median = statistics.median(bare) if bare else None
        met = None if bare_median is None else ours_median <= bare_median + OVER_BARE_MS
        target = f"≤ bare Pyodide + {OVER_BARE_MS:.0f} ms"
        if phase == "warm":
            met = (met is not False) and ours_median <= WARM_BUDGET_MS
            target += f" and ≤ {WARM_BUDGET_MS:.0f} ms"
        gap = f"{ours_median - bare_median:+.0f} ms against bare Pyodide" if bare_median is not None else ""
        jssip = values("jssip", phase)
        versus_jssip = (
            f"; JsSIP is {ours_median / statistics.median(jssip):.1f}x faster" if jssip else ""
        )
        rows.append(common.row(
            f"time_to_ready_{phase}_ms", "ms", ours=ours, jssip=jssip, bare_pyodide=bare, loads=loads(phase),
            target=target, target_met=met,
            note=(f"navigation → registered ({phase}: "
                  + ("fresh profile" if phase == "cold" else "Chromium restarted on the same profile")
                  + f"); {gap}{versus_jssip}. Bare Pyodide only boots (no SDK, no token, no REGISTER)."),
            extra={"phases": {
                page: {mark: common.summary([s["marks"].get(mark) for s in samples[page][phase]
                                             if s["marks"].get(mark) is not None])
                       for mark in samples[page][phase][0]["marks"]}
                for page in samples
            }},
        ))
    for path in USER_PATHS:
        for phase in ("cold", "warm"):
            measured, fast = values(path, phase), values("ours", phase)
            if measured is None:
                continue
            jssip = values("jssip", phase)
            to_fast = statistics.median(measured) / statistics.median(fast) if fast else None
            gap = statistics.median(measured) - statistics.median(fast) if fast else None
            rows.append(common.row(
                f"time_to_ready_{path}_{phase}_ms", "ms", ours=measured, jssip=jssip,
                loads=[s["load_average"] for s in samples[path][phase]],
                target=f"≤ {PATH_TARGET:.2f}x the fast start",
                target_met=None if to_fast is None else to_fast <= PATH_TARGET,
                note=(f"{PATH_NOTES[path]} ({PAGES[path]}): navigation → registered, {phase}"
                      + ("" if to_fast is None else
                         f"; {to_fast:.2f}x the fast start in the same run ({gap:+.0f} ms)")),
                extra={"ratio_to_fast_start": None if to_fast is None else round(to_fast, 3),
                       "phases": {mark: common.summary([sample["marks"][mark]
                                                        for sample in samples[path][phase]
                                                        if sample["marks"].get(mark) is not None])
                                  for mark in samples[path][phase][0]["marks"]}},
            ))
    ours_bytes = values("ours", "cold", "bytes")
    if ours_bytes is not None:
        median_bytes = sorted(ours_bytes)[len(ours_bytes) // 2]
        rows.append(common.row(
            "first_load_bytes", "bytes", ours=ours_bytes, jssip=values("jssip", "cold", "bytes"),
            bare_pyodide=values("bare", "cold", "bytes"), loads=loads("cold"),
            target=f"≤ {FIRST_LOAD_BUDGET / 1e6:.1f} MB", target_met=median_bytes <= FIRST_LOAD_BUDGET,
            note="bytes on the wire for a first visit, compressed as served (Resource Timing transferSize, "
                 "headers included; brotli for ours and bare Pyodide, which Chromium accepts on 127.0.0.1)",
            extra={"files": {page: samples[page]["cold"][-1]["files"] for page in samples}},
        ))
    for variant in samples:
        if variant in DEFAULT_PAGES or variant in USER_PATHS:
            continue
        for phase in ("cold", "warm"):
            measured, fast = values(variant, phase) or [], values("ours", phase)
            to_fast = statistics.median(measured) / statistics.median(fast) if fast and measured else None
            rows.append(common.row(
                f"variant_{variant.replace('-', '_')}_{phase}_ms", "ms", ours=measured,
                loads=[s["load_average"] for s in samples[variant][phase]],
                note=f"{VARIANT_NOTES.get(variant, variant)} ({PAGES[variant]}), {phase}"
                     + ("" if to_fast is None else
                        f"; {to_fast:.2f}x the fast start in the same run "
                        f"({statistics.median(measured) - statistics.median(fast or [0]):+.0f} ms)"),
                extra={"ratio_to_fast_start": None if to_fast is None else round(to_fast, 3)},
            ))
    return rows


def default_paths() -> list[str]:
    """The user paths measured by default: the classic facade only when the site has its build."""
    site = Path(common.load_build_module().SITE)
    return [path for path in USER_PATHS if path != "facade_classic" or (site / CLASSIC_FACADE).is_file()]


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; write bench/results/startup.json and the merged latest files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=int(os.environ.get("TWOCHAT_BENCH_RUNS", "5")))
    parser.add_argument("--pages", nargs="*", default=None, choices=list(PAGES))
    args = parser.parse_args(argv)
    if args.pages is None:
        args.pages = [*DEFAULT_PAGES, *default_paths(), *DEFAULT_VARIANTS]
    if args.runs < 1:
        parser.error("--runs must be at least 1")
    samples: dict[str, dict[str, list[dict[str, Any]]]] = {
        name: {"cold": [], "warm": []} for name in args.pages
    }
    with common.served_site() as served, sync_playwright() as playwright:
        version = chromium_version(playwright, served)
        for run in range(args.runs):
            for name in args.pages:
                profile = served.scratch / f"profile-{name}-{run}"
                cold = visit(playwright, served, profile, name, cold=True)
                warm = visit(playwright, served, profile, name, cold=False)
                shutil.rmtree(profile, ignore_errors=True)
                samples[name]["cold"].append(cold)
                samples[name]["warm"].append(warm)
                print(f"run {run + 1}/{args.runs} {name:>16}: cold {cold['ready_ms']:>5} ms "
                      f"{cold['bytes']:>10,} B | warm {warm['ready_ms']:>5} ms {warm['bytes']:>8,} B "
                      f"({warm.get('snapshot') or '-'}) | load {cold['load_average']}", flush=True)
        env = common.environment(served, version)
    rows = rows_from(samples)
    common.write_results("startup", rows, env, samples)
    common.write_latest()
    print(common.markdown_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
