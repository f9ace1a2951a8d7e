"""Shared test set-up: the built site, the sandbox process, Chromium and guarded Playwright pages.

Fixtures for everyone (each has a docstring; `pytest --fixtures tests/browser` lists them):

=====================  =========  ================================================================
fixture                scope      what it gives
=====================  =========  ================================================================
built_site             session    dist/site + dist/test-assets built once (incremental build.py steps)
sandbox                session    the plugin's twochat_sandbox (twochat_voice_web.testing) with /test
                                  mounted, as a Sandbox: url, ws_url, api_key, pid, users, ready, log_path
mint_token             session    callable(user=None, *, ttl=None, label=None) -> JWT via REST
chromium_executable    session    path of the Chromium used (the plugin's twochat_chromium_executable;
                                  skips when none; CI turns that into a failure)
chromium_launch_options session   kwargs for chromium.launch / launch_persistent_context (the plugin's
                                  twochat_chromium_args)
browser_type_launch_args, browser_context_args   pytest-playwright's, with our Chromium, flags,
                                  microphone permission, base_url = sandbox.url, https errors ignored
page_guard             function   PageGuard on the test's `context`: page errors and non-loopback
                                  requests fail the test (allow_page_error(regex) for provoked ones)
page                   function   pytest-playwright's page, guarded
open_sdk_page          function   callable(path="/index.html", *, page=None, timeout_ms=120000) -> Page,
                                  navigated and waited until Python + SDK announced readiness
sdk_page               function   the demo page (index.html) ready; window.twochat holds versions
persistent_profile     function   an on-disk Chromium profile (disk HTTP cache + wasm code cache) for
                                  warm-cache runs: .launch() -> guarded BrowserContext, again = warm
=====================  =========  ================================================================

Markers: tests under tests/browser/ or using Playwright (any fixture leading to ``playwright``) get
``browser``; tests under
tests/interop/ get ``interop``. With ``CI=true`` a browser or interop test that skips (or a module
there that skips at collection) is reported as a failure: CI must not pass with those suites gone.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from asyncio import events as asyncio_events
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parent

# Network rule of the machines the tests run on: outside a network namespace that a test makes itself,
# media goes to 127.0.0.1 only, never to this machine's other addresses. Every sandbox the suite starts
# (in this process or as a child, which inherits the variable) therefore runs its media loopback-only;
# the real-browser tier (tests/realbrowser) passes --media-addresses host inside its own namespace.
os.environ["TWOCHAT_SANDBOX_MEDIA_ADDRESSES"] = "loopback"
if str(TESTS_DIR) not in sys.path:
    sys.path.insert(0, str(TESTS_DIR))

from playwright.sync_api import BrowserContext, Page, Playwright  # noqa: E402

from browser.harness import (  # noqa: E402
    BuiltSite,
    PageGuard,
    PersistentProfile,
    Sandbox,
    load_build_module,
    wait_for_sdk_ready,
)
from browser.harness import mint_token as harness_mint_token  # noqa: E402
from twochat_voice_web.testing import TwoChatSandbox  # noqa: E402

# tests/pyodide/selftest is a fixture suite of the in-Pyodide runner (run through tests/pyodide/runner.py).
collect_ignore = ["pyodide/selftest"]

IN_CI = os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")
BROWSER_FIXTURES = frozenset({
    "page", "context", "new_context", "browser", "page_guard", "sdk_page", "open_sdk_page",
    "persistent_profile", "twochat_page",
})
GUARDS_KEY = pytest.StashKey[list[PageGuard]]()


# --------------------------------------------------------------------------------------------------
# markers, and "a skipped browser/interop test fails CI"


def _suite_marker(path: Path) -> str | None:
    """``browser`` or ``interop`` for files in those test folders, else None."""
    try:
        relative = path.resolve().relative_to(TESTS_DIR)
    except ValueError:
        return None
    top = relative.parts[0] if relative.parts else ""
    return {"browser": "browser", "realbrowser": "browser", "interop": "interop"}.get(top)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark browser/interop tests (before ``-m`` selection runs)."""
    for item in items:
        marker = _suite_marker(item.path)
        if marker is not None:
            item.add_marker(marker)
        if _drives_playwright(item):
            item.add_marker("browser")


class _BrowserTestsLast:
    """Runs every test that drives Playwright after all the others (stable otherwise).

    The sync Playwright API keeps an asyncio loop "running" in the main thread from the first
    browser test to the end of the session (see _without_playwright_loop); running the browser tests
    last means no other test ever runs next to it. ``trylast``: after pytest's own fixture-based
    reordering.
    """

    @pytest.hookimpl(trylast=True)
    def pytest_collection_modifyitems(self, items: list[pytest.Item]) -> None:
        """Stable partition: tests without Playwright first."""
        items[:] = [item for item in items if not _drives_playwright(item)] + [
            item for item in items if _drives_playwright(item)
        ]


