"""An in-memory Platform for testing Device/Call logic in CPython, with a SIP server made of our own UA.

The "server" is a server-role UserAgent (registrar with digest auth, a scriptable callee) living in the same
event loop; the fake WebSocket carries bytes between it and the Device with ``loop.call_soon``.
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jwt

from twochat_voice_web.driver import UserAgentDriver
from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError
from twochat_voice_web.platform import DeviceInfo, HttpResponse, PeerConnectionOptions
from twochat_voice_web.server.digest import DigestServer, VerifyResult
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.auth import DigestCredentials
from twochat_voice_web.sip.uri import SipUri
from twochat_voice_web.sip.useragent import UserAgent, UserAgentConfig

SECRET = "s" * 32
DOMAIN = "sandbox.test"


async def wait_until(
    condition: Callable[[], bool], *, timeout: float = 10.0, what: str = "the condition"
) -> None:
    """Yield to the event loop until ``condition()`` holds; AssertionError naming ``what`` after ``timeout``.

    The wait for a condition with a deadline that replaces "sleep, then assert" (flaky under load).
    """
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        await asyncio.sleep(0.005)


async def holds_for(condition: Callable[[], bool], *, seconds: float, what: str = "the condition") -> None:
    """Assert that ``condition()`` stays true for ``seconds`` of real time and at least 20 event-loop turns.

    The one place a negative check ("X did not happen") lets time pass. It cannot fail spuriously: it fails
    only when the condition really turns false. Counting turns as well as seconds keeps it from missing the
    wrong behaviour on a starved process: whatever ``call_soon`` chain the code under test started (the fake
    network, a spawned task) runs before the window ends. Callers say why the window is long enough.
    """
    deadline = time.monotonic() + seconds
    turns = 0
    while True:
        if not condition():
            raise AssertionError(f"{what} stopped holding within {seconds} s")
        if turns >= 20 and time.monotonic() > deadline:
            return
        turns += 1
        await asyncio.sleep(0.005)


def make_token(ttl: float = 3600, **claims: Any) -> str:
    """An HS256 token like the sandbox mints."""
    now = time.time()
    body = {"sub": "USRalice", "label": "test", "iat": int(now), "exp": now + ttl, **claims}
    return jwt.encode(body, SECRET, algorithm="HS256")


def sdp(version: int, direction: str = "sendrecv", *, te: bool = True) -> str:
    """A plausible audio SDP."""
    rtpmap = "a=rtpmap:111 opus/48000/2\r\n" + ("a=rtpmap:126 telephone-event/8000\r\n" if te else "")
    fmts = "111 126" if te else "111"
    return (
        f"v=0\r\no=- 4242 {version} IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
        f"m=audio 9 UDP/TLS/RTP/SAVPF {fmts}\r\nc=IN IP4 127.0.0.1\r\n{rtpmap}a=ice-ufrag:u{version}\r\n"
        f"a=ice-pwd:p{version}pppppppppppppppppppp\r\na={direction}\r\n"
        "a=candidate:1 1 udp 2130706431 127.0.0.1 50000 typ host\r\n"
        "a=candidate:2 1 udp 1694498815 198.51.100.7 50000 typ srflx raddr 127.0.0.1 rport 50000\r\n"
    )


_ANSWER_DIRECTION = {
    "sendrecv": "sendrecv",
    "sendonly": "recvonly",
    "recvonly": "sendonly",
    "inactive": "inactive",
}


class FakeAudio:
    """A microphone."""

    def __init__(self, device_id: str | None) -> None:
        self._device_id = device_id or "default"
        self.enabled = True
        self.stopped = False
        self.ended_callbacks: list[Callable[[], None]] = []
        self.constraints: Any = None
        self.processor: Any = None
        self.sent: Any = None

    @property
    def device_id(self) -> str | None:
        return self._device_id

    @property
    def label(self) -> str:
        return f"Fake mic {self._device_id}"

    @property
    def ended(self) -> bool:
        return self.stopped

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = enabled

    def stop(self) -> None:
        if not self.stopped and self.processor is not None:
            self.processor.release(self.sent)
        self.stopped = True
        self.ended_callbacks.clear()

    def on_ended(self, callback: Callable[[], None]) -> _Disposable:
        self.ended_callbacks.append(callback)
        return _Disposable()

    def unplug(self) -> None:
        """The device goes away: the track ends by itself."""
        self.stopped = True
        for callback in list(self.ended_callbacks):
            callback()


class FakeMedia:
    """Microphones and speakers."""

    def __init__(self) -> None:
        self.opened: list[FakeAudio] = []
        self.fail_with: VoiceSDKError | None = None
        self.can_select_output = True
        self.change_callbacks: list[Callable[[], None]] = []

    async def get_microphone(
        self, device_id: str | None = None, *, constraints: Any = None, processor: Any = None
    ) -> FakeAudio:
        await asyncio.sleep(0)
        if self.fail_with is not None:
            raise self.fail_with
        if device_id == "missing":
            raise MediaError(ErrorCode.MEDIA_DEVICE_ERROR, "no such device")
        audio = FakeAudio(device_id)
        audio.constraints = constraints
        if processor is not None:  # as the browser's: the processor gets the capture, its result is sent
            audio.sent = await processor.process(audio)
            audio.processor = processor
        self.opened.append(audio)
        return audio

    async def list_devices(self) -> list[DeviceInfo]:
        return [
            DeviceInfo("default", "audioinput", "Fake mic"),
            DeviceInfo("spk", "audiooutput", "Fake speaker"),
        ]

    def on_device_change(self, callback: Callable[[], None]) -> Any:
        self.change_callbacks.append(callback)
        return _Disposable()

    @property
    def live(self) -> list[FakeAudio]:
        return [a for a in self.opened if not a.stopped]


class _Disposable:
    def dispose(self) -> None:
        pass


class FakePeer:
    """A peer connection that makes plausible SDP and remembers what it was told."""

    counter = itertools.count(1)

    def __init__(self, options: PeerConnectionOptions) -> None:
        self.options = options
        self.version = 1
        self.direction = "sendrecv"
        self.mic: FakeAudio | None = None
        self.remote: list[tuple[str, bool]] = []
        self.dtmf: list[str] = []
        self.closed = False
        self.state = "stable"
        self.ice_restarts = 0
        self.rollbacks = 0
        self.id = next(self.counter)
        self.stats_calls = 0
        self.stalled = False  # True: the counters stop growing (no media)
        self.dtmf_ready = True  # False: canInsertDTMF is false (the transport is not writable yet)

    async def set_microphone(self, audio: Any) -> None:
        self.mic = audio

    def set_direction(self, direction: str) -> None:
        self.direction = direction

    async def create_offer(self, *, ice_restart: bool = False) -> str:
        await asyncio.sleep(0)
        self.version += 1
        self.ice_restarts += ice_restart
        self.state = "have-local-offer"
        return sdp(self.version, self.direction)

    async def create_answer(self, offer: str) -> str:
        await asyncio.sleep(0)
        self.remote.append((offer, False))
        offered = next(d for d in _ANSWER_DIRECTION if f"a={d}" in offer)
        mine = _ANSWER_DIRECTION[offered] if self.direction == "sendrecv" else "inactive"
        self.version += 1
        self.state = "stable"
        return sdp(self.version, mine)

    async def accept_answer(self, answer: str, *, provisional: bool = False) -> None:
        await asyncio.sleep(0)
        self.remote.append((answer, provisional))
        self.state = "have-local-offer" if provisional else "stable"

    async def rollback(self) -> None:
        self.rollbacks += 1
        self.state = "stable"

    def can_send_dtmf(self) -> bool:
        return self.dtmf_ready

    def send_dtmf(self, tones: str, duration_ms: int, gap_ms: int) -> bool:
        self.dtmf.append(tones)
        return True

    async def get_stats(self) -> list[dict[str, Any]]:
        if not self.stalled:
            self.stats_calls += 1
        n = self.stats_calls
        inbound = {
            "id": "in",
            "type": "inbound-rtp",
            "kind": "audio",
            "packetsReceived": 50 * n,
            "bytesReceived": 4000 * n,
            "jitter": 0.002,
            "audioLevel": 0.2 + 0.01 * (n % 5),
            "codecId": "c1",
            "packetsLost": 0,
        }
        return [
            inbound,
            {
                "id": "out",
                "type": "outbound-rtp",
                "kind": "audio",
                "packetsSent": 50 * n,
                "bytesSent": 4000 * n,
            },
            {"id": "src", "type": "media-source", "kind": "audio", "audioLevel": 0.1 + 0.02 * (n % 3)},
            {
                "id": "pair",
                "type": "candidate-pair",
                "nominated": True,
                "state": "succeeded",
                "currentRoundTripTime": 0.02,
            },
            {"id": "c1", "type": "codec", "mimeType": "audio/opus"},
        ]

    @property
    def ice_state(self) -> str:
        return "connected"

    @property
    def signaling_state(self) -> str:
        return self.state

    def close(self) -> None:
        self.closed = True


class FakeOutput:
    def __init__(self, on_error: Callable[[VoiceSDKError], None] | None = None) -> None:
        self.sink: str | None = None
        self.closed = False
        self.peer: FakePeer | None = None
        self.on_error = on_error
        self.autoplay_blocked = False
        self.resumed = 0

    def block_autoplay(self) -> None:
        self.autoplay_blocked = True
        if self.on_error is not None:
            self.on_error(VoiceSDKError(ErrorCode.AUTOPLAY_BLOCKED, "play() needs a user gesture"))

    async def resume(self) -> bool:
        self.resumed += 1
        self.autoplay_blocked = False
        return True

    def attach(self, peer: Any) -> None:
        self.peer = peer

    async def set_sink(self, device_id: str) -> None:
        self.sink = device_id

    def close(self) -> None:
        self.closed = True


class FakeSounds:
    """Records what the SDK asked to play; can pretend autoplay is blocked."""

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []
        self.playing: set[str] = set()
        self.sources: dict[str, str | None] = {}
        self.enabled: dict[str, bool] = {}
        self.blocked = False
        self.blocked_callbacks: list[Callable[[str], None]] = []
        self.output: str | None = None
        self.closed = False

    def play(self, name: str, *, loop: bool = False) -> None:
        if self.enabled.get(name, True) is False:
            return
        if self.blocked:
            for callback in self.blocked_callbacks:
                callback(name)
            return
        self.log.append(("play", name))
        if loop:
            self.playing.add(name)

    def stop(self, name: str) -> None:
        if name in self.playing:
            self.playing.discard(name)
            self.log.append(("stop", name))

    def set_source(self, name: str, url: str | None) -> None:
        self.sources[name] = url

    def set_enabled(self, name: str, enabled: bool) -> None:
        self.enabled[name] = enabled

    async def set_output(self, device_id: str) -> None:
        self.output = device_id

    @property
    def unlocked(self) -> bool:
        return not self.blocked

    def on_blocked(self, callback: Callable[[str], None]) -> _Disposable:
        self.blocked_callbacks.append(callback)
        return _Disposable()

    def close(self) -> None:
        self.closed = True
        self.playing.clear()


class FakeConnection:
    def __init__(
        self,
        platform: FakePlatform,
        on_message: Callable[[bytes], None],
        on_close: Callable[[int, str], None],
    ) -> None:
        self.platform = platform
        self.on_message = on_message
        self.on_close = on_close
        self.open = True
        self.dropped = False

    def send(self, message: bytes) -> None:
        if not self.open:
            raise RuntimeError("closed")
        loop = asyncio.get_event_loop()
        loop.call_soon(self._to_server, message)

    def _to_server(self, message: bytes) -> None:
        if not self.dropped:  # a clean close() still delivers what was sent before it, as a WebSocket does
            self.platform.server.receive(message)

    def close(self) -> None:
        self.open = False
        if self.platform.connection is self:
            self.platform.connection = None

    def deliver(self, data: bytes) -> None:
        if self.open:
            self.on_message(data)

    def drop(self) -> None:
        """The network drops the connection (the Device's on_close fires)."""
        if self.open:
            self.open = False
            self.dropped = True
            self.platform.connection = None
            self.on_close(1006, "dropped")


@dataclass
class Server:
    """A SIP server of our own UA: registrar + scriptable call handling."""

    platform: FakePlatform
    ua: UserAgent = field(init=False)
    auth: DigestServer = field(init=False)
    received: list[Any] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    passwords: dict[str, str] = field(default_factory=lambda: {"alice": "pw-alice"})
    on_incoming: Callable[[ev.IncomingCall], None] | None = None
    on_event: Callable[[ev.Event], None] | None = None
    reject_register: int | None = None

    def __post_init__(self) -> None:
        self.ua = UserAgent(
            UserAgentConfig(
                aor=SipUri("sip", "server", host=DOMAIN),
                transport="WS",
                via_host="127.0.0.1:9999",
                passthrough_methods=frozenset({"REGISTER"}),
            ),
            rng=random.Random(99),
        )
        self.auth = DigestServer(DOMAIN, b"n" * 32)
        self.driver = UserAgentDriver(self.ua, on_event=self._on_event, writer=self._write, max_rounds=50)

    def now(self) -> float:
        return asyncio.get_event_loop().time()

    def receive(self, data: bytes) -> None:
        from twochat_voice_web.sip.message import parse_message

        self.received.append(parse_message(data))
        self.driver.receive_data(data)

    def pump(self) -> None:
        self.driver.pump()

    def _write(self, data: bytes) -> None:
        conn = self.platform.connection
        if conn is not None:
            asyncio.get_event_loop().call_soon(conn.deliver, data)

    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        self.handle(event)

    def handle(self, event: ev.Event) -> None:
        if isinstance(event, ev.RequestReceived):
            self.register(event)
        elif isinstance(event, ev.IncomingCall) and self.on_incoming is not None:
            self.on_incoming(event)
        elif self.on_event is not None:
            self.on_event(event)

    def register(self, event: ev.RequestReceived) -> None:
        request = event.request
        values = request.headers.get_all("Authorization")
        if not values:
            self.ua.respond(
                event.handle,
                401,
                self.now(),
                headers=[("WWW-Authenticate", str(c)) for c in self.auth.challenge(self.now())],
            )
            return
        result = self.auth.verify(
            "REGISTER", DigestCredentials.parse(values[0]), self.passwords.get, self.now()
        )
        if result is not VerifyResult.OK:
            code = 401 if result.rechallenge_stale else 403
            headers = (
                [("WWW-Authenticate", str(c)) for c in self.auth.challenge(self.now(), stale=True)]
                if code == 401
                else []
            )
            self.ua.respond(event.handle, code, self.now(), headers=headers)
            return
        if self.reject_register is not None:
            self.ua.respond(event.handle, self.reject_register, self.now())
            return
        self.ua.respond(
            event.handle, 200, self.now(), headers=[("Contact", request.headers.get("Contact") or "")]
        )

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        return self.driver.act(lambda ua, now: getattr(ua, method)(*args, now=now, **kwargs))

    def requests(self, method: str) -> list[Any]:
        return [m for m in self.received if getattr(m, "method", None) == method]


class _TabSubscription:
    def __init__(self, callbacks: list[Callable[[str], None]], callback: Callable[[str], None]) -> None:
        self._callbacks: list[Callable[[str], None]] | None = callbacks
        self._callback = callback
        callbacks.append(callback)

    def dispose(self) -> None:
        if self._callbacks is not None and self._callback in self._callbacks:
            self._callbacks.remove(self._callback)
        self._callbacks = None


class FakeTabChannel:
    """A BroadcastChannel on a TabBus: delivers to the other open channels of the same name, in order."""

    def __init__(self, bus: TabBus, name: str, owner: FakePlatform) -> None:
        self.bus = bus
        self.name = name
        self.owner = owner
        self.closed = False
        self.callbacks: list[Callable[[str], None]] = []

    def post(self, message: str) -> None:
        if self.closed:
            return
        self.bus.posted.append((self.owner.tab_name, self.name, message))
        loop = asyncio.get_event_loop()
        for channel in list(self.bus.channels):
            if channel is not self and channel.name == self.name and not channel.closed:
                loop.call_soon(channel.deliver, message)

    def deliver(self, message: str) -> None:
        if not self.closed:
            for callback in list(self.callbacks):
                callback(message)

    def on_message(self, callback: Callable[[str], None]) -> _TabSubscription:
        return _TabSubscription(self.callbacks, callback)

    def close(self) -> None:
        self.closed = True
        self.callbacks.clear()
        if self in self.bus.channels:
            self.bus.channels.remove(self)


class FakeLease:
    """One Web Locks request: queued, then held until disposed (or until its tab closes)."""

    def __init__(
        self, locks: FakeLocks, name: str, on_acquired: Callable[[], None], owner: FakePlatform
    ) -> None:
        self.locks = locks
        self.name = name
        self.on_acquired = on_acquired
        self.owner = owner
        self.granted = False
        self.disposed = False

    def dispose(self) -> None:
        if not self.disposed:
            self.disposed = True
            self.locks.release(self)


class FakeLocks:
    """The Web Locks API of one origin: an exclusive lock per name, granted in request order."""

    def __init__(self) -> None:
        self.queues: dict[str, list[FakeLease]] = {}

    def request(self, name: str, on_acquired: Callable[[], None], owner: FakePlatform) -> FakeLease:
        lease = FakeLease(self, name, on_acquired, owner)
        self.queues.setdefault(name, []).append(lease)
        self._grant(name)
        return lease

    def holder(self, name: str) -> FakePlatform | None:
        queue = self.queues.get(name) or []
        return queue[0].owner if queue and queue[0].granted else None

    def release(self, lease: FakeLease) -> None:
        queue = self.queues.get(lease.name, [])
        if lease in queue:
            queue.remove(lease)
        self._grant(lease.name)

    def _grant(self, name: str) -> None:
        queue = self.queues.get(name) or []
        if queue and not queue[0].granted:
            head = queue[0]
            head.granted = True
            asyncio.get_event_loop().call_soon(lambda: None if head.disposed else head.on_acquired())


class TabBus:
    """What the tabs of one origin share: BroadcastChannels and (unless ``web_locks=False``) Web Locks."""

    def __init__(self, *, web_locks: bool = True, lock_error: str | None = None) -> None:
        self.channels: list[FakeTabChannel] = []
        self.locks: FakeLocks | None = FakeLocks() if web_locks else None
        self.lock_error = lock_error  # set: every lock request fails with it (a document without lock access)
        self.posted: list[tuple[str, str, str]] = []

    def tab(self, name: str = "") -> FakePlatform:
        """A new fake tab (its own platform, SIP server and sounds) on this bus."""
        return FakePlatform(tabs=self, tab_name=name)


class FakePlatform:
    """The Platform protocol, in memory."""

    def __init__(self, *, tabs: TabBus | None = None, tab_name: str = "") -> None:
        self.tabs = tabs
        self.tab_name = tab_name
        self.tab_closed = False
        self.leases: list[FakeLease] = []
        self.tab_channels: list[FakeTabChannel] = []
        self.media = FakeMedia()
        self.peers: list[FakePeer] = []
        self.outputs: list[FakeOutput] = []
        self.connection: FakeConnection | None = None
        self.connections = 0
        self.refuse_connections = False
        self.server = Server(self)
        self.fetches: list[tuple[str, Mapping[str, str]]] = []
        self.credentials: dict[str, Any] = {
            "success": True,
            "ws_url": "ws://127.0.0.1:9999/sip",
            "sip_uri": f"sip:alice@{DOMAIN}",
            "username": "alice",
            "password": "pw-alice",
            "realm": DOMAIN,
            "display_name": "Alice",
            "ice_servers": [],
            "caller_ids": [{"uuid": "VCI1", "phone_number": "+15550200"}],
        }
        self.credentials_status = 200
        self.send_date = False  # True: HTTP responses carry a Date header (the server's clock: time.time())
        self.online_callbacks: list[Callable[[], None]] = []
        self.sounds = FakeSounds()
        self.gesture_callbacks: list[Callable[[], None]] = []

    async def open_signalling(
        self,
        url: str,
        *,
        on_message: Callable[[bytes], None],
        on_close: Callable[[int, str], None],
        timeout: float,
    ) -> FakeConnection:
        await asyncio.sleep(0)
        if self.refuse_connections or self.tab_closed:
            raise VoiceSDKError(ErrorCode.TRANSPORT_ERROR, "connection refused")
        self.connections += 1
        self.connection = FakeConnection(self, on_message, on_close)
        return self.connection

    async def http_get_json(self, url: str, *, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        await asyncio.sleep(0)
        self.fetches.append((url, headers))
        return HttpResponse(
            self.credentials_status,
            self.credentials if self.credentials_status == 200 else {"error_message": "nope"},
            {"date": email.utils.formatdate(time.time(), usegmt=True)} if self.send_date else {},
        )

    def create_peer_connection(self, options: PeerConnectionOptions) -> FakePeer:
        peer = FakePeer(options)
        self.peers.append(peer)
        return peer

    def create_audio_output(
        self, device_id: str | None = None, *, on_error: Callable[[VoiceSDKError], None] | None = None
    ) -> FakeOutput:
        out = FakeOutput(on_error)
        self.outputs.append(out)
        return out

    def on_online(self, callback: Callable[[], None]) -> _Disposable:
        self.online_callbacks.append(callback)
        return _Disposable()

    def on_user_gesture(self, callback: Callable[[], None]) -> _Disposable:
        self.gesture_callbacks.append(callback)
        return _Disposable()

    def user_gesture(self) -> None:
        callbacks, self.gesture_callbacks = self.gesture_callbacks, []
        for callback in callbacks:
            callback()

    def live_proxies(self) -> int:
        return 0

    def create_sound_player(self) -> FakeSounds:
        return self.sounds

    def open_tab_channel(self, name: str) -> FakeTabChannel | None:
        if self.tabs is None or self.tab_closed:
            return None
        channel = FakeTabChannel(self.tabs, name, self)
        self.tabs.channels.append(channel)
        self.tab_channels.append(channel)
        return channel

    def acquire_leadership(
        self,
        name: str,
        on_acquired: Callable[[], None],
        *,
        on_failed: Callable[[str], None] | None = None,
    ) -> FakeLease | None:
        if self.tabs is None or self.tabs.locks is None or self.tab_closed:
            return None
        error = self.tabs.lock_error
        if error is not None:
            refused = FakeLease(self.tabs.locks, name, on_acquired, self)
            refused.disposed = True
            if on_failed is not None:
                asyncio.get_event_loop().call_soon(on_failed, error)
            return refused
        lease = self.tabs.locks.request(name, on_acquired, self)
        self.leases.append(lease)
        return lease

    def close_tab(self) -> None:
        """The tab closes (or crashes): its channels go silent, the browser releases its locks, its
        WebSocket dies without a word (the server just loses the connection)."""
        self.tab_closed = True
        for channel in self.tab_channels:
            channel.close()
        for lease in self.leases:
            lease.dispose()
        conn = self.connection
        if conn is not None:
            conn.open = False
            conn.dropped = True
            self.connection = None


# --------------------------------------------------------------------------------------------------
# Devices on the fake platform


FAKE_API = "http://127.0.0.1:9999"
"""The ``api_base_url`` of Devices on the fake platform (its fetches never leave the process)."""


def new_device(platform: FakePlatform, token: str | None = None, **options: Any) -> Any:
    """A Device on the in-memory platform (the fake is duck-typed, not a declared Platform)."""
    from twochat_voice_web import Device

    return Device(token or make_token(), api_base_url=FAKE_API, platform=platform, **options)  # type: ignore[arg-type]


async def registered_device(**options: Any) -> tuple[Any, FakePlatform]:
    """A registered Device on a fresh fake platform, and the platform."""
    platform = FakePlatform()
    device = new_device(platform, **options)
    await device.register()
    return device, platform


def serve_calls(platform: FakePlatform) -> list[str]:
    """The server answers the Device's INVITEs at once and every re-INVITE offer (mirroring hold:
    ``sendonly`` is answered ``recvonly``, RFC 3264 §6.1); returns the list of server-side call handles."""
    calls: list[str] = []

    def on_incoming(event: ev.IncomingCall) -> None:
        calls.append(event.call)
        platform.server.call("answer", event.call, sdp(50))

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.RemoteOffer):
            direction = "recvonly" if "a=sendonly" in event.sdp else "sendrecv"
            platform.server.call("answer_offer", event.call, sdp(80, direction))

    platform.server.on_incoming = on_incoming
    platform.server.on_event = on_event
    return calls
