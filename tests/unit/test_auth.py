"""Tests for twochat_voice_web.sip.auth (digest authentication, RFC 2617 / 7616 / 8760)."""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import re
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twochat_voice_web.server.digest import DigestServer, VerifyResult
from twochat_voice_web.sip.auth import (
    SUPPORTED_ALGORITHMS,
    DigestChallenge,
    DigestClient,
    DigestCredentials,
    Ha1,
    compute_ha1,
    compute_response,
    compute_userhash,
    parse_challenges,
    select_challenge,
    select_challenges,
)
from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

ALL_ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess", "SHA-512-256", "SHA-512-256-sess")
SECRET = b"0123456789abcdef0123456789abcdef"
PASSWORDS = {"alice": "wonderland", "bob": "builder"}
REALM = "sandbox.local"
URI = "sip:sandbox.local;transport=ws"


def make_random() -> Callable[[int], bytes]:
    """Deterministic stand-in for secrets.token_bytes."""
    counter = itertools.count(1)

    def random_bytes(n: int) -> bytes:
        seed = next(counter).to_bytes(4, "big")
        out = b""
        block = 0
        while len(out) < n:
            out += hashlib.sha256(seed + block.to_bytes(4, "big")).digest()
            block += 1
        return out[:n]

    return random_bytes


def md5(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


def make_server(**kwargs: object) -> DigestServer:
    options: dict[str, object] = {"random_bytes": make_random()}
    options.update(kwargs)
    return DigestServer(REALM, SECRET, **options)  # type: ignore[arg-type]


def make_client(username: str = "alice", password: str | None = None, **kwargs: object) -> DigestClient:
    if password is None and "ha1" not in kwargs:
        password = PASSWORDS[username]
    options: dict[str, object] = {"random_bytes": make_random()}
    options.update(kwargs)
    return DigestClient(username, password, **options)  # type: ignore[arg-type]


def skip_unless_supported(algorithm: str) -> None:
    if algorithm not in SUPPORTED_ALGORITHMS:
        pytest.skip(f"{algorithm} is not available in this runtime's hashlib")


# --------------------------------------------------------------------------------------------------------
# RFC test vectors
# --------------------------------------------------------------------------------------------------------

RFC2617_CHALLENGE = (
    'Digest\r\n                 realm="testrealm@host.com",\r\n                 qop="auth,auth-int",\r\n'
    '                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n'
    '                 opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC2617_AUTHORIZATION = (
    'Digest username="Mufasa",\r\n                 realm="testrealm@host.com",\r\n'
    '                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n'
    '                 uri="/dir/index.html",\r\n'
    '                 qop=auth,\r\n                 nc=00000001,\r\n                 cnonce="0a4f113b",\r\n'
    '                 response="6629fae49393a05397450978507c4ef1",\r\n'
    '                 opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)
RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def test_rfc2617_section_3_5_md5_qop_auth() -> None:
    ha1 = compute_ha1("Mufasa", "testrealm@host.com", "Circle Of Life")
    response = compute_response(
        "MD5",
        ha1,
        nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce="0a4f113b",
    )
    assert response == "6629fae49393a05397450978507c4ef1"


def test_rfc2617_challenge_and_authorization_parse() -> None:
    challenge = DigestChallenge.parse(RFC2617_CHALLENGE)
    assert challenge.realm == "testrealm@host.com"
    assert challenge.qop == ("auth", "auth-int")
    assert challenge.nonce == "dcd98b7102dd2f0e8b11d0f600bfb0c093"
    assert challenge.opaque == "5ccc069c403ebaf9f0171e9517f40e41"
    assert challenge.algorithm is None
    assert challenge.effective_algorithm == "MD5"
    assert not challenge.stale

    credentials = DigestCredentials.parse(RFC2617_AUTHORIZATION)
    assert credentials.username == "Mufasa"
    assert credentials.nc == 1
    assert credentials.qop == "auth"
    assert credentials.cnonce == "0a4f113b"
    assert credentials.response == "6629fae49393a05397450978507c4ef1"
    assert credentials.opaque == challenge.opaque


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
    ],
)
def test_rfc7616_section_3_9_1(algorithm: str, expected: str) -> None:
    challenge = DigestChallenge.parse(
        'Digest\r\n       realm="http-auth@example.org",\r\n       qop="auth, auth-int",\r\n'
        f'       algorithm={algorithm},\r\n       nonce="{RFC7616_NONCE}",\r\n'
        f'       opaque="{RFC7616_OPAQUE}"'
    )
    assert challenge.algorithm == algorithm
    assert challenge.qop == ("auth", "auth-int")
    ha1 = compute_ha1("Mufasa", challenge.realm, "Circle of Life", algorithm)
    response = compute_response(
        algorithm,
        ha1,
        nonce=challenge.nonce,
        method="GET",
        uri="/dir/index.html",
        qop="auth",
        nc=1,
        cnonce=RFC7616_CNONCE,
    )
    assert response == expected

    authorization = DigestCredentials.parse(
        'Digest username="Mufasa",\r\n       realm="http-auth@example.org",\r\n'
        '       uri="/dir/index.html",\r\n'
        f'       algorithm={algorithm},\r\n       nonce="{RFC7616_NONCE}",\r\n       nc=00000001,\r\n'
        f'       cnonce="{RFC7616_CNONCE}",\r\n       qop=auth,\r\n       response="{expected}",\r\n'
        f'       opaque="{RFC7616_OPAQUE}"'
    )
    assert authorization.algorithm == algorithm
    assert authorization.response == expected


def test_rfc7616_section_3_9_2_challenge_and_username_star() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="api@example.org", qop="auth", algorithm=SHA-512-256, '
        'nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", '
        'opaque="HRPCssKJSGjCrkzDg8OhwpzCiGPChXYjwrI2QmXDnsOS", charset=UTF-8, userhash=true'
    )
    assert challenge.algorithm == "SHA-512-256"
    assert challenge.charset == "UTF-8"
    assert challenge.userhash
    credentials = DigestCredentials.parse(
        'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="api@example.org", uri="/doe.json", '
        'algorithm=SHA-512-256, nonce="5TsQWLVdgBdmrQ0XsxbDODV+57QdFR34I9HAbC/RVvkK", nc=00000001, '
        'cnonce="NTg6RKcb9boFIAS3KrFK9BGeh+iDa/sm6jUMp2wds69v", qop=auth, response="00", userhash=false'
    )
    assert credentials.username == "J\u00e4s\u00f8n Doe"
    assert not credentials.userhash


