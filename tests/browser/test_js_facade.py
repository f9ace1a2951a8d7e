"""The JavaScript facade (/twochat-voice.js) driven by a plain-JS page in Chromium against the real sandbox.

tests/pages/js_facade.html is an app written for ``@2chat/voice-sdk``: no Python in its source. With
``?token=`` it runs the 2Chat README quick start while the SDK is still loading (``new
TwoChatVoice.Device({token, logLevel: "info", apiBaseUrl})``, listeners, ``await device.register()``); the
tests then drive calls through its small flows and ``page.evaluate`` and check what the app saw (plain JS
payloads, ``VoiceSDKError`` instances) and what the sandbox saw (hold re-INVITEs, DTMF, BYE). Every test
ends with zero page errors (the page guard) and, after ``device.destroy()``, nothing left alive: the
platform's JS proxies, the bridge's registries and tasks, the facade's wrappers and pending requests, and
every PyProxy created since loading (Pyodide's allocation tracing).
"""

from __future__ import annotations

import json
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from playwright.sync_api import Page

from browser.harness import Sandbox

pytestmark = pytest.mark.browser

PAGE = "/test/pages/js_facade.html"
NOTHING_LEFT = {
    "platformProxies": 0,
    "pyProxies": 0,
    "devices": 0,
    "calls": 0,
    "tasks": 0,
    "wrappers": {"devices": 0, "calls": 0},
    "pending": 0,
}


# ------------------------------------------------------------------------------------------ helpers


