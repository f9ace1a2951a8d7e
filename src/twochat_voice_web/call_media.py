"""A call's media: its microphone capture, its peer connection and its remote-audio element.

:class:`CallMedia` opens the three when the call sets up (outbound ``connect()``, inbound ``accept()``) and
releases all three whatever way the call ends (field lesson §B-13). Mid-call it switches the microphone
without renegotiation (keeping the mute state), re-opens it when the browser's audio devices change and the
call follows the system default or its microphone ended (field lesson §B-8: a changed default needs a fresh
getUserMedia), routes the remote audio to another speaker, and resumes audio the browser blocked until a
user gesture.

What it needs of the Device is :class:`MediaHost` (a part of the call's :class:`~.call.CallHost`); what it
needs of its call is :class:`MediaLine`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol, TypeVar

from .audio_capture import MicrophoneCapture
from .errors import ErrorCode, MediaError, VoiceSDKError
from .media_options import CallMediaOptions
from .options import DeviceOptions
from .platform import (
    AudioOutput,
    Disposable,
    IceServer,
    LocalAudio,
    PeerConnection,
    PeerConnectionOptions,
    Platform,
)

__all__ = ["CallMedia", "MediaHost", "MediaLine"]

T = TypeVar("T")


class MediaHost(Protocol):
    """What a call's media needs of the Device that owns the call."""

    @property
    def platform(self) -> Platform:
        """The runtime (microphone, peer connections, audio output)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's validated options."""

    @property
    def input_device_id(self) -> str | None:
        """The microphone new calls use (None: the browser's default)."""

    @property
    def output_device_id(self) -> str | None:
        """The speaker new calls use (None: the browser's default)."""

    @property
    def capture(self) -> MicrophoneCapture:
        """The Device's microphone settings (:mod:`.audio_capture`): calls open microphones with it."""

    def choose_input_device(self, device_id: str) -> None:
        """A call without media yet chose the microphone: new calls use it too."""

    def ice_servers(self) -> tuple[IceServer, ...]:
        """The STUN/TURN servers for a new peer connection."""

    def watch_devices(self) -> None:
        """Start watching for audio device changes (idempotent)."""


class MediaLine(Protocol):
    """What a call's media needs of its call."""

    @property
    def ended(self) -> bool:
        """True once the call ended."""

    @property
    def muted(self) -> bool:
        """True while the call's microphone is muted (a new microphone starts muted too)."""

    def output_error(self, error: VoiceSDKError) -> None:
        """The remote-audio element failed (``AUTOPLAY_BLOCKED`` until a user gesture, or another error)."""

    def report(self, error: VoiceSDKError) -> None:
        """Report a non-fatal ``error`` event on the call."""

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        """Run ``work`` as one of the call's tasks."""


