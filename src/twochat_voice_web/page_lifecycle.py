"""Page lifecycle: leave the SIP world cleanly when the page goes away, and optionally ask first.

When a person closes the tab, reloads or navigates away, a page that just disappears leaves its calls
ringing or connected at the far end until some timeout, and its registration alive until it expires (a
caller would ring a dead page). On the page's ``pagehide`` event (fired on close, reload, navigation,
and when the page enters the back/forward cache) the Device therefore *destroys itself*: every call is
ended with BYE (connected), CANCEL (ringing out) or 603 (ringing in), and REGISTER with ``Expires: 0``
removes the registration; those messages are handed to the WebSocket synchronously, before the page is
torn down (best effort, as Twilio's SDK does on ``unload``).

**Close protection** (Twilio's ``closeProtection``, opt-in with the Device's ``close_protection=True``):
while the Device has a live call, the page's ``beforeunload`` event asks the browser to confirm leaving
(browsers show their own wording, and only after the person interacted with the page). If the person stays,
nothing happens; if they leave, ``pagehide`` follows and the calls end cleanly as above.

The runtime provides the two page events through :class:`PageEvents` (the browser platform does; a
runtime without pages, such as CPython tests, simply has no lifecycle).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from .platform import Disposable

__all__ = ["PageEvents", "PageLifecycle"]


@runtime_checkable
class PageEvents(Protocol):
    """What a runtime with pages offers (implemented by the browser platform)."""

    def on_page_leave(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback()`` when the page is going away (``pagehide``)."""

    def protect_close(self, should_ask: Callable[[], bool]) -> Disposable:
        """On ``beforeunload``, ask the person to confirm leaving whenever ``should_ask()`` is True."""


class PageLifecycle:
    """The page hooks of one Device, released by :meth:`close`.

    Args:
        runtime: the platform; nothing is hooked when it is not :class:`PageEvents`.
        on_leave: run when the page goes away (the Device destroys itself).
        has_live_call: whether leaving now would cut a call (for close protection).
        close_protection: ask before leaving while ``has_live_call()``.
    """

    def __init__(
        self,
        runtime: object,
        *,
        on_leave: Callable[[], None],
        has_live_call: Callable[[], bool],
        close_protection: bool,
    ) -> None:
        self._hooks: list[Disposable] = []
        if not isinstance(runtime, PageEvents):
            return
        self._hooks.append(runtime.on_page_leave(on_leave))
        if close_protection:
            self._hooks.append(runtime.protect_close(has_live_call))

    @property
    def active(self) -> bool:
        """True while the page events are hooked."""
        return bool(self._hooks)

    def close(self) -> None:
        """Unhook everything (idempotent)."""
        hooks, self._hooks = self._hooks, []
        for hook in hooks:
            hook.dispose()
