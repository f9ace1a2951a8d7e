"""Fixtures of the real-browser tier: a namespace, the sandbox in it, and Chromium / Firefox ESR in it.

The browsers run as a person runs them: Chromium without ``--allow-loopback-in-peer-connection`` and
Firefox ESR with its defaults, both with a fake microphone only. The sandbox runs with its default media
policy (``--media-addresses host``), which inside the namespace means 127.0.0.1, 198.51.100.1/.2 and
2001:db8:5118::1/::2 (see netns.py). Everything is started inside the namespace and stopped by PID.
"""

from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.harness import REPO_ROOT, BuiltSite, SandboxProcess, start_sandbox
from realbrowser.browser_driver import DRIVER_SCRIPT, BrowserDriver
from realbrowser.netns import NetworkNamespace, namespaces_supported

ENGINES = {
    "chromium": ("/usr/bin/chromium", "/usr/lib/chromium/chromium"),
    "firefox": ("/usr/bin/firefox-esr", "/usr/lib/firefox-esr/firefox-esr"),
}


def engine_executable(engine: str) -> str | None:
    """The engine's Debian binary, or None when it is not installed."""
    for candidate in ENGINES[engine]:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@pytest.fixture(scope="session")
def namespace() -> Iterator[NetworkNamespace]:
    """The run's own network namespace (removed at the end, with whatever still runs in it)."""
    reason = namespaces_supported()
    if reason is not None:
        pytest.skip(reason)
    if shutil.which("node") is None or not (REPO_ROOT / "node_modules" / "puppeteer-core").is_dir():
        pytest.skip("node and node_modules/puppeteer-core are needed (python3 build.py test installs them)")
    created = NetworkNamespace.create()
    try:
        yield created
    finally:
        created.remove()


@pytest.fixture(scope="session")
def ns_sandbox(
    namespace: NetworkNamespace, built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxProcess]:
    """The sandbox inside the namespace, with its default media policy (this machine's addresses)."""
    process = start_sandbox(
        site=built_site.site,
        run_dir=tmp_path_factory.mktemp("ns-sandbox"),
        extra_args=["--media-addresses", "host"],
        prefix=namespace.command([]),
        python=sys.executable,
    )
    try:
        assert process.info.ready.get("media_addresses") == "host", process.info.ready
        yield process
    finally:
        process.stop()


@pytest.fixture(scope="module", params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest) -> str:
    """The browser engine of the module's tests: ``chromium`` then ``firefox``."""
    return str(request.param)


@pytest.fixture(scope="module")
def driver(
    engine: str,
    namespace: NetworkNamespace,
    ns_sandbox: SandboxProcess,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[BrowserDriver]:
    """The engine launched inside the namespace through driver.mjs (puppeteer-core)."""
    executable = engine_executable(engine)
    if executable is None:
        pytest.skip(f"{engine} is not installed (python3 build.py test installs it from Debian)")
    log = tmp_path_factory.mktemp(f"driver-{engine}") / "driver.log"
    browser = BrowserDriver(namespace.command(["node", str(DRIVER_SCRIPT)]), cwd=REPO_ROOT, log_path=log)
    try:
        browser.launch(engine, executable, browser_log=log.with_name("browser.log"))
        yield browser
    finally:
        browser.close()


def sandbox_url(ns_sandbox: SandboxProcess) -> str:
    """The sandbox's base URL (valid inside the namespace)."""
    return str(ns_sandbox.info.url)


def ready_info(ns_sandbox: SandboxProcess) -> dict[str, Any]:
    """The sandbox's ready file."""
    return dict(ns_sandbox.info.ready)


def artifacts_dir() -> Path:
    """Where the tier writes what helps a failure be understood."""
    path = REPO_ROOT / "tests" / "artifacts" / "realbrowser"
    path.mkdir(parents=True, exist_ok=True)
    return path
