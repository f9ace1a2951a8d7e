"""Fixtures for the sandbox tests: configs on free ports, in-process servers, a background-thread server.

No pytest-asyncio: async scenarios run under ``asyncio.run`` (see ``serve``).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from twochat_voice_web.sandbox import STATE_KEY, SandboxConfig, SandboxState, create_app

API_KEY = "sbx_test_key_0123456789"


class FakeClock:
    """A settable wall clock for token tests."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def site_dir(tmp_path: Path) -> Path:
    """A small built site, plus a secret file next to (outside) it for traversal tests."""
    site = tmp_path / "site"
    (site / "pyodide").mkdir(parents=True)
    (site / "pyscript").mkdir()
    (site / "wheels").mkdir()
    (site / "www").mkdir()
    (site / "empty").mkdir()
    (site / "index.html").write_text("<!doctype html><title>home</title>")
    (site / "www" / "index.html").write_text("<!doctype html><title>www</title>")
    (site / "pyscript.toml").write_text('packages = ["pyjwt"]\n')
    (site / "config.json").write_text('{"a": 1}')
    (site / "app.js").write_text("console.log('plain');\n")
    (site / "app.js.gz").write_bytes(b"GZ-VARIANT")
    (site / "app.js.br").write_bytes(b"BR-VARIANT")
    (site / "style.css").write_text("body{}\n")
    (site / "only-gz.mjs").write_text("export const x = 1;\n")
    (site / "only-gz.mjs.gz").write_bytes(b"GZ-ONLY")
    (site / "logo.svg").write_text("<svg xmlns='http://www.w3.org/2000/svg'/>")
    (site / "ring.wav").write_bytes(b"RIFF....WAVE")
    (site / "ring.mp3").write_bytes(b"ID3")
    (site / "pyodide" / "pyodide.mjs").write_text("export const loadPyodide = 1;\n")
    (site / "pyodide" / "pyodide.asm.wasm").write_bytes(b"\0asm\1\0\0\0")
    (site / "pyodide" / "pyodide-lock.json").write_text("{}")
    (site / "pyscript" / "core.js").write_text("export {};\n")
    (site / "wheels" / "PyJWT-2.15.1-py3-none-any.whl").write_bytes(b"PK\3\4")
    (site / "wheels" / "latest.whl").write_bytes(b"PK\3\4")
    (tmp_path / "secret.txt").write_text("TOP SECRET")
    return site


@pytest.fixture
def mount_dir(tmp_path: Path) -> Path:
    assets = tmp_path / "test-assets"
    (assets / "pages").mkdir(parents=True)
    (assets / "pages" / "index.html").write_text("<title>test pages</title>")
    (assets / "vendor").mkdir()
    (assets / "vendor" / "jssip.min.js").write_text("var JsSIP = {};\n")
    return assets


@pytest.fixture
def make_config(clock: FakeClock) -> Callable[..., SandboxConfig]:
    """Factory of configs: free port, fixed API key, the fake clock, no plugins (unless overridden)."""

    def factory(**overrides: Any) -> SandboxConfig:
        values: dict[str, Any] = {"port": 0, "api_key": API_KEY, "plugins": (), "clock": clock}
        values.update(overrides)
        return SandboxConfig(**values)

    return factory


Scenario = Callable[[TestClient[web.Request, web.Application], SandboxState], Awaitable[None]]


@pytest.fixture
def serve() -> Callable[..., None]:
    """Run ``scenario(client, state)`` against an in-process sandbox on 127.0.0.1 (port 0)."""

    def runner(config: SandboxConfig, scenario: Scenario, *, state: SandboxState | None = None) -> None:
        async def main() -> None:
            app = create_app(config, state=state)
            server = TestServer(app, host="127.0.0.1", port=0)
            async with TestClient(server) as client:
                await scenario(client, app[STATE_KEY])

        asyncio.run(asyncio.wait_for(main(), 60))

    return runner


@dataclass
class ThreadedSandbox:
    """A sandbox app served from a background thread (for blocking clients such as urllib)."""

    url: str
    state: SandboxState


@pytest.fixture
def threaded_app() -> Iterator[Callable[[web.Application], str]]:
    """Start any aiohttp app in a background event loop; returns its base URL. Stopped at teardown."""
    stops: list[Callable[[], None]] = []

    def start(app: web.Application) -> str:
        ready = threading.Event()
        box: dict[str, Any] = {}

        def thread_main() -> None:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            runner = web.AppRunner(app, shutdown_timeout=1.0)
            loop.run_until_complete(runner.setup())
            site = web.TCPSite(runner, "127.0.0.1", 0)
            loop.run_until_complete(site.start())
            box["url"] = f"http://127.0.0.1:{runner.addresses[0][1]}"
            box["loop"] = loop
            ready.set()
            loop.run_forever()
            loop.run_until_complete(runner.cleanup())
            loop.close()

        thread = threading.Thread(target=thread_main, daemon=True)
        thread.start()
        assert ready.wait(30), "background server did not start"
        loop: asyncio.AbstractEventLoop = box["loop"]

        def stop() -> None:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(30)

        stops.append(stop)
        return str(box["url"])

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def threaded_sandbox(
    threaded_app: Callable[[web.Application], str], make_config: Callable[..., SandboxConfig]
) -> Callable[..., ThreadedSandbox]:
    """Start a real-clock sandbox in a background thread: ``threaded_sandbox(**config_overrides)``."""

    def start(**overrides: Any) -> ThreadedSandbox:
        import time

        overrides.setdefault("clock", time.time)
        app = create_app(make_config(**overrides))
        url = threaded_app(app)
        state = app[STATE_KEY]
        state.base_url = url
        return ThreadedSandbox(url=url, state=state)

    return start