def test_sha512_256_userhash_matches_definition() -> None:
    skip_unless_supported("SHA-512-256")
    # RFC 7616 §3.9.2 prints other values for this example (erratum 4897 reports them); check the definition.
    username = "J\u00e4s\u00f8n Doe"
    expected = hashlib.new("sha512_256", f"{username}:api@example.org".encode()).hexdigest()
    assert compute_userhash(username, "api@example.org", "SHA-512-256") == expected


# --------------------------------------------------------------------------------------------------------
# Client computations
# --------------------------------------------------------------------------------------------------------


def test_client_md5_qop_auth_matches_formula() -> None:
    client = make_client("Mufasa", "Circle Of Life")
    challenge = DigestChallenge.parse(RFC2617_CHALLENGE)
    credentials = client.authorize("GET", "/dir/index.html", challenge)
    assert credentials.qop == "auth"
    assert credentials.nc == 1
    assert credentials.cnonce is not None
    assert credentials.opaque == challenge.opaque
    ha1 = md5("Mufasa:testrealm@host.com:Circle Of Life")
    ha2 = md5("GET:/dir/index.html")
    expected = md5(f"{ha1}:{challenge.nonce}:00000001:{credentials.cnonce}:auth:{ha2}")
    assert credentials.response == expected


def test_client_md5_sess() -> None:
    client = make_client("Mufasa", "Circle Of Life")
    challenge = DigestChallenge(realm="r", nonce="n1", algorithm="MD5-sess", qop=("auth",))
    first = client.authorize("REGISTER", "sip:r", challenge)
    assert first.algorithm == "MD5-sess"
    assert first.cnonce is not None
    session_key = md5(f"{md5('Mufasa:r:Circle Of Life')}:n1:{first.cnonce}")
    expected = md5(f"{session_key}:n1:00000001:{first.cnonce}:auth:{md5('REGISTER:sip:r')}")
    assert first.response == expected
    # The session cnonce is kept for the nonce, so both readings of RFC 2617 §3.2.2.2 agree.
    second = client.authorize("REGISTER", "sip:r", challenge)
    assert second.cnonce == first.cnonce
    assert second.nc == 2


def test_client_without_qop_uses_rfc2069_form() -> None:
    client = make_client("Mufasa", "Circle Of Life")
    challenge = DigestChallenge.parse('Digest realm="testrealm@host.com", nonce="abc"')
    credentials = client.authorize("INVITE", "sip:bob@example.com", challenge)
    assert credentials.qop is None
    assert credentials.nc is None
    assert credentials.cnonce is None
    ha1 = md5("Mufasa:testrealm@host.com:Circle Of Life")
    assert credentials.response == md5(f"{ha1}:abc:{md5('INVITE:sip:bob@example.com')}")
    text = str(credentials)
    assert "qop" not in text
    assert "nc=" not in text
    assert "cnonce" not in text
    assert "algorithm" not in text  # echoes the challenge, which named none


def test_client_prefers_auth_and_uses_auth_int_when_alone() -> None:
    client = make_client()
    both = DigestChallenge(realm="r", nonce="n", qop=("auth-int", "auth"))
    assert client.authorize("MESSAGE", "sip:x", both, b"hi").qop == "auth"
    only_int = DigestChallenge(realm="r", nonce="n2", qop=("auth-int",))
    with_body = client.authorize("MESSAGE", "sip:x", only_int, b"hello")
    assert with_body.qop == "auth-int"
    ha1 = md5("alice:r:wonderland")
    ha2 = md5(f"MESSAGE:sip:x:{md5('hello')}")
    assert with_body.response == md5(f"{ha1}:n2:00000001:{with_body.cnonce}:auth-int:{ha2}")


def test_nc_increments_per_nonce() -> None:
    client = make_client()
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",), algorithm="SHA-256")
    ncs = [client.authorize("REGISTER", "sip:r", challenge).nc for _ in range(3)]
    assert ncs == [1, 2, 3]
    assert "nc=00000004" in str(client.authorize("REGISTER", "sip:r", challenge))
    other = DigestChallenge(realm="r", nonce="other", qop=("auth",))
    assert client.authorize("REGISTER", "sip:r", other).nc == 1
    assert client.authorize("REGISTER", "sip:r", challenge).nc == 5


def test_fresh_cnonce_per_request_without_sess() -> None:
    client = make_client()
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",))
    first = client.authorize("REGISTER", "sip:r", challenge)
    second = client.authorize("REGISTER", "sip:r", challenge)
    assert first.cnonce != second.cnonce
    assert first.cnonce is not None
    assert re.fullmatch(r"[0-9a-f]{32}", first.cnonce)


def test_deterministic_with_injected_random() -> None:
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",))
    assert str(make_client().authorize("REGISTER", "sip:r", challenge)) == str(
        make_client().authorize("REGISTER", "sip:r", challenge)
    )
    assert str(make_server().challenge(5.0)[0]) == str(make_server().challenge(5.0)[0])


def test_precomputed_ha1() -> None:
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",))
    with_password = make_client().authorize("REGISTER", "sip:r", challenge)
    with_ha1 = make_client(ha1=md5("alice:r:wonderland")).authorize("REGISTER", "sip:r", challenge)
    assert with_ha1 == with_password

    sha_challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",), algorithm="SHA-256")
    md5_only = make_client(ha1=md5("alice:r:wonderland"))
    assert not md5_only.supports(sha_challenge)
    with pytest.raises(LocalProtocolError):
        md5_only.authorize("REGISTER", "sip:r", sha_challenge)
    assert md5_only.select_challenge([sha_challenge, challenge]) == challenge

    sha_ha1 = Ha1(compute_ha1("alice", "r", "wonderland", "SHA-256"), "SHA-256")
    sha_client = make_client(ha1=sha_ha1)
    assert sha_client.supports(sha_challenge)
    assert not sha_client.supports(challenge)
    expected = make_client().authorize("REGISTER", "sip:r", sha_challenge)
    assert sha_client.authorize("REGISTER", "sip:r", sha_challenge) == expected


def test_client_argument_errors() -> None:
    with pytest.raises(LocalProtocolError):
        DigestClient("alice")
    with pytest.raises(LocalProtocolError):
        DigestClient("alice", "pw", ha1=md5("x"))
    with pytest.raises(LocalProtocolError):
        DigestClient("alice", ha1="not-hex")
    with pytest.raises(LocalProtocolError):
        DigestClient("alice", ha1="ab" * 32)  # SHA-256 length, but a plain str means MD5
    with pytest.raises(LocalProtocolError):
        DigestClient("alice", "pw", max_attempts=0)
    with pytest.raises(LocalProtocolError):
        DigestClient("", "pw")
    client = make_client()
    challenge = DigestChallenge(realm="r", nonce="n", qop=("auth",))
    with pytest.raises(LocalProtocolError):
        client.authorize("REG ISTER", "sip:r", challenge)
    with pytest.raises(LocalProtocolError):
        client.authorize("REGISTER", "sip:r\r\nX: y", challenge)


