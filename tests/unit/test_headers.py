"""Tests for twochat_voice_web.sip.headers: Headers, list splitting, name-addr, Via, CSeq, parameters."""

from __future__ import annotations

import pytest

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError
from twochat_voice_web.sip.headers import (
    COMPACT_FORMS,
    CSeq,
    Headers,
    NameAddr,
    Via,
    canonical_name,
    parse_cseq,
    parse_name_addr,
    parse_name_addr_list,
    parse_params,
    parse_via,
    parse_via_list,
    quote_string,
    split_list,
    unquote_string,
)
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri, TelUri

# --- names ----------------------------------------------------------------------------------------------


def test_compact_forms_cover_rfc3261_and_later():
    assert {k: COMPACT_FORMS[k] for k in "imftvlcksieourbxy"} == {
        "i": "Call-ID", "m": "Contact", "f": "From", "t": "To", "v": "Via", "l": "Content-Length",
        "c": "Content-Type", "k": "Supported", "s": "Subject", "e": "Content-Encoding", "o": "Event",
        "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By", "x": "Session-Expires", "y": "Identity",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("i", "Call-ID"),
        ("I", "Call-ID"),
        ("call-id", "Call-ID"),
        ("CSEQ", "CSeq"),
        ("www-authenticate", "WWW-Authenticate"),
        ("x-custom", "x-custom"),
        ("X-Custom", "X-Custom"),
        ("v", "Via"),
    ],
)
def test_canonical_name(name, expected):
    assert canonical_name(name) == expected


# --- Headers --------------------------------------------------------------------------------------------


def test_headers_lookup_is_case_insensitive_and_compact_aware():
    headers = Headers([("v", "a"), ("VIA", "b"), ("X-Thing", "1"), ("via", "c")])
    assert headers.get("Via") == "a"
    assert headers.get_all("v") == ["a", "b", "c"]
    assert "x-thing" in headers
    assert "Call-ID" not in headers
    assert 42 not in headers
    assert headers.get("missing") is None
    assert headers.get_all("missing") == []
    assert len(headers) == 4
    assert headers.count("VIA") == 3
    assert list(headers) == [("v", "a"), ("VIA", "b"), ("X-Thing", "1"), ("via", "c")]


def test_headers_add_prepend_set_remove():
    headers = Headers()
    headers.add("Via", "two")
    headers.prepend("Via", "one")
    headers.add("X-A", "1")
    headers.add("Route", "r1")
    headers.add("route", "r2")
    headers.set("ROUTE", "r")
    assert list(headers) == [("Via", "one"), ("Via", "two"), ("X-A", "1"), ("ROUTE", "r")]
    headers.set("New", "n")
    assert list(headers)[-1] == ("New", "n")
    headers.remove("via")
    headers.remove("absent")
    assert list(headers) == [("X-A", "1"), ("ROUTE", "r"), ("New", "n")]


def test_headers_copy_is_independent_and_equality():
    headers = Headers([("A", "1")])
    other = headers.copy()
    other.add("B", "2")
    assert list(headers) == [("A", "1")]
    assert headers != other
    assert headers == Headers([("A", "1")])
    assert headers != Headers([("a", "1")])  # spelling is part of the wire form
    assert repr(headers) == "Headers([('A', '1')])"


@pytest.mark.parametrize("name", ["", "Bad Name", "X:Y", "X\r\nY", "Ünicode", "a(b)", 5])
def test_headers_refuse_non_token_names(name):
    headers = Headers()
    for method in (headers.add, headers.prepend, headers.set):
        with pytest.raises(LocalProtocolError, match="token"):
            method(name, "value")


@pytest.mark.parametrize(
    "value", ["a\r\nInjected: 1", "a\nb", "a\rb", "nul\x00", "bell\x07", "del\x7f", None]
)
def test_headers_refuse_values_with_cr_lf_nul_and_controls(value):
    headers = Headers()
    for method in (headers.add, headers.prepend, headers.set):
        with pytest.raises(LocalProtocolError):
            method("X", value)
    with pytest.raises(LocalProtocolError):
        Headers([("X", value)])


def test_headers_accept_tabs_and_utf8_values():
    headers = Headers([("Subject", "a\tb"), ("Subject", "héllo ☎")])
    assert headers.get_all("subject") == ["a\tb", "héllo ☎"]


def test_headers_refuse_unencodable_values():
    with pytest.raises(LocalProtocolError, match="UTF-8"):
        Headers([("X", "bad \udcff")])


