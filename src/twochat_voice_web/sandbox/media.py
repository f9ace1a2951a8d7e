"""The media side of the sandbox's test numbers: one aiortc peer per call, independent of SIP.

The SIP layer owns signalling; this module only turns SDP into SDP and audio into audio (the SDP checks
are in :mod:`.media_sdp`, what is sent and measured in :mod:`.media_audio`). Every peer is
non-trickle (complete SDP with candidates, gathered on 127.0.0.1 only), audio-only, and measures what it
receives.

API::

    endpoint = MediaEndpoint(MediaBehaviour.ECHO, on_event=callback)   # callback(name, data)
    answer_sdp = await endpoint.answer(offer_sdp)       # the browser called a test number
    offer_sdp = await endpoint.create_offer()           # the sandbox calls a browser (POST /sandbox/calls)
    await endpoint.accept_answer(answer_sdp)            # ...and gets its answer
    answer_sdp = await endpoint.reoffer_received(sdp)   # re-INVITE: hold / unhold / ICE restart
    endpoint.set_sending(MediaBehaviour.SILENCE)        # change what we send, mid-call
    endpoint.stats                                      # MediaStats snapshot
    await endpoint.close()                              # idempotent; stops tracks, tasks and the pc

Behaviours (what we send; every endpoint measures and records what it receives, DTMF included):

- ``ECHO``: the caller's own audio, decoded and re-encoded (aiortc has no RTP pass-through).
- ``TONE``: a sine (440 Hz, amplitude 0.3 of full scale, so RMS 0.212 in Chromium's stats) from one
  precomputed second. On stereo opus each channel carries amplitude/sqrt(2) (equal power).
- ``SILENCE``: digital silence (RTP keeps flowing).
- ``IVR``: the tone as a prompt until the first DTMF digit arrives, then silence; digits are collected.

Events (``on_event(name, data)``, called on the event loop; exceptions in the callback are logged):

- ``"connection_state"`` ``{"state": "connecting" | "connected" | "failed" | "closed"}``
- ``"audio_level"`` every ``level_interval`` seconds while connected: ``{"rms_avg", "rms_max", "frames",
  "level_avg", "level_max", "window_s"}``. RMS values are s16 units (0-32767) of the received audio
  (per sample, first channel, estimated on ~120 samples per 20 ms frame), ``level_*`` the same divided by
  32768; ``rms_avg`` is the mean of per-frame RMS over the window.
- ``"dtmf"`` ``{"digit": "5", "transport": "rfc4733", "duration_ms", "volume", "digits"}``: one per
  digit, recorded on the first end-bit packet of each RTP timestamp (RFC 4733 repeats end packets).
- ``"hold"`` ``{"direction", "on_hold", "answer_direction"}``: whenever the direction of a remote offer
  differs from the previous one (the initial offer counts when it is not ``sendrecv``). ``sendonly`` and
  ``inactive`` mean hold (RFC 3264 §8.4); the answer follows RFC 3264 §6.1 (sendonly -> recvonly,
  inactive -> inactive, recvonly -> sendonly), which is what aiortc's renegotiation already does.
- ``"ice_restart"`` ``{"count"}``: a re-offer changed the remote ICE credentials and we followed.
- ``"closed"`` ``{}``: :meth:`MediaEndpoint.close` finished.

Errors (:mod:`.media_errors`, all a :class:`MediaEndpointError`) carry ``status_hint`` (the SIP status
the SIP layer should answer a request with): :class:`SdpNegotiationError` (488) for an offer/answer we
cannot use, :class:`IceRestartError` (488) when an ICE restart cannot be followed,
:class:`MediaStateError` (500, or 491 for an offer during an unfinished exchange) for calls in the wrong
state, :class:`MediaConfigError` for bad constructor arguments, and :class:`AiortcVersionError` from the
pinned-version check of the patches.

What aiortc 1.16 can and cannot do here (measured against Chromium, see ``tests/sandbox/test_media.py``):

- Renegotiation on an established connection works (``setRemoteDescription`` on a stable pc), and its
  answer directions follow RFC 3264; a hold answer disables our RTP sender, unhold re-enables it.
- ICE restart is not supported by aiortc itself (the first remote credentials are kept forever); the
  patch :func:`~twochat_voice_web.sandbox._aiortc_patches.restart_remote_ice` adopts the new remote
  credentials on the live connection. Our own ufrag/password stay the same in the answer (RFC 8839
  says an answerer changes them; Chromium 156 accepts it and moves media to its new-generation pair).
  We become the controlled agent, also on calls we offered first. A restart after ICE has failed (aiortc
  then tears the connection down) or before it completed raises :class:`IceRestartError`.
- Our SDP keeps one ``o=`` session id and increments its version on every new offer/answer (RFC 3264
  §8); aiortc alone would mint a new origin each time.
- Codecs are fixed by the first negotiation (aiortc ignores codec changes in re-offers). One audio
  m-section only: offers with video, data channels or several audio sections are refused (488).
- Where media may go is :class:`~.media_addresses.MediaAddressPolicy` (the ``addresses`` argument):
  ``LOOPBACK`` (the default of this class) offers and hears 127.0.0.1 only, so Chromium needs
  ``--allow-loopback-in-peer-connection`` (an offer without a 127.0.0.1 UDP candidate is refused with
  488 rather than left to time out); ``HOST`` (the sandbox's default) offers this machine's interface
  addresses, pairs with remote candidates on this machine only and learns a browser that offers mDNS
  ``.local`` candidates (Firefox) as a peer-reflexive candidate from its checks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, Final

from aiortc import RTCConfiguration, RTCPeerConnection, RTCRtpTransceiver, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from twochat_voice_web.sip.sdp import Direction

from ._aiortc_patches import (
    AiortcVersionError,
    TelephoneEventPacket,
    apply_patches,
    attach_rtp_sink,
    detach_rtp_sink,
    gathering_policy,
    restart_remote_ice,
    set_source_policy,
)
from .media_addresses import LOOPBACK_ADDRESS, MediaAddressPolicy
from .media_audio import CODEC_FORMATS, DEFAULT_FORMAT, AudioSource, OutboundAudioTrack, frame_rms
from .media_errors import (
    IceRestartError,
    MediaConfigError,
    MediaEndpointError,
    MediaStateError,
    SdpNegotiationError,
)
from .media_sdp import CandidateFilter, local_sdp_direction, prepare_remote_sdp

__all__ = [
    "AiortcVersionError",
    "AudioLevelWindow",
    "DtmfDigit",
    "EventCallback",
    "IceRestartError",
    "MediaAddressPolicy",
    "MediaBehaviour",
    "MediaConfigError",
    "MediaEndpoint",
    "MediaEndpointError",
    "MediaStateError",
    "MediaStats",
    "SdpNegotiationError",
    "apply_patches",
]

logger = logging.getLogger(__name__)

EventCallback = Callable[[str, dict[str, Any]], None]
"""``on_event(name, data)``: see the module docstring for the names and payloads."""

DIRECTIONS: Final = tuple(direction.value for direction in Direction)
"""The SDP direction attributes (RFC 8866 §6.7): the SIP core's ``sip.sdp.Direction`` values."""
HOLD_DIRECTIONS: Final = frozenset({"sendonly", "inactive"})
_FULL_SCALE: Final = 32768.0


