"""Scenarios that run INSIDE Pyodide (tests/pages/platform_harness.html) against the real browser APIs.

Each public coroutine exercises one part of ``twochat_voice_web.browser.BrowserPlatform`` and returns a
plain dict of observations; tests/browser/test_platform_browser.py calls them through
``window.platformRun(name, kwargs)`` and asserts on the dict. Every scenario releases what it opened and
reports ``proxies_before``/``proxies_after`` so the tests can check that nothing leaks.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import js

from twochat_voice_web.browser import BrowserPlatform
from twochat_voice_web.browser._ffi import is_nullish
from twochat_voice_web.browser._media import BrowserLocalAudio
from twochat_voice_web.browser._peer import BrowserPeerConnection
from twochat_voice_web.errors import VoiceSDKError
from twochat_voice_web.ice import candidates_in
from twochat_voice_web.platform import DeviceInfo, IceServer, PeerConnectionOptions

PLATFORM = BrowserPlatform()


async def run_json(name: str, kwargs_json: str) -> str:
    """Entry point for the page: run scenario ``name`` with JSON kwargs, return its result as JSON."""
    scenario = SCENARIOS[name]
    result = await scenario(**json.loads(kwargs_json))
    return json.dumps(result)


# ------------------------------------------------------------------------------------------------- helpers


async def expect_error(action: Awaitable[Any] | Callable[[], Any]) -> dict[str, Any]:
    """Run ``action`` and describe the VoiceSDKError it raised (or say it did not raise)."""
    try:
        outcome = action() if callable(action) else action
        if asyncio.iscoroutine(outcome) or isinstance(outcome, asyncio.Future):
            await outcome
    except VoiceSDKError as error:
        return {
            "raised": True, "type": type(error).__name__, "code": error.code.value, "message": error.message
        }
    return {"raised": False}


def peer(**options: Any) -> BrowserPeerConnection:
    pc = PLATFORM.create_peer_connection(PeerConnectionOptions(**options))
    assert isinstance(pc, BrowserPeerConnection)
    return pc


async def microphone(device_id: str | None = None) -> BrowserLocalAudio:
    audio = await PLATFORM.media.get_microphone(device_id)
    assert isinstance(audio, BrowserLocalAudio)
    return audio


async def negotiate(
    offerer: BrowserPeerConnection, answerer: BrowserPeerConnection, **offer: Any
) -> dict[str, str]:
    offer_sdp = await offerer.create_offer(**offer)
    answer_sdp = await answerer.create_answer(offer_sdp)
    await offerer.accept_answer(answer_sdp)
    return {"offer": offer_sdp, "answer": answer_sdp}


async def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(step)
    return predicate()


async def wait_connected(*pcs: BrowserPeerConnection) -> bool:
    """Until ICE is connected and DTLS is up (``connectionState`` "connected") on every peer.

    ICE alone is not enough: Chromium sends RTP, and reports ``canInsertDTMF``, only once the transport is
    writable, after the DTLS handshake (on a loaded machine that comes visibly later than ICE).
    """
    return await wait_until(
        lambda: all(
            pc.ice_state in ("connected", "completed") and pc.connection_state == "connected" for pc in pcs
        )
    )


async def audio_bytes(pc: BrowserPeerConnection, kind: str = "inbound-rtp") -> int:
    total = 0
    for entry in await pc.get_stats():
        if entry.get("type") == kind and entry.get("kind", "audio") == "audio":
            total += int(entry.get("bytesReceived" if kind == "inbound-rtp" else "bytesSent", 0))
    return total


async def growth(pcs: dict[str, BrowserPeerConnection], seconds: float = 1.0) -> dict[str, int]:
    """Inbound audio bytes each peer received during ``seconds``."""
    before = {name: await audio_bytes(pc) for name, pc in pcs.items()}
    await asyncio.sleep(seconds)
    return {name: await audio_bytes(pc) - before[name] for name, pc in pcs.items()}


async def settle_growth(pcs: dict[str, BrowserPeerConnection], seconds: float = 1.0) -> dict[str, int]:
    """Like :func:`growth`, after letting packets in flight drain (after a direction change)."""
    await asyncio.sleep(0.4)
    return await growth(pcs, seconds)


def specific(listed: list[DeviceInfo], kind: str) -> list[DeviceInfo]:
    """The devices of ``kind`` except the "default"/"communications" aliases."""
    return [d for d in listed if d.kind == kind and d.device_id not in ("default", "communications")]


def directions(sdp: str) -> list[str]:
    return re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\r?$", sdp, flags=re.MULTILINE)


def ufrags(sdp: str) -> list[str]:
    return re.findall(r"^a=ice-ufrag:(\S+)", sdp, flags=re.MULTILINE)


def candidate_types(sdp: str) -> list[str]:
    return re.findall(r"^a=candidate:.* typ (\w+)", sdp, flags=re.MULTILINE)


class Pair:
    """Two connected peers in this page: alice (offerer) and bob (answerer), with microphones."""

    def __init__(self) -> None:
        self.states: dict[str, list[str]] = {"alice_ice": [], "alice_connection": [], "bob_ice": []}
        self.alice = peer(gathering_timeout=3.0, on_ice_state=self.states["alice_ice"].append,
                          on_connection_state=self.states["alice_connection"].append)
        self.bob = peer(gathering_timeout=3.0, on_ice_state=self.states["bob_ice"].append)
        self.mics: list[BrowserLocalAudio] = []
        self.outputs: list[Any] = []

    async def start(self) -> dict[str, str]:
        for pc in (self.alice, self.bob):
            mic = await microphone()
            self.mics.append(mic)
            await pc.set_microphone(mic)
        sdps = await negotiate(self.alice, self.bob)
        assert await wait_connected(self.alice, self.bob), (self.alice.ice_state, self.bob.ice_state)
        return sdps

    @property
    def both(self) -> dict[str, BrowserPeerConnection]:
        return {"alice": self.alice, "bob": self.bob}

    def close(self) -> None:
        for output in self.outputs:
            output.close()
        self.alice.close()
        self.bob.close()
        for mic in self.mics:
            mic.stop()


# ------------------------------------------------------------------------------------------------ scenarios


async def signalling(*, base: str, refused: str, timeout_url: str) -> dict[str, Any]:
    """WebSocket: round trips (text, UTF-8, binary), server close, our close, every failure."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    received: list[bytes] = []
    closes: list[tuple[int, str]] = []
    connection = await PLATFORM.open_signalling(
        base + "/echo", on_message=received.append, on_close=lambda c, r: closes.append((c, r)), timeout=5
    )
    out["protocol"] = connection.protocol
    out["proxies_open"] = PLATFORM.live_proxies()
    connection.send("OPTIONS sip:x SIP/2.0 héllo €".encode())
    connection.send(b"\xff\x00binary\xfe")
    await wait_until(lambda: len(received) >= 2, 5)
    out["echo"] = [item.decode("latin-1") for item in received[:2]]
    out["echo_types"] = [type(item).__name__ for item in received[:2]]
    connection.send(b"frame-types")  # the server answers with the opcodes it saw
    await wait_until(lambda: len(received) >= 3, 5)
    out["server_saw"] = received[2].decode() if len(received) >= 3 else None
    # the server sends something 300 ms after "later"; we close first: nothing may arrive after close()
    connection.send(b"later")
    connection.close()
    connection.close()  # idempotent
    count_at_close = len(received)
    out["send_after_close"] = await expect_error(lambda: connection.send(b"x"))
    await asyncio.sleep(0.6)
    out["messages_after_close"] = len(received) - count_at_close
    out["on_close_after_our_close"] = list(closes)
    out["proxies_after_close"] = PLATFORM.live_proxies()

    # the server ends the connection: on_close(code, reason) once, then everything is released
    closes.clear()
    second = await PLATFORM.open_signalling(
        base + "/echo", on_message=received.append, on_close=lambda c, r: closes.append((c, r)), timeout=5
    )
    second.send(b"close-me")
    await wait_until(lambda: bool(closes), 5)
    await asyncio.sleep(0.1)
    out["server_close"] = [list(item) for item in closes]
    out["closed_flag"] = second.closed
    out["send_after_server_close"] = await expect_error(lambda: second.send(b"x"))
    second.close()

    # close() from inside on_message (a Device tearing down while handling a frame)
    third_messages: list[bytes] = []
    holder: list[Any] = []

    def close_on_first(data: bytes) -> None:
        third_messages.append(data)
        holder[0].close()

    holder.append(await PLATFORM.open_signalling(
        base + "/echo", on_message=close_on_first, on_close=lambda c, r: closes.append((c, r)), timeout=5
    ))
    closes.clear()
    holder[0].send(b"one")
    holder[0].send(b"two")
    await asyncio.sleep(0.3)
    out["close_inside_on_message"] = {"messages": len(third_messages), "on_close": len(closes),
                                      "proxies": PLATFORM.live_proxies()}

    def noop_message(_data: bytes) -> None:
        return None

    def noop_close(_code: int, _reason: str) -> None:
        return None

    async def attempt(url: str, timeout: float = 5.0) -> dict[str, Any]:
        return await expect_error(
            PLATFORM.open_signalling(url, on_message=noop_message, on_close=noop_close, timeout=timeout)
        )

    out["no_subprotocol"] = await attempt(base + "/nosip")
    out["forbidden"] = await attempt(base + "/forbidden")
    out["refused"] = await attempt(refused)
    out["bad_url"] = await attempt("ws://[not-an-address")
    t0 = time.monotonic()
    out["timeout"] = await attempt(timeout_url, timeout=0.5)
    out["timeout_elapsed"] = time.monotonic() - t0
    await asyncio.sleep(0.2)
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def fetch_json(*, base: str, refused: str) -> dict[str, Any]:
    """fetch: JSON with request headers, non-JSON body, HTTP errors, timeout, network failure."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    response = await PLATFORM.http_get_json(
        base + "/json", headers={"Authorization": "Bearer t0k3n", "X-Test": "1"}, timeout=5
    )
    out["json"] = {"status": response.status, "body": response.body, "headers": dict(response.headers)}
    text = await PLATFORM.http_get_json(base + "/text", headers={}, timeout=5)
    out["text"] = {"status": text.status, "body": text.body}
    missing = await PLATFORM.http_get_json(base + "/missing", headers={}, timeout=5)
    out["missing"] = {"status": missing.status, "body": missing.body}
    t0 = time.monotonic()
    out["slow"] = await expect_error(PLATFORM.http_get_json(base + "/slow", headers={}, timeout=0.5))
    out["slow_elapsed"] = time.monotonic() - t0
    out["slow_body"] = await expect_error(
        PLATFORM.http_get_json(base + "/slow-body", headers={}, timeout=0.5)
    )
    out["refused"] = await expect_error(PLATFORM.http_get_json(refused, headers={}, timeout=5))
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


_STUB_GET_USER_MEDIA: Any = js.Function.new(
    "name",
    """
    navigator.mediaDevices.getUserMedia = () => Promise.reject(new DOMException("stubbed " + name, name));
    """,
)
_RESTORE_GET_USER_MEDIA: Any = js.Function.new("delete navigator.mediaDevices.getUserMedia;")


async def devices() -> dict[str, Any]:
    """enumerateDevices, getUserMedia (default, by id, bad id), mute, stop/ended, devicechange, errors."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    listed = await PLATFORM.media.list_devices()
    out["devices"] = [{"kind": d.kind, "label": d.label, "id": d.device_id} for d in listed]
    out["can_select_output"] = PLATFORM.media.can_select_output
    default = await microphone()
    out["default"] = {"label": default.label, "device_id": default.device_id, "ended": default.ended}
    out["proxies_with_mic"] = PLATFORM.live_proxies()
    default.set_enabled(False)
    out["muted_track_enabled"] = bool(default.track.enabled)
    default.set_enabled(True)
    inputs = specific(listed, "audioinput")
    chosen = await microphone(inputs[0].device_id)
    out["chosen"] = {"asked": inputs[0].device_id, "label": chosen.label, "device_id": chosen.device_id,
                     "listed_label": inputs[0].label}
    ended_calls: list[str] = []
    chosen.on_ended(lambda: ended_calls.append("ended"))
    chosen.track.dispatchEvent(js.Event.new("ended"))  # what an unplugged device fires
    out["ended_event_callbacks"] = len(ended_calls)
    ended_calls.clear()
    chosen.stop()
    chosen.stop()
    out["after_stop"] = {"ended": chosen.ended, "readyState": str(chosen.track.readyState),
                         "ended_callbacks": len(ended_calls)}
    default.stop()
    out["bad_id"] = await expect_error(PLATFORM.media.get_microphone("no-such-device"))
    mapped = {}
    for name in ("NotAllowedError", "SecurityError", "NotFoundError", "NotReadableError",
                 "OverconstrainedError", "AbortError"):
        _STUB_GET_USER_MEDIA(name)
        try:
            mapped[name] = await expect_error(PLATFORM.media.get_microphone())
        finally:
            _RESTORE_GET_USER_MEDIA()
    out["mapped"] = mapped
    changes: list[int] = []
    subscription = PLATFORM.media.on_device_change(lambda: changes.append(1))
    js.navigator.mediaDevices.dispatchEvent(js.Event.new("devicechange"))
    subscription.dispose()
    subscription.dispose()
    js.navigator.mediaDevices.dispatchEvent(js.Event.new("devicechange"))
    out["device_changes"] = len(changes)
    online: list[int] = []
    online_subscription = PLATFORM.on_online(lambda: online.append(1))
    js.window.dispatchEvent(js.Event.new("online"))
    online_subscription.dispose()
    js.window.dispatchEvent(js.Event.new("online"))
    out["online_events"] = len(online)
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def call_and_hold() -> dict[str, Any]:
    """Offer/answer with audio both ways, outputs attached before/after the track, hold both ways."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    pair = Pair()
    alice_output = PLATFORM.create_audio_output()
    alice_output.attach(pair.alice)  # before any track exists
    pair.outputs.append(alice_output)
    try:
        sdps = await pair.start()
        out["offer_directions"] = directions(sdps["offer"])
        out["answer_directions"] = directions(sdps["answer"])
        out["signaling"] = [pair.alice.signaling_state, pair.bob.signaling_state]
        bob_output = PLATFORM.create_audio_output()
        bob_output.attach(pair.bob)  # after the track arrived
        pair.outputs.append(bob_output)
        out["flow"] = await growth(pair.both)
        await asyncio.sleep(0.3)
        out["outputs"] = [
            {
                "tracks": int(output.element.srcObject.getAudioTracks().length),
                "paused": bool(output.element.paused),
                "in_document": bool(js.document.body.contains(output.element)),
                "hidden": bool(output.element.hidden),
                "autoplay_blocked": output.autoplay_blocked,
            }
            for output in (alice_output, bob_output)
        ]
        # alice holds (sendonly): bob answers recvonly, alice stops receiving, bob still hears alice
        pair.alice.set_direction("sendonly")
        held = await negotiate(pair.alice, pair.bob)
        out["hold"] = {
            "offer": directions(held["offer"]),
            "answer": directions(held["answer"]),
            "alice_current": pair.alice.current_direction,
            "flow": await settle_growth(pair.both),
            "same_candidates": candidate_types(held["offer"]) == candidate_types(sdps["offer"]),
            "has_zero_address": "c=IN IP4 0.0.0.0" in held["offer"] and "a=candidate" not in held["offer"],
        }
        pair.alice.set_direction("inactive")
        inactive = await negotiate(pair.alice, pair.bob)
        out["inactive"] = {
            "offer": directions(inactive["offer"]),
            "answer": directions(inactive["answer"]),
            "flow": await settle_growth(pair.both),
        }
        pair.alice.set_direction("sendrecv")
        resumed = await negotiate(pair.alice, pair.bob)
        out["resume"] = {
            "offer": directions(resumed["offer"]),
            "answer": directions(resumed["answer"]),
            "flow": await settle_growth(pair.both),
        }
        # bob (the answerer of the call) holds and resumes with his own offers
        pair.bob.set_direction("sendonly")
        bob_held = await negotiate(pair.bob, pair.alice)
        out["bob_hold"] = {
            "offer": directions(bob_held["offer"]),
            "answer": directions(bob_held["answer"]),
            "flow": await settle_growth(pair.both),
        }
        pair.bob.set_direction("sendrecv")
        bob_resumed = await negotiate(pair.bob, pair.alice)
        out["bob_resume"] = {
            "offer": directions(bob_resumed["offer"]),
            "answer": directions(bob_resumed["answer"]),
            "bob_sender_track": not is_nullish(pair.bob.sender.track),
            "flow": await settle_growth(pair.both),
            "outputs_playing": [not bool(output.element.paused) for output in (alice_output, bob_output)],
        }
        out["bad_direction"] = await expect_error(lambda: pair.alice.set_direction("sideways"))
        out["proxies_during"] = PLATFORM.live_proxies()
    finally:
        elements = [output.element for output in pair.outputs]
        pair.close()
        pair.close()  # idempotent
    out["elements_removed"] = [not bool(js.document.body.contains(element)) for element in elements]
    out["states"] = {name: list(states) for name, states in pair.states.items()}
    out["after_close"] = {
        "ice_state": pair.alice.ice_state,
        "create_offer": await expect_error(pair.alice.create_offer()),
        "get_stats": await expect_error(pair.alice.get_stats()),
        "set_direction": await expect_error(lambda: pair.alice.set_direction("sendrecv")),
        "can_send_dtmf": pair.alice.can_send_dtmf(),
    }
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def early_media_and_rollback() -> dict[str, Any]:
    """pranswer (183) then the same answer as final; rollback of our offer; glare resolved by rollback."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    alice, bob = peer(gathering_timeout=3.0), peer(gathering_timeout=3.0)
    mics = [await microphone(), await microphone()]
    try:
        await alice.set_microphone(mics[0])
        await bob.set_microphone(mics[1])
        offer = await alice.create_offer()
        out["state_after_offer"] = alice.signaling_state
        answer = await bob.create_answer(offer)
        await alice.accept_answer(answer, provisional=True)
        out["state_after_pranswer"] = alice.signaling_state
        connected = await wait_connected(alice, bob)
        out["early_flow"] = (await growth({"alice": alice}))["alice"] if connected else -1
        out["rollback_after_pranswer"] = await expect_error(alice.rollback())
        await alice.accept_answer(answer)  # the 200 OK repeats the 183's SDP
        out["state_after_answer"] = alice.signaling_state
        await alice.accept_answer(answer)  # a retransmitted 200 OK
        out["state_after_repeat"] = alice.signaling_state
        changed = answer.replace("a=sendrecv", "a=recvonly")
        out["answer_in_stable"] = await expect_error(alice.accept_answer(changed))
        out["garbage_offer"] = await expect_error(bob.create_answer("v=0\r\ngarbage\r\n"))
        out["bob_state_after_garbage"] = bob.signaling_state

        await alice.rollback()  # stable: nothing to do
        re_offer = await alice.create_offer()
        out["state_reoffer"] = alice.signaling_state
        await alice.rollback()
        out["state_after_rollback"] = alice.signaling_state
        out["flow_after_rollback"] = (await growth({"alice": alice, "bob": bob}))
        # glare: alice offers, bob's offer arrives; answering it drops alice's offer (implicit rollback)
        await alice.create_offer()
        bob_offer = await bob.create_offer()
        glare_answer = await alice.create_answer(bob_offer)
        await bob.accept_answer(glare_answer)
        out["glare_states"] = [alice.signaling_state, bob.signaling_state]
        out["reoffer_ufrags_equal"] = ufrags(re_offer) == ufrags(offer)
        # our offer rolled back before it was sent, then the peer's first offer arrives on the same pc
        erin, frank = peer(gathering_timeout=3.0), peer(gathering_timeout=3.0)
        erin_mic = await microphone()
        mics.append(erin_mic)
        try:
            await erin.set_microphone(erin_mic)
            await erin.create_offer()
            await erin.rollback()
            frank_offer = await frank.create_offer()
            erin_answer = await erin.create_answer(frank_offer)
            await frank.accept_answer(erin_answer)
            out["answer_after_rollback"] = {
                "mlines": len(re.findall(r"^m=", erin_answer, flags=re.MULTILINE)),
                "directions": directions(erin_answer),
                "sends_microphone": str(erin.sender.track.id) == str(erin_mic.track.id),
                "transceivers": int(erin.js_peer_connection.getTransceivers().length),
                "next_offer_mlines": len(re.findall(r"^m=", await erin.create_offer(), flags=re.MULTILINE)),
            }
        finally:
            erin.close()
            frank.close()
        # an offer with audio and video: the video m-line is refused (port 0), audio answered
        foreign = js.RTCPeerConnection.new()
        try:
            foreign.addTransceiver("audio")
            foreign.addTransceiver("video")
            await foreign.setLocalDescription(await foreign.createOffer())
            carol = peer(gathering_timeout=0.5)
            try:
                mixed_answer = await carol.create_answer(str(foreign.localDescription.sdp))
                sections = mixed_answer.split("\r\nm=")[1:]
                out["mixed_answer"] = [
                    [section.split(" ")[0], section.split(" ")[1], *directions("\r\n" + section + "\r\n")]
                    for section in sections
                ]
            finally:
                carol.close()
            video_only = js.RTCPeerConnection.new()
            video_only.addTransceiver("video")
            await video_only.setLocalDescription(await video_only.createOffer())
            dave = peer(gathering_timeout=0.5)
            try:
                video_sdp = str(video_only.localDescription.sdp)
                out["video_only"] = await expect_error(dave.create_answer(video_sdp))
                out["video_only_state"] = dave.signaling_state
            finally:
                dave.close()
                video_only.close()
        finally:
            foreign.close()
        # ICE restart: new credentials on both sides, audio continues
        restart = await negotiate(alice, bob, ice_restart=True)
        out["ice_restart"] = {
            "offer_ufrag_changed": ufrags(restart["offer"]) != ufrags(offer),
            "answer_ufrag_changed": ufrags(restart["answer"]) != ufrags(answer),
            "connected": await wait_connected(alice, bob),
        }
        out["ice_restart"]["flow"] = await settle_growth({"alice": alice, "bob": bob})
    finally:
        alice.close()
        bob.close()
        for mic in mics:
            mic.stop()
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


