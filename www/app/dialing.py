"""What a person types into the dialler, checked before anything is sent (pure Python, no ``js``).

The SDK's :meth:`Device.connect` accepts an E.164 number (``+15551234567``) or a ``sip:``/``sips:`` URI and
refuses anything else with ``INVALID_ARGUMENT``. People type numbers with spaces, dashes, dots and
parentheses, paste ``tel:`` links, or forget the ``+``: :func:`check_destination` turns what they typed
into what ``connect()`` wants, or into a sentence saying what to fix. It mirrors the SDK's own rules
(``device._target_uri``) so that a destination it accepts is never refused by ``connect()``.

Also here: the keypad layout (:data:`KEYPAD`) and :func:`format_duration` for timers and the call log.
"""

from __future__ import annotations

import math
import re
from typing import NamedTuple

from twochat_voice_web.sip.errors import ParseError
from twochat_voice_web.sip.uri import SipUri, parse_uri

__all__ = [
    "DTMF_KEYS",
    "E164",
    "KEYPAD",
    "SANDBOX_NUMBERS",
    "Destination",
    "SandboxNumber",
    "check_destination",
    "format_duration",
    "format_number",
]

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
"""An E.164 number as the SDK accepts it: ``+``, a country code not starting with 0, at most 15 digits."""

_SEPARATORS = re.compile(r"[\s\-.()/\u00a0]")
"""Visual separators people type or paste inside phone numbers."""

KEYPAD: tuple[tuple[str, str], ...] = (
    ("1", ""),
    ("2", "ABC"),
    ("3", "DEF"),
    ("4", "GHI"),
    ("5", "JKL"),
    ("6", "MNO"),
    ("7", "PQRS"),
    ("8", "TUV"),
    ("9", "WXYZ"),
    ("*", ""),
    ("0", "+"),
    ("#", ""),
)
"""The twelve keys of a phone keypad: (key, letters shown under it)."""

DTMF_KEYS = frozenset("0123456789*#ABCD")
"""Characters :meth:`Call.send_digits` sends as tones (upper case)."""


class Destination(NamedTuple):
    """The outcome of :func:`check_destination`: either ``value`` (for ``connect()``) or ``problem``."""

    value: str | None
    """The destination to pass to ``Device.connect()``; None when the input is not usable."""
    problem: str | None
    """What is wrong, as a sentence for the person who typed it; None when the input is usable."""

    @property
    def ok(self) -> bool:
        """True when :attr:`value` can be dialled."""
        return self.value is not None


def _refuse(problem: str) -> Destination:
    return Destination(None, problem)


def _check_sip_uri(text: str) -> Destination:
    if any(ch.isspace() or ch == "\x00" for ch in text):
        return _refuse("A SIP address cannot contain spaces.")
    try:
        uri = parse_uri(text)
    except ParseError:
        return _refuse("That is not a valid SIP address. Write it like sip:bob@example.com.")
    if not isinstance(uri, SipUri) or not uri.host:
        return _refuse("That is not a valid SIP address. Write it like sip:bob@example.com.")
    if not uri.user:
        return _refuse("Add who to call before the @, like sip:bob@example.com.")
    return Destination(text, None)


def check_destination(text: str) -> Destination:
    """Turn what was typed into a number or SIP URI for ``Device.connect()``, or explain the problem.

    Accepted: ``+1 (555) 010-0100`` style numbers (separators dropped), ``tel:+15550100`` links, and
    ``sip:user@host`` / ``sips:`` URIs. Refused with a reason: empty input, numbers without ``+``
    (or starting with ``00``), letters inside a number, a country code starting with 0, more than 15
    digits, a SIP URI without a user or with spaces.
    """
    raw = text.strip()
    if not raw:
        return _refuse("Type a number in international format, like +1 555 0100, or a sip: address.")
    lowered = raw.lower()
    if lowered.startswith(("sip:", "sips:")):
        return _check_sip_uri(raw)
    if lowered.startswith("tel:"):
        raw = raw[4:].split(";", 1)[0]
    number = _SEPARATORS.sub("", raw)
    if number.startswith("00") and number[2:].isdigit():
        return _refuse(f"Start international numbers with + instead of 00: +{number[2:]}.")
    if number == "+":
        return _refuse("Type the country code and number after the +.")
    if number.isdigit():
        return _refuse("Add the country code: numbers start with + and the country code, like +15550100.")
    if not number.startswith("+") or not number[1:].isdigit():
        if "@" in number:
            return _refuse("SIP addresses start with sip:, like sip:bob@example.com.")
        return _refuse("A phone number has a + and then only digits, like +15550100.")
    digits = number[1:]
    if digits.startswith("0"):
        return _refuse("Country codes never start with 0: check the digits after the +.")
    if len(digits) > 15:
        return _refuse(f"That number has {len(digits)} digits; international numbers have at most 15.")
    if len(digits) < 2:
        return _refuse("That number is too short.")
    if not E164.match(number):  # every rule above passed, so this only guards against drift
        return _refuse("A phone number has a + and then only digits, like +15550100.")
    return Destination(number, None)


def format_number(value: str) -> str:
    """A destination for display: SIP URIs without the ``sip:`` scheme, numbers as they are."""
    lowered = value.lower()
    if lowered.startswith("sips:"):
        return value[5:]
    if lowered.startswith("sip:"):
        return value[4:]
    return value


def format_duration(seconds: float) -> str:
    """``m:ss`` below an hour, ``h:mm:ss`` above; negative or NaN values count as 0."""
    total = int(seconds) if not math.isnan(seconds) and seconds > 0 else 0
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}:{minutes:02d}:{secs:02d}"
    return f"{minutes}:{secs:02d}"


class SandboxNumber(NamedTuple):
    """One of the sandbox's fictional numbers (product spec §6)."""

    number: str
    name: str
    behaviour: str


SANDBOX_NUMBERS: tuple[SandboxNumber, ...] = (
    SandboxNumber("+15550100", "Echo", "Answers at once and plays your voice back; records keypad tones."),
    SandboxNumber("+15550101", "Ring, then tone", "Rings for 2 s, then answers with a 440 Hz tone."),
    SandboxNumber("+15550102", "Busy", "Answers 486 Busy Here."),
    SandboxNumber("+15550103", "Rings forever", "Rings until you hang up."),
    SandboxNumber("+15550104", "Declines", "Answers 603 Decline."),
    SandboxNumber("+15550105", "Hangs up", "Answers with a tone and hangs up after 3 s."),
    SandboxNumber("+15550106", "IVR", "Answers and collects the keypad digits you press."),
    SandboxNumber("+15550107", "Early media", "Plays a tone while ringing (183), then answers."),
)
"""The sandbox's test numbers, in the order of the spec."""
