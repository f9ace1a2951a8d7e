"""Ownership of the JS proxies of Python callables (Pyodide ``create_proxy``).

Every Python callable handed to JavaScript in this package goes through here:

- :func:`listen` attaches a handler to an EventTarget and returns a :class:`Listener`; disposing it
  *removes the listener first, then destroys the proxy* (a destroyed proxy still attached turns the next
  event into an uncaught "Object has already been destroyed" page error).
- :class:`ProxyOwner` groups the listeners (and any other proxies) of one SDK object, so its close path
  releases all of them at once.
- A module-wide counter (:func:`live_proxies`) says how many proxies are alive, so tests can check that a
  call leaves nothing behind.

A bare Python callable must never be passed to ``addEventListener``: Pyodide wraps it in a *borrowed*
proxy that dies when the call returns, and every later event then fails silently (page error only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyodide.ffi import create_proxy

__all__ = ["Listener", "ProxyOwner", "create_owned_proxy", "listen", "live_proxies"]

_live_count = 0


def live_proxies() -> int:
    """How many proxies created here are alive (not yet destroyed)."""
    return _live_count


class OwnedProxy:
    """One ``create_proxy`` result, counted while alive; :meth:`destroy` is idempotent."""

    __slots__ = ("_proxy",)

    def __init__(self, function: Callable[..., Any]) -> None:
        global _live_count
        self._proxy: Any = create_proxy(function)
        _live_count += 1

    @property
    def js(self) -> Any:
        """The JS function (raises once destroyed)."""
        if self._proxy is None:
            raise RuntimeError("this proxy was destroyed")
        return self._proxy

    @property
    def alive(self) -> bool:
        """False once destroyed."""
        return self._proxy is not None

    def destroy(self) -> None:
        """Destroy the proxy (it must no longer be reachable from JavaScript)."""
        global _live_count
        if self._proxy is None:
            return
        proxy, self._proxy = self._proxy, None
        _live_count -= 1
        proxy.destroy()


def create_owned_proxy(function: Callable[..., Any]) -> OwnedProxy:
    """A counted proxy for ``function``; the caller destroys it once JavaScript cannot call it any more."""
    return OwnedProxy(function)


class Listener:
    """An event listener attached with a counted proxy. Implements the platform's ``Disposable``."""

    __slots__ = ("_event", "_on_dispose", "_proxy", "_target")

    def __init__(self, target: Any, event: str, handler: Callable[[Any], None]) -> None:
        self._target: Any = target
        self._event = event
        self._proxy: OwnedProxy | None = OwnedProxy(handler)
        self._on_dispose: Callable[[Listener], None] | None = None
        target.addEventListener(event, self._proxy.js)

    @property
    def event(self) -> str:
        """The event type listened to."""
        return self._event

    @property
    def active(self) -> bool:
        """True until disposed."""
        return self._proxy is not None

    def dispose(self) -> None:
        """Detach the listener, then destroy its proxy; idempotent."""
        proxy = self._proxy
        if proxy is None:
            return
        self._proxy = None
        try:
            self._target.removeEventListener(self._event, proxy.js)
        finally:
            proxy.destroy()
            self._target = None
            callback, self._on_dispose = self._on_dispose, None
            if callback is not None:
                callback(self)


def listen(target: Any, event: str, handler: Callable[[Any], None]) -> Listener:
    """Call ``handler(event)`` on every ``event`` of the EventTarget ``target`` until disposed."""
    return Listener(target, event, handler)


class ProxyOwner:
    """The proxies of one SDK object: listeners and raw proxies, all released by :meth:`close`.

    After :meth:`close`, new listeners are refused (an object being torn down must not re-attach).
    """

    def __init__(self, name: str) -> None:
        self.name = name
        self._listeners: list[Listener] = []
        self._proxies: list[OwnedProxy] = []
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran."""
        return self._closed

    @property
    def live(self) -> int:
        """How many proxies this owner holds."""
        return len(self._listeners) + len(self._proxies)

    def listen(self, target: Any, event: str, handler: Callable[[Any], None]) -> Listener:
        """Attach ``handler`` to ``target``'s ``event``; released by :meth:`close` or by disposing it."""
        if self._closed:
            raise RuntimeError(f"{self.name}: cannot add a listener after close()")
        listener = Listener(target, event, handler)
        listener._on_dispose = self._forget
        self._listeners.append(listener)
        return listener

    def proxy(self, function: Callable[..., Any]) -> OwnedProxy:
        """A raw counted proxy (for callbacks that are not event listeners), destroyed by :meth:`close`."""
        if self._closed:
            raise RuntimeError(f"{self.name}: cannot create a proxy after close()")
        owned = OwnedProxy(function)
        self._proxies.append(owned)
        return owned

    def _forget(self, listener: Listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def close(self) -> None:
        """Detach every listener, then destroy every proxy; idempotent."""
        self._closed = True
        listeners, self._listeners = self._listeners, []
        proxies, self._proxies = self._proxies, []
        for listener in listeners:
            listener._on_dispose = None
            listener.dispose()
        for owned in proxies:
            owned.destroy()
