"""The Device's audio devices: which microphone and speaker calls use, the microphone's constraints, and
the browser's ``devicechange``.

:class:`AudioDevices` holds the choice new calls take (``input_device_id``, ``output_device_id``, the
:class:`~.audio_capture.MicrophoneCapture` settings) and applies a new choice to the live calls: a new
microphone to every accepted call (no renegotiation), new constraints by re-opening every live call's
microphone, a new speaker to every accepted call and to the SDK's sounds. Once a call opened media or the
page listed the devices, it watches ``devicechange``: the Device emits ``deviceChange`` and every call
re-opens its microphone when it ended or follows the system default (field lesson §B-8).

What it needs of its Device is :class:`AudioDevicesHost`; it acts on calls through their public API and
:class:`~.call.CallControl`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from .audio_capture import MicrophoneCapture, parse_audio_constraints
from .call import CallControl
from .device_view import DeviceView
from .errors import ErrorCode, MediaError, VoiceSDKError
from .platform import Disposable
from .sounds import DeviceSounds

__all__ = ["AudioDevices", "AudioDevicesHost"]


class AudioDevicesHost(DeviceView, Protocol):
    """What the audio devices need of their Device (besides its ``platform.media``, ``destroyed`` and
    ``calls``)."""

    def device_changed(self) -> None:
        """The browser's audio devices changed: emit ``deviceChange``."""

    @property
    def sounds(self) -> DeviceSounds:
        """The SDK's sounds (ringtone, ringback, tones), routed to the chosen speaker too."""


class AudioDevices:
    """The microphone, speaker and capture settings of one Device (see the module docstring)."""

    def __init__(
        self,
        host: AudioDevicesHost,
        capture: MicrophoneCapture,
        *,
        input_device_id: str | None,
        output_device_id: str | None,
    ) -> None:
        self._host = host
        self._capture = capture
        self._input_device_id = input_device_id
        self._output_device_id = output_device_id
        self._watch: Disposable | None = None

    @property
    def input_device_id(self) -> str | None:
        """The microphone new calls use (None: the browser's default)."""
        return self._input_device_id

    @property
    def output_device_id(self) -> str | None:
        """The speaker new calls use (None: the browser's default)."""
        return self._output_device_id

    @property
    def capture(self) -> MicrophoneCapture:
        """The microphone settings calls open their microphones with."""
        return self._capture

    async def list_devices(self) -> list[dict[str, str]]:
        """Microphones and speakers: ``[{"device_id", "kind", "label", "group_id"}]`` (starts watching)."""
        self.watch()
        return [
            {"device_id": d.device_id, "kind": d.kind, "label": d.label, "group_id": d.group_id}
            for d in await self._host.platform.media.list_devices()
        ]

    def prefer_input(self, device_id: str) -> None:
        """New calls use microphone ``device_id`` (a call without media yet chose it)."""
        self._input_device_id = device_id

    async def choose_input(self, device_id: str | None) -> None:
        """Use microphone ``device_id`` (None: the default) for new calls and every accepted call.

        Raises:
            VoiceSDKError: ``MEDIA_*`` when an accepted call cannot open it.
        """
        self._input_device_id = device_id
        for call in self._host.calls:
            if call.status == "accepted":
                await call.set_input_device(device_id or "default")

    async def set_constraints(self, constraints: Mapping[str, Any]) -> None:
        """Use these microphone constraints for new calls and re-open every live call's microphone.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a bad constraint (nothing changes); ``MEDIA_*`` when a
                live call's microphone cannot be re-opened (the first such failure, after trying them all).
        """
        if not self._capture.set_constraints(parse_audio_constraints(constraints)):
            return
        failures: list[VoiceSDKError] = []
        for call in self._host.calls:
            try:
                await CallControl(call).capture_changed()
            except VoiceSDKError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    async def choose_output(self, device_id: str) -> None:
        """Use speaker ``device_id`` for new calls, every accepted call and the SDK's sounds.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` where the browser cannot choose (no setSinkId).
        """
        if not self._host.platform.media.can_select_output:
            raise MediaError(
                ErrorCode.OUTPUT_DEVICE_UNSUPPORTED,
                "this browser cannot choose the audio output (no setSinkId)",
            )
        self._output_device_id = device_id
        for call in self._host.calls:
            if call.status == "accepted":
                await call.set_output_device(device_id)
        await self._host.sounds.set_output(device_id)

    def watch(self) -> None:
        """Start watching ``devicechange`` (idempotent; not once the Device was destroyed)."""
        if self._watch is None and not self._host.destroyed:
            self._watch = self._host.platform.media.on_device_change(self._devices_changed)

    def close(self) -> None:
        """Stop watching (the Device is destroyed)."""
        if self._watch is not None:
            self._watch.dispose()
            self._watch = None

    def _devices_changed(self) -> None:
        if self._host.destroyed:
            return
        self._host.device_changed()
        for call in self._host.calls:
            CallControl(call).devices_changed()
