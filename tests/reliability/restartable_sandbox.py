"""A sandbox process that can be killed (SIGKILL) and started again on the same port with the same secrets.

The sandbox generates its API key, token secret and SIP passwords per run, so a restarted sandbox would
refuse every token and password a page already holds: a real 2Chat server keeps those across restarts,
and only its in-memory state (registrations, calls) is lost. :class:`RestartableSandbox` starts the real
sandbox the one declared way (:func:`twochat_voice_web.testing.start_sandbox`) with ``--secrets-file``
(the sandbox keeps those three secrets in a JSON file, created on the first start), which is what a
restart of the real service looks like to the SDK.

It starts the sandbox on a fixed free port, ``kill()``s it with SIGKILL, ``start()``s it again, and reports
when the port accepts connections again (``reachable_at``, wall clock).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from twochat_voice_web.testing import TwoChatSandbox, start_sandbox

__all__ = ["RestartableSandbox", "free_port", "wait_port"]



def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.2)
        try:
            sock.connect((host, port))
        except OSError:
            return False
    return True


def wait_port(port: int, *, timeout: float, interval: float = 0.005, is_open: bool = True) -> float:
    """Poll until the port is open (or closed, with ``is_open=False``); the wall-clock time it happened."""
    deadline = time.monotonic() + timeout
    while port_open(port) != is_open:
        if time.monotonic() > deadline:
            state = "open" if is_open else "closed"
            raise TimeoutError(f"port {port} not {state} after {timeout} s")
        time.sleep(interval)
    return time.time()


class PortWatcher:
    """A thread that notes the wall-clock time at which a port starts accepting connections."""

    def __init__(self, port: int, timeout: float = 60.0) -> None:
        self.port = port
        self.reachable_at: float | None = None
        self._timeout = timeout
        self._thread = threading.Thread(target=self._run, name=f"port-watch-{port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with contextlib.suppress(TimeoutError):
            self.reachable_at = wait_port(self.port, timeout=self._timeout)

    def wait(self, timeout: float) -> float:
        """The time the port became reachable (waits up to ``timeout``)."""
        self._thread.join(timeout)
        if self.reachable_at is None:
            raise TimeoutError(f"port {self.port} did not open")
        return self.reachable_at


class RestartableSandbox:
    """One sandbox on a fixed port that survives :meth:`kill` + :meth:`start` with the same secrets.

    ``site`` is served at ``/``, ``mounts`` under their URL prefixes; ``args`` are extra sandbox options
    (``--test-hooks``...). ``info`` is the ready file's JSON of the current run (``url``, ``ws_url``,
    ``api_key``, ``port``...); ``secrets_file`` holds the kept secrets (a test may rotate the passwords in it
    before a restart).
    """

    def __init__(
        self,
        run_dir: Path,
        site: Path,
        *,
        mounts: Mapping[str, Path] | None = None,
        args: Sequence[str] = (),
        port: int | None = None,
    ) -> None:
        self.run_dir = run_dir
        self.site = site
        self.mounts = dict(mounts or {})
        self.args = list(args)
        self.port = port or free_port()
        self.secrets_file = run_dir / "secrets.json"
        self.sandbox: TwoChatSandbox | None = None
        self.info: dict[str, Any] = {}
        self.starts = 0
        run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """The current sandbox process (None before the first start)."""
        return self.sandbox.process if self.sandbox is not None else None

    def start(
        self, *, ready_timeout: float = 60.0, on_reachable: Callable[[float], None] | None = None
    ) -> float:
        """Start the sandbox and wait for its ready file; returns when the port accepted connections."""
        watcher = PortWatcher(self.port, timeout=ready_timeout)
        self.sandbox = start_sandbox(
            self.site,
            self.run_dir / f"run-{self.starts + 1}",
            port=self.port,
            mounts=self.mounts,
            extra_args=["--secrets-file", str(self.secrets_file), *self.args],
            ready_timeout=ready_timeout,
            media_addresses=None,
        )
        self.info = dict(self.sandbox.ready)
        self.starts += 1
        reachable = watcher.wait(5.0)
        if on_reachable is not None:
            on_reachable(reachable)
        return reachable

    def kill(self) -> float:
        """SIGKILL the sandbox (no goodbye to anyone); returns the wall-clock time of the kill."""
        process = self.process
        if process is None or process.poll() is not None:
            raise RuntimeError("the sandbox is not running")
        killed_at = time.time()
        os.kill(process.pid, signal.SIGKILL)
        process.wait(10)
        return killed_at

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) the current process, if any."""
        sandbox, self.sandbox = self.sandbox, None
        if sandbox is not None:
            sandbox.stop()

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the current run's log."""
        if self.sandbox is None:
            return ""
        try:
            return self.sandbox.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""
