"""The minimal click-to-call example (``click-to-call.html``): one button calls one number.

This is the shape of a real integration:

1. your backend mints a short-lived access token (here the sandbox's demo backend, ``POST /demo/token``,
   for the sandbox user named in the page's ``?user=`` parameter, ``alice`` by default);
2. ``Device(token)`` registers with 2Chat;
3. ``device.connect(number)`` places the call; ``call.disconnect()`` hangs up.

Every failure is shown in the status line, nothing is swallowed.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import js
from pyodide.http import pyfetch
from pyscript import when

import twochat_voice_web as voice
from app import boot
from app.status import StatusArea

CALLEE = "+15550100"
"""The sandbox's echo test number: it answers at once and plays your microphone back."""

TOKEN_URL = "./demo/token"
"""The demo backend of the sandbox; a real page calls its own backend here."""

API_BASE_URL = str(js.location.origin)
"""Where the Device fetches its SIP credentials: the sandbox that serves this page emulates 2Chat's
API. On your own site, leave ``api_base_url`` out (it defaults to 2Chat's)."""


class ClickToCall:
    """One device, at most one call, two buttons."""

    def __init__(self) -> None:
        self.status = StatusArea()
        self.call_button = js.document.getElementById("call")
        self.hangup_button = js.document.getElementById("hangup")
        self.device: Any = None
        self.call: Any = None

    async def fetch_token(self) -> str:
        """Ask the backend for an access token for the page's user."""
        user = js.URLSearchParams.new(js.location.search).get("user") or "alice"
        response = await pyfetch(
            TOKEN_URL, method="POST", headers={"Content-Type": "application/json"},
            body=json.dumps({"user": user}),
        )
        body = await response.json()
        if not response.ok:
            raise RuntimeError(f"{TOKEN_URL} answered HTTP {response.status}: {body.get('error_message')}")
        return str(body["token"])

    async def start_call(self) -> None:
        """Register (first time only) and call :data:`CALLEE`."""
        self.call_button.disabled = True
        try:
            if self.device is None:
                self.status.info("Getting a token…")
                self.device = voice.Device(await self.fetch_token(), api_base_url=API_BASE_URL)
                self.status.info("Registering…")
                await self.device.register()
            self.status.info(f"Calling {CALLEE}…")
            self.call = await self.device.connect(CALLEE)
            self.call.on("accepted", lambda *_: self.status.success(f"In a call with {CALLEE}"))
            self.call.on("disconnect", lambda *_: self.call_ended("Call ended"))
            self.call.on("failed", lambda error, *_: self.call_ended(f"Call failed: {error}"))
            self.hangup_button.disabled = False
        except Exception as error:
            self.status.error(f"Call failed: {type(error).__name__}: {error}")
            self.call_button.disabled = False

    def call_ended(self, message: str) -> None:
        """The call is over (either side hung up, or it failed)."""
        self.call = None
        self.hangup_button.disabled = True
        self.call_button.disabled = False
        self.status.info(message)

    async def hang_up(self) -> None:
        """End the call, if any."""
        self.hangup_button.disabled = True
        if self.call is not None:
            try:
                await self.call.disconnect()
            except Exception as error:
                self.status.error(f"Hang-up failed: {type(error).__name__}: {error}")
                self.call_button.disabled = False


page = ClickToCall()


@when("click", "#call")  # type: ignore[untyped-decorator]
async def on_call(_event: object) -> None:
    """The call button."""
    await page.start_call()


@when("click", "#hangup")  # type: ignore[untyped-decorator]
async def on_hangup(_event: object) -> None:
    """The hang-up button."""
    await page.hang_up()


page.call_button.disabled = False
page.status.info(f"Ready (Python {sys.version.split()[0]}, twochat_voice_web {voice.__version__})")
boot.announce_ready(voice.__version__)
