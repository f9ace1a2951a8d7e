"""A sandbox process for tests, and its control API as Python calls (the object of ``twochat_sandbox``).

:func:`start_sandbox` runs ``python -m twochat_voice_web.sandbox`` on a loopback port, serving a built
runtime site (``dist/site``: Pyodide, PyScript, the SDK wheel and bundle) and waits for its ready file.
The :class:`TwoChatSandbox` it returns speaks to the sandbox's REST and control endpoints over HTTP
(``/sdk/voip/access-token``, ``/sandbox/calls``, ``/sandbox/events``, ``/sandbox/mounts``, ...) exactly as
a test would by hand; :meth:`TwoChatSandbox.stop` ends the process by its PID.

Every bad use raises a :class:`TwoChatSandboxError` subclass whose message says what to do.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from twochat_voice_web.credentials import CallerId

__all__ = [
    "DEFAULT_CALLER",
    "SITE_ENV",
    "CallerId",
    "MountError",
    "PortInUseError",
    "RuntimeMissingError",
    "SandboxUser",
    "TwoChatSandbox",
    "TwoChatSandboxError",
    "UnknownUserError",
    "find_site",
    "start_sandbox",
]

SITE_ENV = "TWOCHAT_SITE"
"""Environment variable naming the runtime site directory (``dist/site`` of a twochat-voice-web build)."""

DEFAULT_CALLER = "+15550199"
"""The number an inbound test call comes from unless told otherwise (the sandbox's default)."""

BUILD_HINT = (
    "build it in a twochat-voice-web checkout with `python3 build.py` (it stages dist/site: Pyodide, "
    "PyScript and the SDK), then pass --twochat-site=PATH/dist/site or set TWOCHAT_SITE"
)


class TwoChatSandboxError(RuntimeError):
    """The sandbox could not start, refused a request, or was used wrongly (the message says how)."""


class RuntimeMissingError(TwoChatSandboxError):
    """No built runtime site (``dist/site``) where the plugin looked; the message says how to build one."""


class PortInUseError(TwoChatSandboxError):
    """The port asked for (``--twochat-port``) is taken on 127.0.0.1."""


class UnknownUserError(TwoChatSandboxError, LookupError):
    """A user name, uuid or number that is none of the sandbox's users (the message lists them)."""


class MountError(TwoChatSandboxError, ValueError):
    """A ``mount`` that the sandbox refused: a prefix that clashes with one of its routes, a bad path."""


@dataclass(frozen=True)
class SandboxUser:
    """A ready-made sandbox user (no secrets: the SIP password never leaves the sandbox)."""

    name: str
    """Short name (``"alice"``), accepted wherever a user is expected."""
    uuid: str
    """2Chat user uuid (``USR...``): the ``user_uuid`` of a mint request."""
    sip_username: str
    """The user part of its SIP address of record."""
    sip_uri: str
    """Its address of record, ``sip:<sip_username>@<sip_domain>``."""
    display_name: str
    """The name shown to the people it calls."""
    caller_ids: tuple[CallerId, ...]
    """The numbers it may call from (an inbound call to one of them rings this user)."""

    @classmethod
    def from_ready(cls, data: Mapping[str, Any], sip_domain: str) -> SandboxUser:
        """Build from one entry of the sandbox's ready file (``users``)."""
        return cls(
            name=str(data["name"]),
            uuid=str(data["uuid"]),
            sip_username=str(data["sip_username"]),
            sip_uri=f"sip:{data['sip_username']}@{sip_domain}",
            display_name=str(data.get("display_name", "")),
            caller_ids=tuple(
                CallerId(str(c["uuid"]), str(c["phone_number"])) for c in data.get("caller_ids", [])
            ),
        )


def find_site(explicit: str | os.PathLike[str] | None = None, *, start: Path | None = None) -> Path:
    """The runtime site to serve: ``explicit``, else ``$TWOCHAT_SITE``, else ``dist/site`` in ``start`` (the
    current directory) or one of its parents. Raise :class:`RuntimeMissingError` when it is not a built site.
    """
    if explicit:
        candidates = [Path(explicit)]
    elif os.environ.get(SITE_ENV):
        candidates = [Path(os.environ[SITE_ENV])]
    else:
        here = (start or Path.cwd()).resolve()
        candidates = [directory / "dist" / "site" for directory in (here, *here.parents)]
    for candidate in candidates:
        if (candidate / "build-info.json").is_file() and (candidate / "pyodide").is_dir():
            return candidate.resolve()
    looked = ", ".join(str(c) for c in candidates[:3]) + (" ..." if len(candidates) > 3 else "")
    raise RuntimeMissingError(f"no built twochat-voice-web runtime site (looked at {looked}): {BUILD_HINT}")


def _port_is_free(port: int) -> bool:
    """Whether the sandbox could listen on ``port``: nothing listens there (with SO_REUSEADDR, as the
    sandbox's server binds, so the closed connections of a sandbox just stopped do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def start_sandbox(
    site: Path,
    run_dir: Path,
    *,
    port: int = 0,
    mounts: Mapping[str, Path] | None = None,
    extra_args: Sequence[str] = (),
    python: str = sys.executable,
    ready_timeout: float = 60.0,
    media_addresses: str | None = "loopback",
    prefix: Sequence[str] = (),
) -> TwoChatSandbox:
    """Start ``python -m twochat_voice_web.sandbox`` on ``127.0.0.1:port`` (0: a free port) serving
    ``site`` at ``/`` and ``mounts`` (URL prefix -> directory); wait until it is ready.

    The sandbox writes ``sandbox.log`` and ``ready.json`` into ``run_dir``, keeps its test-number media on
    127.0.0.1 (``media_addresses``: ``"loopback"``; ``"host"`` for this machine's addresses, None for the
    sandbox's own default), and exits by itself when this process is gone. ``prefix`` goes before the
    command, e.g. ``ip netns exec NAME`` (a prefix that ends by exec-ing the command, so that the process
    :meth:`TwoChatSandbox.stop` signals is the sandbox). Raise :class:`PortInUseError` when ``port`` is
    taken, :class:`TwoChatSandboxError` (with the log) when it does not come up.
    """
    if port and not _port_is_free(port):
        raise PortInUseError(
            f"port {port} is already in use on 127.0.0.1: stop what listens there, or use "
            "--twochat-port=0 (the default) for a free port"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    ready_file = run_dir / "ready.json"
    ready_file.unlink(missing_ok=True)
    log_path = run_dir / "sandbox.log"
    command = [
        *prefix, python, "-m", "twochat_voice_web.sandbox", "--host", "127.0.0.1", "--port", str(port),
        "--site", str(site), "--ready-file", str(ready_file), "--parent-pid", str(os.getpid()),
    ]
    if media_addresses is not None:
        command += ["--media-addresses", media_addresses]
    for url_prefix, directory in (mounts or {}).items():
        command += ["--mount", f"{url_prefix}={directory}"]
    command += list(extra_args)
    with log_path.open("wb") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + ready_timeout
    while not ready_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            if process.poll() is None:
                os.kill(process.pid, signal.SIGKILL)
                process.wait()
            log_text = log_path.read_text(errors="replace")[-4000:]
            if port and "cannot listen" in log_text:
                raise PortInUseError(
                    f"the sandbox could not listen on 127.0.0.1:{port}; use --twochat-port=0 for a free "
                    f"port\n--- sandbox log ---\n{log_text}"
                )
            raise TwoChatSandboxError(
                f"the sandbox did not become ready (exit code {process.returncode}); command: "
                f"{' '.join(command)}\n--- sandbox log ---\n{log_text}"
            )
        time.sleep(0.05)
    return TwoChatSandbox(process, json.loads(ready_file.read_text()), log_path=log_path, site=site)


class TwoChatSandbox:
    """A running sandbox and its control API (the object the ``twochat_sandbox`` fixture gives).

    Attributes are what a page and a backend need: :attr:`url`, :attr:`ws_url`, :attr:`api_key`,
    :attr:`sip_domain`, :attr:`users`, :attr:`runtime_url`; the methods drive the sandbox's side of a call.
    """

    def __init__(
        self, process: subprocess.Popen[bytes], ready: Mapping[str, Any], *, log_path: Path, site: Path
    ) -> None:
        self.process = process
        """The sandbox subprocess (stopped by :meth:`stop`, by its PID)."""
        self.ready: dict[str, Any] = dict(ready)
        """The sandbox's whole ready file (``host``, ``port``, ``pid``, ``media_addresses`` ...)."""
        self.log_path = log_path
        """The sandbox's log file (stdout and stderr)."""
        self.site = site
        """The runtime site it serves at ``/``."""
        self.url: str = str(ready["url"]).rstrip("/")
        """``http://127.0.0.1:<port>``, no trailing slash: the REST API, the runtime, the mounts."""
        self.ws_url: str = str(ready["ws_url"])
        """The SIP-over-WebSocket URL the credentials endpoint hands to the SDK."""
        self.api_key: str = str(ready["api_key"])
        """The account API key (``X-User-API-Key``) a backend mints tokens with; never put it in a page."""
        self.sip_domain: str = str(ready["sip_domain"])
        """The SIP domain and digest realm of the users."""
        self.users: tuple[SandboxUser, ...] = tuple(
            SandboxUser.from_ready(user, self.sip_domain) for user in ready.get("users", [])
        )
        """The ready-made users (``alice``, ``bob`` ...): name, uuid, SIP URI, caller IDs."""
        self.runtime_url: str = self.url + "/"
        """Where a page finds the runtime: ``pyodide/pyodide.mjs``, ``pyscript/core.js``, the PyScript
        config with the SDK wheel (``pyscript.json``) and ``build-info.json`` (wheel and bundle URLs)."""

    def __repr__(self) -> str:
        return f"TwoChatSandbox(url={self.url!r}, pid={self.process.pid})"

    # -- users and tokens --

    def user(self, user: str | SandboxUser) -> SandboxUser:
        """The user called ``user`` (a name, uuid, SIP user name or caller-ID number).

        Raise :class:`UnknownUserError` naming the known users otherwise.
        """
        if isinstance(user, SandboxUser):
            return user
        for candidate in self.users:
            numbers = {c.phone_number for c in candidate.caller_ids}
            if user in (candidate.name, candidate.uuid, candidate.sip_username) or user in numbers:
                return candidate
        known = ", ".join(u.name for u in self.users)
        raise UnknownUserError(f"no sandbox user {user!r} (known: {known})")

    def mint_token(
        self, user: str | SandboxUser = "alice", *, ttl: int = 3600, label: str | None = None
    ) -> str:
        """An access token (JWT) for ``user``, minted through the REST API with the API key, as a backend
        would. ``ttl`` in seconds is clamped by the sandbox like 2Chat (60..86400)."""
        chosen = self.user(user)
        body: dict[str, Any] = {"user_uuid": chosen.uuid, "ttl": ttl}
        if label is not None:
            body["label"] = label
        answer = self._request("POST", "/sdk/voip/access-token", body, api_key=True)
        return str(answer["token"])

    # -- the user's own site --

    def mount(self, prefix: str, directory: str | os.PathLike[str]) -> str:
        """Serve ``directory`` (your pages and Python) below ``prefix`` on the sandbox's origin, beside the
        runtime; return its URL (``<url><prefix>/``). Mounting the same directory again is a no-op.

        Raise :class:`MountError` for a prefix the sandbox serves already (``/sandbox``, ``/sdk``,
        ``/pyodide`` ...: the message lists them) or a directory that does not exist.
        """
        path = Path(directory).resolve()
        if not path.is_dir():
            raise MountError(f"mount({prefix!r}, {str(directory)!r}): not a directory")
        try:
            answer = self._request(
                "POST", "/sandbox/mounts", {"prefix": prefix, "directory": str(path)}, api_key=True
            )
        except TwoChatSandboxError as error:
            raise MountError(f"mount({prefix!r}, {str(directory)!r}): {error}") from None
        return str(answer["url"])

    # -- calls --

    def call_user(
        self,
        user: str | SandboxUser,
        *,
        from_: str = DEFAULT_CALLER,
        headers: Mapping[str, str] | None = None,
        media: str = "tone",
        hangup_after: float | None = None,
        answer_timeout: float | None = None,
    ) -> str:
        """Call ``user`` (every registration rings) from the number ``from_``; return the SIP Call-ID (the
        SDK's ``call.sip_call_id``). ``headers``: ``X-2Chat-*`` headers of the INVITE; ``media``: what the
        caller plays (``tone``, ``silence``, ``echo``); ``hangup_after``: seconds after the answer;
        ``answer_timeout``: seconds until an unanswered call is cancelled.

        Raise :class:`UnknownUserError`, or :class:`TwoChatSandboxError` when the user is not registered.
        """
        chosen = self.user(user)
        body: dict[str, Any] = {
            "to": chosen.name, "from": from_, "media": media, "headers": dict(headers or {}),
        }
        if hangup_after is not None:
            body["hangup_after"] = hangup_after
        if answer_timeout is not None:
            body["answer_timeout"] = answer_timeout
        return str(self._request("POST", "/sandbox/calls", body)["call_id"])

    def hangup(self, call_id: str) -> None:
        """The sandbox's side hangs up ``call_id`` (CANCEL before the answer, BYE after)."""
        self._request("DELETE", "/sandbox/calls/" + urllib.parse.quote(call_id, safe=""))

    def calls(self) -> list[dict[str, Any]]:
        """The live calls: ``call_id``, ``call_type``, ``state``, ``from``, ``to`` (``GET /sandbox/calls``).
        """
        return list(self._request("GET", "/sandbox/calls")["calls"])

    # -- events --

    def events(self, kind: str | None = None, *, call_id: str | None = None) -> list[dict[str, Any]]:
        """The event log since the last :meth:`reset`, oldest first, optionally of one ``kind`` and call.

        Each event has ``id``, ``time``, ``kind`` and its fields (docs/sandbox-sip.md lists the kinds).
        """
        query = {"since": "0"}
        if kind:
            query["kind"] = kind
        if call_id:
            query["call_id"] = call_id
        return list(self._request("GET", "/sandbox/events?" + urllib.parse.urlencode(query))["events"])

    def wait_for_event(self, kind: str, *, timeout: float = 10.0, **match: Any) -> dict[str, Any]:
        """The first event of ``kind`` whose fields equal ``match`` (e.g. ``digit="5"``), waiting up to
        ``timeout`` seconds (events already logged since the last :meth:`reset` count).

        Raise :class:`TimeoutError` listing the events of that kind that were seen.
        """
        deadline = time.monotonic() + timeout
        since = 0
        while True:
            remaining = deadline - time.monotonic()
            wait = max(0.0, min(remaining, 5.0))
            query = urllib.parse.urlencode({"since": since, "kind": kind, "wait": f"{wait:.3f}"})
            answer = self._request("GET", "/sandbox/events?" + query, timeout=wait + 10)
            for event in answer["events"]:
                since = max(since, int(event["id"]))
                if all(event.get(name) == value for name, value in match.items()):
                    return dict(event)
            if time.monotonic() >= deadline:
                seen = self.events(kind)
                shown = "\n".join(json.dumps(event, default=str) for event in seen[-20:]) or "(none)"
                wanted = ", ".join(f"{name}={value!r}" for name, value in match.items())
                raise TimeoutError(
                    f"no {kind!r} event{' with ' + wanted if wanted else ''} within {timeout:g} s; "
                    f"{kind!r} events seen ({len(seen)}):\n{shown}"
                )

    # -- network and registrations --

    def drop(self, user: str | SandboxUser) -> int:
        """Cut ``user``'s SIP WebSocket(s) like a network loss (TCP reset); return how many were cut."""
        return int(self._request("POST", "/sandbox/drop", {"user": self.user(user).name})["dropped"])

    def registrations(self) -> list[dict[str, Any]]:
        """The SIP bindings: ``user``, ``sip_username``, ``instance``, ``contact``, ``expires_in`` ..."""
        return list(self._request("GET", "/sandbox/registrations")["registrations"])

    def reset(self) -> None:
        """Hang up every live call and clear the event log (what ``twochat_clean`` does between tests)."""
        for call in self.calls():
            with contextlib.suppress(TwoChatSandboxError):  # ended on its own meanwhile
                self.hangup(str(call["call_id"]))
        self._request("DELETE", "/sandbox/events")

    # -- process --

    def log_text(self, start: int = 0) -> str:
        """The sandbox's log from byte offset ``start`` (``""`` when there is no log)."""
        try:
            with self.log_path.open("rb") as handle:
                handle.seek(start)
                return handle.read().decode(errors="replace")
        except OSError:
            return ""

    def log_size(self) -> int:
        """The log's current size in bytes (an offset for :meth:`log_text`)."""
        try:
            return self.log_path.stat().st_size
        except OSError:
            return 0

    def stop(self, timeout: float = 10.0) -> int:
        """Stop the sandbox (SIGTERM to its PID, SIGKILL after ``timeout``); return its exit code."""
        if self.process.poll() is None:
            os.kill(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=timeout)
        return int(self.process.returncode)

    def _request(
        self, method: str, path: str, body: Mapping[str, Any] | None = None, *, api_key: bool = False,
        timeout: float = 15.0,
    ) -> dict[str, Any]:
        headers = {"Content-Type": "application/json"}
        if api_key:
            headers["X-User-API-Key"] = self.api_key
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                answer: dict[str, Any] = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")
            with contextlib.suppress(ValueError):
                detail = str(json.loads(detail).get("error_message", detail))
            where = path.partition("?")[0]
            raise TwoChatSandboxError(f"{method} {where}: HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            exit_code = self.process.poll()
            state = f"the sandbox exited with {exit_code}" if exit_code is not None else "no answer"
            raise TwoChatSandboxError(f"{method} {path.partition('?')[0]}: {state} ({error})") from None
        return answer
