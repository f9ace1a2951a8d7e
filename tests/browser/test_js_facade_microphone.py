"""Microphone capture control (issue #18 item 1) through the JavaScript facade: ``audioConstraints``,
``setAudioConstraints()`` / ``unsetAudioConstraints()`` and an ``audioProcessor`` object, from the plain-JS
app page (tests/pages/js_facade.html) against the sandbox's echo number.

The processor records what it was given (the microphone's track and its ``getSettings()``, W3C names) and
what it made; the sender's ``media-source`` statistics (``trackIdentifier``) say which track is sent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page

from browser import test_js_facade

pytestmark = pytest.mark.browser

app = test_js_facade.app
"""The app page after its quick start registered alice (nothing may be left alive after the test)."""

_FLOW = """async ([token]) => {
  const seen = { inputs: [], made: [], destroyed: [] };
  const contexts = new Map();
  const processor = {
    createProcessedStream(stream) {
      const input = stream.getAudioTracks()[0];
      const settings = input.getSettings();
      const { echoCancellation, noiseSuppression, autoGainControl } = settings;
      seen.inputs.push({ id: input.id, echoCancellation, noiseSuppression, autoGainControl });
      const context = new AudioContext();
      const gain = context.createGain();
      gain.gain.value = 0.5;
      const out = context.createMediaStreamDestination();
      context.createMediaStreamSource(stream).connect(gain).connect(out);
      contexts.set(out.stream.id, context);
      seen.made.push(out.stream.getAudioTracks()[0].id);
      return out.stream;
    },
    async destroyProcessedStream(stream) {
      seen.destroyed.push(stream.getAudioTracks()[0].id);
      await contexts.get(stream.id).close();
      contexts.delete(stream.id);
    },
  };
  const sentTrack = async (call, wanted) => {
    for (let i = 0; i < 50; i += 1) {   // statistics are cached for a moment after replaceTrack
      const raw = (await call.getStats()).raw.filter((r) => r.type === "media-source");
      const ids = raw.map((r) => r.trackIdentifier);
      if (ids.length === 1 && ids[0] === wanted) return ids[0];
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return null;
  };
  const device = new TwoChatVoice.Device({
    token, apiBaseUrl: location.origin,
    audioConstraints: { echoCancellation: false, noiseSuppression: false, autoGainControl: false },
    audioProcessor: processor,
  });
  try {
    await device.register();
    seen.initial = device.audioConstraints;
    const call = await device.connect({ to: "+15550100" });
    if (call.status !== "accepted") await new Promise((resolve) => call.once("accepted", resolve));
    seen.local = call.getLocalStream().getAudioTracks()[0].id;
    seen.sentFirst = await sentTrack(call, seen.made[0]);
    await device.setAudioConstraints({ echoCancellation: true, noiseSuppression: true });
    seen.changed = device.audioConstraints;
    seen.localAfterChange = call.getLocalStream().getAudioTracks()[0].id;
    seen.sentSecond = await sentTrack(call, seen.made[1]);
    seen.destroyedAfterChange = [...seen.destroyed];
    seen.bad = await app.failureOf(() => device.setAudioConstraints({ channelCount: 3 }));
    seen.unknown = await app.failureOf(() => device.setAudioConstraints({ sampleRate: 8000 }));
    seen.afterBad = device.audioConstraints;
    seen.madeAfterBad = seen.made.length;
    await call.disconnect();
    seen.destroyedAtEnd = [...seen.destroyed];
    seen.contextsLeft = contexts.size;
    try {
      new TwoChatVoice.Device({ token, audioProcessor: 42 });
      seen.badProcessor = null;
    } catch (err) {
      seen.badProcessor = { code: err.code, instance: err instanceof TwoChatVoice.VoiceSDKError };
    }
  } finally {
    device.destroy();
  }
  return seen;
}"""


def test_constraints_and_processor_from_javascript(app: Page, mint_token: Callable[..., str]) -> None:
    seen: dict[str, Any] = app.evaluate(_FLOW, [mint_token("alice")])
    assert seen["initial"] == {"echoCancellation": False, "noiseSuppression": False, "autoGainControl": False}
    first, second = seen["inputs"]
    assert (first["echoCancellation"], first["noiseSuppression"], first["autoGainControl"]) == (False,) * 3
    # The live call's microphone was re-opened with the new constraints, and processed again.
    assert second["id"] != first["id"]
    assert (second["echoCancellation"], second["noiseSuppression"]) == (True, True)
    assert seen["changed"] == {"echoCancellation": True, "noiseSuppression": True}
    # What the call sends, and getLocalStream(), is the processor's stream each time.
    assert seen["local"] == seen["made"][0] and seen["sentFirst"] == seen["made"][0]
    assert seen["localAfterChange"] == seen["made"][1] and seen["sentSecond"] == seen["made"][1]
    assert seen["destroyedAfterChange"] == [seen["made"][0]]
    # Bad input: a VoiceSDKError, nothing re-opened, the constraints kept.
    for failure, mentions in ((seen["bad"], "channelCount"), (seen["unknown"], "sampleRate")):
        assert failure["instance"] and failure["code"] == "INVALID_ARGUMENT", failure
        assert mentions in failure["message"]
    assert seen["afterBad"] == seen["changed"] and seen["madeAfterBad"] == 2
    assert seen["destroyedAtEnd"] == seen["made"] and seen["contextsLeft"] == 0
    assert seen["badProcessor"] == {"code": "INVALID_ARGUMENT", "instance": True}
