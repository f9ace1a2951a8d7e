"""Tab coordination on the browser's own APIs: ``BroadcastChannel`` and the Web Locks API.

The logic lives in :mod:`twochat_voice_web.tabs` (pure Python); this module only gives it the two
primitives of the platform seam:

- :class:`BrowserTabChannel` (:meth:`BrowserPlatform.open_tab_channel`): one ``BroadcastChannel`` with one
  ``message`` listener (an owned, counted proxy); Python callbacks subscribe to it without new proxies.
  Messages are strings (JSON made by :mod:`~twochat_voice_web.tabs`), which structured cloning copies as they
  are.
- :class:`WebLockLeadership` (:meth:`BrowserPlatform.acquire_leadership`): ``navigator.locks.request(name,
  {mode: "exclusive", signal}, callback)``. The lock is held for as long as the promise the callback returns
  stays pending, so the callback returns a promise that only :meth:`WebLockLeadership.dispose` resolves. The
  promise, its resolver and the ``AbortController`` live on the JavaScript side (one closure made by
  :data:`_REQUEST_LOCK`); Python holds one proxy (the grant callback) and destroys it on dispose. Disposing
  before the grant aborts the queued request (its ``AbortError`` is swallowed in JavaScript); after the grant
  it resolves the held promise, which releases the lock to the next tab in the queue. When the page closes
  the browser releases the lock by itself: that is how a follower tab learns that the leader is gone.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import js

from ._ffi import JsCallError, call_sync, has_member
from ._proxies import OwnedProxy, ProxyOwner
from ._subscriptions import Subscription

__all__ = ["BrowserTabChannel", "WebLockLeadership", "open_tab_channel", "request_leadership"]

_log = logging.getLogger("twochat_voice_web")

# (locks, name, onEvent) -> release(). onEvent(true, "") once granted; onEvent(false, message) when the
# request failed (not when it was aborted by release()). The returned function releases the lock or withdraws
# the request; after it ran, onEvent is never called again.
_REQUEST_LOCK: Any = js.Function.new(
    "locks",
    "name",
    "onEvent",
    """
    let finished = false;
    let releaseHeld = null;
    const held = new Promise((resolve) => { releaseHeld = resolve; });
    const controller = new AbortController();
    locks.request(name, { mode: "exclusive", signal: controller.signal }, () => {
      if (finished) return undefined;
      onEvent(true, "");
      return held;
    }).catch((error) => {
      if (!finished) {
        finished = true;
        onEvent(false, String((error && error.message) || error));
      }
    });
    return () => {
      finished = true;
      controller.abort();
      releaseHeld();
    };
    """,
)


class BrowserTabChannel:
    """A ``BroadcastChannel`` carrying text messages. Implements the platform's ``TabChannel``."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._channel: Any = js.BroadcastChannel.new(name)
        self._owner = ProxyOwner(f"tab channel {name!r}")
        self._callbacks: list[Callable[[str], None]] = []
        self._owner.listen(self._channel, "message", self._on_message)

    @property
    def name(self) -> str:
        """The channel's name."""
        return self._name

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._channel is None

    def post(self, message: str) -> None:
        """Send ``message`` to the other channels of this name; nothing once closed."""
        if self._channel is None:
            return
        try:
            call_sync(self._channel, "postMessage", message)
        except JsCallError as error:  # closed underneath us (page unloading): nobody to tell
            _log.debug("BroadcastChannel.postMessage failed: %s", error)

    def on_message(self, callback: Callable[[str], None]) -> Subscription[Callable[[str], None]]:
        """Call ``callback(message)`` for every text message until the subscription is disposed."""
        return Subscription(self._callbacks, callback)

    def _on_message(self, event: Any) -> None:
        data = event.data
        if not isinstance(data, str):
            return  # not one of ours (our messages are JSON text)
        for callback in list(self._callbacks):
            try:
                callback(data)
            except Exception:
                _log.exception("a tab-channel handler raised")

    def close(self) -> None:
        """Detach the listener, destroy its proxy and close the channel; idempotent."""
        channel, self._channel = self._channel, None
        self._callbacks.clear()
        self._owner.close()
        if channel is not None:
            try:
                call_sync(channel, "close")
            except JsCallError as error:
                _log.debug("BroadcastChannel.close failed: %s", error)


class WebLockLeadership:
    """A Web Locks request for leadership, held once granted until :meth:`dispose` (a ``Disposable``)."""

    def __init__(self, name: str, on_acquired: Callable[[], None], on_failed: Callable[[str], None]) -> None:
        self._name = name
        self._on_acquired: Callable[[], None] | None = on_acquired
        self._on_failed: Callable[[str], None] | None = on_failed
        self._granted = False
        self._proxy: OwnedProxy | None = OwnedProxy(self._on_event)
        self._release: Any = _REQUEST_LOCK(js.navigator.locks, name, self._proxy.js)

    @property
    def granted(self) -> bool:
        """True once the lock was granted (and until disposed)."""
        return self._granted and self._proxy is not None

    def _on_event(self, granted: bool, message: str) -> None:
        if self._proxy is None:
            return
        if granted:
            self._granted = True
            callback, self._on_acquired = self._on_acquired, None
            if callback is not None:
                callback()
            return
        failed, self._on_failed = self._on_failed, None
        if failed is not None:
            failed(str(message))

    def dispose(self) -> None:
        """Release the lock (or withdraw the queued request), then destroy the proxy; idempotent."""
        proxy, self._proxy = self._proxy, None
        if proxy is None:
            return
        self._on_acquired = None
        self._on_failed = None
        release, self._release = self._release, None
        try:
            if release is not None:
                release()
        finally:
            proxy.destroy()


def open_tab_channel(name: str) -> BrowserTabChannel | None:
    """A :class:`BrowserTabChannel`, or None when the browser has no ``BroadcastChannel``."""
    if not has_member(js.globalThis, "BroadcastChannel"):
        return None
    return BrowserTabChannel(name)


def request_leadership(
    name: str, on_acquired: Callable[[], None], on_failed: Callable[[str], None] | None = None
) -> WebLockLeadership | None:
    """Ask for the exclusive Web Lock ``name``; None when the browser has no ``navigator.locks``.

    ``on_failed(message)`` runs if the browser refuses the request (a document without lock access); the
    request is then over, and the caller should fall back to another election.
    """
    if not has_member(js.navigator, "locks"):
        return None
    return WebLockLeadership(name, on_acquired, on_failed or (lambda message: None))
