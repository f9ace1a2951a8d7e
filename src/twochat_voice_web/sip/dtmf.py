"""DTMF facts, defined once for the SIP core, the SDK and the sandbox.

The sixteen DTMF keys in the order of their RFC 4733 §3.2 event codes (``0``-``9`` are events 0-9, ``*``
is 10, ``#`` 11, ``A``-``D`` 12-15), which is also the set SIP INFO ``application/dtmf-relay`` carries.
Pure data: this module imports nothing.
"""

from __future__ import annotations

from typing import Final

__all__ = ["DTMF_EVENTS", "DTMF_KEYS"]

DTMF_EVENTS: Final = "0123456789*#ABCD"
"""The DTMF keys, indexed by their RFC 4733 event code (``DTMF_EVENTS[11] == "#"``)."""

DTMF_KEYS: Final = frozenset(DTMF_EVENTS)
"""The DTMF keys as a set (upper case)."""
