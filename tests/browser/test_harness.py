"""The harness itself: guards catch what they must, persistent profiles really cache, CI rules hold."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from browser.harness import (
    REPO_ROOT,
    PageGuard,
    PersistentProfile,
    Sandbox,
    is_loopback_url,
    mint,
    wait_for_sdk_ready,
)

pytestmark = pytest.mark.timeout(300)


@pytest.mark.parametrize(
    ("url", "loopback"),
    [
        ("http://127.0.0.1:8000/x", True),
        ("ws://127.0.0.1:9/sip", True),
        ("http://127.8.9.10/", True),
        ("http://localhost:1/", True),
        ("http://[::1]:80/", True),
        ("data:text/plain,hi", True),
        ("blob:http://127.0.0.1/abc", True),
        ("about:blank", True),
        ("https://cdn.jsdelivr.net/pyodide/v314.0.7/full/pyodide.mjs", False),
        ("http://192.0.2.2:8080/", False),
        ("http://10.0.0.1/", False),
        ("wss://example.invalid/sip", False),
    ],
)
def test_is_loopback_url(url: str, loopback: bool) -> None:
    assert is_loopback_url(url) is loopback


def test_guard_records_page_errors_and_requests_that_leave_loopback(
    browser: Browser, sandbox: Sandbox
) -> None:
    """A separate context with its own guard: the test's own guard must stay clean."""
    context = browser.new_context(base_url=sandbox.url)
    guard = PageGuard()
    guard.attach_context(context)
    try:
        page = context.new_page()
        page.goto("/build-info.json")
        page.evaluate("() => fetch('https://cdn.example.invalid/x.js').catch(() => null)")
        page.evaluate("() => { new WebSocket('wss://ws.example.invalid/').onerror = () => {}; }")
        page.evaluate("() => setTimeout(() => { throw new Error('provoked failure'); }, 0)")
        page.wait_for_timeout(300)
        page.evaluate("() => setTimeout(() => { throw new Error('tolerated failure'); }, 0)")
        page.wait_for_timeout(300)  # events reach Python while Playwright waits
        guard.allow_page_error("tolerated")
        page.evaluate("() => setTimeout(() => { throw new Error('tolerated failure'); }, 0)")
        page.wait_for_timeout(300)
    finally:
        context.close()
    assert any("https://cdn.example.invalid/x.js" in url for url in guard.external_requests)
    assert any(url.startswith("WebSocket wss://ws.example.invalid") for url in guard.external_requests)
    assert sum("provoked failure" in error for error in guard.page_errors) == 1
    assert sum("tolerated failure" in error for error in guard.page_errors) == 1  # only the one before allow
    assert len(guard.problems()) == len(guard.page_errors) + len(guard.external_requests)


def test_name_resolution_is_blocked_for_everything_but_loopback(page: Page, page_guard: PageGuard) -> None:
    """--host-resolver-rules: even if a page asked for a public host, it would never resolve."""
    page.goto("/build-info.json")
    outcome = page.evaluate(
        "() => fetch('http://example.com/').then(() => 'loaded', (error) => 'failed: ' + error.message)"
    )
    assert outcome.startswith("failed")
    assert page_guard.external_requests == ["GET http://example.com/"]
    page_guard.external_requests.clear()  # provoked on purpose


def test_mint_token_through_the_sandbox(sandbox: Sandbox, mint_token: object) -> None:
    assert sandbox.users
    alice = sandbox.users[0]
    answer = mint(sandbox, alice.name, ttl=120, label="harness")
    assert answer["user_uuid"] == alice.uuid
    assert answer["token"].count(".") == 2
    assert callable(mint_token)
    assert mint_token().count(".") == 2


def test_warm_launch_of_a_persistent_profile_loads_the_runtime_from_cache(
    persistent_profile: PersistentProfile,
) -> None:
    cold = persistent_profile.new_page()
    cold.goto("/index.html")
    cold_state = wait_for_sdk_ready(cold)
    persistent_profile.close()
    persistent_profile.launch()
    warm = persistent_profile.new_page()
    warm.goto("/index.html")
    warm_state = wait_for_sdk_ready(warm)
    assert persistent_profile.launches == 2
    assert cold_state["files"]["pyodide.asm.wasm"]["transferred"] > 1_000_000
    # the runtime and the fast start's bytecode bundle (the page loads no python_stdlib.zip)
    bundle = [name for name in warm_state["files"] if name.startswith(("twochat-stdlib-", "twochat-sdk-"))]
    assert len(bundle) == 2, sorted(warm_state["files"])
    for name in ("pyodide.asm.wasm", "pyodide.asm.mjs", *bundle):
        assert warm_state["files"][name]["fromCache"], (name, warm_state["files"][name])


def test_ci_skip_probe() -> None:
    """Skips only when test_ci_turns_browser_skips_into_failures runs it in a child pytest."""
    if os.environ.get("TWOCHAT_HARNESS_SKIP_PROBE") == "1":
        pytest.skip("probe skip")


@pytest.mark.parametrize(
    ("ci", "expected_exit", "expected_word"), [("true", 1, "failed"), ("", 0, "skipped")]
)
def test_ci_turns_browser_skips_into_failures(ci: str, expected_exit: int, expected_word: str) -> None:
    probe = f"{Path(__file__).relative_to(REPO_ROOT)}::test_ci_skip_probe"
    env = {**os.environ, "CI": ci, "TWOCHAT_HARNESS_SKIP_PROBE": "1"}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:randomly", "-q", "-rA", probe],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )
    assert completed.returncode == expected_exit, completed.stdout[-3000:]
    assert f"1 {expected_word}" in completed.stdout
    if ci:
        assert "CI=true: a browser/interop test may not skip" in completed.stdout
