"""Helpers of the documentation tests: paths, and running ``mkdocs build --strict``.

``mkdocs`` (requirements/docs.txt) is needed for the build tests. Without it they skip, except under
``CI=true``, where build.py installs requirements/docs.txt and a missing MkDocs is a failure.
"""

from __future__ import annotations

import importlib.util
import os
import re
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS_DIR = REPO_ROOT / "docs"
MKDOCS_YML = REPO_ROOT / "mkdocs.yml"
IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
BUILD_TIMEOUT = 600


@dataclass(frozen=True)
class SiteBuild:
    """The result of one ``mkdocs build``."""

    returncode: int
    output: str
    site_dir: Path

    @property
    def warnings(self) -> list[str]:
        """Every WARNING/ERROR line of the build log."""
        return [line for line in self.output.splitlines() if re.match(r"^(WARNING|ERROR)\b", line)]


def require_mkdocs() -> None:
    """Skip when MkDocs is not installed (fail instead under CI)."""
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("mkdocstrings") is None:
        message = "mkdocs/mkdocstrings are not installed (pip install -r requirements/docs.txt)"
        if IN_CI:
            pytest.fail(f"CI=true: {message}")
        pytest.skip(message)


def run_mkdocs(config: Path, site_dir: Path, extra: Sequence[str] = ()) -> SiteBuild:
    """``mkdocs build --strict`` of ``config`` into ``site_dir`` (a subprocess of this interpreter)."""
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--clean", "-f", str(config),
         "-d", str(site_dir), *extra],
        cwd=config.parent, env=env, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False,
    )
    return SiteBuild(completed.returncode, completed.stdout + completed.stderr, site_dir)
