"""Real SIP infrastructure for the interop tests, started on 127.0.0.1 on ports chosen at run time.

Design: one class per component (`Rtpengine`, `Kamailio`, `SippUas`, `SippUac`, `Baresip`,
`PacketCapture`, `StaticServer`), each with ``start()`` (render its config from a template in
``configs/`` into a per-session work folder, launch, wait until it answers) and ``stop()`` (SIGTERM
to the PID we started, SIGKILL to its own process group after a timeout). `InteropStack` puts them
together the way the tests use them:

    Chromium (JsSIP / our SDK) --ws/wss--> Kamailio --udp--> sipp UAS callees (echo, busy, ...)
          |                                    |                baresip (second UA, user 1010)
          +--DTLS-SRTP/ICE--> rtpengine <--plain RTP--+         sipp UAC callers (inbound calls)

Nothing listens on a fixed port: every port is picked at run time from 20000-32767 (below the
Linux ephemeral range, so that sockets of Chromium and friends do not take them first).
Every process is started by us and stopped by its PID; its output goes to a log file that the
failure report of a test quotes (see `InteropStack.failure_sections`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self

from . import pcap, siptrace
from .audio import AudioFileError, WavLevel, wav_level, write_tone_wav

__all__ = [
    "BARESIP_USER",
    "CALLEES",
    "DEFAULT_DOMAIN",
    "DEFAULT_USERS",
    "LOOPBACK",
    "Baresip",
    "CalleeSpec",
    "InteropStack",
    "Kamailio",
    "LogMark",
    "ManagedProcess",
    "MissingBinaryError",
    "PacketCapture",
    "PortAllocator",
    "Rtpengine",
    "SippUac",
    "SippUas",
    "StackError",
    "StaticServer",
    "find_missing_binaries",
    "make_self_signed_cert",
    "render_template",
]

LOOPBACK = "127.0.0.1"
CONFIG_DIR = Path(__file__).resolve().parent / "configs"
DEFAULT_DOMAIN = "sip.test"
#: Users known to Kamailio: 1001..1010, password "pass" + number. 1010 is baresip's.
DEFAULT_USERS: dict[str, str] = {str(n): f"pass{n}" for n in range(1001, 1011)}
BARESIP_USER = "1010"
#: Binaries the stack needs (Debian packages: kamailio (+kamcmd), rtpengine-daemon, sip-tester,
#: baresip, tcpdump, openssl).
REQUIRED_BINARIES = ("kamailio", "kamcmd", "rtpengine", "sipp", "baresip", "tcpdump", "openssl")
_PLACEHOLDER = re.compile(r"@@([A-Z][A-Z0-9_]*)@@")
_PORT_RANGE = (20000, 32767)


class StackError(RuntimeError):
    """A component of the interop stack could not be configured, started or driven."""


class MissingBinaryError(StackError):
    """A program the interop stack needs is not installed."""


def find_missing_binaries(names: Iterable[str] = REQUIRED_BINARIES) -> list[str]:
    """The names among ``names`` that are not on PATH (``/usr/sbin`` and ``/sbin`` included)."""
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
    return [name for name in names if shutil.which(name, path=search) is None]


def _which(name: str) -> str:
    search = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin", "/usr/bin"])
    found = shutil.which(name, path=search)
    if found is None:
        raise MissingBinaryError(f"{name} is not installed (needed by the interop stack)")
    return found


def _find_module_dir(candidates: Sequence[str], marker: str, what: str) -> Path:
    for pattern in candidates:
        for path in sorted(Path("/").glob(pattern.lstrip("/"))):
            if (path / marker).exists():
                return path
    raise MissingBinaryError(f"{what} modules not found (looked for {marker} in {', '.join(candidates)})")


def render_template(
    template: str, values: Mapping[str, object], *, source: str = "template", optional: Iterable[str] = ()
) -> str:
    """Replace every ``@@NAME@@`` with ``str(values[NAME])``.

    Raises `StackError` naming the placeholders that have no value, and the values that no
    placeholder used (both are mistakes in a test configuration) unless listed in ``optional``.
    """
    used: set[str] = set()
    missing: set[str] = set()

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in values:
            missing.add(name)
            return match.group(0)
        used.add(name)
        return str(values[name])

    rendered = _PLACEHOLDER.sub(substitute, template)
    if missing:
        raise StackError(f"{source}: no value for {', '.join(sorted(missing))}")
    unused = set(values) - used - set(optional)
    if unused:
        raise StackError(f"{source}: values not used by any placeholder: {', '.join(sorted(unused))}")
    return rendered


def _render_file(
    name: str, values: Mapping[str, object], destination: Path, *, optional: Iterable[str] = ()
) -> Path:
    text = (CONFIG_DIR / name).read_text()
    if "@@DIALOG_LOOP@@" in text:
        text = text.replace("@@DIALOG_LOOP@@", (CONFIG_DIR / "sipp_uas_dialog_loop.inc").read_text())
    destination.write_text(render_template(text, values, source=name, optional=optional))
    return destination


# --------------------------------------------------------------------------- ports and waiting


def _bindable(port: int, kinds: Sequence[int]) -> bool:
    for kind in kinds:
        with socket.socket(socket.AF_INET, kind) as probe:
            try:
                probe.bind((LOOPBACK, port))
            except OSError:
                return False
    return True


class PortAllocator:
    """Hands out loopback ports that are free now and were not handed out before in this session.

    Blocks of consecutive ports serve sipp's media ports and the RTP ranges of rtpengine/baresip.
    """

    def __init__(
        self, low: int = _PORT_RANGE[0], high: int = _PORT_RANGE[1], seed: int | None = None
    ) -> None:
        self._low, self._high = low, high
        self._taken: set[int] = set()
        self._random = random.Random(seed)
        self._lock = threading.Lock()

    def block(self, count: int, *, tcp: bool = True, udp: bool = True, align: int = 2) -> int:
        """First port of ``count`` consecutive free ports (start aligned to ``align``)."""
        if count < 1:
            raise StackError(f"port block size must be >= 1, got {count}")
        kinds = ([socket.SOCK_STREAM] if tcp else []) + ([socket.SOCK_DGRAM] if udp else [])
        with self._lock:
            for _ in range(500):
                base = self._random.randrange(self._low, self._high - count)
                base -= base % align
                ports = range(base, base + count)
                if any(p in self._taken for p in ports):
                    continue
                if all(_bindable(p, kinds) for p in ports):
                    self._taken.update(ports)
                    return base
        raise StackError(f"no block of {count} free ports in {self._low}-{self._high}")

    def port(self, *, tcp: bool = True, udp: bool = True) -> int:
        """One free port (free for both TCP and UDP unless told otherwise)."""
        return self.block(1, tcp=tcp, udp=udp, align=1)


def tcp_port_open(port: int, host: str = LOOPBACK) -> bool:
    """True when something accepts TCP connections on host:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def udp_port_bound(port: int, host: str = LOOPBACK) -> bool:
    """True when a UDP socket is bound to host:port (read from /proc/net/udp, Linux only)."""
    wanted = f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"
    anywhere = f"00000000:{port:04X}"
    try:
        lines = Path("/proc/net/udp").read_text().splitlines()[1:]
    except OSError:
        return not _bindable(port, [socket.SOCK_DGRAM])
    return any(line.split()[1] in (wanted, anywhere) for line in lines if len(line.split()) > 1)


def wait_until(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    alive: Callable[[], str | None] | None = None,
    interval: float = 0.05,
) -> None:
    """Poll ``predicate`` until true; `StackError` on timeout or when ``alive()`` reports a death."""
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return
        if alive is not None:
            death = alive()
            if death is not None:
                raise StackError(f"{what}: {death}")
        if time.monotonic() > deadline:
            raise StackError(f"{what}: not ready after {timeout:.1f} s")
        time.sleep(interval)


# --------------------------------------------------------------------------- processes


def _live_group_members(pgid: int) -> list[int]:
    """PIDs of the processes of group ``pgid`` that are not zombies (Linux /proc; [] elsewhere)."""
    members: list[int] = []
    try:
        entries = list(Path("/proc").iterdir())
    except OSError:
        return members
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 2 and fields[2] == str(pgid) and fields[0] not in ("Z", "X"):
            members.append(int(entry.name))
    return members