def test_get_list_splits_at_top_level_commas():
    headers = Headers(
        [
            (
                "Contact",
                '"Doe, John" <sip:j@example.com;x=a,b>;q=0.5, <sip:k@example.com> ,sip:l@example.com',
            ),
            ("Contact", "<sip:m@example.com>"),
            ("Allow", "INVITE,ACK ,, BYE"),
        ]
    )
    assert headers.get_list("m") == [
        '"Doe, John" <sip:j@example.com;x=a,b>;q=0.5',
        "<sip:k@example.com>",
        "sip:l@example.com",
        "<sip:m@example.com>",
    ]
    assert headers.get_list("allow") == ["INVITE", "ACK", "BYE"]
    assert headers.get_list("absent") == []


@pytest.mark.parametrize("value", ['"unterminated, x', "<sip:a@b, c", 'a, "b\\"'])
def test_get_list_reports_unterminated_quotes_and_brackets(value):
    with pytest.raises(ParseError, match="unterminated"):
        Headers([("Contact", value)]).get_list("Contact")


def test_split_list_keeps_empty_elements():
    assert split_list("a,,b") == ["a", "", "b"]
    assert split_list('"x,y" , <a,b>') == ['"x,y"', "<a,b>"]


# --- quoting --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["", "plain", 'say "hi"', "back\\slash", "tab\there", "ünï ☎"])
def test_quote_unquote_round_trip(text):
    quoted = quote_string(text)
    assert quoted.startswith('"')
    assert unquote_string(quoted) == text


def test_quote_string_refuses_cr_and_lf():
    # quoted-pair = "\\" (%x00-09 / %x0B-0C / %x0E-7F): CR and LF cannot be quoted at all.
    for bad in ("a\r\nb", "a\rb", "a\nb", '"\\\r"'):
        with pytest.raises(LocalProtocolError):
            quote_string(bad)


def test_quote_string_escapes_other_control_characters_as_quoted_pairs():
    assert quote_string("a\x00") == '"a\\\x00"'
    assert quote_string("\x1b[31m\x7f") == '"\\\x1b[31m\\\x7f"'
    assert quote_string("tab\there") == '"tab\there"'  # HTAB is qdtext (LWS), not escaped
    for text in ("a\x00", "\x07\x08\x0b\x0c\x0e\x1f\x7f", 'q"b\\s\x01'):
        assert unquote_string(quote_string(text)) == text


def test_unquote_string():
    assert unquote_string('  "a\\"b\\\\c"  ') == 'a"b\\c'
    assert unquote_string("token") == "token"
    with pytest.raises(ParseError):
        unquote_string('"unterminated')
    with pytest.raises(ParseError):
        unquote_string('"a" trailing')


# --- parameters -----------------------------------------------------------------------------------------


def test_parse_params():
    assert parse_params(';tag=1;lr ; q = 0.7;x="a;b"') == (
        ("tag", "1"),
        ("lr", None),
        ("q", "0.7"),
        ("x", '"a;b"'),
    )
    assert parse_params("a=b") == (("a", "b"),)
    assert parse_params("") == ()
    assert parse_params(";received=2001:db8::1;maddr=[::1]") == (
        ("received", "2001:db8::1"),
        ("maddr", "[::1]"),
    )


@pytest.mark.parametrize("text", [";", ";a=", ";a b", ';a="x', ";a=b c", ";=b", ";a==b"])
def test_parse_params_errors(text):
    with pytest.raises(ParseError, match="parameters"):
        parse_params(text)


# --- name-addr ------------------------------------------------------------------------------------------


def test_name_addr_with_quoted_display_name_and_escapes():
    value = parse_name_addr('"A \\"q\\" B\\\\" <sip:a@example.com>;tag=1')
    assert value.display_name == 'A "q" B\\'
    assert value.tag == "1"
    assert str(value) == '"A \\"q\\" B\\\\" <sip:a@example.com>;tag=1'


def test_name_addr_token_display_name_lws():
    value = parse_name_addr("Bob  Smith\t<sip:b@example.com>")
    assert value.display_name == "Bob  Smith"
    assert str(value) == '"Bob  Smith" <sip:b@example.com>'


def test_addr_spec_params_belong_to_the_header():
    value = parse_name_addr("sip:a@example.com;tag=x;transport=tcp")
    assert value.uri == SipUri(user="a", host="example.com")
    assert value.params == (("tag", "x"), ("transport", "tcp"))
    assert str(value) == "<sip:a@example.com>;tag=x;transport=tcp"


def test_name_addr_uri_params_stay_in_the_uri():
    value = parse_name_addr("<sip:a@example.com;transport=tcp>;tag=x")
    assert value.uri.transport == "tcp"  # type: ignore[union-attr]
    assert value.params == (("tag", "x"),)


