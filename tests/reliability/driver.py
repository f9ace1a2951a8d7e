"""The test side of the reliability probe: a page with Pyodide and the SDK, driven by ``reliability_probe``.

:class:`Probe` loads ``tests/pages/sdk_harness.html`` (served by a sandbox at ``/test/pages/``), installs
``reliability_probe.py`` into the page's Pyodide and offers ``run`` / ``device`` / ``call`` / ``wait`` like
the Device/Call tests' driver, plus time-stamped events and audio helpers. :data:`PAGE_INSTRUMENTATION` is a
script added before any page script runs: it records every microphone track and peer connection the page
creates, so the leak test can count the live ones (``window.__relProbe.counts()``).

Usable from pytest fixtures and from ``bench/bench_reliability.py`` alike (no pytest import here).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from playwright.sync_api import BrowserContext, Page

__all__ = ["PAGE_INSTRUMENTATION", "PROBE_SOURCE", "Probe", "ProbeError"]

PROBE_SOURCE = Path(__file__).resolve().parent / "reliability_probe.py"

PAGE_INSTRUMENTATION = """
(() => {
  if (window.__relProbe) return;
  const tracks = [];
  const peers = [];
  const media = navigator.mediaDevices;
  if (media && media.getUserMedia) {
    const original = media.getUserMedia.bind(media);
    media.getUserMedia = async (constraints) => {
      const stream = await original(constraints);
      for (const track of stream.getTracks()) tracks.push(new WeakRef(track));
      return stream;
    };
  }
  const NativePC = window.RTCPeerConnection;
  if (NativePC) {
    const Wrapped = function (...args) {
      const pc = new NativePC(...args);
      peers.push(new WeakRef(pc));
      return pc;
    };
    Wrapped.prototype = NativePC.prototype;
    Object.setPrototypeOf(Wrapped, NativePC);
    window.RTCPeerConnection = Wrapped;
  }
  window.__relProbe = {
    counts() {
      const liveTracks = tracks.map((r) => r.deref()).filter((t) => t && t.readyState === "live").length;
      const openPeers = peers.map((r) => r.deref())
        .filter((pc) => pc && pc.signalingState !== "closed" && pc.connectionState !== "closed").length;
      return { tracks_created: tracks.length, live_tracks: liveTracks,
               peers_created: peers.length, open_peers: openPeers };
    },
  };
})();
"""

_INSTALL_JS = """async (source) => {
  pyodide.FS.writeFile("/home/pyodide/reliability_probe.py", source);
  const module = pyodide.pyimport("reliability_probe");
  window.relRun = async (name, kwargs) => await module.run_json(name, JSON.stringify(kwargs || {}));
  return true;
}"""


class ProbeError(Exception):
    """An error returned by the in-page probe (a VoiceSDKError's JSON, or another exception)."""

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('code')}: {error.get('message')}")
        self.code = error.get("code")
        self.error = error


class Probe:
    """Drives ``reliability_probe`` in one page."""

    def __init__(self, page: Page) -> None:
        self.page = page

    @classmethod
    def open(cls, context: BrowserContext, base_url: str, *, timeout_ms: float = 180_000) -> Probe:
        """A new page of ``context`` on ``base_url``'s SDK harness, with the probe installed."""
        page = context.new_page()
        probe = cls(page)
        probe.load(base_url, timeout_ms=timeout_ms)
        return probe

    def load(self, base_url: str, *, timeout_ms: float = 180_000) -> None:
        """(Re)load the harness page from ``base_url`` and install the probe."""
        self.page.add_init_script(PAGE_INSTRUMENTATION)
        self.page.goto(base_url.rstrip("/") + "/test/pages/sdk_harness.html")
        self.page.wait_for_function(
            "window.__sdk && (window.__sdk.ready || window.__sdk.error)", timeout=timeout_ms
        )
        state = self.page.evaluate("window.__sdk")
        if not state.get("ready"):
            raise RuntimeError(f"the SDK harness page did not start: {state.get('error')}")
        self.page.evaluate(_INSTALL_JS, PROBE_SOURCE.read_text())

    # ------------------------------------------------------------------ commands

    def run(self, command: str, **kwargs: Any) -> Any:
        """Run a probe command; raise :class:`ProbeError` with what it reported on failure."""
        raw = self.page.evaluate("([n, k]) => window.relRun(n, k)", [command, kwargs])
        result = json.loads(raw)
        if "error" in result:
            raise ProbeError(result["error"])
        return result["ok"]

    def device(self, device_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Device method (or read a property)."""
        return self.run("device", device_id=device_id, method=method, args=list(args), kwargs=kwargs)

    def call(self, call_id: str, method: str, *args: Any, **kwargs: Any) -> Any:
        """Call a Call method (or read a property)."""
        return self.run("call", call_id=call_id, method=method, args=list(args), kwargs=kwargs)

    def new_device(
        self, token: str, *, credentials: dict[str, Any] | None = None, log: bool = True, **options: Any
    ) -> str:
        """A Device (not registered yet); ``credentials`` installs a provider returning them; ``log=False``
        records none of its events."""
        options.setdefault("log_level", "info")
        result: str = self.run(
            "create_device", token=token, options=options, credentials=credentials, log=log
        )
        return result

    def wait(
        self, target: str, name: str, since: int = 0, timeout: float = 20.0, *, names: list[str] | None = None
    ) -> dict[str, Any]:
        """The first ``name`` (or any of ``names``) event of ``target`` after ``since``."""
        result: dict[str, Any] = self.run(
            "wait_event", target=target, name=name, since=since, timeout=timeout, names=names
        )
        return result

    def events(self, since: int = 0, target: str | None = None) -> list[dict[str, Any]]:
        """Time-stamped events (``seq``, ``t``, ``target``, ``name``, ``args``) after ``since``."""
        result: list[dict[str, Any]] = self.run("events", since=since, target=target)
        return result

    def names(self, target: str, since: int = 0) -> list[str]:
        """The names of ``target``'s events after ``since``, in order."""
        return [e["name"] for e in self.events(since, target)]

    def seq(self) -> int:
        """The newest event's sequence number."""
        return int(self.run("last_seq"))

    def destroy_all(self) -> int:
        """Destroy every Device of the page."""
        return int(self.run("destroy_all"))

    def memory(self, collect: bool = True) -> dict[str, float]:
        """See ``reliability_probe.memory``."""
        result: dict[str, float] = self.run("memory", collect=collect)
        return result

    # ------------------------------------------------------------------ audio

    def audio_flow(self, call_id: str, seconds: float = 2.0) -> dict[str, float]:
        """Deltas of received ``bytes``/``packets``/``energy`` over the next ``seconds``."""
        result: dict[str, float] = self.run("audio_flow", call_id=call_id, seconds=seconds)
        return result

    def wait_audio(self, call_id: str, timeout: float = 10.0, min_packets: int = 25) -> dict[str, float]:
        """Wait for ``min_packets`` newly received packets with energy; ``{"t", "waited_s", "packets"}``."""
        result: dict[str, float] = self.run(
            "wait_audio", call_id=call_id, timeout=timeout, min_packets=min_packets
        )
        return result

    def wait_until(
        self, predicate: Any, timeout: float, interval: float = 0.2, what: str = "condition"
    ) -> None:
        """Poll ``predicate()`` until true (raise AssertionError naming ``what`` after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while not predicate():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {what}")
            time.sleep(interval)
