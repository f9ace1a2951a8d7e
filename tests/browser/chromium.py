"""Which Chromium the browser tests drive, and with which flags.

Order: ``$TWOCHAT_CHROMIUM`` if set; Playwright's own Chromium when it is installed (``playwright
install chromium``); Debian's (``/usr/lib/chromium/chromium``, the binary behind the ``/usr/bin/chromium``
wrapper, which adds its own flags and a noisy /dev/shm check); ``/usr/bin/chromium``.

Run as a script it prints the chosen path (or nothing, exit 1): ``build.py test`` uses that to decide
whether to ``apt-get install chromium``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

__all__ = ["CHROMIUM_ARGS", "DEBIAN_CHROMIUM", "find_chromium", "launch_options"]

DEBIAN_CHROMIUM = ("/usr/lib/chromium/chromium", "/usr/bin/chromium")

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
    # Self-signed certificates of the wss:// test servers.
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


def _playwright_chromium() -> str | None:
    """Playwright's downloaded Chromium, when present (never downloads anything)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return None
    try:
        with sync_playwright() as playwright:
            path = playwright.chromium.executable_path
    except Exception:
        return None
    return path if path and Path(path).is_file() else None


def find_chromium() -> str | None:
    """The Chromium executable to use, or None when there is none."""
    override = os.environ.get("TWOCHAT_CHROMIUM")
    if override:
        return override if Path(override).is_file() else None
    own = _playwright_chromium()
    if own is not None:
        return own
    for candidate in DEBIAN_CHROMIUM:
        if Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


def launch_options(executable: str, *, headless: bool = True) -> dict[str, object]:
    """Keyword arguments for ``playwright.chromium.launch`` / ``launch_persistent_context``."""
    args = list(CHROMIUM_ARGS)
    if headless:
        args.insert(0, "--headless=new")
    return {"executable_path": executable, "args": args, "headless": headless}


if __name__ == "__main__":
    found = find_chromium()
    if found is None:
        sys.exit(1)
    print(found)
