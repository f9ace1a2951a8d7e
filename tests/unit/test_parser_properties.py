"""Property tests for the SIP message layer (hypothesis).

1. Round trip: a generated valid message serialises, parses back to the same start line, header list,
   body and typed values, and serialises again to the same bytes. The same holds for URIs, name-addrs
   and Vias on their own.
2. Robustness: on random bytes and on mutated valid messages, the parser and every typed accessor raise
   only ParseError (or return); a message that parsed serialises and parses again to the same message.

The default run keeps ``max_examples`` moderate. ``test_fuzz_for_a_while`` (marked ``slow``) mutates
messages for ``FUZZ_SECONDS`` seconds (default 20).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import random
import time

import pytest
import torture_messages as tm
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sipmsgs import ALL_SAMPLES

from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.headers import (
    CSeq,
    Headers,
    NameAddr,
    Via,
    parse_name_addr,
    parse_via,
    quote_string,
)
from twochat_voice_web.sip.message import Request, Response, parse_message
from twochat_voice_web.sip.uri import SipUri, TelUri, parse_uri

TOKEN_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~"
ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
ALPHA = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

# Printable text without control characters or surrogates: what a header may carry.
safe_text = st.text(st.characters(blacklist_categories=("Cc", "Cs")), max_size=20)
any_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=20)
tokens = st.text(st.sampled_from(TOKEN_ALPHABET), min_size=1, max_size=12)


@st.composite
def hostnames(draw: st.DrawFn) -> str:
    labels = draw(st.lists(st.text(st.sampled_from(ALNUM), min_size=1, max_size=8), min_size=0, max_size=3))
    top = draw(st.sampled_from(ALPHA)) + draw(st.text(st.sampled_from(ALNUM), max_size=6))
    return ".".join([*labels, top])


ipv4 = st.integers(0, 2**32 - 1).map(lambda n: str(ipaddress.IPv4Address(n)))
ipv6_refs = st.integers(0, 2**128 - 1).map(lambda n: f"[{ipaddress.IPv6Address(n)}]")
hosts = st.one_of(hostnames(), ipv4, ipv6_refs)
ports = st.none() | st.integers(0, 65535)
uri_params = st.lists(st.tuples(any_text.filter(bool), st.none() | any_text.filter(bool)), max_size=3).map(
    tuple
)


@st.composite
def sip_uris(draw: st.DrawFn) -> SipUri:
    user = draw(st.none() | any_text.filter(bool))
    password = draw(st.none() | any_text) if user is not None else None
    headers = draw(st.lists(st.tuples(any_text.filter(bool), any_text), max_size=2).map(tuple))
    return SipUri(
        scheme=draw(st.sampled_from(["sip", "sips"])),
        user=user,
        password=password,
        host=draw(hosts),
        port=draw(ports),
        params=draw(uri_params),
        headers=headers,
    )


tel_uris = st.builds(
    TelUri,
    st.from_regex(r"\+[0-9][0-9\-.()]{0,12}", fullmatch=True),
    st.lists(
        st.tuples(st.from_regex(r"[a-z][a-z0-9\-]{0,6}", fullmatch=True), st.none() | any_text.filter(bool)),
        max_size=2,
    ).map(tuple),
)
gen_values = st.one_of(tokens, hostnames(), ipv6_refs, safe_text.map(quote_string))
header_params = st.lists(st.tuples(tokens, st.none() | gen_values), max_size=3).map(tuple)


@st.composite
def name_addrs(draw: st.DrawFn, *, tag: bool = False) -> NameAddr:
    uri = draw(st.one_of(sip_uris().map(lambda u: u.__class__(**{**_fields(u), "headers": ()})), tel_uris))
    params = draw(header_params)
    params = tuple(p for p in params if p[0].lower() != "tag" or p[1] is not None)
    if tag:
        params = (("tag", draw(tokens)), *params)
    return NameAddr(uri=uri, display_name=draw(st.none() | safe_text), params=params)


def _fields(uri: SipUri) -> dict[str, object]:
    return {name: getattr(uri, name) for name in SipUri.__slots__}  # type: ignore[attr-defined]


vias = st.builds(
    Via,
    transport=st.sampled_from(["UDP", "TCP", "TLS", "WS", "WSS", "SCTP"]),
    host=hosts,
    port=ports,
    params=st.tuples(st.tuples(st.just("branch"), tokens.map(lambda t: "z9hG4bK" + t)))
    | st.just((("rport", None), ("branch", "z9hG4bKx"))),
)


@st.composite
def messages(draw: st.DrawFn) -> Request | Response:
    method = draw(st.sampled_from(["INVITE", "ACK", "BYE", "REGISTER", "OPTIONS", "MESSAGE"]) | tokens)
    headers = Headers()
    for via in draw(st.lists(vias, min_size=1, max_size=3)):
        headers.add(draw(st.sampled_from(["Via", "v", "VIA"])), str(via))
    headers.add("From", str(draw(name_addrs(tag=True))))
    headers.add(draw(st.sampled_from(["To", "t"])), str(draw(name_addrs())))
    headers.add(
        "Call-ID",
        draw(
            st.from_regex(r"[A-Za-z0-9\-.!%*_+`'~()<>:\\\"/\[\]?{}]{1,20}(@[a-z0-9.]{1,10})?", fullmatch=True)
        ),
    )
    headers.add("CSeq", str(CSeq(draw(st.integers(0, 2**31 - 1)), method)))
    for _ in range(draw(st.integers(0, 4))):
        value = draw(safe_text).strip(" \t")
        headers.add("X-" + draw(tokens), value)
    contacts = draw(st.lists(name_addrs(), max_size=2))
    if contacts:
        headers.add("Contact", ", ".join(str(c) for c in contacts))
    body = draw(st.binary(max_size=64))
    if draw(st.booleans()):
        return Request(
            method,
            draw(st.one_of(sip_uris().map(lambda u: u.__class__(**{**_fields(u), "headers": ()})), tel_uris)),
            headers,
            body,
        )
    return Response(draw(st.integers(100, 699)), draw(safe_text).strip(" \t"), headers, body)


def without_length(message: Request | Response) -> list[tuple[str, str]]:
    return [(n, v) for n, v in message.headers if n.lower() not in ("content-length", "l")]


# --- round trips ----------------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(sip_uris())
def test_sip_uri_round_trip(uri):
    text = str(uri)
    assert "\r" not in text and "\n" not in text and " " not in text
    assert parse_uri(text) == uri


@settings(max_examples=100, deadline=None)
@given(tel_uris)
def test_tel_uri_round_trip(uri):
    assert parse_uri(str(uri)) == uri


@settings(max_examples=200, deadline=None)
@given(name_addrs())
def test_name_addr_round_trip(value):
    text = str(value)
    assert "\r" not in text and "\n" not in text
    assert parse_name_addr(text) == value


@settings(max_examples=100, deadline=None)
@given(vias)
def test_via_round_trip(via):
    assert parse_via(str(via)) == via


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages())
def test_message_round_trip(message):
    data = message.to_bytes()
    parsed = parse_message(data)
    assert type(parsed) is type(message)
    assert parsed.start_line == message.start_line
    assert without_length(parsed) == without_length(message)
    assert parsed.body == message.body
    assert parsed.via == message.via
    assert parsed.from_ == message.from_
    assert parsed.to == message.to
    assert parsed.cseq == message.cseq
    assert parsed.call_id == message.call_id
    assert parsed.contacts == message.contacts
    if isinstance(message, Request):
        assert isinstance(parsed, Request)
        assert parsed.uri == message.uri
    assert parsed.to_bytes() == data


# --- robustness -----------------------------------------------------------------------------------------

ACCESSORS = (
    "call_id", "cseq", "from_", "to", "via", "top_via", "contacts", "contact_is_star", "routes",
    "record_routes", "content_type", "content_length", "max_forwards", "expires", "min_expires", "allow",
    "supported", "require", "proxy_require", "unsupported", "session_expires",
)  # fmt: skip

SEEDS = [*ALL_SAMPLES.values(), tm.TORTUOUS_INVITE, tm.WIDE_RANGE, tm.IPV6_EVERYWHERE, tm.MANY_CONTACTS,
         tm.COMPACT_ONLY, tm.MULTIPART, tm.ESCAPED_URIS]  # fmt: skip
INTERESTING = [b"\r\n", b"\r\n ", b":", b";", b",", b"<", b">", b'"', b"\\", b"%", b"%4", b" ", b"\t", b"@",
               b"[", b"]", b"=", b"?", b"\x00", b"\xff", b"\xc3", b"SIP/2.0", b"0", b"9" * 12, b"-1", b"\r",
               b"\n", b"\r\n\r\n", "é".encode(), b"sip:", b"tel:", b"Content-Length: 5\r\n",
               b"l:9\r\n"]  # fmt: skip


def check_parser_contract(data: bytes) -> None:
    """The parser raises only ParseError; a parsed message is fully accessible and round-trips."""
    try:
        message = parse_message(data)
    except ParseError:
        return
    for name in ACCESSORS:
        with contextlib.suppress(ParseError):
            getattr(message, name)
    if isinstance(message, Request):
        str(message.uri)
    out = message.to_bytes()
    again = parse_message(out)
    assert again.start_line == message.start_line
    assert without_length(again) == without_length(message)
    assert again.body == message.body
    assert again.to_bytes() == out


MUTATIONS = ("flip", "truncate", "insert", "delete", "duplicate", "printable")
MUTATION_WEIGHTS = (3, 1, 5, 2, 2, 3)


def mutate(data: bytes, rng: random.Random, steps: int) -> bytes:
    """Apply ``steps`` random edits, mostly inside the header section (truncation is kept rare)."""
    buf = bytearray(data)
    for _ in range(steps):
        kind = rng.choices(MUTATIONS, MUTATION_WEIGHTS)[0]
        head_end = buf.find(b"\r\n\r\n")
        limit = head_end if head_end > 0 and rng.random() < 0.8 else len(buf)
        pos = rng.randrange(limit + 1)
        if kind == "flip" and buf:
            buf[min(pos, len(buf) - 1)] = rng.randrange(32, 127) if rng.random() < 0.7 else rng.randrange(256)
        elif kind == "truncate":
            del buf[pos:]
        elif kind == "insert":
            buf[pos:pos] = rng.choice(INTERESTING)
        elif kind == "delete" and buf:
            del buf[pos : pos + rng.randrange(1, 20)]
        elif kind == "duplicate" and buf:
            end = min(len(buf), pos + rng.randrange(1, 40))
            buf[pos:pos] = buf[pos:end]
        else:
            buf[pos:pos] = bytes([rng.randrange(32, 127)])
        if not buf:
            break
    return bytes(buf)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_raise_only_parse_error(data):
    check_parser_contract(data)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_after_a_valid_start_raise_only_parse_error(tail):
    check_parser_contract(
        b"INVITE sip:a@example.com SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=z9hG4bK1\r\n" + tail
    )


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SEEDS), st.integers(0, 2**32 - 1), st.integers(1, 6))
def test_mutated_messages_raise_only_parse_error(seed, rng_seed, steps):
    check_parser_contract(mutate(seed, random.Random(rng_seed), steps))


MANDATORY_ARGUMENTS = {"Via": "via", "From": "from_", "To": "to", "Call-ID": "call_id", "CSeq": "cseq"}


@settings(max_examples=200, deadline=None)
@given(st.text(st.characters(blacklist_categories=("Cs",)), max_size=200))
def test_random_header_values_raise_only_parse_error(value):
    for header in ("Via", "From", "To", "Call-ID", "CSeq", "Contact", "Route", "Record-Route", "Max-Forwards",
                   "Content-Type", "Expires", "Allow", "Content-Length"):  # fmt: skip
        if header in MANDATORY_ARGUMENTS:
            raw = tm.request(**{MANDATORY_ARGUMENTS[header]: value})  # type: ignore[arg-type]
        else:
            raw = tm.request(extra=f"{header}: {value}")
        check_parser_contract(raw)


@pytest.mark.slow
def test_fuzz_for_a_while():
    """Mutate seed messages for FUZZ_SECONDS seconds; every input must satisfy the parser contract."""
    seconds = float(os.environ.get("FUZZ_SECONDS", "20"))
    rng = random.Random(int(os.environ.get("FUZZ_SEED", "4475")))
    deadline = time.monotonic() + seconds
    count = 0
    while time.monotonic() < deadline:
        for _ in range(100):
            data = mutate(rng.choice(SEEDS), rng, rng.choice((1, 1, 2, 2, 3, 4, 6, 10)))
            try:
                check_parser_contract(data)
            except AssertionError:
                raise AssertionError(f"contract broken for input {data!r}") from None
            count += 1
    assert count > 0
