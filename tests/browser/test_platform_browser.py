"""twochat_voice_web.browser.BrowserPlatform in real Chromium (fake audio devices), driven from Python.

One page (tests/pages/platform_harness.html: bare Pyodide + our wheel) serves the whole module; each test
runs one scenario of tests/pages/platform_scenarios.py inside it and asserts on what the scenario saw.
A small aiohttp server on 127.0.0.1 (its own thread and loop) provides the WebSocket echo (subprotocol
``sip``) and the HTTP endpoints; a UDP socket that never answers plays the dead STUN server.

A second Chromium, launched without the fake-permission UI and with the default autoplay policy, checks
what only a stricter browser shows: microphone permission denied, and autoplay blocked until a gesture.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiohttp import WSMsgType, web
from playwright.sync_api import Browser, Page, Playwright

from browser.harness import PageGuard
from twochat_voice_web.browser._tones import render_wav

pytestmark = pytest.mark.timeout(300)

HARNESS = "/test/pages/platform_harness.html"


# ------------------------------------------------------------------------------------------ local servers


async def _echo(request: web.Request) -> web.WebSocketResponse:
    """Echo server (subprotocol sip): text back as text, binary as binary, plus a few commands."""
    ws = web.WebSocketResponse(protocols=("sip",))
    await ws.prepare(request)
    seen: list[str] = []
    async for message in ws:
        seen.append(message.type.name)
        if message.type == WSMsgType.TEXT:
            if message.data == "close-me":
                await ws.close(code=4000, message=b"bye")
            elif message.data == "frame-types":
                await ws.send_str(",".join(seen[:-1]))
            elif message.data == "later":
                await asyncio.sleep(0.3)
                if not ws.closed:
                    await ws.send_str("too late")
            else:
                await ws.send_str(message.data)
        elif message.type == WSMsgType.BINARY:
            await ws.send_bytes(message.data)
    return ws


async def _no_subprotocol(request: web.Request) -> web.WebSocketResponse:
    ws = web.WebSocketResponse()  # accepts without selecting "sip"
    await ws.prepare(request)
    async for _message in ws:
        pass
    return ws


async def _forbidden(_request: web.Request) -> web.Response:
    return web.Response(status=403, text="no")


async def _hang(_request: web.Request) -> web.Response:
    await asyncio.sleep(30)
    return web.Response(status=500)


CORS = {
    "Access-Control-Allow-Origin": "*",
    "Access-Control-Allow-Headers": "Authorization, X-Test",
    "Access-Control-Expose-Headers": "X-Reply",
}


async def _preflight(_request: web.Request) -> web.Response:
    return web.Response(status=204, headers=CORS)


async def _json(request: web.Request) -> web.Response:
    body = {"success": True, "authorization": request.headers.get("Authorization"),
            "x_test": request.headers.get("X-Test"), "list": [1, "two", None]}
    return web.json_response(body, headers={**CORS, "X-Reply": "yes"})


async def _text(_request: web.Request) -> web.Response:
    return web.Response(text="<html>not json</html>", content_type="text/html", headers=CORS)


async def _missing(_request: web.Request) -> web.Response:
    return web.json_response({"success": False, "error_message": "nope"}, status=404, headers=CORS)


async def _beep(_request: web.Request) -> web.Response:
    return web.Response(body=render_wav("dtmf1"), content_type="audio/wav")


async def _slow(_request: web.Request) -> web.Response:
    await asyncio.sleep(10)
    return web.json_response({}, headers=CORS)


async def _slow_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={**CORS, "Content-Type": "application/json"})
    await response.prepare(request)
    await response.write(b'{"partial": ')
    await asyncio.sleep(10)
    return response


_STUN_MAGIC = 0x2112A442
_MAPPED_ADDRESS = "127.0.0.9"  # as if behind a NAT: a server-reflexive address unlike the host's


def _answer_stun(sock: socket.socket, stop: threading.Event) -> None:
    """RFC 5389 Binding success responses with XOR-MAPPED-ADDRESS ``_MAPPED_ADDRESS``:the sender's port."""
    while not stop.is_set():
        try:
            data, (_host, port) = sock.recvfrom(2048)
        except OSError:
            continue
        if len(data) < 20 or data[:2] != b"\x00\x01" or int.from_bytes(data[4:8], "big") != _STUN_MAGIC:
            continue
        address = int.from_bytes(socket.inet_aton(_MAPPED_ADDRESS), "big") ^ _STUN_MAGIC
        value = bytes([0, 1]) + (port ^ (_STUN_MAGIC >> 16)).to_bytes(2, "big") + address.to_bytes(4, "big")
        attribute = (0x0020).to_bytes(2, "big") + len(value).to_bytes(2, "big") + value
        header = b"\x01\x01" + len(attribute).to_bytes(2, "big") + data[4:20]
        with contextlib.suppress(OSError):
            sock.sendto(header + attribute, ("127.0.0.1", port))


