"""Sending DTMF on a call: RFC 4733 telephone-events on the RTP stream, or SIP INFO.

``call.send_digits("1234#")`` checks the digits (``0-9 * # A-D``, ``w`` pauses 0.5 s, ``,`` pauses 2 s) and
whether the call can carry them now (:func:`~.early_media.dtmf_refusal`); the digits then queue behind
those already being sent. Each digit plays the local feedback tone, then goes out as RTP when the Device
uses ``dtmf_transport="rfc4733"`` and the peer negotiated telephone-event, else as a SIP INFO. Before the
answer, digits go out as RTP in early media only (a 183 with SDP: IVRs that prompt before answering, see
:mod:`.early_media`).

:class:`DtmfSender` is the call's collaborator for this; what it needs of its call is :class:`DtmfLine`.
"""

from __future__ import annotations

import asyncio
import re
from typing import Protocol

from .early_media import dtmf_refusal, wait_for_rtp_dtmf
from .errors import ErrorCode, VoiceSDKError
from .platform import PeerConnection
from .sip.dtmf import DTMF_EVENTS
from .sip.errors import LocalProtocolError, ParseError
from .sip.sdp import has_telephone_event, parse_sdp
from .tasks import TaskSet

__all__ = ["DTMF_GAP_MS", "DTMF_TONE_MS", "PAUSES", "DtmfLine", "DtmfSender"]

_DIGITS_RE = re.compile(rf"^[{re.escape(DTMF_EVENTS + DTMF_EVENTS.lower())}wW,]+$")
DTMF_TONE_MS = 100
"""How long one DTMF tone lasts and the gap after it, milliseconds (RFC 4733 senders commonly use 100/70)."""
DTMF_GAP_MS = 70
PAUSES = {"w": 0.5, "W": 0.5, ",": 2.0}
"""Pause characters: ``w`` half a second (as Twilio), ``,`` two seconds (as RTCDTMFSender)."""


class DtmfLine(Protocol):
    """What sending DTMF needs of its call."""

    @property
    def status(self) -> str:
        """The call's status (``accepted``, ``ringing``...)."""

    @property
    def ended(self) -> bool:
        """True once the call ended (sending stops)."""

    @property
    def has_dialog(self) -> bool:
        """True once the call has a SIP session to send INFO in."""

    @property
    def early_media(self) -> bool:
        """True while an outbound call plays early media (a 183 with SDP applied to a live connection)."""

    @property
    def peer(self) -> PeerConnection | None:
        """The call's peer connection, while it has one."""

    @property
    def dtmf_transport(self) -> str:
        """The Device's ``dtmf_transport``: ``rfc4733`` or ``info``."""

    @property
    def held_by_peer(self) -> bool:
        """True while the peer holds the call (we receive only: no RTP DTMF can be sent until it resumes)."""

    def remote_sdp(self) -> str | None:
        """The peer's current SDP (its telephone-event tells whether RTP DTMF can be sent)."""

    def early_answer(self) -> asyncio.Future[None] | None:
        """The early answer (183 SDP) being applied, if any: RTP DTMF waits for it."""

    def play_tone(self, digit: str) -> None:
        """Play the local feedback tone of ``digit``."""

    def send_info(self, digit: str, duration_ms: int) -> None:
        """Send ``digit`` in a SIP INFO."""

    def report(self, error: VoiceSDKError) -> None:
        """Report a non-fatal ``error`` event on the call."""


class DtmfSender:
    """Sends the digits of one call, in order (see the module docstring)."""

    def __init__(self, line: DtmfLine, tasks: TaskSet) -> None:
        self._line = line
        self._tasks = tasks
        self._queue_tail: asyncio.Future[None] | None = None

    def send(self, digits: str) -> None:
        """Queue ``digits`` behind the digits already being sent.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` (illegal character) or ``INVALID_STATE`` (neither accepted
                nor in early media that takes RTP DTMF).
        """
        if not isinstance(digits, str) or not _DIGITS_RE.fullmatch(digits):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"DTMF digits must be 0-9, *, #, A-D, w or ',', got {digits!r}"
            )
        line = self._line
        refusal = dtmf_refusal(
            status=line.status,
            early_media=line.early_media and line.peer is not None,
            dtmf_transport=line.dtmf_transport,
            remote_sdp=line.remote_sdp() if line.has_dialog else None,
        )
        if refusal is not None or not line.has_dialog:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, refusal or "the call has no dialog yet")
        previous = self._queue_tail
        self._queue_tail = self._tasks.spawn(self._send(digits.upper().replace("W", "w"), previous))

    async def _send(self, digits: str, previous: asyncio.Future[None] | None) -> None:
        line = self._line
        if previous is not None and not previous.done():
            await asyncio.wait([previous])
        early = line.early_answer()
        if early is not None and not early.done():
            await asyncio.wait([early])  # the 183's SDP must be applied before RTP DTMF can flow
        early_only = line.status != "accepted"
        waits_for_transport = early_only or (not line.held_by_peer and self._remote_takes_rtp_dtmf())
        if line.dtmf_transport == "rfc4733" and waits_for_transport:
            # Browsers insert tones only on a transport that has been writable (ICE, then DTLS): right
            # after the answer (or the 183) that can take a moment, and digits typed at once wait for it
            # (bounded) instead of going out as SIP INFO, which a peer that negotiated RFC 4733 may ignore.
            await wait_for_rtp_dtmf(lambda: line.peer is not None and line.peer.can_send_dtmf())
        use_rtp = line.dtmf_transport == "rfc4733" and self._rtp_possible()
        for char in digits:
            if line.ended or not line.has_dialog:
                return
            if char in PAUSES:
                await asyncio.sleep(PAUSES[char])
                continue
            sent = False
            line.play_tone(char)
            peer = line.peer
            if use_rtp and peer is not None:
                sent = peer.send_dtmf(char, DTMF_TONE_MS, DTMF_GAP_MS)
            if not sent and early_only and line.status != "accepted":
                line.report(
                    VoiceSDKError(ErrorCode.DTMF_FAILED, f"could not send DTMF {char!r} in early media")
                )
                return
            if not sent:
                try:
                    line.send_info(char, DTMF_TONE_MS * 2)
                except (LocalProtocolError, VoiceSDKError) as exc:
                    line.report(VoiceSDKError(ErrorCode.DTMF_FAILED, f"could not send DTMF {char!r}", exc))
                    return
            await asyncio.sleep((DTMF_TONE_MS + DTMF_GAP_MS) / 1000)

    def _rtp_possible(self) -> bool:
        peer = self._line.peer
        if peer is None or not peer.can_send_dtmf():
            return False
        return self._remote_takes_rtp_dtmf()

    def _remote_takes_rtp_dtmf(self) -> bool:
        """True when the peer's SDP negotiated telephone-event (RFC 4733)."""
        remote = self._line.remote_sdp()
        if remote is None:
            return False
        try:
            return has_telephone_event(parse_sdp(remote))
        except ParseError:
            return False
