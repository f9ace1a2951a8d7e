"""Tests for twochat_voice_web.sip.message: parse_message, serialisation, make_response, StreamParser."""

from __future__ import annotations

import pytest
from sipmsgs import INVITE, OK_WITH_SDP, REGISTER, SDP, UNAUTHORIZED, crlf, minimal_request

from twochat_voice_web.sip.errors import LocalProtocolError, MessageTooLargeError, ParseError
from twochat_voice_web.sip.headers import CSeq, Headers
from twochat_voice_web.sip.message import (
    REASON_PHRASES,
    ParserLimits,
    Request,
    Response,
    StreamParser,
    make_response,
    parse_message,
)
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri


def parse_request(data: bytes) -> Request:
    message = parse_message(data)
    assert isinstance(message, Request)
    return message


def parse_response(data: bytes) -> Response:
    message = parse_message(data)
    assert isinstance(message, Response)
    return message


# --- parse_message: ordinary messages -------------------------------------------------------------------


def test_invite_start_line_and_typed_headers():
    request = parse_request(INVITE)
    assert request.method == "INVITE"
    assert request.uri == SipUri(user="bob", host="biloxi.example.com")
    assert request.call_id == "a84b4c76e66710@pc33.atlanta.example.com"
    assert request.cseq == CSeq(314159, "INVITE")
    assert request.from_.display_name == "Alice"
    assert request.from_.tag == "1928301774"
    assert request.to.tag is None
    assert request.via[0].transport == "WSS"
    assert request.via[0].branch == "z9hG4bKnashds8"
    assert request.via[0].has_param("rport")
    assert request.via[0].param("rport") is None
    assert request.contacts[0].uri.transport == "ws"  # type: ignore[union-attr]
    assert request.max_forwards == 70
    assert request.allow == ["INVITE", "ACK", "CANCEL", "BYE", "OPTIONS", "INFO", "NOTIFY"]
    assert request.supported == ["outbound", "timer"]
    assert request.content_type == "application/sdp"
    assert request.body == SDP.encode()


def test_register_contact_params_kept_as_written():
    request = parse_request(REGISTER)
    contact = request.contacts[0]
    assert contact.param("+sip.instance") == '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    assert contact.param("reg-id") == "1"
    assert contact.param("expires") == "600"
    assert request.expires == 600


def test_401_response():
    response = parse_response(UNAUTHORIZED)
    assert response.status_code == 401
    assert response.reason == "Unauthorized"
    assert response.headers.get(
        "www-authenticate",
    ).startswith("Digest realm=")  # type: ignore[union-attr]
    via = response.via[0]
    assert via.received == "192.0.2.33"
    assert via.rport == 53412
    assert response.body == b""


def test_200_with_sdp_and_record_route():
    response = parse_response(OK_WITH_SDP)
    assert response.to.tag == "a6c85cf"
    assert [str(rr.uri) for rr in response.record_routes] == ["sip:proxy.example.com;transport=ws;lr"]
    assert response.contacts[0].uri == SipUri(user="bob", host="192.0.2.4", port=5060)


def test_str_input_is_accepted():
    assert parse_message(INVITE.decode()).to_bytes() == INVITE


@pytest.mark.parametrize("sample", [INVITE, REGISTER, UNAUTHORIZED, OK_WITH_SDP])
def test_samples_serialise_byte_exact(sample):
    assert parse_message(sample).to_bytes() == sample
    assert bytes(parse_message(sample)) == sample


def test_compact_forms_are_found_by_long_names():
    data = crlf(
        "OPTIONS sip:bob@example.com SIP/2.0\n"
        "v: SIP/2.0/UDP a.example.com;branch=z9hG4bK1\n"
        "t: <sip:bob@example.com>\n"
        "f: <sip:alice@example.com>;tag=x\n"
        "i: abc@def\n"
        "CSeq: 1 OPTIONS\n"
        "m: <sip:alice@a.example.com>\n"
        "k: timer\n"
        "c: text/plain\n"
        "l: 2\n"
        "\nhi"
    )
    request = parse_request(data)
    assert request.call_id == "abc@def"
    assert request.via[0].host == "a.example.com"
    assert request.from_.tag == "x"
    assert request.supported == ["timer"]
    assert request.content_type == "text/plain"
    assert request.body == b"hi"
    assert [name for name, _ in request.headers][:2] == ["v", "t"]  # spelling kept
    assert request.to_bytes() == data


