"""Shared parts of the sandbox's calls: the call registry record, the media-backed call, SDP summaries.

Three kinds of call live in the SIP server (``call_type`` in the event log):

* ``"number"`` (:mod:`.numbers`): a client called a test number; a :class:`~.media.MediaEndpoint` answers.
* ``"user"`` (:mod:`.router`): a client called another registered user; a back-to-back bridge.
* ``"sandbox"`` (:mod:`.caller`): ``POST /sandbox/calls`` called a client; a media endpoint is the caller.

Each is a :class:`CallRecord` (listed by ``GET /sandbox/calls``, hung up by ``DELETE /sandbox/calls/{id}``)
named by the SIP Call-ID of the client's leg. :class:`MediaCall` adds what the test numbers and the
sandbox caller share: one media endpoint, its events in the sandbox event log (``audio_level``, ``dtmf``,
``hold``, ``ice_restart``, ``media_state``), and the answers to re-INVITEs (hold, resume, ICE restart;
488 when the media endpoint refuses, 491 while an exchange is unfinished) and to DTMF sent as SIP INFO.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any, Protocol

from twochat_voice_web.sip import events as sip_events
from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.sdp import active_media, audio_codecs, is_ice_restart, is_on_hold, parse_sdp

from .hub import SandboxHub
from .media import MediaBehaviour, MediaEndpoint, MediaEndpointError

if TYPE_CHECKING:
    from .registrar import Registrar
    from .sip_agent import Leg

__all__ = [
    "CallRecord",
    "MediaCall",
    "SandboxCallHost",
    "best_failure",
    "candidate_count",
    "close_media",
    "negotiation_report",
    "offer_summary",
]

log = logging.getLogger("twochat_voice_web.sandbox.sip")

#: Most of an INFO body copied into the event log.
_INFO_BODY_LIMIT = 500


def offer_summary(sdp: str, previous: str | None) -> dict[str, Any]:
    """``{"direction", "on_hold", "ice_restart"}`` of an SDP offer (``direction`` of its first audio stream).

    ``previous`` is the last offer from the same side (for ICE-restart detection). Unparsable SDP gives
    ``direction="unknown"``.
    """
    try:
        parsed = parse_sdp(sdp, strict_order=False)
    except ParseError:
        return {"direction": "unknown", "on_hold": False, "ice_restart": False}
    audio = active_media(parsed, "audio")
    direction = str(audio[0].effective_direction) if audio else "inactive"
    restart = False
    if previous is not None:
        with contextlib.suppress(ParseError):
            restart = is_ice_restart(parse_sdp(previous, strict_order=False), parsed)
    return {"direction": direction, "on_hold": is_on_hold(parsed), "ice_restart": restart}


def candidate_count(sdp: str | None) -> int:
    """How many ICE candidates (``a=candidate`` lines) an SDP carries (0 for None)."""
    return sum(1 for line in (sdp or "").splitlines() if line.startswith("a=candidate:"))


def negotiation_report(*, offer: str, answer: str, client_sdp: str) -> dict[str, Any]:
    """What an offer/answer exchange negotiated, for the event log and ``GET /sandbox/calls``.

    ``{"codec": "PCMU", "offered": ["PCMU", "opus", ...], "answered": [...], "client_opus_fmtp": {...},
    "client_candidates": 2}``: ``codec`` is the answer's first audio codec that is not telephone-event (the
    one both ends send), ``offered`` / ``answered`` the codec names of the first audio stream in order,
    ``client_opus_fmtp`` the Opus fmtp parameters of the client's SDP (its offer, or its answer to our
    offer), ``client_candidates`` how many ICE candidates that SDP carried; unparsable SDP gives empty
    values.
    """

    def names(sdp: str) -> tuple[list[str], dict[str, str]]:
        try:
            parsed = parse_sdp(sdp, strict_order=False)
        except ParseError:
            return [], {}
        codecs = audio_codecs(parsed)
        opus = next((c for c in codecs if c.name.lower() == "opus"), None)
        return [c.name for c in codecs], opus.parameters() if opus is not None else {}

    offered, _ = names(offer)
    answered, _ = names(answer)
    _, client_fmtp = names(client_sdp)
    codec = next((name for name in answered if name.lower() != "telephone-event"), None)
    candidates = candidate_count(client_sdp)
    return {
        "codec": codec,
        "offered": offered,
        "answered": answered,
        "client_opus_fmtp": client_fmtp,
        "client_candidates": candidates,
    }


#: Longest wait for a connecting peer to settle before it is closed (see :func:`close_media`).
_SETTLE_SECONDS = 3.0


async def close_media(media: MediaEndpoint) -> None:
    """Close a media endpoint, first letting a connection attempt in progress settle (bounded).

    Closing an aiortc peer while ICE is still connecting can leave aioice's consent-freshness task
    running for good (its ``connect()`` resumes after ``close()`` and starts it); a call hung up right
    after its answer would otherwise leak that task.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + _SETTLE_SECONDS
    while not media.closed and media.stats.connection_state == "connecting" and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await media.close()


