"""WebKit: why it is not in the real-browser tier, kept as a test so the day it can be, we hear of it.

Debian's WebKitGTK (``webkit2gtk-driver`` gives ``WebKitWebDriver``; its MiniBrowser runs on an Xvfb display)
is driven over W3C WebDriver on 127.0.0.1. It has WebSocket, WebAssembly and ``getUserMedia``, but no
``RTCPeerConnection`` (nor ``RTCDTMFSender``, nor ``setSinkId``), even with MiniBrowser's
``--enable-webrtc=true``: Debian builds WebKitGTK without WebRTC, so the SDK cannot place a call there
and the tier has nothing to run. The test asserts exactly that; when it fails, WebKit has WebRTC and
belongs in the tier (docs/browser-support.md says the same).
"""

from __future__ import annotations

import http.server
import json
import os
import shutil
import socket
import socketserver
import subprocess
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MINIBROWSER = Path("/usr/lib/x86_64-linux-gnu/webkit2gtk-4.1/MiniBrowser")
PROBE = """return {
  webrtc: typeof RTCPeerConnection, dtmf: typeof RTCDTMFSender,
  gum: !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia),
  websocket: typeof WebSocket, wasm: typeof WebAssembly, secure: window.isSecureContext,
  sink: typeof HTMLMediaElement.prototype.setSinkId, ua: navigator.userAgent};"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def webkit_session(tmp_path: Path) -> Iterator[tuple[str, int, str]]:
    """(WebDriver base URL, session id, page URL): MiniBrowser under Xvfb, a page on 127.0.0.1."""
    for tool in ("WebKitWebDriver", "Xvfb"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is missing (python3 build.py test installs webkit2gtk-driver and xvfb)")
    if not MINIBROWSER.exists():
        pytest.skip(f"{MINIBROWSER} is missing")
    (tmp_path / "index.html").write_text("<!doctype html><title>probe</title><p>probe</p>")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, directory=str(tmp_path), **kwargs)

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet."""

    httpd = socketserver.TCPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    port = _free_port()
    log = (tmp_path / "webdriver.log").open("w")
    # Xvfb picks a free display and writes its number on the pipe (-displayfd); no TCP listener
    read_end, write_end = os.pipe()
    xvfb = subprocess.Popen(
        ["Xvfb", "-displayfd", str(write_end), "-nolisten", "tcp", "-screen", "0", "1280x1024x24"],
        pass_fds=(write_end,),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    os.close(write_end)
    with os.fdopen(read_end) as display_pipe:
        display = display_pipe.readline().strip()
    driver = subprocess.Popen(
        ["WebKitWebDriver", f"--port={port}", "--host=127.0.0.1"],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "DISPLAY": f":{display}"},
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                _call(base, "GET", "/status")
                break
            except OSError:
                if time.monotonic() > deadline or driver.poll() is not None:
                    raise AssertionError(f"WebKitWebDriver did not start; see {log.name}") from None
                time.sleep(0.1)
        options = {"binary": str(MINIBROWSER), "args": ["--automation", "--enable-webrtc=true"]}
        capabilities = {"capabilities": {"alwaysMatch": {"webkitgtk:browserOptions": options}}}
        session = str(_call(base, "POST", "/session", capabilities)["value"]["sessionId"])
        try:
            yield base, session, f"http://127.0.0.1:{httpd.server_address[1]}/index.html"
        finally:
            _call(base, "DELETE", f"/session/{session}")
    finally:
        for process in (driver, xvfb):
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(15)
        log.close()
        httpd.shutdown()
        httpd.server_close()


def _call(base: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        base + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.load(response)


def test_debian_webkitgtk_has_no_webrtc(webkit_session: tuple[str, int, str]) -> None:
    base, session, page = webkit_session
    _call(base, "POST", f"/session/{session}/url", {"url": page})
    found = _call(base, "POST", f"/session/{session}/execute/sync", {"script": PROBE, "args": []})["value"]
    # what the SDK needs from the page besides WebRTC is there...
    assert found["websocket"] == "function" and found["wasm"] == "object" and found["secure"] is True, found
    assert found["gum"] is True, found
    # ...but no RTCPeerConnection: no call can be placed (if this fails, add WebKit to the tier)
    assert found["webrtc"] == "undefined", f"WebKitGTK has RTCPeerConnection: add it to the tier ({found})"
    assert found["dtmf"] == "undefined" and found["sink"] == "undefined", found
