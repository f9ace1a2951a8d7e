"""The sandbox registrar over a real WebSocket: digest, identity, expiry, bindings, subprotocol, bad input."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from sipdriver import (
    DOMAIN,
    SipEnv,
    eventually,
    register_text,
    request_text,
    run_sip,
)

from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.auth import DigestChallenge, DigestClient
from twochat_voice_web.sip.events import RegistrationState
from twochat_voice_web.sip.message import Request, Response


def _challenges(response: Response) -> list[DigestChallenge]:
    return [DigestChallenge.parse(v) for v in response.headers.get_all("WWW-Authenticate")]


def test_register_with_challenge_sha256_on_top_md5_last_sha256_chosen() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        registers = [m for m in alice.sent if isinstance(m, Request) and m.method == "REGISTER"]
        assert len(registers) == 2
        assert "Authorization" not in registers[0].headers
        challenge = alice.responses(401, "REGISTER")[0]
        algorithms = [c.algorithm for c in _challenges(challenge)]
        assert algorithms == ["SHA-256", "MD5"]  # JsSIP keeps only the last line: MD5 must be last
        assert all(c.realm == DOMAIN and "auth" in c.qop for c in _challenges(challenge))
        assert "algorithm=SHA-256" in (registers[1].headers.get("Authorization") or "")
        ok = alice.responses(200, "REGISTER")[-1]
        contact = ok.contacts[0]
        assert contact.param("expires") == "600"
        assert contact.param("+sip.instance") == f'"<{alice.ua.instance_id}>"'
        assert ok.headers.get("Require") == "outbound"
        event = await env.wait_logged("register", user="alice")
        assert event["instance"] == alice.ua.instance_id
        assert event["reg_id"] == "1"
        assert event["expires"] == 600
        status, body = await env.json("GET", "/sandbox/registrations")
        assert status == 200
        assert [(r["user"], r["instance"]) for r in body["registrations"]] == [
            ("alice", alice.ua.instance_id)
        ]

    run_sip(scenario)


def test_wrong_password_is_refused_with_403() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = env.client("alice", password="not-the-password")
        outcome = await alice.register()
        assert outcome.state is RegistrationState.UNREGISTERED
        assert outcome.status_code == 403
        forbidden = alice.responses(403, "REGISTER")
        assert forbidden
        assert forbidden[0].reason == "Wrong password"
        assert "WWW-Authenticate" not in forbidden[0].headers
        rejected = await env.wait_logged("register_rejected", user="alice", status=403)
        assert rejected["reason"] == "bad-credentials"
        assert not env.logged("register")

    run_sip(scenario)


def test_unknown_user_gets_the_same_403() -> None:
    async def scenario(env: SipEnv) -> None:
        mallory = env.client("mallory", password="whatever")
        outcome = await mallory.register()
        assert outcome.status_code == 403

    run_sip(scenario)


def test_replayed_credentials_are_refused_with_a_stale_challenge() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        authorized = next(
            m
            for m in alice.sent
            if isinstance(m, Request) and m.method == "REGISTER" and "Authorization" in m.headers
        )
        raw = await env.raw()
        await raw.send(authorized.to_bytes().decode())  # the same nonce and nonce count again
        response = await raw.response()
        assert response.status_code == 401
        assert all(c.stale for c in _challenges(response))
        rejected = await env.wait_logged("register_rejected", reason="replay")
        assert rejected["status"] == 401
        # a forged nonce: a plain challenge (not stale)
        forged = authorized.to_bytes().decode().replace('nonce="', 'nonce="x', 1)
        await raw.send(forged.replace("branch=", "branch=z9hG4bKforged", 1))
        response = await raw.response()
        assert response.status_code == 401
        assert not any(c.stale for c in _challenges(response))
        assert len(env.logged("register", user="alice")) == 1
        await raw.close()

    run_sip(scenario)


def test_expired_nonce_gets_stale_and_the_client_recovers() -> None:
    async def scenario(env: SipEnv) -> None:
        env.server.registrar.set_nonce_ttl(1.5)
        alice = await env.registered("alice")
        # past the nonce TTL (1.5 s). A timer test: a loaded machine only lets more time pass, and a stale
        # nonce never turns fresh, so this is a lower bound, not a threshold
        await asyncio.sleep(2.0)
        # unregister uses the cached (now expired) nonce: stale 401, retried with the fresh nonce
        alice.act(lambda ua, now: ua.unregister(now))
        await alice.wait_event(
            ev.RegistrationChanged,
            lambda e: e.state is RegistrationState.UNREGISTERED and e.status_code == 200,
        )
        stale = [r for r in alice.responses(401, "REGISTER") if any(c.stale for c in _challenges(r))]
        assert stale
        await env.wait_logged("unregister", user="alice", reason="expires=0")

    run_sip(scenario)


def test_registering_someone_else_is_forbidden() -> None:
    async def scenario(env: SipEnv) -> None:
        # alice's credentials, bob's address of record
        impostor = env.client("bob", password=env.password("alice"), auth_user="alice")
        outcome = await impostor.register()
        assert outcome.status_code == 403
        assert "not the authenticated user" in impostor.responses(403, "REGISTER")[0].reason
        assert not env.logged("register")
        # a connection authenticated as alice cannot then register bob, even with bob's password
        raw = await env.raw()
        await raw.send(register_text("alice"))
        alice_challenge = _challenges(await raw.response())[0]
        alice = DigestClient("alice", env.password("alice"))
        credentials = alice.authorize("REGISTER", f"sip:{DOMAIN}", alice_challenge)
        await raw.send(register_text("alice", cseq=2, authorization=str(credentials), branch="z9hG4bKr2"))
        assert (await raw.response()).status_code == 200
        await raw.send(register_text("bob", call_id="raw-bob", branch="z9hG4bKr3"))
        bob_challenge = _challenges(await raw.response())[0]
        bob = DigestClient("bob", env.password("bob"))
        credentials = bob.authorize("REGISTER", f"sip:{DOMAIN}", bob_challenge)
        await raw.send(
            register_text(
                "bob", call_id="raw-bob", cseq=2, authorization=str(credentials), branch="z9hG4bKr4"
            )
        )
        response = await raw.response()
        assert response.status_code == 403
        assert "authenticated as alice" in response.reason
        await raw.close()

    run_sip(scenario)


def test_expiry_policy_423_below_minimum_and_clamp_above_maximum() -> None:
    async def scenario(env: SipEnv) -> None:
        short = env.client("alice", register_expires=30)
        outcome = await short.register()
        assert outcome.state is RegistrationState.REGISTERED
        too_brief = short.responses(423, "REGISTER")
        assert too_brief
        assert too_brief[0].headers.get("Min-Expires") == "60"
        assert outcome.expires == 60
        long = env.client("bob", register_expires=7200)
        outcome = await long.register()
        assert outcome.expires == 3600

    run_sip(scenario)


def test_unregister_and_binding_removed_when_the_websocket_closes() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        alice.act(lambda ua, now: ua.unregister(now))
        await alice.wait_event(ev.RegistrationChanged, lambda e: e.state is RegistrationState.UNREGISTERED)
        assert alice.responses(200, "REGISTER")[-1].contacts == []
        await env.wait_logged("unregister", user="alice", reason="expires=0")
        await bob.drop()
        closed = await env.wait_logged("connection_closed", user="bob")
        assert closed["calls"] == 0
        await env.wait_logged("unregister", user="bob", reason="connection_closed")
        status, body = await env.json("GET", "/sandbox/registrations")
        assert body["registrations"] == []
        # the sandbox cannot call someone who is not registered
        status, body = await env.json("POST", "/sandbox/calls", {"to": "bob"})
        assert status == 409

    run_sip(scenario)


def test_contact_star_removes_every_binding_of_the_user() -> None:
    async def scenario(env: SipEnv) -> None:
        await env.registered("alice")
        await env.registered("alice")
        _status, body = await env.json("GET", "/sandbox/registrations")
        assert len(body["registrations"]) == 2
        raw = await env.raw()
        await raw.send(register_text("alice", contact="*", expires=0))
        challenge = _challenges(await raw.response())[0]
        client = DigestClient("alice", env.password("alice"))
        bad = register_text(
            "alice",
            contact="*",
            expires=600,
            cseq=2,
            branch="z9hG4bKs2",
            authorization=str(client.authorize("REGISTER", f"sip:{DOMAIN}", challenge)),
        )
        await raw.send(bad)
        assert (await raw.response()).status_code == 400  # '*' needs Expires: 0
        good = register_text(
            "alice",
            contact="*",
            expires=0,
            cseq=3,
            branch="z9hG4bKs3",
            authorization=str(client.authorize("REGISTER", f"sip:{DOMAIN}", challenge)),
        )
        await raw.send(good)
        response = await raw.response()
        assert response.status_code == 200
        assert response.contacts == []
        _status, body = await env.json("GET", "/sandbox/registrations")
        assert body["registrations"] == []
        assert len(env.logged("unregister", reason="contact-star")) == 2
        await raw.close()

    run_sip(scenario)


def test_subprotocol_sip_is_required() -> None:
    async def scenario(env: SipEnv) -> None:
        plain = await env.http.get("/sip")
        assert plain.status == 426
        for protocols in ((), ("chat",)):
            with pytest.raises(aiohttp.WSServerHandshakeError) as info:
                await env.http.ws_connect("/sip", protocols=protocols)
            assert info.value.status == 400
        assert not env.logged("connection_opened")

    run_sip(scenario)


def test_garbage_is_answered_or_logged_and_the_connection_survives() -> None:
    async def scenario(env: SipEnv) -> None:
        raw = await env.raw()
        await raw.send("this is not SIP\r\n\r\n")
        await raw.send(
            "OPTIONS sip:sandbox.2chat.test SIP/2.0\r\nVia: SIP/2.0/WS raw.invalid;branch=z9hG4bKg1\r\n"
            "From: <sip:x@y>;tag=1\r\nTo: <sip:sandbox.2chat.test>\r\nCall-ID: g1\r\nCSeq: 1 OPTIONS\r\n"
            "Content-Length: 99\r\n\r\n"
        )
        bad = await raw.response()
        assert bad.status_code == 400
        await eventually(lambda: len(env.logged("message_rejected")) >= 2, "two message_rejected events")
        await raw.send(request_text("OPTIONS", "sandbox", call_id="g2"))
        ok = await raw.response()
        assert ok.status_code == 200
        assert "INVITE" in (ok.headers.get("Allow") or "")
        await raw.close()

    run_sip(scenario)


def test_invite_from_an_unauthenticated_connection_is_forbidden() -> None:
    async def scenario(env: SipEnv) -> None:
        raw = await env.raw()
        await raw.send(request_text("INVITE", "+15550100", body="v=0\r\n"))
        response = await raw.response()  # held briefly for a REGISTER that never comes, then 403
        assert response.status_code == 403
        await env.wait_logged("rejected", status=403, reason="unauthenticated connection")
        await raw.send(request_text("BYE", "+15550100", call_id="nope", to_tag="t", branch="z9hG4bKb1"))
        assert (await raw.response()).status_code == 481
        await raw.close()

    run_sip(scenario, settings={"hold_unauthenticated": 0.3})


def test_binding_expires_when_not_refreshed() -> None:
    async def scenario(env: SipEnv) -> None:
        env.server.settings.min_expires = 1
        raw = await env.raw()
        await raw.send(register_text("alice", expires=1))
        challenge = _challenges(await raw.response())[0]
        client = DigestClient("alice", env.password("alice"))
        credentials = client.authorize("REGISTER", f"sip:{DOMAIN}", challenge)
        await raw.send(
            register_text("alice", expires=1, cseq=2, branch="z9hG4bKe2", authorization=str(credentials))
        )
        assert (await raw.response()).status_code == 200
        await env.wait_logged("unregister", user="alice", reason="expired", timeout=10)
        await raw.close()

    run_sip(scenario)
