"""Test support for the sandbox SIP server: our own UserAgent as a client over a real aiohttp WebSocket.

- :func:`run_sip` starts the sandbox app in-process (aiohttp TestServer on 127.0.0.1, port 0) inside a
  fresh event loop on a worker thread (pytest-playwright may own the main thread's loop) and runs an
  async scenario with a :class:`SipEnv`.
- :class:`SipClient` drives one :class:`~twochat_voice_web.sip.useragent.UserAgent` (the client role)
  aioquic style: frames in, ``data_to_send`` out through a writer task, one timer at ``next_deadline``.
  It records every event and every message received, and waits for conditions with timeouts (never
  asserting on wall-clock durations).
- :class:`RawSip` is a bare WebSocket for hand-made messages (replays, Contact: *, garbage).

Nothing here binds anything but 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import aiohttp
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from twochat_voice_web.driver import UserAgentDriver
from twochat_voice_web.sandbox import STATE_KEY, SandboxConfig, SandboxState, create_app
from twochat_voice_web.sandbox.media import MediaBehaviour, MediaEndpoint
from twochat_voice_web.sandbox.sip_server import PLUGIN_NAME, SipServer
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.message import Request, Response, parse_message
from twochat_voice_web.sip.uri import SipUri
from twochat_voice_web.sip.useragent import UserAgent, UserAgentConfig

T = TypeVar("T")
E = TypeVar("E", bound=ev.Event)

DOMAIN = "sandbox.2chat.test"
API_KEY = "sbx_test_key_0123456789"

# A syntactically fine SDP offer without ICE: enough wherever no media endpoint must answer it.
FAKE_OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\n"
    "c=IN IP4 127.0.0.1\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\n"
    "a=ice-ufrag:aaaa\r\na=ice-pwd:aaaaaaaaaaaaaaaaaaaaaaaa\r\na=sendrecv\r\n"
)
FAKE_ANSWER = FAKE_OFFER.replace("o=- 1 1", "o=- 2 1").replace("ice-ufrag:aaaa", "ice-ufrag:bbbb")


def fake_offer(version: int = 1, *, direction: str = "sendrecv", ufrag: str = "aaaa") -> str:
    """FAKE_OFFER with another o= version, direction or ICE ufrag."""
    return (
        FAKE_OFFER.replace("o=- 1 1", f"o=- 1 {version}")
        .replace("a=sendrecv", f"a={direction}")
        .replace("ice-ufrag:aaaa", f"ice-ufrag:{ufrag}")
    )


def fake_answer(version: int = 1, *, direction: str = "sendrecv") -> str:
    """FAKE_ANSWER with another o= version or direction."""
    return FAKE_ANSWER.replace("o=- 2 1", f"o=- 2 {version}").replace("a=sendrecv", f"a={direction}")


async def eventually(
    probe: Callable[[], Any], what: str, *, timeout: float = 20.0, interval: float = 0.05
) -> Any:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if asyncio.iscoroutine(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what} (last: {value!r})")
        await asyncio.sleep(interval)


# --------------------------------------------------------------------------------------------------
# the client


class SipClient:
    """One client user agent (browser-like) connected to the sandbox's ``/sip``."""

    def __init__(
        self,
        env: SipEnv | RemoteEnv,
        user: str,
        password: str | None,
        *,
        instance_id: str | None = None,
        auth_user: str | None = None,
        **overrides: Any,
    ) -> None:
        self.env = env
        self.user = user
        values: dict[str, Any] = {
            "aor": SipUri("sip", user, host=DOMAIN),
            "password": password,
            "username": auth_user,
            "transport": "WS",
            "instance_id": instance_id or f"urn:uuid:{uuid.uuid4()}",
            "register_expires": 600,
        }
        values.update(overrides)
        self.ua = UserAgent(UserAgentConfig(**values))
        self.events: list[ev.Event] = []
        self.received: list[Request | Response] = []
        self.sent: list[Request | Response] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.closed_by_server = asyncio.Event()
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[Any]] = []
        self.driver = UserAgentDriver(self.ua, on_event=self.events.append, writer=self._write)

    @property
    def now(self) -> float:
        return asyncio.get_running_loop().time()

    # -- connection -----------------------------------------------------------------------------------

    async def connect(self) -> None:
        """Open a WebSocket to ``/sip`` (subprotocol sip)."""
        self.closed_by_server = asyncio.Event()
        self.ws = await self.env.http.ws_connect("/sip", protocols=("sip",), autoping=True)
        assert self.ws.protocol == "sip"
        ws = self.ws
        self._queue = asyncio.Queue()
        self._tasks += [
            asyncio.create_task(self._reader(ws)),
            asyncio.create_task(self._writer(ws, self._queue)),
        ]

    async def _reader(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data = message.data
                with contextlib.suppress(Exception):
                    self.received.append(parse_message(data.encode() if isinstance(data, str) else data))
                self.driver.receive_data(data)
        if ws is self.ws:
            self.closed_by_server.set()
            self.driver.transport_lost()

    async def _writer(self, ws: aiohttp.ClientWebSocketResponse, queue: asyncio.Queue[bytes | None]) -> None:
        while True:
            data = await queue.get()
            if data is None:
                return
            with contextlib.suppress(Exception):
                await ws.send_str(data.decode())

    def send_raw(self, text: str) -> None:
        """Send a frame that did not come from the user agent."""
        self._queue.put_nowait(text.encode())

    async def drop(self) -> None:
        """Client-side network loss: the socket goes away, the user agent is told."""
        ws, self.ws = self.ws, None
        self._queue.put_nowait(None)
        if ws is not None:
            await ws.close()
        self.driver.transport_lost()

    async def reconnect(self) -> None:
        """A new WebSocket; the user agent re-registers and releases what it queued."""
        await self.connect()
        self.driver.transport_restored()

    async def switch_connection(self) -> None:
        """Move to a new WebSocket while the old one stays open (the server sees a stale flow)."""
        self.driver.transport_lost()
        self._queue.put_nowait(None)  # the old writer stops; the old reader keeps reading until closed
        await self.connect()
        self.driver.transport_restored()

    async def close(self) -> None:
        """Close everything (test teardown)."""
        self.driver.close()
        ws, self.ws = self.ws, None
        self._queue.put_nowait(None)
        if ws is not None:
            with contextlib.suppress(Exception):
                await ws.close()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # -- driver ---------------------------------------------------------------------------------------

    def pump(self) -> None:
        """Send queued data, collect events, re-arm the timer (the SDK's one driver)."""
        self.driver.pump()

    def _write(self, data: bytes) -> None:
        with contextlib.suppress(Exception):
            self.sent.append(parse_message(data))
        self._queue.put_nowait(data)

    def act(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run a user-agent call and pump."""
        return self.driver.act(action)

    # -- observation ----------------------------------------------------------------------------------

    def of(self, kind: type[E]) -> list[E]:
        """Events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    async def wait_event(
        self, kind: type[E], predicate: Callable[[E], bool] = lambda e: True, *, timeout: float = 20.0
    ) -> E:
        """The first event of ``kind`` matching ``predicate`` (already seen or yet to come)."""
        return await eventually(
            lambda: next((e for e in self.of(kind) if predicate(e)), None),
            f"{kind.__name__}",
            timeout=timeout,
        )

    def responses(self, code: int | None = None, method: str | None = None) -> list[Response]:
        """Responses received, optionally with one status and CSeq method."""
        return [
            m
            for m in self.received
            if isinstance(m, Response)
            and (code is None or m.status_code == code)
            and (method is None or m.cseq.method == method)
        ]

    def requests(self, method: str) -> list[Request]:
        """Requests received with that method."""
        return [m for m in self.received if isinstance(m, Request) and m.method == method]

    async def register(self, *, timeout: float = 20.0) -> ev.RegistrationChanged:
        """Connect (if needed), REGISTER, and return the final registration event."""
        if self.ws is None:
            await self.connect()
        mark = len(self.of(ev.RegistrationChanged))
        self.act(lambda ua, now: ua.register(now))
        return await eventually(
            lambda: next(
                (
                    e
                    for e in self.of(ev.RegistrationChanged)[mark:]
                    if e.state in (ev.RegistrationState.REGISTERED, ev.RegistrationState.UNREGISTERED)
                ),
                None,
            ),
            f"{self.user}'s registration outcome",
            timeout=timeout,
        )

    def call(self, target: str, sdp: str = FAKE_OFFER, **kwargs: Any) -> str:
        """Place a call (``target``: user part or full URI); returns the call handle."""
        uri = target if ":" in target else f"sip:{target}@{DOMAIN}"
        return self.act(lambda ua, now: ua.invite(uri, now, sdp=sdp, **kwargs))

    def call_id(self, handle: str) -> str:
        """The SIP Call-ID of a live call."""
        return self.ua.call_info(handle).call_id


# --------------------------------------------------------------------------------------------------
# a bare socket


class RawSip:
    """A bare SIP WebSocket: send text frames, read what comes back."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws

    async def send(self, text: str) -> None:
        """Send one frame."""
        await self.ws.send_str(text)

    async def receive(self, *, timeout: float = 10.0) -> Request | Response:
        """The next SIP message received (parsed)."""
        while True:
            message = await self.ws.receive(timeout=timeout)
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                data = message.data
                return parse_message(data.encode() if isinstance(data, str) else data)
            raise AssertionError(f"the WebSocket ended: {message.type} {message.data!r}")

    async def response(self, *, timeout: float = 10.0) -> Response:
        """The next response received (requests such as OPTIONS pings are skipped)."""
        while True:
            message = await self.receive(timeout=timeout)
            if isinstance(message, Response):
                return message

    async def close(self) -> None:
        """Close the socket."""
        await self.ws.close()


# --------------------------------------------------------------------------------------------------
# the environment


class RemoteHttp:
    """``ws_connect(path)`` / ``request(method, path)`` against a sandbox running elsewhere (a subprocess)."""

    def __init__(self, session: aiohttp.ClientSession, base_url: str) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")

    def ws_connect(self, path: str, **kwargs: Any) -> Any:
        """Open a WebSocket to ``base_url + path``."""
        return self.session.ws_connect(self.base_url + path, **kwargs)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        """An HTTP request to ``base_url + path``."""
        return self.session.request(method, self.base_url + path, **kwargs)


@dataclass
class RemoteEnv:
    """What a :class:`SipClient` needs of a sandbox in another process."""

    http: RemoteHttp


@dataclass
class SipEnv:
    """What a scenario gets: the HTTP test client, the sandbox state and SIP server, and helpers."""

    http: TestClient[web.Request, web.Application]
    state: SandboxState
    server: SipServer
    clients: list[SipClient] = field(default_factory=list)
    medias: list[MediaEndpoint] = field(default_factory=list)

    def password(self, user: str) -> str:
        """The user's SIP password (from the sandbox's user directory)."""
        found = self.state.users.by_sip_username(user)
        assert found is not None
        return found.sip_password

    def client(self, user: str, *, password: str | None = None, **kwargs: Any) -> SipClient:
        """A client for ``user`` with its real password unless given (not connected yet)."""
        client = SipClient(self, user, password if password is not None else self.password(user), **kwargs)
        self.clients.append(client)
        return client

    async def registered(self, user: str, **kwargs: Any) -> SipClient:
        """A connected, registered client."""
        client = self.client(user, **kwargs)
        outcome = await client.register()
        assert outcome.state is ev.RegistrationState.REGISTERED, outcome
        return client

    async def raw(self) -> RawSip:
        """A bare SIP WebSocket."""
        return RawSip(await self.http.ws_connect("/sip", protocols=("sip",)))

    def media(self, behaviour: MediaBehaviour = MediaBehaviour.SILENCE) -> MediaEndpoint:
        """A client-side media endpoint (closed at the end of the scenario)."""
        endpoint = MediaEndpoint(behaviour, level_interval=0.25)
        self.medias.append(endpoint)
        return endpoint

    def logged(self, kind: str, **fields: Any) -> list[dict[str, Any]]:
        """Events of the sandbox log of ``kind`` whose fields include ``fields``."""
        out = []
        for event in self.state.events.query(kind=kind):
            data = event.to_json()
            if all(data.get(k) == v for k, v in fields.items()):
                out.append(data)
        return out

    async def wait_logged(self, kind: str, *, timeout: float = 20.0, **fields: Any) -> dict[str, Any]:
        """The first sandbox-log event of ``kind`` with ``fields`` (already there or yet to come)."""
        found = await eventually(
            lambda: self.logged(kind, **fields), f"sandbox event {kind} {fields}", timeout=timeout
        )
        return found[0]  # type: ignore[no-any-return]

    async def json(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        """An HTTP request to the sandbox; returns (status, JSON body)."""
        response = await self.http.request(method, path, json=body)
        return response.status, await response.json()


Scenario = Callable[[SipEnv], Awaitable[None]]


def run_sip(
    scenario: Scenario,
    *,
    settings: dict[str, Any] | None = None,
    timeout: float = 120.0,
    check_tasks: bool = True,
    **config: Any,
) -> None:
    """Run ``scenario`` against an in-process sandbox (SIP plugin on, test hooks on)."""
    box: dict[str, BaseException] = {}

    async def main() -> None:
        values: dict[str, Any] = {"port": 0, "api_key": API_KEY, "test_hooks": True}
        values.update(config)
        app = create_app(SandboxConfig(**values))
        state = app[STATE_KEY]
        server = state.extras[PLUGIN_NAME]
        assert isinstance(server, SipServer)
        server.settings.options_interval = None
        for name, value in (settings or {}).items():
            setattr(server.settings, name, value)
        env: SipEnv | None = None
        async with TestClient(TestServer(app, host="127.0.0.1", port=0)) as http:
            env = SipEnv(http=http, state=state, server=server)
            try:
                await asyncio.wait_for(scenario(env), timeout)
            finally:
                for client in env.clients:
                    await client.close()
                for media in env.medias:
                    await media.close()
        if check_tasks:
            await _no_tasks_left()

    def thread_main() -> None:
        try:
            asyncio.run(main())
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=thread_main, daemon=True)
    thread.start()
    thread.join(timeout + 60)
    assert not thread.is_alive(), "the SIP scenario did not finish"
    if "error" in box:
        raise box["error"]


async def _no_tasks_left() -> None:
    """After shutdown: no task of ours, aiortc's or aioice's is still pending (allow them a moment)."""

    def ours() -> list[asyncio.Task[Any]]:
        current = asyncio.current_task()
        out = []
        for task in asyncio.all_tasks():
            if task is current:
                continue
            coro = task.get_coro()
            code = getattr(coro, "cr_code", None) or getattr(coro, "gi_code", None)
            filename = code.co_filename if code is not None else ""
            if any(part in filename for part in ("aiortc", "aioice", "twochat_voice_web")):
                out.append(task)
        return out

    loop = asyncio.get_running_loop()
    deadline = loop.time() + 15
    while ours() and loop.time() < deadline:
        await asyncio.sleep(0.1)
    left = ours()
    assert not left, f"tasks left after shutdown: {left}"


def run_coro(factory: Callable[[], Coroutine[Any, Any, T]], timeout: float = 60.0) -> T:
    """asyncio.run() on a worker thread."""
    box: dict[str, Any] = {}

    def main() -> None:
        try:
            box["result"] = asyncio.run(asyncio.wait_for(factory(), timeout))
        except BaseException as exc:
            box["error"] = exc

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(timeout + 30)
    assert not thread.is_alive()
    if "error" in box:
        raise box["error"]
    return box["result"]  # type: ignore[no-any-return]


def register_text(
    user: str,
    *,
    call_id: str = "raw-register-1",
    cseq: int = 1,
    contact: str | None = "<sip:raw@raw.invalid;transport=ws>",
    expires: int | None = 600,
    authorization: str | None = None,
    to_user: str | None = None,
    branch: str = "z9hG4bKraw1",
    extra: str = "",
) -> str:
    """A REGISTER as text, for hand-made requests on a :class:`RawSip`."""
    lines = [
        f"REGISTER sip:{DOMAIN} SIP/2.0",
        f"Via: SIP/2.0/WS raw.invalid;branch={branch}",
        "Max-Forwards: 70",
        f"From: <sip:{user}@{DOMAIN}>;tag=rawtag",
        f"To: <sip:{to_user or user}@{DOMAIN}>",
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} REGISTER",
    ]
    if contact is not None:
        lines.append(f"Contact: {contact}")
    if expires is not None:
        lines.append(f"Expires: {expires}")
    if authorization is not None:
        lines.append(f"Authorization: {authorization}")
    if extra:
        lines.append(extra.rstrip("\r\n"))
    lines.append("Content-Length: 0")
    return "\r\n".join(lines) + "\r\n\r\n"


def request_text(
    method: str,
    target: str,
    *,
    call_id: str = "raw-call-1",
    cseq: int = 1,
    from_user: str = "alice",
    to_tag: str | None = None,
    body: str = "",
    branch: str = "z9hG4bKraw2",
) -> str:
    """A minimal request as text (INVITE gets a Contact; a body is sent as application/sdp)."""
    lines = [
        f"{method} sip:{target}@{DOMAIN} SIP/2.0",
        f"Via: SIP/2.0/WS raw.invalid;branch={branch}",
        "Max-Forwards: 70",
        f"From: <sip:{from_user}@{DOMAIN}>;tag=rawfrom",
        f"To: <sip:{target}@{DOMAIN}>" + (f";tag={to_tag}" if to_tag else ""),
        f"Call-ID: {call_id}",
        f"CSeq: {cseq} {method}",
        "Contact: <sip:raw@raw.invalid;transport=ws>",
    ]
    if body:
        lines.append("Content-Type: application/sdp")
    lines.append(f"Content-Length: {len(body.encode())}")
    return "\r\n".join(lines) + "\r\n\r\n" + body
