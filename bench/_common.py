"""What the benchmarks share: the served site, Chromium, the pages' bench APIs, statistics, result files.

Not a benchmark itself (``build.py bench`` runs only ``bench_*.py``). Every benchmark writes its rows to
``bench/results/<name>.json`` and then calls :func:`write_latest`, which merges the rows of every
benchmark that has run into ``bench/results/latest.json`` (the list of rows), ``latest.md`` (the table),
``latest.png`` (a chart) and the README's performance table.

A row::

    {"metric": "time_to_ready_cold_ms", "unit": "ms", "ours": 2310.0, "jssip": 212.0,
     "bare_pyodide": 2480.0, "ratio": 10.9, "runs": 5, "min": ..., "median": ..., "max": ...,
     "stats": {"ours": {min, median, max, n, samples}, "jssip": {...}, ...},
     "load_average": [...], "target": "...", "target_met": true, "note": "..."}

``ours``/``jssip``/``bare_pyodide`` are medians; ``min``/``median``/``max`` describe ``ours``; ``ratio`` is
``ours / jssip`` (or ``ours / bare_pyodide`` when there is no JsSIP figure): for times and bytes below 1 is
better, for throughputs above 1 is better.
"""

from __future__ import annotations

import contextlib
import datetime
import html
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
BENCH_DIST = ROOT / "dist" / "bench"
README = ROOT / "README.md"
README_BEGIN = "<!-- bench:latest:begin -->"
README_END = "<!-- bench:latest:end -->"
if str(ROOT / "tests") not in sys.path:
    sys.path.insert(0, str(ROOT / "tests"))
# The benches run Chromium with the loopback flag against sandboxes on 127.0.0.1: media stays there.
os.environ["TWOCHAT_SANDBOX_MEDIA_ADDRESSES"] = "loopback"

from playwright.sync_api import BrowserContext, Page  # noqa: E402

from browser.chromium import find_chromium, launch_options  # noqa: E402
from browser.harness import SandboxProcess, load_build_module, start_sandbox  # noqa: E402

# The metrics of the issue, in the order of the tables; benchmarks may add rows after these.
METRIC_ORDER = (
    "time_to_ready_cold_ms",
    "time_to_ready_warm_ms",
    "time_to_ready_pyscript_cold_ms",
    "time_to_ready_pyscript_warm_ms",
    "time_to_ready_facade_esm_cold_ms",
    "time_to_ready_facade_esm_warm_ms",
    "time_to_ready_facade_classic_cold_ms",
    "time_to_ready_facade_classic_warm_ms",
    "first_load_bytes",
    "connect_to_accepted_ms",
    "connect_to_accepted_policy_ms",
    "connect_to_accepted_complete_ms",
    "connect_to_accepted_kamailio_ms",
    "connect_to_accepted_kamailio_warm_ms",
    "setup_dead_stun_ms",
    "parse_throughput_pyodide",
    "parse_invite_sdp_us",
    "serialise_throughput_pyodide",
    "memory_after_100_calls_bytes",
    "heap_after_100_calls_bytes",
    "wasm_memory_after_100_calls_bytes",
    "leaked_proxies_after_100_calls",
    "memory_growth_per_call_bytes",
)

JSSIP_ENTRY = """\
// The bench's JsSIP bundle: npm jssip as the interop tests use it, plus its message parser (not exported
// by lib/JsSIP.js), so that a page can time Parser.parseMessage on the same messages as our parser.
const JsSIP = require("jssip/lib/JsSIP");
JsSIP.Parser = require("jssip/lib/Parser");
module.exports = JsSIP;
"""


def load_average() -> float:
    """The 1-minute load average now (the machine is shared: every sample carries it)."""
    return round(os.getloadavg()[0], 2)


def git_commit() -> str:
    """The commit measured (``+dirty`` when the working tree has changes)."""
    head = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    return head.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")


def summary(values: Sequence[float]) -> dict[str, Any]:
    """min / median / max / n of ``values`` (and the samples themselves)."""
    clean = [float(value) for value in values if value is not None]
    if not clean:
        return {"n": 0, "samples": []}
    return {
        "min": round(min(clean), 3),
        "median": round(statistics.median(clean), 3),
        "max": round(max(clean), 3),
        "n": len(clean),
        "samples": [round(value, 3) for value in clean],
    }


