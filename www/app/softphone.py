"""The softphone of ``index.html``: sign in, dial, answer, talk, and see what happened.

One :class:`Softphone` drives the page's static markup (ids in ``index.html``) from the SDK's events:

* **Sign in** as a sandbox account (``GET /demo/users``); the page's backend mints the access token
  (``POST /demo/token``), then ``Device(token).register()``. The header pill shows the Device's state:
  registering, registered, reconnecting, offline, errors.
* **Dial** on the keypad or the keyboard: :func:`app.dialing.check_destination` accepts E.164 numbers and
  ``sip:`` URIs and explains anything else inline, before anything is sent. The caller-ID picker lists
  ``device.caller_ids`` and passes the choice as ``connect(from_=...)``.
* **In a call**: timer, mute, hold, keypad tones (``call.send_digits``), hang-up, level meters and the
  quality line from the Call's ``sample`` events, quality warnings from ``warning``/``warning-cleared``.
* **Incoming calls** ring in a banner with the caller and the ``X-2Chat-*`` headers
  (``call.custom_headers``): accept, reject (486) or ignore (stop ringing here).
* **Recent calls**: direction, number, duration and how it ended, kept in ``localStorage``.
* **Token refresh**: on ``tokenWillExpire`` the page asks its backend for a new token and hands it to
  ``device.update_token()`` (retrying with back-off), without touching calls.
* **Errors** are shown as sentences (:mod:`app.messages`), never as tracebacks.

Page parameters (query string): ``user=bob`` preselects an account; ``token_lead_ms=N`` sets how long
before expiry the token is refreshed (the SDK's ``token_expiry_lead_ms``; a demo and test knob).

For tests and the curious, ``window.twochatDemo.callStats()`` resolves to the JSON of the current call's
``get_stats()`` summary (``"{}"`` without a call).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from datetime import datetime
from typing import Any

import js
from pyodide.ffi import create_proxy, to_js

from app.audio import AudioSettings
from app.backend import BackendError, DemoDirectory, DemoUser, fetch_token, fetch_users
from app.calllog import CallLog, CallLogEntry
from app.checkup import ECHO_NUMBER, preflight_rows
from app.dialing import DTMF_KEYS, SANDBOX_NUMBERS, check_destination, format_duration, format_number
from app.dom import (
    Listeners,
    by_id,
    clear,
    clock_time,
    closest,
    load_json,
    make,
    nullable,
    query,
    save_json,
    set_hidden,
)
from app.levels import describe_sample
from app.messages import describe_end, describe_error, describe_exception, describe_warning
from app.status import StatusArea
from app.views import ActivityLog, CallLogView, Keypad, Meter
from twochat_voice_web import Call, Device, ErrorCode, VoiceSDKError

__all__ = ["ActiveCall", "Softphone"]

STORAGE_USER = "twochat-demo:user"
STORAGE_CALL_LOG = "twochat-demo:call-log"
STORAGE_CALLER_ID = "twochat-demo:caller-id:"
"""Prefix; the user's name follows."""

DEFAULT_TOKEN_LEAD_MS = 60_000
"""Refresh the access token a minute before it expires (the SDK's default lead)."""

FAILED_REASONS = frozenset(
    {
        "busy", "declined", "not-found", "unavailable", "no-answer", "failed", "media", "transport",
        "dialog-lost",
    }
)
"""End reasons shown as a warning rather than as plain information."""


class ActiveCall:
    """The call on screen (outbound from the moment Call is pressed, inbound once accepted).

    A plain class rather than a dataclass: creating a dataclass compiles its methods in the page, which
    costs milliseconds of a returning visitor's start for every class (see docs: performance).
    """

    def __init__(
        self,
        direction: str,
        remote: str,
        *,
        call: Call | None = None,
        started_at: float | None = None,
        phase: str = "calling",
    ) -> None:
        self.direction = direction
        """``outbound`` or ``inbound``."""
        self.remote = remote
        """The number or SIP address on the other side."""
        self.call = call
        """The SDK's Call (None while ``connect()`` is still preparing it)."""
        self.started_at = time.time() if started_at is None else started_at
        """When the call began (epoch seconds)."""
        self.answered_at: float | None = None
        """``time.monotonic()`` at the answer; None before."""
        self.phase = phase
        """``calling``, ``ringing``, ``connecting``, ``connected`` or ``ending``."""
        self.held = False
        self.remote_held = False
        self.reconnecting = False
        self.hangup_requested = False
        self.digits = ""
        """Keypad tones sent during the call."""


def _query_parameter(name: str) -> str | None:
    value = nullable(js.URLSearchParams.new(js.location.search).get(name))
    return None if value is None else str(value)


def _token_lead_ms() -> int:
    raw = _query_parameter("token_lead_ms")
    if raw is not None and raw.isdigit():
        return int(raw)
    return DEFAULT_TOKEN_LEAD_MS


