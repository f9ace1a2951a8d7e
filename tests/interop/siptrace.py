"""Read the SIP traces of the interop stack and turn them into a readable "who said what" ladder.

Two sources:
- Kamailio's ``sipdump`` module text files: every SIP message Kamailio received (``rcv``) or sent
  (``snd``), with transport, addresses and ports; WebSocket messages appear decoded.
- sipp's ``-trace_msg`` message log: every message one sipp instance sent or received (no addresses).
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "SipTraceRecord",
    "SippLogMessage",
    "format_ladder",
    "header_value",
    "parse_sipdump",
    "parse_sipp_message_log",
    "read_sipdump_dir",
]

_SIPDUMP_START = "===================="
_SIPDUMP_BODY = "~~~~~~~~~~~~~~~~~~~~"
_SIPDUMP_END = "||||||||||||||||||||"
_SIPP_SEPARATOR = re.compile(r"^-{20,} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d+)\s*$", re.MULTILINE)
_SIPP_DIRECTION = re.compile(r"^(\w+) message (sent|received)", re.IGNORECASE)
_COMPACT = {
    "i": "call-id",
    "f": "from",
    "t": "to",
    "v": "via",
    "m": "contact",
    "l": "content-length",
    "c": "content-type",
}


def header_value(message: str, name: str) -> str | None:
    """The first value of header ``name`` (case-insensitive, compact forms understood) in a message."""
    wanted = name.lower()
    for raw_line in message.split("\n")[1:]:
        line = raw_line.rstrip("\r")
        if not line:
            break
        field, sep, value = line.partition(":")
        if not sep:
            continue
        field = field.strip().lower()
        if _COMPACT.get(field, field) == wanted:
            return value.strip()
    return None


def _first_line(message: str) -> str:
    return message.lstrip("\r\n").split("\n", 1)[0].rstrip("\r")


@dataclass(frozen=True, slots=True)
class SipTraceRecord:
    """One message from Kamailio's sipdump file."""

    time: float
    direction: str  # "rcv" (Kamailio received it) or "snd" (Kamailio sent it)
    proto: str  # "udp", "tcp", "tls", "ws", "wss"
    src: str
    src_port: int
    dst: str
    dst_port: int
    message: str

    @property
    def first_line(self) -> str:
        """Request line or status line."""
        return _first_line(self.message)

    @property
    def is_request(self) -> bool:
        """True for requests, False for responses."""
        return not self.first_line.startswith("SIP/2.0")

    @property
    def method(self) -> str:
        """Request method, or the CSeq method of a response."""
        if self.is_request:
            return self.first_line.split(" ", 1)[0]
        cseq = header_value(self.message, "CSeq") or ""
        return cseq.split()[-1] if cseq.split() else ""

    @property
    def call_id(self) -> str:
        """The Call-ID header ("" when absent)."""
        return header_value(self.message, "Call-ID") or ""

    def header(self, name: str) -> str | None:
        """The first value of a header of this message."""
        return header_value(self.message, name)


def parse_sipdump(text: str) -> list[SipTraceRecord]:
    """Parse the text of one or more sipdump ``.data`` files; incomplete trailing records are skipped."""
    records: list[SipTraceRecord] = []
    for chunk in text.split(_SIPDUMP_START + "\n"):
        if _SIPDUMP_BODY not in chunk or _SIPDUMP_END not in chunk:
            continue
        meta_text, _, rest = chunk.partition(_SIPDUMP_BODY + "\n")
        body = rest.rsplit(_SIPDUMP_END, 1)[0]
        meta: dict[str, str] = {}
        for line in meta_text.splitlines():
            key, sep, value = line.partition(": ")
            if sep:
                meta[key.strip()] = value.strip()
        try:
            records.append(
                SipTraceRecord(
                    time=float(meta.get("time", "0")),
                    direction=meta.get("tag", "?"),
                    proto=meta.get("proto", "?").split()[0],
                    src=meta.get("srcip", "?"),
                    src_port=int(meta.get("srcport", "0")),
                    dst=meta.get("dstip", "?"),
                    dst_port=int(meta.get("dstport", "0")),
                    message=body,
                )
            )
        except ValueError:
            continue
    return records


