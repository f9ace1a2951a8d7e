"""Several tabs, one user: a leader tab holds the registration, the others mirror it (``multi_tab``).

Field lesson §B-15: with the SDK open in several tabs, every tab registers and rings, and accepting in one
does not stop the others. This module is the remedy, in two strengths. It is pure Python (no ``js``): it
talks to the browser through two primitives of the platform seam, ``Platform.open_tab_channel(name)``
(``BroadcastChannel``) and ``Platform.acquire_leadership(name, on_acquired)`` (the Web Locks API), which
:mod:`twochat_voice_web.browser._tabs` implements and ``tests/sdk/fakes.py`` fakes in memory.

Default (``Device(multi_tab=False)``): independent tabs
=====================================================
Each tab registers on its own, with its own ``+sip.instance``, so the server forks an inbound INVITE to
every tab and CANCELs the others once one answers. :class:`AnsweredElsewhere` only makes that immediate:
when a tab accepts or rejects an inbound call it says so on the per-user channel, and the other tabs stop
their ringtone for the same SIP Call-ID at once; the server's CANCEL that follows then ends their call with
reason ``answered-elsewhere`` (and no ``cancel`` event) instead of ``remote-cancelled``. Nothing else is
shared.

``multi_tab=True`` (or a group name): one leader, mirrored followers
===================================================================
Tabs of one *group* (the string given, else the user's address of record ``sip:user@domain``) share one
registration. :class:`TabCoordinator` runs in each tab:

* **Election.** Every tab that called ``register()`` queues for the exclusive Web Lock
  ``twochat-voice/v1/<group>/leader``. The holder is the *leader*: it alone opens the WebSocket and
  REGISTERs (the ordinary single-tab code path, :meth:`Device._register_here`). The lock is released when
  the leader's Device is destroyed or unregistered, or when its tab closes or crashes (the browser releases
  it), and the next tab in the queue becomes the leader. Without Web Locks (old browsers), the tabs elect a
  leader over the channel instead (:class:`ChannelElection`: heartbeats, lowest tab id wins; a tab whose
  timers the browser throttles hard may be taken for dead, and then two tabs lead and both register — the
  group degrades to independent tabs, never to none).
* **Mirroring.** The leader broadcasts, on the channel ``twochat-voice/v1/<group>``, its Device state and
  events (``registering``, ``registered``, ``unregistered``, ``reconnecting``, ``reconnected``, and
  ``error`` for the registration-wide codes of :data:`SHARED_ERROR_CODES`), and every call's state
  (:class:`CallSnapshot`) with every call event. Followers set ``device.state`` and emit the same Device
  events; each leader call appears in every follower as a :class:`MirroredCall` (a :class:`Call`): inbound
  calls arrive with the ``incoming`` event and ring in every tab (each tab plays its own ringtone: the
  user may be looking at any of them, and a tab without a user gesture may not be allowed to play).
* **Forwarding.** A follower's ``accept()``, ``reject()``, ``ignore()``, ``disconnect()``, ``mute()``,
  ``hold()``, ``send_digits()``, ``set_input_device()``, ``set_output_device()``, ``get_stats()`` and the
  Device's ``connect()`` are requests to the leader (:class:`TabRequest`/:class:`Reply`), which runs them on
  the real call and answers; errors come back with their code. **Media lives where the peer connection
  is: in the leader tab.** Accepting in a follower answers in the leader tab: the leader opens the
  microphone and plays the remote audio, and the follower shows and controls the call. Microphone
  permission is per origin, so one grant covers every tab; if it was never granted, the prompt appears in
  the leader tab.
* **Answered elsewhere.** As soon as a call is accepted, rejected or ignored in any tab, the leader says so
  (:class:`Handled`) and every tab stops ringing for it. An accepted call stays visible in every tab as
  ``accepted`` (one call, controllable from any tab); a rejected or ended one ends in every tab with the
  leader's reason. ``ignore()`` silences the call in every tab of the group.
* **Leader loss.** When the leader goes away, the next tab in the queue becomes the leader: its mirrored
  calls, and those of every other follower, end with reason ``leader-lost`` (they lived in the dead tab's
  peer connection); it then registers with its *own* ``+sip.instance`` (``registering``, ``registered`` in
  every tab). Requests still waiting for the old leader fail with ``CALL_FAILED``.
* **Leaving.** ``unregister()`` and ``destroy()`` take a tab out of the group: a leader unregisters and
  hands over (the next tab registers), a follower stops mirroring (its mirrored calls end locally with
  ``detached`` or ``destroyed``; the calls themselves go on in the leader tab).

Modules, one concept each (their names re-exported here): :mod:`.tab_link` (the hooks a Device calls,
:class:`TabHost`, and :class:`AnsweredElsewhere`), :mod:`.mirrored_call` (:class:`MirroredCall`),
:mod:`.tab_election` (:class:`ChannelElection`) and this module (:class:`TabCoordinator`: membership,
mirroring, forwarding). The messages, their JSON codec and the channel and lock names are the wire protocol of
:mod:`.tab_protocol` (re-exported here); the version is part of every channel and lock name, so tabs running
different SDK versions form separate groups instead of misreading each other.
"""

