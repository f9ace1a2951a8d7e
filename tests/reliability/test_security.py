"""Security (issue 7), end to end against a real sandbox process and, for the browser parts, Chromium.

* No API key in the built site (every file, inside wheels and compressed variants too) and none in any
  request or WebSocket frame the browser sends while the click-to-call example places a real call.
* ``ws://`` to a non-loopback host is refused before any connection is attempted (``wss://`` required).
* The sandbox refuses: mint without (or with a wrong) API key; credentials without a valid, unexpired
  JWT (missing, malformed, forged, ``alg: none``, expired, unknown user); a replayed digest nonce count;
  registering another user with one's own credentials; and it listens on loopback only.

The sandbox's own suites (tests/sandbox/test_rest.py, test_sip_registrar.py, test_cli.py) test the same
rules in-process; these check the shipped command as a browser and an attacker on this machine see it.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import re
import socket
import subprocess
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import pytest
from playwright.sync_api import BrowserContext, Request, WebSocket

from browser.harness import BuiltSite, wait_for_sdk_ready
from twochat_voice_web.driver import UserAgentDriver
from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.message import Response, parse_message
from twochat_voice_web.sip.uri import SipUri
from twochat_voice_web.sip.useragent import UserAgent, UserAgentConfig

from .driver import Probe, ProbeError
from .restartable_sandbox import RestartableSandbox
from .scenarios import ALICE_UUID, SandboxRest

pytestmark = pytest.mark.timeout(180)

KEY_PATTERN = re.compile(rb"sbx_[A-Za-z0-9_\-]{20,}")
DOMAIN = "sandbox.2chat.test"


# ------------------------------------------------------------------------------------------ the built site


def _site_blobs(site: Path) -> list[tuple[str, bytes]]:
    blobs: list[tuple[str, bytes]] = []
    for path in sorted(p for p in site.rglob("*") if p.is_file()):
        name = str(path.relative_to(site))
        data = path.read_bytes()
        if path.suffix == ".gz":
            data = gzip.decompress(data)
        if path.suffix in (".whl", ".zip"):
            with zipfile.ZipFile(path) as archive:
                blobs.extend((f"{name}!{member}", archive.read(member)) for member in archive.namelist())
            continue
        blobs.append((name, data))
    return blobs


def test_no_api_key_anywhere_in_the_built_site(
    built_site: BuiltSite, rel_sandbox: RestartableSandbox
) -> None:
    keys = [rel_sandbox.info["api_key"].encode()]
    if os.environ.get("TWOCHAT_SANDBOX_API_KEY"):
        keys.append(os.environ["TWOCHAT_SANDBOX_API_KEY"].encode())
    blobs = _site_blobs(built_site.site)
    assert len(blobs) > 50, "the site looks empty"
    found = [
        name
        for name, data in blobs
        if KEY_PATTERN.search(data) or any(key in data for key in keys)
    ]
    assert found == [], f"API-key-like strings in the built site: {found}"


# ------------------------------------------------------------------------------------------ the browser


@pytest.mark.browser
def test_the_browser_never_sends_the_api_key_while_placing_a_call(
    rel_context: BrowserContext, rel_sandbox: RestartableSandbox, probe: Probe
) -> None:
    key = rel_sandbox.info["api_key"]
    seen: list[str] = []

    def on_request(request: Request) -> None:
        headers = request.all_headers()
        seen.append(request.url)
        seen.extend(f"{name}: {value}" for name, value in headers.items())
        if request.post_data:
            seen.append(request.post_data)

    def on_websocket(websocket: WebSocket) -> None:
        seen.append(websocket.url)
        websocket.on("framesent", lambda payload: seen.append(str(payload)))

    page = rel_context.new_page()
    page.on("request", on_request)
    page.on("websocket", on_websocket)
    try:
        page.goto(rel_sandbox.url + "/click-to-call.html")
        wait_for_sdk_ready(page, timeout_ms=180_000)
        page.click("#call")
        status = page.locator("#status")
        status.filter(has_text="In a call with +15550100").wait_for(timeout=60_000)
        page.click("#hangup")
        status.filter(has_text="Call ended").wait_for(timeout=30_000)
    finally:
        page.close()
    assert any("/demo/token" in item for item in seen), "the example did not ask its backend for a token"
    assert any(item.startswith("REGISTER ") for item in seen), "no SIP traffic was recorded"
    leaks = [item[:120] for item in seen if key in item or item.lower().startswith("x-user-api-key")]
    assert leaks == [], f"the API key left the backend: {leaks}"


@pytest.mark.browser
def test_plain_ws_to_a_remote_host_is_refused_before_connecting(probe: Probe) -> None:
    sockets: list[str] = []
    probe.page.on("websocket", lambda websocket: sockets.append(websocket.url))
    credentials = {
        "ws_url": "ws://sip.example.com/sip",
        "sip_uri": f"sip:alice@{DOMAIN}",
        "username": "alice",
        "password": "secret",
    }
    device = probe.new_device("t", credentials=credentials)
    with pytest.raises(ProbeError) as info:
        probe.device(device, "register")
    assert info.value.code == "CONFIG_FETCH_FAILED"
    assert "'ws_url'" in str(info.value.error.get("message"))
    assert "wss://" in str(info.value.error.get("message"))
    probe.page.wait_for_timeout(300)
    assert sockets == [], f"a WebSocket was opened anyway: {sockets}"
    assert probe.device(device, "state") == "unregistered"


# ------------------------------------------------------------------------------------------ REST refusals


def _http(
    url: str, *, method: str = "GET", headers: dict[str, str] | None = None, body: Any = None
) -> tuple[int, Any]:
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")


def test_mint_needs_the_api_key(rel_sandbox: RestartableSandbox) -> None:
    url = rel_sandbox.url + "/sdk/voip/access-token"
    body = {"user_uuid": ALICE_UUID}
    assert _http(url, method="POST", body=body)[0] == 401
    assert _http(url, method="POST", body=body, headers={"X-User-API-Key": "sbx_wrong"})[0] == 401
    key = rel_sandbox.info["api_key"]
    assert _http(url + "?api_key=" + key, method="POST", body=body)[0] == 401
    assert _http(url, method="POST", body=body, headers={"Authorization": f"Bearer {key}"})[0] == 401
    assert _http(url, method="POST", body=body, headers={"X-User-API-Key": key})[0] == 200


def test_credentials_need_a_valid_unexpired_token(
    rel_sandbox: RestartableSandbox, rel_rest: SandboxRest
) -> None:
    url = rel_sandbox.url + "/sdk/voip/sip-credentials"
    secret = json.loads(rel_sandbox.secrets_file.read_text())["jwt_secret"]
    now = int(time.time())
    claims = {"sub": ALICE_UUID, "iat": now, "exp": now + 600, "jti": "x"}
    bad_tokens = {
        "malformed": "not.a.jwt",
        "forged": jwt.encode(claims, "another-secret-" + "x" * 32, algorithm="HS256"),
        "alg-none": jwt.encode(claims, "", algorithm="none"),
        "expired": jwt.encode({**claims, "exp": now - 1}, secret, algorithm="HS256"),
        "unknown-user": jwt.encode({**claims, "sub": "USRnobody"}, secret, algorithm="HS256"),
    }
    assert _http(url)[0] == 401
    assert _http(url, headers={"Authorization": "Basic YWxpY2U6c2VjcmV0"})[0] == 401
    for name, token in bad_tokens.items():
        status, _ = _http(url, headers={"Authorization": f"Bearer {token}"})
        assert status == 401, f"{name} token: {status}"
    valid = jwt.encode(claims, secret, algorithm="HS256")
    assert _http(url, headers={"Authorization": f"Bearer {valid}"})[0] == 200
    assert _http(url, headers={"Authorization": f"Bearer {rel_rest.mint()}"})[0] == 200


# ------------------------------------------------------------------------------------------ registrar


class RawRegistrar:
    """Our sans-I/O user agent over a real WebSocket to the sandbox, recording what goes out and comes in."""

    def __init__(self, ws_url: str, user: str, username: str, password: str) -> None:
        self.ws_url = ws_url
        self.ua = UserAgent(
            UserAgentConfig(
                aor=SipUri("sip", user, host=DOMAIN), username=username, password=password, transport="WS"
            )
        )
        self.sent: list[bytes] = []
        self.received: list[Response] = []

    async def register(
        self, then: Callable[[list[bytes]], list[bytes]] | None = None
    ) -> sip_events.RegistrationChanged:
        """REGISTER (answering one challenge); then send ``then(sent so far)`` and collect the answers."""
        import aiohttp

        outgoing: list[bytes] = []
        finals: list[sip_events.RegistrationChanged] = []

        def on_event(event: sip_events.Event) -> None:
            if isinstance(event, sip_events.RegistrationChanged) and event.state in (
                sip_events.RegistrationState.REGISTERED,
                sip_events.RegistrationState.UNREGISTERED,
            ):
                finals.append(event)

        driver = UserAgentDriver(self.ua, on_event=on_event, writer=outgoing.append)
        async with aiohttp.ClientSession() as session, session.ws_connect(
            self.ws_url, protocols=("sip",)
        ) as ws:
            driver.act(lambda ua, now: ua.register(now))
            while not finals:
                for data in outgoing:
                    self.sent.append(data)
                    await ws.send_str(data.decode())
                outgoing.clear()
                message = await asyncio.wait_for(ws.receive(), 10)
                self._note(message.data)
                driver.receive_data(message.data)
            driver.close()
            final = finals[0]
            for frame in then(self.sent) if then is not None else []:
                await ws.send_str(frame.decode())
                message = await asyncio.wait_for(ws.receive(), 10)
                self._note(message.data)
            return final

    def _note(self, data: str | bytes) -> None:
        parsed = parse_message(data.encode() if isinstance(data, str) else data)
        if isinstance(parsed, Response):
            self.received.append(parsed)


def _alice_password(rel_sandbox: RestartableSandbox, rel_rest: SandboxRest) -> str:
    status, credentials = _http(
        rel_sandbox.url + "/sdk/voip/sip-credentials", headers={"Authorization": f"Bearer {rel_rest.mint()}"}
    )
    assert status == 200
    return str(credentials["password"])


def _replay(authenticated: bytes) -> bytes:
    """The same REGISTER (same Authorization, same nonce count) as a new transaction."""
    text = authenticated.decode()
    text = re.sub(r"branch=z9hG4bK[^;\r\n]+", "branch=z9hG4bKreplay" + str(int(time.time() * 1000)), text)
    return re.sub(r"CSeq: (\d+) REGISTER", lambda m: f"CSeq: {int(m.group(1)) + 10} REGISTER", text).encode()


def test_a_replayed_digest_nonce_count_is_refused(
    rel_sandbox: RestartableSandbox, rel_rest: SandboxRest
) -> None:
    password = _alice_password(rel_sandbox, rel_rest)
    client = RawRegistrar(rel_sandbox.info["ws_url"], "alice", "alice", password)
    registered = asyncio.run(client.register(then=lambda sent: [_replay(sent[-1])]))
    assert registered.state is sip_events.RegistrationState.REGISTERED
    assert b"Authorization:" in client.sent[-1]
    answer = client.received[-1]
    assert answer.status_code == 401, answer
    challenges = " ".join(answer.headers.get_all("WWW-Authenticate"))
    assert "stale=true" in challenges.lower(), challenges


def test_registering_another_user_with_ones_own_credentials_is_forbidden(
    rel_sandbox: RestartableSandbox, rel_rest: SandboxRest
) -> None:
    client = RawRegistrar(rel_sandbox.info["ws_url"], "bob", "alice", _alice_password(rel_sandbox, rel_rest))
    result = asyncio.run(client.register())
    assert result.state is sip_events.RegistrationState.UNREGISTERED
    assert result.status_code == 403
    registrations = rel_rest.request("GET", "/sandbox/registrations")["registrations"]
    assert not [r for r in registrations if r["user"] == "bob" and "alice" in str(r.get("contact"))]


def test_the_sandbox_listens_on_loopback_only(rel_sandbox: RestartableSandbox) -> None:
    assert rel_sandbox.info["host"] == "127.0.0.1"
    addresses = subprocess.run(["hostname", "-I"], capture_output=True, text=True, check=False).stdout.split()
    others = [a for a in addresses if ":" not in a and not a.startswith("127.")]
    if not others:
        pytest.skip("this machine has no non-loopback IPv4 address to try")
    for address in others:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(2)
            assert sock.connect_ex((address, rel_sandbox.port)) != 0, f"reachable on {address}"
