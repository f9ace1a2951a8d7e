"""RFC 4475 (SIP Torture Test Messages): every message of the RFC's own archive, byte for byte.

The expectation for each message is what its RFC section says a receiving element does with it: the
§3.1.1 messages are valid and must parse; the §3.1.2 messages are invalid and the RFC asks for 400 Bad
Request (505 for §3.1.2.16), or lets an element reject them, which this parser does, naming the fault the
RFC names; the §3.2/§3.3/§3.4 messages are well-formed at the parser level (the transaction or
application layer rejects them) unless the RFC says the element should answer 400. ``test.dat`` is in the
archive but described by no section, so only its bytes are checked.
"""

from __future__ import annotations

import pytest
import rfc_corpus

from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.headers import CSeq
from twochat_voice_web.sip.message import Request, Response, make_response, parse_message
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri

pytestmark = pytest.mark.skipif(
    rfc_corpus.find("rfc4475") is None,
    reason="RFC 4475 archive not present (tests/unit/rfc4475/README.md says where it goes)",
)

SDP_150 = (
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
)


def data(name: str) -> bytes:
    return rfc_corpus.read("rfc4475", name + ".dat")


def body_of(raw: bytes) -> bytes:
    return raw[raw.index(b"\r\n\r\n") + 4 :]


def request(name: str) -> Request:
    message = parse_message(data(name))
    assert isinstance(message, Request)
    return message


def response(name: str) -> Response:
    message = parse_message(data(name))
    assert isinstance(message, Response)
    return message


def reparses_to_the_same(message: Request | Response) -> None:
    again = parse_message(message.to_bytes())
    assert again.start_line == message.start_line
    assert list(again.headers) == list(message.headers)
    assert again.body == message.body


def test_the_archive_is_complete_and_bit_exact():
    names = rfc_corpus.manifest("rfc4475")
    assert len(names) == 50  # 49 messages of §3 and test.dat
    for name in names:
        rfc_corpus.read("rfc4475", name)


# --- §3.1.1 valid messages --------------------------------------------------------------------------------