@dataclass
class LocalServers:
    http: str
    ws: str
    refused_port: int
    stun_port: int
    stun_packets: list[bytes]
    live_stun_port: int
    """A STUN server that answers every Binding request with a NAT-like mapped address (127.0.0.9)."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def servers() -> Iterator[LocalServers]:
    """aiohttp on 127.0.0.1 in its own thread + a UDP socket that swallows STUN requests."""
    app = web.Application()
    app.router.add_get("/echo", _echo)
    app.router.add_get("/nosip", _no_subprotocol)
    app.router.add_get("/forbidden", _forbidden)
    app.router.add_get("/hang", _hang)
    app.router.add_get("/beep.wav", _beep)
    for path, handler in (("/json", _json), ("/text", _text), ("/missing", _missing), ("/slow", _slow),
                          ("/slow-body", _slow_body)):
        app.router.add_get(path, handler)
        app.router.add_route("OPTIONS", path, _preflight)
    loop = asyncio.new_event_loop()
    runner = web.AppRunner(app, shutdown_timeout=0.5)
    started = threading.Event()
    port_box: list[int] = []

    def serve() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        port_box.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        started.set()
        loop.run_forever()
        loop.run_until_complete(runner.cleanup())
        loop.close()

    thread = threading.Thread(target=serve, name="platform-test-servers", daemon=True)
    thread.start()
    assert started.wait(10), "the local aiohttp server did not start"

    stun = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    stun.bind(("127.0.0.1", 0))
    stun.settimeout(0.2)
    packets: list[bytes] = []
    stop_stun = threading.Event()

    def swallow() -> None:
        while not stop_stun.is_set():
            try:
                packets.append(stun.recv(2048))
            except OSError:
                continue

    stun_thread = threading.Thread(target=swallow, name="dead-stun", daemon=True)
    stun_thread.start()
    live_stun = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    live_stun.bind(("127.0.0.1", 0))
    live_stun.settimeout(0.2)
    live_thread = threading.Thread(
        target=_answer_stun, args=(live_stun, stop_stun), name="live-stun", daemon=True
    )
    live_thread.start()
    port = port_box[0]
    yield LocalServers(
        http=f"http://127.0.0.1:{port}",
        ws=f"ws://127.0.0.1:{port}",
        refused_port=_free_port(),
        stun_port=int(stun.getsockname()[1]),
        stun_packets=packets,
        live_stun_port=int(live_stun.getsockname()[1]),
    )
    stop_stun.set()
    stun_thread.join(5)
    live_thread.join(5)
    stun.close()
    live_stun.close()
    loop.call_soon_threadsafe(loop.stop)
    thread.join(10)


# ------------------------------------------------------------------------------------------ the page


def open_harness(page: Page, query: str = "") -> None:
    page.goto(HARNESS + query)
    page.wait_for_function("() => window.__platform.ready || !!window.__platform.error", timeout=120_000,
                           polling=100)
    error = page.evaluate("() => window.__platform.error")
    assert error is None, error


@pytest.fixture(scope="module")
def harness(browser: Browser, browser_context_args: dict[str, Any]) -> Iterator[tuple[Page, PageGuard]]:
    """One guarded page with Pyodide, the SDK and the scenarios, for the whole module."""
    context = browser.new_context(**browser_context_args)
    guard = PageGuard()
    guard.attach_context(context)
    page = context.new_page()
    open_harness(page)
    yield page, guard
    context.close()
    assert guard.problems() == [], guard.report(guard.problems())


def run(harness: tuple[Page, PageGuard], scenario: str, **kwargs: Any) -> dict[str, Any]:
    """Run one in-page scenario; fail on page errors or non-loopback requests it caused."""
    page, guard = harness
    before = len(guard.problems())
    result: dict[str, Any] = json.loads(page.evaluate("([name, kwargs]) => platformRun(name, kwargs)",
                                                      [scenario, kwargs]))
    page.wait_for_timeout(100)  # late events (socket close...) would surface as page errors now
    problems = guard.problems()[before:]
    assert problems == [], guard.report(problems)
    print(scenario, json.dumps(result, indent=1)[:6000])
    return result


def assert_no_leak(result: dict[str, Any]) -> None:
    assert result["proxies_after"] == result["proxies_before"] == 0, result


# ------------------------------------------------------------------------------------------ tests


def test_signalling_websocket(harness: tuple[Page, PageGuard], servers: LocalServers) -> None:
    result = run(harness, "signalling", base=servers.ws, refused=f"ws://127.0.0.1:{servers.refused_port}/",
                 timeout_url=servers.ws + "/hang")
    assert result["protocol"] == "sip"
    assert result["proxies_open"] > 0
    # text frames come back as UTF-8 bytes, invalid UTF-8 went (and came back) as a binary frame
    assert result["echo"][0].encode("latin-1").decode() == "OPTIONS sip:x SIP/2.0 héllo €"
    assert result["echo"][1].encode("latin-1") == b"\xff\x00binary\xfe"
    assert result["echo_types"] == ["bytes", "bytes"]
    assert result["server_saw"] == "TEXT,BINARY"
    # our close(): no message and no on_close afterwards, send refused, every proxy released
    assert result["messages_after_close"] == 0
    assert result["on_close_after_our_close"] == []
    assert result["send_after_close"]["code"] == "TRANSPORT_ERROR"
    assert result["proxies_after_close"] == 0
    # the server's close reaches on_close once, with its code and reason
    assert result["server_close"] == [[4000, "bye"]]
    assert result["closed_flag"] is True
    assert result["send_after_server_close"]["code"] == "TRANSPORT_ERROR"
    assert result["close_inside_on_message"] == {"messages": 1, "on_close": 0, "proxies": 0}
    for case in ("no_subprotocol", "forbidden", "refused", "bad_url"):
        assert result[case]["raised"] and result[case]["code"] == "TRANSPORT_ERROR", (case, result[case])
    # Chromium itself fails a handshake whose answer selects no subprotocol (our own check is for others)
    assert "handshake" in result["no_subprotocol"]["message"]
    assert "SyntaxError" in result["bad_url"]["message"]
    assert result["timeout"]["code"] == "TIMEOUT"
    assert "0.5" in result["timeout"]["message"]
    assert_no_leak(result)


def test_fetch_json(harness: tuple[Page, PageGuard], servers: LocalServers) -> None:
    result = run(harness, "fetch_json", base=servers.http, refused=f"http://127.0.0.1:{servers.refused_port}/")
    assert result["json"]["status"] == 200
    assert result["json"]["body"] == {"success": True, "authorization": "Bearer t0k3n", "x_test": "1",
                                      "list": [1, "two", None]}
    assert result["json"]["headers"]["x-reply"] == "yes"
    assert result["json"]["headers"]["content-type"].startswith("application/json")
    assert result["text"] == {"status": 200, "body": None}
    assert result["missing"] == {"status": 404, "body": {"success": False, "error_message": "nope"}}
    assert result["slow"]["code"] == "TIMEOUT"
    assert result["slow_body"]["code"] == "TIMEOUT"
    assert result["refused"]["code"] == "CONFIG_FETCH_FAILED"
    assert_no_leak(result)


def test_devices_microphones_and_errors(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "devices")
    kinds = [device["kind"] for device in result["devices"]]
    labels = [device["label"] for device in result["devices"]]
    assert kinds.count("audioinput") >= 2 and "audiooutput" in kinds, result["devices"]
    assert "videoinput" not in kinds
    assert "Fake Audio Input 1" in labels, labels
    assert result["can_select_output"] is True
    assert result["default"]["label"] and result["default"]["ended"] is False
    assert result["proxies_with_mic"] >= 1
    assert result["muted_track_enabled"] is False
    assert result["chosen"]["label"] == result["chosen"]["listed_label"]
    assert result["chosen"]["device_id"] == result["chosen"]["asked"]
    assert result["ended_event_callbacks"] == 1
    assert result["after_stop"] == {"ended": True, "readyState": "ended", "ended_callbacks": 0}
    assert result["bad_id"]["code"] == "MEDIA_DEVICE_ERROR"
    assert "OverconstrainedError" in result["bad_id"]["message"]
    mapped = {name: outcome["code"] for name, outcome in result["mapped"].items()}
    assert mapped == {
        "NotAllowedError": "MEDIA_PERMISSION_DENIED",
        "SecurityError": "MEDIA_PERMISSION_DENIED",
        "NotFoundError": "MEDIA_DEVICE_ERROR",
        "NotReadableError": "MEDIA_DEVICE_ERROR",
        "OverconstrainedError": "MEDIA_DEVICE_ERROR",
        "AbortError": "MEDIA_DEVICE_ERROR",
    }
    assert all(outcome["type"] == "MediaError" for outcome in result["mapped"].values())
    assert result["device_changes"] == 1
    assert result["online_events"] == 1
    assert_no_leak(result)


def test_call_audio_flows_and_hold_uses_directions(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "call_and_hold")
    assert result["offer_directions"] == ["sendrecv"] and result["answer_directions"] == ["sendrecv"]
    assert result["signaling"] == ["stable", "stable"]
    assert result["flow"]["alice"] > 0 and result["flow"]["bob"] > 0, result["flow"]
    for output in result["outputs"]:  # attached before (alice) and after (bob) the remote track
        assert output == {"tracks": 1, "paused": False, "in_document": True, "hidden": True,
                          "autoplay_blocked": False}, output
    hold = result["hold"]
    assert hold["offer"] == ["sendonly"] and hold["answer"] == ["recvonly"]
    assert hold["alice_current"] == "sendonly"
    assert hold["flow"]["alice"] == 0 and hold["flow"]["bob"] > 0, hold["flow"]
    assert hold["same_candidates"] and not hold["has_zero_address"]
    inactive = result["inactive"]
    assert inactive["offer"] == ["inactive"] and inactive["answer"] == ["inactive"]
    assert inactive["flow"] == {"alice": 0, "bob": 0}
    resume = result["resume"]
    assert resume["offer"] == ["sendrecv"] and resume["answer"] == ["sendrecv"]
    assert resume["flow"]["alice"] > 0 and resume["flow"]["bob"] > 0
    bob_hold = result["bob_hold"]
    assert bob_hold["offer"] == ["sendonly"] and bob_hold["answer"] == ["recvonly"]
    assert bob_hold["flow"]["bob"] == 0 and bob_hold["flow"]["alice"] > 0
    bob_resume = result["bob_resume"]
    assert bob_resume["offer"] == ["sendrecv"] and bob_resume["answer"] == ["sendrecv"]
    assert bob_resume["bob_sender_track"] is True
    assert bob_resume["outputs_playing"] == [True, True]
    assert bob_resume["flow"]["alice"] > 0 and bob_resume["flow"]["bob"] > 0
    assert result["bad_direction"]["code"] == "INVALID_ARGUMENT"
    assert result["elements_removed"] == [True, True]
    states = result["states"]
    assert "connected" in states["alice_ice"] and "connected" in states["bob_ice"], states
    assert states["alice_connection"][-1] == "connected", states  # nothing reported by close()
    after = result["after_close"]
    assert after["ice_state"] == "closed"
    for action in ("create_offer", "get_stats", "set_direction"):
        assert after[action]["code"] == "INVALID_STATE", after
    assert after["can_send_dtmf"] is False
    assert_no_leak(result)


def test_early_media_rollback_glare_and_ice_restart(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "early_media_and_rollback")
    assert result["state_after_offer"] == "have-local-offer"
    assert result["state_after_pranswer"] == "have-remote-pranswer"
    assert result["early_flow"] > 0
    assert result["rollback_after_pranswer"]["code"] == "INVALID_STATE"
    assert result["state_after_answer"] == "stable"
    assert result["state_after_repeat"] == "stable"
    assert result["answer_in_stable"]["code"] == "INVALID_STATE"
    assert result["garbage_offer"]["code"] == "PROTOCOL_ERROR"
    assert result["bob_state_after_garbage"] == "stable"
    assert result["state_reoffer"] == "have-local-offer"
    assert result["state_after_rollback"] == "stable"
    assert result["flow_after_rollback"]["alice"] > 0 and result["flow_after_rollback"]["bob"] > 0
    assert result["glare_states"] == ["stable", "stable"]
    assert result["reoffer_ufrags_equal"] is True
    after_rollback = result["answer_after_rollback"]
    assert after_rollback["mlines"] == 1 and after_rollback["directions"] == ["sendrecv"], after_rollback
    assert after_rollback["sends_microphone"] is True
    assert after_rollback["next_offer_mlines"] == 1, after_rollback
    # audio answered; video refused: Chromium answers a stopped transceiver with port 9 + inactive
    audio, video = result["mixed_answer"]
    assert audio[0] == "audio" and audio[1] != "0" and audio[2] in ("recvonly", "sendrecv")
    assert video[0] == "video" and (video[1] == "0" or video[2] == "inactive"), video
    assert result["video_only"]["code"] == "PROTOCOL_ERROR" and result["video_only_state"] == "stable"
    restart = result["ice_restart"]
    assert restart["offer_ufrag_changed"] and restart["answer_ufrag_changed"] and restart["connected"]
    assert restart["flow"]["alice"] > 0 and restart["flow"]["bob"] > 0
    assert_no_leak(result)


def test_dtmf_through_rtp(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "dtmf")
    assert result["before_negotiation"] is False
    assert result["offer_has_telephone_event"] and result["answer_has_telephone_event"]
    assert result["can_send"] is True
    assert result["sent"] is True and result["queued"] is True
    assert result["buffer"].endswith("#A")
    assert [tone for tone in result["tones"] if tone] == ["1", "2", "#", "A"]
    assert result["bad_tone"]["code"] == "INVALID_ARGUMENT" and "'X'" in result["bad_tone"]["message"]
    assert result["empty"] is False
    assert result["can_send_recvonly"] is False and result["send_recvonly"] is False
    assert result["after_close"] is False
    assert_no_leak(result)


def test_replace_microphone_without_renegotiation(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "replace_microphone")
    switched = result["switched"]
    assert switched["sender_track_changed"] and switched["sender_track_is_new"]
    assert switched["label"].startswith("Fake Audio Input")
    assert switched["signaling"] == "stable" and switched["local_sdp_unchanged"]
    assert switched["flow"]["bob"] > 0
    assert result["silent"]["sender_track"] is False and result["silent"]["flow"]["bob"] == 0
    assert result["ended_track"]["code"] == "MEDIA_DEVICE_ERROR"
    assert result["back"]["flow"]["bob"] > 0
    assert_no_leak(result)


def test_gathering_timeout_with_a_dead_stun_server(
    harness: tuple[Page, PageGuard], servers: LocalServers
) -> None:
    result = run(harness, "gathering_timeout", stun_url=f"stun:127.0.0.1:{servers.stun_port}", timeout=1.0)
    print(f"create_offer with a dead STUN server: {result['elapsed']:.2f} s (gathering_timeout 1.0 s); "
          f"without STUN: {result['plain_elapsed']:.2f} s")
    # the bound ended the wait: gathering was still running (the STUN server was being asked)
    assert result["state_at_return"] == "gathering"
    assert servers.stun_packets, "Chromium never asked the dead STUN server"
    assert "host" in result["candidate_types"] and "srflx" not in result["candidate_types"]
    assert result["plain_state_at_return"] == "complete"
    assert "host" in result["plain_candidate_types"]
    assert result["bad_ice_server"]["code"] == "INVALID_ARGUMENT"
    assert result["closed_while_gathering"]["code"] == "INVALID_STATE"
    assert_no_leak(result)


def test_fast_gathering_waits_for_what_carries_audio(
    harness: tuple[Page, PageGuard], servers: LocalServers
) -> None:
    """``fast``: UDP host (+ srflx with a STUN server), not Chromium's later ICE-TCP candidates; bounded."""
    result = run(
        harness, "fast_gathering", live_stun_url=f"stun:127.0.0.1:{servers.live_stun_port}",
        dead_stun_url=f"stun:127.0.0.1:{servers.stun_port}", timeout=1.0,
    )
    complete, fast, live, dead = (result[key] for key in ("complete", "fast", "live_stun", "dead_stun"))
    print({key: (result[key]["elapsed"], result[key]["state_at_return"])
           for key in ("complete", "fast", "live_stun", "dead_stun")})
    # complete: the browser's whole gathering, ICE-TCP host candidates included
    assert complete["state_at_return"] == "complete"
    assert ["udp", "host"] in complete["candidates"] and ["tcp", "host"] in complete["candidates"]
    # fast, no ICE server: the UDP host candidates, sent before gathering ended (no ICE-TCP yet)
    assert fast["state_at_return"] == "gathering"
    assert ["udp", "host"] in fast["candidates"] and ["tcp", "host"] not in fast["candidates"]
    assert fast["udp_host"] == complete["udp_host"], "every interface's UDP host candidate is in"
    # fast with a STUN server: it waited for the server-reflexive candidate (127.0.0.9, as behind a NAT)
    assert ["udp", "srflx"] in live["candidates"] and "127.0.0.9" in live["sdp_excerpt"]
    # fast with a STUN server that never answers: no early send without srflx; the bound ended the wait
    assert dead["state_at_return"] == "gathering" and dead["timed_out"]
    assert ["udp", "host"] in dead["candidates"] and ["udp", "srflx"] not in dead["candidates"]
    assert result["bad_policy"]["code"] == "INVALID_ARGUMENT"
    assert_no_leak(result)


