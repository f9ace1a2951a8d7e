"""Tests for twochat_voice_web.sip.uri: SIP/SIPS/tel/absolute URIs, escaping, RFC 3261 §19.1.4 matching."""

from __future__ import annotations

import pytest

from twochat_voice_web.sip.errors import LocalProtocolError, ParseError
from twochat_voice_web.sip.headers import parse_via
from twochat_voice_web.sip.uri import AbsoluteUri, SipUri, TelUri, parse_sip_uri, parse_uri

# --- parsing --------------------------------------------------------------------------------------------


def test_full_sips_uri():
    uri = parse_sip_uri("sips:alice:secret@[2001:db8::1]:5061;transport=tls;lr?subject=hi%20there&x=y")
    assert uri == SipUri(
        scheme="sips",
        user="alice",
        password="secret",
        host="[2001:db8::1]",
        port=5061,
        params=(("transport", "tls"), ("lr", None)),
        headers=(("subject", "hi there"), ("x", "y")),
    )
    assert uri.transport == "tls"
    assert uri.host_port == "[2001:db8::1]:5061"


@pytest.mark.parametrize(
    ("text", "host", "port"),
    [
        ("sip:example.com", "example.com", None),
        ("sip:example.com.", "example.com.", None),
        ("sip:a-b.c-d.example", "a-b.c-d.example", None),
        ("sip:192.0.2.1", "192.0.2.1", None),
        ("sip:192.0.2.1:5060", "192.0.2.1", 5060),
        ("sip:[::1]", "[::1]", None),
        ("sip:[::1]:0", "[::1]", 0),
        ("sip:[2001:db8::10:5070]:65535", "[2001:db8::10:5070]", 65535),
        ("sip:[::ffff:192.0.2.1]:5060", "[::ffff:192.0.2.1]", 5060),
        ("sip:[2001:db8:0:0:0:0:0:1]", "[2001:db8:0:0:0:0:0:1]", None),
    ],
)
def test_hosts_and_ports(text, host, port):
    uri = parse_sip_uri(text)
    assert (uri.host, uri.port) == (host, port)
    assert str(uri) == text


def test_scheme_is_case_insensitive_and_stored_lower_case():
    assert parse_uri("SIP:alice@example.com").scheme == "sip"  # type: ignore[union-attr]
    assert parse_uri("SiPs:example.com") == SipUri(scheme="sips", host="example.com")


def test_user_with_telephone_subscriber_characters():
    uri = parse_sip_uri("sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone")
    assert uri.user == "+1-212-555-1212;phone-context=example.com"
    assert uri.param("user") == "phone"
    assert str(uri) == "sip:+1-212-555-1212;phone-context=example.com@gw.example.com;user=phone"


def test_escapes_are_decoded_and_re_encoded():
    uri = parse_sip_uri("sip:%61lice%20smith@example.com;x=a%3Bb?h=%3Csip:a%40b%3E")
    assert uri.user == "alice smith"
    assert uri.param("x") == "a;b"
    assert uri.headers == (("h", "<sip:a@b>"),)
    assert str(uri) == "sip:alice%20smith@example.com;x=a%3Bb?h=%3Csip:a%40b%3E"
    assert parse_sip_uri(str(uri)) == uri


def test_escaped_nul_and_invalid_utf8_round_trip():
    uri = parse_sip_uri("sip:null-%00-null@example.com")
    assert uri.user == "null-\x00-null"
    assert str(uri) == "sip:null-%00-null@example.com"
    raw = parse_sip_uri("sip:a%FFb@example.com")
    assert str(raw) == "sip:a%FFb@example.com"


def test_utf8_user_is_escaped_on_output():
    uri = SipUri(user="zoë", host="example.com")
    assert str(uri) == "sip:zo%C3%AB@example.com"
    assert parse_sip_uri(str(uri)).user == "zoë"


@pytest.mark.parametrize("user", ["a\r\nb", "a b", "a@b", "a:b", "<x>", '"q"', "a%b", "\x00", "a,b;c?d/e"])
def test_serialised_user_never_contains_separators(user):
    text = str(
        SipUri(
            user=user,
            password="p@ss:\r\n",
            host="example.com",
            params=(("k;=", "v\r\n&"),),
            headers=(("h&=", "v\n?"),),
        )
    )
    assert "\r" not in text
    assert "\n" not in text
    assert " " not in text
    reparsed = parse_sip_uri(text)
    assert reparsed.user == user
    assert reparsed.password == "p@ss:\r\n"
    assert reparsed.params == (("k;=", "v\r\n&"),)
    assert reparsed.headers == (("h&=", "v\n?"),)


