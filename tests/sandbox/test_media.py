"""Tests of twochat_voice_web.sandbox.media: the aiortc end of the sandbox's test numbers.

Two layers:
- pure CPython tests (SDP validation, state errors, DTMF bookkeeping, tone/RMS helpers, patches, and a
  call between two MediaEndpoints over loopback);
- real Chromium (Debian's /usr/bin/chromium through async Playwright) against a tiny aiohttp app that
  serves ``media_page.html`` and hands the page's SDP to MediaEndpoint (POST /offer -> answer(), ...).

Everything async runs on one background event loop (``Harness``), so these tests neither need
pytest-asyncio nor collide with pytest-playwright's sync API in the main thread. No wall-clock
assertions: every condition is polled with a generous timeout.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import re
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest
from aiohttp import web

from twochat_voice_web.sandbox import _aiortc_patches as patches
from twochat_voice_web.sandbox.media import (
    IceRestartError,
    MediaAddressPolicy,
    MediaBehaviour,
    MediaConfigError,
    MediaEndpoint,
    MediaEndpointError,
    MediaStateError,
    SdpNegotiationError,
)
from twochat_voice_web.testing import chromium as testing_chromium

T = TypeVar("T")

HERE = Path(__file__).resolve().parent
MEDIA_PAGE = HERE / "media_page.html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless=new", *testing_chromium.CHROMIUM_ARGS]  # the plugin's copy of the flags
TONE_RMS = 0.3 / math.sqrt(2)  # 0.212: a 0.3-amplitude sine


# --- helpers -------------------------------------------------------------------------------------------


def run_in_thread(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 120.0) -> T:
    """asyncio.run() in a fresh thread (the main thread may host pytest-playwright's sync loop)."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = asyncio.run(asyncio.wait_for(factory(), timeout))
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(timeout + 30)
    assert not thread.is_alive(), "async test body did not finish"
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


async def eventually(
    probe: Callable[[], Awaitable[Any] | Any], what: str, *, timeout: float = 30.0, interval: float = 0.25
) -> Any:
    """Poll ``probe`` (sync or async) until it returns something truthy; return that value.

    Fails with the last value after ``timeout`` seconds.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    while True:
        value = probe()
        if asyncio.iscoroutine(value) or isinstance(value, asyncio.Future):
            value = await value
        if value:
            return value
        last = value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {last!r})")
        await asyncio.sleep(interval)


def sdp_direction(sdp: str) -> str:
    found = re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", sdp, re.MULTILINE)
    assert len(found) == 1, sdp
    return str(found[0])


def leaked_media_tasks() -> list[asyncio.Task[Any]]:
    """Tasks of the running loop that belong to aiortc, aioice or our media modules."""
    out = []
    for task in asyncio.all_tasks():
        coro = task.get_coro()
        code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
        filename = code.co_filename if code is not None else ""
        if any(part in filename for part in ("aiortc", "aioice", "sandbox/media")):
            out.append(task)
    return out


def decoder_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.endswith("-decoder") and t.is_alive()]


# --- the browser harness ----------------------------------------------------------------------------------


@dataclass
class Call:
    """One endpoint created by the test app, with the events it emitted."""

    endpoint: MediaEndpoint
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def named(self, name: str) -> list[dict[str, Any]]:
        return [data for event, data in self.events if event == name]


class Harness:
    """aiohttp test app + async Playwright Chromium on one background event loop (module scoped)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, name="media-harness", daemon=True)
        self.calls: dict[str, Call] = {}
        self.url = ""
        self._runner: web.AppRunner | None = None
        self._playwright: Any = None
        self.browser: Any = None

    def start(self) -> None:
        self.thread.start()
        self.run(self._setup, timeout=60)

    def stop(self) -> None:
        try:
            self.run(self._teardown, timeout=60)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(30)
            self.loop.close()

    def run(self, factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 180.0) -> T:
        return asyncio.run_coroutine_threadsafe(factory(), self.loop).result(timeout)

    async def _setup(self) -> None:
        from playwright.async_api import async_playwright

        app = web.Application()
        app.router.add_get("/", self._page)
        app.router.add_post("/offer", self._offer)
        app.router.add_post("/reoffer/{id}", self._reoffer)
        app.router.add_post("/server-offer", self._server_offer)
        app.router.add_post("/answer/{id}", self._answer)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"
        self._playwright = await async_playwright().start()
        self.browser = await self._playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )

    async def _teardown(self) -> None:
        await self.close_calls()
        if self.browser is not None:
            await self.browser.close()
        if self._playwright is not None:
            await self._playwright.stop()
        if self._runner is not None:
            await self._runner.cleanup()

    async def close_calls(self) -> None:
        calls, self.calls = list(self.calls.values()), {}
        for call in calls:
            await call.endpoint.close()

    def _new_call(self, behaviour: str) -> tuple[str, Call]:
        call_id = str(len(self.calls) + 1)
        while call_id in self.calls:
            call_id += "x"
        events: list[tuple[str, dict[str, Any]]] = []
        endpoint = MediaEndpoint(
            MediaBehaviour(behaviour),
            on_event=lambda name, data: events.append((name, data)),
            addresses=MediaAddressPolicy.LOOPBACK,
        )
        call = self.calls[call_id] = Call(endpoint, events)
        return call_id, call

    @staticmethod
    def _error(exc: MediaEndpointError) -> web.Response:
        return web.json_response({"error": f"{type(exc).__name__}: {exc}"}, status=exc.status_hint)

    async def _page(self, request: web.Request) -> web.StreamResponse:
        return web.FileResponse(MEDIA_PAGE)

    async def _offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        call_id, call = self._new_call(body["behaviour"])
        try:
            sdp = await call.endpoint.answer(body["sdp"])
        except MediaEndpointError as exc:
            return self._error(exc)
        return web.json_response({"id": call_id, "sdp": sdp})

    async def _reoffer(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            sdp = await self.calls[request.match_info["id"]].endpoint.reoffer_received(body["sdp"])
        except MediaEndpointError as exc:
            return self._error(exc)
        return web.json_response({"sdp": sdp})

    async def _server_offer(self, request: web.Request) -> web.Response:
        body = await request.json()
        call_id, call = self._new_call(body["behaviour"])
        sdp = await call.endpoint.create_offer()
        return web.json_response({"id": call_id, "sdp": sdp})

    async def _answer(self, request: web.Request) -> web.Response:
        body = await request.json()
        try:
            await self.calls[request.match_info["id"]].endpoint.accept_answer(body["sdp"])
        except MediaEndpointError as exc:
            return self._error(exc)
        return web.json_response({})

    @contextlib.asynccontextmanager
    async def page(self, *, browser: Any = None) -> AsyncIterator[Any]:
        """A fresh context + page on the test page; fails the test on any uncaught page error."""
        context = await (browser or self.browser).new_context(permissions=["microphone"])
        page = await context.new_page()
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        await page.goto(self.url + "/")
        try:
            yield page
        finally:
            with contextlib.suppress(Exception):
                await page.evaluate("hangup()")
            await context.close()
            await self.close_calls()
        assert errors == [], f"page errors: {errors}"

    def only_call(self) -> Call:
        assert len(self.calls) == 1, self.calls
        return next(iter(self.calls.values()))


@pytest.fixture(scope="module")
def harness() -> Iterator[Harness]:
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is not installed")
    h = Harness()
    h.start()
    try:
        yield h
    finally:
        h.stop()


async def browser_stats(page: Any) -> dict[str, Any]:
    return await page.evaluate("stats()")  # type: ignore[no-any-return]


async def received_rms(page: Any, seconds: float = 1.0) -> tuple[float, dict[str, Any]]:
    """RMS (0..1) of what the browser received over ``seconds``, from totalAudioEnergy growth."""
    first = await browser_stats(page)
    await asyncio.sleep(seconds)
    second = await browser_stats(page)
    if "inbound" not in first or "inbound" not in second:
        return 0.0, second
    energy = second["inbound"]["totalAudioEnergy"] - first["inbound"]["totalAudioEnergy"]
    duration = second["inbound"]["totalSamplesDuration"] - first["inbound"]["totalSamplesDuration"]
    return (math.sqrt(max(energy, 0.0) / duration) if duration > 0 else 0.0), second


async def inbound_packets(page: Any) -> int:
    inbound = (await browser_stats(page)).get("inbound")
    return int(inbound["packetsReceived"]) if inbound else 0


async def inbound_packets_growing(page: Any, seconds: float = 0.6) -> bool:
    first = await inbound_packets(page)
    await asyncio.sleep(seconds)
    return await inbound_packets(page) > first


# --- browser tests ----------------------------------------------------------------------------------------

browser = pytest.mark.browser


@browser
@pytest.mark.timeout(300)
def test_echo_call_flows_both_ways_on_loopback(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('echo')")
            assert result["status"] == 200, result
            assert " 127.0.0.1 " in result["answer"]
            assert re.search(r"a=candidate:\S+ 1 udp \d+ (?!127\.0\.0\.1)", result["answer"]) is None
            assert "telephone-event/8000" in result["answer"]
            assert "telephone-event/48000" in result["answer"]
            call = harness.only_call()

            s = await eventually(
                lambda: _inbound_at_least(page, bytes_=8000), "echoed bytes in the browser", timeout=45
            )
            assert s["inbound"]["codec"] == "audio/opus/48000"
            assert s["pair"]["localAddress"] == "127.0.0.1"
            assert s["pair"]["remoteAddress"] == "127.0.0.1"
            await eventually(
                lambda: _energy_at_least(page, 1e-6), "echoed audio energy in the browser", timeout=45
            )
            await eventually(
                lambda: any(w.rms_max > 0 for w in call.endpoint.stats.audio_levels),
                "a server audio level window with energy",
                timeout=45,
            )
            stats = call.endpoint.stats
            assert stats.connection_state == "connected"
            assert stats.codec == "opus/48000/2"
            assert stats.packets_received > 0
            assert stats.bytes_received > 0
            assert stats.packets_sent > 0
            assert stats.frames_received > 0
            assert stats.remote_direction == "sendrecv"
            assert call.named("audio_level"), "no audio_level event"
            assert {"state": "connected"} in call.named("connection_state")
            # the pair stays on loopback for the rest of the call (Chromium re-nominations are dropped)
            await asyncio.sleep(3)
            later = await browser_stats(page)
            assert later["pair"]["localAddress"] == "127.0.0.1"
            assert later["pair"]["remoteAddress"] == "127.0.0.1"

    harness.run(scenario)


async def _inbound_at_least(page: Any, *, bytes_: int) -> dict[str, Any] | None:
    s = await browser_stats(page)
    inbound = s.get("inbound")
    return s if inbound and inbound["bytesReceived"] >= bytes_ else None


async def _energy_at_least(page: Any, energy: float) -> bool:
    s = await browser_stats(page)
    return bool(s.get("inbound") and s["inbound"]["totalAudioEnergy"] > energy)


@browser
@pytest.mark.timeout(300)
def test_tone_reaches_the_browser_at_the_expected_level(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('tone')")
            assert result["status"] == 200, result
            await eventually(lambda: _inbound_at_least(page, bytes_=4000), "tone packets", timeout=45)

            async def tone_level() -> float | None:
                rms, _ = await received_rms(page)
                return rms if abs(rms - TONE_RMS) < 0.04 else None

            rms = await eventually(tone_level, f"a received RMS near {TONE_RMS:.3f}", timeout=45)
            assert 0.17 < rms < 0.26
            # the server still measures what the browser sends
            call = harness.only_call()
            await eventually(lambda: call.endpoint.stats.frames_received > 50, "server receiving", timeout=30)

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_silence_keeps_rtp_flowing_without_energy(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('silence')")
            assert result["status"] == 200, result
            await eventually(lambda: _inbound_at_least(page, bytes_=2000), "silence packets", timeout=45)
            assert await eventually(lambda: inbound_packets_growing(page), "packets growing", timeout=30)
            rms, s = await received_rms(page, 2.0)
            assert rms < 0.01, s
            assert s["inbound"]["totalAudioEnergy"] < 0.001, s

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_dtmf_digits_are_collected_in_order_and_ivr_stops_its_prompt(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('ivr')")
            assert result["status"] == 200, result
            call = harness.only_call()
            assert (await browser_stats(page))["canInsertDTMF"] is True

            async def prompt_playing() -> bool:
                rms, _ = await received_rms(page)
                return rms > 0.1

            await eventually(prompt_playing, "the IVR prompt tone", timeout=45)
            assert await page.evaluate("dtmf('123#', 100, 70)") is True
            await eventually(lambda: call.endpoint.stats.digit_string == "123#", "digits 123#", timeout=45)
            dtmf_events = call.named("dtmf")
            assert [e["digit"] for e in dtmf_events] == ["1", "2", "3", "#"]
            assert all(e["transport"] == "rfc4733" for e in dtmf_events)
            assert dtmf_events[-1]["digits"] == "123#"
            digits = call.endpoint.stats.digits
            assert [d.received_at for d in digits] == sorted(d.received_at for d in digits)
            assert all(d.duration_ms > 0 and d.clock_rate in (8000, 48000) for d in digits)

            async def prompt_stopped() -> bool:
                rms, _ = await received_rms(page)
                return rms < 0.01

            await eventually(prompt_stopped, "silence after the first digit", timeout=45)
            # audio decoding survived the telephone-events (the intercept keeps them from the decoder)
            frames = call.endpoint.stats.frames_received
            await eventually(
                lambda: call.endpoint.stats.frames_received > frames + 25, "audio after DTMF", timeout=30
            )

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_hold_and_unhold_reoffers_follow_rfc3264(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('tone')")
            assert result["status"] == 200, result
            call = harness.only_call()
            await eventually(lambda: inbound_packets_growing(page), "tone flowing", timeout=45)

            held = await page.evaluate("reoffer({direction: 'sendonly'})")
            assert held["status"] == 200, held
            assert sdp_direction(held["offer"]) == "sendonly"
            assert sdp_direction(held["answer"]) == "recvonly"
            stats = call.endpoint.stats
            assert stats.on_hold is True
            assert stats.remote_direction == "sendonly"
            assert stats.local_direction == "recvonly"
            assert call.named("hold")[-1] == {
                "direction": "sendonly",
                "on_hold": True,
                "answer_direction": "recvonly",
            }

            async def stopped() -> bool:
                return not await inbound_packets_growing(page, 1.0)

            await eventually(stopped, "our RTP to stop while on hold", timeout=30)
            # the browser still sends while it holds us (sendonly): the server keeps receiving
            frames = call.endpoint.stats.frames_received
            await eventually(
                lambda: call.endpoint.stats.frames_received > frames + 10, "held audio", timeout=30
            )

            inactive = await page.evaluate("reoffer({direction: 'inactive'})")
            assert inactive["status"] == 200, inactive
            assert sdp_direction(inactive["answer"]) == "inactive"
            assert call.endpoint.stats.on_hold is True
            assert call.named("hold")[-1]["direction"] == "inactive"

            resumed = await page.evaluate("reoffer({direction: 'sendrecv'})")
            assert resumed["status"] == 200, resumed
            assert sdp_direction(resumed["answer"]) == "sendrecv"
            stats = call.endpoint.stats
            assert stats.on_hold is False
            assert stats.remote_direction == "sendrecv"
            assert call.named("hold")[-1] == {
                "direction": "sendrecv",
                "on_hold": False,
                "answer_direction": "sendrecv",
            }
            await eventually(lambda: inbound_packets_growing(page), "tone again after unhold", timeout=30)

            async def tone_back() -> bool:
                rms, _ = await received_rms(page)
                return abs(rms - TONE_RMS) < 0.04

            await eventually(tone_back, "the tone level after unhold", timeout=30)
            # recvonly (the browser stops sending) is not hold; we answer sendonly (RFC 3264 §6.1)
            listen = await page.evaluate("reoffer({direction: 'recvonly'})")
            assert listen["status"] == 200, listen
            assert sdp_direction(listen["answer"]) == "sendonly"
            assert call.endpoint.stats.on_hold is False
            assert call.endpoint.stats.remote_direction == "recvonly"
            assert call.named("hold")[-1] == {
                "direction": "recvonly",
                "on_hold": False,
                "answer_direction": "sendonly",
            }
            assert [e["direction"] for e in call.named("hold")] == [
                "sendonly",
                "inactive",
                "sendrecv",
                "recvonly",
            ]
            # the SDP origin keeps its session id and increments its version (RFC 3264 §8)
            origins = [
                re.search(r"^o=- (\d+) (\d+) ", sdp, re.MULTILINE)
                for sdp in (
                    result["answer"],
                    held["answer"],
                    inactive["answer"],
                    resumed["answer"],
                    listen["answer"],
                )
            ]
            assert all(o is not None for o in origins)
            assert len({o.group(1) for o in origins if o}) == 1
            assert [int(o.group(2)) for o in origins if o] == [1, 2, 3, 4, 5]

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_ice_restart_reoffer_moves_media_to_the_new_pair(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('echo')")
            assert result["status"] == 200, result
            call = harness.only_call()
            before = await eventually(lambda: _inbound_at_least(page, bytes_=4000), "echo", timeout=45)

            restarted = await page.evaluate("reoffer({iceRestart: true})")
            assert restarted["status"] == 200, restarted
            old_ufrag = re.search(r"^a=ice-ufrag:(\S+)", result["offer"], re.MULTILINE)
            new_ufrag = re.search(r"^a=ice-ufrag:(\S+)", restarted["offer"], re.MULTILINE)
            assert old_ufrag and new_ufrag and old_ufrag.group(1) != new_ufrag.group(1)
            assert call.endpoint.stats.ice_restarts == 1
            assert call.named("ice_restart") == [{"count": 1}]
            assert sdp_direction(restarted["answer"]) == "sendrecv"

            async def on_new_pair() -> dict[str, Any] | None:
                s = await browser_stats(page)
                pair = s.get("pair")
                if pair and pair["local"] != before["pair"]["local"]:
                    return s
                return None

            after = await eventually(on_new_pair, "the browser to select a new-generation pair", timeout=45)
            assert after["pair"]["localAddress"] == "127.0.0.1"
            assert after["pair"]["remoteAddress"] == "127.0.0.1"
            assert after["transport"]["iceLocalUsernameFragment"] == new_ufrag.group(1)
            bytes_after = after["inbound"]["bytesReceived"]
            await eventually(
                lambda: _inbound_at_least(page, bytes_=bytes_after + 4000), "echo on the new pair", timeout=45
            )
            frames = call.endpoint.stats.frames_received
            await eventually(
                lambda: call.endpoint.stats.frames_received > frames + 25, "server receiving", timeout=30
            )
            assert call.endpoint.stats.connection_state == "connected"

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_server_offers_and_the_browser_answers(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("answerServerOffer('tone')")
            assert result["status"] == 200, result
            assert sdp_direction(result["offer"]) == "sendrecv"
            assert sdp_direction(result["answer"]) == "sendrecv"
            call = harness.only_call()
            stats = call.endpoint.stats
            assert stats.remote_direction == "sendrecv"
            assert stats.local_direction == "sendrecv"
            assert stats.codec == "opus/48000/2"

            async def tone_level() -> bool:
                rms, _ = await received_rms(page)
                return abs(rms - TONE_RMS) < 0.04

            await eventually(tone_level, "the tone in the browser", timeout=45)
            await eventually(
                lambda: any(w.rms_max > 0 for w in call.endpoint.stats.audio_levels),
                "the browser's microphone at the server",
                timeout=45,
            )
            # DTMF also works when we offered telephone-event (PT 110/126)
            assert await page.evaluate("dtmf('9*', 100, 70)") is True
            await eventually(lambda: call.endpoint.stats.digit_string == "9*", "digits 9*", timeout=45)
            # and the browser can still hold a call the sandbox placed
            held = await page.evaluate("reoffer({direction: 'sendonly'})")
            assert held["status"] == 200, held
            assert sdp_direction(held["answer"]) == "recvonly"
            assert call.endpoint.stats.on_hold is True
            # ...and resume it with an ICE restart (the SDK's re-INVITE after a WebSocket drop): we offered
            # first, so we were the controlling agent and must hand control to the restarting browser
            before = await browser_stats(page)
            resumed = await page.evaluate("reoffer({direction: 'sendrecv', iceRestart: true})")
            assert resumed["status"] == 200, resumed
            assert sdp_direction(resumed["answer"]) == "sendrecv"
            assert call.endpoint.stats.ice_restarts == 1
            assert call.endpoint.stats.on_hold is False

            async def on_new_pair() -> dict[str, Any] | None:
                s = await browser_stats(page)
                return s if s.get("pair") and s["pair"]["local"] != before["pair"]["local"] else None

            after = await eventually(on_new_pair, "a new-generation pair", timeout=45)
            await eventually(
                lambda: _inbound_at_least(page, bytes_=after["inbound"]["bytesReceived"] + 4000),
                "the tone on the new pair",
                timeout=45,
            )
            await eventually(tone_level, "the tone level on the new pair", timeout=30)

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_browser_mute_makes_the_server_level_drop(harness: Harness) -> None:
    async def scenario() -> None:
        async with harness.page() as page:
            result = await page.evaluate("startCall('echo')")
            assert result["status"] == 200, result
            call = harness.only_call()
            # Chromium's fake microphone beeps: wait for a loud window
            await eventually(
                lambda: any(w.rms_max > 1000 for w in call.endpoint.stats.audio_levels),
                "a loud window before mute",
                timeout=45,
            )
            await page.evaluate("mute(true)")
            muted_from = len(call.endpoint.stats.audio_levels)

            def quiet_windows() -> bool:
                windows = call.endpoint.stats.audio_levels[muted_from:]
                return len(windows) >= 4 and all(w.rms_max < 50 and w.frames > 0 for w in windows[-3:])

            await eventually(quiet_windows, "three quiet windows after mute", timeout=60)
            events = call.named("audio_level")
            assert events and events[-1]["rms_max"] < 50
            assert max(e["rms_max"] for e in events) > 1000

            await page.evaluate("mute(false)")
            unmuted_from = len(call.endpoint.stats.audio_levels)
            await eventually(
                lambda: any(w.rms_max > 1000 for w in call.endpoint.stats.audio_levels[unmuted_from:]),
                "a loud window after unmute",
                timeout=45,
            )

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_close_leaves_no_tasks_threads_or_live_tracks(harness: Harness) -> None:
    async def scenario() -> None:
        assert leaked_media_tasks() == []
        async with harness.page() as page:
            result = await page.evaluate("startCall('echo')")
            assert result["status"] == 200, result
            call = harness.only_call()
            await eventually(lambda: _inbound_at_least(page, bytes_=4000), "echo", timeout=45)
            assert leaked_media_tasks(), "expected aiortc tasks during the call"
            assert decoder_threads(), "expected aiortc's decoder thread during the call"
            endpoint = call.endpoint
            track = endpoint._track
            await asyncio.gather(endpoint.close(), endpoint.close())
            await endpoint.close()
            assert endpoint.closed
            assert track.readyState == "ended"
            assert endpoint.stats.connection_state == "closed"
            assert call.named("closed") == [{}]
            await eventually(lambda: not leaked_media_tasks(), "no aiortc/aioice/media tasks", timeout=30)
            await eventually(lambda: not decoder_threads(), "no decoder thread", timeout=30)
            with pytest.raises(MediaStateError):
                await endpoint.reoffer_received(result["offer"])

            async def browser_disconnected() -> bool:
                return bool(await page.evaluate("pc.connectionState") in ("closed", "failed", "disconnected"))

            await eventually(browser_disconnected, "the browser to see the peer go away", timeout=60)

    harness.run(scenario)


@browser
@pytest.mark.timeout(300)
def test_loopback_only_refuses_a_browser_without_loopback_candidates(harness: Harness) -> None:
    async def scenario() -> None:
        args = [a for a in CHROMIUM_ARGS if a != "--allow-loopback-in-peer-connection"]
        no_loopback = await harness._playwright.chromium.launch(
            executable_path=CHROMIUM, args=args, headless=True
        )
        try:
            async with harness.page(browser=no_loopback) as page:
                refused = await page.evaluate("startCall('echo')")
                assert refused["status"] == 488, refused
                assert "127.0.0.1" in refused["error"]
            # The default policy (this machine's addresses) with such a browser is proved by the
            # real-browser tier, inside its own network namespace (tests/realbrowser): here, outside one,
            # media may only use 127.0.0.1.
        finally:
            await no_loopback.close()

    harness.run(scenario)


# --- pure CPython tests -----------------------------------------------------------------------------------


async def _two_endpoints(
    offerer: MediaBehaviour, answerer: MediaBehaviour
) -> tuple[MediaEndpoint, MediaEndpoint, list[tuple[str, dict[str, Any]]]]:
    events: list[tuple[str, dict[str, Any]]] = []
    a = MediaEndpoint(offerer, on_event=lambda n, d: events.append(("a:" + n, d)), level_interval=0.25)
    b = MediaEndpoint(answerer, on_event=lambda n, d: events.append(("b:" + n, d)), level_interval=0.25)
    offer = await a.create_offer()
    answer = await b.answer(offer)
    await a.accept_answer(answer)
    return a, b, events


def test_two_endpoints_tone_to_echo_and_back() -> None:
    async def scenario() -> None:
        a, b, events = await _two_endpoints(MediaBehaviour.TONE, MediaBehaviour.ECHO)
        try:
            expected = TONE_RMS * 32767 / math.sqrt(2)  # stereo opus: -3 dB per channel
            for endpoint in (a, b):  # b hears the tone; a hears it echoed back
                await eventually(
                    lambda e=endpoint: any(  # type: ignore[misc]
                        abs(w.rms_avg - expected) < 0.1 * expected for w in e.stats.audio_levels
                    ),
                    "a tone-level window",
                )
            assert a.stats.codec == b.stats.codec == "opus/48000/2"
            assert ("a:connection_state", {"state": "connected"}) in events
            # switch what a sends: b's level falls to silence
            a.set_sending(MediaBehaviour.SILENCE)
            assert a.stats.behaviour is MediaBehaviour.SILENCE
            mark = len(b.stats.audio_levels)
            await eventually(
                lambda: any(w.rms_max == 0 and w.frames > 0 for w in b.stats.audio_levels[mark + 1 :]),
                "silence at b",
            )
            a.set_sending(MediaBehaviour.TONE)
            mark = len(b.stats.audio_levels)
            await eventually(
                lambda: any(abs(w.rms_avg - expected) < 0.1 * expected for w in b.stats.audio_levels[mark:]),
                "the tone again",
            )
        finally:
            await a.close()
            await b.close()
        await eventually(lambda: not leaked_media_tasks(), "no leftover tasks", timeout=15)

    run_in_thread(scenario)


def test_our_reoffer_on_a_live_call_for_an_offerless_reinvite() -> None:
    async def scenario() -> None:
        a, b, _ = await _two_endpoints(MediaBehaviour.TONE, MediaBehaviour.ECHO)
        try:
            await eventually(lambda: a.stats.connection_state == "connected", "connected")
            first = a.local_description
            reoffer = await a.create_offer()
            assert reoffer != first
            assert sdp_direction(reoffer) == "sendrecv"
            answer = await b.reoffer_received(reoffer)
            assert sdp_direction(answer) == "sendrecv"
            assert b.stats.ice_restarts == 0
            await a.accept_answer(answer)
            with pytest.raises(MediaStateError):
                await a.accept_answer(answer)  # nothing outstanding any more
            frames = a.stats.frames_received
            await eventually(lambda: a.stats.frames_received > frames + 25, "media after renegotiation")
            origin = [re.search(r"^o=- (\d+) (\d+) ", sdp, re.MULTILINE) for sdp in (first or "", reoffer)]
            assert origin[0] and origin[1]
            assert origin[0].group(1) == origin[1].group(1)
            assert int(origin[1].group(2)) == int(origin[0].group(2)) + 1
        finally:
            await a.close()
            await b.close()

    run_in_thread(scenario)


def test_pcmu_is_negotiated_when_it_is_the_only_common_codec() -> None:
    async def scenario() -> None:
        a = MediaEndpoint(MediaBehaviour.TONE, level_interval=0.25)
        b = MediaEndpoint(MediaBehaviour.ECHO, level_interval=0.25)
        try:
            offer = await a.create_offer()
            # keep only PCMU (0) and telephone-event/8000 (126) in the m-line and its rtpmaps
            offer = re.sub(r"^m=audio (\d+) (\S+) .*$", r"m=audio \1 \2 0 126", offer, flags=re.MULTILINE)
            offer = "".join(
                line
                for line in offer.splitlines(keepends=True)
                if not re.match(r"a=rtpmap:(96|9|8|110) ", line)
            )
            answer = await b.answer(offer)
            assert "PCMU/8000" in answer
            assert "opus" not in answer
            assert b.stats.codec == "PCMU/8000"
            await a.accept_answer(answer)
            expected = TONE_RMS * 32767
            await eventually(
                lambda: any(abs(w.rms_avg - expected) < 0.15 * expected for w in a.stats.audio_levels),
                "the tone echoed through PCMU",
            )
        finally:
            await a.close()
            await b.close()

    run_in_thread(scenario)


SAMPLE_OFFER = """v=0
o=- 1 1 IN IP4 127.0.0.1
s=-
t=0 0
a=group:BUNDLE 0
m=audio 50000 UDP/TLS/RTP/SAVPF 111 126
c=IN IP4 127.0.0.1
a=rtcp-mux
a=mid:0
a=sendrecv
a=rtpmap:111 opus/48000/2
a=rtpmap:126 telephone-event/8000
a=ice-ufrag:abcd
a=ice-pwd:abcdefghijklmnopqrstuvwx
a=fingerprint:sha-256 {fingerprint}
a=setup:actpass
a=candidate:1 1 udp 2122260223 127.0.0.1 50000 typ host
a=candidate:2 1 udp 2122194687 192.0.2.2 50001 typ host
a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active
""".format(fingerprint=":".join(["00", "11", "22", "33", "44", "55", "66", "77"] * 4))


@pytest.mark.parametrize(
    ("mutate", "needle"),
    [
        (lambda s: "", "empty"),
        (lambda s: s.replace("m=audio", "m=video"), "exactly one audio"),
        (lambda s: s + "m=video 9 UDP/TLS/RTP/SAVPF 96\r\nc=IN IP4 0.0.0.0\r\na=mid:1\r\n",
         "found: audio, video"),
        (lambda s: re.sub(r"a=candidate:1 .*\n", "", s), "no 127.0.0.1 UDP candidate"),
        (lambda s: s.replace("m=audio 50000", "m=audio 0"), "port 0"),
        (lambda s: re.sub(r"a=ice-(ufrag|pwd):.*\n", "", s), "ICE ufrag/pwd"),
        (lambda s: re.sub(r"a=fingerprint:.*\n", "", s), "DTLS fingerprint"),
        (lambda s: s.replace("111 126", "111 x"), "malformed"),
        (lambda s: s.replace("a=rtpmap:111 opus/48000/2", "a=rtpmap:111 foo/1000"), "no usable audio codec"),
    ],
)
def test_bad_offers_raise_sdp_negotiation_errors(mutate: Callable[[str], str], needle: str) -> None:
    async def scenario() -> None:
        endpoint = MediaEndpoint(MediaBehaviour.ECHO)
        try:
            with pytest.raises(SdpNegotiationError) as info:
                await endpoint.answer(mutate(SAMPLE_OFFER))
            assert needle in str(info.value)
            assert info.value.status_hint == 488
        finally:
            await endpoint.close()

    run_in_thread(scenario)


def test_offer_filtering_keeps_only_loopback_udp_candidates() -> None:
    async def scenario() -> None:
        endpoint = MediaEndpoint(MediaBehaviour.SILENCE)
        try:
            answer = await endpoint.answer(SAMPLE_OFFER)
            assert sdp_direction(answer) == "sendrecv"
            pc = endpoint._pc
            assert pc is not None
            remote = pc.remoteDescription.sdp
            assert "127.0.0.1 50000" in remote
            assert "192.0.2.2" not in remote
            assert " tcp " not in remote
            candidates = re.findall(r"^a=candidate:.*$", answer, re.MULTILINE)
            assert candidates and all(" 127.0.0.1 " in c for c in candidates)
            assert "a=end-of-candidates" in answer
            assert "telephone-event/8000" in answer
        finally:
            await endpoint.close()

    run_in_thread(scenario)


def test_session_level_direction_is_used_when_the_media_section_has_none() -> None:
    async def scenario() -> None:
        endpoint = MediaEndpoint(MediaBehaviour.TONE)
        events: list[tuple[str, dict[str, Any]]] = []
        endpoint._on_event = lambda n, d: events.append((n, d))
        try:
            offer = SAMPLE_OFFER.replace("a=sendrecv\n", "").replace("t=0 0\n", "t=0 0\na=sendonly\n")
            answer = await endpoint.answer(offer)
            assert sdp_direction(answer) == "recvonly"
            assert endpoint.stats.on_hold is True
            assert (
                "hold",
                {"direction": "sendonly", "on_hold": True, "answer_direction": "recvonly"},
            ) in events
        finally:
            await endpoint.close()

    run_in_thread(scenario)


def test_state_errors() -> None:
    async def scenario() -> None:
        endpoint = MediaEndpoint(MediaBehaviour.ECHO)
        with pytest.raises(MediaStateError):
            await endpoint.reoffer_received(SAMPLE_OFFER)
        with pytest.raises(MediaStateError):
            await endpoint.accept_answer(SAMPLE_OFFER)
        await endpoint.answer(SAMPLE_OFFER)
        with pytest.raises(MediaStateError):
            await endpoint.answer(SAMPLE_OFFER)
        with pytest.raises(MediaStateError):
            await endpoint.accept_answer(SAMPLE_OFFER)  # no offer of ours outstanding
        # a restart of an ICE transport that never connected cannot be followed
        restart = SAMPLE_OFFER.replace("a=ice-ufrag:abcd", "a=ice-ufrag:wxyz")
        with pytest.raises(IceRestartError) as info:
            await endpoint.reoffer_received(restart)
        assert info.value.status_hint == 488
        # a plain re-offer works while ICE is still checking
        reanswer = await endpoint.reoffer_received(SAMPLE_OFFER.replace("a=sendrecv", "a=inactive"))
        assert sdp_direction(reanswer) == "inactive"
        await endpoint.close()
        await endpoint.close()
        for call in (endpoint.answer, endpoint.reoffer_received, endpoint.accept_answer):
            with pytest.raises(MediaStateError):
                await call(SAMPLE_OFFER)
        with pytest.raises(MediaStateError):
            await endpoint.create_offer()

        offerer = MediaEndpoint(MediaBehaviour.TONE)
        await offerer.create_offer()
        with pytest.raises(MediaStateError) as glare:
            await offerer.reoffer_received(SAMPLE_OFFER)
        assert glare.value.status_hint == 491
        with pytest.raises(MediaStateError) as twice:
            await offerer.create_offer()
        assert twice.value.status_hint == 491
        await offerer.close()

    run_in_thread(scenario)


@pytest.mark.parametrize(
    ("kwargs", "needle"),
    [
        ({"behaviour": "echo"}, "MediaBehaviour"),
        ({"tone_hz": 0.0}, "tone_hz"),
        ({"tone_hz": 9000.0}, "tone_hz"),
        ({"tone_amplitude": 0.0}, "tone_amplitude"),
        ({"tone_amplitude": 1.5}, "tone_amplitude"),
        ({"level_interval": 0.0}, "level_interval"),
        ({"level_history": 0}, "level_history"),
    ],
)
def test_bad_configuration_raises_media_config_error(kwargs: dict[str, Any], needle: str) -> None:
    behaviour = kwargs.pop("behaviour", MediaBehaviour.ECHO)
    with pytest.raises(MediaConfigError, match=needle):
        MediaEndpoint(behaviour, **kwargs)


def test_set_sending_rejects_non_behaviours() -> None:
    endpoint = MediaEndpoint(MediaBehaviour.TONE)
    with pytest.raises(MediaConfigError):
        endpoint.set_sending("silence")  # type: ignore[arg-type]


def _te(timestamp: int, event: int, *, end: bool, ssrc: int = 1) -> patches.TelephoneEventPacket:
    return patches.TelephoneEventPacket(
        ssrc=ssrc, sequence_number=0, timestamp=timestamp, event=event, end=end,
        volume=10, duration=960, clock_rate=8000,
    )  # fmt: skip


def test_telephone_events_record_one_digit_per_event_and_ivr_goes_silent() -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    endpoint = MediaEndpoint(MediaBehaviour.IVR, on_event=lambda n, d: events.append((n, d)))
    assert endpoint._track.source.value == "tone"
    for timestamp, event in ((1000, 1), (3000, 2), (5000, 11), (7000, 20)):
        endpoint.telephone_event(_te(timestamp, event, end=False))
        for _ in range(3):  # end packets are repeated three times
            endpoint.telephone_event(_te(timestamp, event, end=True))
    stats = endpoint.stats
    assert stats.digit_string == "12#"  # event 20 is not a DTMF digit
    assert [d.duration_ms for d in stats.digits] == [120, 120, 120]
    assert [d["digit"] for n, d in events if n == "dtmf"] == ["1", "2", "#"]
    assert endpoint._track.source.value == "silence"
    endpoint.set_sending(MediaBehaviour.IVR)  # the prompt stays off once digits arrived
    assert endpoint._track.source.value == "silence"
    endpoint.rtp_received(160)
    assert (endpoint.stats.packets_received, endpoint.stats.bytes_received) == (1, 160)


def test_on_event_exceptions_do_not_break_the_endpoint() -> None:
    def boom(name: str, data: dict[str, Any]) -> None:
        raise RuntimeError("callback failure")

    endpoint = MediaEndpoint(MediaBehaviour.ECHO, on_event=boom)
    endpoint.telephone_event(_te(1, 5, end=True))
    assert endpoint.stats.digit_string == "5"


def test_tone_table_and_rms_helpers() -> None:
    from twochat_voice_web.sandbox import media_audio as audio

    for fmt in (audio.PcmFormat(48000, 1), audio.PcmFormat(48000, 2), audio.PcmFormat(8000, 1)):
        pcm = audio.tone_pcm(fmt, 440.0, 0.3)
        assert len(pcm) == fmt.rate * 2 * fmt.channels
        frame = audio.make_frame(fmt, pcm[: fmt.bytes_per_frame])
        assert frame.samples == fmt.samples_per_frame
        rms = audio.frame_rms(frame)
        # equal power: summed over the channels (as Chromium does) the energy is a 0.3 sine's
        expected = TONE_RMS * 32767 / math.sqrt(fmt.channels)
        assert abs(rms - expected) < 0.05 * expected, (fmt, rms)
        # one second holds exactly 440 cycles: the loop has no seam (sample -1 mirrors sample 1)
        samples = memoryview(pcm).cast("h")
        assert samples[0] == 0
        assert samples[-fmt.channels] == -samples[fmt.channels]
    silence = audio.make_frame(audio.PcmFormat(48000, 2), audio.silence_pcm(audio.PcmFormat(48000, 2)))
    assert audio.frame_rms(silence) == 0


def test_apply_patches_is_idempotent_and_pins_versions(monkeypatch: pytest.MonkeyPatch) -> None:
    from aiortc.codecs import CODECS

    patches.apply_patches()
    patches.apply_patches()
    te = [(c.clockRate, c.payloadType) for c in CODECS["audio"] if c.mimeType == "audio/telephone-event"]
    assert sorted(te) == [(8000, 126), (48000, 110)]
    import aioice.ice

    assert aioice.ice.get_host_addresses(True, True) == ["127.0.0.1"]
    assert patches.patches_applied()

    monkeypatch.setattr(patches, "_applied", False)
    monkeypatch.setattr(patches, "_installed_version", lambda name: "9.9.9")
    with pytest.raises(patches.AiortcVersionError, match=r"aiortc==1\.16\.0.*aiortc 9\.9\.9"):
        patches.apply_patches()


def test_telephone_events_before_any_audio_keep_rtcp_statistics_working() -> None:
    """A stream whose first packets are RFC 4733 events (a peer that sends DTMF before its first audio
    packet, or a new SSRC after hold) is counted without breaking aiortc's jitter arithmetic."""
    from aiortc.rtp import RtpPacket

    class Receiver:
        pass

    receiver: Any = Receiver()
    streams: dict[int, Any] = {}
    receiver._RTCRtpReceiver__remote_streams = streams
    for sequence, timestamp in ((1, 8000), (2, 8000), (3, 8160), (4, 8320)):
        packet = RtpPacket(payload_type=101, sequence_number=sequence, timestamp=timestamp, ssrc=77)
        patches._count_in_sequence_statistics(receiver, packet, 8000)
    stream = streams[77]
    assert stream.packets_received == 4 and stream.max_seq == 4
    assert stream._last_arrival is not None and stream._last_timestamp == 8000  # the first event
