"""The sandbox's fictional test numbers (product.md §6) and the calls to them.

==========  ====================  =================================================================
number      name                  behaviour
==========  ====================  =================================================================
+15550100   ``echo``              answers at once, echoes audio back, records DTMF
+15550101   ``ring-then-tone``    180 Ringing for 2 s, then 200 with a 440 Hz tone
+15550102   ``busy``              486 Busy Here
+15550103   ``ring-forever``      180 Ringing until the caller cancels
+15550104   ``decline``           603 Decline
+15550105   ``tone-then-bye``     answers with a tone, sends BYE 3 s after the 200
+15550106   ``ivr``               answers with a prompt tone until the first digit, collects DTMF
+15550107   ``early-media``       183 Session Progress with SDP (tone as early media), 200 ~2 s later
+15550108   ``early-ivr``         183 with SDP (prompt tone as early media), collects DTMF before the
                                  answer, answers with 200 once ``#`` arrives (rings until cancelled)
==========  ====================  =================================================================

A number is recognised in the Request-URI user part with or without ``+`` and with visual separators
(``sip:+15550100@…``, ``sip:15550100@…;user=phone``, ``sip:+1-555-0100@…``), or as a ``tel:`` To URI.
Media is real (aiortc, :mod:`.media`); DTMF arrives by RFC 4733 or SIP INFO and is logged with its
``transport`` (``"rfc4733"`` / ``"info"``). An offer the media endpoint cannot use is answered 488.
An INVITE without SDP is answered with an offer in the 200 (its answer comes in the ACK); early media
then falls back to a plain 180.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.events import EndReason

from .media import MediaBehaviour, MediaEndpointError
from .sip_calls import MediaCall, SandboxCallHost, candidate_count

if TYPE_CHECKING:
    from .sip_agent import Leg

__all__ = ["TEST_NUMBERS", "NumberCall", "TestNumber", "lookup_number", "normalize_number"]

log = logging.getLogger("twochat_voice_web.sandbox.sip")


@dataclass(frozen=True, slots=True)
class TestNumber:
    """One test number.

    Attributes:
        number: E.164 form, e.g. ``+15550100``.
        name: short behaviour name (``echo``, ``busy``...).
        behaviour: what the media endpoint sends, or None when the number never answers.
        description: one line for docs and ``GET /sandbox/calls``.
    """

    number: str
    name: str
    behaviour: MediaBehaviour | None
    description: str


TEST_NUMBERS: dict[str, TestNumber] = {
    n.number: n
    for n in (
        TestNumber("+15550100", "echo", MediaBehaviour.ECHO, "answers at once, echoes audio, records DTMF"),
        TestNumber("+15550101", "ring-then-tone", MediaBehaviour.TONE, "rings 2 s, then answers with a tone"),
        TestNumber("+15550102", "busy", None, "486 Busy Here"),
        TestNumber("+15550103", "ring-forever", None, "rings until cancelled"),
        TestNumber("+15550104", "decline", None, "603 Decline"),
        TestNumber("+15550105", "tone-then-bye", MediaBehaviour.TONE, "answers with a tone, BYE after 3 s"),
        TestNumber("+15550106", "ivr", MediaBehaviour.IVR, "IVR: prompt tone, collects DTMF"),
        TestNumber("+15550107", "early-media", MediaBehaviour.TONE, "183 with early-media tone, then 200"),
        TestNumber(
            "+15550108", "early-ivr", MediaBehaviour.IVR, "183 early-media IVR: collects DTMF, answers on #"
        ),
    )
}
"""The test numbers by E.164 number."""

ANSWER_DIGIT = "#"
"""The digit that makes ``early-ivr`` (+15550108) answer."""

_VISUAL_SEPARATORS = re.compile(r"[\s\-.()]")
_NUMBER = re.compile(r"\+?(\d{4,15})")


def normalize_number(text: str) -> str | None:
    """``+digits`` for a phone number written with or without ``+``, ``tel:`` or visual separators."""
    value = text.strip()
    if value[:4].lower() == "tel:":
        value = value[4:]
    value = _VISUAL_SEPARATORS.sub("", value.split(";", 1)[0])
    match = _NUMBER.fullmatch(value)
    return f"+{match.group(1)}" if match else None


def lookup_number(text: str) -> TestNumber | None:
    """The test number named by ``text`` (see :func:`normalize_number`), or None."""
    number = normalize_number(text)
    return TEST_NUMBERS.get(number) if number is not None else None


class NumberCall(MediaCall):
    """A client's call to a test number, answered by the number's script and a media endpoint.

    Args:
        server: the SIP server.
        leg: the client's incoming call.
        number: the test number called.
        event: the IncomingCall event (the offer, From, To).
    """

    call_type = "number"

    def __init__(
        self, server: SandboxCallHost, leg: Leg, number: TestNumber, event: sip_events.IncomingCall
    ) -> None:
        super().__init__(server, leg.call_id)
        self.leg = leg
        self.number = number
        self.offer = event.sdp
        self.remote_sdp = event.sdp
        self.caller = str(event.remote)
        self.callee = str(event.local)
        self.headers = {n: v for n, v in event.request.headers if n.lower().startswith("x-2chat-")}
        self.state = "incoming"
        self._digit_arrived = asyncio.Event()

    def tags(self) -> dict[str, Any]:
        """Every event names the number."""
        return {"number": self.number.number}

    def describe(self) -> dict[str, Any]:
        """The JSON view of ``GET /sandbox/calls``."""
        return {
            **super().describe(),
            "behaviour": self.number.name,
            "from": self.caller,
            "to": self.callee,
            "user": self.leg.agent.user_name,
        }

    def start(self) -> None:
        """Take over the leg and run the number's script."""
        self.leg.listener = self
        self.server.register_call(self)
        self.log(
            "call_started",
            behaviour=self.number.name,
            user=self.leg.agent.user_name,
            headers=self.headers,
            offer_candidates=candidate_count(self.offer),
            **{"from": self.caller, "to": self.callee},
        )
        self.server.spawn(self._run(), f"number {self.number.number} {self.call_id}")

    # -- the scripts ----------------------------------------------------------------------------------

    async def _run(self) -> None:
        try:
            await self._script()
        except Exception as exc:
            if self.finished:  # e.g. the media endpoint closed under an answer in progress
                log.debug("test number %s: script ended after the call: %r", self.number.number, exc)
                return
            log.exception("test number %s: script failed", self.number.number)
            if not self.finished:
                if self.answered_at is None:
                    self._reject(500, "Server Internal Error")
                else:
                    self._hangup("number")

    async def _script(self) -> None:
        name = self.number.name
        settings = self.server.settings
        if name == "busy":
            self._reject(486)
        elif name == "decline":
            self._reject(603)
        elif name == "ring-forever":
            self._ring(180)
            await self.ended.wait()
        elif name in ("echo", "ivr"):
            sdp = await self._prepare_answer()
            if sdp is not None:
                self._answer(sdp)
        elif name == "ring-then-tone":
            self._ring(180)
            sdp = await self._prepare_answer()
            if sdp is None or await self.sleep_unless_ended(settings.ring_delay):
                return
            self._answer(sdp)
        elif name == "tone-then-bye":
            sdp = await self._prepare_answer()
            if sdp is None or not self._answer(sdp):
                return
            if not await self.sleep_unless_ended(settings.hangup_delay):
                self._hangup("number")
        elif name == "early-media":
            sdp = await self._prepare_answer()
            if sdp is None:
                return
            self._ring(183, sdp if self.offer is not None else None)
            if not await self.sleep_unless_ended(settings.early_media_delay):
                self._answer(sdp)
        elif name == "early-ivr":
            sdp = await self._prepare_answer()
            if sdp is None or self.offer is None:  # early media needs the answer in the 183
                if sdp is not None:
                    self._reject(488, "Not Acceptable Here", error="early-ivr needs an offer in the INVITE")
                return
            self._ring(183, sdp)
            if await self._wait_for_digit(ANSWER_DIGIT):
                self._answer(sdp)

    async def _wait_for_digit(self, digit: str) -> bool:
        """Wait (without a deadline: the caller cancels) until ``digit`` was received; False if ended."""
        while digit not in self.digits:
            self._digit_arrived.clear()
            waiters = {
                asyncio.ensure_future(self._digit_arrived.wait()),
                asyncio.ensure_future(self.ended.wait()),
            }
            try:
                await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in waiters:
                    waiter.cancel()
            if self.ended.is_set():
                return False
        return not self.ended.is_set()

    def record_dtmf(
        self, digit: str, transport: str, *, duration_ms: int | None = None, **extra: Any
    ) -> None:
        """Record and log the digit (with ``call_state``: ``early`` before the answer); wake the script."""
        super().record_dtmf(digit, transport, duration_ms=duration_ms, call_state=self.state, **extra)
        self._digit_arrived.set()

    async def _prepare_answer(self) -> str | None:
        """Our SDP for the 200 (an answer, or an offer when the INVITE had none); None after a 488."""
        if self.finished:  # cancelled before we got here: no media endpoint to leak
            return None
        behaviour = self.number.behaviour or MediaBehaviour.SILENCE
        media = self.new_media(behaviour)
        try:
            if self.offer is None:
                sdp = await media.create_offer()
                self.expect_answer()
            else:
                sdp = await media.answer(self.offer)
                self.record_negotiation(offer=self.offer, answer=sdp, client_sdp=self.offer)
        except MediaEndpointError as exc:
            if not self.finished:
                self._reject(488, "Not Acceptable Here", error=exc.message)
            return None
        return None if self.finished else sdp

    # -- actions --------------------------------------------------------------------------------------

    def _ring(self, status_code: int, sdp: str | None = None) -> None:
        if self.leg.ring(status_code, sdp):
            self.state = "early" if sdp is not None else "ringing"
            self.log("ringing", status_code=status_code, early_media=sdp is not None)

    def _answer(self, sdp: str) -> bool:
        if not self.leg.answer(sdp):
            return False
        self.state = "answered"
        self.answered_at = time.time()
        self.log("answered", by="number")
        return True

    def _reject(
        self, status_code: int, reason: str | None = None, *, by: str = "number", **extra: Any
    ) -> None:
        if self.leg.reject(status_code, reason):
            self.log("rejected", status=status_code, by=by, **extra)

    def _hangup(self, who: str) -> None:
        if self.leg.hangup():
            self.log("bye", who=who)

    def hangup(self) -> bool:
        """The sandbox hangs up: BYE when answered, else 603 Decline."""
        if self.finished:
            return False
        if self.answered_at is not None:
            self._hangup("sandbox")
        else:
            self._reject(603, by="sandbox")
        return True

    # -- events of the client's leg -------------------------------------------------------------------

    def on_call_event(self, leg: Leg, event: sip_events.Event) -> None:
        """Events of the client's leg."""
        if isinstance(event, sip_events.CallEnded):
            if event.reason is EndReason.REMOTE_CANCEL:
                self.log("cancel", by="caller")
            elif event.reason is EndReason.REMOTE_BYE:
                self.log("bye", who="caller")
            self.log("call_ended", reason=event.reason.value, status=event.status_code, text=event.text)
            self.finish()
        elif isinstance(event, sip_events.CallAnswered):
            self.log("confirmed")
            if event.sdp is not None and self.offer is None:
                self.remote_sdp = event.sdp
                if self.media is not None and self.media.local_description is not None:
                    self.record_negotiation(
                        offer=self.media.local_description, answer=event.sdp, client_sdp=event.sdp
                    )
                self.server.spawn(self.accept_answer(event.sdp), "accept answer in ACK")
        else:
            self.on_media_leg_event(leg, event)
