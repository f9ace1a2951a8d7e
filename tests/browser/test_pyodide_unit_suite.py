"""tests/unit runs under pytest *inside Pyodide in Chromium* and must pass there as on CPython.

The page tests/pages/pyodide-pytest.html loads the same pinned Pyodide as the site, our wheel, the
pure-Python test wheels (pytest, pluggy, hypothesis...), unpacks the suite and runs it with
tests/pyodide/runner.py; the CPython side runs the same runner on the same files in a subprocess.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from browser.harness import REPO_ROOT

pytestmark = pytest.mark.timeout(600)

RUNNER = REPO_ROOT / "tests" / "pyodide" / "runner.py"


@dataclass(frozen=True)
class RuntimeGap:
    """A capability the browser runtime lacks, which tests may skip on with a matching reason."""

    skip_reason: str
    """Regex on the skip reason the test gives in Pyodide."""
    explanation: str


# Tests that pass on CPython and skip in Pyodide for a documented lack of the runtime. Anything else
# that passes on CPython must pass in Pyodide too.
KNOWN_RUNTIME_GAPS = (
    RuntimeGap(
        r"SHA-512-256(-sess)? is not available in this runtime's hashlib",
        "Pyodide's hashlib has no OpenSSL, hence no sha512_256 (RFC 7616's optional SHA-512-256 digest)",
    ),
)


def run_on_cpython(suite: str, tmp_path: Path, *extra: str) -> dict[str, Any]:
    out = tmp_path / f"cpython-{suite.replace('/', '_')}.json"
    completed = subprocess.run(
        [sys.executable, str(RUNNER), "--json", str(out), suite, *extra],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=600, check=False,
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    assert out.exists(), completed.stdout[-3000:]
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def run_in_pyodide(page: Page, suite: str, *extra: str) -> dict[str, Any]:
    query = urllib.parse.urlencode({"suite": suite, "args": json.dumps(list(extra))})
    page.goto(f"/test/pages/pyodide-pytest.html?{query}")
    page.wait_for_function("() => window.__result || window.__error", timeout=540_000, polling=200)
    error = page.evaluate("() => window.__error")
    assert error is None, error
    result: dict[str, Any] = page.evaluate("() => window.__result")
    return result


def describe(result: dict[str, Any]) -> str:
    counts = ", ".join(f"{value} {key}" for key, value in result["counts"].items() if value)
    runtime = f"{result['runtime']} {result['python'].split()[0]}"
    return f"{runtime}: {counts or 'no tests'} (exit {result['exit_code']})"


def test_selftest_suite_counts_are_exact_on_both_runtimes(page: Page, tmp_path: Path) -> None:
    """A suite with known outcomes proves the harness counts what pytest counts, on both sides."""
    expected = dict.fromkeys(("failed", "xpassed", "error", "deselected"), 0)
    expected.update(passed=6, skipped=1, xfailed=1)
    cpython = run_on_cpython("tests/pyodide/selftest", tmp_path)
    pyodide = run_in_pyodide(page, "selftest")
    print(describe(cpython), "|", describe(pyodide))
    assert pyodide["runtime"] == "pyodide"
    assert pyodide["platform"] == "emscripten"
    assert pyodide["python"].startswith("3.14.")
    assert cpython["counts"] == expected, cpython["output"]
    assert pyodide["counts"] == expected, pyodide["output"]
    assert pyodide["tests"] == cpython["tests"]


def test_selftest_suite_reports_failures_from_pyodide(page: Page) -> None:
    """-k selects inside Pyodide too, and a deselected run is still reported faithfully."""
    pyodide = run_in_pyodide(page, "selftest", "-k", "parametrized")
    assert pyodide["counts"]["passed"] == 2
    assert pyodide["counts"]["deselected"] == 6
    assert pyodide["exit_code"] == 0


def test_unit_suite_passes_in_pyodide_as_on_cpython(page: Page, tmp_path: Path) -> None:
    cpython = run_on_cpython("tests/unit", tmp_path)
    pyodide = run_in_pyodide(page, "unit")
    print(describe(cpython))
    print(describe(pyodide))
    assert pyodide["runtime"] == "pyodide"
    for result in (cpython, pyodide):
        assert result["counts"]["failed"] == 0, result["output"]
        assert result["counts"]["error"] == 0, result["output"]
        assert result["exit_code"] in (0, 5), result["output"]  # 5: tests/unit is empty
    assert pyodide["collected"] == cpython["collected"]
    assert sorted(pyodide["tests"]) == sorted(cpython["tests"])
    explained_gaps = {}
    unexplained = {}
    for nodeid, outcome in cpython["tests"].items():
        in_pyodide = pyodide["tests"][nodeid]
        if in_pyodide == outcome:
            continue
        reason = pyodide["skip_reasons"].get(nodeid, "")
        gap = next((gap for gap in KNOWN_RUNTIME_GAPS if re.search(gap.skip_reason, reason)), None)
        if outcome == "passed" and in_pyodide == "skipped" and gap is not None:
            explained_gaps[nodeid] = gap.explanation
        else:
            unexplained[nodeid] = f"CPython {outcome}, Pyodide {in_pyodide} {reason}".strip()
    if explained_gaps:
        print(f"{len(explained_gaps)} tests skip in Pyodide for known runtime gaps:")
        for nodeid, explanation in sorted(explained_gaps.items()):
            print(f"  {nodeid}: {explanation}")
    assert unexplained == {}
    assert pyodide["counts"]["passed"] + len(explained_gaps) == cpython["counts"]["passed"]
