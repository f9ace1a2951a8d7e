"""Audio the browser will not play until the user interacts with the page (autoplay policy).

When a call's remote audio or one of the SDK's sounds is refused (``AUTOPLAY_BLOCKED``),
:class:`AutoplayUnlock` reports it once (an ``error`` on the call, when it was a call's audio, and on the
Device), then waits for the next user gesture (a click, a key) and resumes everything then: every call's
remote audio and the sounds that should be playing. What it needs of its Device is :class:`AutoplayHost`.
"""

from __future__ import annotations

from typing import Protocol

from .call import Call, CallControl
from .device_view import DeviceView
from .errors import ErrorCode, VoiceSDKError
from .platform import Disposable
from .sounds import DeviceSounds

__all__ = ["AutoplayHost", "AutoplayUnlock"]


class AutoplayHost(DeviceView, Protocol):
    """What unblocking audio needs of its Device (besides its ``platform.on_user_gesture``, ``destroyed``
    and ``calls``)."""

    def emit_error(self, error: VoiceSDKError) -> None:
        """Emit a non-fatal ``error`` on the Device."""

    @property
    def sounds(self) -> DeviceSounds:
        """The SDK's sounds (those the browser blocked are played again)."""


class AutoplayUnlock:
    """Reports blocked audio once and resumes it on the next user gesture (see the module docstring)."""

    def __init__(self, host: AutoplayHost) -> None:
        self._host = host
        self._gesture_wait: Disposable | None = None

    def sound_blocked(self, name: str) -> None:
        """The browser refused to play the SDK's sound ``name``."""
        self.blocked(
            VoiceSDKError(
                ErrorCode.AUTOPLAY_BLOCKED,
                f"the browser blocked the {name!r} sound until the user interacts with the page",
            )
        )

    def blocked(self, error: VoiceSDKError, call: Call | None = None) -> None:
        """Autoplay refused (``call``'s audio, or a sound): report it once, then wait for a user gesture."""
        host = self._host
        if self._gesture_wait is not None or host.destroyed:
            return
        if call is not None:
            CallControl(call).emit_error(error)
        host.emit_error(error)
        try:
            self._gesture_wait = host.platform.on_user_gesture(self._on_user_gesture)
        except Exception:  # a platform with no notion of gestures
            self._gesture_wait = None

    def close(self) -> None:
        """Stop waiting for a gesture (the Device is destroyed)."""
        if self._gesture_wait is not None:
            self._gesture_wait.dispose()
            self._gesture_wait = None

    def _on_user_gesture(self) -> None:
        self._gesture_wait = None
        if self._host.destroyed:
            return
        for call in self._host.calls:
            CallControl(call).resume_audio()
        self._host.sounds.replay()
