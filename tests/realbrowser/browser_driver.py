"""The Python end of ``driver.mjs``: one browser (Chromium or Firefox ESR) inside the tier's namespace.

The driver process runs in the namespace; this side talks to it over its stdin/stdout only, so pytest
itself opens no socket. Every call waits for its answer with a deadline.
"""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["BrowserDriver", "DriverError", "GuardReport"]

DRIVER_SCRIPT = Path(__file__).resolve().parent / "driver.mjs"


class DriverError(AssertionError):
    """The driver answered with an error (a selector never became clickable, a wait timed out...)."""


class GuardReport(dict[str, list[str]]):
    """What a page's guard saw: ``page_errors``, ``foreign_requests`` and the last ``console`` lines."""


class BrowserDriver:
    """One ``driver.mjs`` process and the browser it launched.

    Args:
        command: how to start node with the driver inside the namespace (``ip netns exec ... node ...``).
        cwd: the repository root (where ``node_modules/puppeteer-core`` is).
        log_path: where the driver's stderr goes.
    """

    def __init__(self, command: Sequence[str], *, cwd: Path, log_path: Path) -> None:
        self._log = log_path.open("w")
        self._process = subprocess.Popen(
            list(command),
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            bufsize=1,
        )
        self._ids = itertools.count(1)
        self._answers: queue.Queue[dict[str, Any] | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, name="driver.mjs reader", daemon=True)
        self._reader.start()
        self.engine = ""
        self.version = ""
        self.browser_log: Path | None = None

    def _read(self) -> None:
        assert self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.strip()
            if line:
                self._answers.put(json.loads(line))
        self._answers.put(None)

    def request(self, op: str, *, timeout: float = 90.0, **args: Any) -> Any:
        """Send one op and return its result; DriverError on an error answer or no answer in time."""
        if self._process.poll() is not None:
            raise DriverError(f"the driver exited ({self._process.returncode}); see {self._log.name}")
        request_id = next(self._ids)
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps({"id": request_id, "op": op, **args}) + "\n")
        self._process.stdin.flush()
        deadline = time.monotonic() + timeout
        while True:
            try:
                answer = self._answers.get(timeout=max(deadline - time.monotonic(), 0.0))
            except queue.Empty:
                raise DriverError(f"no answer to {op} in {timeout:.0f} s; see {self._log.name}") from None
            if answer is None:
                raise DriverError(f"the driver exited during {op}; see {self._log.name}")
            if answer.get("id") == request_id:
                break
            late = answer.get("id")
            if not (isinstance(late, int) and late < request_id):
                raise DriverError(f"answer out of order: {answer!r}")
            # the late answer of a request that already timed out here: that request failed its own test;
            # dropping the answer keeps it from failing every request after it
        if not answer.get("ok"):
            raise DriverError(f"{op} {json.dumps(args)[:300]} failed: {answer.get('error')}")
        return answer.get("result")

    def launch(
        self, engine: str, executable: str, profile: Path | None = None, browser_log: Path | None = None
    ) -> str:
        """Launch the browser (on ``profile``, a user-data directory kept for warm starts); its version.

        ``browser_log``: where Chromium writes its own log (crashes and errors no page sees).
        """
        args: dict[str, Any] = {"engine": engine, "executable": executable}
        if profile is not None:
            args["profile"] = str(profile)
        if browser_log is not None and engine == "chromium":
            args["log"] = str(browser_log)
            self.browser_log = browser_log
        result = self.request("launch", timeout=120.0, **args)
        self.engine, self.version = engine, str(result["version"])
        return self.version

    def fetch(self, url: str, method: str = "GET", body: Any = None) -> Any:
        """An HTTP request from inside the namespace; returns the parsed JSON body (asserts 2xx)."""
        args: dict[str, Any] = {"url": url, "method": method}
        if body is not None:
            args["body"] = body
        result = self.request("fetch", **args)
        status = int(result["status"])
        assert 200 <= status < 300, f"{method} {url} -> {status}: {result['body']}"
        return result["body"]

    def guard(self, page: int) -> GuardReport:
        """The page's guard report."""
        return GuardReport(self.request("guard", page=page))

    def activity(self, page: int) -> dict[str, Any] | None:
        """What the page's main thread does over one second (Chromium; None elsewhere): milliseconds of
        script and of tasks per second, the JS heap. Answered even while the page is stuck in a script."""
        if self.engine != "chromium":
            return None
        result = self.request("activity", page=page, timeout=60.0)
        return dict(result) if result else None

    def browser_log_tail(self, lines: int = 40) -> list[str]:
        """The last lines of the browser's own log (Chromium, when launched with ``browser_log``)."""
        if self.browser_log is None or not self.browser_log.exists():
            return []
        # D-Bus complaints (there is no session bus in CI) say nothing about a page
        kept = [
            line
            for line in self.browser_log.read_text(errors="replace").splitlines()
            if not any(noise in line for noise in ("dbus/", "bluez_dbus", "idle_linux"))
        ]
        return kept[-lines:]

    def quit_browser(self) -> None:
        """Close the browser, keep the driver (a later :meth:`launch` starts it again)."""
        self.request("quit_browser", timeout=60.0)

    def close(self) -> None:
        """Quit the browser and the driver (by the driver's PID if it does not answer)."""
        try:
            if self._process.poll() is None:
                self.request("quit", timeout=30.0)
        except DriverError:
            pass
        finally:
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=10)
            self._log.close()
