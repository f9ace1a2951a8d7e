"""Routing of the INVITEs clients send, and the back-to-back bridge between two registered users.

Routing of a new INVITE (the Request-URI user part; a ``tel:`` To URI counts too):

1. from a connection that has not authenticated (no successful REGISTER): **403** — like Kamailio, which
   never routes for an unknown sender; our clients always register first;
2. a test number (:mod:`.numbers`) → the number's behaviour;
3. a registered user, named by SIP user name, by one of the user's caller-ID numbers (E.164, with or
   without ``+``) or by the user's UUID → a :class:`Bridge`;
4. anything else → **404**.

The bridge is a B2BUA that behaves like a proxy where the client can tell: the callee legs carry the
caller's SDP offer unchanged (media flows browser to browser on loopback), the caller's Call-ID, the
caller's ``X-2Chat-*`` headers, and a From naming the caller (its AOR, or the caller-ID number it put in
its From when that number is one of its own). Every registration of the callee rings in parallel (fork;
not the caller's own connection); the first 2xx wins and the other forks get CANCEL. 180/183 (with early
SDP from the first fork that sends some) and the final outcome are relayed; when every fork failed the
best failure is relayed (6xx, else 486/4xx, else 5xx); without registrations the caller gets **480**,
without an answer after ``ring_timeout`` **408**. After the answer, BYE, re-INVITE/UPDATE offers (as
re-INVITE: the user agent sends no UPDATE offers) and their answers or rejections, and INFO (DTMF or
other) are relayed both ways. An offerless re-INVITE is answered with the SDP last sent to that side.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.events import EndReason
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.uri import SipUri, TelUri

from .numbers import NumberCall, lookup_number, normalize_number
from .sip_calls import CallRecord, SandboxCallHost, best_failure, offer_summary

if TYPE_CHECKING:
    from .sip_agent import Leg
    from .state import UserAccount

__all__ = ["Bridge", "Router", "x2chat_headers"]

log = logging.getLogger("twochat_voice_web.sandbox.sip")

_INFO_BODY_LIMIT = 500


def x2chat_headers(request: Request) -> list[tuple[str, str]]:
    """The ``X-2Chat-*`` header lines of a request, in order."""
    return [(name, value) for name, value in request.headers if name.lower().startswith("x-2chat-")]


def request_target(request: Request) -> str:
    """What the caller dialled: the Request-URI user, else a ``tel:`` To number, else ''."""
    uri = request.uri
    if isinstance(uri, SipUri) and uri.user:
        return uri.user
    to_uri = request.to.uri
    if isinstance(to_uri, TelUri):
        return to_uri.number
    return ""


class Router:
    """Decides what a client's new INVITE reaches (see the module docstring)."""

    def __init__(self, server: SandboxCallHost) -> None:
        self.server = server

    def find_user(self, target: str) -> UserAccount | None:
        """The user named by SIP user name, handle, UUID or caller-ID number, or None."""
        users = self.server.state.users
        if not target:
            return None
        found = users.by_sip_username(target) or users.by_name_or_uuid(target)
        if found is not None:
            return found
        number = normalize_number(target)
        return users.by_phone_number(number) if number is not None else None

    def on_incoming(self, leg: Leg, event: sip_events.IncomingCall) -> None:
        """Route a new INVITE received by ``leg.agent``."""
        server = self.server
        request = event.request
        target = request_target(request)
        if server.closing:
            leg.reject(503, "Shutting Down")
            return
        if not leg.agent.authenticated:
            leg.reject(403, "Register first")
            server.log_event(
                "rejected", call_id=leg.call_id, status=403, reason="unauthenticated connection", to=target
            )
            return
        number = lookup_number(target)
        if number is not None:
            NumberCall(server, leg, number, event).start()
            return
        callee = self.find_user(target)
        if callee is not None:
            Bridge(server, leg, event, callee).start()
            return
        leg.reject(404, "Not Found")
        server.log_event(
            "rejected",
            call_id=leg.call_id,
            status=404,
            reason="no such user or number",
            to=target,
            user=leg.agent.user_name,
        )


