"""The call log: one entry per finished call, newest first, kept in the browser (pure Python, no ``js``).

:class:`CallLog` holds :class:`CallLogEntry` items and serialises them to JSON-friendly lists, which the
page stores in ``localStorage`` (see :mod:`app.softphone`) so the log survives a reload. Loading is
tolerant: entries that do not have the expected shape are skipped, never raised on.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any, NamedTuple

from app.dialing import format_duration
from app.messages import describe_end

__all__ = ["MAX_ENTRIES", "CallLog", "CallLogEntry"]

MAX_ENTRIES = 50
"""The log keeps this many calls; older ones are dropped."""


class CallLogEntry(NamedTuple):
    """One finished call."""

    direction: str
    """``inbound`` or ``outbound``."""
    number: str
    """Who: the number or SIP address called, or the caller."""
    started_at: float
    """When the call began (epoch seconds)."""
    duration: float | None
    """Seconds from answer to end; None when the call was never answered."""
    reason: str
    """The SDK's ``disconnect`` reason (``local``, ``remote``, ``busy``...)."""
    status_code: int | None = None
    """The SIP status of a failed or rejected call, when there was one."""

    @property
    def outcome(self) -> str:
        """How it ended, for a person (``You hung up``, ``Busy (486)``...)."""
        return describe_end(self.reason, self.status_code)

    @property
    def summary(self) -> str:
        """``Outbound · 0:42 · You hung up`` (the duration only for answered calls)."""
        parts = ["Incoming" if self.direction == "inbound" else "Outgoing"]
        if self.duration is not None:
            parts.append(format_duration(self.duration))
        parts.append(self.outcome)
        return " · ".join(parts)

    def to_json(self) -> dict[str, Any]:
        """The entry as a JSON-friendly dictionary."""
        return self._asdict()

    @classmethod
    def from_json(cls, data: object) -> CallLogEntry | None:
        """An entry from :meth:`to_json` output, or None when ``data`` does not have that shape."""
        if not isinstance(data, dict):
            return None
        direction, number, started = data.get("direction"), data.get("number"), data.get("started_at")
        duration, reason, status = data.get("duration"), data.get("reason"), data.get("status_code")
        if direction not in ("inbound", "outbound") or not isinstance(number, str) or not number:
            return None
        if not isinstance(started, int | float) or isinstance(started, bool):
            return None
        if duration is not None and (not isinstance(duration, int | float) or isinstance(duration, bool)):
            return None
        if not isinstance(reason, str) or (status is not None and not isinstance(status, int)):
            return None
        return cls(str(direction), number, float(started), duration, reason, status)


class CallLog:
    """Finished calls, newest first, at most :data:`MAX_ENTRIES`."""

    def __init__(self, entries: Iterable[CallLogEntry] = ()) -> None:
        self._entries: list[CallLogEntry] = list(entries)[:MAX_ENTRIES]

    def __iter__(self) -> Iterator[CallLogEntry]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)

    def add(self, entry: CallLogEntry) -> None:
        """Put ``entry`` on top (dropping the oldest beyond :data:`MAX_ENTRIES`)."""
        self._entries.insert(0, entry)
        del self._entries[MAX_ENTRIES:]

    def clear(self) -> None:
        """Forget every entry."""
        self._entries.clear()

    def to_json(self) -> list[dict[str, Any]]:
        """Every entry, newest first, as JSON-friendly dictionaries."""
        return [entry.to_json() for entry in self._entries]

    @classmethod
    def from_json(cls, data: object) -> CallLog:
        """A log from :meth:`to_json` output; anything unusable is skipped."""
        if not isinstance(data, list):
            return cls()
        entries = [CallLogEntry.from_json(item) for item in data]
        return cls(entry for entry in entries if entry is not None)
