"""JsSIP in real Chromium against the sandbox SIP server: MD5 digest, real media to a test number, RFC 4733
and INFO DTMF recorded with their transport, hold, and an inbound call from ``POST /sandbox/calls``.

Skipped without /usr/bin/chromium or the JsSIP bundle (``python3 build.py test`` makes dist/test-assets).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sipdriver import DOMAIN, SipEnv, eventually, run_sip

from twochat_voice_web.sandbox.config import Mount
from twochat_voice_web.testing import chromium as testing_chromium

REPO = Path(__file__).resolve().parents[2]
TEST_ASSETS = REPO / "dist" / "test-assets"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", *testing_chromium.CHROMIUM_ARGS]  # the plugin's copy of the flags

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is not installed"),
    pytest.mark.skipif(
        not (TEST_ASSETS / "vendor" / "jssip.min.js").exists(),
        reason="no JsSIP bundle (python3 build.py test)",
    ),
]


class Peer:
    """The JsSIP peer page (tests/pages/jssip-peer.html), async Playwright."""

    def __init__(self, page: Any) -> None:
        self.page = page

    async def find(self, event: str, since: int = 0) -> dict[str, Any] | None:
        found: dict[str, Any] | None = await self.page.evaluate(
            "([ev, since]) => PEER.find(ev, since)", [event, since]
        )
        return found

    async def wait(self, event: str, since: int = 0, timeout: float = 30.0) -> dict[str, Any]:
        return await eventually(lambda: self.find(event, since), f"JsSIP event {event}", timeout=timeout)

    async def mark(self) -> int:
        count: int = await self.page.evaluate("PEER.events.length")
        return count


def test_jssip_registers_calls_the_ivr_sends_dtmf_both_ways_holds_and_takes_an_inbound_call() -> None:
    async def scenario(env: SipEnv) -> None:
        from playwright.async_api import async_playwright

        base = str(env.http.make_url("/")).rstrip("/")
        ws_url = base.replace("http://", "ws://") + "/sip"
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                context = await browser.new_context(permissions=["microphone"])
                page = await context.new_page()
                errors: list[str] = []
                page.on("pageerror", lambda error: errors.append(str(error)))
                await page.goto(base + "/test/pages/jssip-peer.html")
                await eventually(lambda: page.evaluate("!!(window.PEER && PEER.ready)"), "the peer page")
                peer = Peer(page)
                await page.evaluate(
                    "(o) => PEER.start(o)",
                    {"ws_url": ws_url, "uri": f"sip:alice@{DOMAIN}", "password": env.password("alice")},
                )
                await peer.wait("registered")
                register = await env.wait_logged("register", user="alice")
                assert register["reg_id"] == "1"
                # a call to the IVR with real media
                since = await peer.mark()
                await page.evaluate("(t) => PEER.call(t)", f"sip:+15550106@{DOMAIN}")
                await peer.wait("confirmed", since)
                started = await env.wait_logged("call_started", number="+15550106")
                call_id = started["call_id"]
                await env.wait_logged("media_state", call_id=call_id, state="connected")
                await page.evaluate("PEER.dtmf('12', {transport: 'rfc4733', duration: 150, gap: 100})")
                await env.wait_logged("dtmf", call_id=call_id, digits="12")
                await page.evaluate("PEER.dtmf('#', {transport: 'info'})")
                await env.wait_logged("dtmf", call_id=call_id, digits="12#")
                transports = [e["transport"] for e in env.logged("dtmf", call_id=call_id)]
                assert transports == ["rfc4733", "rfc4733", "info"]
                level = await env.wait_logged("audio_level", call_id=call_id)
                assert level["frames"] > 0  # Chromium's fake microphone reaches the IVR
                # hold and resume
                since = await peer.mark()
                await page.evaluate("PEER.hold()")
                await peer.wait("holdDone", since)
                hold = await env.wait_logged("hold", call_id=call_id, on_hold=True)
                assert hold["direction"] in ("sendonly", "inactive")
                since = await peer.mark()
                await page.evaluate("PEER.unhold()")
                await peer.wait("unholdDone", since)
                await env.wait_logged("hold", call_id=call_id, on_hold=False)
                since = await peer.mark()
                await page.evaluate("PEER.hangup()")
                await peer.wait("ended", since)
                await env.wait_logged("bye", call_id=call_id, who="caller")
                # an inbound call placed by the sandbox, with X-2Chat headers, hung up by the sandbox
                since = await peer.mark()
                status, body = await env.json(
                    "POST", "/sandbox/calls", {"to": "alice", "headers": {"X-2Chat-Ticket-Id": "T-9"}}
                )
                assert status == 200
                session = await peer.wait("newRTCSession", since)
                assert session["call_id"] == body["call_id"]
                headers = {name.lower(): value for name, value in session["headers"].items()}
                assert headers.get("x-2chat-ticket-id") == "T-9"  # JsSIP spells it X-2chat-Ticket-Id
                await page.evaluate("PEER.answer()")
                await peer.wait("confirmed", since)
                await env.wait_logged("answered", call_id=body["call_id"])
                await env.json("DELETE", f"/sandbox/calls/{body['call_id']}")
                ended = await peer.wait("ended", since)
                assert ended["originator"] == "remote"
                await page.evaluate("PEER.stop()")
                await env.wait_logged("unregister", user="alice")
                assert errors == [], errors
            finally:
                await browser.close()

    run_sip(scenario, timeout=240, mounts=(Mount("/test", TEST_ASSETS),))
