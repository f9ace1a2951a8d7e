"""Inputs that cannot hurt (issue 7): hostile SIP over the WebSocket, and API input refused before sending.

The sandbox's test hook ``POST /sandbox/inject`` writes raw frames to the browser's SIP WebSocket,
bypassing its own SIP stack: malformed, oversized, out-of-dialog and out-of-order messages. Playwright
records every frame the page sends back, so the test sees the SDK's 400/481/500/513 answers on the wire.
Throughout, a call is up: afterwards the Device is still registered, the call still has audio, and a new
call works.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

import pytest
from playwright.sync_api import Page, WebSocket

from twochat_voice_web.sip.message import Request, Response, parse_message

from .driver import Probe, ProbeError
from .scenarios import ECHO_NUMBER, SandboxRest

pytestmark = [pytest.mark.browser, pytest.mark.timeout(180)]


class Wire:
    """Every SIP frame the page sent and received on its WebSockets (after :meth:`attach`).

    Playwright delivers frame events only while it runs: wait with :meth:`settle` (``page.wait_for_timeout``),
    never ``time.sleep``, before reading the lists.
    """

    def __init__(self, page: Page) -> None:
        self.page = page
        self.sent: list[str] = []
        self.received: list[str] = []

    def settle(self, seconds: float = 0.1) -> None:
        """Let Playwright deliver the frame events of the next ``seconds``."""
        self.page.wait_for_timeout(seconds * 1000)

    def attach(self, websocket: WebSocket) -> None:
        websocket.on("framesent", lambda payload: self.sent.append(str(payload)))
        websocket.on("framereceived", lambda payload: self.received.append(str(payload)))

    def responses(self, call_id: str) -> list[int]:
        """Status codes the page sent for ``call_id``."""
        codes = []
        for frame in self.sent:
            if frame.startswith("SIP/2.0 ") and f"Call-ID: {call_id}\r\n" in frame:
                codes.append(int(frame[8:11]))
        return codes


def _request(
    method: str,
    uri: str,
    *,
    call_id: str,
    cseq: str | None = None,
    from_: str = "<sip:mallory@sandbox.2chat.test>;tag=m1",
    to: str = "<sip:alice@sandbox.2chat.test>",
    extra: str = "",
    body: str = "",
    content_length: int | None = None,
) -> str:
    length = len(body.encode()) if content_length is None else content_length
    return (
        f"{method} {uri} SIP/2.0\r\n"
        f"Via: SIP/2.0/WS mallory.invalid;branch=z9hG4bK{secrets.token_hex(8)}\r\n"
        f"Max-Forwards: 70\r\nFrom: {from_}\r\nTo: {to}\r\nCall-ID: {call_id}\r\n"
        f"CSeq: {cseq or '1 ' + method}\r\n{extra}Content-Length: {length}\r\n\r\n{body}"
    )


def _wait_codes(wire: Wire, call_id: str, timeout: float = 5.0, count: int = 1) -> list[int]:
    deadline = time.monotonic() + timeout
    wire.settle(0.05)
    while len(wire.responses(call_id)) < count and time.monotonic() < deadline:
        wire.settle(0.05)
    return wire.responses(call_id)


def _dialog_of(wire: Wire, call_id: str) -> tuple[Any, Any]:
    """(our INVITE, the sandbox's 200) of the call, parsed from the wire."""
    invite = next(
        parse_message(f.encode())
        for f in wire.sent
        if f.startswith("INVITE ") and f"Call-ID: {call_id}\r\n" in f
    )
    ok = next(
        parse_message(f.encode())
        for f in wire.received
        if f.startswith("SIP/2.0 200") and f"Call-ID: {call_id}\r\n" in f and "INVITE\r\n" in f
    )
    assert isinstance(invite, Request) and isinstance(ok, Response)
    return invite, ok


def test_hostile_frames_get_the_right_answers_and_the_device_stays_registered(
    probe: Probe, rel_rest: SandboxRest
) -> None:
    wire = Wire(probe.page)
    probe.page.on("websocket", wire.attach)
    try:
        device = probe.new_device(rel_rest.mint(), api_base_url=rel_rest.sandbox.url)
        probe.device(device, "register")
        call = probe.device(device, "connect", ECHO_NUMBER)["call"]
        probe.wait(call, "accepted")
        call_id = str(probe.call(call, "sip_call_id"))
        invite, ok = _dialog_of(wire, call_id)
        since = probe.seq()
        uri = "sip:alice@sandbox.2chat.test"

        def inject(raw: str) -> None:
            assert rel_rest.request("POST", "/sandbox/inject", {"user": "alice", "raw": raw})["sent"] == 1

        expected: dict[str, set[int]] = {}

        def expect(tag: str, raw: str, codes: set[int]) -> None:
            expected[tag] = codes
            inject(raw)

        # Not SIP at all: nothing to answer, reported as an error event.
        inject("\x00\x01 this is not SIP \xff\r\n\r\n")
        inject("SIP/2.0 200 OK\r\n\r\n")  # a response missing every header
        # Malformed requests that name their transaction: 400; a broken or doubled CSeq cannot be answered.
        inject(_request("OPTIONS", uri, call_id="h-bad-cseq", cseq="x OPTIONS"))
        inject(_request("OPTIONS", uri, call_id="h-two-cseq", extra="CSeq: 2 OPTIONS\r\n"))
        bad_mf = _request("OPTIONS", uri, call_id="h-bad-mf")
        bad_mf = bad_mf.replace("Max-Forwards: 70", "Max-Forwards: lots")
        expect("bad-mf", bad_mf, {400})
        expect(
            "short-body",
            _request("MESSAGE", uri, call_id="h-short-body", body="hi", content_length=50),
            {400},
        )
        # Oversized: a 70 kB body, then 300 header lines.
        expect("oversized", _request("INFO", uri, call_id="h-oversized", body="x" * 70_000), {513})
        many = "".join(f"X-Pad-{n}: {n}\r\n" for n in range(300))
        expect("many-headers", _request("OPTIONS", uri, call_id="h-many-headers", extra=many), {400, 513})
        # Out of dialog: 481 (and nothing else happens).
        to_tagged = "<sip:alice@sandbox.2chat.test>;tag=nosuchdialog"
        expect("ood-bye", _request("BYE", uri, call_id="h-ood-bye", to=to_tagged), {481})
        expect("ood-reinvite", _request("INVITE", uri, call_id="h-ood-reinvite", to=to_tagged), {481})
        expect("ood-cancel", _request("CANCEL", uri, call_id="h-ood-cancel"), {481})
        expect("ood-notify", _request("NOTIFY", uri, call_id="h-ood-notify"), {481})
        expect("ood-info", _request("INFO", uri, call_id="h-ood-info"), {481})
        # Methods we do not serve, loops.
        expect("register", _request("REGISTER", uri, call_id="h-register"), {405})
        expect("unknown", _request("FROBNICATE", uri, call_id="h-unknown"), {501})
        # OPTIONS with Max-Forwards 0 is answered (RFC 3261 §8.2.3 / 11), any other method gets 483.
        looping = _request("OPTIONS", uri, call_id="h-loop").replace("Max-Forwards: 70", "Max-Forwards: 0")
        expect("loop", looping, {200})
        expect(
            "loop-info",
            _request("INFO", uri, call_id="h-loop-info").replace("Max-Forwards: 70", "Max-Forwards: 0"),
            {483},
        )
        # Stray ACK and stray response: no answer allowed, nothing breaks.
        inject(_request("ACK", uri, call_id="h-stray-ack"))
        inject(
            "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKnothere\r\n"
            "From: <sip:alice@sandbox.2chat.test>;tag=a\r\nTo: <sip:b@x>;tag=b\r\nCall-ID: h-stray\r\n"
            "CSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n"
        )
        # Out of order inside the live call: CSeq 100 then 50 -> 200, then 500.
        peer_from = f"{ok.headers.get('To')}"
        peer_to = f"{invite.headers.get('From')}"
        inject(_request("INFO", uri, cseq="100 INFO", call_id=call_id, from_=peer_from, to=peer_to))
        assert _wait_codes(wire, call_id) == [200]
        inject(_request("INFO", uri, cseq="50 INFO", call_id=call_id, from_=peer_from, to=peer_to))
        assert _wait_codes(wire, call_id, count=2) == [200, 500]

        for tag, codes in expected.items():
            got = _wait_codes(wire, f"h-{tag}")
            assert got and set(got) <= codes, f"{tag}: answered {got}, expected one of {codes}"
        for quiet in ("h-stray-ack", "h-stray", "h-bad-cseq", "h-two-cseq"):
            assert wire.responses(quiet) == [], f"{quiet} must not be answered"

        # Still registered, the call still has audio, errors were reported as events.
        assert probe.device(device, "state") == "registered"
        errors = [e["args"][0] for e in probe.events(since, device) if e["name"] == "error"]
        assert errors and {e["code"] for e in errors} == {"PROTOCOL_ERROR"}, errors
        assert probe.call(call, "status") == "accepted"
        flow = probe.audio_flow(call, 1.0)
        assert flow["packets"] > 20, flow
        probe.call(call, "disconnect")
        second = probe.device(device, "connect", ECHO_NUMBER)["call"]
        probe.wait(second, "accepted")
        probe.wait_audio(second)
        probe.call(second, "disconnect")
        assert not [e for e in wire.sent if e.startswith("SIP/2.0 5") and "h-" not in e and call_id not in e]
    finally:
        probe.page.remove_listener("websocket", wire.attach)


BAD_CONNECTS: list[tuple[list[Any], dict[str, Any]]] = [
    (["15550100"], {}),
    (["+1555 0100"], {}),
    (["sip:bad uri@x"], {}),
    (["sip:alice@sandbox.2chat.test\r\nX-Injected: 1"], {}),
    (["sip:"], {}),
    (["tel:+15550100"], {}),
    (["+15550100"], {"extra_headers": ["X-A: 1\r\nX-B: 2"]}),
    (["+15550100"], {"extra_headers": ["X-A: 1\nX-B: 2"]}),
    (["+15550100"], {"extra_headers": ["Bad Name: x"]}),
    (["+15550100"], {"extra_headers": ["X-Ok: fine", "Via: SIP/2.0/WS evil"]}),
    (["+15550100"], {"extra_headers": ["X-Nul: a\x00b"]}),
    (["+15550100"], {"extra_headers": "X-Single: string"}),
    (["+15550100"], {"from_": "5550200"}),
    (["+15550100"], {"from_": "+1555\r\n0200"}),
    (["+15550100"], {"caller_id": "VCI x"}),
]


def test_bad_api_input_is_refused_before_anything_is_sent(probe: Probe, rel_rest: SandboxRest) -> None:
    wire = Wire(probe.page)
    probe.page.on("websocket", wire.attach)
    try:
        device = probe.new_device(rel_rest.mint(), api_base_url=rel_rest.sandbox.url)
        probe.device(device, "register")
        sent_before = len(wire.sent)
        for args, kwargs in BAD_CONNECTS:
            with pytest.raises(ProbeError) as info:
                probe.device(device, "connect", *args, **kwargs)
            assert info.value.code == "INVALID_ARGUMENT", (args, kwargs, info.value.error)
        bad_options: list[dict[str, Any]] = [
            {"default_extra_headers": ["X-A: 1\r\nInjected: 1"]},
            {"default_extra_headers": ["Contact: <sip:evil@x>"]},
            {"api_base_url": "http://api.example.com"},
            {"ice_servers": [{"urls": "http://not-ice"}]},
            {"token_expiry_lead_ms": -1},
        ]
        for options in bad_options:
            with pytest.raises(ProbeError) as info:
                probe.new_device(rel_rest.mint(), **{"api_base_url": rel_rest.sandbox.url, **options})
            assert info.value.code == "INVALID_ARGUMENT", (options, info.value.error)
        wire.settle(0.5)
        requests_sent = [f for f in wire.sent[sent_before:] if not f.startswith("SIP/2.0 ")]
        assert requests_sent == [], "nothing may be sent"
        call = probe.device(device, "connect", ECHO_NUMBER)["call"]
        probe.wait(call, "accepted")
        for digits in ("12X", "1\r\n2", "", "0" * 0 + "#*!"):
            with pytest.raises(ProbeError) as info:
                probe.call(call, "send_digits", digits)
            assert info.value.code == "INVALID_ARGUMENT", digits
        for status in (200, 700, "486"):
            with pytest.raises(ProbeError):
                probe.call(call, "hold", status)
        probe.call(call, "disconnect")
    finally:
        probe.page.remove_listener("websocket", wire.attach)