class Bridge(CallRecord):
    """A call between two registered users (see the module docstring).

    Args:
        server: the SIP server.
        caller: the caller's leg (the INVITE the caller's client sent us).
        event: its IncomingCall event.
        callee: the user called.
    """

    call_type = "user"

    def __init__(
        self, server: SandboxCallHost, caller: Leg, event: sip_events.IncomingCall, callee: UserAccount
    ) -> None:
        super().__init__(server, caller.call_id)
        self.caller = caller
        self.event = event
        self.callee = callee
        self.forks: list[Leg] = []
        self.fork_failures: list[int | None] = []
        self.winner: Leg | None = None
        self._early_leg: Leg | None = None
        self._rung: set[tuple[int, int]] = set()
        self._pending: dict[Leg, Leg] = {}  # leg we sent a relayed offer to -> leg whose offer waits
        self._last_offer: dict[Leg, str] = {}
        self._on_hold: dict[Leg, bool] = {}
        self._ring_timer = (
            None
            if server.settings.ring_timeout is None
            else server.loop.call_later(server.settings.ring_timeout, self._ring_timeout)
        )

    def tags(self) -> dict[str, Any]:
        """Every event names both users."""
        return {"user": self.caller.agent.user_name, "callee": self.callee.sip_username}

    def describe(self) -> dict[str, Any]:
        """The JSON view of ``GET /sandbox/calls``."""
        winner = self.winner
        return {
            **super().describe(),
            "from": str(self.event.remote),
            "to": str(self.event.local),
            "forks": len(self.forks),
            "answered_by": winner.agent.instance_key if winner is not None else None,
        }

    def _side(self, leg: Leg) -> str:
        return "caller" if leg is self.caller else "callee"

    def _other(self, leg: Leg) -> Leg | None:
        return self.winner if leg is self.caller else self.caller

    # -- set-up ---------------------------------------------------------------------------------------

    def start(self) -> None:
        """Fork the INVITE to every registration of the callee."""
        server = self.server
        caller = self.caller
        server.register_call(self)
        self.log(
            "call_started",
            headers=dict(x2chat_headers(self.event.request)),
            **{"from": str(self.event.remote), "to": str(self.event.local)},
        )
        caller.listener = self
        offer = self.event.sdp
        if offer is None:
            self._fail(488, "an INVITE to a user must carry an SDP offer")
            return
        bindings = [b for b in server.registrar.bindings_for(self.callee) if b.agent is not caller.agent]
        if not bindings:
            self._fail(480, "the user has no registration")
            return
        self._last_offer[caller] = offer
        from_uri, from_display = self._caller_identity()
        target = SipUri("sip", self.callee.sip_username, host=server.state.sip_domain)
        headers = x2chat_headers(self.event.request)
        for binding in bindings:
            leg = binding.agent.invite(
                target,
                offer,
                self,
                headers=headers,
                from_uri=from_uri,
                from_display=from_display,
                to_display=self.callee.display_name,
                call_id=caller.call_id,
            )
            if leg is not None:
                self.forks.append(leg)
        if not self.forks:
            self._fail(480, "no registration could be called")

    def _caller_identity(self) -> tuple[SipUri, str | None]:
        """From of the callee legs: the caller-ID number the caller chose, if it is one of its own
        (``X-2Chat-Caller-Id`` uuid, ``X-2Chat-From`` number, or the From user part), else its AOR."""
        user = self.caller.agent.user
        assert user is not None  # the router checked
        domain = self.server.state.sip_domain
        sent = self.event.remote
        display = sent.display_name or user.display_name
        request = self.event.request
        wanted: list[str] = []
        chosen_uuid = request.headers.get("X-2Chat-Caller-Id")
        if chosen_uuid:
            wanted += [c.phone_number for c in user.caller_ids if c.uuid == chosen_uuid.strip()]
        chosen_number = request.headers.get("X-2Chat-From")
        if chosen_number:
            wanted.append(chosen_number)
        if isinstance(sent.uri, SipUri) and sent.uri.user:
            wanted.append(sent.uri.user)
        own = {c.phone_number for c in user.caller_ids}
        for text in wanted:
            number = normalize_number(text)
            if number is not None and number in own:
                return SipUri("sip", number, host=domain), display
        return SipUri("sip", user.sip_username, host=domain), display

    def _fail(self, status: int, reason: str) -> None:
        self.finish()
        self.caller.reject(status)
        self.log("rejected", status=status, reason=reason)
        self._end_forks(cancel_reason="call failed")

    def _ring_timeout(self) -> None:
        self._ring_timer = None
        if self.winner is None and not self.finished:
            self._fail(408, "no answer")

    def _end_forks(self, *, cancel_reason: str | None = None, keep: Leg | None = None) -> None:
        for leg in self.forks:
            if leg is not keep and not leg.ended and leg.hangup() and cancel_reason is not None:
                self.log("cancel", by="sandbox", reason=cancel_reason, instance=leg.agent.instance_key)

    def finish(self) -> None:
        """The call is over (cancels the ring timer)."""
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None
        super().finish()

    def hangup(self) -> bool:
        """The sandbox ends the call: BYE both sides once answered, else 480 to the caller and CANCEL."""
        if self.finished:
            return False
        if self.winner is not None:
            self.finish()
            self.log("bye", who="sandbox")
            self.caller.hangup()
            self.winner.hangup()
        else:
            self._fail(480, "hung up by the sandbox")
        return True

    # -- events ---------------------------------------------------------------------------------------

    def on_call_event(self, leg: Leg, event: sip_events.Event) -> None:
        """Events of the caller's leg and of every fork."""
        if leg is self.caller:
            self._from_caller(event)
        else:
            self._from_callee(leg, event)

    def _from_caller(self, event: sip_events.Event) -> None:
        if isinstance(event, sip_events.CallEnded):
            if self.finished:
                return
            self.finish()
            if self.winner is None:
                if event.reason is EndReason.REMOTE_CANCEL:
                    self.log("cancel", by="caller")
                self.log("call_ended", reason=event.reason.value, status=event.status_code, by="caller")
                self._end_forks()
            else:
                if event.reason is EndReason.REMOTE_BYE:
                    self.log("bye", who="caller")
                self.log("call_ended", reason=event.reason.value, status=event.status_code, by="caller")
                self.winner.hangup()
        elif isinstance(event, sip_events.CallAnswered):
            self.log("confirmed")
        else:
            self._in_dialog(self.caller, event)

    def _from_callee(self, leg: Leg, event: sip_events.Event) -> None:
        if isinstance(event, sip_events.CallProgress):
            self._progress(leg, event)
        elif isinstance(event, sip_events.CallAnswered):
            self._answered(leg, event)
        elif isinstance(event, sip_events.CallEnded):
            self._fork_ended(leg, event)
        elif leg is self.winner:
            self._in_dialog(leg, event)
        elif isinstance(event, sip_events.RemoteOffer | sip_events.OfferRequested):
            leg.reject_offer(491)  # an early re-offer from a fork: nothing to relay it to yet

    def _progress(self, leg: Leg, event: sip_events.CallProgress) -> None:
        if self.winner is not None or self.finished or event.status_code <= 100:
            return
        sdp = event.sdp
        if sdp is not None and self._early_leg in (None, leg):
            self._early_leg = leg
            relayed = self.caller.ring(event.status_code, sdp)
        else:
            sdp = None
            relayed = self.caller.ring(180 if event.status_code == 183 else event.status_code)
        key = (id(leg), event.status_code)
        if relayed and key not in self._rung:
            self._rung.add(key)
            self.state = "early" if sdp is not None else "ringing"
            self.log(
                "ringing",
                status_code=event.status_code,
                early_media=sdp is not None,
                instance=leg.agent.instance_key,
            )

    def _answered(self, leg: Leg, event: sip_events.CallAnswered) -> None:
        if self.winner is not None or self.finished:
            leg.hangup()  # a late 2xx from another fork: the user agent ACKs it, we end it
            return
        self.winner = leg
        if self._ring_timer is not None:
            self._ring_timer.cancel()
            self._ring_timer = None
        if event.sdp is None or not self.caller.answer(event.sdp):
            self.finish()
            leg.hangup()
            self.log("call_ended", reason="caller gone before the answer", status=None, by="sandbox")
            self._end_forks()
            return
        self._last_offer.setdefault(leg, event.sdp)
        self.state = "answered"
        self.answered_at = time.time()
        self.log("answered", by="callee", instance=leg.agent.instance_key)
        self._end_forks(cancel_reason="answered elsewhere", keep=leg)

    def _fork_ended(self, leg: Leg, event: sip_events.CallEnded) -> None:
        if self.finished:
            return
        if leg is self.winner:
            self.finish()
            if event.reason is EndReason.REMOTE_BYE:
                self.log("bye", who="callee")
            self.log("call_ended", reason=event.reason.value, status=event.status_code, by="callee")
            self.caller.hangup()
            return
        if self.winner is not None:
            return
        self.fork_failures.append(event.status_code)
        if all(fork.ended for fork in self.forks):
            self.finish()
            status = best_failure(self.fork_failures)
            self.caller.reject(status)
            self.log("rejected", status=status, by="callee", reason=event.text)

    # -- mid-call relays ------------------------------------------------------------------------------

    def _in_dialog(self, leg: Leg, event: sip_events.Event) -> None:
        other = self._other(leg)
        if isinstance(event, sip_events.RemoteOffer):
            self._relay_offer(leg, other, event.sdp, event.method)
        elif isinstance(event, sip_events.OfferRequested):
            info = leg.info()
            if info is not None and info.local_sdp:
                leg.answer_offer(info.local_sdp)
            else:
                leg.reject_offer(488)
        elif isinstance(event, sip_events.RemoteAnswer):
            source = self._pending.pop(leg, None)
            if source is not None and not source.answer_offer(event.sdp):
                self.log("reinvite", by=self._side(source), status=0, error="could not relay the answer")
        elif isinstance(event, sip_events.OfferRejected):
            source = self._pending.pop(leg, None)
            if source is not None:
                status = event.status_code if 300 <= event.status_code <= 699 else 488
                source.reject_offer(status)
                self.log("reinvite", by=self._side(source), status=status, relayed=True)
        elif isinstance(event, sip_events.DtmfInfoReceived):
            if other is not None:
                other.send_dtmf_info(event.digit, event.duration_ms)
            self.log(
                "dtmf", digit=event.digit, transport="info", duration_ms=event.duration_ms, by=self._side(leg)
            )
        elif isinstance(event, sip_events.InfoReceived):
            request = event.request
            if other is not None and request.method == "INFO":
                other.send_info(request.content_type or "application/octet-stream", request.body)
            self.log(
                "info",
                method=request.method,
                content_type=request.content_type,
                body=request.body[:_INFO_BODY_LIMIT].decode("utf-8", errors="replace"),
                by=self._side(leg),
            )

    def _relay_offer(self, source: Leg, target: Leg | None, sdp: str, method: str) -> None:
        summary = offer_summary(sdp, self._last_offer.get(source))
        self._last_offer[source] = sdp
        side = self._side(source)
        if summary["on_hold"] != self._on_hold.get(source, False):
            self._on_hold[source] = summary["on_hold"]
            self.log("hold", by=side, direction=summary["direction"], on_hold=summary["on_hold"])
        if target is None or target in self._pending or not target.reinvite(sdp):
            source.reject_offer(491)
            self.log("reinvite", method=method, by=side, status=491, **summary)
            return
        self._pending[target] = source
        self.log("reinvite", method=method, by=side, status=None, relayed=True, **summary)
