"""Testing kit for pages that embed twochat-voice-web: the sandbox as pytest fixtures (CPython only).

Part of the twochat-voice-web-sandbox distribution; its pytest plugin (:mod:`.plugin`, entry point
``twochat``) loads by itself once that distribution is installed. docs/testing.md is the guide.

- :class:`TwoChatSandbox` (the ``twochat_sandbox`` fixture's object) and :func:`start_sandbox` to run one
  outside pytest; :class:`SandboxUser`, :class:`CallerId`.
- :data:`CHROMIUM_ARGS` and :func:`find_chromium`: how to launch a Chromium that can call through it.
- Errors: :class:`TwoChatSandboxError` and its :class:`RuntimeMissingError`, :class:`PortInUseError`,
  :class:`UnknownUserError`, :class:`MountError`.
"""

from __future__ import annotations

from .chromium import CHROMIUM_ARGS, find_chromium, launch_options
from .sandbox import (
    CallerId,
    MountError,
    PortInUseError,
    RuntimeMissingError,
    SandboxUser,
    TwoChatSandbox,
    TwoChatSandboxError,
    UnknownUserError,
    find_site,
    start_sandbox,
)

__all__ = [
    "CHROMIUM_ARGS",
    "CallerId",
    "MountError",
    "PortInUseError",
    "RuntimeMissingError",
    "SandboxUser",
    "TwoChatSandbox",
    "TwoChatSandboxError",
    "UnknownUserError",
    "find_chromium",
    "find_site",
    "launch_options",
    "start_sandbox",
]
