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

Doors: the Device owns its calls, its tab link and preflight, and they see it only through typed
Protocols (:class:`~.call.CallHost`, :class:`~.tabs.TabHost`, :class:`~.preflight.PreflightHost`),
all three served by one door object (``_DeviceDoor``, at the end of this module); the Device acts on a
call through :class:`~.call.CallControl`, and calls the user agent with typed ``action(ua, now)``
functions run by the driver. Nothing here or there touches another module's private members.

``register()`` is idempotent while registering (field lesson §B-5): a second call awaits the first.
Reconnection (field lessons §B-1..4): when the WebSocket drops, calls stay up; the Device reconnects with
exponential back-off and full jitter (an attempt at once on the browser's ``online`` event; after
``reconnect_max_attempts`` it gives up and is ``unregistered``), re-REGISTERs with the same
Contact, ``+sip.instance`` and ``reg-id``, then every established call sends a re-INVITE with an ICE
restart, which refreshes the peer's remote target and the media path; ``reconnecting``/``reconnected`` are
emitted on the Device and on each call. Tokens (§B-6/7): ``update_token()`` only swaps the token and re-arms
``tokenWillExpire``; it never touches media or re-registers.

Several tabs (§B-15, :mod:`.tabs`): by default each tab registers on its own and tells the others over a
BroadcastChannel when it accepts a call, so they stop ringing at once. With ``multi_tab`` the tabs of a
group elect a leader (Web Locks) that alone registers; ``register()``, ``unregister()``, ``destroy()`` and a
follower's ``connect()`` go through :class:`~.tabs.TabCoordinator`, and the hooks of
:class:`~.tabs.TabLink` (called from ``emit`` and from the calls' door) let it mirror the leader's events to
the followers.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from .audio_capture import MicrophoneCapture, parse_audio_constraints, parse_audio_processor
from .call import Call, CallControl, CallDirection, CallHost
from .codec_preferences import parse_codec_preferences
from .credentials import SipCredentials, fetch_credentials, is_loopback_host, parse_ice_servers
from .driver import UserAgentDriver
from .emitter import EventEmitter
from .errors import AuthError, ErrorCode, MediaError, RegistrationError, TokenError, VoiceSDKError
from .ice import GATHERING_POLICIES
from .lifecycle import DeviceLifecycle, DeviceState, LifecycleCause
from .media_options import parse_call_media_options
from .options import DeviceOptions
from .page_lifecycle import PageLifecycle
from .platform import Disposable, IceServer, Platform, SignallingConnection, SoundPlayer
from .preflight import PreflightReport, run_preflight
from .signalling_servers import SignallingServers
from .sip import events as sip_events
from .sip.errors import LocalProtocolError, ParseError
from .sip.events import RegistrationState
from .sip.headers import Headers, canonical_name
from .sip.trace import redact_message
from .sip.uri import SipUri, parse_uri
from .sip.useragent import CallInfo, UserAgent, UserAgentConfig
from .sounds import DeviceSounds
from .tabs import AnsweredElsewhere, TabCoordinator, TabLink
from .token import ServerClock, TokenInfo, decode_token, looks_like_jwt, token_subject

__all__ = ["Device", "DeviceOptions", "DeviceState"]

T = TypeVar("T")

_DEVICE_NUMBERS = itertools.count(1)
"""Numbers the Devices of this page: Device N logs to ``twochat_voice_web.device.N``."""

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_LOG_LEVELS = {
    "silent": logging.CRITICAL + 10,
    "error": logging.ERROR,
    "warn": logging.WARNING,
    "info": logging.INFO,
    "debug": logging.DEBUG,
}
_HEADER_LINE = re.compile(r"^([!#$%&'*+\-.^_`|~0-9A-Za-z]+)\s*:\s*(.*)$")
#: Sound names (Twilio's): ringtone, ringback, disconnect tone and DTMF feedback.
SOUND_NAMES = frozenset(
    {
        "incoming",
        "outgoing",
        "disconnect",
        *(f"dtmf{d}" for d in "0123456789"),
        "dtmfs",
        "dtmfh",
        "dtmfa",
        "dtmfb",
        "dtmfc",
        "dtmfd",
    }
)
_RESERVED_HEADERS = frozenset(
    canonical_name(name).lower()
    for name in (
        "Via",
        "From",
        "To",
        "Call-ID",
        "CSeq",
        "Contact",
        "Content-Length",
        "Content-Type",
        "Max-Forwards",
        "Route",
        "Record-Route",
        "Session-Expires",
        "Min-SE",
    )
)
"""Headers the SDK's INVITE sets itself (by canonical name: a compact form such as ``x`` counts too)."""

CredentialsProvider = Callable[[str], Awaitable["SipCredentials | Mapping[str, Any]"]]


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


_MAX_RECONNECT_DELAY_MS = 600_000
_DEFAULT_RECONNECT_DELAY_MS = DeviceOptions.reconnect_max_delay_ms


def _reconnect_cap(max_delay_ms: object, former: object) -> int:
    """The back-off cap from ``reconnect_max_delay_ms`` and its former name ``reconnect_max_ms``."""
    if former is not None:
        if max_delay_ms not in (_DEFAULT_RECONNECT_DELAY_MS, former):
            raise _invalid("reconnect_max_ms is the former name of reconnect_max_delay_ms: give only one")
        max_delay_ms = former
    if (
        not isinstance(max_delay_ms, int)
        or isinstance(max_delay_ms, bool)
        or not 1 <= max_delay_ms <= _MAX_RECONNECT_DELAY_MS
    ):
        raise _invalid(f"reconnect_max_delay_ms must be an integer between 1 and {_MAX_RECONNECT_DELAY_MS}")
    return max_delay_ms


def parse_header_lines(lines: Iterable[object], what: str) -> tuple[tuple[str, str], ...]:
    """Validate raw ``"Name: value"`` header lines (or (name, value) pairs) before anything is sent."""
    out: list[tuple[str, str]] = []
    if isinstance(lines, str | bytes):
        raise _invalid(f"{what} must be a list of 'Name: value' strings, not a single string")
    for line in lines:
        if isinstance(line, tuple) and len(line) == 2:
            name, value = line
        elif isinstance(line, str):
            if any(ch in line for ch in "\r\n\x00"):
                raise _invalid(f"{what}: header lines may not contain CR, LF or NUL: {line[:40]!r}")
            match = _HEADER_LINE.match(line)
            if match is None:
                raise _invalid(f"{what}: {line[:60]!r} is not a 'Name: value' header line")
            name, value = match.group(1), match.group(2)
        else:
            raise _invalid(f"{what}: {line!r} is not a header line")
        if not isinstance(name, str) or not isinstance(value, str):
            raise _invalid(f"{what}: header names and values must be strings")
        if canonical_name(name).lower() in _RESERVED_HEADERS:
            raise _invalid(f"{what}: the SDK sets {name} itself")
        try:
            Headers([(name, value.strip())])
        except LocalProtocolError as exc:
            raise _invalid(f"{what}: {exc.message}") from None
        out.append((name, value.strip()))
    return tuple(out)


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
        if log_level not in _LOG_LEVELS:
            raise _invalid(f"log_level must be one of {', '.join(_LOG_LEVELS)}, got {log_level!r}")
        if not isinstance(allow_incoming_while_busy, bool):
            raise _invalid("allow_incoming_while_busy must be a bool")
        for name, value in (
            ("input_device_id", input_device_id),
            ("output_device_id", output_device_id),
            ("ringtone_url", ringtone_url),
        ):
            if value is not None and (not isinstance(value, str) or not value):
                raise _invalid(f"{name} must be a non-empty string or None")
        if (
            not isinstance(token_expiry_lead_ms, int)
            or isinstance(token_expiry_lead_ms, bool)
            or token_expiry_lead_ms < 0
        ):
            raise _invalid("token_expiry_lead_ms must be a non-negative integer")
        if (
            not isinstance(ice_gathering_timeout_ms, int)
            or isinstance(ice_gathering_timeout_ms, bool)
            or not 50 <= ice_gathering_timeout_ms <= 60_000
        ):
            raise _invalid("ice_gathering_timeout_ms must be an integer between 50 and 60000")
        if ice_gathering not in GATHERING_POLICIES:
            raise _invalid(f"ice_gathering must be one of {', '.join(map(repr, GATHERING_POLICIES))}")
        if dtmf_transport not in ("rfc4733", "info"):
            raise _invalid("dtmf_transport must be 'rfc4733' or 'info'")
        base = urlsplit(api_base_url) if isinstance(api_base_url, str) else None
        if base is None or base.scheme not in ("http", "https") or not base.netloc:
            raise _invalid(f"api_base_url must be an http(s) URL, got {api_base_url!r}")
        if base.scheme == "http" and not is_loopback_host(base.hostname or ""):
            raise _invalid("api_base_url must use https (http is allowed for loopback hosts only)")
        sound_items: list[tuple[str, str | bool]] = []
        if sounds is not None:
            if not isinstance(sounds, Mapping):
                raise _invalid("sounds must be a mapping of sound name to URL or False")
            for sound_name, sound_value in sounds.items():
                if sound_name not in SOUND_NAMES:
                    raise _invalid(f"unknown sound {sound_name!r}; known: {', '.join(sorted(SOUND_NAMES))}")
                if not isinstance(sound_value, bool) and not (isinstance(sound_value, str) and sound_value):
                    raise _invalid(f"sound {sound_name!r} must be a URL, True or False")
                sound_items.append((sound_name, sound_value))
        if ringtone_url is not None:
            sound_items.append(("incoming", ringtone_url))
        if not isinstance(multi_tab, bool) and not (
            isinstance(multi_tab, str) and 0 < len(multi_tab) <= 200 and multi_tab.isprintable()
        ):
            raise _invalid("multi_tab must be True, False or a group name (1-200 printable characters)")
        if not isinstance(close_protection, bool):
            raise _invalid("close_protection must be True or False")
        capture = MicrophoneCapture(
            parse_audio_constraints(audio_constraints), parse_audio_processor(audio_processor)
        )
        if credentials_provider is not None and not callable(credentials_provider):
            raise _invalid("credentials_provider must be an async callable (token) -> credentials")
        known_advanced = {
            "credentials_path",
            "register_timeout_ms",
            "reconnect_min_ms",
            "reconnect_max_ms",
            "reconnect_grace_ms",
            "register_expires",
        }
        unknown = set(advanced) - known_advanced
        if unknown:
            raise _invalid(f"unknown Device option(s): {', '.join(sorted(unknown))}")
        for name in (
            "register_timeout_ms",
            "reconnect_min_ms",
            "reconnect_max_ms",
            "reconnect_grace_ms",
            "register_expires",
        ):
            value = advanced.get(name)
            if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value <= 0):
                raise _invalid(f"{name} must be a positive integer")
        former_cap = advanced.pop("reconnect_max_ms", None)
        reconnect_max_delay_ms = _reconnect_cap(reconnect_max_delay_ms, former_cap)
        if reconnect_max_attempts is not None and (
            not isinstance(reconnect_max_attempts, int)
            or isinstance(reconnect_max_attempts, bool)
            or reconnect_max_attempts < 1
        ):
            raise _invalid("reconnect_max_attempts must be a positive integer, or None (never give up)")
        self._options = DeviceOptions(
            log_level=log_level,
            allow_incoming_while_busy=allow_incoming_while_busy,
            ice_servers=parse_ice_servers(list(ice_servers)) if ice_servers is not None else None,
            input_device_id=input_device_id,
            output_device_id=output_device_id,
            ringtone_url=ringtone_url,
            default_extra_headers=parse_header_lines(default_extra_headers, "default_extra_headers"),
            token_expiry_lead_ms=token_expiry_lead_ms,
            api_base_url=api_base_url.rstrip("/"),
            ice_gathering_timeout_ms=ice_gathering_timeout_ms,
            ice_gathering=ice_gathering,
            dtmf_transport=dtmf_transport,
            reconnect_max_delay_ms=reconnect_max_delay_ms,
            reconnect_max_attempts=reconnect_max_attempts,
            sounds=tuple(sound_items),
            multi_tab=multi_tab,
            codec_preferences=parse_codec_preferences(
                codec_preferences, max_average_bitrate=max_average_bitrate, dtx=dtx
            ),
            close_protection=close_protection,
            **{k: v for k, v in advanced.items() if v is not None},
        )
        if self._options.reconnect_min_ms > self._options.reconnect_max_delay_ms:
            raise _invalid("reconnect_min_ms must not exceed reconnect_max_delay_ms")
        self._log = logging.getLogger(f"twochat_voice_web.device.{next(_DEVICE_NUMBERS)}")
        self._log.setLevel(_LOG_LEVELS[log_level])
        self._token = token
        self._token_info: TokenInfo | None = None
        self._provider = credentials_provider
        self._platform = platform
        self._input_device_id = input_device_id
        self._output_device_id = output_device_id
        self._capture = capture
        self._lifecycle = DeviceLifecycle()
        self._destroyed = False
        self._door = _DeviceDoor(self)
        self._credentials: SipCredentials | None = None
        self._driver: UserAgentDriver | None = None
        self._conn: SignallingConnection | None = None
        self._ws_url: str | None = None
        self._servers: SignallingServers | None = None
        self._page: PageLifecycle | None = None
        self._token_timers: list[asyncio.Handle] = []
        self._server_clock = ServerClock()
        self._calls: dict[str, Call] = {}
        self._preparing: list[Call] = []
        self._register_task: asyncio.Future[None] | None = None
        self._reg_waiters: list[asyncio.Future[sip_events.RegistrationChanged]] = []
        self._reconnect_task: asyncio.Task[None] | None = None
        self._reconnect_wakeup: asyncio.Event | None = None
        self._online: Disposable | None = None
        self._signalling_down = False
        self._sounds = DeviceSounds(
            create_player=self._create_sound_player,
            overrides=self._options.sounds,
            output_device_id=lambda: self._output_device_id,
            on_blocked=self._on_sound_blocked,
            on_error=self._emit_error,
        )
        self._device_watch: Disposable | None = None
        self._gesture_wait: Disposable | None = None
        self._rng = random.Random()
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
        return [c for c in [*self._preparing, *self._calls.values()] if not c.ended]

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
        return any(call.status == "accepted" for call in self.calls)

    @property
    def token(self) -> str:
        """The current access token."""
        return self._token

    @property
    def identity(self) -> str | None:
        """Our SIP address of record, once credentials are known."""
        return self._credentials.sip_uri if self._credentials else None

    @property
    def caller_ids(self) -> list[dict[str, str]]:
        """Caller IDs from the credentials (``[{"uuid", "phone_number"}]``)."""
        if self._credentials is None:
            return []
        return [{"uuid": c.uuid, "phone_number": c.phone_number} for c in self._credentials.caller_ids]

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
        await self._register_here()

    async def _register_here(self) -> None:
        """Register this tab itself (the single-tab path; a multi-tab group's leader)."""
        self._check_alive()
        reconnecting = self._reconnect_task
        if self._state is DeviceState.RECONNECTING and reconnecting is not None and not reconnecting.done():
            # The reconnect loop owns the transport: a second registration would open a second WebSocket.
            await asyncio.wait({reconnecting})
            self._check_alive()
        if self._state is DeviceState.REGISTERED:
            return
        if self._register_task is not None and not self._register_task.done():
            await asyncio.shield(self._register_task)
            return
        self._token_info = self._check_token(self._token)
        self._watch_page()
        task = asyncio.ensure_future(self._register())
        self._register_task = task
        await asyncio.shield(task)

    async def unregister(self) -> None:
        """Remove the registration and close the WebSocket; ``connect()`` then gives ``NOT_REGISTERED``.

        Failures are reported as an ``UNREGISTER_ERROR`` event (non-fatal); the WebSocket closes anyway.
        With ``multi_tab`` this tab leaves its group: a leader unregisters and another tab takes over.
        """
        if isinstance(self._tabs, TabCoordinator) and not self._destroyed:
            await self._tabs.unregister()
        else:
            await self._unregister_here()
        if self._state is DeviceState.UNREGISTERED:
            self._cancel_token_timers()  # they follow the registration: register() arms them again

    async def _unregister_here(self) -> None:
        if self._destroyed or self._state is DeviceState.UNREGISTERED:
            return
        self._stop_reconnecting()
        ua = self._ua
        if (
            ua is not None
            and self._conn is not None
            and ua.registration_state is not RegistrationState.UNREGISTERED
        ):
            waiter = self._registration_waiter()
            ua.unregister(self._now())
            self._pump()
            try:
                await asyncio.wait_for(waiter, timeout=5.0)
            except (TimeoutError, asyncio.CancelledError):
                self._emit_error(
                    VoiceSDKError(
                        ErrorCode.UNREGISTER_ERROR, "the registrar did not confirm the unregistration"
                    )
                )
        self._close_transport()
        self._lifecycle.handle(LifecycleCause.UNREGISTER)
        self.emit("unregistered")

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
        if self._state is not DeviceState.REGISTERED or (self._ua is None and not follower):
            raise RegistrationError(
                ErrorCode.NOT_REGISTERED,
                "connect() needs a registered Device: await register() first",
            )
        target = self._target_uri(to)
        extra_lines = parse_header_lines(extra_headers, "extra_headers")
        headers = [*self._options.default_extra_headers, *extra_lines]
        if from_ is not None:
            if not isinstance(from_, str) or not _E164.fullmatch(from_):
                raise _invalid(f"from must be an E.164 number like +15551234567, got {from_!r}")
            headers.append(("X-2Chat-From", from_))
        if caller_id is not None:
            if not isinstance(caller_id, str) or not re.fullmatch(r"[A-Za-z0-9_\-]{1,64}", caller_id):
                raise _invalid(f"caller_id must be a caller-ID uuid like VCI..., got {caller_id!r}")
            headers.append(("X-2Chat-Caller-Id", caller_id))
        if isinstance(tabs, TabCoordinator) and follower:  # the leader places it: media plays there
            return await tabs.forward_connect(to, from_, caller_id, [f"{n}: {v}" for n, v in extra_lines])
        call = Call(self._door, direction=CallDirection.OUTBOUND, remote_identity=to)
        self._preparing.append(call)
        try:
            await CallControl(call).start_outbound(target, headers, media_options)
        finally:
            if call in self._preparing:
                self._preparing.remove(call)
        self._pump()
        self._call_added(call)
        return call

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
        self._watch_devices()
        return [
            {"device_id": d.device_id, "kind": d.kind, "label": d.label, "group_id": d.group_id}
            for d in await self.platform.media.list_devices()
        ]

    @property
    def is_output_selection_supported(self) -> bool:
        """True when this browser can route audio to a chosen speaker (``setSinkId``)."""
        return bool(self.platform.media.can_select_output)

    @property
    def input_device_id(self) -> str | None:
        """The microphone new calls use (None: the browser's default)."""
        return self._input_device_id

    @property
    def output_device_id(self) -> str | None:
        """The speaker new calls use (None: the browser's default)."""
        return self._output_device_id

    async def set_input_device(self, device_id: str | None) -> None:
        """Choose the microphone for new calls and switch the live calls to it (no renegotiation)."""
        self._check_alive()
        if device_id is not None and (not isinstance(device_id, str) or not device_id):
            raise _invalid("set_input_device() takes a device id or None")
        self._input_device_id = device_id
        for call in self.calls:
            if call.status == "accepted":
                await call.set_input_device(device_id or "default")

    @property
    def audio_constraints(self) -> dict[str, bool | int]:
        """The microphone constraints in force, by their Python names (``{}``: the browser's defaults)."""
        return self._capture.constraints.to_dict()

    async def set_audio_constraints(self, constraints: Mapping[str, Any]) -> None:
        """Use these microphone constraints (replacing the former ones) for new calls, and re-open the
        microphone of every live call with them (the sent track is swapped, no renegotiation), as
        Twilio's ``setAudioConstraints``. See :mod:`.audio_capture`.

        Raises:
            VoiceSDKError: ``INVALID_ARGUMENT`` for a bad constraint (nothing changes); ``MEDIA_*`` when a
                live call's microphone cannot be re-opened (that call keeps its former microphone).
        """
        self._check_alive()
        if self._capture.set_constraints(parse_audio_constraints(constraints)):
            await self._capture_changed()

    async def unset_audio_constraints(self) -> None:
        """Back to the browser's default constraints (Twilio's ``unsetAudioConstraints``), for new calls and
        the live ones, as :meth:`set_audio_constraints`."""
        await self.set_audio_constraints({})

    async def _capture_changed(self) -> None:
        failures: list[VoiceSDKError] = []
        for call in self.calls:
            try:
                await CallControl(call).capture_changed()
            except VoiceSDKError as exc:
                failures.append(exc)
        if failures:
            raise failures[0]

    async def set_output_device(self, device_id: str) -> None:
        """Choose the speaker for new calls, the live calls and the SDK's sounds.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` where the browser cannot choose (no setSinkId).
        """
        self._check_alive()
        if not isinstance(device_id, str) or not device_id:
            raise _invalid("set_output_device() takes a device id")
        if not self.platform.media.can_select_output:
            raise MediaError(
                ErrorCode.OUTPUT_DEVICE_UNSUPPORTED,
                "this browser cannot choose the audio output (no setSinkId)",
            )
        self._output_device_id = device_id
        for call in self.calls:
            if call.status == "accepted":
                await call.set_output_device(device_id)
        await self._sounds.set_output(device_id)

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

    def _watch_devices(self) -> None:
        if self._device_watch is None and not self._destroyed:
            self._device_watch = self.platform.media.on_device_change(self._on_device_change)

    def _on_device_change(self) -> None:
        if self._destroyed:
            return
        self.emit("deviceChange")
        for call in self.calls:
            CallControl(call).devices_changed()

    async def update_token(self, token: str) -> None:
        """Swap in a fresh token: no re-registration, no media change; re-arms ``tokenWillExpire``.

        The token must be for the same user: a JWT whose ``sub`` differs from the current token's is
        refused, and nothing changes.

        Raises:
            TokenError: ``TOKEN_INVALID`` (malformed, or for another user), ``TOKEN_EXPIRED``.
        """
        self._check_alive()
        info = self._check_token(token)
        current = self._token_info.subject if self._token_info is not None else token_subject(self._token)
        if current is not None and info.subject is not None and info.subject != current:
            raise TokenError(
                ErrorCode.TOKEN_INVALID,
                f"update_token(): this token is for user {info.subject!r}, but the Device is {current!r}; "
                "a token for another user needs its own Device",
            )
        self._token = token
        self._token_info = info
        self._arm_token_timers()

    def destroy(self) -> None:
        """Hang up every call, drop the registration (best effort), close everything, forget handlers."""
        if self._destroyed:
            return
        for call in list(self.calls):
            CallControl(call).finish_destroyed()
        ua = self._ua
        if ua is not None and self._conn is not None:
            for handle in ua.calls:
                with contextlib.suppress(LocalProtocolError):
                    ua.hangup(handle, self._now())
            if ua.registration_state is RegistrationState.REGISTERED:
                ua.unregister(self._now())
            if self._driver is not None:
                self._driver.flush()
        self._destroyed = True
        tabs, self._tabs = self._tabs, None
        if tabs is not None:
            tabs.close()
        self._sounds.close()
        if self._device_watch is not None:
            self._device_watch.dispose()
            self._device_watch = None
        if self._page is not None:
            self._page.close()
            self._page = None
        if self._gesture_wait is not None:
            self._gesture_wait.dispose()
            self._gesture_wait = None
        self._stop_reconnecting()
        self._close_transport()
        if self._driver is not None:
            self._driver.close()
        self._cancel_token_timers()
        if self._register_task is not None and not self._register_task.done():
            self._register_task.cancel()
        for waiter in self._reg_waiters:
            if not waiter.done():
                waiter.cancel()
        self._lifecycle.handle(LifecycleCause.DESTROY)
        self.emit("destroyed")
        self.remove_all_listeners()

    # ================================================================ registration

    def _check_token(self, token: str) -> TokenInfo:
        return decode_token(
            token,
            now=self._server_clock.now(),
            require_jwt=self._provider is None or looks_like_jwt(token),
        )

    async def _register(self) -> None:
        if self._state is not DeviceState.REGISTERING:  # a multi-tab follower said it already
            self._lifecycle.handle(LifecycleCause.REGISTER)
            self.emit("registering")
        try:
            credentials = await self._load_credentials()
            self._build_user_agent(credentials)
            await self._open_transport()
            event = await self._run_registration()
        except BaseException:
            self._close_transport()
            if not self._destroyed:
                self._lifecycle.handle(LifecycleCause.REGISTER_FAILED)
            raise
        del event
        self._lifecycle.handle(LifecycleCause.REGISTERED)
        self._arm_token_timers()
        if self._tabs is None and self._options.multi_tab is False and self._credentials is not None:
            self._tabs = AnsweredElsewhere.open(self._door, str(self._credentials.aor()))
        self.emit("registered")

    async def _load_credentials(self) -> SipCredentials:
        if self._provider is not None:
            try:
                result = await self._provider(self._token)
            except VoiceSDKError:
                raise
            except Exception as exc:
                raise VoiceSDKError(
                    ErrorCode.CONFIG_FETCH_FAILED, f"the credentials provider failed: {exc}", exc
                ) from None
            credentials = (
                SipCredentials.from_mapping(result) if not isinstance(result, SipCredentials) else result
            )
        else:
            credentials = await fetch_credentials(
                self.platform,
                self._options.api_base_url,
                self._token,
                path=self._options.credentials_path,
                clock=self._server_clock,
            )
        for url in credentials.all_ws_urls:
            ws = urlsplit(url)
            if ws.scheme == "ws" and not is_loopback_host(ws.hostname or ""):
                raise VoiceSDKError(
                    ErrorCode.CONFIG_FETCH_FAILED,
                    f"credentials field 'ws_url': refusing insecure ws:// to {ws.hostname}: use wss:// "
                    "(ws:// is for loopback only)",
                )
        SignallingServers(credentials.all_ws_urls)  # validates the list before anything changes
        self._credentials = credentials
        return credentials

    def _build_user_agent(self, credentials: SipCredentials) -> None:
        if self._ua is not None and self._credentials_match(credentials):
            self._use_servers(credentials)
            return
        aor = credentials.aor()
        transport = "WSS" if credentials.ws_url.lower().startswith("wss:") else "WS"
        if self._driver is not None:
            self._driver.close()
        ua = UserAgent(
            UserAgentConfig(
                aor=aor,
                display_name=credentials.display_name,
                username=credentials.username,
                password=credentials.password,
                transport=transport,
                register_expires=self._options.register_expires,
            )
        )
        self._driver = UserAgentDriver(ua, on_event=self._dispatch)
        self._ua_credentials = (credentials.username, credentials.password, credentials.sip_uri)
        self._use_servers(credentials)

    def _use_servers(self, credentials: SipCredentials) -> None:
        """Take the credentials' WebSocket URLs (kept as they are when the list did not change)."""
        if self._servers is None or not self._servers.same_list(credentials.all_ws_urls):
            self._servers = SignallingServers(credentials.all_ws_urls)
        self._ws_url = self._servers.current

    @property
    def ws_url(self) -> str | None:
        """The signalling server (WebSocket URL) in use, or last used; None before the first connection.

        With several URLs in the credentials (``ws_urls``) it changes on failover (``serverChange``).
        """
        return self._servers.connected if self._servers is not None else None

    def _credentials_match(self, credentials: SipCredentials) -> bool:
        return getattr(self, "_ua_credentials", None) == (
            credentials.username,
            credentials.password,
            credentials.sip_uri,
        )

    async def _open_transport(self) -> None:
        """Open the WebSocket; a failure is ``REGISTER_ERROR`` with the platform's error as ``cause``."""
        assert self._servers is not None
        try:
            self._conn, previous = await self._servers.connect(
                lambda url: self.platform.open_signalling(
                    url, on_message=self._on_frame, on_close=self._on_transport_closed, timeout=10.0
                )
            )
        except VoiceSDKError as exc:
            raise RegistrationError(
                ErrorCode.REGISTER_ERROR, f"could not open the WebSocket: {exc.message}", exc
            ) from None
        if self._driver is not None:
            self._driver.writer = self._write
        self._signalling_down = False
        self._ws_url = self._servers.current
        if previous != self._ws_url:
            self.emit("serverChange", {"ws_url": self._ws_url, "previous": previous})

    async def _run_registration(self) -> sip_events.RegistrationChanged:
        ua = self._ua
        assert ua is not None
        waiter = self._registration_waiter()
        if ua.connected:
            ua.register(self._now())
        else:
            ua.transport_restored(self._now())
            if ua.registration_state is RegistrationState.UNREGISTERED:
                ua.register(self._now())
        self._pump()
        try:
            event = await asyncio.wait_for(waiter, timeout=self._options.register_timeout_ms / 1000)
        except TimeoutError:
            seconds = self._options.register_timeout_ms / 1000
            timeout = VoiceSDKError(ErrorCode.TIMEOUT, f"no final answer to REGISTER within {seconds:g} s")
            raise RegistrationError(
                ErrorCode.REGISTRATION_FAILED, "the registrar did not answer in time", timeout
            ) from None
        if event.state is not RegistrationState.REGISTERED:
            raise self._registration_error(event)
        return event

    def _registration_error(self, event: sip_events.RegistrationChanged) -> VoiceSDKError:
        code = event.status_code
        if code in (401, 403, 407):
            return AuthError(
                None, f"the SIP server refused our credentials ({code} {event.reason or ''})".strip(), code
            )
        if code is None and event.reason in ("transport", "transport lost"):
            return RegistrationError(
                ErrorCode.REGISTER_ERROR,
                "the connection closed while registering",
                event.reason,
            )
        return RegistrationError(None, f"REGISTER failed: {code or ''} {event.reason or ''}".strip(), code)

    def _registration_waiter(self) -> asyncio.Future[sip_events.RegistrationChanged]:
        waiter: asyncio.Future[sip_events.RegistrationChanged] = asyncio.get_event_loop().create_future()
        self._reg_waiters.append(waiter)
        return waiter

    def _on_registration_changed(self, event: sip_events.RegistrationChanged) -> None:
        final = event.state in (RegistrationState.REGISTERED, RegistrationState.UNREGISTERED)
        if final:
            waiters, self._reg_waiters = self._reg_waiters, []
            for waiter in waiters:
                if not waiter.done():
                    waiter.set_result(event)
            if waiters:
                return
        if (
            event.state is RegistrationState.UNREGISTERED
            and self._state is DeviceState.REGISTERED
            and event.reason != "transport lost"
        ):
            # A refresh failed while the transport is up: report it and try to register again.
            self._emit_error(self._registration_error(event))
            self._lifecycle.handle(LifecycleCause.REGISTRATION_LOST)
            self.emit("unregistered")
            self._start_reconnecting(reason="registration lost")

    # ================================================================ the sans-I/O user agent

    @property
    def _ua(self) -> UserAgent | None:
        return self._driver.ua if self._driver is not None else None

    def _now(self) -> float:
        return asyncio.get_event_loop().time()

    def _on_frame(self, data: bytes) -> None:
        if self._driver is None or self._destroyed:
            return
        self._trace("received", data)
        self._driver.receive_data(data)

    def _pump(self) -> None:
        if self._driver is not None:
            self._driver.pump()

    def _write(self, data: bytes) -> None:
        """The driver's writer while the WebSocket is open."""
        conn = self._conn
        if conn is None:
            return
        self._trace("sent", data)
        try:
            conn.send(data)
        except Exception as exc:
            self._log.warning("WebSocket send failed: %s", exc)
            self._on_transport_closed(1006, "send failed")

    def _trace(self, direction: str, data: bytes) -> None:
        """At ``debug``: log one SIP message, secrets redacted."""
        if self._log.isEnabledFor(logging.DEBUG):
            self._log.debug("SIP %s (%d bytes):\n%s", direction, len(data), redact_message(data))

    def _dispatch(self, event: sip_events.Event) -> None:
        if isinstance(event, sip_events.RegistrationChanged):
            self._on_registration_changed(event)
        elif isinstance(event, sip_events.IncomingCall):
            self._on_incoming(event)
        elif isinstance(event, sip_events.MessageRejected):
            self._log.warning("rejected a malformed or unexpected SIP message: %s", event.error)
            self._emit_error(
                VoiceSDKError(ErrorCode.PROTOCOL_ERROR, f"ignored a bad SIP message: {event.error}")
            )
        elif isinstance(event, sip_events.RequestReceived):
            self._ua_respond(event.handle, 405)
        else:
            handle = getattr(event, "call", None)
            call = self._calls.get(handle) if isinstance(handle, str) else None
            if call is not None:
                CallControl(call).on_sip_event(event)

    # ================================================================ calls

    def _on_incoming(self, event: sip_events.IncomingCall) -> None:
        ua = self._ua
        assert ua is not None
        custom: dict[str, str] = {}
        for name, value in event.request.headers:
            if name.lower().startswith("x-2chat-") and len(name) > 8:
                custom[name[8:]] = value
        remote = event.remote.uri
        identity = str(remote)
        if isinstance(remote, SipUri) and remote.user and _E164.fullmatch(remote.user):
            identity = remote.user
        if self.is_busy and not self._options.allow_incoming_while_busy:
            ua.reject(event.call, self._now(), status_code=486)
            self._log.info(
                "rejected the incoming call from %s with 486 Busy Here: a call is in progress "
                "(allow_incoming_while_busy is False)",
                identity,
            )
            self.emit(
                "incomingRejected",
                {
                    "reason": "busy",
                    "status_code": 486,
                    "remote_identity": identity,
                    "remote_display_name": event.remote.display_name,
                    "custom_headers": custom,
                    "sip_call_id": event.request.call_id,
                },
            )
            return
        call = Call(
            self._door,
            direction=CallDirection.INBOUND,
            remote_identity=identity,
            custom_headers=custom,
            remote_display_name=event.remote.display_name,
            sip_call_id=event.request.call_id,
            handle=event.call,
            remote_offer=event.sdp,
        )
        self._calls[event.call] = call
        ua.ring(event.call, self._now())
        self._sounds.start_ringtone(call)
        self.emit("incoming", call)

    def _target_uri(self, to: object) -> str:
        if not isinstance(to, str) or not to.strip():
            raise _invalid("to must be an E.164 number or a sip:/sips: URI")
        to = to.strip()
        if _E164.fullmatch(to):
            assert self._credentials is not None
            domain = self._credentials.aor().host
            return f"sip:{to}@{domain}"
        if to.lower().startswith(("sip:", "sips:")):
            if any(ch in to for ch in "\r\n\x00 "):
                raise _invalid("the destination URI contains spaces or control characters")
            try:
                uri = parse_uri(to)
            except ParseError as exc:
                raise _invalid(f"the destination is not a valid SIP URI: {exc.message}") from None
            if not isinstance(uri, SipUri) or not uri.host:
                raise _invalid("the destination is not a valid SIP URI")
            return str(uri)
        raise _invalid(f"to must be an E.164 number (like +15551234567) or a sip:/sips: URI, got {to!r}")

    def _ua_invite(self, target: str, sdp: str, headers: list[tuple[str, str]]) -> str:
        ua = self._ua
        if ua is None or self._destroyed:
            raise LocalProtocolError("the Device is not registered")
        return ua.invite(target, self._now(), sdp=sdp, headers=headers)

    def _bind_call(self, handle: str, call: Call) -> None:
        self._calls[handle] = call

    def _sip_call_id(self, handle: str) -> str | None:
        info = self._call_info(handle)
        return info.call_id if info is not None else None

    def _call_info(self, handle: str | None) -> CallInfo | None:
        if self._ua is None or handle is None:
            return None
        try:
            return self._ua.call_info(handle)
        except LocalProtocolError:
            return None

    def _sip(self, action: Callable[[UserAgent, float], T]) -> T:
        """Run ``action(user_agent, now)`` through the driver (which pumps afterwards)."""
        driver = self._driver
        if driver is None:
            raise VoiceSDKError(ErrorCode.INVALID_STATE, "the Device has no SIP session")
        return driver.act(action)

    def _ua_respond(self, handle: str, status: int) -> None:
        if self._ua is not None:
            self._ua.respond(handle, status, self._now())

    def _call_finished(self, call: Call) -> None:
        self._sounds.forget(call)
        for handle, known in list(self._calls.items()):
            if known is call:
                del self._calls[handle]

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

    def _call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        if self._tabs is not None:
            self._tabs.call_event(call, event, args)

    def _call_added(self, call: Call) -> None:
        if self._tabs is not None:
            self._tabs.call_added(call)

    def _call_action(self, call: Call, action: str) -> None:
        if self._tabs is not None:
            self._tabs.call_action(call, action)

    # ================================================================ sounds

    def _create_sound_player(self) -> SoundPlayer | None:
        if self._destroyed:
            return None
        factory = getattr(self.platform, "create_sound_player", None)
        return cast("SoundPlayer | None", factory()) if callable(factory) else None

    def _on_sound_blocked(self, name: str) -> None:
        self._audio_blocked(
            VoiceSDKError(
                ErrorCode.AUTOPLAY_BLOCKED,
                f"the browser blocked the {name!r} sound until the user interacts with the page",
            )
        )

    def _audio_blocked(self, error: VoiceSDKError, call: Call | None = None) -> None:
        """Autoplay refused: report it once, then resume everything on the next user gesture."""
        if self._gesture_wait is not None or self._destroyed:
            return
        if call is not None:
            CallControl(call).emit_error(error)
        self._emit_error(error)
        try:
            self._gesture_wait = self.platform.on_user_gesture(self._on_user_gesture)
        except Exception:  # a platform with no notion of gestures
            self._gesture_wait = None

    def _on_user_gesture(self) -> None:
        self._gesture_wait = None
        if self._destroyed:
            return
        for call in self.calls:
            CallControl(call).resume_audio()
        self._sounds.replay()

    def _ice_servers(self) -> tuple[IceServer, ...]:
        if self._options.ice_servers is not None:
            return self._options.ice_servers
        return self._credentials.ice_servers if self._credentials is not None else ()

    # ================================================================ transport loss and reconnection

    def _on_transport_closed(self, code: int, reason: str) -> None:
        if self._destroyed or self._conn is None:
            return
        self._log.warning("signalling connection closed (%s %s)", code, reason)
        self._conn = None
        self._signalling_down = True
        if self._servers is not None:
            self._servers.rotate()  # reconnect to the next server first
        if self._driver is not None:
            self._driver.writer = None
            self._driver.transport_lost()
        if self._state in (DeviceState.REGISTERED, DeviceState.RECONNECTING):
            self._start_reconnecting(reason=f"websocket closed ({code})")

    def _start_reconnecting(self, *, reason: str) -> None:
        if self._destroyed or (self._reconnect_task is not None and not self._reconnect_task.done()):
            return
        self._lifecycle.handle(LifecycleCause.RECONNECT)
        self.emit("reconnecting", {"reason": reason})
        for call in self.calls:
            CallControl(call).signalling_lost()
        if self._online is None:
            try:
                self._online = self.platform.on_online(self._wake_reconnect)
            except Exception:  # a platform without the notion of "online"
                self._online = None
        self._reconnect_wakeup = asyncio.Event()
        self._reconnect_task = asyncio.ensure_future(self._reconnect_loop())

    def _wake_reconnect(self) -> None:
        if self._reconnect_wakeup is not None:
            self._reconnect_wakeup.set()

    async def _reconnect_loop(self) -> None:
        """Attempt after attempt, each after a back-off delay (or at once on ``online``), up to the limit."""
        limit = self._options.reconnect_max_attempts
        attempts = 0
        step = 0  # the back-off exponent; the browser's "online" event starts it again
        last_error: VoiceSDKError | None = None
        while not self._destroyed:
            if limit is not None and attempts >= limit:
                self._give_up_reconnecting(attempts, last_error)
                return
            wakeup = self._reconnect_wakeup
            if wakeup is not None:
                if not wakeup.is_set():
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(wakeup.wait(), timeout=self._backoff(step))
                if wakeup.is_set():  # "online" (now, or during the last attempt): try at once
                    wakeup.clear()
                    step = 0
            step += 1
            attempts += 1
            try:
                if self._conn is None:
                    await self._open_transport()
                await self._run_registration()
            except AuthError as exc:
                self._log.info("reconnect attempt %d: the server refused the credentials: %s", attempts, exc)
                last_error = await self._refresh_credentials() or exc
                continue
            except VoiceSDKError as exc:
                self._log.info("reconnect attempt %d failed: %s", attempts, exc)
                last_error = exc
                self._close_transport(keep_ua=True)
                continue
            self._lifecycle.handle(LifecycleCause.RECONNECTED)
            self.emit("reconnected")
            self.emit("registered")
            for call in self.calls:
                CallControl(call).signalling_restored()
            return

    async def _refresh_credentials(self) -> VoiceSDKError | None:
        """The server refused our credentials on reconnect: fetch fresh ones (they may have rotated).

        Returns the error (also emitted) when they could not be fetched; the back-off then waits as usual.
        """
        try:
            self._check_token(self._token)
            credentials = await self._load_credentials()
        except VoiceSDKError as exc:
            self._emit_error(exc)
            return exc
        if self._ua is not None and not self._credentials_match(credentials):
            self._ua.update_credentials(username=credentials.username, password=credentials.password)
            self._ua_credentials = (credentials.username, credentials.password, credentials.sip_uri)
        self._use_servers(credentials)
        return None

    def _backoff(self, attempt: int) -> float:
        """Exponential back-off with full jitter: a random delay in [0, min(cap, base * 2**attempt)] s.

        Full jitter spreads the reconnections of many pages that lost the same server (no thundering herd).
        """
        base = self._options.reconnect_min_ms / 1000
        cap = self._options.reconnect_max_delay_ms / 1000
        ceiling = min(cap, base * (1 << min(attempt, 30)))
        return self._rng.uniform(0.0, ceiling)

    def _give_up_reconnecting(self, attempts: int, last_error: VoiceSDKError | None) -> None:
        """The last attempt failed: end the calls, report a terminal error, be ``unregistered``."""
        if self._online is not None:
            self._online.dispose()
            self._online = None
        self._reconnect_wakeup = None
        detail = f" (last: {last_error.message})" if last_error is not None else ""
        for call in list(self.calls):
            CallControl(call).reconnect_failed(
                VoiceSDKError(
                    ErrorCode.TRANSPORT_ERROR,
                    f"the Device gave up reconnecting after {attempts} attempt(s){detail}",
                    last_error,
                )
            )
        self._close_transport()
        self._cancel_token_timers()
        self._lifecycle.handle(LifecycleCause.GIVE_UP)
        self._log.error("gave up reconnecting after %d attempt(s)%s", attempts, detail)
        self.emit(
            "error",
            RegistrationError(
                ErrorCode.REGISTRATION_FAILED,
                f"gave up reconnecting after {attempts} attempt(s){detail}; call register() to try again",
                last_error,
            ),
        )
        self.emit("unregistered")

    def _stop_reconnecting(self) -> None:
        if self._reconnect_task is not None and not self._reconnect_task.done():
            self._reconnect_task.cancel()
        self._reconnect_task = None
        if self._online is not None:
            self._online.dispose()
            self._online = None

    def _close_transport(self, *, keep_ua: bool = False) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            conn.close()
        self._signalling_down = True
        if self._driver is not None:
            self._driver.writer = None
            if not keep_ua:
                self._driver.cancel_timer()
        if self._ua is not None and self._ua.connected:
            self._ua.transport_lost(self._now())
            self._ua.events()  # the registration loss is ours, not news

    # ================================================================ tokens

    def _arm_token_timers(self) -> None:
        """(Re)start ``tokenWillExpire``/``TOKEN_EXPIRED`` for the current token, while registered.

        ``exp`` is judged on the server's clock (:class:`~.token.ServerClock`); the timers themselves run
        on the loop's monotonic clock, so a later change of the page's clock does not move them.
        """
        self._cancel_token_timers()
        info = self._token_info
        if info is None or self._destroyed:
            return
        self._server_clock.observe_issued_at(info.issued_at)
        if info.expires_at is None or self._state not in (DeviceState.REGISTERED, DeviceState.RECONNECTING):
            return
        loop = asyncio.get_event_loop()
        left = info.expires_at - self._server_clock.now()
        lead = self._options.token_expiry_lead_ms / 1000
        self._token_timers.append(loop.call_later(max(0.0, left - lead), self._token_will_expire, info.raw))
        self._token_timers.append(loop.call_later(max(0.0, left), self._token_expired, info.raw))

    def _cancel_token_timers(self) -> None:
        for timer in self._token_timers:
            timer.cancel()
        self._token_timers.clear()

    def _token_will_expire(self, raw: str) -> None:
        if raw == self._token and not self._destroyed:
            self.emit("tokenWillExpire")

    def _token_expired(self, raw: str) -> None:
        if raw == self._token and not self._destroyed:
            self._emit_error(
                TokenError(
                    ErrorCode.TOKEN_EXPIRED,
                    "the access token expired; call update_token() with a fresh one",
                )
            )

    # ================================================================ helpers

    def _check_alive(self) -> None:
        if self._destroyed:
            raise VoiceSDKError(ErrorCode.DESTROYED, "this Device was destroyed")

    def _emit_error(self, error: VoiceSDKError) -> None:
        self._log.warning("device error: %s", error)
        self.emit("error", error)


