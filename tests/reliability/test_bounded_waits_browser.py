"""Bounded waits (issue 7): no network wait of the SDK in Chromium is longer than its limit.

* ICE gathering with STUN/TURN servers that never answer (a UDP black hole, a TCP server that accepts and
  stays silent) holds ``connect()`` and ``accept()`` no longer than ``ice_gathering_timeout_ms`` plus a
  margin, where the browser itself would gather for ~40 s (checked on a bare RTCPeerConnection).
* A registrar that never answers REGISTER, a WebSocket handshake that never completes and a credentials
  endpoint that never answers each end in a typed error with 2Chat's code for that step
  (``REGISTRATION_FAILED``, ``REGISTER_ERROR``, ``CONFIG_FETCH_FAILED``; the ``TIMEOUT`` is their cause).

The only timing assertions are these bounds, with margins of several seconds (2 shared cores).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from .driver import Probe
from .scenarios import ECHO_NUMBER, SandboxRest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

GATHERING_MS = 1000
MARGIN_S = 4.0


class BlackHoles:
    """A UDP port that swallows everything, and TCP listeners that accept and never answer (or answer
    the WebSocket handshake for subprotocol ``sip`` and then stay silent)."""

    def __init__(self) -> None:
        self._handlers: dict[int, Any] = {}
        self.udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.udp.bind(("127.0.0.1", 0))
        self.tcp = self._listen(self._swallow)
        self.silent_sip = self._listen(self._sip_then_silence)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        for target in (self._drain_udp, self._accept_loop(self.tcp), self._accept_loop(self.silent_sip)):
            thread = threading.Thread(target=target, daemon=True)
            thread.start()
            self._threads.append(thread)

    def _listen(self, handler: Any) -> socket.socket:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        server.settimeout(0.2)
        self._handlers[server.fileno()] = handler
        return server

    def port(self, sock: socket.socket) -> int:
        """The port a socket is bound to."""
        return int(sock.getsockname()[1])

    def _drain_udp(self) -> None:
        self.udp.settimeout(0.2)
        while not self._stop.is_set():
            with contextlib.suppress(OSError):
                self.udp.recv(65535)

    def _accept_loop(self, server: socket.socket) -> Any:
        handler = self._handlers[server.fileno()]

        def loop() -> None:
            while not self._stop.is_set():
                try:
                    conn, _ = server.accept()
                except OSError:
                    continue
                threading.Thread(target=handler, args=(conn,), daemon=True).start()

        return loop

    def _swallow(self, conn: socket.socket) -> None:
        conn.settimeout(0.2)
        with conn:
            while not self._stop.is_set():
                try:
                    if not conn.recv(65535):
                        return
                except TimeoutError:
                    continue
                except OSError:
                    return

    def _sip_then_silence(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        with contextlib.suppress(OSError):
            request = b""
            while b"\r\n\r\n" not in request:
                chunk = conn.recv(4096)
                if not chunk:
                    return
                request += chunk
            key = next(
                line.split(b":", 1)[1].strip()
                for line in request.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            accept = base64.b64encode(
                hashlib.sha1(key + b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11").digest()
            )
            conn.sendall(
                b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: " + accept + b"\r\nSec-WebSocket-Protocol: sip\r\n\r\n"
            )
        self._swallow(conn)

    def close(self) -> None:
        """Stop the threads and close the sockets."""
        self._stop.set()
        for thread in self._threads:
            thread.join(2)
        for sock in (self.udp, self.tcp, self.silent_sip):
            sock.close()


@pytest.fixture
def holes() -> Iterator[BlackHoles]:
    """Black-hole servers on 127.0.0.1."""
    black = BlackHoles()
    yield black
    black.close()


def _dead_ice_servers(holes: BlackHoles) -> list[dict[str, str]]:
    udp, tcp = holes.port(holes.udp), holes.port(holes.tcp)
    return [
        {"urls": f"stun:127.0.0.1:{udp}"},
        {"urls": f"turn:127.0.0.1:{udp}?transport=udp", "username": "u", "credential": "p"},
        {"urls": f"turn:127.0.0.1:{tcp}?transport=tcp", "username": "u", "credential": "p"},
    ]


_BARE_GATHERING_JS = """async ([servers, waitMs]) => {
  const pc = new RTCPeerConnection({ iceServers: servers });
  pc.addTransceiver("audio");
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((resolve) => setTimeout(resolve, waitMs));
  const state = pc.iceGatheringState;
  pc.close();
  return state;
}"""


def test_dead_stun_and_turn_servers_hold_a_call_no_longer_than_the_gathering_timeout(
    probe: Probe, rel_rest: SandboxRest, holes: BlackHoles
) -> None:
    servers = _dead_ice_servers(holes)
    # Control: the browser itself is still gathering well after our timeout would have fired.
    bare = probe.page.evaluate(_BARE_GATHERING_JS, [servers, GATHERING_MS + 3000])
    assert bare == "gathering", f"the black holes do not hold gathering up (state {bare!r})"
    device = probe.new_device(
        rel_rest.mint(),
        api_base_url=rel_rest.sandbox.url,
        ice_servers=servers,
        ice_gathering_timeout_ms=GATHERING_MS,
    )
    probe.device(device, "register")
    started = time.monotonic()
    call = probe.device(device, "connect", ECHO_NUMBER)["call"]
    elapsed = time.monotonic() - started
    assert elapsed < GATHERING_MS / 1000 + MARGIN_S, f"connect() took {elapsed:.1f} s"
    probe.wait(call, "accepted")
    probe.wait_audio(call)  # host candidates are enough on loopback
    probe.call(call, "disconnect")
    # Inbound: accept() is bounded the same way.
    rel_rest.request("POST", "/sandbox/calls", {"to": "alice", "media": "tone"})
    incoming = probe.wait(device, "incoming", timeout=15)["args"][0]["call"]
    started = time.monotonic()
    probe.call(incoming, "accept")
    elapsed = time.monotonic() - started
    assert elapsed < GATHERING_MS / 1000 + MARGIN_S, f"accept() took {elapsed:.1f} s"
    probe.wait_audio(incoming)
    probe.call(incoming, "disconnect")


def test_every_signalling_wait_ends_in_a_typed_timeout(probe: Probe, holes: BlackHoles) -> None:
    silent = holes.port(holes.silent_sip)
    dead = holes.port(holes.tcp)

    def credentials(ws_url: str) -> dict[str, Any]:
        return {
            "ws_url": ws_url,
            "sip_uri": "sip:alice@sandbox.2chat.test",
            "username": "alice",
            "password": "secret",
            "ice_servers": [],
        }

    # A registrar that accepts the WebSocket and never answers REGISTER.
    quiet = probe.new_device(
        "t", credentials=credentials(f"ws://127.0.0.1:{silent}/sip"), register_timeout_ms=1500
    )
    # A server that accepts TCP and never completes the WebSocket handshake (10 s limit).
    stuck = probe.new_device("t", credentials=credentials(f"ws://127.0.0.1:{dead}/sip"))
    # A credentials endpoint that accepts TCP and never answers (10 s limit).
    mute_api = probe.new_device(rel_token(), api_base_url=f"http://127.0.0.1:{dead}")
    started = time.monotonic()
    results = probe.page.evaluate(
        """async (ids) => Promise.all(ids.map((id) =>
             window.relRun("device", {device_id: id, method: "register", args: [], kwargs: {}})))""",
        [quiet, stuck, mute_api],
    )
    elapsed = time.monotonic() - started
    import json

    codes = [json.loads(r).get("error", {}).get("code") for r in results]
    assert codes == ["REGISTRATION_FAILED", "REGISTER_ERROR", "CONFIG_FETCH_FAILED"], results
    assert elapsed < 10 + MARGIN_S + 2, f"the waits took {elapsed:.1f} s"
    for device in (quiet, stuck, mute_api):
        assert probe.device(device, "state") == "unregistered"


def rel_token() -> str:
    """A well-formed, unexpired JWT (the credentials endpoint is never reached)."""
    import jwt

    return jwt.encode({"sub": "USRx", "exp": int(time.time()) + 3600}, "k" * 32, algorithm="HS256")
