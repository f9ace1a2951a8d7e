"""Tests for twochat_voice_web.sip.sdp: SDP parse/serialise (RFC 8866) and RFC 3264 offer/answer helpers.

The Chromium and aiortc SDPs below were captured on this machine (Chromium 156.0.8078.79 headless with a
fake microphone; aiortc 1.16.0 answering that offer). The rtpengine, sipp and FreeSWITCH bodies are
written in the shape those peers produce (sipp's from the scenarios in shared/recipes/sip-stack).
"""

# ruff: noqa: E501 -- captured SDP lines (candidates, fingerprints) are longer than the 110-column limit

from __future__ import annotations

import copy
import dataclasses
import itertools
import pickle
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError
from twochat_voice_web.sip.sdp import (
    STATIC_PAYLOAD_TYPES,
    Attribute,
    Bandwidth,
    Candidate,
    Codec,
    ConnectionData,
    Direction,
    MediaDescription,
    MediaList,
    Origin,
    SdpError,
    SessionDescription,
    Timing,
    UnknownLine,
    active_media,
    answer_direction,
    audio_codecs,
    has_telephone_event,
    ice_credentials,
    is_ice_restart,
    is_on_hold,
    parse_candidate,
    parse_sdp,
    telephone_event,
    telephone_events,
)


def crlf(text: str) -> str:
    """A body written with ``\\n`` line ends, as it goes on the wire (CRLF)."""
    return text.replace("\n", "\r\n")


# --- sample bodies --------------------------------------------------------------------------------------
# Chromium 156: getUserMedia (fake device) + addTrack, createOffer, ICE gathering complete.
CHROME_OFFER = crlf("""\
v=0
o=- 8460555577188032852 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS 22539bb3-9eab-4416-873f-323b14f1a455
m=audio 59250 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 127.0.0.1
a=rtcp:9 IN IP4 0.0.0.0
a=candidate:304264740 1 udp 2122194687 127.0.0.1 59250 typ host generation 0 network-id 3 network-cost 50
a=candidate:3156158888 1 udp 2122063615 192.0.2.2 32906 typ host generation 0 network-id 1
a=candidate:1060856575 1 udp 2122267903 ::1 59404 typ host generation 0 network-id 4 network-cost 50
a=candidate:3144500504 1 udp 2122134271 fd00::2 57568 typ host generation 0 network-id 2
a=candidate:1827493052 1 tcp 1518214911 127.0.0.1 9 typ host tcptype active generation 0 network-id 3 network-cost 50
a=candidate:3268463408 1 tcp 1518083839 192.0.2.2 9 typ host tcptype active generation 0 network-id 1
a=candidate:1106542695 1 tcp 1518288127 ::1 9 typ host tcptype active generation 0 network-id 4 network-cost 50
a=candidate:3315771264 1 tcp 1518154495 fd00::2 9 typ host tcptype active generation 0 network-id 2
a=ice-ufrag:/G5z
a=ice-pwd:ICy60FB7zx8q7jji2rK1MmuM
a=ice-options:trickle
a=fingerprint:sha-256 9B:D9:6D:F4:FB:92:FA:73:AC:73:C5:77:B4:AB:94:71:74:12:59:47:A5:13:C0:7E:9A:87:C5:03:29:4F:E6:CA
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:22539bb3-9eab-4416-873f-323b14f1a455 6539e224-6e2f-4281-9f60-96f466399b4b
a=rtcp-mux
a=rtcp-rsize
a=rtcp-xr:rcvr-rtt=all
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:168142902 cname:4+kMbBp+hRE6161Z
a=ssrc:168142902 msid:22539bb3-9eab-4416-873f-323b14f1a455 6539e224-6e2f-4281-9f60-96f466399b4b
""")

# The same peer connection after transceiver.direction = "sendonly" and a new createOffer. Captured; it
# differs from CHROME_OFFER in exactly two lines (checked at capture time).
CHROME_HOLD_OFFER = CHROME_OFFER.replace(
    "o=- 8460555577188032852 2 IN", "o=- 8460555577188032852 3 IN").replace("a=sendrecv", "a=sendonly")

# Chromium 156 createOffer() before any candidate: RFC 8840 placeholder c=IN IP4 0.0.0.0 and port 9.
CHROME_TRICKLE_OFFER = crlf("""\
v=0
o=- 2091690236859376339 2 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
a=extmap-allow-mixed
a=msid-semantic: WMS
m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126
c=IN IP4 0.0.0.0
a=rtcp:9 IN IP4 0.0.0.0
a=ice-ufrag:LEOx
a=ice-pwd:l5pM4UYXGetXZW9nDXO5enBG
a=ice-options:trickle
a=fingerprint:sha-256 F6:26:6C:5A:75:1B:8B:37:90:C4:70:1E:D3:4D:63:93:C1:04:9E:BD:2D:6B:15:76:0B:D2:D8:FE:A7:11:B6:53
a=setup:actpass
a=mid:0
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time
a=extmap:3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=sendrecv
a=msid:- 8867ec77-56ed-4176-ae25-5fd230771069
a=rtcp-mux
a=rtcp-rsize
a=rtcp-xr:rcvr-rtt=all
a=rtpmap:111 opus/48000/2
a=rtcp-fb:111 transport-cc
a=fmtp:111 minptime=10;useinbandfec=1
a=rtpmap:63 red/48000/2
a=fmtp:63 111/111
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:13 CN/8000
a=rtpmap:110 telephone-event/48000
a=rtpmap:126 telephone-event/8000
a=ssrc:2107900603 cname:++MMnzSqD59vPLqO
a=ssrc:2107900603 msid:- 8867ec77-56ed-4176-ae25-5fd230771069
""")

# aiortc 1.16.0 answering CHROME_OFFER without a local track (so recvonly). Note o= has 0.0.0.0.
AIORTC_ANSWER = crlf("""\
v=0
o=- 4004474149 4004474149 IN IP4 0.0.0.0
s=-
t=0 0
a=group:BUNDLE 0
a=msid-semantic:WMS *
m=audio 44591 UDP/TLS/RTP/SAVPF 111 9 0 8
c=IN IP4 192.0.2.2
a=recvonly
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:4 urn:ietf:params:rtp-hdrext:sdes:mid
a=mid:0
a=msid:523b5907-97e4-494b-9fcd-bc69acf51571 7bbf505b-0072-444c-a4d5-bbbae2a024ff
a=rtcp:9 IN IP4 0.0.0.0
a=rtcp-mux
a=ssrc:1852360172 cname:aa94e15f-ed11-431f-be4b-a1711ea475f5
a=rtpmap:111 opus/48000/2
a=rtpmap:9 G722/8000
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=candidate:f957a2332b1715da3b0ef8ba684454eb 1 udp 2130706431 192.0.2.2 44591 typ host
a=candidate:d0bcf3d9c29a2bc887618212a1623bfa 1 udp 2130706431 fd00::2 53865 typ host
a=end-of-candidates
a=ice-ufrag:BXI0
a=ice-pwd:FLo4lDuPpNTGr0uJkBOKyo
a=fingerprint:sha-256 C2:49:1D:48:03:40:47:AE:83:3C:9D:89:39:7D:7C:FC:F6:BC:6B:55:08:E3:FA:2F:F3:37:14:7A:D3:B8:3D:8B
a=fingerprint:sha-384 26:13:1D:0B:7B:15:AD:C7:BD:3D:3A:2A:85:5A:EA:0D:FD:39:44:8B:E8:9A:B8:05:0A:11:DB:DA:93:90:F0:18:E4:33:28:2D:52:46:D3:25:36:51:93:B1:7C:D8:BF:FB
a=setup:active
""")

