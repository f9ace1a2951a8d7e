"""Runtime shims the demo pages install before using the SDK (each says why and when it can go).

:func:`lenient_past_deadlines` — CPython's asyncio runs a callback scheduled in the past
(``loop.call_at(when)`` with ``when < loop.time()``) at once; Pyodide's WebLoop raises
``ValueError("Can't schedule in the past")`` instead. The SDK's ``Device._arm_timer`` schedules the SIP
user agent's next deadline with ``call_at``; a deadline of "now" (RFC 3261 timers I/J/K are 0 on a
reliable transport) is already in the past a few milliseconds later, after the frame was processed, and
the error escapes from the WebSocket's message handler as an uncaught page error. The shim makes this
page's loop behave like CPython's: a negative delay means "as soon as possible". Remove it once the SDK
clamps its own deadlines (``call_later(max(0.0, deadline - loop.time()), ...)``).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import Callable
from typing import Any

__all__ = ["lenient_past_deadlines"]


def lenient_past_deadlines(loop: asyncio.AbstractEventLoop | None = None) -> None:
    """Make ``loop`` (default: the running page's) treat a negative ``call_later`` delay as 0."""
    target = loop or asyncio.get_event_loop()
    if getattr(target, "_twochat_lenient_deadlines", False):
        return
    original = target.call_later

    def call_later(
        delay: float,
        callback: Callable[..., Any],
        *args: Any,
        context: contextvars.Context | None = None,
    ) -> asyncio.TimerHandle:
        return original(max(0.0, delay), callback, *args, context=context)

    target.call_later = call_later  # type: ignore[method-assign,assignment]
    target._twochat_lenient_deadlines = True  # type: ignore[attr-defined]
