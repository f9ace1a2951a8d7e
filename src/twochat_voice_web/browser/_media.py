"""Microphones (``getUserMedia``), device lists (``enumerateDevices``) and ``devicechange``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsProxy

from twochat_voice_web.audio_capture import AudioConstraints, AudioProcessor
from twochat_voice_web.errors import ErrorCode, MediaError
from twochat_voice_web.platform import DeviceInfo, Disposable

from ._errors import microphone_error
from ._ffi import JsCallError, call_async, has_member, is_nullish
from ._proxies import Listener, ProxyOwner, listen
from ._subscriptions import Subscription

__all__ = ["BrowserLocalAudio", "BrowserMediaDevices", "can_select_output"]


def _media_devices() -> Any:
    """``navigator.mediaDevices``, or a MediaError when the page cannot have it (insecure context)."""
    devices = getattr(js.navigator, "mediaDevices", None)
    if is_nullish(devices):
        raise MediaError(
            ErrorCode.MEDIA_DEVICE_ERROR,
            "this page cannot use microphones: navigator.mediaDevices is missing "
            "(the page must be served over https:// or from localhost)",
        )
    return devices


def can_select_output() -> bool:
    """True when audio elements can be routed to a chosen output (``HTMLMediaElement.setSinkId``)."""
    return has_member(js.HTMLMediaElement.prototype, "setSinkId")


class BrowserLocalAudio:
    """One microphone capture. Implements the platform's ``LocalAudio``.

    The track's ``ended`` event (device unplugged, revoked permission) is listened to; :meth:`on_ended`
    registers callbacks for it. :meth:`stop` releases the device and the listener.

    With an audio processor (:meth:`use_processor`), :attr:`stream` and :attr:`track` are the processed
    ones, what a peer connection sends; the device's own track is still the one watched and stopped.
    """

    def __init__(self, stream: Any, track: Any, *, requested_device_id: str | None = None) -> None:
        self._stream: Any = stream
        self._track: Any = track
        self._sent_stream: Any = stream
        self._sent_track: Any = track
        self._processor: AudioProcessor | None = None
        self._requested_device_id = requested_device_id
        self._stopped = False
        self._ended_callbacks: list[Callable[[], None]] = []
        self._owner = ProxyOwner("microphone")
        self._owner.listen(track, "ended", self._handle_ended)

    @property
    def track(self) -> Any:
        """The JS ``MediaStreamTrack`` to send (the processed one when a processor is in use)."""
        return self._sent_track

    @property
    def stream(self) -> Any:
        """The JS ``MediaStream`` of :attr:`track`."""
        return self._sent_stream

    @property
    def device_track(self) -> Any:
        """The microphone's own ``MediaStreamTrack`` (the same as :attr:`track` without a processor)."""
        return self._track

    async def use_processor(self, processor: AudioProcessor) -> None:
        """Send what ``processor`` makes of the microphone's stream from now on.

        Raises:
            MediaError: ``MEDIA_DEVICE_ERROR`` when the processor fails or returns no audio track.
        """
        processed = await processor.process(self._stream)
        tracks = (
            processed.getAudioTracks()
            if isinstance(processed, JsProxy) and has_member(processed, "getAudioTracks")
            else None
        )
        if tracks is None or int(tracks.length) == 0:
            processor.release(processed)
            raise MediaError(
                ErrorCode.MEDIA_DEVICE_ERROR,
                "the audio processor must return a MediaStream with an audio track",
            )
        self._sent_stream = processed
        self._sent_track = tracks[0]
        self._processor = processor

    @property
    def device_id(self) -> str | None:
        """The device actually captured (from the track's settings), or the one asked for."""
        settings = self._track.getSettings()
        device_id = getattr(settings, "deviceId", None)
        return str(device_id) if device_id else self._requested_device_id

    @property
    def label(self) -> str:
        """The device label ("Fake Audio Input 1", "Built-in Microphone"...)."""
        return str(self._track.label)

    @property
    def ended(self) -> bool:
        """True once stopped or once the track ended (``readyState == "ended"``)."""
        return self._stopped or str(self._track.readyState) == "ended"

    @property
    def enabled(self) -> bool:
        """False while muted with :meth:`set_enabled`."""
        return bool(self._sent_track.enabled)

    def set_enabled(self, enabled: bool) -> None:
        """Mute (False) or unmute (True): the track sends silence while disabled; no renegotiation."""
        self._sent_track.enabled = bool(enabled)
        self._track.enabled = bool(enabled)

    def on_ended(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` when the track ends by itself (unplugged device); not after :meth:`stop`."""
        return Subscription(self._ended_callbacks, callback)

    def stop(self) -> None:
        """Stop capturing (the browser's recording indicator goes off); idempotent."""
        if self._stopped:
            return
        self._stopped = True
        self._ended_callbacks.clear()
        self._owner.close()
        for track in self._stream.getTracks():
            track.stop()
        self._track.stop()
        processor, self._processor = self._processor, None
        if processor is not None:
            for track in self._sent_stream.getTracks():
                track.stop()
            processor.release(self._sent_stream)

    def _handle_ended(self, _event: Any) -> None:
        for callback in list(self._ended_callbacks):
            callback()


class BrowserMediaDevices:
    """Microphones and speakers of the browser. Implements the platform's ``MediaDevices``."""

    async def get_microphone(
        self,
        device_id: str | None = None,
        *,
        constraints: AudioConstraints | None = None,
        processor: AudioProcessor | None = None,
    ) -> BrowserLocalAudio:
        """Open the default microphone, or exactly ``device_id``, with ``constraints`` (as the browser's
        ideal values); with a ``processor``, the capture sends the stream it makes.

        Raises:
            MediaError: ``MEDIA_PERMISSION_DENIED`` (NotAllowedError) or ``MEDIA_DEVICE_ERROR`` (no such
                device, device busy, no mediaDevices in this context, the processor failed...).
        """
        devices = _media_devices()
        wanted: dict[str, Any] = constraints.to_media_track_constraints() if constraints is not None else {}
        if device_id:
            wanted["deviceId"] = {"exact": device_id}
        audio: Any = wanted or True
        try:
            stream = await call_async(devices, "getUserMedia", {"audio": audio, "video": False})
        except JsCallError as error:
            raise microphone_error(error.name, error.message, device_id=device_id, cause=error) from error
        tracks = stream.getAudioTracks()
        if int(tracks.length) == 0:
            for track in stream.getTracks():
                track.stop()
            raise MediaError(ErrorCode.MEDIA_DEVICE_ERROR, "getUserMedia returned no audio track")
        capture = BrowserLocalAudio(stream, tracks[0], requested_device_id=device_id)
        if processor is not None:
            try:
                await capture.use_processor(processor)
            except BaseException:
                capture.stop()
                raise
        return capture

    async def list_devices(self) -> list[DeviceInfo]:
        """Audio inputs and outputs (labels are empty until the page got microphone permission)."""
        devices = _media_devices()
        try:
            found = await call_async(devices, "enumerateDevices")
        except JsCallError as error:
            raise MediaError(
                ErrorCode.MEDIA_DEVICE_ERROR, f"listing media devices failed ({error})", error
            ) from error
        result: list[DeviceInfo] = []
        for device in found:
            kind = str(device.kind)
            if kind in ("audioinput", "audiooutput"):
                result.append(
                    DeviceInfo(
                        device_id=str(device.deviceId),
                        kind=kind,
                        label=str(device.label),
                        group_id=str(device.groupId),
                    )
                )
        return result

    def on_device_change(self, callback: Callable[[], None]) -> Listener:
        """Call ``callback()`` on every ``devicechange``; dispose the result to stop."""
        return listen(_media_devices(), "devicechange", lambda _event: callback())

    @property
    def can_select_output(self) -> bool:
        """True when ``HTMLMediaElement.setSinkId`` exists (Chromium, Firefox; not Safari before 2024)."""
        return can_select_output()
