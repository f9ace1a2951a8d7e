"""``BrowserPlatform``: the platform seam (:mod:`twochat_voice_web.platform`) on the browser's own APIs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

import js

from twochat_voice_web.errors import VoiceSDKError
from twochat_voice_web.platform import HttpResponse, MediaDevices, PeerConnectionOptions

if TYPE_CHECKING:
    from twochat_voice_web.platform import (
        AudioOutput,
        Disposable,
        LocalAudio,
        PeerConnection,
        Platform,
        SignallingConnection,
        SoundPlayer,
        TabChannel,
    )

    from ._media import BrowserLocalAudio

from ._fetch import http_get_json
from ._lifecycle import on_page_leave, protect_close
from ._media import BrowserMediaDevices
from ._output import BrowserAudioOutput
from ._peer import BrowserPeerConnection
from ._proxies import Listener, listen, live_proxies
from ._signalling import BrowserSignallingConnection, open_signalling
from ._sounds import BrowserSoundPlayer
from ._tabs import BrowserTabChannel, WebLockLeadership, open_tab_channel, request_leadership

__all__ = ["BrowserPlatform"]

_GESTURE_EVENTS = ("pointerdown", "keydown", "touchstart")


class _GestureOnce:
    """Listens for the first user gesture on the document, calls back once, and detaches everything."""

    def __init__(self, callback: Callable[[], None]) -> None:
        self._callback: Callable[[], None] | None = callback
        self._listeners = [listen(js.document, name, self._fire) for name in _GESTURE_EVENTS]

    def _fire(self, _event: object) -> None:
        callback, self._callback = self._callback, None
        self.dispose()
        if callback is not None:
            callback()

    def dispose(self) -> None:
        """Stop listening; idempotent."""
        listeners, self._listeners = self._listeners, []
        for listener in listeners:
            listener.dispose()


class BrowserPlatform:
    """Everything the SDK needs from the browser: WebSocket, fetch, WebRTC, microphones, audio output.

    Implements :class:`twochat_voice_web.platform.Platform`. Stateless apart from :attr:`media`; every
    object it hands out owns its JS proxies and releases them when closed/stopped/disposed, and
    :meth:`live_proxies` counts the proxies alive in the whole package.
    """

    def __init__(self) -> None:
        #: Microphones and speakers (a :class:`BrowserMediaDevices`).
        self.media: MediaDevices = BrowserMediaDevices()

    async def open_signalling(
        self,
        url: str,
        *,
        on_message: Callable[[bytes], None],
        on_close: Callable[[int, str], None],
        timeout: float,
    ) -> BrowserSignallingConnection:
        """Open a WebSocket with subprotocol ``sip`` (see :func:`._signalling.open_signalling`).

        Raises:
            VoiceSDKError: ``TRANSPORT_ERROR`` or ``TIMEOUT``.
        """
        return await open_signalling(url, on_message=on_message, on_close=on_close, timeout=timeout)

    async def http_get_json(self, url: str, *, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """GET a JSON document with ``fetch`` (body None when not JSON).

        Raises:
            VoiceSDKError: ``CONFIG_FETCH_FAILED`` or ``TIMEOUT``.
        """
        return await http_get_json(url, headers=headers, timeout=timeout)

    def create_peer_connection(self, options: PeerConnectionOptions) -> BrowserPeerConnection:
        """A new RTCPeerConnection with one audio transceiver."""
        return BrowserPeerConnection(options)

    def create_audio_output(
        self, device_id: str | None = None, *, on_error: Callable[[VoiceSDKError], None] | None = None
    ) -> BrowserAudioOutput:
        """A new hidden ``<audio>`` element for a call's remote audio.

        ``on_error`` receives the errors that have no caller: ``AUTOPLAY_BLOCKED`` (the browser wants a
        user gesture), and a failure to route to ``device_id``.
        """
        return BrowserAudioOutput(device_id, on_error=on_error)

    def create_sound_player(self) -> BrowserSoundPlayer:
        """The player of the SDK's sounds (ringtone, ringback, disconnect, DTMF feedback)."""
        return BrowserSoundPlayer()

    def on_online(self, callback: Callable[[], None]) -> Listener:
        """Call ``callback()`` on the window's ``online`` event; dispose the result to stop."""
        return listen(js.window, "online", lambda _event: callback())

    def on_user_gesture(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback()`` once, on the next click, key press or touch in the page.

        Browsers let a page play audio after such a gesture: the Device resumes blocked audio here.
        """
        return _GestureOnce(callback)

    def on_page_leave(self, callback: Callable[[], None]) -> Listener:
        """Call ``callback()`` when the page goes away (``pagehide``); see :mod:`..page_lifecycle`."""
        return on_page_leave(callback)

    def protect_close(self, should_ask: Callable[[], bool]) -> Listener:
        """Ask before the page is left (``beforeunload``) whenever ``should_ask()``."""
        return protect_close(should_ask)

    def on_offline(self, callback: Callable[[], None]) -> Listener:
        """Call ``callback()`` on the window's ``offline`` event; dispose the result to stop."""
        return listen(js.window, "offline", lambda _event: callback())

    @property
    def is_online(self) -> bool:
        """``navigator.onLine``."""
        return bool(js.navigator.onLine)

    def open_tab_channel(self, name: str) -> BrowserTabChannel | None:
        """A ``BroadcastChannel`` for text messages between the tabs of this origin (None: unsupported)."""
        return open_tab_channel(name)

    def acquire_leadership(
        self,
        name: str,
        on_acquired: Callable[[], None],
        *,
        on_failed: Callable[[str], None] | None = None,
    ) -> WebLockLeadership | None:
        """Queue for the exclusive Web Lock ``name``; held from ``on_acquired()`` until disposed.

        None when the browser has no ``navigator.locks``; ``on_failed(message)`` when it refuses the request.
        """
        return request_leadership(name, on_acquired, on_failed)

    def live_proxies(self) -> int:
        """How many JS proxies the package holds right now (listeners of open objects)."""
        return live_proxies()


if TYPE_CHECKING:  # mypy proves here that every class satisfies its platform protocol

    def _conformance(
        platform: BrowserPlatform,
        *,
        connection: BrowserSignallingConnection,
        peer: BrowserPeerConnection,
        output: BrowserAudioOutput,
        microphone: BrowserLocalAudio,
        listener: Listener,
        sounds: BrowserSoundPlayer,
        tab_channel: BrowserTabChannel,
        lock: WebLockLeadership,
    ) -> None:
        checked_platform: Platform = platform
        checked_media: MediaDevices = platform.media
        checked_connection: SignallingConnection = connection
        checked_peer: PeerConnection = peer
        checked_output: AudioOutput = output
        checked_microphone: LocalAudio = microphone
        checked_listener: Disposable = listener
        checked_sounds: SoundPlayer = sounds
        checked_tab_channel: TabChannel = tab_channel
        checked_lock: Disposable = lock
        del checked_platform, checked_media, checked_connection, checked_peer, checked_output
        del checked_microphone, checked_listener, checked_sounds, checked_tab_channel, checked_lock
