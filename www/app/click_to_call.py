"""The click-to-call example (``click-to-call.html``): one button per sandbox test number.

This is the shape of a real integration:

1. your backend mints a short-lived access token (here the sandbox's demo backend, ``POST /demo/token``,
   for the sandbox user named in the page's ``?user=`` parameter, ``alice`` by default);
2. ``Device(token)`` registers with 2Chat, on the first click;
3. ``device.connect(number)`` places the call; ``call.disconnect()`` hangs up.

The status line says where the call is; the Events list shows every Device and Call event with its
payload (quality samples excepted: one a second is noise here). At most one call at a time.
"""

from __future__ import annotations

import sys
from typing import Any

import js

import twochat_voice_web as voice
from app import boot
from app.backend import BackendError, fetch_token
from app.dialing import SANDBOX_NUMBERS
from app.dom import Listeners, by_id, clock_time, closest, make, nullable, query
from app.messages import describe_end, describe_error, describe_exception
from app.status import StatusArea

API_BASE_URL = str(js.location.origin)
"""Where the Device fetches its SIP credentials: the sandbox that serves this page emulates 2Chat's
API. On your own site, leave ``api_base_url`` out (it defaults to 2Chat's)."""

EVENT_LIMIT = 100
"""The Events list keeps this many lines."""


def _describe_payload(args: tuple[Any, ...]) -> str:
    """An event's arguments as short text (errors by code and message)."""
    parts: list[str] = []
    for arg in args:
        if isinstance(arg, voice.VoiceSDKError):
            parts.append(f"{arg.code.value}: {arg.message}")
        elif isinstance(arg, voice.Call):
            parts.append(f"call from {arg.remote_identity}")
        elif isinstance(arg, dict):
            parts.append(", ".join(f"{key}={value}" for key, value in arg.items()))
        elif arg is not None:
            parts.append(str(arg))
    return "; ".join(parts)