from __future__ import annotations

import asyncio
import enum
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from .call import Call, CallControl, CallDirection, CallStatus
from .errors import ErrorCode, RegistrationError, VoiceSDKError
from .lifecycle import LEADER_CAUSES, DeviceState, LifecycleCause
from .mirrored_call import CallForwarder, MirroredCall
from .platform import Disposable, TabChannel
from .tab_election import ChannelElection
from .tab_link import AnsweredElsewhere, TabHost, TabLink, new_tab_id
from .tab_protocol import (
    MIRRORED_DEVICE_EVENTS,
    PROTOCOL,
    SHARED_ERROR_CODES,
    CallSnapshot,
    CallUpdate,
    Claim,
    Handled,
    Heartbeat,
    Hello,
    LeaderAnnounce,
    Reply,
    Resign,
    Snapshot,
    StateUpdate,
    TabMessage,
    TabMessageError,
    TabRequest,
    WhoLeads,
    decode_args,
    decode_message,
    encode_args,
    encode_message,
    error_from,
    group_channel_name,
    leader_lock_name,
    plain_json,
    user_channel_name,
)
from .tasks import TaskSet

__all__ = [
    "MIRRORED_DEVICE_EVENTS",
    "PROTOCOL",
    "SHARED_ERROR_CODES",
    "AnsweredElsewhere",
    "CallForwarder",
    "CallSnapshot",
    "CallUpdate",
    "ChannelElection",
    "Claim",
    "Handled",
    "Heartbeat",
    "Hello",
    "LeaderAnnounce",
    "MirroredCall",
    "Reply",
    "Resign",
    "Snapshot",
    "StateUpdate",
    "TabCoordinator",
    "TabHost",
    "TabLink",
    "TabMessage",
    "TabMessageError",
    "TabRequest",
    "TabRole",
    "WhoLeads",
    "decode_message",
    "encode_message",
    "group_channel_name",
    "leader_lock_name",
    "user_channel_name",
]

T = TypeVar("T")

_log = logging.getLogger("twochat_voice_web")

_DEVICE_STATES = frozenset(state.value for state in DeviceState)

REQUEST_TIMEOUT = 30.0
"""How long a follower waits for the leader to run a forwarded method (accept may open the microphone)."""

_FORWARDED_CALL_METHODS = frozenset(
    {
        "accept",
        "reject",
        "ignore",
        "disconnect",
        "mute",
        "hold",
        "send_digits",
        "set_input_device",
        "set_output_device",
        "get_stats",
    }
)


class TabRole(enum.StrEnum):
    """Where a tab stands in its group."""

    IDLE = "idle"
    """Not in a group (before ``register()``, after ``unregister()``)."""
    FOLLOWER = "follower"
    """In the group, mirroring the leader (and queued for leadership)."""
    LEADER = "leader"
    """Holds the registration."""


@dataclass
class _Pending:
    target: str
    future: asyncio.Future[Any]