@dataclass(frozen=True, slots=True)
class SippLogMessage:
    """One message from a sipp ``-trace_msg`` log."""

    timestamp: str  # as sipp wrote it: "YYYY-MM-DD hh:mm:ss.ffffff"
    direction: str  # "sent" or "received"
    transport: str  # "UDP", ...
    message: str

    @property
    def first_line(self) -> str:
        """Request line or status line."""
        return _first_line(self.message)

    def header(self, name: str) -> str | None:
        """The first value of a header of this message."""
        return header_value(self.message.lstrip("\r\n"), name)


def parse_sipp_message_log(text: str) -> list[SippLogMessage]:
    """Parse a sipp ``-message_file`` log."""
    messages: list[SippLogMessage] = []
    parts = _SIPP_SEPARATOR.split(text)
    # parts = [preamble, ts1, block1, ts2, block2, ...]
    for index in range(1, len(parts) - 1, 2):
        timestamp, block = parts[index], parts[index + 1]
        head, _, message = block.lstrip("\n").partition("\n")
        match = _SIPP_DIRECTION.match(head.strip())
        if match is None:
            continue
        messages.append(
            SippLogMessage(
                timestamp, match.group(2).lower(), match.group(1).upper(), message.strip("\n") + "\n"
            )
        )
    return messages


def _summary(record: SipTraceRecord) -> str:
    details = [f"CSeq {record.header('CSeq') or '?'}"]
    for extra in ("Reason", "Warning"):
        value = record.header(extra)
        if value:
            details.append(f"{extra}: {value}")
    content_type = record.header("Content-Type")
    if content_type and "sdp" in content_type:
        directions = re.findall(r"^a=(sendrecv|sendonly|recvonly|inactive)\s*$", record.message, re.MULTILINE)
        details.append("SDP" + (f" a={','.join(directions)}" if directions else ""))
    elif content_type:
        details.append(content_type)
    return "; ".join(details)


def format_ladder(
    records: Iterable[SipTraceRecord],
    name_of: Callable[[str, str, int], str],
    *,
    since: float | None = None,
) -> str:
    """One line per message: time, sender -> receiver, first line, CSeq and notable headers.

    ``name_of(proto, ip, port)`` names an endpoint ("kamailio", "sipp echo", "ws client 1001 :40122").
    The Call-ID of each dialog is listed once, where it first appears.
    """
    lines: list[str] = []
    seen_calls: dict[str, int] = {}
    for record in records:
        if since is not None and record.time < since:
            continue
        stamp = time.strftime("%H:%M:%S", time.localtime(record.time)) + f".{int(record.time % 1 * 1000):03d}"
        sender = name_of(record.proto, record.src, record.src_port)
        receiver = name_of(record.proto, record.dst, record.dst_port)
        if "SIP/2.0" not in record.first_line:  # e.g. the HTTP GET of a WebSocket upgrade
            lines.append(f"{stamp}    {sender} -> {receiver} [{record.proto}]  {record.first_line}")
            continue
        call_id = record.call_id
        if call_id not in seen_calls:
            seen_calls[call_id] = len(seen_calls) + 1
            lines.append(f"             -- dialog #{seen_calls[call_id]}: Call-ID {call_id}")
        lines.append(
            f"{stamp} #{seen_calls[call_id]} {sender} -> {receiver} [{record.proto}]  "
            f"{record.first_line}  ({_summary(record)})"
        )
    return "\n".join(lines)


def read_sipdump_dir(folder: Path) -> list[SipTraceRecord]:
    """All records of every ``*.data`` file in a sipdump folder, in time order."""
    records: list[SipTraceRecord] = []
    for path in sorted(folder.glob("*.data")):
        records.extend(parse_sipdump(path.read_text(errors="replace")))
    records.sort(key=lambda r: r.time)
    return records
