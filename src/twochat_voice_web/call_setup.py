"""Setting a call up: from ``connect()`` or ``accept()`` to ``accepted``.

Outbound (``Device.connect``): the call opens its media, creates the offer and sends the INVITE, unless
``disconnect()`` came meanwhile (the call then ends ``cancelled`` before any INVITE leaves). A provisional
answer (180/183) makes it ``ringing``: with SDP (a 183's early media, :mod:`.early_media`) the answer is
applied provisionally and no ringback plays, without it the ringback plays until the final answer. The
2xx's answer is applied under the call's media lock, then the call is ``accepted``.

Inbound (``Call.accept``): the call opens its media and answers the INVITE's offer (or, for an offerless
INVITE, puts its offer in the 200 OK and takes the answer from the ACK). When the microphone or the peer
connection fails, the call ends ``failed`` (reason ``media``) and the caller gets 480; when the caller hung
up meanwhile, ``accept()`` raises ``CALL_FAILED``.

:class:`CallSetup` is the call's collaborator for this; what it needs of its call is :class:`SetupLine`.
The call's status, timings and SIP handle stay the call's: setup changes them through the line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from .call_media import CallMedia
from .errors import ErrorCode, VoiceSDKError
from .media_options import CallMediaOptions
from .platform import PeerConnection
from .sip import events as sip_events
from .sip.errors import LocalProtocolError

__all__ = ["CallSetup", "SetupLine"]


class SetupLine(Protocol):
    """What call setup needs of its call."""

    @property
    def ended(self) -> bool:
        """True once the call ended."""

    @property
    def inbound(self) -> bool:
        """True for an inbound call."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed."""

    def send_invite(self, target: str, offer: str, headers: list[tuple[str, str]]) -> None:
        """Send the INVITE and bind the call to its SIP session (``invite_sent`` timing).

        Raises:
            LocalProtocolError: the user agent refused the target or a header.
        """

    def answer(self, sdp: str) -> None:
        """Answer the INVITE with 200 OK and ``sdp`` (LocalProtocolError when it cannot be answered)."""

    def reject(self, status_code: int) -> None:
        """Refuse the INVITE with ``status_code``."""

    def milestone(self, name: str) -> None:
        """Record the timing ``name`` (once: the first time counts)."""

    def ringing(self, has_early_media: bool) -> None:
        """A provisional answer came: a pending call becomes ``ringing``."""

    def accepted(self) -> None:
        """The call is answered: ``accepted`` (``answered`` timing, call quality sampling starts)."""

    def fail(self, reason: str, error: VoiceSDKError | None = None, *, emit_error: bool = True) -> None:
        """End the call ``failed`` with ``reason`` (and ``error``, emitted unless ``emit_error`` is False)."""

    def release_media(self) -> None:
        """Release the call's media (it will not be sent)."""

    def start_ringback(self) -> None:
        """Play the ringback tone for the call."""

    def stop_ringback(self) -> None:
        """Stop the call's ringback tone."""

    def spawn(self, work: Coroutine[Any, Any, None]) -> asyncio.Future[None]:
        """Run ``work`` as one of the call's tasks."""


class CallSetup:
    """The setup of one call (see the module docstring)."""

    def __init__(
        self,
        line: SetupLine,
        media: CallMedia,
        lock: asyncio.Lock,
        on_ice_state: Callable[[str], None],
        *,
        remote_offer: str | None = None,
    ) -> None:
        self._line = line
        self._media = media
        self._lock = lock
        self._on_ice_state = on_ice_state
        self._remote_offer = remote_offer
        self._media_options = CallMediaOptions()
        self._cancel_requested = False
        self._early_media = False
        self._early_answer: asyncio.Future[None] | None = None

    @property
    def early_media(self) -> bool:
        """True once a provisional answer with SDP set up early media."""
        return self._early_media

    @property
    def early_answer(self) -> asyncio.Future[None] | None:
        """The application of the early-media answer (None when there was none)."""
        return self._early_answer

    def cancel(self) -> None:
        """``disconnect()`` came before the INVITE: :meth:`start_outbound` stops before sending it."""
        self._cancel_requested = True

    async def start_outbound(
        self, target: str, headers: list[tuple[str, str]], media_options: CallMediaOptions | None = None
    ) -> None:
        """``connect()``: open the media, create the offer, send the INVITE.

        Raises:
            VoiceSDKError: ``MEDIA_*`` (the call ended ``failed``/``media``) or ``INVALID_ARGUMENT`` (the user
                agent refused the INVITE: the call ended ``failed``).
        """
        line = self._line
        if media_options is not None:
            self._media_options = media_options
        try:
            pc = await self._open_media()
            offer = await pc.create_offer()
        except VoiceSDKError as exc:
            line.fail("media", exc, emit_error=False)
            raise
        if self._cancel_requested or line.destroyed:
            line.release_media()
            return
        try:
            line.send_invite(target, offer, headers)
        except LocalProtocolError as exc:
            line.fail("failed", emit_error=False)
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, exc.message, exc) from None

    async def answer(self, media_options: CallMediaOptions) -> None:
        """``accept()``'s media path: open the media, answer the INVITE, then the call is ``accepted``.

        Raises:
            VoiceSDKError: ``MEDIA_*`` (the call ended ``failed``/``media``, the caller got 480) or
                ``CALL_FAILED`` (the caller hung up meanwhile, or the user agent could not answer).
        """
        line = self._line
        self._media_options = media_options
        async with self._lock:
            try:
                pc = await self._open_media()
                if self._remote_offer is not None:
                    sdp = await pc.create_answer(self._remote_offer)
                else:
                    sdp = await pc.create_offer()
            except VoiceSDKError as exc:
                if not line.ended:
                    # Finish first (failed/media + error), so the UA's CallEnded for our 480 finds no call.
                    line.fail("media", exc)
                    line.reject(480)
                raise
            if line.ended:
                raise VoiceSDKError(ErrorCode.CALL_FAILED, "the caller hung up before the call was answered")
            try:
                line.answer(sdp)
            except LocalProtocolError as exc:
                line.fail("failed")
                raise VoiceSDKError(ErrorCode.CALL_FAILED, f"could not answer: {exc.message}", exc) from None
        line.accepted()

    def progress(self, event: sip_events.CallProgress) -> None:
        """A provisional answer to our INVITE (100 Trying is ignored)."""
        line = self._line
        if event.status_code == 100 or line.ended:
            return
        line.milestone("first_provisional")
        if event.sdp is not None and self._media.peer is not None:
            self._early_media = True
            line.stop_ringback()
            self._early_answer = line.spawn(self._media.apply_answer(event.sdp, provisional=True))
        elif not self._early_media:
            line.start_ringback()
        line.ringing(event.sdp is not None)

    async def answered(self, event: sip_events.CallAnswered) -> None:
        """The 2xx to our INVITE (outbound), or the ACK to our 200 (inbound: ``confirmed``)."""
        line = self._line
        if line.inbound:
            line.milestone("confirmed")
            if event.sdp is not None:  # the answer to the offer we put in our 200 (offerless INVITE)
                await self._media.apply_answer(event.sdp)
            return
        if event.sdp is not None:
            async with self._lock:
                await self._media.apply_answer(event.sdp)
        line.stop_ringback()
        if line.ended:
            return
        line.accepted()

    async def _open_media(self) -> PeerConnection:
        return await self._media.open(self._media_options, self._on_ice_state)
