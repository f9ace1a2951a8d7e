"""How a call ends when its SIP session does: the final status, the ``disconnect`` reason and the event
that comes before it.

:func:`call_ending` maps the user agent's :class:`~.sip.events.CallEnded` onto what the call reports:

* the reason: ``local`` (we hung up), ``remote`` (they hung up), ``cancelled`` (we cancelled our outbound
  call), ``remote-cancelled`` (the caller cancelled; ``answered-elsewhere`` when another tab of this user
  took the call, :mod:`.tabs`), ``rejected`` (we rejected), ``no-answer`` (408, 487, timeout),
  ``dialog-lost``, ``session-expired``, ``transport``; a rejection by the far end is ``busy`` (486/600),
  ``declined`` (603), ``not-found`` (404/484/604), ``unavailable`` (480), else ``failed`` (see
  ``status_code``);
* the status: ``failed`` for an outbound call that never connected and that we did not end ourselves,
  else ``disconnected``;
* the notice: ``cancel`` (the caller hung up an inbound call before it was answered) or ``reject`` (we
  rejected an inbound call), emitted before ``disconnect``.
"""

from __future__ import annotations

from dataclasses import dataclass

from .call_status import CallDirection, CallStatus
from .sip.events import CallEnded, EndReason

__all__ = ["CallEnding", "call_ending"]

_REJECT_REASONS = {
    486: "busy",
    600: "busy",
    603: "declined",
    404: "not-found",
    484: "not-found",
    604: "not-found",
    480: "unavailable",
    408: "no-answer",
    487: "no-answer",
}

_END_REASONS = {
    EndReason.LOCAL_BYE: "local",
    EndReason.REMOTE_BYE: "remote",
    EndReason.LOCAL_CANCEL: "cancelled",
    EndReason.REMOTE_CANCEL: "remote-cancelled",
    EndReason.LOCAL_REJECT: "rejected",
    EndReason.TIMEOUT: "no-answer",
    EndReason.DIALOG_LOST: "dialog-lost",
    EndReason.SESSION_EXPIRED: "session-expired",
    EndReason.TRANSPORT_ERROR: "transport",
}


@dataclass(frozen=True, slots=True)
class CallEnding:
    """What a call reports when its SIP session ended."""

    status: CallStatus
    """``disconnected`` or ``failed``."""
    reason: str
    """The ``disconnect`` (and ``failed``) payload's ``reason``."""
    status_code: int | None
    """The SIP status that ended the call, when one did."""
    notice: str | None
    """``cancel`` or ``reject``: the event the call emits before ``disconnect`` (None: none)."""


def call_ending(
    event: CallEnded, *, direction: CallDirection, connected: bool, answered_elsewhere: bool
) -> CallEnding:
    """The ending of a call whose session ended with ``event``.

    ``connected``: the call was accepted; ``answered_elsewhere``: another tab took this inbound call.
    """
    code = event.status_code
    reason = _END_REASONS.get(event.reason, "failed")
    if event.reason is EndReason.REJECTED:
        reason = _REJECT_REASONS.get(code or 0, "failed")
    if event.reason is EndReason.REMOTE_CANCEL and answered_elsewhere:
        return CallEnding(CallStatus.DISCONNECTED, "answered-elsewhere", code, None)
    if event.reason is EndReason.REMOTE_CANCEL:
        return CallEnding(CallStatus.DISCONNECTED, reason, code, "cancel")
    if event.reason is EndReason.LOCAL_REJECT:
        return CallEnding(CallStatus.DISCONNECTED, reason, code, "reject")
    ended_by_us = event.reason in (EndReason.LOCAL_CANCEL, EndReason.LOCAL_BYE)
    if direction is CallDirection.OUTBOUND and not connected and not ended_by_us:
        return CallEnding(CallStatus.FAILED, reason, code, None)
    return CallEnding(CallStatus.DISCONNECTED, reason, code, None)