def test_header_names_case_insensitive_and_space_before_colon():
    data = crlf(
        "OPTIONS sip:bob@example.com SIP/2.0\n"
        "VIA : SIP/2.0/UDP a.example.com;branch=z9hG4bK1\n"
        "tO:<sip:bob@example.com>\n"
        "FROM:\t<sip:alice@example.com>;tag=x\n"
        "call-id: abc\n"
        "cseq: 1 OPTIONS\n"
        "\n"
    )
    request = parse_request(data)
    assert request.headers.get("Via") == "SIP/2.0/UDP a.example.com;branch=z9hG4bK1"
    assert request.to.uri == SipUri(user="bob", host="example.com")
    assert next(iter(request.headers)) == ("VIA", "SIP/2.0/UDP a.example.com;branch=z9hG4bK1")


def test_folded_header_lines_are_unfolded():
    data = minimal_request(extra="Subject: first\n  second\n\tthird\nX-Empty:\n")
    request = parse_request(data)
    assert request.headers.get("Subject") == "first second third"
    assert request.headers.get("X-Empty") == ""


def test_unknown_headers_are_byte_stable():
    odd = 'X-Odd:   a,,b ;; "q\\"x" <<>> %zz  '
    request = parse_request(minimal_request(extra=odd + "\n"))
    assert request.headers.get("x-odd") == 'a,,b ;; "q\\"x" <<>> %zz'
    assert b'X-Odd: a,,b ;; "q\\"x" <<>> %zz\r\n' in request.to_bytes()


def test_header_order_is_preserved():
    extra = "X-A: 1\nRoute: <sip:p1.example.com;lr>\nX-B: 2\nRoute: <sip:p2.example.com;lr>\n"
    request = parse_request(minimal_request(extra=extra))
    names = [name for name, _ in request.headers]
    assert names == ["Via", "To", "From", "Call-ID", "CSeq", "X-A", "Route", "X-B", "Route"]
    assert [r.uri.host for r in request.routes] == ["p1.example.com", "p2.example.com"]  # type: ignore[union-attr]


def test_multiple_vias_in_one_line_and_several_lines():
    data = crlf(
        "SIP/2.0 200 OK\n"
        "Via: SIP/2.0/UDP a.example.com;branch=z9hG4bK1, SIP/2.0/TCP b.example.com:5070;branch=z9hG4bK2\n"
        "v: SIP/2.0/TLS [2001:db8::1]:5061;branch=z9hG4bK3;received=2001:db8::9\n"
        "To: <sip:bob@example.com>;tag=2\n"
        "From: <sip:alice@example.com>;tag=1\n"
        "Call-ID: x\n"
        "CSeq: 7 BYE\n"
        "\n"
    )
    response = parse_response(data)
    assert [(v.transport, v.host, v.port) for v in response.via] == [
        ("UDP", "a.example.com", None),
        ("TCP", "b.example.com", 5070),
        ("TLS", "[2001:db8::1]", 5061),
    ]
    assert response.via[2].received == "2001:db8::9"
    assert response.top_via.branch == "z9hG4bK1"


def test_leading_crlfs_are_ignored():
    assert parse_request(b"\r\n\r\n" + INVITE).method == "INVITE"


def test_reason_phrase_may_be_empty_or_absent():
    base = UNAUTHORIZED.replace(b"SIP/2.0 401 Unauthorized", b"SIP/2.0 401 ")
    assert parse_response(base).reason == ""
    assert parse_response(UNAUTHORIZED.replace(b"SIP/2.0 401 Unauthorized", b"SIP/2.0 401")).reason == ""


def test_reason_phrase_utf8_and_spaces():
    data = UNAUTHORIZED.replace(b"401 Unauthorized", "401 Pas autorisé  du tout".encode())
    assert parse_response(data).reason == "Pas autorisé  du tout"


def test_sip_version_is_case_insensitive_on_input_and_upper_on_output():
    data = INVITE.replace(b" SIP/2.0\r\n", b" sip/2.0\r\n", 1)
    request = parse_request(data)
    assert request.to_bytes().startswith(b"INVITE sip:bob@biloxi.example.com SIP/2.0\r\n")


def test_unknown_scheme_request_uri():
    request = parse_request(minimal_request(uri="urn:service:sos"))
    assert request.uri == AbsoluteUri("urn", "service:sos")


def test_request_uri_written_back_as_received():
    request = parse_request(minimal_request(uri="sip:%61lice@EXAMPLE.com;Transport=TCP"))
    assert request.uri == SipUri(user="alice", host="EXAMPLE.com", params=(("Transport", "TCP"),))
    assert request.to_bytes().startswith(b"OPTIONS sip:%61lice@EXAMPLE.com;Transport=TCP SIP/2.0")
    request.uri = SipUri(user="carol", host="example.com")
    assert request.to_bytes().startswith(b"OPTIONS sip:carol@example.com SIP/2.0")


def test_body_is_never_decoded():
    body = b"\x00\xff\xfe binary \r\n\r\n more"
    data = minimal_request(extra=f"Content-Type: application/octet-stream\nContent-Length: {len(body)}\n")
    request = parse_request(data + body)
    assert request.body == body
    assert request.to_bytes() == data + body