# Firefox-style offer before candidates: session-level a=sendrecv and fingerprint, fmtp before rtpmap,
# G722/8000/1, trickle placeholder c=0.0.0.0 with port 9.
FIREFOX_OFFER = crlf("""\
v=0
o=mozilla...THIS_IS_SDPARTA-99.0 5289939066473735236 0 IN IP4 0.0.0.0
s=-
t=0 0
a=sendrecv
a=fingerprint:sha-256 5A:1F:93:2C:0D:4E:77:9B:A1:38:C2:6E:0F:55:D4:83:B9:21:7C:AE:60:18:F3:4B:9D:02:E7:6C:35:A8:1B:F0
a=group:BUNDLE 0
a=ice-options:trickle
a=msid-semantic:WMS *
m=audio 9 UDP/TLS/RTP/SAVPF 109 9 0 8 101
c=IN IP4 0.0.0.0
a=sendrecv
a=extmap:1 urn:ietf:params:rtp-hdrext:ssrc-audio-level
a=extmap:2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level
a=extmap:3 urn:ietf:params:rtp-hdrext:sdes:mid
a=fmtp:109 maxplaybackrate=48000;stereo=1;useinbandfec=1
a=fmtp:101 0-15
a=ice-pwd:b3c5d4f87e0a2c91d7e4b6a8f0c2e4d6
a=ice-ufrag:3f9c2a1b
a=mid:0
a=msid:{0c0e2f7a-5d3b-4c1e-9a8f-2b6d4e7f1a3c} {8e1d3b5f-7a9c-4e2b-8d6f-1c3e5a7b9d0f}
a=rtcp-mux
a=rtpmap:109 opus/48000/2
a=rtpmap:9 G722/8000/1
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=setup:actpass
a=ssrc:2655508255 cname:{a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d}
""")

# An SDES softphone offer and rtpengine's answer to it (RTP/SAVPF, ICE, separate RTCP port).
SDES_OFFER = crlf("""\
v=0
o=- 3912345678 1 IN IP4 198.51.100.7
s=-
t=0 0
m=audio 40000 RTP/SAVPF 0 8 101
c=IN IP4 198.51.100.7
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR
a=ice-ufrag:c7Hd
a=ice-pwd:A0a1b2c3d4e5f6g7h8i9j0kl
a=candidate:1 1 UDP 2130706431 198.51.100.7 40000 typ host
a=candidate:1 2 UDP 2130706430 198.51.100.7 40001 typ host
a=sendrecv
""")

RTPENGINE_ANSWER = crlf("""\
v=0
o=- 1684416153 1684416154 IN IP4 203.0.113.20
s=rtpengine
t=0 0
m=audio 30000 RTP/SAVPF 0 101
c=IN IP4 203.0.113.20
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
a=rtcp:30001
a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:Zw8Ev4FJ8H4mSb4CN0dMfvQgjPP4nAeUqbGkaV9V
a=ptime:20
a=ice-ufrag:n3Tq6zTn
a=ice-pwd:QnXmAfLtoRbQGr6Q0lZzHJJa3r
a=candidate:YdBtNsa8kJQlLZ2a 1 UDP 2130706431 203.0.113.20 30000 typ host
a=candidate:YdBtNsa8kJQlLZ2a 2 UDP 2130706430 203.0.113.20 30001 typ host
a=candidate:Kv7JmbBL3NXzR0mc 1 UDP 1694498815 198.51.100.200 40100 typ srflx raddr 203.0.113.20 rport 30000
""")

