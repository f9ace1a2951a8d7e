"""twochat-voice-web: a pure-Python voice SDK for the browser (Pyodide/PyScript).

Place and receive phone calls through 2Chat (SIP over secure WebSocket, WebRTC audio) from a
``<script type="py">`` tag::

    from twochat_voice_web import Device

    device = Device(token)
    device.on("incoming", lambda call: call.accept())
    await device.register()
    call = await device.connect("+15551234567")

The SIP core (:mod:`twochat_voice_web.sip`) is sans-I/O and runs in plain CPython as well.
"""

from ._version import __version__
from .call import Call
from .credentials import CallerId, SipCredentials
from .device import Device
from .errors import AuthError, ErrorCode, MediaError, RegistrationError, TokenError, VoiceSDKError

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
