"""Which Chromium end-to-end tests drive, and with which flags (one copy for the plugin and the project).

:data:`CHROMIUM_ARGS` are the launch arguments a test browser needs to call through the sandbox: fake
microphone and camera with the permission prompt accepted, WebRTC between the page and 127.0.0.1, audio
without a user gesture, self-signed certificates accepted, and nothing leaving the machine (every host
name but the loopback ones fails to resolve; background traffic off).

:func:`find_chromium` picks the executable: ``$TWOCHAT_CHROMIUM`` when set; Playwright's own Chromium when
installed (``playwright install chromium``); Debian's (``/usr/lib/chromium/chromium``, the binary behind
the ``/usr/bin/chromium`` wrapper, which adds flags of its own and a noisy /dev/shm check);
``/usr/bin/chromium``.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "CHROMIUM_ENV", "DEBIAN_CHROMIUM", "find_chromium", "launch_options"]

CHROMIUM_ENV = "TWOCHAT_CHROMIUM"
"""Environment variable naming the Chromium executable to use (it wins over every other choice)."""

DEBIAN_CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")
"""Where Debian's chromium package puts the browser (the binary first, then its wrapper script)."""

CHROMIUM_ARGS: tuple[str, ...] = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    # Fake microphone/camera, permission prompts auto-accepted.
    "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    # WebRTC between the page and servers on 127.0.0.1; audio plays without a user gesture.
    "--allow-loopback-in-peer-connection",
    "--autoplay-policy=no-user-gesture-required",
    # Self-signed certificates of wss:// test servers.
    "--ignore-certificate-errors",
    # Nothing leaves the machine: every host name except the loopback ones fails to resolve, and
    # Chromium's own background traffic is off.
    "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE localhost , EXCLUDE 127.0.0.1",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--no-pings",
    "--disable-domain-reliability",
    "--disable-features=OptimizationHints,MediaRouter,Translate,AutofillServerCommunication,"
    "CertificateTransparencyComponentUpdater",
)
"""Chromium's launch arguments for calls through the sandbox (see the module docstring)."""


def _playwright_chromium() -> str | None:
    """Playwright's downloaded Chromium, when present (never downloads anything)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:  # no driver, or a running event loop: then there is no answer from Playwright
        return None
    return path if path and Path(path).is_file() else None


def find_chromium() -> str | None:
    """The Chromium executable to use (see the module docstring), or None when there is none."""
    override = os.environ.get(CHROMIUM_ENV)
    if override:
        return override if Path(override).is_file() else None
    own = _playwright_chromium()
    if own is not None:
        return own
    for candidate in DEBIAN_CHROMIUM:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch_options(executable: str | None, *, headless: bool = True) -> dict[str, object]:
    """Keyword arguments for Playwright's ``chromium.launch`` / ``launch_persistent_context``.

    ``executable`` None leaves the choice to Playwright (its own Chromium).
    """
    args = list(CHROMIUM_ARGS)
    if headless:
        args.insert(0, "--headless=new")
    options: dict[str, object] = {"args": args, "headless": headless}
    if executable is not None:
        options["executable_path"] = executable
    return options
