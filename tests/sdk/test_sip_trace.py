"""``log_level="debug"``: a SIP trace per Device, through Python logging, with the secrets redacted.

The secrets are taken from the wire (the server's challenge, the digest answer the server received, the
SDP) rather than from the trace code, and the redaction examples are RFC 3261's and RFC 2617's.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest
from fakes import FakePlatform, make_token, sdp

from twochat_voice_web import Device
from twochat_voice_web.sip.auth import DigestCredentials
from twochat_voice_web.sip.trace import REDACTED, redact_message

API = "http://127.0.0.1:9999"


def sip_trace(records: list[logging.LogRecord], device: Device) -> list[str]:
    return [r.getMessage() for r in records if r.name == device.logger.name and "SIP " in r.getMessage()]


class Collect(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@pytest.fixture
def package_handler():
    """A handler on the ``twochat_voice_web`` logger, as the JavaScript facade installs its console one.

    The package logger itself stays at its default level: only each Device's own level may decide.
    """
    logger = logging.getLogger("twochat_voice_web")
    handler = Collect()
    logger.addHandler(handler)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)


async def test_debug_traces_every_sip_message_of_register_with_the_digest_secrets_redacted(package_handler):
    platform = FakePlatform()
    token = make_token()
    device = Device(token, api_base_url=API, platform=platform, log_level="debug")
    await device.register()
    trace = sip_trace(package_handler.records, device)

    sent = [t for t in trace if t.startswith("SIP sent")]
    received = [t for t in trace if t.startswith("SIP received")]
    assert [t.split("\n", 1)[1].split(" ", 1)[0] for t in sent] == ["REGISTER", "REGISTER"]
    assert [t.split("\n", 1)[1].split(" ")[:2] for t in received] == [["SIP/2.0", "401"], ["SIP/2.0", "200"]]

    answer = platform.server.requests("REGISTER")[1].headers.get_all("Authorization")[0]
    credentials = DigestCredentials.parse(answer)
    secrets = [credentials.response, credentials.nonce, "pw-alice", token]  # the nonce: the 401's
    if credentials.cnonce:
        secrets.append(credentials.cnonce)
    for text in trace:
        for secret in secrets:
            assert secret not in text
    authorization = next(line for line in sent[1].splitlines() if line.startswith("Authorization:"))
    assert f'response="{REDACTED}"' in authorization
    assert f'username="{credentials.username}"' in authorization  # what helps debugging stays
    www_authenticate = [line for line in received[0].splitlines() if line.startswith("WWW-Authenticate:")]
    assert www_authenticate
    assert all(f'nonce="{REDACTED}"' in line for line in www_authenticate)
    device.destroy()


async def test_the_trace_covers_calls_and_hides_the_ice_password(package_handler):
    platform = FakePlatform()
    device = Device(make_token(), api_base_url=API, platform=platform, log_level="debug")
    await device.register()

    def on_incoming(event: Any) -> None:
        platform.server.call("answer", event.call, sdp(50))

    platform.server.on_incoming = on_incoming
    call = await device.connect("+15550100")
    await call.disconnect()
    trace = sip_trace(package_handler.records, device)
    methods = [t.split("\n", 1)[1].split(" ", 1)[0] for t in trace if t.startswith("SIP sent")]
    assert {"INVITE", "ACK", "BYE"} <= set(methods)
    invite = next(t for t in trace if t.startswith("SIP sent") and "\nINVITE " in t)
    sent_sdp = platform.server.requests("INVITE")[0].body.decode()
    ice_pwd = next(line for line in sent_sdp.splitlines() if line.startswith("a=ice-pwd:"))
    assert ice_pwd not in invite
    assert f"a=ice-pwd:{REDACTED}" in invite
    assert "pppppppppppppppppppp" not in "\n".join(trace)  # the answer's ice-pwd (fakes.sdp)
    device.destroy()


async def test_two_devices_keep_their_own_level(package_handler):
    loud = Device(make_token(), api_base_url=API, platform=FakePlatform(), log_level="debug")
    quiet = Device(make_token(), api_base_url=API, platform=FakePlatform(), log_level="silent")
    assert loud.logger is not quiet.logger
    await loud.register()
    await quiet.register()
    assert len([t for t in sip_trace(package_handler.records, loud) if t.startswith("SIP sent")]) == 2
    assert sip_trace(package_handler.records, quiet) == []
    assert not [r for r in package_handler.records if r.name == quiet.logger.name]
    loud.destroy()
    quiet.destroy()


async def test_no_trace_at_the_default_level(package_handler):
    device = Device(make_token(), api_base_url=API, platform=FakePlatform())
    await device.register()
    assert sip_trace(package_handler.records, device) == []
    device.destroy()


# ------------------------------------------------------------------------------------------ redaction

# RFC 3261 §22.4's and RFC 2617 §3.5's example exchanges.
RFC2617_AUTHORIZATION = (
    'Authorization: Digest username="Mufasa",\r\n'
    '                 realm="testrealm@host.com",\r\n'
    '                 nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093",\r\n'
    '                 uri="/dir/index.html",\r\n'
    "                 qop=auth,\r\n"
    "                 nc=00000001,\r\n"
    '                 cnonce="0a4f113b",\r\n'
    '                 response="6629fae49393a05397450978507c4ef1",\r\n'
    '                 opaque="5ccc069c403ebaf9f0171e9517f40e41"'
)


def request(*headers: str, body: str = "") -> str:
    lines = ["REGISTER sip:example.com SIP/2.0", "Via: SIP/2.0/WSS x.invalid;branch=z9hG4bK1", *headers]
    return "\r\n".join(lines) + "\r\n\r\n" + body


@pytest.mark.parametrize("name", ["Authorization", "Proxy-Authorization", "authorization"])
def test_credentials_keep_only_the_harmless_params(name):
    text = redact_message(request(RFC2617_AUTHORIZATION.replace("Authorization", name, 1)).encode())
    for secret in ("dcd98b7102dd2f0e8b11d0f600bfb0c093", "0a4f113b", "6629fae49393a05397450978507c4ef1",
                   "5ccc069c403ebaf9f0171e9517f40e41"):
        assert secret not in text
    line = next(line for line in text.split("\r\n") if line.lower().startswith(name.lower()))
    assert 'username="Mufasa"' in line
    assert 'realm="testrealm@host.com"' in line
    assert 'uri="/dir/index.html"' in line


def test_challenges_hide_nonce_and_opaque():
    text = redact_message(
        "SIP/2.0 401 Unauthorized\r\n"
        'WWW-Authenticate: Digest realm="atlanta.com", domain="sip:ss1.carrier.com", qop="auth",\r\n'
        ' nonce="f84f1cec41e6cbe5aea9c8e88d359", opaque="", stale=FALSE, algorithm=MD5\r\n'
        'Proxy-Authenticate: Digest realm="b", nonce="abc123secret"\r\n'
        'Authentication-Info: nextnonce="47364c23432d2e131a5fb210812c", rspauth="deadbeef42"\r\n\r\n'
    )
    secrets = ("f84f1cec41e6cbe5aea9c8e88d359", "abc123secret", "47364c23432d2e131a5fb210812c", "deadbeef42")
    for secret in secrets:
        assert secret not in text
    assert 'realm="atlanta.com"' in text
    assert "algorithm=MD5" in text


@pytest.mark.parametrize(
    "value",
    ["Bearer eyJhbGciOiJIUzI1NiJ9.e30.c2lnbmF0dXJl", "Digest !!!not params!!! secret-xyz", "secret-xyz"],
)
def test_credentials_that_are_not_auth_params_are_hidden_whole(value):
    text = redact_message(request(f"Authorization: {value}"))
    assert "c2lnbmF0dXJl" not in text
    assert "secret-xyz" not in text
    assert REDACTED in text


def test_sdp_secrets_are_hidden_and_the_rest_kept():
    body = (
        "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nt=0 0\r\nm=audio 49170 RTP/SAVP 0\r\n"
        "a=ice-ufrag:8hhY\r\na=ice-pwd:asd88fgpdd777uzjYhagZg\r\n"
        "a=crypto:1 AES_CM_128_HMAC_SHA1_80 inline:PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR|2^20|1:32\r\n"
    )
    text = redact_message(request("Content-Type: application/sdp", body=body))
    assert "asd88fgpdd777uzjYhagZg" not in text
    assert "PS1uQCVeeCFCanVmcjkpPywjNWhcYD0mXXtxaVBR" not in text
    assert "a=ice-ufrag:8hhY" in text
    assert "m=audio 49170 RTP/SAVP 0" in text


@pytest.mark.parametrize(
    "data", [b"", b"\xff\xfe garbage", b"INVITE", b"X\r\nAuthorization\r\n\r\n", b"\n\n\n"]
)
def test_anything_from_the_wire_is_rendered_without_raising(data):
    assert isinstance(redact_message(data), str)