def test_body_without_content_length_is_the_rest():
    request = parse_request(minimal_request(body="hello"))
    assert request.body == b"hello"
    assert request.content_length is None
    assert request.to_bytes().endswith(b"Content-Length: 5\r\n\r\nhello")


def test_content_length_shorter_than_data_truncates_body():
    request = parse_request(minimal_request(extra="Content-Length: 3\n", body="hello"))
    assert request.body == b"hel"


def test_content_length_larger_than_body_is_an_error():
    with pytest.raises(ParseError, match="Content-Length"):
        parse_message(minimal_request(extra="Content-Length: 30\n", body="hello"))


# --- serialisation of built messages --------------------------------------------------------------------


def test_to_bytes_writes_content_length():
    request = Request("MESSAGE", SipUri(user="bob", host="example.com"), Headers([("Via", "x")]), b"hi")
    assert (
        request.to_bytes() == b"MESSAGE sip:bob@example.com SIP/2.0\r\nVia: x\r\nContent-Length: 2\r\n\r\nhi"
    )


def test_to_bytes_replaces_existing_content_length_in_place():
    response = Response(200, "OK", Headers([("l", "99"), ("X", "y")]), b"abc")
    assert response.to_bytes() == b"SIP/2.0 200 OK\r\nl: 3\r\nX: y\r\n\r\nabc"


def test_request_rejects_bad_method():
    with pytest.raises(LocalProtocolError):
        Request("IN VITE", SipUri(host="example.com"))
    request = Request("INVITE", SipUri(host="example.com"))
    request.method = "BAD\r\nX"
    with pytest.raises(LocalProtocolError):
        request.to_bytes()


@pytest.mark.parametrize("code", [99, 700, 0, -1])
def test_response_rejects_bad_status(code):
    with pytest.raises(LocalProtocolError):
        Response(code, "x")


def test_response_rejects_unencodable_reason():
    with pytest.raises(LocalProtocolError, match="UTF-8"):
        Response(200, "bad \udcff")


def test_response_rejects_reason_with_crlf():
    with pytest.raises(LocalProtocolError):
        Response(200, "OK\r\nX-Injected: 1")


# --- make_response --------------------------------------------------------------------------------------


def test_make_response_copies_via_lines_byte_exact():
    data = crlf(
        "INVITE sip:bob@example.com SIP/2.0\n"
        "v:  SIP/2.0/UDP a.example.com;branch=z9hG4bK1 ,SIP/2.0/UDP  b.example.com;BRANCH=z9hG4bK2\n"
        "Via: SIP / 2.0 / TCP c.example.com;branch=z9hG4bK3;received=192.0.2.1\n"
        "Record-Route: <sip:p1.example.com;lr>, <sip:p2.example.com;lr>\n"
        "To: Bob <sip:bob@example.com>\n"
        "From: <sip:alice@example.com>;tag=1\n"
        "Call-ID: abc\n"
        "CSeq: 5 INVITE\n"
        "\n"
    )
    request = parse_request(data)
    response = make_response(request, 180, to_tag="xyz")
    items = list(response.headers)
    assert items[0] == (
        "v",
        "SIP/2.0/UDP a.example.com;branch=z9hG4bK1 ,SIP/2.0/UDP  b.example.com;BRANCH=z9hG4bK2",
    )
    assert items[1] == ("Via", "SIP / 2.0 / TCP c.example.com;branch=z9hG4bK3;received=192.0.2.1")
    assert ("To", "Bob <sip:bob@example.com>;tag=xyz") in items
    assert ("Record-Route", "<sip:p1.example.com;lr>, <sip:p2.example.com;lr>") in items
    assert response.reason == "Ringing"
    assert response.to.tag == "xyz"
    assert response.cseq == CSeq(5, "INVITE")
    reparsed = parse_response(response.to_bytes())
    assert list(reparsed.headers) == [*items, ("Content-Length", "0")]


def test_make_response_record_route_only_for_dialog_creating_1xx_2xx():
    extra = "Record-Route: <sip:p1.example.com;lr>\n"
    invite = parse_request(minimal_request("INVITE", extra=extra))
    assert "Record-Route" not in make_response(invite, 100).headers
    assert "Record-Route" not in make_response(invite, 486).headers
    assert "Record-Route" in make_response(invite, 200).headers
    options = parse_request(minimal_request("OPTIONS", extra=extra))
    assert "Record-Route" not in make_response(options, 200).headers


def test_make_response_copies_timestamp_into_100():
    invite = parse_request(minimal_request("INVITE", extra="Timestamp: 54.3\n"))
    assert make_response(invite, 100).headers.get("Timestamp") == "54.3"
    assert make_response(invite, 180).headers.get("Timestamp") is None


