"""The packaging split (#15 item 4): the browser wheel is the SDK only; the server side is its own wheel.

Expectations come from the wheels' own archives and metadata (PEP 427 RECORD, entry_points.txt), built
by build.py exactly as shipped.
"""

from __future__ import annotations

import re
import tomllib
import zipfile
from pathlib import Path

import pytest

from browser.harness import REPO_ROOT, load_build_module

SERVER_SIDE = ("twochat_voice_web/sandbox/", "twochat_voice_web/server/", "twochat_voice_web/testing/")


@pytest.fixture(scope="module")
def wheels() -> dict[str, Path]:
    build = load_build_module()
    with build.build_lock():
        sdk, server_side = build.build_wheel(), build.build_sandbox_wheel()
    return {"sdk": Path(sdk), "sandbox": Path(server_side)}


def members(wheel: Path) -> list[str]:
    with zipfile.ZipFile(wheel) as archive:
        return archive.namelist()


def metadata(wheel: Path, name: str) -> str:
    with zipfile.ZipFile(wheel) as archive:
        found = [member for member in archive.namelist() if member.endswith(".dist-info/" + name)]
        assert len(found) == 1, found
        return archive.read(found[0]).decode()


def test_the_browser_wheel_holds_no_sandbox_server_or_testing_file(wheels):
    names = members(wheels["sdk"])
    assert not [name for name in names if name.startswith(SERVER_SIDE)]
    assert "twochat_voice_web/__init__.py" in names
    assert "twochat_voice_web/sip/auth.py" in names
    requires = [line for line in metadata(wheels["sdk"], "METADATA").splitlines()
                if line.startswith("Requires-Dist") and "extra ==" not in line]
    assert requires == []  # pure Python, standard library only
    assert "pytest11" not in "\n".join(members(wheels["sdk"]))


def test_the_site_serves_the_sdk_wheel_only(wheels):
    staged = sorted((REPO_ROOT / "dist" / "site" / "wheels").rglob("twochat_voice_web*.whl"))
    assert [path.name for path in staged] == [wheels["sdk"].name]
    assert staged[0].read_bytes() == wheels["sdk"].read_bytes()


def test_the_server_side_wheel_holds_the_sandbox_the_helper_and_the_plugin_only(wheels):
    names = [name for name in members(wheels["sandbox"]) if not name.startswith("twochat_voice_web_sandbox-")]
    assert names, "empty wheel"
    assert [name for name in names if not name.startswith(SERVER_SIDE)] == []
    for required in ("twochat_voice_web/sandbox/__main__.py", "twochat_voice_web/server/__init__.py",
                     "twochat_voice_web/testing/plugin.py"):
        assert required in names
    # Together the two wheels carry every module of the source tree, none twice.
    source = sorted(
        path.relative_to(REPO_ROOT / "src").as_posix()
        for path in (REPO_ROOT / "src" / "twochat_voice_web").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    )
    sdk_names = [n for n in members(wheels["sdk"]) if n.startswith("twochat_voice_web/")]
    assert sorted(sdk_names + names) == source


def test_the_server_side_wheel_registers_the_plugin_and_pins_the_sdk_of_its_release(wheels):
    entry_points = metadata(wheels["sandbox"], "entry_points.txt")
    assert re.search(r"^\[pytest11\]\s*\ntwochat = twochat_voice_web\.testing\.plugin$", entry_points, re.M)
    version = load_build_module().package_version()
    requires = [line.split(":", 1)[1].strip() for line in metadata(wheels["sandbox"], "METADATA").splitlines()
                if line.startswith("Requires-Dist:")]
    assert f"twochat-voice-web=={version}" in requires
    assert {re.split(r"[=<>\[ ;]", r, maxsplit=1)[0] for r in requires} >= {"aiohttp", "aiortc", "pyjwt"}
    project = tomllib.loads((REPO_ROOT / "twochat-voice-web-sandbox" / "pyproject.toml").read_text())
    assert f"twochat-voice-web=={version}" in project["project"]["dependencies"]


def test_the_editable_install_gives_the_tests_the_sandbox_and_the_plugin(pytestconfig):
    import twochat_voice_web.sandbox
    import twochat_voice_web.testing.plugin

    assert Path(twochat_voice_web.sandbox.__file__).is_relative_to(REPO_ROOT / "src")
    plugin = pytestconfig.pluginmanager.get_plugin("twochat")
    assert plugin is twochat_voice_web.testing.plugin  # loaded through the pytest11 entry point
