"""twochat-voice-web: a pure-Python voice SDK for the browser (Pyodide/PyScript).

Place and receive phone calls through 2Chat (SIP over secure WebSocket, WebRTC audio) from a
``<script type="py">`` tag. The SIP core (:mod:`twochat_voice_web.sip`) is sans-I/O and runs in plain
CPython as well.
"""

from ._version import __version__

__all__ = ["__version__"]
