"""``python -m twochat_voice_web.sandbox``: run the local 2Chat sandbox (see :mod:`.cli`)."""

from __future__ import annotations

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