def test_params_with_and_without_values_and_case():
    uri = parse_sip_uri("sip:proxy.example.com;lr;Transport=WS;maddr=[::1];ob;gr=urn:uuid:f81d4fae")
    assert uri.has_param("LR")
    assert uri.param("lr") is None
    assert uri.transport == "ws"
    assert uri.param("maddr") == "[::1]"
    assert uri.param("gr") == "urn:uuid:f81d4fae"
    assert uri.has_param("ob")
    assert not uri.has_param("user")


def test_with_and_without_param():
    uri = parse_sip_uri("sip:a@example.com;transport=udp;lr")
    assert str(uri.with_param("transport", "ws")) == "sip:a@example.com;transport=ws;lr"
    assert str(uri.with_param("ob")) == "sip:a@example.com;transport=udp;lr;ob"
    assert str(uri.without_param("TRANSPORT")) == "sip:a@example.com;lr"
    assert str(uri) == "sip:a@example.com;transport=udp;lr"  # unchanged (frozen)


def test_aor():
    assert parse_sip_uri("sip:alice@Example.COM:5060;transport=ws?x=y").aor == "sip:alice@example.com"
    assert parse_sip_uri("sips:example.com").aor == "sips:example.com"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("sip:", "no host"),
        ("sip:alice@", "host"),
        ("sip:alice@exa mple.com", "whitespace"),
        ("sip:host:99999", "port"),
        ("sip:host:12ab", "port"),
        ("sip:[::1", "host"),
        ("sip:[::g]", "host"),
        ("sip:1.2.3.256x", "host"),
        ("sip:a@b;x=", "parameters"),
        ("sip:a@b;;lr", "parameters"),
        ("sip:a@b?x", "headers"),
        ("sip:a<b@c", "user"),
        ("sip:a%zzb@c", "user"),
        ("sip:a:p%@c", "password"),
        ("sip:-host.example.com", "host"),
        ("sip:host.123", "host"),
        ("http://example.com", "sip"),
    ],
)
def test_bad_sip_uris_name_the_problem(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_sip_uri(text)


def test_non_text_is_a_parse_error():
    with pytest.raises(ParseError):
        parse_uri(b"sip:a@b")  # type: ignore[arg-type]
    with pytest.raises(ParseError):
        parse_sip_uri(None)  # type: ignore[arg-type]


# --- tel and absolute URIs ------------------------------------------------------------------------------


def test_tel_global_number_with_visual_separators():
    uri = parse_uri("tel:+1-201-555-0123;ext=1234")
    assert isinstance(uri, TelUri)
    assert uri.is_global
    assert uri.digits == "+12015550123"
    assert uri.param("ext") == "1234"
    assert str(uri) == "tel:+1-201-555-0123;ext=1234"


def test_tel_local_number_needs_phone_context():
    uri = parse_uri("tel:7042;phone-context=example.com")
    assert isinstance(uri, TelUri)
    assert not uri.is_global
    assert uri.has_param("phone-context")
    with pytest.raises(ParseError, match="phone-context"):
        parse_uri("tel:7042")


@pytest.mark.parametrize("text", ["tel:", "tel:+", "tel:+1 234", "tel:abc;x", "tel:+12;=x", "tel:+1;a=b c"])
def test_bad_tel_uris(text):
    with pytest.raises(ParseError, match="tel"):
        parse_uri(text)


def test_tel_uri_construction_is_validated():
    with pytest.raises(LocalProtocolError):
        TelUri("12 34")
    with pytest.raises(LocalProtocolError):
        TelUri("+1234", (("bad name", None),))


def test_other_schemes_are_opaque():
    assert parse_uri("urn:service:sos") == AbsoluteUri("urn", "service:sos")
    assert parse_uri("HTTP://example.com/a?b=c") == AbsoluteUri("http", "//example.com/a?b=c")
    assert str(parse_uri("nobodyknowsthisscheme:totallyopaque")) == "nobodyknowsthisscheme:totallyopaque"


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("noscheme", "scheme"),
        ("1abc:x", "scheme"),
        ("urn:a b", "escaped"),
        ("urn:", "nothing after the scheme"),
        ("mailto:<x>", "escaped"),
    ],
)
def test_bad_absolute_uris(text, fragment):
    with pytest.raises(ParseError, match=fragment):
        parse_uri(text)


