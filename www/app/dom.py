"""Small, typed helpers over the browser DOM for the demo pages (runs in Pyodide).

- :func:`by_id`, :func:`make`, :func:`icon`, :func:`set_hidden`, :func:`clear`: find, build and show
  elements without repeating ``js.document`` calls everywhere.
- :func:`load_json` / :func:`save_json`: small preferences in ``localStorage`` (never raising).
- :class:`Listeners`: attaches Python handlers (sync or ``async``) to DOM events (and defers SDK event
  handlers to the next loop turn, :meth:`Listeners.deferred`). It owns every JS proxy
  it creates (destroyed in :meth:`Listeners.dispose`), runs coroutine handlers as tasks it keeps, and
  sends any exception a handler raises to one ``on_error`` callback, so a failing click becomes a message
  on the page and never an uncaught error.
"""

from __future__ import annotations

import asyncio
import inspect
import json
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsProxy, create_proxy, jsnull, to_js

__all__ = [
    "SVG_NS",
    "Listeners",
    "by_id",
    "clear",
    "clock_time",
    "closest",
    "icon",
    "load_json",
    "make",
    "nullable",
    "query",
    "save_json",
    "set_hidden",
]

SVG_NS = "http://www.w3.org/2000/svg"


def nullable(value: Any) -> Any:
    """``value``, or None for JS ``null`` and ``undefined`` (Pyodide gives ``null`` as a falsy ``jsnull``,
    which is not ``None``)."""
    return None if value is None or value is jsnull else value


def query(root: Any, selector: str) -> Any:
    """``root.querySelector(selector)``, or None when nothing matches."""
    return nullable(root.querySelector(selector))


def by_id(element_id: str) -> Any:
    """The element with id ``element_id``; LookupError naming it when the page has none."""
    element = nullable(js.document.getElementById(element_id))
    if element is None:
        raise LookupError(f"the page has no element with id {element_id!r}")
    return element


def make(tag: str, class_name: str | None = None, text: str | None = None, **attributes: str) -> Any:
    """A new ``<tag>`` with an optional class, text content and attributes (``data_x`` → ``data-x``)."""
    element = js.document.createElement(tag)
    if class_name:
        element.className = class_name
    if text is not None:
        element.textContent = text
    for name, value in attributes.items():
        element.setAttribute(name.replace("_", "-"), value)
    return element


def icon(name: str, class_name: str = "icon") -> Any:
    """An inline ``<svg>`` showing the page's ``<symbol id="i-<name>">`` sprite entry."""
    svg = js.document.createElementNS(SVG_NS, "svg")
    svg.setAttribute("class", class_name)
    svg.setAttribute("viewBox", "0 0 24 24")
    svg.setAttribute("aria-hidden", "true")
    use = js.document.createElementNS(SVG_NS, "use")
    use.setAttribute("href", f"#i-{name}")
    svg.appendChild(use)
    return svg


def closest(event: Any, selector: str) -> Any:
    """The nearest ancestor-or-self of ``event.target`` matching ``selector``; None when there is none."""
    target = nullable(event.target)
    if target is None or not hasattr(target, "closest"):
        return None
    return nullable(target.closest(selector))


def clock_time(epoch_seconds: float, *, seconds: bool = False) -> str:
    """``14:03`` (or ``14:03:27``) in the browser's own time zone (Python in Pyodide only knows UTC)."""
    fields = {"hour": "2-digit", "minute": "2-digit", **({"second": "2-digit"} if seconds else {})}
    options = to_js(fields, dict_converter=js.Object.fromEntries)
    return str(js.Date.new(epoch_seconds * 1000).toLocaleTimeString(js.undefined, options))


def set_hidden(element: Any, hidden: bool) -> None:
    """Show or hide ``element`` (the ``hidden`` attribute)."""
    element.hidden = hidden


def clear(element: Any) -> None:
    """Remove every child of ``element``."""
    element.replaceChildren()


def load_json(key: str) -> object:
    """The JSON value stored under ``key`` in ``localStorage``; None when absent, unreadable or blocked."""
    try:
        raw = js.window.localStorage.getItem(key)
    except Exception:  # storage disabled (privacy settings, sandboxed iframe)
        return None
    if raw is None:
        return None
    try:
        return json.loads(str(raw))
    except ValueError:
        return None


def save_json(key: str, value: object) -> None:
    """Store ``value`` as JSON under ``key`` in ``localStorage`` (silently skipped when blocked or full)."""
    try:
        js.window.localStorage.setItem(key, json.dumps(value))
    except Exception:  # storage disabled or quota exceeded: the page works without it
        return


Handler = Callable[[Any], object]
"""A DOM event handler: takes the JS event; may return a coroutine (run as a task)."""


class Listeners:
    """DOM event listeners owned by one page object.

    Args:
        on_error: called with any exception a handler (or the task of an ``async`` handler) raised.
    """

    def __init__(self, on_error: Callable[[BaseException], None]) -> None:
        self._on_error = on_error
        self._bound: list[tuple[Any, str, JsProxy]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    def on(self, target: Any, event: str, handler: Handler) -> None:
        """Call ``handler(event)`` on every ``event`` of ``target`` (an element, ``window``...)."""
        proxy = create_proxy(lambda js_event: self._run(handler, js_event))
        target.addEventListener(event, proxy)
        self._bound.append((target, event, proxy))

    def deferred(self, handler: Callable[..., object]) -> Callable[..., None]:
        """``handler`` wrapped to run on the next turn of the event loop, for SDK event handlers.

        The SDK emits its events from inside its SIP pump and re-arms its timer afterwards; a handler
        that redraws the page there delays that pump. Deferring keeps the SDK's turn short and the
        events' order. Exceptions (and failed coroutines) go to ``on_error``.
        """

        def schedule(*args: Any) -> None:
            asyncio.get_event_loop().call_soon(self._call, handler, args)

        return schedule

    def _call(self, handler: Callable[..., object], args: tuple[Any, ...]) -> None:
        try:
            result = handler(*args)
        except Exception as error:
            self._on_error(error)
            return
        if inspect.isawaitable(result):
            self.spawn(result)

    def spawn(self, coroutine: Any) -> asyncio.Task[Any]:
        """Run ``coroutine`` as a task whose failure goes to ``on_error`` (the task is kept until done)."""
        task: asyncio.Task[Any] = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)
        return task

    def _run(self, handler: Handler, js_event: Any) -> None:
        self._call(handler, (js_event,))

    def _task_done(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        error = task.exception()
        if error is not None:
            self._on_error(error)

    def dispose(self) -> None:
        """Remove every listener and destroy its proxy; cancel running handler tasks."""
        for target, event, proxy in self._bound:
            target.removeEventListener(event, proxy)
            proxy.destroy()
        self._bound.clear()
        for task in list(self._tasks):
            task.cancel()
