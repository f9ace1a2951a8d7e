"""A call of a multi-tab leader seen from a follower tab: :class:`MirroredCall`.

Its properties and events mirror the leader's call (:class:`~.tab_protocol.CallSnapshot` and the events
the leader relays, applied by :meth:`MirroredCall.mirror_event`); its methods ask the leader to act on the
real call through a :class:`CallForwarder` (the follower's :class:`~.tabs.TabCoordinator`), since media
lives where the peer connection is, in the leader tab.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from typing import Any, Protocol

from .call import Call, CallDirection, CallHost, CallStatus
from .call_status import check_answerable, check_mute, check_reject
from .errors import ErrorCode, VoiceSDKError
from .media_options import CallMediaOptions, parse_call_media_options
from .tab_protocol import CallSnapshot

__all__ = ["DIGITS_RE", "CallForwarder", "MirroredCall"]

_log = logging.getLogger("twochat_voice_web")

DIGITS_RE = re.compile(r"^[0-9A-Da-d*#wW,]+$")
"""What ``send_digits`` accepts (checked here before the request goes to the leader)."""


class CallForwarder(Protocol):
    """What a :class:`MirroredCall` needs of its tab's coordinator: asking the leader to act."""

    async def request(self, op: str, call: MirroredCall | None, *args: Any, **kwargs: Any) -> Any:
        """Ask the leader to run ``op`` on ``call``'s real call; its result (errors as the leader's)."""

    def send(self, op: str, call: MirroredCall, *args: Any) -> None:
        """:meth:`request` without waiting; a refusal becomes an ``error`` event of ``call``."""