# --- construction ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"scheme": "tel", "host": "example.com"},
        {"host": ""},
        {"host": "bad host"},
        {"host": "example.com\r\nX: y"},
        {"host": "::1"},
        {"host": "example.com", "port": 70000},
        {"host": "example.com", "port": True},
        {"host": "example.com", "user": ""},
        {"host": "example.com", "password": "x"},
        {"host": "example.com", "params": (("", None),)},
        {"host": "example.com", "params": (("a", ""),)},
    ],
)
def test_sip_uri_construction_is_validated(kwargs):
    with pytest.raises(LocalProtocolError):
        SipUri(**kwargs)


def test_absolute_uri_construction_is_validated():
    with pytest.raises(LocalProtocolError):
        AbsoluteUri("urn", "a\r\nb")
    with pytest.raises(LocalProtocolError):
        AbsoluteUri("1x", "y")


def test_parse_results_are_cached_and_frozen():
    first = parse_uri("sip:cache@example.com")
    assert parse_uri("sip:cache@example.com") is first
    with pytest.raises(AttributeError):
        first.host = "other"  # type: ignore[misc]


# --- RFC 3261 §19.1.4 comparison ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("sip:%61lice@atlanta.com;transport=TCP", "sip:alice@AtLanTa.CoM;Transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;newparam=5"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com;security=on"),
        ("sip:carol@chicago.com;newparam=5", "sip:carol@chicago.com;security=on"),
        (
            "sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com",
            "sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com",
        ),
        (
            "sip:alice@atlanta.com?subject=project%20x&priority=urgent",
            "sip:alice@atlanta.com?priority=urgent&subject=project%20x",
        ),
        ("sip:[2001:db8::1]:5060", "sip:[2001:DB8:0::1]:5060"),
        ("sip:a@example.com;lr", "sip:a@example.com;LR"),
    ],
)
def test_equivalent_uris(a, b):
    assert parse_sip_uri(a).matches(parse_sip_uri(b))
    assert parse_sip_uri(b).matches(parse_sip_uri(a))


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("SIP:ALICE@AtLanTa.CoM;Transport=udp", "sip:alice@AtLanTa.CoM;Transport=UDP"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:5060"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com;transport=udp"),
        ("sip:bob@biloxi.com", "sip:bob@biloxi.com:6000;transport=tcp"),
        ("sip:carol@chicago.com", "sip:carol@chicago.com?Subject=next%20meeting"),
        ("sip:bob@phone21.boxesbybob.com", "sip:bob@192.0.2.4"),
        ("sip:a@example.com", "sips:a@example.com"),
        ("sip:a:pw@example.com", "sip:a:PW@example.com"),
        ("sip:a@example.com;user=phone", "sip:a@example.com"),
        ("sip:a@example.com;ttl=1", "sip:a@example.com"),
        ("sip:a@example.com;method=INVITE", "sip:a@example.com"),
        ("sip:a@example.com;maddr=1.2.3.4", "sip:a@example.com"),
        ("sip:a@example.com;x=1", "sip:a@example.com;x=2"),
        ("sip:a@example.com;x", "sip:a@example.com;x=2"),
    ],
)
def test_non_equivalent_uris(a, b):
    assert not parse_sip_uri(a).matches(parse_sip_uri(b))
    assert not parse_sip_uri(b).matches(parse_sip_uri(a))


def test_matches_other_types_is_false():
    assert not parse_sip_uri("sip:a@b.com").matches(TelUri("+1234"))  # type: ignore[arg-type]


# RFC 5118 §4.10: RFC 3261's ABNF lets three colons precede an embedded IPv4 address; tolerated.
@pytest.mark.parametrize(
    ("text", "host"),
    [
        ("sip:[2001:db8:::192.0.2.1]:5060", "[2001:db8:::192.0.2.1]"),
        ("sip:[:::192.0.2.1]", "[:::192.0.2.1]"),
        ("sip:u@[1:2:3:4:5:::192.0.2.1];transport=tcp", "[1:2:3:4:5:::192.0.2.1]"),
    ],
)
def test_the_rfc_3261_three_colon_form_is_a_host_everywhere(text, host):
    uri = parse_uri(text)
    assert uri.matches(parse_uri(text.replace(":::", "::")))  # type: ignore[union-attr]
    assert isinstance(uri, SipUri) and uri.host == host
    assert parse_via(f"SIP/2.0/UDP {host};branch=z9hG4bK1;received={host[1:-1]}").received == host[1:-1]


@pytest.mark.parametrize(
    "text",
    ["sip:[2001:db8::::192.0.2.1]", "sip:[1:2:3:4:5:6:::192.0.2.1]", "sip:[2001:db8:::1]", "sip:[:::]"],
)
def test_other_colon_runs_are_still_not_addresses(text):
    with pytest.raises(ParseError):
        parse_uri(text)
