"""Start-up reporting: tells the page's progress shell (``scripts/boot.js``) what Python is doing.

Readiness contract (tests and app code rely on it): once a page's Python has started and imported the
SDK it calls :func:`announce_ready`, which sets ``window.twochat.ready = true`` together with
``window.twochat.python`` (``sys.version``) and ``window.twochat.sdk`` (``twochat_voice_web.__version__``),
and fires ``twochat:ready`` on ``window``. A start-up failure sets ``window.twochat.error``. Pages without
the progress shell get the same ``window.twochat`` fields.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import js
from pyodide.ffi import to_js

__all__ = ["announce_ready", "begin", "done", "fail", "now_ms", "timed_step"]


def _shell() -> Any:
    """The JS progress shell, or None on a page without ``scripts/boot.js``."""
    return getattr(js.window, "twochatBoot", None)


def now_ms() -> float:
    """Milliseconds since navigation start (the page's ``performance.now()``)."""
    return float(js.performance.now())


def begin(step: str) -> None:
    """Mark ``step`` (``download``, ``python``, ``sdk`` or ``ready``) as running."""
    shell = _shell()
    if shell is not None:
        shell.begin(step)


def done(step: str, detail: str = "") -> None:
    """Mark ``step`` as finished, with a short human-readable detail."""
    shell = _shell()
    if shell is not None:
        shell.done(step, detail)


def fail(message: str) -> None:
    """Report a start-up failure: the page shows it and ``window.twochat.error`` is set."""
    shell = _shell()
    if shell is not None:
        shell.fail(message)
    else:
        _plain_state().error = message


@contextmanager
def timed_step(step: str, describe: str) -> Iterator[None]:
    """Run a block as ``step``; on success mark it done with ``"<describe> in N ms"``, else fail."""
    begin(step)
    started = now_ms()
    try:
        yield
    except BaseException as error:
        fail(f"{describe}: {type(error).__name__}: {error}")
        raise
    done(step, f"{describe} in {now_ms() - started:.0f} ms")


def _plain_state() -> Any:
    """``window.twochat`` on a page without the progress shell (created on first use)."""
    state = getattr(js.window, "twochat", None)
    if state is None:
        js.window.twochat = to_js({"ready": False, "error": None}, dict_converter=js.Object.fromEntries)
        state = js.window.twochat
    return state


def announce_ready(sdk_version: str) -> None:
    """Publish that Python and the SDK are ready (see the module docstring for the contract)."""
    info = {"python": sys.version, "sdk": sdk_version}
    shell = _shell()
    if shell is not None:
        shell.ready(to_js(info, dict_converter=js.Object.fromEntries))
        return
    state = _plain_state()
    state.python = info["python"]
    state.sdk = info["sdk"]
    state.ready = True
    js.window.dispatchEvent(js.CustomEvent.new("twochat:ready"))
