"""Configuration of the sandbox process: one frozen :class:`SandboxConfig` built from the CLI or by tests.

Everything the server needs to know before it starts lives here (bind address, static roots, REST paths,
token policy, secrets). Secrets that the user does not give are generated per run with :mod:`secrets`.
Run-time state (users' SIP passwords, the event log, the bound URL) lives in :mod:`.state`.
"""

from __future__ import annotations

import ipaddress
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .media_addresses import MediaAddressPolicy, default_policy

__all__ = [
    "API_KEY_ENV",
    "DEFAULT_HOST",
    "DEFAULT_PORT",
    "DEFAULT_SIP_DOMAIN",
    "ConfigError",
    "Mount",
    "RestPaths",
    "SandboxConfig",
    "generate_api_key",
    "is_loopback_host",
    "parse_mount",
]

API_KEY_ENV = "TWOCHAT_SANDBOX_API_KEY"
"""Environment variable read for the account API key when ``--api-key`` is not given."""

DEFAULT_HOST = "127.0.0.1"
"""The sandbox binds loopback only unless told otherwise."""

DEFAULT_PORT = 8765
"""Default TCP port (``0`` picks a free one)."""

DEFAULT_SIP_DOMAIN = "sandbox.2chat.test"
"""SIP domain and digest realm of the sandbox users (``.test`` is reserved, RFC 6761)."""

MIN_TTL_SECONDS = 60
"""2Chat's lower clamp for access-token lifetimes."""

MAX_TTL_SECONDS = 86_400
"""2Chat's upper clamp for access-token lifetimes."""

DEFAULT_TTL_SECONDS = 3600
"""2Chat's default access-token lifetime."""


class ConfigError(ValueError):
    """A sandbox option is invalid; the message names the option and what is wrong with it."""


def generate_api_key() -> str:
    """Return a fresh random account API key (URL-safe, 32 bytes of entropy)."""
    return "sbx_" + secrets.token_urlsafe(32)


