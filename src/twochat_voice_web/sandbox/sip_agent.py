"""Per-client SIP agents of the sandbox: one server-role :class:`UserAgent` per client, driven by asyncio.

Design
======
Three objects, from the wire up:

* :class:`Connection` is one accepted WebSocket (subprotocol ``sip``). It owns a writer task that sends,
  in order, the messages its agent queues (one SIP message per text frame), and it hands every received
  frame to its agent. Until the connection has authenticated (a REGISTER passed the digest check), it
  *holds* frames other than REGISTER/OPTIONS for a few seconds: a client that reconnects sends its
  REGISTER first and its queued in-dialog requests (re-INVITE with ICE restart, BYE, ACK) right behind
  it, before the REGISTER's 200 arrives. Those requests must reach the agent that owns the old dialogs,
  which is only known once the REGISTER has authenticated the user and named the ``+sip.instance``.
  Held frames are replayed, in order, when the connection authenticates (or when the hold times out or
  the REGISTER is refused: then they meet the plain rules, e.g. 403 for an INVITE, 481 for a BYE).

* :class:`ClientAgent` is the sandbox's side of one *client instance*: a :class:`UserAgent` in the
  server role (REGISTER passed through to the registrar) plus its call legs. It is driven by the SDK's
  one driver, :class:`~twochat_voice_web.driver.UserAgentDriver` (aioquic style: every input, a frame,
  an API call or a timer, is followed by one pump, which sends ``data_to_send()``, dispatches
  ``events()`` and keeps exactly one asyncio timer armed at ``next_deadline()``). The clock is the event
  loop's monotonic clock. An agent outlives its connection:
  when the WebSocket closes the agent calls ``transport_lost`` and keeps its calls for a grace period;
  a new connection that registers the same user and ``+sip.instance`` is attached to it
  (``transport_restored``), so in-dialog requests of calls set up on the old connection keep working
  and requests from the far side (a BYE) reach the client on its new connection (SIP.js #1088).

* :class:`Leg` is one call (INVITE session) of an agent, named by its user-agent handle and its SIP
  Call-ID. Each leg has a :class:`CallListener` (a back-to-back bridge, a test number, a sandbox caller)
  that receives the call events of the leg. Leg methods never raise: an action the call can no longer
  take (it ended meanwhile) returns False.

:meth:`ClientAgent.pump` is re-entrant safe (the driver's rule): a listener that acts on the *same* agent
while it is being pumped only flags another round. Every exception from a listener is logged here, so
nothing escapes to aiohttp.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from aiohttp import web

from twochat_voice_web.driver import UserAgentDriver
from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.dtmf import clamp_duration
from twochat_voice_web.sip.errors import ParseError, ProtocolError
from twochat_voice_web.sip.headers import NameAddr
from twochat_voice_web.sip.message import Request, parse_message
from twochat_voice_web.sip.uri import SipUri, Uri
from twochat_voice_web.sip.useragent import CallInfo, UserAgent, UserAgentConfig

from .hub import SandboxHub

if TYPE_CHECKING:
    from .bindings import Binding
    from .state import UserAccount

__all__ = [
    "AgentHost",
    "CallListener",
    "ClientAgent",
    "Connection",
    "IncomingCallHandler",
    "Leg",
    "RegisterHandler",
]

log = logging.getLogger("twochat_voice_web.sandbox.sip")

#: Methods an unauthenticated connection may have processed at once (the rest is held, see above).
_UNHELD_METHODS = frozenset({"REGISTER", "OPTIONS"})
#: Upper bound of pump rounds for one input (a safety net against a listener ping-pong bug).
_MAX_PUMP_ROUNDS = 1000


class CallListener(Protocol):
    """Receives the call events of the legs it owns."""

    def on_call_event(self, leg: Leg, event: sip_events.Event) -> None:
        """Handle one event of ``leg`` (CallProgress, CallAnswered, CallEnded, RemoteOffer...)."""


class RegisterHandler(Protocol):
    """Answers the REGISTER requests an agent receives (the registrar)."""

    def on_register(self, agent: ClientAgent, handle: str, request: Request) -> None:
        """Answer one REGISTER received by ``agent`` (``handle``: the user agent's request handle)."""


class IncomingCallHandler(Protocol):
    """Decides what a client's new INVITE reaches (the router)."""

    def on_incoming(self, leg: Leg, event: sip_events.IncomingCall) -> None:
        """Route the new call ``leg`` of ``leg.agent``."""


class AgentHost(SandboxHub, Protocol):
    """What connections and client agents use of the SIP server, beyond :class:`~.hub.SandboxHub`."""

    @property
    def registrar(self) -> RegisterHandler:
        """Where REGISTER requests go."""

    @property
    def router(self) -> IncomingCallHandler:
        """Where new INVITEs go."""

    def user_agent_config(self, port: int) -> UserAgentConfig:
        """The configuration of a server-role user agent for a client connected to ``port``."""

    def new_agent(self, connection: Connection) -> ClientAgent:
        """A fresh, unauthenticated agent for ``connection``."""


@dataclass(eq=False)
class Leg:
    """One call of a :class:`ClientAgent`, with the listener that owns it.

    Attributes:
        agent: the agent whose user agent holds the call.
        handle: the user agent's call handle.
        call_id: the SIP Call-ID of this leg (the client's ``call.sip_call_id``).
        listener: who receives this leg's events.
        ended: set once :class:`~twochat_voice_web.sip.events.CallEnded` was dispatched.
    """

    agent: ClientAgent
    handle: str
    call_id: str
    listener: CallListener | None = None
    ended: bool = False

    def _do(self, what: str, action: Callable[[UserAgent, float], object]) -> bool:
        if self.ended:
            return False
        return self.agent.act(action, f"{what} {self.handle}")

    def ring(self, status_code: int = 180, sdp: str | None = None) -> bool:
        """Send 180 Ringing, or another 1xx (183 with ``sdp`` for early media)."""
        return self._do("ring", lambda ua, now: ua.ring(self.handle, now, status_code=status_code, sdp=sdp))

    def answer(self, sdp: str) -> bool:
        """Answer with 200 OK carrying ``sdp``."""
        return self._do("answer", lambda ua, now: ua.answer(self.handle, sdp, now))

    def reject(self, status_code: int, reason: str | None = None) -> bool:
        """Reject an incoming call with a final 3xx-6xx."""
        return self._do(
            "reject", lambda ua, now: ua.reject(self.handle, now, status_code=status_code, reason=reason)
        )

    def hangup(self) -> bool:
        """End the call the right way for its state (CANCEL, 603, BYE)."""
        return self._do("hangup", lambda ua, now: ua.hangup(self.handle, now))

    def reinvite(self, sdp: str) -> bool:
        """Send a new offer in a re-INVITE."""
        return self._do("reinvite", lambda ua, now: ua.reinvite(self.handle, sdp, now))

    def answer_offer(self, sdp: str) -> bool:
        """Answer the peer's pending offer (or send the offer an offerless re-INVITE asked for)."""
        return self._do("answer_offer", lambda ua, now: ua.answer_offer(self.handle, sdp, now))

    def reject_offer(self, status_code: int = 488) -> bool:
        """Refuse the peer's pending offer."""
        return self._do(
            "reject_offer", lambda ua, now: ua.reject_offer(self.handle, now, status_code=status_code)
        )

    def send_info(self, content_type: str, body: bytes) -> bool:
        """Send an INFO in the dialog."""
        return self._do("send_info", lambda ua, now: ua.send_info(self.handle, content_type, body, now))

    def send_dtmf_info(self, digit: str, duration_ms: int | None) -> bool:
        """Send one DTMF digit as SIP INFO (application/dtmf-relay)."""
        duration = clamp_duration(duration_ms or 160)
        return self._do(
            "send_dtmf_info", lambda ua, now: ua.send_dtmf_info(self.handle, digit, now, duration_ms=duration)
        )

    def info(self) -> CallInfo | None:
        """A snapshot of the call, or None once it ended."""
        if self.ended:
            return None
        try:
            return self.agent.ua.call_info(self.handle)
        except ProtocolError:
            return None


class Connection:
    """One accepted SIP WebSocket; see the module docstring.

    Args:
        server: the SIP server.
        connection_id: a short id for logs and events (``c1``, ``c2``...).
        ws: the prepared WebSocket.
        request: the HTTP request that was upgraded (its transport is aborted by :meth:`abort`).
    """

    def __init__(
        self, server: AgentHost, connection_id: str, ws: web.WebSocketResponse, request: web.Request
    ) -> None:
        self.server = server
        self.id = connection_id
        self.ws = ws
        self._transport = request.transport
        peer = request.transport.get_extra_info("peername") if request.transport is not None else None
        self.peer = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) and len(peer) >= 2 else "?"
        local = request.transport.get_extra_info("sockname") if request.transport is not None else None
        #: The server port the client connected to (our Contact and Via use it).
        self.local_port = int(local[1]) if isinstance(local, tuple) and len(local) >= 2 else 0
        self._queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.agent: ClientAgent = server.new_agent(self)
        self.closed = False
        self._held: list[str | bytes] = []
        self._hold_timer: asyncio.TimerHandle | None = None

    # -- sending --------------------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Queue one SIP message for the writer task (dropped once the connection is closed)."""
        if not self.closed:
            self._queue.put_nowait(data)

    def send_raw(self, text: str) -> None:
        """Queue a raw text frame (test hook: hostile input for the client)."""
        self.send(text.encode("utf-8", errors="surrogatepass"))

    async def writer(self) -> None:
        """Send queued messages in order until :meth:`stop_writer` or a send error."""
        while True:
            data = await self._queue.get()
            if data is None:
                return
            try:
                try:
                    text = data.decode("utf-8")
                except UnicodeDecodeError:
                    await self.ws.send_bytes(data)
                else:
                    await self.ws.send_str(text)
            except Exception as exc:  # the peer went away under us: the reader notices and cleans up
                log.debug("connection %s: send failed: %r", self.id, exc)
                self.closed = True
                return

    def stop_writer(self) -> None:
        """Let the writer task finish after what is already queued."""
        self._queue.put_nowait(None)

    # -- receiving ------------------------------------------------------------------------------------

    def frame_received(self, data: str | bytes) -> None:
        """Hand one WebSocket frame (one SIP message) to the agent, or hold it (see the module docstring)."""
        if self.closed:
            return
        if not self.agent.authenticated and self._should_hold(data):
            self._held.append(data)
            if self._hold_timer is None:
                self._hold_timer = self.server.loop.call_later(
                    self.server.settings.hold_unauthenticated, self.release_held
                )
            return
        self.agent.receive(data)

    def _should_hold(self, data: str | bytes) -> bool:
        if len(self._held) >= self.server.settings.max_held_frames:
            return False
        raw = data.encode("utf-8", errors="surrogateescape") if isinstance(data, str) else bytes(data)
        if not raw.strip(b"\r\n"):
            return False
        try:
            message = parse_message(raw, self.agent.ua.config.parser_limits)
        except ParseError:
            return False  # the agent answers 400 (or drops it)
        return not (isinstance(message, Request) and message.method in _UNHELD_METHODS)

    def release_held(self) -> None:
        """Feed the held frames to the (current) agent, in order."""
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        held, self._held = self._held, []
        for data in held:
            if self.closed:
                return
            self.agent.receive(data)

    # -- closing --------------------------------------------------------------------------------------

    def mark_closed(self) -> None:
        """The WebSocket is gone: stop sending and forget held frames."""
        self.closed = True
        if self._hold_timer is not None:
            self._hold_timer.cancel()
            self._hold_timer = None
        self._held.clear()
        self.stop_writer()

    def abort(self) -> None:
        """Drop the TCP connection without a WebSocket close handshake (simulated network loss)."""
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.abort()
        else:
            self.server.spawn(self.close(), f"close {self.id}")

    async def close(self, code: int = 1001, message: str = "") -> None:
        """Close the WebSocket (quickly: the close handshake is bounded by the response's timeout)."""
        with contextlib.suppress(Exception):
            await self.ws.close(code=code, message=message.encode())