def sandbox_json(sandbox: Sandbox, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    request = urllib.request.Request(
        sandbox.url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        return json.load(response)


def wait_sandbox_event(
    sandbox: Sandbox, predicate: Callable[[dict[str, Any]], bool], call_id: str, timeout: float = 15.0
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        query = urllib.parse.urlencode({"call_id": call_id})
        result = sandbox_json(sandbox, "GET", "/sandbox/events?" + query)
        events: list[dict[str, Any]] = result["events"] if isinstance(result, dict) else result
        for event in events:
            if predicate(event):
                return event
        if time.monotonic() > deadline:
            raise AssertionError(f"the sandbox never logged the expected event; it logged {events}")
        time.sleep(0.2)


def open_app(page: Page, query: str = "", *, timeout_ms: float = 180_000) -> None:
    """Open the app page and wait until its quick start finished (or, without a token, the SDK loaded)."""
    page.goto(PAGE + query)
    page.wait_for_function("window.app && app.status !== 'loading'", timeout=timeout_ms)
    assert page.evaluate("app.status") in ("registered", "no token"), page.evaluate("app.startError")
    if page.evaluate("app.status") == "no token":
        page.wait_for_function("TwoChatVoice.isReady()", timeout=timeout_ms)


def events_of(page: Page, target: str) -> list[dict[str, Any]]:
    log: list[dict[str, Any]] = page.evaluate("app.log")
    return [entry for entry in log if entry["target"] == target]


def wait_event(page: Page, target: str, name: str, since: int = 0) -> dict[str, Any]:
    entry: dict[str, Any] = page.evaluate("([t, n, s]) => app.waitFor(t, n, s)", [target, name, since])
    return entry


def assert_nothing_left(page: Page) -> None:
    """After destroy: no live object anywhere, no <audio> element, no non-plain payload seen."""
    deadline = time.monotonic() + 10
    while True:
        live = page.evaluate("TwoChatVoice.liveObjects()")
        if live == NOTHING_LEFT or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert live == NOTHING_LEFT
    assert page.evaluate("document.querySelectorAll('audio').length") == 0
    assert page.evaluate("app.problems") == []


@pytest.fixture
def app(page: Page, mint_token: Callable[..., str]) -> Iterator[Page]:
    """The app page after its quick start registered alice; the page's backend (window.mintToken) mints
    fresh tokens. After the test the Device is destroyed and nothing may be left alive."""
    page.expose_function("mintToken", lambda: mint_token("alice"))
    open_app(page, "?token=" + mint_token("alice"))
    yield page
    page.evaluate("app.device.destroy()")
    assert_nothing_left(page)


# ------------------------------------------------------------------------------------------ the quick start


def test_quickstart_outbound_call(app: Page, sandbox: Sandbox) -> None:
    page = app
    # The quick start created its Device while the SDK was still loading.
    assert page.evaluate("app.readyAtConstruction") is False
    assert [e["name"] for e in events_of(page, "device")] == ["registering", "registered"]
    assert page.evaluate("app.device.state") == "registered"
    assert page.evaluate("app.device.identity").startswith("sip:")
    caller_ids = page.evaluate("app.device.callerIds")
    assert caller_ids and set(caller_ids[0]) == {"uuid", "phoneNumber"}

    seen = page.evaluate("app.outboundCall('+15550100')")
    assert seen["muted"] is True and seen["held"] is True and seen["onHoldAfter"] is False
    assert seen["status"] == "accepted" and seen["direction"] == "outbound"
    assert seen["remoteIdentity"] == "+15550100"
    call_id = seen["sipCallId"]
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is True, call_id)
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "hold" and e.get("on_hold") is False, call_id)
    dtmf = wait_sandbox_event(sandbox, lambda e: e["kind"] == "dtmf" and e.get("digits") == "12#", call_id)
    assert dtmf["transport"] in ("rfc4733", "info")  # RFC 4733 unless the sender is not ready yet
    assert page.evaluate("app.device.calls.length") == 1
    assert page.evaluate("app.device.calls[0] === app.calls.out")
    sample = page.evaluate(
        "new Promise((resolve) => app.calls.out.once('sample', (s) => resolve(app.plain(s, 'sample'))))"
    )
    assert {"rttMs", "jitterMs", "mos", "bytesReceived", "packetsSent"} <= set(sample)
    assert not [key for key in sample if "_" in key]
    stats = page.evaluate("app.calls.out.getStats().then((s) => app.plain(s, 'stats'))")
    assert stats and not [key for key in stats if "_" in key]

    page.evaluate("app.calls.out.disconnect()")
    disconnect = wait_event(page, "out", "disconnect")
    assert disconnect["args"] == [{"reason": "local", "statusCode": None}]
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "bye" and e.get("who") == "caller", call_id)
    names = [e["name"] for e in events_of(page, "out")]
    assert names == ["accepted", "mute", "hold", "hold", "disconnect"]
    assert [e["args"] for e in events_of(page, "out") if e["name"] in ("mute", "hold")] == [
        [True],
        [True],
        [False],
    ]
    after = page.evaluate(
        "(() => { const c = app.calls.out; return {status: c.status, get: c.getStatus(), muted: c.isMuted(),"
        " ended: c.ended, timings: c.timings, sipCallId: c.sipCallId, calls: app.device.calls.length}; })()"
    )
    assert after["status"] == after["get"] == "disconnected"
    assert after["muted"] is True and after["ended"] is True and after["sipCallId"] == call_id
    assert {"created", "inviteSent", "answered", "mediaConnected", "ended"} <= set(after["timings"])
    assert after["calls"] == 0
    ended = page.evaluate("app.failureOf(() => app.calls.out.hold(true))")
    assert ended["code"] == "INVALID_STATE" and ended["instance"] is True
    assert page.evaluate("app.calls.out.disconnect().then(() => 'resolved')") == "resolved"


