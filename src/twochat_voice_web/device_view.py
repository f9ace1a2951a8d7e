"""What every part of a Device that acts on its calls sees of it: :class:`DeviceView`.

The Device's parts each declare what they need of it as a Protocol (see docs/design/architecture.md, "The
doors"); those that act on the Device's calls (audio devices, autoplay, reconnection) all need the same
three members, declared once here and extended by their own Protocols.
"""

from __future__ import annotations

from typing import Protocol

from .call import Call
from .platform import Platform

__all__ = ["DeviceView"]


class DeviceView(Protocol):
    """The runtime, whether the Device was destroyed, and its live calls."""

    @property
    def platform(self) -> Platform:
        """The runtime."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed (its parts then stop)."""

    @property
    def calls(self) -> list[Call]:
        """The Device's live calls."""
