"""Several tabs of one user in Chromium against the sandbox (field lesson §B-15, twochat_voice_web.tabs).

Two pages of one browser context (same origin, so they share BroadcastChannels and Web Locks) each load the
SDK harness (tests/pages/sdk_harness.html) and create a Device for alice:

* ``multi_tab=True``: one REGISTER binding at the sandbox (``GET /sandbox/registrations``), an inbound call
  rings in both pages, accepting in either stops the ringtone in both (the sound player's state), the
  follower controls the call that plays in the leader page, and closing or destroying the leader page makes
  the other page the leader, which registers with its own ``+sip.instance``;
* default mode: both pages register (two bindings, two instances) and both ring; accepting in one silences
  the other at once, whose call then ends with reason ``answered-elsewhere`` when the sandbox CANCELs it.

Every test ends with zero page errors (the context's page guard) and no live JS proxy or ``<audio>`` element
left in the pages still open once their Devices are destroyed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import BrowserContext, Page

from browser.harness import Sandbox
from browser.sdk_driver import wait_for_harness
from browser.test_device_calls import Sdk, sandbox_json

pytestmark = pytest.mark.browser

HARNESS = "/test/pages/sdk_harness.html"


class Tabs:
    """The test's pages, each with its in-page SDK driver; closes what the test did not."""

    def __init__(self, context: BrowserContext, first: Page, sandbox: Sandbox) -> None:
        self.context = context
        self.sandbox = sandbox
        self.pages: list[Page] = []
        self._first: Page | None = first

    def open(self) -> Sdk:
        """A new page of the context (the test's own ``page`` first) with the SDK harness loaded."""
        page, self._first = self._first or self.context.new_page(), None
        self.pages.append(page)
        wait_for_harness(page, self.sandbox.url + HARNESS)
        return Sdk(page, self.sandbox)


@pytest.fixture
def tabs(context: BrowserContext, page: Page, sandbox: Sandbox) -> Iterator[Tabs]:
    """Pages of one context; afterwards every Device still open is destroyed and nothing may be left."""
    opened = Tabs(context, page, sandbox)
    yield opened
    for tab_page in opened.pages:
        if tab_page.is_closed():
            continue
        driver = Sdk(tab_page, sandbox)
        for device_id, state in driver.snapshot()["devices"].items():
            if state != "destroyed":
                driver.device(device_id, "destroy")
    for tab_page in opened.pages:
        if tab_page.is_closed():
            continue
        tab_page.wait_for_timeout(300)
        after = Sdk(tab_page, sandbox).snapshot()
        assert after["live_proxies"] == 0, f"live JS proxies after destroy: {after['live_proxies']}"
        assert after["audio_elements"] == 0


# ------------------------------------------------------------------------------------------ helpers


def alice_bindings(sandbox: Sandbox) -> list[dict[str, Any]]:
    result = sandbox_json(sandbox, "GET", "/sandbox/registrations")
    return [r for r in result["registrations"] if r.get("user") == "alice"]


