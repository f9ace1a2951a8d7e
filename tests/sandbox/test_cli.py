"""The sandbox as a real subprocess: ready file, banner, default bind, signals, --parent-pid, bad options."""

from __future__ import annotations

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from twochat_voice_web.sandbox.cli import _warn_public_bind, build_config, make_parser, write_ready_file
from twochat_voice_web.sandbox.config import API_KEY_ENV, ConfigError, is_loopback_host

START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0


def sandbox_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class Sandbox:
    """A sandbox subprocess started on port 0 with a ready file."""

    def __init__(
        self, tmp_path: Path, *args: str, env: dict[str, str] | None = None, parent_pid: int | None = None
    ) -> None:
        self.ready_file = tmp_path / "run" / "ready.json"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "twochat_voice_web.sandbox", "--port", "0",
             "--ready-file", str(self.ready_file), "--parent-pid", str(parent_pid or os.getpid()), *args],
            cwd=tmp_path,
            env=env or sandbox_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.ready = self._wait_ready()

    def _wait_ready(self) -> dict[str, Any]:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out, err = self.proc.communicate()
                raise AssertionError(f"sandbox exited early ({self.proc.returncode}):\n{out}\n{err}")
            if self.ready_file.exists():
                return dict(json.loads(self.ready_file.read_text()))
            time.sleep(0.05)
        raise AssertionError("sandbox did not become ready")

    def stop(self, sig: int = signal.SIGTERM) -> tuple[int, str, str]:
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        out, err = self.proc.communicate(timeout=STOP_TIMEOUT)
        return self.proc.returncode, out, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate(timeout=STOP_TIMEOUT)


@pytest.fixture
def sandboxes() -> Iterator[list[Sandbox]]:
    started: list[Sandbox] = []
    yield started
    for sandbox in started:
        sandbox.kill()


def http_get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(request, timeout=30) as response:
        return response.status, dict(response.headers), response.read()