def row(
    metric: str,
    unit: str,
    *,
    ours: Sequence[float],
    jssip: Sequence[float] | None = None,
    bare_pyodide: Sequence[float] | None = None,
    loads: Sequence[float] = (),
    target: str = "",
    target_met: bool | None = None,
    higher_is_better: bool = False,
    note: str = "",
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One result row (see the module docstring)."""
    stats: dict[str, Any] = {"ours": summary(ours)}
    if jssip is not None:
        stats["jssip"] = summary(jssip)
    if bare_pyodide is not None:
        stats["bare_pyodide"] = summary(bare_pyodide)
    medians = {name: value.get("median") for name, value in stats.items()}
    reference = medians.get("jssip") or medians.get("bare_pyodide")
    ratio = round(medians["ours"] / reference, 3) if medians["ours"] is not None and reference else None
    result: dict[str, Any] = {
        "metric": metric,
        "unit": unit,
        "ours": medians["ours"],
        "jssip": medians.get("jssip"),
        "bare_pyodide": medians.get("bare_pyodide"),
        "ratio": ratio,
        "higher_is_better": higher_is_better,
        "runs": stats["ours"]["n"],
        "min": stats["ours"].get("min"),
        "median": stats["ours"].get("median"),
        "max": stats["ours"].get("max"),
        "stats": stats,
        "load_average": list(loads),
        "target": target,
        "target_met": target_met,
        "note": note,
    }
    if extra:
        result.update(extra)
    return result


# --------------------------------------------------------------------------------------------------
# the served site


def jssip_bench_bundle(build: ModuleType | None = None) -> Path:
    """dist/bench/jssip-bench.min.js: npm jssip with ``JsSIP.Parser``, bundled by esbuild (cached), with
    its ``.br`` and ``.gz`` twins made by build.py's own compressors at the quality of the vendored runtime
    (brotli 11, gzip 9): the sandbox serves JsSIP compressed exactly as it serves Pyodide and our bundle."""
    output = BENCH_DIST / "jssip-bench.min.js"
    entry = BENCH_DIST / "jssip-entry.js"
    stamp_path = BENCH_DIST / "jssip-bench.sha256"
    lock = (ROOT / "package-lock.json").read_bytes()
    import hashlib

    stamp = hashlib.sha256(lock + JSSIP_ENTRY.encode()).hexdigest()
    if not (output.exists() and stamp_path.exists() and stamp_path.read_text().strip() == stamp):
        _bundle_jssip(output, entry)
        stamp_path.write_text(stamp + "\n")
    _compressed_twins(output, build or load_build_module())
    return output


def _compressed_twins(output: Path, build: ModuleType) -> None:
    """``output.br`` and ``output.gz`` next to ``output`` (build.py's brotli and gzip, cached there)."""
    twins = {
        output.with_name(output.name + ".br"):
            build.brotli_variants([output], quality=build.BROTLI_QUALITY_VENDORED)[output],
        output.with_name(output.name + ".gz"): build.gzip_variant(output),
    }
    for twin, cached in twins.items():
        data = Path(cached).read_bytes()
        if not twin.exists() or twin.read_bytes() != data:
            twin.write_bytes(data)


def _bundle_jssip(output: Path, entry: Path) -> None:
    BENCH_DIST.mkdir(parents=True, exist_ok=True)
    entry.write_text(JSSIP_ENTRY)
    subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "esbuild"), str(entry), "--bundle", "--minify",
         "--platform=browser", "--format=iife", "--global-name=JsSIP", "--log-level=warning",
         f"--outfile={output}"],
        cwd=ROOT, check=True,
    )


@dataclass
class Served:
    """The sandbox serving the site (``/``), the test assets (``/test``), bench/ (``/bench``) and
    dist/bench (``/bench-dist``), plus what a benchmark needs to drive Chromium."""

    sandbox: SandboxProcess
    build_info: dict[str, Any]
    build: ModuleType
    chromium: str
    scratch: Path

    @property
    def url(self) -> str:
        """The sandbox's base URL (``http://127.0.0.1:PORT``)."""
        return str(self.sandbox.info.url)

    def launch_options(self) -> dict[str, Any]:
        """Keyword arguments for ``chromium.launch`` / ``launch_persistent_context`` (the tests' flags)."""
        return dict(launch_options(self.chromium))