_WATCH_TONES: Any = js.Function.new(
    "dtmf",
    """
    const seen = [];
    const onTone = (event) => seen.push(event.tone);
    dtmf.addEventListener("tonechange", onTone);
    return { seen, stop: () => dtmf.removeEventListener("tonechange", onTone) };
    """,
)


async def dtmf() -> dict[str, Any]:
    """RFC 4733 DTMF through RTCDTMFSender: availability, tones actually played, bad characters."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    pair = Pair()
    out["before_negotiation"] = pair.alice.can_send_dtmf()
    try:
        sdps = await pair.start()
        out["offer_has_telephone_event"] = "telephone-event/8000" in sdps["offer"]
        out["answer_has_telephone_event"] = "telephone-event/8000" in sdps["answer"]
        out["can_send"] = pair.alice.can_send_dtmf()
        watch = _WATCH_TONES(pair.alice.sender.dtmf)
        out["sent"] = pair.alice.send_dtmf("12", 100, 50)
        out["queued"] = pair.alice.send_dtmf("#a", 100, 50)  # appended to what is still waiting
        out["buffer"] = pair.alice.dtmf_tone_buffer
        await wait_until(lambda: int(watch.seen.length) >= 5, 5)
        watch.stop()
        out["tones"] = [str(tone) for tone in watch.seen]
        out["bad_tone"] = await expect_error(lambda: pair.alice.send_dtmf("12x", 100, 50))
        out["empty"] = pair.alice.send_dtmf("", 100, 50)
        pair.alice.set_direction("recvonly")
        await negotiate(pair.alice, pair.bob)
        out["can_send_recvonly"] = pair.alice.can_send_dtmf()
        out["send_recvonly"] = pair.alice.send_dtmf("1", 100, 50)
    finally:
        pair.close()
    out["after_close"] = pair.alice.send_dtmf("1", 100, 50)
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def replace_microphone() -> dict[str, Any]:
    """Switch microphones with replaceTrack (no renegotiation), send nothing, refuse an ended track."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    pair = Pair()
    try:
        await pair.start()
        listed = await PLATFORM.media.list_devices()
        inputs = specific(listed, "audioinput")
        first_track = str(pair.alice.sender.track.id)
        other = await microphone(inputs[-1].device_id)
        pair.mics.append(other)
        local_sdp = pair.alice.local_sdp
        await pair.alice.set_microphone(other)
        out["switched"] = {
            "sender_track_changed": str(pair.alice.sender.track.id) != first_track,
            "sender_track_is_new": str(pair.alice.sender.track.id) == str(other.track.id),
            "label": other.label,
            "signaling": pair.alice.signaling_state,
            "local_sdp_unchanged": pair.alice.local_sdp == local_sdp,
            "flow": await settle_growth(pair.both),
        }
        await pair.alice.set_microphone(None)
        out["silent"] = {"sender_track": not is_nullish(pair.alice.sender.track),
                         "flow": await settle_growth(pair.both)}
        stopped = await microphone()
        stopped.stop()
        out["ended_track"] = await expect_error(pair.alice.set_microphone(stopped))
        await pair.alice.set_microphone(other)
        out["back"] = {"flow": await settle_growth(pair.both)}
    finally:
        pair.close()
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def fast_gathering(*, live_stun_url: str, dead_stun_url: str, timeout: float) -> dict[str, Any]:
    """The ``fast`` gathering policy against ``complete``: what each offer carries and when it returned."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    mic = await microphone()  # with microphone permission Chromium exposes real host addresses
    try:
        for key, policy, urls in (
            ("complete", "complete", ()),
            ("fast", "fast", ()),
            ("live_stun", "fast", (live_stun_url,)),
            ("dead_stun", "fast", (dead_stun_url,)),
        ):
            servers = (IceServer(urls=urls),) if urls else ()
            pc = peer(ice_servers=servers, gathering_timeout=timeout, gathering_policy=policy)
            try:
                await pc.set_microphone(mic)
                t0 = time.monotonic()
                sdp = await pc.create_offer()
                elapsed = time.monotonic() - t0
                candidates = [
                    [found.transport, found.type] for found in candidates_in(sdp)
                ]
                out[key] = {
                    "elapsed": round(elapsed, 3),
                    "timed_out": elapsed >= timeout * 0.95,
                    "state_at_return": pc.ice_gathering_state,
                    "candidates": candidates,
                    "udp_host": sorted(
                        line.split()[4] for line in sdp.splitlines()
                        if line.startswith("a=candidate:") and " udp " in line.lower() and "typ host" in line
                    ),
                    "sdp_excerpt": "\n".join(
                        line for line in sdp.splitlines() if line.startswith("a=candidate:")
                    ),
                }
            finally:
                pc.close()
        out["bad_policy"] = await expect_error(lambda: peer(gathering_policy="eventually").close())
    finally:
        mic.stop()
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def gathering_timeout(*, stun_url: str, timeout: float) -> dict[str, Any]:
    """Non-trickle ICE bounded by gathering_timeout when the STUN server never answers."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    mic = await microphone()  # with microphone permission Chromium exposes real host addresses
    dead = peer(ice_servers=(IceServer(urls=(stun_url,)),), gathering_timeout=timeout)
    plain = peer(gathering_timeout=timeout)
    try:
        await dead.set_microphone(mic)
        t0 = time.monotonic()
        sdp = await dead.create_offer()
        out["elapsed"] = time.monotonic() - t0
        out["state_at_return"] = dead.ice_gathering_state
        out["candidate_types"] = candidate_types(sdp)
        t0 = time.monotonic()
        plain_sdp = await plain.create_offer()
        out["plain_elapsed"] = time.monotonic() - t0
        out["plain_state_at_return"] = plain.ice_gathering_state
        out["plain_candidate_types"] = candidate_types(plain_sdp)
        # close() while create_offer waits for gathering: the wait ends at once with INVALID_STATE
        slow = peer(ice_servers=(IceServer(urls=(stun_url,)),), gathering_timeout=30.0)
        pending = asyncio.ensure_future(slow.create_offer())
        await asyncio.sleep(0.3)
        t0 = time.monotonic()
        slow.close()
        out["closed_while_gathering"] = await expect_error(pending)
        out["closed_while_gathering_elapsed"] = time.monotonic() - t0
        out["bad_ice_server"] = await expect_error(
            lambda: peer(ice_servers=(IceServer(urls=("http://not-a-stun-url",)),)).close()
        )
    finally:
        dead.close()
        plain.close()
        mic.stop()
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