def is_loopback_host(host: str) -> bool:
    """Tell whether ``host`` (a bind address or name) only reaches this machine."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Mount:
    """A static directory served under a URL prefix (``--mount /test=dist/test-assets``).

    Attributes:
        prefix: URL path prefix, normalised to start with ``/`` and not end with ``/`` (never just ``/``).
        directory: the directory whose files are served below ``prefix``.
    """

    prefix: str
    directory: Path


def parse_mount(text: str) -> Mount:
    """Parse a ``PREFIX=DIR`` mount option; raise :class:`ConfigError` when malformed."""
    prefix, sep, directory = text.partition("=")
    if not sep or not prefix.strip() or not directory.strip():
        raise ConfigError(f"--mount expects PREFIX=DIR, got {text!r}")
    norm = "/" + prefix.strip().strip("/")
    if norm == "/":
        raise ConfigError(f"--mount prefix must not be '/' (use --site for the root), got {text!r}")
    segments = norm.split("/")[1:]
    if any(seg in ("", ".", "..") for seg in segments) or "\\" in norm or "{" in norm or "}" in norm:
        raise ConfigError(f"--mount prefix {prefix!r} is not a plain URL path")
    return Mount(prefix=norm, directory=Path(directory.strip()))


@dataclass(frozen=True, slots=True)
class RestPaths:
    """URL paths of the emulated 2Chat REST API (product.md §4: paths are configurable).

    Attributes:
        mint: paths of the backend mint endpoint; 2Chat's public material shows both, so both are served.
        credentials: the browser's SIP-credentials endpoint.
        users: ``GET /open/users``.
        caller_ids: ``GET /open/voip/caller-ids``.
        sip_ws: path of the SIP-over-WebSocket endpoint (served by ``sip_server``; used in ``ws_url``).
    """

    mint: tuple[str, ...] = ("/sdk/voip/access-token", "/open/sdk/access-token")
    credentials: str = "/sdk/voip/sip-credentials"
    users: str = "/open/users"
    caller_ids: str = "/open/voip/caller-ids"
    sip_ws: str = "/sip"


def _env_api_key() -> str | None:
    value = os.environ.get(API_KEY_ENV, "").strip()
    return value or None


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """Everything the sandbox needs to start. Build it with keywords; every field has a sensible default.

    Attributes:
        host: bind address (default loopback).
        port: TCP port; ``0`` picks a free one.
        site_dir: directory served at ``/`` (``None``: no site, only the API).
        mounts: extra static directories under URL prefixes.
        api_key: the account API key the mint endpoint expects (``X-User-API-Key``).
        jwt_secret: HS256 secret for access tokens (generated per run).
        user_passwords: the ready-made users' SIP passwords, in order (empty: random per run); with
            ``api_key`` and ``jwt_secret``, what a restart keeps (``--secrets-file``).
        sip_domain: SIP domain and digest realm of the users.
        ice_servers: list returned in the credentials (loopback needs none).
        media_addresses: where the test numbers' media may go (:mod:`.media_addresses`): ``HOST``
            (this machine's addresses, the default) or ``LOOPBACK`` (127.0.0.1 only); the default
            comes from ``$TWOCHAT_SANDBOX_MEDIA_ADDRESSES`` when set.
        rest_paths: URL paths of the emulated REST API.
        default_ttl / min_ttl / max_ttl: token lifetime policy (2Chat: 3600, clamped to 60..86400).
            ``min_ttl`` may be lowered for token-expiry tests (``--min-token-ttl``).
        demo_token_ttl: lifetime requested by ``POST /demo/token``.
        cors_origins: origins allowed to call the browser-facing credentials endpoint (``"*"``: any).
        static_no_cache: serve every static file with ``Cache-Control: no-cache`` (development).
        ready_file: where to write the ready JSON once listening.
        parent_pid: exit when this process is gone.
        parent_poll_interval: seconds between two parent checks.
        log_level: logging level name.
        event_log_size: how many events the log keeps (oldest dropped first).
        shutdown_timeout: seconds granted to open connections on shutdown.
        clock: wall clock in Unix seconds (injectable for tests); used for token times and events.
        plugins: dotted module names whose ``setup_app(app)`` is called by ``create_app`` (``None``: the
            default list, see :data:`twochat_voice_web.sandbox.app.DEFAULT_PLUGINS`).
        test_hooks: enable test-only endpoints (``POST /sandbox/inject``: raw frames to a client).
    """

    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    site_dir: Path | None = None
    mounts: tuple[Mount, ...] = ()
    api_key: str = field(default_factory=lambda: _env_api_key() or generate_api_key(), repr=False)
    jwt_secret: str = field(default_factory=lambda: secrets.token_urlsafe(48), repr=False)
    user_passwords: tuple[str, ...] = field(default=(), repr=False)
    sip_domain: str = DEFAULT_SIP_DOMAIN
    ice_servers: tuple[dict[str, Any], ...] = ()
    media_addresses: MediaAddressPolicy = field(default_factory=default_policy)
    rest_paths: RestPaths = RestPaths()
    default_ttl: int = DEFAULT_TTL_SECONDS
    min_ttl: int = MIN_TTL_SECONDS
    max_ttl: int = MAX_TTL_SECONDS
    demo_token_ttl: int = DEFAULT_TTL_SECONDS
    cors_origins: tuple[str, ...] = ("*",)
    static_no_cache: bool = False
    ready_file: Path | None = None
    parent_pid: int | None = None
    parent_poll_interval: float = 0.5
    log_level: str = "info"
    event_log_size: int = 10_000
    shutdown_timeout: float = 2.0
    clock: Callable[[], float] = field(default=time.time, repr=False, compare=False)
    plugins: tuple[str, ...] | None = None
    test_hooks: bool = False

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"--port must be 0..65535, got {self.port}")
        key = self.api_key
        if not key or any(c in key for c in "\r\n\0") or key != key.strip():
            raise ConfigError("--api-key must be non-empty, without surrounding spaces or CR/LF/NUL")
        if len(self.jwt_secret.encode()) < 32:
            raise ConfigError("jwt_secret must be at least 32 bytes (RFC 7518 §3.2 for HS256)")
        if not 1 <= self.min_ttl <= self.max_ttl:
            raise ConfigError(
                f"token ttl bounds must satisfy 1 <= min ({self.min_ttl}) <= max ({self.max_ttl})"
            )
        if not self.min_ttl <= self.default_ttl <= self.max_ttl:
            raise ConfigError(f"default ttl {self.default_ttl} is outside {self.min_ttl}..{self.max_ttl}")
        if self.demo_token_ttl < 1:
            raise ConfigError(f"--demo-token-ttl must be positive, got {self.demo_token_ttl}")
        if self.parent_poll_interval <= 0:
            raise ConfigError("parent_poll_interval must be positive")
        if self.event_log_size < 1:
            raise ConfigError("event_log_size must be positive")
        prefixes = [m.prefix for m in self.mounts]
        if len(set(prefixes)) != len(prefixes):
            raise ConfigError(f"--mount prefixes must be distinct, got {prefixes}")
        if not isinstance(self.media_addresses, MediaAddressPolicy):
            raise ConfigError(f"media_addresses must be a MediaAddressPolicy, not {self.media_addresses!r}")
        for server in self.ice_servers:
            if "urls" not in server:
                raise ConfigError(f"every ICE server needs 'urls', got {server!r}")

    @property
    def is_loopback(self) -> bool:
        """Whether the bind address only reaches this machine."""
        return is_loopback_host(self.host)
