"""The pytest plugin twochat_voice_web.testing against the session's real sandbox (no browser here; the
browser side is driven by tests/browser and the click-to-call example)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from browser.harness import REPO_ROOT
from twochat_voice_web.testing import (
    MountError,
    PortInUseError,
    RuntimeMissingError,
    TwoChatSandboxError,
    UnknownUserError,
    find_site,
    start_sandbox,
)

FIXTURES = ("twochat_sandbox", "twochat_clean", "twochat_chromium_args", "twochat_chromium_executable",
            "twochat_page")


@pytest.fixture
def kit(sandbox, twochat_clean):  # sandbox: the site is built and /test is mounted first
    return twochat_clean


def test_the_attributes_describe_the_running_sandbox(kit):
    assert kit.url.startswith("http://127.0.0.1:") and kit.runtime_url == kit.url + "/"
    assert kit.ws_url.startswith("ws://127.0.0.1:") and kit.ws_url.endswith("/sip")
    alice = kit.user("alice")
    assert alice.sip_uri == f"sip:{alice.sip_username}@{kit.sip_domain}"
    assert alice.caller_ids and alice.uuid.startswith("USR")
    with urllib.request.urlopen(kit.runtime_url + "build-info.json", timeout=10) as response:
        assert json.loads(response.read())["sdk_version"]


def test_mint_token_goes_through_the_rest_api_and_names_unknown_users(kit):
    token = kit.mint_token("bob", ttl=120, label="kit")
    assert token.count(".") == 2
    minted = kit.wait_for_event("token_minted", user_uuid=kit.user("bob").uuid)
    assert (minted["ttl"], minted["label"]) == (120, "kit")
    with pytest.raises(UnknownUserError, match=r"no sandbox user 'mallory' \(known: alice, bob"):
        kit.mint_token("mallory")
    with pytest.raises(UnknownUserError):
        kit.call_user("mallory")
    with pytest.raises(UnknownUserError):
        kit.drop("mallory")


def test_mount_serves_a_directory_beside_the_runtime_and_refuses_clashes(kit, tmp_path):
    (tmp_path / "index.html").write_text("<p>mine</p>")
    url = kit.mount("/mine", tmp_path)
    assert url == kit.url + "/mine/"
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.read() == b"<p>mine</p>"
    assert kit.mount("/mine", tmp_path) == url  # the same again: no-op
    for taken in ("/sandbox", "/sdk/x", "/pyodide", "/demo"):
        with pytest.raises(MountError, match="clashes with"):
            kit.mount(taken, tmp_path)
    with pytest.raises(MountError, match="already mounted"):
        kit.mount("/test", tmp_path)  # tests/conftest.py mounted dist/test-assets there
    with pytest.raises(MountError, match="not a directory"):
        kit.mount("/other", tmp_path / "missing")
    with pytest.raises(MountError, match="plain URL path"):
        kit.mount("/a/../b", tmp_path)


def test_calls_events_and_reset(kit):
    with pytest.raises(TwoChatSandboxError, match="no SIP registration"):
        kit.call_user("alice")
    assert kit.calls() == [] and isinstance(kit.registrations(), list)
    with pytest.raises(TimeoutError, match=r"no 'dtmf' event with digit='9' within 0.2 s"):
        kit.wait_for_event("dtmf", timeout=0.2, digit="9")
    kit.mint_token()
    assert [event["kind"] for event in kit.events()] == ["token_minted"]
    kit.reset()
    assert kit.events() == []


def test_a_taken_port_and_a_missing_runtime_are_clear_errors(tmp_path, built_site):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(PortInUseError, match=f"port {port} is already in use.*--twochat-port=0"):
            start_sandbox(built_site.site, tmp_path / "run", port=port)
    with pytest.raises(RuntimeMissingError, match=r"python3 build\.py.*--twochat-site"):
        find_site(tmp_path)
    with pytest.raises(RuntimeMissingError, match="TWOCHAT_SITE"):
        find_site(start=tmp_path)


def test_pytest_fixtures_lists_every_fixture_with_its_docstring(tmp_path):
    (tmp_path / "test_nothing.py").write_text("def test_nothing():\n    pass\n")
    listed = subprocess.run(
        [sys.executable, "-m", "pytest", "--fixtures", "-p", "no:cacheprovider", str(tmp_path)],
        capture_output=True, text=True, check=False, cwd=tmp_path, timeout=120,
    )
    assert listed.returncode == 0, listed.stdout + listed.stderr
    for name in FIXTURES:
        assert f"{name} " in listed.stdout or f"{name}\n" in listed.stdout, name
    assert "A fresh 2Chat sandbox for the session" in listed.stdout
    helped = subprocess.run([sys.executable, "-m", "pytest", "--help"], capture_output=True, text=True,
                            check=False, cwd=tmp_path, timeout=120)
    assert "--twochat-port=PORT" in helped.stdout and "--twochat-keep-logs" in helped.stdout


def test_the_plugin_is_one_copy_of_the_chromium_flags():
    import browser.chromium
    from twochat_voice_web.testing import chromium

    assert browser.chromium.CHROMIUM_ARGS is chromium.CHROMIUM_ARGS
    copies = [
        path.relative_to(REPO_ROOT).as_posix()
        for path in (REPO_ROOT / "tests").rglob("*.py")
        if path.name != Path(__file__).name and "--use-fake-device-for-media-stream" in path.read_text()
    ]
    assert copies == []


def test_the_mount_endpoint_wants_the_api_key(kit, tmp_path):
    request = urllib.request.Request(
        kit.url + "/sandbox/mounts", method="POST", headers={"Content-Type": "application/json"},
        data=json.dumps({"prefix": "/nokey", "directory": str(tmp_path)}).encode(),
    )
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 401
    with urllib.request.urlopen(kit.url + "/sandbox/mounts", timeout=10) as response:
        listed = json.loads(response.read())
    assert {"sandbox", "sdk", "pyodide"} <= set(listed["reserved"])
    prefixes = [mount["prefix"] for mount in listed["mounts"]]
    assert "/test" in prefixes and "/nokey" not in prefixes
