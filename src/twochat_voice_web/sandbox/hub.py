"""The declared door between the sandbox's SIP server and its components: :class:`SandboxHub`.

The SIP server (:mod:`.sip_server`) is the composition root: it owns the client agents, the registrar,
the router and the live calls, and hands itself to each of them. The components never import it (not
even for type checking); each one names what it uses of the server through a ``Protocol`` that
:class:`~.sip_server.SipServer` satisfies structurally:

* :class:`SandboxHub` (here): what every component uses — the settings, the event loop and clock, the
  sandbox state, the event log and tracked tasks;
* :class:`~.sip_agent.AgentHost` adds what the per-client agents and connections call back into (the
  registrar and the router as REGISTER and INVITE handlers, the user-agent configuration, new agents);
* :class:`~.registrar.RegistrarHost` adds the table of client agents (:meth:`owner_for`, :meth:`transfer`);
* :class:`~.sip_calls.SandboxCallHost` adds the registrar's bindings and the registry of live calls.

A door lives with the module that needs it; this one sits below all of them. The import graph runs one
way: ``hub`` ← ``sip_agent`` ← ``registrar`` ← ``sip_calls`` ← ``numbers`` / ``caller`` ← ``router`` ←
``sip_server`` (``tests/test_code_quality.py`` checks that the package has no cycle, type-only imports
included).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from .state import SandboxState

__all__ = ["SandboxHub", "SipServerSettings"]


@dataclass
class SipServerSettings:
    """Tunables of the SIP server (mutable: tests shorten the timers before connecting).

    Attributes:
        grace_period: seconds a disconnected client's calls wait for it to reconnect.
        min_expires / max_expires / default_expires: registration interval policy (seconds).
        nonce_ttl: digest nonce lifetime (use ``registrar.set_nonce_ttl`` to change it later).
        hold_unauthenticated: seconds non-REGISTER frames of an unauthenticated connection wait for it
            to authenticate (see :mod:`.sip_agent`).
        max_held_frames: how many frames may wait that way.
        ring_timeout: seconds a user-to-user call may ring before 408 (None: forever).
        answer_timeout: default ``answer_timeout`` of ``POST /sandbox/calls``.
        ring_delay / hangup_delay / early_media_delay: the test numbers' 2 s / 3 s / 2 s.
        level_interval: seconds per ``audio_level`` event.
        options_interval: seconds between OPTIONS keep-alives to registered clients (None: off).
        ws_heartbeat: WebSocket ping interval (None: off).
        ws_close_timeout: how long a close handshake may take.
        max_frame_bytes: largest WebSocket frame accepted (bigger SIP messages get 513 from the parser
            below this; above it the WebSocket is closed with 1009).
    """

    grace_period: float = 60.0
    min_expires: int = 60
    max_expires: int = 3600
    default_expires: int = 3600
    nonce_ttl: float = 300.0
    hold_unauthenticated: float = 5.0
    max_held_frames: int = 32
    ring_timeout: float | None = 120.0
    answer_timeout: float = 60.0
    ring_delay: float = 2.0
    hangup_delay: float = 3.0
    early_media_delay: float = 2.0
    level_interval: float = 1.0
    options_interval: float | None = 30.0
    ws_heartbeat: float | None = 30.0
    ws_close_timeout: float = 1.0
    max_frame_bytes: int = 262_144


class SandboxHub(Protocol):
    """What every component of the SIP sandbox uses of the server (see the module docstring)."""

    @property
    def settings(self) -> SipServerSettings:
        """The server's tunables (mutable)."""

    @property
    def state(self) -> SandboxState:
        """The sandbox state: users, configuration, event log."""

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop the server runs on (timers are armed on it)."""

    @property
    def closing(self) -> bool:
        """Whether the server is shutting down (new calls are refused)."""

    def now(self) -> float:
        """The SIP clock: the event loop's monotonic time."""

    def log_event(self, kind: str, /, **fields: Any) -> None:
        """Append to the sandbox event log (``GET /sandbox/events``)."""

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Future[Any]:
        """Run ``coro`` as a task the server tracks (logged on failure, cancelled at shutdown)."""
