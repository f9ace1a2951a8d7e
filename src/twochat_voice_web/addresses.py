"""The addresses of calls: the E.164 numbers and SIP URIs a page dials, and how an incoming caller is shown.

:func:`dial_target` turns what ``Device.connect(to)`` was given into the Request-URI of the INVITE (an
E.164 number is dialled at the user's own SIP domain), and :func:`caller_headers` says which caller ID an
outbound call presents (``X-2Chat-From``, ``X-2Chat-Caller-Id``); :func:`caller_identity` and
:func:`custom_headers` read an incoming INVITE for the ``incoming`` event and the :class:`~.call.Call`.
"""

from __future__ import annotations

import re

from .errors import ErrorCode, VoiceSDKError
from .sip.errors import ParseError
from .sip.message import Request
from .sip.uri import SipUri, Uri, parse_uri

__all__ = [
    "CUSTOM_HEADER_PREFIX",
    "E164",
    "caller_headers",
    "caller_identity",
    "custom_headers",
    "dial_target",
]

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
"""An E.164 number as the SDK takes it: ``+`` and 2 to 15 digits, not starting with 0."""

CUSTOM_HEADER_PREFIX = "x-2chat-"
"""The prefix (any case) of the INVITE headers an incoming call reports in ``custom_headers``."""


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


_CALLER_ID_UUID = re.compile(r"[A-Za-z0-9_\-]{1,64}")


def caller_headers(from_: object, caller_id: object) -> list[tuple[str, str]]:
    """The INVITE headers that choose the caller ID 2Chat presents: ``X-2Chat-From`` (an E.164 number the
    user may present) and ``X-2Chat-Caller-Id`` (a registered caller ID's uuid); None leaves one out.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for a ``from_`` that is not E.164 or a malformed uuid.
    """
    headers: list[tuple[str, str]] = []
    if from_ is not None:
        if not isinstance(from_, str) or not E164.fullmatch(from_):
            raise _invalid(f"from must be an E.164 number like +15551234567, got {from_!r}")
        headers.append(("X-2Chat-From", from_))
    if caller_id is not None:
        if not isinstance(caller_id, str) or not _CALLER_ID_UUID.fullmatch(caller_id):
            raise _invalid(f"caller_id must be a caller-ID uuid like VCI..., got {caller_id!r}")
        headers.append(("X-2Chat-Caller-Id", caller_id))
    return headers


def dial_target(to: object, domain: str | None) -> str:
    """The Request-URI to call for ``to``: an E.164 number (at ``domain``, the user's SIP domain) or a
    ``sip:``/``sips:`` URI.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for anything else (spaces or control characters included).
    """
    if not isinstance(to, str) or not to.strip():
        raise _invalid("to must be an E.164 number or a sip:/sips: URI")
    to = to.strip()
    if E164.fullmatch(to):
        assert domain is not None
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


def caller_identity(remote: Uri) -> str:
    """How a caller is shown: the E.164 number when the URI's user part is one, else the whole URI."""
    if isinstance(remote, SipUri) and remote.user and E164.fullmatch(remote.user):
        return remote.user
    return str(remote)


def custom_headers(request: Request) -> dict[str, str]:
    """The ``X-2Chat-*`` headers of an INVITE, by name without the prefix."""
    custom: dict[str, str] = {}
    for name, value in request.headers:
        if name.lower().startswith(CUSTOM_HEADER_PREFIX) and len(name) > len(CUSTOM_HEADER_PREFIX):
            custom[name[len(CUSTOM_HEADER_PREFIX) :]] = value
    return custom
