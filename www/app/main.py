"""Entry point of the demo page (``index.html``), run by PyScript once Pyodide is up.

It imports the SDK (timed, shown as the "Loading the SDK" step), fills in the version line and the
status area, and announces readiness. The softphone UI mounts into ``#app`` (a later addition).
"""

from __future__ import annotations

import sys

import js

from app import boot
from app.status import StatusArea

with boot.timed_step("sdk", "imported twochat_voice_web"):
    import twochat_voice_web

python_version = sys.version.split()[0]
js.document.getElementById("python-version").textContent = python_version
js.document.getElementById("sdk-version").textContent = twochat_voice_web.__version__
StatusArea().success(
    f"Ready: Python {python_version} (Pyodide) with twochat_voice_web {twochat_voice_web.__version__}"
)
boot.announce_ready(twochat_voice_web.__version__)
