"""Reusable pieces of the softphone's screen: keypads, level meters, the activity list, the call log.

Each class takes the elements it draws into (found by :mod:`app.softphone`) and knows nothing about the
SDK; the controller feeds it plain values. Event listeners go through one :class:`~app.dom.Listeners`
so their proxies are owned and errors reach the status line.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from app.calllog import CallLog, CallLogEntry
from app.dialing import KEYPAD, format_number
from app.dom import Listeners, clear, clock_time, closest, icon, make, set_hidden
from app.levels import level_percent

__all__ = ["ActivityLog", "CallLogView", "Keypad", "Meter"]

LONG_PRESS_SECONDS = 0.6
"""Holding the 0 key this long types ``+`` (as on a mobile phone)."""


class Keypad:
    """A 3 by 4 phone keypad drawn into ``container``; every press calls ``on_key(key)``.

    With ``zero_gives_plus``, a long press on 0 gives ``+`` instead of ``0``.
    """

    def __init__(
        self,
        container: Any,
        listeners: Listeners,
        on_key: Callable[[str], None],
        *,
        zero_gives_plus: bool = False,
    ) -> None:
        self._on_key = on_key
        self._zero_gives_plus = zero_gives_plus
        self._long_press: asyncio.Handle | None = None
        self._long_pressed = False
        clear(container)
        for key, letters in KEYPAD:
            button = make("button", "key", type="button", data_key=key, aria_label=f"Key {key}")
            button.appendChild(make("span", "key-digit", key))
            button.appendChild(make("span", "key-letters", letters or "\u00a0"))
            container.appendChild(button)
        listeners.on(container, "click", self._on_click)
        if zero_gives_plus:
            listeners.on(container, "pointerdown", self._on_pointer_down)
            for name in ("pointerup", "pointerleave", "pointercancel"):
                listeners.on(container, name, self._on_pointer_up)

    @staticmethod
    def _key_of(event: Any) -> str | None:
        button = closest(event, "[data-key]")
        return str(button.dataset.key) if button is not None else None

    def _on_click(self, event: Any) -> None:
        key = self._key_of(event)
        if key is None:
            return
        if self._long_pressed and key == "0":
            self._long_pressed = False
            return
        self._on_key(key)

    def _on_pointer_down(self, event: Any) -> None:
        self._long_pressed = False
        if self._key_of(event) != "0":
            return
        self._long_press = asyncio.get_event_loop().call_later(LONG_PRESS_SECONDS, self._plus)

    def _on_pointer_up(self, _event: Any) -> None:
        if self._long_press is not None:
            self._long_press.cancel()
            self._long_press = None

    def _plus(self) -> None:
        self._long_press = None
        self._long_pressed = True
        self._on_key("+")


class Meter:
    """A horizontal level meter: ``fill`` is the bar inside a ``role="meter"`` element."""

    def __init__(self, fill: Any) -> None:
        self._fill = fill
        self._bar = fill.parentElement

    def show(self, level: float | None) -> None:
        """Show a linear level 0..1 (None: unknown, shown empty). ``data-level`` keeps the raw value."""
        percent = level_percent(level)
        self._fill.style.width = f"{percent}%"
        self._fill.dataset.level = f"{level or 0.0:.5f}"
        self._bar.setAttribute("aria-valuenow", f"{percent:.0f}")

    def reset(self) -> None:
        """Empty the meter."""
        self.show(None)


class ActivityLog:
    """The newest-first list of what happened (registrations, token refreshes, calls, errors)."""

    def __init__(self, container: Any, limit: int = 80) -> None:
        self._container = container
        self._limit = limit

    def add(self, text: str, level: str = "info") -> None:
        """Add a line with the time of day; ``level`` is ``info``, ``success``, ``warning`` or ``error``."""
        item = make("li", None, None, data_level=level)
        item.appendChild(make("time", None, clock_time(time.time(), seconds=True)))
        item.appendChild(make("span", None, text))
        self._container.prepend(item)
        while self._container.children.length > self._limit:
            self._container.lastElementChild.remove()

    @property
    def texts(self) -> list[str]:
        """The lines shown, newest first (without their times)."""
        return [str(item.lastElementChild.textContent) for item in self._container.children]


class CallLogView:
    """Draws a :class:`~app.calllog.CallLog`; the "call back" buttons call ``on_redial(number)``."""

    def __init__(
        self, container: Any, empty_note: Any, listeners: Listeners, on_redial: Callable[[str], None]
    ) -> None:
        self._container = container
        self._empty_note = empty_note
        self._on_redial = on_redial
        listeners.on(container, "click", self._on_click)

    def render(self, log: CallLog) -> None:
        """Replace the list with ``log``'s entries."""
        clear(self._container)
        for entry in log:
            self._container.appendChild(self._item(entry))
        set_hidden(self._empty_note, len(log) > 0)

    @staticmethod
    def _item(entry: CallLogEntry) -> Any:
        missed = entry.direction == "inbound" and entry.duration is None
        kind = "missed" if missed else "incoming" if entry.direction == "inbound" else "outgoing"
        item = make(
            "li",
            f"log-entry {kind}",
            None,
            data_direction=entry.direction,
            data_number=entry.number,
            data_reason=entry.reason,
        )
        item.appendChild(icon(kind, "icon log-icon"))
        text = make("div", "log-text")
        text.appendChild(make("span", "log-number", format_number(entry.number)))
        text.appendChild(make("span", "log-summary", entry.summary))
        item.appendChild(text)
        item.appendChild(make("time", "log-time", clock_time(entry.started_at)))
        redial = make(
            "button", "round small call", None, type="button", data_redial=entry.number,
            aria_label=f"Call {format_number(entry.number)}", title="Call back",
        )
        redial.appendChild(icon("phone"))
        item.appendChild(redial)
        return item

    def _on_click(self, event: Any) -> None:
        button = closest(event, "[data-redial]")
        if button is not None:
            self._on_redial(str(button.dataset.redial))
