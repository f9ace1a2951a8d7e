"""The demo site in Chromium: Python and the SDK start from local files only, and say so."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from playwright.sync_api import Page

import twochat_voice_web
from browser.harness import PageGuard

pytestmark = pytest.mark.timeout(300)


def test_demo_page_reports_python_and_sdk_versions(sdk_page: Page, page_guard: PageGuard) -> None:
    state = sdk_page.evaluate("() => JSON.parse(JSON.stringify(window.twochat))")
    assert state["python"].startswith("3.14."), state["python"]
    assert state["sdk"] == twochat_voice_web.__version__
    assert sdk_page.text_content("#python-version") == state["python"].split()[0]
    assert sdk_page.text_content("#sdk-version") == twochat_voice_web.__version__
    status = sdk_page.locator("#status")
    assert status.get_attribute("data-level") == "success"
    assert twochat_voice_web.__version__ in (status.text_content() or "")
    assert page_guard.page_errors == []
    assert page_guard.external_requests == []


def test_demo_page_shows_each_start_up_step_with_its_time(sdk_page: Page) -> None:
    steps = sdk_page.evaluate("() => JSON.parse(JSON.stringify(window.twochat.steps))")
    assert list(steps) == ["download", "python", "sdk", "ready"]
    previous_end = 0
    for name, step in steps.items():
        assert step["status"] == "done", (name, step)
        assert step["start"] <= step["end"], (name, step)
        assert step["end"] >= previous_end, (name, step)
        previous_end = step["end"]
        row = sdk_page.locator(f'[data-boot-step="{name}"]')
        assert row.get_attribute("data-status") == "done"
        assert (row.locator(".boot-time").text_content() or "").endswith(("ms", "ms total"))
    files = sdk_page.evaluate("() => JSON.parse(JSON.stringify(window.twochat.files))")
    for runtime_file in ("pyodide.mjs", "pyodide.asm.mjs", "pyodide.asm.wasm"):
        assert runtime_file in files, sorted(files)
    # The fast start's bytecode bundle, not the standard library's zip and the wheel.
    for part in ("twochat-stdlib-", "twochat-sdk-", "twochat-pyscript-"):
        assert any(name.startswith(part) for name in files), sorted(files)
    assert "python_stdlib.zip" not in files
    assert not any(name.endswith(".whl") for name in files)
    assert "twochat_voice_web" in steps["sdk"]["detail"]


def test_click_to_call_example_starts(open_sdk_page: Callable[..., Page]) -> None:
    page = open_sdk_page("/click-to-call.html")
    state = page.evaluate("() => JSON.parse(JSON.stringify(window.twochat))")
    assert state["sdk"] == twochat_voice_web.__version__
    assert page.locator("#call").is_enabled()
    assert page.locator("#hangup").is_disabled()
    assert "Ready" in (page.text_content("#status") or "")


def test_click_to_call_example_calls_the_echo_number_and_hangs_up(open_sdk_page: Callable[..., Page]) -> None:
    page = open_sdk_page("/click-to-call.html")
    page.click("#call")
    status = page.locator("#status")
    status.filter(has_text="In a call with +15550100").wait_for(timeout=60_000)
    assert page.locator("#hangup").is_enabled()
    page.click("#hangup")
    status.filter(has_text="Call ended").wait_for(timeout=30_000)
    assert page.locator("#call").is_enabled()
    assert status.get_attribute("data-level") == "info"


def test_every_preload_of_the_demo_page_is_the_request_its_reader_uses(sdk_page: Page) -> None:
    """Each ``<link rel="preload">`` is fetched once: the runtime, PyScript and the app read the preloaded
    response (a request that did not match the preload would be a second entry in Resource Timing), the
    account list included."""
    sdk_page.wait_for_function(
        "() => !document.getElementById('sign-in-button').disabled", timeout=60_000, polling=50
    )
    fetched = sdk_page.evaluate(
        """() => {
          const preloads = [...document.querySelectorAll('link[rel=preload], link[rel=modulepreload]')];
          const entries = performance.getEntriesByType('resource').map((entry) => entry.name);
          return preloads.map((link) => [link.href, entries.filter((name) => name === link.href).length]);
        }"""
    )
    assert any(href.endswith("/demo/users") for href, _ in fetched), fetched
    assert all(count == 1 for _, count in fetched), fetched