def test_incoming_call_with_custom_headers(app: Page, sandbox: Sandbox) -> None:
    page = app
    since = page.evaluate("app.seq()")
    placed = sandbox_json(
        sandbox,
        "POST",
        "/sandbox/calls",
        {"to": "alice", "headers": {"X-2Chat-Ticket-Id": "42", "X-2Chat-Customer": "ACME"}, "media": "tone"},
    )
    seen = page.evaluate("(since) => app.answerIncoming(since)", since)
    assert seen["direction"] == "inbound"
    assert seen["customHeaders"] == {"Ticket-Id": "42", "Customer": "ACME"}
    assert seen["frozen"] is True
    assert seen["status"] == "pending" and seen["statusAfterAccept"] == "accepted"
    assert seen["sipCallId"] == placed["call_id"]
    assert seen["remoteIdentity"] == "+15550199"
    label = seen["label"]
    wait_event(page, label, "accepted")
    wait_sandbox_event(sandbox, lambda e: e["kind"] == "answered", placed["call_id"])
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{placed['call_id']}")
    disconnect = wait_event(page, label, "disconnect")
    assert disconnect["args"] == [{"reason": "remote", "statusCode": None}]
    assert page.evaluate(f"app.calls.{label}.getStatus()") == "disconnected"


def test_token_will_expire_then_update_token(page: Page, mint_token: Callable[..., str]) -> None:
    # A 60 s token (the sandbox's minimum) under the default 60 s lead: tokenWillExpire fires right after
    # registering, and the quick start's listener fetches a fresh token from "the backend" (mintToken).
    fresh: list[str] = []

    def backend() -> str:
        fresh.append(mint_token("alice"))
        return fresh[-1]

    page.expose_function("mintToken", backend)
    open_app(page, "?token=" + mint_token("alice", ttl=60))
    wait_event(page, "device", "tokenWillExpire")
    wait_event(page, "device", "tokenUpdated")
    assert page.evaluate("app.device.token") == fresh[-1]
    bad = page.evaluate("app.failureOf(() => app.device.updateToken('not-a-jwt'))")
    assert bad["code"] == "TOKEN_INVALID" and bad["className"] == "TokenError" and bad["instance"] is True
    assert page.evaluate("app.device.token") == fresh[-1]
    assert [e for e in events_of(page, "device") if e["name"] == "error"] == []
    page.evaluate("app.device.destroy()")
    assert_nothing_left(page)


# ------------------------------------------------------------------------------------------ errors