def pytest_configure(config: pytest.Config) -> None:
    """Register the ordering plugin."""
    config.pluginmanager.register(_BrowserTestsLast(), "twochat-browser-tests-last")


def _drives_playwright(item: pytest.Item) -> bool:
    """Whether the test (through any fixture, transitively) uses Playwright."""
    names = set(getattr(item, "fixturenames", ()))
    return "playwright" in names or bool(BROWSER_FIXTURES & names)


def _must_not_skip(item: pytest.Item) -> bool:
    return IN_CI and any(item.get_closest_marker(name) for name in ("browser", "interop"))


@pytest.hookimpl(wrapper=True)
def pytest_make_collect_report(
    collector: pytest.Collector,
) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
    """Under CI, a browser/interop module that skips at collection is a failure."""
    report = yield
    if IN_CI and report.skipped and _suite_marker(Path(str(collector.path))) is not None:
        report.outcome = "failed"
        report.longrepr = f"CI=true: this browser/interop module skipped at collection: {report.longrepr}"
    return report


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Fail a test whose page guards saw problems; under CI, fail browser/interop tests that skip."""
    report = yield
    if report.skipped and not hasattr(report, "wasxfail") and _must_not_skip(item):
        report.outcome = "failed"
        report.longrepr = f"CI=true: a browser/interop test may not skip: {report.longrepr}"
    if call.when == "call":
        guards = item.stash.get(GUARDS_KEY, [])
        problems = [problem for guard in guards for problem in guard.problems()]
        for guard in guards:
            guard.reported = len(guard.problems())
        if problems:
            text = guards[0].report(problems)
            if report.passed:
                report.outcome = "failed"
                report.longrepr = "page guard: " + text
            else:
                report.sections.append(("page guard", text))
    return report


@contextlib.contextmanager
def _without_playwright_loop(item: pytest.Item) -> Iterator[None]:
    """Hide Playwright's suspended event loop from a test that does not drive a browser.

    The sync Playwright API (session-scoped in pytest-playwright) runs an asyncio loop in a greenlet
    of the main thread, so once any browser test has run the thread *has* a running loop and every
    later ``asyncio.run()`` raises "cannot be called from a running event loop". Tests without
    fixtures that lead to ``playwright`` never switch into that greenlet, so for them the marker is
    cleared and restored.
    """
    if _drives_playwright(item):
        yield
        return
    suspended = asyncio_events._get_running_loop()
    if suspended is None:
        yield
        return
    asyncio_events._set_running_loop(None)
    try:
        yield
    finally:
        asyncio_events._set_running_loop(suspended)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Run non-browser fixtures' set-up without Playwright's loop (see _without_playwright_loop)."""
    with _without_playwright_loop(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, None, None]:
    """Run non-browser tests without Playwright's loop (see _without_playwright_loop)."""
    with _without_playwright_loop(item):
        return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    """Run non-browser fixtures' teardown without Playwright's loop (see _without_playwright_loop)."""
    # Only when the next test is in the same module: at a module or session boundary, higher-scoped
    # fixtures (possibly Playwright's own) are finalized here and need the loop.
    same_module = nextitem is not None and nextitem.module is getattr(item, "module", None)  # type: ignore[attr-defined]
    with _without_playwright_loop(item) if same_module else contextlib.nullcontext():
        return (yield)


def _check_guard_at_teardown(guard: PageGuard) -> None:
    """Problems that arrived after the test body (closing pages...) fail at teardown."""
    late = guard.problems()[guard.reported :]
    guard.reported += len(late)
    if late:
        pytest.fail("page guard (after the test body): " + guard.report(late), pytrace=False)


# --------------------------------------------------------------------------------------------------
# the built site and the sandbox


@pytest.fixture(scope="session")
def built_site() -> BuiltSite:
    """dist/site and dist/test-assets, built once per session by build.py's own (incremental) steps.

    After ``python3 build.py test`` this is a quick up-to-date check; run alone it builds what is missing.
    """
    build = load_build_module()
    try:
        build.build_site()
        build.stage_test_assets()
    except build.BuildError as error:
        pytest.fail(f"building the site failed: {error}", pytrace=False)
    site = Path(build.SITE)
    info = json.loads((site / "build-info.json").read_text())
    return BuiltSite(site=site, test_assets=Path(build.TEST_ASSETS), info=info)


@pytest.fixture(scope="session")
def sandbox(built_site: BuiltSite, twochat_sandbox: TwoChatSandbox) -> Sandbox:
    """The running sandbox (the plugin's ``twochat_sandbox``, started after the site is built, with
    dist/test-assets mounted at ``/test/``): ``url`` (http://127.0.0.1:PORT), ``ws_url``, ``api_key``,
    ``pid``, ``users`` (``sandbox.user("alice")``), ``ready`` (the raw ready-file JSON), ``log_path``."""
    twochat_sandbox.mount("/test", built_site.test_assets)
    return Sandbox.from_plugin(twochat_sandbox)


