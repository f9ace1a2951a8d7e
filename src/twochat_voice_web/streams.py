"""A call's media streams, for recording, visualisation or custom playback (Twilio's ``getLocalStream()`` /
``getRemoteStream()``).

In the browser they are JavaScript ``MediaStream`` objects (a Pyodide ``JsProxy`` on the Python side):

* the *local* stream holds the audio track the call sends (the microphone capture, or what the Device's
  ``audio_processor`` made of it);
* the *remote* stream collects the far end's audio track(s) as they arrive (the SDK plays it itself).

They belong to the call: the SDK stops the local track and closes the peer connection when the call ends, so
a page must not stop them itself. A runtime without MediaStreams (CPython tests) gives None. Asking an ended
call is an error (``INVALID_STATE``): its streams are gone.
"""

from __future__ import annotations

from typing import Any

from .errors import ErrorCode, VoiceSDKError

__all__ = ["call_stream"]


def call_stream(*, ended: bool, holder: object | None, attribute: str, which: str) -> Any:
    """``holder.<attribute>`` (the microphone's ``stream`` or the peer connection's ``remote_stream``).

    None while the call has no media yet (an inbound call not accepted) or where the runtime has no streams.

    Raises:
        VoiceSDKError: ``INVALID_STATE`` when the call has ended.
    """
    if ended:
        raise VoiceSDKError(
            ErrorCode.INVALID_STATE, f"get_{which}_stream(): the call has ended and its media is released"
        )
    if holder is None:
        return None
    return getattr(holder, attribute, None)