_HIDE_SET_SINK_ID: Any = js.Function.new(
    """
    window.__savedSetSinkId = HTMLMediaElement.prototype.setSinkId;
    delete HTMLMediaElement.prototype.setSinkId;
    return "setSinkId" in HTMLMediaElement.prototype;
    """
)
_RESTORE_SET_SINK_ID: Any = js.Function.new(
    """
    HTMLMediaElement.prototype.setSinkId = window.__savedSetSinkId;
    delete window.__savedSetSinkId;
    return "setSinkId" in HTMLMediaElement.prototype;
    """
)


async def output_devices() -> dict[str, Any]:
    """setSinkId: default, a listed output, an unknown id, and a browser without setSinkId (stubbed)."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    listed = await PLATFORM.media.list_devices()
    outputs = specific(listed, "audiooutput")
    out["outputs"] = [d.label for d in outputs]
    output = PLATFORM.create_audio_output()
    element = output.element
    out["element"] = {"tag": str(element.tagName), "autoplay": bool(element.autoplay),
                      "hidden": bool(element.hidden), "in_document": bool(js.document.body.contains(element))}
    await output.set_sink("default")
    out["default_sink"] = {"sink_id": output.sink_id, "element_sink": str(element.sinkId)}
    await output.set_sink(outputs[0].device_id)
    out["chosen_sink"] = {"ok": str(element.sinkId) == outputs[0].device_id, "sink_id": output.sink_id}
    out["unknown_sink"] = await expect_error(output.set_sink("no-such-output"))
    errors: list[dict[str, str]] = []
    initial = PLATFORM.create_audio_output(
        outputs[0].device_id, on_error=lambda error: errors.append({"code": error.code.value})
    )
    await wait_until(lambda: initial.sink_id is not None, 5)
    out["initial_sink_ok"] = {"sink_id_matches": initial.sink_id == outputs[0].device_id,
                              "errors": list(errors)}
    initial.close()
    bad_initial = PLATFORM.create_audio_output(
        "no-such-output", on_error=lambda error: errors.append({"code": error.code.value})
    )
    await wait_until(lambda: bool(errors), 5)
    out["initial_sink_bad"] = list(errors)
    bad_initial.close()
    errors.clear()
    out["still_present_after_hide"] = bool(_HIDE_SET_SINK_ID())
    try:
        out["unsupported_can_select"] = PLATFORM.media.can_select_output
        out["unsupported"] = await expect_error(output.set_sink("default"))
        unsupported_initial = PLATFORM.create_audio_output(
            "default", on_error=lambda error: errors.append({"code": error.code.value})
        )
        await wait_until(lambda: bool(errors), 5)
        out["unsupported_initial"] = list(errors)
        unsupported_initial.close()
    finally:
        out["restored"] = bool(_RESTORE_SET_SINK_ID())
    output.close()
    output.close()
    out["removed"] = not bool(js.document.body.contains(element))
    out["set_sink_after_close"] = await expect_error(output.set_sink("default"))
    out["left_elements"] = int(js.document.querySelectorAll("audio[data-twochat-voice]").length)
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def sounds(*, custom_url: str) -> dict[str, Any]:
    """The sound player: default tones from blob: URLs, custom URLs, loop, stop, disable, routing."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    player = PLATFORM.create_sound_player()
    assert player is not None
    blocked: list[str] = []
    subscription = player.on_blocked(blocked.append)
    player.play("incoming", loop=True)
    element = player.element("incoming")
    await wait_until(lambda: float(element.currentTime) > 0.2, 5)
    out["incoming"] = {"src_scheme": str(element.src).split(":")[0], "loop": bool(element.loop),
                       "paused": bool(element.paused), "playing": player.is_playing("incoming"),
                       "duration": float(element.duration), "hidden": bool(element.hidden),
                       "unlocked": player.unlocked}
    player.stop("incoming")
    player.stop("incoming")
    out["stopped"] = {"paused": bool(element.paused), "time": float(element.currentTime)}
    player.play("dtmf5")
    dtmf_element = player.element("dtmf5")
    await wait_until(lambda: bool(dtmf_element.ended), 5)
    out["dtmf5"] = {"ended": bool(dtmf_element.ended), "loop": bool(dtmf_element.loop),
                    "duration": float(dtmf_element.duration)}
    player.set_source("disconnect", custom_url)
    player.play("disconnect")
    custom = player.element("disconnect")
    await wait_until(lambda: float(custom.currentTime) > 0 or bool(custom.ended), 5)
    out["custom"] = {"src": str(custom.src), "played": float(custom.currentTime) > 0 or bool(custom.ended)}
    player.set_source("disconnect", None)
    player.play("disconnect")
    out["restored_default"] = str(custom.src).startswith("blob:")
    player.set_enabled("outgoing", False)
    player.play("outgoing", loop=True)
    out["disabled_created_element"] = player.element("outgoing") is not None
    player.set_enabled("outgoing", True)
    out["unknown_play"] = await expect_error(lambda: player.play("trumpet"))
    out["unknown_source"] = await expect_error(lambda: player.set_source("trumpet", "x.wav"))
    await player.set_output("default")
    out["output"] = player.output
    out["bad_output"] = await expect_error(player.set_output("no-such-output"))
    out["blocked"] = list(blocked)
    subscription.dispose()
    urls = [str(player.element(name).src) for name in ("incoming", "dtmf5", "disconnect")]
    player.close()
    player.close()
    out["elements_left"] = int(js.document.querySelectorAll("audio[data-twochat-voice]").length)
    out["play_after_close"] = await expect_error(lambda: player.play("incoming"))
    revoked = []
    for url in urls:
        try:
            response = await js.fetch(url)
            revoked.append(not bool(response.ok))
        except Exception:
            revoked.append(True)
    out["urls_revoked"] = revoked
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


