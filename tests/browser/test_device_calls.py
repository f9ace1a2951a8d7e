"""The public API driven for real: our SDK in Chromium (Pyodide, real WebRTC) against the real sandbox.

Each test opens tests/pages/sdk_harness.html, creates Devices through the in-page driver
(tests/pages/sdk_scenarios.py), and checks what the SDK reports *and* what the sandbox saw (its event log):
audio energy both ways, CANCEL, 486, hold directions, DTMF digits. Every test ends with zero page errors
(the page guard) and no live JS proxies or audio elements left after the Device is destroyed.
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import jwt
import pytest
from playwright.sync_api import Page

from browser.harness import Sandbox
from browser.sdk_driver import SdkDriver, SdkError, wait_for_harness

pytestmark = pytest.mark.browser


class Sdk(SdkDriver):
    """The in-page driver, from the test's side, with Devices that get their credentials from the sandbox."""

    def __init__(self, page: Page, sandbox: Sandbox) -> None:
        super().__init__(page)
        self.sandbox = sandbox

    def new_device(self, user: str = "alice", *, token: str | None = None, **options: Any) -> str:
        options.setdefault("api_base_url", self.sandbox.url)
        options.setdefault("log_level", "info")
        if token is None:
            token = mint(self.sandbox, user)
        result: dict[str, str] = self.run("create_device", token=token, options=options)
        return result["device"]

    def registered_device(self, user: str = "alice", **options: Any) -> str:
        device = self.new_device(user, **options)
        self.device(device, "register")
        assert self.device(device, "state") == "registered"
        return device


# ------------------------------------------------------------------------------------------ sandbox helpers


