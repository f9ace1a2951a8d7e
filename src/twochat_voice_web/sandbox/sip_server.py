"""The sandbox's SIP server: SIP over WebSocket at ``/sip``, registrar, router, test numbers, call control.

``create_app`` calls :func:`setup_app` (the plugin hook). Everything runs on the application's event loop
and uses this package's sans-I/O SIP core in the server role — one :class:`~.sip_agent.ClientAgent`
(a :class:`~twochat_voice_web.sip.useragent.UserAgent`) per client instance. The parts:

* :mod:`.sip_agent` — WebSocket connections and the per-client user agents (driver, reconnects);
* :mod:`.registrar` — digest-authenticated REGISTER and the bindings;
* :mod:`.router` — what a client's INVITE reaches, and the back-to-back bridge between users;
* :mod:`.numbers` — the test numbers; :mod:`.caller` — calls placed by ``POST /sandbox/calls``.

None of them imports this module: each names what it uses of the server through a door (a ``Protocol``
that :class:`SipServer` satisfies): :class:`~.hub.SandboxHub` and its extensions
:class:`~.sip_agent.AgentHost`, :class:`~.registrar.RegistrarHost` and :class:`~.sip_calls.SandboxCallHost`.

Endpoints
=========

``GET /sip``
    WebSocket, subprotocol ``sip`` (RFC 7118), one SIP message per frame (text or binary; we send text).
    A plain GET gets 426; a handshake without the ``sip`` subprotocol gets 400 (not upgraded).
``POST /sandbox/calls``
    JSON ``{"to": user name | uuid | caller-ID number, "from"?: number or SIP user (default +15550199),
    "display"?: str, "headers"?: {"X-2Chat-...": str}, "media"?: "tone" | "silence" | "echo",
    "hangup_after"?: s, "answer_timeout"?: s}`` → ``{"success", "call_id", "status": "calling", "to",
    "registrations"}``. 404 unknown user, 409 user not registered, 400 bad body.
``GET /sandbox/calls``
    ``{"calls": [{"call_id", "call_type", "state", "started_at", "answered_at", ...}]}`` (live calls).
``DELETE /sandbox/calls/{call_id}``
    The sandbox side hangs up (CANCEL before the answer, BYE after; 603 for an unanswered test-number
    call). 404 when no such live call.
``GET /sandbox/registrations``
    ``{"registrations": [{"user", "sip_username", "instance", "reg_id", "contact", "expires",
    "expires_in", "connection", "calls"}]}``.
``POST /sandbox/drop``
    ``{"user", "instance"?, "mode"?: "abort" (default: TCP reset, like a network loss) | "close"}`` →
    ``{"success", "dropped": n}``: drops the user's SIP WebSocket(s) to simulate network loss.
``POST /sandbox/inject`` (only with ``--test-hooks``)
    ``{"user", "raw": "<SIP message text>", "instance"?}`` → ``{"success", "sent": n}``: writes ``raw`` as
    one text frame to the user's WebSocket(s), bypassing the SIP stack (hostile-input tests).

Event log kinds (``GET /sandbox/events``; every call event has ``call_id`` — the SIP Call-ID of the
client's leg, which every leg of a bridged or forked call shares — and ``call_type``):
``connection_opened`` (``connection``, ``peer``, ``path``), ``connection_closed`` (``connection``,
``user``, ``instance``, ``calls``),
``connection_replaced``, ``reconnected`` (``user``, ``instance``, ``connection``, ``calls``,
``offline_s``), ``grace_expired``, ``register`` (``user``, ``sip_username``, ``instance``, ``reg_id``,
``contact``, ``expires``, ``refresh``, ``reconnect``, ``connection``), ``register_rejected`` (``user``,
``status``, ``reason``), ``unregister`` (``user``, ``instance``, ``reason``: ``expires=0`` |
``contact-star`` | ``expired`` | ``connection_closed`` | ``replaced``), ``message_rejected``,
``call_started`` (``from``, ``to``, ``number`` / ``user`` / ``callee``; test numbers: ``offer_candidates``),
``negotiated`` (``codec``, ``offered``, ``answered``, ``client_opus_fmtp``, ``client_candidates``: see
:func:`.sip_calls.negotiation_report`), ``ringing`` (``status_code``,
``early_media``), ``answered`` (``by``), ``confirmed`` (the ACK), ``rejected`` (``status``, ``reason``),
``cancel`` (``by``), ``bye`` (``who``), ``call_ended`` (``reason``, ``status``), ``reinvite``
(``method``, ``by``, ``direction``, ``on_hold``, ``ice_restart``, ``status``), ``hold`` (``direction``,
``on_hold``, ``by``), ``dtmf`` (``digit``, ``transport``: ``rfc4733`` | ``info``, ``digits``; test numbers:
``call_state``), ``info``,
``audio_level`` (``rms_avg``, ``rms_max``, ``frames``, ``level_avg``, ``level_max``, ``window_s``,
every second per media call), ``media_state``, ``ice_restart``, ``media_error``, ``options_failed``.

Reconnects: when a client's WebSocket closes, its bindings go at once; its agent keeps its calls for
``grace_period`` (60 s). A new connection that registers the same user and ``+sip.instance`` takes the
agent over: in-dialog requests for the old calls work on the new connection, and requests from the far
side reach it there. A client that does not come back has its calls ended (BYE to the other party).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
from collections.abc import Coroutine
from typing import Any

from aiohttp import WSMsgType, web

from twochat_voice_web.sip.errors import ProtocolError
from twochat_voice_web.sip.headers import Headers
from twochat_voice_web.sip.uri import SipUri
from twochat_voice_web.sip.useragent import UserAgentConfig
from twochat_voice_web.tasks import TaskSet

from .caller import MEDIA_KINDS, SandboxCall
from .hub import SipServerSettings
from .numbers import normalize_number
from .registrar import Registrar
from .rest import error_response
from .router import Router
from .sip_agent import ClientAgent, Connection
from .sip_calls import CallRecord
from .state import STATE_KEY, SandboxState, UserAccount
from .ws_urls import SECOND_WS_PATH, add_ws_url_routes

__all__ = ["PLUGIN_NAME", "SIP_SERVER_KEY", "SIP_SUBPROTOCOL", "SipServer", "SipServerSettings", "setup_app"]

log = logging.getLogger("twochat_voice_web.sandbox.sip")

PLUGIN_NAME = "sip_server"
"""Key of the server in ``state.extras``."""

SIP_SUBPROTOCOL = "sip"
"""The WebSocket subprotocol of SIP (RFC 7118)."""

DEFAULT_CALLER = "+15550199"
"""The caller number of ``POST /sandbox/calls`` when none is given."""


def _task_failed(task: asyncio.Future[Any], exc: BaseException) -> None:
    name = task.get_name() if isinstance(task, asyncio.Task) else repr(task)
    log.error("sandbox SIP task %s failed", name, exc_info=exc)


class SipServer:
    """The SIP side of the sandbox (one per application, in ``state.extras["sip_server"]``).

    Args:
        state: the sandbox state (users, event log, config).
        test_hooks: enable ``POST /sandbox/inject``.
    """

    def __init__(self, state: SandboxState, *, test_hooks: bool = False) -> None:
        self.state = state
        self.test_hooks = test_hooks
        self.settings = SipServerSettings()
        self.registrar = Registrar(self)
        self.router = Router(self)
        self.connections: dict[str, Connection] = {}
        #: Authenticated client agents by (SIP user name, instance key).
        self.agents: dict[tuple[str, str], ClientAgent] = {}
        #: Live calls by key (their Call-ID, suffixed on a clash).
        self.calls: dict[str, CallRecord] = {}
        self.closing = False
        self._tasks = TaskSet(on_failure=_task_failed)
        self._connection_ids = itertools.count(1)
        self._agent_ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._keepalive: asyncio.Task[None] | None = None

    # -- basics ---------------------------------------------------------------------------------------

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        return self._loop

    def now(self) -> float:
        """The SIP clock: the event loop's monotonic time."""
        return self.loop.time()

    def user_agent_config(self, port: int) -> UserAgentConfig:
        """The configuration of a server-role user agent for a client connected to ``port``."""
        domain = self.state.sip_domain
        return UserAgentConfig(
            aor=SipUri("sip", "sandbox", host=domain),
            display_name="2Chat Sandbox",
            transport="WS",
            via_host=f"127.0.0.1:{port}" if port else "127.0.0.1",
            contact_uri=SipUri("sip", "sandbox", None, "127.0.0.1", port or None, (("transport", "ws"),)),
            passthrough_methods=frozenset({"REGISTER"}),
            user_agent="twochat-sandbox",
        )

    def log_event(self, kind: str, /, **fields: Any) -> None:
        """Append to the sandbox event log (and the debug log)."""
        log.debug("event %s %s", kind, fields)
        self.state.events.append(kind, **fields)

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Future[Any]:
        """Run ``coro`` as a tracked task: its exception is logged here, it is cancelled at shutdown."""
        return self._tasks.spawn(coro, name=name)

    # -- calls registry -------------------------------------------------------------------------------

    def register_call(self, record: CallRecord) -> None:
        """Add a live call (``GET /sandbox/calls``)."""
        key = record.call_id
        n = 1
        while key in self.calls:
            n += 1
            key = f"{record.call_id}#{n}"
        record.key = key
        self.calls[key] = record

    def unregister_call(self, record: CallRecord) -> None:
        """Remove a call that ended."""
        if self.calls.get(record.key) is record:
            del self.calls[record.key]

    # -- agents and connections -----------------------------------------------------------------------

    def new_agent(self, connection: Connection) -> ClientAgent:
        """A fresh, unauthenticated agent for ``connection``."""
        agent = ClientAgent(self, f"a{next(self._agent_ids)}", connection.local_port)
        agent.connection = connection
        return agent

    def owner_for(self, agent: ClientAgent, user: UserAccount, instance_key: str) -> ClientAgent | None:
        """The agent that owns (user, instance) once ``agent``'s REGISTER succeeds; None: refuse (403).

        An existing agent of that instance wins (the connection will be transferred to it by
        :meth:`transfer`); otherwise ``agent`` is named by it.
        """
        key = (user.sip_username, instance_key)
        existing = self.agents.get(key)
        if existing is agent:
            return agent
        if existing is not None and existing.discarded:
            del self.agents[key]
            existing = None
        if agent.instance_key is not None:
            if existing is not None:
                return None  # this flow already names another instance of ours
            self.agents.pop((user.sip_username, agent.instance_key), None)
        elif existing is not None:
            return None if agent.live_legs else existing
        agent.user = user
        agent.instance_key = instance_key
        self.agents[key] = agent
        return agent

    def transfer(self, connection: Connection, owner: ClientAgent) -> None:
        """Attach ``connection`` to the existing agent ``owner`` (a client instance came back)."""
        temporary = connection.agent
        previous = owner.connection
        if previous is not None and previous is not connection:
            # The same instance on a new flow: the old flow is stale (RFC 5626 §6). Give the old
            # connection a fresh agent and close it; its close then touches nothing of ours.
            previous.agent = self.new_agent(previous)
            owner.connection = None
            self.log_event("connection_replaced", connection=previous.id, by=connection.id)
            self.spawn(previous.close(1000, "replaced by a new connection"), f"close {previous.id}")
        offline = None if owner.disconnected_at is None else round(self.now() - owner.disconnected_at, 3)
        owner.attach(connection)
        if temporary is not owner:
            temporary.discard()
        self.log_event(
            "reconnected",
            user=owner.user_name,
            instance=owner.instance_key,
            connection=connection.id,
            calls=len(owner.live_legs),
            offline_s=offline,
        )

    def connection_closed(self, connection: Connection) -> None:
        """A WebSocket ended: drop its binding; keep the agent's calls for the grace period."""
        connection.mark_closed()
        self.connections.pop(connection.id, None)
        agent = connection.agent
        if agent.connection is not connection or agent.discarded:
            return
        if agent.binding is not None:
            self.registrar.remove(agent.binding, "connection_closed")
        calls = len(agent.live_legs)
        self.log_event(
            "connection_closed",
            connection=connection.id,
            user=agent.user_name,
            instance=agent.instance_key,
            calls=calls,
        )
        if calls and agent.authenticated and not self.closing:
            agent.connection_lost(self.settings.grace_period, self._grace_over)
        else:
            agent.connection = None
            agent.end_calls("connection closed")
            self._forget(agent)

    def _grace_over(self, agent: ClientAgent) -> None:
        if agent.discarded or agent.connection is not None:
            return
        self.log_event(
            "grace_expired", user=agent.user_name, instance=agent.instance_key, calls=len(agent.live_legs)
        )
        agent.end_calls("the client did not reconnect")
        self._forget(agent)

    def _forget(self, agent: ClientAgent) -> None:
        if agent.user is not None and agent.instance_key is not None:
            key = (agent.user.sip_username, agent.instance_key)
            if self.agents.get(key) is agent:
                del self.agents[key]
        if agent.binding is not None:
            self.registrar.remove(agent.binding, "connection_closed")
        agent.discard()

    def connections_of(self, user: UserAccount, instance: str | None = None) -> list[Connection]:
        """The open connections authenticated as ``user`` (optionally of one instance)."""
        return [
            c
            for c in self.connections.values()
            if not c.closed
            and c.agent.user is user
            and (instance is None or c.agent.instance_key == instance)
        ]

    # -- keep-alive -----------------------------------------------------------------------------------

    async def _keepalive_loop(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            for agent in list(self.agents.values()):
                binding = agent.binding
                if (
                    binding is not None
                    and agent.connection is not None
                    and isinstance(binding.contact.uri, SipUri)
                ):
                    agent.ping(binding.contact.uri)

    # -- application hooks ----------------------------------------------------------------------------

    async def on_startup(self, app: web.Application) -> None:
        """Remember the loop; start the OPTIONS keep-alive."""
        self._loop = asyncio.get_running_loop()
        interval = self.settings.options_interval
        if interval is not None and interval > 0:
            self._keepalive = self.loop.create_task(self._keepalive_loop(interval), name="sip keep-alive")

    async def on_shutdown(self, app: web.Application) -> None:
        """Close every WebSocket and media endpoint quickly; leave no task behind."""
        self.closing = True
        if self._keepalive is not None:
            self._keepalive.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._keepalive
            self._keepalive = None
        records = list(self.calls.values())
        for record in records:
            record.finish()
        for agent in {
            id(a): a for a in [*self.agents.values(), *(c.agent for c in self.connections.values())]
        }.values():
            if agent.binding is not None and agent.binding.timer is not None:
                agent.binding.timer.cancel()
            agent.discard()
        connections = list(self.connections.values())
        if connections:
            await asyncio.gather(*(c.close(1001, "sandbox shutting down") for c in connections))
        await asyncio.gather(*(record.close() for record in records), return_exceptions=True)
        await self._drain_tasks(timeout=3.0)

    async def _drain_tasks(self, *, timeout: float) -> None:
        pending = self._tasks.pending()
        if pending:
            _done, pending = await asyncio.wait(pending, timeout=timeout)
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)

    # -- the WebSocket endpoint -----------------------------------------------------------------------

    async def websocket(self, request: web.Request) -> web.StreamResponse:
        """``GET /sip``: SIP over WebSocket."""
        settings = self.settings
        ws = web.WebSocketResponse(
            protocols=(SIP_SUBPROTOCOL,),
            timeout=settings.ws_close_timeout,
            heartbeat=settings.ws_heartbeat,
            max_msg_size=settings.max_frame_bytes,
        )
        ready = ws.can_prepare(request)
        if not ready.ok:
            return web.Response(
                status=426,
                text="A SIP-over-WebSocket endpoint (RFC 7118): open a WebSocket with subprotocol 'sip'.\n",
                headers={"Upgrade": "websocket", "Connection": "Upgrade"},
            )
        if ready.protocol != SIP_SUBPROTOCOL:
            return web.Response(status=400, text="WebSocket subprotocol 'sip' is required (RFC 7118).\n")
        if self.closing:
            return web.Response(status=503, text="The sandbox is shutting down.\n")
        await ws.prepare(request)
        connection = Connection(self, f"c{next(self._connection_ids)}", ws, request)
        self.connections[connection.id] = connection
        self.log_event("connection_opened", connection=connection.id, peer=connection.peer, path=request.path)
        writer = self.loop.create_task(connection.writer(), name=f"sip writer {connection.id}")
        try:
            async for message in ws:
                if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    try:
                        connection.frame_received(message.data)
                    except Exception:
                        log.exception("connection %s: frame handling failed", connection.id)
                elif message.type is WSMsgType.ERROR:
                    break
        except Exception as exc:  # reset by peer and the like: the connection is simply over
            log.debug("connection %s ended: %r", connection.id, exc)
        finally:
            try:
                self.connection_closed(connection)
            except Exception:
                log.exception("connection %s: clean-up failed", connection.id)
            connection.mark_closed()
            try:
                await asyncio.wait_for(writer, 2.0)
            except (TimeoutError, asyncio.CancelledError):
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            except Exception:
                log.debug("connection %s: writer ended with an error", connection.id, exc_info=True)
        return ws

    # -- HTTP control endpoints -----------------------------------------------------------------------

    async def post_calls(self, request: web.Request) -> web.Response:
        """``POST /sandbox/calls``."""
        body = await _json_object(request)
        if body is None:
            return error_response(400, "the body must be a JSON object")
        to = body.get("to")
        if not isinstance(to, str) or not to.strip():
            return error_response(400, "'to' must name a user (name, uuid or caller-ID number)")
        user = self.router.find_user(to.strip())
        if user is None:
            return error_response(404, f"no sandbox user {to!r}")
        try:
            from_uri = self._caller_uri(body.get("from", DEFAULT_CALLER))
            display = _optional_str(body, "display")
            headers = _x2chat_headers(body.get("headers", {}))
            media_name = body.get("media", "tone")
            if media_name not in MEDIA_KINDS:
                raise ValueError(f"'media' must be one of {sorted(MEDIA_KINDS)}")
            answer_timeout = _seconds(body, "answer_timeout", self.settings.answer_timeout)
            hangup_after = _seconds(body, "hangup_after", None)
        except (ValueError, ProtocolError) as exc:
            return error_response(400, str(exc))
        registrations = self.registrar.bindings_for(user)
        if not registrations:
            return error_response(409, f"{user.name} has no SIP registration (a call would get 480)")
        call = SandboxCall(
            self,
            user,
            from_uri=from_uri,
            from_display=display,
            headers=headers,
            media=MEDIA_KINDS[str(media_name)],
            answer_timeout=answer_timeout if answer_timeout is not None else self.settings.answer_timeout,
            hangup_after=hangup_after,
        )
        call.start()
        return web.json_response(
            {
                "success": True,
                "call_id": call.call_id,
                "status": call.state,
                "to": user.name,
                "registrations": len(registrations),
            }
        )

    def _caller_uri(self, value: object) -> SipUri:
        if not isinstance(value, str) or not value.strip():
            raise ValueError("'from' must be a caller number or SIP user name")
        text = value.strip()
        number = normalize_number(text)
        user_part = number if number is not None else text
        try:
            return SipUri("sip", user_part, host=self.state.sip_domain)
        except ProtocolError as exc:
            raise ValueError(f"'from' is not usable as a SIP user: {exc}") from None

    async def get_calls(self, request: web.Request) -> web.Response:
        """``GET /sandbox/calls``."""
        return web.json_response({"calls": [c.describe() for c in self.calls.values()]}, dumps=_dumps)

    async def delete_call(self, request: web.Request) -> web.Response:
        """``DELETE /sandbox/calls/{call_id}``."""
        call_id = request.match_info["call_id"]
        record = self.calls.get(call_id)
        if record is None:
            return error_response(404, f"no live call {call_id!r}")
        record.hangup()
        return web.json_response({"success": True, "call_id": record.call_id, "status": record.state})

    async def get_registrations(self, request: web.Request) -> web.Response:
        """``GET /sandbox/registrations``."""
        now = self.now()
        return web.json_response(
            {"registrations": [b.describe(now) for b in self.registrar.all_bindings()]}, dumps=_dumps
        )

    def _user_from_body(self, body: dict[str, Any]) -> UserAccount | web.Response:
        name = body.get("user")
        if not isinstance(name, str) or not name.strip():
            return error_response(400, "'user' must name a user")
        user = self.router.find_user(name.strip())
        if user is None:
            return error_response(404, f"no sandbox user {name!r}")
        return user

    async def post_drop(self, request: web.Request) -> web.Response:
        """``POST /sandbox/drop``."""
        body = await _json_object(request)
        if body is None:
            return error_response(400, "the body must be a JSON object")
        user = self._user_from_body(body)
        if isinstance(user, web.Response):
            return user
        mode = body.get("mode", "abort")
        if mode not in ("abort", "close"):
            return error_response(400, "'mode' must be 'abort' or 'close'")
        instance = _optional_str(body, "instance")
        connections = self.connections_of(user, instance)
        for connection in connections:
            if mode == "abort":
                connection.abort()
            else:
                self.spawn(connection.close(1001, "dropped by the sandbox"), f"drop {connection.id}")
        return web.json_response({"success": True, "dropped": len(connections)})

    async def post_inject(self, request: web.Request) -> web.Response:
        """``POST /sandbox/inject`` (test hook)."""
        body = await _json_object(request)
        if body is None:
            return error_response(400, "the body must be a JSON object")
        user = self._user_from_body(body)
        if isinstance(user, web.Response):
            return user
        raw = body.get("raw")
        if not isinstance(raw, str) or not raw:
            return error_response(400, "'raw' must be a non-empty string (the frame to send)")
        connections = self.connections_of(user, _optional_str(body, "instance"))
        if not connections:
            return error_response(409, f"{user.name} has no open SIP connection")
        for connection in connections:
            connection.send_raw(raw)
        self.log_event("injected", user=user.name, connections=[c.id for c in connections], size=len(raw))
        return web.json_response({"success": True, "sent": len(connections)})


