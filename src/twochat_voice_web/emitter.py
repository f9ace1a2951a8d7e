"""A small event emitter for Device and Call: ``on``/``off``/``once`` with sync or async handlers.

Handlers run in registration order. A handler returning an awaitable is scheduled as an asyncio task (the
SDK keeps a reference until it finishes). An exception in a handler never breaks the SDK: it is logged
(and async ones are logged when they finish).
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any

from .errors import ErrorCode, VoiceSDKError
from .tasks import TaskSet

__all__ = ["EventEmitter", "Handler"]

_log = logging.getLogger("twochat_voice_web")

Handler = Callable[..., Any]


def _handler_failed(_task: object, exc: BaseException) -> None:
    _log.error("an async event handler raised", exc_info=exc)


class EventEmitter:
    """Named events with sync or async handlers."""

    #: The event names this emitter may emit; ``on`` refuses others to catch typos early.
    EVENTS: frozenset[str] = frozenset()

    def __init__(self) -> None:
        self._handlers: dict[str, list[tuple[Handler, bool]]] = {}
        self._tasks = TaskSet(on_failure=_handler_failed)

    def on(self, event: str, handler: Handler) -> Handler:
        """Call ``handler`` every time ``event`` is emitted; returns the handler.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown event name or a handler that is not callable.
        """
        self._check(event, handler)
        self._handlers.setdefault(event, []).append((handler, False))
        return handler

    def once(self, event: str, handler: Handler) -> Handler:
        """Call ``handler`` the next time ``event`` is emitted only (errors as :meth:`on`)."""
        self._check(event, handler)
        self._handlers.setdefault(event, []).append((handler, True))
        return handler

    def off(self, event: str, handler: Handler | None = None) -> None:
        """Remove ``handler`` (or every handler of ``event`` when None)."""
        if handler is None:
            self._handlers.pop(event, None)
            return
        self._handlers[event] = [(h, o) for h, o in self._handlers.get(event, []) if h is not handler]

    def remove_all_listeners(self) -> None:
        """Remove every handler of every event."""
        self._handlers.clear()

    def listener_count(self, event: str | None = None) -> int:
        """How many handlers are registered (for one event, or in total)."""
        if event is not None:
            return len(self._handlers.get(event, []))
        return sum(len(v) for v in self._handlers.values())

    def emit(self, event: str, *args: Any) -> None:
        """Call the handlers of ``event`` with ``args``."""
        handlers = self._handlers.get(event)
        if not handlers:
            return
        self._handlers[event] = [(h, o) for h, o in handlers if not o]
        for handler, _once in handlers:
            try:
                result = handler(*args)
            except Exception:
                _log.exception("a %r handler raised", event)
                continue
            if inspect.isawaitable(result):
                self._tasks.spawn(result)

    def _check(self, event: str, handler: Handler) -> None:
        if not callable(handler):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "an event handler must be callable")
        if self.EVENTS and event not in self.EVENTS:
            known = ", ".join(sorted(self.EVENTS))
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"unknown event {event!r}; {type(self).__name__} emits: {known}"
            )
