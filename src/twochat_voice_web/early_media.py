"""Early media (a 183 Session Progress with SDP): what a call may do before it is answered.

IVRs and carriers often prompt for digits before they answer ("enter your PIN, then #"): the audio flows
as early media, and the caller's keypad must reach them. RFC 4733 telephone-events travel on the early
media's RTP stream like any other packet, so ``Call.send_digits()`` works in early media when

* the call is outbound and ``ringing`` with early media (a 183 carrying SDP), and
* that SDP offers ``telephone-event`` (else there is no RTP DTMF to send), and
* the Device sends DTMF as RTP (``dtmf_transport="rfc4733"``, the default): SIP INFO is a request *inside
  a dialog*, and 2Chat (like most carriers) only routes it once the call is answered.

Digits sent at once after the 183 wait (:func:`wait_for_rtp_dtmf`, at most 5 s) for the early media's
transport to connect; if it does not, the call emits ``error`` (``DTMF_FAILED``) and drops those digits.

:func:`dtmf_refusal` decides; it is pure, so the rule is tested without a browser.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from .sip.errors import ParseError
from .sip.sdp import has_telephone_event, parse_sdp

__all__ = ["RTP_DTMF_WAIT", "dtmf_refusal", "wait_for_rtp_dtmf"]

RTP_DTMF_WAIT = 5.0
"""Longest wait, seconds, for the early media's RTP path to carry DTMF (see :func:`wait_for_rtp_dtmf`)."""
_POLL = 0.05


def dtmf_refusal(
    *, status: str, early_media: bool, dtmf_transport: str, remote_sdp: str | None
) -> str | None:
    """Why DTMF cannot be sent now (a message for ``INVALID_STATE``), or None when it can.

    Args:
        status: the call's status (``pending``, ``ringing``, ``accepted``...).
        early_media: True once a provisional response brought SDP (early media is set up).
        dtmf_transport: the Device's ``dtmf_transport`` (``rfc4733`` or ``info``).
        remote_sdp: the far end's latest SDP (the 183's in early media).
    """
    if status == "accepted":
        return None
    if status != "ringing" or not early_media:
        return f"send_digits() needs an accepted call or early media (the call is {status})"
    if dtmf_transport != "rfc4733":
        return (
            "send_digits() in early media needs RTP DTMF: this Device uses dtmf_transport='info', "
            "and SIP INFO is only routed once the call is answered"
        )
    if remote_sdp is None:
        return "send_digits() in early media: the early media has no SDP"
    try:
        offers_events = has_telephone_event(parse_sdp(remote_sdp))
    except ParseError:
        offers_events = False
    if not offers_events:
        return "send_digits() in early media: the far end's 183 SDP has no telephone-event (RFC 4733)"
    return None


async def wait_for_rtp_dtmf(can_send: Callable[[], bool], timeout: float = RTP_DTMF_WAIT) -> bool:
    """Wait until ``can_send()`` (the browser's ``RTCDTMFSender.canInsertDTMF``), at most ``timeout`` s.

    Right after the 183 (or the answer) the transport may still be connecting (ICE, then DTLS), and
    browsers only insert tones on a transport that has been writable: digits typed at once would otherwise
    fail, or go out as SIP INFO.
    Returns whether DTMF can be sent.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not can_send():
        if loop.time() >= deadline:
            return False
        await asyncio.sleep(_POLL)
    return True
