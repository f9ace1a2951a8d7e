"""The Twilio-parity media features (issue #18) through the JavaScript facade, from a plain-JS page.

The app page of test_js_facade (tests/pages/js_facade.html, no Python in its source) places and answers
calls with ``codecPreferences``/``maxAverageBitrate``, sends digits in early media, reads
``getLocalStream()``/``getRemoteStream()`` (real ``MediaStream`` objects) and listens to ``volume``; the
sandbox says what reached it. The fixture checks nothing is left alive after ``device.destroy()``.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Dialog, Page

from browser import test_js_facade
from browser.harness import Sandbox
from browser.test_js_facade import sandbox_json, wait_sandbox_event

pytestmark = pytest.mark.browser

app = test_js_facade.app
"""The app page after its quick start registered alice (nothing may be left alive after the test)."""

EARLY_IVR = "+15550108"

_EARLY_MEDIA_FLOW = """async ([to]) => {
  const call = await app.device.connect({ to, codecPreferences: ["PCMU", "opus"], maxAverageBitrate: 24000 });
  app.watch(call, "early");
  await app.waitFor("early", "ringing");
  const statusWhenDialling = call.status;
  call.sendDigits("3#");
  await app.waitFor("early", "accepted");
  const local = call.getLocalStream();
  const remote = call.getRemoteStream();
  const levels = await new Promise((resolve) => {
    const got = [];
    call.on("volume", (input, output) => {
      got.push([input, output]);
      if (got.length >= 5) resolve(got);
    });
  });
  const seen = {
    statusWhenDialling,
    sipCallId: call.sipCallId,
    localIsStream: local instanceof MediaStream,
    remoteIsStream: remote instanceof MediaStream,
    localTrack: local.getAudioTracks().map((t) => t.readyState),
    remoteTrack: remote.getAudioTracks().map((t) => t.readyState),
    levels,
  };
  await call.disconnect();
  try {
    call.getRemoteStream();
    seen.afterEnd = null;
  } catch (err) {
    seen.afterEnd = { code: err.code, instance: err instanceof TwoChatVoice.VoiceSDKError };
  }
  seen.localTrackAfterEnd = local.getAudioTracks().map((t) => t.readyState);
  return seen;
}"""


def test_early_media_digits_codecs_streams_and_volume_from_javascript(app: Page, sandbox: Sandbox) -> None:
    seen: dict[str, Any] = app.evaluate(_EARLY_MEDIA_FLOW, [EARLY_IVR])
    assert seen["statusWhenDialling"] == "ringing"
    assert seen["localIsStream"] and seen["remoteIsStream"]
    assert seen["localTrack"] == ["live"] and seen["remoteTrack"] == ["live"]
    assert len(seen["levels"]) >= 5
    assert all(0 <= level <= 1 for pair in seen["levels"] for level in pair)
    assert seen["afterEnd"] == {"code": "INVALID_STATE", "instance": True}
    assert seen["localTrackAfterEnd"] == ["ended"]
    call_id = seen["sipCallId"]
    digits = [
        e
        for e in sandbox_json(sandbox, "GET", f"/sandbox/events?call_id={call_id}")["events"]
        if e["kind"] == "dtmf"
    ]
    assert "".join(e["digit"] for e in digits) == "3#"
    assert {e["call_state"] for e in digits} == {"early"}
    negotiated = wait_sandbox_event(sandbox, lambda e: e["kind"] == "negotiated", call_id)
    assert negotiated["codec"] == "PCMU"
    assert negotiated["client_opus_fmtp"]["maxaveragebitrate"] == "24000"


def test_accept_options_and_bad_media_options_from_javascript(app: Page, sandbox: Sandbox) -> None:
    since = app.evaluate("app.seq()")
    sandbox_json(sandbox, "POST", "/sandbox/calls", {"to": "alice", "media": "echo"})
    entry = app.evaluate("([s]) => app.waitFor('device', 'incoming', s)", [since])
    label = entry["args"][0]["call"]
    refused = app.evaluate(
        "([l]) => app.failureOf(() => app.calls[l].accept({ codecPreferences: ['G729'] }))", [label]
    )
    assert refused["instance"] and refused["code"] == "INVALID_ARGUMENT" and "G729" in refused["message"]
    assert app.evaluate("([l]) => app.calls[l].status", [label]) == "pending"  # nothing changed
    app.evaluate("([l]) => app.calls[l].accept({ codecPreferences: ['PCMA'], dtx: false })", [label])
    call_id = app.evaluate("([l]) => app.calls[l].sipCallId", [label])
    negotiated = wait_sandbox_event(sandbox, lambda e: e["kind"] == "negotiated", call_id)
    assert negotiated["codec"] == "PCMA" and negotiated["answered"][0] == "PCMA"
    bad_connect = app.evaluate(
        "() => app.failureOf(() => app.device.connect("
        "{ to: '+15550100', rtcConfiguration: { iceTransportPolicy: 'nohost' } }))"
    )
    assert bad_connect["instance"] and bad_connect["code"] == "INVALID_ARGUMENT"
    assert "rtcConfiguration" in bad_connect["message"] or "iceTransportPolicy" in bad_connect["message"]
    app.evaluate("([l]) => app.calls[l].disconnect()", [label])


def test_failover_from_javascript(app: Page, sandbox: Sandbox, mint_token: Callable[..., str]) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"ws://127.0.0.1:{probe.getsockname()[1]}/sip"
    second = sandbox.ws_url + "-b"
    sandbox_json(sandbox, "PUT", "/sandbox/ws-urls", {"urls": [dead, second]})
    try:
        seen = app.evaluate(
            """async ([token]) => {
              const device = new TwoChatVoice.Device({ token, apiBaseUrl: location.origin });
              const changes = [];
              device.on("serverChange", (change) => changes.push(app.plain(change, "serverChange")));
              await device.register();
              const out = { wsUrl: device.wsUrl, changes, isString: typeof device.wsUrl === "string" };
              device.destroy();
              return out;
            }""",
            [mint_token("alice")],
        )
    finally:
        sandbox_json(sandbox, "DELETE", "/sandbox/ws-urls")
    assert seen == {"wsUrl": second, "changes": [{"wsUrl": second, "previous": None}], "isString": True}


def test_close_protection_from_javascript(app: Page, mint_token: Callable[..., str]) -> None:
    app.evaluate(
        """async ([token]) => {
          const options = { token, apiBaseUrl: location.origin, closeProtection: true };
          const device = new TwoChatVoice.Device(options);
          await device.register();
          const call = await device.connect({ to: "+15550100" });
          app.watch(call, "protected");
          await app.waitFor("protected", "accepted");
          app.protectedDevice = device;
        }""",
        [mint_token("alice")],
    )
    dialogs: list[str] = []

    def on_dialog(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    app.on("dialog", on_dialog)
    app.mouse.click(5, 5)  # browsers ask only on a page the person interacted with
    with app.expect_event("dialog", timeout=15_000):
        app.close(run_before_unload=True)
    assert dialogs == ["beforeunload"] and not app.is_closed()
    assert app.evaluate("app.calls.protected.status") == "accepted"
    app.evaluate("app.protectedDevice.destroy()")
