"""Inbound calls placed by the sandbox (``POST /sandbox/calls``): a media endpoint calls a registered user.

The sandbox creates a :class:`~.media.MediaEndpoint` offer (tone, silence or echo) and INVITEs every
registration of the user at once (fork; one Call-ID for all forks, returned by the POST so tests can
match it with the SDK's ``call.sip_call_id``), with the requested ``X-2Chat-*`` headers and a From naming
the caller number (default ``+15550199``). The first 2xx wins (the others get CANCEL); the answer is
applied to the media endpoint. ``answer_timeout`` cancels an unanswered call; ``hangup_after`` sends BYE
that many seconds after the answer; ``DELETE /sandbox/calls/{call_id}`` makes the sandbox hang up first
(CANCEL before the answer, BYE after). Re-INVITEs from the client (hold, ICE restart) and DTMF (RFC 4733
or INFO) are handled as for the test numbers.

Events: ``call_started``, ``ringing`` (per provisional status), ``answered``, ``rejected`` (the best
failure when every fork failed, e.g. 486), ``cancel`` (``by="sandbox"``, with ``reason``), ``bye``
(``who``: ``"client"`` or ``"sandbox"``), ``call_ended``, plus the media events.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any

from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.events import EndReason
from twochat_voice_web.sip.uri import SipUri

from .media import MediaBehaviour, MediaEndpointError
from .sip_calls import MediaCall, SandboxCallHost, best_failure

if TYPE_CHECKING:
    from .sip_agent import Leg
    from .state import UserAccount

__all__ = ["MEDIA_KINDS", "SandboxCall"]

log = logging.getLogger("twochat_voice_web.sandbox.sip")

#: ``media`` values of ``POST /sandbox/calls``.
MEDIA_KINDS: dict[str, MediaBehaviour] = {
    "tone": MediaBehaviour.TONE,
    "silence": MediaBehaviour.SILENCE,
    "echo": MediaBehaviour.ECHO,
}


class SandboxCall(MediaCall):
    """One call from the sandbox to a registered user (see the module docstring).

    Args:
        server: the SIP server.
        user: the user called.
        from_uri: the caller's URI (From).
        from_display: the caller's display name, if any.
        headers: extra ``X-2Chat-*`` header lines.
        media: what the sandbox sends.
        answer_timeout: seconds before an unanswered call is cancelled.
        hangup_after: seconds after the answer before the sandbox sends BYE (None: never).
    """

    call_type = "sandbox"

    def __init__(
        self,
        server: SandboxCallHost,
        user: UserAccount,
        *,
        from_uri: SipUri,
        from_display: str | None,
        headers: list[tuple[str, str]],
        media: MediaBehaviour,
        answer_timeout: float,
        hangup_after: float | None,
    ) -> None:
        super().__init__(server, secrets.token_urlsafe(16).replace("-", "x").replace("_", "y"))
        self.user = user
        self.from_uri = from_uri
        self.from_display = from_display
        self.headers = headers
        self.behaviour = media
        self.answer_timeout = answer_timeout
        self.hangup_after = hangup_after
        self.legs: list[Leg] = []
        self.winner: Leg | None = None
        self.failures: list[int | None] = []
        self.cancelled = False
        self._rung: set[tuple[int, int]] = set()
        self._timers: list[asyncio.TimerHandle] = []

    def tags(self) -> dict[str, Any]:
        """Every event names the user called."""
        return {"user": self.user.sip_username}

    def describe(self) -> dict[str, Any]:
        """The JSON view of ``GET /sandbox/calls``."""
        winner = self.winner
        return {
            **super().describe(),
            "from": str(self.from_uri),
            "to": self.user.sip_username,
            "media": self.behaviour.value,
            "forks": len(self.legs),
            "answered_by": winner.agent.instance_key if winner is not None else None,
        }

    def start(self) -> None:
        """Register the call and start calling (the offer is made in the background)."""
        self.server.register_call(self)
        self.log(
            "call_started",
            media=self.behaviour.value,
            headers=dict(self.headers),
            **{"from": str(self.from_uri), "to": self.user.sip_username},
        )
        self.server.spawn(self._run(), f"sandbox call {self.call_id}")

    async def _run(self) -> None:
        if self.finished:  # hung up before we started
            return
        media = self.new_media(self.behaviour)
        try:
            offer = await media.create_offer()
        except MediaEndpointError as exc:
            self.log("rejected", status=500, reason=f"media: {exc.message}")
            self.finish()
            return
        except Exception as exc:
            self.media_failed("making the offer", exc)
            if not self.finished:
                self.log("rejected", status=500, reason=f"media: {exc!r}")
                self.finish()
            return
        if self.finished:  # hung up while the offer was made (finish() closes the media)
            return
        bindings = self.server.registrar.bindings_for(self.user)
        if not bindings:
            self.log("rejected", status=480, reason="the user has no registration")
            self.finish()
            return
        target = SipUri("sip", self.user.sip_username, host=self.server.state.sip_domain)
        for binding in bindings:
            leg = binding.agent.invite(
                target,
                offer,
                self,
                headers=self.headers,
                from_uri=self.from_uri,
                from_display=self.from_display,
                to_display=self.user.display_name,
                call_id=self.call_id,
            )
            if leg is not None:
                self.legs.append(leg)
        if not self.legs:
            self.log("rejected", status=500, reason="no registration could be called")
            self.finish()
            return
        self._later(self.answer_timeout, self._answer_timeout)

    def _later(self, seconds: float, callback: Any) -> None:
        self._timers.append(self.server.loop.call_later(seconds, callback))

    def finish(self) -> None:
        """The call is over (cancels its timers)."""
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        super().finish()

    # -- the sandbox's actions ------------------------------------------------------------------------

    def hangup(self) -> bool:
        """Hang up from the sandbox side: BYE once answered, else CANCEL every fork."""
        if self.finished:
            return False
        if self.winner is not None:
            if self.winner.hangup():
                self.log("bye", who="sandbox")
            return True
        self._cancel("hung up by the sandbox")
        return True

    def _cancel(self, reason: str) -> None:
        self.cancelled = True
        self.log("cancel", by="sandbox", reason=reason)
        for leg in self.legs:
            leg.hangup()
        if all(leg.ended for leg in self.legs):
            self.finish()

    def _answer_timeout(self) -> None:
        if self.winner is None and not self.finished:
            self._cancel("answer_timeout")

    def _hangup_after(self) -> None:
        winner = self.winner
        if winner is not None and not self.finished and winner.hangup():
            self.log("bye", who="sandbox", reason="hangup_after")

    # -- events of the forks --------------------------------------------------------------------------

    def on_call_event(self, leg: Leg, event: sip_events.Event) -> None:
        """Events of every fork."""
        if isinstance(event, sip_events.CallProgress):
            if self.winner is None and not self.cancelled and event.status_code > 100:
                key = (id(leg), event.status_code)
                if key not in self._rung:
                    self._rung.add(key)
                    self.state = "ringing"
                    self.log(
                        "ringing",
                        status_code=event.status_code,
                        early_media=event.sdp is not None,
                        instance=leg.agent.instance_key,
                    )
        elif isinstance(event, sip_events.CallAnswered):
            self._answered(leg, event)
        elif isinstance(event, sip_events.CallEnded):
            self._leg_ended(leg, event)
        elif leg is self.winner:
            self.on_media_leg_event(leg, event)
        elif isinstance(event, sip_events.RemoteOffer | sip_events.OfferRequested):
            leg.reject_offer(491)

    def _answered(self, leg: Leg, event: sip_events.CallAnswered) -> None:
        if self.winner is not None or self.cancelled or self.finished:
            leg.hangup()
            return
        self.winner = leg
        self.state = "answered"
        self.answered_at = time.time()
        self.log("answered", by="client", instance=leg.agent.instance_key)
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        for other in self.legs:
            if other is not leg and not other.ended and other.hangup():
                self.log(
                    "cancel", by="sandbox", reason="answered elsewhere", instance=other.agent.instance_key
                )
        if event.sdp is not None:
            self.remote_sdp = event.sdp
            if self.media is not None and self.media.local_description is not None:
                self.record_negotiation(
                    offer=self.media.local_description, answer=event.sdp, client_sdp=event.sdp
                )
            self.expect_answer()
            self.server.spawn(self.accept_answer(event.sdp), f"accept answer {self.call_id}")
        if self.hangup_after is not None:
            self._later(self.hangup_after, self._hangup_after)

    def _leg_ended(self, leg: Leg, event: sip_events.CallEnded) -> None:
        if self.finished:
            return
        if leg is self.winner:
            if event.reason is EndReason.REMOTE_BYE:
                self.log("bye", who="client")
            self.log("call_ended", reason=event.reason.value, status=event.status_code)
            self.finish()
            return
        if self.winner is not None:
            return
        self.failures.append(event.status_code)
        if all(other.ended for other in self.legs):
            if not self.cancelled:
                status = best_failure(self.failures)
                self.log("rejected", status=status, by="client", reason=event.text)
            self.log("call_ended", reason=event.reason.value, status=event.status_code)
            self.finish()
