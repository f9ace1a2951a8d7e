"""The demo softphone (``index.html``) and the click-to-call page, used as a person would, in Chromium
against the real sandbox: clicks on the keypad, typing, the incoming-call banner. What the page shows is
checked together with what the sandbox saw (``GET /sandbox/events``: calls, hold, DTMF, audio levels,
rejections, minted tokens). Every test ends with zero page errors (the page guard).

Screenshots of the softphone idle, in a call and ringing, at desktop and phone widths, are written to
``tests/artifacts/`` (gitignored).

The first tests need no browser: they check the page's pure Python helpers (``www/app/dialing.py``,
``messages.py``, ``calllog.py``, ``levels.py``) on CPython.
"""

from __future__ import annotations

import json
import re
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, ViewportSize, expect

from browser.harness import REPO_ROOT, Sandbox

if str(REPO_ROOT / "www") not in sys.path:
    sys.path.insert(0, str(REPO_ROOT / "www"))

from app.calllog import MAX_ENTRIES, CallLog, CallLogEntry
from app.checkup import preflight_rows
from app.dialing import SANDBOX_NUMBERS, check_destination, format_duration
from app.levels import describe_sample, level_percent
from app.messages import ERROR_TEXT, describe_end, describe_error

from twochat_voice_web import ErrorCode, VoiceSDKError

pytestmark = pytest.mark.timeout(300)

ARTIFACTS = REPO_ROOT / "tests" / "artifacts"
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
ECHO = "+15550100"
IVR = "+15550106"


# ------------------------------------------------------------------------------------------ pure helpers


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("+15550100", "+15550100"),
        ("  +1 (555) 010-0 ", "+15550100"),
        ("+1.555.0100", "+15550100"),
        ("tel:+15550100;phone-context=x", "+15550100"),
        ("sip:bob@sandbox.2chat.test", "sip:bob@sandbox.2chat.test"),
        ("sips:bob@example.com:5061", "sips:bob@example.com:5061"),
    ],
)
def test_destinations_people_type_are_normalised(typed: str, expected: str) -> None:
    result = check_destination(typed)
    assert result.ok and result.value == expected and result.problem is None


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "international format"),
        ("5550100", "country code"),
        ("0015550100", "instead of 00"),
        ("+0155", "never start with 0"),
        ("+1555abc", "only digits"),
        ("+1234567890123456", "at most 15"),
        ("+1", "too short"),
        ("+", "after the +"),
        ("bob@example.com", "start with sip:"),
        ("sip:bad uri@example.com", "spaces"),
        ("sip:example.com", "before the @"),
        ("sip:bob@", "not a valid SIP address"),
    ],
)
def test_unusable_destinations_get_a_reason(typed: str, says: str) -> None:
    result = check_destination(typed)
    assert not result.ok and result.value is None
    assert result.problem is not None and says in result.problem, result.problem


def test_every_error_code_has_a_human_sentence() -> None:
    assert set(ERROR_TEXT) == set(ErrorCode)
    text = describe_error(VoiceSDKError(ErrorCode.MEDIA_PERMISSION_DENIED, "NotAllowedError: denied"))
    assert "Microphone access is blocked" in text and "NotAllowedError" not in text
    detailed = describe_error(VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "to must be an E.164 number"))
    assert detailed.endswith("To must be an E.164 number.")