def test_unanswerable_challenges() -> None:
    client = make_client()
    unknown_algorithm = DigestChallenge(realm="r", nonce="n", algorithm="AKAv1-MD5", qop=("auth",))
    unknown_qop = DigestChallenge(realm="r", nonce="n", qop=("auth-conf",))
    sess_without_qop = DigestChallenge(realm="r", nonce="n", algorithm="MD5-sess")
    for challenge in (unknown_algorithm, unknown_qop, sess_without_qop):
        assert not challenge.supported
        assert not client.supports(challenge)
        assert not client.should_retry(challenge, False, attempts=0)
        with pytest.raises(LocalProtocolError):
            client.authorize("REGISTER", "sip:r", challenge)


def test_compute_response_errors() -> None:
    with pytest.raises(LocalProtocolError):
        compute_response("MD5", "00" * 16, nonce="n", method="M", uri="u", qop="auth")
    with pytest.raises(LocalProtocolError):
        compute_response("MD5", "00" * 16, nonce="n", method="M", uri="u", qop="auth-conf", nc=1, cnonce="c")
    with pytest.raises(LocalProtocolError):
        compute_response("MD5-sess", "00" * 16, nonce="n", method="M", uri="u")
    with pytest.raises(LocalProtocolError):
        compute_response("SHA-1", "00" * 20, nonce="n", method="M", uri="u")
    with pytest.raises(LocalProtocolError):
        compute_ha1("a", "r", "p", "NOPE")


# --------------------------------------------------------------------------------------------------------
# Bounded retries
# --------------------------------------------------------------------------------------------------------


def test_should_retry_policy() -> None:
    client = make_client(max_attempts=2)
    fresh = DigestChallenge(realm="r", nonce="n1", qop=("auth",))
    stale = DigestChallenge(realm="r", nonce="n2", qop=("auth",), stale=True)
    # First challenge of a request: answer it.
    assert client.should_retry(fresh, False, attempts=0)
    # Challenged again after our credentials, not stale: wrong password, give up.
    assert not client.should_retry(fresh, True, attempts=1)
    # Challenged again with stale=true: the nonce expired, retry with the new one.
    assert client.should_retry(stale, True, attempts=1)
    # ...but never beyond max_attempts, even if the server keeps saying stale.
    assert not client.should_retry(stale, True, attempts=2)
    assert not client.should_retry(fresh, False, attempts=2)
    assert client.max_attempts == 2


def test_full_retry_flow_with_wrong_password_gives_up() -> None:
    server = make_server(algorithms=("MD5",))
    client = make_client("alice", "not-the-password")
    attempts = 0
    sent = False
    now = 100.0
    outcome: VerifyResult | None = None
    challenges = server.challenge(now)
    while True:
        challenge = client.select_challenge(str(c) for c in challenges)
        assert challenge is not None
        if not client.should_retry(challenge, sent, attempts=attempts):
            break
        credentials = client.authorize("REGISTER", URI, challenge)
        attempts += 1
        sent = True
        outcome = server.verify("REGISTER", DigestCredentials.parse(str(credentials)), PASSWORDS.get, now)
        if outcome is VerifyResult.OK:
            break
        challenges = server.challenge(now, stale=outcome.rechallenge_stale)
    assert outcome is VerifyResult.BAD_CREDENTIALS
    assert attempts == 1


# --------------------------------------------------------------------------------------------------------
# Parsing: odd but legal input
# --------------------------------------------------------------------------------------------------------


def test_parse_folded_whitespace_and_spaces_around_separators() -> None:
    challenge = DigestChallenge.parse(
        'digest  realm = "a b" ,\r\n\tnonce= n0 ,algorithm =sha-256,\r\n   qop=auth ,,  stale = TRUE'
    )
    assert challenge.realm == "a b"
    assert challenge.nonce == "n0"
    assert challenge.algorithm == "SHA-256"
    assert challenge.qop == ("auth",)
    assert challenge.stale


def test_parse_quoted_strings_with_commas_and_escapes() -> None:
    challenge = DigestChallenge.parse(
        r'DIGEST realm="Say \"hi\", then \\ leave", nonce="a,b=c", opaque="x\yz", stale=False'
    )
    assert challenge.realm == 'Say "hi", then \\ leave'
    assert challenge.nonce == "a,b=c"
    assert challenge.opaque == "xyz"
    assert not challenge.stale
    assert DigestChallenge.parse(str(challenge)) == challenge


def test_parse_unknown_params_and_optional_fields() -> None:
    challenge = DigestChallenge.parse(
        'Digest realm="r", nonce="n", foo=bar, Baz="quoted value", empty="", algorithm="MD5-SESS", '
        'qop="AUTH, auth-int", domain="sip:a.example  sip:b.example", userhash=TRUE, charset=UTF-8'
    )
    assert challenge.extra == (("foo", "bar"), ("Baz", "quoted value"), ("empty", ""))
    assert challenge.algorithm == "MD5-sess"
    assert challenge.qop == ("auth", "auth-int")
    assert challenge.domain == ("sip:a.example", "sip:b.example")
    assert challenge.userhash
    assert challenge.charset == "UTF-8"
    text = str(challenge)
    assert 'domain="sip:a.example sip:b.example"' in text
    assert "foo=bar" in text
    assert 'Baz="quoted value"' in text
    assert 'empty=""' in text
    assert DigestChallenge.parse(text) == challenge


def test_unknown_algorithm_kept_as_written() -> None:
    challenge = DigestChallenge.parse('Digest realm="r", nonce="n", algorithm=AKAv1-MD5')
    assert challenge.algorithm == "AKAv1-MD5"
    assert not challenge.supported
    assert challenge.strength == 0


def test_challenge_format() -> None:
    challenge = DigestChallenge(
        realm="r", nonce="n", opaque="o", algorithm="SHA-256", qop=("auth", "auth-int"), stale=True
    )
    assert str(challenge) == (
        'Digest realm="r", nonce="n", opaque="o", stale=true, algorithm=SHA-256, qop="auth,auth-int"'
    )