def test_name_addr_other_schemes_and_empty_display():
    assert parse_name_addr("<tel:+1-555-0100>").uri == TelUri("+1-555-0100")
    assert parse_name_addr('"" <urn:uuid:1234>').uri == AbsoluteUri("urn", "uuid:1234")
    assert parse_name_addr('"" <urn:uuid:1234>').display_name == ""


def test_name_addr_quoted_param_values_kept_as_written():
    value = parse_name_addr(
        '<sip:a@b.com>;+sip.instance="<urn:uuid:00000000-0000-1000-8000-000A95A0E128>";reg-id=1'
    )
    assert value.param("+SIP.INSTANCE") == '"<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"'
    assert (
        unquote_string(value.param("+sip.instance") or "")
        == "<urn:uuid:00000000-0000-1000-8000-000A95A0E128>"
    )


def test_name_addr_with_param():
    value = parse_name_addr("<sip:a@b.com>;tag=1;expires=30")
    assert str(value.with_param("tag", "2")) == "<sip:a@b.com>;tag=2;expires=30"
    assert str(value.without_param("tag")) == "<sip:a@b.com>;expires=30"
    assert str(value.with_param("+sip.instance", quote_string("<urn:x>"))) == (
        '<sip:a@b.com>;tag=1;expires=30;+sip.instance="<urn:x>"'
    )
    with pytest.raises(LocalProtocolError):
        value.with_param("x", "a b")
    with pytest.raises(LocalProtocolError):
        value.with_param("x", "a\r\nb")
    with pytest.raises(LocalProtocolError):
        value.with_param("bad name", None)