def wait_until(what: str, check: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting until {what}")
        time.sleep(0.1)


def ringing(tab: Sdk, device: str) -> bool:
    return bool(tab.run("sounds", device_id=device).get("incoming"))


def inbound(sandbox: Sandbox, **body: Any) -> str:
    body.setdefault("to", "alice")
    return str(sandbox_json(sandbox, "POST", "/sandbox/calls", body)["call_id"])


def registered(tab: Sdk, **options: Any) -> str:
    return tab.registered_device("alice", **options)


# ------------------------------------------------------------------------------------------ multi_tab


def test_one_registration_rings_everywhere_and_the_follower_takes_over(tabs: Tabs, sandbox: Sandbox) -> None:
    first, second = tabs.open(), tabs.open()
    leader = registered(first, multi_tab=True)
    follower = registered(second, multi_tab=True)
    assert first.device(leader, "tab_role") == "leader"
    assert second.device(follower, "tab_role") == "follower"
    (binding,) = alice_bindings(sandbox)

    call_id = inbound(sandbox, media="tone", headers={"X-2Chat-Ticket-Id": "8"})
    real = first.wait(leader, "incoming")["args"][0]["call"]
    mirror = second.wait(follower, "incoming")["args"][0]["call"]
    assert second.call(mirror, "sip_call_id") == call_id
    assert second.call(mirror, "custom_headers") == {"Ticket-Id": "8"}
    wait_until("both pages ring", lambda: ringing(first, leader) and ringing(second, follower))

    second.call(mirror, "accept")  # answered in the leader page: its microphone, its peer connection
    wait_until("no page rings", lambda: not ringing(first, leader) and not ringing(second, follower))
    assert first.call(real, "status") == "accepted" and second.call(mirror, "status") == "accepted"
    second.wait(mirror, "accepted")
    energy, received = second.wait_audio_growing(mirror, seconds=2.0)  # the leader's figures
    assert received > 0 and energy > 0.05
    assert first.snapshot()["audio_elements"] >= 1

    first.page.close()  # the leader's tab goes: the browser releases its Web Lock
    lost = second.wait(mirror, "disconnect", timeout=20)
    assert lost["args"] == [{"reason": "leader-lost", "status_code": None}]
    second.wait(follower, "registered", since=lost["seq"], timeout=30)
    assert second.device(follower, "tab_role") == "leader"

    def new_binding_only() -> bool:
        instances = [b["instance"] for b in alice_bindings(sandbox)]
        return len(instances) == 1 and instances[0] != binding["instance"]

    wait_until("the old binding is gone and the new leader's is there", new_binding_only)

    since = second.snapshot()["seq"]
    inbound(sandbox)
    again = second.wait(follower, "incoming", since=since)["args"][0]["call"]
    wait_until("the new leader rings", lambda: ringing(second, follower))
    second.call(again, "reject")
    second.wait(again, "disconnect")


def test_accept_in_the_leader_silences_the_follower_and_destroy_hands_over(
    tabs: Tabs, sandbox: Sandbox
) -> None:
    first, second = tabs.open(), tabs.open()
    leader = registered(first, multi_tab=True)
    follower = registered(second, multi_tab=True)
    assert len(alice_bindings(sandbox)) == 1

    inbound(sandbox, media="tone")
    real = first.wait(leader, "incoming")["args"][0]["call"]
    mirror = second.wait(follower, "incoming")["args"][0]["call"]
    wait_until("both pages ring", lambda: ringing(first, leader) and ringing(second, follower))
    first.call(real, "accept")
    wait_until("the follower stops ringing", lambda: not ringing(second, follower))
    second.wait(mirror, "accepted")
    second.call(mirror, "mute", True)
    first.wait(real, "mute")
    assert first.call(real, "is_muted") is True
    second.call(mirror, "disconnect")  # hung up from the follower, in the leader
    assert first.wait(real, "disconnect")["args"][0]["reason"] == "local"
    assert second.call(mirror, "status") == "disconnected"

    seq = second.snapshot()["seq"]
    first.device(leader, "destroy")
    second.wait(follower, "registered", since=seq, timeout=30)
    assert second.device(follower, "tab_role") == "leader"
    wait_until("one binding", lambda: len(alice_bindings(sandbox)) == 1)
    first.page.wait_for_timeout(300)
    assert first.snapshot()["live_proxies"] == 0


# ------------------------------------------------------------------------------------------ default mode


def test_independent_tabs_both_ring_and_stop_when_one_accepts(tabs: Tabs, sandbox: Sandbox) -> None:
    first, second = tabs.open(), tabs.open()
    one = registered(first)
    two = registered(second)
    bindings = alice_bindings(sandbox)
    assert len(bindings) == 2 and bindings[0]["instance"] != bindings[1]["instance"]

    inbound(sandbox, media="tone")
    call_one = first.wait(one, "incoming")["args"][0]["call"]
    call_two = second.wait(two, "incoming")["args"][0]["call"]
    wait_until("both pages ring", lambda: ringing(first, one) and ringing(second, two))
    first.call(call_one, "accept")
    wait_until("the other page stops ringing", lambda: not ringing(second, two))
    ended = second.wait(call_two, "disconnect", timeout=15)
    assert ended["args"][0]["reason"] == "answered-elsewhere"
    assert not [e for e in second.events() if e["target"] == call_two and e["name"] == "cancel"]
    assert first.call(call_one, "status") == "accepted"
    first.call(call_one, "disconnect")