def test_errors_are_voice_sdk_errors(app: Page, mint_token: Callable[..., str]) -> None:
    page = app
    nonsense = page.evaluate("app.failureOf(() => app.device.connect({to: 'nonsense'}))")
    assert nonsense["code"] == "INVALID_ARGUMENT"
    assert nonsense["instance"] is True and nonsense["isError"] is True
    assert page.evaluate(
        "app.device.connect({to: 'nonsense'}).catch((err) => err instanceof TwoChatVoice.VoiceSDKError)"
    )
    assert nonsense["json"] == {
        "name": "VoiceSDKError",
        "code": "INVALID_ARGUMENT",
        "message": nonsense["message"],
    }
    unknown = page.evaluate("app.failureOf(() => app.device.connect({to: '+15550100', fromm: '+1555'}))")
    assert unknown["code"] == "INVALID_ARGUMENT" and "fromm" in unknown["message"]
    bad_from = page.evaluate("app.failureOf(() => app.device.connect({to: '+15550100', from: 'me'}))")
    assert bad_from["code"] == "INVALID_ARGUMENT" and bad_from["message"].startswith("from must be")

    # Thrown synchronously: a missing token, an unknown event, a listener that is not a function.
    thrown = page.evaluate(
        """() => {
          const out = {};
          for (const [name, fn] of Object.entries({
            noToken: () => new TwoChatVoice.Device({}),
            noOptions: () => new TwoChatVoice.Device(),
            unknownEvent: () => app.device.on('registred', () => {}),
            notAFunction: () => app.device.on('registered', 42),
            newCall: () => new TwoChatVoice.Call(),
          })) {
            try { fn(); out[name] = null; }
            catch (err) { out[name] = {code: err.code, name: err.name,
                                       sdk: err instanceof TwoChatVoice.VoiceSDKError}; }
          }
          return out;
        }"""
    )
    assert thrown["noToken"] == {"code": "TOKEN_INVALID", "name": "TokenError", "sdk": True}
    assert thrown["noOptions"]["code"] == "INVALID_ARGUMENT"
    assert thrown["unknownEvent"]["code"] == "INVALID_ARGUMENT"
    assert thrown["notAFunction"]["code"] == "INVALID_ARGUMENT"
    assert thrown["newCall"] == {"code": None, "name": "TypeError", "sdk": False}

    # Bad option values: an `error` event and every method rejects, with the JavaScript option name.
    token = mint_token("alice")
    bad = page.evaluate(
        """async (token) => {
          const device = new TwoChatVoice.Device({token, logLevel: 'loud'});
          const events = [];
          device.on('error', (err) => events.push(err.code + ': ' + err.message));
          const failure = await app.failureOf(() => device.register());
          const unknown = new TwoChatVoice.Device({token, bogusOption: 1});
          const unknownFailure = await app.failureOf(() => unknown.connect({to: '+15550100'}));
          device.destroy(); unknown.destroy();
          return {events, failure, unknownFailure};
        }""",
        token,
    )
    assert bad["failure"]["code"] == "INVALID_ARGUMENT"
    assert "logLevel" in bad["failure"]["message"] and "log_level" not in bad["failure"]["message"]
    assert bad["events"] == [f"INVALID_ARGUMENT: {bad['failure']['message']}"]
    assert "bogusOption" in bad["unknownFailure"]["message"]

    # Lifecycle codes, with their subclasses; a Python cause arrives as `cause`.
    lifecycle = page.evaluate(
        """async (token) => {
          const fresh = new TwoChatVoice.Device({token, apiBaseUrl: location.origin});
          const notRegistered = await app.failureOf(() => fresh.connect({to: '+15550100'}));
          const registering = fresh.register();
          await new Promise((resolve) => setTimeout(resolve, 0));  // Python is fetching the credentials
          fresh.destroy();
          const destroyedWhileRegistering = await app.failureOf(() => registering);
          const afterDestroy = await app.failureOf(() => fresh.register());
          const missing = new TwoChatVoice.Device({token, apiBaseUrl: location.origin,
                                                   credentialsPath: '/nope'});
          let cause = null;
          try { await missing.register(); } catch (err) { cause = err.cause; missing.destroy();
            return {notRegistered, destroyedWhileRegistering, afterDestroy, state: fresh.state,
                    configCode: err.code, cause}; }
        }""",
        token,
    )
    assert lifecycle["notRegistered"]["code"] == "NOT_REGISTERED"
    assert lifecycle["notRegistered"]["className"] == "RegistrationError"
    assert lifecycle["destroyedWhileRegistering"]["code"] == "DESTROYED"
    assert lifecycle["afterDestroy"]["code"] == "DESTROYED"
    assert lifecycle["state"] == "destroyed"
    assert lifecycle["configCode"] == "CONFIG_FETCH_FAILED" and lifecycle["cause"] == 404


def test_destroy_mid_call_releases_everything(app: Page) -> None:
    page = app
    page.evaluate("app.device.connect({to: '+15550100'}).then((call) => app.watch(call, 'out'))")
    wait_event(page, "out", "accepted")
    assert page.evaluate("TwoChatVoice.liveObjects().platformProxies") > 0
    page.evaluate("app.device.destroy()")
    disconnect = wait_event(page, "out", "disconnect")
    assert disconnect["args"] == [{"reason": "destroyed", "statusCode": None}]
    assert [e["name"] for e in events_of(page, "device")][-1] == "destroyed"
    assert page.evaluate("app.device.state") == "destroyed"
    assert page.evaluate("app.calls.out.getStatus()") == "disconnected"
    assert page.evaluate("app.failureOf(() => app.device.register())")["code"] == "DESTROYED"
    assert_nothing_left(page)
    page.evaluate("app.device.destroy()")  # idempotent (the fixture destroys it again)


# ------------------------------------------------------------------------------------- more of the Python API


