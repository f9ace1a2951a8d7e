"""The sandbox application in-process: 2Chat REST, demo backend, event log API, static serving, plugins."""

from __future__ import annotations

import asyncio
import json
import re
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import jwt
import pytest
from yarl import URL

from twochat_voice_web.sandbox import STATE_KEY, SandboxState, create_app
from twochat_voice_web.sandbox.app import load_plugins
from twochat_voice_web.sandbox.config import ConfigError, Mount, SandboxConfig, parse_mount
from twochat_voice_web.sandbox.state import EventFieldError, EventLog
from twochat_voice_web.sandbox.static import cache_control_for, content_type_for, negotiate_encodings
from twochat_voice_web.sandbox.tokens import TokenRejectedError, TokenRejection

API_KEY = "sbx_test_key_0123456789"  # the key conftest's make_config uses

ALICE = "USR5a1d0c3e9b7f4a2e8c6d1f0a"
BOB = "USRb0b7e2d94c1a4f6b8e3d5c2b"
MINT = "/sdk/voip/access-token"
CREDS = "/sdk/voip/sip-credentials"
ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00$")


def decode(token: str, state: SandboxState) -> dict[str, Any]:
    """Verify the signature with the sandbox secret; times are checked by the tests (fake clock)."""
    return jwt.decode(token, state.config.jwt_secret, algorithms=["HS256"],
                      options={"verify_exp": False, "verify_iat": False})


def assert_error_body(body: Any) -> None:
    assert body["success"] is False
    assert body["error"] is True
    assert isinstance(body["error_message"], str)
    assert body["error_message"]


async def mint(client: Any, payload: Any, *, key: str | None = API_KEY, path: str = MINT) -> Any:
    headers = {"X-User-API-Key": key} if key is not None else {}
    data = payload if isinstance(payload, str | bytes) else json.dumps(payload)
    return await client.post(path, data=data, headers=headers)


# ---------------------------------------------------------------- mint


@pytest.mark.parametrize("path", ["/sdk/voip/access-token", "/open/sdk/access-token"])
def test_mint_success_on_both_paths(make_config, serve, clock, path):
    async def scenario(client, state: SandboxState):
        resp = await mint(client, {"user_uuid": ALICE, "label": "agent-ada"}, path=path)
        assert resp.status == 200
        body = await resp.json()
        assert set(body) == {"success", "token", "user_uuid", "label", "expires_at"}
        assert body["success"] is True
        assert body["user_uuid"] == ALICE
        assert body["label"] == "agent-ada"
        assert ISO_UTC.match(body["expires_at"])
        claims = decode(body["token"], state)
        assert claims["sub"] == ALICE
        assert claims["label"] == "agent-ada"
        assert claims["iat"] == int(clock.now)
        assert claims["exp"] == int(clock.now) + 3600
        assert isinstance(claims["jti"], str)
        assert jwt.get_unverified_header(body["token"])["alg"] == "HS256"
        assert datetime.fromisoformat(body["expires_at"]).timestamp() == claims["exp"]
        minted = state.events.query(kind="token_minted")
        assert minted[-1].fields["user_uuid"] == ALICE
        assert body["token"] not in json.dumps([e.to_json() for e in minted])

    serve(make_config(), scenario)


def test_mint_label_defaults_to_null(make_config, serve):
    async def scenario(client, state):
        body = await (await mint(client, {"user_uuid": BOB})).json()
        assert body["label"] is None
        claims = decode(body["token"], state)
        assert claims["label"] is None

    serve(make_config(), scenario)


@pytest.mark.parametrize(("ttl", "granted"), [(30, 60), (60, 60), (100000, 86400), (86400, 86400),
                                              (1800, 1800), (-5, 60), (0, 60), (None, 3600)])
def test_mint_ttl_clamped(make_config, serve, clock, ttl, granted):
    async def scenario(client, state):
        payload: dict[str, Any] = {"user_uuid": ALICE}
        if ttl is not None:
            payload["ttl"] = ttl
        resp = await mint(client, payload)
        assert resp.status == 200
        body = await resp.json()
        claims = decode(body["token"], state)
        assert claims["exp"] - claims["iat"] == granted
        assert datetime.fromisoformat(body["expires_at"]).timestamp() == int(clock.now) + granted

    serve(make_config(), scenario)


