"""A torture suite modelled on RFC 4475's categories: valid-but-strange messages that must parse (and
serialise back), and invalid messages that must raise ParseError naming the problem."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torture_messages as tm

from twochat_voice_web.sip.errors import MessageTooLargeError, ParseError
from twochat_voice_web.sip.headers import CSeq
from twochat_voice_web.sip.message import ParserLimits, Request, Response, make_response, parse_message
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri, TelUri


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def reparse_equal(message: Request | Response) -> None:
    """Serialise, parse again, and compare start line, headers and body."""
    again = parse_message(message.to_bytes())
    assert again.start_line == message.start_line
    assert [(n, v) for n, v in again.headers if n.lower() not in ("content-length", "l")] == [
        (n, v) for n, v in message.headers if n.lower() not in ("content-length", "l")
    ]
    assert again.body == message.body


# --- valid messages -------------------------------------------------------------------------------------


def test_tortuous_invite():
    request = parse_request(tm.TORTUOUS_INVITE)
    assert request.uri == SipUri(
        user="vivekg", host="chair-dnrc.example.com", params=(("unknownparam", None),)
    )
    assert request.to.tag == "1918181833n"
    assert request.to.uri == SipUri(user="vivekg", host="chair-dnrc.example.com")
    assert request.from_.display_name == 'J Rosenberg \\"'
    assert request.from_.tag == "98asjd8"
    assert request.max_forwards == 68
    assert request.cseq == CSeq(9, "INVITE")
    assert [(v.transport, v.host, v.branch) for v in request.via] == [
        ("UDP", "192.0.2.2", "390skdjuw"),
        ("TCP", "spindle.example.com", "z9hG4bK9ikj8"),
        ("UDP", "192.168.255.111", "z9hG4bK30239"),
    ]
    assert request.headers.get("Subject") == ""
    assert request.headers.get("newfangledheader") == "newfangled value continued newfangled value"
    assert request.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert request.routes[0].uri.params == (  # type: ignore[union-attr]
        ("lr", None),
        ("unknownwith", "value"),
        ("unknown-no-value", None),
    )
    contact = request.contacts[0]
    assert contact.display_name == 'Quoted string ""'
    assert contact.params == (("newparam", "newvalue"), ("secondparam", None), ("q", "0.33"))
    assert request.content_type == "application/sdp"
    assert request.body == tm.SDP_BODY
    reparse_equal(request)


def test_wide_range_of_valid_characters():
    request = parse_request(tm.WIDE_RANGE)
    assert request.method == tm.INTERESTING_METHOD
    assert request.cseq.method == tm.INTERESTING_METHOD
    uri = request.uri
    assert isinstance(uri, SipUri)
    assert uri.user == "1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    assert uri.password == "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)"
    assert request.to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"
    assert request.from_.display_name == "token1~` token2'+_ token3*%!.-"
    assert request.from_.param("fromParam''~+*_!.-%") == '"работающий"'
    assert request.from_.tag == "_token~1'+`*%!-."
    assert request.call_id == "intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{"
    assert request.max_forwards == 255
    assert request.headers.get("extensionHeader-!.%*+_`'~") == "\ufeff大停電"
    reparse_equal(request)


def test_escaped_control_characters_survive_a_response():
    # RFC 3261 §8.2.6.2: the response copies To; its quoted-pairs of BEL, NUL and DEL go out as received.
    answer = make_response(parse_request(tm.WIDE_RANGE), 200, to_tag="t1")
    assert b'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" <sip:' in answer.to_bytes()
    assert parse_message(answer.to_bytes()).to.display_name == "BEL:\x07 NUL:\x00 DEL:\x7f"


def test_escaped_uris():
    request = parse_request(tm.ESCAPED_URIS)
    assert request.uri == SipUri(user="sips:user@example.com", host="example.net")
    assert request.to.uri == SipUri(user="user", host="example.com")
    assert request.from_.uri.user == "I have spaces"  # type: ignore[union-attr]
    contact_uri = request.contacts[0].uri
    assert isinstance(contact_uri, SipUri)
    assert contact_uri.user == "caller"
    assert contact_uri.has_param("lr")
    assert contact_uri.param("name") == "value%41"
    assert contact_uri.matches(SipUri(user="caller", host="HOST5.example.net", params=(("lr", None),)))
    assert request.to_bytes().startswith(b"INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0\r\n")


def test_escaped_nulls():
    request = parse_request(tm.ESCAPED_NULLS)
    assert request.to.uri.user == "null-\x00-null"  # type: ignore[union-attr]
    assert [c.uri.user for c in request.contacts] == ["\x00", "\x00\x00"]  # type: ignore[union-attr]
    assert str(request.contacts[1].uri) == "sip:%00%00@host5.example.com"


def test_escaped_method_is_an_unknown_method():
    request = parse_request(tm.ESCAPED_METHOD)
    assert request.method == "RE%47IST%45R"
    assert request.method != "REGISTER"
    assert request.to.uri == SipUri(user="sip", password="user", host="example.com")


def test_display_name_without_lws_before_bracket():
    request = parse_request(tm.DISPLAY_NAME_WITHOUT_LWS)
    assert request.from_.display_name == "caller"
    assert request.from_.tag == "323"


def test_long_values():
    request = parse_request(tm.LONG_VALUES)
    assert len(request.via) == 30
    assert request.via[-1].host == "sip29.example.com"
    assert len(request.routes) == 60
    assert request.to.display_name is not None
    assert request.to.display_name.endswith("extreme proportion")
    assert request.from_.tag == "12" + "9" * 300
    assert len(request.call_id) == len("longreq.one") + 900
    assert len(request.headers.get("X-Long") or "") == 5000
    reparse_equal(request)


def test_datagram_with_two_requests_keeps_only_the_first():
    request = parse_request(tm.TWO_REQUESTS_ONE_DATAGRAM)
    assert request.method == "REGISTER"
    assert request.body == b""


def test_semicolon_in_user_part():
    request = parse_request(tm.SEMICOLON_USER)
    assert request.uri == SipUri(user="user;par=u@example.net", host="example.com")
    assert request.from_.tag == "33242"


def test_unusual_transports():
    request = parse_request(tm.UNUSUAL_TRANSPORTS)
    assert [v.transport for v in request.via] == ["SCTP", "TLS-SCTP", "UNKNOWN"]


def test_multipart_body_is_untouched():
    request = parse_request(tm.MULTIPART)
    assert request.body == tm.MULTIPART_BODY
    assert request.content_type == "multipart/mixed"
    assert request.to_bytes() == tm.MULTIPART


def test_unusual_reason_phrase():
    message = parse_message(tm.UNUSUAL_REASON)
    assert isinstance(message, Response)
    assert message.reason == "= 2**3 * 5**2 но сто девяносто девять - простое"
    assert message.to_bytes() == tm.UNUSUAL_REASON


def test_empty_reason_phrase():
    message = parse_message(tm.NO_REASON)
    assert isinstance(message, Response)
    assert (message.status_code, message.reason) == (100, "")
    assert message.to_bytes() == tm.NO_REASON


def test_unknown_uri_schemes():
    request = parse_request(tm.UNKNOWN_SCHEMES)
    assert request.uri == AbsoluteUri("nobodyknowsthisscheme", "totallyopaquecontent")
    assert request.to.uri == AbsoluteUri("nobodyknowsthisscheme", "totallyopaquecontent")
    assert request.from_.uri == AbsoluteUri("urn", "uuid:2e5fdc76-00be-4314-8202-1116fa82a473")
    assert request.to_bytes().startswith(b"OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0")


def test_ipv6_everywhere():
    request = parse_request(tm.IPV6_EVERYWHERE)
    assert request.uri == SipUri(host="[2001:db8::10]")
    via = request.via[0]
    assert (via.host, via.port, via.received) == ("[2001:db8::9:1]", 5070, "2001:db8::9:255")
    assert request.from_.uri == SipUri(user="user", host="[2001:db8::10]", port=5060)
    assert [str(c.uri) for c in request.contacts] == [
        "sip:user@[2001:db8::9:1]:5070;transport=udp",
        "sips:user@[::ffff:192.0.2.1]",
    ]


def test_max_forwards_zero_is_valid():
    assert parse_request(tm.ZERO_MAX_FORWARDS).max_forwards == 0


def test_compact_only_message():
    request = parse_request(tm.COMPACT_ONLY)
    assert request.call_id == "compact@abc.invalid"
    assert request.content_type == "text/plain"
    assert request.supported == ["100rel", "timer"]
    assert request.body == b"hello"
    assert request.to_bytes() == tm.COMPACT_ONLY


def test_star_contact():
    request = parse_request(tm.STAR_CONTACT)
    assert request.contact_is_star
    assert request.contacts == []
    assert request.expires == 0


def test_many_contacts_over_lines_and_commas():
    request = parse_request(tm.MANY_CONTACTS)
    contacts = request.contacts
    assert len(contacts) == 4
    assert contacts[0].param("q") == "0.7"
    assert contacts[0].param("expires") == "3600"
    assert contacts[1].uri == AbsoluteUri("mailto", "watson@bell-telephone.example.com")
    assert contacts[2].uri == SipUri(user="watson", host="[::1]", port=5080)
    assert contacts[2].param("expires") == "30"
    assert contacts[3].uri.param("gr") == "urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6"  # type: ignore[union-attr]
    assert contacts[3].param("reg-id") == "1"


def test_lowercase_sip_version():
    assert parse_request(tm.LOWERCASE_VERSION).start_line == "OPTIONS sip:user@example.com SIP/2.0"


def test_tel_request_uri():
    request = parse_request(tm.TEL_REQUEST_URI)
    assert request.uri == TelUri("+1-201-555-0123", (("phone-context", "+1"),))
    assert request.to.uri == TelUri("+1-201-555-0123")


def test_rfc2543_style_without_branch_or_tags():
    request = parse_request(tm.RFC2543_STYLE)
    assert request.via[0].branch is None
    assert request.from_.tag is None
    assert request.to.tag is None


def test_odd_header_names_and_values():
    request = parse_request(tm.ODD_HEADER_NAMES)
    assert request.headers.get("x-!%*_+`'~.") == "odd name"
    assert request.headers.get("X-Empty") == ""
    assert request.headers.get("x-tabs") == "value\twith\ttabs"
    reparse_equal(request)


def test_leading_crlfs():
    assert parse_request(tm.LEADING_CRLF).method == "OPTIONS"


# --- invalid messages -----------------------------------------------------------------------------------

INVALID: list[tuple[str, bytes, str]] = [
    (
        "content-length-larger-than-body",
        tm.request(content_length=100, body=b"short"),
        "larger than the body",
    ),
    ("negative-content-length", tm.request(content_length=-999), "Content-Length"),
    ("huge-content-length", tm.request(content_length=99999999999999999999), "Content-Length"),
    ("signed-content-length", tm.request(content_length="+5", body=b"hello"), "Content-Length"),  # type: ignore[arg-type]
    ("non-numeric-content-length", tm.request(content_length="abc"), "Content-Length"),  # type: ignore[arg-type]
    ("two-content-lengths", tm.request(extra="l: 0"), "Content-Length header appears 2 times"),
    ("missing-call-id", tm.request(call_id=None), "missing Call-ID"),
    ("missing-to", tm.request(to=None), "missing To"),
    ("missing-from", tm.request(from_=None), "missing From"),
    ("missing-via", tm.request(via=None), "missing Via"),
    ("only-a-start-line", b"OPTIONS sip:a@example.com SIP/2.0\r\n\r\n", "missing Via"),
    (
        "cseq-method-mismatch",
        tm.request(cseq="1 OPTIONS", first_line="INVITE sip:a@example.com SIP/2.0"),
        "does not match the request method",
    ),
    (
        "cseq-unknown-method-mismatch",
        tm.request("NEWMETHOD sip:a@example.com SIP/2.0", cseq="1 INVITE"),
        "does not match",
    ),
    ("cseq-too-large", tm.request(cseq="36893488147419103232 OPTIONS"), "less than 2\\*\\*31"),
    ("cseq-without-method", tm.request(cseq="1"), "CSeq"),
    ("two-call-ids", tm.request(extra="i: other@example.com"), "Call-ID header appears 2 times"),
    ("two-froms", tm.request(extra="f: <sip:x@example.com>;tag=2"), "From header appears 2 times"),
    ("two-addresses-in-to", tm.request(to="sip:a@example.com, sip:b@example.com"), "To"),
    (
        "two-max-forwards",
        tm.request(extra="Max-Forwards: 70\nMax-Forwards: 69"),
        "Max-Forwards header appears",
    ),
    ("request-uri-in-angle-brackets", tm.request("INVITE <sip:user@example.com> SIP/2.0"), "Request-URI"),
    ("lws-in-request-uri", tm.request("INVITE sip:user@example.com; lr SIP/2.0"), "whitespace"),
    ("multiple-sp-in-request-line", tm.request("INVITE  sip:user@example.com  SIP/2.0"), "single spaces"),
    ("sp-after-version", tm.request("OPTIONS sip:user@example.com SIP/2.0 "), "single spaces"),
    (
        "headers-in-request-uri",
        tm.request("INVITE sip:user@example.com?Route=%3Csip:example.com%3E SIP/2.0"),
        "must not contain headers",
    ),
    ("bad-request-uri-host", tm.request("INVITE sip:user@example..com SIP/2.0"), "Request-URI.*host"),
    ("unbracketed-ipv6-request-uri", tm.request("INVITE sip:2001:db8::1 SIP/2.0"), "Request-URI"),
    ("method-not-a-token", tm.request("IN(VITE sip:a@example.com SIP/2.0"), "method is not a token"),
    (
        "unterminated-quote-in-display-name",
        tm.request(from_='"Mr. J. User <sip:j.user@example.com>;tag=1'),
        "From: unterminated quoted string",
    ),
    (
        "unquoted-display-name-with-comma",
        tm.request(from_="Bell, Alexander <sip:a.g.bell@example.com>;tag=43"),
        "From",
    ),
    ("from-addr-spec-with-spaces", tm.request(from_="sip:  jdrosen@example.com ;tag=1"), "From"),
    ("to-tag-without-value", tm.request(to="<sip:bob@example.com>;tag"), "tag parameter without a value"),
    ("bad-sip-version", tm.request("OPTIONS sip:t.watson@example.org SIP/7.0"), "unsupported SIP version"),
    ("garbled-sip-version", tm.request("OPTIONS sip:t.watson@example.org SIP/2"), "SIP-Version"),
    ("response-bad-version", tm.response("SIP/3.0 200 OK"), "unsupported SIP version"),
    ("status-code-too-long", tm.response("SIP/2.0 4294967301 better not break the receiver"), "three digits"),
    ("status-code-too-small", tm.response("SIP/2.0 099 Too Small"), "not in 100..699"),
    ("status-code-too-large", tm.response("SIP/2.0 700 Too Large"), "not in 100..699"),
    ("status-code-two-digits", tm.response("SIP/2.0 20 OK"), "three digits"),
    ("http-response", tm.response("HTTP/1.1 200 OK"), "neither a SIP request nor a SIP/2.0 response"),
    ("tls-client-hello", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", "control character|UTF-8"),
    ("random-garbage", b"\xde\xad\xbe\xef garbage \r\n\r\n", "UTF-8"),
    ("nul-in-header", tm.request(extra="Subject: nul\x00here"), "control character '\\\\x00' in line"),
    ("del-in-header", tm.request(extra="Subject: del\x7fhere"), "control character"),
    (
        "unescaped-control-char-in-quoted-string",
        tm.request(from_='"BEL:\x07" <sip:a@example.com>;tag=1'),
        "control character '\\\\x07' in line 4",
    ),
    (
        "escaped-control-char-outside-quoted-string",
        tm.request(extra="Subject: BEL:\\\x07"),
        "control character '\\\\x07' in line 7",
    ),
    (
        "escaped-control-char-in-request-line",
        tm.request('OPTIONS sip:a@example.com;x="\\\x07" SIP/2.0'),
        "control character '\\\\x07' in line 1",
    ),
    ("escaped-cr-in-quoted-string", tm.request(from_='"CR:\\\r" <sip:a@example.com>;tag=1'), "bare CR"),
    (
        "latin1-display-name",
        tm.request(from_='"JosX" <sip:jose@example.com>;tag=1').replace(b"JosX", b"Jos\xe9"),
        "not valid UTF-8",
    ),
    (
        "bare-lf-line-ends",
        tm.request().replace(b"\r\n", b"\n").replace(b"\n\n", b"\r\n\r\n"),
        "bare CR or LF",
    ),
    ("bare-cr", tm.request(extra="Subject: a\rb"), "'\\\\r'"),
    ("truncated-no-blank-line", tm.request()[:-2], "no blank line"),
    ("empty", b"", "empty message"),
    ("only-crlfs", b"\r\n\r\n\r\n\r\n", "empty message"),
    ("header-without-colon", tm.request(extra="JustAWord"), "without ':'"),
    ("header-name-with-space", tm.request(extra="Bad Header: x"), "not a token"),
    ("header-name-empty", tm.request(extra=": value"), "not a token"),
    (
        "folding-onto-start-line",
        tm.wire("OPTIONS sip:a@example.com SIP/2.0\n continued\nVia: x"),
        "whitespace",
    ),
    ("via-empty-branch", tm.request(via="SIP/2.0/UDP h.example.com;branch="), "Via"),
    ("via-no-transport", tm.request(via="SIP/2.0 h.example.com"), "Via: sent-protocol"),
    (
        "via-unterminated-ipv6",
        tm.request(via="SIP/2.0/UDP [2001:db8::1;branch=z9hG4bK1"),
        "Via: sent-by host",
    ),
    ("via-received-not-ip", tm.request(via="SIP/2.0/UDP h.example.com;received=example.com"), "received"),
    ("via-port-too-large", tm.request(via="SIP/2.0/UDP h.example.com:65536"), "port"),
    ("call-id-with-space", tm.request(call_id="abc def"), "Call-ID"),
    ("call-id-empty", tm.request(call_id=""), "Call-ID"),
    ("to-unbalanced-brackets", tm.request(to="<sip:bob@example.com"), "To: unbalanced"),
    ("from-bad-uri", tm.request(from_="<sip:alice@exa mple.com>;tag=1"), "From"),
]


@pytest.mark.parametrize(("name", "data", "fragment"), INVALID, ids=[case[0] for case in INVALID])
def test_invalid_messages_raise_parse_error_naming_the_problem(name, data, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_message(data)


def test_invalid_version_status_hint_is_505():
    with pytest.raises(ParseError) as info:
        parse_message(tm.request("OPTIONS sip:t.watson@example.org SIP/7.0"))
    assert info.value.status_hint == 505


# Errors found only when the header is accessed (not one of the headers parse_message validates).
ACCESS_ERRORS: list[tuple[str, bytes, Callable[[Request], object], str]] = [
    (
        "contact-with-headers-needs-brackets",
        tm.request(
            "REGISTER sip:example.com SIP/2.0", extra="Contact: sip:user@example.com?Route=%3Csip:x%3E"
        ),
        lambda r: r.contacts,
        "enclosed",
    ),
    (
        "star-mixed-with-contacts",
        tm.request("REGISTER sip:example.com SIP/2.0", extra="Contact: *, <sip:a@example.com>"),
        lambda r: r.contacts,
        "'\\*' must be the only",
    ),
    ("max-forwards-300", tm.request(extra="Max-Forwards: 300"), lambda r: r.max_forwards, "larger than 255"),
    ("max-forwards-negative", tm.request(extra="Max-Forwards: -1"), lambda r: r.max_forwards, "Max-Forwards"),
    ("expires-huge", tm.request(extra="Expires: 10000000000000000000000"), lambda r: r.expires, "Expires"),
    (
        "expires-not-a-number",
        tm.request(extra="Expires: Thu, 01 Dec 1994 16:00:00 GMT"),
        lambda r: r.expires,
        "Expires",
    ),
    (
        "content-type-no-subtype",
        tm.request(extra="Content-Type: application"),
        lambda r: r.content_type,
        "Content-Type",
    ),
    ("allow-with-bad-token", tm.request(extra="Allow: INVITE, B@D"), lambda r: r.allow, "Allow"),
    (
        "route-empty-element",
        tm.request(extra="Route: <sip:a@example.com;lr>,,<sip:b@example.com>"),
        lambda r: r.routes,
        "empty element",
    ),
    (
        "record-route-unterminated",
        tm.request(extra='Record-Route: "x <sip:a@example.com>'),
        lambda r: r.record_routes,
        "unterminated",
    ),
]


@pytest.mark.parametrize(
    ("name", "data", "access", "fragment"), ACCESS_ERRORS, ids=[case[0] for case in ACCESS_ERRORS]
)
def test_invalid_headers_raise_on_access(name, data, access, fragment):
    request = parse_request(data)
    with pytest.raises(ParseError, match=fragment):
        access(request)


@pytest.mark.parametrize(
    ("limits", "data", "fragment"),
    [
        (ParserLimits(max_message_bytes=1000), tm.LONG_VALUES, "bytes, more than the limit"),
        (ParserLimits(max_headers=8), tm.TORTUOUS_INVITE, "header lines"),
        (ParserLimits(max_header_bytes=4096), tm.LONG_VALUES, "longer than the limit"),
        (ParserLimits(), tm.request(extra="X-Huge: " + "a" * 20_000), "longer than the limit"),
        (ParserLimits(), tm.request(extra="\n".join(f"X-{i}: {i}" for i in range(300))), "header lines"),
        (ParserLimits(), tm.request(body=b"x" * 70_000), "more than the limit"),
    ],
)
def test_overlarge_messages(limits, data, fragment):
    with pytest.raises(MessageTooLargeError, match=fragment) as info:
        parse_message(data, limits)
    assert info.value.status_hint == 513
