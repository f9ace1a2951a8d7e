"""Where a call is and who placed it: :class:`CallStatus` and :class:`CallDirection`.

Statuses: ``pending`` (INVITE sent / incoming not answered) → ``ringing`` (outbound: 180/183) →
``accepted`` → ``disconnected``; a call that never connects ends ``failed``. :mod:`.call` re-exports both.
"""

from __future__ import annotations

import enum

__all__ = ["CallDirection", "CallStatus"]


class CallDirection(enum.StrEnum):
    """Who placed the call."""

    INBOUND = "inbound"
    OUTBOUND = "outbound"


class CallStatus(enum.StrEnum):
    """Where the call is (``call.status``)."""

    PENDING = "pending"
    RINGING = "ringing"
    ACCEPTED = "accepted"
    DISCONNECTED = "disconnected"
    FAILED = "failed"
