"""The Device's options, validated (see :class:`~twochat_voice_web.device.Device` for their meaning).

A module of its own so that the Device's calls (:mod:`.call`), its tab coordinator (:mod:`.tabs`) and
preflight (:mod:`.preflight`) can read them without importing the Device.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .codec_preferences import CodecPreferences
from .platform import IceServer

__all__ = ["DeviceOptions"]


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
