"""Command line of the sandbox: ``python -m twochat_voice_web.sandbox [options]``.

Starts the local 2Chat emulator, prints its URL, API key and ready-made users, writes the ready file
(atomically, once listening), and runs until SIGINT/SIGTERM or until ``--parent-pid`` is gone. A second
SIGINT/SIGTERM during shutdown exits at once.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import secrets
import signal
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from aiohttp import web

from .app import create_app
from .config import (
    API_KEY_ENV,
    DEFAULT_HOST,
    DEFAULT_PORT,
    DEFAULT_SIP_DOMAIN,
    MIN_TTL_SECONDS,
    ConfigError,
    SandboxConfig,
    generate_api_key,
    parse_mount,
)
from .media_addresses import MEDIA_ADDRESSES_ENV, MediaAddressPolicy, default_policy
from .state import STATE_KEY, SandboxState

__all__ = ["ListenError", "build_config", "main", "make_parser", "ready_info", "serve", "write_ready_file"]

log = logging.getLogger("twochat_voice_web.sandbox")

DEFAULT_SITE = Path("dist/site")
"""Served at ``/`` when ``--site`` is not given and this directory exists (relative to the cwd)."""

_LOG_LEVELS = ("debug", "info", "warning", "error")


class ListenError(RuntimeError):
    """The server could not bind its address (port in use, address not local...)."""


def make_parser() -> argparse.ArgumentParser:
    """The argument parser of the sandbox command."""
    parser = argparse.ArgumentParser(
        prog="python -m twochat_voice_web.sandbox",
        description="Local 2Chat emulator: REST (mint, credentials), SIP over WebSocket, test numbers, "
        "and the demo site, on 127.0.0.1.",
    )
    parser.add_argument("--host", default=DEFAULT_HOST, help="bind address (default %(default)s; "
                        "anything else is reachable from other machines)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="TCP port, 0 = a free port "
                        "(default %(default)s)")
    parser.add_argument("--site", type=Path, default=None, help="directory served at / "
                        f"(default {DEFAULT_SITE} when it exists)")
    parser.add_argument("--mount", action="append", default=[], metavar="PREFIX=DIR",
                        help="also serve DIR under URL PREFIX (repeatable), e.g. /test=dist/test-assets")
    parser.add_argument("--api-key", default=None, help=f"account API key (default ${API_KEY_ENV} or "
                        "a random one)")
    parser.add_argument("--ready-file", type=Path, default=None, help="write JSON {url, ws_url, api_key, "
                        "pid, users} here once listening")
    parser.add_argument("--parent-pid", type=int, default=None, help="exit when this process is gone")
    parser.add_argument("--log-level", default="info", choices=_LOG_LEVELS, type=str.lower)
    parser.add_argument("--demo-token-ttl", type=int, default=3600, metavar="SECONDS",
                        help="lifetime of tokens minted by POST /demo/token (default %(default)s)")
    parser.add_argument("--min-token-ttl", type=int, default=None, metavar="SECONDS",
                        help=f"lower clamp of token lifetimes (2Chat: {MIN_TTL_SECONDS}; default "
                        f"{MIN_TTL_SECONDS}, or --demo-token-ttl when that is shorter)")
    parser.add_argument("--sip-domain", default=DEFAULT_SIP_DOMAIN, help="SIP domain and digest realm")
    parser.add_argument("--ice-servers", default=None, metavar="JSON",
                        help='ICE servers returned in the credentials, e.g. \'[{"urls": "stun:..."}]\' '
                        "(default: none, loopback needs none)")
    parser.add_argument("--media-addresses", default=None, choices=[p.value for p in MediaAddressPolicy],
                        help="where the test numbers' media may go: 'host' = this machine's addresses "
                        "(what a browser without test flags needs), 'loopback' = 127.0.0.1 only "
                        f"(default ${MEDIA_ADDRESSES_ENV}, else host)")
    parser.add_argument("--no-cache", action="store_true",
                        help="serve every static file with Cache-Control: no-cache")
    parser.add_argument("--secrets-file", type=Path, default=None, metavar="JSON",
                        help="keep the API key, token secret and users' SIP passwords in this file "
                        "(created, mode 0600, when missing), so that a restarted sandbox accepts the "
                        "tokens and passwords its clients hold, as a restarted 2Chat would")
    parser.add_argument("--test-hooks", action="store_true",
                        help="enable test-only endpoints (POST /sandbox/inject: raw SIP frames to a client)")
    return parser


def build_config(args: argparse.Namespace) -> SandboxConfig:
    """Turn parsed arguments into a :class:`SandboxConfig`; raise :class:`ConfigError` on bad values."""
    site: Path | None = args.site
    if site is None:
        site = DEFAULT_SITE if DEFAULT_SITE.is_dir() else None
    elif not site.is_dir():
        raise ConfigError(f"--site {str(site)!r} is not a directory")
    mounts = tuple(parse_mount(m) for m in args.mount)
    for mount in mounts:
        if not mount.directory.is_dir():
            raise ConfigError(f"--mount {mount.prefix}={mount.directory}: not a directory")
    ice_servers: tuple[dict[str, Any], ...] = ()
    if args.ice_servers:
        try:
            parsed = json.loads(args.ice_servers)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--ice-servers is not JSON: {exc}") from None
        if not isinstance(parsed, list) or not all(isinstance(s, dict) for s in parsed):
            raise ConfigError("--ice-servers must be a JSON list of objects")
        ice_servers = tuple(parsed)
    if args.parent_pid is not None and args.parent_pid <= 0:
        raise ConfigError(f"--parent-pid must be a positive process id, got {args.parent_pid}")
    min_ttl: int = args.min_token_ttl if args.min_token_ttl is not None else min(
        MIN_TTL_SECONDS, args.demo_token_ttl
    )
    api_key = args.api_key or os.environ.get(API_KEY_ENV, "").strip() or generate_api_key()
    kept: dict[str, Any] = {}
    if args.secrets_file is not None:
        saved = load_secrets(args.secrets_file, api_key=api_key)
        kept = {"jwt_secret": saved["jwt_secret"], "user_passwords": tuple(saved["passwords"])}
        api_key = args.api_key or saved["api_key"]
    try:
        media_addresses = (
            MediaAddressPolicy(args.media_addresses) if args.media_addresses else default_policy()
        )
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    return SandboxConfig(
        host=args.host,
        port=args.port,
        site_dir=site,
        mounts=mounts,
        api_key=api_key,
        sip_domain=args.sip_domain,
        ice_servers=ice_servers,
        media_addresses=media_addresses,
        min_ttl=min_ttl,
        demo_token_ttl=args.demo_token_ttl,
        static_no_cache=args.no_cache,
        ready_file=args.ready_file,
        parent_pid=args.parent_pid,
        log_level=args.log_level,
        test_hooks=args.test_hooks,
        **kept,
    )


SAVED_PASSWORDS = 8
"""How many SIP passwords a new secrets file holds (the ready-made users take theirs in order)."""


def load_secrets(path: Path, *, api_key: str) -> dict[str, Any]:
    """The secrets kept in ``path`` (``{"api_key", "jwt_secret", "passwords"}``); a missing file is created
    (mode 0600) with ``api_key`` and fresh others. Raise :class:`ConfigError` on an unusable file."""
    if not path.exists():
        fresh = {
            "api_key": api_key,
            "jwt_secret": secrets.token_urlsafe(48),
            "passwords": [secrets.token_urlsafe(18) for _ in range(SAVED_PASSWORDS)],
        }
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(fresh, handle)
        return fresh
    try:
        saved = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"--secrets-file {path}: {exc}") from None
    if not (
        isinstance(saved, dict)
        and isinstance(saved.get("api_key"), str)
        and isinstance(saved.get("jwt_secret"), str)
        and isinstance(saved.get("passwords"), list)
        and all(isinstance(p, str) and p for p in saved["passwords"])
    ):
        raise ConfigError(f"--secrets-file {path}: needs api_key, jwt_secret and passwords (strings)")
    return saved


def _url_host(host: str) -> str:
    """Host as it appears in a URL of a server bound to ``host`` (wildcards map to loopback)."""
    if host in ("", "0.0.0.0"):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def ready_info(state: SandboxState, host: str, port: int) -> dict[str, Any]:
    """The ready-file JSON object for a server listening on ``host:port``."""
    url = f"http://{_url_host(host)}:{port}"
    return {
        "url": url,
        "ws_url": state.ws_url_for(url),
        "api_key": state.config.api_key,
        "pid": os.getpid(),
        "host": host,
        "port": port,
        "sip_domain": state.sip_domain,
        "media_addresses": state.config.media_addresses.value,
        "users": [u.public_info() for u in state.users],
    }


def write_ready_file(path: Path, info: dict[str, Any]) -> None:
    """Write ``info`` as JSON to ``path`` atomically (temporary file in the same directory, then rename)."""
    directory = path.parent if str(path.parent) else Path(".")
    directory.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(info, handle, indent=2)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_name, 0o600)
        os.replace(tmp_name, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp_name)
        raise


_MEDIA_POLICY_TEXT = {
    MediaAddressPolicy.HOST: "this machine's addresses (--media-addresses host)",
    MediaAddressPolicy.LOOPBACK: "127.0.0.1 only (--media-addresses loopback; browsers need a test flag)",
}


def _print_banner(info: dict[str, Any], config: SandboxConfig, out: TextIO) -> None:
    lines = [
        f"2Chat sandbox listening on {info['url']}",
        f"  SIP over WebSocket: {info['ws_url']}  (domain {info['sip_domain']})",
        f"  API key (X-User-API-Key): {info['api_key']}",
        f"  test-number media: {_MEDIA_POLICY_TEXT[config.media_addresses]}",
        f"  site: {config.site_dir or '(none)'}"
        + "".join(f"  mount {m.prefix} -> {m.directory}" for m in config.mounts),
        "  users:",
    ]
    for user in info["users"]:
        numbers = ", ".join(f"{c['phone_number']} ({c['uuid']})" for c in user["caller_ids"])
        lines.append(f"    {user['name']:<6} {user['uuid']}  sip:{user['sip_username']}@{info['sip_domain']}"
                     f"  {user['display_name']!r}  caller IDs: {numbers}")
    lines.append("  Ctrl-C to stop.")
    print("\n".join(lines), file=out, flush=True)


def _warn_public_bind(host: str, out: TextIO) -> None:
    bar = "!" * 78
    print(
        f"{bar}\n"
        f"!! WARNING: the sandbox is bound to {host!r}, NOT to 127.0.0.1.\n"
        "!! Other machines can reach it: its API key, demo tokens and SIP accounts are not protected.\n"
        "!! It is a local test server; bind 127.0.0.1 unless you really mean this.\n"
        f"{bar}",
        file=out,
        flush=True,
    )


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _watch_parent(pid: int, interval: float, stop: asyncio.Event) -> None:
    started_under_it = os.getppid() == pid
    while not stop.is_set():
        gone = not _process_alive(pid) or (started_under_it and os.getppid() != pid)
        if gone:
            log.info("parent process %d is gone; stopping", pid)
            stop.set()
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), interval)


async def serve(config: SandboxConfig, *, out: TextIO = sys.stdout, err: TextIO = sys.stderr,
                stop: asyncio.Event | None = None) -> None:
    """Run the sandbox until ``stop`` is set, a stop signal arrives or the parent is gone."""
    stop_event = stop or asyncio.Event()
    loop = asyncio.get_running_loop()
    signals_seen = 0

    def on_signal() -> None:
        nonlocal signals_seen
        signals_seen += 1
        if signals_seen > 1:
            print("second stop signal: exiting now", file=err, flush=True)
            os._exit(130)
        stop_event.set()

    installed: list[signal.Signals] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(RuntimeError, ValueError):  # no signal handlers on this platform
            loop.add_signal_handler(sig, on_signal)
            installed.append(sig)

    app = create_app(config)
    state = app[STATE_KEY]
    runner = web.AppRunner(
        app,
        handle_signals=False,
        shutdown_timeout=config.shutdown_timeout,
        access_log=log if config.log_level == "debug" else None,
    )
    watcher: asyncio.Task[None] | None = None
    try:
        await runner.setup()
        site = web.TCPSite(runner, config.host, config.port)
        try:
            await site.start()
        except OSError as exc:
            raise ListenError(f"cannot listen on {config.host}:{config.port}: {exc}") from exc
        bound_port = int(runner.addresses[0][1]) if runner.addresses else config.port
        info = ready_info(state, config.host, bound_port)
        state.base_url = info["url"]
        if not config.is_loopback:
            _warn_public_bind(config.host, err)
        _print_banner(info, config, out)
        if config.ready_file is not None:
            write_ready_file(config.ready_file, info)
        if config.parent_pid is not None:
            watcher = asyncio.create_task(
                _watch_parent(config.parent_pid, config.parent_poll_interval, stop_event)
            )
        await stop_event.wait()
        log.info("stopping")
    finally:
        if watcher is not None:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        await runner.cleanup()
        if config.ready_file is not None:
            with contextlib.suppress(OSError):
                config.ready_file.unlink()
        for sig in installed:
            loop.remove_signal_handler(sig)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the sandbox, return the exit status."""
    parser = make_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=getattr(logging, args.log_level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        config = build_config(args)
    except ConfigError as exc:
        parser.error(str(exc))
    try:
        asyncio.run(serve(config))
    except ListenError as exc:
        print(f"sandbox: {exc}", file=sys.stderr, flush=True)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0
