"""Local 2Chat sandbox (CPython only): REST API, SIP-over-WebSocket registrar, test numbers, demo site.

Run it with ``python -m twochat_voice_web.sandbox``; embed it with :func:`create_app`. See docs/sandbox.md.
"""

from __future__ import annotations

from .app import DEFAULT_PLUGINS, create_app
from .config import ConfigError, Mount, RestPaths, SandboxConfig
from .state import (
    STATE_KEY,
    CallerIdRecord,
    EventLog,
    EventLogEntry,
    SandboxState,
    UserAccount,
    UserDirectory,
)

__all__ = [
    "DEFAULT_PLUGINS",
    "STATE_KEY",
    "CallerIdRecord",
    "ConfigError",
    "EventLog",
    "EventLogEntry",
    "Mount",
    "RestPaths",
    "SandboxConfig",
    "SandboxState",
    "UserAccount",
    "UserDirectory",
    "create_app",
]