class ClickToCall:
    """One Device, at most one call, a call button per test number and one hang-up button."""

    def __init__(self) -> None:
        self.status = StatusArea()
        self.listeners = Listeners(self.report_exception)
        self.hangup_button = by_id("hangup")
        self.events = by_id("events")
        self.numbers = by_id("numbers")
        self.device: voice.Device | None = None
        self.call: voice.Call | None = None
        self.calling: str | None = None
        """The number being called (set from the click until the call ends)."""
        self.hangup_requested = False

    # ------------------------------------------------------------------ set-up

    def mount(self) -> None:
        """Draw the number list and wire the buttons."""
        for entry in SANDBOX_NUMBERS:
            row = make("li", "number-row", None, data_number=entry.number)
            text = make("div", "number-text")
            text.appendChild(make("strong", None, f"{entry.name} · {entry.number}"))
            text.appendChild(make("span", "muted small", entry.behaviour))
            text.appendChild(make("span", "number-result", "", data_result=entry.number))
            row.appendChild(text)
            button = make("button", "c2c-button", "Call", type="button", data_number=entry.number)
            button.setAttribute("aria-label", f"Call {entry.name}, {entry.number}")
            row.appendChild(button)
            self.numbers.appendChild(row)
        self.listeners.on(js.document.body, "click", self._on_click)
        self.listeners.on(js.window, "pagehide", lambda _e: self._shut_down())
        self._set_buttons()

    def _call_buttons(self) -> list[Any]:
        return list(js.document.querySelectorAll("button[data-number]"))

    def _set_buttons(self) -> None:
        busy = self.calling is not None
        for button in self._call_buttons():
            button.disabled = busy
        self.hangup_button.disabled = not busy
        for row in js.document.querySelectorAll(".number-row"):
            row.dataset.active = "true" if busy and row.dataset.number == self.calling else "false"

    def _on_click(self, event: Any) -> Any:
        button = closest(event, "button[data-number]")
        if button is not None and not button.disabled:
            return self.start_call(str(button.dataset.number))
        if closest(event, "#hangup") is not None:
            return self.hang_up()
        return None

    # ------------------------------------------------------------------ output

    def log_event(self, source: str, name: str, detail: str = "") -> None:
        """Add a line to the Events list (newest first)."""
        item = make("li", None, None, data_event=name, data_source=source)
        item.appendChild(make("time", None, clock_time(js.Date.now() / 1000, seconds=True)))
        item.appendChild(make("span", "event-name", f"{source}.{name}"))
        item.appendChild(make("span", "event-detail", detail))
        self.events.prepend(item)
        while self.events.children.length > EVENT_LIMIT:
            self.events.lastElementChild.remove()

    def report_exception(self, error: BaseException) -> None:
        """Anything a handler raised: shown, never left uncaught."""
        self.status.error(describe_exception(error))

    def _record(self, source: str, emitter: Any, names: frozenset[str]) -> None:
        for name in sorted(names - {"sample"}):
            emitter.on(
                name,
                self.listeners.deferred(
                    lambda *args, _n=name: self.log_event(source, _n, _describe_payload(args))
                ),
            )

    def _show_result(self, number: str, text: str) -> None:
        result = query(js.document, f'[data-result="{number}"]')
        if result is not None:
            result.textContent = f"Last call: {text}"

    # ------------------------------------------------------------------ calls

    async def ensure_device(self) -> voice.Device:
        """The registered Device, created on first use with a token from the page's backend."""
        if self.device is not None:
            return self.device
        user = nullable(js.URLSearchParams.new(js.location.search).get("user")) or "alice"
        self.status.info("Getting a token…")
        token = await fetch_token(str(user))
        device = voice.Device(token.token, api_base_url=API_BASE_URL)
        self._record("device", device, voice.Device.EVENTS)
        device.on("tokenWillExpire", self.listeners.deferred(lambda *_: self.refresh_token(str(user))))
        self.status.info("Registering…")
        try:
            await device.register()
        except voice.VoiceSDKError:
            device.destroy()
            raise
        self.device = device
        return device

    async def refresh_token(self, user: str) -> None:
        """``tokenWillExpire``: fetch a fresh token and hand it to the Device."""
        device = self.device
        if device is None:
            return
        try:
            token = await fetch_token(user)
            await device.update_token(token.token)
        except (BackendError, voice.VoiceSDKError) as error:
            self.log_event("page", "token-refresh-failed", str(error))

    async def start_call(self, number: str) -> None:
        """Register if needed, then call ``number``."""
        if self.calling is not None:
            return
        self.calling = number
        self.hangup_requested = False
        self._set_buttons()
        try:
            device = await self.ensure_device()
            self.status.info(f"Calling {number}…")
            call = await device.connect(number)
        except (BackendError, voice.VoiceSDKError) as error:
            text = describe_error(error) if isinstance(error, voice.VoiceSDKError) else str(error)
            self.status.error(f"Call failed: {text}")
            self._show_result(number, text)
            self.calling = None
            self._set_buttons()
            return
        self.call = call
        self._record("call", call, voice.Call.EVENTS)
        later = self.listeners.deferred  # keep the SDK's event pump short (see Listeners.deferred)
        call.on("ringing", later(lambda *_: self.status.info(f"Ringing {number}…")))
        call.on("accepted", later(lambda *_: self.status.success(f"In a call with {number}")))
        call.on("disconnect", later(lambda payload: self.call_ended(number, call, payload)))
        if self.hangup_requested:
            await call.disconnect()

    def call_ended(self, number: str, call: voice.Call, payload: dict[str, Any]) -> None:
        """The call is over (either side hung up, or it failed)."""
        outcome = describe_end(str(payload.get("reason", "")), payload.get("status_code"))
        self._show_result(number, outcome)
        if call.status == "failed":
            self.status.warning(f"Call to {number} failed: {outcome}")
        else:
            self.status.info(f"Call ended ({outcome})")
        self.call = None
        self.calling = None
        self._set_buttons()

    async def hang_up(self) -> None:
        """End the call, if any (or cancel it while it is being set up)."""
        self.hangup_button.disabled = True
        if self.call is not None:
            await self.call.disconnect()
        elif self.calling is not None:
            self.hangup_requested = True

    def _shut_down(self) -> None:
        device, self.device = self.device, None
        if device is not None:
            device.destroy()


page = ClickToCall()
page.mount()
page.status.info(f"Ready (Python {sys.version.split()[0]}, twochat_voice_web {voice.__version__})")
boot.announce_ready(voice.__version__)
