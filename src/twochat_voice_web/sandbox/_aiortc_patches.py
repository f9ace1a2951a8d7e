"""Process-wide patches that turn aiortc 1.16 / aioice 0.13 into the sandbox's WebRTC audio peer.

These are the measured patches of ``/work/shared/recipes/aiortc-media.md``; every one of them touches
private internals, so :func:`apply_patches` refuses to run against any other aiortc/aioice version
(:class:`AiortcVersionError`) and a version bump needs the media tests re-run.

1. **Host candidates by policy** (:mod:`.media_addresses`). ``aioice.ice.get_host_addresses`` lists every
   interface and *skips* 127.0.0.1 on purpose; ``Connection.gather_candidates`` looks the name up at call
   time, so replacing the module attribute decides where candidates are gathered: on 127.0.0.1 only
   (``LOOPBACK``, the default of a connection gathered outside :func:`gathering_policy`) or on this
   machine's interfaces plus 127.0.0.1 (``HOST``). The policy of the gathering in progress is a context
   variable set by :func:`gathering_policy`.
2. **Drop datagrams from sources the policy does not allow.** Under ``LOOPBACK`` only 127.0.0.1 is heard:
   Chromium (with ``--allow-loopback-in-peer-connection``) also pings our loopback candidate from its eth0
   address (the kernel routes that over ``lo``) and, being controlling, re-nominates that pair a few
   seconds into the call; dropping every STUN/DTLS/SRTP datagram from another source keeps the pair
   ``127.0.0.1 <-> 127.0.0.1``. Under ``HOST`` (:func:`set_source_policy`) datagrams from any of this
   machine's addresses are heard and every other source is dropped.
3. **Negotiate telephone-event (RFC 4733)** at 48000 and 8000 Hz by adding it to ``aiortc.codecs.CODECS``
   (payload types 110 and 126 when *we* offer; for a remote offer aiortc copies the offerer's dynamic PT).
4. **Intercept telephone-event RTP** before aiortc's jitter buffer: without it the event payload reaches
   the decoder thread, which has no telephone-event decoder and stops decoding the call's audio. The
   intercepted packet is still added to the receiver's RTCP sequence statistics (jitter state is kept as
   it was, because an 8 kHz event clock would corrupt the 48 kHz audio jitter) so receiver reports do not
   see a sequence gap. The same hook counts received RTP packets/bytes for :class:`RtpSink` owners.
5. **ICE restart as the answerer** (:func:`restart_remote_ice`): aiortc keeps the first remote ICE
   credentials forever (``RTCIceTransport.start`` is a no-op once started). For an ICE-restart re-offer we
   adopt the new remote ufrag/password on the live aioice connection, become the controlled agent (the
   restarting offerer controls), and keep accepting the previous remote ufrag in incoming checks until the
   new generation is used, so the old pair keeps carrying media while the new pair is checked and
   nominated. Our own ufrag/password do not change (aioice has no API for a second local generation).
"""

from __future__ import annotations

import contextlib
import struct
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Protocol

import aioice.ice
from aiortc.codecs import CODECS
from aiortc.rtcrtpparameters import RTCRtpCodecParameters
from aiortc.rtcrtpreceiver import RTCRtpReceiver, StreamStatistics

from twochat_voice_web.sip.dtmf import DTMF_EVENTS

from .media_addresses import (
    LOOPBACK_ADDRESS,
    MediaAddressPolicy,
    gather_addresses,
    is_machine_address,
    machine_addresses,
)

__all__ = [
    "DTMF_EVENTS",
    "LOOPBACK_ADDRESS",
    "PINNED_VERSIONS",
    "TELEPHONE_EVENT_PAYLOAD_TYPES",
    "AiortcVersionError",
    "RtpSink",
    "TelephoneEventPacket",
    "apply_patches",
    "attach_rtp_sink",
    "detach_rtp_sink",
    "gathering_policy",
    "patches_applied",
    "restart_remote_ice",
    "set_source_policy",
]

PINNED_VERSIONS: dict[str, str] = {"aiortc": "1.16.0", "aioice": "0.13.0"}
TELEPHONE_EVENT_PAYLOAD_TYPES: dict[int, int] = {48000: 110, 8000: 126}

_SINK_ATTR = "_twochat_rtp_sink"
_ALLOWED_SOURCES_ATTR = "_twochat_allowed_sources"
_gathering_policy: ContextVar[MediaAddressPolicy] = ContextVar(
    "twochat_gathering_policy", default=MediaAddressPolicy.LOOPBACK
)
_PREVIOUS_REMOTE_UFRAGS_ATTR = "_twochat_previous_remote_ufrags"
_applied = False


