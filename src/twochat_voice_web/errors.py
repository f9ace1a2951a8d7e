"""The SDK's error catalogue: one :class:`VoiceSDKError` hierarchy with stable string codes.

The 2Chat codes keep their names and meanings (``TOKEN_INVALID``, ``TOKEN_EXPIRED``, ``AUTH_ERROR``,
``CONFIG_FETCH_FAILED``, ``REGISTRATION_FAILED``, ``REGISTER_ERROR``, ``UNREGISTER_ERROR``,
``NOT_REGISTERED``); the rest are ours. Fatal errors are raised from the awaited call (``register()``,
``connect()``...); everything else is emitted as an ``error`` event on the Device or the Call. Every code is
documented in ``docs/errors.md``.
"""

from __future__ import annotations

import enum
from typing import Any

__all__ = [
    "AuthError",
    "ErrorCode",
    "MediaError",
    "RegistrationError",
    "TokenError",
    "VoiceSDKError",
]


class ErrorCode(enum.StrEnum):
    """Every error code the SDK emits. The value is the string users match on."""

    TOKEN_INVALID = "TOKEN_INVALID"
    """The token is not a JWT, or the server says it is not valid (signature, user)."""
    TOKEN_EXPIRED = "TOKEN_EXPIRED"
    """The token is past its ``exp`` (checked locally before any network call)."""
    AUTH_ERROR = "AUTH_ERROR"
    """The SIP server refused our credentials (401/403 after answering its challenge)."""
    CONFIG_FETCH_FAILED = "CONFIG_FETCH_FAILED"
    """Fetching the SIP credentials failed (network, HTTP status, or an unusable body)."""
    REGISTRATION_FAILED = "REGISTRATION_FAILED"
    """REGISTER was refused or timed out."""
    REGISTER_ERROR = "REGISTER_ERROR"
    """A lower-level failure while registering (the WebSocket could not be opened...)."""
    UNREGISTER_ERROR = "UNREGISTER_ERROR"
    """unregister() failed inside the SDK (non-fatal: the WebSocket closes anyway)."""
    NOT_REGISTERED = "NOT_REGISTERED"
    """connect() before register() resolved, or after unregister()."""
    INVALID_ARGUMENT = "INVALID_ARGUMENT"
    """A method received a value it cannot use (bad destination, header, digit, option)."""
    INVALID_STATE = "INVALID_STATE"
    """The method cannot run in the current state (e.g. accept() on an outbound call)."""
    CALL_FAILED = "CALL_FAILED"
    """The call could not be set up or failed (see ``cause``/the SIP status)."""
    MEDIA_PERMISSION_DENIED = "MEDIA_PERMISSION_DENIED"
    """The user or the browser denied microphone access."""
    MEDIA_DEVICE_ERROR = "MEDIA_DEVICE_ERROR"
    """The microphone (or the chosen input device) could not be opened or was lost."""
    OUTPUT_DEVICE_UNSUPPORTED = "OUTPUT_DEVICE_UNSUPPORTED"
    """The browser cannot choose an audio output device (no ``setSinkId``)."""
    OUTPUT_DEVICE_ERROR = "OUTPUT_DEVICE_ERROR"
    """The chosen output device could not be used."""
    TRANSPORT_ERROR = "TRANSPORT_ERROR"
    """The signalling transport (WebSocket) failed and could not be restored."""
    ICE_FAILED = "ICE_FAILED"
    """Media connectivity (ICE) failed and could not be restored."""
    HOLD_FAILED = "HOLD_FAILED"
    """Putting the call on hold (or resuming it) was refused by the peer."""
    DTMF_FAILED = "DTMF_FAILED"
    """DTMF could not be sent."""
    TIMEOUT = "TIMEOUT"
    """A network wait ran out of time (the operation is named in the message)."""
    DESTROYED = "DESTROYED"
    """The Device was destroyed."""
    PROTOCOL_ERROR = "PROTOCOL_ERROR"
    """Something the peer sent could not be processed (malformed, out of place); the SDK carried on."""
    AUTOPLAY_BLOCKED = "AUTOPLAY_BLOCKED"
    """The browser blocked audio playback until a user gesture (ringtone, remote audio)."""


class VoiceSDKError(Exception):
    """An SDK error: a stable ``code``, a readable ``message`` and the underlying ``cause``.

    Every class of the hierarchy takes the same arguments, in the same order as the JavaScript SDK's
    ``new VoiceSDKError(code, message, {cause})``: ``AuthError(None, "refused", 403)`` is an
    ``AUTH_ERROR`` whose cause is the SIP status.

    Args:
        code: the :class:`ErrorCode` (or its string value); None for the class's :attr:`default_code`.
        message: what went wrong, for a person.
        cause: the underlying exception, HTTP status, SIP status... if any.

    Raises:
        ValueError: ``code`` is not an :class:`ErrorCode` value.
        TypeError: ``message`` is not a string (or is an :class:`ErrorCode`: the arguments are in the wrong
            order), or ``code`` is None and the class has no default code.
    """

    default_code: ErrorCode | None = None
    """The code a subclass stands for, when it has one."""

    def __init__(self, code: ErrorCode | str | None, message: str, cause: Any = None) -> None:
        if not isinstance(message, str) or isinstance(message, ErrorCode):
            raise TypeError(f"{type(self).__name__}(code, message, cause): message must be text, not a code")
        resolved = code if code is not None else self.default_code
        if resolved is None:
            raise TypeError(f"{type(self).__name__} needs an error code")
        self.code = ErrorCode(resolved)
        self.message = message
        self.cause = cause
        super().__init__(f"{self.code.value}: {message}")

    @property
    def name(self) -> str:
        """The class name, as the JS SDK's ``error.name``."""
        return type(self).__name__

    def to_json(self) -> dict[str, str]:
        """``{"name", "code", "message"}``, as the JS SDK's ``toJSON()``."""
        return {"name": self.name, "code": self.code.value, "message": self.message}

    def __repr__(self) -> str:
        return f"{self.name}({self.code.value!r}, {self.message!r})"


class AuthError(VoiceSDKError):
    """The SIP server rejected our credentials (``AUTH_ERROR``)."""

    default_code = ErrorCode.AUTH_ERROR


class RegistrationError(VoiceSDKError):
    """Registration failed (``REGISTRATION_FAILED``, or ``REGISTER_ERROR`` / ``NOT_REGISTERED``)."""

    default_code = ErrorCode.REGISTRATION_FAILED


class TokenError(VoiceSDKError):
    """The token is malformed (``TOKEN_INVALID``) or expired (``TOKEN_EXPIRED``)."""

    default_code = ErrorCode.TOKEN_INVALID


class MediaError(VoiceSDKError):
    """A microphone or speaker problem (``MEDIA_*`` and ``OUTPUT_*`` codes)."""

    default_code = ErrorCode.MEDIA_DEVICE_ERROR
