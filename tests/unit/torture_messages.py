"""Torture messages modelled on the categories of RFC 4475 (our own texts, not copies of the RFC's; the
RFC's own messages, byte for byte, are in test_rfc4475.py and test_rfc5118.py).

Messages are written with ``\\n`` line ends and turned into CRLF wire bytes by :func:`wire`; a body is
appended as raw bytes so that Content-Length can be computed exactly.
"""

from __future__ import annotations


def wire(head: str, body: bytes = b"", *, content_length: bool | int = True) -> bytes:
    """Build wire bytes: CRLF line ends, a Content-Length for ``body`` unless told otherwise."""
    lines = head.strip("\n").split("\n")
    if content_length is True:
        lines.append(f"Content-Length: {len(body)}")
    elif content_length is not False:
        lines.append(f"Content-Length: {content_length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("utf-8") + body


def request(
    first_line: str = "OPTIONS sip:bob@example.com SIP/2.0",
    *,
    via: str | None = "SIP/2.0/UDP host.example.com;branch=z9hG4bK74bf9",
    to: str | None = "<sip:bob@example.com>",
    from_: str | None = "<sip:alice@example.com>;tag=9fxced76sl",
    call_id: str | None = "torture-3848276298220188511@example.com",
    cseq: str | None = None,
    extra: str = "",
    body: bytes = b"",
    content_length: bool | int = True,
) -> bytes:
    """A request whose mandatory headers can be replaced or dropped (None) one by one."""
    method = first_line.split(" ", 1)[0]
    lines = [first_line]
    if via is not None:
        lines.append(f"Via: {via}")
    if to is not None:
        lines.append(f"To: {to}")
    if from_ is not None:
        lines.append(f"From: {from_}")
    if call_id is not None:
        lines.append(f"Call-ID: {call_id}")
    lines.append(f"CSeq: {cseq if cseq is not None else '1 ' + method}")
    head = "\n".join(lines) + ("\n" + extra.strip("\n") if extra else "")
    return wire(head, body, content_length=content_length)


def response(first_line: str = "SIP/2.0 200 OK", *, extra: str = "", body: bytes = b"") -> bytes:
    """A response with valid mandatory headers."""
    head = (
        f"{first_line}\n"
        "Via: SIP/2.0/UDP host.example.com;branch=z9hG4bK74bf9;received=192.0.2.1\n"
        "To: <sip:bob@example.com>;tag=8321234356\n"
        "From: <sip:alice@example.com>;tag=9fxced76sl\n"
        "Call-ID: torture-response@example.com\n"
        "CSeq: 1 OPTIONS\n" + extra
    )
    return wire(head, body)


SDP_BODY = (
    b"v=0\r\no=mhandley 29739 7272939 IN IP4 192.0.2.3\r\ns=-\r\nc=IN IP4 192.0.2.4\r\n"
    b"t=0 0\r\nm=audio 49217 RTP/AVP 0 12\r\nm=video 3227 RTP/AVP 31\r\na=rtpmap:31 LPC\r\n"
)

# A short tortuous INVITE: folding everywhere, odd case, compact forms, LWS around every separator,
# several Vias in one line, quoted-pairs, unknown headers with strange values, leading zeros.
TORTUOUS_INVITE = wire(
    "INVITE sip:vivekg@chair-dnrc.example.com;unknownparam SIP/2.0\n"
    "TO :\n"
    " sip:vivekg@chair-dnrc.example.com ;   tag    = 1918181833n\n"
    'from   : "J Rosenberg \\\\\\""       <sip:jdrosen@example.com>\n'
    "  ;\n"
    "  tag = 98asjd8\n"
    "MaX-fOrWaRdS: 0068\n"
    "Call-ID: wsinv.ndaksdj@192.0.2.1\n"
    f"Content-Length   : {len(SDP_BODY)}\n"
    "cseq: 0009\n"
    "  INVITE\n"
    "Via  : SIP  /   2.0\n"
    " /UDP\n"
    "    192.0.2.2;branch=390skdjuw\n"
    "s :\n"
    "NewFangledHeader:   newfangled value\n"
    " continued newfangled value\n"
    "UnknownHeaderWithUnusualValue: ;;,,;;,;\n"
    "Content-Type: application/sdp\n"
    "Route:\n"
    " <sip:services.example.com;lr;unknownwith=value;unknown-no-value>\n"
    "v:  SIP  / 2.0  / TCP     spindle.example.com   ;\n"
    "  branch  =   z9hG4bK9ikj8  ,\n"
    " SIP  /    2.0   / UDP  192.168.255.111   ; branch=\n"
    " z9hG4bK30239\n"
    'm:"Quoted string \\"\\"" <sip:jdrosen@example.com> ; newparam =\n'
    "      newvalue ;\n"
    "  secondparam ; q = 0.33",
    SDP_BODY,
    content_length=False,
)

# Every unusual-but-legal character in a method, a user part, a password, a token and a quoted string.
INTERESTING_METHOD = "!interesting-Method0123456789_*+`.%indeed'~"
WIDE_RANGE = wire(
    f"{INTERESTING_METHOD} sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*"
    ":&it+has=1,weird!*pas$wo~d_too.(doesn't-it)@example.com SIP/2.0\n"
    "Via: SIP/2.0/TCP host1.example.com;branch=z9hG4bK-.!%66*_+`'~\n"
    # RFC 4475 §3.1.1.2: quoted-pairs of the control characters BEL, NUL and DEL, as real bytes.
    'To: "BEL:\\\x07 NUL:\\\x00 DEL:\\\x7f" '
    "<sip:1_unusual.URI~(to-be!sure)&isn't+it$/crazy?,/;;*@example.com>\n"
    "From: token1~` token2'+_ token3*%!.- <sip:mundane@example.com>;fromParam''~+*_!.-%=\"работающий\";"
    "tag=_token~1'+`*%!-.\n"
    "Call-ID: intmeth.word%ZK-!.*_+'@word`~)(><:\\/\"][?}{\n"
    f"CSeq: 139122385 {INTERESTING_METHOD}\n"
    "Max-Forwards: 255\n"
    "extensionHeader-!.%*+_`'~:\ufeff大停電\n"
    "Content-Length: 0"
    "",
    content_length=False,
)

ESCAPED_URIS = request(
    "INVITE sip:sips%3Auser%40example.com@example.net SIP/2.0",
    to="sip:%75se%72@example.com",
    from_="<sip:I%20have%20spaces@example.net>;tag=938",
    extra="Contact: <sip:cal%6Cer@host5.example.net;%6C%72;n%61me=v%61lue%25%34%31>\nMax-Forwards: 87",
)

ESCAPED_NULLS = request(
    "REGISTER sip:example.com SIP/2.0",
    to="sip:null-%00-null@example.com",
    from_="sip:null-%00-null@example.com;tag=839923423",
    extra="Contact: <sip:%00@host5.example.com>\nContact: <sip:%00%00@host5.example.com>\nExpires: 3600",
)

ESCAPED_METHOD = request(
    "RE%47IST%45R sip:registrar.example.com SIP/2.0",
    to="sip:%73ip:user@example.com",
    cseq="98176 RE%47IST%45R",
    extra="Contact: <sip:cal%6Cer@192.168.0.2:5060;%6C%72;n%61me=v%61lue%25%34%31>",
)

DISPLAY_NAME_WITHOUT_LWS = request(
    "OPTIONS sip:user@example.com SIP/2.0",
    to="sip:user@example.com",
    from_="caller<sip:caller@example.com>;tag=323",
)

LONG_VALUES = request(
    "INVITE sip:user@example.com SIP/2.0",
    via=", ".join(f"SIP/2.0/TCP sip{i}.example.com;branch=z9hG4bK{'x' * 60}{i}" for i in range(30)),
    to='"I have a user name of ' + "extreme" * 20 + ' proportion" <sip:user@example.com:6000;'
    "unknownparam1=verylonguselessvalue" + "z" * 200 + ";lr>",
    from_="sip:amazinglylongcallername" + "x" * 200 + "@example.net;tag=12" + "9" * 300,
    call_id="longreq.one" + "r" * 900,
    extra="Route: "
    + ", ".join(f"<sip:route{i}.example.net;lr>" for i in range(60))
    + "\nX-Long: "
    + "y" * 5000,
)

TWO_REQUESTS_ONE_DATAGRAM = request(
    "REGISTER sip:example.com SIP/2.0",
    content_length=0,
    body=request("INVITE sip:joe@example.com SIP/2.0", body=b"v=0\r\n"),
)

SEMICOLON_USER = request(
    "OPTIONS sip:user;par=u%40example.net@example.com SIP/2.0",
    to="sip:j_user@example.com",
    from_="sip:caller@example.org;tag=33242",
)

UNUSUAL_TRANSPORTS = request(
    "OPTIONS sip:user@example.com SIP/2.0",
    via="SIP/2.0/SCTP t1.example.com;branch=z9hG4bKkdjuw, SIP/2.0/TLS-SCTP t2.example.com;branch=z9hG4bK1, "
    "SIP/2.0/UNKNOWN t3.example.com;branch=z9hG4bK2",
)

MULTIPART_BODY = (
    b"--boundary42\r\nContent-Type: application/sdp\r\n\r\nv=0\r\n\r\n"
    b"--boundary42\r\nContent-Type: application/pkcs7-mime\r\n\r\n\x30\x82\x00\x00\xff\xfe\x00\r\n\r\n"
    b"--boundary42--\r\n"
)
MULTIPART = request(
    "MESSAGE sip:kumiko@example.org SIP/2.0",
    extra='Content-Type: multipart/mixed;boundary="boundary42"',
    body=MULTIPART_BODY,
)

UNUSUAL_REASON = response("SIP/2.0 200 = 2**3 * 5**2 но сто девяносто девять - простое")

NO_REASON = response("SIP/2.0 100 ")

UNKNOWN_SCHEMES = request(
    "OPTIONS nobodyKnowsThisScheme:totallyopaquecontent SIP/2.0",
    to="<nobodyKnowsThisScheme:totallyopaquecontent>",
    from_="<urn:uuid:2e5fdc76-00be-4314-8202-1116fa82a473>;tag=384",
)

IPV6_EVERYWHERE = request(
    "REGISTER sip:[2001:db8::10] SIP/2.0",
    via="SIP/2.0/UDP [2001:db8::9:1]:5070;branch=z9hG4bKas3-111;received=2001:db8::9:255",
    to="<sip:user@[2001:db8::10]>",
    from_='"ipv6" <sip:user@[2001:db8::10]:5060>;tag=81x2',
    extra="Contact: <sip:user@[2001:db8::9:1]:5070;transport=udp>;expires=3600, "
    "<sips:user@[::ffff:192.0.2.1]>",
)

ZERO_MAX_FORWARDS = request("OPTIONS sip:user@example.com SIP/2.0", extra="Max-Forwards: 0")

COMPACT_ONLY = wire(
    "MESSAGE sip:user@example.com SIP/2.0\n"
    "v: SIP/2.0/WSS abc.invalid;branch=z9hG4bKc1\n"
    "t: sip:user@example.com\n"
    "f: sip:other@example.com;tag=f1\n"
    "i: compact@abc.invalid\n"
    "CSeq: 3 MESSAGE\n"
    "c: text/plain;charset=utf-8\n"
    "k: 100rel, timer\n"
    "s: hello\n"
    "l: 5",
    b"hello",
    content_length=False,
)

STAR_CONTACT = request(
    "REGISTER sip:example.com SIP/2.0",
    to="<sip:1001@example.com>",
    from_="<sip:1001@example.com>;tag=x1",
    extra="Contact: *\nExpires: 0",
)

MANY_CONTACTS = request(
    "REGISTER sip:example.com SIP/2.0",
    extra=(
        'Contact: "Mr. Watson" <sip:watson@worcester.example.com>;q=0.7; expires=3600,\n'
        ' "Mr. Watson" <mailto:watson@bell-telephone.example.com> ;q=0.1\n'
        "Contact: sip:watson@[::1]:5080;expires=30\n"
        "m: <sips:watson@example.com;gr=urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>;+sip.instance="
        '"<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1'
    ),
)

LOWERCASE_VERSION = request("OPTIONS sip:user@example.com sip/2.0")

TEL_REQUEST_URI = request("INVITE tel:+1-201-555-0123;phone-context=+1 SIP/2.0", to="<tel:+1-201-555-0123>")

RFC2543_STYLE = request(
    "INVITE sip:UserB@example.com SIP/2.0",
    via="SIP/2.0/UDP 192.0.2.15",
    to="sip:UserB@example.com",
    from_="sip:UserA@example.com",
)

ODD_HEADER_NAMES = request(extra="X-!%*_+`'~.: odd name\nx-EMPTY:\nX-Tabs:\t\tvalue\twith\ttabs\t")

LEADING_CRLF = b"\r\n\r\n\r\n" + request()
