"""Our SDK as a peer of the interop stack: the SDK harness page, Devices registered with Kamailio.

- `SdkPage`: one tests/pages/sdk_harness.html page (Pyodide + our wheel + the in-page driver) in a browser
  context of its own, guarded by a `PageGuard`. Booting Pyodide takes seconds, so the interop tests share
  one page per test module; every test creates its own Devices and destroys them at its end.
- `InteropSdk`: the per-test view of that page (a `SdkDriver`). Devices get their SIP account through a
  ``credentials_provider`` returning ``InteropStack.credentials(user)``; the token is any non-JWT string.
  Every Device and Call gets a label ("SDK 1001", "SDK 1001 call c3 to sip:echo@sip.test") so that
  failures and the event log say which peer did what. ``finish()`` destroys the test's Devices and
  checks that no JS proxy and no <audio> element is left.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from typing import Any

from playwright.sync_api import BrowserContext, Page

from browser.harness import PageGuard
from browser.sdk_driver import SdkDriver, SdkError, wait_for_harness

from .siptrace import SippLogMessage, SipTraceRecord
from .stack import InteropStack, Kamailio, SippUac, SippUas

__all__ = [
    "InteropSdk",
    "SdkPage",
    "SdkTimeoutError",
    "dialog_records",
    "sdp_directions",
    "sipp_dialog",
    "wait_sip_record",
    "wait_sipp_dialog_message",
]


class SdkTimeoutError(AssertionError):
    """An expected event of our SDK did not come (or audio did not flow); the message lists what did."""


class SdkPage:
    """The harness page shared by the tests of one module (re-opened when a test left it unusable)."""

    def __init__(self, context: BrowserContext, url: str) -> None:
        self.context = context
        self.url = url
        self.guard = PageGuard(console_limit=100_000)
        self.guard.attach_context(context)
        self.page: Page = context.new_page()
        self.dirty = False
        self.boots = 0
        self._boot()

    def _boot(self) -> None:
        wait_for_harness(self.page, self.url)
        self.boots += 1
        self.dirty = False

    def ensure_ready(self) -> None:
        """Re-open the page when the previous test left it dirty (leaks, crash) or it closed."""
        if self.page.is_closed():
            self.page = self.context.new_page()
            self._boot()
            return
        ready = False
        if not self.dirty:
            try:
                ready = bool(self.page.evaluate("Boolean(window.__sdk && window.__sdk.ready)"))
            except Exception:
                ready = False
        if not ready:
            self._boot()

    def close(self) -> None:
        """Close the browser context (and so the page)."""
        self.context.close()


class InteropSdk(SdkDriver):
    """One test's use of the shared SDK page: Devices on the interop stack, labels, clean-up."""

    def __init__(self, sdk_page: SdkPage, stack: InteropStack, name: str = "sdk") -> None:
        super().__init__(sdk_page.page)
        self.sdk_page = sdk_page
        self.stack = stack
        self.name = name
        self.devices: list[str] = []
        self.labels: dict[str, str] = {}
        self.allowed_error_codes: set[str] = set()
        self.start_seq = int(self.snapshot()["seq"])
        self.errors_checked_seq = self.start_seq
        self.guard_start = len(sdk_page.guard.problems())
        self.console_start = len(sdk_page.guard.console)

    # ------------------------------------------------------------------ devices and calls
    def label(self, target: str) -> str:
        """The readable name of a device or call id ("SDK 1001", "SDK 1001 call c2 to sip:echo@...")."""
        return self.labels.get(target, target)

    def new_device(
        self,
        user: str,
        *,
        secure: bool = False,
        kamailio: Kamailio | None = None,
        password: str | None = None,
        **options: Any,
    ) -> str:
        """A Device for Kamailio user ``user`` (not registered yet); its id."""
        credentials = self.stack.credentials(user, secure=secure, kamailio=kamailio)
        if password is not None:
            credentials["password"] = password
        options.setdefault("log_level", "info")
        result: dict[str, str] = self.run(
            "create_device", token=f"interop-token-{user}", options=options, credentials=credentials
        )
        device = result["device"]
        self.devices.append(device)
        server = (kamailio or self.stack.kamailio).name
        self.labels[device] = f"SDK {user} ({device}, {'wss' if secure else 'ws'} to {server})"
        return device

    def registered_device(self, user: str, **options: Any) -> str:
        """`new_device` and ``register()``; fails naming the error if the registration fails."""
        device = self.new_device(user, **options)
        try:
            self.device(device, "register")
        except SdkError as exc:
            raise AssertionError(f"{self.label(device)}: register() failed: {exc}") from None
        state = self.device(device, "state")
        assert state == "registered", f"{self.label(device)}: state {state!r} after register()"
        return device

    def connect(self, device: str, target: str, **kwargs: Any) -> str:
        """``device.connect(target)``; the call id."""
        call: str = self.device(device, "connect", target, **kwargs)["call"]
        self.labels[call] = f"{self.label(device).split(' (')[0]} call {call} to {target}"
        return call

    def incoming(self, device: str, *, since: int = 0, timeout: float = 15.0) -> str:
        """Wait for the Device's ``incoming`` event; the call id."""
        event = self.wait(device, "incoming", since=since, timeout=timeout)
        call: str = event["args"][0]["call"]
        self.labels[call] = f"{self.label(device).split(' (')[0]} incoming call {call}"
        return call

    def mark(self) -> int:
        """The sequence number of the last logged event (events after it have a greater one)."""
        return int(self.snapshot()["seq"])

    # ------------------------------------------------------------------ waiting
    def wait(self, target: str, name: str, since: int = 0, timeout: float = 20.0) -> dict[str, Any]:
        """Like `SdkDriver.wait`, failing with `SdkTimeoutError` naming the peer and its events."""
        try:
            return super().wait(target, name, since=since, timeout=timeout)
        except SdkError as exc:
            if exc.error.get("name") != "TimeoutError":
                raise
        raise SdkTimeoutError(
            f"{self.label(target)}: no {name!r} event within {timeout:.0f} s; its events since #{since}: "
            f"{self.event_summary(target, since)}"
        )

    def event_summary(self, target: str, since: int = 0) -> str:
        """``name(args)`` of the events of ``target`` after ``since``, comma-separated."""
        parts = []
        for event in self.events(since):
            if event["target"] == target:
                args = json.dumps(event["args"])[1:-1]
                parts.append(f"{event['name']}({args})" if args else event["name"])
        return ", ".join(parts) or "(none)"

    def stats(self, call: str) -> dict[str, Any]:
        """The call's get_stats() summary without the raw reports."""
        stats: dict[str, Any] = self.call(call, "get_stats")
        stats.pop("raw", None)
        return stats

    def wait_audio(
        self, call: str, *, min_bytes: int = 4000, timeout: float = 10.0, peer: str = "the far end"
    ) -> tuple[float, int]:
        """Wait until the call's inbound audio grew by ``min_bytes`` bytes with energy (not silence).

        Returns (energy gained, bytes gained); `SdkTimeoutError` naming ``peer`` and the stats otherwise.
        """
        energy0, bytes0 = self.audio_in(call)
        deadline = time.monotonic() + timeout
        energy, received = 0.0, 0
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            energy1, bytes1 = self.audio_in(call)
            energy, received = energy1 - energy0, bytes1 - bytes0
            if received >= min_bytes and energy > 0:
                return energy, received
        raise SdkTimeoutError(
            f"{self.label(call)}: audio from {peer} grew {received} bytes, energy {energy:.6f} in "
            f"{timeout:.0f} s (wanted >= {min_bytes} bytes with energy > 0); stats: {self.stats(call)}"
        )

    def wait_sent_sound(self, call: str, *, then_packets: int = 25, timeout: float = 10.0) -> None:
        """Wait until the call's microphone energy grew (the fake device beeped) and ``then_packets`` more
        RTP packets went out after that (20 ms each: the beep is on the wire, not only in the microphone)."""
        deadline = time.monotonic() + timeout
        first = self.stats(call)
        energy0 = float(first.get("total_audio_energy_out") or 0)
        beeped_at: int | None = None
        now = first
        while time.monotonic() < deadline:
            now = self.stats(call)
            if beeped_at is None and float(now.get("total_audio_energy_out") or 0) > energy0:
                beeped_at = int(now.get("packets_sent") or 0)
            if beeped_at is not None and int(now.get("packets_sent") or 0) >= beeped_at + then_packets:
                return
            self.page.wait_for_timeout(50)
        raise SdkTimeoutError(f"{self.label(call)}: no sound went out in {timeout:.0f} s; stats: {now}")

    # ------------------------------------------------------------------ reports and clean-up
    def event_log(self) -> str:
        """This test's SDK events, one line each, with the peers' labels."""
        lines = []
        try:
            events = self.events(self.start_seq)
        except Exception as exc:  # the page is gone
            return f"(page gone: {exc!r})"
        samples = 0
        for event in events:
            if event["name"] == "sample":  # one a second per call: counted, not listed
                samples += 1
                continue
            lines.append(
                f"#{event['seq']} {self.label(event['target'])}: {event['name']} {json.dumps(event['args'])}"
            )
        if samples:
            lines.append(f"(and {samples} call-quality 'sample' events)")
        return "\n".join(lines) or "(no events)"

    def console_log(self) -> str:
        """Browser console lines written during this test (the SDK logs at ``info``)."""
        return "\n".join(self.sdk_page.guard.console[self.console_start :]) or "(nothing)"

    def new_guard_problems(self) -> list[str]:
        """Page errors and non-loopback requests seen since this test started (each reported once)."""
        problems = self.sdk_page.guard.problems()[self.guard_start :]
        self.guard_start += len(problems)
        return problems

    def allow_error(self, code: str) -> None:
        """Do not fail the test for ``error`` events with this code (errors the test provokes)."""
        self.allowed_error_codes.add(code)

    def unexpected_errors(self) -> list[str]:
        """``error`` events of this test's Devices and Calls whose code was not allowed (each one is
        returned once: later calls return only newer ones)."""
        found = []
        for event in self.events(self.errors_checked_seq):
            self.errors_checked_seq = max(self.errors_checked_seq, int(event["seq"]))
            if event["name"] != "error":
                continue
            error = event["args"][0] if event["args"] else {}
            if isinstance(error, dict) and error.get("code") in self.allowed_error_codes:
                continue
            found.append(f"{self.label(event['target'])} emitted error {json.dumps(error)}")
        return found

    def finish(self) -> list[str]:
        """Destroy this test's Devices; the problems found: unexpected ``error`` events, Devices not
        destroyed, live JS proxies, <audio> elements left."""
        errors = self.unexpected_errors()
        leaks: list[str] = []
        for device in self.devices:
            try:
                self.device(device, "destroy")
            except Exception as exc:
                leaks.append(f"{self.label(device)}: destroy() failed: {exc}")
        deadline = time.monotonic() + 5.0
        snapshot = self.snapshot()
        while (snapshot["live_proxies"] or snapshot["audio_elements"]) and time.monotonic() < deadline:
            self.page.wait_for_timeout(200)
            snapshot = self.snapshot()
        states = {d: snapshot["devices"].get(d) for d in self.devices}
        if any(state != "destroyed" for state in states.values()):
            leaks.append(f"Devices not destroyed: {states}")
        if snapshot["live_proxies"]:
            leaks.append(f"live JS proxies after destroy(): {snapshot['live_proxies']}")
        if snapshot["audio_elements"]:
            leaks.append(f"<audio> elements left after destroy(): {snapshot['audio_elements']}")
        if leaks:
            self.sdk_page.dirty = True  # the next test gets a fresh page
        return errors + leaks


