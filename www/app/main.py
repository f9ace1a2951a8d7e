"""Entry point of the softphone page (``index.html``), imported by its ``<script type="py">``.

The page's script is the one line ``import app.main``: this module comes as bytecode in ``app.zip``, so
PyScript compiles one line in the page instead of this file (compiling source in the page runs CPython's
parser and compiler, which a returning visitor's browser compiles to machine code on first use).

It imports the SDK (timed, shown as the "Loading the SDK" step), fills in the version line and the
status area, mounts the softphone (:mod:`app.softphone`), announces readiness (``window.twochat``, see
:mod:`app.boot`), folds the start-up panel into a one-line summary, and then loads the sign-in card.
"""

from __future__ import annotations

import sys

import js

from app import boot
from app.dom import nullable
from app.status import StatusArea

with boot.timed_step("sdk", "imported twochat_voice_web"):
    import twochat_voice_web

from app.softphone import Softphone


def fold_start_up_panel() -> None:
    """Close the start-up details and summarise them as ``Started in N.N s``."""
    panel = nullable(js.document.getElementById("boot"))
    summary = nullable(js.document.getElementById("boot-summary"))
    state = nullable(getattr(js.window, "twochat", None))
    if panel is None or summary is None or state is None:
        return
    total = nullable(getattr(getattr(getattr(state, "steps", None), "ready", None), "end", None))
    seconds = f" in {float(total) / 1000:.1f} s" if isinstance(total, int | float) else ""
    summary.textContent = f"Python started{seconds}"
    panel.open = False


python_version = sys.version.split()[0]
js.document.getElementById("python-version").textContent = python_version
js.document.getElementById("sdk-version").textContent = twochat_voice_web.__version__
StatusArea().success(
    f"Ready: Python {python_version} (Pyodide) with twochat_voice_web {twochat_voice_web.__version__}"
)
softphone = Softphone()
softphone.mount()
boot.announce_ready(twochat_voice_web.__version__)
fold_start_up_panel()
softphone.listeners.spawn(softphone.start())
