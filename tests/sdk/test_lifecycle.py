"""device.state as one state machine (twochat_voice_web.lifecycle). The expected paths are the ones the
public documentation describes (docs/device.md, the Device docstring), written out here, not read from
the implementation's table."""

from __future__ import annotations

import pytest

from twochat_voice_web.lifecycle import DeviceLifecycle, DeviceState, LifecycleCause, LifecycleError

C = LifecycleCause

DOCUMENTED_PATHS = [
    # register() then the registrar's 200
    ([C.REGISTER, C.REGISTERED], ["registering", "registered"]),
    # a refused REGISTER
    ([C.REGISTER, C.REGISTER_FAILED], ["registering", "unregistered"]),
    # the WebSocket drops, a reconnection attempt registers again
    (
        [C.REGISTER, C.REGISTERED, C.RECONNECT, C.RECONNECTED],
        ["registering", "registered", "reconnecting", "registered"],
    ),
    # reconnection gives up after reconnect_max_attempts
    (
        [C.REGISTER, C.REGISTERED, C.RECONNECT, C.GIVE_UP],
        ["registering", "registered", "reconnecting", "unregistered"],
    ),
    # a refresh fails while the WebSocket is up: unregistered, then the Device tries again
    (
        [C.REGISTER, C.REGISTERED, C.REGISTRATION_LOST, C.RECONNECT],
        ["registering", "registered", "unregistered", "reconnecting"],
    ),
    # unregister() from registered, and from reconnecting
    ([C.REGISTER, C.REGISTERED, C.UNREGISTER], ["registering", "registered", "unregistered"]),
    (
        [C.REGISTER, C.REGISTERED, C.RECONNECT, C.UNREGISTER],
        ["registering", "registered", "reconnecting", "unregistered"],
    ),
    # a multi-tab follower takes its leader's states
    (
        [C.JOIN_GROUP, C.LEADER_REGISTERED, C.LEADER_RECONNECTING, C.LEADER_REGISTERED, C.LEFT_GROUP],
        ["registering", "registered", "reconnecting", "registered", "unregistered"],
    ),
]


@pytest.mark.parametrize(("causes", "states"), DOCUMENTED_PATHS)
def test_the_documented_paths(causes: list[LifecycleCause], states: list[str]) -> None:
    lifecycle = DeviceLifecycle()
    assert lifecycle.state == "unregistered"
    assert [lifecycle.handle(cause) for cause in causes] == states


@pytest.mark.parametrize(
    "start", [[], [C.REGISTER], [C.REGISTER, C.REGISTERED], [C.REGISTER, C.REGISTERED, C.RECONNECT]]
)
def test_destroy_ends_every_state_and_is_final(start: list[LifecycleCause]) -> None:
    lifecycle = DeviceLifecycle()
    for cause in start:
        lifecycle.handle(cause)
    assert lifecycle.handle(C.DESTROY) == "destroyed"
    for cause in LifecycleCause:
        if cause is not C.DESTROY:
            with pytest.raises(LifecycleError):
                lifecycle.handle(cause)
    assert lifecycle.state is DeviceState.DESTROYED


@pytest.mark.parametrize(
    ("causes", "bad"),
    [
        ([], C.REGISTERED),  # a 200 nobody asked for
        ([], C.RECONNECTED),
        ([C.REGISTER], C.RECONNECTED),
        ([C.REGISTER, C.REGISTERED], C.REGISTER),  # register() on a registered Device changes nothing
        ([C.REGISTER, C.REGISTERED], C.GIVE_UP),
    ],
)
def test_transitions_the_documentation_does_not_have_are_refused_and_change_nothing(
    causes: list[LifecycleCause], bad: LifecycleCause
) -> None:
    lifecycle = DeviceLifecycle()
    for cause in causes:
        lifecycle.handle(cause)
    before = lifecycle.state
    with pytest.raises(LifecycleError):
        lifecycle.handle(bad)
    assert lifecycle.state is before


def test_the_states_are_the_public_strings() -> None:
    assert {state.value for state in DeviceState} == {
        "unregistered",
        "registering",
        "registered",
        "reconnecting",
        "destroyed",
    }