def test_parse_challenges_lists_several() -> None:
    value = (
        'Basic realm="simple", Digest realm="a", nonce="1", algorithm=SHA-256, qop="auth", '
        'Bearer abc.def==, Digest realm="a", nonce="2", Newauth realm="apps", type=1, '
        'title="Login to \\"apps\\""'
    )
    challenges = parse_challenges(value)
    assert [c.nonce for c in challenges] == ["1", "2"]
    assert challenges[0].algorithm == "SHA-256"
    assert challenges[1].algorithm is None
    assert parse_challenges('Newauth realm="apps", type=1, Basic realm="simple"') == []
    assert parse_challenges("") == []
    assert parse_challenges("Negotiate, Bearer") == []


def test_credentials_parse_lenient_quoting_and_jssip_style() -> None:
    credentials = DigestCredentials.parse(
        'Digest username="1001",realm="sandbox.local",nonce="abc",uri="sip:sandbox.local",'
        'response="0123456789abcdef0123456789abcdef",opaque="o",qop="AUTH",cnonce="c1",nc=0000000a,'
        'algorithm="md5",x-extra=1'
    )
    assert credentials.username == "1001"
    assert credentials.qop == "auth"
    assert credentials.nc == 10
    assert credentials.algorithm == "MD5"
    assert credentials.extra == (("x-extra", "1"),)
    assert DigestCredentials.parse(str(credentials)) == credentials


def test_credentials_format_quotes_what_rfc_says() -> None:
    credentials = DigestCredentials(
        username="alice",
        realm="r",
        nonce="n",
        uri="sip:r",
        response="ab",
        algorithm="SHA-256",
        cnonce="c",
        opaque="o",
        qop="auth",
        nc=0x1F,
        userhash=True,
    )
    assert str(credentials) == (
        'Digest username="alice", realm="r", nonce="n", uri="sip:r", response="ab", algorithm=SHA-256, '
        'cnonce="c", opaque="o", qop=auth, nc=0000001f, userhash=true'
    )


def test_format_escapes_quotes_and_refuses_controls() -> None:
    tricky = DigestCredentials(username='a"b\\c', realm="r", nonce="n", uri="sip:r", response="x")
    text = str(tricky)
    assert 'username="a\\"b\\\\c"' in text
    assert DigestCredentials.parse(text).username == 'a"b\\c'
    for field in ("username", "realm", "nonce", "uri", "opaque", "cnonce"):
        for bad in ("x\r\nVia: evil", "x\n", "x\r", "x\x00y", "x\x7f"):
            values = {"username": "u", "realm": "r", "nonce": "n", "uri": "sip:r", "response": "x"}
            values[field] = bad
            with pytest.raises(LocalProtocolError):
                str(DigestCredentials(**values))  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError):
        str(DigestChallenge(realm="r\r\n", nonce="n"))
    with pytest.raises(LocalProtocolError):
        str(DigestChallenge(realm="r", nonce="n", algorithm="MD5, qop=evil"))
    with pytest.raises(LocalProtocolError):
        str(DigestChallenge(realm="r", nonce="n", qop=("auth auth",)))
    with pytest.raises(LocalProtocolError):
        str(DigestChallenge(realm="r", nonce="n", extra=(("bad name", "v"),)))
    with pytest.raises(LocalProtocolError):
        str(DigestChallenge(realm="r", nonce="n", domain=("has space",)))
    with pytest.raises(LocalProtocolError):
        str(DigestCredentials(username="u", realm="r", nonce="n", uri="u", response="x", qop="a,b"))
    with pytest.raises(LocalProtocolError):
        str(DigestCredentials(username="u", realm="r", nonce="n", uri="u", response="x", nc=2**32))
    with pytest.raises(LocalProtocolError):
        DigestClient("ali\r\nce", "pw")
    with pytest.raises(LocalProtocolError):
        DigestClient("ali\x00ce", "pw")
    with pytest.raises(LocalProtocolError):
        DigestServer("realm\n", SECRET)


def test_client_escapes_realm_from_server() -> None:
    challenge = DigestChallenge.parse(r'Digest realm="odd \"realm\"", nonce="n", qop=auth')
    credentials = make_client().authorize("REGISTER", "sip:r", challenge)
    text = str(credentials)
    assert r'realm="odd \"realm\""' in text
    assert DigestCredentials.parse(text).realm == 'odd "realm"'


def test_non_ascii_in_quoted_strings() -> None:
    challenge = DigestChallenge.parse('Digest realm="caf\u00e9", nonce="n"')
    assert challenge.realm == "caf\u00e9"
    credentials = make_client("j\u00fcrgen", "pw").authorize("REGISTER", "sip:r", challenge)
    assert DigestCredentials.parse(str(credentials)).username == "j\u00fcrgen"


# --------------------------------------------------------------------------------------------------------
# Parsing: malformed input
# --------------------------------------------------------------------------------------------------------

MALFORMED_CHALLENGES = [
    "",
    "   ",
    "Digest",
    'Digest realm="r"',
    'Digest nonce="n"',
    'Digest realm="r, nonce="n"',
    'Digest realm="r", nonce="n\\',
    'Digest realm="r" nonce="n"',
    'Digest realm="r", realm="s", nonce="n"',
    'Digest realm="r", nonce="n", NONCE="m"',
    'Digest realm="r", nonce="n", stale=maybe',
    'Digest realm="r", nonce="n", userhash=1',
    'Digest realm=, nonce="n"',
    'Digest realm="r", nonce=',
    'Digest realm="r",\r\nnonce="n"',
    'Digest realm="r",\nnonce="n"',
    'Digest realm="r\x00", nonce="n"',
    'Digest realm="r\x07", nonce="n"',
    'Digest realm="r", nonce="n"\r\n',
    "Digest abc==",
    "Digest abc",
    'Basic realm="r"',
    'Digest realm="r", nonce="n", Digest realm="s", nonce="m"',
    '=realm"x"',
    'Digest, realm="r", nonce="n"',
    'Digestrealm="r", nonce="n"',
    'Digest realm="r", nonce="n", "x"',
    'Digest realm="r", nonce="n" junk',
    'Digest realm=r@x, nonce="n"',
    'Digest realm="r", nonce="n", algorithm=SHA-256;x',
]


@pytest.mark.parametrize("value", MALFORMED_CHALLENGES)
def test_malformed_challenges_raise_parse_error(value: str) -> None:
    with pytest.raises(ParseError):
        DigestChallenge.parse(value)