def test_end_reasons_call_log_and_levels() -> None:
    assert describe_end("busy", 486) == "Busy (486)"
    assert describe_end("local", None) == "You hung up"
    assert describe_end("remote-cancelled", 487) == "Missed"
    assert format_duration(0) == "0:00" and format_duration(62.9) == "1:02"
    assert format_duration(3725) == "1:02:05"
    assert format_duration(float("nan")) == "0:00"
    log = CallLog()
    for index in range(MAX_ENTRIES + 5):
        log.add(CallLogEntry("outbound", f"+1555{index:04d}", 1000.0 + index, 12.0, "local"))
    assert len(log) == MAX_ENTRIES and next(iter(log)).number == f"+1555{MAX_ENTRIES + 4:04d}"
    restored = CallLog.from_json([*log.to_json(), {"direction": "sideways"}, "junk"])
    assert [e.to_json() for e in restored] == log.to_json()
    assert CallLog.from_json({"not": "a list"}).to_json() == []
    entry = CallLogEntry("inbound", "+15550199", 0.0, None, "remote-cancelled", 487)
    assert entry.summary == "Incoming · Missed"
    assert level_percent(None) == 0 and level_percent(0.0) == 0 and level_percent(1.0) == 100
    assert level_percent(0.001) == 0 and 45 < level_percent(0.03) < 55
    assert describe_sample(object()) == "measuring…"
    assert len({n.number for n in SANDBOX_NUMBERS}) == 8


# ------------------------------------------------------------------------------------------ sandbox helpers