# sipp: the uac_to_browser.xml offer and the uas_echo.xml answer, as sipp writes them (LF only).
SIPP_OFFER = """\
v=0
o=sipp 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6000 RTP/AVP 0 8 101
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""
SIPP_ANSWER = """\
v=0
o=sipp 53655765 2353687637 IN IP4 127.0.0.1
s=-
c=IN IP4 127.0.0.1
t=0 0
m=audio 6002 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=sendrecv
"""

# FreeSWITCH (mod_sofia, WebRTC profile) answering CHROME_OFFER: session-level c=, opus + TE/48000.
FREESWITCH_ANSWER = crlf("""\
v=0
o=FreeSWITCH 1719830000 1719830001 IN IP4 192.0.2.10
s=FreeSWITCH
c=IN IP4 192.0.2.10
t=0 0
a=msid-semantic: WMS 5BZ1u0yGTlVnkQUZ2lWpY9b9h3mUmTnP
a=group:BUNDLE 0
m=audio 24602 UDP/TLS/RTP/SAVPF 111 110
a=rtpmap:111 opus/48000/2
a=fmtp:111 useinbandfec=1; minptime=10
a=rtpmap:110 telephone-event/48000
a=silenceSupp:off - - - -
a=ptime:20
a=sendrecv
a=mid:0
a=fingerprint:sha-256 3F:21:8A:0C:55:9E:A7:6B:2B:71:D3:BE:39:AC:1E:40:5C:CB:62:F8:0A:19:8D:22:7E:96:55:11:C0:F1:3D:8A
a=setup:active
a=rtcp-mux
a=rtcp:24602 IN IP4 192.0.2.10
a=ice-ufrag:k6D7fFIbGKQ4dXPm
a=ice-pwd:OPIl1BvzD5I9Z6JPzFYBGTm0
a=candidate:2739135232 1 udp 659136 192.0.2.10 24602 typ host generation 0
a=end-of-candidates
a=ssrc:1830934476 cname:ZcFq5Tpd9GZ9WMUq
a=ssrc:1830934476 msid:5BZ1u0yGTlVnkQUZ2lWpY9b9h3mUmTnP a0
a=ssrc:1830934476 mslabel:5BZ1u0yGTlVnkQUZ2lWpY9b9h3mUmTnP
a=ssrc:1830934476 label:5BZ1u0yGTlVnkQUZ2lWpY9b9h3mUmTnPa0
""")

# RFC 2543-style hold re-INVITE from an old gateway: c=0.0.0.0, no direction attribute, no ICE.
LEGACY_HOLD_OFFER = crlf("""\
v=0
o=gw 1000 1001 IN IP4 192.0.2.33
s=SIP Call
c=IN IP4 0.0.0.0
t=0 0
m=audio 18000 RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
""")

# Every optional session field of RFC 8866 §5, r=/z=/k=, multicast c=, three m= lines (IPv6 at media).
RFC_FULL = crlf("""\
v=0
o=jdoe 3724394400 3724394405 IN IP4 198.51.100.1
s=Call to John Smith
i=SDP Offer #1
u=http://www.jdoe.example.com/home.html
e=Jane Doe <jane@jdoe.example.com>
p=+1 617 555-6011
c=IN IP4 233.252.0.1/127
b=CT:1024
t=3724394400 3724398000
r=7d 1h 0 25h
r=604800 3600 0 90000
t=0 0
z=3730928400 -1h 3749680800 0
k=prompt
a=recvonly
a=tool:sdptest
m=audio 49170 RTP/AVP 0
m=audio 49180/2 RTP/AVP 0 8
i=second audio
b=AS:64
m=video 51372 RTP/AVP 99
c=IN IP6 2001:db8::2
c=IN IP6 2001:db8::3
b=TIAS:128000
k=clear:secret
a=rtpmap:99 h263-1998/90000
a=sendrecv
""")

# Audio + rejected video + a bundle-only data channel (RFC 8843 answerer side), BUNDLE and IPv6.
MULTI_STREAM = crlf("""\
v=0
o=- 20518 0 IN IP6 2001:db8::10
s=-
t=0 0
a=group:BUNDLE a1 d1
a=ice-ufrag:8hhY
a=ice-pwd:asd88fgpdd777uzjYhagZg
a=fingerprint:sha-256 19:E2:1C:3B:4B:9F:81:E6:B8:5C:F4:A5:A8:D8:73:04:BB:05:2F:70:9F:04:A9:0E:05:E9:26:33:E8:70:88:A2
m=audio 10000 UDP/TLS/RTP/SAVPF 96 0 97
c=IN IP6 2001:db8::10
b=AS:64
a=mid:a1
a=rtpmap:96 opus/48000/2
a=rtpmap:97 telephone-event/48000
a=fmtp:97 0-15
a=rtcp-mux
a=setup:actpass
a=candidate:1 1 udp 2113937151 2001:db8::10 10000 typ host
m=video 0 UDP/TLS/RTP/SAVPF 98
a=mid:v1
a=rtpmap:98 VP8/90000
m=application 0 UDP/DTLS/SCTP webrtc-datachannel
a=bundle-only
a=mid:d1
a=sctp-port:5000
""")

ALL_SAMPLES = {
    "chrome_offer": CHROME_OFFER,
    "chrome_hold_offer": CHROME_HOLD_OFFER,
    "chrome_trickle_offer": CHROME_TRICKLE_OFFER,
    "firefox_offer": FIREFOX_OFFER,
    "aiortc_answer": AIORTC_ANSWER,
    "sdes_offer": SDES_OFFER,
    "rtpengine_answer": RTPENGINE_ANSWER,
    "sipp_offer": SIPP_OFFER,
    "sipp_answer": SIPP_ANSWER,
    "freeswitch_answer": FREESWITCH_ANSWER,
    "legacy_hold_offer": LEGACY_HOLD_OFFER,
    "rfc_full": RFC_FULL,
    "multi_stream": MULTI_STREAM,
}


# --- parsing the real bodies ----------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(ALL_SAMPLES))
def test_samples_round_trip_byte_exact(name: str) -> None:
    text = ALL_SAMPLES[name]
    sdp = parse_sdp(text)
    assert str(sdp) == crlf(text.replace("\r\n", "\n"))
    assert sdp.to_bytes() == str(sdp).encode()
    assert bytes(sdp) == sdp.to_bytes()
    assert parse_sdp(str(sdp)) == sdp
    assert parse_sdp(sdp.to_bytes()) == sdp


def test_chrome_offer_session_level() -> None:
    sdp = parse_sdp(CHROME_OFFER)
    assert sdp.origin == Origin("-", "8460555577188032852", 2, "IN", "IP4", "127.0.0.1")
    assert sdp.session_name == "-"
    assert sdp.timings == [Timing(0, 0)]
    assert sdp.connection is None
    assert sdp.bundle_groups() == [["0"]]
    assert sdp.attribute_value("msid-semantic") == " WMS 22539bb3-9eab-4416-873f-323b14f1a455"
    assert sdp.get_attribute("extmap-allow-mixed") == Attribute("extmap-allow-mixed", None)
    assert sdp.session_direction is None
    assert len(sdp.media) == 1
    assert sdp.media_by_mid("0") is sdp.media[0]
    assert sdp.media_by_mid("1") is None


def test_chrome_offer_media_section() -> None:
    media = parse_sdp(CHROME_OFFER).media[0]
    assert (media.media, media.port, media.protocol) == ("audio", 59250, "UDP/TLS/RTP/SAVPF")
    assert media.formats == ["111", "63", "9", "0", "8", "13", "110", "126"]
    assert media.connections == [ConnectionData("IN", "IP4", "127.0.0.1")]
    assert media.mid == "0"
    assert media.is_rtp
    assert media.rtcp_mux
    assert not media.rejected
    assert media.direction is Direction.SENDRECV
    assert media.media_direction is Direction.SENDRECV
    assert media.inherited_attribute("setup") == "actpass"
    assert media.attribute_values("extmap") == [
        "1 urn:ietf:params:rtp-hdrext:ssrc-audio-level",
        "2 http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time",
        "3 http://www.ietf.org/id/draft-holmer-rmcat-transport-wide-cc-extensions-01",
        "4 urn:ietf:params:rtp-hdrext:sdes:mid",
    ]
    assert len(media.attribute_values("ssrc")) == 2
    assert media.attribute_value("fingerprint") == (
        "sha-256 9B:D9:6D:F4:FB:92:FA:73:AC:73:C5:77:B4:AB:94:71:74:12:59:47:A5:13:C0:7E:9A:87:C5:03:29:4F:E6:CA"
    )


def test_chrome_offer_codecs_and_telephone_events() -> None:
    sdp = parse_sdp(CHROME_OFFER)
    media = sdp.media[0]
    names = [(c.payload_type, c.name, c.clock_rate, c.channels) for c in media.codecs]
    assert names == [
        ("111", "opus", 48000, 2), ("63", "red", 48000, 2), ("9", "G722", 8000, None),
        ("0", "PCMU", 8000, None), ("8", "PCMA", 8000, None), ("13", "CN", 8000, None),
        ("110", "telephone-event", 48000, None), ("126", "telephone-event", 8000, None),
    ]
    opus = media.codec("111")
    assert opus is not None
    assert opus.fmtp == "minptime=10;useinbandfec=1"
    assert opus.parameters() == {"minptime": "10", "useinbandfec": "1"}
    assert opus.rtpmap == "opus/48000/2"
    assert media.codec("63") == Codec("63", "red", 48000, 2, "111/111")
    assert media.codec("96") is None
    assert audio_codecs(sdp) == media.codecs
    assert has_telephone_event(sdp)
    assert [c.payload_type for c in telephone_events(media)] == ["110", "126"]
    assert telephone_event(media) == Codec("110", "telephone-event", 48000)
    assert telephone_event(media, 8000) == Codec("126", "telephone-event", 8000)
    assert telephone_event(media, 16000) is None
    # Chromium sends no fmtp for telephone-event: RFC 4733 says 0-15 then.
    assert telephone_event(media, 8000).event_codes() == frozenset(range(16))  # type: ignore[union-attr]


def test_chrome_offer_ice() -> None:
    media = parse_sdp(CHROME_OFFER).media[0]
    assert ice_credentials(media) == ("/G5z", "ICy60FB7zx8q7jji2rK1MmuM")
    assert media.uses_ice
    candidates = media.candidates
    assert len(candidates) == 8
    first = candidates[0]
    assert first == Candidate("304264740", 1, "udp", 2122194687, "127.0.0.1", 59250, "host",
                              extra=(("generation", "0"), ("network-id", "3"), ("network-cost", "50")))
    assert first.is_loopback
    assert first.extensions["network-cost"] == "50"
    tcp = candidates[4]
    assert (tcp.transport, tcp.port, tcp.extensions["tcptype"]) == ("tcp", 9, "active")
    assert [c.address for c in candidates if c.is_loopback] == ["127.0.0.1", "::1", "127.0.0.1", "::1"]
    assert str(candidates[2]) == (
        "1060856575 1 udp 2122267903 ::1 59404 typ host generation 0 network-id 4 network-cost 50"
    )


def test_aiortc_answer() -> None:
    sdp = parse_sdp(AIORTC_ANSWER)
    media = sdp.media[0]
    # o= carries 0.0.0.0 but that is the origin, not connection data: no hold.
    assert sdp.origin.address == "0.0.0.0"
    assert media.direction is Direction.RECVONLY
    assert media.effective_direction is Direction.RECVONLY
    assert not is_on_hold(sdp)
    assert not has_telephone_event(sdp)
    assert [c.name for c in audio_codecs(sdp)] == ["opus", "G722", "PCMU", "PCMA"]
    assert media.has_attribute("end-of-candidates")
    assert [c.address for c in media.candidates] == ["192.0.2.2", "fd00::2"]
    assert len(media.attribute_values("fingerprint")) == 2
    assert ice_credentials(media) == ("BXI0", "FLo4lDuPpNTGr0uJkBOKyo")


def test_rtpengine_answer() -> None:
    sdp = parse_sdp(RTPENGINE_ANSWER)
    media = sdp.media[0]
    assert media.protocol == "RTP/SAVPF"
    assert media.is_rtp
    assert not media.rtcp_mux
    assert media.attribute_value("rtcp") == "30001"
    assert media.attribute_value("crypto", ).startswith("1 AES_CM_128_HMAC_SHA1_80 inline:")  # type: ignore[union-attr]
    candidates = media.candidates
    assert [(c.component, c.transport, c.type) for c in candidates] == [
        (1, "UDP", "host"), (2, "UDP", "host"), (1, "UDP", "srflx")]
    assert (candidates[2].related_address, candidates[2].related_port) == ("203.0.113.20", 30000)
    codec = telephone_event(media)
    assert codec == Codec("101", "telephone-event", 8000, None, "0-16")
    assert codec is not None
    assert codec.event_codes() == frozenset(range(17))


def test_sipp_lf_only_bodies() -> None:
    offer, answer = parse_sdp(SIPP_OFFER), parse_sdp(SIPP_ANSWER.encode())
    assert "\r\n" in str(answer)
    assert "\n" not in str(answer).replace("\r\n", "")
    assert answer.connection == ConnectionData("IN", "IP4", "127.0.0.1")
    assert answer.media[0].connection == answer.connection  # inherited from the session level
    assert [c.name for c in audio_codecs(answer)] == ["PCMU", "telephone-event"]
    assert telephone_event(answer.media[0]) == Codec("101", "telephone-event", 8000, None, "0-16")
    assert not answer.media[0].uses_ice
    assert ice_credentials(answer.media[0]) is None
    assert offer.media[0].codecs[0].name == answer.media[0].codecs[0].name == "PCMU"


def test_freeswitch_answer() -> None:
    sdp = parse_sdp(FREESWITCH_ANSWER)
    media = sdp.media[0]
    assert sdp.session_name == "FreeSWITCH"
    assert media.connections == []
    assert media.connection == ConnectionData("IN", "IP4", "192.0.2.10")
    assert media.attribute_value("silenceSupp") == "off - - - -"
    opus = media.codec("111")
    assert opus is not None
    assert opus.parameters() == {"useinbandfec": "1", "minptime": "10"}
    assert telephone_event(media, 48000) == Codec("110", "telephone-event", 48000)
    assert telephone_event(media, 8000) is None


def test_firefox_offer() -> None:
    sdp = parse_sdp(FIREFOX_OFFER)
    media = sdp.media[0]
    assert sdp.origin.username == "mozilla...THIS_IS_SDPARTA-99.0"
    assert sdp.session_direction is Direction.SENDRECV
    assert media.media_direction is Direction.SENDRECV
    assert media.inherited_attribute("fingerprint", ).startswith("sha-256 5A:1F")  # type: ignore[union-attr]
    assert media.attribute_value("fingerprint") is None
    assert ice_credentials(media) == ("3f9c2a1b", "b3c5d4f87e0a2c91d7e4b6a8f0c2e4d6")
    assert not media.legacy_hold
    assert not is_on_hold(sdp)
    # fmtp lines come before the rtpmap lines: still paired by payload type
    assert media.codec("109") == Codec("109", "opus", 48000, 2, "maxplaybackrate=48000;stereo=1;useinbandfec=1")
    assert media.codec("9") == Codec("9", "G722", 8000, 1)
    assert telephone_event(media) == Codec("101", "telephone-event", 8000, None, "0-15")
    assert media.attribute_values("extmap")[1] == "2/recvonly urn:ietf:params:rtp-hdrext:csrc-audio-level"
    # a Firefox hold: media-level sendonly overrides the session-level sendrecv
    hold = parse_sdp(FIREFOX_OFFER.replace("c=IN IP4 0.0.0.0\r\na=sendrecv", "c=IN IP4 0.0.0.0\r\na=sendonly"))
    assert hold.session_direction is Direction.SENDRECV
    assert hold.media[0].direction is Direction.SENDONLY
    assert is_on_hold(hold)


def test_rfc_full_session_fields() -> None:
    sdp = parse_sdp(RFC_FULL)
    assert sdp.information == "SDP Offer #1"
    assert sdp.uri == "http://www.jdoe.example.com/home.html"
    assert sdp.emails == ["Jane Doe <jane@jdoe.example.com>"]
    assert sdp.phones == ["+1 617 555-6011"]
    assert sdp.connection == ConnectionData("IN", "IP4", "233.252.0.1/127")
    assert sdp.connection.host == "233.252.0.1"
    assert sdp.bandwidths == [Bandwidth("CT", 1024)]
    assert sdp.timings == [
        Timing(3724394400, 3724398000, ("7d 1h 0 25h", "604800 3600 0 90000")),
        Timing(0, 0),
    ]
    assert sdp.time_zones == "3730928400 -1h 3749680800 0"
    assert sdp.encryption_key == "prompt"
    assert sdp.session_direction is Direction.RECVONLY
    first, second, video = sdp.media
    assert first.codecs == [Codec("0", "PCMU", 8000)]  # RFC 3551 static payload type, no rtpmap
    assert first.direction is Direction.RECVONLY  # inherited from the session level
    assert first.media_direction is None
    assert (second.port, second.port_count, second.information) == (49180, 2, "second audio")
    assert second.bandwidths == [Bandwidth("AS", 64)]
    assert video.direction is Direction.SENDRECV  # media level overrides the session level
    assert video.connections == [
        ConnectionData("IN", "IP6", "2001:db8::2"),
        ConnectionData("IN", "IP6", "2001:db8::3"),
    ]
    assert video.connection == ConnectionData("IN", "IP6", "2001:db8::2")
    assert video.bandwidths == [Bandwidth("TIAS", 128000)]
    assert video.encryption_key == "clear:secret"
    assert video.codecs == [Codec("99", "h263-1998", 90000)]


def test_multi_stream_bundle_rejected_and_bundle_only() -> None:
    sdp = parse_sdp(MULTI_STREAM)
    audio, video, data = sdp.media
    assert sdp.bundle_groups() == [["a1", "d1"]]
    assert not audio.rejected
    assert video.rejected
    assert not data.rejected  # port 0 with a=bundle-only is not a rejection (RFC 8843)
    assert data.bundle_only
    assert not data.is_rtp
    assert active_media(sdp) == [audio]
    assert active_media(sdp, None) == [audio, data]
    assert [m.mid for m in sdp.media] == ["a1", "v1", "d1"]
    # ICE credentials and fingerprint only at session level: inherited
    assert ice_credentials(audio) == ("8hhY", "asd88fgpdd777uzjYhagZg")
    assert audio.inherited_attribute("fingerprint", ).startswith("sha-256 19:E2")  # type: ignore[union-attr]
    assert audio.connection == ConnectionData("IN", "IP6", "2001:db8::10")
    assert telephone_event(audio) == Codec("97", "telephone-event", 48000, None, "0-15")
    assert audio_codecs(sdp)[0] == Codec("96", "opus", 48000, 2)


# --- direction: RFC 3264 §6.1 ---------------------------------------------------------------------------
SO, RO, SR, NA = Direction.SENDONLY, Direction.RECVONLY, Direction.SENDRECV, Direction.INACTIVE

# (offer, what the answerer wants) -> answer. RFC 3264 §6.1: sendonly -> recvonly/inactive,
# recvonly -> sendonly/inactive, inactive -> inactive, sendrecv -> any.
ANSWER_TABLE = {
    (SR, SR): SR, (SR, SO): SO, (SR, RO): RO, (SR, NA): NA,
    (SO, SR): RO, (SO, SO): NA, (SO, RO): RO, (SO, NA): NA,
    (RO, SR): SO, (RO, SO): SO, (RO, RO): NA, (RO, NA): NA,
    (NA, SR): NA, (NA, SO): NA, (NA, RO): NA, (NA, NA): NA,
}
ALLOWED = {SR: {SR, SO, RO, NA}, SO: {RO, NA}, RO: {SO, NA}, NA: {NA}}


def test_answer_direction_table_is_complete() -> None:
    assert set(ANSWER_TABLE) == set(itertools.product(Direction, Direction))


@pytest.mark.parametrize(("offer", "local"), sorted(ANSWER_TABLE))
def test_answer_direction(offer: Direction, local: Direction) -> None:
    answer = answer_direction(offer, local)
    assert answer is ANSWER_TABLE[offer, local]
    assert answer in ALLOWED[offer]


def test_direction_flags_and_reverse() -> None:
    assert SO.reverse() is RO
    assert RO.reverse() is SO
    assert SR.reverse() is SR
    assert NA.reverse() is NA
    assert [(d.sends, d.receives) for d in (SR, SO, RO, NA)] == [(True, True), (True, False), (False, True),
                                                               (False, False)]
    for direction in Direction:
        assert Direction.from_flags(sends=direction.sends, receives=direction.receives) is direction
        assert direction.reverse().reverse() is direction
    assert str(SO) == "sendonly"
    assert Direction("inactive") is NA


def test_direction_inherits_session_level_and_defaults_to_sendrecv() -> None:
    text = SIPP_ANSWER.replace("a=sendrecv\n", "")
    sdp = parse_sdp(text)
    assert sdp.media[0].direction is SR
    sdp = parse_sdp(text.replace("t=0 0\n", "t=0 0\na=inactive\n"))
    assert sdp.session_direction is NA
    assert sdp.media[0].direction is NA
    assert sdp.media[0].media_direction is None
    sdp.media[0].set_direction(SO)
    assert sdp.media[0].direction is SO
    assert sdp.session_direction is NA


def test_set_direction_replaces_in_place() -> None:
    sdp = parse_sdp(CHROME_OFFER)
    media = sdp.media[0]
    index = media.attributes.index(Attribute("sendrecv"))
    media.set_direction(Direction.INACTIVE)
    assert media.attributes[index] == Attribute("inactive")
    assert sum(a.name in {"sendrecv", "sendonly", "recvonly", "inactive"} for a in media.attributes) == 1
    media.remove_attribute("inactive")
    media.set_direction(Direction.RECVONLY)
    assert media.attributes[-1] == Attribute("recvonly")


def test_session_set_direction_moves_it_to_media_level() -> None:
    sdp = parse_sdp(RFC_FULL)
    sdp.set_direction(Direction.SENDONLY)
    assert sdp.session_direction is None
    assert [m.media_direction for m in sdp.media] == [SO, SO, SO]
    multi = parse_sdp(MULTI_STREAM)
    multi.set_direction(Direction.INACTIVE)
    assert [m.media_direction for m in multi.media] == [NA, None, None]  # rejected and SCTP untouched


# --- hold -----------------------------------------------------------------------------------------------


PLACEHOLDER_SAMPLES = {"legacy_hold_offer", "chrome_trickle_offer", "firefox_offer"}  # c=0.0.0.0 inside


def test_bump_version() -> None:
    sdp = parse_sdp(SIPP_OFFER)
    sdp.bump_version()
    sdp.bump_version()
    assert sdp.origin.session_version == 2353687639
    assert "o=sipp 53655765 2353687639 IN IP4 127.0.0.1\r\n" in str(sdp)


def test_is_on_hold_for_received_offers() -> None:
    assert is_on_hold(parse_sdp(CHROME_HOLD_OFFER))
    assert not is_on_hold(parse_sdp(CHROME_OFFER))
    inactive = parse_sdp(SIPP_OFFER.replace("a=sendrecv", "a=inactive"))
    assert is_on_hold(inactive)
    recvonly = parse_sdp(SIPP_OFFER.replace("a=sendrecv", "a=recvonly"))
    assert not is_on_hold(recvonly)  # the peer wants to receive: this is the answer to *our* hold
    no_active = parse_sdp(SIPP_OFFER.replace("m=audio 6000", "m=audio 0"))
    assert not is_on_hold(no_active)


def test_legacy_0000_hold_is_detected_when_received() -> None:
    sdp = parse_sdp(LEGACY_HOLD_OFFER)
    media = sdp.media[0]
    assert media.direction is Direction.SENDRECV  # what is written
    assert media.legacy_hold
    assert media.effective_direction is Direction.SENDONLY  # what it means: nothing can be sent to 0.0.0.0
    assert is_on_hold(sdp)
    recvonly = parse_sdp(LEGACY_HOLD_OFFER + "a=recvonly\r\n")
    assert recvonly.media[0].effective_direction is Direction.INACTIVE
    ipv6 = parse_sdp(LEGACY_HOLD_OFFER.replace("c=IN IP4 0.0.0.0", "c=IN IP6 ::"))
    assert ipv6.media[0].legacy_hold
    media_level = parse_sdp(SIPP_OFFER.replace("a=rtpmap:0", "c=IN IP4 0.0.0.0\na=rtpmap:0"))
    assert media_level.media[0].legacy_hold  # the media-level c= wins over the session's 127.0.0.1


def test_ice_placeholder_0000_is_not_hold() -> None:
    sdp = parse_sdp(CHROME_TRICKLE_OFFER)
    media = sdp.media[0]
    assert media.connection is not None
    assert media.connection.is_unspecified
    assert media.port == 9
    assert not media.legacy_hold
    assert media.effective_direction is Direction.SENDRECV
    assert not is_on_hold(sdp)


# --- answer validation ----------------------------------------------------------------------------------


# --- ICE ------------------------------------------------------------------------------------------------
def test_ice_restart_detection() -> None:
    old = parse_sdp(CHROME_OFFER)
    assert not is_ice_restart(old, old.copy())
    hold = parse_sdp(CHROME_OFFER.replace("a=sendrecv", "a=sendonly"))
    assert not is_ice_restart(old, hold)  # a re-offer with the same credentials (hold) is no restart
    new_ufrag = parse_sdp(CHROME_OFFER.replace("a=ice-ufrag:/G5z", "a=ice-ufrag:Ab+9"))
    assert is_ice_restart(old, new_ufrag)
    new_pwd = parse_sdp(CHROME_OFFER.replace("ICy60FB7zx8q7jji2rK1MmuM", "ICy60FB7zx8q7jji2rK1Mmu0"))
    assert is_ice_restart(old, new_pwd)
    assert not is_ice_restart(old, parse_sdp(SIPP_OFFER))  # no ICE on the other side: not a restart
    rejected = parse_sdp(CHROME_OFFER.replace("m=audio 59250", "m=audio 0").replace("a=ice-ufrag:/G5z",
                                                                                    "a=ice-ufrag:Ab+9"))
    assert not is_ice_restart(old, rejected)


def test_ice_credentials_need_both() -> None:
    sdp = parse_sdp(CHROME_OFFER)
    sdp.media[0].remove_attribute("ice-pwd")
    assert ice_credentials(sdp.media[0]) is None
    sdp.add_attribute("ice-pwd", "sessionlevelpasswordxxxx")
    assert ice_credentials(sdp.media[0]) == ("/G5z", "sessionlevelpasswordxxxx")


# --- candidates -----------------------------------------------------------------------------------------
def test_parse_candidate_forms() -> None:
    value = "842163049 1 udp 1677729535 198.51.100.9 46154 typ srflx raddr 10.0.0.5 rport 46154 generation 0"
    expected = Candidate("842163049", 1, "udp", 1677729535, "198.51.100.9", 46154, "srflx", "10.0.0.5", 46154,
                         (("generation", "0"),))
    for text in (value, "candidate:" + value, "a=candidate:" + value, f"  candidate:{value}\r\n"):
        assert parse_candidate(text) == expected
    assert str(expected) == value
    assert expected.to_attribute() == Attribute("candidate", value)
    assert not expected.is_loopback
    mdns = parse_candidate("1 1 udp 2122260223 6c5f1ca1-7a38-4b2e-a1f4-3d9d45b3e4f7.local 54321 typ host")
    assert mdns.ip is None
    assert not mdns.is_loopback
    rport_only = parse_candidate("1 1 udp 1 1.2.3.4 5 typ prflx rport 0")
    assert (rport_only.related_address, rport_only.related_port) == (None, 0)


@pytest.mark.parametrize("text", [
    "", "1 1 udp 1 1.2.3.4 5 typ", "1 1 udp 1 1.2.3.4 5 type host", "1 0 udp 1 1.2.3.4 5 typ host",
    "1 257 udp 1 1.2.3.4 5 typ host", "1 x udp 1 1.2.3.4 5 typ host", "1 1 udp 4294967296 1.2.3.4 5 typ host",
    "1 1 udp 1 1.2.3.4 65536 typ host", "1 1 udp 1 1.2.3.4 -5 typ host", "1 1 u(p 1 1.2.3.4 5 typ host",
    "f@o 1 udp 1 1.2.3.4 5 typ host", "123456789012345678901234567890123 1 udp 1 1.2.3.4 5 typ host",
    "1 1 udp 1 1.2.3.4 5 typ host generation", "1 1 udp 1 1.2.3.4 5 typ host raddr 1.1.1.1 rport x",
    "1 1 udp 1 1.2.3.4 5 typ host\x00",
])
def test_parse_candidate_rejects(text: str) -> None:
    with pytest.raises(ParseError):
        parse_candidate(text)


def test_candidate_constructor_validates() -> None:
    with pytest.raises(LocalProtocolError):
        Candidate("1", 0, "udp", 1, "1.2.3.4", 5, "host")
    with pytest.raises(LocalProtocolError):
        Candidate("1", 1, "udp", 1, "1.2.3.4", 5, "host", extra=(("a b", "c"),))


# --- codecs and telephone-event -------------------------------------------------------------------------
def test_static_payload_types_and_unmapped_dynamic() -> None:
    sdp = parse_sdp(SIPP_OFFER.replace("a=rtpmap:0 PCMU/8000\na=rtpmap:8 PCMA/8000\n", "")
                    .replace("RTP/AVP 0 8 101", "RTP/AVP 0 8 18 96 101"))
    assert [(c.payload_type, c.name) for c in audio_codecs(sdp)] == [
        ("0", "PCMU"), ("8", "PCMA"), ("18", "G729"), ("101", "telephone-event")]
    assert STATIC_PAYLOAD_TYPES["9"] == ("G722", 8000, None)


def test_codec_event_codes() -> None:
    assert Codec("101", "telephone-event", 8000, None, "0-15,66,70").event_codes() == frozenset(
        [*range(16), 66, 70])
    assert Codec("101", "Telephone-Event", 8000, None, "0-16").event_codes() == frozenset(range(17))
    with pytest.raises(SdpError):
        Codec("101", "telephone-event", 8000, None, "0-300").event_codes()
    with pytest.raises(SdpError):
        Codec("101", "telephone-event", 8000, None, "9-3").event_codes()
    with pytest.raises(SdpError):
        Codec("101", "telephone-event", 8000, None, "all").event_codes()
    with pytest.raises(LocalProtocolError):
        Codec("0", "PCMU", 8000).event_codes()


def test_codec_same_format() -> None:
    assert Codec("0", "PCMU", 8000).same_format(Codec("96", "pcmu", 8000, 1))
    assert not Codec("111", "opus", 48000, 2).same_format(Codec("111", "opus", 48000, 1))
    assert not Codec("9", "G722", 8000).same_format(Codec("9", "G722", 16000))


# --- model behaviour ------------------------------------------------------------------------------------
def test_media_list_links_sections_to_their_session() -> None:
    sdp = parse_sdp(RFC_FULL)
    extra = MediaDescription("audio", 5000, "RTP/AVP", ["0"])
    assert extra.session is None
    assert extra.direction is Direction.SENDRECV
    sdp.media.append(extra)
    assert extra.session is sdp
    assert extra.direction is Direction.RECVONLY
    other = MediaDescription("audio", 5002, "RTP/AVP", ["8"])
    sdp.media[0] = other
    sdp.media.insert(0, extra.copy())
    sdp.media += [MediaDescription("audio", 5004, "RTP/AVP", ["0"])]
    sdp.media[1:2] = [MediaDescription("audio", 5006, "RTP/AVP", ["0"])]
    assert all(m.session is sdp for m in sdp.media)
    fresh = SessionDescription()
    fresh.media = [other]
    assert isinstance(fresh.media, MediaList)
    assert other.session is fresh
    not_media: Any = "m=audio 0 RTP/AVP 0"
    with pytest.raises(LocalProtocolError):
        fresh.media.append(not_media)


def test_copy_is_deep_and_equal() -> None:
    sdp = parse_sdp(CHROME_OFFER)
    clone = sdp.copy()
    assert clone == sdp
    assert clone.media[0].session is clone
    clone.media[0].formats.append("96")
    clone.attributes.append(Attribute("x-test"))
    assert clone != sdp
    assert str(sdp) == CHROME_OFFER
    as_dict = dataclasses.asdict(sdp)  # no endless recursion through the media -> session link
    assert as_dict["media"][0]["port"] == 59250
    assert "_session" not in as_dict["media"][0]
    for other in (copy.deepcopy(sdp), pickle.loads(pickle.dumps(sdp))):
        assert other == sdp
        assert other.media[0].session is other


def test_attribute_helpers() -> None:
    media = parse_sdp(CHROME_OFFER).media[0]
    assert media.has_attribute("rtcp-mux")
    assert not media.has_attribute("RTCP-MUX")  # names are case-sensitive
    assert media.attribute_value("rtcp-mux") is None
    assert media.attribute_value("nope") is None
    count = len(media.attribute_values("candidate"))
    assert media.remove_attribute("candidate", lambda a: " tcp " in (a.value or "")) == 4
    assert len(media.attribute_values("candidate")) == count - 4
    media.set_attribute("ptime", "20")
    media.set_attribute("ptime", "40")
    assert media.attribute_values("ptime") == ["40"]
    media.add_attribute("ptime", "60")
    media.set_attribute("ptime", "30")
    assert media.attribute_values("ptime") == ["30"]


def test_value_objects_validate() -> None:
    with pytest.raises(LocalProtocolError):
        Attribute("bad name")
    with pytest.raises(LocalProtocolError):
        Attribute("x", "evil\r\na=injected")
    with pytest.raises(LocalProtocolError):
        Attribute("x", "\ud800")
    with pytest.raises(LocalProtocolError):
        Origin(username="a b")
    with pytest.raises(LocalProtocolError):
        Origin(session_version=-1)
    with pytest.raises(LocalProtocolError):
        ConnectionData("IN", "IP4", "")
    with pytest.raises(LocalProtocolError):
        Bandwidth("AS", -1)
    with pytest.raises(LocalProtocolError):
        Timing(repeats=("",))
    with pytest.raises(LocalProtocolError):
        UnknownLine("a", "x", "v")  # a defined type letter
    with pytest.raises(LocalProtocolError):
        UnknownLine("y", "x", "q")
    assert ConnectionData.for_address("::1") == ConnectionData("IN", "IP6", "::1")
    assert str(Attribute("rtpmap", "0 PCMU/8000")) == "rtpmap:0 PCMU/8000"
    assert str(Attribute("x", "")) == "x:"


def test_serialising_invalid_media_raises_local_error() -> None:
    sdp = parse_sdp(SIPP_OFFER)
    sdp.media[0].port = 70000
    with pytest.raises(LocalProtocolError):
        str(sdp)
    sdp = parse_sdp(SIPP_OFFER)
    sdp.media[0].formats.clear()
    with pytest.raises(LocalProtocolError):
        sdp.to_bytes()
    sdp = parse_sdp(SIPP_OFFER)
    sdp.session_name = "a\nb"
    with pytest.raises(LocalProtocolError):
        str(sdp)


def test_minimal_session_serialises() -> None:
    sdp = SessionDescription(Origin("alice", "1", 1, "IN", "IP4", "192.0.2.1"), session_name="")
    sdp.media.append(MediaDescription("audio", 4000, "RTP/AVP", ["0"], connections=[ConnectionData()]))
    assert str(sdp) == crlf("v=0\no=alice 1 1 IN IP4 192.0.2.1\ns= \nt=0 0\nm=audio 4000 RTP/AVP 0\n"
                            "c=IN IP4 127.0.0.1\n")
    assert parse_sdp(str(sdp)) == sdp


def test_attribute_value_empty_vs_absent() -> None:
    sdp = parse_sdp(SIPP_OFFER + "a=x-flag\na=x-empty:\n")
    assert sdp.media[0].get_attribute("x-flag") == Attribute("x-flag", None)
    assert sdp.media[0].get_attribute("x-empty") == Attribute("x-empty", "")
    assert str(sdp).endswith("a=x-flag\r\na=x-empty:\r\n")


# --- tolerance --------------------------------------------------------------------------------------------
def test_tolerates_trailing_whitespace_empty_lines_and_extra_spaces() -> None:
    messy = "v=0  \no=sipp  53655765 2353687637 IN  IP4 127.0.0.1\t\ns=\nc=IN IP4 127.0.0.1\r\nt=0   0\n" \
            "m=audio  6000  RTP/AVP 0 \na=rtpmap:0 PCMU/8000 \r\n\r\n\n"
    sdp = parse_sdp(messy)
    assert sdp.session_name == ""
    assert sdp.media[0].formats == ["0"]
    assert sdp.media[0].attribute_value("rtpmap") == "0 PCMU/8000"
    assert str(sdp).startswith("v=0\r\no=sipp 53655765 2353687637 IN IP4 127.0.0.1\r\ns= \r\n")
    assert parse_sdp(str(sdp)) == sdp


def test_lenient_order() -> None:
    text = SIPP_OFFER.replace("c=IN IP4 127.0.0.1\nt=0 0\n", "t=0 0\nc=IN IP4 127.0.0.1\n")
    with pytest.raises(SdpError, match="out of order"):
        parse_sdp(text)
    sdp = parse_sdp(text, strict_order=False)
    assert sdp == parse_sdp(SIPP_OFFER)
    media_text = SIPP_ANSWER.replace("a=sendrecv\n", "a=sendrecv\nb=AS:80\n")
    with pytest.raises(SdpError):
        parse_sdp(media_text)
    assert parse_sdp(media_text, strict_order=False).media[0].bandwidths == [Bandwidth("AS", 80)]


def test_unknown_line_types_are_kept_in_place() -> None:
    # GB28181 cameras append y= (SSRC) and f= (media format) lines.
    text = crlf("v=0\no=34020000001320000001 0 0 IN IP4 192.0.2.64\ns=Play\nx=before-c\nc=IN IP4 192.0.2.64\n"
                "t=0 0\nm=video 15060 RTP/AVP 96\na=recvonly\na=rtpmap:96 PS/90000\ny=0100000001\n"
                "f=v/2/5/25/1/4096a/1/8/1\n")
    sdp = parse_sdp(text)
    assert sdp.unknown_lines == [UnknownLine("x", "before-c", "s")]
    assert sdp.media[0].unknown_lines == [UnknownLine("y", "0100000001", "a"),
                                          UnknownLine("f", "v/2/5/25/1/4096a/1/8/1", "a")]
    assert str(sdp) == text
    head = crlf("v=0\no=- 1 1 IN IP4 192.0.2.1\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\nq=first\n"
                "c=IN IP4 192.0.2.1\n")
    assert str(parse_sdp(head)) == head


# --- malformed input --------------------------------------------------------------------------------------
BAD_SDPS = {
    "empty": "",
    "only_blank_lines": "\r\n\r\n",
    "no_v": "o=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "v_not_first": "o=- 1 1 IN IP4 1.2.3.4\nv=0\ns=-\nt=0 0\n",
    "v_1": "v=1\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "two_v": "v=0\nv=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "no_o": "v=0\ns=-\nt=0 0\n",
    "no_s": "v=0\no=- 1 1 IN IP4 1.2.3.4\nt=0 0\n",
    "no_t": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\n",
    "no_t_before_m": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nm=audio 1 RTP/AVP 0\n",
    "s_before_o": "v=0\ns=-\no=- 1 1 IN IP4 1.2.3.4\nt=0 0\n",
    "two_s": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\ns=again\nt=0 0\n",
    "two_session_c": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nc=IN IP4 1.2.3.5\nt=0 0\n",
    "c_after_t": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nc=IN IP4 1.2.3.4\n",
    "a_before_t": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\na=sendrecv\nt=0 0\n",
    "r_without_t": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nr=7d 1h 0 25h\nt=0 0\n",
    "r_after_z": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nz=0 0\nr=7d 1h 0 25h\n",
    "media_a_before_c": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\na=sendrecv\n"
                        "c=IN IP4 1.2.3.4\n",
    "media_two_i": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0\n"
                   "i=a\ni=b\n",
    "t_in_media": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0\nt=0 0\n",
    "o_five_fields": "v=0\no=- 1 1 IN IP4\ns=-\nt=0 0\n",
    "o_bad_version": "v=0\no=- 1 v1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "o_huge_version": "v=0\no=- 1 " + "9" * 5000 + " IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "c_two_fields": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN 1.2.3.4\nt=0 0\n",
    "b_no_colon": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nb=AS64\nt=0 0\n",
    "b_not_number": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nb=AS:lots\nt=0 0\n",
    "t_not_numbers": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=now later\n",
    "t_one_field": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0\n",
    "m_bad_port": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio abc RTP/AVP 0\n",
    "m_port_too_big": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 70000 RTP/AVP 0\n",
    "m_port_count_0": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1/0 RTP/AVP 0\n",
    "m_negative_port": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio -1 RTP/AVP 0\n",
    "m_no_format": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP\n",
    "m_bad_proto": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP//AVP 0\n",
    "m_bad_fmt": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0,8\n",
    "no_connection": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=audio 1 RTP/AVP 0\n",
    "not_type_value": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nhello world\nt=0 0\n",
    "upper_case_type": "V=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "space_before_equals": "v=0\no =- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "leading_space": " v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n",
    "digit_type": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\n1=x\n",
    "empty_line_inside": "v=0\no=- 1 1 IN IP4 1.2.3.4\n\ns=-\nt=0 0\n",
    "bare_cr": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=a\rb\nt=0 0\n",
    "nul": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=\x00\nt=0 0\n",
    "surrogate": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=\udcff\nt=0 0\n",
    "empty_attribute_name": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=:x\n",
    "bad_attribute_name": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=x y:z\n",
    "two_directions": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=sendrecv\na=sendonly\n",
    "direction_with_value": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=sendonly:now\n",
    "bad_rtpmap": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 96\n"
                  "a=rtpmap:96 opus\n",
    "rtpmap_zero_rate": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 96\n"
                        "a=rtpmap:96 opus/0\n",
    "rtpmap_no_value": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 96\n"
                       "a=rtpmap\n",
    "bad_fmtp": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 96\n"
                "a=fmtp: x\n",
    "bad_candidate": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0\n"
                     "a=candidate:1 1 udp 1 1.2.3.4 typ host\n",
    "bad_ice_ufrag": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=ice-ufrag:no spaces\n",
    "bad_rtcp": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0\n"
                "a=rtcp:99999\n",
    "bad_setup": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=setup:maybe\n",
    "bad_fingerprint": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=fingerprint:AB:CD\n",
    "bad_mid": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nc=IN IP4 1.2.3.4\nt=0 0\nm=audio 1 RTP/AVP 0\na=mid:a:b\n",
    "bad_group": "v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\na=group:BUNDLE a,b\n",
}


@pytest.mark.parametrize("name", sorted(BAD_SDPS))
def test_malformed_sdp_raises_parse_error(name: str) -> None:
    with pytest.raises(SdpError) as info:
        parse_sdp(BAD_SDPS[name])
    assert isinstance(info.value, ParseError)
    assert info.value.message
    assert info.value.status_hint == 400


def test_error_names_the_line() -> None:
    with pytest.raises(SdpError, match=r"SDP line 6 \('m=audio abc RTP/AVP 0'\): m= port"):
        parse_sdp(BAD_SDPS["m_bad_port"])


def test_non_utf8_bytes() -> None:
    with pytest.raises(SdpError, match="UTF-8"):
        parse_sdp(SIPP_OFFER.replace("s=-", "s=caf\xe9").encode("latin-1"))
    assert parse_sdp(SIPP_OFFER.replace("s=-", "s=café").encode()).session_name == "café"


def test_wrong_argument_type_is_local_error() -> None:
    with pytest.raises(LocalProtocolError):
        parse_sdp(42)  # type: ignore[arg-type]


def test_rejected_stream_needs_no_connection() -> None:
    sdp = parse_sdp("v=0\no=- 1 1 IN IP4 1.2.3.4\ns=-\nt=0 0\nm=video 0 RTP/AVP 96\n")
    assert sdp.media[0].rejected
    assert sdp.media[0].connection is None


# --- property-based -------------------------------------------------------------------------------------
_TOKEN_ALPHABET = "!#$%&'*+-.0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ^_`abcdefghijklmnopqrstuvwxyz{|}~"
tokens = st.text(alphabet=_TOKEN_ALPHABET, min_size=1, max_size=8)
words = st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1, max_size=10)
free_text = st.text(
    alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\r\n\x00"), max_size=20,
).filter(lambda s: s == s.rstrip(" \t"))
attribute_values = st.one_of(st.none(), free_text)
custom_attributes = st.builds(Attribute, tokens.map(lambda t: "x-" + t), attribute_values)
ports = st.integers(0, 65535)
addresses = st.sampled_from(["192.0.2.1", "2001:db8::1", "host.example.com", "233.252.0.1/127/3", "::1"])
connections = st.builds(ConnectionData, st.just("IN"), st.sampled_from(["IP4", "IP6"]), addresses)
bandwidths = st.builds(Bandwidth, st.sampled_from(["AS", "CT", "TIAS", "RR"]), st.integers(0, 10**9))
candidates = st.builds(
    Candidate, st.text(alphabet="abcXYZ019+/", min_size=1, max_size=32), st.integers(1, 256),
    st.sampled_from(["udp", "UDP", "tcp"]), st.integers(0, 2**32 - 1),
    addresses.filter(lambda a: "/" not in a),
    ports, st.sampled_from(["host", "srflx", "relay", "prflx"]), st.one_of(st.none(), st.just("10.0.0.1")),
    st.one_of(st.none(), ports), st.lists(st.tuples(st.sampled_from(["generation", "network-id"]),
                                                    st.sampled_from(["0", "1", "7"])), max_size=2).map(tuple),
)


@st.composite
def media_descriptions(draw: st.DrawFn) -> MediaDescription:
    payload_types = st.sampled_from(["0", "8", "9", "96", "101", "111", "126"])
    formats = draw(st.lists(payload_types, min_size=1, max_size=4, unique=True))
    attributes: list[Attribute] = []
    for payload_type in formats:
        if payload_type in ("96", "101", "111", "126") and draw(st.booleans()):
            name = draw(st.sampled_from(["opus/48000/2", "telephone-event/8000", "PCMU/8000", "red/48000/2"]))
            attributes.append(Attribute("rtpmap", f"{payload_type} {name}"))
            if draw(st.booleans()):
                attributes.append(Attribute("fmtp", f"{payload_type} {draw(words)}"))
    direction = draw(st.one_of(st.none(), st.sampled_from(list(Direction))))
    if direction is not None:
        attributes.append(Attribute(direction.value))
    attributes += [c.to_attribute() for c in draw(st.lists(candidates, max_size=3))]
    if draw(st.booleans()):
        attributes += [Attribute("ice-ufrag", draw(st.text(alphabet="abcXYZ09+/", min_size=4, max_size=8))),
                       Attribute("ice-pwd", draw(st.text(alphabet="abcXYZ09+/", min_size=22, max_size=24)))]
    attributes += draw(st.lists(custom_attributes, max_size=3))
    attributes = draw(st.permutations(attributes))
    media = MediaDescription(
        media=draw(st.sampled_from(["audio", "video", "application", "text"])),
        port=draw(ports),
        protocol=draw(st.sampled_from(["RTP/AVP", "RTP/SAVPF", "UDP/TLS/RTP/SAVPF", "TCP/MSRP"])),
        formats=formats,
        port_count=draw(st.one_of(st.none(), st.integers(1, 4))),
        information=draw(st.one_of(st.none(), free_text)),
        connections=draw(st.lists(connections, min_size=1, max_size=2)),
        bandwidths=draw(st.lists(bandwidths, max_size=2)),
        encryption_key=draw(st.one_of(st.none(), free_text)),
        attributes=list(attributes),
    )
    present = {"m": True, "i": media.information is not None, "c": bool(media.connections),
               "b": bool(media.bandwidths), "k": media.encryption_key is not None,
               "a": bool(media.attributes)}
    media.unknown_lines = draw(unknown_line_lists([slot for slot, there in present.items() if there]))
    return media


def unknown_line_lists(slots: list[str]) -> st.SearchStrategy[list[UnknownLine]]:
    """Unknown lines placed after groups that are present, in line order (the canonical form)."""
    line = st.builds(UnknownLine, st.sampled_from("dfghjlnqwxy"), free_text, st.sampled_from(slots))
    return st.lists(line, max_size=2).map(lambda lines: sorted(lines, key=lambda u: slots.index(u.after)))


@st.composite
def session_descriptions(draw: st.DrawFn) -> SessionDescription:
    origin = Origin(draw(words), draw(st.text(alphabet="0123456789", min_size=1, max_size=20)),
                    draw(st.integers(0, 2**64)), "IN", draw(st.sampled_from(["IP4", "IP6"])), draw(words))
    session_direction = draw(st.one_of(st.none(), st.sampled_from(list(Direction))))
    attributes = draw(st.lists(custom_attributes, max_size=3))
    if session_direction is not None:
        attributes.append(Attribute(session_direction.value))
    sdp = SessionDescription(
        origin=origin,
        session_name=draw(free_text),
        information=draw(st.one_of(st.none(), free_text)),
        uri=draw(st.one_of(st.none(), words)),
        emails=draw(st.lists(free_text, max_size=2)),
        phones=draw(st.lists(free_text, max_size=2)),
        connection=draw(st.one_of(st.none(), connections)),
        bandwidths=draw(st.lists(bandwidths, max_size=2)),
        timings=draw(st.lists(st.builds(Timing, st.integers(0, 2**40), st.integers(0, 2**40),
                                        st.lists(words, max_size=2).map(tuple)), min_size=1, max_size=2)),
        time_zones=draw(st.one_of(st.none(), words)),
        encryption_key=draw(st.one_of(st.none(), words)),
        attributes=attributes,
        media=draw(st.lists(media_descriptions(), max_size=3)),
    )
    present = {"v": True, "o": True, "s": True, "i": sdp.information is not None, "u": sdp.uri is not None,
               "e": bool(sdp.emails), "p": bool(sdp.phones), "c": sdp.connection is not None,
               "b": bool(sdp.bandwidths), "t": True, "z": sdp.time_zones is not None,
               "k": sdp.encryption_key is not None, "a": bool(sdp.attributes)}
    sdp.unknown_lines = draw(unknown_line_lists([slot for slot, there in present.items() if there]))
    return sdp


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(session_descriptions())
def test_generated_sdp_round_trips(sdp: SessionDescription) -> None:
    text = str(sdp)
    parsed = parse_sdp(text)
    assert parsed == sdp
    assert str(parsed) == text
    assert parse_sdp(sdp.to_bytes()) == sdp
    for media in parsed.media:  # the typed views work on whatever was generated
        media.codecs  # noqa: B018
        media.candidates  # noqa: B018
        media.effective_direction  # noqa: B018


_MUTATION_PIECES = ["\r\n", "\n", "\r", " ", "=", ":", "/", "0", "65536", "a=", "m=audio 0 RTP/AVP 0\n",
                    "c=IN IP4 0.0.0.0\n", "a=sendonly\n", "a=rtpmap:", "a=candidate:", "t=0 0\n", "v=0\n",
                    "\x00", "\xff", "\udcff", "é", "-", "9" * 30]


@st.composite
def mutated_bodies(draw: st.DrawFn) -> str | bytes:
    text = draw(st.sampled_from(sorted(ALL_SAMPLES.values())))
    for _ in range(draw(st.integers(1, 4))):
        position = draw(st.integers(0, len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "swap_lines", "truncate", "dup_line"]))
        if action == "insert":
            text = text[:position] + draw(st.sampled_from(_MUTATION_PIECES)) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + draw(st.integers(1, 20)):]
        elif action == "replace":
            text = text[:position] + draw(st.text(max_size=3)) + text[position + 1:]
        elif action == "truncate":
            text = text[:position]
        else:
            lines = text.split("\n")
            i = draw(st.integers(0, len(lines) - 1))
            j = draw(st.integers(0, len(lines) - 1))
            if action == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                lines.insert(j, lines[i])
            text = "\n".join(lines)
    if draw(st.booleans()):
        return text.encode("utf-8", "surrogatepass")
    return text


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated_bodies(), st.booleans())
def test_mutated_input_raises_only_parse_error(body: str | bytes, strict: bool) -> None:
    try:
        sdp = parse_sdp(body, strict_order=strict)
    except ParseError:
        return
    # whatever parsed must serialise, re-parse to the same model, and support every typed view
    text = str(sdp)
    assert parse_sdp(text, strict_order=strict) == sdp
    assert parse_sdp(text) == sdp  # what we write is always in canonical order
    for media in sdp.media:
        media.codecs  # noqa: B018
        media.candidates  # noqa: B018
        media.effective_direction  # noqa: B018
        ice_credentials(media)
        telephone_events(media)
    sdp.bundle_groups()
    is_on_hold(sdp)
