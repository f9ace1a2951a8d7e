"""The Device's lifecycle: ``device.state`` as one state machine.

Design
======
``device.state`` changes in one place, :meth:`DeviceLifecycle.handle`, and only along a row of
:data:`TRANSITIONS`: ``(state, cause) -> new state``. The causes name *why* the state changes; the Device
(:mod:`.device`) and a multi-tab follower (:mod:`.tabs`, which mirrors its leader's state) report causes,
never states. A pair that is not in the table is a bug of ours and raises :class:`LifecycleError`;
``destroyed`` is final. The events the Device emits are not part of this machine: the Device emits them
after the transition, in the order its public documentation gives.

::

    unregistered --REGISTER--> registering --REGISTERED--> registered --RECONNECT--> reconnecting
         ^                          |                          |                              |
         |                          +-- REGISTER_FAILED -------+-- REGISTRATION_LOST          |
         +---------------------------- UNREGISTER (from any live state) ---- GIVE_UP ---------+
    reconnecting --RECONNECTED--> registered;      any state --DESTROY--> destroyed

A multi-tab tab that joins its group is ``registering`` (``JOIN_GROUP``); a follower does not register: it
takes its leader's state, ``LEADER_*`` (from any live state), and ``LEFT_GROUP`` when it leaves the group or
becomes the leader (then it registers itself, ``REGISTER``).
"""

from __future__ import annotations

import enum

__all__ = [
    "LEADER_CAUSES",
    "TRANSITIONS",
    "DeviceLifecycle",
    "DeviceState",
    "LifecycleCause",
    "LifecycleError",
]


class DeviceState(enum.StrEnum):
    """The values of ``device.state`` (plain strings to the application: ``state == "registered"``)."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    RECONNECTING = "reconnecting"
    DESTROYED = "destroyed"


class LifecycleCause(enum.Enum):
    """Why ``device.state`` changes."""

    REGISTER = "register"
    """``register()`` started a registration (or a multi-tab tab joined its group)."""
    REGISTERED = "registered"
    """The registrar accepted the REGISTER."""
    REGISTER_FAILED = "register failed"
    """The registration failed (credentials, WebSocket, refusal, timeout)."""
    UNREGISTER = "unregister"
    """``unregister()``: the registration was removed."""
    REGISTRATION_LOST = "registration lost"
    """A refresh REGISTER failed while the WebSocket was up."""
    RECONNECT = "reconnect"
    """The WebSocket closed (or a refresh failed): reconnection begins."""
    RECONNECTED = "reconnected"
    """A reconnection attempt registered again."""
    GIVE_UP = "give up"
    """The last reconnection attempt failed."""
    LEADER_REGISTERING = "leader registering"
    """Multi-tab follower: the leader is registering."""
    LEADER_REGISTERED = "leader registered"
    """Multi-tab follower: the leader is registered."""
    LEADER_RECONNECTING = "leader reconnecting"
    """Multi-tab follower: the leader is reconnecting."""
    LEADER_UNREGISTERED = "leader unregistered"
    """Multi-tab follower: the leader is unregistered."""
    JOIN_GROUP = "join group"
    """Multi-tab: this tab joined its group and waits for a registered leader."""
    LEFT_GROUP = "left group"
    """Multi-tab: this tab left its group, or became the leader and has not registered yet."""
    DESTROY = "destroy"
    """``destroy()``."""


class LifecycleError(RuntimeError):
    """A transition that is not in :data:`TRANSITIONS` (a bug of the SDK, never of the application)."""


_S = DeviceState
_C = LifecycleCause
_LIVE = (_S.UNREGISTERED, _S.REGISTERING, _S.REGISTERED, _S.RECONNECTING)


def _rows() -> dict[tuple[DeviceState, LifecycleCause], DeviceState]:
    rows: dict[tuple[DeviceState, LifecycleCause], DeviceState] = {
        (_S.UNREGISTERED, _C.REGISTER): _S.REGISTERING,
        (_S.RECONNECTING, _C.REGISTER): _S.REGISTERING,
        (_S.REGISTERING, _C.REGISTER): _S.REGISTERING,
        (_S.REGISTERING, _C.REGISTERED): _S.REGISTERED,
        (_S.REGISTERING, _C.REGISTER_FAILED): _S.UNREGISTERED,
        (_S.UNREGISTERED, _C.REGISTER_FAILED): _S.UNREGISTERED,  # unregister() won the race
        (_S.REGISTERED, _C.REGISTRATION_LOST): _S.UNREGISTERED,
        (_S.REGISTERED, _C.RECONNECT): _S.RECONNECTING,
        (_S.UNREGISTERED, _C.RECONNECT): _S.RECONNECTING,  # after REGISTRATION_LOST
        (_S.RECONNECTING, _C.RECONNECT): _S.RECONNECTING,
        (_S.RECONNECTING, _C.RECONNECTED): _S.REGISTERED,
        (_S.RECONNECTING, _C.GIVE_UP): _S.UNREGISTERED,
    }
    for state in _LIVE:
        rows[(state, _C.UNREGISTER)] = _S.UNREGISTERED
        rows[(state, _C.LEADER_REGISTERING)] = _S.REGISTERING
        rows[(state, _C.LEADER_REGISTERED)] = _S.REGISTERED
        rows[(state, _C.LEADER_RECONNECTING)] = _S.RECONNECTING
        rows[(state, _C.LEADER_UNREGISTERED)] = _S.UNREGISTERED
        rows[(state, _C.JOIN_GROUP)] = _S.REGISTERING
        rows[(state, _C.LEFT_GROUP)] = _S.UNREGISTERED
    for state in DeviceState:
        rows[(state, _C.DESTROY)] = _S.DESTROYED
    return rows


TRANSITIONS: dict[tuple[DeviceState, LifecycleCause], DeviceState] = _rows()
"""``(state, cause) -> new state``; every other pair is a :class:`LifecycleError`."""

#: The follower's cause for each state its leader reports.
LEADER_CAUSES: dict[DeviceState, LifecycleCause] = {
    _S.REGISTERING: _C.LEADER_REGISTERING,
    _S.REGISTERED: _C.LEADER_REGISTERED,
    _S.RECONNECTING: _C.LEADER_RECONNECTING,
    _S.UNREGISTERED: _C.LEADER_UNREGISTERED,
}


class DeviceLifecycle:
    """The current state and its one way to change (see the module docstring)."""

    def __init__(self) -> None:
        self._state = DeviceState.UNREGISTERED

    @property
    def state(self) -> DeviceState:
        """The current state."""
        return self._state

    def handle(self, cause: LifecycleCause) -> DeviceState:
        """Move along the row ``(state, cause)``; returns the new state.

        Raises:
            LifecycleError: no such row.
        """
        try:
            new = TRANSITIONS[(self._state, cause)]
        except KeyError:
            raise LifecycleError(
                f"device state {self._state.value!r} has no transition for {cause.value!r}"
            ) from None
        self._state = new
        return new