class MediaBehaviour(Enum):
    """What a test number sends (it always measures what it receives and collects DTMF)."""

    ECHO = "echo"
    TONE = "tone"
    SILENCE = "silence"
    IVR = "ivr"


@dataclass(frozen=True, slots=True)
class DtmfDigit:
    """One DTMF digit received as RFC 4733 telephone-events.

    Attributes:
        digit: ``0``-``9``, ``*``, ``#``, ``A``-``D``.
        received_at: Unix time (seconds) of the first end packet.
        duration_ms: the event duration reported by the sender.
        volume: the event volume (0-63, -dBm0).
        clock_rate: the telephone-event clock the peer used (8000 or 48000).
    """

    digit: str
    received_at: float
    duration_ms: int
    volume: int
    clock_rate: int


@dataclass(frozen=True, slots=True)
class AudioLevelWindow:
    """The received audio level over one measurement window.

    Attributes:
        ended_at: Unix time (seconds) at the end of the window.
        duration_s: the window length.
        frames: decoded frames received in the window.
        rms_avg: mean of the per-frame RMS (s16 units, 0-32767); 0 when no frame arrived.
        rms_max: highest per-frame RMS in the window.
    """

    ended_at: float
    duration_s: float
    frames: int
    rms_avg: float
    rms_max: int


