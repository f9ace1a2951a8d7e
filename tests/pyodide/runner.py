"""Run a pytest suite and summarise the result as JSON: the same code on CPython and inside Pyodide.

Inside Pyodide (``tests/pages/pyodide-pytest.html``) the page imports this module and calls
:func:`run_json`; on CPython the browser test runs it as a script::

    python tests/pyodide/runner.py --json OUT.json tests/unit

Both sides get the same pytest options (:data:`RUNNER_OPTIONS`): no cache provider (no writable
project dir in the browser), no faulthandler (no real stderr fd in Pyodide), sys-level capture (no
fd duplication in Pyodide), plugin auto-loading off with Hypothesis' plugin loaded explicitly, the
conftest search stopped at the suite directory (so tests/conftest.py, which drives browsers, is not
loaded on CPython either), and a Hypothesis profile without deadlines (Pyodide is slower than CPython;
a deadline would make the counts differ for the wrong reason).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any

import pytest

__all__ = ["HYPOTHESIS_PROFILE", "OUTCOME_KEYS", "RUNNER_OPTIONS", "SummaryPlugin", "main", "run", "run_json"]

OUTCOME_KEYS = ("passed", "failed", "skipped", "xfailed", "xpassed", "error", "deselected")
"""Keys of pytest's terminal statistics that the summary counts (the words of pytest's last line)."""

HYPOTHESIS_PROFILE = "twochat-runner"
"""Hypothesis profile used on both runtimes: no deadline, no example database."""

RUNNER_OPTIONS = (
    "-p", "no:cacheprovider",
    "-p", "no:faulthandler",
    "-p", "_hypothesis_pytestplugin",
    "--capture=sys",
    "--color=no",
    "-q",
    "-rfE",
)
"""pytest options every run gets (see the module docstring)."""

OUTPUT_LIMIT = 60_000
"""Characters of pytest's terminal output kept in the summary (the tail)."""


class SummaryPlugin:
    """Collects the per-test outcomes and the counts of pytest's final line."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = dict.fromkeys(OUTCOME_KEYS, 0)
        self.tests: dict[str, str] = {}
        self.skip_reasons: dict[str, str] = {}
        self.failures: dict[str, str] = {}
        self.collected = 0

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        """Remember how many tests were collected."""
        self.collected = len(session.items)

    def pytest_terminal_summary(self, terminalreporter: Any) -> None:
        """Read the same statistics pytest prints in its last line."""
        for key in OUTCOME_KEYS:
            reports = terminalreporter.stats.get(key, [])
            self.counts[key] = len(reports)
            for report in reports:
                nodeid = getattr(report, "nodeid", None)
                if nodeid and (key != "passed" or nodeid not in self.tests):
                    self.tests[nodeid] = key
                if nodeid and key == "skipped" and isinstance(report.longrepr, tuple):
                    self.skip_reasons[nodeid] = str(report.longrepr[2]).removeprefix("Skipped: ")
                if nodeid and key in ("failed", "error"):
                    self.failures[nodeid] = str(getattr(report, "longreprtext", ""))[-4000:]


def _register_hypothesis_profile() -> str | None:
    """Register :data:`HYPOTHESIS_PROFILE`; return Hypothesis' version (None when not installed)."""
    try:
        import hypothesis
    except ImportError:
        return None
    hypothesis.settings.register_profile(HYPOTHESIS_PROFILE, deadline=None, database=None)
    return str(hypothesis.__version__)


def run(args: list[str], *, confcutdir: str | None = None) -> dict[str, Any]:
    """Run pytest with ``args`` (paths, -k, -m ...) plus :data:`RUNNER_OPTIONS`; return the summary.

    ``confcutdir`` defaults to the first path argument.
    """
    os.environ["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    hypothesis_version = _register_hypothesis_profile()
    paths = [arg for arg in args if not arg.startswith("-")]
    options = list(RUNNER_OPTIONS)
    if hypothesis_version is not None:
        options.append(f"--hypothesis-profile={HYPOTHESIS_PROFILE}")
    else:
        options.remove("_hypothesis_pytestplugin")
        options.remove("-p")
    cut = confcutdir if confcutdir is not None else (paths[0] if paths else None)
    if cut is not None:
        options.append(f"--confcutdir={cut}")
    plugin = SummaryPlugin()
    output = io.StringIO()
    started = time.perf_counter()
    with contextlib.redirect_stdout(output), contextlib.redirect_stderr(output):
        exit_code = int(pytest.main([*options, *args], plugins=[plugin]))
    text = output.getvalue()
    return {
        "runtime": "pyodide" if sys.platform == "emscripten" else platform.python_implementation().lower(),
        "python": sys.version,
        "platform": sys.platform,
        "versions": {"pytest": pytest.__version__, "hypothesis": hypothesis_version},
        "args": [*options, *args],
        "exit_code": exit_code,
        "collected": plugin.collected,
        "counts": plugin.counts,
        "tests": dict(sorted(plugin.tests.items())),
        "skip_reasons": plugin.skip_reasons,
        "failures": plugin.failures,
        "duration_s": round(time.perf_counter() - started, 3),
        "output": text[-OUTPUT_LIMIT:],
    }


def run_json(args: list[str]) -> str:
    """:func:`run`, serialised: what the browser page hands back to JavaScript."""
    return json.dumps(run(list(args)))


def main(argv: list[str]) -> int:
    """CLI: ``runner.py [--json OUT] [pytest args]``; prints the summary JSON (or writes it to OUT)."""
    out: Path | None = None
    if len(argv) >= 2 and argv[0] == "--json":
        out, argv = Path(argv[1]), argv[2:]
    summary = run(argv)
    text = json.dumps(summary, indent=2)
    if out is None:
        print(text)
    else:
        out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