def test_3_1_1_1_short_tortuous_invite():
    r = request("wsinv")
    assert r.uri == SipUri(user="vivekg", host="chair-dnrc.example.com", params=(("unknownparam", None),))
    assert r.to.uri == SipUri(user="vivekg", host="chair-dnrc.example.com")
    assert r.to.tag == "1918181833n"
    assert r.from_.display_name == 'J Rosenberg \\"'  # "J Rosenberg \\\"" : an escaped \ and an escaped "
    assert r.from_.tag == "98asjd8"
    assert r.max_forwards == 68  # 0068: leading zeros
    assert r.cseq == CSeq(9, "INVITE")  # 0009
    assert r.headers.get("Subject") == ""  # "s :" is an empty Subject
    assert r.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert r.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert [(v.transport, v.host, v.branch) for v in r.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert r.routes[0].uri.params == (  # type: ignore[union-attr]
        ("lr", None),
        ("unknownwith", "value"),
        ("unknown-no-value", None),
    )
    contact = r.contacts[0]
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert r.content_type == "application/sdp"
    assert r.body == SDP_150
    reparses_to_the_same(r)


def test_3_1_1_2_wide_range_of_valid_characters():
    raw = data("intmeth")
    assert b'"BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f"' in raw  # the archive's real bytes: escaped controls
    r = request("intmeth")
    method = "!interesting-Method0123456789_*+`.%indeed'~"
    assert r.method == method
    assert r.cseq == CSeq(139122385, method)
    assert r.uri == SipUri(
        user="1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*",
        password="&it+has=1,weird!*pas$wo~d_too.(doesn't-it)",
        host="example.com",
    )
    # quoted-pair = "\" (%x00-09 / %x0B-0C / %x0E-7F): the display name holds BEL, NUL and DEL.
    assert r.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert r.to.uri == SipUri(user="1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*", host="example.com")
    assert r.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert r.from_.param("fromParam''~+*_!.-%") == '"работающий"'
    assert r.from_.tag == "_token~1'+`*%!-."
    assert r.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert r.via[0].branch == "z9hG4bK-.!%66*_+`'~"
    assert r.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    reparses_to_the_same(r)


def test_3_1_1_2_a_response_echoes_the_escaped_controls():
    r = request("intmeth")
    answer = make_response(r, 200)
    assert b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:' in answer.to_bytes()
    assert parse_message(answer.to_bytes()).to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"


def test_3_1_1_3_valid_use_of_the_percent_escaping_mechanism():
    r = request("esc01")
    assert r.uri == SipUri(user="sips:user@example.com", host="example.net")
    assert r.from_.uri.user == "I have spaces"  # type: ignore[union-attr]
    assert r.to.uri.user == "user"  # type: ignore[union-attr]
    uri = r.contacts[0].uri
    assert isinstance(uri, SipUri)
    assert uri.has_param("lr")
    assert uri.param("name") == "value%41"  # %25 is '%', and "%41" stays as text
    assert r.body == body_of(data("esc01"))
    assert len(r.body) == r.content_length == 150


def test_3_1_1_4_escaped_nulls_in_uris():
    r = request("escnull")
    assert r.to.uri.user == "null-\x00-null"  # type: ignore[union-attr]
    assert r.from_.uri.user == "null-\x00-null"  # type: ignore[union-attr]
    assert [c.uri.user for c in r.contacts] == ["\x00", "\x00\x00"]  # type: ignore[union-attr]
    assert r.contacts[0].uri != r.contacts[1].uri


def test_3_1_1_5_use_of_percent_when_it_is_not_an_escape():
    r = request("esc02")
    assert r.method == "RE%47IST%45R"  # an unknown method, not REGISTER
    assert r.to.display_name == "%Z%45"
    assert r.from_.display_name == "%Z%45"
    assert r.via[0].branch == "z9hG4bK209%fzsnel234"
    assert [str(c.uri) for c in r.contacts] == [
        "sip:alias1@host1.example.com",
        "sip:alias3@host3.example.com",
    ]  # two Contacts, not three: "C%6Fntact" is another header
    assert r.headers.get("C%6Fntact") == "<sip:alias2@host2.example.com>"


def test_3_1_1_6_no_lws_between_display_name_and_bracket():
    r = request("lwsdisp")
    assert r.from_.display_name == "caller"
    assert r.from_.uri == SipUri(user="caller", host="example.com")


def test_3_1_1_7_long_values_in_header_fields():
    r = request("longreq")
    assert r.to.display_name == "I have a user name of " + "extreme" * 10 + " proportion"
    to_uri = r.to.uri
    assert isinstance(to_uri, SipUri)
    assert (to_uri.host, to_uri.port) == ("example.com", 6000)
    assert (to_uri.param("unknownparam1") or "").startswith("verylonglonglong")
    assert r.from_.uri.user == "amazinglylongcallername" * 5  # type: ignore[union-attr]
    assert (r.from_.tag or "").startswith("1298298298")
    assert r.call_id == "longreq.one" + "really" * 20 + "longcallid"
    assert [v.host for v in r.via] == [f"sip{i}.example.com" for i in range(33, 0, -1)] + ["host.example.com"]
    assert r.body == body_of(data("longreq"))
    assert len(r.body) == r.content_length == 150
    reparses_to_the_same(r)


def test_3_1_1_8_extra_trailing_octets_in_a_udp_datagram():
    raw = data("dblreq")
    r = request("dblreq")
    assert r.method == "REGISTER"
    assert r.body == b""  # Content-Length: 0; the INVITE after it is discarded (RFC 3261 §18.3)
    assert raw.count(b"INVITE sip:joe@example.com SIP/2.0") == 1


def test_3_1_1_9_semicolon_separated_parameters_in_uri_user_part():
    r = request("semiuri")
    assert r.uri == SipUri(user="user;par=u@example.net", host="example.com")
    assert len(r.headers.get_list("Accept")) == 6


def test_3_1_1_10_varied_and_unknown_transport_types():
    r = request("transports")
    assert [v.transport for v in r.via] == ["UDP", "SCTP", "TLS", "UNKNOWN", "TCP"]


def test_3_1_1_11_multipart_mime_message():
    raw = data("mpart01")
    r = request("mpart01")
    assert r.content_type == "multipart/mixed"
    assert b"\x00" in r.body  # the binary part's NULs
    assert r.body == body_of(raw)  # binary body untouched, bare CR/LF included
    assert len(r.body) == r.content_length
    assert r.to_bytes() == raw


def test_3_1_1_12_unusual_reason_phrase():
    raw = data("unreason")
    r = response("unreason")
    assert r.status_code == 200
    assert r.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert r.body == body_of(raw)
    assert len(r.body) == 154
    assert r.to_bytes() == raw


def test_3_1_1_13_empty_reason_phrase():
    raw = data("noreason")
    assert raw.startswith(b"SIP/2.0 100 \r\n")
    r = response("noreason")
    assert (r.status_code, r.reason) == (100, "")


# --- §3.1.2 invalid messages ------------------------------------------------------------------------------

# (file, section, what the RFC says is wrong -> a fragment the ParseError must name)
INVALID = [
    ("badinv01", "3.1.2.1 extraneous header field separators", "Via"),
    ("clerr", "3.1.2.2 Content-Length larger than the datagram", "Content-Length"),
    ("ncl", "3.1.2.3 negative Content-Length", "Content-Length"),
    ("scalar02", "3.1.2.4 request scalar fields with overlarge values", "CSeq"),
    ("scalarlg", "3.1.2.5 response scalar fields with overlarge values", "CSeq"),
    ("quotbal", "3.1.2.6 unterminated quoted string in display name", "To: unterminated quoted string"),
    ("ltgtruri", "3.1.2.7 <> enclosing Request-URI", "Request-URI"),
    ("lwsruri", "3.1.2.8 malformed Request-URI (embedded LWS)", "Request-URI contains whitespace"),
    ("lwsstart", "3.1.2.9 multiple SP separating Request-Line elements", "single spaces"),
    ("trws", "3.1.2.10 SP characters at end of Request-Line", "single spaces"),
    ("escruri", "3.1.2.11 escaped headers in SIP Request-URI", "Request-URI must not contain headers"),
    ("badaspec", "3.1.2.14 spaces within addr-spec", "To"),
    ("badvers", "3.1.2.16 unknown protocol version", "unsupported SIP version"),
    ("mismatch01", "3.1.2.17 start line and CSeq method mismatch", "does not match the request method"),
    ("mismatch02", "3.1.2.18 unknown method with CSeq method mismatch", "does not match the request method"),
    ("bigcode", "3.1.2.19 overlarge response code", "three digits"),
    # §3.3.1 missing required header fields and §3.3.8/§3.3.9: "respond with 400 Bad Request".
    ("insuf", "3.3.1 missing required header fields", "missing (Call-ID|From|To) header"),
    ("multi01", "3.3.8 multiple values in single value required fields", "appears 2 times"),
    ("mcl01", "3.3.9 multiple Content-Length values", "Content-Length header appears 2 times"),
]


@pytest.mark.parametrize(("name", "section", "fragment"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_messages_are_rejected_naming_the_fault(name, section, fragment):
    with pytest.raises(ParseError, match=fragment) as info:
        parse_message(data(name))
    assert info.value.status_hint == (505 if name == "badvers" else 400)


def test_3_1_2_15_the_display_names_themselves_are_refused():
    raw = data("baddn")
    # The archive's baddn.dat ends after "l: 0\r\n": its header section has no closing empty line, which
    # alone makes the datagram malformed.  With the empty line added, the unquoted display names with
    # ',' (the fault the section describes) are what is refused.
    assert raw.endswith(b"l: 0\r\n") and b"\r\n\r\n" not in raw
    with pytest.raises(ParseError, match="no blank line"):
        parse_message(raw)
    with pytest.raises(ParseError, match="From"):
        parse_message(raw + b"\r\n")


def test_3_1_2_12_invalid_time_zone_in_date_is_ignored():
    # "an element shouldn't [reject] unless the contents of the Date header field were actually
    # important to its processing": the parser does not interpret Date.
    r = request("baddate")
    assert r.headers.get("Date") == "Fri, 01 Jan 2010 16:00:00 EST"


def test_3_1_2_13_name_addr_uri_not_enclosed_is_refused_when_read():
    r = request("regbadct")
    with pytest.raises(ParseError, match="enclosed"):
        r.contacts  # noqa: B018


# --- §3.2 / §3.3 / §3.4: well-formed for the parser, judged by the layers above -----------------------


def test_3_2_1_missing_transaction_identifier_parses():
    # "A parser must not break when receiving this message."
    assert request("badbranch").via[0].branch == "z9hG4bK"


def test_3_3_2_request_uri_with_unknown_scheme():
    assert request("unkscm").uri == AbsoluteUri("nobodyknowsthisscheme", "totallyopaquecontent")


def test_3_3_3_request_uri_with_known_but_atypical_scheme():
    assert request("novelsc").uri == AbsoluteUri("soap.beep", "//192.0.2.103:3002")


def test_3_3_4_unknown_uri_schemes_in_header_fields():
    r = request("unksm2")
    assert r.to.uri == AbsoluteUri("isbn", "2983792873")
    assert r.from_.uri == AbsoluteUri("http", "//www.example.com")
    assert r.contacts[0].uri == AbsoluteUri("name", "John_Smith")


def test_3_3_5_proxy_require_and_require():
    r = request("bext01")
    assert r.require == ["nothingSupportsThis", "nothingSupportsThisEither"]
    assert r.proxy_require == ["noProxiesSupportThis", "norDoAnyProxiesSupportThis"]


def test_3_3_6_unknown_content_type():
    r = request("invut")
    assert r.content_type == "application/unknownformat"
    assert len(r.body) == 40


def test_3_3_7_unknown_authorization_scheme():
    assert request("regaut01").headers.get("Authorization") == "NoOneKnowsThisScheme opaque-data=here"


def test_3_3_10_200_ok_with_broadcast_via():
    r = response("bcast")
    assert [v.host for v in r.via] == ["192.0.2.198", "255.255.255.255"]


def test_3_3_11_max_forwards_of_zero():
    assert request("zeromf").max_forwards == 0


def test_3_3_12_register_with_a_contact_header_parameter():
    contact = request("cparam01").contacts[0]
    assert contact.uri == SipUri(user="+19725552222", host="gw1.example.net")
    assert contact.params == (("unknownparam", None),)


def test_3_3_13_register_with_a_url_parameter():
    contact = request("cparam02").contacts[0]
    assert contact.uri == SipUri(
        user="+19725552222", host="gw1.example.net", params=(("unknownparam", None),)
    )
    assert contact.params == ()


def test_3_3_14_register_with_a_url_escaped_header():
    uri = request("regescrt").contacts[0].uri
    assert isinstance(uri, SipUri)
    assert uri.headers == (("Route", "<sip:sip.example.com>"),)


def test_3_3_15_unacceptable_accept_offering():
    assert request("sdp01").headers.get("Accept") == "text/nobodyKnowsThis"


def test_3_4_1_invite_with_rfc_2543_syntax():
    raw = data("inv2543")
    r = request("inv2543")
    assert r.via[0].branch is None
    assert r.from_.tag is None
    assert r.max_forwards is None
    assert r.content_length is None
    assert r.body == body_of(raw)  # no Content-Length: the rest of the datagram
    # RFC 3261 §20.10: after an addr-spec, ";user=phone" is a header parameter.
    assert r.to.param("user") == "phone"