_CRASH_SIGNALS = frozenset({signal.SIGSEGV, signal.SIGABRT, signal.SIGBUS, signal.SIGILL, signal.SIGFPE})
"""Signals that end a process by a fault of its own (a component killed by one of them crashed)."""


class ManagedProcess:
    """One child process that we start, log to a file and stop by its PID.

    It runs in its own session, so its process group id is its PID: after SIGTERM and a grace time,
    SIGKILL goes to that group, which holds only this process and the children it forked
    (Kamailio's workers, for example) and nothing else.
    """

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        *,
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self.cwd = cwd
        self.env = dict(env) if env is not None else None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        """PID of the running (or last) process, None before start."""
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        """True while the process has not exited."""
        return self._process is not None and self._poll() is None

    @property
    def returncode(self) -> int | None:
        """Exit status once exited (negative: killed by that signal)."""
        return self._poll()

    def _poll(self) -> int | None:
        """Reap the process if it exited; on that transition, clear out its process group."""
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        code = process.poll()
        if code is not None:
            self._kill_leftovers()
        return code

    def _kill_leftovers(self) -> None:
        """SIGKILL what is left of our process group (children our process forked).

        Called only at the moment we reap our process: until then its PID, and so its group id, cannot
        belong to anyone else, and a group that still has members keeps its id reserved.
        """
        if self._process is not None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                return
            # SIGKILL is asynchronous: wait (briefly) until the members are dead, so that stop() returns
            # with nothing of ours running (ports free for a restart, checks that look at /proc).
            deadline = time.monotonic() + 2.0
            while _live_group_members(self._process.pid) and time.monotonic() < deadline:
                time.sleep(0.01)

    def start(self) -> None:
        """Launch the process (output appended to the log file)."""
        if self.running:
            raise StackError(f"{self.name} is already running (pid {self.pid})")
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            log.write(
                f"\n===== {dt.datetime.now().isoformat(timespec='milliseconds')} start: "
                f"{' '.join(self.argv)}\n".encode()
            )
            log.flush()
            env = None if self.env is None else {**os.environ, **self.env}
            self._process = subprocess.Popen(
                self.argv,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.cwd,
                env=env,
                start_new_session=True,
            )

    def death_notice(self) -> str | None:
        """None while running; else why it stopped, with the tail of its log."""
        if self.running or self._process is None:
            return None
        return f"{self.name} exited with status {self.returncode}; log tail:\n{self.log_tail()}"

    def log_tail(self, lines: int = 30) -> str:
        """The last lines of the log file."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit by itself; its exit status. `StackError` on timeout."""
        process = self._process
        if process is None:
            raise StackError(f"{self.name} was never started")
        if process.returncode is not None:
            return process.returncode
        try:
            code = process.wait(timeout)
        except subprocess.TimeoutExpired as exc:
            raise StackError(f"{self.name} still running after {timeout:.1f} s") from exc
        self._kill_leftovers()
        return code

    def stop(self, timeout: float = 5.0, sig: int = signal.SIGTERM) -> int | None:
        """Send ``sig`` to our PID, then SIGKILL to its process group after ``timeout``; exit status.

        A process that already exited (and was reaped) is left alone: its PID may belong to
        someone else by now.
        """
        process = self._process
        if process is None or process.returncode is not None:
            return None if process is None else process.returncode
        if self._poll() is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(sig)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._kill_leftovers()  # still our (unreaped) process: the group is ours
                process.wait(5.0)
            self._kill_leftovers()  # just reaped: workers it left behind
        return process.returncode


class Component:
    """Base of the stack components: a name, a work folder, processes, log files, context manager."""

    name: str
    workdir: Path

    def start(self) -> None:
        """Start and wait until ready."""
        raise StackError(f"{type(self).__name__} does not implement start()")

    def stop(self) -> None:
        """Stop (idempotent)."""
        raise StackError(f"{type(self).__name__} does not implement stop()")

    def log_files(self) -> list[tuple[str, Path]]:
        """(title, path) of the files worth quoting when a test fails."""
        return []

    def processes(self) -> list[ManagedProcess]:
        """The processes this component started (for PID bookkeeping and checks)."""
        process = getattr(self, "process", None)
        return [process] if isinstance(process, ManagedProcess) else []

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


# --------------------------------------------------------------------------- rtpengine


def _bencode(value: object) -> bytes:
    if isinstance(value, bytes):
        return str(len(value)).encode() + b":" + value
    if isinstance(value, str):
        return _bencode(value.encode())
    if isinstance(value, bool):
        return _bencode("yes" if value else "no")
    if isinstance(value, int):
        return b"i" + str(value).encode() + b"e"
    if isinstance(value, list | tuple):
        return b"l" + b"".join(_bencode(v) for v in value) + b"e"
    if isinstance(value, dict):
        items = sorted((k.encode() if isinstance(k, str) else k, v) for k, v in value.items())
        return b"d" + b"".join(_bencode(k) + _bencode(v) for k, v in items) + b"e"
    raise StackError(f"cannot bencode {type(value).__name__}")


def _bdecode(data: bytes, offset: int = 0) -> tuple[Any, int]:
    if offset >= len(data):
        raise StackError("truncated bencode data")
    lead = data[offset : offset + 1]
    if lead == b"i":
        end = data.index(b"e", offset)
        return int(data[offset + 1 : end]), end + 1
    if lead in (b"l", b"d"):
        offset += 1
        items: list[Any] = []
        while data[offset : offset + 1] != b"e":
            item, offset = _bdecode(data, offset)
            items.append(item)
        if lead == b"l":
            return items, offset + 1
        return {items[i]: items[i + 1] for i in range(0, len(items) - 1, 2)}, offset + 1
    if lead.isdigit():
        colon = data.index(b":", offset)
        length = int(data[offset:colon])
        raw = data[colon + 1 : colon + 1 + length]
        try:
            return raw.decode(), colon + 1 + length
        except UnicodeDecodeError:
            return raw, colon + 1 + length
    raise StackError(f"bad bencode at {offset}: {data[offset : offset + 10]!r}")