class CallMedia:
    """The microphone, peer connection and audio output of one call (see the module docstring)."""

    def __init__(self, host: MediaHost, line: MediaLine) -> None:
        self._host = host
        self._line = line
        self._microphone: LocalAudio | None = None
        self._peer: PeerConnection | None = None
        self._output: AudioOutput | None = None
        self._microphone_watch: Disposable | None = None

    @property
    def peer(self) -> PeerConnection | None:
        """The peer connection, from :meth:`open` until :meth:`release`."""
        return self._peer

    @property
    def microphone(self) -> LocalAudio | None:
        """The microphone the call sends, from :meth:`open` until :meth:`release`."""
        return self._microphone

    async def open(
        self, media_options: CallMediaOptions, on_ice_state: Callable[[str], None]
    ) -> PeerConnection:
        """Open the microphone, create the peer connection with it and attach the audio output.

        Raises:
            VoiceSDKError: ``MEDIA_PERMISSION_DENIED`` / ``MEDIA_DEVICE_ERROR`` (microphone).
        """
        host = self._host
        platform = host.platform
        microphone = self._microphone = await host.capture.open(platform.media, host.input_device_id)
        microphone.set_enabled(not self._line.muted)
        peer = self._peer = platform.create_peer_connection(
            PeerConnectionOptions(
                ice_servers=media_options.ice_servers_over(host.ice_servers()),
                gathering_timeout=host.options.ice_gathering_timeout_ms / 1000,
                gathering_policy=host.options.ice_gathering,
                on_ice_state=on_ice_state,
                codec_preferences=media_options.codecs_over(host.options.codec_preferences),
                configuration=media_options.configuration,
            )
        )
        await peer.set_microphone(microphone)
        self._output = platform.create_audio_output(host.output_device_id, on_error=self._line.output_error)
        self._output.attach(peer)
        self._microphone_watch = microphone.on_ended(self.devices_changed)
        host.watch_devices()
        return peer

    async def apply_answer(self, sdp: str, *, provisional: bool = False) -> None:
        """Apply the far end's answer (``provisional``: a 183's, for early media); a failure is reported as
        an ``error`` event on the call (``CALL_FAILED`` for a JS exception), nothing when there is no peer
        connection or the call ended."""
        pc = self._peer
        if pc is None or self._line.ended:
            return
        try:
            await pc.accept_answer(sdp, provisional=provisional)
        except VoiceSDKError as exc:
            self._line.report(exc)
        except Exception as exc:  # a JS exception from setRemoteDescription
            self._line.report(
                VoiceSDKError(ErrorCode.CALL_FAILED, f"could not apply the remote SDP: {exc}", exc)
            )

    def release(self) -> None:
        """Close the peer connection, stop the microphone, close the audio output (idempotent)."""
        peer, self._peer = self._peer, None
        microphone, self._microphone = self._microphone, None
        output, self._output = self._output, None
        if peer is not None:
            peer.close()
        if self._microphone_watch is not None:
            self._microphone_watch.dispose()
            self._microphone_watch = None
        if microphone is not None:
            microphone.stop()
        if output is not None:
            output.close()

    def set_muted(self, muted: bool) -> None:
        """Mute or unmute the microphone (when the call has one)."""
        if self._microphone is not None:
            self._microphone.set_enabled(not muted)

    async def set_input_device(self, device_id: str) -> None:
        """Switch the microphone (no renegotiation; the mute state is kept); before the call has media,
        the Device's choice for new calls.

        Raises:
            VoiceSDKError: ``MEDIA_*`` from opening the device (the call keeps its former microphone).
        """
        if self._peer is None:
            self._host.choose_input_device(device_id)
            return
        new = await self._host.capture.open(
            self._host.platform.media, None if device_id == "default" else device_id
        )
        if self._line.ended or self._peer is None:
            new.stop()
            return
        new.set_enabled(not self._line.muted)
        await self._peer.set_microphone(new)
        old, self._microphone = self._microphone, new
        if self._microphone_watch is not None:
            self._microphone_watch.dispose()
        self._microphone_watch = new.on_ended(self.devices_changed)
        if old is not None:
            old.stop()

    async def capture_changed(self) -> None:
        """The Device's capture settings changed (:mod:`.audio_capture`): re-open the microphone with them.

        Raises:
            VoiceSDKError: as :meth:`set_input_device`.
        """
        if self._microphone is not None and self._peer is not None and not self._line.ended:
            await self.set_input_device(self._host.input_device_id or "default")

    def devices_changed(self) -> None:
        """``devicechange`` (or the microphone ended): re-open the microphone when it ended or follows the
        system default; a failure is reported as a non-fatal ``error``."""
        if self._line.ended or self._microphone is None or self._peer is None:
            return
        chosen = self._host.input_device_id
        if self._microphone.ended or chosen in (None, "default"):
            self._line.spawn(self._reopen_microphone(chosen))

    async def _reopen_microphone(self, device_id: str | None) -> None:
        try:
            await self.set_input_device(device_id or "default")
        except VoiceSDKError as exc:
            self._line.report(exc)

    async def set_output_device(self, device_id: str) -> None:
        """Route the remote audio to another speaker.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` (no setSinkId) or ``OUTPUT_DEVICE_ERROR``.
            VoiceSDKError: ``INVALID_STATE`` (the call has no audio yet).
        """
        if not self._host.platform.media.can_select_output:
            raise MediaError(
                ErrorCode.OUTPUT_DEVICE_UNSUPPORTED,
                "this browser cannot choose the audio output (no setSinkId)",
            )
        if self._output is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has no audio yet")
        await self._output.set_sink(device_id)

    def resume_audio(self) -> None:
        """A user gesture came: play the remote audio the browser blocked."""
        output = self._output
        if output is not None and output.autoplay_blocked:
            self._line.spawn(output.resume())