def test_device_properties_and_audio_devices(app: Page) -> None:
    page = app
    assert page.evaluate("app.device.isOutputSelectionSupported") is page.evaluate(
        "'setSinkId' in HTMLMediaElement.prototype"
    )
    assert page.evaluate("app.device.tabRole") is None  # no multiTab
    browser = page.evaluate(
        "navigator.mediaDevices.enumerateDevices().then((all) => all"
        ".filter((d) => d.kind === 'audioinput' || d.kind === 'audiooutput')"
        ".map((d) => ({deviceId: d.deviceId, kind: d.kind, label: d.label, groupId: d.groupId})))"
    )
    assert page.evaluate("app.device.listAudioDevices()") == browser
    # Chromium's fake devices: a default and two more of each kind.
    chosen = {d["kind"]: d["deviceId"] for d in reversed(browser) if d["deviceId"] != "default"}
    microphone, speaker = chosen["audioinput"], chosen["audiooutput"]

    # A headset plugged in: the browser's devicechange reaches the app as the Device's deviceChange.
    since = page.evaluate("app.seq()")
    page.evaluate("navigator.mediaDevices.dispatchEvent(new Event('devicechange'))")
    assert wait_event(page, "device", "deviceChange", since)["args"] == []

    # The microphone switched on a live call (replaceTrack), then back to the browser's default.
    page.evaluate("app.device.connect({to: '+15550100'}).then((call) => app.watch(call, 'out'))")
    wait_event(page, "out", "accepted")
    page.evaluate("(id) => app.device.setInputDevice(id)", microphone)
    assert page.evaluate("app.device.inputDeviceId") == microphone
    assert page.evaluate("app.calls.out.status") == "accepted"
    page.evaluate("(id) => app.calls.out.setInputDevice(id)", microphone)  # the Call's own switch
    assert [e for e in events_of(page, "out") if e["name"] == "error"] == []
    page.evaluate("app.device.setInputDevice(null)")
    assert page.evaluate("app.device.inputDeviceId") is None
    bad = page.evaluate("app.failureOf(() => app.device.setOutputDevice(''))")
    assert bad["code"] == "INVALID_ARGUMENT" and "setOutputDevice" in bad["message"]
    page.evaluate("(id) => app.device.setOutputDevice(id)", speaker)  # the live call's audio too (setSinkId)
    assert page.evaluate("app.device.outputDeviceId") == speaker
    page.evaluate("(id) => app.calls.out.setOutputDevice(id)", speaker)
    assert [e for e in events_of(page, "out") if e["name"] == "error"] == []
    page.evaluate("app.calls.out.disconnect()")
    wait_event(page, "out", "disconnect")


def test_incoming_display_name_and_ignore(app: Page, sandbox: Sandbox) -> None:
    page = app
    since = page.evaluate("app.seq()")
    placed = sandbox_json(sandbox, "POST", "/sandbox/calls", {"to": "alice", "display": "Ada Lovelace"})
    label = wait_event(page, "device", "incoming", since)["args"][0]["call"]
    seen = page.evaluate(
        f"""(() => {{ const call = app.calls.{label};
          const before = call.ignored; call.ignore();
          return {{name: call.remoteDisplayName, before, after: call.ignored, status: call.status}}; }})()"""
    )
    assert seen == {"name": "Ada Lovelace", "before": False, "after": True, "status": "pending"}
    sandbox_json(sandbox, "DELETE", f"/sandbox/calls/{placed['call_id']}")  # the caller gives up
    wait_event(page, label, "disconnect")
    assert page.evaluate(f"[app.calls.{label}.ignored, app.calls.{label}.remoteDisplayName]") == [
        True,
        "Ada Lovelace",
    ]
    # An outbound call has no display name of the far end.
    page.evaluate("app.device.connect({to: '+15550100'}).then((call) => app.watch(call, 'out'))")
    wait_event(page, "out", "accepted")
    assert page.evaluate("[app.calls.out.remoteDisplayName, app.calls.out.ignored]") == [None, False]
    page.evaluate("app.calls.out.disconnect()")
    wait_event(page, "out", "disconnect")


