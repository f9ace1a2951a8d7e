"""Fixtures of the interop tests: real Kamailio / rtpengine / sipp / baresip on 127.0.0.1, Chromium.

- Every test under tests/interop/ gets the ``interop`` marker (and a 180 s timeout unless it sets one).
- ``interop_stack`` (session): `stack.InteropStack`, started once, stopped at the end (by PID).
  Skips with a reason when a binary is missing (tests/conftest.py turns skips into failures in CI).
- ``interop_browser`` (session): Chromium launched with tests/conftest.py's ``chromium_launch_options``.
- ``interop_page_server`` (session): serves tests/pages at /test/pages/ and the JsSIP bundle at
  /test/vendor/jssip.min.js (the layout of dist/test-assets, mounted at /test by the sandbox).
- ``jssip_peer`` (function): factory ``jssip_peer(name) -> JsSipPeer`` (a fresh context and page each).
- ``sdk_page_server`` (session): serves the SDK harness page: /pyodide/ (dist/site), a snapshot of
  /build-info.json and our wheels (so a concurrent rebuild of dist/site cannot pull them away), and
  tests/pages at /test/pages/.
- ``sdk_page`` (module): one `sdk_peer.SdkPage` (Pyodide booted once per module, its own context and
  page guard); ``sdk`` (function): an `sdk_peer.InteropSdk` for one test: Devices registered with
  Kamailio through a credentials provider; at the end every Device is destroyed and no JS proxy or
  <audio> element may be left; page errors or non-loopback requests during the test fail it.
- When a test fails, its report gets the SIP ladder ("who said what", from Kamailio's sipdump), the
  SIP messages, every log line written during the test (Kamailio, rtpengine, sipp -trace_msg,
  baresip, tcpdump), the JsSIP peers' event logs, and our SDK's event log and console output.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from browser.harness import BuiltSite

from .jssip_peer import JsSipPeer
from .sdk_peer import InteropSdk, SdkPage
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
_SDK_KEY = pytest.StashKey[InteropSdk]()
_ACTIVE: dict[str, InteropStack] = {}
_BROWSER_FIXTURES = frozenset(
    {"interop_browser", "jssip_peer", "jssip_page_url", "playwright", "sdk", "sdk_page"}
)


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
    """On failure, attach the SIP ladder, SIP messages, component logs, JsSIP and SDK event logs.

    A test that drove our SDK also fails when its page had errors or left loopback meanwhile, or when
    the SDK emitted an ``error`` event the test did not allow (`InteropSdk.allow_error`).
    """
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    sdk = item.stash.get(_SDK_KEY, None)
    if sdk is not None and call.when == "call":
        problems = [f"page guard of the SDK page: {problem}" for problem in sdk.new_guard_problems()]
        try:
            problems += sdk.unexpected_errors()
        except Exception as exc:  # the page is gone: the test's own failure says more
            problems.append(f"could not read the SDK's events: {exc!r}")
        if problems:
            text = "\n".join(problems)
            if report.passed:
                report.outcome = "failed"
                report.longrepr = text
            else:
                report.sections.append(("interop: SDK problems", text))
    if not report.failed or not _is_interop(item):
        return
    stack = _ACTIVE.get("stack")
    if stack is not None:
        try:
            for title, text in stack.failure_sections(item.stash.get(_MARK_KEY, None)):
                report.sections.append((f"interop: {title}", text))
        except Exception as exc:  # a broken report must not hide the failure itself
            report.sections.append(("interop: report error", repr(exc)))
        try:  # the relay's own view of each live call: peers, packet and byte counters per stream
            for call_id in stack.rtpengine.call_ids():
                reply = stack.rtpengine.command({"command": "query", "call-id": call_id})
                report.sections.append(
                    (f"interop: rtpengine query {call_id}", json.dumps(reply, indent=1, default=repr))
                )
        except Exception as exc:
            report.sections.append(("interop: rtpengine query error", repr(exc)))
    for peer in item.stash.get(_PEERS_KEY, []):
        try:
            report.sections.append((f"interop: JsSIP peer {peer.name} events", peer.event_log()))
        except Exception as exc:
            report.sections.append((f"interop: JsSIP peer {peer.name} events", f"(page gone: {exc!r})"))
    if sdk is not None:
        report.sections.append(("interop: our SDK's events", sdk.event_log()))
        report.sections.append(("interop: our SDK page's console", sdk.console_log()))


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


#: Chromium's flag for a loopback ICE candidate, which the interop browser does without inside the test
#: namespace. There the browser's host candidates are 127.0.0.1 (with this flag) and 203.0.113.1/.2 (the
#: veth pair), and all reach rtpengine on 127.0.0.1. Chromium ranks pairs by network cost before
#: priority: it nominates the loopback pair first (highest priority), then switches to a veth pair
#: (loopback carries network-cost 50, the veth none) and nominates that too; rtpengine, as RFC 8445 asks of
#: a controlled agent, keeps the highest-priority nominated pair, the loopback one (its log: "pair B has
#: been nominated by peer", then "ICE completed, using pair A"). Media to the browser then travels on a
#: connection Chromium no longer selects: in ~1 of 6 full runs the browser heard 6 packets of baresip's
#: tone, then nothing. Without the loopback candidate every candidate has the same cost, both ends rank
#: the pairs by priority alone and agree (test_stack_smoke checks it on every call it makes). Outside the
#: namespace the other candidates would be this machine's own addresses, which tests must not send to, so
#: the flag stays there.
LOOPBACK_CANDIDATES_ARG = "--allow-loopback-in-peer-connection"


@pytest.fixture(scope="session")
def interop_browser(playwright: Any, chromium_launch_options: dict[str, Any]) -> Iterator[Any]:
    """A Chromium of its own for the interop pages (the project's flags: fake media, loopback ICE,
    self-signed certificates accepted, only loopback names resolve), shared by the session.

    Inside the test run's namespace it offers no loopback candidate (:data:`LOOPBACK_CANDIDATES_ARG`)."""
    options = dict(chromium_launch_options)
    if os.environ.get("TWOCHAT_TEST_NETNS"):
        options["args"] = [arg for arg in options["args"] if arg != LOOPBACK_CANDIDATES_ARG]
    browser = playwright.chromium.launch(**options)
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


