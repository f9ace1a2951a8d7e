"""How browser errors (DOMException names) become the SDK's errors. Pure: no ``js`` import.

The browser reports media failures as DOMExceptions whose ``name`` says what happened; these functions turn
a name and message into a :class:`~twochat_voice_web.errors.MediaError` or
:class:`~twochat_voice_web.errors.VoiceSDKError` with the right :class:`~twochat_voice_web.errors.ErrorCode`
and a message a person can act on. They are separate from the FFI code so CPython tests can check them.
"""

from __future__ import annotations

from typing import Any

from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError

__all__ = [
    "MICROPHONE_DEVICE_ERRORS",
    "MICROPHONE_PERMISSION_ERRORS",
    "describe_js_error",
    "microphone_error",
    "output_device_error",
    "peer_error",
]

#: ``getUserMedia`` failures that mean "the user or the browser said no" (old Chromium spellings included).
MICROPHONE_PERMISSION_ERRORS = frozenset({"NotAllowedError", "SecurityError", "PermissionDeniedError"})

#: ``getUserMedia`` failures that mean "there is no usable microphone" (old spellings included).
MICROPHONE_DEVICE_ERRORS = frozenset({
    "NotFoundError",
    "DevicesNotFoundError",
    "NotReadableError",
    "TrackStartError",
    "OverconstrainedError",
    "ConstraintNotSatisfiedError",
    "AbortError",
    "TypeError",
})


def describe_js_error(name: str, message: str) -> str:
    """``"Name: message"``, or just the name when the message is empty."""
    message = message.strip()
    return f"{name}: {message}" if message else name


def microphone_error(
    name: str, message: str, *, device_id: str | None = None, cause: Any = None
) -> MediaError:
    """The :class:`MediaError` for a failed ``getUserMedia`` (``name`` is the DOMException name).

    ``MEDIA_PERMISSION_DENIED`` for NotAllowedError/SecurityError, ``MEDIA_DEVICE_ERROR`` for everything
    else (NotFoundError, NotReadableError, OverconstrainedError...), with a message saying what to do.
    """
    detail = describe_js_error(name, message)
    which = f"the microphone {device_id!r}" if device_id else "the microphone"
    if name in MICROPHONE_PERMISSION_ERRORS:
        return MediaError(
            ErrorCode.MEDIA_PERMISSION_DENIED,
            f"access to {which} was denied by the user or the browser ({detail})",
            cause,
        )
    if name in ("NotFoundError", "DevicesNotFoundError"):
        text = f"no microphone with device id {device_id!r}" if device_id else "no microphone was found"
    elif name in ("NotReadableError", "TrackStartError"):
        text = f"{which} could not be started (in use by another application, or a hardware error)"
    elif name in ("OverconstrainedError", "ConstraintNotSatisfiedError"):
        text = f"no microphone matches device id {device_id!r}" if device_id else "no microphone fits"
    elif name == "AbortError":
        text = f"opening {which} was aborted"
    else:
        text = f"{which} could not be opened"
    return MediaError(ErrorCode.MEDIA_DEVICE_ERROR, f"{text} ({detail})", cause)


def output_device_error(name: str, message: str, *, device_id: str, cause: Any = None) -> MediaError:
    """The :class:`MediaError` (``OUTPUT_DEVICE_ERROR``) for a failed ``HTMLMediaElement.setSinkId``."""
    detail = describe_js_error(name, message)
    if name == "NotFoundError":
        text = f"no audio output device with id {device_id!r}"
    elif name in ("NotAllowedError", "SecurityError"):
        text = f"the page may not use the audio output device {device_id!r}"
    else:
        text = f"the audio output device {device_id!r} could not be used"
    return MediaError(ErrorCode.OUTPUT_DEVICE_ERROR, f"{text} ({detail})", cause)


def peer_error(
    action: str, name: str, message: str, *, remote: bool = False, cause: Any = None
) -> VoiceSDKError:
    """The :class:`VoiceSDKError` for a failed RTCPeerConnection step.

    ``INVALID_STATE`` when the browser says the connection is in the wrong state (InvalidStateError),
    ``PROTOCOL_ERROR`` when it refused the peer's SDP (``remote=True``), ``CALL_FAILED`` otherwise.
    """
    detail = describe_js_error(name, message)
    if name == "InvalidStateError":
        code = ErrorCode.INVALID_STATE
    elif remote:
        code = ErrorCode.PROTOCOL_ERROR
    else:
        code = ErrorCode.CALL_FAILED
    return VoiceSDKError(code, f"{action} failed ({detail})", cause)