MALFORMED_CREDENTIALS = [
    'Digest realm="r", nonce="n", uri="u", response="x"',
    'Digest username="u", nonce="n", uri="u", response="x"',
    'Digest username="u", realm="r", uri="u", response="x"',
    'Digest username="u", realm="r", nonce="n", response="x"',
    'Digest username="u", realm="r", nonce="n", uri="u"',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, nc=00000001',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, cnonce="c"',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, cnonce="c", nc=1',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, cnonce="c", nc=0000000g',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop=auth, cnonce="c", nc=000000001',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", qop="auth,auth-int", cnonce="c", '
    "nc=00000001",
    'Digest username="u", username*=UTF-8\'\'u, realm="r", nonce="n", uri="u", response="x"',
    'Digest username*=UTF-8\'\'%FF, realm="r", nonce="n", uri="u", response="x"',
    'Digest username*=UTF-8\'\'%G1, realm="r", nonce="n", uri="u", response="x"',
    'Digest username*=KOI8-R\'\'abc, realm="r", nonce="n", uri="u", response="x"',
    'Digest username*="plain", realm="r", nonce="n", uri="u", response="x"',
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", userhash=yes',
    "Basic dXNlcjpwYXNz",
    'Digest username="u", realm="r", nonce="n", uri="u", response="x", Digest username="v"',
]


@pytest.mark.parametrize("value", MALFORMED_CREDENTIALS)
def test_malformed_credentials_raise_parse_error(value: str) -> None:
    with pytest.raises(ParseError):
        DigestCredentials.parse(value)


def test_parse_challenges_malformed() -> None:
    with pytest.raises(ParseError):
        parse_challenges('Basic realm="x", Digest realm="r"')
    with pytest.raises(ParseError):
        parse_challenges('Digest realm="r", nonce="n", Basic abc def')
    with pytest.raises(ParseError):
        parse_challenges("Bearer abc, realm=x")


VALID_SAMPLES = [
    RFC2617_CHALLENGE,
    RFC2617_AUTHORIZATION,
    r'Digest realm="Say \"hi\"", nonce="a,b", qop="auth,auth-int", algorithm=SHA-256-sess, stale=true',
    'Basic realm="x", Digest realm="a", nonce="1", Bearer abc==',
    'Digest username*=UTF-8\'\'J%C3%A4s%C3%B8n%20Doe, realm="r", nonce="n", uri="u", response="x", '
    'qop=auth, cnonce="c", nc=00000001',
]
NASTY_CHARS = st.sampled_from(
    ['"', "\\", ",", "=", " ", "\t", "\r", "\n", "\x00", "'", "%", "\u00e9", "a", "*"]
)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = draw(st.sampled_from(VALID_SAMPLES))
    for _ in range(draw(st.integers(min_value=1, max_value=6))):
        position = draw(st.integers(min_value=0, max_value=len(text)))
        action = draw(st.sampled_from(["insert", "delete", "replace", "truncate"]))
        if action == "insert":
            text = text[:position] + draw(NASTY_CHARS) + text[position:]
        elif action == "delete":
            text = text[:position] + text[position + 1 :]
        elif action == "replace":
            text = text[:position] + draw(NASTY_CHARS) + text[position + 1 :]
        else:
            text = text[:position]
    return text


def _only_parse_errors(value: str) -> None:
    for parse in (DigestChallenge.parse, DigestCredentials.parse, parse_challenges):
        try:
            result = parse(value)
        except ParseError:
            continue
        # Whatever parses must format back (or refuse with LocalProtocolError, never anything else).
        for item in result if isinstance(result, list) else [result]:
            with contextlib.suppress(LocalProtocolError):
                str(item)
    with contextlib.suppress(ParseError):
        select_challenge([value])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_random_text_raises_only_parse_error(value: str) -> None:
    _only_parse_errors(value)


@settings(max_examples=500, deadline=None)
@given(mutated())
def test_mutated_headers_raise_only_parse_error(value: str) -> None:
    _only_parse_errors(value)


QUOTABLE = st.text(alphabet=st.characters(exclude_categories=("Cs", "Cc")), max_size=20)
TOKENS = st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,10}", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    realm=QUOTABLE,
    nonce=QUOTABLE,
    opaque=st.none() | QUOTABLE,
    algorithm=st.none() | st.sampled_from(ALL_ALGORITHMS),
    qop=st.lists(st.sampled_from(["auth", "auth-int"]), max_size=2, unique=True),
    stale=st.booleans(),
    extra_value=QUOTABLE,
)
def test_challenge_round_trip(
    realm: str,
    nonce: str,
    opaque: str | None,
    algorithm: str | None,
    qop: list[str],
    stale: bool,
    extra_value: str,
) -> None:
    challenge = DigestChallenge(
        realm=realm,
        nonce=nonce,
        opaque=opaque,
        algorithm=algorithm,
        qop=tuple(qop),
        stale=stale,
        extra=(("x-param", extra_value),),
    )
    assert DigestChallenge.parse(str(challenge)) == challenge
    assert parse_challenges(f"{challenge}, {challenge}") == [challenge, challenge]


@settings(max_examples=200, deadline=None)
@given(username=QUOTABLE, realm=QUOTABLE, uri=QUOTABLE, cnonce=QUOTABLE, nc=st.integers(0, 2**32 - 1))
def test_credentials_round_trip(username: str, realm: str, uri: str, cnonce: str, nc: int) -> None:
    credentials = DigestCredentials(
        username=username,
        realm=realm,
        nonce="n",
        uri=uri,
        response="abc",
        algorithm="SHA-256",
        cnonce=cnonce,
        qop="auth",
        nc=nc,
    )
    assert DigestCredentials.parse(str(credentials)) == credentials


@given(name=TOKENS, value=TOKENS)
def test_token_values_stay_bare(name: str, value: str) -> None:
    challenge = DigestChallenge(realm="r", nonce="n", extra=(("x" + name, value),))
    assert f"x{name}={value}" in str(challenge)


# --------------------------------------------------------------------------------------------------------
# Challenge selection (RFC 8760)
# --------------------------------------------------------------------------------------------------------


def test_select_prefers_strongest_then_topmost() -> None:
    lines = [
        'Digest realm="r", nonce="1", algorithm=MD5, qop="auth"',
        'Digest realm="r", nonce="2", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="3", algorithm=SHA-256-sess, qop="auth"',
    ]
    chosen = select_challenge(lines)
    assert chosen is not None
    assert chosen.nonce == "2"
    assert select_challenge(lines[:1]) == DigestChallenge.parse(lines[0])