class Rtpengine(Component):
    """rtpengine in userspace (``table = -1``) on 127.0.0.1: ng control port + an RTP port range."""

    def __init__(self, workdir: Path, ports: PortAllocator, *, media_ports: int = 400) -> None:
        self.name = "rtpengine"
        self.workdir = workdir / "rtpengine"
        self.ng_port = ports.port(tcp=False)
        self.port_min = ports.block(media_ports, tcp=False)
        self.port_max = self.port_min + media_ports - 1
        self.config_path = self.workdir / "rtpengine.conf"
        self.log_path = self.workdir / "rtpengine.log"
        self.process = ManagedProcess(
            "rtpengine",
            [
                _which("rtpengine"),
                f"--config-file={self.config_path}",
                f"--pidfile={self.workdir / 'rtpengine.pid'}",
            ],
            self.log_path,
        )

    def start(self) -> None:
        """Render the config, start rtpengine and wait until it answers an ng ``ping``."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        _render_file(
            "rtpengine.conf",
            {"NG_PORT": self.ng_port, "PORT_MIN": self.port_min, "PORT_MAX": self.port_max},
            self.config_path,
        )
        self.process.start()
        wait_until(self._pings, 15.0, "rtpengine ng ping", self.process.death_notice, interval=0.1)

    def _pings(self) -> bool:
        try:
            return self.command({"command": "ping"}, timeout=0.3).get("result") == "pong"
        except (OSError, StackError):
            return False

    def command(self, message: Mapping[str, object], timeout: float = 2.0) -> dict[str, Any]:
        """Send one ng-protocol command (bencoded dict) and return the decoded reply."""
        cookie = uuid.uuid4().hex[:12]
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(timeout)
            sock.sendto(cookie.encode() + b" " + _bencode(dict(message)), (LOOPBACK, self.ng_port))
            data, _ = sock.recvfrom(65535)
        head, _, body = data.partition(b" ")
        if head.decode(errors="replace") != cookie:
            raise StackError(f"rtpengine answered another cookie: {head!r}")
        reply, _ = _bdecode(body)
        if not isinstance(reply, dict):
            raise StackError(f"rtpengine reply is not a dictionary: {reply!r}")
        return reply

    def call_ids(self) -> list[str]:
        """Call-IDs of the calls rtpengine currently relays (ng ``list``)."""
        reply = self.command({"command": "list", "limit": 100})
        calls = reply.get("calls", [])
        return [c for c in calls if isinstance(c, str)]

    def peer_endpoints(self, call_id: str) -> list[str]:
        """Where rtpengine sends each stream of a call (ng ``query``): ``address:port`` per stream that
        has a peer, for every tag of the call. ICE decides these for a WebRTC leg."""
        reply = self.command({"command": "query", "call-id": call_id})
        if reply.get("result") != "ok":
            raise StackError(f"rtpengine query {call_id}: {reply}")
        endpoints: list[str] = []
        tags = reply.get("tags", {})
        for tag in tags.values() if isinstance(tags, dict) else []:
            for media in tag.get("medias", []) if isinstance(tag, dict) else []:
                for stream in media.get("streams", []) if isinstance(media, dict) else []:
                    endpoint = stream.get("endpoint", {}) if isinstance(stream, dict) else {}
                    if isinstance(endpoint, dict) and endpoint.get("address") and endpoint.get("port"):
                        endpoints.append(f"{endpoint['address']}:{endpoint['port']}")
        return endpoints

    def stop(self) -> None:
        """Stop rtpengine."""
        self.process.stop()

    def log_files(self) -> list[tuple[str, Path]]:
        """The rtpengine log."""
        return [("rtpengine log", self.log_path)]


# --------------------------------------------------------------------------- kamailio


def _kamailio_module_dir() -> Path:
    return _find_module_dir(
        [
            "/usr/lib/x86_64-linux-gnu/kamailio/modules",
            "/usr/lib/*/kamailio/modules",
            "/usr/lib/kamailio/modules",
            "/usr/lib64/kamailio/modules",
            "/usr/local/lib*/kamailio/modules",
        ],
        "websocket.so",
        "Kamailio websocket",
    )


class Kamailio(Component):
    """Kamailio 5.6: registrar + proxy for SIP over ws/wss and udp, digest auth, rtpengine, sipdump.

    Attributes: ``udp_port``, ``ws_port``, ``wss_port``, ``ws_url``, ``wss_url``, ``domain``,
    ``users`` (user -> password), ``auth_algorithm`` ("" = MD5 without an algorithm parameter,
    "MD5" or "SHA-256"; Kamailio 5.6 offers exactly one algorithm per instance).
    """

    def __init__(
        self,
        workdir: Path,
        ports: PortAllocator,
        *,
        rtpengine_ng_port: int,
        tls_cert: Path,
        tls_key: Path,
        name: str = "kamailio",
        domain: str = DEFAULT_DOMAIN,
        users: Mapping[str, str] | None = None,
        callees: Mapping[str, int] | None = None,
        auth_algorithm: str = "",
    ) -> None:
        if auth_algorithm not in ("", "MD5", "SHA-256"):
            raise StackError(
                f"Kamailio 5.6 digest algorithm must be '', 'MD5' or 'SHA-256', got {auth_algorithm!r}"
            )
        self.name = name
        self.workdir = workdir / name
        self.domain = domain
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.callees = dict(callees or {})
        self.auth_algorithm = auth_algorithm
        self.rtpengine_ng_port = rtpengine_ng_port
        self.tls_cert, self.tls_key = tls_cert, tls_key
        self.udp_port = ports.port()
        self.ws_port = ports.port()
        self.wss_port = ports.port()
        self.config_path = self.workdir / "kamailio.cfg"
        self.log_path = self.workdir / "kamailio.log"
        self.sipdump_dir = self.workdir / "sipdump"
        self.run_dir = self.workdir / "run"
        self.ctl_socket = self.run_dir / "ctl.sock"
        if len(str(self.ctl_socket)) > 100:  # AF_UNIX path limit (108 with the NUL)
            import tempfile

            self.run_dir = Path(tempfile.mkdtemp(prefix="kam-run-"))
            self.ctl_socket = self.run_dir / "ctl.sock"
        self.process = ManagedProcess(
            name,
            [
                _which("kamailio"),
                "-f",
                str(self.config_path),
                "-DD",
                "-E",
                "-Y",
                str(self.run_dir),
                "-P",
                str(self.run_dir / "kamailio.pid"),
            ],
            self.log_path,
        )
        self.restarts = 0

    @property
    def ws_url(self) -> str:
        """Plain WebSocket URL (``ws://127.0.0.1:<port>``)."""
        return f"ws://{LOOPBACK}:{self.ws_port}"

    @property
    def wss_url(self) -> str:
        """WebSocket over TLS URL (self-signed certificate for 127.0.0.1)."""
        return f"wss://{LOOPBACK}:{self.wss_port}"

    @property
    def udp_target(self) -> str:
        """``127.0.0.1:<udp port>``: where plain-UDP peers (sipp, baresip) send requests."""
        return f"{LOOPBACK}:{self.udp_port}"

    @property
    def own_ports(self) -> tuple[int, int, int]:
        """(udp, ws, wss) ports."""
        return self.udp_port, self.ws_port, self.wss_port

    def render(self) -> Path:
        """Write kamailio.cfg for this instance."""
        for folder in (self.workdir, self.sipdump_dir, self.run_dir):
            folder.mkdir(parents=True, exist_ok=True)
        user_lines = "\n".join(f'\t$sht(users=>{u}) = "{p}";' for u, p in sorted(self.users.items()))
        callee_lines = "\n".join(
            f'\t$sht(callees=>{n}) = "sip:{LOOPBACK}:{port}";' for n, port in sorted(self.callees.items())
        )
        for text in [*self.users, *self.users.values(), *self.callees]:
            if not re.fullmatch(r"[A-Za-z0-9_.+-]+", text):
                raise StackError(
                    f"user names, passwords and callee names must be simple tokens, got {text!r}"
                )
        return _render_file(
            "kamailio.cfg",
            {
                "SIP_DOMAIN": self.domain,
                "UDP_PORT": self.udp_port,
                "WS_PORT": self.ws_port,
                "WSS_PORT": self.wss_port,
                "MODULE_PATH": f"{_kamailio_module_dir()}/",
                "CTL_SOCKET": self.ctl_socket,
                "AUTH_ALGORITHM": self.auth_algorithm,
                "RTPENGINE_NG_PORT": self.rtpengine_ng_port,
                "TLS_CERT": self.tls_cert,
                "TLS_KEY": self.tls_key,
                "SIPDUMP_DIR": self.sipdump_dir,
                "USER_LINES": user_lines,
                "CALLEE_LINES": callee_lines,
            },
            self.config_path,
        )

    def start(self) -> None:
        """Render the config, start Kamailio, wait for the ws port and a 200 to an OPTIONS ping."""
        self.render()
        self.process.start()
        wait_until(
            lambda: tcp_port_open(self.ws_port) and tcp_port_open(self.wss_port),
            15.0,
            f"{self.name} ws/wss listeners",
            self.process.death_notice,
        )
        wait_until(
            self.ping, 15.0, f"{self.name} OPTIONS ping over udp", self.process.death_notice, interval=0.1
        )

    def ping(self, timeout: float = 0.5) -> bool:
        """Send OPTIONS sip:<domain> over UDP; True on a 200."""
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.bind((LOOPBACK, 0))
            sock.settimeout(timeout)
            port = sock.getsockname()[1]
            branch = "z9hG4bK" + uuid.uuid4().hex
            message = (
                f"OPTIONS sip:{self.domain} SIP/2.0\r\n"
                f"Via: SIP/2.0/UDP {LOOPBACK}:{port};rport;branch={branch}\r\n"
                f"From: <sip:ping@{self.domain}>;tag={uuid.uuid4().hex[:8]}\r\n"
                f"To: <sip:{self.domain}>\r\nCall-ID: ping-{uuid.uuid4().hex}\r\nCSeq: 1 OPTIONS\r\n"
                f"Max-Forwards: 70\r\nContent-Length: 0\r\n\r\n"
            )
            try:
                sock.sendto(message.encode(), (LOOPBACK, self.udp_port))
                reply, _ = sock.recvfrom(65535)
            except OSError:
                return False
        return reply.startswith(b"SIP/2.0 200")

    def stop(self) -> None:
        """Stop Kamailio (SIGTERM; it stops its workers)."""
        self.process.stop(timeout=8.0)

    def restart(self, down_for: float = 0.0) -> None:
        """Stop, stay down ``down_for`` seconds, start again on the same ports (usrloc is lost)."""
        self.stop()
        if down_for > 0:
            time.sleep(down_for)
        self.start()
        self.restarts += 1

    def kamcmd(self, *args: str, timeout: float = 5.0) -> subprocess.CompletedProcess[str]:
        """Run ``kamcmd -s unix:<ctl> args...`` against this instance."""
        return subprocess.run(
            [_which("kamcmd"), "-s", f"unix:{self.ctl_socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def registrations(self, user: str) -> list[dict[str, str]]:
        """usrloc's contacts of ``user@domain`` (kamcmd ``ul.lookup``): one dict per contact with the
        fields Kamailio prints (``Address``, ``Received``, ``Socket``, ``Instance``, ``Expires``...)."""
        result = self.kamcmd("ul.lookup", "location", f"{user}@{self.domain}")
        if result.returncode != 0:
            return []
        contacts: list[dict[str, str]] = []
        for block in result.stdout.split("Contact: {")[1:]:
            fields: dict[str, str] = {}
            for line in block.splitlines():
                key, sep, value = line.strip().partition(": ")
                if sep and key not in fields:
                    fields[key] = value.strip()
            contacts.append(fields)
        return contacts

    def contacts(self, user: str) -> list[str]:
        """The Contact URIs usrloc holds for ``user@domain`` (empty when not registered)."""
        return [c["Address"] for c in self.registrations(user) if "Address" in c]

    def wait_registered(self, user: str, timeout: float = 10.0) -> list[str]:
        """Wait until ``user`` has at least one contact; the contacts."""
        found: list[str] = []

        def registered() -> bool:
            found[:] = self.contacts(user)
            return bool(found)

        wait_until(
            registered,
            timeout,
            f"{self.name}: registration of {user}",
            self.process.death_notice,
            interval=0.2,
        )
        return found

    def sip_records(self) -> list[siptrace.SipTraceRecord]:
        """Every SIP message this instance received or sent so far (sipdump)."""
        return siptrace.read_sipdump_dir(self.sipdump_dir)

    def log_files(self) -> list[tuple[str, Path]]:
        """Kamailio's log (xlog lines, errors)."""
        return [(f"{self.name} log", self.log_path)]


# --------------------------------------------------------------------------- sipp


@dataclass(frozen=True)
class CalleeSpec:
    """A sipp UAS scenario reachable at ``sip:<name>@<domain>``."""

    name: str
    template: str
    description: str
    values: Mapping[str, object] = field(default_factory=dict)


#: The scenario callees, by user name (``sip:<name>@sip.test``).
CALLEES: dict[str, CalleeSpec] = {
    spec.name: spec
    for spec in (
        CalleeSpec(
            "echo",
            "sipp_uas_echo.xml",
            "answers at once (PCMU + telephone-event), echoes RTP; hold/unhold re-INVITEs, INFO, BYE",
        ),
        CalleeSpec(
            "ring", "sipp_uas_ring.xml", "180 Ringing, 2 s later 200 OK, then like echo", {"RING_MS": 2000}
        ),
        CalleeSpec(
            "early",
            "sipp_uas_early.xml",
            "183 with SDP (early media, RTP echo), 2 s later 200 OK, then like echo",
            {"RING_MS": 2000},
        ),
        CalleeSpec("busy", "sipp_uas_busy.xml", "486 Busy Here"),
        CalleeSpec("decline", "sipp_uas_decline.xml", "603 Decline"),
        CalleeSpec("noanswer", "sipp_uas_noanswer.xml", "180 Ringing until the caller CANCELs (200 + 487)"),
        CalleeSpec(
            "rhold",
            "sipp_uas_rhold.xml",
            "answers, 1.5 s later re-INVITE a=sendonly (holds the caller), 1.5 s later a=sendrecv, "
            "then like echo",
            {"HOLD_AFTER_MS": 1500, "UNHOLD_AFTER_MS": 1500},
        ),
        CalleeSpec(
            "rbye",
            "sipp_uas_rbye.xml",
            "answers, echoes RTP, sends BYE 2.5 s after the ACK",
            {"BYE_AFTER_MS": 2500},
        ),
    )
}

#: Caller scenarios of `SippUac`, by short name.
CALLER_SCENARIOS = {
    "call_hangup": "sipp_uac_call_hangup.xml",
    "wait_bye": "sipp_uac_wait_bye.xml",
    "cancel": "sipp_uac_cancel.xml",
}


def _wait_sipp_message(
    component: SippUas | SippUac, prefix: str, since: int, direction: str, timeout: float
) -> siptrace.SippLogMessage:
    found: list[siptrace.SippLogMessage] = []

    def arrived() -> bool:
        found[:] = [
            m
            for m in component.messages()[since:]
            if m.first_line.startswith(prefix) and (direction == "any" or m.direction == direction)
        ]
        return bool(found)

    try:
        wait_until(arrived, timeout, f"{component.name}: {direction} {prefix!r}", interval=0.1)
    except StackError as exc:
        seen = [f"{m.direction} {m.first_line}" for m in component.messages()[since:]]
        raise StackError(f"{exc}; messages since #{since}: {seen}") from exc
    return found[0]


def _sipp_messages(path: Path) -> list[siptrace.SippLogMessage]:
    try:
        return siptrace.parse_sipp_message_log(path.read_text(errors="replace"))
    except OSError:
        return []


class SippUas(Component):
    """A sipp UAS callee (one scenario, any number of calls) on UDP, with RTP echo.

    ``uri`` is ``sip:<name>@<domain>``; Kamailio routes that user to ``port``.
    """

    def __init__(
        self,
        workdir: Path,
        ports: PortAllocator,
        spec: CalleeSpec,
        *,
        domain: str = DEFAULT_DOMAIN,
        port: int | None = None,
    ) -> None:
        self.name = f"sipp-{spec.name}"
        self.spec = spec
        self.domain = domain
        self.workdir = workdir / self.name
        self.port = port if port is not None else ports.port()
        self.control_port = ports.port(tcp=False)
        self.media_port = ports.block(4, tcp=False, align=2)  # -rtp_echo uses media_port and +2
        self.scenario_path = self.workdir / f"uas_{spec.name}.xml"
        self.message_log = self.workdir / "messages.log"
        self.error_log = self.workdir / "errors.log"
        self.log_path = self.workdir / "sipp.out"
        self.process = ManagedProcess(
            self.name,
            [
                _which("sipp"),
                "-sf",
                str(self.scenario_path),
                "-i",
                LOOPBACK,
                "-p",
                str(self.port),
                "-ci",
                LOOPBACK,
                "-cp",
                str(self.control_port),
                "-mi",
                LOOPBACK,
                "-mp",
                str(self.media_port),
                "-rtp_echo",
                "-trace_msg",
                "-message_file",
                str(self.message_log),
                "-message_overwrite",
                "false",
                "-trace_err",
                "-error_file",
                str(self.error_log),
                "-error_overwrite",
                "false",
                "-nostdin",
            ],
            self.log_path,
            cwd=self.workdir,
        )

    @property
    def uri(self) -> str:
        """``sip:<name>@<domain>``."""
        return f"sip:{self.spec.name}@{self.domain}"

    def start(self) -> None:
        """Render the scenario, start sipp and wait until its SIP port is bound."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        _render_file(
            self.spec.template,
            {"NAME": self.spec.name, **self.spec.values},
            self.scenario_path,
            optional=["NAME"],
        )
        self.process.start()
        wait_until(
            lambda: udp_port_bound(self.port), 10.0, f"{self.name} udp port", self.process.death_notice
        )

    def stop(self) -> None:
        """Stop sipp."""
        self.process.stop()

    def messages(self) -> list[siptrace.SippLogMessage]:
        """Every SIP message this sipp sent or received so far."""
        return _sipp_messages(self.message_log)

    def wait_for_message(
        self, prefix: str, *, since: int = 0, direction: str = "received", timeout: float = 10.0
    ) -> siptrace.SippLogMessage:
        """Wait until a message whose first line starts with ``prefix`` is in the trace at index
        >= ``since`` (``direction`` "received", "sent" or "any"); `StackError` listing what came."""
        return _wait_sipp_message(self, prefix, since, direction, timeout)

    def received(self, method_or_status: str) -> list[siptrace.SippLogMessage]:
        """Received messages whose first line starts with ``method_or_status`` ("INFO", "SIP/2.0 200")."""
        return [
            m
            for m in self.messages()
            if m.direction == "received" and m.first_line.startswith(method_or_status)
        ]

    def log_files(self) -> list[tuple[str, Path]]:
        """sipp's message trace, error log and screen output."""
        return [
            (f"{self.name} messages", self.message_log),
            (f"{self.name} errors", self.error_log),
            (f"{self.name} output", self.log_path),
        ]


class SippUac(Component):
    """One sipp caller run (``-m 1``) through Kamailio to a registered user, with RTP echo.

    Scenarios (`CALLER_SCENARIOS`): ``call_hangup`` (waits for the answer, echoes RTP for
    ``duration_ms``, BYE), ``wait_bye`` (waits for the callee's BYE), ``cancel`` (CANCEL
    ``cancel_after_ms`` after the 180). The INVITE carries ``X-2Chat-Ticket-Id`` and
    ``X-2Chat-Customer``. ``wait()`` returns sipp's exit status: 0 when the scenario completed.
    """

    def __init__(
        self,
        workdir: Path,
        ports: PortAllocator,
        kamailio: Kamailio,
        callee: str,
        *,
        scenario: str = "call_hangup",
        caller: str = "sipp",
        caller_name: str = "SIPp Caller",
        ticket_id: str = "T-1001",
        customer: str = "Interop Customer",
        duration_ms: int = 4000,
        cancel_after_ms: int = 1000,
        timeout_s: int = 60,
        label: str | None = None,
    ) -> None:
        if scenario not in CALLER_SCENARIOS:
            raise StackError(f"unknown caller scenario {scenario!r}; known: {', '.join(CALLER_SCENARIOS)}")
        for name, value in (("callee", callee), ("caller", caller)):
            if not re.fullmatch(r"[A-Za-z0-9_.+-]+", value):
                raise StackError(f"{name} must be a SIP user token, got {value!r}")
        for name, value in (("caller_name", caller_name), ("ticket_id", ticket_id), ("customer", customer)):
            if any(ch in value for ch in '\r\n"[]'):
                raise StackError(f"{name} must not contain CR, LF, quotes or brackets: {value!r}")
        self.label = label or f"{scenario}-{uuid.uuid4().hex[:6]}"
        self.name = f"sipp-caller-{self.label}"
        self.workdir = workdir / self.name
        self.kamailio = kamailio
        self.callee = callee
        self.scenario = scenario
        self.caller = caller
        self.headers = {"X-2Chat-Ticket-Id": ticket_id, "X-2Chat-Customer": customer}
        self.port = ports.port()
        self.control_port = ports.port(tcp=False)
        self.media_port = ports.block(4, tcp=False, align=2)
        self.scenario_path = self.workdir / f"uac_{scenario}.xml"
        self.message_log = self.workdir / "messages.log"
        self.error_log = self.workdir / "errors.log"
        self.log_path = self.workdir / "sipp.out"
        self.process = ManagedProcess(
            self.name,
            [
                _which("sipp"),
                "-sf",
                str(self.scenario_path),
                "-s",
                callee,
                kamailio.udp_target,
                "-i",
                LOOPBACK,
                "-p",
                str(self.port),
                "-ci",
                LOOPBACK,
                "-cp",
                str(self.control_port),
                "-mi",
                LOOPBACK,
                "-mp",
                str(self.media_port),
                "-rtp_echo",
                "-m",
                "1",
                "-d",
                str(duration_ms),
                "-timeout",
                f"{timeout_s}s",
                "-timeout_error",
                "-recv_timeout",
                str(timeout_s * 1000),
                "-key",
                "caller",
                caller,
                "-key",
                "caller_name",
                caller_name,
                "-key",
                "ticket_id",
                ticket_id,
                "-key",
                "customer",
                customer,
                "-trace_msg",
                "-message_file",
                str(self.message_log),
                "-trace_err",
                "-error_file",
                str(self.error_log),
                "-nostdin",
            ],
            self.log_path,
            cwd=self.workdir,
        )
        self._values: dict[str, object] = {"NAME": caller, "SIP_DOMAIN": kamailio.domain}
        if scenario == "cancel":
            self._values["CANCEL_AFTER_MS"] = cancel_after_ms

    def start(self) -> None:
        """Render the scenario and start the call (returns at once; see `wait`)."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        _render_file(CALLER_SCENARIOS[self.scenario], self._values, self.scenario_path, optional=["NAME"])
        self.process.start()

    def wait(self, timeout: float = 60.0) -> int:
        """Wait until sipp has finished; its exit status (0 = scenario completed, 1 = call failed)."""
        return self.process.wait(timeout)

    def stop(self) -> None:
        """Stop sipp if it still runs."""
        self.process.stop()

    def messages(self) -> list[siptrace.SippLogMessage]:
        """Every SIP message this sipp sent or received so far."""
        return _sipp_messages(self.message_log)

    def wait_for_message(
        self, prefix: str, *, since: int = 0, direction: str = "received", timeout: float = 10.0
    ) -> siptrace.SippLogMessage:
        """Wait until a message whose first line starts with ``prefix`` is in the trace at index
        >= ``since`` (``direction`` "received", "sent" or "any"); `StackError` listing what came."""
        return _wait_sipp_message(self, prefix, since, direction, timeout)

    def received(self, method_or_status: str) -> list[siptrace.SippLogMessage]:
        """Received messages whose first line starts with ``method_or_status``."""
        return [
            m
            for m in self.messages()
            if m.direction == "received" and m.first_line.startswith(method_or_status)
        ]

    def log_files(self) -> list[tuple[str, Path]]:
        """sipp's message trace, error log and screen output."""
        return [
            (f"{self.name} messages", self.message_log),
            (f"{self.name} errors", self.error_log),
            (f"{self.name} output", self.log_path),
        ]


# --------------------------------------------------------------------------- baresip


def _baresip_module_dir() -> Path:
    return _find_module_dir(
        ["/usr/lib/baresip/modules", "/usr/lib/*/baresip/modules", "/usr/local/lib/baresip/modules"],
        "ctrl_tcp.so",
        "baresip",
    )


class Baresip(Component):
    """baresip 1.0 as a plain-UDP user agent registered through Kamailio.

    Plays a 440 Hz tone WAV as its microphone, records what it receives (``recordings()``: the
    sndfile ``*-dec.wav`` dumps), auto-answers (``answer_mode="auto"``) or waits for ``accept()``.
    Driven through ctrl_tcp (netstring JSON): ``dial``, ``accept``, ``hangup``, ``command``.
    """

    def __init__(
        self,
        workdir: Path,
        ports: PortAllocator,
        kamailio: Kamailio,
        *,
        user: str = BARESIP_USER,
        answer_mode: str = "auto",
    ) -> None:
        if user not in kamailio.users:
            raise StackError(f"baresip user {user} is not a Kamailio user")
        if answer_mode not in ("auto", "manual", "early"):
            raise StackError(f"answer_mode must be auto, manual or early, got {answer_mode!r}")
        self.name = f"baresip-{user}"
        self.workdir = workdir / self.name
        self.kamailio = kamailio
        self.user = user
        self.answer_mode = answer_mode
        self.sip_port = ports.port()
        self.ctrl_port = ports.port(udp=False)
        self.rtp_port_min = ports.block(40, tcp=False)
        self.rtp_port_max = self.rtp_port_min + 39
        self.record_dir = self.workdir / "rec"
        self.account = ""  # the accounts line (set by start)
        self.tone_path = self.workdir / "tone440.wav"
        self.log_path = self.workdir / "baresip.log"
        self.process = ManagedProcess(
            self.name, [_which("baresip"), "-4", "-f", str(self.workdir)], self.log_path, cwd=self.workdir
        )

    @property
    def uri(self) -> str:
        """``sip:<user>@<domain>``."""
        return f"sip:{self.user}@{self.kamailio.domain}"

    def start(self) -> None:
        """Write config, accounts and the tone; start baresip; wait for ctrl_tcp and the registration."""
        self.record_dir.mkdir(parents=True, exist_ok=True)
        if not self.tone_path.exists():
            write_tone_wav(self.tone_path, 440.0, 30.0)
        _render_file(
            "baresip.config",
            {
                "SIP_PORT": self.sip_port,
                "TONE_WAV": self.tone_path,
                "RTP_PORT_MIN": self.rtp_port_min,
                "RTP_PORT_MAX": self.rtp_port_max,
                "MODULE_PATH": _baresip_module_dir(),
                "CTRL_PORT": self.ctrl_port,
                "RECORD_DIR": self.record_dir,
            },
            self.workdir / "config",
        )
        password = self.kamailio.users[self.user]
        self.account = (
            f"<sip:{self.user}@{self.kamailio.domain};transport=udp>;auth_pass={password};"
            f'outbound="sip:{self.kamailio.udp_target};transport=udp";answermode={self.answer_mode};'
            "regint=300;audio_codecs=PCMU,PCMA"
        )
        _render_file("baresip.accounts", {"ACCOUNT_LINE": self.account}, self.workdir / "accounts")
        self.process.start()
        self._wait_started()

    def _wait_started(self) -> None:
        """Wait until the process just started answers on ctrl_tcp and Kamailio has its contact."""
        wait_until(
            lambda: tcp_port_open(self.ctrl_port), 10.0, f"{self.name} ctrl_tcp", self.process.death_notice
        )
        self.wait_registered()

    def wait_registered(self, timeout: float = 10.0) -> None:
        """Wait until Kamailio has baresip's contact (after a Kamailio restart baresip re-registers
        only at its next refresh; `reregister` forces it)."""
        port = self.sip_port
        wait_until(
            lambda: any(f":{port}" in c for c in self.kamailio.contacts(self.user)),
            timeout,
            f"{self.name} registration",
            self.process.death_notice,
            interval=0.2,
        )

    def reregister(self) -> None:
        """Register again now: restart baresip (same ports, config and account; its log goes on) and wait
        until Kamailio has the contact.

        baresip 1.0 has no ``uareg``, and deleting the user agent and creating it anew (``uadel`` +
        ``uanew``) leaves baresip pointing at freed memory: with one user agent, ``uadel`` re-selects the
        agent it deletes as the "current" one, and nothing clears ``uag.ua_cur`` when it is freed. 100 ms
        after the next call is established, the menu module's call-status timer reads the current agent's
        calls through that pointer (``ua_call(uag_current())``): baresip died of SIGSEGV there in some runs
        (core dump: ``ua_call`` <- ``menu.so`` <- ``tmr_poll``), after 7 packets of its tone, and the call's
        other end saw the tone stop. A new process holds no such pointer. Stopping it (SIGTERM) sends its
        un-REGISTER and waits for the answer, so the late un-REGISTER cannot remove the new binding.
        """
        self.process.stop()
        self.process.start()
        self._wait_started()

    def command(self, command: str, params: str = "", timeout: float = 5.0) -> dict[str, Any]:
        """Send one ctrl_tcp command; the JSON response (``{"response": true, "ok": ..., "data": ...}``)."""
        token = uuid.uuid4().hex[:8]
        body = json.dumps({"command": command, "params": params, "token": token}).encode()
        with socket.create_connection((LOOPBACK, self.ctrl_port), timeout=timeout) as conn:
            conn.sendall(str(len(body)).encode() + b":" + body + b",")
            buffer = b""
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                buffer += chunk
                while b":" in buffer:
                    length_text, _, rest = buffer.partition(b":")
                    if not length_text.isdigit() or len(rest) < int(length_text) + 1:
                        break
                    payload, buffer = rest[: int(length_text)], rest[int(length_text) + 1 :]
                    message = json.loads(payload)
                    if (
                        isinstance(message, dict)
                        and message.get("response")
                        and message.get("token") == token
                    ):
                        return message
        raise StackError(f"{self.name}: no ctrl_tcp response to {command!r} within {timeout:.1f} s")

    def dial(self, uri: str) -> dict[str, Any]:
        """Place a call (``dial``)."""
        return self.command("dial", uri)

    def accept(self) -> dict[str, Any]:
        """Answer the ringing incoming call (``accept``)."""
        return self.command("accept")

    def hangup(self) -> dict[str, Any]:
        """Hang up the current call (``hangup``)."""
        return self.command("hangup")

    def recordings(self, kind: str = "dec") -> list[Path]:
        """The sndfile WAV dumps: ``dec`` = audio received from the peer, ``enc`` = audio sent."""
        return sorted(self.record_dir.glob(f"*-{kind}.wav"), key=lambda p: p.stat().st_mtime)

    def wait_heard(self, before: set[Path], *, calls: int, timeout: float = 15.0) -> dict[str, WavLevel]:
        """Wait until baresip completed a WAV of what it heard (``dec``) for ``calls`` calls made since the
        recordings ``before``, none of them silent (it completes a file when its call ends)."""
        deadline = time.monotonic() + timeout
        while True:
            new = [p for p in self.recordings() if p not in before]
            try:
                levels = {p.name: wav_level(p) for p in new}
            except AudioFileError:
                levels = {}  # a file still being written
            if len(levels) >= calls and all(not level.silent for level in levels.values()):
                return levels
            if time.monotonic() > deadline:
                raise AssertionError(f"baresip heard silence or recorded less than {calls} calls: {levels}")
            time.sleep(0.1)

    def stop(self) -> None:
        """Stop baresip."""
        self.process.stop()

    def log_files(self) -> list[tuple[str, Path]]:
        """baresip's console output."""
        return [(f"{self.name} log", self.log_path)]


# --------------------------------------------------------------------------- packet capture


class PacketCapture(Component):
    """tcpdump on ``lo`` for UDP traffic to/from some ports, parsed with the pure-Python `pcap` reader."""

    def __init__(
        self,
        workdir: Path,
        ports: Iterable[int] | None = None,
        *,
        port_range: tuple[int, int] | None = None,
        name: str = "capture",
        interface: str = "lo",
    ) -> None:
        port_list = sorted(set(ports or ()))
        if not port_list and port_range is None:
            raise StackError("PacketCapture needs ports or a port_range")
        terms = [f"port {p}" for p in port_list]
        if port_range is not None:
            terms.append(f"portrange {port_range[0]}-{port_range[1]}")
        self.name = f"tcpdump-{name}"
        self.workdir = workdir / "captures"
        self.path = self.workdir / f"{name}-{uuid.uuid4().hex[:6]}.pcap"
        self.log_path = self.workdir / f"{self.path.stem}.log"
        self.filter = f"udp and ({' or '.join(terms)})"
        self.process = ManagedProcess(
            self.name,
            [
                _which("tcpdump"),
                "-i",
                interface,
                "-n",
                "-U",
                "-s",
                "0",
                "-Z",
                "root",
                "-w",
                str(self.path),
                self.filter,
            ],
            self.log_path,
        )

    def start(self) -> None:
        """Start tcpdump and wait until it says it is listening."""
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process.start()
        wait_until(
            lambda: "listening on" in self.process.log_tail(5),
            10.0,
            f"{self.name} start",
            self.process.death_notice,
        )

    def stop(self, settle: float = 0.3) -> None:
        """Let in-flight packets land (``settle`` seconds), then stop tcpdump (it flushes the file)."""
        if self.process.running and settle > 0:
            time.sleep(settle)
        self.process.stop()

    def datagrams(self) -> list[pcap.UdpDatagram]:
        """Every UDP datagram captured so far."""
        if not self.path.exists() or self.path.stat().st_size < 24:
            return []
        return pcap.read_udp_datagrams(self.path)

    def telephone_events(
        self,
        *,
        dst_port: int | None = None,
        src_port: int | None = None,
        payload_types: Iterable[int] | None = None,
    ) -> list[pcap.TelephoneEvent]:
        """RFC 4733 event packets, optionally only those to/from a port."""
        datagrams = [
            d
            for d in self.datagrams()
            if (dst_port is None or d.dst_port == dst_port) and (src_port is None or d.src_port == src_port)
        ]
        return pcap.telephone_events(datagrams, payload_types)

    def dtmf_digits(self, *, dst_port: int | None = None, src_port: int | None = None) -> str:
        """The DTMF digits (ended events, repeats counted once) in the capture, in order."""
        return pcap.dtmf_digits(self.telephone_events(dst_port=dst_port, src_port=src_port))

    def log_files(self) -> list[tuple[str, Path]]:
        """tcpdump's own output."""
        return [(f"{self.name} output", self.log_path)]


# --------------------------------------------------------------------------- static page server


class StaticServer(Component):
    """A threaded HTTP server on 127.0.0.1:<free port> serving folders under URL prefixes.

    ``mounts`` maps a URL prefix to a folder or a single file, e.g.
    ``{"/test/pages": tests/pages, "/test/vendor/jssip.min.js": bundle}``.
    """

    def __init__(self, mounts: Mapping[str, Path]) -> None:
        self.name = "static-server"
        self.workdir = Path.cwd()
        self.mounts = {"/" + prefix.strip("/"): Path(path).resolve() for prefix, path in mounts.items()}
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:23456``."""
        if self._server is None:
            raise StackError("static server not started")
        return f"http://{LOOPBACK}:{self._server.server_address[1]}"

    def resolve(self, url_path: str) -> Path | None:
        """The file served for a URL path, or None."""
        clean = "/" + url_path.split("?", 1)[0].split("#", 1)[0].strip("/")
        for prefix in sorted(self.mounts, key=len, reverse=True):
            if clean == prefix or clean.startswith(prefix + "/"):
                base = self.mounts[prefix]
                rest = clean[len(prefix) :].strip("/")
                target = (base / rest).resolve() if rest else base
                if target != base and base not in target.parents:
                    return None
                return target if target.is_file() else None
        return None

    def start(self) -> None:
        """Bind a free port and serve in a daemon thread."""
        mounts = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                target = mounts.resolve(self.path)
                if target is None:
                    self.send_error(404)
                    return
                data = target.read_bytes()
                types = {
                    ".html": "text/html; charset=utf-8",
                    ".js": "text/javascript; charset=utf-8",
                    ".mjs": "text/javascript; charset=utf-8",  # module scripts need a JS type
                    ".json": "application/json",
                    ".css": "text/css",
                    ".wasm": "application/wasm",
                }
                self.send_response(200)
                self.send_header("Content-Type", types.get(target.suffix, "application/octet-stream"))
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = http.server.ThreadingHTTPServer((LOOPBACK, 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, name="interop-static", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


# --------------------------------------------------------------------------- certificates


def make_self_signed_cert(folder: Path, common_name: str = LOOPBACK) -> tuple[Path, Path]:
    """Generate a self-signed RSA certificate for 127.0.0.1 with openssl; (cert, key) paths."""
    folder.mkdir(parents=True, exist_ok=True)
    cert, key = folder / "cert.pem", folder / "key.pem"
    result = subprocess.run(
        [
            _which("openssl"),
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "7",
            "-subj",
            f"/CN={common_name}",
            "-addext",
            f"subjectAltName=IP:{LOOPBACK},DNS:localhost",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if result.returncode != 0:
        raise StackError(f"openssl could not make a certificate: {result.stderr.strip()}")
    return cert, key


# --------------------------------------------------------------------------- the stack


@dataclass(frozen=True)
class LogMark:
    """Where each log file ended at some moment (see `InteropStack.log_mark`)."""

    time: float
    sizes: Mapping[Path, int]


class InteropStack:
    """The whole interop stack for one test session.

    ``start()`` brings up rtpengine, Kamailio (MD5 digest) and the sipp ``echo`` callee; the other
    callees (`CALLEES`), the SHA-256 Kamailio, baresip, sipp callers and packet captures start on
    first use. ``stop()`` stops everything that was started, in reverse order.
    """

    max_log_excerpt: ClassVar[int] = 60_000

    def __init__(
        self, workdir: Path, *, domain: str = DEFAULT_DOMAIN, users: Mapping[str, str] | None = None
    ) -> None:
        missing = find_missing_binaries()
        if missing:
            raise MissingBinaryError(
                f"interop stack needs {', '.join(missing)} (Debian: kamailio "
                "kamailio-websocket-modules kamailio-tls-modules rtpengine-daemon "
                "sip-tester baresip tcpdump openssl)"
            )
        self.workdir = workdir
        self.domain = domain
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.ports = PortAllocator()
        self.callee_ports = {name: self.ports.port() for name in CALLEES}
        self.tls_cert, self.tls_key = workdir / "tls" / "cert.pem", workdir / "tls" / "key.pem"
        self.rtpengine = Rtpengine(workdir, self.ports)
        self.kamailio = self._new_kamailio("kamailio", "")
        self._sha256: Kamailio | None = None
        self._callees: dict[str, SippUas] = {}
        self._baresip: Baresip | None = None
        self._components: list[Component] = []
        self._lock = threading.RLock()
        self.timings: dict[str, float] = {}

    def _new_kamailio(self, name: str, algorithm: str) -> Kamailio:
        return Kamailio(
            self.workdir,
            self.ports,
            rtpengine_ng_port=self.rtpengine.ng_port,
            tls_cert=self.tls_cert,
            tls_key=self.tls_key,
            name=name,
            domain=self.domain,
            users=self.users,
            callees=self.callee_ports,
            auth_algorithm=algorithm,
        )

    def _start(self, component: Component) -> None:
        started = time.monotonic()
        component.start()
        self.timings[f"start {component.name}"] = round(time.monotonic() - started, 3)
        self._components.append(component)

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> None:
        """Certificate, rtpengine, Kamailio and the echo callee."""
        started = time.monotonic()
        try:
            make_self_signed_cert(self.tls_cert.parent)
            self.timings["certificate"] = round(time.monotonic() - started, 3)
            self._start(self.rtpengine)
            self._start(self.kamailio)
            self.callee("echo")
        except BaseException:
            self.stop()
            raise
        self.timings["stack start"] = round(time.monotonic() - started, 3)

    def stop(self) -> None:
        """Stop every component started, newest first (errors are collected, then raised)."""
        errors: list[str] = []
        with self._lock:
            while self._components:
                component = self._components.pop()
                try:
                    component.stop()
                except Exception as exc:  # keep stopping the others
                    errors.append(f"{component.name}: {exc}")
        if errors:
            raise StackError("stopping the interop stack: " + "; ".join(errors))

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # ------------------------------------------------------------------ addresses
    @property
    def ws_url(self) -> str:
        """ws:// URL of the main (MD5) Kamailio."""
        return self.kamailio.ws_url

    @property
    def wss_url(self) -> str:
        """wss:// URL of the main (MD5) Kamailio."""
        return self.kamailio.wss_url

    def uri(self, user: str) -> str:
        """``sip:<user>@<domain>``."""
        return f"sip:{user}@{self.domain}"

    def password(self, user: str) -> str:
        """The digest password of a user."""
        if user not in self.users:
            raise StackError(f"unknown user {user!r}; users: {', '.join(sorted(self.users))}")
        return self.users[user]

    def credentials(
        self,
        user: str,
        *,
        secure: bool = False,
        kamailio: Kamailio | None = None,
        display_name: str | None = None,
        ttl: int = 3600,
    ) -> dict[str, Any]:
        """What a ``credentials_provider`` returns for ``user`` (the JSON schema of product.md §4)."""
        server = kamailio or self.kamailio
        expires = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(seconds=ttl)
        return {
            "success": True,
            "ws_url": server.wss_url if secure else server.ws_url,
            "sip_uri": self.uri(user),
            "username": user,
            "password": self.password(user),
            "realm": self.domain,
            "display_name": display_name or f"Interop {user}",
            "ice_servers": [],
            "expires_at": expires.isoformat(),
            "caller_ids": [{"uuid": f"interop-caller-{user}", "phone_number": f"+1555000{user}"}],
        }

    # ------------------------------------------------------------------ on-demand components
    def callee(self, name: str) -> SippUas:
        """The sipp UAS for a scenario callee (started on first use); see `CALLEES`."""
        if name not in CALLEES:
            raise StackError(f"unknown callee {name!r}; known: {', '.join(CALLEES)}")
        with self._lock:
            if name not in self._callees:
                uas = SippUas(
                    self.workdir, self.ports, CALLEES[name], domain=self.domain, port=self.callee_ports[name]
                )
                self._start(uas)
                self._callees[name] = uas
            return self._callees[name]

    def callee_uri(self, name: str) -> str:
        """``sip:<name>@<domain>`` of a scenario callee, its sipp started."""
        return self.callee(name).uri

    def restart_kamailio(self, down_for: float = 0.0) -> None:
        """Restart the main Kamailio (usrloc is lost), then re-register baresip if it runs.

        Browsers re-register by themselves when their WebSocket comes back; baresip (UDP) would only at
        its next refresh, so later tests calling it would get no answer.
        """
        self.kamailio.restart(down_for)
        with self._lock:
            agent = self._baresip
        if agent is not None and agent.process.running:
            agent.reregister()

    def sha256_kamailio(self) -> Kamailio:
        """A second Kamailio whose digest challenges say ``algorithm=SHA-256`` (started on first use).

        Same users, domain, callees and rtpengine as the main one; its own ports and usrloc.
        """
        with self._lock:
            if self._sha256 is None:
                instance = self._new_kamailio("kamailio-sha256", "SHA-256")
                self._start(instance)
                self._sha256 = instance
            return self._sha256

    def baresip(self) -> Baresip:
        """baresip registered as `BARESIP_USER` (auto-answer; started on first use)."""
        with self._lock:
            if self._baresip is None:
                agent = Baresip(self.workdir, self.ports, self.kamailio)
                self._start(agent)
                self._baresip = agent
            return self._baresip

    def sipp_caller(
        self, callee: str, *, scenario: str = "call_hangup", kamailio: Kamailio | None = None, **options: Any
    ) -> SippUac:
        """Start a sipp caller towards ``sip:<callee>@<domain>`` (see `SippUac` for the options)."""
        uac = SippUac(
            self.workdir, self.ports, kamailio or self.kamailio, callee, scenario=scenario, **options
        )
        with self._lock:
            self._start(uac)
        return uac

    def packet_capture(
        self,
        ports: Iterable[int] | None = None,
        *,
        port_range: tuple[int, int] | None = None,
        name: str = "capture",
    ) -> PacketCapture:
        """Start a tcpdump capture on lo (stopped at the latest when the stack stops)."""
        capture = PacketCapture(self.workdir, ports, port_range=port_range, name=name)
        with self._lock:
            self._start(capture)
        return capture

    # ------------------------------------------------------------------ traces and reports
    def components(self) -> list[Component]:
        """Every component started so far (running or stopped)."""
        with self._lock:
            return list(self._components)

    def log_mark(self) -> LogMark:
        """The current end of every log file (for `failure_sections`)."""
        sizes: dict[Path, int] = {}
        for component in self.components():
            for _, path in component.log_files():
                with contextlib.suppress(OSError):
                    sizes[path] = path.stat().st_size
        return LogMark(time.time(), sizes)

    def endpoint_namer(self, records: Sequence[siptrace.SipTraceRecord]) -> Callable[[str, str, int], str]:
        """A function naming (proto, ip, port) as a peer of the stack, for `siptrace.format_ladder`."""
        names: dict[int, str] = {}
        for instance in (self.kamailio, self._sha256):
            if instance is not None:
                for port in instance.own_ports:
                    names[port] = instance.name
        for name, port in self.callee_ports.items():
            names[port] = f"sipp {name}"
        for component in self.components():
            if isinstance(component, SippUac):
                names[component.port] = f"sipp caller {component.caller}"
            elif isinstance(component, Baresip):
                names[component.sip_port] = f"baresip {component.user}"
        ws_users: dict[int, str] = {}
        for record in records:
            if (
                record.direction == "rcv"
                and record.proto in ("ws", "wss")
                and record.src_port not in ws_users
            ):
                from_header = record.header("From") or ""
                match = re.search(r"sips?:([^@;>]+)@", from_header)
                if match and record.is_request:
                    ws_users[record.src_port] = match.group(1)

        def name_of(proto: str, ip: str, port: int) -> str:
            if port in names and ip == LOOPBACK:
                return names[port]
            if proto in ("ws", "wss"):
                user = ws_users.get(port)
                return f"{proto} client {user} :{port}" if user else f"{proto} client :{port}"
            return f"{ip}:{port}"

        return name_of

    def sip_ladder(self, since: float | None = None) -> str:
        """Every SIP message through the Kamailio instances since ``since`` (epoch seconds), one per line."""
        records: list[siptrace.SipTraceRecord] = []
        for instance in (self.kamailio, self._sha256):
            if instance is not None:
                records.extend(instance.sip_records())
        records.sort(key=lambda r: r.time)
        return siptrace.format_ladder(records, self.endpoint_namer(records), since=since)

    def failure_sections(self, mark: LogMark | None) -> list[tuple[str, str]]:
        """(title, text) sections for a failed test: the SIP ladder, then every log since ``mark``."""
        since = mark.time if mark is not None else None
        sections = [
            ("SIP ladder (Kamailio sipdump: who said what)", self.sip_ladder(since) or "(no SIP messages)")
        ]
        for instance in (self.kamailio, self._sha256):
            if instance is None:
                continue
            full: list[str] = []
            for record in instance.sip_records():
                if since is None or record.time >= since:
                    when = dt.datetime.fromtimestamp(record.time).isoformat(timespec="milliseconds")
                    full.append(
                        f"----- {when} {instance.name} {record.direction} {record.proto} "
                        f"{record.src}:{record.src_port} -> {record.dst}:{record.dst_port}\n"
                        f"{record.message.rstrip()}"
                    )
            if full:
                sections.append((f"{instance.name} SIP messages (sipdump)", self._clip("\n".join(full))))
        for component in self.components():
            for process in component.processes():
                code = process.returncode
                if code is not None and -code in _CRASH_SIGNALS:  # a peer that crashed: say so first
                    name = signal.Signals(-code).name
                    sections.append((f"{process.name} crashed ({name})", process.death_notice() or ""))
            for title, path in component.log_files():
                start = mark.sizes.get(path, 0) if mark is not None else 0
                try:
                    with path.open("rb") as handle:
                        handle.seek(start)
                        text = handle.read().decode(errors="replace")
                except OSError:
                    continue
                if text.strip():
                    sections.append((title, self._clip(text)))
        return sections

    def _clip(self, text: str) -> str:
        if len(text) <= self.max_log_excerpt:
            return text
        return (
            f"[... {len(text) - self.max_log_excerpt} characters cut ...]\n" + text[-self.max_log_excerpt :]
        )

    def check_loopback_only(self) -> list[str]:
        """Listening/unconnected sockets of our processes (and the children they forked) that are
        bound to something other than 127.0.0.1, as ``ss`` lines."""
        groups = {p.pid for c in self.components() for p in c.processes() if p.pid is not None}
        result = subprocess.run(["ss", "-lntupH"], capture_output=True, text=True, check=False, timeout=10)
        bad: list[str] = []
        for line in result.stdout.splitlines():
            ours = False
            for pid in re.findall(r"pid=(\d+)", line):
                with contextlib.suppress(OSError):
                    ours = ours or os.getpgid(int(pid)) in groups
            if ours and not line.split()[4].startswith(f"{LOOPBACK}:"):
                bad.append(line)
        return bad
