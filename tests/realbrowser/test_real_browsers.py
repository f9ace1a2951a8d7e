"""The demo softphone in the Chromium and the Firefox that people use, the way a person uses it.

Each test runs in both engines (the ``engine`` fixture), inside the run's own network namespace
(conftest.py, netns.py): Chromium without ``--allow-loopback-in-peer-connection``, Firefox ESR with its
defaults (mDNS host candidates, as it offers them to any page), both with a fake microphone. The sandbox
runs with its default media policy. Pages are driven by clicks and typing on ``index.html``; what the
page shows is checked together with what the sandbox saw (``GET /sandbox/events``). Audio is measured
both ways: the page's receive statistics grow with energy, and the sandbox hears a level above silence.
Every page ends with no page error and no request outside the namespace.
"""

from __future__ import annotations

import json
import time
import urllib.parse
from collections.abc import Callable
from typing import Any

import pytest

from browser.harness import SandboxProcess
from realbrowser.browser_driver import BrowserDriver, DriverError
from realbrowser.netns import NetworkNamespace

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

ECHO = "+15550100"
TONE = "+15550101"
BUSY = "+15550102"
RINGS_FOREVER = "+15550103"
DECLINE = "+15550104"
REMOTE_HANGUP = "+15550105"
IVR = "+15550106"
EARLY_MEDIA = "+15550107"
SILENCE_RMS = 50.0
"""The sandbox's ``rms_avg`` (s16 units) above which it hears sound, not silence (fake mics: 1000s)."""


# ------------------------------------------------------------------------------------------ sandbox


class NamespaceSandbox:
    """The sandbox's REST and event log, reached from inside the namespace (through the driver)."""

    def __init__(self, driver: BrowserDriver, process: SandboxProcess) -> None:
        self.driver = driver
        self.url = str(process.info.url)
        self.log_path = process.info.log_path

    def json(self, method: str, path: str, body: Any = None) -> Any:
        """One REST call; asserts a 2xx answer."""
        return self.driver.fetch(self.url + path, method, body)

    def last_event_id(self) -> int:
        """The id of the newest event (a mark: later waits look after it)."""
        return int(self.json("GET", "/sandbox/events")["last_id"])

    def events(self, *, since: int = 0, call_id: str | None = None) -> list[dict[str, Any]]:
        """The events after ``since`` (of one call)."""
        query = {k: v for k, v in (("since", since), ("call_id", call_id)) if v}
        events: list[dict[str, Any]] = self.json("GET", "/sandbox/events?" + urllib.parse.urlencode(query))[
            "events"
        ]
        return events

    def wait_event(
        self,
        predicate: Callable[[dict[str, Any]], bool],
        *,
        since: int = 0,
        call_id: str | None = None,
        timeout: float = 30.0,
        what: str = "the expected event",
    ) -> dict[str, Any]:
        """Poll the event log until an event matches; AssertionError with the last events otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            events = self.events(since=since, call_id=call_id)
            for event in events:
                if predicate(event):
                    return event
            if time.monotonic() > deadline:
                raise AssertionError(f"the sandbox never logged {what}; it logged {events[-25:]}")
            time.sleep(0.25)

    def call_started(self, since: int, **match: str) -> str:
        """The Call-ID of the first call started after ``since`` whose fields match."""
        event = self.wait_event(
            lambda e: e["kind"] == "call_started" and all(e.get(k) == v for k, v in match.items()),
            since=since,
            what=f"a call_started {match}",
        )
        return str(event["call_id"])

    def hears_sound(self, call_id: str, since: int, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the sandbox's media end of ``call_id`` measures a level above silence."""
        return self.wait_event(
            lambda e: e["kind"] == "audio_level" and float(e["rms_avg"]) > SILENCE_RMS,
            since=since,
            call_id=call_id,
            timeout=timeout,
            what=f"audio above silence (rms_avg > {SILENCE_RMS}) on {call_id}",
        )


# ------------------------------------------------------------------------------------------ the page