def test_select_prefers_sha512_256_when_available() -> None:
    skip_unless_supported("SHA-512-256")
    lines = [
        'Digest realm="r", nonce="1", algorithm=SHA-256, qop="auth"',
        'Digest realm="r", nonce="2", algorithm=SHA-512-256, qop="auth"',
    ]
    chosen = select_challenge(lines)
    assert chosen is not None
    assert chosen.nonce == "2"


def test_select_skips_unsupported_and_malformed() -> None:
    lines = [
        'Digest realm="r", nonce="1", algorithm=AKAv1-MD5, qop="auth"',
        'Digest realm="r" broken',
        'Basic realm="r"',
        'Digest realm="r", nonce="2", qop="auth"',
    ]
    chosen = select_challenge(lines)
    assert chosen is not None
    assert chosen.nonce == "2"
    assert select_challenge(['Digest realm="r", nonce="1", algorithm=AKAv1-MD5']) is None
    assert select_challenge([]) is None
    with pytest.raises(ParseError):
        select_challenge(['Digest realm="r" broken', "Digest nonce=1"])


def test_select_challenges_one_per_realm() -> None:
    lines = [
        'Digest realm="proxy1", nonce="1", algorithm=MD5, qop="auth"',
        'Digest realm="proxy2", nonce="2", algorithm=MD5, qop="auth"',
        'Digest realm="proxy1", nonce="3", algorithm=SHA-256, qop="auth"',
    ]
    chosen = select_challenges(lines)
    assert [(c.realm, c.nonce) for c in chosen] == [("proxy1", "3"), ("proxy2", "2")]
    parsed = [DigestChallenge.parse(line) for line in lines]
    assert select_challenges(parsed) == chosen


# --------------------------------------------------------------------------------------------------------
# Server: challenges and verification
# --------------------------------------------------------------------------------------------------------


def test_server_challenges_strongest_first() -> None:
    server = make_server(algorithms=("MD5", "SHA-256"))
    challenges = server.challenge(1000.0)
    assert [c.algorithm for c in challenges] == ["SHA-256", "MD5"]
    assert server.algorithms == ("SHA-256", "MD5")
    assert all(c.realm == REALM and c.qop == ("auth",) and not c.stale for c in challenges)
    assert challenges[0].nonce != challenges[1].nonce
    assert re.fullmatch(r"[A-Za-z0-9_-]{48}", challenges[0].nonce)
    text = str(challenges[0])
    assert text.startswith(f'Digest realm="{REALM}", nonce="')
    assert text.endswith('", algorithm=SHA-256, qop="auth"')
    assert all(c.stale for c in server.challenge(1000.0, stale=True))


def test_server_can_keep_md5_on_top_for_jssip() -> None:
    server = make_server(algorithms=("MD5", "SHA-256"), strongest_first=False)
    challenges = server.challenge(0.0)
    assert [c.algorithm for c in challenges] == ["MD5", "SHA-256"]
    # A topmost-only MD5 client (JsSIP 3.x) gets MD5; our client still picks the strongest.
    chosen = make_client().select_challenge(str(c) for c in challenges)
    assert chosen is not None
    assert chosen.algorithm == "SHA-256"
    credentials = make_client().authorize("REGISTER", URI, challenges[0])
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 1.0) is VerifyResult.OK


def test_server_argument_errors() -> None:
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, b"short")
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, nonce_ttl=0)
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, algorithms=())
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, algorithms=("MD5", "md5"))
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, algorithms=("SHA-1",))
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, qop="auth-conf")
    with pytest.raises(LocalProtocolError):
        DigestServer(REALM, SECRET, algorithms=("MD5-sess",), qop=None)
    server = make_server()
    with pytest.raises(LocalProtocolError):
        server.challenge(float("nan"))


@pytest.mark.parametrize("algorithm", ALL_ALGORITHMS)
@pytest.mark.parametrize("qop", ["auth", "auth-int", None])
def test_round_trip_every_algorithm(algorithm: str, qop: str | None) -> None:
    skip_unless_supported(algorithm)
    if qop is None and algorithm.endswith("-sess"):
        pytest.skip("-sess needs a qop")
    server = make_server(algorithms=(algorithm,), qop=qop)
    client = make_client()
    now = 1_700_000_000.0
    header = str(server.challenge(now)[0])
    challenge = client.select_challenge([header])
    assert challenge is not None
    assert challenge.algorithm == algorithm
    credentials = client.authorize("INVITE", URI, challenge, b"v=0\r\n")
    wire = str(credentials)
    received = DigestCredentials.parse(wire)
    assert received == credentials
    assert server.verify("INVITE", received, PASSWORDS.get, now + 1, b"v=0\r\n") is VerifyResult.OK
    if qop is not None:
        again = client.authorize("INVITE", URI, challenge, b"v=0\r\n")
        assert again.nc == 2
        assert server.verify("INVITE", again, PASSWORDS.get, now + 2, b"v=0\r\n") is VerifyResult.OK


def test_round_trip_with_default_server_and_ha1_lookup() -> None:
    server = make_server()
    client = make_client("bob")
    now = 50.0
    challenge = client.select_challenge(str(c) for c in server.challenge(now))
    assert challenge is not None
    assert challenge.algorithm == "SHA-256"
    credentials = client.authorize("REGISTER", URI, challenge)
    stored = {"bob": Ha1(compute_ha1("bob", REALM, "builder", "SHA-256"), "SHA-256")}
    assert server.verify("REGISTER", credentials, stored.get, now) is VerifyResult.OK
    md5_only = {"bob": Ha1(compute_ha1("bob", REALM, "builder"))}
    second = client.authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", second, md5_only.get, now) is VerifyResult.BAD_CREDENTIALS


def test_auth_int_body_is_covered() -> None:
    server = make_server(algorithms=("SHA-256",), qop="auth-int")
    client = make_client()
    challenge = server.challenge(0.0)[0]
    credentials = client.authorize("MESSAGE", URI, challenge, b"hello")
    assert credentials.qop == "auth-int"
    assert server.verify("MESSAGE", credentials, PASSWORDS.get, 1.0, b"tampered") is (
        VerifyResult.BAD_CREDENTIALS
    )
    assert server.verify("MESSAGE", credentials, PASSWORDS.get, 1.0, b"hello") is VerifyResult.OK


