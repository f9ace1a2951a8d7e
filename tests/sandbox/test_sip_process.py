"""The SIP server in the real sandbox process: REST credentials, --test-hooks, clean stop with live calls."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from sipdriver import RemoteEnv, RemoteHttp, SipClient, eventually, request_text, run_coro
from test_cli import Sandbox, sandboxes  # noqa: F401  (the fixture is used by name)

from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.events import RegistrationState


async def _credentials(http: RemoteHttp, user: str) -> dict[str, Any]:
    async with http.request("POST", "/demo/token", json={"user": user}) as response:
        token = (await response.json())["token"]
    async with http.request(
        "GET", "/sdk/voip/sip-credentials", headers={"Authorization": f"Bearer {token}"}
    ) as response:
        assert response.status == 200
        return dict(await response.json())


def test_sandbox_process_registers_calls_injects_and_stops_cleanly_with_live_calls(tmp_path, sandboxes):  # noqa: F811
    sandbox = Sandbox(tmp_path, "--test-hooks")
    sandboxes.append(sandbox)
    url = sandbox.ready["url"]
    box: dict[str, Any] = {}

    async def scenario() -> None:
        async with aiohttp.ClientSession() as session:
            http = RemoteHttp(session, url)
            env = RemoteEnv(http)
            creds = await _credentials(http, "alice")
            assert creds["ws_url"] == sandbox.ready["ws_url"]
            alice = SipClient(env, "alice", creds["password"])
            try:
                outcome = await alice.register()
                assert outcome.state is RegistrationState.REGISTERED
                # the test hook writes raw frames to the client
                raw = request_text("OPTIONS", "alice", call_id="injected-1")
                async with http.request(
                    "POST", "/sandbox/inject", json={"user": "alice", "raw": raw}
                ) as reply:
                    assert reply.status == 200
                    assert (await reply.json())["sent"] == 1
                await eventually(lambda: alice.requests("OPTIONS"), "the injected OPTIONS")
                # live calls both ways while the process is stopped
                handle = alice.call("+15550103")
                await alice.wait_event(ev.CallProgress, lambda e: e.call == handle and e.status_code == 180)
                async with http.request("POST", "/sandbox/calls", json={"to": "alice"}) as reply:
                    assert reply.status == 200
                incoming = await alice.wait_event(ev.IncomingCall)
                alice.act(lambda ua, now: ua.ring(incoming.call, now))
                box["stop"] = await asyncio.to_thread(sandbox.stop)
                await asyncio.wait_for(alice.closed_by_server.wait(), 10)
            finally:
                await alice.close()

    run_coro(scenario)
    code, _out, err = box["stop"]
    assert code == 0, err
    assert "Traceback" not in err
    assert " ERROR " not in err


def test_inject_is_absent_without_the_flag(tmp_path, sandboxes):  # noqa: F811
    sandbox = Sandbox(tmp_path)
    sandboxes.append(sandbox)

    async def scenario() -> int:
        async with aiohttp.ClientSession() as session:
            http = RemoteHttp(session, sandbox.ready["url"])
            async with http.request("POST", "/sandbox/inject", json={"user": "alice", "raw": "x"}) as reply:
                return reply.status

    assert run_coro(scenario) in (404, 405)
    code, _out, err = sandbox.stop()
    assert code == 0, err
