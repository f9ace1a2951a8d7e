"""Helpers behind the browser fixtures of tests/conftest.py; usable on their own (benchmarks, scripts).

- :func:`start_sandbox` / :class:`SandboxProcess`: run ``python -m twochat_voice_web.sandbox`` on a free
  loopback port, read its ready file, stop it by PID.
- :func:`mint_token`: mint an access token through the sandbox's REST API, as a customer backend would.
- :class:`PageGuard`: records page errors and every request that leaves loopback, for a page or a
  whole browser context; tests fail when it saw anything.
- :func:`wait_for_sdk_ready`: wait for a page's Python and SDK to announce readiness (``window.twochat``).

Import from tests as ``from browser.harness import ...`` (tests/ is on sys.path through tests/conftest.py).
"""

from __future__ import annotations

import importlib.util
import ipaddress
import json
import re
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

from playwright.sync_api import BrowserContext, ConsoleMessage, Error, Page, Playwright, Request, WebSocket

from twochat_voice_web.testing import CallerId, SandboxUser, TwoChatSandbox, TwoChatSandboxError
from twochat_voice_web.testing import start_sandbox as start_plugin_sandbox

__all__ = [
    "REPO_ROOT",
    "BuiltSite",
    "CallerId",
    "PageGuard",
    "PersistentProfile",
    "Sandbox",
    "SandboxError",
    "SandboxProcess",
    "SandboxUser",
    "is_loopback_url",
    "load_build_module",
    "mint",
    "mint_token",
    "start_sandbox",
    "wait_for_sdk_ready",
]

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class BuiltSite:
    """Where build.py staged the site and the test assets, and what build-info.json says."""

    site: Path
    test_assets: Path
    info: dict[str, Any]
    """build-info.json: sdk/pyodide/pyscript versions and the site-relative wheel URLs."""


def load_build_module() -> ModuleType:
    """build.py as a module (loaded by path: ``import build`` would find pypa/build)."""
    spec = importlib.util.spec_from_file_location("twochat_build_script", REPO_ROOT / "build.py")
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {REPO_ROOT / 'build.py'}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class SandboxError(RuntimeError):
    """The sandbox did not start, answered an error, or did not stop."""


# --------------------------------------------------------------------------------------------------
# sandbox process


@dataclass(frozen=True)
class Sandbox:
    """A running sandbox, as its ready file describes it."""

    url: str
    """``http://127.0.0.1:<port>`` (no trailing slash): the site, the REST API and ``/test/`` mounts."""
    ws_url: str
    """The SIP-over-WebSocket URL."""
    api_key: str
    """The ``X-User-API-Key`` for the mint endpoint."""
    pid: int
    users: tuple[SandboxUser, ...]
    ready: dict[str, Any]
    """The whole ready-file JSON (also ``host``, ``port``, ``sip_domain`` ...)."""
    log_path: Path
    """Where the sandbox's stdout/stderr go."""

    @classmethod
    def from_plugin(cls, running: TwoChatSandbox) -> Sandbox:
        """The same view of the plugin's ``twochat_sandbox`` (tests/conftest.py's ``sandbox``)."""
        return cls(
            url=running.url, ws_url=running.ws_url, api_key=running.api_key, pid=running.process.pid,
            users=running.users, ready=running.ready, log_path=running.log_path,
        )

    def user(self, name: str) -> SandboxUser:
        """The user called ``name`` (e.g. ``"alice"``)."""
        for user in self.users:
            if user.name == name:
                return user
        known = ", ".join(user.name for user in self.users)
        raise LookupError(f"no sandbox user named {name!r} (known: {known})")

    def log_tail(self, characters: int = 4000) -> str:
        """The end of the sandbox log, for failure messages."""
        try:
            return self.log_path.read_text(errors="replace")[-characters:]
        except OSError:
            return ""