@pytest.fixture(scope="session")
def mint_token(sandbox: Sandbox) -> Callable[..., str]:
    """``mint_token(user=None, *, ttl=None, label=None) -> str``: a JWT minted through the sandbox's
    REST API (``POST /sdk/voip/access-token`` with the API key), for a user name, uuid or SandboxUser
    (default: the first user). Errors raise SandboxError with the sandbox's message."""

    def mint(user: Any = None, *, ttl: int | None = None, label: str | None = None) -> str:
        return harness_mint_token(sandbox, user, ttl=ttl, label=label)

    return mint


# --------------------------------------------------------------------------------------------------
# Chromium and Playwright


@pytest.fixture(scope="session")
def chromium_executable(twochat_chromium_executable: str | None) -> str:
    """The Chromium binary (the plugin's choice: Playwright's own if installed, else Debian's); skips when
    there is none."""
    if twochat_chromium_executable is None:
        pytest.skip("no Chromium found (python3 build.py test installs Debian's chromium)")
    return twochat_chromium_executable


@pytest.fixture(scope="session")
def chromium_launch_options(
    pytestconfig: pytest.Config, chromium_executable: str, twochat_chromium_args: list[str]
) -> dict[str, Any]:
    """Keyword arguments for ``chromium.launch``/``launch_persistent_context``: our executable and the
    plugin's flags (fake audio devices, loopback WebRTC, no background networking, only loopback resolves)."""
    headed = bool(pytestconfig.getoption("--headed", default=False))
    args = list(twochat_chromium_args) if headed else ["--headless=new", *twochat_chromium_args]
    return {"executable_path": chromium_executable, "args": args, "headless": not headed}


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any], chromium_launch_options: dict[str, Any]
) -> dict[str, Any]:
    """pytest-playwright's launch arguments with our Chromium and flags."""
    return {**browser_type_launch_args, **chromium_launch_options}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any], sandbox: Sandbox) -> dict[str, Any]:
    """pytest-playwright's context arguments plus microphone permission, ``base_url`` = the sandbox
    (so ``page.goto("/index.html")`` works) and self-signed certificates accepted (wss tests)."""
    return {
        **browser_context_args,
        "base_url": sandbox.url,
        "permissions": ["microphone"],
        "ignore_https_errors": True,
    }


@pytest.fixture
def page_guard(context: BrowserContext, request: pytest.FixtureRequest) -> Iterator[PageGuard]:
    """Guards the test's browser context: any uncaught page error, crash, or request/WebSocket to a
    non-loopback address fails the test. ``page_guard.allow_page_error(regex)`` for provoked errors."""
    guard = PageGuard()
    guard.attach_context(context)
    request.node.stash.setdefault(GUARDS_KEY, []).append(guard)
    yield guard
    _check_guard_at_teardown(guard)


@pytest.fixture
def page(context: BrowserContext, page_guard: PageGuard) -> Page:
    """pytest-playwright's ``page``, guarded by ``page_guard``."""
    new_page = context.new_page()
    page_guard.attach_page(new_page)
    return new_page


@pytest.fixture
def open_sdk_page(page: Page) -> Callable[..., Page]:
    """``open_sdk_page(path="/index.html", *, page=None, timeout_ms=120000) -> Page``: navigate (the
    test's page by default) and wait until the page's Python and SDK announced readiness
    (``window.twochat.ready``); a start-up error fails with the page's message."""

    def open_page(path: str = "/index.html", *, page: Page = page, timeout_ms: float = 120_000) -> Page:
        page.goto(path)
        wait_for_sdk_ready(page, timeout_ms=timeout_ms)
        return page

    return open_page


@pytest.fixture
def sdk_page(open_sdk_page: Callable[..., Page]) -> Page:
    """The demo page (``/index.html``) with Python and the SDK ready. ``window.twochat`` holds
    ``python`` (sys.version), ``sdk`` (version), ``steps`` (start-up timings) and ``files``."""
    return open_sdk_page("/index.html")


@pytest.fixture
def persistent_profile(
    playwright: Playwright,
    chromium_launch_options: dict[str, Any],
    browser_context_args: dict[str, Any],
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> Iterator[PersistentProfile]:
    """An on-disk profile for cold/warm runs: ``ctx = persistent_profile.launch()`` (cold the first
    time), ``persistent_profile.close()``, ``launch()`` again = warm. Pages are guarded like ``page``."""
    context_args = {key: value for key, value in browser_context_args.items() if key != "record_video_dir"}
    guard = PageGuard()
    request.node.stash.setdefault(GUARDS_KEY, []).append(guard)
    directory = tmp_path / "profile"
    profile = PersistentProfile(playwright, chromium_launch_options, context_args, directory, guard)
    yield profile
    profile.close()
    _check_guard_at_teardown(guard)