class Softphone:
    """One tab of ``index.html``, signed in as ``user``, driven by clicks."""

    def __init__(self, driver: BrowserDriver, sandbox: NamespaceSandbox, user: str) -> None:
        self.driver = driver
        self.user = user
        self.page = int(driver.request("open", url=sandbox.url + "/index.html", timeout=120.0)["page"])
        try:
            self.wait("document.querySelector('#sign-in') && !document.querySelector('#sign-in').hidden", 120)
            self.click(f'.user-option[data-user="{user}"]')
            self.click("#sign-in-button")
            self.wait_state("registered", 60)
        except DriverError as error:
            raise DriverError(f"{error}\n--- what the page shows and said ---\n{self.diagnosis()}") from None

    def diagnosis(self) -> str:
        """The page's status line, boot summary, device state, page errors and last console lines."""
        # the guard report is kept by the driver (node), so it is read even when the page does not answer
        try:
            report = self.driver.guard(self.page)
        except DriverError as error:
            return f"(the driver does not answer: {error})"
        try:
            shown = str(
                self.driver.request(
                    "evaluate",
                    page=self.page,
                    expression="JSON.stringify(['#status', '#boot-summary', '#device-state-text',"
                    " '#boot-files'].map(s => [s, (document.querySelector(s) || {}).textContent]))",
                    timeout=20.0,
                )
            )
        except DriverError as error:
            shown = f"(the page does not answer: {error})"
            try:
                shown += f"\nits main thread over one second: {self.driver.activity(self.page)}"
            except DriverError as activity_error:
                shown += f"\n(nor its activity: {activity_error})"
        return "\n".join(
            [
                shown,
                *report["page_errors"],
                *report["console"][-60:],
                "--- the browser's own log ---",
                *self.driver.browser_log_tail(),
            ]
        )

    def wait(self, expression: str, timeout: float = 30.0) -> Any:
        """Wait until the JS ``expression`` is truthy in the page; returns its value."""
        return self.driver.request(
            "wait",
            page=self.page,
            expression=expression,
            timeout_ms=int(timeout * 1000),
            timeout=timeout + 30,
        )

    def evaluate(self, expression: str) -> Any:
        """Evaluate a JS expression in the page (a promise is awaited)."""
        return self.driver.request("evaluate", page=self.page, expression=expression)

    def click(self, selector: str) -> None:
        """A trusted click, once the element is visible and enabled."""
        self.driver.request("click", page=self.page, selector=selector)

    def fill(self, selector: str, value: str) -> None:
        """Type into an input."""
        self.driver.request("fill", page=self.page, selector=selector, value=value)

    def text(self, selector: str) -> str:
        """The element's text."""
        return str(self.evaluate(f"document.querySelector({json.dumps(selector)}).textContent"))

    def wait_state(self, state: str, timeout: float = 30.0) -> None:
        """Wait for the device pill to say ``state``."""
        self.wait(f"document.querySelector('#device-state').dataset.state === {json.dumps(state)}", timeout)

    def wait_phase(self, phase: str, timeout: float = 60.0) -> None:
        """Wait for the in-call panel's phase (``connected``...)."""
        self.wait(
            "(() => { const c = document.querySelector('#in-call');"
            f" return c && !c.hidden && c.dataset.phase === {json.dumps(phase)}; }})()",
            timeout,
        )

    def dial(self, destination: str) -> None:
        """Type a number or SIP address and press the call button."""
        self.fill("#destination", destination)
        self.click("#call-button")

    def stats(self) -> dict[str, Any]:
        """The current call's statistics (the demo's ``window.twochatDemo.callStats()``)."""
        raw = self.evaluate("window.twochatDemo.callStats()")
        stats: dict[str, Any] = json.loads(raw) if isinstance(raw, str) else dict(raw or {})
        return stats

    def receives_sound(self, timeout: float = 30.0) -> dict[str, Any]:
        """Wait until the call's inbound audio grows by 4000+ bytes with energy; returns the stats."""
        first = self.stats()
        deadline = time.monotonic() + timeout
        while True:
            now = self.stats()
            grew = int(now.get("bytes_received") or 0) - int(first.get("bytes_received") or 0)
            energy = float(now.get("total_audio_energy_in") or 0) - float(
                first.get("total_audio_energy_in") or 0
            )
            if grew >= 4000 and energy > 0:
                return now
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.driver.engine}: inbound audio grew {grew} bytes, energy {energy} "
                    f"in {timeout} s: {now}"
                )
            time.sleep(0.25)

    def hang_up(self) -> None:
        """Press the red button and wait for the dialer."""
        self.click("#hangup")
        self.wait("!document.querySelector('#dialer').hidden && document.querySelector('#in-call').hidden")

    def check_guard(self) -> None:
        """No page error and no request outside the namespace, so far."""
        report = self.driver.guard(self.page)
        assert not report["page_errors"], f"{self.driver.engine} page errors: {report['page_errors']}"
        assert not report["foreign_requests"], f"requests outside the namespace: {report['foreign_requests']}"

    def close(self) -> None:
        """Check the guard, then close the tab."""
        try:
            self.check_guard()
        finally:
            self.driver.request("close_page", page=self.page)