def test_stale_nonce_flow() -> None:
    server = make_server(nonce_ttl=300.0)
    client = make_client()
    issued = 1000.0
    challenge = client.select_challenge(server.challenge(issued))
    assert challenge is not None
    credentials = client.authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", credentials, PASSWORDS.get, issued + 299.0) is VerifyResult.OK

    later = issued + 301.0
    reuse = client.authorize("REGISTER", URI, challenge)
    result = server.verify("REGISTER", reuse, PASSWORDS.get, later)
    assert result is VerifyResult.STALE
    assert result.rechallenge_stale
    rechallenge = client.select_challenge(server.challenge(later, stale=result.rechallenge_stale))
    assert rechallenge is not None
    assert rechallenge.stale
    assert client.should_retry(rechallenge, True, attempts=1)
    retry = client.authorize("REGISTER", URI, rechallenge)
    assert retry.nc == 1
    assert server.verify("REGISTER", retry, PASSWORDS.get, later) is VerifyResult.OK


def test_stale_only_when_credentials_are_right() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    wrong = make_client("alice", "nope").authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", wrong, PASSWORDS.get, 10_000.0) is VerifyResult.BAD_CREDENTIALS


def test_replay_refused() -> None:
    server = make_server()
    client = make_client()
    challenge = server.challenge(0.0)[0]
    first = client.authorize("REGISTER", URI, challenge)
    second = client.authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", first, PASSWORDS.get, 1.0) is VerifyResult.OK
    assert server.verify("REGISTER", first, PASSWORDS.get, 2.0) is VerifyResult.REPLAY
    assert server.verify("REGISTER", second, PASSWORDS.get, 3.0) is VerifyResult.OK
    # nc must increase: the first again (nc=1 < 2) and a second copy of nc=2 are both replays.
    assert server.verify("REGISTER", first, PASSWORDS.get, 4.0) is VerifyResult.REPLAY
    assert server.verify("REGISTER", second, PASSWORDS.get, 4.0) is VerifyResult.REPLAY
    assert VerifyResult.REPLAY.rechallenge_stale
    assert not VerifyResult.BAD_CREDENTIALS.rechallenge_stale


def test_nc_zero_is_refused() -> None:
    server = make_server(algorithms=("MD5",))
    challenge = server.challenge(0.0)[0]
    cnonce = "c0"
    ha1 = compute_ha1("alice", REALM, "wonderland")
    response = compute_response(
        "MD5", ha1, nonce=challenge.nonce, method="REGISTER", uri=URI, qop="auth", nc=0, cnonce=cnonce
    )
    credentials = DigestCredentials(
        username="alice",
        realm=REALM,
        nonce=challenge.nonce,
        uri=URI,
        response=response,
        algorithm="MD5",
        cnonce=cnonce,
        qop="auth",
        nc=0,
    )
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 1.0) is VerifyResult.REPLAY


def test_without_qop_each_nonce_is_accepted_once() -> None:
    server = make_server(algorithms=("MD5",), qop=None)
    client = make_client()
    challenge = server.challenge(0.0)[0]
    assert challenge.qop == ()
    credentials = client.authorize("REGISTER", URI, challenge)
    assert credentials.qop is None
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 1.0) is VerifyResult.OK
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 2.0) is VerifyResult.REPLAY


def test_wrong_password_and_unknown_user() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    wrong = make_client("alice", "guess").authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", wrong, PASSWORDS.get, 1.0) is VerifyResult.BAD_CREDENTIALS
    stranger = make_client("mallory", "pw").authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", stranger, PASSWORDS.get, 1.0) is VerifyResult.BAD_CREDENTIALS
    right = make_client().authorize("REGISTER", URI, challenge)
    assert server.verify("REGISTER", right, PASSWORDS.get, 1.0) is VerifyResult.OK


def test_response_compared_case_insensitively() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    credentials = make_client().authorize("REGISTER", URI, challenge)
    upper = DigestCredentials.parse(
        str(credentials).replace(credentials.response, credentials.response.upper())
    )
    assert server.verify("REGISTER", upper, PASSWORDS.get, 1.0) is VerifyResult.OK


def test_method_and_uri_are_bound() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    credentials = make_client().authorize("REGISTER", URI, challenge)
    assert server.verify("INVITE", credentials, PASSWORDS.get, 1.0) is VerifyResult.BAD_CREDENTIALS
    assert (
        server.verify("REGISTER", credentials, PASSWORDS.get, 1.0, request_uri="sip:other")
        is VerifyResult.BAD_CREDENTIALS
    )
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 1.0, request_uri=URI) is VerifyResult.OK


def _with_nonce(credentials: DigestCredentials, nonce: str) -> DigestCredentials:
    """Credentials over another nonce with a correct response (so only the nonce check can fail)."""
    ha1 = compute_ha1("alice", REALM, "wonderland", credentials.effective_algorithm)
    response = compute_response(
        credentials.algorithm,
        ha1,
        nonce=nonce,
        method="REGISTER",
        uri=credentials.uri,
        qop=credentials.qop,
        nc=credentials.nc,
        cnonce=credentials.cnonce,
    )
    return DigestCredentials(
        username=credentials.username,
        realm=credentials.realm,
        nonce=nonce,
        uri=credentials.uri,
        response=response,
        algorithm=credentials.algorithm,
        cnonce=credentials.cnonce,
        qop=credentials.qop,
        nc=credentials.nc,
    )


def test_forged_truncated_and_foreign_nonces() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    good = make_client().authorize("REGISTER", URI, challenge)
    nonce = challenge.nonce

    flipped_stamp = ("B" if nonce[0] == "A" else "A") + nonce[1:]
    flipped_mac = nonce[:-1] + ("B" if nonce[-1] == "A" else "A")
    other_server = DigestServer(REALM, b"another secret of 32 bytes......", random_bytes=make_random())
    foreign = other_server.challenge(0.0)[0].nonce
    forged = [
        flipped_stamp,
        flipped_mac,
        nonce[:-4],
        nonce[:24],
        nonce + "AAAA",
        foreign,
        "",
        "abc",
        "!" * len(nonce),
        "\u00e9" * len(nonce),
        "A" * len(nonce),
        "dcd98b7102dd2f0e8b11d0f600bfb0c093",
    ]
    for bad_nonce in forged:
        result = server.verify("REGISTER", _with_nonce(good, bad_nonce), PASSWORDS.get, 1.0)
        assert result is VerifyResult.INVALID_NONCE, bad_nonce
    assert server.verify("REGISTER", good, PASSWORDS.get, 1.0) is VerifyResult.OK