@pytest.mark.parametrize("ttl", ["3600", 3600.5, 60.0, True, [60], {"s": 1}])
def test_mint_non_integer_ttl_is_400(make_config, serve, ttl):
    async def scenario(client, state):
        resp = await mint(client, {"user_uuid": ALICE, "ttl": ttl})
        assert resp.status == 400
        body = await resp.json()
        assert_error_body(body)
        assert "ttl" in body["error_message"]

    serve(make_config(), scenario)


@pytest.mark.parametrize(("payload", "needle"), [
    ({}, "user_uuid"),
    ({"user_uuid": ""}, "user_uuid"),
    ({"user_uuid": 42}, "user_uuid"),
    ({"user_uuid": ALICE, "label": 7}, "label"),
    ({"user_uuid": ALICE, "label": "x" * 300}, "label"),
    ("not json", "JSON"),
    ("[1, 2]", "JSON"),
    ("", "JSON"),
    (b"\xff\xfe", "JSON"),
])
def test_mint_bad_body_is_400(make_config, serve, payload, needle):
    async def scenario(client, state):
        resp = await mint(client, payload)
        assert resp.status == 400
        body = await resp.json()
        assert_error_body(body)
        assert needle in body["error_message"]

    serve(make_config(), scenario)


def test_mint_unknown_user_is_404(make_config, serve):
    async def scenario(client, state):
        resp = await mint(client, {"user_uuid": "USRdoesnotexist"})
        assert resp.status == 404
        assert_error_body(await resp.json())

    serve(make_config(), scenario)


@pytest.mark.parametrize("key", [None, "", "wrong-key", API_KEY + "x", API_KEY.upper()])
def test_mint_bad_api_key_is_401(make_config, serve, key):
    async def scenario(client, state):
        resp = await mint(client, {"user_uuid": ALICE}, key=key)
        assert resp.status == 401
        body = await resp.json()
        assert_error_body(body)
        assert API_KEY not in json.dumps(body)
        assert "Access-Control-Allow-Origin" not in resp.headers

    serve(make_config(), scenario)


def test_min_ttl_can_be_lowered_for_tests(make_config, serve):
    async def scenario(client, state):
        body = await (await mint(client, {"user_uuid": ALICE, "ttl": 5})).json()
        claims = decode(body["token"], state)
        assert claims["exp"] - claims["iat"] == 5

    serve(make_config(min_ttl=2), scenario)


# ---------------------------------------------------------------- credentials


async def token_for(client, user=ALICE, **extra) -> str:
    body = await (await mint(client, {"user_uuid": user, **extra})).json()
    return str(body["token"])