class ClientAgent:
    """The sandbox's server-role user agent for one client instance; see the module docstring.

    Args:
        server: the SIP server.
        agent_id: a short id for logs (``a1``...).
        local_port: the TCP port the client connected to (for our Contact).
    """

    def __init__(self, server: AgentHost, agent_id: str, local_port: int) -> None:
        self.server = server
        self.id = agent_id
        self.ua = UserAgent(server.user_agent_config(local_port))
        self.connection: Connection | None = None
        #: The user this agent authenticated as (None until a REGISTER passed the digest check).
        self.user: UserAccount | None = None
        #: The ``+sip.instance`` (or Contact URI) that names this client instance.
        self.instance_key: str | None = None
        #: The registration binding (None when not registered).
        self.binding: Binding[ClientAgent] | None = None
        self.legs: dict[str, Leg] = {}
        self.discarded = False
        self.disconnected_at: float | None = None
        self.driver = UserAgentDriver(
            self.ua,
            on_event=self._dispatch,
            writer=self._write,
            max_rounds=_MAX_PUMP_ROUNDS,
            loop=server.loop,
        )
        self._grace: asyncio.TimerHandle | None = None

    @property
    def authenticated(self) -> bool:
        """Whether a REGISTER on this agent passed the digest check."""
        return self.user is not None

    @property
    def user_name(self) -> str | None:
        """The SIP user name this agent authenticated as."""
        return self.user.sip_username if self.user is not None else None

    @property
    def live_legs(self) -> list[Leg]:
        """The legs whose calls have not ended."""
        return [leg for leg in self.legs.values() if not leg.ended]

    def now(self) -> float:
        """The agent's clock: the event loop's monotonic time."""
        return self.server.now()

    # -- inputs ---------------------------------------------------------------------------------------

    def receive(self, data: str | bytes) -> None:
        """Process one SIP message received on the agent's connection."""
        if self.discarded:
            return
        self.driver.receive_data(data)

    def act(self, action: Callable[[UserAgent, float], object], what: str) -> bool:
        """Run one user-agent API call, then pump; False (logged) when the user agent refused it."""
        if self.discarded:
            return False
        try:
            self.driver.act(action)
        except ProtocolError as exc:
            log.debug("agent %s: %s refused: %s", self.id, what, exc)
            return False
        return True

    def respond(
        self,
        handle: str,
        status_code: int,
        *,
        reason: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> bool:
        """Answer a request delivered as RequestReceived (REGISTER)."""
        return self.act(
            lambda ua, now: ua.respond(handle, status_code, now, reason=reason, headers=headers),
            f"respond {status_code} to {handle}",
        )

    def invite(
        self,
        target: Uri,
        sdp: str,
        listener: CallListener,
        *,
        headers: Iterable[tuple[str, str]] = (),
        from_uri: SipUri | None = None,
        from_display: str | None = None,
        to_display: str | None = None,
        call_id: str | None = None,
    ) -> Leg | None:
        """Call the client (an INVITE from the sandbox); None when the user agent refused."""
        if self.discarded:
            return None
        try:
            handle = self.ua.invite(
                target,
                self.now(),
                sdp=sdp,
                headers=headers,
                from_uri=from_uri,
                from_display=from_display,
                to_display=to_display,
                call_id=call_id,
            )
            call_id_used = self.ua.call_info(handle).call_id
        except ProtocolError as exc:
            log.warning("agent %s: INVITE refused by the user agent: %s", self.id, exc)
            self.pump()
            return None
        leg = Leg(self, handle, call_id_used, listener)
        self.legs[handle] = leg
        self.pump()
        return leg

    def ping(self, target: SipUri) -> None:
        """Send an OPTIONS keep-alive to the client (its answer is not needed)."""
        self.act(
            lambda ua, now: ua.send_request("OPTIONS", target, now, to=NameAddr(target)),
            "OPTIONS ping",
        )

    # -- the driver -----------------------------------------------------------------------------------

    def pump(self) -> None:
        """Send what the user agent queued, dispatch its events, re-arm the timer (see the docstring)."""
        self.driver.pump()

    def _write(self, message: bytes) -> None:
        if self.connection is None:
            log.debug("agent %s: a message dropped: no connection", self.id)
            return
        self.connection.send(message)

    def _dispatch(self, event: sip_events.Event) -> None:
        try:
            self._dispatch_unsafe(event)
        except Exception:
            log.exception("agent %s: handling %s failed", self.id, type(event).__name__)

    def _dispatch_unsafe(self, event: sip_events.Event) -> None:
        server = self.server
        if isinstance(event, sip_events.IncomingCall):
            incoming = Leg(self, event.call, event.request.call_id)
            self.legs[event.call] = incoming
            server.router.on_incoming(incoming, event)
        elif isinstance(event, sip_events.RequestReceived):
            if event.request.method == "REGISTER":
                server.registrar.on_register(self, event.handle, event.request)
            else:
                self.respond(event.handle, 405, headers=[("Allow", "INVITE, ACK, CANCEL, BYE, OPTIONS")])
        elif isinstance(event, sip_events.MessageRejected):
            server.log_event(
                "message_rejected",
                connection=self.connection.id if self.connection is not None else None,
                user=self.user_name,
                error=event.error,
                status=event.status_code,
            )
        elif isinstance(event, sip_events.RequestFailed):
            log.debug("agent %s: %s %s failed: %s", self.id, event.request.method, event.handle, event.reason)
            if event.request.method == "OPTIONS":
                server.log_event(
                    "options_failed", user=self.user_name, instance=self.instance_key, reason=event.reason
                )
        elif isinstance(event, sip_events.ResponseReceived | sip_events.RegistrationChanged):
            return
        else:
            handle: Any = getattr(event, "call", None)
            leg = self.legs.get(handle) if isinstance(handle, str) else None
            if leg is None:
                return
            if isinstance(event, sip_events.CallEnded):
                leg.ended = True
                self.legs.pop(handle, None)
            if leg.listener is not None:
                leg.listener.on_call_event(leg, event)

    # -- connection changes ---------------------------------------------------------------------------

    def attach(self, connection: Connection) -> None:
        """Make ``connection`` this agent's flow (a reconnect, or a takeover of a stale flow)."""
        self.connection = connection
        connection.agent = self
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        self.disconnected_at = None
        if not self.ua.connected:
            self.driver.transport_restored()
        else:
            self.pump()

    def connection_lost(self, grace_period: float, on_grace_over: Callable[[ClientAgent], None]) -> None:
        """The flow is gone: keep the calls for ``grace_period`` seconds, then ``on_grace_over(self)``."""
        self.connection = None
        self.disconnected_at = self.now()
        self.driver.transport_lost()
        if self._grace is not None:
            self._grace.cancel()
        self._grace = self.server.loop.call_later(grace_period, on_grace_over, self)

    def end_calls(self, reason: str) -> None:
        """Hang up every call of this agent; legs the user agent cannot end are ended locally."""
        for leg in list(self.live_legs):
            leg.hangup()
        for leg in list(self.live_legs):
            leg.ended = True
            self.legs.pop(leg.handle, None)
            if leg.listener is not None:
                ended = sip_events.CallEnded(leg.handle, sip_events.EndReason.TRANSPORT_ERROR, None, reason)
                try:
                    leg.listener.on_call_event(leg, ended)
                except Exception:
                    log.exception("agent %s: ending leg %s failed", self.id, leg.handle)

    def discard(self) -> None:
        """Forget this agent: cancel its timers (end its calls first with :meth:`end_calls`)."""
        self.discarded = True
        self.driver.close()
        if self._grace is not None:
            self._grace.cancel()
        self._grace = None