@contextlib.contextmanager
def served_site() -> Iterator[Served]:
    """Build what is missing, start the sandbox, yield; stop the sandbox and remove scratch files."""
    chromium = find_chromium()
    if chromium is None:
        raise RuntimeError("no Chromium found (python3 build.py bench installs Debian's chromium)")
    build = load_build_module()
    build.build_site()
    build.stage_test_assets()
    jssip_bench_bundle(build)
    build_info = json.loads((Path(build.SITE) / "build-info.json").read_text())
    scratch = Path(tempfile.mkdtemp(prefix="twochat-bench-"))
    sandbox = start_sandbox(
        site=Path(build.SITE),
        run_dir=scratch / "sandbox",
        mounts={"/test": Path(build.TEST_ASSETS), "/bench": ROOT / "bench", "/bench-dist": BENCH_DIST},
    )
    try:
        yield Served(sandbox=sandbox, build_info=build_info, build=build, chromium=chromium, scratch=scratch)
    finally:
        sandbox.stop()
        shutil.rmtree(scratch, ignore_errors=True)


def wait_ready(page: Page, *, timeout_ms: float = 180_000, driver: bool = False) -> dict[str, Any]:
    """Wait for a bench page's ``window.benchState.ready`` (and its driver); return the state."""
    condition = "s.ready && s.driver" if driver else "s.ready"
    page.wait_for_function(
        f"() => {{ const s = window.benchState; return s && ({condition} || !!s.error); }}",
        timeout=timeout_ms, polling=20,
    )
    state: dict[str, Any] = page.evaluate("() => JSON.parse(JSON.stringify(window.benchState))")
    if state.get("error"):
        raise RuntimeError(f"{page.url} failed to start: {state['error']}")
    return state


def bench_run(page: Page, name: str, **kwargs: Any) -> Any:
    """``window.benchRun(name, kwargs)`` in a bench page; its result, or RuntimeError with its error."""
    raw = page.evaluate("([name, kwargs]) => window.benchRun(name, kwargs)", [name, kwargs])
    answer = json.loads(raw)
    if "error" in answer:
        raise RuntimeError(f"{name} in {page.url}: {answer['error']}\n{answer.get('traceback', '')}")
    return answer["ok"]


TRANSFER_JS = """() => {
  const navigation = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  return {
    bytes: navigation.transferSize + resources.reduce((sum, r) => sum + r.transferSize, 0),
    requests: resources.length + 1,
    from_cache: resources.filter((r) => r.transferSize === 0 && r.decodedBodySize > 0).length,
    files: Object.fromEntries(resources.map((r) => [new URL(r.name).pathname, r.transferSize])),
  };
}"""


def transfer(page: Page) -> dict[str, Any]:
    """Bytes that crossed the wire for the page so far (Resource Timing ``transferSize``, with headers)."""
    result: dict[str, Any] = page.evaluate(TRANSFER_JS)
    return result


def js_heap_used(context: BrowserContext, page: Page) -> int:
    """The page's JS heap in use after a full garbage collection (Chrome DevTools Protocol)."""
    session = context.new_cdp_session(page)
    try:
        session.send("HeapProfiler.enable")
        session.send("HeapProfiler.collectGarbage")
        usage = session.send("Runtime.getHeapUsage")
    finally:
        session.detach()
    return int(usage["usedSize"])


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 50 ms until true; RuntimeError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(0.05)


# --------------------------------------------------------------------------------------------------
# result files


