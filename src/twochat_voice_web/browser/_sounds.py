"""The SDK's sounds in the browser: ringtone, ringback, disconnect, DTMF feedback.

One hidden ``<audio>`` element per sound, created on first use. A sound plays its custom URL
(:meth:`BrowserSoundPlayer.set_source`) or the default tone, synthesised once in Python
(:mod:`._tones`) and served from a ``blob:`` URL. Playing through media elements gives every sound the
same looping, output routing (``setSinkId``) and autoplay detection: a ``play()`` refused for want of a
user gesture calls the :meth:`~BrowserSoundPlayer.on_blocked` callbacks with the sound's name.

No JS listener is needed, so the player holds no proxies; :meth:`~BrowserSoundPlayer.close` removes the
elements and revokes the blob URLs.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import js

from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.tasks import TaskSet

from ._ffi import JsCallError, call_async, call_sync, js_object, to_js_value
from ._output import route_element
from ._subscriptions import Subscription
from ._tones import SOUND_NAMES, render_wav

__all__ = ["BrowserSoundPlayer"]


def _check_name(name: str) -> None:
    if name not in SOUND_NAMES:
        raise VoiceSDKError(
            ErrorCode.INVALID_ARGUMENT, f"unknown sound {name!r}; known: {', '.join(sorted(SOUND_NAMES))}"
        )


class BrowserSoundPlayer:
    """Plays the SDK's sounds. Implements the platform's ``SoundPlayer``."""

    def __init__(self) -> None:
        self._elements: dict[str, Any] = {}
        self._default_urls: dict[str, str] = {}
        self._sources: dict[str, str] = {}
        self._disabled: set[str] = set()
        self._blocked_callbacks: list[Callable[[str], None]] = []
        self._tasks = TaskSet()
        self._output: str | None = None
        self._played = False
        self._closed = False

    # -- state ----------------------------------------------------------------------------------------------

    @property
    def unlocked(self) -> bool:
        """True once a sound played, or the page has had a user gesture (``userActivation``)."""
        if self._played:
            return True
        activation = getattr(js.navigator, "userActivation", None)
        return bool(activation and activation.hasBeenActive)

    @property
    def output(self) -> str | None:
        """The output device chosen with :meth:`set_output` (None: the default)."""
        return self._output

    def is_playing(self, name: str) -> bool:
        """True while sound ``name`` plays (or waits to start)."""
        element = self._elements.get(name)
        return element is not None and not bool(element.paused)

    def element(self, name: str) -> Any:
        """The ``<audio>`` element of sound ``name`` (None before its first play)."""
        return self._elements.get(name)

    # -- configuration --------------------------------------------------------------------------------------

    def set_source(self, name: str, url: str | None) -> None:
        """Play ``url`` for ``name`` instead of the default tone; ``None`` restores the default.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown sound name.
        """
        _check_name(name)
        if url:
            self._sources[name] = url
        else:
            self._sources.pop(name, None)

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disable (stopping it if it plays) or re-enable one sound.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown sound name.
        """
        _check_name(name)
        if enabled:
            self._disabled.discard(name)
        else:
            self._disabled.add(name)
            self.stop(name)

    async def set_output(self, device_id: str) -> None:
        """Route every sound (playing or future) to the output device ``device_id``.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` or ``OUTPUT_DEVICE_ERROR``.
        """
        for element in list(self._elements.values()):
            await route_element(element, device_id)
        self._output = device_id

    def on_blocked(self, callback: Callable[[str], None]) -> Subscription[Callable[[str], None]]:
        """Call ``callback(name)`` whenever a sound cannot start because autoplay is blocked."""
        return Subscription(self._blocked_callbacks, callback)

    # -- playing --------------------------------------------------------------------------------------------

    def play(self, name: str, *, loop: bool = False) -> None:
        """Start sound ``name`` from the beginning (``loop``: until :meth:`stop`); nothing when disabled.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown sound name, ``INVALID_STATE`` once closed.
        """
        _check_name(name)
        if self._closed:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the sound player is closed")
        if name in self._disabled:
            return
        element = self._element_for(name)
        url = self._sources.get(name) or self._default_url(name)
        if str(element.getAttribute("src") or "") != url:
            element.src = url
        element.loop = bool(loop)
        with contextlib.suppress(JsCallError):
            call_sync(element, "pause")
        element.currentTime = 0
        self._tasks.spawn(self._start(name, element))

    async def _start(self, name: str, element: Any) -> None:
        try:
            await call_async(element, "play")
        except JsCallError as error:
            if self._closed or error.name == "AbortError":
                return  # stopped (pause() or a new play()) before it started
            if error.name == "NotAllowedError":
                for callback in list(self._blocked_callbacks):
                    callback(name)
            return
        self._played = True

    def stop(self, name: str) -> None:
        """Stop sound ``name``; idempotent."""
        element = self._elements.get(name)
        if element is None:
            return
        with contextlib.suppress(JsCallError):
            call_sync(element, "pause")
        element.currentTime = 0

    def _element_for(self, name: str) -> Any:
        element = self._elements.get(name)
        if element is None:
            document = js.document
            element = document.createElement("audio")
            element.hidden = True
            element.preload = "auto"
            element.setAttribute("data-twochat-voice", f"sound-{name}")
            (document.body or document.documentElement).appendChild(element)
            self._elements[name] = element
            if self._output is not None:
                output = self._output
                self._tasks.spawn(self._route_quietly(element, output))
        return element

    async def _route_quietly(self, element: Any, device_id: str) -> None:
        with contextlib.suppress(VoiceSDKError):  # set_output() already reported this device's problems
            await route_element(element, device_id)

    def _default_url(self, name: str) -> str:
        url = self._default_urls.get(name)
        if url is None:
            blob = js.Blob.new(to_js_value([to_js_value(render_wav(name))]), js_object({"type": "audio/wav"}))
            url = str(js.URL.createObjectURL(blob))
            self._default_urls[name] = url
        return url

    # -- teardown -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Stop every sound, remove the elements, revoke the generated URLs; idempotent."""
        if self._closed:
            return
        self._closed = True
        self._tasks.cancel_all()
        self._blocked_callbacks.clear()
        elements, self._elements = self._elements, {}
        for element in elements.values():
            with contextlib.suppress(JsCallError):
                call_sync(element, "pause")
            element.removeAttribute("src")
            element.remove()
        urls, self._default_urls = self._default_urls, {}
        for url in urls.values():
            js.URL.revokeObjectURL(url)

