"""Readable text for what the SDK reports: error codes, end reasons, quality warnings (pure Python).

The SDK's messages are written for developers (``NOT_REGISTERED: connect() needs a registered
Device``); a softphone user needs to know what happened and what to do. :func:`describe_error` maps
every :class:`~twochat_voice_web.ErrorCode` to such a sentence (the SDK's own message stays available
as a detail), :func:`describe_end` turns a ``disconnect`` payload into a call-log phrase, and
:func:`describe_warning` names the call-quality warnings of the ``warning`` event.
"""

from __future__ import annotations

from twochat_voice_web.errors import ErrorCode, VoiceSDKError

__all__ = [
    "ERROR_TEXT",
    "describe_end",
    "describe_error",
    "describe_exception",
    "describe_warning",
]

ERROR_TEXT: dict[ErrorCode, str] = {
    ErrorCode.TOKEN_INVALID: "Your sign-in is no longer valid. Sign in again.",
    ErrorCode.TOKEN_EXPIRED: "Your sign-in expired. Sign in again.",
    ErrorCode.AUTH_ERROR: "The phone service refused this account's credentials. Sign in again.",
    ErrorCode.CONFIG_FETCH_FAILED: "Could not load your phone settings. Check your connection and try again.",
    ErrorCode.REGISTRATION_FAILED: "The phone service did not accept the registration. Try again shortly.",
    ErrorCode.REGISTER_ERROR: "The connection dropped while going online. Try again.",
    ErrorCode.UNREGISTER_ERROR: "Signed out, but the phone service did not confirm it.",
    ErrorCode.NOT_REGISTERED: "The phone is not online yet. Wait until it shows Registered.",
    ErrorCode.INVALID_ARGUMENT: "That input cannot be used.",
    ErrorCode.INVALID_STATE: "That is not possible at this point of the call.",
    ErrorCode.CALL_FAILED: "The call could not be connected.",
    ErrorCode.MEDIA_PERMISSION_DENIED: (
        "Microphone access is blocked. Allow the microphone for this site in the browser's address bar, "
        "then try again."
    ),
    ErrorCode.MEDIA_DEVICE_ERROR: (
        "The microphone could not be opened. Check that one is connected and not used by another app, "
        "or pick another one under Audio."
    ),
    ErrorCode.OUTPUT_DEVICE_UNSUPPORTED: (
        "This browser cannot choose a speaker; audio plays on the default one."
    ),
    ErrorCode.OUTPUT_DEVICE_ERROR: "That speaker cannot be used. Pick another one under Audio.",
    ErrorCode.TRANSPORT_ERROR: "Cannot reach the phone service. Check your connection.",
    ErrorCode.ICE_FAILED: "The audio connection failed. Hang up and call again.",
    ErrorCode.HOLD_FAILED: "The other side did not accept the hold request. The call is unchanged.",
    ErrorCode.DTMF_FAILED: "Some keypad tones could not be sent. Press the keys again.",
    ErrorCode.TIMEOUT: "The phone service did not answer in time. Try again.",
    ErrorCode.DESTROYED: "The phone was shut down. Sign in again.",
    ErrorCode.PROTOCOL_ERROR: "The phone service sent something unexpected; the phone carried on.",
    ErrorCode.AUTOPLAY_BLOCKED: "The browser blocked a sound. Click anywhere on the page to allow sounds.",
}
"""One sentence per error code, for the person using the phone."""

_SHOW_SDK_DETAIL = frozenset({ErrorCode.INVALID_ARGUMENT, ErrorCode.INVALID_STATE, ErrorCode.CALL_FAILED})
"""Codes whose generic sentence needs the SDK's own message to be useful."""


def describe_error(error: VoiceSDKError) -> str:
    """A sentence for ``error``; for argument/state/call errors the SDK's message is appended."""
    text = ERROR_TEXT.get(error.code, "Something went wrong.")
    if error.code in _SHOW_SDK_DETAIL and error.message:
        detail = error.message[0].upper() + error.message[1:]
        return f"{text} {detail.rstrip('.')}."
    return text


def describe_exception(error: BaseException) -> str:
    """A sentence for any exception: SDK errors through :func:`describe_error`, others by type."""
    if isinstance(error, VoiceSDKError):
        return describe_error(error)
    text = str(error) or type(error).__name__
    return f"Unexpected problem: {text}"


_END_TEXT: dict[str, str] = {
    "local": "You hung up",
    "remote": "They hung up",
    "cancelled": "Cancelled",
    "remote-cancelled": "Missed",
    "rejected": "Rejected",
    "busy": "Busy",
    "declined": "Declined",
    "not-found": "Number not found",
    "unavailable": "Not reachable",
    "no-answer": "No answer",
    "failed": "Failed",
    "dialog-lost": "Call lost",
    "session-expired": "Call timed out",
    "transport": "Connection lost",
    "media": "Microphone problem",
    "destroyed": "Signed out",
}


def describe_end(reason: str, status_code: int | None) -> str:
    """The call-log phrase for a ``disconnect`` payload (``reason``, ``status_code``)."""
    text = _END_TEXT.get(reason, reason.replace("-", " ").capitalize() or "Ended")
    if status_code is not None and reason in ("failed", "busy", "declined", "not-found", "unavailable"):
        return f"{text} ({status_code})"
    return text


_WARNING_TEXT: dict[str, str] = {
    "high-rtt": "High delay on the line",
    "high-jitter": "Choppy audio (jitter)",
    "high-packet-loss": "Audio is breaking up (packet loss)",
    "low-mos": "Poor call quality",
    "constant-audio-input-level": "Your microphone seems silent",
    "constant-audio-output-level": "No sound from the other side",
    "low-bytes-received": "No audio arriving",
    "low-bytes-sent": "No audio being sent",
}


def describe_warning(name: str) -> str:
    """A short label for a call-quality warning name (``high-rtt``...)."""
    return _WARNING_TEXT.get(name, name.replace("-", " ").capitalize())
