"""The one asyncio driver of the sans-I/O :class:`~twochat_voice_web.sip.UserAgent`.

Design
======
The user agent does no I/O and reads no clock: bytes and the time go in, bytes to send, events and one
deadline come out. :class:`UserAgentDriver` connects it to an asyncio event loop, as aioquic's
``QuicConnectionProtocol`` connects ``QuicConnection``:

* **Inputs.** :meth:`~UserAgentDriver.receive_data` (a frame from the transport),
  :meth:`~UserAgentDriver.act` (an API call, ``action(ua, now)``), :meth:`~UserAgentDriver.transport_lost`
  and :meth:`~UserAgentDriver.transport_restored`; the timer is the fourth. Each input passes the loop's
  monotonic time and is followed by one :meth:`~UserAgentDriver.pump`.
* **One pump.** :meth:`~UserAgentDriver.pump` writes ``data_to_send()`` to the writer, hands every event
  of ``events()`` to the owner's ``on_event`` and repeats until a round produces nothing, at most
  ``max_rounds`` rounds (a safety net against an owner that answers every event with another action).
  It is re-entrant safe: an ``on_event`` handler that acts on the same user agent while it is pumped
  only flags another round, so events are always handled in the order they were produced.
* **One timer.** After the pump, exactly one loop timer is armed at ``next_deadline()``. When it fires,
  the user agent is told the time ``max(now, deadline)`` (aioquic's rule: a loop that wakes a hair early
  must not make the deadline look unreached). The delay is never negative, because Pyodide's WebLoop
  refuses to schedule in the past, and the armed deadline is kept here, because Pyodide's timer handles
  have no ``when()``.
* **The writer.** ``writer`` is the transport's send function, or None while there is no transport: then
  the pump leaves the bytes queued inside the user agent (its ``transport_lost`` discards them anyway).

Users: the :class:`~twochat_voice_web.device.Device` (the browser's WebSocket), the sandbox's per-client
agents (:mod:`twochat_voice_web.sandbox.sip_agent`) and the SIP peers of the test suite.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from .sip.events import Event
from .sip.useragent import UserAgent

__all__ = ["DEFAULT_MAX_ROUNDS", "UserAgentDriver"]

T = TypeVar("T")

#: Pump rounds per input before the pump stops and waits for the next input.
DEFAULT_MAX_ROUNDS = 100


class UserAgentDriver:
    """Drives one :class:`UserAgent` on an asyncio loop: bytes and timers in, events out (see above).

    Args:
        ua: the sans-I/O user agent.
        on_event: called with every event, in order.
        writer: sends one SIP message on the transport; None while there is none (see :attr:`writer`).
        max_rounds: pump rounds per input (a safety net, see the module docstring).
        loop: the event loop (default: the running one, looked up when first needed).
    """

    def __init__(
        self,
        ua: UserAgent,
        *,
        on_event: Callable[[Event], None],
        writer: Callable[[bytes], None] | None = None,
        max_rounds: int = DEFAULT_MAX_ROUNDS,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self.ua = ua
        self.writer = writer
        self._on_event = on_event
        self._max_rounds = max_rounds
        self._loop = loop
        self._pumping = False
        self._again = False
        self._closed = False
        self._timer: asyncio.Handle | None = None
        self._timer_at: float | None = None

    # ------------------------------------------------------------------------------------ the clock

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        """The event loop whose monotonic clock and timers drive the user agent."""
        if self._loop is None:
            self._loop = asyncio.get_event_loop()
        return self._loop

    def now(self) -> float:
        """The user agent's clock: the loop's monotonic time, in seconds."""
        return self.loop.time()

    @property
    def closed(self) -> bool:
        """True after :meth:`close`: inputs are ignored and no timer is armed."""
        return self._closed

    # ------------------------------------------------------------------------------------ inputs

    def receive_data(self, data: bytes | str) -> None:
        """One message from the transport."""
        if self._closed:
            return
        self.ua.receive_data(data, self.now())
        self.pump()

    def act(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(ua, now)`` (a typed user-agent call), then pump, also when it raised."""
        try:
            return action(self.ua, self.now())
        finally:
            self.pump()

    def transport_lost(self) -> None:
        """The transport flow is gone (the user agent keeps its calls; see its docstring)."""
        self.act(lambda ua, now: ua.transport_lost(now))

    def transport_restored(self) -> None:
        """A new transport flow is up: the user agent re-registers and releases what it queued."""
        self.act(lambda ua, now: ua.transport_restored(now))

    # ------------------------------------------------------------------------------------ the pump

    def pump(self) -> None:
        """Write what the user agent queued, hand over its events, re-arm the timer (see above)."""
        if self._pumping:
            self._again = True
            return
        self._pumping = True
        try:
            for _ in range(self._max_rounds):
                self._again = False
                self.flush()
                events = self.ua.events()
                for event in events:
                    self._on_event(event)
                if not events and not self._again:
                    break
            self.flush()
        finally:
            self._pumping = False
        self._arm_timer()

    def flush(self) -> None:
        """Write what the user agent queued (nothing while :attr:`writer` is None)."""
        writer = self.writer
        if writer is None:
            return
        for data in self.ua.data_to_send():
            writer(data)
            if self.writer is not writer:  # the write failed and the owner dropped the transport
                return

    # ------------------------------------------------------------------------------------ the timer

    def _arm_timer(self) -> None:
        if self._closed:
            return
        deadline = self.ua.next_deadline()
        if self._timer is not None:
            if deadline is not None and self._timer_at is not None and abs(self._timer_at - deadline) < 1e-6:
                return
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            loop = self.loop
            self._timer = loop.call_later(max(0.0, deadline - loop.time()), self._on_timer)

    def _on_timer(self) -> None:
        due = self._timer_at if self._timer_at is not None else 0.0
        self._timer = None
        self._timer_at = None
        if self._closed:
            return
        self.ua.handle_timer(max(self.now(), due))
        self.pump()

    def cancel_timer(self) -> None:
        """Disarm the timer until the next pump (the owner paused the user agent)."""
        if self._timer is not None:
            self._timer.cancel()
        self._timer = None
        self._timer_at = None

    def close(self) -> None:
        """Stop for good: disarm the timer and ignore further inputs."""
        self._closed = True
        self.cancel_timer()
