"""A phone call, inbound or outbound: the object a web page holds and listens to.

You never build a :class:`Call` yourself: :meth:`Device.connect` returns outbound calls and the Device's
``incoming`` event delivers inbound ones. A call owns its microphone capture, its peer connection and its
remote-audio element, and releases all three whatever way it ends (field lesson §B-13).

Statuses: ``pending`` (INVITE sent / incoming not answered) → ``ringing`` (outbound: 180/183) →
``accepted`` → ``disconnected``; a call that never connects ends ``failed`` (outbound rejected, no answer,
setup error).

Events (payloads in parentheses):

* ``ringing`` (``{"has_early_media": bool}``), ``accepted`` (none);
* ``disconnect`` (``{"reason": str, "status_code": int | None}``) — always the last event of a call;
* ``failed`` (``{"reason", "status_code"}``, an outbound call that never connected), ``cancel`` (the caller
  hung up an inbound call before it was answered), ``reject`` (we rejected an inbound call);
* ``mute`` (bool), ``hold`` (bool: *our* hold), ``remote-hold`` (bool: the peer put us on hold);
* ``reconnecting`` / ``reconnected`` (signalling or media recovery), ``dtmf`` (``{"digit", "transport"}``
  received as SIP INFO), ``sample`` / ``warning`` / ``warning-cleared`` (call quality), ``volume``
  (``input_volume, output_volume``: two floats 0..1, every 100 ms while listened to, :mod:`.volume`),
  ``error`` (:class:`~.errors.VoiceSDKError`, non-fatal).

``disconnect`` reasons: ``local`` (we hung up), ``remote`` (they hung up), ``cancelled`` (we cancelled our
outbound call), ``remote-cancelled`` (the caller cancelled), ``rejected`` (we rejected), ``busy`` (486/600),
``declined`` (603), ``not-found`` (404/484/604), ``unavailable`` (480), ``no-answer`` (408, timeout),
``failed`` (another 4xx-6xx: see ``status_code``), ``dialog-lost``, ``session-expired``, ``transport``,
``media`` (microphone or media setup failed), ``reconnect-failed`` (the call stayed ``reconnecting`` for the
Device's ``reconnect_grace_ms``, 30 s by default, or the Device gave up reconnecting), ``destroyed``; with
several tabs (:mod:`.tabs`):
``answered-elsewhere`` (another tab of this user took the call), ``leader-lost`` (a mirrored call of a
multi-tab leader that went away), ``detached`` (this tab left its multi-tab group).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from types import MappingProxyType
from typing import Any, Protocol, TypeVar

from .call_ending import call_ending
from .call_media import CallMedia, MediaHost
from .call_quality import SAMPLE_INTERVAL, CallQualitySampler
from .call_recovery import ICE_DISCONNECTED_GRACE, ICE_RESTART_RETRIES, CallRecovery
from .call_setup import CallSetup
from .call_stats import summarize_stats
from .call_status import CallDirection, CallStatus, check_answerable, check_mute, check_reject
from .dtmf_sender import DTMF_GAP_MS, DTMF_TONE_MS, DtmfSender
from .emitter import EventEmitter
from .errors import ErrorCode, VoiceSDKError
from .media_options import CallMediaOptions, parse_call_media_options
from .platform import PeerConnection
from .renegotiation import REOFFER_TIMEOUT, Renegotiation, offers_hold
from .sip import events as sip_events
from .sip.errors import LocalProtocolError
from .sip.useragent import CallInfo, UserAgent
from .sounds import DeviceSounds
from .streams import call_stream
from .tasks import TaskSet

__all__ = [
    "DTMF_GAP_MS",
    "DTMF_TONE_MS",
    "ICE_DISCONNECTED_GRACE",
    "ICE_RESTART_RETRIES",
    "REOFFER_TIMEOUT",
    "SAMPLE_INTERVAL",
    "Call",
    "CallControl",
    "CallDirection",
    "CallHost",
    "CallStatus",
    "summarize_stats",
]

T = TypeVar("T")


class CallHost(MediaHost, Protocol):
    """What a :class:`Call` needs of the Device that owns it: the Device's door for its calls (its media's
    part is :class:`~.call_media.MediaHost`).

    The Device hands each of its calls an object with these members (``Device`` itself keeps them
    private); a call reaches nothing else of the Device.
    """

    @property
    def logger(self) -> logging.Logger:
        """The Device's logger."""

    @property
    def destroyed(self) -> bool:
        """True once the Device was destroyed."""

    @property
    def signalling_down(self) -> bool:
        """True while the Device has no WebSocket (reconnecting)."""

    def check_alive(self) -> None:
        """Raise ``DESTROYED`` when the Device was destroyed."""

    def sip(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(user_agent, now)`` (a typed UserAgent call), then let the Device pump.

        Raises ``INVALID_STATE`` when the Device has no SIP session.
        """

    def invite(self, target: str, sdp: str, headers: list[tuple[str, str]]) -> str:
        """Send an INVITE (the Device pumps when ``connect()`` returns); the call's handle."""

    def call_info(self, handle: str | None) -> CallInfo | None:
        """What the user agent knows of a call (None when it does not know it)."""

    def bind_call(self, handle: str, call: Call) -> None:
        """Route the SIP events of ``handle`` to ``call``."""

    def call_finished(self, call: Call) -> None:
        """``call`` ended: forget it."""

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        """``call`` is emitting ``event`` (a multi-tab leader relays it)."""

    def call_action(self, call: Call, action: str) -> None:
        """The user began to ``accept``, ``reject`` or ``ignore`` ``call`` (the other tabs stop ringing)."""

    @property
    def sounds(self) -> DeviceSounds:
        """The Device's sounds: ringtone, ringback, DTMF feedback, disconnect tone."""

    def audio_blocked(self, error: VoiceSDKError, call: Call) -> None:
        """The browser refused to play ``call``'s audio until a user gesture."""


class Call(EventEmitter):
    """One call. See the module docstring for statuses, events and reasons."""

    _LOCAL_MEDIA = True
    """False for a mirror of another tab's call (:mod:`.tabs`): its media and hang-up tone play there."""

    EVENTS = frozenset(
        {
            "ringing",
            "accepted",
            "disconnect",
            "failed",
            "cancel",
            "reject",
            "mute",
            "hold",
            "remote-hold",
            "reconnecting",
            "reconnected",
            "dtmf",
            "sample",
            "volume",
            "warning",
            "warning-cleared",
            "error",
        }
    )

    def __init__(
        self,
        host: CallHost,
        *,
        direction: CallDirection,
        remote_identity: str | None,
        custom_headers: Mapping[str, str] | None = None,
        remote_display_name: str | None = None,
        sip_call_id: str | None = None,
        handle: str | None = None,
        remote_offer: str | None = None,
    ) -> None:
        super().__init__()
        self._host = host
        self._direction = direction
        self._remote_identity = remote_identity
        self._remote_display_name = remote_display_name
        self._custom_headers: Mapping[str, str] = MappingProxyType(dict(custom_headers or {}))
        self._sip_call_id = sip_call_id
        self._handle = handle
        self._status = CallStatus.PENDING
        self._muted = False
        self._local_hold = False
        self._remote_hold = offers_hold(remote_offer) if remote_offer else False
        self._ignored = False
        self._answered_elsewhere = False  # another tab took it (.tabs): the server's CANCEL says so
        self._lock = asyncio.Lock()
        self._ended = asyncio.get_event_loop().create_future()
        self._work = TaskSet(on_failure=self._task_failed)  # its own tasks (the emitter has its own)
        self._timings: dict[str, float] = {"created": time.time() * 1000}
        self._door = _CallDoor(self)
        self._media = CallMedia(host, self._door)
        self._dtmf = DtmfSender(self._door, self._work)
        self._recovery = CallRecovery(self._door)
        self._renegotiation = Renegotiation(self._door, self._lock)
        self._quality = CallQualitySampler(self._door, self._work)
        self._setup = CallSetup(
            self._door, self._media, self._lock, self._recovery.on_ice_state, remote_offer=remote_offer
        )

    def __repr__(self) -> str:
        state = f"{self._direction.value} {self._remote_identity!r} {self._status.value}"
        return f"<Call {state} {self._sip_call_id}>"

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` to the handlers; the Device relays it to the other tabs of a multi-tab group."""
        self._host.call_event(self, event, args)
        super().emit(event, *args)

    # ------------------------------------------------------------------ properties

    @property
    def direction(self) -> str:
        """``"inbound"`` or ``"outbound"``."""
        return self._direction.value

    @property
    def remote_identity(self) -> str | None:
        """The far end: the number or SIP URI we called, or the caller's URI/number."""
        return self._remote_identity

    @property
    def remote_display_name(self) -> str | None:
        """Inbound calls: the caller's display name from the INVITE's From, when it sent one."""
        return self._remote_display_name

    @property
    def custom_headers(self) -> Mapping[str, str]:
        """Inbound calls: the ``X-2Chat-*`` headers of the INVITE, with the prefix removed (read-only)."""
        return self._custom_headers

    @property
    def sip_call_id(self) -> str | None:
        """The SIP Call-ID (None until the INVITE is sent)."""
        return self._sip_call_id

    @property
    def status(self) -> str:
        """``pending``, ``ringing``, ``accepted``, ``disconnected`` or ``failed``."""
        return self._status.value

    def get_status(self) -> str:
        """The status (as the JS SDK's ``getStatus()``)."""
        return self._status.value

    @property
    def timings(self) -> dict[str, float]:
        """Milestones as epoch milliseconds (those reached so far).

        ``created``, ``invite_sent`` and ``first_provisional`` (outbound), ``answered`` (2xx received or
        sent), ``confirmed`` (inbound: the caller's ACK arrived), ``media_connected`` (ICE connected),
        ``ended``.
        """
        return dict(self._timings)

    def is_muted(self) -> bool:
        """True while our microphone is muted."""
        return self._muted

    def is_on_hold(self) -> bool:
        """True while *we* hold the call."""
        return self._local_hold

    def is_remote_hold(self) -> bool:
        """True while the peer holds the call."""
        return self._remote_hold

    @property
    def ended(self) -> bool:
        """True once the call is disconnected or failed."""
        return self._status in (CallStatus.DISCONNECTED, CallStatus.FAILED)

    # ------------------------------------------------------------------ inbound

    async def accept(
        self,
        *,
        codec_preferences: list[str] | None = None,
        max_average_bitrate: int | None = None,
        dtx: bool | None = None,
        rtc_configuration: Mapping[str, Any] | None = None,
    ) -> None:
        """Answer an inbound call with audio.

        The keyword options apply to this call only, over the Device's (see :mod:`.media_options`):
        ``codec_preferences`` (``["opus", "PCMU", "PCMA"]`` order), Opus ``max_average_bitrate`` and
        ``dtx``, and ``rtc_configuration`` (``iceServers``, ``iceTransportPolicy``...).

        Raises:
            VoiceSDKError: ``INVALID_STATE`` (outbound, or not pending), ``INVALID_ARGUMENT`` (a bad media
                option: nothing changes), ``MEDIA_PERMISSION_DENIED`` / ``MEDIA_DEVICE_ERROR``
                (microphone), ``CALL_FAILED`` (the caller hung up meanwhile).
        """
        self._host.check_alive()
        media_options = parse_call_media_options(
            codec_preferences=codec_preferences,
            max_average_bitrate=max_average_bitrate,
            dtx=dtx,
            rtc_configuration=rtc_configuration,
        )
        check_answerable("accept", self._direction, self._status)
        self._ignored = False
        self._host.call_action(self, "accept")
        self._host.sounds.stop_ringtone(self)
        await self._setup.answer(media_options)

    def reject(self, status_code: int = 486) -> None:
        """Reject an inbound call (486 Busy Here by default; 603 Decline for do-not-disturb).

        Raises:
            VoiceSDKError: ``INVALID_STATE`` or ``INVALID_ARGUMENT`` (status not 300-699).
        """
        check_reject(self._direction, status_code)
        if self._status is not CallStatus.PENDING or self._handle is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, f"cannot reject a call that is {self._status.value}")
        self._host.call_action(self, "reject")
        self._session(lambda ua, handle, now: ua.reject(handle, now, status_code=status_code))

    def ignore(self) -> None:
        """Stop alerting locally (ringtone) without telling the caller; the call keeps ringing elsewhere."""
        check_answerable("ignore", self._direction, self._status)
        self._ignored = True
        self._host.call_action(self, "ignore")
        self._host.sounds.stop_ringtone(self)

    @property
    def ignored(self) -> bool:
        """True after :meth:`ignore`."""
        return self._ignored

    # ------------------------------------------------------------------ both directions

    async def disconnect(self) -> None:
        """Hang up, whatever the state: CANCEL while ringing out, 603 for a pending inbound call, else BYE.

        Media is released at once; the coroutine returns when the call has ended (at most a few seconds).
        """
        if self.ended:
            return
        if self._handle is None:
            self._setup.cancel()  # connect() is still preparing: it will stop before the INVITE
            self._finish(CallStatus.DISCONNECTED, "cancelled", None)
            return
        if self._direction is CallDirection.INBOUND and self._status is CallStatus.PENDING:
            reason = "rejected"
            self._session(lambda ua, handle, now: ua.reject(handle, now, status_code=603))
        else:
            reason = "local" if self._status is CallStatus.ACCEPTED else "cancelled"
            self._release_media()
            self._session(lambda ua, handle, now: ua.hangup(handle, now))
        if not self.ended:
            try:
                await asyncio.wait_for(asyncio.shield(self._ended), timeout=5.0)
            except TimeoutError:  # no final answer from the far side: the call is over for us anyway
                self._finish(CallStatus.DISCONNECTED, reason, None)

    def mute(self, muted: bool = True) -> None:
        """Mute (True) or unmute (False) our microphone; emits ``mute`` with the new state."""
        check_mute(muted, ended=self.ended)
        if muted == self._muted:
            return
        self._muted = muted
        self._media.set_muted(muted)
        self.emit("mute", muted)

    async def hold(self, hold: bool = True) -> None:
        """Put the call on hold (True) or resume it (False) with a re-INVITE; emits ``hold``.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` (not accepted), ``HOLD_FAILED`` (the peer refused; the call is
                unchanged).
        """
        if not isinstance(hold, bool):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "hold() takes a bool")
        self._require_accepted("hold")
        if hold == self._local_hold:
            return
        await self._renegotiation.hold(hold, held=self._local_hold)
        self._local_hold = hold
        self.emit("hold", hold)

    def send_digits(self, digits: str) -> None:
        """Send DTMF: ``0-9 * # A-D``; ``w`` pauses 0.5 s, ``,`` pauses 2 s.

        RFC 4733 (RTP) by default; SIP INFO when the Device uses ``dtmf_transport="info"`` or the peer did
        not negotiate telephone-event. Digits queue behind digits already being sent. Before the answer,
        digits go out as RTP in early media (a 183 with SDP: IVRs that prompt before answering), see
        :mod:`.early_media` and :mod:`.dtmf_sender`.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` (illegal character) or ``INVALID_STATE`` (neither accepted
                nor in early media that takes RTP DTMF).
        """
        self._dtmf.send(digits)

    async def set_input_device(self, device_id: str) -> None:
        """Switch the microphone mid-call (no renegotiation); the mute state is kept.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT``, ``MEDIA_*`` from opening the device, ``INVALID_STATE``.
        """
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_input_device() takes a device id")
        if self.ended:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the call has ended")
        await self._media.set_input_device(device_id)

    def _on_output_error(self, error: VoiceSDKError) -> None:
        if error.code is ErrorCode.AUTOPLAY_BLOCKED:
            self._host.audio_blocked(error, self)
        else:
            self._emit_error(error)

    async def set_output_device(self, device_id: str) -> None:
        """Route the remote audio to another speaker.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` (no setSinkId) or ``OUTPUT_DEVICE_ERROR``.
        """
        if not isinstance(device_id, str) or not device_id:
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, "set_output_device() takes a device id")
        await self._media.set_output_device(device_id)

    def get_local_stream(self) -> Any:
        """The JS ``MediaStream`` this call sends (see :mod:`.streams`); None before the call has media.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` once the call has ended.
        """
        return call_stream(ended=self.ended, holder=self._media.microphone, attribute="stream", which="local")

    def get_remote_stream(self) -> Any:
        """The JS ``MediaStream`` of the far end's audio (:mod:`.streams`); None before the call has media.

        Raises:
            VoiceSDKError: ``INVALID_STATE`` once the call has ended.
        """
        peer = self._media.peer
        return call_stream(ended=self.ended, holder=peer, attribute="remote_stream", which="remote")

    async def get_stats(self) -> dict[str, Any]:
        """A summary of the media statistics (and ``raw``: every RTCStats report)."""
        pc = self._media.peer
        if pc is None:
            return {}
        raw = await pc.get_stats()
        return summarize_stats(raw)

    # ------------------------------------------------------------------ SIP events (from the Device pump)

    def _on_sip_event(self, event: sip_events.Event) -> None:
        if isinstance(event, sip_events.CallProgress):
            self._setup.progress(event)
        elif isinstance(event, sip_events.CallAnswered):
            self._spawn(self._setup.answered(event))
        elif isinstance(event, sip_events.CallEnded):
            self._on_ended(event)
        elif isinstance(event, sip_events.RemoteOffer):
            self._spawn(self._renegotiation.remote_offer(event.sdp))
        elif isinstance(event, sip_events.OfferRequested):
            self._spawn(self._renegotiation.offer_requested())
        elif isinstance(event, sip_events.RemoteAnswer):
            self._renegotiation.answered(event.sdp)
        elif isinstance(event, sip_events.OfferRejected):
            self._renegotiation.rejected(event)
        elif isinstance(event, sip_events.OfferRetryDue):
            self._renegotiation.retry_due()
        elif isinstance(event, sip_events.DtmfInfoReceived):
            self.emit("dtmf", {"digit": event.digit, "transport": "info"})

    def _on_ended(self, event: sip_events.CallEnded) -> None:
        ending = call_ending(
            event,
            direction=self._direction,
            connected=self._status is CallStatus.ACCEPTED,
            answered_elsewhere=self._answered_elsewhere,
        )
        if ending.notice is not None:
            self.emit(ending.notice)
        self._finish(ending.status, ending.reason, ending.status_code)

    def _set_remote_hold(self, held: bool) -> None:
        if held != self._remote_hold:
            self._remote_hold = held
            self.emit("remote-hold", held)

    # ------------------------------------------------------------------ call quality

    @property
    def active_warnings(self) -> list[str]:
        """The call-quality warnings currently raised (``high-rtt``, ``high-packet-loss``...)."""
        return self._quality.active_warnings

    def _start_sampling(self) -> None:
        self._quality.start(local_media=self._LOCAL_MEDIA)

    # ------------------------------------------------------------------ reconnection (see .call_recovery)

    def _reconnect_failed(self, error: VoiceSDKError) -> None:
        """End the call for good (reason ``reconnect-failed``) and tell the far end, best effort.

        The BYE (CANCEL, or 480 for a call still ringing in) goes out now when signalling is up, else behind
        the REGISTER of a later reconnection.
        """
        if self.ended:
            return
        handle = self._handle
        ringing_in = self._direction is CallDirection.INBOUND and self._status is CallStatus.PENDING
        connected = self._status is CallStatus.ACCEPTED
        never_connected = self._direction is CallDirection.OUTBOUND and not connected
        self._finish(
            CallStatus.FAILED if never_connected else CallStatus.DISCONNECTED,
            "reconnect-failed",
            None,
            error=error,
        )
        if handle is None:
            return
        try:
            if ringing_in:
                self._host.sip(lambda ua, now: ua.reject(handle, now, status_code=480))
            else:
                self._host.sip(lambda ua, now: ua.hangup(handle, now))
        except (LocalProtocolError, VoiceSDKError) as exc:
            self._host.logger.debug("could not hang up call %s: %s", self._sip_call_id, exc)

    # ------------------------------------------------------------------ endings and helpers

    def _require_accepted(self, what: str) -> None:
        if self._status is not CallStatus.ACCEPTED or self._handle is None:
            raise VoiceSDKError(
                ErrorCode.INVALID_STATE, f"{what}() needs an accepted call (it is {self._status.value})"
            )

    def _finish(
        self,
        status: CallStatus,
        reason: str,
        status_code: int | None,
        *,
        error: VoiceSDKError | None = None,
        emit_error: bool = True,
    ) -> None:
        if self.ended:
            return
        was_connected = self._status is CallStatus.ACCEPTED
        self._status = status
        self._timings["ended"] = time.time() * 1000
        self._release_media()
        if was_connected and reason != "destroyed" and self._LOCAL_MEDIA:
            self._host.sounds.play_disconnect()
        self._renegotiation.cancel()
        self._recovery.stop()
        self._quality.stop()
        if not self._ended.done():
            self._ended.set_result(None)
        self._host.call_finished(self)
        payload = {"reason": reason, "status_code": status_code}
        if error is not None and emit_error:
            self._emit_error(error)
        if status is CallStatus.FAILED:
            self.emit("failed", payload)
        self.emit("disconnect", payload)

    def _finish_destroyed(self) -> None:
        """The Device is being destroyed: end the call now (the Device sends BYE/CANCEL best effort)."""
        self._finish(CallStatus.DISCONNECTED, "destroyed", None)

    def _release_media(self) -> None:
        self._host.sounds.stop_ringtone(self)
        self._media.release()

    def _session(self, action: Callable[[UserAgent, str, float], T]) -> T:
        """Run ``action(user_agent, handle, now)`` on this call's INVITE session (then the Device pumps)."""
        handle = self._handle
        if handle is None:
            raise LocalProtocolError("the call has no SIP session yet")
        return self._host.sip(lambda ua, now: action(ua, handle, now))

    def _emit_error(self, error: VoiceSDKError) -> None:
        self._host.logger.warning("call error: %s", error)
        self.emit("error", error)

    def _spawn(self, work: Awaitable[T]) -> asyncio.Future[T]:
        return self._work.spawn(work)

    def _task_failed(self, _task: object, exc: BaseException) -> None:
        if isinstance(exc, VoiceSDKError):
            self._emit_error(exc)
        else:
            self._host.logger.error("call task failed", exc_info=exc)
            self._emit_error(VoiceSDKError(ErrorCode.CALL_FAILED, f"internal error: {exc}", exc))


class CallControl:
    """The owner's door into one :class:`Call`: what the Device (and, for mirrored calls, the tab
    coordinator) may do to a call besides its public API. Stateless: ``CallControl(call)`` is cheap.
    """

    __slots__ = ("call",)

    def __init__(self, call: Call) -> None:
        self.call = call

    async def start_outbound(
        self, target: str, headers: list[tuple[str, str]], media_options: CallMediaOptions | None = None
    ) -> None:
        """``connect()``: open the microphone, create the offer, send the INVITE."""
        await self.call._setup.start_outbound(target, headers, media_options)

    def on_sip_event(self, event: sip_events.Event) -> None:
        """A user-agent event of this call (from the Device's pump)."""
        self.call._on_sip_event(event)

    def devices_changed(self) -> None:
        """The browser's audio devices changed."""
        self.call._media.devices_changed()

    async def capture_changed(self) -> None:
        """The Device's capture settings changed: re-open the call's microphone with them.

        Raises:
            VoiceSDKError: as :meth:`Call.set_input_device` (the call keeps its former microphone).
        """
        await self.call._media.capture_changed()

    def resume_audio(self) -> None:
        """A user gesture came: play the remote audio the browser blocked."""
        self.call._media.resume_audio()

    def signalling_lost(self) -> None:
        """The Device's WebSocket dropped: the call is ``reconnecting``."""
        self.call._recovery.signalling_lost()

    def signalling_restored(self) -> None:
        """The Device registered again: refresh the call (re-INVITE with ICE restart)."""
        self.call._recovery.signalling_restored()

    def reconnect_failed(self, error: VoiceSDKError) -> None:
        """The Device gave up reconnecting: end the call (``reconnect-failed``)."""
        self.call._reconnect_failed(error)

    def finish(self, status: CallStatus, reason: str, status_code: int | None) -> None:
        """End the call here (its SIP side is gone or elsewhere)."""
        self.call._finish(status, reason, status_code)

    def finish_destroyed(self) -> None:
        """The Device is being destroyed: end the call now (``destroyed``)."""
        self.call._finish_destroyed()

    def emit_error(self, error: VoiceSDKError) -> None:
        """Report a non-fatal ``error`` on the call."""
        self.call._emit_error(error)

    def mark_answered_elsewhere(self) -> None:
        """Another tab took this inbound call (the server's CANCEL will say so)."""
        self.call._answered_elsewhere = True

    def mark_ignored(self) -> None:
        """The call was ignored in another tab."""
        self.call._ignored = True


class _CallDoor:
    """The call's one door to its collaborators: media (:class:`~.call_media.MediaLine`), DTMF
    (:class:`~.dtmf_sender.DtmfLine`), recovery (:class:`~.call_recovery.RecoveryLine`), renegotiation
    (:class:`~.renegotiation.RenegotiationLine`) and quality (:class:`~.call_quality.QualityLine`). Those
    modules see the call only through these Protocols; this class, in the call's own module, maps them onto
    the call. It holds no state of its own.
    """

    __slots__ = ("_call",)

    def __init__(self, call: Call) -> None:
        self._call = call

    # -- shared

    @property
    def ended(self) -> bool:
        return self._call.ended

    @property
    def peer(self) -> PeerConnection | None:
        return self._call._media.peer

    def report(self, error: VoiceSDKError) -> None:
        self._call._emit_error(error)

    # -- DtmfLine

    @property
    def status(self) -> str:
        return self._call._status.value

    @property
    def has_dialog(self) -> bool:
        return self._call._handle is not None

    @property
    def early_media(self) -> bool:
        return self._call._setup.early_media

    @property
    def dtmf_transport(self) -> str:
        return self._call._host.options.dtmf_transport

    @property
    def held_by_peer(self) -> bool:
        return self._call._remote_hold

    def remote_sdp(self) -> str | None:
        info = self._call._host.call_info(self._call._handle)
        return info.remote_sdp if info is not None else None

    def early_answer(self) -> asyncio.Future[None] | None:
        return self._call._setup.early_answer

    def play_tone(self, digit: str) -> None:
        self._call._host.sounds.play_dtmf(digit)

    def send_info(self, digit: str, duration_ms: int) -> None:
        self._call._session(
            lambda ua, handle, now: ua.send_dtmf_info(handle, digit, now, duration_ms=duration_ms)
        )

    # -- RecoveryLine

    @property
    def answered(self) -> bool:
        return self._call._status is CallStatus.ACCEPTED

    @property
    def signalling_down(self) -> bool:
        return self._call._host.signalling_down

    @property
    def grace_seconds(self) -> float:
        return self._call._host.options.reconnect_grace_ms / 1000

    def media_connected(self) -> None:
        self._call._timings.setdefault("media_connected", time.time() * 1000)

    async def restart_ice(self) -> bool | None:
        return await self._call._renegotiation.restart_ice()

    def emit(self, event: str, *args: Any) -> None:
        self._call.emit(event, *args)

    def reconnect_failed(self, error: VoiceSDKError) -> None:
        self._call._reconnect_failed(error)

    def spawn(self, work: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        return self._call._spawn(work)

    # -- RenegotiationLine

    @property
    def in_session(self) -> bool:
        return not self._call.ended and self._call._handle is not None

    def reinvite(self, offer: str) -> None:
        self._call._session(lambda ua, handle, now: ua.reinvite(handle, offer, now))

    def media_restarting(self) -> None:
        self._call._quality.reset()

    def answer_offer(self, sdp: str) -> None:
        self._call._session(lambda ua, handle, now: ua.answer_offer(handle, sdp, now))

    def reject_offer(self, status_code: int) -> None:
        self._call._session(lambda ua, handle, now: ua.reject_offer(handle, now, status_code=status_code))

    def remote_hold(self, held: bool) -> None:
        self._call._set_remote_hold(held)

    # -- QualityLine

    @property
    def muted(self) -> bool:
        return self._call._muted

    @property
    def held(self) -> bool:
        return self._call._local_hold or self._call._remote_hold

    @property
    def logger(self) -> logging.Logger:
        return self._call._host.logger

    # -- MediaLine

    def output_error(self, error: VoiceSDKError) -> None:
        self._call._on_output_error(error)

    def listens_to_volume(self) -> bool:
        return self._call.listener_count("volume") > 0

    # -- SetupLine

    @property
    def inbound(self) -> bool:
        return self._call._direction is CallDirection.INBOUND

    @property
    def destroyed(self) -> bool:
        return self._call._host.destroyed

    def send_invite(self, target: str, offer: str, headers: list[tuple[str, str]]) -> None:
        call, host = self._call, self._call._host
        handle = call._handle = host.invite(target, offer, headers)
        info = host.call_info(handle)
        call._sip_call_id = info.call_id if info is not None else None
        call._timings["invite_sent"] = time.time() * 1000
        host.bind_call(handle, call)

    def answer(self, sdp: str) -> None:
        self._call._session(lambda ua, handle, now: ua.answer(handle, sdp, now))

    def reject(self, status_code: int) -> None:
        self._call._session(lambda ua, handle, now: ua.reject(handle, now, status_code=status_code))

    def milestone(self, name: str) -> None:
        self._call._timings.setdefault(name, time.time() * 1000)

    def ringing(self, has_early_media: bool) -> None:
        if self._call._status is CallStatus.PENDING:
            self._call._status = CallStatus.RINGING
            self._call.emit("ringing", {"has_early_media": has_early_media})

    def accepted(self) -> None:
        call = self._call
        call._timings["answered"] = time.time() * 1000
        call._status = CallStatus.ACCEPTED
        call._start_sampling()
        call.emit("accepted")

    def fail(self, reason: str, error: VoiceSDKError | None = None, *, emit_error: bool = True) -> None:
        self._call._finish(CallStatus.FAILED, reason, None, error=error, emit_error=emit_error)

    def release_media(self) -> None:
        self._call._release_media()

    def start_ringback(self) -> None:
        self._call._host.sounds.start_ringback(self._call)

    def stop_ringback(self) -> None:
        self._call._host.sounds.stop_ringback(self._call)
