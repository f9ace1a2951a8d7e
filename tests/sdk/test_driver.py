"""The one driver of the sans-I/O user agent (twochat_voice_web.driver), against a scripted user agent and
a hand-cranked clock: the pump's order and bounds, the timer rule, the writer."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twochat_voice_web.driver import UserAgentDriver


class Handle:
    def __init__(self, loop: ManualLoop, when: float, callback: Callable[[], None]) -> None:
        self.loop, self.when, self.callback, self.cancelled = loop, when, callback, False

    def cancel(self) -> None:
        self.cancelled = True


class ManualLoop:
    """time() and call_later() only: the test moves the clock and fires timers itself."""

    def __init__(self) -> None:
        self.now = 100.0
        self.handles: list[Handle] = []
        self.delays: list[float] = []

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Handle:
        self.delays.append(delay)
        handle = Handle(self, self.now + delay, callback)
        self.handles.append(handle)
        return handle

    def fire(self, handle: Handle) -> None:
        assert not handle.cancelled
        handle.cancelled = True  # spent
        handle.callback()

    def armed(self) -> list[Handle]:
        return [h for h in self.handles if not h.cancelled]


class ScriptedUA:
    """Stands in for UserAgent: queued bytes and events, one deadline, and a log of what it was told."""

    def __init__(self) -> None:
        self.outbox: list[bytes] = []
        self.queued: list[Any] = []
        self.deadline: float | None = None
        self.told: list[tuple[str, float]] = []

    def receive_data(self, data: bytes | str, now: float) -> None:
        self.told.append(("data", now))
        self.queued.append(f"got {data!r}")

    def handle_timer(self, now: float) -> None:
        self.told.append(("timer", now))
        self.deadline = None

    def data_to_send(self) -> list[bytes]:
        out, self.outbox = self.outbox, []
        return out

    def events(self) -> list[Any]:
        out, self.queued = self.queued, []
        return out

    def next_deadline(self) -> float | None:
        return self.deadline


def make(**kwargs: Any) -> tuple[UserAgentDriver, ScriptedUA, ManualLoop, list[Any], list[bytes]]:
    ua, loop, seen, wire = ScriptedUA(), ManualLoop(), [], []
    driver = UserAgentDriver(
        ua,  # type: ignore[arg-type]
        on_event=kwargs.pop("on_event", seen.append),
        writer=wire.append,
        loop=loop,  # type: ignore[arg-type]
        **kwargs,
    )
    return driver, ua, loop, seen, wire


def test_an_event_handler_that_acts_again_is_not_pumped_inside_the_pump() -> None:
    order: list[str] = []

    def on_event(event: str) -> None:
        order.append(f"start {event}")
        if event == "first":

            def act(scripted: Any, now: float) -> None:
                scripted.queued.append("reaction")
                scripted.outbox.append(b"REACTION")

            driver.act(act)  # re-entrant: only flags another round
        order.append(f"end {event}")

    driver, ua, _loop, _seen, wire = make(on_event=on_event)
    ua.queued += ["first", "second"]
    driver.pump()
    assert order == [
        *("start first", "end first"),
        *("start second", "end second"),
        *("start reaction", "end reaction"),
    ]
    assert wire == [b"REACTION"]


def test_the_pump_stops_after_max_rounds() -> None:
    rounds = []

    def endless(event: Any) -> None:
        rounds.append(event)
        ua.queued.append("again")

    driver, ua, _loop, _seen, _wire = make(on_event=endless, max_rounds=7)
    ua.queued.append("again")
    driver.pump()
    assert len(rounds) == 7


def test_a_timer_that_wakes_early_tells_the_deadline_not_the_clock() -> None:
    driver, ua, loop, _seen, _wire = make()
    ua.deadline = 101.5
    driver.pump()
    (handle,) = loop.armed()
    assert loop.delays == [1.5]
    loop.now = 101.4999  # the loop woke a hair early
    loop.fire(handle)
    assert ua.told == [("timer", 101.5)]
    assert loop.armed() == []  # the user agent has no deadline left


def test_a_late_timer_tells_the_clock_and_a_past_deadline_is_never_a_negative_delay() -> None:
    driver, ua, loop, _seen, _wire = make()
    ua.deadline = 90.0  # already passed: Pyodide refuses call_at() in the past
    driver.pump()
    assert loop.delays == [0.0]
    loop.now = 100.2
    loop.fire(loop.armed()[0])
    assert ua.told == [("timer", 100.2)]


def test_one_timer_at_a_time_and_rearmed_only_when_the_deadline_moves() -> None:
    driver, ua, loop, _seen, _wire = make()
    ua.deadline = 105.0
    driver.pump()
    driver.pump()
    assert len(loop.handles) == 1
    ua.deadline = 103.0
    driver.pump()
    assert [h.when for h in loop.armed()] == [103.0]


def test_without_a_writer_the_bytes_wait_in_the_user_agent() -> None:
    driver, ua, _loop, _seen, wire = make()
    driver.writer = None
    ua.outbox.append(b"REGISTER")
    driver.pump()
    assert wire == [] and ua.outbox == [b"REGISTER"]
    driver.writer = wire.append
    driver.pump()
    assert wire == [b"REGISTER"]


def test_inputs_carry_the_loop_time_and_events_come_out_in_order() -> None:
    driver, ua, loop, seen, _wire = make()
    driver.receive_data(b"one")
    loop.now = 100.25
    driver.receive_data(b"two")
    assert ua.told == [("data", 100.0), ("data", 100.25)]
    assert seen == ["got b'one'", "got b'two'"]


def test_a_closed_driver_ignores_inputs_and_arms_nothing() -> None:
    driver, ua, loop, seen, _wire = make()
    ua.deadline = 101.0
    driver.pump()
    driver.close()
    assert loop.armed() == []
    driver.receive_data(b"late")
    assert seen == [] and ua.told == []