def test_audio_output_devices(harness: tuple[Page, PageGuard]) -> None:
    result = run(harness, "output_devices")
    assert result["outputs"], "Chromium's fake devices list audio outputs"
    assert result["element"] == {"tag": "AUDIO", "autoplay": True, "hidden": True, "in_document": True}
    assert result["default_sink"] == {"sink_id": "default", "element_sink": ""}
    assert result["chosen_sink"]["ok"]
    assert result["unknown_sink"]["code"] == "OUTPUT_DEVICE_ERROR"
    assert result["initial_sink_ok"] == {"sink_id_matches": True, "errors": []}
    assert result["initial_sink_bad"] == [{"code": "OUTPUT_DEVICE_ERROR"}]
    assert result["still_present_after_hide"] is False
    assert result["unsupported_can_select"] is False
    assert result["unsupported"]["code"] == "OUTPUT_DEVICE_UNSUPPORTED"
    assert result["unsupported_initial"] == [{"code": "OUTPUT_DEVICE_UNSUPPORTED"}]
    assert result["restored"] is True
    assert result["removed"] is True
    assert result["set_sink_after_close"]["code"] == "INVALID_STATE"
    assert result["left_elements"] == 0
    assert_no_leak(result)


def test_sound_player(harness: tuple[Page, PageGuard], servers: LocalServers) -> None:
    result = run(harness, "sounds", custom_url=servers.http + "/beep.wav")
    incoming = result["incoming"]
    assert incoming["src_scheme"] == "blob" and incoming["loop"] is True and incoming["hidden"] is True
    assert incoming["paused"] is False and incoming["playing"] is True and incoming["unlocked"] is True
    assert incoming["duration"] == pytest.approx(3.0, abs=0.01)  # one ring cadence
    assert result["stopped"] == {"paused": True, "time": 0}
    assert result["dtmf5"] == {"ended": True, "loop": False, "duration": pytest.approx(0.12, abs=0.01)}
    assert result["custom"] == {"src": servers.http + "/beep.wav", "played": True}
    assert result["restored_default"] is True
    assert result["disabled_created_element"] is False
    assert result["unknown_play"]["code"] == "INVALID_ARGUMENT"
    assert result["unknown_source"]["code"] == "INVALID_ARGUMENT"
    assert result["output"] == "default"
    assert result["bad_output"]["code"] == "OUTPUT_DEVICE_ERROR"
    assert result["blocked"] == []
    assert result["elements_left"] == 0
    assert result["play_after_close"]["code"] == "INVALID_STATE"
    assert result["urls_revoked"] == [True, True, True]
    assert_no_leak(result)


