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
# PreflightHost and the CallControl door), never through another module's private members. Every module of
# the SDK layer (the package's top level) is checked, so a module split out later is covered at once.
_DOOR_MODULES = tuple(sorted(path.name for path in SRC.glob("*.py")))


def test_the_private_reach_check_covers_the_sdk_layer() -> None:
    assert {"device.py", "call.py", "tabs.py", "preflight.py", "device_calls.py"} <= set(_DOOR_MODULES)


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


# ---------------------------------------------------------------------------------------- import cycles
# The whole package (the SDK that browsers unpack and the server-side distribution's sandbox/, server/ and
# testing/) forms an acyclic import graph, counting imports made only for type checking too: a module's
# door (a Protocol) lives with the module that needs it, never with the one that implements it. The graph
# is read from the sources with ``ast``; an import of a submodule counts, the implicit import of its
# parent packages does not (Python initialises those first, whatever the order).
_SERVER_SIDE = ("twochat_voice_web.sandbox", "twochat_voice_web.server", "twochat_voice_web.testing")


def _module_names(src: Path) -> dict[str, Path]:
    names: dict[str, Path] = {}
    for path in src.rglob("*.py"):
        parts = list(path.relative_to(src.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        names[".".join(parts)] = path
    return names


def _import_graph(src: Path) -> dict[str, set[str]]:
    """Module → the package modules it imports anywhere (top level, functions, ``TYPE_CHECKING``)."""
    names = _module_names(src)
    top = src.name

    def resolve(name: str) -> str | None:
        while name and name not in names:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in names}
    for name, path in names.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parts = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parts, base] if base else parts)
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in names else base
                           for alias in node.names]
            for target in targets:
                module = resolve(target)
                if module is not None and module.split(".")[0] == top and module != name:
                    graph[name].add(module)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph[node]):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_the_package_imports_no_cycle_even_for_types() -> None:
    """Every module of ``twochat_voice_web``, sandbox, backend helper and pytest plugin included."""
    graph = _import_graph(SRC)
    assert any(name.startswith(_SERVER_SIDE) for name in graph)  # the server side is in the graph
    assert _cycles(graph) == []


def test_the_browser_wheels_modules_import_nothing_of_the_server_side() -> None:
    """The SDK wheel does not carry sandbox/, server/ or testing/: no SDK module may import them, even
    for types (a type-only import would still tie the SDK's types to the server-side distribution)."""
    graph = _import_graph(SRC)
    reaches = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if not name.startswith(_SERVER_SIDE)
        for target in targets
        if target.startswith(_SERVER_SIDE)
    )
    assert reaches == []


def test_the_cycle_check_sees_a_type_only_cycle(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "a.py").write_text("from .b import B\n")
    (package / "b.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg.a import A\nclass B: ...\n"
    )
    (package / "c.py").write_text("from . import a\n")
    assert _cycles(_import_graph(package)) == [["pkg.a", "pkg.b"]]


def test_the_cycle_check_follows_subpackages_and_function_level_imports(tmp_path: Path) -> None:
    """A cycle that runs through a subpackage (``from ..x``, ``from . import y``) and through an import
    inside a function, the shapes of the sandbox's modules, is seen; a parent package's ``__init__`` is
    not made a dependency of its submodules."""
    package = tmp_path / "pkg"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("from .sub import server\n")
    (package / "tasks.py").write_text("def spawn() -> None: ...\n")
    (package / "sub" / "__init__.py").write_text("")
    (package / "sub" / "server.py").write_text("from . import agent\nfrom ..tasks import spawn\n")
    (package / "sub" / "agent.py").write_text(
        "def hub() -> object:\n    from pkg.sub.server import spawn\n    return spawn\n"
    )
    assert _cycles(_import_graph(package)) == [["pkg.sub.agent", "pkg.sub.server"]]
    (package / "sub" / "agent.py").write_text("from ..tasks import spawn\n")
    assert _cycles(_import_graph(package)) == []


def test_test_modules_have_unique_names() -> None:
    """pytest imports test modules by basename (rootdir mode, no packages): two ``test_x.py`` in different
    folders make the whole run stop at collection."""
    seen: dict[str, Path] = {}
    clashes = []
    for path in sorted((ROOT / "tests").rglob("test_*.py")):
        if path.name in seen:
            clashes.append(f"{seen[path.name].relative_to(ROOT)} ~ {path.relative_to(ROOT)}")
        seen.setdefault(path.name, path)
    assert clashes == []
