"""The user agent fuzzed (issue 7, hostile input): mutated in-dialog requests, responses and garbage fed to a
registered client UA with a call up.

The parser alone is fuzzed in tests/unit/test_parser_properties.py; here the whole receive path is: matching,
dialogs, offer/answer, the answers we send. Contract for every input: ``receive_data`` never raises,
everything we send parses, we never answer an ACK or a response, and the user agent keeps working (still
registered, answers OPTIONS, and a surviving call can still be hung up with a BYE). Time-bounded in CI
(hypothesis, a few hundred examples); ``FUZZ_SECONDS`` runs the slow variant longer.
"""

from __future__ import annotations

import os
import random
import time
from dataclasses import dataclass, field

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.message import Request, Response, parse_message
from twochat_voice_web.sip.uri import SipUri
from twochat_voice_web.sip.useragent import UserAgent, UserAgentConfig

DOMAIN = "sandbox.test"
OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"
    "c=IN IP4 127.0.0.1\r\na=rtpmap:111 opus/48000/2\r\na=ice-ufrag:aaaa\r\n"
    "a=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\na=sendrecv\r\n"
)
ANSWER = OFFER.replace("o=- 1 1", "o=- 2 1").replace("ice-ufrag:aaaa", "ice-ufrag:bbbb")


@dataclass
class Pair:
    """A client UA (the SDK's role) registered at, and in a call with, a server UA; a fake clock."""

    client: UserAgent
    server: UserAgent
    now: float = 1000.0
    call: str = ""
    server_call: str = ""
    client_events: list[ev.Event] = field(default_factory=list)

    def pump(self) -> None:
        for _ in range(50):
            moved = False
            for data in self.client.data_to_send():
                moved = True
                self.server.receive_data(data, self.now)
            for data in self.server.data_to_send():
                moved = True
                self.client.receive_data(data, self.now)
            self.client_events.extend(self.client.events())
            for event in self.server.events():
                moved = True
                if isinstance(event, ev.RequestReceived):
                    contact = event.request.headers.get("Contact") or ""
                    self.server.respond(event.handle, 200, self.now, headers=[("Contact", contact)])
                elif isinstance(event, ev.IncomingCall):
                    self.server_call = event.call
                    self.server.answer(event.call, ANSWER, self.now)
            if not moved:
                return


def make_pair() -> Pair:
    client = UserAgent(
        UserAgentConfig(aor=SipUri("sip", "alice", host=DOMAIN), transport="WS"), rng=random.Random(1)
    )
    server = UserAgent(
        UserAgentConfig(
            aor=SipUri("sip", "server", host=DOMAIN),
            transport="WS",
            via_host="127.0.0.1:9999",
            passthrough_methods=frozenset({"REGISTER"}),
        ),
        rng=random.Random(2),
    )
    pair = Pair(client, server)
    client.register(pair.now)
    pair.pump()
    pair.call = client.invite(f"sip:+15550100@{DOMAIN}", pair.now, sdp=OFFER)
    pair.pump()
    assert client.registration_state is ev.RegistrationState.REGISTERED
    assert any(isinstance(e, ev.CallAnswered) for e in pair.client_events)
    return pair


