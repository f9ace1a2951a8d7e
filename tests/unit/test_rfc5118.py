"""RFC 5118 (SIP Torture Test Messages for IPv6): every message of the RFC's own archive.

The archive's files end their lines with a bare LF (none has a CR) and the two §4.10 files have no empty
line after the headers, so :func:`wire` makes the one documented change needed to get SIP bytes (RFC 3261
§7: CRLF line ends, an empty line after the headers) and, for the three messages with SDP, writes the
body's real length into Content-Length: the archive's values (268, 181, 236) match neither the LF nor the
CRLF body (242/251, 180/189, 236/245), and the sections are about IPv6 references, not framing.  Every
other octet is the RFC's.

Expectations are the RFC's: only §4.2 is invalid ("should respond with a 400 Bad Request"); the rest must
be accepted, including the two forms RFC 3261's grammar does not allow but RFC 5118 says to tolerate
(§4.5 "[...]" around a Via received address, §4.10 three colons before an embedded IPv4 address).
"""

from __future__ import annotations

import re

import pytest
import rfc_corpus

from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.message import Request, parse_message
from twochat_voice_web.sip.sdp import parse_sdp
from twochat_voice_web.sip.uri import SipUri

pytestmark = pytest.mark.skipif(
    rfc_corpus.find("rfc5118") is None,
    reason="RFC 5118 archive not present (tests/unit/rfc5118/README.md says where it goes)",
)

_CONTENT_LENGTH_RE = re.compile(rb"^(Content-Length:) *[0-9]+\r$", re.MULTILINE | re.IGNORECASE)


def wire(name: str) -> bytes:
    """The archive's message as SIP bytes: CRLF line ends, a closed header section, the real length."""
    raw = rfc_corpus.read("rfc5118", name)
    assert b"\r" not in raw
    data = raw.replace(b"\n", b"\r\n")
    if b"\r\n\r\n" not in data:
        data += b"\r\n"
    head, _, body = data.partition(b"\r\n\r\n")
    head = _CONTENT_LENGTH_RE.sub(lambda m: m.group(1) + b" " + str(len(body)).encode() + b"\r", head + b"\r")
    return head[:-1] + b"\r\n\r\n" + body


def request(name: str) -> Request:
    message = parse_message(wire(name))
    assert isinstance(message, Request)
    return message


def test_the_archive_is_complete_and_bit_exact():
    assert len(rfc_corpus.manifest("rfc5118")) == 12
    for name in rfc_corpus.manifest("rfc5118"):
        rfc_corpus.read("rfc5118", name)


def test_wire_changes_only_line_ends_and_content_length():
    for name in rfc_corpus.manifest("rfc5118"):
        raw = rfc_corpus.read("rfc5118", name)
        data = wire(name)
        normalised = re.sub(rb"(?im)^Content-Length: *[0-9]+$", b"Content-Length", raw)
        assert re.sub(rb"(?im)^Content-Length: *[0-9]+\r$", b"Content-Length\r", data).replace(
            b"\r\n", b"\n"
        ).rstrip(b"\n") == normalised.rstrip(b"\n")


def test_4_1_valid_ipv6_references():
    r = request("ipv6-good")
    assert r.uri == SipUri(host="[2001:db8::10]")
    assert r.via[0].host == "[2001:db8::9:1]"
    assert r.contacts[0].uri == SipUri(user="caller", host="[2001:db8::1]")


def test_4_2_ipv6_address_without_brackets_in_request_uri_is_rejected():
    with pytest.raises(ParseError, match="Request-URI") as info:
        parse_message(wire("ipv6-bad"))
    assert info.value.status_hint == 400


def test_4_3_port_inside_the_brackets_is_part_of_the_address():
    # "From a parsing perspective, the request below is well-formed": 2001:db8::10:5070 is an address.
    uri = request("port-ambiguous").uri
    assert uri == SipUri(host="[2001:db8::10:5070]")
    assert isinstance(uri, SipUri) and uri.port is None


def test_4_4_port_after_the_brackets():
    uri = request("port-unambiguous").uri
    assert uri == SipUri(host="[2001:db8::10]", port=5070)


@pytest.mark.parametrize(
    ("name", "received"),
    [
        ("via-received-param-with-delim", "[2001:db8::9:255]"),
        ("via-received-param-no-delim", "2001:db8::9:255"),
    ],
)
def test_4_5_via_received_with_or_without_brackets(name, received):
    # "A SIP implementation receiving either of these messages must parse them successfully."
    via = request(name).via[0]
    assert (via.host, via.received) == ("[2001:db8::9:1]", received)


def test_4_6_ipv6_addresses_in_sdp():
    r = request("ipv6-in-sdp")
    assert r.uri == SipUri(user="user", host="[2001:db8::10]")
    sdp = parse_sdp(r.body)
    assert sdp.origin.address == "2001:db8::20"
    assert sdp.connection is not None and sdp.connection.address == "2001:db8::20"


def test_4_7_multiple_ip_addresses_in_headers():
    r = request("mult-ip-in-header")
    assert [(v.transport, v.host, v.port, v.received) for v in r.via] == [
        ("UDP", "[2001:db8::9:1]", 6050, None),
        ("UDP", "192.0.2.1", None, None),
        ("TCP", "[2001:db8::9:255]", None, "192.0.2.200"),
    ]


def test_4_8_multiple_ip_addresses_in_sdp():
    r = request("mult-ip-in-sdp")
    sdp = parse_sdp(r.body)
    addresses = [m.connection.address for m in sdp.media if m.connection is not None]
    assert addresses == ["192.0.2.1", "2001:db8::1"]


def test_4_9_ipv4_mapped_ipv6_addresses():
    r = request("ipv4-mapped-ipv6")
    assert [(v.host, v.port) for v in r.via] == [("[::ffff:192.0.2.10]", 19823), ("[::ffff:192.0.2.2]", None)]
    assert r.contacts[0].uri == SipUri(user="ted", host="[::ffff:192.0.2.2]")
    assert parse_sdp(r.body).origin.address == "::ffff:192.0.2.2"


def test_4_10_three_colons_before_the_ipv4_part_are_tolerated():
    # "an implementation must tolerate both of the above constructs"
    three = request("ipv6-bug-abnf-3-colons")
    two = request("ipv6-correct-abnf-2-colons")
    assert three.uri == SipUri(user="user", host="[2001:db8:::192.0.2.1]")
    assert two.uri == SipUri(user="user", host="[2001:db8::192.0.2.1]")
    assert three.to.uri == three.uri
    # Both name the same address: the URIs compare equal under RFC 3261 §19.1.4.
    assert isinstance(three.uri, SipUri) and three.uri.matches(two.uri)
    assert three.to_bytes().startswith(b"OPTIONS sip:user@[2001:db8:::192.0.2.1] SIP/2.0\r\n")