def environment(served: Served | None = None, chromium_version: str | None = None) -> dict[str, Any]:
    """Versions and the machine, for a result file."""
    info = served.build_info if served is not None else {}
    return {
        "chromium": chromium_version,
        "pyodide": info.get("pyodide_version"),
        "sdk": info.get("sdk_version"),
        "python_bundle": info.get("python_bundle"),
        "python_host": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average_start": [round(value, 2) for value in os.getloadavg()],
        "commit": git_commit(),
        "measured_at": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_results(name: str, rows: list[dict[str, Any]], env: dict[str, Any], raw: dict[str, Any]) -> Path:
    """bench/results/<name>.json: the rows, the environment and the raw samples of one benchmark."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    document = {"benchmark": name, "environment": env, "rows": rows, "raw": raw}
    path.write_text(json.dumps(document, indent=2) + "\n")
    return path


def _benchmark_files() -> list[Path]:
    return sorted(
        path for path in RESULTS.glob("*.json")
        if path.name != "latest.json" and isinstance(_rows_of(path), list)
    )


def _rows_of(path: Path) -> list[dict[str, Any]] | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    rows = data.get("rows") if isinstance(data, dict) else None
    return rows if isinstance(rows, list) else None


def collect_rows() -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The rows of every benchmark result file (ordered by METRIC_ORDER), and their environments."""
    rows: list[dict[str, Any]] = []
    environments: dict[str, Any] = {}
    for path in _benchmark_files():
        data = json.loads(path.read_text())
        environments[data.get("benchmark", path.stem)] = data.get("environment", {})
        for item in data["rows"]:
            # Other benchmarks (bench_reliability.py...) keep their own row shapes: only ours merge.
            if isinstance(item, dict) and "metric" in item and "unit" in item and "ours" in item:
                rows.append({**item, "benchmark": data.get("benchmark", path.stem)})
    order = {metric: index for index, metric in enumerate(METRIC_ORDER)}
    rows.sort(key=lambda item: (order.get(item["metric"], len(order)), item["metric"]))
    return rows, environments


def _number(value: Any, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit == "bytes":
        return f"{value / 1e6:.2f} MB"
    if unit == "messages/s":
        return f"{value:,.0f}"
    if unit == "us":
        return f"{value:.1f}"
    return f"{value:,.0f}"


def _verdict(item: dict[str, Any]) -> str:
    met = item.get("target_met")
    target = item.get("target") or ""
    if met is None:
        return target or "-"
    return ("met" if met else "**missed**") + (f" ({target})" if target else "")


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a Markdown table a person can read."""
    lines = [
        "| metric | ours (min-max) | JsSIP | bare Pyodide | ours / reference | runs | target |",
        "|---|---:|---:|---:|---:|---:|---|",
    ]
    for item in rows:
        unit = item["unit"]
        ours = _number(item["ours"], unit)
        if item.get("min") is not None and item.get("runs", 0) > 1:
            ours += f" ({_number(item['min'], unit)}-{_number(item['max'], unit)})"
        ratio = "n/a" if item.get("ratio") is None else f"{item['ratio']:.2f}x"
        lines.append(
            f"| `{item['metric']}` ({unit}) | {ours} | {_number(item.get('jssip'), unit)} | "
            f"{_number(item.get('bare_pyodide'), unit)} | {ratio} | {item.get('runs')} | {_verdict(item)} |"
        )
    return "\n".join(lines)


def standing(rows: list[dict[str, Any]]) -> list[str]:
    """One line per row compared with JsSIP: who is ahead and by how much; then the targets missed."""
    lines = []
    for item in rows:
        ours, theirs = item.get("ours"), item.get("jssip")
        if ours is None or not theirs:
            continue
        better = ours > theirs if item.get("higher_is_better") else ours < theirs
        unit = item["unit"]
        by = f" by {max(ours, theirs) / min(ours, theirs):.2f}x" if min(ours, theirs) > 0 else ""
        lines.append(
            f"- `{item['metric']}`: **{'we lead' if better else 'JsSIP leads'}**{by} "
            f"({_number(ours, unit)} vs {_number(theirs, unit)} {unit})"
        )
    missed = [item for item in rows if item.get("target_met") is False]
    for item in missed:
        value = _number(item["ours"], item["unit"])
        lines.append(f"- target missed: `{item['metric']}` ({item['target']}): {value}")
    return lines


def _notes(rows: list[dict[str, Any]]) -> str:
    return "\n".join(f"- `{item['metric']}`: {item['note']}" for item in rows if item.get("note"))


def markdown(rows: list[dict[str, Any]], environments: dict[str, Any]) -> str:
    """bench/results/latest.md."""
    loads = sorted({value for item in rows for value in item.get("load_average", [])})
    # the subtitle speaks of the Playwright Chromium benches (startup first); bench_browsers has its own
    first: dict[str, Any] = environments.get("startup") or next(iter(environments.values()), {})
    when = sorted({env.get("measured_at", "") for env in environments.values() if env.get("measured_at")})
    lines = [
        "# twochat-voice-web against JsSIP: latest benchmark",
        "",
        f"Medians; Chromium {first.get('chromium')}, Pyodide {first.get('pyodide')}, SDK {first.get('sdk')}, "
        f"{first.get('cpus')} CPUs shared with other work (load average during the samples "
        f"{loads[0] if loads else '?'}-{loads[-1] if loads else '?'}), commit {first.get('commit')}, "
        f"{when[0] if when else '?'} to {when[-1] if when else '?'}. "
        "Reproduce with `python3 build.py bench`.",
        "",
        markdown_table(rows),
        "",
        "Where each side stands (medians; for times and bytes lower is better):",
        "",
        *standing(rows),
        "",
        "Notes:",
        "",
        _notes(rows),
        "",
        "Raw samples, the load average of every sample and the environment: `latest.json` and the",
        "per-benchmark files next to it (`startup.json`, `calls.json`, `parse.json`).",
        "",
    ]
    return "\n".join(lines)


CHART_HTML = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ font: 13px/1.35 system-ui, sans-serif; margin: 16px; width: 860px; color: #222; }}
h1 {{ font-size: 16px; margin: 0 0 4px; }} p {{ margin: 0 0 12px; color: #555; }}
.metric {{ margin: 0 0 10px; }} .name {{ font-weight: 600; }} .target {{ color: #555; font-weight: 400; }}
.bar {{ display: flex; align-items: center; height: 18px; margin: 2px 0; }}
.label {{ width: 110px; color: #444; }} .fill {{ height: 14px; border-radius: 2px; }}
.value {{ margin-left: 6px; white-space: nowrap; }}
.ours {{ background: #2b6cb0; }} .jssip {{ background: #dd6b20; }} .bare_pyodide {{ background: #718096; }}
</style></head><body><h1>twochat-voice-web vs JsSIP (medians)</h1><p>{subtitle}</p>{bars}</body></html>"""


def chart_html(rows: list[dict[str, Any]], subtitle: str) -> str:
    """An HTML bar chart of the rows (each metric scaled to its own largest value)."""
    blocks = []
    for item in rows:
        values = {
            name: item[name] for name in ("ours", "jssip", "bare_pyodide") if item.get(name) is not None
        }
        if not values:
            continue
        largest = max(values.values()) or 1
        better = "higher is better" if item.get("higher_is_better") else "lower is better"
        target = f" — target {item['target']}" if item.get("target") else ""
        bars = "".join(
            f'<div class="bar"><span class="label">{html.escape(name.replace("_", " "))}</span>'
            f'<span class="fill {name}" style="width:{max(2, 560 * value / largest):.0f}px"></span>'
            f'<span class="value">{html.escape(_number(value, item["unit"]))}</span></div>'
            for name, value in values.items()
        )
        blocks.append(
            f'<div class="metric"><div class="name">{html.escape(item["metric"])} '
            f'({html.escape(item["unit"])}, {better})<span class="target">{html.escape(target)}</span></div>'
            f"{bars}</div>"
        )
    return CHART_HTML.format(subtitle=html.escape(subtitle), bars="".join(blocks))


def render_chart(rows: list[dict[str, Any]], subtitle: str, output: Path) -> bool:
    """latest.png: the chart rendered by Chromium (headless, no network). Returns whether it was written."""
    chromium = find_chromium()
    if chromium is None:
        return False
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        options: dict[str, Any] = dict(launch_options(chromium))
        browser = playwright.chromium.launch(**options)
        try:
            page = browser.new_page(viewport={"width": 900, "height": 400}, device_scale_factor=1)
            page.set_content(chart_html(rows, subtitle))
            page.screenshot(path=str(output), full_page=True)
        finally:
            browser.close()
    return True


def update_readme(table: str, subtitle: str) -> bool:
    """Replace the README's table between the bench markers (when the markers are there)."""
    if not README.exists():
        return False
    text = README.read_text()
    if README_BEGIN not in text or README_END not in text:
        return False
    before, rest = text.split(README_BEGIN, 1)
    _, after = rest.split(README_END, 1)
    block = f"{README_BEGIN}\n{subtitle}\n\n{table}\n{README_END}"
    README.write_text(before + block + after)
    return True


def write_latest() -> Path:
    """Merge every benchmark's rows into latest.json / latest.md / latest.png and the README table."""
    rows, environments = collect_rows()
    RESULTS.mkdir(parents=True, exist_ok=True)
    latest = RESULTS / "latest.json"
    latest.write_text(json.dumps(rows, indent=2) + "\n")
    (RESULTS / "latest.md").write_text(markdown(rows, environments))
    # the subtitle speaks of the Playwright Chromium benches (startup first); bench_browsers has its own
    first: dict[str, Any] = environments.get("startup") or next(iter(environments.values()), {})
    subtitle = (
        f"Medians of the runs shown; {first.get('cpus')} shared CPUs, Chromium {first.get('chromium')}, "
        f"Pyodide {first.get('pyodide')}, commit {first.get('commit')}."
    )
    try:
        render_chart(rows, subtitle, RESULTS / "latest.png")
    except Exception as error:  # a chart is a convenience: the tables are the result
        print(f"latest.png not written: {error}", file=sys.stderr)
    details = "Details: [bench/results/latest.md](bench/results/latest.md)."
    update_readme(markdown_table(rows), f"_{subtitle} {details}_")
    return latest