def test_preflight_from_javascript(app: Page) -> None:
    page = app
    report = page.evaluate("app.device.runPreflight({echoNumber: '+15550100', callSeconds: 3})")
    assert not [key for key in report if "_" in key]
    assert report["microphoneOk"] is True and report["microphoneError"] is None
    assert report["iceOk"] is True and "host" in report["candidateTypes"]
    assert report["callRan"] is True and report["callOk"] is True, json.dumps(report)
    assert report["audioReceived"] is True and isinstance(report["mos"], float)
    assert report["ok"] is True
    bad = page.evaluate(
        "app.failureOf(() => app.device.runPreflight({callSeconds: 0, echoNumber: '+15550100'}))"
    )
    assert bad["code"] == "INVALID_ARGUMENT" and "callSeconds" in bad["message"]
    unknown = page.evaluate("app.failureOf(() => app.device.runPreflight({echo: '+15550100'}))")
    assert unknown["code"] == "INVALID_ARGUMENT" and "echo" in unknown["message"]


def test_multi_tab_from_javascript(page: Page, mint_token: Callable[..., str]) -> None:
    # Two tabs of one user with multiTab: one leader registers, the other follows and places a call
    # through it (the media plays in the leader tab).
    tabs = [page, page.context.new_page()]
    for tab in tabs:
        open_app(tab)
    start = """async (token) => {
      window.tabDevice = new TwoChatVoice.Device({token, apiBaseUrl: location.origin, multiTab: true});
      const before = tabDevice.tabRole;
      await tabDevice.register();
      return {before, state: tabDevice.state};
    }"""
    started = [tab.evaluate(start, mint_token("alice")) for tab in tabs]
    assert [s["state"] for s in started] == ["registered", "registered"]
    roles = [tab.evaluate("tabDevice.tabRole") for tab in tabs]
    assert sorted(roles) == ["follower", "leader"]
    follower = tabs[roles.index("follower")]
    leader = tabs[roles.index("leader")]
    seen = follower.evaluate(
        """async () => {
          const call = await tabDevice.connect({to: '+15550100'});
          const log = [];
          for (const name of ['accepted', 'disconnect']) call.on(name, () => log.push(name));
          await app.until(() => call.status === 'accepted', 'the mirrored call is accepted');
          const status = call.status;
          const ended = new Promise((resolve) => call.once('disconnect', resolve));
          await call.disconnect();
          const end = await ended;
          await app.until(() => tabDevice.calls.length === 0, 'the ended call leaves device.calls');
          return {status, end, log};
        }"""
    )
    assert seen["status"] == "accepted" and seen["end"]["reason"] == "local"
    assert seen["log"] in (["accepted", "disconnect"], ["disconnect"]), seen["log"]  # accepted: maybe before
    for tab in (follower, leader):
        tab.evaluate("tabDevice.destroy()")
    for tab in tabs:
        assert_nothing_left(tab)


# ------------------------------------------------------------------------------------------ the module itself