class AiortcVersionError(RuntimeError):
    """The installed aiortc/aioice is not the version the monkeypatches were measured against."""


@dataclass(frozen=True, slots=True)
class TelephoneEventPacket:
    """One RFC 4733 telephone-event RTP packet, decoded.

    Attributes:
        ssrc: RTP SSRC of the sender.
        sequence_number: RTP sequence number.
        timestamp: RTP timestamp (the same for every packet of one event).
        event: event code (0-15 are the DTMF digits ``0123456789*#ABCD``).
        end: the E bit: this packet ends the event (end packets are usually sent three times).
        volume: the volume field (0-63, in -dBm0).
        duration: the duration field, in units of ``clock_rate``.
        clock_rate: the negotiated telephone-event clock rate (8000 or 48000).
    """

    ssrc: int
    sequence_number: int
    timestamp: int
    event: int
    end: bool
    volume: int
    duration: int
    clock_rate: int

    @property
    def digit(self) -> str | None:
        """The DTMF character of a digit event, or None for other events."""
        return DTMF_EVENTS[self.event] if self.event < len(DTMF_EVENTS) else None

    @property
    def duration_ms(self) -> int:
        """The duration field converted to milliseconds."""
        return round(self.duration * 1000 / self.clock_rate) if self.clock_rate else 0


class RtpSink(Protocol):
    """Receives what the patched ``RTCRtpReceiver._handle_rtp_packet`` sees for one receiver."""

    def rtp_received(self, size: int) -> None:
        """Called for every RTP packet that reaches the receiver (``size`` = payload bytes)."""

    def telephone_event(self, packet: TelephoneEventPacket) -> None:
        """Called for every telephone-event packet (these never reach the decoder)."""


def _installed_version(name: str) -> str:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return "not installed"


def _check_versions() -> None:
    wrong = {
        name: _installed_version(name)
        for name, pinned in PINNED_VERSIONS.items()
        if _installed_version(name) != pinned
    }
    if wrong:
        found = ", ".join(f"{name} {version}" for name, version in sorted(wrong.items()))
        wanted = ", ".join(f"{name}=={version}" for name, version in sorted(PINNED_VERSIONS.items()))
        raise AiortcVersionError(
            f"the sandbox media patches touch private aiortc/aioice internals and were measured with "
            f"{wanted}, but found {found}; install the pinned versions or re-check the patches "
            f"(recipes/aiortc-media.md)"
        )


