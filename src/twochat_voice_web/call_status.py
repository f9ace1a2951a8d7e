"""Where a call is and who placed it: :class:`CallStatus` and :class:`CallDirection`.

Statuses: ``pending`` (INVITE sent / incoming not answered) → ``ringing`` (outbound: 180/183) →
``accepted`` → ``disconnected``; a call that never connects ends ``failed``. :mod:`.call` re-exports both.
"""

from __future__ import annotations

import enum

from .errors import ErrorCode, VoiceSDKError

__all__ = ["CallDirection", "CallStatus", "check_answerable", "check_mute", "check_reject"]


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


def check_answerable(what: str, direction: CallDirection, status: CallStatus) -> None:
    """The checks ``accept()`` and ``ignore()`` make first: a pending inbound call (a Call and a mirrored
    call alike).

    Raises:
        VoiceSDKError: ``INVALID_STATE``.
    """
    if direction is not CallDirection.INBOUND:
        raise VoiceSDKError(ErrorCode.INVALID_STATE, f"{what}() is for inbound calls")
    if status is not CallStatus.PENDING:
        raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot {what} a call that is {status.value}")


def check_mute(muted: object, *, ended: bool) -> None:
    """The checks ``mute(muted)`` makes before anything changes (a Call and a mirrored call alike).

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` (not a bool) or ``INVALID_STATE`` (the call has ended).
    """
    if not isinstance(muted, bool):
        raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "mute() takes a bool")
    if ended:
        raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