@dataclass(frozen=True, slots=True)
class MediaStats:
    """A snapshot of what one endpoint sent, received and negotiated.

    Attributes:
        behaviour: what the endpoint is set to send.
        connection_state: aiortc's ``connectionState`` (``new``, ``connecting``, ``connected``, ``failed``,
            ``closed``).
        codec: the negotiated audio codec, e.g. ``opus/48000/2`` (None before negotiation).
        remote_direction: the direction in the last remote offer or answer (None before one).
        local_direction: the direction in our last local description (None before one).
        on_hold: the last remote offer put us on hold (``sendonly`` or ``inactive``).
        packets_received: RTP packets received (audio and telephone-event).
        bytes_received: RTP payload bytes received.
        packets_sent: RTP packets sent.
        bytes_sent: RTP payload bytes sent.
        frames_received: decoded audio frames received.
        last_rms: RMS of the last received frame (s16 units).
        audio_levels: the level history, oldest first (bounded).
        digits: the DTMF digits received, in order.
        ice_restarts: ICE restarts followed.
    """

    behaviour: MediaBehaviour
    connection_state: str
    codec: str | None
    remote_direction: str | None
    local_direction: str | None
    on_hold: bool
    packets_received: int
    bytes_received: int
    packets_sent: int
    bytes_sent: int
    frames_received: int
    last_rms: int
    audio_levels: tuple[AudioLevelWindow, ...]
    digits: tuple[DtmfDigit, ...]
    ice_restarts: int

    @property
    def digit_string(self) -> str:
        """The received digits as one string, e.g. ``"123#"``."""
        return "".join(d.digit for d in self.digits)


# --- the endpoint ----------------------------------------------------------------------------------


