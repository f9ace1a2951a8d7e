"""The microphone and speaker pickers (``Device.list_audio_devices``, ``set_input_device``,
``set_output_device``).

The lists are filled when the phone signs in and again on the Device's ``deviceChange`` event (a headset
plugged in). Choosing a microphone switches live calls at once (no renegotiation); choosing a speaker
moves the call audio and the SDK's sounds. Where the browser has no ``setSinkId`` (Safari, Firefox
without the pref) the speaker picker is disabled with a note saying why: audio then plays on the
system's default output.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.dom import Listeners, by_id, clear, make, set_hidden
from app.messages import describe_error
from twochat_voice_web import Device, VoiceSDKError

__all__ = ["AudioSettings"]

NO_SINK_NOTE = (
    "This browser cannot choose where call audio plays (it has no setSinkId): "
    "it uses the system's default speaker. Change it in the system's sound settings."
)
NO_LABELS_NOTE = "Device names appear once the browser has allowed the microphone (after the first call)."


def can_choose_speaker(device: Device) -> bool:
    """Whether this browser can route call audio to a chosen output (``setSinkId``)."""
    return device.is_output_selection_supported


class AudioSettings:
    """The Audio card: two ``<select>`` elements and their notes.

    Args:
        listeners: where the change listeners are registered.
        notify: ``notify(message, level)`` shows a message (``success``, ``warning``, ``error``).
    """

    def __init__(self, listeners: Listeners, notify: Callable[[str, str], None]) -> None:
        self._input = by_id("input-device")
        self._output = by_id("output-device")
        self._output_note = by_id("output-note")
        self._device_note = by_id("device-note")
        self._notify = notify
        self._device: Device | None = None
        self._labels: dict[str, str] = {}
        listeners.on(self._input, "change", self._on_input_change)
        listeners.on(self._output, "change", self._on_output_change)

    def attach(self, device: Device) -> None:
        """Use ``device`` from now on (the lists are filled by :meth:`refresh`)."""
        self._device = device

    def detach(self) -> None:
        """Forget the Device (signed out) and empty the lists."""
        self._device = None
        clear(self._input)
        clear(self._output)

    async def refresh(self) -> None:
        """Fill both lists from ``Device.list_audio_devices()``, keeping the current choices."""
        device = self._device
        if device is None:
            return
        try:
            devices = await device.list_audio_devices()
        except VoiceSDKError as error:
            self._notify(describe_error(error), "error")
            return
        if device is not self._device:
            return
        inputs = [d for d in devices if d["kind"] == "audioinput"]
        outputs = [d for d in devices if d["kind"] == "audiooutput"]
        self._fill(self._input, inputs, device.input_device_id, "Microphone", "System default microphone")
        speaker_ok = can_choose_speaker(device)
        self._fill(self._output, outputs, device.output_device_id, "Speaker", "System default speaker")
        self._output.disabled = not speaker_ok or not outputs
        self._output_note.textContent = NO_SINK_NOTE if not speaker_ok else ""
        set_hidden(self._output_note, speaker_ok)
        unlabelled = any(not d["label"] for d in devices)
        self._device_note.textContent = NO_LABELS_NOTE if unlabelled else ""
        set_hidden(self._device_note, not unlabelled)

    def _fill(
        self, select: Any, devices: list[dict[str, str]], chosen: str | None, noun: str, default_text: str
    ) -> None:
        clear(select)
        ids = [d["device_id"] for d in devices]
        if "default" not in ids:
            select.appendChild(make("option", None, default_text, value=""))
        for index, info in enumerate(devices, start=1):
            label = info["label"] or f"{noun} {index}"
            if info["device_id"] == "default" and not info["label"]:
                label = default_text
            self._labels[info["device_id"]] = label
            select.appendChild(make("option", None, label, value=info["device_id"]))
        wanted = chosen if chosen in ids else ("default" if "default" in ids else "")
        select.value = wanted or ""

    def _label(self, device_id: str, fallback: str) -> str:
        return self._labels.get(device_id, fallback)

    async def _on_input_change(self, _event: Any) -> None:
        device = self._device
        if device is None:
            return
        value = str(self._input.value)
        try:
            await device.set_input_device(value or None)
        except VoiceSDKError as error:
            self._notify(describe_error(error), "error")
            return
        self._notify(f"Microphone: {self._label(value, 'system default')}", "success")

    async def _on_output_change(self, _event: Any) -> None:
        device = self._device
        if device is None:
            return
        value = str(self._output.value) or "default"
        try:
            await device.set_output_device(value)
        except VoiceSDKError as error:
            self._notify(describe_error(error), "error")
            return
        self._notify(f"Speaker: {self._label(value, 'system default')}", "success")