def test_credentials_schema(make_config, serve, clock):
    async def scenario(client, state: SandboxState):
        token = await token_for(client, ttl=600)
        resp = await client.get(CREDS, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 200
        body = await resp.json()
        assert set(body) == {"success", "ws_url", "sip_uri", "username", "password", "realm",
                             "display_name", "ice_servers", "expires_at", "caller_ids"}
        assert body["success"] is True
        port = client.server.port
        assert body["ws_url"] == f"ws://127.0.0.1:{port}/sip"
        alice = state.users.by_uuid(ALICE)
        assert alice is not None
        assert body["sip_uri"] == "sip:alice@sandbox.2chat.test"
        assert body["username"] == "alice"
        assert body["password"] == alice.sip_password
        assert len(body["password"]) >= 16
        assert body["realm"] == "sandbox.2chat.test"
        assert body["display_name"] == "Alice Sandbox"
        assert body["ice_servers"] == []
        assert datetime.fromisoformat(body["expires_at"]).timestamp() == int(clock.now) + 600
        assert ISO_UTC.match(body["expires_at"])
        assert body["caller_ids"] == [
            {"uuid": "VCI0a1ce0200f4b4d2c9e8a7b60", "phone_number": "+15550200"},
            {"uuid": "VCI0a1ce0201f4b4d2c9e8a7b61", "phone_number": "+15550201"},
        ]
        assert resp.headers["Access-Control-Allow-Origin"] == "*"
        assert state.events.query(kind="credentials_fetched")[-1].fields["user_uuid"] == ALICE

    serve(make_config(), scenario)


def test_credentials_ice_servers_and_domain_configurable(make_config, serve):
    ice = ({"urls": "stun:127.0.0.1:3478"}, {"urls": ["turn:127.0.0.1"], "username": "u", "credential": "c"})

    async def scenario(client, state):
        token = await token_for(client, BOB)
        body = await (await client.get(CREDS, headers={"Authorization": f"Bearer {token}"})).json()
        assert body["ice_servers"] == [dict(s) for s in ice]
        assert body["sip_uri"] == "sip:bob@example.test"
        assert body["realm"] == "example.test"

    serve(make_config(ice_servers=ice, sip_domain="example.test"), scenario)


def test_credentials_ws_url_follows_host_header(make_config, serve):
    async def scenario(client, state):
        token = await token_for(client)
        auth = {"Authorization": f"Bearer {token}"}
        body = await (await client.get(CREDS, headers={**auth, "Host": "localhost:9999"})).json()
        assert body["ws_url"] == "ws://localhost:9999/sip"
        body = await (await client.get(CREDS, headers={**auth, "Host": "[::1]:8765"})).json()
        assert body["ws_url"] == "ws://[::1]:8765/sip"
        # A Host header that is not a plain host[:port] falls back to the local socket address.
        body = await (await client.get(CREDS, headers={**auth, "Host": "evil.test/x?y"})).json()
        assert body["ws_url"] == f"ws://127.0.0.1:{client.server.port}/sip"

    serve(make_config(), scenario)


def test_credentials_expired_token_via_clock(make_config, serve, clock):
    async def scenario(client, state):
        token = await token_for(client, ttl=60)
        auth = {"Authorization": f"Bearer {token}"}
        clock.advance(59)
        assert (await client.get(CREDS, headers=auth)).status == 200
        clock.advance(1)  # exactly exp: expired (leeway 0)
        resp = await client.get(CREDS, headers=auth)
        assert resp.status == 401
        body = await resp.json()
        assert_error_body(body)
        assert "expired" in body["error_message"].lower()
        assert 'error="invalid_token"' in resp.headers["WWW-Authenticate"]

    serve(make_config(), scenario)


def test_credentials_expired_forged_with_sandbox_secret(make_config, serve, clock):
    async def scenario(client, state):
        now = int(clock.now)
        token = jwt.encode({"sub": ALICE, "label": None, "iat": now - 7200, "exp": now - 3600},
                           state.config.jwt_secret, algorithm="HS256")
        resp = await client.get(CREDS, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
        assert "expired" in (await resp.json())["error_message"].lower()

    serve(make_config(), scenario)


def _none_token(payload: dict[str, Any]) -> str:
    return jwt.encode(payload, None, algorithm="none")  # type: ignore[arg-type]


@pytest.mark.parametrize("forge", ["other_secret", "alg_none", "hs512", "garbage", "truncated",
                                   "tampered_sub", "unknown_user", "missing_exp", "string_exp", "empty"])
def test_credentials_forged_tokens_are_401(make_config, serve, clock, forge):
    async def scenario(client, state):
        now = int(clock.now)
        claims = {"sub": ALICE, "label": None, "iat": now, "exp": now + 3600}
        secret = state.config.jwt_secret
        good = await token_for(client)
        if forge == "other_secret":
            token = jwt.encode(claims, "another-secret-that-is-long-enough-0123456789", algorithm="HS256")
        elif forge == "alg_none":
            token = _none_token(claims)
        elif forge == "hs512":
            token = jwt.encode(claims, secret, algorithm="HS512")
        elif forge == "garbage":
            token = "not.a.jwt"
        elif forge == "truncated":
            token = good[:-5]
        elif forge == "tampered_sub":
            header, _payload, sig = good.split(".")
            other = jwt.encode({**claims, "sub": BOB}, "x" * 40, algorithm="HS256").split(".")[1]
            token = f"{header}.{other}.{sig}"
        elif forge == "unknown_user":
            token = jwt.encode({**claims, "sub": "USRnobody"}, secret, algorithm="HS256")
        elif forge == "missing_exp":
            token = jwt.encode({"sub": ALICE, "iat": now}, secret, algorithm="HS256")
        elif forge == "string_exp":
            token = jwt.encode({**claims, "exp": str(now + 3600)}, secret, algorithm="HS256")
        else:
            token = ""
        resp = await client.get(CREDS, headers={"Authorization": f"Bearer {token}"})
        assert resp.status == 401
        body = await resp.json()
        assert_error_body(body)
        assert "password" not in body
        assert resp.headers["Access-Control-Allow-Origin"] == "*"

    serve(make_config(), scenario)


@pytest.mark.parametrize("header", [None, "", "Basic abc", "Bearer", "Token abc"])
def test_credentials_missing_or_wrong_authorization(make_config, serve, header):
    async def scenario(client, state):
        headers = {"Authorization": header} if header is not None else {}
        resp = await client.get(CREDS, headers=headers)
        assert resp.status == 401
        assert_error_body(await resp.json())

    serve(make_config(), scenario)


def test_credentials_cors_preflight_and_origin_list(make_config, serve):
    async def scenario(client, state):
        pre = await client.options(CREDS, headers={"Origin": "http://app.test",
                                                    "Access-Control-Request-Method": "GET",
                                                    "Access-Control-Request-Headers": "authorization"})
        assert pre.status == 204
        assert pre.headers["Access-Control-Allow-Origin"] == "http://app.test"
        assert "Authorization" in pre.headers["Access-Control-Allow-Headers"]
        assert "GET" in pre.headers["Access-Control-Allow-Methods"]
        other = await client.options(CREDS, headers={"Origin": "http://evil.test"})
        assert "Access-Control-Allow-Origin" not in other.headers
        token = await token_for(client)
        resp = await client.get(CREDS, headers={"Authorization": f"Bearer {token}", "Origin": "http://app.test"})
        assert resp.headers["Access-Control-Allow-Origin"] == "http://app.test"
        assert "Origin" in resp.headers["Vary"]

    serve(make_config(cors_origins=("http://app.test",)), scenario)


def test_token_issuer_rejection_reasons(make_config, clock):
    state = SandboxState.create(make_config())
    minted = state.tokens.mint(ALICE, label="l", ttl=120)
    assert state.tokens.verify(minted.token).sub == ALICE
    with pytest.raises(TokenRejectedError) as info:
        state.tokens.verify("abc")
    assert info.value.reason is TokenRejection.MALFORMED
    clock.advance(120)
    with pytest.raises(TokenRejectedError) as info:
        state.tokens.verify(minted.token)
    assert info.value.reason is TokenRejection.EXPIRED


# ---------------------------------------------------------------- users / caller ids


def test_open_users_shape(make_config, serve):
    async def scenario(client, state):
        resp = await client.get("/open/users", headers={"X-User-API-Key": API_KEY})
        assert resp.status == 200
        body = await resp.json()
        assert body["success"] is True
        users = body["data"]["users"]
        assert [u["uuid"] for u in users] == [ALICE, BOB]
        for user in users:
            assert set(user) == {"uuid", "first_name", "last_name", "email"}
            assert user["uuid"].startswith("USR")
        assert (await client.get("/open/users")).status == 401
        assert (await client.get("/open/users", headers={"X-User-API-Key": "nope"})).status == 401

    serve(make_config(), scenario)


def test_caller_ids_shape_and_paging(make_config, serve):
    async def scenario(client, state):
        headers = {"X-User-API-Key": API_KEY}
        body = await (await client.get("/open/voip/caller-ids?page_number=0", headers=headers)).json()
        assert body["success"] is True
        assert body["total"] == 3
        assert body["results_per_page"] == 200
        items = body["data"]
        assert [c["phone_number"] for c in items] == ["+15550200", "+15550201", "+15550210"]
        for item in items:
            assert set(item) == {"uuid", "account_uuid", "channel_uuid", "phone_number", "friendly_name",
                                 "iso_country_code", "type", "verified", "created_at", "updated_at",
                                 "expires_at"}
            assert item["uuid"].startswith("VCI")
            assert item["channel_uuid"].startswith("DID")
            assert item["type"] == "VN"
            assert item["verified"] is True
            assert ISO_UTC.match(item["created_at"])
        page1 = await (await client.get("/open/voip/caller-ids?page_number=1&results_per_page=2",
                                        headers=headers)).json()
        assert [c["phone_number"] for c in page1["data"]] == ["+15550210"]
        page9 = await (await client.get("/open/voip/caller-ids?page_number=9&results_per_page=2",
                                        headers=headers)).json()
        assert page9["data"] == []
        for bad in ("page_number=-1", "page_number=x", "results_per_page=0", "results_per_page=5000"):
            resp = await client.get(f"/open/voip/caller-ids?{bad}", headers=headers)
            assert resp.status == 400, bad
            assert_error_body(await resp.json())
        assert (await client.get("/open/voip/caller-ids")).status == 401

    serve(make_config(), scenario)


# ---------------------------------------------------------------- demo backend


def test_demo_token_minted_through_backend_helper(make_config, serve, clock):
    async def scenario(client, state: SandboxState):
        for key in ("alice", "ALICE", ALICE):
            resp = await client.post("/demo/token", json={"user": key})
            assert resp.status == 200
            body = await resp.json()
            assert set(body) == {"token", "expires_at", "user_uuid"}
            claims = state.tokens.verify(body["token"])
            assert claims.sub == ALICE
            assert claims.exp - claims.iat == 90
            assert claims.label == "demo-alice"
            assert datetime.fromisoformat(body["expires_at"]).timestamp() == claims.exp
        # It went through the real mint endpoint (as a production backend would).
        minted = state.events.query(kind="token_minted")
        assert len(minted) == 3
        assert all(e.fields["path"] == MINT for e in minted)
        labelled = await (await client.post("/demo/token", json={"user": "bob", "label": "tab-1"})).json()
        assert state.tokens.verify(labelled["token"]).label == "tab-1"

    serve(make_config(demo_token_ttl=90), scenario)


@pytest.mark.parametrize(("payload", "status"), [
    ({}, 400), ({"user": ""}, 400), ({"user": 5}, 400), ("nope", 400), ([1], 400),
    ({"user": "mallory"}, 404), ({"user": "alice", "label": 3}, 400),
])
def test_demo_token_errors(make_config, serve, payload, status):
    async def scenario(client, state):
        data = payload if isinstance(payload, str) else json.dumps(payload)
        resp = await client.post("/demo/token", data=data)
        assert resp.status == status
        body = await resp.json()
        assert_error_body(body)
        assert API_KEY not in json.dumps(body)

    serve(make_config(), scenario)


def test_demo_users_lists_no_secrets(make_config, serve):
    async def scenario(client, state: SandboxState):
        resp = await client.get("/demo/users")
        assert resp.status == 200
        body = await resp.json()
        assert body["sip_domain"] == "sandbox.2chat.test"
        assert [u["name"] for u in body["users"]] == ["alice", "bob"]
        assert set(body["users"][0]) == {"name", "uuid", "sip_username", "display_name", "caller_ids"}
        text = json.dumps(body)
        for user in state.users:
            assert user.sip_password not in text
        assert API_KEY not in text
        assert state.config.jwt_secret not in text

    serve(make_config(), scenario)


# ---------------------------------------------------------------- event log


def test_event_log_api(make_config, serve):
    async def scenario(client, state: SandboxState):
        log = state.events
        first = log.append("dtmf", call_id="c1", digit="5")
        log.append("hold", call_id="c1", direction="sendonly")
        log.append("dtmf", call_id="c2", digit="#")
        log.append("bye", call_id="c1")
        body = await (await client.get("/sandbox/events")).json()
        assert [e["kind"] for e in body["events"]] == ["dtmf", "hold", "dtmf", "bye"]
        assert body["last_id"] == first.id + 3
        assert body["events"][0] == {"id": first.id, "time": first.time, "kind": "dtmf",
                                     "call_id": "c1", "digit": "5"}
        only = await (await client.get("/sandbox/events?kind=dtmf&call_id=c1")).json()
        assert [e["digit"] for e in only["events"]] == ["5"]
        newer = await (await client.get(f"/sandbox/events?since={first.id + 1}")).json()
        assert [e["kind"] for e in newer["events"]] == ["dtmf", "bye"]
        for bad in ("since=-1", "since=x", "wait=abc", "wait=99", "wait=-1", "wait=nan"):
            resp = await client.get(f"/sandbox/events?{bad}")
            assert resp.status == 400, bad
        cleared = await (await client.delete("/sandbox/events")).json()
        assert cleared == {"success": True, "cleared": 4, "last_id": first.id + 3}
        assert (await (await client.get("/sandbox/events")).json())["events"] == []
        assert log.append("x").id == first.id + 4  # ids never reused

    serve(make_config(), scenario)


def test_event_log_long_poll(make_config, serve):
    async def scenario(client, state: SandboxState):
        since = state.events.last_id

        async def later() -> None:
            await asyncio.sleep(0.2)
            state.events.append("audio_level", call_id="c9", level=0.5)
            state.events.append("dtmf", call_id="c9", digit="7")

        task = asyncio.create_task(later())
        resp = await client.get(f"/sandbox/events?since={since}&kind=dtmf&wait=20")
        body = await resp.json()
        await task
        assert [e["digit"] for e in body["events"]] == ["7"]
        # Nothing matching: returns an empty list once the wait is over.
        empty = await (await client.get(f"/sandbox/events?since={body['last_id']}&wait=0.1")).json()
        assert empty["events"] == []

    serve(make_config(), scenario)


def test_event_log_refuses_reserved_fields_and_is_bounded():
    log = EventLog(max_events=3, clock=lambda: 5.0)
    for name in ("id", "time", "kind"):
        with pytest.raises(EventFieldError):
            log.append("x", **{name: 1})
    with pytest.raises(EventFieldError):
        log.append("")
    for i in range(5):
        log.append("n", i=i)
    assert [e.fields["i"] for e in log.query()] == [2, 3, 4]
    assert log.last_id == 5
    assert log.query()[0].time == 5.0


def test_event_log_append_from_another_thread_wakes_waiter():
    import threading

    async def main() -> list[Any]:
        log = EventLog()
        thread = threading.Timer(0.1, lambda: log.append("bye", call_id="t"))
        thread.start()
        found = await log.wait_for(kind="bye", timeout=20)
        thread.join()
        return found

    found = asyncio.run(main())
    assert [e.kind for e in found] == ["bye"]


# ---------------------------------------------------------------- static


async def get(client: Any, path: str, **headers: str) -> Any:
    return await client.get(path, headers=headers, allow_redirects=False)


def test_static_mime_types_and_cache(make_config, serve, site_dir):
    expected = {
        "/": ("text/html", "no-cache"),
        "/index.html": ("text/html", "no-cache"),
        "/www/": ("text/html", "no-cache"),
        "/pyscript.toml": ("application/toml", "no-cache"),
        "/config.json": ("application/json", "no-cache"),
        "/style.css": ("text/css", "no-cache"),
        "/logo.svg": ("image/svg+xml", "no-cache"),
        "/ring.wav": ("audio/wav", "no-cache"),
        "/ring.mp3": ("audio/mpeg", "no-cache"),
        "/pyodide/pyodide.mjs": ("text/javascript", "immutable"),
        "/pyodide/pyodide.asm.wasm": ("application/wasm", "immutable"),
        "/pyodide/pyodide-lock.json": ("application/json", "immutable"),
        "/pyscript/core.js": ("text/javascript", "immutable"),
        "/wheels/PyJWT-2.15.1-py3-none-any.whl": ("application/zip", "immutable"),
        "/wheels/latest.whl": ("application/zip", "no-cache"),
    }

    async def scenario(client, state):
        for path, (ctype, cache) in expected.items():
            resp = await get(client, path, **{"Accept-Encoding": "identity"})
            assert resp.status == 200, path
            assert resp.headers["Content-Type"].split(";")[0] == ctype, path
            assert cache in resp.headers["Cache-Control"], path
            assert resp.headers["X-Content-Type-Options"] == "nosniff"
        home = await get(client, "/")
        assert "home" in await home.text()
        head = await client.head("/pyodide/pyodide.asm.wasm")
        assert head.status == 200
        assert head.headers["Content-Type"] == "application/wasm"

    serve(make_config(site_dir=site_dir), scenario)


def test_static_precompressed_variants(make_config, serve, site_dir):
    async def scenario(client, state):
        async def fetch(path: str, accept: str) -> Any:
            resp = await client.get(path, headers={"Accept-Encoding": accept}, auto_decompress=False)
            return resp, await resp.read()

        resp, raw = await fetch("/app.js", "gzip, deflate, br")
        assert (resp.headers["Content-Encoding"], raw) == ("br", b"BR-VARIANT")
        assert resp.headers["Vary"] == "Accept-Encoding"
        assert resp.headers["Content-Type"].startswith("text/javascript")
        resp, raw = await fetch("/app.js", "gzip")
        assert (resp.headers["Content-Encoding"], raw) == ("gzip", b"GZ-VARIANT")
        resp, raw = await fetch("/app.js", "br;q=0, gzip;q=0.5")
        assert (resp.headers["Content-Encoding"], raw) == ("gzip", b"GZ-VARIANT")
        resp, raw = await fetch("/app.js", "gzip;q=0, br;q=0")
        assert "Content-Encoding" not in resp.headers
        assert raw == b"console.log('plain');\n"
        assert resp.headers["Vary"] == "Accept-Encoding"
        resp, raw = await fetch("/app.js", "identity")
        assert "Content-Encoding" not in resp.headers
        resp, raw = await fetch("/app.js", "*")
        assert resp.headers["Content-Encoding"] == "br"
        resp, raw = await fetch("/only-gz.mjs", "br, gzip")
        assert (resp.headers["Content-Encoding"], raw) == ("gzip", b"GZ-ONLY")
        resp, raw = await fetch("/style.css", "br, gzip")
        assert "Content-Encoding" not in resp.headers
        assert "Vary" not in resp.headers

    serve(make_config(site_dir=site_dir), scenario)


def test_static_traversal_listing_and_redirects(make_config, serve, site_dir, mount_dir):
    async def scenario(client, state):
        base = str(client.make_url("/"))
        for raw in ("/%2e%2e/secret.txt", "/pyodide/%2e%2e/%2e%2e/secret.txt", "/..%2fsecret.txt",
                    "/%2e%2e%5csecret.txt", "/test/%2e%2e/%2e%2e/secret.txt", "/x%00.html"):
            resp = await client.session.get(URL(base.rstrip("/") + raw, encoded=True), allow_redirects=False)
            assert resp.status == 404, raw
            assert "TOP SECRET" not in await resp.text()
        # Raw request line with literal dot segments (no client-side normalisation).
        reader, writer = await asyncio.open_connection("127.0.0.1", client.server.port)
        writer.write(b"GET /../secret.txt HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = await reader.read()
        writer.close()
        assert b"TOP SECRET" not in data
        assert data.startswith(b"HTTP/1.1 404")
        # No directory listing; directories redirect to the slash form.
        assert (await get(client, "/empty/")).status == 404
        redirect = await get(client, "/www?x=1")
        assert redirect.status == 301
        assert redirect.headers["Location"] == "/www/?x=1"
        assert (await get(client, "/missing.js")).status == 404
        # Mounts.
        assert (await get(client, "/test")).headers["Location"] == "/test/"
        page = await get(client, "/test/pages/")
        assert page.status == 200
        assert "test pages" in await page.text()
        js = await get(client, "/test/vendor/jssip.min.js")
        assert js.headers["Content-Type"].startswith("text/javascript")
        assert (await get(client, "/test/nope")).status == 404

    config = make_config(site_dir=site_dir, mounts=(Mount("/test", mount_dir),))
    serve(config, scenario)


def test_api_routes_win_over_site_files(make_config, serve, site_dir):
    (site_dir / "demo").mkdir()
    (site_dir / "demo" / "users").write_text("shadow")

    async def scenario(client, state):
        body = await (await client.get("/demo/users")).json()
        assert body["users"][0]["name"] == "alice"

    serve(make_config(site_dir=site_dir), scenario)


def test_no_site_gives_404_at_root(make_config, serve):
    async def scenario(client, state):
        assert (await client.get("/")).status == 404

    serve(make_config(), scenario)


def test_static_helpers():
    assert content_type_for("a.MJS").startswith("text/javascript")
    assert content_type_for("x.unknownext") == "application/octet-stream"
    assert cache_control_for("pyodide/python_stdlib.zip") == "public, max-age=31536000, immutable"
    assert cache_control_for("index.html", no_cache=True) == "no-cache"
    assert cache_control_for("pyodide/x.js", no_cache=True) == "no-cache"
    assert negotiate_encodings("") == []
    assert negotiate_encodings("GZIP") == ["gzip"]
    assert negotiate_encodings("br;q=0.1, gzip;q=bad") == ["br"]


def test_no_cache_mode(make_config, serve, site_dir):
    async def scenario(client, state):
        resp = await get(client, "/pyodide/pyodide.mjs")
        assert resp.headers["Cache-Control"] == "no-cache"

    serve(make_config(site_dir=site_dir, static_no_cache=True), scenario)


# ---------------------------------------------------------------- config and plugins


def test_parse_mount():
    assert parse_mount("/test=dist/test-assets") == Mount("/test", Path("dist/test-assets"))
    assert parse_mount("test/=d").prefix == "/test"
    for bad in ("/test", "=dir", "/=dir", "/a/../b=d", "/x{y}=d"):
        with pytest.raises(ConfigError):
            parse_mount(bad)


@pytest.mark.parametrize("overrides", [
    {"port": 70000}, {"api_key": ""}, {"api_key": "a\nb"}, {"api_key": " k"}, {"min_ttl": 0},
    {"default_ttl": 10}, {"demo_token_ttl": 0}, {"jwt_secret": "short"},
    {"mounts": (Mount("/a", Path(".")), Mount("/a", Path(".")))}, {"ice_servers": ({"url": "x"},)},
])
def test_config_validation(overrides):
    with pytest.raises(ConfigError):
        SandboxConfig(**overrides)


def test_config_repr_hides_secrets():
    config = SandboxConfig(api_key="secret-key-value", jwt_secret="j" * 40)
    assert "secret-key-value" not in repr(config)
    assert "jjjj" not in repr(config)


def test_plugins_are_loaded_with_setup_app(tmp_path, monkeypatch, make_config, serve):
    (tmp_path / "sbx_plugin_ok.py").write_text(
        "from aiohttp import web\n"
        "from twochat_voice_web.sandbox import STATE_KEY\n"
        "async def ping(request):\n"
        "    request.app[STATE_KEY].events.append('ping', source='plugin')\n"
        "    return web.json_response({'pong': True})\n"
        "def setup_app(app):\n"
        "    app.router.add_get('/sandbox/ping', ping)\n"
    )
    (tmp_path / "sbx_plugin_nohook.py").write_text("def setup():\n    raise RuntimeError('not a hook')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    names = ("sbx_plugin_ok", "sbx_plugin_nohook", "sbx_plugin_absent")
    assert [n for n, _ in load_plugins(names)] == ["sbx_plugin_ok"]

    async def scenario(client, state):
        assert (await (await client.get("/sandbox/ping")).json()) == {"pong": True}
        assert state.events.query(kind="ping")[0].fields["source"] == "plugin"

    serve(make_config(plugins=names), scenario)
    sys.modules.pop("sbx_plugin_ok", None)
    sys.modules.pop("sbx_plugin_nohook", None)


def test_default_plugins_build(make_config):
    # The default list imports whatever sandbox plugins exist today and must build an app.
    app = create_app(make_config(plugins=None))
    assert app[STATE_KEY].users.by_name("alice") is not None
