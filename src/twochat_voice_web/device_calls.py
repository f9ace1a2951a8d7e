"""The Device's calls: which are live, which SIP handle is which call, and what a new one becomes.

:class:`DeviceCalls` holds every call of one Device: outbound calls still preparing their offer (no SIP
handle yet) and the calls bound to a handle of the user agent, to which it routes the user agent's call
events. An incoming INVITE (:class:`~.sip.events.IncomingCall`) becomes a ringing inbound
:class:`~.call.Call` and the Device's ``incoming`` event, unless the Device is busy (a call is accepted,
:attr:`DeviceCalls.is_busy`) and ``allow_incoming_while_busy`` is False: then the user agent answers 486
Busy Here at once and the Device emits ``incomingRejected`` instead (no call object, no ringtone). A call
that rings without being answered, ignored or not, does not make the Device busy.

What it needs of its Device is :class:`DeviceCallsHost`; it acts on a call through
:class:`~.call.CallControl`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Protocol, TypeVar

from .addresses import caller_identity, custom_headers
from .call import Call, CallControl, CallDirection, CallHost
from .media_options import CallMediaOptions
from .options import DeviceOptions
from .sip import events as sip_events
from .sip.useragent import UserAgent
from .sounds import DeviceSounds

__all__ = ["DeviceCalls", "DeviceCallsHost"]

T = TypeVar("T")


class DeviceCallsHost(Protocol):
    """What the calls of a Device need of it."""

    @property
    def call_host(self) -> CallHost:
        """The door each new :class:`~.call.Call` gets to its Device."""

    @property
    def options(self) -> DeviceOptions:
        """The Device's options (``allow_incoming_while_busy``)."""

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""

    def sip(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(user_agent, now)`` through the driver."""

    def pump(self) -> None:
        """Write what the user agent produced and hand out its events."""

    def emit(self, event: str, *args: object) -> None:
        """Emit a Device event (``incoming``, ``incomingRejected``)."""

    @property
    def sounds(self) -> DeviceSounds:
        """The Device's sounds (the ringtone)."""

    def call_added(self, call: Call) -> None:
        """A new outbound call is placed (a multi-tab leader tells the other tabs)."""


class DeviceCalls:
    """The calls of one Device (see the module docstring)."""

    def __init__(self, host: DeviceCallsHost) -> None:
        self._host = host
        self._bound: dict[str, Call] = {}
        self._preparing: list[Call] = []

    @property
    def live(self) -> list[Call]:
        """The calls that have not ended, preparing ones first."""
        return [c for c in [*self._preparing, *self._bound.values()] if not c.ended]

    @property
    def is_busy(self) -> bool:
        """True while a call is accepted (on hold included)."""
        return any(call.status == "accepted" for call in self.live)

    def bind(self, handle: str, call: Call) -> None:
        """``call`` is the user agent's call ``handle``: its events go to it."""
        self._bound[handle] = call

    def finished(self, call: Call) -> None:
        """``call`` ended: forget it (every handle it had)."""
        self._host.sounds.forget(call)
        for handle, known in list(self._bound.items()):
            if known is call:
                del self._bound[handle]

    def route(self, event: sip_events.Event) -> None:
        """Hand a call event of the user agent to its call (an event for no known call is dropped)."""
        handle = getattr(event, "call", None)
        call = self._bound.get(handle) if isinstance(handle, str) else None
        if call is not None:
            CallControl(call).on_sip_event(event)

    def incoming(self, event: sip_events.IncomingCall) -> None:
        """An INVITE came in: ring a new inbound call, or reject it with 486 when busy."""
        host = self._host
        custom = custom_headers(event.request)
        identity = caller_identity(event.remote.uri)
        if self.is_busy and not host.options.allow_incoming_while_busy:
            host.sip(lambda ua, now: ua.reject(event.call, now, status_code=486))
            host.logger.info(
                "rejected the incoming call from %s with 486 Busy Here: a call is in progress "
                "(allow_incoming_while_busy is False)",
                identity,
            )
            host.emit(
                "incomingRejected",
                {
                    "reason": "busy",
                    "status_code": 486,
                    "remote_identity": identity,
                    "remote_display_name": event.remote.display_name,
                    "custom_headers": custom,
                    "sip_call_id": event.request.call_id,
                },
            )
            return
        call = Call(
            host.call_host,
            direction=CallDirection.INBOUND,
            remote_identity=identity,
            custom_headers=custom,
            remote_display_name=event.remote.display_name,
            sip_call_id=event.request.call_id,
            handle=event.call,
            remote_offer=event.sdp,
        )
        self.bind(event.call, call)
        host.sip(lambda ua, now: ua.ring(event.call, now))
        host.sounds.start_ringtone(call)
        host.emit("incoming", call)

    async def place(
        self, to: str, target: str, headers: list[tuple[str, str]], media_options: CallMediaOptions
    ) -> Call:
        """Place an outbound call to ``target`` (``to`` as the caller wrote it); returns once the INVITE is
        sent. The call counts as live while it prepares its offer."""
        call = Call(self._host.call_host, direction=CallDirection.OUTBOUND, remote_identity=to)
        self._preparing.append(call)
        try:
            await CallControl(call).start_outbound(target, headers, media_options)
        finally:
            if call in self._preparing:
                self._preparing.remove(call)
        self._host.pump()
        self._host.call_added(call)
        return call