# ---------------------------------------------------------------------------- our SDK


def _snapshot_site(site: Path, folder: Path) -> Path:
    """Copy build-info.json and the wheels it names into ``folder`` (retrying while a concurrent
    build swaps them); the copy of build-info.json."""
    problem = ""
    for _ in range(20):
        info_text = (site / "build-info.json").read_text()
        wheels = json.loads(info_text).get("wheels", [])
        try:
            for wheel in wheels:
                target = folder / wheel
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(site / wheel, target)
        except OSError as exc:
            problem = str(exc)
            time.sleep(0.5)
            continue
        if (site / "build-info.json").read_text() == info_text:
            (folder / "build-info.json").write_text(info_text)
            return folder / "build-info.json"
        problem = "build-info.json changed while copying"
    pytest.fail(f"could not snapshot the built site {site}: {problem}", pytrace=False)


@pytest.fixture(scope="session")
def sdk_page_server(
    built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[StaticServer]:
    """Static server for tests/pages/sdk_harness.html: /pyodide/ from dist/site, a snapshot of
    /build-info.json and /wheels/ (taken once per session), /test/pages/ from tests/pages."""
    snapshot = tmp_path_factory.mktemp("sdk-site")
    info = _snapshot_site(built_site.site, snapshot)
    server = StaticServer(
        {
            "/pyodide": built_site.site / "pyodide",
            "/build-info.json": info,
            "/wheels": snapshot / "wheels",
            "/test/pages": PAGES_DIR,
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def sdk_page(interop_browser: Any, sdk_page_server: StaticServer) -> Iterator[SdkPage]:
    """The SDK harness page for one test module: a fresh browser context (microphone allowed,
    self-signed certificates accepted) with a page guard; Pyodide and our wheel loaded."""
    context = interop_browser.new_context(ignore_https_errors=True, permissions=["microphone"])
    try:
        page = SdkPage(context, f"{sdk_page_server.url}/test/pages/sdk_harness.html")
    except BaseException:
        context.close()
        raise
    try:
        yield page
    finally:
        page.close()


@pytest.fixture
def sdk(
    request: pytest.FixtureRequest, sdk_page: SdkPage, interop_stack: InteropStack
) -> Iterator[InteropSdk]:
    """Our SDK for one test (`InteropSdk` on the module's page). At the end every Device it created is
    destroyed; live JS proxies, <audio> elements or page problems left behind fail the test."""
    sdk_page.ensure_ready()
    driver = InteropSdk(sdk_page, interop_stack, request.node.name)
    request.node.stash[_SDK_KEY] = driver
    yield driver
    leaks = driver.finish()
    late = driver.new_guard_problems()
    if leaks or late:
        pytest.fail("after the test: " + "; ".join([*leaks, *late]), pytrace=False)
