"""twochat-voice-web: a pure-Python voice SDK for the browser (Pyodide/PyScript).

Place and receive phone calls through 2Chat (SIP over secure WebSocket, WebRTC audio) from a
``<script type="py">`` tag::

    from twochat_voice_web import Device

    device = Device(token)
    device.on("incoming", lambda call: call.accept())
    await device.register()
    call = await device.connect("+15551234567")

The SIP core (:mod:`twochat_voice_web.sip`) is sans-I/O and runs in plain CPython as well.

``Device``, ``Call``, ``SipCredentials`` and ``CallerId`` are imported on first use (PEP 562): importing
the SIP core (``import twochat_voice_web.sip``) runs this file too, and must not load the SDK layer and
asyncio with it.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import AuthError, ErrorCode, MediaError, RegistrationError, TokenError, VoiceSDKError

if TYPE_CHECKING:
    from .call import Call
    from .credentials import CallerId, SipCredentials
    from .device import Device

_LAZY = {"Call": ".call", "CallerId": ".credentials", "Device": ".device", "SipCredentials": ".credentials"}


def __getattr__(name: str) -> Any:
    """Import ``Device``, ``Call``, ``SipCredentials`` and ``CallerId`` when first asked for."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value

__all__ = [
    "AuthError",
    "Call",
    "CallerId",
    "Device",
    "ErrorCode",
    "MediaError",
    "RegistrationError",
    "SipCredentials",
    "TokenError",
    "VoiceSDKError",
    "__version__",
]