def sandbox_json(sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        sandbox.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def last_event_id(sandbox: Sandbox) -> int:
    return int(sandbox_json(sandbox, "GET", "/sandbox/events")["last_id"])


def sandbox_events(
    sandbox: Sandbox, *, since: int = 0, kind: str | None = None, call_id: str | None = None
) -> list[dict[str, Any]]:
    query = {key: value for key, value in (("since", since), ("kind", kind), ("call_id", call_id)) if value}
    events: list[dict[str, Any]] = sandbox_json(
        sandbox, "GET", "/sandbox/events?" + urllib.parse.urlencode(query)
    )["events"]
    return events


def wait_sandbox_event(
    sandbox: Sandbox,
    predicate: Callable[[dict[str, Any]], bool],
    *,
    since: int = 0,
    call_id: str | None = None,
    timeout: float = 20.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        events = sandbox_events(sandbox, since=since, call_id=call_id)
        for event in events:
            if predicate(event):
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"the sandbox never logged the expected event; it logged {events[-30:]}")
        time.sleep(0.2)


def place_inbound(sandbox: Sandbox, **body: Any) -> str:
    body.setdefault("to", "alice")
    return str(sandbox_json(sandbox, "POST", "/sandbox/calls", body)["call_id"])


# ------------------------------------------------------------------------------------------ page helpers


def open_softphone(open_sdk_page: Callable[..., Page], query: str = "") -> Page:
    page = open_sdk_page("/index.html" + query)
    expect(page.locator("#sign-in")).to_be_visible(timeout=30_000)
    return page


def sign_in(page: Page, user: str = "alice") -> None:
    page.locator(f'.user-option[data-user="{user}"]').click()
    page.click("#sign-in-button")
    expect(page.locator("#device-state")).to_have_attribute("data-state", "registered", timeout=60_000)
    expect(page.locator("#dialer")).to_be_visible()


def dial_on_keypad(page: Page, number: str) -> None:
    for key in number:
        if key == "+":
            page.click("#plus")
        else:
            page.click(f'#keypad [data-key="{key}"]')


def wait_connected(page: Page) -> None:
    expect(page.locator("#in-call")).to_have_attribute("data-phase", "connected", timeout=60_000)


def call_stats(page: Page) -> dict[str, Any]:
    stats: dict[str, Any] = json.loads(page.evaluate("() => window.twochatDemo.callStats()"))
    return stats


def wait_stats(
    page: Page, predicate: Callable[[dict[str, Any]], bool], timeout: float = 20.0
) -> dict[str, Any]:
    """Poll the current call's stats until ``predicate`` holds."""
    deadline = time.monotonic() + timeout
    while True:
        stats = call_stats(page)
        if stats and predicate(stats):
            return stats
        if time.monotonic() > deadline:
            raise AssertionError(f"the call's stats never matched: {stats}")
        page.wait_for_timeout(250)


def current_call_id(sandbox: Sandbox, since: int, number: str) -> str:
    started = wait_sandbox_event(
        sandbox,
        lambda e: e["kind"] == "call_started" and e.get("number") == number,
        since=since,
    )
    return str(started["call_id"])


def screenshot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_timeout(400)  # let CSS transitions (meters) settle
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


def hang_up_and_read_log(page: Page) -> Any:
    count = page.locator("#call-log li").count()
    page.click("#hangup")
    expect(page.locator("#dialer")).to_be_visible(timeout=30_000)
    expect(page.locator("#call-log li")).to_have_count(count + 1)
    return page.locator("#call-log li").first


# ------------------------------------------------------------------------------------------ softphone


def test_sign_in_registers_and_the_api_key_never_reaches_the_browser(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    seen: list[str] = []
    page = open_softphone(open_sdk_page)
    page.on("request", lambda request: seen.append(json.dumps(request.headers) + (request.post_data or "")))
    expect(page.locator(".user-option")).to_have_count(len(sandbox.users))
    expect(page.locator("#device-state")).to_have_attribute("data-state", "signed-out")
    sign_in(page, "alice")
    expect(page.locator("#identity")).to_have_text("Alice Sandbox")
    expect(page.locator("#status")).to_contain_text("Registered as Alice Sandbox")
    options = page.locator("#caller-id option")
    expect(options).to_have_count(3)
    assert options.all_inner_texts()[:2] == ["+15550200", "+15550201"]
    expect(page.locator("#token-info")).to_contain_text("Access token valid until")
    expect(page.locator("#input-device option").first).to_be_attached()
    assert sandbox.api_key not in page.content()
    assert seen and not any(sandbox.api_key in text for text in seen)
    assert not any("x-user-api-key" in text.lower() for text in seen)
    page.click("#sign-out")
    expect(page.locator("#device-state")).to_have_attribute("data-state", "signed-out")
    expect(page.locator("#sign-in")).to_be_visible()
    expect(page.locator("#phone")).to_be_hidden()


def test_echo_call_from_the_keypad_with_mute_hold_and_call_log(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    page.select_option("#caller-id", "+15550201")
    since = last_event_id(sandbox)
    dial_on_keypad(page, ECHO)
    expect(page.locator("#destination")).to_have_value(ECHO)
    page.click("#call-button")
    expect(page.locator("#in-call")).to_be_visible()
    expect(page.locator("#call-remote")).to_have_text(ECHO)
    wait_connected(page)
    call_id = current_call_id(sandbox, since, ECHO)
    started = sandbox_events(sandbox, since=since, kind="call_started", call_id=call_id)[0]
    chosen = {k.lower(): v for k, v in (started.get("headers") or {}).items()}
    assert chosen.get("x-2chat-from") == "+15550201", started
    # The timer runs.
    expect(page.locator("#call-timer")).to_be_visible()
    expect(page.locator("#call-timer")).not_to_have_text("0:00", timeout=10_000)
    # Audio both ways: the echo comes back (stats and the "Them" meter), the sandbox hears us.
    page.wait_for_function(
        "() => Number(document.querySelector('#meter-out').dataset.level) > 0.01"
        " && Number(document.querySelector('#meter-in').dataset.level) > 0.01",
        timeout=20_000,
    )
    first = call_stats(page)
    later = wait_stats(page, lambda stats: stats["bytes_received"] > first["bytes_received"] + 4000)
    assert later["total_audio_energy_in"] > first["total_audio_energy_in"]
    wait_sandbox_event(
        sandbox, lambda e: e["kind"] == "audio_level" and float(e["rms_avg"]) > 50, call_id=call_id
    )
    expect(page.locator("#call-quality")).to_contain_text("MOS")
    # Mute: the button says so and the sandbox stops hearing us.
    page.click("#mute")
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "true")
    expect(page.locator("#mute .control-label")).to_have_text("Unmute")
    muted_from = last_event_id(sandbox)
    wait_sandbox_event(
        sandbox,
        lambda e: e["kind"] == "audio_level" and float(e["rms_avg"]) < 5,
        since=muted_from,
        call_id=call_id,
    )
    page.click("#mute")
    expect(page.locator("#mute")).to_have_attribute("aria-pressed", "false")
    # Hold and resume: re-INVITEs the sandbox sees.
    page.click("#hold")
    expect(page.locator("#hold")).to_have_attribute("aria-pressed", "true", timeout=20_000)
    expect(page.locator("#call-state")).to_have_text("On hold")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is True, call_id=call_id)
    page.click("#hold")
    expect(page.locator("#hold")).to_have_attribute("aria-pressed", "false", timeout=20_000)
    expect(page.locator("#call-state")).to_have_text("Connected")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is False, call_id=call_id)
    # Hang up: a call-log entry, and the sandbox got our BYE.
    entry = hang_up_and_read_log(page)
    expect(entry).to_have_attribute("data-direction", "outbound")
    expect(entry).to_have_attribute("data-number", ECHO)
    expect(entry).to_have_attribute("data-reason", "local")
    expect(entry.locator(".log-summary")).to_have_text(re.compile(r"^Outgoing · \d+:\d\d · You hung up$"))
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id=call_id)
    expect(page.locator("#status")).to_contain_text("You hung up")
    # The log survives a reload (localStorage).
    page.reload()
    expect(page.locator("#call-log li")).to_have_count(1, timeout=120_000)


