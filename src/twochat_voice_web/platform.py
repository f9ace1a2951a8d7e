"""The seam between the SDK's logic and the runtime it runs on.

:class:`~twochat_voice_web.device.Device` and :class:`~twochat_voice_web.call.Call` never touch JavaScript:
they talk to a :class:`Platform`, which gives them a signalling WebSocket, HTTP, peer connections, the
microphone and an audio output. In the browser the platform is
:class:`twochat_voice_web.browser.BrowserPlatform` (the only code that imports ``js``/``pyodide``); in CPython
tests it is an in-memory or aiohttp-based implementation. Timers and futures are plain :mod:`asyncio`, which
Pyodide runs on the browser's event loop.

Every object a platform hands out has an owner that disposes of it: connections are closed, peer connections
closed, microphones stopped, listeners disposed. The browser platform counts the JS proxies it holds
(:meth:`Platform.live_proxies`) so tests can check that nothing leaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from .errors import VoiceSDKError

if TYPE_CHECKING:
    from .audio_capture import AudioConstraints, AudioProcessor
    from .codec_preferences import CodecPreferences

__all__ = [
    "AudioOutput",
    "DeviceInfo",
    "Disposable",
    "HttpResponse",
    "IceServer",
    "LocalAudio",
    "MediaDevices",
    "PeerConnection",
    "PeerConnectionOptions",
    "Platform",
    "SignallingConnection",
    "SoundPlayer",
    "TabChannel",
    "parse_http_date",
]


@runtime_checkable
class Disposable(Protocol):
    """Something to release: a listener, a subscription."""

    def dispose(self) -> None:
        """Release it (idempotent)."""


@dataclass(frozen=True, slots=True)
class IceServer:
    """One STUN/TURN server, as RTCIceServer."""

    urls: tuple[str, ...]
    username: str | None = None
    credential: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The RTCIceServer dictionary."""
        out: dict[str, Any] = {"urls": list(self.urls)}
        if self.username is not None:
            out["username"] = self.username
        if self.credential is not None:
            out["credential"] = self.credential
        return out


@dataclass(frozen=True, slots=True)
class DeviceInfo:
    """A media device from ``enumerateDevices()``."""

    device_id: str
    kind: str  #: "audioinput" or "audiooutput"
    label: str
    group_id: str = ""


_MONTHS = {
    name: number
    for number, name in enumerate(
        ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1
    )
}
_TIME = r"(\d{2}):(\d{2}):(\d{2})"
_IMF_FIXDATE = re.compile(rf"^[A-Za-z]{{3}}, (\d{{2}}) ([A-Za-z]{{3}}) (\d{{4}}) {_TIME} GMT$")
_RFC850_DATE = re.compile(rf"^[A-Za-z]{{6,9}}, (\d{{2}})-([A-Za-z]{{3}})-(\d{{2}}) {_TIME} GMT$")
_ASCTIME_DATE = re.compile(rf"^[A-Za-z]{{3}} ([A-Za-z]{{3}}) ([ \d]\d) {_TIME} (\d{{4}})$")


def parse_http_date(value: str) -> float | None:
    """An HTTP-date (RFC 9110 §5.6.7) as seconds since the epoch; None when ``value`` is not one.

    The preferred ``IMF-fixdate`` (``Sun, 06 Nov 1994 08:49:37 GMT``) and the two obsolete forms recipients
    must accept (RFC 850 ``Sunday, 06-Nov-94 08:49:37 GMT`` and asctime ``Sun Nov  6 08:49:37 1994``).
    """
    text = value.strip()
    if match := _IMF_FIXDATE.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
    elif match := _RFC850_DATE.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
        year = str(int(year) + (2000 if int(year) < 70 else 1900))
    elif match := _ASCTIME_DATE.fullmatch(text):
        month, day, hour, minute, second, year = match.groups()
    else:
        return None
    month_number = _MONTHS.get(month.lower())
    if month_number is None:
        return None
    try:
        moment = datetime(
            int(year), month_number, int(day), int(hour), int(minute), min(int(second), 59), tzinfo=UTC
        )
    except ValueError:  # 31 Feb, hour 25...
        return None
    return moment.timestamp()


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """An HTTP response: status, the parsed JSON body (None when not JSON) and the headers the runtime
    could read (a page reads a cross-origin response's ``Date`` only when the server lists it in
    ``Access-Control-Expose-Headers``)."""

    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)

    @property
    def date(self) -> float | None:
        """The ``Date`` header (the server's clock when it answered) in epoch seconds, or None."""
        for name, value in self.headers.items():
            if name.lower() == "date":
                return parse_http_date(value)
        return None


class SignallingConnection(Protocol):
    """An open WebSocket (subprotocol ``sip``): one SIP message per frame."""

    def send(self, message: bytes) -> None:
        """Send one SIP message as one text frame."""

    def close(self) -> None:
        """Close it; idempotent. No callback fires after close()."""


