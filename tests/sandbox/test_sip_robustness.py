"""Hostile input, keep-alives, test hooks, shutdown with everything live: nothing escapes, nothing leaks."""

from __future__ import annotations

import logging
import random

import aiohttp
import pytest
from sipdriver import DOMAIN, FAKE_OFFER, SipEnv, eventually, register_text, request_text, run_sip

from twochat_voice_web.sandbox.media import MediaBehaviour
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.message import Response, parse_message

VALID = [
    register_text("alice"),
    request_text("OPTIONS", "sandbox"),
    request_text("INVITE", "+15550100", body=FAKE_OFFER),
    request_text("BYE", "bob", to_tag="x"),
]


def _mutations(seed: int, count: int) -> list[str]:
    """Seeded random damage to valid messages: truncation, byte flips, duplicated and dropped lines."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        text = rng.choice(VALID)
        kind = rng.randrange(5)
        if kind == 0:
            text = text[: rng.randrange(len(text))]
        elif kind == 1:
            chars = list(text)
            for _ in range(rng.randrange(1, 8)):
                chars[rng.randrange(len(chars))] = chr(rng.randrange(0, 0x3000))
            text = "".join(chars)
        elif kind == 2:
            lines = text.split("\r\n")
            lines.insert(rng.randrange(len(lines)), rng.choice(lines))
            text = "\r\n".join(lines)
        elif kind == 3:
            lines = text.split("\r\n")
            del lines[rng.randrange(len(lines))]
            text = "\r\n".join(lines)
        else:
            text = text.replace("SIP/2.0", rng.choice(["SIP/3.0", "", "sip/2.0", "SIP/2.0 x"]), 1)
        out.append(text)
    return out


HOSTILE = [
    "",
    "\r\n\r\n",
    "\x00" * 100,
    "INVITE",
    "SIP/2.0 200 OK\r\n\r\n",
    "SIP/2.0 200 OK\r\nVia: SIP/2.0/WS x.invalid;branch=z9hG4bKnothing\r\nFrom: <sip:a@b>;tag=1\r\n"
    "To: <sip:a@b>;tag=2\r\nCall-ID: stray\r\nCSeq: 1 INVITE\r\nContent-Length: 0\r\n\r\n",
    "REGISTER sip:x SIP/2.0\r\n" + "X-Long: " + "a" * 70_000 + "\r\n\r\n",
    register_text("alice", contact="<sip:x@y>;expires=abc"),
    register_text("alice", expires=None, extra="Expires: -5"),
    register_text(
        "alice", authorization='Digest username="alice", realm="x", nonce="n", uri="u", response="r"'
    ),
    register_text("alice", authorization="Basic YWxpY2U6cHc="),
    register_text("alice", contact="<sip:a@b>, <sip:c@d>"),
    request_text("CANCEL", "bob"),
    request_text("ACK", "bob", to_tag="t"),
]


def test_hostile_frames_never_escape_and_the_server_keeps_working(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario(env: SipEnv) -> None:
        raw = await env.raw()
        for text in HOSTILE + _mutations(1234, 150):
            await raw.send(text)
        await raw.ws.send_bytes(b"\xff\xfe\x00garbage")
        # the connection is still served (everything before got answered or dropped, in order)
        await raw.send(request_text("OPTIONS", "sandbox", call_id="after-the-storm", branch="z9hG4bKafter"))
        while True:
            frame = await raw.ws.receive(timeout=20)
            assert frame.type is aiohttp.WSMsgType.TEXT, frame
            try:
                message = parse_message(frame.data.encode())
            except ParseError:
                continue  # a 400 that echoes the damaged headers it could salvage
            if isinstance(message, Response) and message.call_id == "after-the-storm":
                assert message.status_code == 200
                break
        # and so are other connections
        alice = await env.registered("alice")
        handle = alice.call("+15550102")
        ended = await alice.wait_event(ev.CallEnded, lambda e: e.call == handle)
        assert ended.status_code == 486
        assert env.logged("message_rejected")
        await raw.close()

    run_sip(scenario, settings={"hold_unauthenticated": 0.2})
    problems = [
        r
        for r in caplog.records
        if r.levelno >= logging.ERROR or (r.exc_info and r.name.startswith("aiohttp"))
    ]
    assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems]


def test_options_keepalive_reaches_registered_clients() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        await eventually(lambda: len(alice.requests("OPTIONS")) >= 2, "two OPTIONS pings", timeout=10)
        ping = alice.requests("OPTIONS")[0]
        assert ping.uri == alice.ua.contact_uri
        assert not env.logged("options_failed")

    run_sip(scenario, settings={"options_interval": 0.2})


def test_inject_and_drop_hooks() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        status, body = await env.json("POST", "/sandbox/inject", {"user": "alice", "raw": "garbage\r\n\r\n"})
        assert (status, body["sent"]) == (200, 1)
        options = request_text("OPTIONS", "alice", call_id="inj-2")
        await env.json("POST", "/sandbox/inject", {"user": "alice", "raw": options})
        await eventually(lambda: alice.requests("OPTIONS"), "the injected OPTIONS")
        assert alice.of(ev.MessageRejected)  # the client saw the garbage
        for body_, expected in (
            ({"user": "nobody", "raw": "x"}, 404),
            ({"user": "alice"}, 400),
            ({"user": "bob", "raw": "x"}, 409),
        ):
            status, _ = await env.json("POST", "/sandbox/inject", body_)
            assert status == expected
        status, _ = await env.json("POST", "/sandbox/drop", {"user": "alice", "mode": "explode"})
        assert status == 400
        status, body = await env.json("POST", "/sandbox/drop", {"user": "bob"})
        assert (status, body["dropped"]) == (200, 0)
        status, body = await env.json(
            "POST", "/sandbox/drop", {"user": "alice", "instance": "urn:uuid:other"}
        )
        assert body["dropped"] == 0
        status, body = await env.json(
            "POST", "/sandbox/drop", {"user": "alice", "instance": alice.ua.instance_id}
        )
        assert body["dropped"] == 1
        await alice.closed_by_server.wait()

    run_sip(scenario)


def test_inject_is_absent_without_test_hooks() -> None:
    async def scenario(env: SipEnv) -> None:
        status = (await env.http.post("/sandbox/inject", json={"user": "alice", "raw": "x"})).status
        assert status in (404, 405)

    run_sip(scenario, test_hooks=False)


def test_shutdown_with_live_calls_of_every_kind_is_quick_and_clean(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        bob = await env.registered("bob")
        # a test-number call with media, answered
        media = env.media(MediaBehaviour.TONE)
        handle = alice.call("+15550100", await media.create_offer())
        answered = await alice.wait_event(ev.CallAnswered, lambda e: e.call == handle)
        await media.accept_answer(answered.sdp or "")
        await eventually(lambda: media.stats.connection_state == "connected", "media", timeout=30)
        # a ringing test number, a bridged call, a sandbox call ringing
        alice.call("+15550103")
        bob_call = alice.call("bob")
        incoming = await bob.wait_event(
            ev.IncomingCall, lambda e: e.request.call_id == alice.call_id(bob_call)
        )
        bob.act(lambda ua, now: ua.ring(incoming.call, now))
        await env.json("POST", "/sandbox/calls", {"to": "bob"})
        await eventually(lambda: len(env.server.calls) == 4, "four live calls")
        # and a connection in its grace period
        carol_like = await env.registered("bob")
        carol_call = alice.call("bob")
        del carol_call
        await carol_like.drop()

    run_sip(scenario)  # run_sip checks that no task is left after the server stopped
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems]


def test_registration_listing_shows_domain_contacts() -> None:
    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        _status, body = await env.json("GET", "/sandbox/registrations")
        (row,) = body["registrations"]
        assert row["contact"] == str(alice.ua.contact_uri)
        assert row["sip_username"] == "alice"
        assert 0 < row["expires_in"] <= 600
        assert DOMAIN in str(alice.ua.config.aor)

    run_sip(scenario)


def test_oversized_messages_get_513_and_huge_frames_close_the_socket() -> None:
    async def scenario(env: SipEnv) -> None:
        raw = await env.raw()
        big = request_text("OPTIONS", "sandbox", call_id="big").replace(
            "Content-Length: 0", "X-Pad: " + "p" * 70_000 + "\r\nContent-Length: 0"
        )
        await raw.send(big)
        response = await raw.response()
        assert response.status_code == 513
        await raw.ws.send_str("x" * 300_000)  # above the WebSocket frame limit
        closed = await raw.ws.receive(timeout=10)
        assert closed.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED, aiohttp.WSMsgType.CLOSING)
        await env.wait_logged("connection_closed")

    run_sip(scenario)


def test_hanging_up_while_the_media_answer_is_prepared_leaks_nothing(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING)

    async def scenario(env: SipEnv) -> None:
        alice = await env.registered("alice")
        media = env.media()
        offer = await media.create_offer()
        for number in ("+15550100", "+15550101", "+15550107", "+15550105"):
            handle = alice.call(number, offer)
            alice.act(lambda ua, now, h=handle: ua.hangup(h, now))  # CANCEL right behind the INVITE
            await alice.wait_event(ev.CallEnded, lambda e, h=handle: e.call == h)
        for _ in range(3):
            _status, body = await env.json("POST", "/sandbox/calls", {"to": "alice"})
            await env.json("DELETE", f"/sandbox/calls/{body['call_id']}")
        await eventually(lambda: not env.server.calls, "every call over")

    run_sip(scenario)  # checks that no aiortc/aioice/sandbox task is left
    problems = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not problems, [f"{r.name}: {r.getMessage()}" for r in problems]
