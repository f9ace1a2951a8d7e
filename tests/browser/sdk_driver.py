"""The Playwright side of the in-page SDK driver (tests/pages/sdk_harness.html + sdk_scenarios.py).

Shared by the browser tests against the sandbox (tests/browser/test_device_calls.py) and the interop tests
against Kamailio (tests/interop/test_sdk_*.py). `SdkDriver` runs driver commands in a page that loaded the
harness, and reads the call statistics the tests assert on; subclasses add how Devices get their
credentials (a sandbox token, or a ``credentials_provider`` dict).
"""

from __future__ import annotations

import json
import time
from typing import Any

from playwright.sync_api import Page

__all__ = ["SdkDriver", "SdkError", "wait_for_harness"]


class SdkError(Exception):
    """An error returned by the in-page driver (a VoiceSDKError's JSON, or another exception)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.error = error


def wait_for_harness(page: Page, url: str, *, timeout_ms: float = 120_000) -> None:
    """Open the harness page at ``url`` and wait until Python, the SDK and the driver are loaded."""
    page.goto(url)
    page.wait_for_function("window.__sdk && (window.__sdk.ready || window.__sdk.error)", timeout=timeout_ms)
    state = page.evaluate("window.__sdk")
    if not state["ready"]:
        raise AssertionError(f"the SDK harness page did not start: {state['error']}")


class SdkDriver:
    """The in-page driver, from the test's side: commands, Device/Call methods, the event log, stats."""

    def __init__(self, page: Page) -> None:
        self.page = page

    def run(self, command: str, **kwargs: Any) -> Any:
        """Run ``sdk_scenarios.<command>(**kwargs)`` in the page; its result, or `SdkError`."""
        raw = self.page.evaluate("([n, k]) => window.sdkRun(n, k)", [command, kwargs])
        result = json.loads(raw)
        if "error" in result:
            raise SdkError(result["error"])
        return result["ok"]

    def device(self, device_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Device method (awaited in the page) or read a property."""
        return self.run("device", device_id=device_id, method=method, args=list(args), kwargs=kwargs)

    def call(self, call_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Call method (awaited in the page) or read a property."""
        return self.run("call", call_id=call_id, method=method, args=list(args), kwargs=kwargs)

    def wait(self, target: str, name: str, since: int = 0, timeout: float = 20.0) -> dict[str, Any]:
        """The first ``name`` event of ``target`` (a device or call id) after sequence number ``since``."""
        result: dict[str, Any] = self.run(
            "wait_event", target=target, name=name, since=since, timeout=timeout
        )
        return result

    def events(self, since: int = 0) -> list[dict[str, Any]]:
        """Every logged event after sequence number ``since`` (``{seq, target, name, args}``)."""
        result: list[dict[str, Any]] = self.run("events", since=since)
        return result

    def snapshot(self) -> dict[str, Any]:
        """Device states, call statuses, live JS proxies, <audio> elements and the last sequence number."""
        result: dict[str, Any] = self.run("snapshot")
        return result

    def audio_in(self, call_id: str) -> tuple[float, int]:
        """(totalAudioEnergy, bytesReceived) of the call's inbound audio."""
        stats = self.call(call_id, "get_stats")
        return float(stats.get("total_audio_energy_in") or 0.0), int(stats.get("bytes_received") or 0)

    def wait_audio_growing(self, call_id: str, *, seconds: float = 3.0) -> tuple[float, int]:
        """Energy and bytes gained by the inbound audio over ``seconds`` (both must grow)."""
        energy0, bytes0 = self.audio_in(call_id)
        time.sleep(seconds)
        energy1, bytes1 = self.audio_in(call_id)
        return energy1 - energy0, bytes1 - bytes0