def test_nonce_bound_to_realm() -> None:
    other_realm = DigestServer("other.realm", SECRET, random_bytes=make_random())
    server = make_server()
    nonce = other_realm.challenge(0.0)[0].nonce
    good = make_client().authorize("REGISTER", URI, server.challenge(0.0)[0])
    result = server.verify("REGISTER", _with_nonce(good, nonce), PASSWORDS.get, 1.0)
    assert result is VerifyResult.INVALID_NONCE


def test_realm_mismatch() -> None:
    server = make_server()
    challenge = server.challenge(0.0)[0]
    foreign_challenge = DigestChallenge(
        realm="elsewhere", nonce=challenge.nonce, algorithm=challenge.algorithm, qop=challenge.qop
    )
    credentials = make_client().authorize("REGISTER", URI, foreign_challenge)
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 1.0) is VerifyResult.REALM_MISMATCH


def test_unsupported_algorithm_or_qop() -> None:
    server = make_server(algorithms=("SHA-256",))
    nonce = server.challenge(0.0)[0].nonce
    client = make_client()
    md5_answer = client.authorize("REGISTER", URI, DigestChallenge(realm=REALM, nonce=nonce, qop=("auth",)))
    assert server.verify("REGISTER", md5_answer, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED
    no_qop = client.authorize("REGISTER", URI, DigestChallenge(realm=REALM, nonce=nonce, algorithm="SHA-256"))
    assert server.verify("REGISTER", no_qop, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED
    auth_int = client.authorize(
        "REGISTER", URI, DigestChallenge(realm=REALM, nonce=nonce, algorithm="SHA-256", qop=("auth-int",))
    )
    assert server.verify("REGISTER", auth_int, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED
    unknown = DigestCredentials(
        username="alice", realm=REALM, nonce=nonce, uri=URI, response="00", algorithm="AKAv1-MD5"
    )
    assert server.verify("REGISTER", unknown, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED
    qop_server = make_server(algorithms=("MD5",), qop=None)
    md5_nonce = qop_server.challenge(0.0)[0].nonce
    with_qop = client.authorize("REGISTER", URI, DigestChallenge(realm=REALM, nonce=md5_nonce, qop=("auth",)))
    assert qop_server.verify("REGISTER", with_qop, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED


def test_userhash_round_trip() -> None:
    server = make_server(userhash=True)
    client = make_client()
    challenge = client.select_challenge(str(c) for c in server.challenge(0.0))
    assert challenge is not None
    assert challenge.userhash
    credentials = client.authorize("REGISTER", URI, challenge)
    assert credentials.userhash
    assert credentials.username == compute_userhash("alice", REALM, "SHA-256")
    assert "alice" not in str(credentials)
    assert "userhash=true" in str(credentials)
    reverse = {compute_userhash(name, REALM, "SHA-256"): name for name in PASSWORDS}
    received = DigestCredentials.parse(str(credentials))
    assert server.verify("REGISTER", received, PASSWORDS.get, 1.0) is VerifyResult.UNSUPPORTED
    assert (
        server.verify("REGISTER", received, PASSWORDS.get, 1.0, resolve_userhash=reverse.get)
        is VerifyResult.OK
    )
    second = client.authorize("REGISTER", URI, challenge)
    assert (
        server.verify("REGISTER", second, PASSWORDS.get, 1.0, resolve_userhash=lambda _: None)
        is VerifyResult.BAD_CREDENTIALS
    )


def test_credentials_for_realm() -> None:
    server = make_server()
    mine = 'Digest username="a", realm="sandbox.local", nonce="n", uri="u", response="r"'
    theirs = 'Digest username="a", realm="proxy", nonce="n", uri="u", response="r"'
    found = server.credentials_for_realm(["garbage", theirs, mine])
    assert found is not None
    assert found.realm == REALM
    assert server.credentials_for_realm([theirs]) is None


def test_replay_memory_is_pruned_by_expiry() -> None:
    server = make_server(nonce_ttl=10.0)
    client = make_client()
    for step in range(5):
        challenge = server.challenge(float(step))[0]
        credentials = client.authorize("REGISTER", URI, challenge)
        assert server.verify("REGISTER", credentials, PASSWORDS.get, float(step)) is VerifyResult.OK
    assert len(server._seen) == 5
    late = server.challenge(100.0)[0]
    credentials = client.authorize("REGISTER", URI, late)
    assert server.verify("REGISTER", credentials, PASSWORDS.get, 100.0) is VerifyResult.OK
    assert len(server._seen) == 1


def test_replay_memory_bound_never_lets_a_replay_through() -> None:
    server = make_server(max_tracked_nonces=2)
    client = make_client()
    used: list[DigestChallenge] = []
    for step in range(3):
        challenge = server.challenge(float(step))[0]
        used.append(challenge)
        credentials = client.authorize("REGISTER", URI, challenge)
        assert server.verify("REGISTER", credentials, PASSWORDS.get, float(step)) is VerifyResult.OK
        assert len(server._seen) <= 2
    # The oldest nonce was evicted from the memory: it is now stale rather than replayable.
    replay_old = client.authorize("REGISTER", URI, used[0])
    assert server.verify("REGISTER", replay_old, PASSWORDS.get, 3.0) is VerifyResult.STALE
    newest = client.authorize("REGISTER", URI, used[2])
    assert server.verify("REGISTER", newest, PASSWORDS.get, 3.0) is VerifyResult.OK
    for step in range(4, 40):
        challenge = server.challenge(float(step))[0]
        credentials = client.authorize("REGISTER", URI, challenge)
        assert server.verify("REGISTER", credentials, PASSWORDS.get, float(step)) is VerifyResult.OK
        assert len(server._seen) <= 2


_PARAM_PIECES = st.sampled_from(
    ["realm", "nonce", "qop", "=", " ", "\t", ",", '"', "\\", '\\"', "a b", "auth", "MD5", "x,y", "é", "=="]
)


@given(st.lists(_PARAM_PIECES, max_size=14).map("".join))
@settings(max_examples=400, deadline=None)
def test_param_fast_path_agrees_with_the_character_scanner(text: str) -> None:
    """The regular-expression fast path of auth-param lists reads what the character scanner reads,
    stops where it stops, and fails where it fails."""
    from twochat_voice_web.sip.auth_params import AuthScanner as _Scanner

    def outcome(read: Callable[[_Scanner], list[tuple[str, str]]]) -> tuple[object, int]:
        scanner = _Scanner(text, "WWW-Authenticate")
        try:
            return read(scanner), scanner.pos
        except ParseError:
            return "error", -1

    fast = outcome(lambda scanner: scanner.params())
    slow = outcome(lambda scanner: scanner._params_slowly([]))
    assert fast == slow
