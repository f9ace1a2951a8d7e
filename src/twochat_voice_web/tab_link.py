"""The link between a Device and the other tabs of its page's origin: the hooks and the light default.

A Device calls the hooks of its :class:`TabLink` (``device_event``, ``call_event``, ``call_added``,
``call_action``, ``close``) whatever the mode; the base class does nothing. Two links override them:
:class:`AnsweredElsewhere` here (the default, independent tabs: say on the per-user channel when an inbound
call was accepted or rejected, and stop ringing when another tab did) and :class:`~.tabs.TabCoordinator`
(``multi_tab``: one leader, mirrored followers). :class:`TabHost` is what both need of the Device that owns
them (the Device's door for its tabs). See :mod:`.tabs` for the whole design.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from .call import Call, CallControl, CallDirection, CallHost, CallStatus
from .errors import VoiceSDKError
from .lifecycle import DeviceState, LifecycleCause
from .options import DeviceOptions
from .platform import Disposable, Platform, TabChannel
from .sounds import DeviceSounds
from .tab_protocol import Handled, TabMessageError, decode_message, encode_message, user_channel_name

if TYPE_CHECKING:
    from .credentials import SipCredentials

__all__ = ["AnsweredElsewhere", "TabHost", "TabLink", "new_tab_id"]

_log = logging.getLogger("twochat_voice_web")


def new_tab_id() -> str:
    """A fresh random id for this tab (16 hex digits)."""
    return uuid.uuid4().hex[:16]


class TabHost(Protocol):
    """What the tab link (:class:`AnsweredElsewhere`, :class:`TabCoordinator`) needs of the Device that
    owns it: the Device's door for its tabs."""

    @property
    def platform(self) -> Platform:
        """The runtime (tab channels, leadership locks)."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's validated options."""

    @property
    def state(self) -> DeviceState:
        """The Device's state."""

    @property
    def calls(self) -> list[Call]:
        """The Device's live calls."""

    @property
    def call_host(self) -> CallHost:
        """The host of the calls this tab mirrors (:class:`MirroredCall`)."""

    def check_alive(self) -> None:
        """Raise ``DESTROYED`` when the Device was destroyed."""

    def change_state(self, cause: LifecycleCause) -> None:
        """Move the Device's lifecycle (:mod:`.lifecycle`)."""

    def emit(self, event: str, *args: Any) -> None:
        """Emit a Device event."""

    def emit_error(self, error: VoiceSDKError) -> None:
        """Log and emit a Device ``error``."""

    async def prepare_registration(self) -> SipCredentials:
        """Check the token and fetch the credentials (before joining a group)."""

    async def register_here(self) -> None:
        """Register this tab itself (a leader, or a tab alone)."""

    async def unregister_here(self) -> None:
        """Unregister this tab itself."""

    def arm_token_timers(self) -> None:
        """(Re)start the token expiry timers."""

    def bind_call(self, handle: str, call: Call) -> None:
        """Route events of ``handle`` to ``call``."""

    @property
    def sounds(self) -> DeviceSounds:
        """The Device's sounds (the ringtone of mirrored calls)."""

    async def connect(
        self,
        to: str,
        from_: str | None = None,
        caller_id: str | None = None,
        extra_headers: Iterable[str] = (),
    ) -> Call:
        """Place a call (``Device.connect``), for a follower."""


class TabLink:
    """The hooks a Device calls when tabs are linked; the default does nothing.

    :class:`TabCoordinator` (``multi_tab``) and :class:`AnsweredElsewhere` (independent tabs) override them.
    """

    @property
    def is_follower(self) -> bool:
        """True when this tab's calls live in another tab (Device methods are forwarded)."""
        return False

    def device_event(self, event: str, args: tuple[Any, ...]) -> None:
        """The Device is emitting ``event``."""

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        """A call of this tab is emitting ``event``."""

    def call_added(self, call: Call) -> None:
        """``connect()`` created an outbound call in this tab."""

    def call_action(self, call: Call, action: str) -> None:
        """The user began to ``accept``, ``reject`` or ``ignore`` an inbound call of this tab."""

    def close(self) -> None:
        """The Device is destroyed: stop talking to the other tabs."""


class AnsweredElsewhere(TabLink):
    """Independent tabs of one user: say when an inbound call was accepted or rejected here, and stop
    ringing when another tab did (see the module docstring)."""

    def __init__(self, device: TabHost, channel: TabChannel) -> None:
        self._device = device
        self._channel: TabChannel | None = channel
        self.tab_id = new_tab_id()
        self._subscription: Disposable | None = channel.on_message(self._on_message)

    @classmethod
    def open(cls, device: TabHost, aor: str) -> AnsweredElsewhere | None:
        """Link ``device`` to the other tabs of ``aor``; None when the runtime has no tab channels."""
        opener = getattr(device.platform, "open_tab_channel", None)
        channel = opener(user_channel_name(aor)) if callable(opener) else None
        return cls(device, channel) if channel is not None else None

    def call_action(self, call: Call, action: str) -> None:
        """Tell the other tabs that the user accepted or rejected this call here."""
        if action in ("accept", "reject") and call.sip_call_id is not None and self._channel is not None:
            self._channel.post(encode_message(Handled(self.tab_id, call.sip_call_id, action)))

    def _on_message(self, text: str) -> None:
        try:
            message = decode_message(text)
        except TabMessageError as exc:
            _log.debug("ignored a tab message: %s", exc)
            return
        if not isinstance(message, Handled):
            return
        for call in self._device.calls:
            if (
                call.sip_call_id == message.sip_call_id
                and call.direction == CallDirection.INBOUND.value
                and call.status == CallStatus.PENDING.value
            ):
                CallControl(call).mark_answered_elsewhere()
                self._device.sounds.stop_ringtone(call)

    def close(self) -> None:
        """Unsubscribe and close the channel; idempotent."""
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
