"""The Device: one registered 2Chat user in a web page — registration, outbound and inbound calls.

Design
======
The Device owns the sans-I/O :class:`~twochat_voice_web.sip.UserAgent` and drives it through the one
driver, :class:`~twochat_voice_web.driver.UserAgentDriver` (aioquic style): every input (a WebSocket
frame, a timer, an API call) is fed to the user agent with the current loop time, then one pump writes
the bytes it produced to the WebSocket, hands the events it produced to :meth:`Device._dispatch`
(registration changes to the Device, call events to their :class:`Call`) and re-arms the one timer at the
user agent's next deadline. All JavaScript stays behind :class:`~.platform.Platform`.

Lifecycle (``device.state``) is one state machine, :class:`~.lifecycle.DeviceLifecycle` (an enum and a
transition table): the Device reports *causes* (``REGISTER``, ``REGISTERED``, ``RECONNECT``...) and the
table alone decides the new state::

    unregistered --register()--> registering --200--> registered --WS lost--> reconnecting --200--> registered
         ^                            |                   |                         |
         +-------- failure -----------+---- unregister() -+-------- destroy() ------+--> destroyed

Parts, one concept a module, each seeing the Device only through a typed Protocol served by one door
object (``_DeviceDoor``, at the end of this module): its calls (:mod:`.device_calls`: incoming calls, the
busy 486, routing call events), registration (:mod:`.device_registration`, idempotent while registering,
field lesson §B-5), reconnection (:mod:`.reconnection`, §B-1..4: calls stay up, back-off with full jitter,
then a re-INVITE with an ICE restart per call), signalling (:mod:`.signalling`), audio devices, autoplay,
sounds, the tab link (:mod:`.tabs`, §B-15: with ``multi_tab`` one elected leader registers for the group)
and preflight. The Device acts on a call through :class:`~.call.CallControl`, and calls the user agent
with typed ``action(ua, now)`` functions run by the driver. Tokens (§B-6/7): ``update_token()`` only swaps
the token and re-arms ``tokenWillExpire``; it never touches media or re-registers.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar, cast

from .access_token import HeldToken
from .addresses import caller_headers, dial_target
from .audio_capture import MicrophoneCapture, parse_audio_constraints, parse_audio_processor
from .audio_devices import AudioDevices
from .autoplay import AutoplayUnlock
from .call import Call, CallControl, CallHost
from .credentials import CredentialsProvider, SipCredentials
from .device_calls import DeviceCalls
from .device_registration import DeviceRegistration
from .emitter import EventEmitter
from .errors import ErrorCode, RegistrationError, TokenError, VoiceSDKError
from .lifecycle import DeviceLifecycle, DeviceState, LifecycleCause
from .media_options import parse_call_media_options
from .options import (
    LOG_LEVELS,
    SOUND_NAMES,
    DeviceOptions,
    parse_device_options,
    parse_header_lines,
)
from .page_lifecycle import PageLifecycle
from .platform import IceServer, Platform, SoundPlayer
from .preflight import PreflightReport, run_preflight
from .reconnection import Reconnection
from .signalling import Signalling
from .sip import events as sip_events
from .sip.errors import LocalProtocolError
from .sip.useragent import CallInfo, UserAgent
from .sounds import DeviceSounds
from .tabs import AnsweredElsewhere, TabCoordinator, TabLink

__all__ = ["SOUND_NAMES", "Device", "DeviceOptions", "DeviceState", "parse_header_lines"]

T = TypeVar("T")

_DEVICE_NUMBERS = itertools.count(1)
"""Numbers the Devices of this page: Device N logs to ``twochat_voice_web.device.N``."""


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


class Device(EventEmitter):
    """One registered 2Chat user.

    Args:
        token: the access token your backend minted (``POST /sdk/voip/access-token``).
        log_level: ``silent``, ``error``, ``warn`` (default), ``info`` or ``debug``.
        allow_incoming_while_busy: when False, an incoming call while a call is accepted (:attr:`is_busy`) is
            rejected with 486 and reported by the ``incomingRejected`` event instead of ``incoming``.
        ice_servers: STUN/TURN servers replacing those of the credentials (``[{"urls": ...}]``).
        input_device_id: preferred microphone (a ``deviceId``).
        output_device_id: preferred speaker (needs ``setSinkId``).
        ringtone_url: audio file looped for incoming calls.
        default_extra_headers: ``"Name: value"`` lines added to every outbound INVITE.
        token_expiry_lead_ms: how long before ``exp`` to emit ``tokenWillExpire``.
        api_base_url: the 2Chat API base URL (the sandbox's URL in development).
        credentials_provider: ``async (token) -> SipCredentials | dict`` to use any SIP-over-WS server.
        ice_gathering_timeout_ms: the longest wait for ICE candidates before sending an offer/answer.
        ice_gathering: ``"fast"`` (default): send the offer/answer once the candidates that carry audio
            are in (UDP host, plus server-reflexive/relay when STUN/TURN servers are configured), without
            waiting ~100 ms more for Chromium's ICE-TCP candidates; ``"complete"``: wait for the browser
            to end gathering, as JsSIP does (see :mod:`twochat_voice_web.ice`).
        dtmf_transport: ``"rfc4733"`` (RTP, default) or ``"info"`` (SIP INFO).
        reconnect_max_delay_ms: the cap of the reconnection back-off (default 20000, up to 600000): after
            the WebSocket drops, attempt *n* waits a random time between 0 and
            ``min(reconnect_max_delay_ms, reconnect_min_ms * 2**n)`` (exponential back-off, full jitter);
            the browser's ``online`` event starts an attempt at once.
        reconnect_max_attempts: how many reconnection attempts before giving up (default 30, about 4
            minutes; None: never give up). Then the Device emits ``error`` (``REGISTRATION_FAILED``, the
            last failure in ``cause``), ends the calls still reconnecting and is ``unregistered``.
        sounds: per-sound overrides: ``{"incoming": url, "disconnect": False, ...}`` (a URL to play
            instead of the built-in tone, False to silence it); names are ``incoming``, ``outgoing``,
            ``disconnect``, ``dtmf0``-``dtmf9``, ``dtmfs``, ``dtmfh``, ``dtmfa``-``dtmfd``.
        multi_tab: share one registration between the tabs of this origin (see :mod:`.tabs`): True groups
            the tabs of the same user (address of record), a string names the group. One tab (the leader,
            elected with Web Locks) registers; the others mirror its state and calls and forward their
            actions to it, so media always plays in the leader tab. False (default): every tab registers
            on its own, and tells the others when it accepts a call so they stop ringing at once.
        codec_preferences: codec names to put first in every offer and answer, in order: ``"opus"``,
            ``"PCMU"``, ``"PCMA"`` (the browser's other codecs follow; see :mod:`.media_options`).
        max_average_bitrate: Opus ``maxaveragebitrate`` (6000-510000 bit/s) asked of the far end in our
            SDP's Opus fmtp.
        dtx: Opus ``usedtx`` asked likewise (True/False). ``connect()`` and ``accept()`` take the same
            three per call, and ``rtc_configuration``.
        audio_constraints: microphone constraints for ``getUserMedia``: ``echo_cancellation``,
            ``noise_suppression``, ``auto_gain_control`` (bools), ``channel_count`` (1 or 2); camelCase
            names are accepted too. Change them later with :meth:`set_audio_constraints` (see
            :mod:`.audio_capture`).
        audio_processor: processes the outgoing audio (Twilio's ``AudioProcessor``): an object with
            ``create_processed_stream(stream)`` returning the ``MediaStream`` to send (e.g. a WebAudio
            graph's output) and optionally ``destroy_processed_stream(stream)``, called when that
            microphone is released; or a plain callable ``(stream) -> stream``.
        close_protection: while a call is live, ask the person to confirm leaving the page
            (``beforeunload``; see :mod:`.page_lifecycle`). Whatever it is, a page that goes away
            (``pagehide``) destroys the Device: its calls end with BYE/CANCEL and it unregisters.
        platform: the runtime (default: the browser's, when running in Pyodide).
        **advanced: rarely needed tuning, all positive integers: ``credentials_path`` (default
            ``/sdk/voip/sip-credentials``), ``register_timeout_ms`` (20000), ``reconnect_min_ms`` (500, the
            base of the reconnection back-off), ``reconnect_grace_ms`` (30000: a call that stays
            ``reconnecting`` that long ends with reason ``reconnect-failed``), ``register_expires`` (600 s);
            ``reconnect_max_ms`` is the former name of ``reconnect_max_delay_ms``.

    Raises:
        TokenError: ``TOKEN_INVALID`` when ``token`` is not a non-empty string (a malformed or expired JWT
            is reported by :meth:`register`).
        VoiceSDKError: ``INVALID_ARGUMENT`` for any unusable option (nothing is started).
    """

    EVENTS = frozenset(
        {
            "registering",
            "registered",
            "unregistered",
            "reconnecting",
            "reconnected",
            "incoming",
            "incomingRejected",
            "tokenWillExpire",
            "error",
            "destroyed",
            "deviceChange",
            "serverChange",
        }
    )

    def __init__(
        self,
        token: str,
        *,
        log_level: str = "warn",
        allow_incoming_while_busy: bool = False,
        ice_servers: Iterable[Mapping[str, Any]] | None = None,
        input_device_id: str | None = None,
        output_device_id: str | None = None,
        ringtone_url: str | None = None,
        default_extra_headers: Iterable[str] = (),
        token_expiry_lead_ms: int = 60_000,
        api_base_url: str = "https://api.p.2chat.io",
        credentials_provider: CredentialsProvider | None = None,
        ice_gathering_timeout_ms: int = 2000,
        ice_gathering: str = "fast",
        dtmf_transport: str = "rfc4733",
        reconnect_max_delay_ms: int = 20_000,
        reconnect_max_attempts: int | None = 30,
        sounds: Mapping[str, str | bool] | None = None,
        multi_tab: bool | str = False,
        codec_preferences: Iterable[str] | None = None,
        max_average_bitrate: int | None = None,
        dtx: bool | None = None,
        close_protection: bool = False,
        audio_constraints: Mapping[str, Any] | None = None,
        audio_processor: object = None,
        platform: Platform | None = None,
        **advanced: Any,
    ) -> None:
        super().__init__()
        if not isinstance(token, str) or not token:
            raise TokenError(ErrorCode.TOKEN_INVALID, "the token must be a non-empty string")
        self._options = parse_device_options(
            log_level=log_level,
            allow_incoming_while_busy=allow_incoming_while_busy,
            ice_servers=ice_servers,
            input_device_id=input_device_id,
            output_device_id=output_device_id,
            ringtone_url=ringtone_url,
            default_extra_headers=default_extra_headers,
            token_expiry_lead_ms=token_expiry_lead_ms,
            api_base_url=api_base_url,
            credentials_provider=credentials_provider,
            ice_gathering_timeout_ms=ice_gathering_timeout_ms,
            ice_gathering=ice_gathering,
            dtmf_transport=dtmf_transport,
            reconnect_max_delay_ms=reconnect_max_delay_ms,
            reconnect_max_attempts=reconnect_max_attempts,
            sounds=sounds,
            multi_tab=multi_tab,
            codec_preferences=codec_preferences,
            max_average_bitrate=max_average_bitrate,
            dtx=dtx,
            close_protection=close_protection,
            advanced=advanced,
        )
        capture = MicrophoneCapture(
            parse_audio_constraints(audio_constraints), parse_audio_processor(audio_processor)
        )
        self._log = logging.getLogger(f"twochat_voice_web.device.{next(_DEVICE_NUMBERS)}")
        self._log.setLevel(LOG_LEVELS[log_level])
        self._access_token = HeldToken(
            token,
            jwt_only=credentials_provider is None,
            lead_ms=self._options.token_expiry_lead_ms,
            on_will_expire=self._token_will_expire,
            on_expired=self._token_expired,
        )
        self._platform = platform
        self._lifecycle = DeviceLifecycle()
        self._destroyed = False
        self._door = _DeviceDoor(self)
        self._audio = AudioDevices(
            self._door, capture, input_device_id=input_device_id, output_device_id=output_device_id
        )
        self._signalling = Signalling(self._door)
        self._reconnection = Reconnection(self._door, self._signalling)
        self._registration = DeviceRegistration(
            self._door,
            token=self._access_token,
            provider=credentials_provider,
            lifecycle=self._lifecycle,
            signalling=self._signalling,
            reconnection=self._reconnection,
        )
        self._page: PageLifecycle | None = None
        self._calls = DeviceCalls(self._door)
        self._autoplay = AutoplayUnlock(self._door)
        self._sounds = DeviceSounds(
            create_player=self._create_sound_player,
            overrides=self._options.sounds,
            output_device_id=lambda: self._audio.output_device_id,
            on_blocked=self._autoplay.sound_blocked,
            on_error=self._emit_error,
        )
        self._tabs: TabLink | None = None

    # ================================================================ public API

    @property
    def state(self) -> str:
        """``unregistered``, ``registering``, ``registered``, ``reconnecting`` or ``destroyed``."""
        return self._lifecycle.state.value

    @property
    def _state(self) -> DeviceState:
        return self._lifecycle.state

    @property
    def calls(self) -> list[Call]:
        """The live calls."""
        return self._calls.live

    @property
    def logger(self) -> logging.Logger:
        """This Device's logger, ``twochat_voice_web.device.N``, at ``log_level``.

        It propagates to the ``twochat_voice_web`` logger (where the JavaScript facade prints to the
        console) and up to the root logger. At ``debug`` it traces every SIP message sent and received,
        secrets redacted (:func:`~twochat_voice_web.sip.trace.redact_message`).
        """
        return self._log

    @property
    def is_busy(self) -> bool:
        """True while a call is accepted (on hold included), as Twilio's ``isBusy``.

        A busy Device rejects a new caller with 486 Busy Here and emits ``incomingRejected``, unless
        ``allow_incoming_while_busy``. Calls that only ring (ignored or not) and outbound calls not yet
        answered do not make it busy.
        """
        return self._calls.is_busy

    @property
    def token(self) -> str:
        """The current access token."""
        return self._access_token.raw

    @property
    def identity(self) -> str | None:
        """Our SIP address of record, once credentials are known."""
        return self._registration.credentials.sip_uri if self._registration.credentials else None

    @property
    def caller_ids(self) -> list[dict[str, str]]:
        """Caller IDs from the credentials (``[{"uuid", "phone_number"}]``)."""
        credentials = self._registration.credentials
        if credentials is None:
            return []
        return [{"uuid": c.uuid, "phone_number": c.phone_number} for c in credentials.caller_ids]

    @property
    def platform(self) -> Platform:
        """The runtime adapter (the browser's by default)."""
        if self._platform is None:
            from .browser import BrowserPlatform

            self._platform = cast(Platform, BrowserPlatform())
        return self._platform

    async def register(self) -> None:
        """Fetch credentials, open the WebSocket and REGISTER; resolves on the registrar's 200.

        Idempotent: while registering, a second call waits for the first; when registered it returns.

        Failures carry 2Chat's codes (the table is in ``docs/errors.md``).

        Raises:
            TokenError: ``TOKEN_INVALID``/``TOKEN_EXPIRED`` (before any network call), or ``TOKEN_INVALID``
                when the credentials endpoint refuses the token (401/403).
            VoiceSDKError: ``CONFIG_FETCH_FAILED`` when the credentials cannot be had or used (network,
                timeout, HTTP status, a malformed field, named in the message; ``cause`` holds the detail),
                ``DESTROYED``.
            AuthError: ``AUTH_ERROR`` (the SIP server refused our credentials).
            RegistrationError: ``REGISTER_ERROR`` when the WebSocket cannot be opened or closes during
                REGISTER, ``REGISTRATION_FAILED`` when REGISTER is refused or not answered within
                ``register_timeout_ms``; ``cause`` holds the transport error, the ``TIMEOUT`` error or the
                SIP status.
        """
        self._check_alive()
        if self._options.multi_tab is not False:
            await self._tab_group().register()
            return
        await self._registration.register()

    async def unregister(self) -> None:
        """Remove the registration and close the WebSocket; ``connect()`` then gives ``NOT_REGISTERED``.

        Failures are reported as an ``UNREGISTER_ERROR`` event (non-fatal); the WebSocket closes anyway.
        With ``multi_tab`` this tab leaves its group: a leader unregisters and another tab takes over.
        """
        if isinstance(self._tabs, TabCoordinator) and not self._destroyed:
            await self._tabs.unregister()
        else:
            await self._registration.unregister()
        if self._state is DeviceState.UNREGISTERED:
            self._access_token.cancel_timers()  # they follow the registration: register() arms them again

    async def connect(
        self,
        to: str,
        from_: str | None = None,
        caller_id: str | None = None,
        extra_headers: Iterable[str] = (),
        *,
        codec_preferences: Iterable[str] | None = None,
        max_average_bitrate: int | None = None,
        dtx: bool | None = None,
        rtc_configuration: Mapping[str, Any] | None = None,
        **params: Any,
    ) -> Call:
        """Place a call; resolves with the :class:`Call` once the INVITE is sent (not when answered).

        Args:
            to: an E.164 number (``+15551234567``) or a ``sip:``/``sips:`` URI.
            from_: the caller ID to present, as an E.164 number (``from`` is accepted too).
            caller_id: the uuid of a registered caller ID (``VCI...``).
            extra_headers: ``"Name: value"`` lines for this INVITE (added to ``default_extra_headers``).
            codec_preferences: this call's codec order, over the Device's.
            max_average_bitrate: this call's Opus ``maxaveragebitrate``, over the Device's.
            dtx: this call's Opus ``usedtx``, over the Device's.
            rtc_configuration: this call's RTCConfiguration (``iceServers``, ``iceTransportPolicy``...).

        Raises:
            VoiceSDKError: ``NOT_REGISTERED``, ``INVALID_ARGUMENT``, ``MEDIA_PERMISSION_DENIED``,
                ``MEDIA_DEVICE_ERROR``, ``DESTROYED``.
        """
        self._check_alive()
        if "from" in params:
            from_ = params.pop("from")
        if "callerId" in params:
            caller_id = params.pop("callerId")
        if "extraHeaders" in params:
            extra_headers = params.pop("extraHeaders")
        if "rtcConfiguration" in params:
            rtc_configuration = params.pop("rtcConfiguration")
        if params:
            raise _invalid(f"unknown connect() parameter(s): {', '.join(sorted(params))}")
        media_options = parse_call_media_options(
            codec_preferences=codec_preferences,
            max_average_bitrate=max_average_bitrate,
            dtx=dtx,
            rtc_configuration=rtc_configuration,
        )
        tabs = self._tabs
        follower = tabs is not None and tabs.is_follower
        if self._state is not DeviceState.REGISTERED or (self._signalling.ua is None and not follower):
            raise RegistrationError(
                ErrorCode.NOT_REGISTERED,
                "connect() needs a registered Device: await register() first",
            )
        target = self._target_uri(to)
        extra_lines = parse_header_lines(extra_headers, "extra_headers")
        headers = [
            *self._options.default_extra_headers,
            *extra_lines,
            *caller_headers(from_, caller_id),
        ]
        if isinstance(tabs, TabCoordinator) and follower:  # the leader places it: media plays there
            return await tabs.forward_connect(to, from_, caller_id, [f"{n}: {v}" for n, v in extra_lines])
        return await self._calls.place(to, target, headers, media_options)

    async def run_preflight(
        self, *, echo_number: str | None = None, call_seconds: float = 5.0
    ) -> PreflightReport:
        """Check the microphone, ICE reachability (STUN/TURN) and, with ``echo_number`` (the sandbox's is
        ``+15550100``) on a registered Device, a short echo call graded by MOS. Never raises for a failing
        check: see :class:`~twochat_voice_web.preflight.PreflightReport`.
        """
        self._check_alive()
        if echo_number is not None:
            self._target_uri(echo_number)  # validate before anything runs
        if not 1.0 <= call_seconds <= 60.0:
            raise _invalid("call_seconds must be between 1 and 60")
        return await run_preflight(self._door, echo_number=echo_number, call_seconds=call_seconds)

    async def list_audio_devices(self) -> list[dict[str, str]]:
        """Microphones and speakers: ``[{"device_id", "kind", "label", "group_id"}]``.

        ``kind`` is ``audioinput`` or ``audiooutput``. Browsers give labels only after microphone
        permission was granted once (e.g. after the first call).
        """
        self._check_alive()
        return await self._audio.list_devices()

    @property
    def is_output_selection_supported(self) -> bool:
        """True when this browser can route audio to a chosen speaker (``setSinkId``)."""
        return bool(self.platform.media.can_select_output)

    @property
    def input_device_id(self) -> str | None:
        """The microphone new calls use (None: the browser's default)."""
        return self._audio.input_device_id

    @property
    def output_device_id(self) -> str | None:
        """The speaker new calls use (None: the browser's default)."""
        return self._audio.output_device_id

    async def set_input_device(self, device_id: str | None) -> None:
        """Choose the microphone for new calls and switch the live calls to it (no renegotiation)."""
        self._check_alive()
        if device_id is not None and (not isinstance(device_id, str) or not device_id):
            raise _invalid("set_input_device() takes a device id or None")
        await self._audio.choose_input(device_id)

    @property
    def audio_constraints(self) -> dict[str, bool | int]:
        """The microphone constraints in force, by their Python names (``{}``: the browser's defaults)."""
        return self._audio.capture.constraints.to_dict()

    async def set_audio_constraints(self, constraints: Mapping[str, Any]) -> None:
        """Use these microphone constraints (replacing the former ones) for new calls, and re-open the
        microphone of every live call with them (the sent track is swapped, no renegotiation), as
        Twilio's ``setAudioConstraints``. See :mod:`.audio_capture`.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a bad constraint (nothing changes); ``MEDIA_*`` when a
                live call's microphone cannot be re-opened (that call keeps its former microphone).
        """
        self._check_alive()
        await self._audio.set_constraints(constraints)

    async def unset_audio_constraints(self) -> None:
        """Back to the browser's default constraints (Twilio's ``unsetAudioConstraints``), for new calls and
        the live ones, as :meth:`set_audio_constraints`."""
        await self.set_audio_constraints({})

    async def set_output_device(self, device_id: str) -> None:
        """Choose the speaker for new calls, the live calls and the SDK's sounds.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` where the browser cannot choose (no setSinkId).
        """
        self._check_alive()
        if not isinstance(device_id, str) or not device_id:
            raise _invalid("set_output_device() takes a device id")
        await self._audio.choose_output(device_id)

    def _watch_page(self) -> None:
        """Hook the page's lifecycle once (:mod:`.page_lifecycle`): leaving the page destroys the Device."""
        if self._page is None and not self._destroyed:
            self._page = PageLifecycle(
                self.platform,
                on_leave=self._page_left,
                has_live_call=lambda: bool(self.calls),
                close_protection=self._options.close_protection,
            )

    def _page_left(self) -> None:
        if not self._destroyed:
            self._log.info("the page is going away: ending the calls and unregistering")
            self.destroy()

    async def update_token(self, token: str) -> None:
        """Swap in a fresh token: no re-registration, no media change; re-arms ``tokenWillExpire``.

        The token must be for the same user: a JWT whose ``sub`` differs from the current token's is
        refused, and nothing changes.

        Raises:
            TokenError: ``TOKEN_INVALID`` (malformed, or for another user), ``TOKEN_EXPIRED``.
        """
        self._check_alive()
        self._access_token.swap(token)
        self._registration.arm_token_timers()

    def destroy(self) -> None:
        """Hang up every call, drop the registration (best effort), close everything, forget handlers."""
        if self._destroyed:
            return
        for call in list(self.calls):
            CallControl(call).finish_destroyed()
        self._signalling.hang_up_everything()
        self._destroyed = True
        tabs, self._tabs = self._tabs, None
        if tabs is not None:
            tabs.close()
        self._sounds.close()
        self._audio.close()
        if self._page is not None:
            self._page.close()
            self._page = None
        self._autoplay.close()
        self._reconnection.stop()
        self._signalling.close()
        self._access_token.cancel_timers()
        self._registration.cancel()
        self._signalling.cancel_waiters()
        self._lifecycle.handle(LifecycleCause.DESTROY)
        self.emit("destroyed")
        self.remove_all_listeners()

    @property
    def ws_url(self) -> str | None:
        """The signalling server (WebSocket URL) in use, or last used; None before the first connection.

        With several URLs in the credentials (``ws_urls``) it changes on failover (``serverChange``).
        """
        return self._signalling.ws_url

    # ================================================================ the sans-I/O user agent

    def _dispatch(self, event: sip_events.Event) -> None:
        """A user-agent event (from the signalling's pump)."""
        if isinstance(event, sip_events.RegistrationChanged):
            self._registration.lost(event)
        elif isinstance(event, sip_events.IncomingCall):
            self._calls.incoming(event)
        elif isinstance(event, sip_events.MessageRejected):
            self._log.warning("rejected a malformed or unexpected SIP message: %s", event.error)
            self._emit_error(
                VoiceSDKError(ErrorCode.PROTOCOL_ERROR, f"ignored a bad SIP message: {event.error}")
            )
        elif isinstance(event, sip_events.RequestReceived):
            self._signalling.act(lambda ua, now: ua.respond(event.handle, 405, now))
        else:
            self._calls.route(event)

    # ================================================================ calls

    def _target_uri(self, to: object) -> str:
        credentials = self._registration.credentials
        return dial_target(to, credentials.aor().host if credentials is not None else None)

    def _ua_invite(self, target: str, sdp: str, headers: list[tuple[str, str]]) -> str:
        ua = self._signalling.ua
        if ua is None or self._destroyed:
            raise LocalProtocolError("the Device is not registered")
        return ua.invite(target, self._signalling.now(), sdp=sdp, headers=headers)

    # ================================================================ tabs

    def _tab_group(self) -> TabCoordinator:
        if not isinstance(self._tabs, TabCoordinator):
            group = self._options.multi_tab
            self._tabs = TabCoordinator(self._door, group=group if isinstance(group, str) else None)
        return self._tabs

    @property
    def tab_role(self) -> str | None:
        """With ``multi_tab``: ``"leader"``, ``"follower"`` or ``"idle"`` (not in a group); else None."""
        return self._tabs.role.value if isinstance(self._tabs, TabCoordinator) else None

    def emit(self, event: str, *args: Any) -> None:
        """Emit ``event`` to the handlers (a multi-tab leader also relays it to the other tabs)."""
        if self._tabs is not None:
            self._tabs.device_event(event, args)
        super().emit(event, *args)

    # ================================================================ sounds

    def _create_sound_player(self) -> SoundPlayer | None:
        if self._destroyed:
            return None
        factory = getattr(self.platform, "create_sound_player", None)
        return cast("SoundPlayer | None", factory()) if callable(factory) else None

    def _ice_servers(self) -> tuple[IceServer, ...]:
        if self._options.ice_servers is not None:
            return self._options.ice_servers
        credentials = self._registration.credentials
        return credentials.ice_servers if credentials is not None else ()

    # ================================================================ transport loss and reconnection

    def _transport_lost(self, code: int) -> None:
        if self._state in (DeviceState.REGISTERED, DeviceState.RECONNECTING):
            self._reconnection.start(reason=f"websocket closed ({code})")

    # ================================================================ tokens

    def _token_will_expire(self) -> None:
        if not self._destroyed:
            self.emit("tokenWillExpire")

    def _token_expired(self, error: TokenError) -> None:
        if not self._destroyed:
            self._emit_error(error)

    # ================================================================ helpers

    def _check_alive(self) -> None:
        if self._destroyed:
            raise VoiceSDKError(ErrorCode.DESTROYED, "this Device was destroyed")

    def _emit_error(self, error: VoiceSDKError) -> None:
        self._log.warning("device error: %s", error)
        self.emit("error", error)


class _DeviceDoor:
    """The Device's one door to what it owns: its calls (:class:`~.call.CallHost`), its tab link
    (:class:`~.tabs.TabHost`), preflight (:class:`~.preflight.PreflightHost`), its signalling
    (:class:`~.signalling.SignallingHost`), reconnection (:class:`~.reconnection.ReconnectionHost`) and
    audio devices (:class:`~.audio_devices.AudioDevicesHost`) and autoplay
    (:class:`~.autoplay.AutoplayHost`).

    Those modules see the Device only through these Protocols; this class, in the Device's own module, maps
    them onto the Device. It holds no state of its own.
    """

    __slots__ = ("_device",)

    def __init__(self, device: Device) -> None:
        self._device = device

    # -- shared

    @property
    def platform(self) -> Platform:
        return self._device.platform

    @property
    def logger(self) -> logging.Logger:
        return self._device.logger

    @property
    def options(self) -> DeviceOptions:
        return self._device._options

    @property
    def input_device_id(self) -> str | None:
        return self._device.input_device_id

    @property
    def output_device_id(self) -> str | None:
        return self._device.output_device_id

    def check_alive(self) -> None:
        self._device._check_alive()

    def ice_servers(self) -> tuple[IceServer, ...]:
        return self._device._ice_servers()

    async def connect(
        self,
        to: str,
        from_: str | None = None,
        caller_id: str | None = None,
        extra_headers: Iterable[str] = (),
    ) -> Call:
        return await self._device.connect(to, from_, caller_id, extra_headers)

    # -- CallHost

    @property
    def destroyed(self) -> bool:
        return self._device._destroyed

    @property
    def signalling_down(self) -> bool:
        return self._device._signalling.down

    @property
    def capture(self) -> MicrophoneCapture:
        return self._device._audio.capture

    def choose_input_device(self, device_id: str) -> None:
        self._device._audio.prefer_input(device_id)

    def watch_devices(self) -> None:
        self._device._audio.watch()

    def sip(self, action: Callable[[UserAgent, float], T]) -> T:
        return self._device._signalling.act(action)

    def invite(self, target: str, sdp: str, headers: list[tuple[str, str]]) -> str:
        return self._device._ua_invite(target, sdp, headers)

    def call_info(self, handle: str | None) -> CallInfo | None:
        return self._device._signalling.call_info(handle)

    def bind_call(self, handle: str, call: Call) -> None:
        self._device._calls.bind(handle, call)

    def call_finished(self, call: Call) -> None:
        self._device._calls.finished(call)

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        if self._device._tabs is not None:
            self._device._tabs.call_event(call, event, args)

    def call_action(self, call: Call, action: str) -> None:
        if self._device._tabs is not None:
            self._device._tabs.call_action(call, action)

    @property
    def sounds(self) -> DeviceSounds:
        return self._device._sounds

    def audio_blocked(self, error: VoiceSDKError, call: Call) -> None:
        self._device._autoplay.blocked(error, call)

    # -- TabHost

    @property
    def call_host(self) -> CallHost:
        return self

    @property
    def state(self) -> DeviceState:
        return self._device._lifecycle.state

    @property
    def calls(self) -> list[Call]:
        return self._device.calls

    def change_state(self, cause: LifecycleCause) -> None:
        self._device._lifecycle.handle(cause)

    def emit(self, event: str, *args: Any) -> None:
        self._device.emit(event, *args)

    def emit_error(self, error: VoiceSDKError) -> None:
        self._device._emit_error(error)

    async def prepare_registration(self) -> SipCredentials:
        return await self._device._registration.prepare()

    async def register_here(self) -> None:
        await self._device._registration.register()

    async def unregister_here(self) -> None:
        await self._device._registration.unregister()

    def arm_token_timers(self) -> None:
        self._device._registration.arm_token_timers()

    # -- RegistrationHost

    def watch_page(self) -> None:
        self._device._watch_page()

    def registered_alone(self, aor: str) -> None:
        if self._device._tabs is None:
            self._device._tabs = AnsweredElsewhere.open(self, aor)

    # -- DeviceCallsHost

    def pump(self) -> None:
        self._device._signalling.pump()

    def call_added(self, call: Call) -> None:
        if self._device._tabs is not None:
            self._device._tabs.call_added(call)

    # -- SignallingHost

    def on_sip_event(self, event: sip_events.Event) -> None:
        self._device._dispatch(event)

    def transport_lost(self, code: int) -> None:
        self._device._transport_lost(code)

    def server_changed(self, current: str | None, previous: str | None) -> None:
        self._device.emit("serverChange", {"ws_url": current, "previous": previous})

    # -- ReconnectionHost

    async def renew_credentials(self) -> None:
        await self._device._registration.renew_credentials()

    def cancel_token_timers(self) -> None:
        self._device._access_token.cancel_timers()

    # -- AudioDevicesHost

    def device_changed(self) -> None:
        self._device.emit("deviceChange")