def test_module_surface_matches_python(page: Page) -> None:
    open_app(page)  # no token: the SDK loads by itself
    python = json.loads(
        page.evaluate(
            """TwoChatVoice.pyodide.runPython(`
import json
from twochat_voice_web import Call, Device
json.dumps({"device": sorted(Device.EVENTS), "call": sorted(Call.EVENTS)})
`)"""
        )
    )
    assert sorted(page.evaluate("[...TwoChatVoice.Device.EVENTS]")) == python["device"]
    assert sorted(page.evaluate("[...TwoChatVoice.Call.EVENTS]")) == python["call"]
    info = page.evaluate("TwoChatVoice.info")
    assert info["sdkVersion"] and info["pythonVersion"].startswith("3.") and info["loadMs"] > 0
    assert page.evaluate("window.TwoChatVoice.Device === TwoChatVoice.Device")
    assert page.evaluate("Object.isFrozen(window.TwoChatVoice)")
    assert page.evaluate("TwoChatVoice.ready().then((info) => info === TwoChatVoice.info)")

    listeners = page.evaluate(
        """() => {
          const device = new TwoChatVoice.Device({token: 'x.y.z'});
          const seen = [];
          const a = () => seen.push('a'), b = () => seen.push('b'), c = () => seen.push('c');
          device.on('registered', a).once('registered', b).addListener('registered', c);
          const counts = [device.listenerCount('registered'), device.listenerCount()];
          device._dispatch('registered', []);
          device._dispatch('registered', []);
          device.off('registered', a).removeListener('registered', c);
          device._dispatch('registered', []);
          device.on('registered', a); device.removeAllListeners('registered');
          const after = device.listenerCount();
          device.destroy();
          return {seen, counts, after};
        }"""
    )
    assert listeners == {"seen": ["a", "b", "c", "a", "c"], "counts": [3, 3], "after": 0}
    elsewhere = "TwoChatVoice.load({baseUrl: 'http://127.0.0.1:9/elsewhere/'}).catch((e) => e.code)"
    assert page.evaluate(elsewhere) == "INVALID_STATE"


def test_load_failure_reaches_devices(page: Page) -> None:
    # A second instance of the module (another URL) that does not load by itself, pointed at nothing.
    open_app(page)
    result = page.evaluate(
        """async () => {
          const other = (await import('/twochat-voice.js?autoload=0')).default;
          const loading = other.load({baseUrl: '/nowhere/'});
          const device = new other.Device({token: 'x.y.z'});  // queued behind the failing load
          const errors = [];
          device.on('error', (err) => errors.push(err.code));
          const load = await loading.catch((err) => err.code);
          const register = await app.failureOf(() => device.register());
          const retried = await other.ready().catch((err) => err.code);  // the same baseUrl again
          await new Promise((resolve) => setTimeout(resolve, 50));
          return {load, register: register.code, errors, retried, ready: other.isReady(),
                  globalKept: window.TwoChatVoice !== other};
        }"""
    )
    assert result == {
        "load": "LOAD_FAILED",
        "register": "LOAD_FAILED",
        "errors": ["LOAD_FAILED"],
        "retried": "LOAD_FAILED",
        "ready": False,
        "globalKept": True,
    }


def test_credentials_provider_from_javascript(page: Page, mint_token: Callable[..., str]) -> None:
    open_app(page)
    token = mint_token("alice")
    result = page.evaluate(
        """async (token) => {
          // BYO credentials: fetched by the app (here from the sandbox), handed over with camelCase keys.
          const provider = async (jwt) => {
            const response = await fetch('/sdk/voip/sip-credentials',
                                         {headers: {Authorization: 'Bearer ' + jwt}});
            const body = await response.json();
            const data = body.data || body;
            return {wsUrl: data.ws_url, sipUri: data.sip_uri, username: data.username,
                    password: data.password, realm: data.realm, displayName: data.display_name,
                    iceServers: data.ice_servers || [],
                    callerIds: data.caller_ids.map((c) => ({uuid: c.uuid, phoneNumber: c.phone_number}))};
          };
          const device = new TwoChatVoice.Device({token, credentialsProvider: provider});
          await device.register();
          const state = device.state;
          const callerIds = device.callerIds;
          device.destroy();
          const failing = new TwoChatVoice.Device({token, credentialsProvider: async () => {
            throw new TypeError('no network'); }});
          const failure = await app.failureOf(() => failing.register());
          failing.destroy();
          return {state, callerIds, failure};
        }""",
        token,
    )
    assert result["state"] == "registered"
    assert result["callerIds"] and result["callerIds"][0]["phoneNumber"].startswith("+")
    assert result["failure"]["code"] == "CONFIG_FETCH_FAILED"
    assert "TypeError: no network" in result["failure"]["message"]
    assert_nothing_left(page)
