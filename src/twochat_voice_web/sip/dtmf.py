"""DTMF facts, defined once for the SIP core, the SDK and the sandbox.

The sixteen DTMF keys in the order of their RFC 4733 §3.2 event codes (``0``-``9`` are events 0-9, ``*``
is 10, ``#`` 11, ``A``-``D`` 12-15), which is also the set SIP INFO ``application/dtmf-relay`` carries, and
the tone durations a sender may use: 40 ms to 6 s, the bounds W3C webrtc-pc §7.2 sets for
``RTCDTMFSender.insertDTMF`` and which the user agent applies to INFO digits too. Pure data: this module
imports nothing.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DTMF_EVENTS", "DTMF_KEYS", "MAX_DURATION_MS", "MIN_DURATION_MS", "clamp_duration"]

DTMF_EVENTS: Final = "0123456789*#ABCD"
"""The DTMF keys, indexed by their RFC 4733 event code (``DTMF_EVENTS[11] == "#"``)."""

DTMF_KEYS: Final = frozenset(DTMF_EVENTS)
"""The DTMF keys as a set (upper case)."""

MIN_DURATION_MS: Final = 40
"""The shortest DTMF tone, in milliseconds."""

MAX_DURATION_MS: Final = 6000
"""The longest DTMF tone, in milliseconds."""


def clamp_duration(duration_ms: int) -> int:
    """``duration_ms`` brought into ``MIN_DURATION_MS..MAX_DURATION_MS``."""
    return min(max(duration_ms, MIN_DURATION_MS), MAX_DURATION_MS)