@pytest.fixture
def sandbox(driver: BrowserDriver, ns_sandbox: SandboxProcess) -> NamespaceSandbox:
    """The namespace's sandbox, through this engine's driver."""
    return NamespaceSandbox(driver, ns_sandbox)


@pytest.fixture
def phone(driver: BrowserDriver, sandbox: NamespaceSandbox) -> Callable[[str], Softphone]:
    """Open a signed-in softphone tab (closed, guard checked, at the end of the test)."""
    opened: list[Softphone] = []

    def open_phone(user: str = "alice") -> Softphone:
        softphone = Softphone(driver, sandbox, user)
        opened.append(softphone)
        return softphone

    yield open_phone  # type: ignore[misc]
    for softphone in opened:
        softphone.close()


def call_number(phone: Softphone, sandbox: NamespaceSandbox, number: str) -> tuple[int, str]:
    """Dial a test number and wait until the call is connected: (the event mark before it, its Call-ID)."""
    since = sandbox.last_event_id()
    phone.dial(number)
    phone.wait_phase("connected")
    return since, sandbox.call_started(since, number=number)


# ------------------------------------------------------------------------------------------ the tier


def test_the_namespace_has_no_way_out(namespace: NetworkNamespace) -> None:
    links = namespace.links()
    names = sorted(str(link["ifname"]) for link in links)
    assert names == ["lo", "tcv-a", "tcv-b"], names
    for link in links:
        # a veth whose peer lives in another namespace carries link_netnsid; ours has none
        assert "link_netnsid" not in link, f"{link['ifname']} leads out of the namespace: {link}"


def test_load_sign_in_and_register(phone: Callable[[str], Softphone], sandbox: NamespaceSandbox) -> None:
    since = sandbox.last_event_id()
    alice = phone("alice")
    # the page shows who signed in once register() returned (the state pill may say so a moment earlier)
    alice.wait(
        "(() => { const e = document.querySelector('#identity');"
        " return !e.hidden && e.textContent.toLowerCase().includes('alice'); })()"
    )
    sandbox.wait_event(lambda e: e["kind"] == "register" and e.get("user") == "alice", since=since)


