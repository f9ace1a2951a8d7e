"""A plain-RTP "desk phone" for the interop tests: a UDP contact with digest that rings and records.

It registers a user that a browser may also be registered as, so Kamailio forks an INVITE to both: the
phone answers ``180 Ringing`` (no retransmissions), records the INVITE it got, answers a CANCEL with
``200`` and the INVITE with ``487``, and on close removes its binding (``Expires: 0``). Everything on
127.0.0.1.
"""

from __future__ import annotations

import hashlib
import re
import socket
import threading
import time
import uuid
from types import TracebackType

from .stack import LOOPBACK, Kamailio

__all__ = ["UdpPhone", "digest_register"]


def digest_register(
    kamailio: Kamailio, user: str, password: str, *, sock: socket.socket | None = None, expires: int = 60
) -> tuple[dict[str, str], str]:
    """REGISTER over UDP from ``sock`` (a fresh socket when None), answer the digest challenge.

    Returns (the challenge's params, the final status line).
    """
    own = sock is None
    sock = sock or socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        if own:
            sock.bind((LOOPBACK, 0))
        sock.settimeout(3)
        port = sock.getsockname()[1]
        call_id = uuid.uuid4().hex

        def send(cseq: int, authorization: str = "") -> str:
            message = (
                f"REGISTER sip:{kamailio.domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {LOOPBACK}:{port};rport;branch=z9hG4bK{uuid.uuid4().hex}\r\n"
                f"From: <sip:{user}@{kamailio.domain}>;tag=smoke\r\nTo: <sip:{user}@{kamailio.domain}>\r\n"
                f"Call-ID: {call_id}\r\nCSeq: {cseq} REGISTER\r\nContact: <sip:{user}@{LOOPBACK}:{port}>\r\n"
                f"Max-Forwards: 70\r\nExpires: {expires}\r\n{authorization}Content-Length: 0\r\n\r\n"
            )
            sock.sendto(message.encode(), (LOOPBACK, kamailio.udp_port))
            while True:  # skip what else reaches the contact (an ACK, a retransmission...)
                answer = sock.recv(65535).decode(errors="replace")
                if answer.startswith("SIP/2.0 ") and call_id in answer and f"{cseq} REGISTER" in answer:
                    return answer

        first = send(1)
        match = re.search(r"^WWW-Authenticate: Digest (.*?)\r$", first, re.MULTILINE)
        assert match, first
        params = dict(re.findall(r'(\w+)="?([^",]*)"?', match.group(1)))
        algorithm = params.get("algorithm", "MD5")
        digest = hashlib.sha256 if algorithm == "SHA-256" else hashlib.md5

        def h(text: str) -> str:
            return digest(text.encode()).hexdigest()

        uri, cnonce, nc = f"sip:{kamailio.domain}", uuid.uuid4().hex[:16], "00000001"
        ha1 = h(f"{user}:{params['realm']}:{password}")
        response = h(f"{ha1}:{params['nonce']}:{nc}:{cnonce}:auth:{h(f'REGISTER:{uri}')}")
        authorization = (
            f'Authorization: Digest username="{user}", realm="{params["realm"]}", nonce="{params["nonce"]}", '
            f'uri="{uri}", response="{response}", algorithm={algorithm}, cnonce="{cnonce}", '
            f"qop=auth, nc={nc}\r\n"
        )
        return params, send(2, authorization).split("\r\n", 1)[0]
    finally:
        if own:
            sock.close()


def _response(request: str, status: str, to_tag: str) -> bytes:
    """A response to ``request`` echoing Via/From/To/Call-ID/CSeq (RFC 3261 §8.2.6.2), To tagged."""
    lines = request.split("\r\n")
    keep = [line for line in lines if re.match(r"(?i)(via|from|call-id|cseq|v|f|i):", line)]
    to = next(line for line in lines if re.match(r"(?i)(to|t):", line))
    if ";tag=" not in to:
        to += f";tag={to_tag}"
    return ("\r\n".join([f"SIP/2.0 {status}", *keep, to, "Content-Length: 0", "", ""])).encode()


class UdpPhone:
    """A registered UDP contact of ``user`` that rings and never answers (see the module docstring)."""

    def __init__(self, kamailio: Kamailio, user: str, password: str) -> None:
        self.kamailio, self.user, self.password = kamailio, user, password
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((LOOPBACK, 0))
        self.invites: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> UdpPhone:
        _, status = digest_register(self.kamailio, self.user, self.password, sock=self.sock, expires=120)
        assert status == "SIP/2.0 200 OK", status
        self.sock.settimeout(0.2)
        self._thread = threading.Thread(target=self._serve, name=f"udp phone {self.user}", daemon=True)
        self._thread.start()
        return self

    def _serve(self) -> None:
        tag = uuid.uuid4().hex[:8]
        while not self._stop.is_set():
            try:
                data, address = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            message = data.decode(errors="replace")
            if message.startswith("INVITE "):
                with self._lock:
                    self.invites.append(message)
                self.sock.sendto(_response(message, "180 Ringing", tag), address)
            elif message.startswith("CANCEL "):
                self.sock.sendto(_response(message, "200 OK", tag), address)
                with self._lock:
                    invite = self.invites[-1] if self.invites else None
                if invite is not None:
                    self.sock.sendto(_response(invite, "487 Request Terminated", tag), address)
            elif message.startswith(("OPTIONS ", "NOTIFY ")):
                self.sock.sendto(_response(message, "200 OK", tag), address)

    def wait_invite(self, timeout: float = 10.0) -> str:
        """The first INVITE the phone got (AssertionError after ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if self.invites:
                    return self.invites[0]
            time.sleep(0.05)
        raise AssertionError(f"the UDP phone of {self.user} got no INVITE in {timeout} s")

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        try:
            self.sock.settimeout(3)
            digest_register(self.kamailio, self.user, self.password, sock=self.sock, expires=0)
        finally:
            self.sock.close()