def test_nothing_left_behind(harness: tuple[Page, PageGuard]) -> None:
    """After every scenario above: no live proxy, no audio element, no page error."""
    assert run(harness, "live") == {"proxies": 0, "audio_elements": 0}


# ------------------------------------------------------------------------------------------ strict browser


@pytest.fixture(scope="module")
def strict_browser(playwright: Playwright, chromium_launch_options: dict[str, Any]) -> Iterator[Browser]:
    """Chromium without the auto-accepting permission UI and with the default autoplay policy."""
    options = dict(chromium_launch_options)
    options["args"] = [
        arg for arg in chromium_launch_options["args"]
        if arg != "--use-fake-ui-for-media-stream" and not arg.startswith("--autoplay-policy")
    ]
    browser = playwright.chromium.launch(**options)
    yield browser
    browser.close()


def test_strict_browser_permission_denied_and_autoplay_blocked(
    strict_browser: Browser, browser_context_args: dict[str, Any]
) -> None:
    context_args = {key: value for key, value in browser_context_args.items() if key != "permissions"}
    context = strict_browser.new_context(**context_args)  # no microphone permission
    guard = PageGuard()
    guard.attach_context(context)
    try:
        page = context.new_page()
        # The scenario runs at load, before Playwright evaluates anything (evaluate counts as a gesture).
        with page.expect_console_message(lambda message: message.text == "platform-autorun-done",
                                         timeout=120_000):
            page.goto(HARNESS + "?autorun=autoplay_blocked")
        assert page.evaluate("() => window.__autorunError || null") is None
        blocked = json.loads(page.evaluate("() => window.__autorun"))
        print("autoplay", blocked)
        assert blocked["user_activation"] is False
        assert blocked["autoplay_blocked"] is True
        assert [error["code"] for error in blocked["errors"]] == ["AUTOPLAY_BLOCKED"]
        assert blocked["paused"] is True
        assert blocked["sounds_unlocked_before"] is False
        assert blocked["sounds_blocked"] == ["incoming"]
        page.click("body")  # a user gesture
        resumed = json.loads(page.evaluate("() => platformRun('autoplay_resume', {})"))
        assert resumed["user_activation"] is True
        assert resumed["resumed"] is True
        assert resumed["autoplay_blocked"] is False and resumed["paused"] is False
        assert resumed["sounds_unlocked_after"] is True
        assert resumed["sound_playing_after_gesture"] is True
        assert resumed["proxies_after"] == 0
        denied = json.loads(page.evaluate("() => platformRun('permission_denied', {})"))
        print("permission", denied)
        assert denied["default"]["code"] == "MEDIA_PERMISSION_DENIED"
        assert denied["default"]["type"] == "MediaError"
        assert "NotAllowedError" in denied["default"]["message"]
        assert denied["by_id"]["code"] == "MEDIA_PERMISSION_DENIED"
        assert all(label == "" for label in denied["labels"])  # no permission: no labels
        assert denied["proxies_after"] == 0
        page.wait_for_timeout(100)
    finally:
        context.close()
    assert guard.problems() == [], guard.report(guard.problems())
