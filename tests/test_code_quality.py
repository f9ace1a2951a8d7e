"""Quality gates, enforced by the test suite (so by CI): lint, types and the architecture's import rules."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "twochat_voice_web"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", *args]
    return subprocess.run(command, check=False, cwd=ROOT, capture_output=True, text=True, timeout=600)


def test_ruff_is_clean() -> None:
    result = _run("ruff", "check", "src", "tests", "bench", "build.py", "www", "examples")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_mypy_strict_is_clean() -> None:
    result = _run("mypy")  # strict, files = src/twochat_voice_web (pyproject.toml)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize(
    "path", sorted((SRC / "sip").rglob("*.py")), ids=lambda p: str(p.relative_to(SRC / "sip"))
)
def test_sip_core_is_sans_io(path: Path) -> None:
    """No JS, no event loop, no clock in the SIP core: time is passed in."""
    forbidden = {"js", "pyodide", "asyncio", "time", "socket", "threading"} & _imports(path)
    assert not forbidden, f"{path.name} imports {sorted(forbidden)}"


def test_only_the_browser_package_touches_javascript() -> None:
    offenders = [
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if "browser" not in path.relative_to(SRC).parts and {"js", "pyodide", "pyscript"} & _imports(path)
    ]
    assert offenders == []


def test_no_placeholders_in_shipped_code() -> None:
    pattern = re.compile(r"\b(TODO|FIXME|XXX)\b|NotImplementedError")
    hits = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in SRC.rglob("*.py")
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if pattern.search(line)
    ]
    assert hits == []


def test_importing_the_sip_core_loads_neither_asyncio_nor_the_sdk() -> None:
    """The whole import closure of ``import twochat_voice_web.sip``, in a fresh interpreter: the sans-I/O
    core reaches no asyncio, no js/pyodide and no module of the SDK layer, not even through its parent
    package's ``__init__``."""
    probe = (
        "import json, sys; import twochat_voice_web.sip; "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in "
        "('asyncio', 'js', 'pyodide', 'twochat_voice_web'))))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(ROOT / "src"), "PATH": "/usr/bin:/bin"},
    )
    loaded = set(json.loads(completed.stdout))
    outside = {
        m for m in loaded
        if m not in ("twochat_voice_web", "twochat_voice_web._version", "twochat_voice_web.errors")
        and not m.startswith("twochat_voice_web.sip")
    }
    assert not outside, f"import twochat_voice_web.sip also loads {sorted(outside)}"


# The SDK layer's modules talk through declared, typed doors (Protocols such as CallHost, TabHost,
# PreflightHost and the CallControl door), never through another module's private members.
_DOOR_MODULES = (
    *("device.py", "call.py", "tabs.py", "preflight.py"),
    *("lifecycle.py", "options.py", "driver.py", "tasks.py", "tab_protocol.py", "sounds.py"),
)


def _own_private_names(tree: ast.Module) -> set[str]:
    """Private names this module defines itself: functions, classes, class members, ``self._x`` stores."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.ctx, ast.Store)
            and isinstance(node.value, ast.Name)
            and node.value.id == "self"
        ):
            names.add(node.attr)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return {name for name in names if name.startswith("_") and not name.startswith("__")}


def private_reaches(path: Path) -> list[str]:
    """``obj._name`` where ``obj`` is not ``self``/``cls`` and ``_name`` is not this module's own, and every
    ``from x import _name`` of another module's private name."""
    tree = ast.parse(path.read_text(), filename=str(path))
    own = _own_private_names(tree)
    reaches: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if node.attr in own:
                continue
            reaches.append(f"{path.name}:{node.lineno}: {ast.unparse(node)}")
        elif isinstance(node, ast.ImportFrom):
            reaches += [
                f"{path.name}:{node.lineno}: from {node.module} import {alias.name}"
                for alias in node.names
                if alias.name.startswith("_") and not alias.name.startswith("__")
            ]
    return reaches


def test_the_sdk_layer_reaches_no_private_member_of_another_module() -> None:
    reaches = [hit for name in _DOOR_MODULES for hit in private_reaches(SRC / name)]
    assert reaches == []


def test_the_private_reach_check_sees_a_reach(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "class Mine:\n"
        "    def __init__(self, device):\n"
        "        self._device = device\n"
        "        self._own = 1\n"
        "    def _helper(self):\n"
        "        other = Mine(None)\n"
        "        other._own += 1\n"  # this module's own private name: allowed
        "        self._device._token = 'x'\n"  # another module's: a reach
        "        return self._device._set_state('registered')\n"
    )
    assert private_reaches(sample) == [
        "sample.py:8: self._device._token",
        "sample.py:9: self._device._set_state",
    ]
