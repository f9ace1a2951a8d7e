"""Page lifecycle for real: a page that goes away ends its calls and its registration cleanly, and close
protection asks before a live call is cut (Chromium, our SDK, the sandbox).

The sandbox's event log is the witness: BYE for the connected call, CANCEL for the one still ringing,
REGISTER with ``Expires: 0`` for the registration, all sent by the page while it was being left.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Dialog, Page

from browser.harness import Sandbox
from browser.sdk_driver import wait_for_harness
from browser.test_device_calls import Sdk, sandbox_events, wait_sandbox_event

pytestmark = pytest.mark.browser


@pytest.fixture
def harness(page: Page, sandbox: Sandbox) -> Sdk:
    """The harness page and its driver (no after-test snapshot: these tests leave the page)."""
    wait_for_harness(page, sandbox.url + "/test/pages/sdk_harness.html")
    return Sdk(page, sandbox)


def _last_event_id(sandbox: Sandbox) -> int:
    events = sandbox_events(sandbox)
    return int(events[-1]["id"]) if events else 0


def test_leaving_the_page_hangs_up_and_unregisters(harness: Sdk, sandbox: Sandbox, page: Page) -> None:
    device = harness.registered_device()
    connected = harness.device(device, "connect", "+15550100")["call"]
    harness.wait(connected, "accepted")
    ringing = harness.device(device, "connect", "+15550103")["call"]
    harness.wait(ringing, "ringing")
    connected_id = harness.call(connected, "sip_call_id")
    ringing_id = harness.call(ringing, "sip_call_id")
    since = _last_event_id(sandbox)
    page.mouse.click(5, 5)  # a user activation: a close prompt could show now (none must: not opted in)
    page.goto("about:blank")
    wait_sandbox_event(
        sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id=connected_id
    )
    wait_sandbox_event(
        sandbox, lambda e: e["kind"] == "cancel" and e.get("by") == "caller", call_id=ringing_id
    )
    wait_sandbox_event(
        sandbox,
        lambda e: (
            e["kind"] == "unregister"
            and e["id"] > since
            and e.get("user") == "alice"
            and e.get("reason") == "expires=0"
        ),
    )


def test_close_protection_asks_while_a_call_is_live(harness: Sdk, sandbox: Sandbox, page: Page) -> None:
    device = harness.registered_device(close_protection=True)
    call = harness.device(device, "connect", "+15550100")["call"]
    harness.wait(call, "accepted")
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # the person chooses to stay

    page.on("dialog", on_dialog)
    page.mouse.click(5, 5)  # browsers ask only on a page the person interacted with
    with page.expect_event("dialog", timeout=15_000):
        page.close(run_before_unload=True)
    assert dialogs == ["beforeunload"] and not page.is_closed()
    assert harness.call(call, "status") == "accepted", "staying on the page must not end the call"
    call_id = harness.call(call, "sip_call_id")
    harness.call(call, "disconnect")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id=call_id)
    since = _last_event_id(sandbox)
    with page.expect_event("close", timeout=15_000):
        page.close(run_before_unload=True)  # no live call: no prompt, the page closes and unregisters
    assert dialogs == ["beforeunload"]
    wait_sandbox_event(
        sandbox,
        lambda e: (
            e["kind"] == "unregister"
            and e["id"] > since
            and e.get("user") == "alice"
            and e.get("reason") == "expires=0"
        ),
    )