class LocalAudio(Protocol):
    """One microphone capture (an audio MediaStreamTrack)."""

    @property
    def device_id(self) -> str | None:
        """The device actually captured, when the runtime knows it."""

    @property
    def label(self) -> str:
        """A human-readable device label ("" before permission)."""

    @property
    def ended(self) -> bool:
        """True once the track ended (device unplugged, stopped)."""

    def set_enabled(self, enabled: bool) -> None:
        """Mute (False) or unmute (True) without renegotiation."""

    def stop(self) -> None:
        """Stop capturing (releases the device); idempotent."""

    def on_ended(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` when the track ends by itself (device unplugged); not after :meth:`stop`."""


class MediaDevices(Protocol):
    """Microphones and speakers."""

    async def get_microphone(
        self,
        device_id: str | None = None,
        *,
        constraints: AudioConstraints | None = None,
        processor: AudioProcessor | None = None,
    ) -> LocalAudio:
        """Open a microphone (the default, or ``device_id``).

        ``constraints`` go to ``getUserMedia`` (:mod:`.audio_capture`). With a ``processor``, the capture
        sends the stream the processor made of the microphone's (its ``stream``), and releasing the
        capture calls the processor's ``destroy`` on it.

        Raises:
            MediaError: ``MEDIA_PERMISSION_DENIED`` or ``MEDIA_DEVICE_ERROR`` (also when the processor
                fails; the microphone is then released).
        """

    async def list_devices(self) -> list[DeviceInfo]:
        """Audio inputs and outputs."""

    def on_device_change(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` on ``devicechange``."""

    @property
    def can_select_output(self) -> bool:
        """True when the runtime can route audio to a chosen output device (``setSinkId``)."""


@dataclass(frozen=True, slots=True)
class PeerConnectionOptions:
    """How to build a peer connection."""

    ice_servers: tuple[IceServer, ...] = ()
    gathering_timeout: float = 2.0
    """Non-trickle ICE: how long to wait for gathering before sending what we have (seconds)."""
    gathering_policy: str = "complete"
    """``"complete"``: wait for the end of ICE gathering; ``"fast"``: only for the candidates that can
    carry the audio (see :mod:`twochat_voice_web.ice`). Both are bounded by ``gathering_timeout``."""
    on_ice_state: Callable[[str], None] | None = None
    """Called with ``iceConnectionState`` on every change."""
    on_connection_state: Callable[[str], None] | None = None
    """Called with ``connectionState`` on every change."""
    codec_preferences: CodecPreferences | None = None
    """Codec order and Opus parameters (:mod:`twochat_voice_web.media_options`); None: the browser's."""
    configuration: tuple[tuple[str, Any], ...] = ()
    """More RTCConfiguration members by their JavaScript names (``iceTransportPolicy``...)."""


class PeerConnection(Protocol):
    """An RTCPeerConnection with one audio transceiver, non-trickle."""

    async def set_microphone(self, audio: LocalAudio | None) -> None:
        """Send this microphone (``replaceTrack``; adds the transceiver the first time)."""

    def set_direction(self, direction: str) -> None:
        """Set our audio transceiver's direction: sendrecv, sendonly, recvonly or inactive."""

    async def create_offer(self, *, ice_restart: bool = False) -> str:
        """Create and apply a local offer, wait for ICE gathering (bounded), return the full SDP."""

    async def create_answer(self, offer: str) -> str:
        """Apply a remote offer, create and apply the answer, wait for gathering, return the SDP."""

    async def accept_answer(self, sdp: str, *, provisional: bool = False) -> None:
        """Apply the remote answer (``pranswer`` when provisional, e.g. 183 early media)."""

    async def rollback(self) -> None:
        """Drop a local offer that was refused (back to stable)."""

    def can_send_dtmf(self) -> bool:
        """True when RTP DTMF (RFC 4733) was negotiated and the sender can insert tones."""

    def send_dtmf(self, tones: str, duration_ms: int, gap_ms: int) -> bool:
        """Queue DTMF tones on the RTP stream; False if they cannot be sent."""

    async def get_stats(self) -> list[dict[str, Any]]:
        """The RTCStatsReport as a list of plain dictionaries."""

    @property
    def ice_state(self) -> str:
        """The current ``iceConnectionState``."""

    @property
    def signaling_state(self) -> str:
        """The current ``signalingState``."""

    def close(self) -> None:
        """Close it and release every listener; idempotent."""


class AudioOutput(Protocol):
    """The SDK-owned audio element that plays a call's remote audio."""

    def attach(self, peer: PeerConnection) -> None:
        """Play the remote audio of ``peer``."""

    async def set_sink(self, device_id: str) -> None:
        """Route to an output device.

        Raises:
            MediaError: ``OUTPUT_DEVICE_UNSUPPORTED`` or ``OUTPUT_DEVICE_ERROR``.
        """

    @property
    def autoplay_blocked(self) -> bool:
        """True while the browser refuses to play it for want of a user gesture."""

    async def resume(self) -> bool:
        """Try to play again (after a user gesture); True when playing."""

    def close(self) -> None:
        """Stop and remove the element; idempotent."""


class SoundPlayer(Protocol):
    """The SDK's sounds (Twilio's names): ``incoming`` (ringtone), ``outgoing`` (ringback),
    ``disconnect``, and ``dtmf0``-``dtmf9``, ``dtmfs`` (*), ``dtmfh`` (#), ``dtmfa``-``dtmfd``.

    A sound is synthesised by default, or played from a URL set with :meth:`set_source`.
    """

    def play(self, name: str, *, loop: bool = False) -> None:
        """Start a sound (restarting it if it plays); a blocked autoplay is reported via ``on_blocked``."""

    def stop(self, name: str) -> None:
        """Stop a sound; idempotent."""

    def set_source(self, name: str, url: str | None) -> None:
        """Play ``url`` for ``name`` instead of the default; ``None`` restores the default."""

    def set_enabled(self, name: str, enabled: bool) -> None:
        """Disable (or re-enable) one sound."""

    async def set_output(self, device_id: str) -> None:
        """Route the sounds to an output device (as AudioOutput.set_sink)."""

    @property
    def unlocked(self) -> bool:
        """True once the browser lets the page play audio (after the first user gesture)."""

    def on_blocked(self, callback: Callable[[str], None]) -> Disposable:
        """Call ``callback(name)`` when a sound could not start because autoplay is blocked."""

    def close(self) -> None:
        """Stop everything and release listeners."""


class TabChannel(Protocol):
    """A ``BroadcastChannel``: text messages between the pages of one origin that opened the same name.

    A message reaches every *other* channel of that name (other tabs, or other channels in this page),
    never the sender. Messages from one sender arrive in the order they were posted.
    """

    def post(self, message: str) -> None:
        """Send ``message`` to the other channels of this name; nothing once closed."""

    def on_message(self, callback: Callable[[str], None]) -> Disposable:
        """Call ``callback(message)`` for every message from another channel until disposed."""

    def close(self) -> None:
        """Stop sending and receiving; idempotent. No callback runs after close()."""


class Platform(Protocol):
    """Everything the SDK needs from its runtime."""

    media: MediaDevices

    async def open_signalling(
        self,
        url: str,
        *,
        on_message: Callable[[bytes], None],
        on_close: Callable[[int, str], None],
        timeout: float,
    ) -> SignallingConnection:
        """Open a WebSocket with subprotocol ``sip``.

        ``on_message`` gets each frame's bytes; ``on_close`` gets the close code and reason when the peer
        or the network closes it (not after our own close()).

        Raises:
            VoiceSDKError: ``TRANSPORT_ERROR`` (refused, closed during the handshake) or ``TIMEOUT``.
        """

    async def http_get_json(self, url: str, *, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        """GET a JSON document.

        The response's headers include every header the runtime lets the page read (``Date`` gives the
        server's clock: :attr:`HttpResponse.date`).

        Raises:
            VoiceSDKError: ``CONFIG_FETCH_FAILED`` (network error) or ``TIMEOUT``.
        """

    def create_peer_connection(self, options: PeerConnectionOptions) -> PeerConnection:
        """A new peer connection."""

    def create_audio_output(
        self, device_id: str | None = None, *, on_error: Callable[[VoiceSDKError], None] | None = None
    ) -> AudioOutput:
        """A new remote-audio element; ``on_error`` gets ``AUTOPLAY_BLOCKED`` and routing failures."""

    def on_online(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` when the browser says the network is back (``online``)."""

    def on_user_gesture(self, callback: Callable[[], None]) -> Disposable:
        """Call ``callback`` once, on the next user gesture (click, key, touch): audio may play then."""

    def live_proxies(self) -> int:
        """How many JS proxies the platform holds right now (0 outside the browser)."""

    def create_sound_player(self) -> SoundPlayer | None:
        """The sound player, or None where the runtime cannot play sounds."""

    def open_tab_channel(self, name: str) -> TabChannel | None:
        """A :class:`TabChannel` named ``name`` (``BroadcastChannel``), or None where the runtime has none."""

    def acquire_leadership(
        self,
        name: str,
        on_acquired: Callable[[], None],
        *,
        on_failed: Callable[[str], None] | None = None,
    ) -> Disposable | None:
        """Ask for the exclusive lock ``name`` shared by the pages of this origin (Web Locks).

        ``on_acquired()`` runs once, when the lock is granted (at once when free, else when its holder
        releases it or its page closes). The lock is held until the result is disposed; disposing before
        the grant withdraws the request. ``on_failed(message)`` runs instead if the runtime refuses the
        request. None where the runtime has no Web Locks.
        """
