"""Sample SIP messages shared by the message-layer tests (not a test module)."""

from __future__ import annotations


def crlf(text: str) -> bytes:
    """Turn a readable message written with ``\\n`` line ends into wire bytes with CRLF."""
    head, sep, body = text.partition("\n\n")
    wire = head.replace("\n", "\r\n")
    if sep:
        wire += "\r\n\r\n" + body
    return wire.encode("utf-8")


SDP = (
    "v=0\r\n"
    "o=alice 2890844526 2890844526 IN IP4 192.0.2.10\r\n"
    "s=-\r\n"
    "c=IN IP4 192.0.2.10\r\n"
    "t=0 0\r\n"
    "m=audio 49170 RTP/AVP 0 101\r\n"
    "a=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\n"
    "a=fmtp:101 0-16\r\n"
    "a=sendrecv\r\n"
)

INVITE = crlf(
    "INVITE sip:bob@biloxi.example.com SIP/2.0\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds8;rport\n"
    "Max-Forwards: 70\n"
    'To: "Bob" <sip:bob@biloxi.example.com>\n'
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\n'
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\n"
    "CSeq: 314159 INVITE\n"
    "Contact: <sip:alice@df7jal23ls0d.invalid;transport=ws;ob>\n"
    "Allow: INVITE, ACK, CANCEL, BYE, OPTIONS, INFO, NOTIFY\n"
    "Supported: outbound, timer\n"
    "User-Agent: twochat-voice-web/0.1\n"
    "Content-Type: application/sdp\n"
    f"Content-Length: {len(SDP)}\n"
    "\n" + SDP
)

REGISTER = crlf(
    "REGISTER sip:sip.example.com SIP/2.0\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK8b6a2f1;rport\n"
    "Max-Forwards: 70\n"
    "To: <sip:1001@sip.example.com>\n"
    "From: <sip:1001@sip.example.com>;tag=a73kszlfl\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\n"
    "CSeq: 1 REGISTER\n"
    'Contact: <sip:1001@df7jal23ls0d.invalid;transport=ws>;+sip.instance="<urn:uuid:00000000-0000-1000-8000'
    '-000A95A0E128>";reg-id=1;expires=600\n'
    "Expires: 600\n"
    "Supported: path, outbound, gruu\n"
    "Content-Length: 0\n"
    "\n"
)

UNAUTHORIZED = crlf(
    "SIP/2.0 401 Unauthorized\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bK8b6a2f1;rport=53412;received=192.0.2.33\n"
    "To: <sip:1001@sip.example.com>;tag=37GkEhwl6\n"
    "From: <sip:1001@sip.example.com>;tag=a73kszlfl\n"
    "Call-ID: 1j9FpLxk3uxtm8tn@df7jal23ls0d.invalid\n"
    "CSeq: 1 REGISTER\n"
    'WWW-Authenticate: Digest realm="sip.example.com", nonce="ZmFrZS1ub25jZQ==", qop="auth", '
    'algorithm=MD5, opaque="5ccc069c403ebaf9f0171e9517f40e41"\n'
    "Server: sandbox\n"
    "Content-Length: 0\n"
    "\n"
)

OK_WITH_SDP = crlf(
    "SIP/2.0 200 OK\n"
    "Via: SIP/2.0/WSS df7jal23ls0d.invalid;branch=z9hG4bKnashds8;rport=53412;received=192.0.2.33\n"
    "Record-Route: <sip:proxy.example.com;transport=ws;lr>\n"
    'To: "Bob" <sip:bob@biloxi.example.com>;tag=a6c85cf\n'
    'From: "Alice" <sip:alice@atlanta.example.com>;tag=1928301774\n'
    "Call-ID: a84b4c76e66710@pc33.atlanta.example.com\n"
    "CSeq: 314159 INVITE\n"
    "Contact: <sip:bob@192.0.2.4:5060>\n"
    "Content-Type: application/sdp\n"
    f"Content-Length: {len(SDP)}\n"
    "\n" + SDP
)

ALL_SAMPLES = {"invite": INVITE, "register": REGISTER, "unauthorized": UNAUTHORIZED, "ok_sdp": OK_WITH_SDP}


def minimal_request(
    method: str = "OPTIONS",
    uri: str = "sip:bob@example.com",
    extra: str = "",
    body: str = "",
    cseq_method: str | None = None,
) -> bytes:
    """A small valid request; ``extra`` holds additional header lines (each ending in ``\\n``)."""
    return crlf(
        f"{method} {uri} SIP/2.0\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK1\n"
        "To: <sip:bob@example.com>\n"
        "From: <sip:alice@example.com>;tag=1\n"
        "Call-ID: abc@host\n"
        f"CSeq: 1 {cseq_method or method}\n"
        f"{extra}"
        "\n" + body
    )