_OSCILLATOR_STREAM: Any = js.Function.new(
    """
    const context = new AudioContext();
    const oscillator = context.createOscillator();
    const destination = context.createMediaStreamDestination();
    oscillator.connect(destination);
    oscillator.start();
    return destination.stream;
    """
)


async def autoplay_blocked() -> dict[str, Any]:
    """Run by the page at load, before any user gesture (strict autoplay policy, no microphone)."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies(),
                           "user_activation": bool(js.navigator.userActivation.hasBeenActive)}
    stream = _OSCILLATOR_STREAM()
    source = BrowserLocalAudio(stream, stream.getAudioTracks()[0])
    alice, bob = peer(), peer()
    errors: list[dict[str, str]] = []
    output = PLATFORM.create_audio_output(on_error=lambda error: errors.append(
        {"code": error.code.value, "message": error.message}))
    output.attach(bob)
    await alice.set_microphone(source)
    await negotiate(alice, bob)
    await wait_until(lambda: bool(errors), 5)
    out["errors"] = errors
    out["autoplay_blocked"] = output.autoplay_blocked
    out["paused"] = bool(output.element.paused)
    player = PLATFORM.create_sound_player()
    assert player is not None
    blocked: list[str] = []
    player.on_blocked(blocked.append)
    out["sounds_unlocked_before"] = player.unlocked
    player.play("incoming", loop=True)
    await wait_until(lambda: bool(blocked), 5)
    out["sounds_blocked"] = list(blocked)
    AUTOPLAY_STATE.update(output=output, alice=alice, bob=bob, source=source, player=player)
    return out


AUTOPLAY_STATE: dict[str, Any] = {}


async def autoplay_resume() -> dict[str, Any]:
    """After a user gesture: resume() plays; then everything is released."""
    output = AUTOPLAY_STATE["output"]
    out: dict[str, Any] = {"user_activation": bool(js.navigator.userActivation.hasBeenActive)}
    out["resumed"] = await output.resume()
    player = AUTOPLAY_STATE["player"]
    out["sounds_unlocked_after"] = player.unlocked
    player.play("incoming", loop=True)
    await wait_until(lambda: player.is_playing("incoming"), 5)
    out["sound_playing_after_gesture"] = player.is_playing("incoming")
    player.close()
    out["autoplay_blocked"] = output.autoplay_blocked
    out["paused"] = bool(output.element.paused)
    output.close()
    AUTOPLAY_STATE["alice"].close()
    AUTOPLAY_STATE["bob"].close()
    AUTOPLAY_STATE["source"].stop()
    AUTOPLAY_STATE.clear()
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def permission_denied() -> dict[str, Any]:
    """getUserMedia refused by the browser (no permission, no fake UI): MEDIA_PERMISSION_DENIED."""
    out: dict[str, Any] = {"proxies_before": PLATFORM.live_proxies()}
    out["default"] = await expect_error(PLATFORM.media.get_microphone())
    out["by_id"] = await expect_error(PLATFORM.media.get_microphone("default"))
    out["labels"] = [d.label for d in await PLATFORM.media.list_devices()]
    out["proxies_after"] = PLATFORM.live_proxies()
    return out


async def live() -> dict[str, Any]:
    """The global proxy count and the audio elements left in the page."""
    return {"proxies": PLATFORM.live_proxies(),
            "audio_elements": int(js.document.querySelectorAll("audio[data-twochat-voice]").length)}


SCENARIOS: dict[str, Callable[..., Awaitable[dict[str, Any]]]] = {
    "signalling": signalling,
    "fetch_json": fetch_json,
    "devices": devices,
    "call_and_hold": call_and_hold,
    "early_media_and_rollback": early_media_and_rollback,
    "dtmf": dtmf,
    "replace_microphone": replace_microphone,
    "gathering_timeout": gathering_timeout,
    "fast_gathering": fast_gathering,
    "output_devices": output_devices,
    "sounds": sounds,
    "autoplay_blocked": autoplay_blocked,
    "autoplay_resume": autoplay_resume,
    "permission_denied": permission_denied,
    "live": live,
}
