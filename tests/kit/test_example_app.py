"""examples/click-to-call-app installed the way a user installs it, and its own tests run green.

A fresh virtualenv gets the BUILT wheels (dist/wheels: the SDK and twochat-voice-web-sandbox) and the
example's pinned requirements, from wheels only (``--no-index``: build.py downloaded them into
dist/wheels/example), with no editable install and no PYTHONPATH; the example is copied out of the
repository first, so nothing of it is importable but what the wheels installed. Its tests use only the
plugin's public API.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from browser.harness import REPO_ROOT, load_build_module

pytestmark = pytest.mark.browser

EXAMPLE = REPO_ROOT / "examples" / "click-to-call-app"


def run(command: list[str], *, cwd: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )


def test_the_example_app_passes_its_own_tests_from_the_built_wheels(
    built_site, chromium_executable, tmp_path
):
    build = load_build_module()
    with build.build_lock():
        wheels = [Path(build.build_wheel()), Path(build.build_sandbox_wheel())]
    wheelhouse = Path(build.EXAMPLE_WHEELHOUSE)
    if not any(wheelhouse.glob("*.whl")):
        pytest.fail("dist/wheels/example is empty: run `python3 build.py test` (it downloads them)")
    env = {key: value for key, value in os.environ.items() if key not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env["TWOCHAT_CHROMIUM"] = chromium_executable
    venv = tmp_path / "venv"
    made = run([sys.executable, "-m", "venv", str(venv)], cwd=tmp_path, env=env, timeout=300)
    assert made.returncode == 0, made.stdout + made.stderr
    python = str(venv / "bin" / "python")
    installed = run(
        [python, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(wheelhouse),
         *map(str, wheels), "-r", str(EXAMPLE / "requirements.txt")],
        cwd=tmp_path, env=env, timeout=600,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = run(
        [python, "-m", "pip", "list", "--format=freeze", "--editable"], cwd=tmp_path, env=env, timeout=60
    )
    assert listed.stdout.strip() == "", f"editable installs in the example's virtualenv: {listed.stdout}"
    app = tmp_path / "click-to-call-app"
    shutil.copytree(EXAMPLE, app, ignore=shutil.ignore_patterns("__pycache__"))
    tested = run(
        [python, "-m", "pytest", "-q", "-rfE", f"--twochat-site={built_site.site}"],
        cwd=app, env=env, timeout=900,
    )
    assert tested.returncode == 0, tested.stdout[-20_000:] + tested.stderr[-5_000:]
    assert re.search(r"\b4 passed\b", tested.stdout), tested.stdout[-3_000:]
