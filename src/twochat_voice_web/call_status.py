"""Where a call is and who placed it: :class:`CallStatus` and :class:`CallDirection`.

Statuses: ``pending`` (INVITE sent / incoming not answered) → ``ringing`` (outbound: 180/183) →
``accepted`` → ``disconnected``; a call that never connects ends ``failed``. :mod:`.call` re-exports both.
"""

from __future__ import annotations

import enum

from .errors import ErrorCode, VoiceSDKError

__all__ = ["CallDirection", "CallStatus", "check_reject"]


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


def check_reject(direction: CallDirection, status_code: object) -> None:
    """The checks ``reject(status_code)`` makes before anything changes (a Call and a mirrored call alike).

    Raises:
        VoiceSDKError: ``INVALID_STATE`` (an outbound call) or ``INVALID_ARGUMENT`` (status not 300-699).
    """
    if direction is not CallDirection.INBOUND:
        raise VoiceSDKError(ErrorCode.INVALID_STATE, "reject() is for inbound calls; use disconnect()")
    if isinstance(status_code, bool) or not isinstance(status_code, int) or not 300 <= status_code <= 699:
        raise VoiceSDKError(
            ErrorCode.INVALID_ARGUMENT, f"reject() takes a SIP status 300-699, got {status_code!r}"
        )
