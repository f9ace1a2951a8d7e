"""Fixtures of the interop tests: real Kamailio / rtpengine / sipp / baresip on 127.0.0.1, Chromium.

- Every test under tests/interop/ gets the ``interop`` marker (and a 180 s timeout unless it sets one).
- ``interop_stack`` (session): `stack.InteropStack`, started once, stopped at the end (by PID).
  Skips with a reason when a binary is missing (tests/conftest.py turns skips into failures in CI).
- ``interop_browser`` (session): Chromium launched with tests/conftest.py's ``chromium_launch_options``.
- ``interop_page_server`` (session): serves tests/pages at /test/pages/ and the JsSIP bundle at
  /test/vendor/jssip.min.js (the layout of dist/test-assets, mounted at /test by the sandbox).
- ``jssip_peer`` (function): factory ``jssip_peer(name) -> JsSipPeer`` (a fresh context and page each).
- When a test fails, its report gets the SIP ladder ("who said what", from Kamailio's sipdump), the
  SIP messages, every log line written during the test (Kamailio, rtpengine, sipp -trace_msg,
  baresip, tcpdump) and the JsSIP peers' event logs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .jssip_peer import JsSipPeer
from .stack import InteropStack, LogMark, MissingBinaryError, StaticServer, find_missing_binaries

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
PAGES_DIR = REPO / "tests" / "pages"
JSSIP_BUNDLE_CANDIDATES = (
    REPO / "dist" / "test-assets" / "vendor" / "jssip.min.js",
    REPO / "dist" / "jssip" / "jssip.min.js",
)

_MARK_KEY = pytest.StashKey[LogMark | None]()
_PEERS_KEY = pytest.StashKey[list[JsSipPeer]]()
_ACTIVE: dict[str, InteropStack] = {}
_BROWSER_FIXTURES = frozenset({"interop_browser", "jssip_peer", "jssip_page_url", "playwright"})


def _is_interop(item: pytest.Item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark every test of this folder ``interop`` (and ``browser`` when it drives Chromium) and give
    it a timeout unless it has one."""
    for item in items:
        if _is_interop(item):
            item.add_marker(pytest.mark.interop)
            if item.get_closest_marker("timeout") is None:
                item.add_marker(pytest.mark.timeout(180))
            if _BROWSER_FIXTURES & set(getattr(item, "fixturenames", ())):
                # tests/conftest.py leaves Playwright's event loop alone only for "browser" tests
                item.add_marker(pytest.mark.browser)


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    """Remember where the stack's logs end, so a failure quotes only this test's part."""
    if _is_interop(item):
        stack = _ACTIVE.get("stack")
        item.stash[_MARK_KEY] = stack.log_mark() if stack is not None else None


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    """On failure, attach the SIP ladder, SIP messages, component logs and JsSIP event logs."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    if not report.failed or not _is_interop(item):
        return
    stack = _ACTIVE.get("stack")
    if stack is not None:
        try:
            for title, text in stack.failure_sections(item.stash.get(_MARK_KEY, None)):
                report.sections.append((f"interop: {title}", text))
        except Exception as exc:  # a broken report must not hide the failure itself
            report.sections.append(("interop: report error", repr(exc)))
    for peer in item.stash.get(_PEERS_KEY, []):
        try:
            report.sections.append((f"interop: JsSIP peer {peer.name} events", peer.event_log()))
        except Exception as exc:
            report.sections.append((f"interop: JsSIP peer {peer.name} events", f"(page gone: {exc!r})"))


# ---------------------------------------------------------------------------- stack


@pytest.fixture(scope="session")
def interop_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[InteropStack]:
    """Kamailio + rtpengine + the sipp echo callee, started once per session (others on demand)."""
    missing = find_missing_binaries()
    if missing:
        pytest.skip(f"interop stack needs {', '.join(missing)} (installed by `python3 build.py test`)")
    try:
        stack = InteropStack(tmp_path_factory.mktemp("interop-stack"))
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    stack.start()
    _ACTIVE["stack"] = stack
    try:
        yield stack
    finally:
        _ACTIVE.pop("stack", None)
        stack.stop()


# ---------------------------------------------------------------------------- browser side


def _find_jssip_bundle() -> Path | None:
    configured = os.environ.get("TWOCHAT_JSSIP_BUNDLE")
    if configured:
        return Path(configured) if Path(configured).is_file() else None
    return next((p for p in JSSIP_BUNDLE_CANDIDATES if p.is_file()), None)


@pytest.fixture(scope="session")
def jssip_bundle() -> Path:
    """The JsSIP browser bundle (dist/test-assets/vendor/jssip.min.js, or $TWOCHAT_JSSIP_BUNDLE)."""
    bundle = _find_jssip_bundle()
    if bundle is None:
        pytest.skip(
            "JsSIP bundle missing: build dist/test-assets/vendor/jssip.min.js "
            "(`python3 build.py`) or set TWOCHAT_JSSIP_BUNDLE"
        )
    return bundle


@pytest.fixture(scope="session")
def interop_page_server() -> Iterator[StaticServer]:
    """Static server on 127.0.0.1: /test/pages/ (tests/pages) and /test/vendor/jssip.min.js."""
    mounts: dict[str, Path] = {"/test/pages": PAGES_DIR}
    bundle = _find_jssip_bundle()
    if bundle is not None:
        mounts["/test/vendor/jssip.min.js"] = bundle
    server = StaticServer(mounts)
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def jssip_page_url(interop_page_server: StaticServer, jssip_bundle: Path) -> str:
    """URL of tests/pages/jssip-peer.html (with its JsSIP bundle)."""
    return f"{interop_page_server.url}/test/pages/jssip-peer.html"


@pytest.fixture(scope="session")
def interop_browser(playwright: Any, chromium_launch_options: dict[str, Any]) -> Iterator[Any]:
    """A Chromium of its own for the interop pages (the project's flags: fake media, loopback ICE,
    self-signed certificates accepted, only loopback names resolve), shared by the session."""
    browser = playwright.chromium.launch(**chromium_launch_options)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def jssip_peer(
    request: pytest.FixtureRequest, interop_browser: Any, jssip_page_url: str
) -> Iterator[Callable[[str], JsSipPeer]]:
    """Factory: ``jssip_peer("alice")`` opens a fresh browser context with the JsSIP peer page."""
    contexts: list[Any] = []
    peers: list[JsSipPeer] = []
    request.node.stash[_PEERS_KEY] = peers

    def new_peer(name: str = "jssip") -> JsSipPeer:
        context = interop_browser.new_context(ignore_https_errors=True)
        contexts.append(context)
        page = context.new_page()
        page.goto(jssip_page_url)
        page.wait_for_function("window.PEER && PEER.events.length > 0")
        if not page.evaluate("PEER.ready"):
            raise AssertionError(f"JsSIP bundle did not load in {jssip_page_url}")
        peer = JsSipPeer(page, name)
        peers.append(peer)
        return peer

    yield new_peer
    for peer in peers:
        try:
            peer.page.evaluate("PEER.ua && PEER.stop()")
        except Exception:  # page may already be gone
            continue
    for context in contexts:
        context.close()