class SandboxProcess:
    """A sandbox started by :func:`start_sandbox`: the testing plugin's :class:`TwoChatSandbox` (which
    starts and stops it) seen through this module's :class:`Sandbox`."""

    def __init__(self, running: TwoChatSandbox) -> None:
        self.running = running
        """The plugin's object: the control API (calls, events, drop ...)."""
        self.info = Sandbox.from_plugin(running)
        """What the ready file says: URL, WebSocket URL, API key, users."""

    @property
    def process(self) -> subprocess.Popen[bytes]:
        """The sandbox subprocess."""
        return self.running.process

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, wait, SIGKILL if needed; return the exit code (:meth:`TwoChatSandbox.stop`)."""
        return self.running.stop(timeout)


def start_sandbox(
    *,
    site: Path,
    run_dir: Path,
    mounts: dict[str, Path] | None = None,
    extra_args: Sequence[str] = (),
    ready_timeout: float = 60.0,
    python: str = sys.executable,
    prefix: Sequence[str] = (),
) -> SandboxProcess:
    """Start ``python -m twochat_voice_web.sandbox`` on a free port and wait for its ready file, through the
    testing plugin's :func:`twochat_voice_web.testing.start_sandbox` (one copy of the start).

    ``run_dir`` receives ``ready.json`` and ``sandbox.log``. ``mounts`` maps URL prefixes to
    directories (``{"/test": dist/test-assets}``). The media policy is the sandbox's own default (this
    machine's addresses) unless ``extra_args`` says otherwise. The sandbox exits by itself when this
    process is gone. ``prefix`` goes before the command (``ip netns exec NAME``: a prefix that ends in
    ``exec``, so the PID is still the sandbox's). Raises :class:`SandboxError` with the log when it does
    not come up.
    """
    try:
        running = start_plugin_sandbox(
            site, run_dir, mounts=mounts, extra_args=extra_args, python=python,
            ready_timeout=ready_timeout, media_addresses=None, prefix=prefix,
        )
    except TwoChatSandboxError as error:
        raise SandboxError(str(error)) from error
    return SandboxProcess(running)


# --------------------------------------------------------------------------------------------------
# REST


def mint(
    sandbox: Sandbox,
    user: str | SandboxUser | None = None,
    *,
    ttl: int | None = None,
    label: str | None = None,
    api_key: str | None = None,
) -> dict[str, Any]:
    """``POST /sdk/voip/access-token`` as a backend would; return the JSON answer.

    ``user`` is a user name, a uuid or a :class:`SandboxUser` (default: the first user). Raises
    :class:`SandboxError` with the sandbox's error message on a non-2xx answer.
    """
    if user is None:
        chosen = sandbox.users[0].uuid
    elif isinstance(user, SandboxUser):
        chosen = user.uuid
    else:
        chosen = next((u.uuid for u in sandbox.users if user in (u.name, u.uuid)), user)
    body: dict[str, Any] = {"user_uuid": chosen}
    if ttl is not None:
        body["ttl"] = ttl
    if label is not None:
        body["label"] = label
    request = urllib.request.Request(
        sandbox.url + "/sdk/voip/access-token",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-User-API-Key": api_key or sandbox.api_key},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            answer: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")
        raise SandboxError(f"mint failed: HTTP {error.code}: {detail}") from error
    return answer


def mint_token(
    sandbox: Sandbox,
    user: str | SandboxUser | None = None,
    *,
    ttl: int | None = None,
    label: str | None = None,
) -> str:
    """The JWT of :func:`mint` (see there for the arguments)."""
    return str(mint(sandbox, user, ttl=ttl, label=label)["token"])


# --------------------------------------------------------------------------------------------------
# page guard

_LOCAL_SCHEMES = frozenset(
    {"data", "blob", "about", "chrome", "chrome-extension", "devtools", "chrome-error"}
)


def is_loopback_url(url: str) -> bool:
    """Whether loading ``url`` stays on this machine (loopback host, or a data:/blob:/about: URL)."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme in _LOCAL_SCHEMES:
        return True
    host = (parsed.hostname or "").strip("[]").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass
class PageGuard:
    """Collects what must never happen in a browser test: uncaught page errors, crashes, and any
    request or WebSocket that leaves loopback. Attach it to a context (all its pages) or to pages.

    ``allow_page_error(pattern)`` tolerates errors a test provokes on purpose. ``problems()`` lists what
    went wrong; the conftest fixtures turn a non-empty list into a test failure.
    """

    page_errors: list[str] = field(default_factory=list)
    external_requests: list[str] = field(default_factory=list)
    crashes: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    allowed_errors: list[re.Pattern[str]] = field(default_factory=list)
    console_limit: int = 200
    _attached: set[int] = field(default_factory=set)
    _contexts: set[int] = field(default_factory=set)
    reported: int = 0
    """How many problems were already reported (a teardown check only reports newer ones)."""

    def allow_page_error(self, pattern: str) -> None:
        """Do not count page errors whose message matches the regex ``pattern``."""
        self.allowed_errors.append(re.compile(pattern))

    def attach_context(self, context: BrowserContext) -> None:
        """Guard every page of ``context``, present and future, and every request it makes."""
        if id(context) in self._contexts:
            return
        self._contexts.add(id(context))
        context.on("request", self._on_request)
        context.on("page", self.attach_page)
        for page in context.pages:
            self.attach_page(page)

    def attach_page(self, page: Page) -> None:
        """Guard one page (its requests are covered when its context is attached too)."""
        if id(page) in self._attached:
            return
        self._attached.add(id(page))
        page.on("pageerror", lambda error: self._on_page_error(page, error))
        page.on("crash", lambda crashed: self.crashes.append(f"page crashed: {crashed.url}"))
        page.on("websocket", self._on_websocket)
        page.on("console", self._on_console)
        if id(page.context) not in self._contexts:
            page.on("request", self._on_request)

    def _on_request(self, request: Request) -> None:
        if not is_loopback_url(request.url):
            self.external_requests.append(f"{request.method} {request.url}")

    def _on_websocket(self, websocket: WebSocket) -> None:
        if not is_loopback_url(websocket.url):
            self.external_requests.append(f"WebSocket {websocket.url}")

    def _on_page_error(self, page: Page, error: Error) -> None:
        message = f"{error.name}: {error.message}" if error.name else str(error.message)
        if any(pattern.search(message) for pattern in self.allowed_errors):
            return
        stack = (error.stack or "").strip()
        self.page_errors.append(f"{message} (at {page.url})" + (f"\n{stack}" if stack else ""))

    def _on_console(self, message: ConsoleMessage) -> None:
        if len(self.console) < self.console_limit:
            self.console.append(f"[{message.type}] {message.text[:500]}")

    def problems(self) -> list[str]:
        """Everything that makes a test fail, in a readable form."""
        return (
            [f"page error: {error}" for error in self.page_errors]
            + [f"request left loopback: {url}" for url in self.external_requests]
            + self.crashes
        )

    def report(self, problems: Iterable[str]) -> str:
        """A failure message with the recent console output for context."""
        console = "\n".join(self.console[-40:])
        return "\n".join(problems) + (f"\n--- browser console (last 40) ---\n{console}" if console else "")


# --------------------------------------------------------------------------------------------------
# persistent profiles

class PersistentProfile:
    """One on-disk Chromium profile that can be launched again and again (warm HTTP + code cache)."""

    def __init__(
        self, playwright: Playwright, options: dict[str, Any], context_args: dict[str, Any], directory: Path,
        guard: PageGuard,
    ) -> None:
        self.playwright = playwright
        self.options = options
        self.context_args = context_args
        self.directory = directory
        self.guard = guard
        self.context: BrowserContext | None = None
        self.launches = 0

    def launch(self) -> BrowserContext:
        """Start Chromium on this profile (closing a previous launch first); the context is guarded."""
        self.close()
        self.context = self.playwright.chromium.launch_persistent_context(
            str(self.directory), **self.options, **self.context_args
        )
        self.guard.attach_context(self.context)
        self.launches += 1
        return self.context

    def new_page(self) -> Page:
        """A page in the current launch (launching first if needed)."""
        context = self.context or self.launch()
        blank = [page for page in context.pages if page.url == "about:blank"]
        page = blank[0] if blank else context.new_page()
        self.guard.attach_page(page)
        return page

    def close(self) -> None:
        """Close the current launch (the profile directory stays)."""
        if self.context is not None:
            self.context.close()
            self.context = None


# --------------------------------------------------------------------------------------------------
# pages

READY_EXPRESSION = "() => window.twochat && (window.twochat.ready === true || !!window.twochat.error)"


def wait_for_sdk_ready(page: Page, *, timeout_ms: float = 120_000) -> dict[str, Any]:
    """Wait until the page's Python and SDK are ready (``window.twochat.ready``); return ``window.twochat``.

    Raises AssertionError with the page's reported error when start-up failed instead.
    """
    page.wait_for_function(READY_EXPRESSION, timeout=timeout_ms, polling=50)
    state: dict[str, Any] = page.evaluate("() => JSON.parse(JSON.stringify(window.twochat))")
    if not state.get("ready"):
        raise AssertionError(f"the page failed to start: {state.get('error')}")
    return state
