"""A sandbox process that can be killed (SIGKILL) and started again on the same port with the same secrets.

The sandbox generates its API key, token secret and SIP passwords per run, so a restarted sandbox would
refuse every token and password a page already holds: a real 2Chat server keeps those across restarts,
and only its in-memory state (registrations, calls) is lost. This module runs the real sandbox command
(``twochat_voice_web.sandbox.cli.main``) with those three secrets read from a JSON file (created on the
first start), which is what a restart of the real service looks like to the SDK.

Run as a script (what :class:`RestartableSandbox` does)::

    python tests/reliability/restartable_sandbox.py SECRETS.json [sandbox options...]

:class:`RestartableSandbox` starts it on a fixed free port, ``kill()``s it with SIGKILL, ``start()``s it
again, and reports when the port accepts connections again (``reachable_at``, wall clock).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["RestartableSandbox", "free_port", "wait_port"]

_PASSWORDS = 8


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

    ``args`` are extra sandbox options (``--site``, ``--mount``, ``--test-hooks``...). ``info`` is the
    ready file's JSON of the current run (``url``, ``ws_url``, ``api_key``, ``port``...).
    """

    def __init__(self, run_dir: Path, args: Sequence[str] = (), *, port: int | None = None) -> None:
        self.run_dir = run_dir
        self.args = list(args)
        self.port = port or free_port()
        self.secrets_file = run_dir / "secrets.json"
        self.ready_file = run_dir / "ready.json"
        self.log_path = run_dir / "sandbox.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.info: dict[str, Any] = {}
        self.starts = 0
        run_dir.mkdir(parents=True, exist_ok=True)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self.port}"

    def start(
        self, *, ready_timeout: float = 60.0, on_reachable: Callable[[float], None] | None = None
    ) -> float:
        """Start the sandbox and wait for its ready file; returns when the port accepted connections."""
        self.ready_file.unlink(missing_ok=True)
        watcher = PortWatcher(self.port, timeout=ready_timeout)
        command = [
            sys.executable, str(Path(__file__).resolve()), str(self.secrets_file),
            "--host", "127.0.0.1", "--port", str(self.port), "--ready-file", str(self.ready_file),
            "--parent-pid", str(os.getpid()), *self.args,
        ]
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start #{self.starts + 1} at {time.time():.3f}\n".encode())
            log.flush()
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + ready_timeout
        while not self.ready_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the sandbox did not start:\n{self.log_tail()}")
            time.sleep(0.01)
        self.info = json.loads(self.ready_file.read_text())
        self.starts += 1
        reachable = watcher.wait(5.0)
        if on_reachable is not None:
            on_reachable(reachable)
        return reachable

    def kill(self) -> float:
        """SIGKILL the sandbox (no goodbye to anyone); returns the wall-clock time of the kill."""
        if self.process is None or self.process.poll() is not None:
            raise RuntimeError("the sandbox is not running")
        killed_at = time.time()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait(10)
        return killed_at

    def stop(self) -> None:
        """SIGTERM (then SIGKILL) the current process, if any."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        os.kill(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.kill(process.pid, signal.SIGKILL)
            process.wait(10)

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the log (all runs)."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


# ------------------------------------------------------------------------------------------ the script


def _load_secrets(path: Path) -> dict[str, Any]:
    if path.exists():
        saved: dict[str, Any] = json.loads(path.read_text())
        return saved
    fresh = {
        "api_key": "sbx_" + secrets.token_urlsafe(32),
        "jwt_secret": secrets.token_urlsafe(48),
        "passwords": [secrets.token_urlsafe(18) for _ in range(_PASSWORDS)],
    }
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(fresh, handle)
    return fresh


def main(argv: Sequence[str]) -> int:
    """Run the sandbox's own command line with the secrets of ``argv[0]`` (created when missing)."""
    from twochat_voice_web.sandbox import cli
    from twochat_voice_web.sandbox import state as state_module

    saved = _load_secrets(Path(argv[0]))
    original_users = state_module.default_users
    original_build = cli.build_config

    def users_with_saved_passwords(password_factory: Callable[[], str] | None = None) -> Any:
        passwords = iter(saved["passwords"])
        return original_users(lambda: next(passwords))

    def config_with_saved_secret(args: Any) -> Any:
        return dataclasses.replace(original_build(args), jwt_secret=saved["jwt_secret"])

    state_module.default_users = users_with_saved_passwords
    cli.build_config = config_with_saved_secret
    return cli.main(["--api-key", saved["api_key"], *argv[1:]])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