def test_echo_call_has_audio_both_ways_then_hold_resume_and_hang_up(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    since, call_id = call_number(alice, sandbox, ECHO)
    sandbox.hears_sound(call_id, since)
    alice.receives_sound()
    # hold: the sandbox sees the hold offer, then the resume, and hears us again
    alice.click("#hold")
    sandbox.wait_event(
        lambda e: e["kind"] == "hold" and e.get("on_hold") is True, call_id=call_id, since=since
    )
    resumed_from = sandbox.last_event_id()
    alice.click("#hold")
    sandbox.wait_event(
        lambda e: e["kind"] == "hold" and e.get("on_hold") is False, call_id=call_id, since=resumed_from
    )
    sandbox.hears_sound(call_id, sandbox.last_event_id())
    alice.receives_sound()
    alice.hang_up()
    sandbox.wait_event(
        lambda e: e["kind"] == "bye" and e.get("who") != "sandbox", call_id=call_id, since=since
    )


def test_dtmf_from_the_in_call_keypad_reaches_the_ivr(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    _, call_id = call_number(alice, sandbox, IVR)
    alice.receives_sound()  # the IVR's prompt
    alice.click("#show-keypad")
    for key in "42*#":
        alice.click(f'#dtmf-keypad [data-key="{key}"]')
    sandbox.wait_event(
        lambda e: e["kind"] == "dtmf" and e.get("digits") == "42*#", call_id=call_id, what="the digits 42*#"
    )
    alice.hang_up()


def test_every_test_number_behaves_as_documented(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    # answered numbers: audio arrives in the page
    for number in (TONE, EARLY_MEDIA):
        since = sandbox.last_event_id()
        alice.dial(number)
        alice.wait_phase("connected", 60)
        call_id = sandbox.call_started(since, number=number)
        alice.receives_sound()
        alice.hang_up()
        sandbox.wait_event(lambda e: e["kind"] == "call_ended", call_id=call_id, since=since)
    # the number that hangs up by itself after 3 s
    since = sandbox.last_event_id()
    alice.dial(REMOTE_HANGUP)
    alice.wait_phase("connected", 60)
    alice.receives_sound()
    alice.wait("document.querySelector('#in-call').hidden", 30)
    alice.wait("document.querySelector('#call-log li')?.dataset.reason === 'remote'", 30)
    # the number that rings until the caller gives up: ringing shows, the hang-up is a CANCEL
    since = sandbox.last_event_id()
    alice.dial(RINGS_FOREVER)
    alice.wait_phase("ringing", 30)
    call_id = sandbox.call_started(since, number=RINGS_FOREVER)
    alice.hang_up()
    sandbox.wait_event(lambda e: e["kind"] == "cancel", call_id=call_id, since=since, what="the CANCEL")
    # refusals: busy and decline end in the log with their SIP status (a new entry each)
    for number, status in ((BUSY, "486"), (DECLINE, "603")):
        entries = int(alice.evaluate("document.querySelectorAll('#call-log li').length"))
        alice.dial(number)
        alice.wait(
            f"document.querySelectorAll('#call-log li').length > {entries}"
            f" && document.querySelector('#call-log li').textContent.includes({json.dumps(status)})"
            " && document.querySelector('#in-call').hidden",
            30,
        )


def test_inbound_call_with_a_2chat_header_is_accepted_with_audio(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    since = sandbox.last_event_id()
    call_id = str(
        sandbox.json(
            "POST", "/sandbox/calls", {"to": "alice", "headers": {"X-2Chat-Ticket-Id": "42"}, "media": "echo"}
        )["call_id"]
    )
    alice.wait("!document.querySelector('#incoming').hidden", 30)
    alice.wait("document.querySelector('[data-header=\"Ticket-Id\"] dd')?.textContent === '42'")
    alice.click("#accept")
    alice.wait_phase("connected")
    sandbox.wait_event(lambda e: e["kind"] == "answered", call_id=call_id, since=since)
    sandbox.hears_sound(call_id, since)
    alice.receives_sound()
    # the far end hangs up
    sandbox.json("DELETE", f"/sandbox/calls/{urllib.parse.quote(call_id)}")
    alice.wait("document.querySelector('#call-log li')?.dataset.reason === 'remote'", 30)


def test_alice_calls_bob_in_another_tab_with_audio_both_ways(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    bob = phone("bob")
    since = sandbox.last_event_id()
    alice.dial("sip:bob@sandbox.2chat.test")
    bob.wait("!document.querySelector('#incoming').hidden", 30)
    bob.click("#accept")
    alice.wait_phase("connected")
    bob.wait_phase("connected")
    alice.receives_sound()
    bob.receives_sound()
    # bob hangs up: alice's side ends as "they hung up"
    bob.hang_up()
    alice.wait("document.querySelector('#call-log li')?.dataset.reason === 'remote'", 30)
    sandbox.wait_event(lambda e: e["kind"] == "call_ended", since=since)


def test_a_websocket_drop_mid_call_keeps_the_call(
    phone: Callable[[str], Softphone], sandbox: NamespaceSandbox
) -> None:
    alice = phone("alice")
    _, call_id = call_number(alice, sandbox, ECHO)
    alice.receives_sound()
    dropped_at = sandbox.last_event_id()
    assert sandbox.json("POST", "/sandbox/drop", {"user": "alice"})["dropped"] >= 1
    alice.wait("document.querySelector('#activity').textContent.includes('Back online')", 60)
    # the call is the same one, still connected, with audio both ways after the reconnect
    alice.wait_phase("connected", 60)
    sandbox.hears_sound(call_id, sandbox.last_event_id())
    alice.receives_sound()
    assert not [e for e in sandbox.events(since=dropped_at, call_id=call_id) if e["kind"] == "call_ended"]
    alice.hang_up()
    sandbox.wait_event(lambda e: e["kind"] == "call_ended", call_id=call_id, since=dropped_at)
