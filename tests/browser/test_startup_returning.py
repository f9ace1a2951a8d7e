"""A returning visitor of a fast-start page (www/scripts/twochat-start.mjs, www/sw.js): functional checks.

- The first visit keeps a memory snapshot of the interpreter; the next visit (Chromium restarted on the
  same on-disk profile) starts from it, registers and calls; every restore draws new random numbers; a
  snapshot that cannot be loaded is dropped and Python starts normally; DOM setters work in the visit
  that made the snapshot (whose interpreter first saw JavaScript's globals through a recording proxy).
- The service worker serves the runtime of a second visit with the network for it cut off.

No timing is asserted (bench/bench_startup.py measures). The page is bench/pages/ours.html, served by a
sandbox of this module that also mounts bench/ at ``/bench``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright, Route

from browser.harness import REPO_ROOT, BuiltSite, PageGuard, SandboxProcess, start_sandbox

pytestmark = pytest.mark.timeout(300)

READY = "() => window.benchState && (window.benchState.ready || !!window.benchState.error)"
CALL = """
import asyncio
call = await device.connect("+15550100")
accepted = asyncio.get_event_loop().create_future()
call.on("accepted", lambda *_: accepted.done() or accepted.set_result(True))
call.on("failed", lambda *args: accepted.done() or accepted.set_exception(RuntimeError(repr(args))))
await asyncio.wait_for(accepted, 30)
await call.disconnect()
call.status
"""


@pytest.fixture(scope="module")
def fast_sandbox(built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A sandbox serving the site at ``/`` and bench/ at ``/bench`` (the fast-start page)."""
    process = start_sandbox(
        site=built_site.site,
        run_dir=tmp_path_factory.mktemp("returning-sandbox"),
        mounts={"/bench": REPO_ROOT / "bench"},
    )
    yield process
    process.stop()


class Visitor:
    """One on-disk Chromium profile; every :meth:`visit` restarts Chromium on it (a returning visitor)."""

    def __init__(
        self, playwright: Playwright, options: dict[str, Any], profile: Path, url: str, guard: PageGuard
    ) -> None:
        self.playwright = playwright
        self.options = options
        self.profile = profile
        self.url = url
        self.guard = guard
        self.context: BrowserContext | None = None

    def visit(self, query: str, *, block_runtime_network: bool = False) -> tuple[Page, dict[str, Any]]:
        """Start Chromium, open ours.html?driver=0&<query>, wait until registered; (page, benchState)."""
        self.close()
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.profile), **self.options, permissions=["microphone"]
        )
        self.guard.attach_context(self.context)
        if block_runtime_network:
            self.context.route("**/pyodide/**", lambda route: route.abort())
        page = self.context.pages[0] if self.context.pages else self.context.new_page()
        page.goto(f"{self.url}/bench/pages/ours.html?driver=0&{query}")
        page.wait_for_function(READY, timeout=120_000)
        state: dict[str, Any] = page.evaluate("() => JSON.parse(JSON.stringify(window.benchState))")
        assert state["error"] is None, state["error"]
        return page, state

    def close(self) -> None:
        """Close Chromium (the profile stays)."""
        if self.context is not None:
            self.context.close()
            self.context = None


@pytest.fixture
def visitor(
    playwright: Playwright,
    chromium_launch_options: dict[str, Any],
    fast_sandbox: SandboxProcess,
    tmp_path: Path,
) -> Iterator[Visitor]:
    """A returning visitor of the fast-start page; its pages must stay free of errors."""
    guard = PageGuard()
    guest = Visitor(playwright, chromium_launch_options, tmp_path / "profile", fast_sandbox.info.url, guard)
    yield guest
    guest.close()
    assert guard.problems() == [], guard.report(guard.problems())


def wait_snapshot_saved(page: Page) -> None:
    """The first visit stored its snapshot (Cache Storage)."""
    page.wait_for_function("() => window.benchState.snapshotSaved === true", timeout=60_000)


def python(page: Page, code: str) -> Any:
    """Run Python in the page (async allowed); its result."""
    return page.evaluate("(code) => window.pyodide.runPythonAsync(code)", code)


def test_a_returning_visitor_starts_from_the_snapshot_and_calls(visitor: Visitor) -> None:
    page, state = visitor.visit("sw=0")
    assert state["snapshot"] == "made"
    # The interpreter that made the snapshot gets the real globals back: a DOM setter works.
    title = python(page, "import js\njs.document.title = 'set from Python'\njs.document.title")
    assert title == "set from Python"
    wait_snapshot_saved(page)

    page, state = visitor.visit("sw=0")
    assert state["snapshot"] == "restored"
    assert python(page, "import sys\n'twochat_voice_web' in sys.modules") is True
    assert python(page, CALL) == "disconnected"
    first_draw = python(page, "import random\nrandom.random()")

    page, state = visitor.visit("sw=0")
    assert state["snapshot"] == "restored"
    assert python(page, "import random\nrandom.random()") != first_draw, "every restore must reseed random"


def test_a_snapshot_that_does_not_load_is_dropped(visitor: Visitor) -> None:
    page, state = visitor.visit("sw=0")
    wait_snapshot_saved(page)
    visitor.guard.console.clear()
    page.evaluate("""async () => {
        const cache = await caches.open("twochat-snapshots");
        for (const request of await cache.keys()) await cache.put(request, new Response(new Uint8Array(64)));
    }""")
    page, state = visitor.visit("sw=0")
    assert state["snapshot"] == "made", "a broken snapshot must not be used"
    assert any("did not load" in line for line in visitor.guard.console), visitor.guard.console
    assert python(page, CALL) == "disconnected"


def test_the_service_worker_serves_the_runtime_of_a_second_visit_without_network(visitor: Visitor) -> None:
    page, _ = visitor.visit("snapshot=0")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    cached = page.evaluate("""async () => {
        const cache = await caches.open("twochat-runtime-v1");
        return (await cache.keys()).map((request) => new URL(request.url).pathname);
    }""")
    assert "/pyodide/pyodide.asm.wasm" in cached
    assert any(path.startswith("/pyodide/twochat-stdlib-") for path in cached)
    assert any(path.startswith("/pyodide/twochat-sdk-") for path in cached)

    # Every request for the runtime that reaches the network now fails: only the worker can serve it.
    page, state = visitor.visit("snapshot=0", block_runtime_network=True)
    assert state["ready"] is True
    assert page.evaluate("() => !!navigator.serviceWorker.controller") is True
    wasm = page.evaluate("""() => performance.getEntriesByType("resource")
        .filter((entry) => entry.name.endsWith("/pyodide/pyodide.asm.wasm"))
        .map((entry) => entry.transferSize)""")
    assert wasm == [0]
    assert python(page, CALL) == "disconnected"


def test_the_service_worker_leaves_everything_else_to_the_network(visitor: Visitor) -> None:
    page, _ = visitor.visit("snapshot=0")
    page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
    page, _ = visitor.visit("snapshot=0")
    assert visitor.context is not None
    seen: list[str] = []

    def record(route: Route) -> None:
        seen.append(route.request.url)
        route.continue_()

    visitor.context.route("**/build-info.json", record)
    status = page.evaluate("async () => (await fetch('/build-info.json', {cache: 'no-store'})).status")
    assert status == 200
    assert seen, "build-info.json must come from the network (never cached by the worker)"
