"""End-to-end tests of the click-to-call page, through the 2Chat sandbox (only the plugin's public API)."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import Page, expect

BOOT_MS = 120_000


def open_app(page: Page, app_url: str, backend_url: str, **params: str) -> None:
    """Open the page with our backend's URL and wait until the Device is registered."""
    query = "&".join(f"{key}={value}" for key, value in {"backend": backend_url, **params}.items())
    page.goto(f"{app_url}index.html?{query}")
    expect(page.locator("#status")).to_have_text("ready", timeout=BOOT_MS)


def test_the_call_button_calls_sales_and_sends_the_keypress(
    twochat_page: Page, twochat_sandbox: Any, app_url: str, backend_url: str
) -> None:
    """The button calls sales: the sandbox sees the INVITE, the keypress and the hang-up."""
    open_app(twochat_page, app_url, backend_url)
    twochat_page.click("#call")
    started = twochat_sandbox.wait_for_event("call_started", number="+15550100", timeout=20)
    expect(twochat_page.locator("#status")).to_have_text("in call", timeout=20_000)
    twochat_page.click("#press-1")
    twochat_sandbox.wait_for_event("dtmf", call_id=started["call_id"], digit="1", timeout=20)
    twochat_page.click("#hangup")
    twochat_sandbox.wait_for_event("call_ended", call_id=started["call_id"], timeout=20)
    expect(twochat_page.locator("#status")).to_have_text("call ended")


def test_an_inbound_call_shows_the_order_header(
    twochat_page: Page, twochat_sandbox: Any, app_url: str, backend_url: str
) -> None:
    """A call with an X-2Chat-Order header: the page answers and shows the order."""
    open_app(twochat_page, app_url, backend_url)
    call_id = twochat_sandbox.call_user("alice", headers={"X-2Chat-Order": "A-1042"})
    twochat_sandbox.wait_for_event("answered", call_id=call_id, timeout=20)
    expect(twochat_page.locator("#order")).to_have_text("A-1042")
    twochat_sandbox.hangup(call_id)
    expect(twochat_page.locator("#status")).to_have_text("call ended", timeout=20_000)


def test_a_short_lived_token_is_refreshed_through_the_backend(
    twochat_page: Page, twochat_sandbox: Any, app_url: str, backend_url: str
) -> None:
    """A 60 s token: the page fetches a second one from the backend at once."""
    open_app(twochat_page, app_url, backend_url, ttl="60")
    expect(twochat_page.locator("#token-state")).to_have_text("(refreshed)", timeout=30_000)
    expect(twochat_page.locator("#tokens")).to_have_text("2")
    minted = twochat_sandbox.events("token_minted")
    assert [event["ttl"] for event in minted] == [60, 3600]


def test_the_call_survives_a_network_drop(
    twochat_page: Page, twochat_sandbox: Any, app_url: str, backend_url: str
) -> None:
    """The SIP WebSocket is cut mid-call: the Device reconnects and the call goes on."""
    open_app(twochat_page, app_url, backend_url)
    twochat_page.click("#call")
    started = twochat_sandbox.wait_for_event("call_started", number="+15550100", timeout=20)
    expect(twochat_page.locator("#status")).to_have_text("in call", timeout=20_000)
    assert twochat_sandbox.drop("alice") == 1
    twochat_sandbox.wait_for_event("reconnected", user="alice", timeout=30)
    twochat_page.click("#press-1")
    twochat_sandbox.wait_for_event("dtmf", call_id=started["call_id"], digit="1", timeout=20)