def listening_addresses(port: int) -> set[str]:
    """Local addresses listening on ``port`` according to /proc/net/tcp{,6} (hex, kernel byte order)."""
    found: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local, state = fields[1], fields[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:
                found.add(address)
    return found


def test_ready_file_banner_default_bind_and_sigterm(tmp_path, sandboxes, site_dir, mount_dir):
    sandbox = Sandbox(tmp_path, "--site", str(site_dir), "--mount", f"/test={mount_dir}",
                      env=sandbox_env(**{API_KEY_ENV: "env-key-123"}))
    sandboxes.append(sandbox)
    ready = sandbox.ready
    assert set(ready) >= {"url", "ws_url", "api_key", "pid", "users"}
    assert ready["pid"] == sandbox.proc.pid
    assert ready["api_key"] == "env-key-123"
    assert ready["host"] == "127.0.0.1"
    port = ready["port"]
    assert port > 0
    assert ready["url"] == f"http://127.0.0.1:{port}"
    assert ready["ws_url"] == f"ws://127.0.0.1:{port}/sip"
    assert [u["name"] for u in ready["users"]] == ["alice", "bob"]
    for user in ready["users"]:
        assert set(user) == {"name", "uuid", "sip_username", "display_name", "caller_ids"}
        assert user["uuid"].startswith("USR")
        assert all(c["uuid"].startswith("VCI") and c["phone_number"].startswith("+1555")
                   for c in user["caller_ids"])
    # Written atomically: no temporary file left next to it; private permissions.
    assert sorted(p.name for p in sandbox.ready_file.parent.iterdir()) == ["ready.json"]
    assert sandbox.ready_file.stat().st_mode & 0o077 == 0
    # Bound to loopback only (127.0.0.1 is 0100007F in /proc/net/tcp).
    assert listening_addresses(port) == {"0100007F"}
    # Serves the site, the mount and the API.
    status, headers, body = http_get(ready["url"] + "/")
    assert status == 200
    assert b"home" in body
    assert headers["Content-Type"].startswith("text/html")
    assert http_get(ready["url"] + "/test/vendor/jssip.min.js")[0] == 200
    status, _, body = http_get(ready["url"] + "/demo/users")
    assert json.loads(body)["users"][0]["name"] == "alice"

    code, out, err = sandbox.stop(signal.SIGTERM)
    assert code == 0, err
    assert ready["url"] in out
    assert "env-key-123" in out
    assert "USR5a1d0c3e9b7f4a2e8c6d1f0a" in out
    assert "alice" in out
    assert "bob" in out
    assert "WARNING" not in out + err
    assert not sandbox.ready_file.exists()


def test_sigint_stops_cleanly_and_generated_key(tmp_path, sandboxes):
    sandbox = Sandbox(tmp_path)
    sandboxes.append(sandbox)
    key = sandbox.ready["api_key"]
    assert key.startswith("sbx_")
    assert len(key) >= 40
    # No site given and no dist/site in the cwd: the API still works, / is 404.
    with pytest.raises(urllib.error.HTTPError) as info:
        http_get(sandbox.ready["url"] + "/")
    assert info.value.code == 404
    info.value.close()
    code, out, _err = sandbox.stop(signal.SIGINT)
    assert code == 0
    assert key in out


def test_exits_when_parent_is_gone(tmp_path, sandboxes):
    parent = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        sandbox = Sandbox(tmp_path, parent_pid=parent.pid)
        sandboxes.append(sandbox)
        assert sandbox.proc.poll() is None
    finally:
        parent.kill()
        parent.wait(timeout=STOP_TIMEOUT)  # reaped: the pid no longer exists
    code = sandbox.proc.wait(timeout=STOP_TIMEOUT)
    sandbox.proc.communicate(timeout=STOP_TIMEOUT)
    assert code == 0
    assert not sandbox.ready_file.exists()


def test_port_in_use_fails_with_message(tmp_path):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = subprocess.run(
            [sys.executable, "-m", "twochat_voice_web.sandbox", "--port", str(port)],
            check=False, cwd=tmp_path, env=sandbox_env(), capture_output=True, text=True, timeout=120,
        )
    assert proc.returncode == 1
    assert "cannot listen" in proc.stderr


@pytest.mark.parametrize("args", [
    ["--mount", "nonsense"],
    ["--mount", "/x=/definitely/not/here"],
    ["--site", "/definitely/not/here"],
    ["--ice-servers", "{bad json"],
    ["--ice-servers", '{"urls": "stun:x"}'],
    ["--parent-pid", "0"],
    ["--port", "99999"],
    ["--log-level", "loud"],
])
def test_bad_options_exit_2(tmp_path, args):
    proc = subprocess.run(
        [sys.executable, "-m", "twochat_voice_web.sandbox", "--port", "0", *args],
        check=False, cwd=tmp_path, env=sandbox_env(), capture_output=True, text=True, timeout=120,
    )
    assert proc.returncode == 2
    assert "error:" in proc.stderr


def test_build_config_defaults_and_ttl_knobs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    config = build_config(make_parser().parse_args([]))
    assert config.host == "127.0.0.1"
    assert config.port == 8765
    assert config.site_dir is None
    assert config.min_ttl == 60
    assert config.demo_token_ttl == 3600
    (tmp_path / "dist" / "site").mkdir(parents=True)
    short = build_config(make_parser().parse_args(["--demo-token-ttl", "10"]))
    assert short.site_dir == Path("dist/site")
    assert (short.min_ttl, short.demo_token_ttl) == (10, 10)
    explicit = build_config(make_parser().parse_args(["--demo-token-ttl", "10", "--min-token-ttl", "60"]))
    assert explicit.min_ttl == 60
    ice = build_config(make_parser().parse_args(["--ice-servers", '[{"urls": "stun:127.0.0.1:3478"}]']))
    assert ice.ice_servers == ({"urls": "stun:127.0.0.1:3478"},)
    monkeypatch.setenv(API_KEY_ENV, "from-env")
    assert build_config(make_parser().parse_args([])).api_key == "from-env"
    assert build_config(make_parser().parse_args(["--api-key", "from-arg"])).api_key == "from-arg"
    with pytest.raises(ConfigError):
        build_config(make_parser().parse_args(["--mount", "/t=missing-dir"]))


def test_a_secrets_file_keeps_the_key_the_token_secret_and_the_passwords_across_starts(tmp_path, monkeypatch):
    from twochat_voice_web.sandbox.state import SandboxState

    monkeypatch.delenv(API_KEY_ENV, raising=False)
    path = tmp_path / "secrets.json"
    first = build_config(make_parser().parse_args(["--secrets-file", str(path)]))
    assert path.stat().st_mode & 0o777 == 0o600
    saved = json.loads(path.read_text())
    assert (first.api_key, first.jwt_secret) == (saved["api_key"], saved["jwt_secret"])
    users = SandboxState.create(first).users.all
    assert [u.sip_password for u in users] == saved["passwords"][: len(users)]
    # A restart with the same file: the same secrets, so tokens and digest passwords still verify.
    again = build_config(make_parser().parse_args(["--secrets-file", str(path)]))
    assert (again.api_key, again.jwt_secret, again.user_passwords) == (
        first.api_key, first.jwt_secret, first.user_passwords,
    )
    # Without the file every start makes new ones.
    fresh = build_config(make_parser().parse_args([]))
    assert fresh.jwt_secret != first.jwt_secret and fresh.user_passwords == ()
    fresh_users = SandboxState.create(fresh).users.all
    assert [u.sip_password for u in fresh_users] != saved["passwords"][: len(users)]
    (tmp_path / "broken.json").write_text('{"api_key": "k"}')
    with pytest.raises(ConfigError, match="secrets-file"):
        build_config(make_parser().parse_args(["--secrets-file", str(tmp_path / "broken.json")]))


def test_loopback_detection_and_public_bind_warning():
    for host in ("127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost", "LOCALHOST"):
        assert is_loopback_host(host), host
    for host in ("0.0.0.0", "::", "192.168.1.10", "example.test", ""):
        assert not is_loopback_host(host), host
    out = io.StringIO()
    _warn_public_bind("0.0.0.0", out)
    assert "WARNING" in out.getvalue()
    assert "0.0.0.0" in out.getvalue()


def test_write_ready_file_replaces_atomically(tmp_path):
    target = tmp_path / "nested" / "ready.json"
    write_ready_file(target, {"url": "a"})
    write_ready_file(target, {"url": "b"})
    assert json.loads(target.read_text()) == {"url": "b"}
    assert [p.name for p in target.parent.iterdir()] == ["ready.json"]
