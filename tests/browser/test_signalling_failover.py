"""Several signalling servers (Twilio's edge fallback) for real: Chromium, our SDK, the sandbox.

The sandbox serves its SIP WebSocket at ``/sip`` and at a second listener ``/sip-b``, and lists the URLs
a test asks for in its credentials (``PUT /sandbox/ws-urls``). The Device must skip a dead server at
registration, move to the next server when its connection drops, and say where it is (``ws_url``,
``serverChange``); the sandbox's ``connection_opened`` events show which listener each connection used.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from browser import test_device_calls
from browser.harness import Sandbox
from browser.test_device_calls import Sdk, sandbox_events, sandbox_json, wait_sandbox_event

pytestmark = pytest.mark.browser

sdk = test_device_calls.sdk
"""The harness page with a driver (the fixture of test_device_calls: no proxy or <audio> left after)."""


def _dead_ws_url() -> str:
    """A loopback WebSocket URL nobody listens on (a port bound and released: the connection is refused)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}/sip"


@pytest.fixture
def listed(sandbox: Sandbox) -> Iterator[list[str]]:
    """Set the credentials' WebSocket URLs for one test (``listed.extend([...])`` then ``put``)."""
    urls: list[str] = []
    yield urls
    sandbox_json(sandbox, "DELETE", "/sandbox/ws-urls")


def _put(sandbox: Sandbox, urls: list[str]) -> None:
    assert sandbox_json(sandbox, "PUT", "/sandbox/ws-urls", {"urls": urls}) == {"urls": urls}


def test_registration_skips_a_dead_server(sdk: Sdk, sandbox: Sandbox, listed: list[str]) -> None:
    second = sandbox.ws_url + "-b"
    _put(sandbox, [_dead_ws_url(), second])
    since = sandbox_events(sandbox)[-1]["id"] if sandbox_events(sandbox) else 0
    device = sdk.registered_device()
    assert sdk.device(device, "ws_url") == second
    change = sdk.wait(device, "serverChange")
    assert change["args"] == [{"ws_url": second, "previous": None}]
    opened = [e for e in sandbox_events(sandbox, kind="connection_opened") if e["id"] > since]
    assert [e["path"] for e in opened] == ["/sip-b"]
    call = sdk.device(device, "connect", "+15550100")["call"]  # the Device works from there
    sdk.wait(call, "accepted")
    sdk.call(call, "disconnect")


def test_a_dropped_connection_fails_over_to_the_next_server(
    sdk: Sdk, sandbox: Sandbox, listed: list[str]
) -> None:
    first, second = sandbox.ws_url, sandbox.ws_url + "-b"
    _put(sandbox, [first, second])
    device = sdk.registered_device()
    assert sdk.device(device, "ws_url") == first
    registered = sdk.wait(device, "serverChange")
    call = sdk.device(device, "connect", "+15550100")["call"]
    sdk.wait(call, "accepted")
    since = sandbox_events(sandbox)[-1]["id"]
    sandbox_json(sandbox, "POST", "/sandbox/drop", {"user": "alice"})
    sdk.wait(device, "reconnected", since=registered["seq"], timeout=30)
    change = sdk.wait(device, "serverChange", since=registered["seq"])
    assert change["args"] == [{"ws_url": second, "previous": first}]
    assert sdk.device(device, "ws_url") == second
    opened = wait_sandbox_event(sandbox, lambda e: e["kind"] == "connection_opened" and e["id"] > since)
    assert opened["path"] == "/sip-b"
    sdk.wait(call, "reconnected", timeout=30)  # the call survived the move (re-INVITE on the new flow)
    assert sdk.call(call, "status") == "accepted"
    sdk.call(call, "disconnect")


def test_a_bad_list_is_refused_at_register(sdk: Sdk, sandbox: Sandbox, listed: list[str]) -> None:
    _put(sandbox, [sandbox.ws_url, "wss://127.0.0.1:9/sip"])  # mixed ws:// and wss://
    device = sdk.new_device()
    with pytest.raises(test_device_calls.SdkError) as refused:
        sdk.device(device, "register")
    assert refused.value.code == "CONFIG_FETCH_FAILED" and "ws_urls" in str(refused.value.error["message"])
    assert sdk.device(device, "state") == "unregistered"
