"""The SDK-owned ``<audio>`` element that plays a call's remote audio.

The element is created hidden and appended to ``document.body``; :meth:`BrowserAudioOutput.close` removes
it. :meth:`~BrowserAudioOutput.attach` may come before or after the peer connection received its remote
track: the element gets the peer's remote stream now and again whenever a track arrives, and ``play()``
is called once there is a track (``play()`` on an empty stream would stay pending forever).

Autoplay: when the browser refuses ``play()`` without a user gesture (NotAllowedError),
:attr:`~BrowserAudioOutput.autoplay_blocked` turns True and ``on_error`` receives an ``AUTOPLAY_BLOCKED``
error; :meth:`~BrowserAudioOutput.resume` retries (call it from a click handler).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import js

from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError
from twochat_voice_web.platform import Disposable, PeerConnection
from twochat_voice_web.tasks import TaskSet

from ._errors import describe_js_error, output_device_error
from ._ffi import JS_NULL, JsCallError, call_async, call_sync, same_object
from ._media import can_select_output
from ._peer import BrowserPeerConnection

__all__ = ["BrowserAudioOutput", "route_element"]

_log = logging.getLogger("twochat_voice_web.browser")


async def route_element(element: Any, device_id: str) -> None:
    """``element.setSinkId(device_id)`` (``"default"`` means the default device) with the SDK's errors.

    Raises:
        MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` without ``setSinkId``, ``OUTPUT_DEVICE_ERROR`` when the
            browser refuses the device.
    """
    if not can_select_output():
        raise MediaError(
            ErrorCode.OUTPUT_DEVICE_UNSUPPORTED,
            "this browser cannot choose the audio output device (no HTMLMediaElement.setSinkId)",
        )
    try:
        await call_async(element, "setSinkId", "" if device_id == "default" else device_id)
    except JsCallError as error:
        raise output_device_error(error.name, error.message, device_id=device_id, cause=error) from error


class BrowserAudioOutput:
    """One hidden ``<audio autoplay>`` element. Implements the platform's ``AudioOutput``.

    Args:
        device_id: an output device to route to (applied in the background; a failure goes to
            ``on_error``).
        on_error: receives playback problems that have no caller to raise to: ``AUTOPLAY_BLOCKED``,
            ``OUTPUT_DEVICE_ERROR`` / ``OUTPUT_DEVICE_UNSUPPORTED`` for the initial ``device_id``.
    """

    def __init__(
        self, device_id: str | None = None, *, on_error: Callable[[VoiceSDKError], None] | None = None
    ) -> None:
        document = js.document
        element: Any = document.createElement("audio")
        element.autoplay = True
        element.hidden = True
        element.setAttribute("data-twochat-voice", "remote-audio")
        (document.body or document.documentElement).appendChild(element)
        self._element: Any = element
        self._on_error = on_error
        self._peer: BrowserPeerConnection | None = None
        self._subscription: Disposable | None = None
        self._tasks = TaskSet()
        self._autoplay_blocked = False
        self._sink_id: str | None = None
        self._closed = False
        if device_id:
            self._spawn(self._apply_initial_sink(device_id))

    @property
    def element(self) -> Any:
        """The JS ``HTMLAudioElement`` (None once closed)."""
        return self._element

    @property
    def sink_id(self) -> str | None:
        """The output device chosen with :meth:`set_sink` (None: the default)."""
        return self._sink_id

    @property
    def autoplay_blocked(self) -> bool:
        """True after the browser refused ``play()`` for want of a user gesture, until a play succeeds."""
        return self._autoplay_blocked

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def _spawn(self, coroutine: Awaitable[None]) -> None:
        self._tasks.spawn(coroutine)

    def _report(self, error: VoiceSDKError) -> None:
        if self._on_error is not None:
            self._on_error(error)
        else:
            _log.warning("audio output: %s", error)

    # -- remote audio -------------------------------------------------------------------------------------

    def attach(self, peer: PeerConnection) -> None:
        """Play the remote audio of ``peer`` (now, or as soon as its remote track arrives).

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a peer connection of another platform,
                ``INVALID_STATE`` once closed.
        """
        if self._closed:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "cannot attach: the audio output is closed")
        if not isinstance(peer, BrowserPeerConnection):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                f"attach() needs a browser peer connection, not {type(peer).__name__}",
            )
        if self._subscription is not None:
            self._subscription.dispose()
        self._peer = peer
        self._subscription = peer.on_remote_track(self._refresh)
        self._refresh()

    def _refresh(self) -> None:
        peer = self._peer
        if self._closed or peer is None:
            return
        element = self._element
        if not bool(element.paused) and same_object(element.srcObject, peer.remote_stream):
            return  # already playing this stream (a track event after hold/resume): no reload, no glitch
        # Assigning srcObject (even the same stream) reloads the element, so a track added since is played.
        element.srcObject = peer.remote_stream
        if peer.has_remote_audio():
            self._spawn(self._play())

    async def _play(self) -> None:
        element = self._element
        if element is None:
            return
        try:
            await call_async(element, "play")
        except JsCallError as error:
            if self._closed or error.name == "AbortError":
                return  # interrupted by a reload (new track) or by close(): not a failure
            if error.name == "NotAllowedError":
                first = not self._autoplay_blocked
                self._autoplay_blocked = True
                if first:
                    self._report(
                        MediaError(
                            ErrorCode.AUTOPLAY_BLOCKED,
                            "the browser blocked audio playback until the user interacts with the page "
                            f"({describe_js_error(error.name, error.message)})",
                            error,
                        )
                    )
                return
            self._report(
                MediaError(
                    ErrorCode.OUTPUT_DEVICE_ERROR,
                    f"the remote audio could not be played ({error})",
                    error,
                )
            )
            return
        self._autoplay_blocked = False

    async def resume(self) -> bool:
        """Try ``play()`` again (from a user gesture after :attr:`autoplay_blocked`); True when playing."""
        if self._closed:
            return False
        if self._peer is not None and not self._peer.has_remote_audio():
            return not self._autoplay_blocked
        await self._play()
        return not self._autoplay_blocked and not bool(self._element.paused)

    # -- output device --------------------------------------------------------------------------------------

    async def set_sink(self, device_id: str) -> None:
        """Route the audio to the output device ``device_id`` (``"default"`` or ``""``: the default).

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` without ``setSinkId``, ``OUTPUT_DEVICE_ERROR`` when
                the device cannot be used.
            VoiceSDKError: ``INVALID_STATE`` once closed.
        """
        if self._closed:
            raise VoiceSDKError(
                ErrorCode.INVALID_STATE, "cannot choose an output device: the audio output is closed"
            )
        await route_element(self._element, device_id)
        self._sink_id = device_id

    async def _apply_initial_sink(self, device_id: str) -> None:
        try:
            await self.set_sink(device_id)
        except VoiceSDKError as error:
            if not self._closed:
                self._report(error)

    # -- teardown -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop playback and remove the element from the page; idempotent."""
        if self._closed:
            return
        self._closed = True
        if self._subscription is not None:
            self._subscription.dispose()
            self._subscription = None
        self._peer = None
        self._tasks.cancel_all()
        element, self._element = self._element, None
        if element is not None:
            with contextlib.suppress(JsCallError):
                call_sync(element, "pause")
            element.srcObject = JS_NULL
            element.remove()
