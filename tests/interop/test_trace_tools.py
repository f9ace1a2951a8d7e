"""Pure tests of the interop helpers that need no SIP server: pcap/RTP decoding, trace parsing,
template rendering, the tone generator and the WAV level meter."""

from __future__ import annotations

import struct
import time
from pathlib import Path

import pytest

from .audio import AudioFileError, wav_level, write_tone_wav
from .pcap import PcapError, dtmf_digits, read_udp_datagrams, rtp_packets, telephone_events
from .siptrace import format_ladder, header_value, parse_sipdump, parse_sipp_message_log
from .stack import ManagedProcess, StackError, render_template


def _udp_frame(src_port: int, dst_port: int, payload: bytes) -> bytes:
    udp = struct.pack(">HHHH", src_port, dst_port, 8 + len(payload), 0) + payload
    ip = struct.pack(
        ">BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0, bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])
    )
    return b"\x00" * 12 + b"\x08\x00" + ip + udp


def _rtp(payload_type: int, sequence: int, timestamp: int, payload: bytes, ssrc: int = 0x1234) -> bytes:
    return struct.pack(">BBHII", 0x80, payload_type, sequence, timestamp, ssrc) + payload


def _event(digit: int, end: bool, duration: int) -> bytes:
    return struct.pack(">BBH", digit, (0x80 if end else 0) | 10, duration)


def _write_pcap(path: Path, frames: list[bytes]) -> Path:
    data = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    for index, frame in enumerate(frames):
        data += struct.pack("<IIII", 1_700_000_000 + index, 0, len(frame), len(frame)) + frame
    path.write_bytes(data)
    return path


def test_pcap_reader_finds_rfc4733_digits_once_per_event(tmp_path: Path) -> None:
    frames = [_udp_frame(30000, 6000, _rtp(0, 1, 160, b"\xff" * 160))]
    sequence = 2
    for timestamp, digit in ((800, 1), (2400, 11)):  # "1" then "#"
        for duration, end in ((160, False), (320, False), (480, True), (480, True), (480, True)):
            frames.append(
                _udp_frame(30000, 6000, _rtp(126, sequence, timestamp, _event(digit, end, duration)))
            )
            sequence += 1
    frames.append(_udp_frame(30000, 6000, b"\x81\xc8" + b"\x00" * 26))  # RTCP sender report
    frames.append(b"\x00" * 12 + b"\x08\x06" + b"\x00" * 28)  # ARP
    frames[-3] = frames[-3][:-2]  # a truncated last event frame still parses (IP length says more)
    path = _write_pcap(tmp_path / "dtmf.pcap", frames)

    datagrams = read_udp_datagrams(path)
    events = telephone_events(datagrams)

    assert len(list(rtp_packets(datagrams))) == 11
    assert {e.packet.payload_type for e in events} == {126}
    assert dtmf_digits(events) == "1#"
    assert dtmf_digits(telephone_events(datagrams, payload_types=[101])) == ""


def test_pcap_reader_refuses_other_files(tmp_path: Path) -> None:
    pcapng = tmp_path / "x.pcapng"
    pcapng.write_bytes(b"\x0a\x0d\x0d\x0a" + b"\x00" * 40)
    garbage = tmp_path / "x.bin"
    garbage.write_bytes(b"hello world, not a capture")

    with pytest.raises(PcapError, match="pcapng"):
        read_udp_datagrams(pcapng)
    with pytest.raises(PcapError, match="magic"):
        read_udp_datagrams(garbage)


SIPDUMP = """====================
tag: rcv
time: 1795485195.847411
proto: ws ipv4
srcip: 127.0.0.1
srcport: 40122
dstip: 127.0.0.1
dstport: 25080
~~~~~~~~~~~~~~~~~~~~
INVITE sip:echo@sip.test SIP/2.0
Via: SIP/2.0/WS abc.invalid;branch=z9hG4bK1
From: <sip:1001@sip.test>;tag=a
To: <sip:echo@sip.test>
i: call-1
CSeq: 2 INVITE
Content-Type: application/sdp

v=0
a=sendonly
||||||||||||||||||||
====================
tag: snd
time: 1795485195.9
proto: udp ipv4
srcip: 127.0.0.1
srcport: 25060
dstip: 127.0.0.1
dstport: 5080
~~~~~~~~~~~~~~~~~~~~
SIP/2.0 486 Busy Here
Call-ID: call-1
CSeq: 2 INVITE
Reason: SIP;cause=486
||||||||||||||||||||
====================
tag: rcv
time: 1795485196.0
~~~~~~~~~~~~~~~~~~~~
INVITE sip:truncated"""


