"""How a call ends: the user agent's CallEnded mapped to status, reason and notice.

Expectations come from docs/call.md's "Disconnect reasons" table (its status codes are RFC 3261 §21's:
486 Busy Here, 600 Busy Everywhere, 603 Decline, 404/484/604 not found, 480 Temporarily Unavailable,
408 Request Timeout) and from the call's documented statuses: an outbound call that never connected ends
``failed`` unless we ended it ourselves.
"""

from __future__ import annotations

import pytest

from twochat_voice_web.call_ending import CallEnding, call_ending
from twochat_voice_web.call_status import CallDirection, CallStatus
from twochat_voice_web.sip.events import CallEnded, EndReason

OUT = CallDirection.OUTBOUND
IN = CallDirection.INBOUND


def _end(reason: EndReason, code: int | None = None, *, direction: CallDirection = OUT,
         connected: bool = False, answered_elsewhere: bool = False) -> CallEnding:
    return call_ending(CallEnded(call="h1", reason=reason, status_code=code), direction=direction,
                       connected=connected, answered_elsewhere=answered_elsewhere)


@pytest.mark.parametrize(
    ("code", "reason"),
    [(486, "busy"), (600, "busy"), (603, "declined"), (404, "not-found"), (484, "not-found"),
     (604, "not-found"), (480, "unavailable"), (408, "no-answer"), (487, "no-answer"), (503, "failed"),
     (415, "failed")],
)
def test_a_rejected_outbound_call_fails_with_the_documented_reason(code: int, reason: str) -> None:
    assert _end(EndReason.REJECTED, code) == CallEnding(CallStatus.FAILED, reason, code, None)


def test_hanging_up_or_cancelling_our_own_call_is_a_disconnect_not_a_failure() -> None:
    assert _end(EndReason.LOCAL_CANCEL, 487) == CallEnding(CallStatus.DISCONNECTED, "cancelled", 487, None)
    assert _end(EndReason.LOCAL_BYE, connected=True).reason == "local"
    assert _end(EndReason.LOCAL_BYE).status is CallStatus.DISCONNECTED


def test_a_connected_call_ended_by_the_far_end_is_disconnected() -> None:
    assert _end(EndReason.REMOTE_BYE, connected=True) == CallEnding(
        CallStatus.DISCONNECTED, "remote", None, None
    )
    assert _end(EndReason.SESSION_EXPIRED, connected=True).reason == "session-expired"
    assert _end(EndReason.DIALOG_LOST, 481, connected=True).reason == "dialog-lost"
    assert _end(EndReason.TRANSPORT_ERROR, connected=True).reason == "transport"


def test_an_outbound_call_that_times_out_before_connecting_fails_as_no_answer() -> None:
    assert _end(EndReason.TIMEOUT) == CallEnding(CallStatus.FAILED, "no-answer", None, None)


def test_inbound_endings_carry_their_notice() -> None:
    assert _end(EndReason.REMOTE_CANCEL, 487, direction=IN) == CallEnding(
        CallStatus.DISCONNECTED, "remote-cancelled", 487, "cancel"
    )
    assert _end(EndReason.LOCAL_REJECT, 486, direction=IN) == CallEnding(
        CallStatus.DISCONNECTED, "rejected", 486, "reject"
    )


def test_a_call_another_tab_took_ends_answered_elsewhere_without_a_cancel_notice() -> None:
    assert _end(EndReason.REMOTE_CANCEL, 200, direction=IN, answered_elsewhere=True) == CallEnding(
        CallStatus.DISCONNECTED, "answered-elsewhere", 200, None
    )