def _policy_host_addresses(use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """Replacement of ``aioice.ice.get_host_addresses``: the addresses of the current gathering policy."""
    return gather_addresses(_gathering_policy.get(), use_ipv4=use_ipv4, use_ipv6=use_ipv6)


@contextlib.contextmanager
def gathering_policy(policy: MediaAddressPolicy) -> Iterator[None]:
    """Gather host candidates under ``policy`` inside this block (this task and the tasks it starts)."""
    token = _gathering_policy.set(policy)
    try:
        yield
    finally:
        _gathering_policy.reset(token)


_original_datagram_received = aioice.ice.StunProtocol.datagram_received


def _policy_datagram_received(
    self: aioice.ice.StunProtocol, data: bytes | str, addr: tuple[Any, ...]
) -> None:
    """Replacement of ``StunProtocol.datagram_received`` that drops sources the policy does not allow."""
    allowed: frozenset[str] | None = getattr(self.receiver, _ALLOWED_SOURCES_ATTR, None)
    source = str(addr[0])
    if source == LOOPBACK_ADDRESS or (allowed is not None and is_machine_address(source, allowed)):
        _original_datagram_received(self, data, addr)


_original_valid_username = aioice.ice.Connection._valid_username


def _valid_username_with_previous(self: aioice.ice.Connection, username: str) -> bool:
    """Replacement of ``Connection._valid_username`` that also accepts the previous remote ufrag(s)."""
    if _original_valid_username(self, username):
        return True
    previous: tuple[str, ...] = getattr(self, _PREVIOUS_REMOTE_UFRAGS_ATTR, ())
    if not previous:
        return False
    local, colon, remote = username.partition(":")
    return colon == ":" and local == self.local_username and remote in previous


_original_handle_rtp_packet = RTCRtpReceiver._handle_rtp_packet


async def _handle_rtp_packet(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
    """Replacement of ``RTCRtpReceiver._handle_rtp_packet`` that diverts telephone-event packets."""
    sink: RtpSink | None = getattr(self, _SINK_ATTR, None)
    if sink is not None:
        sink.rtp_received(len(packet.payload))
    codecs: dict[int, RTCRtpCodecParameters] = getattr(self, "_RTCRtpReceiver__codecs", {})
    codec = codecs.get(packet.payload_type)
    if codec is None or codec.name.lower() != "telephone-event":
        await _original_handle_rtp_packet(self, packet, arrival_time_ms)
        return
    if not self._enabled:
        return
    _count_in_sequence_statistics(self, packet, codec.clockRate)
    if sink is not None and len(packet.payload) >= 4:
        event, flags, duration = struct.unpack("!BBH", packet.payload[:4])
        sink.telephone_event(
            TelephoneEventPacket(
                ssrc=packet.ssrc,
                sequence_number=packet.sequence_number,
                timestamp=packet.timestamp,
                event=event,
                end=bool(flags & 0x80),
                volume=flags & 0x3F,
                duration=duration,
                clock_rate=codec.clockRate,
            )
        )


def _count_in_sequence_statistics(receiver: RTCRtpReceiver, packet: Any, clock_rate: int) -> None:
    """Add an intercepted packet to the receiver's RTCP statistics without touching its jitter."""
    streams: dict[int, StreamStatistics] | None = getattr(receiver, "_RTCRtpReceiver__remote_streams", None)
    if streams is None:
        return
    stream = streams.get(packet.ssrc)
    if stream is None:
        stream = streams[packet.ssrc] = StreamStatistics(clock_rate)
    saved = (stream._jitter_q4, stream._last_arrival, stream._last_timestamp)
    stream.add(packet)
    if saved[1] is not None:
        stream._jitter_q4, stream._last_arrival, stream._last_timestamp = saved
    # else: no packet of this stream had arrived; this one stays the jitter reference (StreamStatistics
    # computes jitter against it from the next packet on, and cannot once it was put back to None)


def _add_telephone_event_codecs() -> None:
    audio = CODECS["audio"]
    present = {c.clockRate for c in audio if c.mimeType.lower() == "audio/telephone-event"}
    for rate, payload_type in TELEPHONE_EVENT_PAYLOAD_TYPES.items():
        if rate not in present:
            audio.append(
                RTCRtpCodecParameters(
                    mimeType="audio/telephone-event", clockRate=rate, payloadType=payload_type
                )
            )


def apply_patches() -> None:
    """Install every patch once (idempotent). Raises :class:`AiortcVersionError` on other versions."""
    global _applied
    if _applied:
        return
    _check_versions()
    aioice.ice.get_host_addresses = _policy_host_addresses
    aioice.ice.StunProtocol.datagram_received = _policy_datagram_received  # type: ignore[method-assign]
    aioice.ice.Connection._valid_username = _valid_username_with_previous  # type: ignore[method-assign]
    RTCRtpReceiver._handle_rtp_packet = _handle_rtp_packet  # type: ignore[method-assign]
    _add_telephone_event_codecs()
    _applied = True


def patches_applied() -> bool:
    """Whether :func:`apply_patches` has run in this process."""
    return _applied


def attach_rtp_sink(receiver: RTCRtpReceiver, sink: RtpSink) -> None:
    """Route the receiver's RTP counters and telephone-event packets to ``sink``."""
    setattr(receiver, _SINK_ATTR, sink)


def detach_rtp_sink(receiver: RTCRtpReceiver) -> None:
    """Stop routing the receiver's packets to its sink (idempotent)."""
    if hasattr(receiver, _SINK_ATTR):
        delattr(receiver, _SINK_ATTR)


def set_source_policy(connection: aioice.ice.Connection, policy: MediaAddressPolicy) -> None:
    """Choose which datagram sources one aioice connection hears (127.0.0.1 only, or this machine).

    Under ``HOST`` the machine's addresses are listed now (``ifaddr``), once per connection.
    """
    allowed = machine_addresses() if policy is MediaAddressPolicy.HOST else None
    setattr(connection, _ALLOWED_SOURCES_ATTR, allowed)


def restart_remote_ice(connection: aioice.ice.Connection, username: str, password: str) -> None:
    """Adopt new remote ICE credentials on a live connection (we answer an ICE-restart offer).

    The previous remote ufrag stays acceptable in incoming checks, so the old pair keeps working until
    the restarting (controlling) peer nominates a pair of the new generation.
    """
    previous: tuple[str, ...] = getattr(connection, _PREVIOUS_REMOTE_UFRAGS_ATTR, ())
    old = connection.remote_username
    if old is not None and old != username:
        previous = (*previous[-3:], old)
    setattr(connection, _PREVIOUS_REMOTE_UFRAGS_ATTR, tuple(u for u in previous if u != username))
    connection.remote_username = username
    connection.remote_password = password
    if connection.ice_controlling:
        connection.switch_role(ice_controlling=False)