def test_keypad_digits_reach_the_ivr(open_sdk_page: Callable[..., Page], sandbox: Sandbox) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    since = last_event_id(sandbox)
    page.fill("#destination", "+1 555 0106")
    page.press("#destination", "Enter")
    wait_connected(page)
    call_id = current_call_id(sandbox, since, IVR)
    page.click("#show-keypad")
    expect(page.locator("#dtmf")).to_be_visible()
    for key in "42*#":
        page.click(f'#dtmf-keypad [data-key="{key}"]')
    page.locator("#call-remote").click()  # focus out of any input: the keyboard sends tones too
    page.keyboard.press("9")
    expect(page.locator("#dtmf-sent")).to_have_text("42*#9")
    wait_sandbox_event(
        sandbox, lambda e: e["kind"] == "dtmf" and e.get("digits") == "42*#9", call_id=call_id, timeout=30
    )
    hang_up_and_read_log(page)


def test_invalid_numbers_are_explained_inline_and_nothing_is_sent(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    since = last_event_id(sandbox)
    problem = page.locator("#destination-problem")
    page.fill("#destination", "5550100")
    page.click("#call-button")
    expect(problem).to_be_visible()
    expect(problem).to_contain_text("country code")
    expect(page.locator("#destination")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#in-call")).to_be_hidden()
    page.fill("#destination", "sip:bad uri@example.com")
    page.press("#destination", "Enter")
    expect(problem).to_contain_text("spaces")
    # Fixing the input clears the message as you type; nothing was ever sent.
    page.fill("#destination", "+15550100")
    expect(problem).to_be_hidden()
    expect(page.locator("#destination")).not_to_have_attribute("aria-invalid", "true")
    page.wait_for_timeout(500)
    started = sandbox_events(sandbox, since=since, kind="call_started")
    assert started == [], json.dumps(started)
    assert page.locator("#call-log li").count() == 0


def test_busy_number_is_logged_with_its_reason(open_sdk_page: Callable[..., Page]) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    page.fill("#destination", "+15550102")
    page.click("#call-button")
    entry = page.locator("#call-log li").first
    expect(entry).to_have_attribute("data-reason", "busy", timeout=30_000)
    expect(entry.locator(".log-summary")).to_have_text("Outgoing · Busy (486)")
    expect(page.locator("#status")).to_have_attribute("data-level", "warning")
    expect(page.locator("#status")).to_contain_text("failed: Busy (486)")
    expect(page.locator("#dialer")).to_be_visible()
    # Call back from the log fills the dialler.
    entry.locator("[data-redial]").click()
    expect(page.locator("#destination")).to_have_value("+15550102")


def test_preflight_report_rows() -> None:
    good = {
        "microphone_ok": True,
        "microphone_label": "Fake Default Audio Input",
        "ice_ok": True,
        "candidate_types": ["host", "srflx"],
        "stun_reachable": True,
        "gathering_ms": 120.0,
        "call_ran": True,
        "call_ok": True,
        "mos": 4.41,
        "quality": "excellent",
        "rtt_ms": 2.0,
        "jitter_ms": 1.0,
        "packet_loss": 0.0,
        "warnings": [],
    }
    rows = preflight_rows(good)
    assert [label for label, _, _ in rows] == ["Microphone", "Network", "Test call", "Quality"]
    assert all(ok for _, _, ok in rows)
    assert "STUN reachable" in rows[1][1] and "MOS 4.41 (excellent)" in rows[2][1]
    bad = {
        "microphone_ok": False,
        "microphone_error": "MEDIA_PERMISSION_DENIED: denied",
        "ice_ok": False,
        "ice_error": "no ICE candidates were gathered",
        "call_ran": True,
        "call_ok": False,
        "call_error": "the echo call was not answered",
        "warnings": ["high-rtt"],
    }
    assert [ok for _, _, ok in preflight_rows(bad)] == [False, False, False, False]


def test_check_my_setup_runs_a_preflight_with_an_echo_call(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    since = last_event_id(sandbox)
    page.click("#check-button")
    expect(page.locator("#check-verdict")).to_be_visible(timeout=60_000)
    expect(page.locator("#check-verdict")).to_contain_text("All good")
    expect(page.locator("#check-result dd.ok")).to_have_count(4)
    expect(page.locator("#check-result")).to_contain_text("MOS")
    started = [e for e in sandbox_events(sandbox, since=since) if e["kind"] == "call_started"]
    assert started and started[0].get("number") == "+15550100"
    expect(page.locator("#dialer")).to_be_visible()


def test_incoming_call_banner_shows_headers_and_accept_works(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    call_id = place_inbound(
        sandbox, headers={"X-2Chat-Ticket-Id": "42", "X-2Chat-Customer": "ACME Corp"}, media="echo"
    )
    banner = page.locator("#incoming")
    expect(banner).to_be_visible(timeout=30_000)
    expect(page.locator("#incoming-from")).to_have_text("2Chat Sandbox (+15550199)")
    expect(page.locator('[data-header="Ticket-Id"] dd')).to_have_text("42")
    expect(page.locator('[data-header="Customer"] dd')).to_have_text("ACME Corp")
    expect(page.locator("#dialer")).to_be_hidden()
    page.click("#accept")
    expect(banner).to_be_hidden()
    wait_connected(page)
    expect(page.locator("#call-direction")).to_have_text("Incoming call")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "answered", call_id=call_id)
    page.wait_for_function(
        "() => Number(document.querySelector('#meter-out').dataset.level) > 0.01", timeout=20_000
    )
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{call_id}")
    entry = page.locator("#call-log li").first
    expect(entry).to_have_attribute("data-reason", "remote", timeout=30_000)
    expect(entry).to_have_attribute("data-direction", "inbound")
    expect(entry.locator(".log-summary")).to_contain_text("They hung up")


def test_rejecting_an_incoming_call_is_486_at_the_sandbox(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    call_id = place_inbound(sandbox)
    expect(page.locator("#incoming")).to_be_visible(timeout=30_000)
    expect(page.locator("#incoming-headers")).to_be_hidden()
    page.click("#reject")
    expect(page.locator("#incoming")).to_be_hidden()
    event = wait_sandbox_event(sandbox, lambda e: e["kind"] == "rejected", call_id=call_id)
    assert event["status"] == 486
    entry = page.locator("#call-log li").first
    expect(entry).to_have_attribute("data-reason", "rejected", timeout=20_000)
    expect(entry).to_have_class(re.compile(r"\bmissed\b"))
    expect(page.locator("#dialer")).to_be_visible()


def test_ignored_call_stops_ringing_here_and_is_logged_as_missed(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    call_id = place_inbound(sandbox)
    expect(page.locator("#incoming")).to_be_visible(timeout=30_000)
    page.click("#ignore")
    expect(page.locator("#incoming")).to_be_hidden()
    expect(page.locator("#dialer")).to_be_visible()
    expect(page.locator("#status")).to_contain_text("Ignored the call from +15550199")
    live = [c["call_id"] for c in sandbox_json(sandbox, "GET", "/sandbox/calls")["calls"]]
    assert call_id in live, "ignoring must not tell the caller anything"
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{call_id}")
    entry = page.locator("#call-log li").first
    expect(entry).to_have_attribute("data-reason", "remote-cancelled", timeout=20_000)
    expect(entry.locator(".log-summary")).to_have_text("Incoming · Missed")


def test_token_is_refreshed_through_the_backend_without_re_registering(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    # The sandbox's demo tokens live 3600 s; a 3599 s lead makes tokenWillExpire fire about 1 s after
    # each token arrives.
    page = open_softphone(open_sdk_page, "?token_lead_ms=3599000")
    since = last_event_id(sandbox)
    sign_in(page)
    page.wait_for_function(
        "() => Number(document.querySelector('#token-info').dataset.refreshes) >= 2", timeout=30_000
    )
    expect(page.locator("#token-info")).to_contain_text("refreshed")
    minted = [
        e for e in sandbox_events(sandbox, since=since, kind="token_minted") if e.get("label") == "demo-alice"
    ]
    assert len(minted) >= 3, minted
    registers = [e for e in sandbox_events(sandbox, since=since, kind="register") if e.get("user") == "alice"]
    assert len(registers) == 1, "update_token() must not re-register"
    expect(page.locator("#device-state")).to_have_attribute("data-state", "registered")
    assert "Access token refreshed." in (page.text_content("#activity") or "")


def test_lost_connection_shows_reconnecting_then_registered(
    open_sdk_page: Callable[..., Page], sandbox: Sandbox
) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    assert sandbox_json(sandbox, "POST", "/sandbox/drop", {"user": "alice"})["dropped"] >= 1
    page.wait_for_function(
        "() => document.querySelector('#activity').textContent.includes('Back online')", timeout=30_000
    )
    activity = page.text_content("#activity") or ""
    assert "Lost the connection to the phone service" in activity
    expect(page.locator("#device-state")).to_have_attribute("data-state", "registered")


def test_audio_pickers_list_devices_and_switch_the_microphone(open_sdk_page: Callable[..., Page]) -> None:
    page = open_softphone(open_sdk_page)
    sign_in(page)
    inputs = page.locator("#input-device option")
    expect(inputs.nth(1)).to_be_attached(timeout=20_000)
    assert page.locator("#output-device").is_enabled()
    expect(page.locator("#output-note")).to_be_hidden()
    second = inputs.nth(1).get_attribute("value") or ""
    page.select_option("#input-device", second)
    expect(page.locator("#status")).to_contain_text("Microphone:")
    page.select_option("#output-device", index=0)
    expect(page.locator("#status")).to_contain_text("Speaker:")


def test_speaker_picker_is_disabled_with_a_note_without_set_sink_id(
    open_sdk_page: Callable[..., Page], page: Page
) -> None:
    page.add_init_script("delete HTMLMediaElement.prototype.setSinkId")
    open_softphone(open_sdk_page)
    sign_in(page)
    note = page.locator("#output-note")
    expect(note).to_be_visible(timeout=20_000)
    expect(note).to_contain_text("setSinkId")
    expect(page.locator("#output-device")).to_be_disabled()


def test_screenshots_idle_in_call_and_ringing_at_desktop_and_phone_widths(
    open_sdk_page: Callable[..., Page], page: Page, sandbox: Sandbox
) -> None:
    page.set_viewport_size(DESKTOP)
    open_softphone(open_sdk_page)
    screenshot(page, "softphone-signin-desktop")
    sign_in(page)
    page.fill("#destination", "+15550102")  # one entry in the call log for the pictures
    page.click("#call-button")
    expect(page.locator("#call-log li")).to_have_count(1, timeout=30_000)
    page.fill("#destination", "")
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"softphone-idle-{name}")
    page.set_viewport_size(DESKTOP)
    dial_on_keypad(page, ECHO)
    page.click("#call-button")
    wait_connected(page)
    page.click("#show-keypad")
    page.click('#dtmf-keypad [data-key="1"]')
    page.wait_for_function(
        "() => Number(document.querySelector('#meter-out').dataset.level) > 0.01", timeout=20_000
    )
    expect(page.locator("#call-timer")).not_to_have_text("0:00", timeout=10_000)
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"softphone-in-call-{name}")
    hang_up_and_read_log(page)
    call_id = place_inbound(
        sandbox, headers={"X-2Chat-Ticket-Id": "42", "X-2Chat-Customer": "ACME Corp"}, display="ACME support"
    )
    expect(page.locator("#incoming")).to_be_visible(timeout=30_000)
    for name, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        screenshot(page, f"softphone-ringing-{name}")
    page.click("#reject")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "rejected", call_id=call_id)
    for state in ("signin-desktop", "idle-desktop", "idle-phone", "in-call-desktop", "in-call-phone"):
        assert (ARTIFACTS / f"softphone-{state}.png").stat().st_size > 10_000


# ------------------------------------------------------------------------------------------ click to call


def test_click_to_call_has_a_button_per_test_number_and_shows_events(
    open_sdk_page: Callable[..., Page], page: Page, sandbox: Sandbox
) -> None:
    open_sdk_page("/click-to-call.html")
    rows = page.locator(".number-row")
    expect(rows).to_have_count(len(SANDBOX_NUMBERS))
    assert [row.get_attribute("data-number") for row in rows.all()] == [n.number for n in SANDBOX_NUMBERS]
    since = last_event_id(sandbox)
    page.click('.number-row[data-number="+15550101"] button')
    status = page.locator("#status")
    expect(status).to_contain_text("Ringing +15550101", timeout=60_000)
    expect(page.locator(".number-row[data-active=true]")).to_have_attribute("data-number", "+15550101")
    expect(status).to_contain_text("In a call with +15550101", timeout=30_000)
    assert page.locator('.number-row[data-number="+15550102"] button').is_disabled()
    events = page.locator("#events")
    for name in ("device.registered", "call.ringing", "call.accepted"):
        expect(events).to_contain_text(name)
    call_id = current_call_id(sandbox, since, "+15550101")
    page.click("#hangup")
    expect(status).to_contain_text("Call ended (You hung up)", timeout=30_000)
    expect(events).to_contain_text("reason=local")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id=call_id)
    expect(page.locator('[data-result="+15550101"]')).to_have_text("Last call: You hung up")
    # A failing number: the status says why, the buttons come back.
    page.click('.number-row[data-number="+15550104"] button')
    expect(status).to_contain_text("Call to +15550104 failed: Declined (603)", timeout=30_000)
    expect(status).to_have_attribute("data-level", "warning")
    expect(page.locator("#call")).to_be_enabled()
    expect(page.locator("#hangup")).to_be_disabled()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "click-to-call-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=str(ARTIFACTS / "click-to-call-phone.png"), full_page=True)