# -- helpers --------------------------------------------------------------------------------------------


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    try:
        body = await request.json()
    except (ValueError, UnicodeDecodeError):
        return None
    return body if isinstance(body, dict) else None


def _optional_str(body: dict[str, Any], name: str) -> str | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise ValueError(f"'{name}' must be a string")
    return value


def _seconds(body: dict[str, Any], name: str, default: float | None) -> float | None:
    value = body.get(name, default)
    if value is None:
        return None
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value <= 0
    ):
        raise ValueError(f"'{name}' must be a positive number of seconds")
    if value > 86_400:
        raise ValueError(f"'{name}' must be at most 86400 seconds")
    return float(value)


def _x2chat_headers(value: object) -> list[tuple[str, str]]:
    if not isinstance(value, dict):
        raise ValueError("'headers' must be an object of X-2Chat-* header names to string values")
    out: list[tuple[str, str]] = []
    for name, text in value.items():
        if not isinstance(name, str) or not name.lower().startswith("x-2chat-"):
            raise ValueError(f"header {name!r}: only X-2Chat-* headers may be set")
        if not isinstance(text, str):
            raise ValueError(f"header {name!r}: the value must be a string")
        out.append((name, text))
    Headers(out)  # validates names (tokens) and values (no CR, LF, NUL): LocalProtocolError
    return out


