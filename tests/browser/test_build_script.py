"""build.py's building blocks: incremental copying, reproducible zips, pins, the PyScript config."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from io import BytesIO
from pathlib import Path
from types import ModuleType

import pytest

from browser.harness import REPO_ROOT, BuiltSite, load_build_module


@pytest.fixture(scope="module")
def build() -> ModuleType:
    return load_build_module()


def test_sync_tree_copies_only_what_changed_and_removes_the_rest(build: ModuleType, tmp_path: Path) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "a.txt").write_text("a")
    (source / "b.txt").write_text("b")
    target = tmp_path / "target"
    (target / "old").mkdir(parents=True)
    (target / "old" / "stale.txt").write_text("stale")
    plan = {"a.txt": source / "a.txt", "sub/b.txt": source / "b.txt", "generated.json": b"{}"}
    assert build.sync_tree(target, plan) == (3, 0, 1)
    assert build.sync_tree(target, plan) == (0, 3, 0)
    assert not (target / "old").exists()
    assert (target / "sub" / "b.txt").read_text() == "b"
    (source / "a.txt").write_text("changed")
    assert build.sync_tree(target, {**plan, "generated.json": b"{ }"}) == (2, 1, 0)
    assert (target / "a.txt").read_text() == "changed"
    assert not list(target.rglob("*.tmp"))


def test_deterministic_zip_is_reproducible(build: ModuleType, tmp_path: Path) -> None:
    (tmp_path / "t.py").write_text("x = 1\n")
    first = build.deterministic_zip({"tests/unit/t.py": tmp_path / "t.py"})
    (tmp_path / "t.py").touch()
    assert build.deterministic_zip({"tests/unit/t.py": tmp_path / "t.py"}) == first
    assert zipfile.ZipFile(BytesIO(first)).read("tests/unit/t.py") == b"x = 1\n"


def test_requirement_pins_are_exact(build: ModuleType, tmp_path: Path) -> None:
    pins = build.pinned_requirements(REPO_ROOT / "requirements" / "pyodide-test-wheels.txt")
    assert ("pytest", "9.2.0") in pins
    loose = tmp_path / "loose.txt"
    loose.write_text("pytest>=9\n")
    with pytest.raises(build.BuildError, match="not an exact pin"):
        build.pinned_requirements(loose)


def test_pyscript_configs_point_at_local_files_only(build: ModuleType, built_site: BuiltSite) -> None:
    config = build.pyscript_config()
    # PyScript resolves "interpreter" against the page: a path from the site's root serves every folder.
    assert config == {"interpreter": "/scripts/twochat-pyodide.mjs"}
    assert (built_site.site / config["interpreter"].lstrip("/")).is_file()
    assert json.loads((built_site.site / "pyscript.json").read_text()) == config
    demo = build.demo_pyscript_config()
    assert json.loads((built_site.site / "app" / "pyscript.json").read_text()) == demo
    assert demo["interpreter"] == config["interpreter"]
    # The demo's modules as bytecode, unpacked by PyScript into ./app/ (sources resolved against the config).
    assert demo["files"] == {"./app.zip": "./app/*"}
    with zipfile.ZipFile(built_site.site / "app" / "app.zip") as archive:
        compiled = set(archive.namelist())
    modules = {path.stem for path in (REPO_ROOT / "www" / "app").glob("*.py")}
    assert compiled == {f"{module}.pyc" for module in modules}
    assert "packages" not in config and "packages" not in demo


def test_our_wheel_url_carries_a_content_hash(built_site: BuiltSite) -> None:
    sdk_wheel = built_site.info["wheels"][0]
    directory, name = sdk_wheel.split("/")[1:]
    assert name.startswith("twochat_voice_web-")
    assert name.endswith("-py3-none-any.whl")
    assert len(directory) == 16
    assert (built_site.site / sdk_wheel).is_file()


def test_facade_formats_are_staged(build: ModuleType, built_site: BuiltSite, tmp_path: Path) -> None:
    """The JS facade's three files: the module as written, its classic-script build, the declarations."""
    site = built_site.site
    for name in ("twochat-voice.js", "twochat-voice.d.ts"):
        assert (site / name).read_bytes() == (REPO_ROOT / "www" / name).read_bytes(), name
    classic = (site / "twochat-voice.global.js").read_text()
    assert "import.meta" not in classic and "document.currentScript" in classic
    # A classic script: an import or export statement would not parse as CommonJS (node --check of .cjs).
    copy = tmp_path / "twochat-voice.global.cjs"
    copy.write_text(classic)
    checked = subprocess.run(["node", "--check", str(copy)], capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stderr
    # Incremental: unchanged sources, no esbuild run (the cached file is not rewritten).
    cached = build.build_facade_classic()
    before = cached.stat().st_mtime_ns
    assert build.build_facade_classic() == cached and cached.stat().st_mtime_ns == before
    assert cached.read_text() == classic


def test_cli_help_and_unknown_command() -> None:
    def build_py(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "build.py", *args], cwd=REPO_ROOT, capture_output=True, text=True, check=False
        )

    helped = build_py("--help")
    assert helped.returncode == 0
    assert "python3 build.py test" in helped.stdout
    unknown = build_py("nonsense")
    assert unknown.returncode == 2
    assert "unknown command 'nonsense'" in unknown.stdout