def test_sipdump_records_and_ladder() -> None:
    records = parse_sipdump(SIPDUMP)

    assert [r.first_line for r in records] == ["INVITE sip:echo@sip.test SIP/2.0", "SIP/2.0 486 Busy Here"]
    assert records[0].call_id == "call-1"  # compact form "i"
    assert records[1].method == "INVITE"
    assert not records[1].is_request
    names = {25080: "kamailio", 25060: "kamailio", 5080: "sipp busy"}
    ladder = format_ladder(records, lambda proto, ip, port: names.get(port, f"{proto} client :{port}"))
    lines = ladder.splitlines()
    assert lines[0].endswith("dialog #1: Call-ID call-1")
    assert (
        "ws client :40122 -> kamailio [ws]  INVITE sip:echo@sip.test SIP/2.0  (CSeq 2 INVITE; SDP a=sendonly)"
        in (lines[1])
    )
    assert (
        "kamailio -> sipp busy [udp]  SIP/2.0 486 Busy Here  (CSeq 2 INVITE; Reason: SIP;cause=486)"
        in lines[2]
    )
    assert format_ladder(records, lambda proto, ip, port: ip, since=1795485195.85).count("\n") == 1


def test_sipp_message_log() -> None:
    text = (
        "----------------------------------------------- 2026-11-24 01:57:34.462547\n"
        "UDP message sent (30 bytes):\n\nINVITE sip:x@sip.test SIP/2.0\nCall-ID: c1\n\n"
        "----------------------------------------------- 2026-11-24 01:57:34.462806\n"
        "UDP message received [20] bytes :\n\nSIP/2.0 100 Trying\nCall-ID: c1\n\n"
    )

    messages = parse_sipp_message_log(text)

    assert [(m.direction, m.first_line) for m in messages] == [
        ("sent", "INVITE sip:x@sip.test SIP/2.0"),
        ("received", "SIP/2.0 100 Trying"),
    ]
    assert messages[1].header("call-id") == "c1"
    assert header_value("SIP/2.0 200 OK\r\nt: <sip:a@b>\r\n\r\nbody: no", "To") == "<sip:a@b>"


def test_render_template_names_missing_and_unused_values() -> None:
    assert render_template("a @@X@@ b @@@Y@@", {"X": 1, "Y": "z"}) == "a 1 b @z"
    with pytest.raises(StackError, match="no value for Y"):
        render_template("@@X@@ @@Y@@", {"X": 1}, source="t")
    with pytest.raises(StackError, match="not used by any placeholder: Z"):
        render_template("@@X@@", {"X": 1, "Z": 2})
    assert render_template("@@X@@", {"X": 1, "Z": 2}, optional=["Z"]) == "1"


def test_tone_wav_level(tmp_path: Path) -> None:
    tone = write_tone_wav(tmp_path / "t.wav", 440.0, 0.5, amplitude=10000)
    silence = write_tone_wav(tmp_path / "s.wav", 440.0, 0.5, amplitude=1)

    level = wav_level(tone)
    assert level.frames == 4000 and level.seconds == 0.5
    assert 7000 < level.rms < 7100  # 10000 / sqrt(2)
    assert not level.silent
    assert wav_level(silence).silent
    with pytest.raises(AudioFileError):
        wav_level(tmp_path / "missing.wav")
    with pytest.raises(AudioFileError):
        write_tone_wav(tmp_path / "bad.wav", -1.0)


def _group_members(pgid: int) -> list[int]:
    """Live (not zombie) processes of a process group (zombies wait for a PID 1 that may not reap)."""
    members = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[2]) == pgid and fields[0] != "Z":
                members.append(int(entry.name))
    return members


def test_managed_process_stops_its_children_by_group(tmp_path: Path) -> None:
    process = ManagedProcess(
        "sleeper", ["sh", "-c", "sleep 30 & echo up''and''running; exec sleep 30"], tmp_path / "log"
    )
    process.start()
    deadline = time.monotonic() + 5
    while "upandrunning" not in process.log_tail() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.pid is not None
    assert len(_group_members(process.pid)) == 2  # the shell (now sleep) and its background sleep

    code = process.stop(timeout=2.0)

    assert code == -15
    assert not process.running
    assert _group_members(process.pid) == []
    assert process.stop() == -15  # idempotent, and a reaped PID is never signalled again
    late = ManagedProcess("late", ["sleep", "5"], tmp_path / "late.log")
    late.start()
    try:
        with pytest.raises(StackError, match="still running"):
            late.wait(0.1)
    finally:
        late.stop()
