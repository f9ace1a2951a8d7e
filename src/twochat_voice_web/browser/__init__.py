"""The browser runtime: the only package of the SDK that imports ``js``/``pyodide``.

:class:`BrowserPlatform` implements :class:`twochat_voice_web.platform.Platform` on the browser's
``WebSocket``, ``fetch``, ``RTCPeerConnection``, ``getUserMedia``, ``RTCDTMFSender`` and
``HTMLMediaElement.setSinkId``. Every JS proxy it creates is owned, detached before it is destroyed, and
counted (:func:`live_proxies`).

Importing this package works anywhere; ``BrowserPlatform`` and ``live_proxies`` load the JS-bound
modules on first access, so only Pyodide can use them (``ImportError`` elsewhere).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._platform import BrowserPlatform
    from ._proxies import live_proxies

__all__ = ["BrowserPlatform", "live_proxies"]


def __getattr__(name: str) -> Any:
    """Load the JS-bound names lazily (they import ``js``, which exists only in Pyodide)."""
    if name == "BrowserPlatform":
        from ._platform import BrowserPlatform

        return BrowserPlatform
    if name == "live_proxies":
        from ._proxies import live_proxies

        return live_proxies
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
