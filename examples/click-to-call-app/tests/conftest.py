"""The app's test set-up: the sandbox (twochat_voice_web.testing's fixtures), our page mounted on it, our
backend on a free port, and Chromium launched with the plugin's flags."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server

APP_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(APP_DIR))

from backend import create_app  # noqa: E402


@pytest.fixture(scope="session")
def browser_type_launch_args(
    browser_type_launch_args: dict[str, Any],
    twochat_chromium_args: list[str],
    twochat_chromium_executable: str | None,
) -> dict[str, Any]:
    """pytest-playwright's launch arguments with the sandbox's Chromium flags."""
    return {
        **browser_type_launch_args,
        "args": twochat_chromium_args,
        "executable_path": twochat_chromium_executable,
    }


@pytest.fixture(scope="session")
def backend_url(twochat_sandbox: Any) -> Iterator[str]:
    """Our Flask backend on 127.0.0.1, minting tokens for alice against the sandbox."""
    app = create_app(
        api_key=twochat_sandbox.api_key,
        user_uuid=twochat_sandbox.user("alice").uuid,
        api_base_url=twochat_sandbox.url,
        allowed_origin=twochat_sandbox.url,
    )
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(10)


@pytest.fixture(scope="session")
def app_url(twochat_sandbox: Any) -> str:
    """Our static page, served by the sandbox beside the Python runtime."""
    return twochat_sandbox.mount("/click-to-call", APP_DIR / "static")


@pytest.fixture(autouse=True)
def _clean(twochat_clean: Any) -> None:
    """Every test starts without calls and with an empty event log."""