def _dumps(obj: object) -> str:
    return json.dumps(obj, default=str)


SIP_SERVER_KEY: web.AppKey[SipServer] = web.AppKey("twochat_sip_server", SipServer)
"""Where the :class:`SipServer` lives in the application (also ``state.extras["sip_server"]``)."""


def setup_app(app: web.Application) -> None:
    """Plugin hook: add the SIP server's routes and lifecycle callbacks to the sandbox application."""
    state = app[STATE_KEY]
    server = SipServer(state, test_hooks=state.config.test_hooks)
    state.extras[PLUGIN_NAME] = server
    app[SIP_SERVER_KEY] = server
    app.router.add_get(state.config.rest_paths.sip_ws, server.websocket)
    app.router.add_get(SECOND_WS_PATH, server.websocket)  # a second listener, for failover tests
    add_ws_url_routes(app)
    app.router.add_post("/sandbox/calls", server.post_calls)
    app.router.add_get("/sandbox/calls", server.get_calls)
    app.router.add_delete("/sandbox/calls/{call_id}", server.delete_call)
    app.router.add_get("/sandbox/registrations", server.get_registrations)
    app.router.add_post("/sandbox/drop", server.post_drop)
    if server.test_hooks:
        app.router.add_post("/sandbox/inject", server.post_inject)
    app.on_startup.append(server.on_startup)
    app.on_shutdown.append(server.on_shutdown)
