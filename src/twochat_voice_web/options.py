"""The Device's options: their validation and the validated record (see
:class:`~twochat_voice_web.device.Device` for their meaning).

:func:`parse_device_options` checks the constructor's arguments and builds :class:`DeviceOptions` (an
``INVALID_ARGUMENT`` error names the first unusable one, and nothing is started); :func:`parse_header_lines`
checks ``"Name: value"`` header lines (no CR/LF, no header the SDK sets itself).

A module of its own so that the Device's calls (:mod:`.call`), its tab coordinator (:mod:`.tabs`) and
preflight (:mod:`.preflight`) can read them without importing the Device.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from .codec_preferences import CodecPreferences, parse_codec_preferences
from .credentials import is_loopback_host, parse_ice_servers
from .errors import ErrorCode, VoiceSDKError
from .ice import GATHERING_POLICIES
from .platform import IceServer
from .sip.errors import LocalProtocolError
from .sip.headers import Headers, canonical_name

__all__ = ["LOG_LEVELS", "SOUND_NAMES", "DeviceOptions", "parse_device_options", "parse_header_lines"]


@dataclass(frozen=True)
class DeviceOptions:
    """Validated Device options (see :class:`Device` for their meaning)."""

    log_level: str = "warn"
    allow_incoming_while_busy: bool = False
    ice_servers: tuple[IceServer, ...] | None = None
    input_device_id: str | None = None
    output_device_id: str | None = None
    ringtone_url: str | None = None
    default_extra_headers: tuple[tuple[str, str], ...] = ()
    token_expiry_lead_ms: int = 60_000
    api_base_url: str = "https://api.p.2chat.io"
    credentials_path: str = "/sdk/voip/sip-credentials"
    ice_gathering_timeout_ms: int = 2000
    ice_gathering: str = "fast"
    dtmf_transport: str = "rfc4733"
    register_timeout_ms: int = 20_000
    reconnect_min_ms: int = 500
    reconnect_max_delay_ms: int = 20_000
    reconnect_max_attempts: int | None = 30
    reconnect_grace_ms: int = 30_000
    register_expires: int = 600
    sounds: tuple[tuple[str, str | bool], ...] = ()
    multi_tab: bool | str = False
    codec_preferences: CodecPreferences = field(default_factory=CodecPreferences)
    close_protection: bool = False


LOG_LEVELS = {
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
RESERVED_HEADERS = frozenset(
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
        if canonical_name(name).lower() in RESERVED_HEADERS:
            raise _invalid(f"{what}: the SDK sets {name} itself")
        try:
            Headers([(name, value.strip())])
        except LocalProtocolError as exc:
            raise _invalid(f"{what}: {exc.message}") from None
        out.append((name, value.strip()))
    return tuple(out)


def parse_device_options(
    *,
    log_level: str,
    allow_incoming_while_busy: bool,
    ice_servers: Iterable[Mapping[str, Any]] | None,
    input_device_id: str | None,
    output_device_id: str | None,
    ringtone_url: str | None,
    default_extra_headers: Iterable[str],
    token_expiry_lead_ms: int,
    api_base_url: str,
    credentials_provider: object,
    ice_gathering_timeout_ms: int,
    ice_gathering: str,
    dtmf_transport: str,
    reconnect_max_delay_ms: int,
    reconnect_max_attempts: int | None,
    sounds: Mapping[str, str | bool] | None,
    multi_tab: bool | str,
    codec_preferences: Iterable[str] | None,
    max_average_bitrate: int | None,
    dtx: bool | None,
    close_protection: bool,
    advanced: dict[str, Any],
) -> DeviceOptions:
    """Validate the Device's constructor options (see :class:`~twochat_voice_web.device.Device`).

    ``advanced`` holds the rarely needed tuning (``credentials_path``, ``register_timeout_ms``...) and is
    consumed (``reconnect_max_ms``, the former name, is popped).

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` naming the first unusable option.
    """
    if log_level not in LOG_LEVELS:
        raise _invalid(f"log_level must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
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
    options = DeviceOptions(
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
    if options.reconnect_min_ms > options.reconnect_max_delay_ms:
        raise _invalid("reconnect_min_ms must not exceed reconnect_max_delay_ms")
    return options