def seeds(pair: Pair) -> list[bytes]:
    """Well-formed messages the client could receive: in-dialog requests of the live call (captured from
    the server, not delivered), a stray response and an OPTIONS. ``make_pair`` is deterministic (seeded
    random tokens), so the in-dialog seeds belong to the call of every fresh pair too."""
    server = pair.server
    captured: list[bytes] = []
    server.send_info(pair.server_call, "application/dtmf-relay", b"Signal=5\r\nDuration=160\r\n", pair.now)
    captured.extend(server.data_to_send())
    server.reinvite(pair.server_call, OFFER.replace("o=- 1 1", "o=- 1 2"), pair.now)
    captured.extend(server.data_to_send())
    server.hangup(pair.server_call, pair.now)
    captured.extend(server.data_to_send())
    captured.append(
        b"SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKabc\r\n"
        b"From: <sip:alice@sandbox.test>;tag=1\r\nTo: <sip:b@sandbox.test>;tag=2\r\nCall-ID: c\r\n"
        b"CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    captured.append(
        b"OPTIONS sip:alice@sandbox.test SIP/2.0\r\nVia: SIP/2.0/WS y.invalid;branch=z9hG4bKopt\r\n"
        b"Max-Forwards: 70\r\nFrom: <sip:x@sandbox.test>;tag=9\r\nTo: <sip:alice@sandbox.test>\r\n"
        b"Call-ID: opt\r\nCSeq: 7 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    return captured


INTERESTING = [b"\r\n", b" ", b";", b":", b",", b"<", b">", b"\x00", b"\xff", b"0", b"99999999999", b"-1",
               b"tag=", b"z9hG4bK", b"SIP/2.0", b"INVITE", b"BYE", b"ACK", b"\r\n\r\n",
               b"Content-Length: 999\r\n", b"Require: 100rel\r\n", b"Max-Forwards: 0\r\n"]  # fmt: skip


def mutate(data: bytes, rng: random.Random, steps: int) -> bytes:
    """Random edits: flips, insertions of interesting tokens, deletions, duplications, truncation."""
    buf = bytearray(data)
    for _ in range(steps):
        if not buf:
            break
        pos = rng.randrange(len(buf) + 1)
        kind = rng.choice(("flip", "insert", "insert", "delete", "duplicate", "truncate"))
        if kind == "flip" and pos < len(buf):
            buf[pos] = rng.randrange(256) if rng.random() < 0.3 else rng.randrange(32, 127)
        elif kind == "insert":
            buf[pos:pos] = rng.choice(INTERESTING)
        elif kind == "delete":
            del buf[pos : pos + rng.randrange(1, 12)]
        elif kind == "duplicate":
            buf[pos:pos] = buf[pos : pos + rng.randrange(1, 30)]
        elif rng.random() < 0.2:
            del buf[pos:]
    return bytes(buf)


def check_contract(pair: Pair, data: bytes) -> None:
    """Feed ``data``; every reply parses, nothing answers an ACK/response, and the UA still works."""
    try:
        incoming: Request | Response | None = parse_message(data)
    except ParseError:
        incoming = None
    pair.client.receive_data(data, pair.now)  # must never raise
    replies = pair.client.data_to_send()
    for reply in replies:
        parsed = parse_message(reply)  # whatever we send is valid SIP
        if isinstance(incoming, Response) or (isinstance(incoming, Request) and incoming.method == "ACK"):
            assert not isinstance(parsed, Response), f"answered {data!r} with {reply!r}"
    pair.client_events.extend(pair.client.events())
    # Still working: answers a fresh OPTIONS, still registered, and the call can still be hung up.
    for reply in replies:
        pair.server.receive_data(reply, pair.now)
    pair.server.events()
    pair.server.data_to_send()
    probe = (
        b"OPTIONS sip:alice@sandbox.test SIP/2.0\r\nVia: SIP/2.0/WS z.invalid;branch=z9hG4bKprobe"
        + str(time.monotonic_ns()).encode()
        + b"\r\nMax-Forwards: 70\r\nFrom: <sip:p@sandbox.test>;tag=p\r\nTo: <sip:alice@sandbox.test>\r\n"
        b"Call-ID: probe\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
    )
    pair.client.receive_data(probe, pair.now)
    answers = [parse_message(r) for r in pair.client.data_to_send()]
    assert any(isinstance(a, Response) and a.status_code == 200 for a in answers), answers
    assert pair.client.registration_state is ev.RegistrationState.REGISTERED
    if pair.call in pair.client.calls:
        pair.client.hangup(pair.call, pair.now)
        sent = [parse_message(r) for r in pair.client.data_to_send()]
        assert any(isinstance(m, Request) and m.method == "BYE" for m in sent), sent


SEEDS = seeds(make_pair())


def test_the_unmutated_seeds_do_what_they_say() -> None:
    info, reinvite, bye = SEEDS[:3]
    assert info.startswith(b"INFO ") and reinvite.startswith(b"INVITE ") and bye.startswith(b"BYE ")
    pair = make_pair()
    pair.client.receive_data(bye, pair.now)
    assert [e for e in pair.client.events() if isinstance(e, ev.CallEnded)], "the seeds must hit the call"


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SEEDS) - 1), st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_mutated_messages_never_break_a_registered_user_agent_in_a_call(
    index: int, rng_seed: int, steps: int
) -> None:
    pair = make_pair()
    check_contract(pair, mutate(SEEDS[index], random.Random(rng_seed), steps))


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_random_bytes_never_break_it_either(data: bytes) -> None:
    check_contract(make_pair(), data)


@pytest.mark.slow
def test_fuzz_the_user_agent_for_a_while() -> None:
    """Mutations for FUZZ_SECONDS (default 15) seconds, several inputs per call."""
    seconds = float(os.environ.get("FUZZ_SECONDS", "15"))
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "7")))
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        pair = make_pair()
        for _ in range(5):
            data = mutate(rng.choice(SEEDS), rng, rng.choice((1, 2, 3, 5, 8)))
            try:
                check_contract(pair, data)
            except AssertionError as exc:
                raise AssertionError(f"contract broken for input {data!r}: {exc}") from None
            count += 1
            pair = make_pair() if pair.call not in pair.client.calls else pair
    assert count > 0
