"""DTMF over SIP INFO: the ``application/dtmf-relay`` body we send, and the digits in INFO we receive.

There is no RFC for DTMF in INFO; what peers do (JsSIP, Asterisk, FreeSWITCH, the 2Chat gateways) is
``application/dtmf-relay`` with ``Signal=<key>`` and ``Duration=<ms>`` lines, and some send
``application/dtmf`` with the key alone. ``Signal=`` may also carry the RFC 4733 event number (10-15 for
``* # A-D``); 16 (hook flash) is no DTMF key, so such an INFO reaches the application as a plain
:class:`~twochat_voice_web.sip.events.InfoReceived`. The keys and duration bounds are :mod:`..dtmf`'s.
"""

from __future__ import annotations

import re

from twochat_voice_web.sip.dtmf import DTMF_EVENTS, MAX_DURATION_MS, MIN_DURATION_MS
from twochat_voice_web.sip.errors import LocalProtocolError
from twochat_voice_web.sip.message import Request

from .context import body_text

__all__ = ["DTMF_RELAY", "dtmf_from_info", "dtmf_relay_body"]

DTMF_RELAY = "application/dtmf-relay"
"""The content type of the DTMF INFO bodies we send."""
_PLAIN_DTMF = "application/dtmf"
_DTMF_RELAY_RE = re.compile(
    rf"^\s*signal\s*=\s*([{re.escape(DTMF_EVENTS)}]|1[0-5])\s*$", re.IGNORECASE | re.MULTILINE
)
_DTMF_DURATION_RE = re.compile(r"^\s*duration\s*=\s*(\d{1,6})\s*$", re.IGNORECASE | re.MULTILINE)


def dtmf_relay_body(digit: str, duration_ms: int) -> bytes:
    """The ``application/dtmf-relay`` body for one key (as JsSIP sends it); typed error for bad input."""
    if len(digit) != 1 or digit.upper() not in DTMF_EVENTS:
        raise LocalProtocolError(f"not a DTMF digit: {digit!r}")
    if not MIN_DURATION_MS <= duration_ms <= MAX_DURATION_MS:
        raise LocalProtocolError(f"DTMF duration must be {MIN_DURATION_MS}..{MAX_DURATION_MS} ms")
    return f"Signal={digit.upper()}\r\nDuration={duration_ms}\r\n".encode()


def dtmf_from_info(request: Request) -> tuple[str, int | None] | None:
    """The key (and duration in ms, when given) an INFO carries, or None when it is no DTMF INFO."""
    content_type = request.content_type
    text = body_text(request.body)
    if content_type == DTMF_RELAY:
        match = _DTMF_RELAY_RE.search(text)
        if match is None:
            return None
        signal = match.group(1).upper()
        if signal.isdigit() and int(signal) >= 10:
            signal = DTMF_EVENTS[int(signal)]
        duration = _DTMF_DURATION_RE.search(text)
        return signal, int(duration.group(1)) if duration else None
    if content_type == _PLAIN_DTMF:
        digit = text.strip().upper()
        if len(digit) == 1 and digit in DTMF_EVENTS:
            return digit, None
    return None