class TabCoordinator(TabLink):
    """One tab's part in a multi-tab group (see the module docstring): election, mirroring, forwarding.

    The Device creates it for ``multi_tab`` and delegates ``register()``, ``unregister()``, a follower's
    ``connect()`` and ``destroy()`` to it; its hooks see every Device and call event.
    """

    def __init__(self, device: TabHost, *, group: str | None = None, tab_id: str | None = None) -> None:
        self._device = device
        self._fixed_group = group
        self.group: str | None = group
        self.tab_id = tab_id or new_tab_id()
        self.role = TabRole.IDLE
        self.leader_id: str | None = None
        self._channel: TabChannel | None = None
        self._subscription: Disposable | None = None
        self._lease: Disposable | None = None
        self._election: ChannelElection | None = None
        self._mirrors: dict[str, MirroredCall] = {}
        self._pending: dict[str, _Pending] = {}
        self._request_counter = 0
        self._tasks = TaskSet(on_failure=_task_failed)
        self._registered: asyncio.Future[None] | None = None
        self._leader_state: str | None = None
        self._lead_task: asyncio.Future[None] | None = None
        self._solo = False
        self._closed = False
        self._rivals: set[str] = set()
        self._connecting = 0
        self._snapshots_made = 0

    # ------------------------------------------------------------------ properties

    @property
    def is_follower(self) -> bool:
        """True while another tab leads (Device and call methods are forwarded to it)."""
        return self.role is TabRole.FOLLOWER

    @property
    def is_leader(self) -> bool:
        """True while this tab holds the registration."""
        return self.role is TabRole.LEADER

    @property
    def mirrored_calls(self) -> list[MirroredCall]:
        """The live calls of the leader, as seen here."""
        return [call for call in self._mirrors.values() if not call.ended]

    # ------------------------------------------------------------------ membership

    async def register(self) -> None:
        """``Device.register()`` in a multi-tab group: join, then wait until the group is registered.

        The leader registers itself (the single-tab path); a follower resolves when the leader reports
        ``registered``.

        Raises:
            TokenError, VoiceSDKError, AuthError, RegistrationError: as ``Device.register()``; a follower
                that hears no registered leader within ``register_timeout_ms`` gets ``TIMEOUT`` and leaves.
        """
        device = self._device
        if self.role is TabRole.LEADER:
            await device.register_here()
            return
        if self.role is TabRole.FOLLOWER and device.state is DeviceState.REGISTERED:
            return
        if self.role is TabRole.IDLE:
            credentials = await device.prepare_registration()
            device.check_alive()
            if self.role is TabRole.IDLE:
                self.group = self._fixed_group or str(credentials.aor())
                if not self._join():
                    self._solo = True
                    self.role = TabRole.LEADER
                    self.leader_id = self.tab_id
                    await device.register_here()
                    return
        await self._wait_registered()

    async def _wait_registered(self) -> None:
        device = self._device
        loop = asyncio.get_event_loop()
        if self._registered is None or self._registered.done():
            self._registered = loop.create_future()
        waiter = self._registered
        timeout = device.options.register_timeout_ms / 1000
        while True:
            if device.state is DeviceState.REGISTERED:
                return
            try:
                await asyncio.wait_for(asyncio.shield(waiter), timeout=timeout)
                return
            except TimeoutError:
                if self.role is TabRole.LEADER or self._leader_state in ("registering", "reconnecting"):
                    continue  # registrations have their own timeouts; a reconnecting leader may come back
                self.leave(reason="detached")
                raise RegistrationError(
                    ErrorCode.REGISTRATION_FAILED,
                    "no tab of this group registered in time",
                    VoiceSDKError(ErrorCode.TIMEOUT, f"no registered tab within {timeout:g} s"),
                ) from None

    def _join(self) -> bool:
        device = self._device
        platform = device.platform
        opener = getattr(platform, "open_tab_channel", None)
        channel = opener(group_channel_name(self.group or "")) if callable(opener) else None
        if channel is None:
            _log.warning("multi_tab: this runtime has no BroadcastChannel; this tab registers on its own")
            return False
        self._channel = channel
        self._subscription = channel.on_message(self._on_message)
        self.role = TabRole.FOLLOWER
        if device.state is not DeviceState.REGISTERING:
            device.change_state(LifecycleCause.JOIN_GROUP)
            device.emit("registering")
        acquire = getattr(platform, "acquire_leadership", None)
        lease = (
            acquire(leader_lock_name(self.group or ""), self._on_lock_granted, on_failed=self._on_lock_failed)
            if callable(acquire)
            else None
        )
        if lease is not None:
            self._lease = lease
        else:
            self._start_channel_election()
        self._post(Hello(self.tab_id))
        return True

    def _start_channel_election(self) -> None:
        self._election = ChannelElection(self.tab_id, self._post, self._on_lock_granted)
        self._election.start()

    def _on_lock_failed(self, message: str) -> None:
        # Called from inside the lock's own JS callback: dispose of it on the next turn, not from within.
        asyncio.get_event_loop().call_soon(self._fall_back_to_channel_election, message)

    def _fall_back_to_channel_election(self, message: str) -> None:
        _log.warning("multi_tab: Web Locks refused (%s); electing over BroadcastChannel", message)
        if self._lease is not None:
            self._lease.dispose()
            self._lease = None
        if self.role is TabRole.FOLLOWER and self._election is None:
            self._start_channel_election()

    def _on_lock_granted(self) -> None:
        # The platform may call back from inside acquire_leadership() or from a JS callback: act on the loop.
        asyncio.get_event_loop().call_soon(self._become_leader)

    def _become_leader(self) -> None:
        device = self._device
        if self.role is not TabRole.FOLLOWER or self._closed:
            return
        self.role = TabRole.LEADER
        self.leader_id = self.tab_id
        self._leader_state = None
        _log.info("multi_tab: this tab leads group %s", self.group)
        self._end_mirrors(lambda call: True, "leader-lost")
        self._fail_pending(lambda pending: True, "the leader tab went away")
        self._post(LeaderAnnounce(self.tab_id))
        if device.state is not DeviceState.REGISTERING:
            device.change_state(LifecycleCause.LEFT_GROUP)
        self._lead_task = self._spawn(self._lead())

    async def _lead(self) -> None:
        device = self._device
        try:
            await device.register_here()
        except asyncio.CancelledError:
            raise
        except VoiceSDKError as exc:
            waiter = self._registered
            if waiter is not None and not waiter.done():
                waiter.set_exception(exc)
            else:
                device.emit_error(exc)
                device.emit("unregistered")
            self.leave(reason="detached")
            return
        waiter = self._registered
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def unregister(self) -> None:
        """``Device.unregister()``: a leader unregisters and hands over; a follower stops mirroring."""
        device = self._device
        if self.role is TabRole.LEADER:
            await device.unregister_here()
            self.leave(reason="detached")
            return
        if self.role is TabRole.FOLLOWER:
            self.leave(reason="detached")
            device.change_state(LifecycleCause.LEFT_GROUP)
            device.emit("unregistered")

    def leave(self, *, reason: str) -> None:
        """Leave the group: resign if leading, end the mirrors (``reason``), release the lock, close."""
        if self.role is TabRole.IDLE:
            return
        was_leader = self.role is TabRole.LEADER
        self.role = TabRole.IDLE
        if was_leader:
            self._post(Resign(self.tab_id))
        self.leader_id = None
        self._leader_state = None
        self._end_mirrors(lambda call: True, reason)
        self._fail_pending(lambda pending: True, "this tab left its multi-tab group")
        waiter = self._registered
        if waiter is not None and not waiter.done():
            waiter.set_exception(VoiceSDKError(ErrorCode.NOT_REGISTERED, "this tab left its multi-tab group"))
            waiter.exception()  # retrieved: nobody may be waiting
        if self._election is not None:
            self._election.dispose()
            self._election = None
        lease, self._lease = self._lease, None
        if lease is not None:
            lease.dispose()
        subscription, self._subscription = self._subscription, None
        if subscription is not None:
            subscription.dispose()
        channel, self._channel = self._channel, None
        if channel is not None:
            channel.close()
        self._solo = False

    def close(self) -> None:
        """The Device is destroyed: leave the group, cancel everything; idempotent."""
        if self._closed:
            return
        self.leave(reason="destroyed")
        self._closed = True
        self._tasks.cancel_all()

    # ------------------------------------------------------------------ leader side: hooks

    def device_event(self, event: str, args: tuple[Any, ...]) -> None:
        """Broadcast the leader's registration events, shared errors and incoming calls."""
        if self.role is not TabRole.LEADER or self._solo:
            return
        if event in MIRRORED_DEVICE_EVENTS:
            self._post(StateUpdate(self.tab_id, self._device.state, event, encode_args(args)))
        elif event == "error" and args and isinstance(args[0], VoiceSDKError):
            if args[0].code in SHARED_ERROR_CODES:
                self._post(StateUpdate(self.tab_id, self._device.state, "error", encode_args(args[:1])))
        elif event == "incoming" and args and isinstance(args[0], Call):
            self._post_call(args[0], "incoming", ())

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        """Broadcast a leader call's event with its new state."""
        if self.role is TabRole.LEADER and not self._solo and not isinstance(call, MirroredCall):
            self._post_call(call, event, args)

    def call_added(self, call: Call) -> None:
        """Announce an outbound call placed in the leader tab."""
        if self.role is TabRole.LEADER and not self._solo:
            self._post_call(call, None, ())

    def call_action(self, call: Call, action: str) -> None:
        """An inbound leader call is being accepted, rejected or ignored: every tab stops ringing now."""
        if self.role is not TabRole.LEADER or self._solo or call.sip_call_id is None:
            return
        key = f"{self.tab_id}/{call.sip_call_id}"
        self._post(Handled(self.tab_id, call.sip_call_id, action, key))

    def _snapshot_of(self, call: Call) -> CallSnapshot:
        """A snapshot of this tab's ``call``, numbered after every snapshot this tab made before it."""
        self._snapshots_made += 1
        return CallSnapshot.of(call, self.tab_id, self._snapshots_made)

    def _post_call(self, call: Call, event: str | None, args: tuple[Any, ...]) -> None:
        if call.sip_call_id is None:
            return  # an outbound call that failed before its INVITE: nobody else knows it
        self._post(CallUpdate(self.tab_id, self._snapshot_of(call), event, encode_args(args)))

    # ------------------------------------------------------------------ messages

    def _post(self, message: TabMessage) -> None:
        channel = self._channel
        if channel is not None:
            channel.post(encode_message(message))

    def _on_message(self, text: str) -> None:
        if self._closed or self.role is TabRole.IDLE:
            return
        try:
            message = decode_message(text)
        except TabMessageError as exc:
            _log.debug("ignored a tab message: %s", exc)
            return
        if message.sender == self.tab_id:
            return
        if self._election is not None:
            self._election.handle(message)
        if self.role is TabRole.LEADER:
            self._on_message_as_leader(message)
        else:
            self._on_message_as_follower(message)

    def _on_message_as_leader(self, message: TabMessage) -> None:
        if isinstance(message, Hello):
            calls = []
            for call in self._device.calls:
                if call.sip_call_id is not None and not isinstance(call, MirroredCall):
                    calls.append(self._snapshot_of(call))
            self._post(Snapshot(self.tab_id, self._device.state, tuple(calls)))
        elif isinstance(message, TabRequest) and message.target == self.tab_id:
            self._spawn(self._serve(message))
        elif isinstance(message, LeaderAnnounce) and message.sender not in self._rivals:
            self._rivals.add(message.sender)
            _log.warning("multi_tab: tab %s also leads group %s", message.sender, self.group)

    def _on_message_as_follower(self, message: TabMessage) -> None:
        if isinstance(message, LeaderAnnounce):
            self._switch_leader(message.sender)
        elif isinstance(message, Resign):
            if message.sender == self.leader_id:
                self.leader_id = None
                self._leader_state = None
            self._leader_gone(message.sender)
        elif isinstance(message, StateUpdate):
            if self._follows(message.sender):
                self._mirror_state(message.state, message.event, decode_args(message.args))
        elif isinstance(message, Snapshot):
            if self._follows(message.sender):
                self._mirror_state(message.state, None, ())
            for snapshot in message.calls:
                self._mirror_call(snapshot, None, ())
        elif isinstance(message, CallUpdate):
            self._follows(message.sender)
            self._mirror_call(message.call, message.event, decode_args(message.args))
        elif isinstance(message, Handled):
            mirror = self._mirrors.get(message.key or "")
            if mirror is not None and not mirror.ended:
                if message.action == "ignore":
                    CallControl(mirror).mark_ignored()
                self._device.sounds.stop_ringtone(mirror)
        elif isinstance(message, Reply) and message.target == self.tab_id:
            pending = self._pending.pop(message.request_id, None)
            if pending is not None and not pending.future.done():
                if message.ok:
                    pending.future.set_result(message.result)
                else:
                    pending.future.set_exception(
                        error_from(message.error_code, message.error_message or "the leader tab refused")
                    )

    def _follows(self, sender: str) -> bool:
        """True when ``sender`` is our leader (adopted now if we had none: we joined after its announce).

        Calls of another leader are still mirrored (keyed by their owner): two leaders only happen with the
        channel election, and then both tabs' calls are real.
        """
        if self.leader_id is None:
            self.leader_id = sender
        return sender == self.leader_id

    def _switch_leader(self, leader: str) -> None:
        previous, self.leader_id = self.leader_id, leader
        self._leader_state = None
        if previous is not None and previous != leader:
            self._leader_gone(previous)

    def _leader_gone(self, leader: str) -> None:
        self._end_mirrors(lambda call: call.leader_tab == leader, "leader-lost")
        self._fail_pending(lambda pending: pending.target == leader, "the leader tab went away")

    def _mirror_state(self, state: str, event: str | None, args: tuple[Any, ...]) -> None:
        device = self._device
        self._leader_state = state
        if event == "error":
            if args and isinstance(args[0], VoiceSDKError):
                device.emit_error(args[0])
            return
        if event is None:
            if state == device.state or state not in MIRRORED_DEVICE_EVENTS:
                return
            event = state
        elif event not in MIRRORED_DEVICE_EVENTS:
            return
        elif event == "registering" and device.state == "registering":
            return  # said already (when this tab joined, or by a leader that then failed)
        first_registration = state == "registered" and device.state is not DeviceState.REGISTERED
        cause = LEADER_CAUSES.get(DeviceState(state)) if state in _DEVICE_STATES else None
        if cause is None:
            _log.debug("multi_tab: ignored the leader's state %r", state)
            return
        device.change_state(cause)
        device.emit(event, *args)
        if state == "registered":
            if first_registration:
                device.arm_token_timers()
            waiter = self._registered
            if waiter is not None and not waiter.done():
                waiter.set_result(None)

    def _mirror_call(
        self, snapshot: CallSnapshot, event: str | None, args: tuple[Any, ...], *, create_ended: bool = False
    ) -> MirroredCall | None:
        device = self._device
        mirror = self._mirrors.get(snapshot.key)
        if mirror is None:
            if snapshot.ended and not create_ended:
                return None
            mirror = MirroredCall(device.call_host, self, snapshot)
            self._mirrors[snapshot.key] = mirror
            if self._connecting and mirror.direction == CallDirection.OUTBOUND.value:
                mirror.hold_events()  # perhaps the call a pending connect() will return: no event before
            if not snapshot.ended:
                device.bind_call(f"tab:{snapshot.key}", mirror)
            if mirror.direction == CallDirection.INBOUND.value and mirror.status == CallStatus.PENDING.value:
                if not mirror.ignored:
                    device.sounds.start_ringtone(mirror)
                device.emit("incoming", mirror)
            if event in (None, "incoming"):
                return mirror
        mirror.mirror_event(snapshot, None if event == "incoming" else event, args)
        if mirror.ended:
            self._mirrors.pop(snapshot.key, None)
        return mirror

    def _end_mirrors(self, which: Callable[[MirroredCall], bool], reason: str) -> None:
        for key, mirror in list(self._mirrors.items()):
            if which(mirror):
                self._mirrors.pop(key, None)
                if reason == "destroyed":
                    CallControl(mirror).finish_destroyed()
                else:
                    CallControl(mirror).finish(CallStatus.DISCONNECTED, reason, None)

    # ------------------------------------------------------------------ follower side: requests

    async def request(self, op: str, call: MirroredCall | None, *args: Any, **kwargs: Any) -> Any:
        """Ask the leader to run ``op`` (a method of ``call``'s real call, or ``connect``); its result.

        Raises:
            VoiceSDKError: what the leader raised (same code); ``CALL_FAILED`` when the leader tab went away
                or this tab left the group, ``TIMEOUT`` after :data:`REQUEST_TIMEOUT`.
        """
        target = call.leader_tab if call is not None else self.leader_id
        if target is None or self.role is not TabRole.FOLLOWER:
            raise VoiceSDKError(ErrorCode.CALL_FAILED, "no leader tab to run this (the group has none now)")
        self._request_counter += 1
        request_id = f"{self.tab_id}:{self._request_counter}"
        future: asyncio.Future[Any] = asyncio.get_event_loop().create_future()
        self._pending[request_id] = _Pending(target, future)
        message = TabRequest(
            self.tab_id,
            target,
            request_id,
            op,
            call.key if call is not None else None,
            tuple(plain_json(list(args))),
            plain_json(kwargs),
        )
        self._post(message)
        try:
            return await asyncio.wait_for(future, timeout=REQUEST_TIMEOUT)
        except TimeoutError:
            raise VoiceSDKError(ErrorCode.TIMEOUT, f"the leader tab did not answer {op}() in time") from None
        finally:
            self._pending.pop(request_id, None)

    def send(self, op: str, call: MirroredCall, *args: Any) -> None:
        """:meth:`request` without waiting; a refusal becomes an ``error`` event of ``call``."""

        async def run() -> None:
            try:
                await self.request(op, call, *args)
            except VoiceSDKError as exc:
                if not call.ended:
                    CallControl(call).emit_error(exc)

        self._spawn(run())

    async def forward_connect(
        self, to: str, from_: str | None, caller_id: str | None, extra_headers: list[str]
    ) -> MirroredCall:
        """``Device.connect()`` in a follower: the leader places the call (its media plays there).

        Raises:
            VoiceSDKError: what the leader's ``connect()`` raised, ``CALL_FAILED`` / ``TIMEOUT``.
        """
        self._connecting += 1
        try:
            result = await self.request(
                "connect", None, to=to, from_=from_, caller_id=caller_id, extra_headers=extra_headers
            )
            try:
                snapshot = CallSnapshot.from_json(result)
            except TabMessageError as exc:
                raise VoiceSDKError(
                    ErrorCode.CALL_FAILED, f"the leader tab answered badly: {exc.message}"
                ) from None
            mirror = self._mirror_call(snapshot, None, (), create_ended=True)
            assert mirror is not None
            return mirror
        finally:
            self._connecting -= 1
            if not self._connecting:
                # Replay what arrived meanwhile once the caller of connect() had the call (and its handlers).
                for held in [m for m in self._mirrors.values() if m.holds_events]:
                    asyncio.get_event_loop().call_soon(held.release_events)

    def _fail_pending(self, which: Callable[[_Pending], bool], why: str) -> None:
        for request_id, pending in list(self._pending.items()):
            if which(pending):
                self._pending.pop(request_id, None)
                if not pending.future.done():
                    pending.future.set_exception(VoiceSDKError(ErrorCode.CALL_FAILED, why))

    # ------------------------------------------------------------------ leader side: serving requests

    async def _serve(self, request: TabRequest) -> None:
        try:
            result = await self._perform(request)
        except VoiceSDKError as exc:
            reply = Reply(
                self.tab_id, request.sender, request.request_id, False, None, exc.code.value, exc.message
            )
        except Exception as exc:
            _log.exception("multi_tab: serving %s failed", request.op)
            reply = Reply(
                self.tab_id,
                request.sender,
                request.request_id,
                False,
                None,
                ErrorCode.CALL_FAILED.value,
                f"the leader tab failed: {exc}",
            )
        else:
            reply = Reply(self.tab_id, request.sender, request.request_id, True, plain_json(result))
        if self.role is TabRole.LEADER:
            self._post(reply)

    async def _perform(self, request: TabRequest) -> Any:
        device = self._device
        if request.op == "connect":
            kwargs = dict(request.kwargs)
            extra = kwargs.get("extra_headers") or []
            call = await device.connect(
                str(kwargs.get("to", "")),
                from_=kwargs.get("from_"),
                caller_id=kwargs.get("caller_id"),
                extra_headers=extra if isinstance(extra, list) else [],
            )
            return self._snapshot_of(call).to_json()
        if request.op not in _FORWARDED_CALL_METHODS:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, f"{request.op!r} cannot be forwarded")
        call_id = (request.key or "").partition("/")[2]
        target = next((c for c in device.calls if c.sip_call_id == call_id and not c.ended), None)
        if target is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        result = getattr(target, request.op)(*request.args)
        if inspect.isawaitable(result):
            result = await result
        return result if request.op == "get_stats" else None

    # ------------------------------------------------------------------ helpers

    def _spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        return self._tasks.spawn(work)


def _task_failed(_task: object, exc: BaseException) -> None:
    _log.error("multi_tab task failed", exc_info=exc)

