"""The Device's sounds: the ringtone, the ringback tone, DTMF feedback and the disconnect tone.

Design
======
One :class:`DeviceSounds` per Device, in front of the platform's :class:`~.platform.SoundPlayer` (created
on first use, with the Device's per-sound overrides and speaker). The ringtone loops while at least one
inbound call rings, the ringback tone while at least one outbound call rings without early media: the
sets of ringing calls decide, so two ringing calls do not start two loops and the first to stop does not
silence the other. When the browser refuses to play until the user interacts with the page, the player
reports the sound's name to ``on_blocked``; the Device reports ``AUTOPLAY_BLOCKED`` and, on the next user
gesture, calls :meth:`DeviceSounds.replay` to start the loops that should be playing.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from .errors import VoiceSDKError
from .platform import Disposable, SoundPlayer
from .tasks import TaskSet

__all__ = ["DeviceSounds", "dtmf_sound_name"]


def dtmf_sound_name(digit: str) -> str:
    """The sound of one DTMF digit: ``dtmf0``-``dtmf9``, ``dtmfa``-``dtmfd``, ``dtmfs`` (*), ``dtmfh`` (#)."""
    return {"*": "dtmfs", "#": "dtmfh"}.get(digit, f"dtmf{digit.lower()}")


class DeviceSounds:
    """The sounds of one Device (see the module docstring).

    Args:
        create_player: makes the platform's sound player (None: the platform has none).
        overrides: ``(name, url | False | True)`` per sound, from the Device's ``sounds`` option.
        output_device_id: the speaker chosen when the player is created (None: the default).
        on_blocked: the browser blocked sound ``name`` until a user gesture.
        on_error: a failure to route the sounds to the chosen speaker.
    """

    def __init__(
        self,
        *,
        create_player: Callable[[], SoundPlayer | None],
        overrides: tuple[tuple[str, str | bool], ...],
        output_device_id: Callable[[], str | None],
        on_blocked: Callable[[str], None],
        on_error: Callable[[VoiceSDKError], None],
    ) -> None:
        self._create_player = create_player
        self._overrides = overrides
        self._output_device_id = output_device_id
        self._on_blocked = on_blocked
        self._on_error = on_error
        self._player: SoundPlayer | None = None
        self._ready = False
        self._closed = False
        self._blocked: Disposable | None = None
        self._ringing: set[Hashable] = set()
        self._ringback: set[Hashable] = set()
        self._tasks = TaskSet()

    def player(self) -> SoundPlayer | None:
        """The platform's player, created on first use (None when the platform has none, or closed)."""
        if not self._ready and not self._closed:
            self._ready = True
            player = self._create_player()
            if player is not None:
                for name, value in self._overrides:
                    if isinstance(value, bool):
                        player.set_enabled(name, value)
                    else:
                        player.set_source(name, value)
                self._blocked = player.on_blocked(self._on_blocked)
                device_id = self._output_device_id()
                if device_id is not None:
                    self._tasks.spawn(self._route(player, device_id))
            self._player = player
        return self._player

    @property
    def current_player(self) -> SoundPlayer | None:
        """The player if one was created (never creates it)."""
        return self._player

    async def _route(self, player: SoundPlayer, device_id: str) -> None:
        try:
            await player.set_output(device_id)
        except VoiceSDKError as exc:
            self._on_error(exc)

    async def set_output(self, device_id: str) -> None:
        """Play the sounds on speaker ``device_id``."""
        player = self.player()
        if player is not None:
            await player.set_output(device_id)

    def play(self, name: str, *, loop: bool = False) -> None:
        """Play sound ``name`` (once, or looped)."""
        player = self.player()
        if player is not None:
            player.play(name, loop=loop)

    def _stop(self, name: str) -> None:
        if self._player is not None:
            self._player.stop(name)

    def start_ringtone(self, call: Hashable) -> None:
        """``call`` rings in."""
        if not self._ringing:
            self.play("incoming", loop=True)
        self._ringing.add(call)

    def stop_ringtone(self, call: Hashable) -> None:
        """``call`` no longer rings, in or out."""
        if call in self._ringing:
            self._ringing.discard(call)
            if not self._ringing:
                self._stop("incoming")
        self.stop_ringback(call)

    def start_ringback(self, call: Hashable) -> None:
        """``call`` rings out."""
        if not self._ringback:
            self.play("outgoing", loop=True)
        self._ringback.add(call)

    def stop_ringback(self, call: Hashable) -> None:
        """``call`` no longer rings out."""
        if call in self._ringback:
            self._ringback.discard(call)
            if not self._ringback:
                self._stop("outgoing")

    def forget(self, call: Hashable) -> None:
        """``call`` ended: it no longer counts as ringing in."""
        self._ringing.discard(call)

    def play_dtmf(self, digit: str) -> None:
        """The feedback tone of one DTMF digit."""
        self.play(dtmf_sound_name(digit))

    def play_disconnect(self) -> None:
        """The disconnect tone."""
        self.play("disconnect")

    def replay(self) -> None:
        """After a user gesture: start the loops that should be playing."""
        if self._ringing:
            self.play("incoming", loop=True)
        if self._ringback:
            self.play("outgoing", loop=True)

    def close(self) -> None:
        """Close the player and stop listening to it; idempotent."""
        self._closed = True
        if self._player is not None:
            self._player.close()
            self._player = None
        if self._blocked is not None:
            self._blocked.dispose()
            self._blocked = None
