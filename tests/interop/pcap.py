"""A small pure-Python reader for the pcap files that tcpdump writes, and an RTP / RFC 4733 decoder.

Only what the interop tests need: classic pcap (not pcapng) with micro- or nanosecond timestamps in
either byte order; link types Ethernet (what tcpdump uses on Linux ``lo``), Linux cooked v1/v2
(``-i any``), BSD loopback and raw IP; IPv4 and IPv6; UDP. Bad input raises `PcapError`.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DTMF_EVENT_NAMES",
    "PcapError",
    "RtpPacket",
    "TelephoneEvent",
    "UdpDatagram",
    "dtmf_digits",
    "read_udp_datagrams",
    "rtp_packets",
    "telephone_events",
]

_LINKTYPE_NULL = 0
_LINKTYPE_ETHERNET = 1
_LINKTYPE_RAW = 101
_LINKTYPE_LINUX_SLL = 113
_LINKTYPE_LINUX_SLL2 = 276
_ETHERTYPE_IPV4 = 0x0800
_ETHERTYPE_IPV6 = 0x86DD
_ETHERTYPE_VLAN = 0x8100
_IPPROTO_UDP = 17

#: RFC 4733 event codes 0-15 as the digits they stand for.
DTMF_EVENT_NAMES = "0123456789*#ABCD"


class PcapError(ValueError):
    """The file is not a classic pcap file this reader understands, or it is damaged."""


@dataclass(frozen=True, slots=True)
class UdpDatagram:
    """One UDP datagram from a capture."""

    time: float
    src: str
    src_port: int
    dst: str
    dst_port: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class RtpPacket:
    """The RTP header fields of one datagram that looks like RTP (version 2, not RTCP)."""

    datagram: UdpDatagram
    payload_type: int
    marker: bool
    sequence: int
    timestamp: int
    ssrc: int
    payload: bytes


@dataclass(frozen=True, slots=True)
class TelephoneEvent:
    """One RFC 4733 telephone-event packet (4-byte payload: event, E/R/volume, duration)."""

    packet: RtpPacket
    event: int
    end: bool
    volume: int
    duration: int

    @property
    def digit(self) -> str:
        """The DTMF digit for events 0-15, else the event number as text."""
        return DTMF_EVENT_NAMES[self.event] if self.event < len(DTMF_EVENT_NAMES) else str(self.event)


def _global_header(data: bytes, path: Path) -> tuple[str, int, float]:
    if len(data) < 24:
        raise PcapError(f"{path}: {len(data)} bytes, too short for a pcap global header")
    magic = data[:4]
    formats = {
        b"\xd4\xc3\xb2\xa1": ("<", 1e-6),
        b"\xa1\xb2\xc3\xd4": (">", 1e-6),
        b"\x4d\x3c\xb2\xa1": ("<", 1e-9),
        b"\xa1\xb2\x3c\x4d": (">", 1e-9),
    }
    if magic == b"\x0a\x0d\x0d\x0a":
        raise PcapError(f"{path}: pcapng is not supported (run tcpdump without --pcapng)")
    if magic not in formats:
        raise PcapError(f"{path}: unknown pcap magic {magic.hex()}")
    order, unit = formats[magic]
    linktype = struct.unpack(order + "I", data[20:24])[0] & 0x0FFFFFFF
    return order, linktype, unit


def _network_layer(frame: bytes, linktype: int) -> tuple[int, bytes] | None:
    """Return (ethertype, network packet) or None for frames that are not IP."""
    if linktype == _LINKTYPE_ETHERNET:
        if len(frame) < 14:
            return None
        ethertype = struct.unpack(">H", frame[12:14])[0]
        offset = 14
        while ethertype == _ETHERTYPE_VLAN and len(frame) >= offset + 4:
            ethertype = struct.unpack(">H", frame[offset + 2 : offset + 4])[0]
            offset += 4
        return ethertype, frame[offset:]
    if linktype == _LINKTYPE_LINUX_SLL:
        if len(frame) < 16:
            return None
        return struct.unpack(">H", frame[14:16])[0], frame[16:]
    if linktype == _LINKTYPE_LINUX_SLL2:
        if len(frame) < 20:
            return None
        return struct.unpack(">H", frame[0:2])[0], frame[20:]
    if linktype == _LINKTYPE_NULL:
        if len(frame) < 4:
            return None
        family = struct.unpack("<I", frame[:4])[0]
        if family == 2:
            return _ETHERTYPE_IPV4, frame[4:]
        if family in (10, 24, 28, 30):
            return _ETHERTYPE_IPV6, frame[4:]
        return None
    if linktype == _LINKTYPE_RAW:
        if not frame:
            return None
        return (_ETHERTYPE_IPV4 if frame[0] >> 4 == 4 else _ETHERTYPE_IPV6), frame
    raise PcapError(f"unsupported pcap link type {linktype}")


def _ip_text(raw: bytes) -> str:
    if len(raw) == 4:
        return ".".join(str(b) for b in raw)
    groups = struct.unpack(">8H", raw)
    return ":".join(f"{g:x}" for g in groups)


def _udp_of(ethertype: int, packet: bytes) -> tuple[str, str, bytes] | None:
    """Return (src ip, dst ip, udp segment) or None for non-UDP / fragments."""
    if ethertype == _ETHERTYPE_IPV4:
        if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != _IPPROTO_UDP:
            return None
        flags_fragment = struct.unpack(">H", packet[6:8])[0]
        if flags_fragment & 0x3FFF:  # fragment offset or more-fragments
            return None
        header_length = (packet[0] & 0x0F) * 4
        total_length = struct.unpack(">H", packet[2:4])[0]
        return _ip_text(packet[12:16]), _ip_text(packet[16:20]), packet[header_length:total_length]
    if ethertype == _ETHERTYPE_IPV6:
        if len(packet) < 40 or packet[0] >> 4 != 6 or packet[6] != _IPPROTO_UDP:
            return None
        payload_length = struct.unpack(">H", packet[4:6])[0]
        return _ip_text(packet[8:24]), _ip_text(packet[24:40]), packet[40 : 40 + payload_length]
    return None


def read_udp_datagrams(path: Path | str) -> list[UdpDatagram]:
    """Every complete UDP datagram of a classic pcap file, in capture order.

    A truncated last record (tcpdump stopped mid-write) is ignored; anything else that does not
    parse raises `PcapError`.
    """
    path = Path(path)
    data = path.read_bytes()
    order, linktype, unit = _global_header(data, path)
    record = struct.Struct(order + "IIII")
    datagrams: list[UdpDatagram] = []
    offset = 24
    while offset + record.size <= len(data):
        seconds, fraction, captured, _original = record.unpack_from(data, offset)
        offset += record.size
        if offset + captured > len(data):
            break
        frame = data[offset : offset + captured]
        offset += captured
        network = _network_layer(frame, linktype)
        if network is None:
            continue
        udp = _udp_of(*network)
        if udp is None:
            continue
        src, dst, segment = udp
        if len(segment) < 8:
            continue
        src_port, dst_port, length = struct.unpack(">HHH", segment[:6])
        payload = segment[8:length] if 8 <= length <= len(segment) else segment[8:]
        datagrams.append(UdpDatagram(seconds + fraction * unit, src, src_port, dst, dst_port, payload))
    return datagrams


def rtp_packets(datagrams: Iterable[UdpDatagram]) -> Iterator[RtpPacket]:
    """The datagrams that parse as RTP version 2 (RTCP packet types 72-79 are skipped)."""
    for datagram in datagrams:
        data = datagram.payload
        if len(data) < 12 or data[0] >> 6 != 2:
            continue
        payload_type = data[1] & 0x7F
        if 72 <= payload_type <= 79:
            continue
        csrc_count = data[0] & 0x0F
        header_length = 12 + 4 * csrc_count
        if data[0] & 0x10:  # header extension
            if len(data) < header_length + 4:
                continue
            header_length += 4 + 4 * struct.unpack(">H", data[header_length + 2 : header_length + 4])[0]
        if len(data) < header_length:
            continue
        end = len(data)
        if data[0] & 0x20 and data:  # padding
            end -= data[-1]
        sequence, timestamp, ssrc = struct.unpack(">HII", data[2:12])
        yield RtpPacket(
            datagram, payload_type, bool(data[1] & 0x80), sequence, timestamp, ssrc, data[header_length:end]
        )


def telephone_events(
    datagrams: Iterable[UdpDatagram], payload_types: Iterable[int] | None = None
) -> list[TelephoneEvent]:
    """The RFC 4733 event packets among the RTP packets.

    With ``payload_types`` only those payload types count; without, any dynamic payload type
    (96-127) whose payload is exactly 4 bytes is taken for telephone-event (audio codecs send
    far larger payloads).
    """
    wanted = None if payload_types is None else set(payload_types)
    events: list[TelephoneEvent] = []
    for packet in rtp_packets(datagrams):
        if wanted is not None and packet.payload_type not in wanted:
            continue
        if wanted is None and not (96 <= packet.payload_type <= 127):
            continue
        if len(packet.payload) != 4:
            continue
        event, flags, duration = struct.unpack(">BBH", packet.payload)
        events.append(TelephoneEvent(packet, event, bool(flags & 0x80), flags & 0x3F, duration))
    return events


def dtmf_digits(events: Iterable[TelephoneEvent]) -> str:
    """The digits of the ended events, one per (SSRC, RTP timestamp), in the order they ended.

    An RFC 4733 sender repeats the end packet (usually three times); those repeats count once.
    Mix only one direction of one stream into ``events`` when the order matters.
    """
    seen: set[tuple[int, int, int]] = set()
    digits: list[str] = []
    for event in events:
        if not event.end:
            continue
        key = (event.packet.ssrc, event.packet.timestamp, event.event)
        if key in seen:
            continue
        seen.add(key)
        digits.append(event.digit)
    return "".join(digits)