def best_failure(statuses: list[int | None]) -> int:
    """The final status to relay after every fork failed (RFC 3261 §16.7, simplified).

    6xx wins; then 4xx (486 first), 5xx, 3xx; 487 only when nothing else. 480 when nothing usable.
    """
    usable = [s for s in statuses if s is not None and 300 <= s <= 699]
    if not usable:
        return 480
    rank = {6: 0, 4: 1, 5: 2, 3: 3}
    preferred = [s for s in usable if s != 487] or usable
    return min(preferred, key=lambda s: (rank.get(s // 100, 9), s != 486, s))


class SandboxCallHost(SandboxHub, Protocol):
    """What calls use of the SIP server, beyond :class:`~.hub.SandboxHub`: bindings and the call registry."""

    @property
    def registrar(self) -> Registrar:
        """The registrar (the bindings a call rings)."""

    def register_call(self, record: CallRecord) -> None:
        """Add a live call (``GET /sandbox/calls``)."""

    def unregister_call(self, record: CallRecord) -> None:
        """Remove a call that ended."""


class CallRecord(ABC):
    """One live call of the SIP server (registered under its Call-ID while it lasts).

    Attributes:
        server: the SIP server.
        call_id: the SIP Call-ID of the client's leg.
        call_type: ``"number"``, ``"user"`` or ``"sandbox"``.
        state: ``"calling"``, ``"ringing"``, ``"early"``, ``"answered"``, ``"ended"``...
        started_at / answered_at / ended_at: Unix seconds.
    """

    call_type = "call"

    def __init__(self, server: SandboxCallHost, call_id: str) -> None:
        self.server = server
        self.call_id = call_id
        self.state = "calling"
        self.started_at = time.time()
        self.answered_at: float | None = None
        self.ended_at: float | None = None
        self.finished = False
        self.key = call_id

    def log(self, kind: str, /, **fields: Any) -> None:
        """Append an event about this call to the sandbox event log."""
        self.server.log_event(kind, call_id=self.call_id, call_type=self.call_type, **self.tags(), **fields)

    def tags(self) -> dict[str, Any]:
        """Fields added to every event of this call (e.g. the test number)."""
        return {}

    def describe(self) -> dict[str, Any]:
        """The JSON view of ``GET /sandbox/calls``."""
        return {
            "call_id": self.call_id,
            "call_type": self.call_type,
            "state": self.state,
            "started_at": self.started_at,
            "answered_at": self.answered_at,
            **self.tags(),
        }

    @abstractmethod
    def hangup(self) -> bool:
        """The sandbox side hangs up (``DELETE /sandbox/calls/{call_id}``); False when already over."""

    def finish(self) -> None:
        """The call is over: leave the registry (idempotent)."""
        if self.finished:
            return
        self.finished = True
        self.state = "ended"
        self.ended_at = time.time()
        self.server.unregister_call(self)

    async def close(self) -> None:
        """Release resources at server shutdown (no signalling)."""
        self.finish()


class MediaCall(CallRecord):
    """A call whose sandbox end is a :class:`~.media.MediaEndpoint` (test numbers, the sandbox caller)."""

    def __init__(self, server: SandboxCallHost, call_id: str) -> None:
        super().__init__(server, call_id)
        self.media: MediaEndpoint | None = None
        self.digits: list[str] = []
        #: The client's last SDP (its offer or answer), for ICE-restart detection in re-offers.
        self.remote_sdp: str | None = None
        self.ended = asyncio.Event()
        self._awaiting_answer = False  # our offer (offerless re-INVITE, or offer in 2xx) awaits its answer
        #: What the first offer/answer negotiated (:func:`negotiation_report`), once known.
        self.negotiated: dict[str, Any] | None = None

    def describe(self) -> dict[str, Any]:
        """The JSON view of ``GET /sandbox/calls`` (with the digits received)."""
        return {**super().describe(), "digits": "".join(self.digits), "negotiated": self.negotiated}

    def record_negotiation(self, *, offer: str, answer: str, client_sdp: str) -> None:
        """Remember and log (``negotiated``) what the call's first offer/answer negotiated."""
        if self.negotiated is None:
            self.negotiated = negotiation_report(offer=offer, answer=answer, client_sdp=client_sdp)
            self.log("negotiated", **self.negotiated)

    def new_media(self, behaviour: MediaBehaviour) -> MediaEndpoint:
        """Create this call's media endpoint."""
        self.media = MediaEndpoint(
            behaviour,
            on_event=self._on_media_event,
            level_interval=self.server.settings.level_interval,
            addresses=self.server.state.config.media_addresses,
        )
        return self.media

    async def sleep_unless_ended(self, seconds: float) -> bool:
        """Wait ``seconds``; True (at once) when the call ended meanwhile."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.ended.wait(), seconds)
        return self.ended.is_set()

    def finish(self) -> None:
        """The call is over: leave the registry and close the media endpoint."""
        if self.finished:
            return
        super().finish()
        self.ended.set()
        media = self.media
        if media is not None and not media.closed:
            self.server.spawn(close_media(media), f"close media {self.call_id}")

    async def close(self) -> None:
        """Close the media endpoint now (server shutdown)."""
        self.finish()
        if self.media is not None:
            await close_media(self.media)

    # -- events of the leg that a media call handles the same way ---------------------------------

    def on_media_leg_event(self, leg: Leg, event: sip_events.Event) -> bool:
        """Handle re-offers, INFO and DTMF of ``leg``; True when ``event`` was one of those."""
        if isinstance(event, sip_events.RemoteOffer):
            summary = offer_summary(event.sdp, self.remote_sdp)
            self.remote_sdp = event.sdp
            self.server.spawn(self._answer_reoffer(leg, event.sdp, event.method, summary), "re-offer")
        elif isinstance(event, sip_events.OfferRequested):
            self.server.spawn(self._offer_on_request(leg), "offer on request")
        elif isinstance(event, sip_events.RemoteAnswer):
            if self._awaiting_answer:
                self.server.spawn(self.accept_answer(event.sdp), "accept answer")
        elif isinstance(event, sip_events.OfferRejected):
            self._awaiting_answer = False
        elif isinstance(event, sip_events.DtmfInfoReceived):
            self.record_dtmf(event.digit, "info", duration_ms=event.duration_ms)
        elif isinstance(event, sip_events.InfoReceived):
            request = event.request
            self.log(
                "info",
                method=request.method,
                content_type=request.content_type,
                body=request.body[:_INFO_BODY_LIMIT].decode("utf-8", errors="replace"),
                by="client",
            )
        else:
            return False
        return True

    async def accept_answer(self, sdp: str) -> None:
        """Apply the client's answer to our offer (offer in 2xx or after an offerless re-INVITE)."""
        self._awaiting_answer = False
        media = self.media
        if media is None or media.closed:
            return
        try:
            await media.accept_answer(sdp)
        except MediaEndpointError as exc:
            self.log("media_error", error=exc.message)
        except Exception as exc:  # aiortc under a concurrent close: see media_failed
            self.media_failed("accepting the answer", exc)

    def media_failed(self, what: str, exc: BaseException) -> None:
        """An unexpected error of the media endpoint: quiet when the call is over (a close raced it)."""
        if self.finished or (self.media is not None and self.media.closed):
            log.debug("call %s: %s failed after the call ended: %r", self.call_id, what, exc)
        else:
            log.warning("call %s: %s failed: %r", self.call_id, what, exc)
            self.log("media_error", error=f"{what}: {exc!r}")

    def expect_answer(self) -> None:
        """Our offer went out (in a 2xx or a re-INVITE answer); the answer comes as RemoteAnswer/ACK."""
        self._awaiting_answer = True

    async def _answer_reoffer(self, leg: Leg, sdp: str, method: str, summary: dict[str, Any]) -> None:
        media = self.media
        status = 200
        error: str | None = None
        if media is None or media.closed:
            status, error = 491, "no media session yet"
        else:
            try:
                answer = await media.reoffer_received(sdp)
            except MediaEndpointError as exc:
                status = 491 if exc.status_hint == 491 else 488
                error = exc.message
            except Exception as exc:
                self.media_failed("answering a re-offer", exc)
                status, error = 488, repr(exc)
            else:
                if not leg.answer_offer(answer):
                    status, error = 0, "the call or its offer is gone"
        if status not in (200, 0):
            leg.reject_offer(status)
        self.log("reinvite", method=method, by="client", status=status, error=error, **summary)

    async def _offer_on_request(self, leg: Leg) -> None:
        media = self.media
        if media is None or media.closed:
            leg.reject_offer(491)
            return
        try:
            offer = await media.create_offer()
        except MediaEndpointError as exc:
            leg.reject_offer(491 if exc.status_hint == 491 else 488)
            self.log("media_error", error=exc.message)
            return
        except Exception as exc:
            self.media_failed("making an offer", exc)
            leg.reject_offer(488)
            return
        if leg.answer_offer(offer):
            self.expect_answer()
        self.log("reinvite", method="INVITE", by="client", status=200, offerless=True)

    def record_dtmf(
        self, digit: str, transport: str, *, duration_ms: int | None = None, **extra: Any
    ) -> None:
        """Record one DTMF digit and log ``dtmf``."""
        self.digits.append(digit)
        self.log(
            "dtmf",
            digit=digit,
            transport=transport,
            duration_ms=duration_ms,
            digits="".join(self.digits),
            **extra,
        )
        if transport == "info" and self.media is not None and self.media.behaviour is MediaBehaviour.IVR:
            self.media.set_sending(MediaBehaviour.SILENCE)  # the prompt stops at the first digit

    def _on_media_event(self, name: str, data: dict[str, Any]) -> None:
        if self.finished and name != "closed":
            return
        if name == "dtmf":
            self.record_dtmf(
                str(data.get("digit")),
                "rfc4733",
                duration_ms=data.get("duration_ms"),
                volume=data.get("volume"),
            )
        elif name == "audio_level":
            self.log("audio_level", **data)
        elif name == "hold":
            self.log("hold", by="client", **data)
        elif name == "ice_restart":
            self.log("ice_restart", **data)
        elif name == "connection_state":
            self.log("media_state", **data)