class MediaEndpoint:
    """One test number's end of one call: an aiortc peer connection plus what it sends and measures.

    Args:
        behaviour: what to send (see :class:`MediaBehaviour`).
        on_event: ``callback(name, data)`` for connection, level, DTMF, hold and ICE-restart events.
        tone_hz: frequency of the tone (an integer number of Hz loops seamlessly).
        tone_amplitude: peak of the tone as a fraction of full scale (0.3 -> RMS 0.212).
        level_interval: seconds per ``audio_level`` window.
        level_history: windows kept in :attr:`MediaStats.audio_levels`.
        addresses: where media may go (:class:`~.media_addresses.MediaAddressPolicy`): ``LOOPBACK``
            (127.0.0.1 only) or ``HOST`` (this machine's addresses); see the module docstring.
    """

    def __init__(
        self,
        behaviour: MediaBehaviour,
        *,
        on_event: EventCallback | None = None,
        tone_hz: float = 440.0,
        tone_amplitude: float = 0.3,
        level_interval: float = 1.0,
        level_history: int = 600,
        addresses: MediaAddressPolicy = MediaAddressPolicy.LOOPBACK,
    ) -> None:
        if not isinstance(behaviour, MediaBehaviour):
            raise MediaConfigError(f"behaviour must be a MediaBehaviour, not {behaviour!r}")
        if not 1.0 <= tone_hz <= 4000.0:
            raise MediaConfigError(f"tone_hz must be within 1..4000 Hz (8 kHz codecs), not {tone_hz!r}")
        if not 0.0 < tone_amplitude <= 1.0:
            raise MediaConfigError(f"tone_amplitude must be within (0, 1], not {tone_amplitude!r}")
        if not level_interval >= 0.05:
            raise MediaConfigError(f"level_interval must be at least 0.05 s, not {level_interval!r}")
        if level_history < 1:
            raise MediaConfigError(f"level_history must be at least 1, not {level_history!r}")
        if not isinstance(addresses, MediaAddressPolicy):
            raise MediaConfigError(f"addresses must be a MediaAddressPolicy, not {addresses!r}")
        apply_patches()
        self._behaviour = behaviour
        self._on_event = on_event
        self._level_interval = level_interval
        self._addresses = addresses
        self._candidates = CandidateFilter(addresses)
        self._digits: list[DtmfDigit] = []
        self._track = OutboundAudioTrack(self._source_for(behaviour), tone_hz, tone_amplitude)
        self._pc: RTCPeerConnection | None = None
        self._transceiver: RTCRtpTransceiver | None = None
        self._closing: asyncio.Event | None = None
        self._pump_task: asyncio.Task[None] | None = None
        self._level_task: asyncio.Task[None] | None = None
        # SDP bookkeeping (RFC 3264 §8: same session id, version + 1 for every new local SDP)
        self._session_id = secrets.randbelow(2**62) + 1
        self._sdp_version = 0
        self._local_sdp: str | None = None
        self._remote_ice: tuple[str, str] | None = None
        self._remote_offer_direction: str | None = None
        # measurements
        self._connection_state = "new"
        self._codec: str | None = None
        self._remote_direction: str | None = None
        self._local_direction: str | None = None
        self._on_hold = False
        self._packets_received = 0
        self._bytes_received = 0
        self._frames_received = 0
        self._last_rms = 0
        self._window_frames = 0
        self._window_rms_sum = 0
        self._window_rms_max = 0
        self._window_started = 0.0
        self._levels: deque[AudioLevelWindow] = deque(maxlen=level_history)
        self._last_dtmf_event: tuple[int, int] | None = None
        self._ice_restarts = 0

    # --- public API ----------------------------------------------------------------------------------

    @property
    def behaviour(self) -> MediaBehaviour:
        """What the endpoint is set to send."""
        return self._behaviour

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` has been called."""
        return self._closing is not None

    @property
    def local_description(self) -> str | None:
        """Our last SDP (offer or answer), or None before the first one."""
        return self._local_sdp

    @property
    def stats(self) -> MediaStats:
        """A snapshot of the endpoint's counters, levels, digits and negotiated state."""
        packets_sent = bytes_sent = 0
        if self._transceiver is not None:
            sender = self._transceiver.sender
            packets_sent = int(getattr(sender, "_RTCRtpSender__packet_count", 0))
            bytes_sent = int(getattr(sender, "_RTCRtpSender__octet_count", 0))
        return MediaStats(
            behaviour=self._behaviour,
            connection_state=self._connection_state,
            codec=self._codec,
            remote_direction=self._remote_direction,
            local_direction=self._local_direction,
            on_hold=self._on_hold,
            packets_received=self._packets_received,
            bytes_received=self._bytes_received,
            packets_sent=packets_sent,
            bytes_sent=bytes_sent,
            frames_received=self._frames_received,
            last_rms=self._last_rms,
            audio_levels=tuple(self._levels),
            digits=tuple(self._digits),
            ice_restarts=self._ice_restarts,
        )

    async def answer(self, offer_sdp: str) -> str:
        """Answer the caller's initial offer; returns the complete (non-trickle) SDP answer."""
        self._require_open()
        if self._pc is not None:
            raise MediaStateError("answer() was already called; use reoffer_received() for re-offers")
        remote = prepare_remote_sdp(offer_sdp, "offer", candidates_filter=self._candidates)
        pc = self._pc = self._new_peer_connection()
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=remote.sdp, type="offer"))
            transceiver = self._bind_transceiver()
            self._choose_codec(transceiver)
            pc.addTrack(self._track)
        except MediaEndpointError:
            await self._abandon_peer_connection()
            raise
        except Exception as exc:
            await self._abandon_peer_connection()
            raise SdpNegotiationError(f"cannot apply the SDP offer: {exc!r}") from exc
        self._remote_ice = (remote.ice_ufrag, remote.ice_pwd)
        answer = await self._set_local_answer()
        self._offer_applied(remote.direction)
        self._start_level_task()
        return answer

    async def create_offer(self) -> str:
        """Create our offer: the initial one (the sandbox calls a browser) or a re-offer of a live call.

        The remote answer goes to :meth:`accept_answer`.
        """
        self._require_open()
        if self._pc is None:
            pc = self._pc = self._new_peer_connection()
            pc.addTransceiver(self._track, direction="sendrecv")
            self._bind_transceiver()
        else:
            pc = self._pc
            if pc.signalingState != "stable":
                raise MediaStateError(
                    f"cannot offer in signalling state {pc.signalingState!r}", status_hint=491
                )
        offer = await pc.createOffer()
        with gathering_policy(self._addresses):
            await pc.setLocalDescription(
                RTCSessionDescription(sdp=self._stamp_origin(offer.sdp), type="offer")
            )
        self._local_sdp = pc.localDescription.sdp
        self._local_direction = local_sdp_direction(self._local_sdp)
        return self._local_sdp

    async def accept_answer(self, answer_sdp: str) -> None:
        """Apply the remote answer to our offer from :meth:`create_offer`."""
        self._require_open()
        pc = self._require_session()
        if pc.signalingState != "have-local-offer":
            raise MediaStateError(f"no offer of ours is waiting for an answer (state {pc.signalingState!r})")
        remote = prepare_remote_sdp(answer_sdp, "answer", candidates_filter=self._candidates)
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=remote.sdp, type="answer"))
        except Exception as exc:
            raise SdpNegotiationError(f"cannot apply the SDP answer: {exc!r}") from exc
        if self._transceiver is not None and self._codec is None:
            self._choose_codec(self._transceiver)
        self._remote_ice = (remote.ice_ufrag, remote.ice_pwd)
        self._remote_direction = remote.direction
        self._start_level_task()

    async def reoffer_received(self, offer_sdp: str) -> str:
        """Answer a re-offer (re-INVITE/UPDATE): hold, unhold or ICE restart; returns the SDP answer.

        Raises:
            SdpNegotiationError: the offer is malformed or changes the media sections (488).
            IceRestartError: the offer restarts ICE but ICE is not (yet) connected (488).
            MediaStateError: no session yet, closed, or an exchange is unfinished (491).
        """
        self._require_open()
        pc = self._require_session()
        if pc.signalingState != "stable":
            raise MediaStateError(
                f"re-offer while our offer/answer exchange is unfinished (state {pc.signalingState!r})",
                status_hint=491,
            )
        remote = prepare_remote_sdp(offer_sdp, "offer", candidates_filter=self._candidates)
        restart = self._remote_ice is not None and (remote.ice_ufrag, remote.ice_pwd) != self._remote_ice
        ice_transport = self._require_transceiver().receiver.transport.transport
        if restart and ice_transport.state != "completed":
            raise IceRestartError(
                f"cannot restart ICE while the ICE transport is {ice_transport.state!r} "
                f"(aiortc only follows a restart of a connected transport)"
            )
        try:
            await pc.setRemoteDescription(RTCSessionDescription(sdp=remote.sdp, type="offer"))
        except Exception as exc:
            raise SdpNegotiationError(f"cannot apply the SDP re-offer: {exc!r}") from exc
        if restart:
            restart_remote_ice(ice_transport._connection, remote.ice_ufrag, remote.ice_pwd)
            self._remote_ice = (remote.ice_ufrag, remote.ice_pwd)
            self._ice_restarts += 1
            self._emit("ice_restart", {"count": self._ice_restarts})
        answer = await self._set_local_answer()
        self._offer_applied(remote.direction)
        return answer

    def set_sending(self, behaviour: MediaBehaviour) -> None:
        """Change what the endpoint sends from the next 20 ms frame on (e.g. tone -> silence)."""
        if not isinstance(behaviour, MediaBehaviour):
            raise MediaConfigError(f"behaviour must be a MediaBehaviour, not {behaviour!r}")
        self._behaviour = behaviour
        self._track.set_source(self._source_for(behaviour))

    async def close(self) -> None:
        """Stop the tracks, the tasks and the peer connection (idempotent, safe to call concurrently)."""
        if self._closing is not None:
            await self._closing.wait()
            return
        self._closing = asyncio.Event()
        try:
            await self._cancel(self._level_task)
            self._level_task = None
            self._track.stop()
            if self._pc is not None:
                if self._transceiver is not None:
                    detach_rtp_sink(self._transceiver.receiver)
                try:
                    await self._pc.close()
                except Exception:
                    logger.exception("closing the peer connection failed")
            await self._cancel(self._pump_task)
            self._pump_task = None
            self._connection_state = "closed"
            self._emit("closed", {})
        finally:
            self._closing.set()

    # --- RtpSink (called by the patched RTCRtpReceiver) ---------------------------------------------

    def rtp_received(self, size: int) -> None:
        """Count one received RTP packet of ``size`` payload bytes."""
        self._packets_received += 1
        self._bytes_received += size

    def telephone_event(self, packet: TelephoneEventPacket) -> None:
        """Record a DTMF digit on the first end packet of each event."""
        if not packet.end:
            return
        key = (packet.ssrc, packet.timestamp)
        if key == self._last_dtmf_event:
            return
        self._last_dtmf_event = key
        digit = packet.digit
        if digit is None:
            return
        self._digits.append(
            DtmfDigit(
                digit=digit,
                received_at=time.time(),
                duration_ms=packet.duration_ms,
                volume=packet.volume,
                clock_rate=packet.clock_rate,
            )
        )
        if self._behaviour is MediaBehaviour.IVR:
            self._track.set_source(AudioSource.SILENCE)
        self._emit(
            "dtmf",
            {
                "digit": digit,
                "transport": "rfc4733",
                "duration_ms": packet.duration_ms,
                "volume": packet.volume,
                "digits": "".join(d.digit for d in self._digits),
            },
        )

    # --- internals -----------------------------------------------------------------------------------

    def _source_for(self, behaviour: MediaBehaviour) -> AudioSource:
        if behaviour is MediaBehaviour.ECHO:
            return AudioSource.ECHO
        if behaviour is MediaBehaviour.SILENCE:
            return AudioSource.SILENCE
        if behaviour is MediaBehaviour.IVR and self._digits:
            return AudioSource.SILENCE
        return AudioSource.TONE

    def _require_open(self) -> None:
        if self._closing is not None:
            raise MediaStateError("the media endpoint is closed")

    def _require_session(self) -> RTCPeerConnection:
        if self._pc is None:
            raise MediaStateError("no media session yet: call answer() or create_offer() first")
        return self._pc

    def _require_transceiver(self) -> RTCRtpTransceiver:
        if self._transceiver is None:
            raise MediaStateError("no audio transceiver yet")
        return self._transceiver

    def _new_peer_connection(self) -> RTCPeerConnection:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        pc.on("connectionstatechange", self._on_connection_state)
        pc.on("track", self._on_track)
        return pc

    async def _abandon_peer_connection(self) -> None:
        pc, self._pc, self._transceiver = self._pc, None, None
        if pc is not None:
            with contextlib.suppress(Exception):
                await pc.close()

    def _bind_transceiver(self) -> RTCRtpTransceiver:
        pc = self._require_session()
        transceivers = [t for t in pc.getTransceivers() if t.kind == "audio"]
        if len(transceivers) != 1:
            raise SdpNegotiationError(f"expected one audio transceiver, found {len(transceivers)}")
        transceiver = self._transceiver = transceivers[0]
        attach_rtp_sink(transceiver.receiver, self)
        set_source_policy(transceiver.receiver.transport.transport._connection, self._addresses)
        return transceiver

    def _choose_codec(self, transceiver: RTCRtpTransceiver) -> None:
        codecs = transceiver._codecs
        if not codecs or codecs[0].name.lower() in ("telephone-event", "rtx", "red", "cn"):
            offered = ", ".join(c.mimeType for c in codecs) or "none"
            raise SdpNegotiationError(f"no usable audio codec in common (common: {offered})")
        codec = codecs[0]
        channels = f"/{codec.channels}" if codec.channels and codec.channels > 1 else ""
        self._codec = f"{codec.name}/{codec.clockRate}{channels}"
        self._track.configure(CODEC_FORMATS.get(codec.name.lower(), DEFAULT_FORMAT))

    def _stamp_origin(self, sdp_text: str) -> str:
        self._sdp_version += 1
        origin = f"o=- {self._session_id} {self._sdp_version} IN IP4 {LOOPBACK_ADDRESS}"
        return (
            "\r\n".join(origin if line.startswith("o=") else line for line in sdp_text.splitlines()) + "\r\n"
        )

    async def _set_local_answer(self) -> str:
        pc = self._require_session()
        try:
            answer = await pc.createAnswer()
            with gathering_policy(self._addresses):
                await pc.setLocalDescription(
                    RTCSessionDescription(sdp=self._stamp_origin(answer.sdp), type="answer")
                )
        except Exception as exc:
            raise SdpNegotiationError(f"cannot create the SDP answer: {exc!r}") from exc
        self._local_sdp = pc.localDescription.sdp
        self._local_direction = local_sdp_direction(self._local_sdp)
        return self._local_sdp

    def _offer_applied(self, direction: str) -> None:
        self._remote_direction = direction
        previous = self._remote_offer_direction or "sendrecv"
        self._remote_offer_direction = direction
        self._on_hold = direction in HOLD_DIRECTIONS
        if direction != previous:
            self._emit(
                "hold",
                {"direction": direction, "on_hold": self._on_hold, "answer_direction": self._local_direction},
            )

    def _on_connection_state(self) -> None:
        pc = self._pc
        if pc is None or self._closing is not None:
            return
        self._connection_state = pc.connectionState
        self._emit("connection_state", {"state": pc.connectionState})

    def _on_track(self, track: MediaStreamTrack) -> None:
        if track.kind != "audio" or self._pump_task is not None or self._closing is not None:
            return
        self._pump_task = asyncio.ensure_future(self._pump(track))

    async def _pump(self, track: MediaStreamTrack) -> None:
        """Consume every received frame (aiortc's queue is unbounded): measure it, echo it if asked."""
        try:
            while True:
                frame = await track.recv()
                if not isinstance(frame, AudioFrame):
                    continue
                rms = frame_rms(frame)
                self._frames_received += 1
                self._last_rms = rms
                self._window_frames += 1
                self._window_rms_sum += rms
                self._window_rms_max = max(self._window_rms_max, rms)
                if self._track.source is AudioSource.ECHO:
                    self._track.push_echo(frame)
        except MediaStreamError:
            return  # the receiver stopped (close, or the peer went away)
        except Exception:
            logger.exception("the inbound audio pump stopped")

    def _start_level_task(self) -> None:
        if self._level_task is None and self._closing is None:
            self._window_started = time.time()
            self._level_task = asyncio.ensure_future(self._level_loop())

    async def _level_loop(self) -> None:
        while True:
            await asyncio.sleep(self._level_interval)
            now = time.time()
            frames, rms_sum, rms_max = self._window_frames, self._window_rms_sum, self._window_rms_max
            self._window_frames = self._window_rms_sum = self._window_rms_max = 0
            duration, self._window_started = now - self._window_started, now
            if self._connection_state != "connected":
                continue
            rms_avg = rms_sum / frames if frames else 0.0
            self._levels.append(AudioLevelWindow(now, duration, frames, rms_avg, rms_max))
            self._emit(
                "audio_level",
                {
                    "rms_avg": round(rms_avg, 1),
                    "rms_max": rms_max,
                    "frames": frames,
                    "level_avg": round(rms_avg / _FULL_SCALE, 4),
                    "level_max": round(rms_max / _FULL_SCALE, 4),
                    "window_s": round(duration, 3),
                },
            )

    def _emit(self, name: str, data: dict[str, Any]) -> None:
        if self._on_event is None:
            return
        try:
            self._on_event(name, data)
        except Exception:
            logger.exception("media on_event callback failed for %r", name)

    @staticmethod
    async def _cancel(task: asyncio.Task[None] | None) -> None:
        if task is None or task.done():
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