def test_make_response_with_body_extra_headers_and_custom_reason():
    invite = parse_request(INVITE)
    response = make_response(
        invite,
        200,
        "Fine",
        to_tag="t1",
        headers=[("Contact", "<sip:bob@192.0.2.4>")],
        body=SDP.encode(),
        content_type="application/sdp",
    )
    data = response.to_bytes()
    assert data.startswith(b"SIP/2.0 200 Fine\r\n")
    assert data.endswith(f"Content-Type: application/sdp\r\nContent-Length: {len(SDP)}\r\n\r\n{SDP}".encode())
    assert response.contacts[0].uri.host == "192.0.2.4"  # type: ignore[union-attr]


def test_make_response_keeps_existing_to_tag_and_refuses_a_different_one():
    bye = parse_request(
        minimal_request("BYE").replace(b"To: <sip:bob@example.com>", b"To: <sip:bob@example.com>;tag=b1")
    )
    assert make_response(bye, 200, to_tag="b1").to.tag == "b1"
    assert make_response(bye, 200).to.tag == "b1"
    with pytest.raises(LocalProtocolError, match="tag"):
        make_response(bye, 200, to_tag="other")


def test_make_response_default_reasons():
    invite = parse_request(INVITE)
    assert make_response(invite, 487).reason == REASON_PHRASES[487] == "Request Terminated"
    assert make_response(invite, 299).reason == "OK"
    assert make_response(invite, 499).reason == "Client Error"


@pytest.mark.parametrize(
    "kwargs",
    [
        {"status_code": 99},
        {"status_code": 200, "to_tag": "a b"},
        {"status_code": 200, "reason": "x\ny"},
        {"status_code": 200, "headers": [("Bad Name", "x")]},
        {"status_code": 200, "headers": [("X", "a\r\nb")]},
    ],
)
def test_make_response_refuses_bad_arguments(kwargs):
    with pytest.raises(LocalProtocolError):
        make_response(parse_request(INVITE), **kwargs)


def test_make_response_refuses_ack():
    with pytest.raises(LocalProtocolError, match="ACK"):
        make_response(parse_request(minimal_request("ACK")), 200)


def test_make_response_needs_mandatory_headers():
    with pytest.raises(LocalProtocolError, match="Via"):
        make_response(Request("OPTIONS", SipUri(host="example.com")), 200)


# --- limits ---------------------------------------------------------------------------------------------


def test_limits_message_size():
    with pytest.raises(MessageTooLargeError, match="limit") as info:
        parse_message(INVITE, ParserLimits(max_message_bytes=100))
    assert info.value.status_hint == 513


def test_limits_header_count():
    extra = "".join(f"X-H{i}: {i}\n" for i in range(20))
    with pytest.raises(MessageTooLargeError, match="header lines"):
        parse_message(minimal_request(extra=extra), ParserLimits(max_headers=10))


def test_limits_header_line_length():
    with pytest.raises(MessageTooLargeError, match="longer than"):
        parse_message(
            minimal_request(extra="X-Long: " + "a" * 200 + "\n"), ParserLimits(max_header_bytes=100)
        )


def test_limits_validate_their_values():
    with pytest.raises(LocalProtocolError):
        ParserLimits(max_headers=0)


# --- StreamParser ---------------------------------------------------------------------------------------


def test_stream_parser_frames_by_content_length_in_pieces():
    stream = INVITE + b"\r\n\r\n" + REGISTER + OK_WITH_SDP
    parser = StreamParser()
    out = []
    for i in range(0, len(stream), 37):
        out.extend(parser.feed(stream[i : i + 37]))
    assert [m.to_bytes() for m in out] == [INVITE, REGISTER, OK_WITH_SDP]
    assert parser.pings == 1
    assert parser.buffered == 0


def test_stream_parser_counts_keepalive_pings_split_across_feeds():
    parser = StreamParser()
    assert parser.feed(b"\r\n") == []
    assert parser.feed(b"\r\n") == []
    assert parser.pings == 1


def test_stream_parser_requires_content_length_and_stays_failed():
    parser = StreamParser()
    with pytest.raises(ParseError, match="Content-Length"):
        parser.feed(minimal_request())
    with pytest.raises(ParseError):
        parser.feed(INVITE)


def test_stream_parser_limits():
    parser = StreamParser(ParserLimits(max_message_bytes=200))
    with pytest.raises(MessageTooLargeError):
        parser.feed(b"X" * 300)
    parser = StreamParser(ParserLimits(max_message_bytes=400))
    with pytest.raises(MessageTooLargeError):
        parser.feed(minimal_request(extra="Content-Length: 100000\n"))
