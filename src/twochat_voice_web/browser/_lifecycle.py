"""The page's ``pagehide`` and ``beforeunload`` events (see :mod:`twochat_voice_web.page_lifecycle`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js

from ._proxies import Listener, listen

__all__ = ["on_page_leave", "protect_close"]


def on_page_leave(callback: Callable[[], None]) -> Listener:
    """Call ``callback()`` on the window's ``pagehide``; dispose the result to stop."""
    return listen(js.window, "pagehide", lambda _event: callback())


def protect_close(should_ask: Callable[[], bool]) -> Listener:
    """On ``beforeunload``, when ``should_ask()``, ask the browser to confirm leaving the page.

    ``preventDefault()`` is the standard way; ``returnValue = ""`` is what older Chromium and Safari need.
    """

    def handle(event: Any) -> None:
        if should_ask():
            event.preventDefault()
            event.returnValue = ""

    return listen(js.window, "beforeunload", handle)
