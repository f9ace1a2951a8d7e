"""``RTCPeerConnection`` with one audio transceiver, non-trickle ICE, for SIP offer/answer.

Design:

- One audio transceiver. As offerer it is added by the first :meth:`create_offer` (with the microphone
  track if one is set). As answerer the remote offer creates it: :meth:`create_answer` applies the offer,
  then attaches our microphone with ``RTCRtpSender.replaceTrack`` and sets the direction we want (so we
  send), and stops any other transceiver the offer created (video...): the answer rejects those m-lines.
- Hold and resume are only ``transceiver.direction`` (sendrecv / sendonly / recvonly / inactive) followed
  by a new offer or answer; the SDP is never edited by hand.
- Non-trickle: after ``setLocalDescription`` we wait for ``iceGatheringState == "complete"`` at most
  ``gathering_timeout`` seconds, then return ``localDescription.sdp`` with whatever candidates exist (a
  dead STUN server must not hold the call up). With the ``fast`` gathering policy the wait also ends
  :data:`~twochat_voice_web.ice.SETTLE_SECONDS` after the last ``icecandidate`` once the candidates that
  carry audio are in (UDP host, plus srflx/relay for configured STUN/TURN servers; see
  :mod:`twochat_voice_web.ice`): Chromium's ICE-TCP candidates come ~100 ms later and are not waited for.
- Remote audio: every received audio track goes into one ``MediaStream`` (:attr:`remote_stream`), and
  :meth:`on_remote_track` callbacks run, so an audio output can attach before or after the track arrives.
- Every JS listener is owned by one ProxyOwner; :meth:`close` detaches and destroys all of them and
  closes the connection. Afterwards every method raises ``INVALID_STATE`` (``close`` stays idempotent).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException

from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError
from twochat_voice_web.ice import GATHERING_POLICIES, SETTLE_SECONDS, candidates_ready, needs_for
from twochat_voice_web.media_options import apply_opus_parameters
from twochat_voice_web.platform import Disposable, LocalAudio, PeerConnectionOptions
from twochat_voice_web.sip.dtmf import DTMF_KEYS, clamp_duration
from twochat_voice_web.sip.sdp import Direction

from ._errors import peer_error
from ._ffi import (
    JS_NULL,
    JsCallError,
    call_async,
    call_sync,
    has_member,
    is_nullish,
    js_array,
    js_object,
    same_object,
)
from ._media import BrowserLocalAudio
from ._proxies import ProxyOwner
from ._subscriptions import Subscription

__all__ = ["DIRECTIONS", "DTMF_TONES", "BrowserPeerConnection"]

#: The transceiver directions :meth:`BrowserPeerConnection.set_direction` accepts.
DIRECTIONS = frozenset(direction.value for direction in Direction)

#: Characters ``RTCDTMFSender.insertDTMF`` accepts (``,`` is a 2 s pause).
DTMF_TONES = DTMF_KEYS | {","}

# RTCDTMFSender limits (W3C webrtc-pc §7.2): tone duration as sip.dtmf.clamp_duration, gap at least 30 ms.
_DTMF_MIN_GAP_MS = 30

_log = logging.getLogger("twochat_voice_web.browser")

_INCLUDES: Any = js.Function.new("list", "item", "return Array.from(list).includes(item);")


def _has_candidates(sdp: str | None) -> bool:
    """Whether an SDP carries at least one ICE candidate line."""
    return sdp is not None and "\na=candidate:" in sdp


class BrowserPeerConnection:
    """An RTCPeerConnection with one audio transceiver. Implements the platform's ``PeerConnection``."""

    def __init__(self, options: PeerConnectionOptions) -> None:
        if options.gathering_policy not in GATHERING_POLICIES:
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                f"gathering_policy must be one of {', '.join(GATHERING_POLICIES)}, "
                f"not {options.gathering_policy!r}",
            )
        self._options = options
        self._fast_gathering = options.gathering_policy == "fast"
        self._candidate_needs = needs_for(url for server in options.ice_servers for url in server.urls)
        self._settle_timer: asyncio.TimerHandle | None = None
        configuration = {
            **dict(options.configuration),
            "iceServers": [server.to_dict() for server in options.ice_servers],
        }
        try:
            self._pc: Any = js.RTCPeerConnection.new(js_object(configuration))
        except JsException as error:  # a bad ICE server URL: SyntaxError / InvalidAccessError
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"the ICE server configuration was refused ({error})", error
            ) from error
        self._owner = ProxyOwner("peer connection")
        self._closed = False
        self._transceiver: Any = None
        self._microphone: BrowserLocalAudio | None = None
        self._direction = "sendrecv"
        self._gathering_waiters: list[asyncio.Future[None]] = []
        self._remote_stream: Any = js.MediaStream.new()
        self._remote_track_callbacks: list[Callable[[], None]] = []
        self._owner.listen(self._pc, "icegatheringstatechange", self._handle_gathering_change)
        if self._fast_gathering:
            self._owner.listen(self._pc, "icecandidate", self._handle_candidate)
        self._owner.listen(self._pc, "iceconnectionstatechange", self._handle_ice_state)
        self._owner.listen(self._pc, "connectionstatechange", self._handle_connection_state)
        self._owner.listen(self._pc, "track", self._handle_track)

    # -- state --------------------------------------------------------------------------------------------

    @property
    def ice_state(self) -> str:
        """``iceConnectionState`` ("new", "checking", "connected", ..., "closed")."""
        return str(self._pc.iceConnectionState)

    @property
    def connection_state(self) -> str:
        """``connectionState``."""
        return str(self._pc.connectionState)

    @property
    def signaling_state(self) -> str:
        """``signalingState`` ("stable", "have-local-offer", "have-remote-pranswer", ...)."""
        return str(self._pc.signalingState)

    @property
    def ice_gathering_state(self) -> str:
        """``iceGatheringState`` ("new", "gathering", "complete")."""
        return str(self._pc.iceGatheringState)

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    @property
    def direction(self) -> str:
        """The direction we asked for (applied at the next offer/answer)."""
        return self._direction

    @property
    def current_direction(self) -> str | None:
        """The negotiated direction of our transceiver (``currentDirection``), None before negotiation."""
        if self._transceiver is None:
            return None
        value = self._transceiver.currentDirection
        return str(value) if value else None

    @property
    def local_sdp(self) -> str | None:
        """The current local description's SDP."""
        description = self._pc.localDescription
        return str(description.sdp) if description else None

    @property
    def remote_sdp(self) -> str | None:
        """The current remote description's SDP."""
        description = self._pc.remoteDescription
        return str(description.sdp) if description else None

    @property
    def js_peer_connection(self) -> Any:
        """The JS ``RTCPeerConnection`` (for diagnostics; do not attach listeners to it)."""
        return self._pc

    @property
    def sender(self) -> Any:
        """Our audio ``RTCRtpSender``, None before the transceiver exists."""
        return self._transceiver.sender if self._transceiver is not None else None

    @property
    def remote_stream(self) -> Any:
        """The JS ``MediaStream`` that collects the remote audio track(s)."""
        return self._remote_stream

    def has_remote_audio(self) -> bool:
        """True once a remote audio track arrived."""
        return int(self._remote_stream.getAudioTracks().length) > 0

    def on_remote_track(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback()`` whenever a remote audio track is added to :attr:`remote_stream`."""
        return Subscription(self._remote_track_callbacks, callback)

    def _check_open(self, action: str) -> None:
        if self._closed:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot {action}: the peer connection is closed")

    # -- microphone and direction -------------------------------------------------------------------------

    async def set_microphone(self, audio: LocalAudio | None) -> None:
        """Send ``audio`` (or nothing, with None) with ``replaceTrack``: no renegotiation.

        Before the transceiver exists the microphone is remembered and attached by the next
        :meth:`create_offer` / :meth:`create_answer`.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a LocalAudio of another platform, ``INVALID_STATE``
                once closed.
            MediaError: ``MEDIA_DEVICE_ERROR`` when the track already ended or the browser refused it.
        """
        self._check_open("set the microphone")
        if audio is not None and not isinstance(audio, BrowserLocalAudio):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                f"set_microphone() needs a browser microphone, not {type(audio).__name__}",
            )
        if audio is not None and audio.ended:
            raise MediaError(
                ErrorCode.MEDIA_DEVICE_ERROR,
                f"the microphone {audio.label!r} has ended (readyState is 'ended'): open it again",
            )
        self._microphone = audio
        if self._transceiver is not None:
            await self._attach_microphone()

    async def _attach_microphone(self) -> None:
        sender = self._transceiver.sender
        audio = self._microphone
        track = audio.track if audio is not None else JS_NULL
        try:
            await call_async(sender, "replaceTrack", track)
        except JsCallError as error:
            raise MediaError(
                ErrorCode.MEDIA_DEVICE_ERROR,
                f"the browser refused to send the microphone ({error})",
                error,
            ) from error
        if audio is not None and hasattr(sender, "setStreams"):
            # Only the a=msid stream id depends on it; the audio flows either way.
            with contextlib.suppress(JsCallError):
                call_sync(sender, "setStreams", audio.stream)

    def set_direction(self, direction: str) -> None:
        """Our transceiver's direction: ``sendrecv``, ``sendonly``/``inactive`` (hold), ``recvonly``.

        It takes effect with the next :meth:`create_offer` or :meth:`create_answer`.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for another value, ``INVALID_STATE`` once closed.
        """
        if direction not in DIRECTIONS:
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                f"direction must be one of {', '.join(sorted(DIRECTIONS))}, not {direction!r}",
            )
        self._check_open("change the direction")
        self._direction = direction
        if self._transceiver is not None and not self._transceiver_stopped(self._transceiver):
            self._transceiver.direction = direction

    @staticmethod
    def _transceiver_stopped(transceiver: Any) -> bool:
        return str(transceiver.currentDirection) == "stopped" or str(transceiver.direction) == "stopped"

    # -- offer / answer -----------------------------------------------------------------------------------

    def _ensure_transceiver(self) -> None:
        if self._transceiver is not None:
            return
        init: dict[str, Any] = {"direction": self._direction}
        audio = self._microphone
        if audio is not None:
            init["streams"] = [audio.stream]
        kind_or_track: Any = audio.track if audio is not None else "audio"
        try:
            self._transceiver = call_sync(self._pc, "addTransceiver", kind_or_track, init)
        except JsCallError as error:
            raise peer_error(
                "adding the audio transceiver", error.name, error.message, cause=error
            ) from error

    async def create_offer(self, *, ice_restart: bool = False) -> str:
        """Create and apply an offer (``iceRestart`` on request), wait for ICE gathering, return the SDP.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` (closed, or not in a state to offer), ``CALL_FAILED``.
        """
        self._check_open("create an offer")
        self._ensure_transceiver()
        self._apply_codec_order()
        try:
            offer = await call_async(self._pc, "createOffer", {"iceRestart": bool(ice_restart)})
            self._check_open("create an offer")
            await call_async(self._pc, "setLocalDescription", self._with_codec_parameters("offer", offer))
        except JsCallError as error:
            raise peer_error("creating the SDP offer", error.name, error.message, cause=error) from error
        return await self._gathered_local_sdp("create an offer")

    async def create_answer(self, offer: str) -> str:
        """Apply the remote ``offer``, create and apply our answer, wait for gathering, return the SDP.

        The first time, the offer's audio transceiver becomes ours: the microphone is attached with
        ``replaceTrack`` and our direction set, so we send. Other m-lines (video...) are refused (Chromium
        answers them ``inactive``). While our own offer is pending (``have-local-offer``) the browser rolls
        it back implicitly before applying the remote one (glare resolved in the peer's favour).

        Raises:
            VoiceSDKError: ``PROTOCOL_ERROR`` when the offer is refused or has no audio, ``INVALID_STATE``,
                ``CALL_FAILED``.
        """
        self._check_open("answer")
        await self._set_remote("offer", offer)
        self._check_open("answer")
        current = self._transceiver
        if current is None or not self._is_current(current) or is_nullish(current.mid):
            # Not negotiated yet (none, or ours from a rolled-back offer): the offer's audio m-line decides.
            adopted = self._adopt_remote_transceiver()
            if adopted is None:
                await self._rollback_remote()
                raise VoiceSDKError(
                    ErrorCode.PROTOCOL_ERROR, "the remote offer has no audio stream to answer"
                )
            if current is not None and not same_object(current, adopted) and self._is_current(current):
                with contextlib.suppress(JsCallError):
                    call_sync(current, "stop")  # an orphan would add an m-line to our next offer
            self._transceiver = adopted
            if self._microphone is not None:
                await self._attach_microphone()
        self._stop_other_transceivers()
        if not self._transceiver_stopped(self._transceiver):
            self._transceiver.direction = self._direction
        self._apply_codec_order()
        try:
            answer = await call_async(self._pc, "createAnswer")
            self._check_open("answer")
            await call_async(self._pc, "setLocalDescription", self._with_codec_parameters("answer", answer))
        except JsCallError as error:
            raise peer_error("creating the SDP answer", error.name, error.message, cause=error) from error
        return await self._gathered_local_sdp("answer")

    def _apply_codec_order(self) -> None:
        """Put the preferred codecs first (``setCodecPreferences``); the browser's others follow.

        Where the browser has no ``setCodecPreferences`` the order is left to it (logged at warning).
        """
        preferences = self._options.codec_preferences
        transceiver = self._transceiver
        if preferences is None or not preferences.order or transceiver is None:
            return
        if self._transceiver_stopped(transceiver):
            return
        if not has_member(transceiver, "setCodecPreferences"):
            _log.warning("this browser cannot order codecs (no RTCRtpTransceiver.setCodecPreferences)")
            return
        capabilities = js.RTCRtpReceiver.getCapabilities("audio")
        available = list(capabilities.codecs) if not is_nullish(capabilities) else []
        rank = {f"audio/{name.lower()}": index for index, name in enumerate(preferences.order)}
        ordered = sorted(
            available, key=lambda codec: rank.get(str(codec.mimeType).lower(), len(rank))
        )  # sorted() is stable: the browser's order within each rank is kept
        try:
            call_sync(transceiver, "setCodecPreferences", js_array(ordered))
        except JsCallError as error:
            raise peer_error("ordering the codecs", error.name, error.message, cause=error) from error

    def _with_codec_parameters(self, kind: str, description: Any) -> Any:
        """The description to apply locally: the Opus fmtp parameters asked for written in."""
        preferences = self._options.codec_preferences
        if preferences is None or not preferences.fmtp_parameters():
            return description
        return {"type": kind, "sdp": apply_opus_parameters(str(description.sdp), preferences)}

    def _is_current(self, transceiver: Any) -> bool:
        return bool(_INCLUDES(self._pc.getTransceivers(), transceiver))

    def _adopt_remote_transceiver(self) -> Any:
        for transceiver in self._pc.getTransceivers():
            if self._transceiver_stopped(transceiver):
                continue
            if str(transceiver.receiver.track.kind) == "audio" and not is_nullish(transceiver.mid):
                return transceiver
        return None

    def _stop_other_transceivers(self) -> None:
        for transceiver in self._pc.getTransceivers():
            if same_object(transceiver, self._transceiver) or self._transceiver_stopped(transceiver):
                continue
            if is_nullish(transceiver.mid):
                continue  # not negotiated: left alone
            with contextlib.suppress(JsCallError):
                call_sync(transceiver, "stop")

    async def accept_answer(self, sdp: str, *, provisional: bool = False) -> None:
        """Apply the remote answer: a ``pranswer`` when ``provisional`` (183 early media), else final.

        A final answer equal to the one already applied is accepted again without complaint (a
        retransmitted 200 OK).

        Raises:
            VoiceSDKError: ``PROTOCOL_ERROR`` when the browser refuses the SDP, ``INVALID_STATE`` when
                there is no offer of ours to answer (or closed).
        """
        self._check_open("accept an answer")
        if not provisional and self.signaling_state == "stable" and self.remote_sdp == sdp:
            return
        await self._set_remote("pranswer" if provisional else "answer", sdp)

    async def _set_remote(self, kind: str, sdp: str) -> None:
        try:
            await call_async(self._pc, "setRemoteDescription", {"type": kind, "sdp": sdp})
        except JsCallError as error:
            raise peer_error(
                f"applying the remote SDP {kind}", error.name, error.message, remote=True, cause=error
            ) from error

    async def rollback(self) -> None:
        """Drop a pending offer (ours or the peer's) and go back to ``stable``; nothing to do when stable.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` in a state that cannot roll back (after a pranswer), or closed.
        """
        self._check_open("roll back")
        state = self.signaling_state
        if state == "stable":
            return
        if state == "have-local-offer":
            try:
                await call_async(self._pc, "setLocalDescription", {"type": "rollback"})
            except JsCallError as error:
                raise peer_error("rolling back our offer", error.name, error.message, cause=error) from error
        elif state == "have-remote-offer":
            await self._rollback_remote()
        else:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot roll back in signalling state {state!r}")
        if self._transceiver is not None and not self._is_current(self._transceiver):
            self._transceiver = None  # it came with the rolled-back remote offer

    async def _rollback_remote(self) -> None:
        try:
            await call_async(self._pc, "setRemoteDescription", {"type": "rollback"})
        except JsCallError as error:
            raise peer_error(
                "rolling back the remote offer", error.name, error.message, cause=error
            ) from error

    async def _gathered_local_sdp(self, action: str) -> str:
        await self._wait_for_gathering()
        self._check_open(action)
        sdp = self.local_sdp
        if sdp is None:
            raise VoiceSDKError(
                ErrorCode.CALL_FAILED, "the local description disappeared during ICE gathering"
            )
        return sdp

    async def _wait_for_gathering(self) -> None:
        """Wait until ICE gathering is complete, at most ``gathering_timeout`` seconds (then go on).

        ``complete`` alone is not trusted: right after ``setLocalDescription`` of an ICE-restart offer the
        state may still say ``complete`` from the previous round (the change to ``gathering`` arrives in a
        later task) while the new description has no candidate yet. Complete means complete *and* the
        description carries candidates; otherwise we wait for the next ``complete`` (bounded as always).
        """
        if self._options.gathering_timeout <= 0:
            return
        if self.ice_gathering_state == "complete" and _has_candidates(self.local_sdp):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._gathering_waiters.append(waiter)
        self._settle_when_ready()  # the candidates may all be in already
        try:
            await asyncio.wait({waiter}, timeout=self._options.gathering_timeout)
        finally:
            if waiter in self._gathering_waiters:
                self._gathering_waiters.remove(waiter)
            if not waiter.done():
                waiter.cancel()

    def _settle_when_ready(self) -> None:
        """``fast`` policy: once the needed candidates are in, release the waiters after a quiet window
        (every new candidate restarts it)."""
        if not self._fast_gathering or not self._gathering_waiters:
            return
        if not candidates_ready(self.local_sdp, self._candidate_needs):
            return
        if self._settle_timer is not None:
            self._settle_timer.cancel()
        self._settle_timer = asyncio.get_running_loop().call_later(
            SETTLE_SECONDS, self._release_gathering_waiters
        )

    def _release_gathering_waiters(self) -> None:
        if self._settle_timer is not None:
            self._settle_timer.cancel()
            self._settle_timer = None
        waiters, self._gathering_waiters = self._gathering_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- DTMF -----------------------------------------------------------------------------------------------

    def _dtmf_sender(self) -> Any:
        if self._closed or self._transceiver is None:
            return None
        dtmf = getattr(self._transceiver.sender, "dtmf", None)
        return None if is_nullish(dtmf) else dtmf

    def can_send_dtmf(self) -> bool:
        """True when the sender has an ``RTCDTMFSender`` that can insert tones now (telephone-event
        negotiated, a track attached, a sending direction)."""
        dtmf = self._dtmf_sender()
        return dtmf is not None and bool(dtmf.canInsertDTMF)

    def send_dtmf(self, tones: str, duration_ms: int, gap_ms: int) -> bool:
        """Queue ``tones`` (0-9 A-D # * and ``,`` for a 2 s pause) after any still waiting; False when
        RTP DTMF cannot be sent now.

        ``duration_ms`` is clamped to 40..6000 and ``gap_ms`` to at least 30, as the browser requires.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a character the DTMF sender does not accept.
        """
        bad = sorted({tone for tone in tones.upper() if tone not in DTMF_TONES})
        if bad:
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT,
                f"DTMF tones may only be 0-9, A-D, #, * and ',' (got {', '.join(map(repr, bad))})",
            )
        if not tones or not self.can_send_dtmf():
            return False
        dtmf = self._dtmf_sender()
        duration = clamp_duration(int(duration_ms))
        gap = max(int(gap_ms), _DTMF_MIN_GAP_MS)
        try:
            call_sync(dtmf, "insertDTMF", str(dtmf.toneBuffer) + tones.upper(), duration, gap)
        except JsCallError:
            return False
        return True

    @property
    def dtmf_tone_buffer(self) -> str:
        """Tones queued and not yet sent ("" when none or no DTMF sender)."""
        dtmf = self._dtmf_sender()
        return str(dtmf.toneBuffer) if dtmf is not None else ""

    # -- stats ----------------------------------------------------------------------------------------------

    async def get_stats(self) -> list[dict[str, Any]]:
        """Every entry of the ``RTCStatsReport`` as a plain dict (``type``, ``id``, ``timestamp``, ...).

        Raises:
            VoiceSDKError: ``INVALID_STATE`` once closed.
        """
        self._check_open("read statistics")
        try:
            report = await call_async(self._pc, "getStats")
        except JsCallError as error:
            raise peer_error("reading statistics", error.name, error.message, cause=error) from error
        entries: list[dict[str, Any]] = []
        for entry in report.values():
            converted = entry.to_py() if hasattr(entry, "to_py") else entry
            if not isinstance(converted, dict):
                converted = js.JSON.parse(js.JSON.stringify(entry)).to_py()
            entries.append({str(key): value for key, value in converted.items()})
        return entries

    # -- events ---------------------------------------------------------------------------------------------

    def _handle_gathering_change(self, _event: Any) -> None:
        if str(self._pc.iceGatheringState) == "complete":
            self._release_gathering_waiters()

    def _handle_candidate(self, event: Any) -> None:
        if not is_nullish(event.candidate):
            self._settle_when_ready()

    def _handle_ice_state(self, _event: Any) -> None:
        callback = self._options.on_ice_state
        if callback is not None:
            callback(str(self._pc.iceConnectionState))

    def _handle_connection_state(self, _event: Any) -> None:
        callback = self._options.on_connection_state
        if callback is not None:
            callback(str(self._pc.connectionState))

    def _handle_track(self, event: Any) -> None:
        track = event.track
        if str(track.kind) != "audio":
            return
        if is_nullish(self._remote_stream.getTrackById(track.id)):
            self._remote_stream.addTrack(track)
        for callback in list(self._remote_track_callbacks):
            callback()

    # -- teardown -------------------------------------------------------------------------------------------

    def close(self) -> None:
        """Release every listener, then close the RTCPeerConnection; idempotent.

        The microphone is not stopped (its owner stops it); pending negotiations raise ``INVALID_STATE``.
        """
        if self._closed:
            return
        self._closed = True
        self._owner.close()
        self._remote_track_callbacks.clear()
        self._release_gathering_waiters()
        try:
            self._pc.close()
        finally:
            self._microphone = None