class _DeviceDoor:
    """The Device's one door to what it owns: its calls (:class:`~.call.CallHost`), its tab link
    (:class:`~.tabs.TabHost`) and preflight (:class:`~.preflight.PreflightHost`).

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
        return self._device._signalling_down

    @property
    def capture(self) -> MicrophoneCapture:
        return self._device._capture

    def choose_input_device(self, device_id: str) -> None:
        self._device._input_device_id = device_id

    def watch_devices(self) -> None:
        self._device._watch_devices()

    def sip(self, action: Callable[[UserAgent, float], T]) -> T:
        return self._device._sip(action)

    def invite(self, target: str, sdp: str, headers: list[tuple[str, str]]) -> str:
        return self._device._ua_invite(target, sdp, headers)

    def call_info(self, handle: str | None) -> CallInfo | None:
        return self._device._call_info(handle)

    def bind_call(self, handle: str, call: Call) -> None:
        self._device._bind_call(handle, call)

    def call_finished(self, call: Call) -> None:
        self._device._call_finished(call)

    def call_event(self, call: Call, event: str, args: tuple[Any, ...]) -> None:
        self._device._call_event(call, event, args)

    def call_action(self, call: Call, action: str) -> None:
        self._device._call_action(call, action)

    def start_ringtone(self, call: Call) -> None:
        self._device._sounds.start_ringtone(call)

    def stop_ringtone(self, call: Call) -> None:
        self._device._sounds.stop_ringtone(call)

    def start_ringback(self, call: Call) -> None:
        self._device._sounds.start_ringback(call)

    def stop_ringback(self, call: Call) -> None:
        self._device._sounds.stop_ringback(call)

    def play_dtmf(self, digit: str) -> None:
        self._device._sounds.play_dtmf(digit)

    def play_disconnect(self) -> None:
        self._device._sounds.play_disconnect()

    def audio_blocked(self, error: VoiceSDKError, call: Call) -> None:
        self._device._audio_blocked(error, call)

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
        device = self._device
        device._token_info = device._check_token(device._token)
        return await device._load_credentials()

    async def register_here(self) -> None:
        await self._device._register_here()

    async def unregister_here(self) -> None:
        await self._device._unregister_here()

    def arm_token_timers(self) -> None:
        self._device._arm_token_timers()
