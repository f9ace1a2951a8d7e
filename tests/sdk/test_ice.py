"""twochat_voice_web.ice: reading candidates from an SDP, and when a ``fast`` offer has enough of them."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from twochat_voice_web.ice import CandidateNeeds, candidates_in, candidates_ready, needs_for
from twochat_voice_web.sip.sdp import Candidate

UDP_HOST = "a=candidate:1 1 udp 2122260223 192.168.1.20 54321 typ host generation 0"
UDP_HOST_V6 = "a=candidate:2 1 UDP 2122197247 2001:db8::1 54322 typ host"
TCP_HOST = "a=candidate:3 1 tcp 1518280447 192.168.1.20 9 typ host tcptype active"
SRFLX = "a=candidate:4 1 udp 1686052607 203.0.113.7 61000 typ srflx raddr 192.168.1.20 rport 54321"
RELAY = "a=candidate:5 1 udp 41885439 198.51.100.9 3478 typ relay raddr 203.0.113.7 rport 61000"


def offer(*candidates: str) -> str:
    lines = ["v=0", "o=- 1 2 IN IP4 127.0.0.1", "s=-", "t=0 0", "m=audio 9 UDP/TLS/RTP/SAVPF 111",
             "c=IN IP4 0.0.0.0", *candidates]
    return "\r\n".join(lines) + "\r\n"


def test_candidates_are_read_in_order_with_transport_and_type() -> None:
    found = candidates_in(offer(UDP_HOST, UDP_HOST_V6, TCP_HOST, SRFLX))
    assert [(c.transport.lower(), c.type, c.address) for c in found] == [
        ("udp", "host", "192.168.1.20"),
        ("udp", "host", "2001:db8::1"),
        ("tcp", "host", "192.168.1.20"),
        ("udp", "srflx", "203.0.113.7"),
    ]
    assert candidates_in(None) == [] and candidates_in("") == []


def test_malformed_candidate_lines_are_skipped() -> None:
    broken = ["a=candidate:", "a=candidate:1 1 udp", "a=candidate:1 1 udp 1 1.2.3.4 5 kind host", "a=cand"]
    assert [(c.transport, c.type) for c in candidates_in(offer(*broken, UDP_HOST))] == [("udp", "host")]


@pytest.mark.parametrize(
    ("urls", "needs"),
    [
        ((), CandidateNeeds()),
        (("stun:stun.example.com:3478",), CandidateNeeds(srflx=True)),
        (("STUNS:stun.example.com",), CandidateNeeds(srflx=True)),
        (("turn:turn.example.com?transport=tcp",), CandidateNeeds(relay=True)),
        (("stun:a", "turns:b:5349"), CandidateNeeds(srflx=True, relay=True)),
    ],
)
def test_needs_follow_the_configured_servers(urls: tuple[str, ...], needs: CandidateNeeds) -> None:
    assert needs_for(urls) == needs


@pytest.mark.parametrize(
    ("candidates", "needs", "ready"),
    [
        ((), CandidateNeeds(), False),
        ((TCP_HOST,), CandidateNeeds(), False),  # ICE-TCP alone cannot carry audio to a SIP gateway
        ((UDP_HOST,), CandidateNeeds(), True),
        ((UDP_HOST,), CandidateNeeds(srflx=True), False),  # a STUN server is configured: wait for it
        ((UDP_HOST, SRFLX), CandidateNeeds(srflx=True), True),
        ((UDP_HOST, SRFLX), CandidateNeeds(srflx=True, relay=True), False),
        ((UDP_HOST, SRFLX, RELAY), CandidateNeeds(srflx=True, relay=True), True),
        ((SRFLX, RELAY), CandidateNeeds(srflx=True, relay=True), False),  # no host candidate yet
    ],
)
def test_ready_when_what_carries_audio_is_in(
    candidates: tuple[str, ...], needs: CandidateNeeds, ready: bool
) -> None:
    assert candidates_ready(offer(*candidates), needs) is ready


@given(st.text())
def test_any_text_is_read_without_error(text: str) -> None:
    found = candidates_in(text)
    assert all(isinstance(candidate, Candidate) for candidate in found)
    candidates_ready(text, CandidateNeeds(srflx=True, relay=True))