class MirroredCall(Call):
    """A call of the leader tab, seen from a follower tab (``multi_tab``).

    Its properties and events mirror the leader's call. Its methods ask the leader to act on the real call
    (media plays in the leader tab); the async ones resolve when the leader answered, the others
    (``reject``, ``ignore``, ``mute``, ``send_digits``) return at once and report a refusal as an ``error``
    event. ``get_stats()`` returns the leader's figures.
    """

    _LOCAL_MEDIA = False

    def __init__(self, host: CallHost, coordinator: CallForwarder, snapshot: CallSnapshot) -> None:
        super().__init__(
            host,
            direction=CallDirection(snapshot.direction),
            remote_identity=snapshot.remote_identity,
            custom_headers=snapshot.custom_headers,
            sip_call_id=snapshot.sip_call_id,
        )
        self._coordinator = coordinator
        self._key = snapshot.key
        self._owner = snapshot.owner
        self._warnings: tuple[str, ...] = ()
        self._held: list[tuple[CallSnapshot, str | None, tuple[Any, ...]]] | None = None
        self._revision = 0
        self._apply(snapshot)

    def __repr__(self) -> str:
        return f"<MirroredCall {self.direction} {self.remote_identity!r} {self.status} of tab {self._owner}>"

    @property
    def key(self) -> str:
        """The call's id in the group (``<leader tab id>/<SIP Call-ID>``)."""
        return self._key

    @property
    def leader_tab(self) -> str:
        """The id of the tab whose peer connection carries this call."""
        return self._owner

    @property
    def active_warnings(self) -> list[str]:
        """The call-quality warnings raised in the leader tab."""
        return list(self._warnings)

    def _apply(self, snapshot: CallSnapshot) -> None:
        if self.ended or snapshot.revision < self._revision:
            return  # an older snapshot than the one shown (see CallSnapshot.revision)
        self._revision = snapshot.revision
        if not snapshot.ended:
            self._status = CallStatus(snapshot.status)
        self._muted = snapshot.muted
        self._local_hold = snapshot.on_hold
        self._remote_hold = snapshot.remote_hold
        self._ignored = snapshot.ignored
        self._timings.update(snapshot.timings)
        self._warnings = tuple(snapshot.warnings)

    # -- forwarded methods ------------------------------------------------------------------------------

    async def accept(
        self,
        *,
        codec_preferences: list[str] | None = None,
        max_average_bitrate: int | None = None,
        dtx: bool | None = None,
        rtc_configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer in the leader tab (its microphone, its speaker); resolves once it answered.

        Per-call media options are not forwarded: the leader answers with its own Device's.

        Raises:
            VoiceSDKError: as :meth:`Call.accept`, reported by the leader; ``CALL_FAILED`` when the leader
                tab went away, ``TIMEOUT`` when it did not answer; ``INVALID_ARGUMENT`` for media options.
        """
        media_options = parse_call_media_options(
            codec_preferences=codec_preferences,
            max_average_bitrate=max_average_bitrate,
            dtx=dtx,
            rtc_configuration=rtc_configuration,
        )
        if media_options != CallMediaOptions():
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                "accept() media options apply where the media is: this tab mirrors the leader's call",
            )
        self._host.check_alive()
        check_answerable("accept", self._direction, self._status)
        self._ignored = False
        self._host.sounds.stop_ringtone(self)
        await self._coordinator.request("accept", self)

    def reject(self, status_code: int = 486) -> None:
        """Ask the leader to reject the call (486 by default); a refusal is an ``error`` event.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` or ``INVALID_ARGUMENT`` (status not 300-699).
        """
        check_reject(self._direction, status_code)
        if self._status is not CallStatus.PENDING:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot reject a call that is {self._status.value}")
        self._host.sounds.stop_ringtone(self)
        self._coordinator.send("reject", self, status_code)

    def ignore(self) -> None:
        """Stop ringing in every tab of the group without telling the caller."""
        check_answerable("ignore", self._direction, self._status)
        self._ignored = True
        self._host.sounds.stop_ringtone(self)
        self._coordinator.send("ignore", self)

    async def disconnect(self) -> None:
        """Hang up in the leader tab (as :meth:`Call.disconnect`); resolves once the call ended."""
        if self.ended:
            return
        try:
            await self._coordinator.request("disconnect", self)
        except VoiceSDKError as exc:
            if not self.ended:
                raise
            _log.debug("disconnect(): %s (the call ended anyway)", exc)

    def mute(self, muted: bool = True) -> None:
        """Mute (True) or unmute (False) the leader tab's microphone; ``mute`` follows from the leader."""
        check_mute(muted, ended=self.ended)
        if muted == self._muted:
            return
        self._muted = muted
        self._coordinator.send("mute", self, muted)

    async def hold(self, hold: bool = True) -> None:
        """Hold or resume in the leader tab (a re-INVITE there); resolves when done.

        Raises:
            VoiceSDKError: as :meth:`Call.hold`, reported by the leader.
        """
        if not isinstance(hold, bool):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "hold() takes a bool")
        self._require_live_accepted("hold")
        await self._coordinator.request("hold", self, hold)

    def send_digits(self, digits: str) -> None:
        """Send DTMF from the leader tab (as :meth:`Call.send_digits`).

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` (illegal character) or ``INVALID_STATE`` (not accepted).
        """
        if not isinstance(digits, str) or not DIGITS_RE.match(digits):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"DTMF digits must be 0-9, *, #, A-D, w or ',', got {digits!r}"
            )
        self._require_live_accepted("send_digits")
        self._coordinator.send("send_digits", self, digits)

    async def set_input_device(self, device_id: str) -> None:
        """Switch the microphone of the leader tab's call."""
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_input_device() takes a device id")
        if self.ended:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        await self._coordinator.request("set_input_device", self, device_id)

    async def set_output_device(self, device_id: str) -> None:
        """Route the leader tab's remote audio of this call to another speaker."""
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_output_device() takes a device id")
        await self._coordinator.request("set_output_device", self, device_id)

    async def get_stats(self) -> dict[str, Any]:
        """The leader tab's media statistics for this call ({} once it ended)."""
        if self.ended:
            return {}
        result = await self._coordinator.request("get_stats", self)
        return dict(result) if isinstance(result, dict) else {}

    def _require_live_accepted(self, what: str) -> None:
        if self._status is not CallStatus.ACCEPTED:
            raise VoiceSDKError(
                ErrorCode.INVALID_STATE, f"{what}() needs an accepted call (it is {self._status.value})"
            )

    # -- mirrored events --------------------------------------------------------------------------------

    @property
    def holds_events(self) -> bool:
        """True while mirrored events are queued (between :meth:`hold_events` and :meth:`release_events`)."""
        return self._held is not None

    def hold_events(self) -> None:
        """Queue mirrored events until :meth:`release_events` (``connect()`` has not returned this call)."""
        if self._held is None:
            self._held = []

    def release_events(self) -> None:
        """Replay the queued events, in order, and stop queueing."""
        held, self._held = self._held, None
        for snapshot, event, args in held or ():
            self.mirror_event(snapshot, event, args)

    def mirror_event(self, snapshot: CallSnapshot, event: str | None, args: tuple[Any, ...]) -> None:
        """Apply the leader's state after ``event`` and re-emit it here."""
        if self._held is not None:
            self._held.append((snapshot, event, args))
            return
        if self.ended:
            return
        self._apply(snapshot)
        if snapshot.status != CallStatus.PENDING.value or snapshot.ignored:
            self._host.sounds.stop_ringtone(self)
        if event is None or event == "failed":
            return  # "failed" is re-emitted by _finish, with "disconnect"
        if event == "disconnect":
            payload = args[0] if args and isinstance(args[0], dict) else {}
            reason = str(payload.get("reason") or "remote")
            code = payload.get("status_code")
            failed = snapshot.status == CallStatus.FAILED.value
            status = CallStatus.FAILED if failed else CallStatus.DISCONNECTED
            self._finish(
                status,
                "leader-lost" if reason == "destroyed" else reason,
                code if isinstance(code, int) and not isinstance(code, bool) else None,
            )
            return
        self.emit(event, *args)
