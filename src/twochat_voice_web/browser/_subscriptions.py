"""Python-level callback registrations (no JS proxy involved), disposable like listeners."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar

__all__ = ["Subscription"]

CallbackT = TypeVar("CallbackT", bound=Callable[..., Any])


class Subscription(Generic[CallbackT]):
    """``callback`` registered in ``callbacks`` until :meth:`dispose`; implements ``Disposable``."""

    __slots__ = ("_callback", "_callbacks")

    def __init__(self, callbacks: list[CallbackT], callback: CallbackT) -> None:
        self._callbacks: list[CallbackT] | None = callbacks
        self._callback = callback
        callbacks.append(callback)

    def dispose(self) -> None:
        """Stop calling the callback; idempotent."""
        if self._callbacks is not None and self._callback in self._callbacks:
            self._callbacks.remove(self._callback)
        self._callbacks = None
