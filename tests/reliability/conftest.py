"""Fixtures of the reliability tests (issue 7): one restartable sandbox, one Chromium page, one interop stack.

=====================  =========  ================================================================
fixture                scope      what it gives
=====================  =========  ================================================================
rel_sandbox            session    a :class:`RestartableSandbox` (``--test-hooks``, ``--min-token-ttl 5``)
                                  serving dist/site and dist/test-assets; killed and restarted by the
                                  restart scenario, so every test reads its URL from it
rel_rest               session    :class:`SandboxRest` on it (mint, events, drop, inject, calls)
rel_context            session    a Chromium context (microphone allowed), guarded by a PageGuard
probe                  function   the shared SDK harness page with ``reliability_probe`` (loaded
                                  once); after the test every Device is destroyed and any page error
                                  or non-loopback request fails the test
interop_stack_rel      session    Kamailio + rtpengine + sipp (tests/interop/stack.py), our own
                                  instance (the restart scenarios restart its parts); skips when the
                                  binaries are missing (a failure under CI=true)
=====================  =========  ================================================================

Browser tests here must say ``pytestmark = pytest.mark.browser`` (they are outside tests/browser/); the
Playwright fixtures they use make tests/conftest.py run them after all other tests.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from browser.harness import BuiltSite, PageGuard

from .driver import PAGE_INSTRUMENTATION, Probe
from .restartable_sandbox import RestartableSandbox
from .scenarios import SandboxRest


@pytest.fixture(scope="session")
def rel_sandbox(
    built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RestartableSandbox]:
    """A sandbox that the restart scenario may SIGKILL and start again (same port, same secrets)."""
    sandbox = RestartableSandbox(
        tmp_path_factory.mktemp("rel-sandbox"),
        built_site.site,
        mounts={"/test": built_site.test_assets},
        args=["--test-hooks", "--min-token-ttl", "5"],
    )
    sandbox.start()
    yield sandbox
    sandbox.stop()


@pytest.fixture(scope="session")
def rel_rest(rel_sandbox: RestartableSandbox) -> SandboxRest:
    """REST helper on :func:`rel_sandbox`."""
    return SandboxRest(rel_sandbox)


class _GuardedContext:
    def __init__(self, context: BrowserContext, guard: PageGuard) -> None:
        self.context = context
        self.guard = guard


@pytest.fixture(scope="session")
def _rel_browser_context(browser: Browser) -> Iterator[_GuardedContext]:
    context = browser.new_context(permissions=["microphone"], ignore_https_errors=True)
    context.add_init_script(PAGE_INSTRUMENTATION)
    guard = PageGuard()
    guard.attach_context(context)
    yield _GuardedContext(context, guard)
    context.close()


@pytest.fixture(scope="session")
def rel_context(_rel_browser_context: _GuardedContext) -> BrowserContext:
    """The Chromium context of the reliability tests (microphone allowed, instrumented, guarded)."""
    return _rel_browser_context.context


@pytest.fixture(scope="session")
def _shared_probe(_rel_browser_context: _GuardedContext, rel_sandbox: RestartableSandbox) -> Probe:
    return Probe.open(_rel_browser_context.context, rel_sandbox.url)


@pytest.fixture
def probe(_shared_probe: Probe, _rel_browser_context: _GuardedContext) -> Iterator[Probe]:
    """The shared SDK page; cleaned (every Device destroyed) and checked (page guard) after the test."""
    guard = _rel_browser_context.guard
    before = len(guard.problems())
    yield _shared_probe
    _rel_browser_context.context.set_offline(False)
    _shared_probe.destroy_all()
    problems = guard.problems()[before:]
    if problems:
        pytest.fail("page guard: " + guard.report(problems), pytrace=False)


@pytest.fixture(scope="session")
def interop_stack_rel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """Kamailio + rtpengine + the sipp echo, our own instance (restarted by the scenarios)."""
    from interop.stack import InteropStack, MissingBinaryError, find_missing_binaries

    missing = find_missing_binaries()
    if missing:
        pytest.skip(f"the interop stack needs {', '.join(missing)} (installed by `python3 build.py test`)")
    try:
        stack = InteropStack(Path(tmp_path_factory.mktemp("rel-interop")))
    except MissingBinaryError as exc:
        pytest.skip(str(exc))
    stack.start()
    try:
        yield stack
    finally:
        stack.stop()