def test_name_addr_serialisation_is_always_safe():
    value = NameAddr(SipUri(user="a\r\n>", host="b.com"), display_name='x" <evil>')
    text = str(value)
    assert "\r" not in text
    assert "\n" not in text
    assert parse_name_addr(text) == value
    with pytest.raises(LocalProtocolError):
        NameAddr(SipUri(host="b.com"), display_name="line\r\nbreak")
    with pytest.raises(LocalProtocolError):
        NameAddr("sip:a@b")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ('"abc <sip:a@b.com>', "unterminated quoted string"),
        ("<sip:a@b.com", "unbalanced"),
        ("sip:a@b.com>", "unbalanced"),
        ("A@B <sip:x@y.com>", "display name"),
        ('"Alice" sip:a@b.com', "display name without"),
        ("< sip:a@b.com>", "whitespace"),
        ("sip:a@b.com?subject=x", "enclosed"),
        ("sip: a@b.com", "not a name-addr"),
        ("", "empty"),
        ("<sip:a@b.com>;tag", "tag"),
        ("<sip:a@b.com>;tag=a b", "parameters"),
        ("<sip:a@@b.com>", "user part"),
        ("<foo>", "scheme"),
        ("<sip:a@b.com> junk", "after '>'"),
    ],
)
def test_bad_name_addrs_name_the_problem(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_name_addr(text)


def test_name_addr_list():
    values = parse_name_addr_list(
        '<sip:p1.example.com;lr>, "P, 2" <sip:p2.example.com;lr>,sip:p3.example.com'
    )
    assert [v.uri.host for v in values] == ["p1.example.com", "p2.example.com", "p3.example.com"]  # type: ignore[union-attr]
    assert values[1].display_name == "P, 2"
    with pytest.raises(ParseError, match="empty element"):
        parse_name_addr_list("<sip:a@b.com>,,<sip:c@d.com>")
    with pytest.raises(ParseError, match=r"\*"):
        parse_name_addr_list("*")


# --- Via ------------------------------------------------------------------------------------------------


def test_via_with_received_rport_branch():
    via = parse_via("SIP/2.0/UDP 192.0.2.1:5060;received=198.51.100.7;rport=40412;branch=z9hG4bK74bf9")
    assert via == Via(
        "UDP",
        "192.0.2.1",
        5060,
        (("received", "198.51.100.7"), ("rport", "40412"), ("branch", "z9hG4bK74bf9")),
    )
    assert via.rport == 40412
    assert via.received == "198.51.100.7"
    assert via.sent_by == "192.0.2.1:5060"


def test_via_rport_flag_and_case():
    via = parse_via("sip/2.0/wss abc.invalid;rport;branch=z9hG4bKx")
    assert via.transport == "WSS"
    assert via.has_param("rport")
    assert via.rport is None
    assert str(via) == "SIP/2.0/WSS abc.invalid;rport;branch=z9hG4bKx"


def test_via_with_lws_everywhere():
    via = parse_via(
        "SIP / 2.0 / TCP  first.example.com : 4000 ;ttl=16 ; maddr=224.2.0.1;branch=z9hG4bKa7c6a8dlze.1"
    )
    assert (via.transport, via.host, via.port) == ("TCP", "first.example.com", 4000)
    assert via.param("ttl") == "16"
    assert via.param("maddr") == "224.2.0.1"


def test_via_ipv6():
    via = parse_via("SIP/2.0/UDP [2001:db8::9:1]:5070;received=2001:db8::9:255;branch=z9hG4bKas3")
    assert via.host == "[2001:db8::9:1]"
    assert via.port == 5070
    assert via.received == "2001:db8::9:255"
    assert parse_via("SIP/2.0/UDP [::1];received=[::2];branch=z9hG4bK1").received == "[::2]"


def test_via_list():
    vias = parse_via_list(
        "SIP/2.0/UDP a.com;branch=z9hG4bK1,SIP/2.0/TCP b.com;branch=z9hG4bK2 , SIP/2.0/WS c.com"
    )
    assert [v.host for v in vias] == ["a.com", "b.com", "c.com"]
    assert vias[2].branch is None


def test_via_with_param_and_construction():
    via = Via("WSS", "abc.invalid", None, (("branch", "z9hG4bK1"),))
    assert str(via.with_param("rport")) == "SIP/2.0/WSS abc.invalid;branch=z9hG4bK1;rport"
    assert str(via.with_param("received", "192.0.2.1").without_param("branch")) == (
        "SIP/2.0/WSS abc.invalid;received=192.0.2.1"
    )
    for kwargs in (
        {"transport": "W S", "host": "a.com"},
        {"transport": "UDP", "host": "a b"},
        {"transport": "UDP", "host": "a.com", "port": -1},
        {"transport": "UDP", "host": "a.com", "params": (("x", "a\r\n"),)},
    ):
        with pytest.raises(LocalProtocolError):
            Via(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("", "empty"),
        ("SIP/2.0/UDP", "sent-by"),
        ("SIP/2.0 UDP host.com", "sent-protocol"),
        ("SIP/3.0/UDP host.com", "SIP/2.0"),
        ("HTTP/2.0/UDP host.com", "SIP/2.0"),
        ("SIP/2.0/UDP bad_host.com", "host"),
        ("SIP/2.0/UDP [2001:db8::1", "host"),
        ("SIP/2.0/UDP 2001:db8::1", "host"),
        ("SIP/2.0/UDP host.com:99999", "port"),
        ("SIP/2.0/UDP host.com:abc", "port"),
        ("SIP/2.0/UDP host.com;branch", "branch"),
        ("SIP/2.0/UDP host.com;branch=a/b", "parameters"),
        ("SIP/2.0/UDP host.com;received=not.an.ip", "received"),
        ("SIP/2.0/UDP host.com;rport=abc", "rport"),
        ("SIP/2.0/UDP host.com;rport=70000", "rport"),
        ("SIP/2.0/UDP host.com;ttl=300", "ttl"),
        ("SIP/2.0/UDP host.com;maddr=bad_host", "maddr"),
        ("SIP/2.0/UDP host.com;;branch=z9hG4bK1", "parameters"),
    ],
)
def test_bad_vias_name_the_problem(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_via_list(text)


def test_via_list_refuses_empty_elements():
    with pytest.raises(ParseError, match="empty element"):
        parse_via_list("SIP/2.0/UDP a.com,,SIP/2.0/UDP b.com")


# --- CSeq -----------------------------------------------------------------------------------------------


def test_cseq():
    assert parse_cseq("314159 INVITE") == CSeq(314159, "INVITE")
    assert parse_cseq("  0\tACK ") == CSeq(0, "ACK")
    assert parse_cseq("0000000000000000000001 NEWMETHOD") == CSeq(1, "NEWMETHOD")
    assert parse_cseq(str(2**31 - 1) + " BYE").seq == 2**31 - 1
    assert str(CSeq(7, "BYE")) == "7 BYE"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "INVITE",
        "1",
        "-1 INVITE",
        "1INVITE",
        "2147483648 INVITE",
        "36893488147419103232 INVITE",
        "1 INV ITE",
        "1 INVITE extra",
        "1.5 INVITE",
        "9" * 5000 + " INVITE",
    ],
)
def test_bad_cseq(text):
    with pytest.raises(ParseError, match="CSeq"):
        parse_cseq(text)


def test_cseq_construction_is_validated():
    for seq, method in ((2**31, "INVITE"), (-1, "INVITE"), (True, "INVITE"), (1, "IN VITE"), (1, "")):
        with pytest.raises(LocalProtocolError):
            CSeq(seq, method)  # type: ignore[arg-type]


def test_parsers_reject_non_text():
    for parser in (
        parse_cseq,
        parse_via,
        parse_via_list,
        parse_name_addr,
        parse_name_addr_list,
        parse_params,
    ):
        with pytest.raises(ParseError):
            parser(None)  # type: ignore[arg-type]