# ---------------------------------------------------------------------------- Kamailio's view (sipdump)


def wait_sip_record(
    kamailio: Kamailio,
    predicate: Callable[[SipTraceRecord], bool],
    what: str,
    *,
    since: float = 0.0,
    timeout: float = 5.0,
) -> SipTraceRecord:
    """The first message in Kamailio's sipdump (at or after ``since``, epoch seconds) that matches;
    `AssertionError` naming ``what`` otherwise (the failure report adds the whole SIP ladder)."""
    deadline = time.monotonic() + timeout
    while True:
        for record in kamailio.sip_records():
            if record.time >= since and predicate(record):
                return record
        if time.monotonic() > deadline:
            raise AssertionError(f"{kamailio.name} never saw {what} (see the SIP ladder below)")
        time.sleep(0.1)


def dialog_records(kamailio: Kamailio, call_id: str) -> list[SipTraceRecord]:
    """Every message of one dialog (by Call-ID) that went through Kamailio, in time order."""
    return [record for record in kamailio.sip_records() if record.call_id == call_id]


def sdp_directions(message: str) -> list[str]:
    """The ``a=sendrecv|sendonly|recvonly|inactive`` lines of an SDP body, in order."""
    return re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", message, re.MULTILINE)


def sipp_dialog(messages: Iterable[SippLogMessage], call_id: str) -> list[SippLogMessage]:
    """The messages of one dialog (by Call-ID) in a sipp message trace."""
    return [message for message in messages if message.header("Call-ID") == call_id]


def wait_sipp_dialog_message(
    component: SippUas | SippUac,
    call_id: str,
    prefix: str,
    *,
    direction: str = "received",
    count: int = 1,
    timeout: float = 10.0,
) -> list[SippLogMessage]:
    """Wait until ``component`` (a sipp) has ``count`` messages of dialog ``call_id`` whose first line
    starts with ``prefix`` in ``direction``; those messages. `AssertionError` listing the dialog otherwise."""
    deadline = time.monotonic() + timeout
    while True:
        found = [
            m
            for m in sipp_dialog(component.messages(), call_id)
            if m.first_line.startswith(prefix) and m.direction == direction
        ]
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            seen = [f"{m.direction} {m.first_line}" for m in sipp_dialog(component.messages(), call_id)]
            raise AssertionError(
                f"{component.name} {direction} {len(found)} {prefix.strip()!r} in dialog {call_id} within "
                f"{timeout:.0f} s (wanted {count}); it saw: {seen}"
            )
        time.sleep(0.1)
