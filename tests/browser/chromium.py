"""Which Chromium the browser tests drive, and with which flags: the plugin's one copy
(:mod:`twochat_voice_web.testing.chromium`), re-exported for the project's tests and benchmarks.

Run as a script it prints the chosen path (or nothing, exit 1): ``build.py test`` uses that to decide
whether to ``apt-get install chromium``.
"""

from __future__ import annotations

import sys

from twochat_voice_web.testing.chromium import CHROMIUM_ARGS, DEBIAN_CHROMIUM, find_chromium, launch_options

__all__ = ["CHROMIUM_ARGS", "DEBIAN_CHROMIUM", "find_chromium", "launch_options"]

if __name__ == "__main__":
    found = find_chromium()
    if found is None:
        sys.exit(1)
    print(found)
