"""Task tracking: the background tasks one object starts, kept alive, reported and cancelled together.

asyncio keeps only weak references to tasks, so a task nobody holds may vanish mid-flight. Every object
of the SDK (and the sandbox's SIP server) that starts work in the background holds a :class:`TaskSet`:
:meth:`TaskSet.spawn` keeps the task until it is done; a task that fails is handed to the set's
``on_failure`` policy (log it, report it as an ``error`` event...); :meth:`TaskSet.cancel_all` ends them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

__all__ = ["TaskSet"]

T = TypeVar("T")


class TaskSet:
    """The live background tasks of one owner.

    Args:
        on_failure: called with a task that failed and its exception (not for a cancellation). None: the
            exception is left to asyncio, which logs it when the task is collected.
    """

    def __init__(
        self, on_failure: Callable[[asyncio.Future[Any], BaseException], None] | None = None
    ) -> None:
        self._tasks: set[asyncio.Future[Any]] = set()
        self._on_failure = on_failure

    def spawn(self, work: Awaitable[T], *, name: str | None = None) -> asyncio.Future[T]:
        """Run ``work`` in the background and keep it until it is done."""
        task: asyncio.Future[T] = asyncio.ensure_future(work)
        if name is not None and isinstance(task, asyncio.Task):
            task.set_name(name)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if self._on_failure is None or task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._on_failure(task, exc)

    def pending(self) -> set[asyncio.Future[Any]]:
        """The tasks not finished yet."""
        return {task for task in self._tasks if not task.done()}

    def cancel_all(self) -> None:
        """Cancel every task still running."""
        for task in list(self._tasks):
            task.cancel()

    def __iter__(self) -> Iterator[asyncio.Future[Any]]:
        return iter(list(self._tasks))

    def __len__(self) -> int:
        return len(self._tasks)