def mint(sandbox: Sandbox, user: str, ttl: int | None = None) -> str:
    body: dict[str, Any] = {"user_uuid": sandbox.user(user).uuid}
    if ttl is not None:
        body["ttl"] = ttl
    request = urllib.request.Request(
        sandbox.url + "/sdk/voip/access-token",
        data=json.dumps(body).encode(),
        headers={"X-User-API-Key": sandbox.api_key, "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return str(json.load(response)["token"])


def sandbox_json(sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        sandbox.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def sandbox_events(
    sandbox: Sandbox, *, call_id: str | None = None, kind: str | None = None
) -> list[dict[str, Any]]:
    query = {k: v for k, v in (("call_id", call_id), ("kind", kind)) if v}
    result = sandbox_json(sandbox, "GET", "/sandbox/events?" + urllib.parse.urlencode(query))
    events: list[dict[str, Any]] = result["events"] if isinstance(result, dict) else result
    return events


def wait_sandbox_event(
    sandbox: Sandbox,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    call_id: str | None = None,
    timeout: float = 15.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        for event in sandbox_events(sandbox, call_id=call_id):
            if predicate(event):
                return event
        if time.monotonic() > deadline:
            kinds = [e.get("kind") for e in sandbox_events(sandbox, call_id=call_id)]
            raise AssertionError(f"the sandbox never logged the expected event; it logged {kinds}")
        time.sleep(0.2)


def received_levels(sandbox: Sandbox, call_id: str, since: float = 0.0) -> list[float]:
    """The sandbox's per-second average level of the audio it received on a call (after ``since``)."""
    return [
        float(e["rms_avg"])
        for e in sandbox_events(sandbox, call_id=call_id, kind="audio_level")
        if float(e.get("time", 0)) >= since
    ]


# ------------------------------------------------------------------------------------------ fixtures


@pytest.fixture
def sdk(page: Page, sandbox: Sandbox) -> Iterator[Sdk]:
    """The harness page with Python and the SDK loaded; after the test, no live proxy or <audio> is left."""
    wait_for_harness(page, sandbox.url + "/test/pages/sdk_harness.html")
    driver = Sdk(page, sandbox)
    yield driver
    for device_id in driver.snapshot()["devices"]:
        driver.device(device_id, "destroy")
    page.wait_for_timeout(300)
    after = driver.snapshot()
    assert after["live_proxies"] == 0, f"live JS proxies after destroy: {after['live_proxies']}"
    assert after["audio_elements"] == 0


# ------------------------------------------------------------------------------------------ outbound


def test_echo_call_has_audio_both_ways(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    call_id = sdk.call(call, "sip_call_id")
    energy, received = sdk.wait_audio_growing(call)
    assert received > 4000, "no audio came back from the echo number"
    assert energy > 0
    levels = received_levels(sandbox, call_id)
    assert levels and max(levels) > 50, f"the sandbox heard nothing from the browser: {levels}"
    timings = sdk.call(call, "timings")
    assert {"invite_sent", "answered", "media_connected"} <= set(timings)
    sdk.call(call, "disconnect")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id=call_id)
    assert sdk.call(call, "status") == "disconnected"


def test_ringing_then_answer_with_a_tone(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550101")["call"]
    ringing = sdk.wait(call, "ringing")
    assert ringing["args"] == [{"has_early_media": False}]
    accepted = sdk.wait(call, "accepted", since=ringing["seq"], timeout=10)
    assert accepted["seq"] > ringing["seq"]
    energy, received = sdk.wait_audio_growing(call, seconds=2.0)
    assert received > 0 and energy > 0.05  # the 440 Hz tone (level ~0.21)
    sdk.call(call, "disconnect")


@pytest.mark.parametrize(
    ("number", "reason", "code"), [("+15550102", "busy", 486), ("+15550104", "declined", 603)]
)
def test_busy_and_decline(sdk: Sdk, number: str, reason: str, code: int) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", number)["call"]
    failed = sdk.wait(call, "failed")
    assert failed["args"] == [{"reason": reason, "status_code": code}]
    sdk.wait(call, "disconnect")
    assert sdk.call(call, "status") == "failed"
    assert sdk.device(device, "calls") == []


def test_no_answer_then_disconnect_sends_cancel(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550103")["call"]
    sdk.wait(call, "ringing")
    call_id = sdk.call(call, "sip_call_id")
    sdk.call(call, "disconnect")
    disconnect = sdk.wait(call, "disconnect")
    assert disconnect["args"][0]["reason"] == "cancelled"
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "cancel", call_id=call_id)


def test_early_media_then_answer(sdk: Sdk) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550107")["call"]
    ringing = sdk.wait(call, "ringing")
    assert ringing["args"] == [{"has_early_media": True}]
    time.sleep(1.0)
    assert sdk.call(call, "status") == "ringing"
    energy, received = sdk.wait_audio_growing(call, seconds=0.6)
    assert received > 0 and energy > 0, "no early media before the answer"
    sdk.wait(call, "accepted", timeout=10)
    sdk.call(call, "disconnect")


def test_remote_hangup(sdk: Sdk) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550105")["call"]
    sdk.wait(call, "accepted")
    disconnect = sdk.wait(call, "disconnect", timeout=10)
    assert disconnect["args"] == [{"reason": "remote", "status_code": None}]


# ------------------------------------------------------------------------------------------ in-call features


def test_mute_hold_and_dtmf(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    call_id = sdk.call(call, "sip_call_id")
    time.sleep(2.5)
    loud = received_levels(sandbox, call_id)
    assert loud and max(loud) > 50
    sdk.call(call, "mute", True)
    assert sdk.call(call, "is_muted") is True
    muted_at = time.time()
    time.sleep(3.2)
    quiet = received_levels(sandbox, call_id, since=muted_at + 1.1)
    assert quiet and max(quiet) < 5, f"the sandbox still hears us while muted: {quiet}"
    sdk.call(call, "mute", False)
    sdk.call(call, "hold", True)
    assert sdk.call(call, "is_on_hold") is True
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is True, call_id=call_id)
    sdk.call(call, "hold", False)
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is False, call_id=call_id)
    _energy, received = sdk.wait_audio_growing(call, seconds=2.0)
    assert received > 0, "no audio after unhold"
    sdk.call(call, "send_digits", "159#")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "dtmf" and e.get("digits") == "159#", call_id=call_id)
    digits = list(sandbox_events(sandbox, call_id=call_id, kind="dtmf"))
    assert {e["transport"] for e in digits} == {"rfc4733"}
    events = [e["name"] for e in sdk.run("events") if e["target"] == call]
    assert events.count("mute") == 2 and events.count("hold") == 2
    sdk.call(call, "disconnect")


def test_ivr_digits_over_sip_info(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device(dtmf_transport="info")
    call = sdk.device(device, "connect", "+15550106")["call"]
    sdk.wait(call, "accepted")
    call_id = sdk.call(call, "sip_call_id")
    sdk.call(call, "send_digits", "42*")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "dtmf" and e.get("digits") == "42*", call_id=call_id)
    assert {e["transport"] for e in sandbox_events(sandbox, call_id=call_id, kind="dtmf")} == {"info"}
    sdk.call(call, "disconnect")


def test_switch_input_and_output_devices_mid_call(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    inputs = [d for d in sdk.device(device, "list_audio_devices") if d["kind"] == "audioinput"]
    assert len(inputs) >= 2, f"Chromium's fake devices: {inputs}"
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    before = sdk.snapshot()["seq"]
    sdk.call(call, "set_input_device", inputs[1]["device_id"])
    sdk.call(call, "set_output_device", "default")
    energy, received = sdk.wait_audio_growing(call, seconds=2.5)
    assert received > 0 and energy > 0, "audio stopped after the input switch"
    call_id = sdk.call(call, "sip_call_id")
    reinvites = sandbox_events(sandbox, call_id=call_id, kind="reinvite")
    assert reinvites == [], "switching devices must not renegotiate"
    assert not [e for e in sdk.run("events", since=before) if e["name"] == "error"]
    sdk.call(call, "disconnect")


# ------------------------------------------------------------------------------------------ inbound


def _inbound(sandbox: Sandbox, **body: Any) -> str:
    body.setdefault("to", "alice")
    result = sandbox_json(sandbox, "POST", "/sandbox/calls", body)
    return str(result["call_id"])


def test_inbound_accept_with_custom_headers_and_caller_hangs_up(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call_id = _inbound(sandbox, headers={"X-2Chat-Ticket-Id": "42", "X-2Chat-Customer": "ACME"}, media="tone")
    incoming = sdk.wait(device, "incoming")
    call = incoming["args"][0]["call"]
    assert sdk.call(call, "direction") == "inbound"
    assert sdk.call(call, "custom_headers") == {"Ticket-Id": "42", "Customer": "ACME"}
    assert sdk.call(call, "sip_call_id") == call_id
    sdk.call(call, "accept")
    energy, received = sdk.wait_audio_growing(call, seconds=2.0)
    assert received > 0 and energy > 0.05
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{call_id}")
    disconnect = sdk.wait(call, "disconnect")
    assert disconnect["args"][0]["reason"] == "remote"


def test_inbound_reject_is_486_at_the_sandbox(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call_id = _inbound(sandbox)
    call = sdk.wait(device, "incoming")["args"][0]["call"]
    sdk.call(call, "reject")
    sdk.wait(call, "reject")
    event = wait_sandbox_event(sandbox, lambda e: e["kind"] == "rejected", call_id=call_id)
    assert event["status"] == 486


def test_inbound_ignore_then_caller_cancels(sdk: Sdk, sandbox: Sandbox) -> None:
    device = sdk.registered_device()
    call_id = _inbound(sandbox)
    call = sdk.wait(device, "incoming")["args"][0]["call"]
    sdk.call(call, "ignore")
    time.sleep(1.0)
    assert sdk.call(call, "status") == "pending"
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{call_id}")
    sdk.wait(call, "cancel")
    disconnect = sdk.wait(call, "disconnect")
    assert disconnect["args"][0]["reason"] == "remote-cancelled"


# ------------------------------------------------------------------------------------------ tokens and input


def test_three_token_refreshes_in_a_row(sdk: Sdk, sandbox: Sandbox) -> None:
    # 60 s tokens (the sandbox's minimum) with a 58.5 s lead: tokenWillExpire ~1.5 s after each update.
    device = sdk.registered_device(token_expiry_lead_ms=58_500, token=mint(sandbox, "alice", ttl=60))
    since = 0
    for _ in range(3):
        fired = sdk.wait(device, "tokenWillExpire", since=since, timeout=10)
        since = fired["seq"]
        sdk.device(device, "update_token", mint(sandbox, "alice", ttl=60))
    sdk.wait(device, "tokenWillExpire", since=since, timeout=10)
    registers = sandbox_events(sandbox, kind="register")
    assert len([r for r in registers if r.get("user") == "alice" and not r.get("refresh")]) >= 1
    assert sdk.device(device, "state") == "registered"


def test_bad_input_is_refused_before_anything_is_sent(sdk: Sdk, sandbox: Sandbox) -> None:
    expired = jwt.encode({"sub": "x", "exp": int(time.time()) - 60}, "k" * 32, algorithm="HS256")
    for token, code in (
        ("not a token", "TOKEN_INVALID"),
        ("a.b", "TOKEN_INVALID"),
        (expired, "TOKEN_EXPIRED"),
    ):
        device = sdk.new_device(token=token)
        with pytest.raises(SdkError) as info:
            sdk.device(device, "register")
        assert info.value.code == code
    with pytest.raises(SdkError) as info:
        sdk.new_device(default_extra_headers=["X-Bad: a\r\nInjected: 1"])
    assert info.value.code == "INVALID_ARGUMENT"
    device = sdk.registered_device()
    started = len(sandbox_events(sandbox, kind="call_started"))
    bad_calls: list[tuple[list[Any], dict[str, Any]]] = [
        (["15550100"], {}),
        (["sip:bad uri"], {}),
        (["+15550100"], {"extra_headers": ["X-A: 1\r\nX-B: 2"]}),
        (["+15550100"], {"extra_headers": ["Bad Name: x"]}),
        (["+15550100"], {"from_": "5550200"}),
    ]
    for args, kwargs in bad_calls:
        with pytest.raises(SdkError) as info:
            sdk.device(device, "connect", *args, **kwargs)
        assert info.value.code == "INVALID_ARGUMENT", (args, kwargs)
    assert len(sandbox_events(sandbox, kind="call_started")) == started
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    with pytest.raises(SdkError) as info:
        sdk.call(call, "send_digits", "12X")
    assert info.value.code == "INVALID_ARGUMENT"
    sdk.call(call, "disconnect")
