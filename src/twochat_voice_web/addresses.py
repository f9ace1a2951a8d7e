"""The addresses of calls: the E.164 numbers and SIP URIs a page dials, and how an incoming caller is shown.

:func:`dial_target` turns what ``Device.connect(to)`` was given into the Request-URI of the INVITE (an
E.164 number is dialled at the user's own SIP domain); :func:`caller_identity` and :func:`custom_headers`
read an incoming INVITE for the ``incoming`` event and the :class:`~.call.Call`.
"""

from __future__ import annotations

import re

from .errors import ErrorCode, VoiceSDKError
from .sip.errors import ParseError
from .sip.message import Request
from .sip.uri import SipUri, Uri, parse_uri

__all__ = ["CUSTOM_HEADER_PREFIX", "E164", "caller_identity", "custom_headers", "dial_target"]

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
"""An E.164 number as the SDK takes it: ``+`` and 2 to 15 digits, not starting with 0."""

CUSTOM_HEADER_PREFIX = "x-2chat-"
"""The prefix (any case) of the INVITE headers an incoming call reports in ``custom_headers``."""


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


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