def _clock_time(iso: str) -> str:
    """``14:03`` (the browser's local time) for an ISO 8601 instant; the raw text when it does not parse."""
    try:
        return clock_time(datetime.fromisoformat(iso).timestamp())
    except ValueError:
        return iso


class Softphone:
    """The whole softphone page. Build it, :meth:`mount` it, then run :meth:`start`."""

    def __init__(self) -> None:
        self.status = StatusArea()
        self.listeners = Listeners(self.report_exception)
        self.activity = ActivityLog(by_id("activity"))
        self.token_lead_ms = _token_lead_ms()
        # header
        self.pill = by_id("device-state")
        self.pill_text = by_id("device-state-text")
        self.identity = by_id("identity")
        self.sign_out_button = by_id("sign-out")
        # sign-in
        self.sign_in_card = by_id("sign-in")
        self.users_list = by_id("users")
        self.sign_in_button = by_id("sign-in-button")
        # phone
        self.phone_card = by_id("phone")
        self.incoming_box = by_id("incoming")
        self.incoming_from = by_id("incoming-from")
        self.incoming_headers = by_id("incoming-headers")
        self.accept_button = by_id("accept")
        self.dialer = by_id("dialer")
        self.caller_id = by_id("caller-id")
        self.destination = by_id("destination")
        self.destination_problem = by_id("destination-problem")
        self.call_button = by_id("call-button")
        self.in_call = by_id("in-call")
        self.call_direction = by_id("call-direction")
        self.call_remote = by_id("call-remote")
        self.call_state = by_id("call-state")
        self.call_timer = by_id("call-timer")
        self.call_quality = by_id("call-quality")
        self.call_warnings = by_id("call-warnings")
        self.mute_button = by_id("mute")
        self.hold_button = by_id("hold")
        self.keypad_button = by_id("show-keypad")
        self.dtmf_box = by_id("dtmf")
        self.dtmf_sent = by_id("dtmf-sent")
        self.hangup_button = by_id("hangup")
        self.token_info = by_id("token-info")
        self.meter_in = Meter(by_id("meter-in"))
        self.meter_out = Meter(by_id("meter-out"))
        self.keypad = Keypad(by_id("keypad"), self.listeners, self.type_key, zero_gives_plus=True)
        self.dtmf_keypad = Keypad(by_id("dtmf-keypad"), self.listeners, self.send_digit)
        # side column
        self.side_cards = [by_id("log-card"), by_id("numbers-card"), by_id("audio-card"), by_id("check-card")]
        self.check_button = by_id("check-button")
        self.check_verdict = by_id("check-verdict")
        self.check_result = by_id("check-result")
        self.checking = False
        self.numbers_list = by_id("test-numbers")
        self.call_log = CallLog.from_json(load_json(STORAGE_CALL_LOG))
        self.call_log_view = CallLogView(
            by_id("call-log"), by_id("call-log-empty"), self.listeners, self.fill_destination
        )
        self.audio = AudioSettings(self.listeners, self.notify)
        # state
        self.directory = DemoDirectory(sip_domain="", users=())
        self.user: DemoUser | None = None
        self.device: Device | None = None
        self.active: ActiveCall | None = None
        self.ringing: Call | None = None
        self.inbound_started: dict[Call, float] = {}
        self.token_expires_at = ""
        self.token_refreshes = 0
        self.refreshing = False
        self.signing_out = False
        self._stats_proxy: Any = None

    # ------------------------------------------------------------------ set-up

    def mount(self) -> None:
        """Wire the static controls and show the app (the sign-in card waits for :meth:`start`)."""
        on = self.listeners.on
        on(self.sign_in_button, "click", lambda _e: self.sign_in())
        on(self.sign_out_button, "click", lambda _e: self.sign_out())
        on(self.call_button, "click", lambda _e: self.place_call())  # checked in this event's turn
        on(by_id("plus"), "click", lambda _e: self.type_key("+"))
        on(by_id("backspace"), "click", lambda _e: self.backspace())
        on(self.destination, "input", lambda _e: self._recheck_destination())
        on(self.destination, "keydown", self._on_destination_key)
        on(self.hangup_button, "click", lambda _e: self.hang_up())
        on(self.mute_button, "click", lambda _e: self.toggle_mute())
        on(self.hold_button, "click", lambda _e: self.toggle_hold())
        on(self.keypad_button, "click", lambda _e: self.toggle_keypad())
        on(self.accept_button, "click", lambda _e: self.accept())
        on(by_id("reject"), "click", lambda _e: self.reject())
        on(by_id("ignore"), "click", lambda _e: self.ignore())
        on(by_id("clear-log"), "click", lambda _e: self.clear_log())
        on(self.check_button, "click", lambda _e: self.run_check())
        on(self.numbers_list, "click", self._on_number_click)
        on(self.caller_id, "change", lambda _e: self._remember_caller_id())
        on(js.document, "keydown", self._on_page_key)
        on(js.window, "pagehide", lambda _e: self._shut_down())
        self.call_log_view.render(self.call_log)
        self._show_state("signed-out", "Signed out")
        self._stats_proxy = create_proxy(self._call_stats_json)
        js.window.twochatDemo = to_js({"callStats": self._stats_proxy}, dict_converter=js.Object.fromEntries)
        set_hidden(by_id("app"), False)

    async def start(self) -> None:
        """Load the accounts and show the sign-in card."""
        try:
            self.directory = await fetch_users()
        except BackendError as error:
            self.status.error(f"Cannot list the accounts: {error}")
            self._show_state("error", "Backend unreachable")
            return
        wanted = _query_parameter("user") or load_json(STORAGE_USER)
        if not isinstance(wanted, str) or self.directory.user(wanted) is None:
            wanted = self.directory.users[0].name if self.directory.users else ""
        clear(self.users_list)
        for user in self.directory.users:
            self.users_list.appendChild(self._user_option(user, checked=user.name == wanted))
        self.sign_in_button.disabled = not self.directory.users
        set_hidden(self.sign_in_card, False)

    def _user_option(self, user: DemoUser, *, checked: bool) -> Any:
        label = make("label", "user-option", None, data_user=user.name)
        radio = make("input", None, None, type="radio", name="user", value=user.name)
        radio.checked = checked
        label.appendChild(radio)
        label.appendChild(make("span", "avatar", (user.display_name or user.name)[:1].upper()))
        text = make("span", "user-text")
        text.appendChild(make("strong", None, user.display_name))
        address = f"sip:{user.sip_username}@{self.directory.sip_domain}" if self.directory.sip_domain else ""
        numbers = ", ".join(c.phone_number for c in user.caller_ids)
        text.appendChild(make("span", "muted small", " · ".join(p for p in (address, numbers) if p)))
        label.appendChild(text)
        return label

    def _selected_user(self) -> DemoUser | None:
        checked = query(self.users_list, "input[name=user]:checked")
        return self.directory.user(str(checked.value)) if checked is not None else None

    # ------------------------------------------------------------------ messages

    def notify(self, message: str, level: str = "info") -> None:
        """Show ``message`` in the status line and the activity list.

        ``level`` is ``info``, ``success``, ``warning`` or ``error``.
        """
        {"success": self.status.success, "warning": self.status.warning, "error": self.status.error}.get(
            level, self.status.info
        )(message)
        self.activity.add(message, level)

    def report_exception(self, error: BaseException) -> None:
        """Any exception that escaped a handler: shown as a sentence, never left uncaught."""
        self.notify(describe_exception(error), "error")

    def _show_state(self, state: str, text: str) -> None:
        self.pill.dataset.state = state
        self.pill_text.textContent = text

    # ------------------------------------------------------------------ sign in / out

    async def sign_in(self) -> None:
        """Mint a token through the page's backend, create the Device and register it."""
        user = self._selected_user()
        if user is None or self.device is not None:
            return
        self.sign_in_button.disabled = True
        self._show_state("registering", "Signing in…")
        self.status.info(f"Getting an access token for {user.display_name}…")
        device: Device | None = None
        try:
            token = await fetch_token(user.name)
            device = Device(
                token.token, api_base_url=str(js.location.origin), token_expiry_lead_ms=self.token_lead_ms
            )
            self.device, self.user = device, user
            self._wire_device(device)
            self.status.info("Registering with the phone service…")
            await device.register()
        except (BackendError, VoiceSDKError) as error:
            message = describe_error(error) if isinstance(error, VoiceSDKError) else str(error)
            if device is not None:
                device.destroy()
            self.device, self.user = None, None
            self._show_state("error", "Not signed in")
            self.notify(f"Sign-in failed: {message}", "error")
            self.sign_in_button.disabled = False
            return
        save_json(STORAGE_USER, user.name)
        self.token_expires_at = token.expires_at
        self.token_refreshes = 0
        self._show_phone(device, user)
        self.notify(f"Registered as {user.display_name}. Ready to call.", "success")

    def _wire_device(self, device: Device) -> None:
        later = self.listeners.deferred  # keep the SDK's event pump short (see Listeners.deferred)
        device.on("registering", later(lambda *_: self._show_state("registering", "Registering…")))
        device.on("registered", later(lambda *_: self._show_state("registered", "Registered")))
        device.on("unregistered", later(lambda *_: self._on_unregistered()))
        device.on("reconnecting", later(self._on_reconnecting))
        device.on("reconnected", later(lambda *_: self.notify("Back online.", "success")))
        device.on("incoming", later(self._on_incoming))
        device.on("tokenWillExpire", later(lambda *_: self._on_token_will_expire()))
        device.on("error", later(self._on_device_error))
        device.on("deviceChange", later(lambda *_: self.audio.refresh()))

    def _show_phone(self, device: Device, user: DemoUser) -> None:
        set_hidden(self.sign_in_card, True)
        set_hidden(self.phone_card, False)
        for card in self.side_cards:
            set_hidden(card, False)
        set_hidden(by_id("activity-card"), False)
        self.identity.textContent = user.display_name
        self.identity.title = device.identity or ""
        set_hidden(self.identity, False)
        set_hidden(self.sign_out_button, False)
        self.sign_out_button.disabled = False
        self._fill_caller_ids(device, user)
        self._render_numbers(user)
        self._show_token_info()
        self._show_dialer()
        self.audio.attach(device)
        self.listeners.spawn(self.audio.refresh())

    def _fill_caller_ids(self, device: Device, user: DemoUser) -> None:
        clear(self.caller_id)
        numbers = [c["phone_number"] for c in device.caller_ids if c.get("phone_number")]
        for number in numbers:
            self.caller_id.appendChild(make("option", None, number, value=number))
        self.caller_id.appendChild(make("option", None, "No caller ID (SIP address)", value=""))
        stored = load_json(STORAGE_CALLER_ID + user.name)
        usable = isinstance(stored, str) and (stored in numbers or stored == "")
        self.caller_id.value = stored if usable else (numbers[0] if numbers else "")

    def _remember_caller_id(self) -> None:
        if self.user is not None:
            save_json(STORAGE_CALLER_ID + self.user.name, str(self.caller_id.value))

    def _render_numbers(self, user: DemoUser) -> None:
        clear(self.numbers_list)
        entries = [(n.number, n.name, n.behaviour) for n in SANDBOX_NUMBERS]
        for other in self.directory.users:
            if other.name == user.name:
                continue
            number = (
                other.caller_ids[0].phone_number
                if other.caller_ids
                else f"sip:{other.sip_username}@{self.directory.sip_domain}"
            )
            entries.append((number, other.display_name, "Another sandbox user: rings their browser."))
        for number, name, behaviour in entries:
            item = make("li")
            button = make("button", "number-button", None, type="button", data_number=number)
            head = make("span", "number-head")
            head.appendChild(make("span", "number-name", name))
            head.appendChild(make("span", "number-value", format_number(number)))
            button.appendChild(head)
            button.appendChild(make("span", "number-behaviour", behaviour))
            item.appendChild(button)
            self.numbers_list.appendChild(item)

    def _show_token_info(self) -> None:
        count = self.token_refreshes
        refreshed = "" if not count else " · refreshed once" if count == 1 else f" · refreshed {count} times"
        until = _clock_time(self.token_expires_at) if self.token_expires_at else "?"
        self.token_info.textContent = f"Access token valid until {until}{refreshed}"
        self.token_info.dataset.refreshes = str(self.token_refreshes)

    async def sign_out(self) -> None:
        """Hang up, unregister, destroy the Device and go back to the sign-in card."""
        device = self.device
        if device is None or self.signing_out:
            return
        self.signing_out = True
        self.sign_out_button.disabled = True
        self.status.info("Signing out…")
        try:
            active = self.active
            if active is not None and active.call is not None:
                with contextlib.suppress(VoiceSDKError):
                    await active.call.disconnect()
            with contextlib.suppress(VoiceSDKError):
                await device.unregister()
        finally:
            device.destroy()
            self.device, self.user, self.active, self.ringing = None, None, None, None
            self.signing_out = False
        self.audio.detach()
        self._show_dialer()
        set_hidden(self.phone_card, True)
        for card in self.side_cards:
            set_hidden(card, True)
        set_hidden(self.identity, True)
        set_hidden(self.sign_out_button, True)
        set_hidden(self.sign_in_card, False)
        self.sign_in_button.disabled = False
        self._show_state("signed-out", "Signed out")
        self.notify("Signed out.", "info")

    def _shut_down(self) -> None:
        """The page is going away: hang up and unregister as far as the browser lets us."""
        device, self.device = self.device, None
        if device is not None:
            device.destroy()

    # ------------------------------------------------------------------ device events

    def _on_unregistered(self) -> None:
        if self.device is not None and not self.signing_out:
            self._show_state("offline", "Offline")

    def _on_reconnecting(self, payload: Any = None) -> None:
        self._show_state("reconnecting", "Reconnecting…")
        reason = payload.get("reason") if isinstance(payload, dict) else None
        detail = f" ({reason})" if reason else ""
        self.notify(f"Lost the connection to the phone service{detail}. Reconnecting…", "warning")

    def _on_device_error(self, error: VoiceSDKError) -> None:
        self.status.error(describe_error(error))
        self.activity.add(f"{describe_error(error)} [{error.code.value}]", "error")
        if error.code is ErrorCode.TOKEN_EXPIRED:
            self.listeners.spawn(self.refresh_token())

    def _on_token_will_expire(self) -> None:
        self.activity.add("The access token expires soon: asking the backend for a new one.")
        self.listeners.spawn(self.refresh_token())

    async def refresh_token(self) -> None:
        """Get a fresh token from the backend and give it to ``device.update_token()`` (with retries)."""
        device, user = self.device, self.user
        if device is None or user is None or self.refreshing:
            return
        self.refreshing = True
        try:
            delay = 2.0
            for attempt in range(1, 6):
                try:
                    token = await fetch_token(user.name)
                    if device is not self.device:
                        return
                    await device.update_token(token.token)
                except (BackendError, VoiceSDKError) as error:
                    text = describe_error(error) if isinstance(error, VoiceSDKError) else str(error)
                    self.activity.add(f"Token refresh attempt {attempt} failed: {text}", "warning")
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    if device is not self.device:
                        return
                    continue
                self.token_refreshes += 1
                self.token_expires_at = token.expires_at
                self._show_token_info()
                self.activity.add("Access token refreshed.", "success")
                return
            self.notify(
                "Could not refresh the access token. Calls keep working; sign out and in again soon.", "error"
            )
        finally:
            self.refreshing = False

    # ------------------------------------------------------------------ dialling

    def type_key(self, key: str) -> None:
        """A dialler key: append it to the destination."""
        self.destination.value = str(self.destination.value) + key
        self._recheck_destination()

    def backspace(self) -> None:
        """Delete the last character of the destination."""
        self.destination.value = str(self.destination.value)[:-1]
        self._recheck_destination()

    def fill_destination(self, number: str) -> None:
        """Put ``number`` in the dialler (call back, numbers to try)."""
        if self.active is not None:
            return
        self.destination.value = number
        self._show_problem(None)
        self.destination.focus()

    def _on_number_click(self, event: Any) -> None:
        button = closest(event, "[data-number]")
        if button is not None:
            self.fill_destination(str(button.dataset.number))

    def _show_problem(self, problem: str | None) -> None:
        self.destination_problem.textContent = problem or ""
        set_hidden(self.destination_problem, problem is None)
        if problem is None:
            self.destination.removeAttribute("aria-invalid")
        else:
            self.destination.setAttribute("aria-invalid", "true")

    def _recheck_destination(self) -> None:
        """While a problem is shown, check again on every change so it goes away once fixed."""
        if self.destination_problem.hidden:
            return
        result = check_destination(str(self.destination.value))
        self._show_problem(result.problem if str(self.destination.value).strip() else None)

    def _on_destination_key(self, event: Any) -> None:
        if str(event.key) == "Enter":
            event.preventDefault()
            self.place_call()

    def place_call(self) -> None:
        """Check what is in the dialler now and call it with the chosen caller ID.

        The check and the switch to the in-call view happen synchronously, in the turn of the click or
        key press, so the number called is the one shown when the person pressed Call.
        """
        device = self.device
        if device is None or self.active is not None:
            return
        if self.ringing is not None:
            self.notify("Answer or reject the incoming call first.", "warning")
            return
        destination = check_destination(str(self.destination.value))
        if destination.value is None:
            self._show_problem(destination.problem)
            self.destination.focus()
            return
        self._show_problem(None)
        caller_id = str(self.caller_id.value) or None
        active = ActiveCall("outbound", destination.value)
        self.active = active
        self._show_in_call(active)
        self.listeners.spawn(self._connect(device, active, caller_id))

    async def _connect(self, device: Device, active: ActiveCall, caller_id: str | None) -> None:
        """``device.connect()`` for the call :meth:`place_call` put on screen."""
        try:
            call = await device.connect(active.remote, from_=caller_id)
        except VoiceSDKError as error:
            if self.active is active:
                self.active = None
                self._show_dialer()
            if error.code is ErrorCode.INVALID_ARGUMENT:
                self._show_problem(describe_error(error))
            self.notify(f"Call not placed: {describe_error(error)}", "error")
            return
        active.call = call
        self._wire_call(call)
        if self.active is not active or active.hangup_requested:
            await call.disconnect()
            return
        via = f" from {caller_id}" if caller_id else ""
        self.activity.add(f"Calling {format_number(active.remote)}{via}.")

    # ------------------------------------------------------------------ incoming

    def _on_incoming(self, call: Call) -> None:
        if self.active is not None or self.ringing is not None:
            return  # the SDK rejects calls while busy; nothing to show
        if call.ended:  # the caller gave up before this handler ran
            self._log_missed(call, "remote-cancelled")
            return
        self.ringing = call
        self.inbound_started[call] = time.time()
        self._wire_call(call)
        caller = format_number(call.remote_identity or "Unknown caller")
        if call.remote_display_name:
            caller = f"{call.remote_display_name} ({caller})"
        self.incoming_from.textContent = caller
        clear(self.incoming_headers)
        for name, value in call.custom_headers.items():
            row = make("div", "header-row", None, data_header=name)
            row.appendChild(make("dt", None, name.replace("-", " ")))
            row.appendChild(make("dd", None, value))
            self.incoming_headers.appendChild(row)
        set_hidden(self.incoming_headers, not call.custom_headers)
        set_hidden(self.dialer, True)
        set_hidden(self.in_call, True)
        set_hidden(self.incoming_box, False)
        self.accept_button.focus()
        self.notify(f"Incoming call from {caller}.", "info")

    async def accept(self) -> None:
        """Answer the ringing call."""
        call = self.ringing
        if call is None or self.active is not None:
            return
        self.ringing = None
        set_hidden(self.incoming_box, True)
        active = ActiveCall(
            "inbound",
            call.remote_identity or "Unknown caller",
            call=call,
            started_at=self.inbound_started.pop(call, time.time()),
            phase="connecting",
        )
        self.active = active
        self._show_in_call(active)
        try:
            await call.accept()
        except VoiceSDKError as error:
            self.notify(f"Could not answer: {describe_error(error)}", "error")
            if self.active is active and call.ended:
                self.active = None
                self._show_dialer()

    def reject(self) -> None:
        """Reject the ringing call (486 Busy Here)."""
        call = self.ringing
        if call is None:
            return
        self.ringing = None
        set_hidden(self.incoming_box, True)
        self._show_dialer()
        try:
            call.reject()
        except VoiceSDKError as error:
            self.notify(describe_error(error), "error")

    def ignore(self) -> None:
        """Stop ringing here; the caller keeps hearing ringback until they give up."""
        call = self.ringing
        if call is None:
            return
        self.ringing = None
        set_hidden(self.incoming_box, True)
        self._show_dialer()
        try:
            call.ignore()
        except VoiceSDKError as error:
            self.notify(describe_error(error), "error")
            return
        self.notify(f"Ignored the call from {format_number(call.remote_identity or 'unknown')}.", "info")

    # ------------------------------------------------------------------ call events

    def _wire_call(self, call: Call) -> None:
        later = self.listeners.deferred
        call.on("ringing", later(lambda payload=None: self._on_ringing(call, payload)))
        call.on("accepted", later(lambda *_: self._on_accepted(call)))
        call.on("disconnect", later(lambda payload=None: self._on_call_ended(call, payload)))
        call.on("mute", later(lambda muted: self._on_mute(call, bool(muted))))
        call.on("hold", later(lambda held: self._on_hold(call, bool(held))))
        call.on("remote-hold", later(lambda held: self._on_remote_hold(call, bool(held))))
        call.on("reconnecting", later(lambda *_: self._on_call_reconnecting(call, True)))
        call.on("reconnected", later(lambda *_: self._on_call_reconnecting(call, False)))
        call.on("sample", later(lambda sample: self._on_sample(call, sample)))
        call.on("warning", later(lambda name, *_: self._on_warning(call, str(name), raised=True)))
        call.on("warning-cleared", later(lambda name, *_: self._on_warning(call, str(name), raised=False)))
        call.on("error", later(lambda error: self._on_call_error(call, error)))

    def _current(self, call: Call) -> ActiveCall | None:
        active = self.active
        return active if active is not None and active.call is call else None

    def _on_ringing(self, call: Call, payload: Any) -> None:
        active = self._current(call)
        if active is None:
            return
        active.phase = "ringing"
        early = isinstance(payload, dict) and payload.get("has_early_media")
        self._render_call_state(active, "Ringing (early media)…" if early else None)

    def _on_accepted(self, call: Call) -> None:
        active = self._current(call)
        if active is None:
            return
        active.phase = "connected"
        active.answered_at = time.monotonic()
        for button in (self.mute_button, self.hold_button, self.keypad_button):
            button.disabled = False
        set_hidden(self.call_timer, False)
        self._render_call_state(active)
        self.notify(f"In a call with {format_number(active.remote)}.", "success")

    def _on_call_ended(self, call: Call, payload: Any) -> None:
        reason = str(payload.get("reason", "")) if isinstance(payload, dict) else ""
        status_code = payload.get("status_code") if isinstance(payload, dict) else None
        code = status_code if isinstance(status_code, int) else None
        if self.ringing is call:
            self.ringing = None
            set_hidden(self.incoming_box, True)
            if self.active is None:
                self._show_dialer()
        active = self._current(call)
        if active is not None:
            duration = time.monotonic() - active.answered_at if active.answered_at is not None else None
            entry = CallLogEntry(active.direction, active.remote, active.started_at, duration, reason, code)
            self.active = None
            self._show_dialer()
        else:
            started = self.inbound_started.pop(call, time.time())
            entry = CallLogEntry("inbound", call.remote_identity or "unknown", started, None, reason, code)
        self._add_to_log(entry)
        who = format_number(entry.number)
        outcome = describe_end(reason, code)
        if entry.duration is not None:
            self.notify(f"Call with {who} ended: {outcome} after {format_duration(entry.duration)}.", "info")
        elif reason in FAILED_REASONS:
            self.notify(f"Call with {who} failed: {outcome}.", "warning")
        else:
            self.notify(f"Call with {who} ended: {outcome}.", "info")

    def _add_to_log(self, entry: CallLogEntry) -> None:
        self.call_log.add(entry)
        save_json(STORAGE_CALL_LOG, self.call_log.to_json())
        self.call_log_view.render(self.call_log)

    def _log_missed(self, call: Call, reason: str) -> None:
        caller = call.remote_identity or "unknown"
        self._add_to_log(CallLogEntry("inbound", caller, time.time(), None, reason))

    def _on_mute(self, call: Call, muted: bool) -> None:
        if self._current(call) is None:
            return
        self.mute_button.setAttribute("aria-pressed", "true" if muted else "false")
        self.mute_button.querySelector(".control-label").textContent = "Unmute" if muted else "Mute"

    def _on_hold(self, call: Call, held: bool) -> None:
        active = self._current(call)
        if active is None:
            return
        active.held = held
        self.hold_button.setAttribute("aria-pressed", "true" if held else "false")
        self.hold_button.querySelector(".control-label").textContent = "Resume" if held else "Hold"
        self._render_call_state(active)

    def _on_remote_hold(self, call: Call, held: bool) -> None:
        active = self._current(call)
        if active is not None:
            active.remote_held = held
            self._render_call_state(active)

    def _on_call_reconnecting(self, call: Call, reconnecting: bool) -> None:
        active = self._current(call)
        if active is not None:
            active.reconnecting = reconnecting
            self._render_call_state(active)

    def _on_sample(self, call: Call, sample: Any) -> None:
        if self._current(call) is None:
            return
        self.meter_in.show(sample.audio_input_level)
        self.meter_out.show(sample.audio_output_level)
        self.call_quality.textContent = describe_sample(sample)
        self.call_quality.dataset.bytesReceived = str(sample.bytes_received)
        self.call_quality.dataset.bytesSent = str(sample.bytes_sent)

    def _on_warning(self, call: Call, name: str, *, raised: bool) -> None:
        if self._current(call) is None:
            return
        existing = query(self.call_warnings, f'[data-warning="{name}"]')
        if raised and existing is None:
            chip = make("li", "warning-chip", describe_warning(name), data_warning=name)
            self.call_warnings.appendChild(chip)
            self.activity.add(f"Call quality: {describe_warning(name)}.", "warning")
        elif not raised and existing is not None:
            existing.remove()

    def _on_call_error(self, call: Call, error: VoiceSDKError) -> None:
        self.status.error(describe_error(error))
        self.activity.add(f"{describe_error(error)} [{error.code.value}]", "error")

    # ------------------------------------------------------------------ in-call controls

    async def run_check(self) -> None:
        """Run ``device.run_preflight()`` (with a short echo call) and show its report."""
        device = self.device
        if device is None or self.active is not None or self.ringing is not None or self.checking:
            return
        self.checking = True
        self.check_button.disabled = True
        self.check_button.textContent = "Checking…"
        set_hidden(self.check_verdict, True)
        set_hidden(self.check_result, True)
        try:
            report = await device.run_preflight(echo_number=ECHO_NUMBER, call_seconds=5.0)
        except VoiceSDKError as error:
            self.notify(f"The check could not run: {describe_error(error)}", "error")
            return
        finally:
            self.checking = False
            self.check_button.disabled = False
            self.check_button.textContent = "Run the check again"
        rows = preflight_rows(report.to_dict())
        clear(self.check_result)
        for label, value, ok in rows:
            self.check_result.appendChild(make("dt", None, label))
            self.check_result.appendChild(make("dd", "ok" if ok else "bad", value))
        verdict = "All good: you are ready to make calls." if report.ok else "Something needs attention."
        self.check_verdict.textContent = verdict
        self.check_verdict.dataset.level = "info" if report.ok else "error"
        set_hidden(self.check_verdict, False)
        set_hidden(self.check_result, False)
        self.activity.add(f"Setup check: {'passed' if report.ok else 'problems found'}", "info")

    async def hang_up(self) -> None:
        """Hang up (or cancel) the call on screen."""
        active = self.active
        if active is None:
            return
        active.phase = "ending"
        self._render_call_state(active)
        self.hangup_button.disabled = True
        if active.call is None:
            active.hangup_requested = True
            return
        await active.call.disconnect()

    def toggle_mute(self) -> None:
        """Mute or unmute the microphone."""
        active = self.active
        if active is None or active.call is None or active.call.ended:
            return
        active.call.mute(not active.call.is_muted())

    async def toggle_hold(self) -> None:
        """Put the call on hold or resume it."""
        active = self.active
        if active is None or active.call is None or active.call.ended:
            return
        call = active.call
        self.hold_button.disabled = True
        self._render_call_state(active, "Resuming…" if active.held else "Putting on hold…")
        try:
            await call.hold(not call.is_on_hold())
        except VoiceSDKError as error:
            self.notify(describe_error(error), "error")
        finally:
            self.hold_button.disabled = call.ended
            if self._current(call) is active:
                self._render_call_state(active)

    def toggle_keypad(self) -> None:
        """Show or hide the in-call keypad."""
        showing = bool(self.dtmf_box.hidden)
        set_hidden(self.dtmf_box, not showing)
        self.keypad_button.setAttribute("aria-pressed", "true" if showing else "false")

    def send_digit(self, key: str) -> None:
        """Send one keypad tone on the call on screen."""
        active = self.active
        if active is None or active.call is None or active.phase != "connected":
            return
        try:
            active.call.send_digits(key)
        except VoiceSDKError as error:
            self.notify(describe_error(error), "error")
            return
        active.digits += key
        self.dtmf_sent.textContent = active.digits

    def _on_page_key(self, event: Any) -> None:
        """While the in-call keypad is open, the keyboard's digits, * and # send tones too."""
        key = str(event.key).upper()
        target = nullable(event.target)
        typing = target is not None and str(getattr(target, "tagName", "")).upper() in ("INPUT", "SELECT")
        if typing or self.dtmf_box.hidden or len(key) != 1 or key not in DTMF_KEYS:
            return
        self.send_digit(key)

    def clear_log(self) -> None:
        """Forget the recent calls."""
        self.call_log.clear()
        save_json(STORAGE_CALL_LOG, [])
        self.call_log_view.render(self.call_log)

    # ------------------------------------------------------------------ views

    def _show_dialer(self) -> None:
        set_hidden(self.in_call, True)
        set_hidden(self.incoming_box, self.ringing is None)
        set_hidden(self.dialer, self.ringing is not None)
        self.meter_in.reset()
        self.meter_out.reset()

    def _show_in_call(self, active: ActiveCall) -> None:
        set_hidden(self.dialer, True)
        set_hidden(self.incoming_box, True)
        set_hidden(self.in_call, False)
        inbound = active.direction == "inbound"
        self.call_direction.textContent = "Incoming call" if inbound else "Outgoing call"
        self.call_remote.textContent = format_number(active.remote)
        self.call_timer.textContent = "0:00"
        set_hidden(self.call_timer, True)
        self.meter_in.reset()
        self.meter_out.reset()
        self.call_quality.textContent = "\u00a0"
        clear(self.call_warnings)
        for button, label in ((self.mute_button, "Mute"), (self.hold_button, "Hold")):
            button.disabled = True
            button.setAttribute("aria-pressed", "false")
            button.querySelector(".control-label").textContent = label
        self.keypad_button.disabled = True
        self.keypad_button.setAttribute("aria-pressed", "false")
        set_hidden(self.dtmf_box, True)
        self.dtmf_sent.textContent = ""
        self.hangup_button.disabled = False
        self._render_call_state(active)
        self.listeners.spawn(self._tick(active))

    def _render_call_state(self, active: ActiveCall, override: str | None = None) -> None:
        if override is not None:
            text = override
        elif active.phase == "ending":
            text = "Hanging up…"
        elif active.reconnecting:
            text = "Reconnecting…"
        elif active.phase == "connected":
            text = (
                "On hold" if active.held else "They put you on hold" if active.remote_held else "Connected"
            )
        else:
            text = {"calling": "Calling…", "ringing": "Ringing…", "connecting": "Connecting…"}.get(
                active.phase, "…"
            )
        self.call_state.textContent = text
        self.in_call.dataset.phase = active.phase
        self.in_call.dataset.held = "true" if active.held else "false"

    async def _tick(self, active: ActiveCall) -> None:
        """Update the call timer twice a second while ``active`` is on screen."""
        while self.active is active:
            if active.answered_at is not None:
                self.call_timer.textContent = format_duration(time.monotonic() - active.answered_at)
            await asyncio.sleep(0.5)

    # ------------------------------------------------------------------ test hook

    async def _call_stats_json(self) -> str:
        """JSON of the current call's ``get_stats()`` summary (no raw reports); ``{}`` without a call."""
        active = self.active
        if active is None or active.call is None:
            return "{}"
        stats = await active.call.get_stats()
        stats.pop("raw", None)
        return json.dumps(stats, default=str)
