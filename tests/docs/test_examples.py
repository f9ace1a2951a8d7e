"""The code on the documentation pages is real code.

* Every ``python`` block of every user page parses (top-level ``await`` allowed: PyScript pages use it).
* The runnable SIP example (sip-core.md, ``two_user_agents.py``) runs and prints exactly the output shown
  under it.
* The aiohttp token endpoint of backend-token.md mints a token from a live in-process sandbox, refuses
  anonymous and unknown users, and never lets the API key reach the browser.
"""

from __future__ import annotations

import ast
import asyncio
import subprocess
import sys
import types
from pathlib import Path
from typing import Any

import jwt
import pytest
from docsite import DOCS_DIR, CodeBlock, all_code_blocks, code_blocks, titled_block


def python_blocks() -> list[CodeBlock]:
    """Every ``python`` block of every user page."""
    return [block for block in all_code_blocks() if block.language == "python"]


# ------------------------------------------------------------------------------------------ syntax


def test_the_pages_have_python_examples() -> None:
    pages = {block.page for block in python_blocks()}
    assert {"quickstart.md", "backend-token.md", "sip-core.md", "events.md", "errors.md"} <= pages


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.ident)
def test_every_python_block_parses(block: CodeBlock) -> None:
    try:
        compile(block.code, f"{block.page}:{block.line}", "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT,
                dont_inherit=True)
    except SyntaxError as exc:
        pytest.fail(f"{block.page}, block at line {block.line}: {exc}")


# ------------------------------------------------------------------------------------------ the SIP example


def test_the_sip_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    example = titled_block("sip-core.md", "two_user_agents.py")
    expected = titled_block("sip-core.md", "Output")
    script = tmp_path / "two_user_agents.py"
    script.write_text(example.code)
    completed = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, timeout=60, check=False, cwd=tmp_path
    )
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout == expected.code


# ---------------------------------------------------------------------------------------- the aiohttp backend

API_KEY = "sbx_docs_example_key_0123456789"


def load_aiohttp_example(monkeypatch: pytest.MonkeyPatch, base_url: str) -> types.ModuleType:
    """backend-token.md's aiohttp example as a module, configured for the sandbox at ``base_url``."""
    blocks = code_blocks(DOCS_DIR / "backend-token.md")
    (block,) = [b for b in blocks if b.language == "python" and "web.AppKey" in b.code]
    monkeypatch.setenv("TWOCHAT_API_KEY", API_KEY)
    monkeypatch.setenv("TWOCHAT_BASE_URL", base_url)
    module = types.ModuleType("docs_aiohttp_example")
    exec(compile(block.code, "backend-token.md (aiohttp)", "exec"), module.__dict__)
    return module


async def _exercise_example(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from aiohttp import ClientSession
    from aiohttp.test_utils import TestServer

    from twochat_voice_web.sandbox import STATE_KEY, SandboxConfig, create_app

    sandbox_app = create_app(SandboxConfig(port=0, api_key=API_KEY, plugins=()))
    sandbox = TestServer(sandbox_app, host="127.0.0.1")
    await sandbox.start_server()
    try:
        alice = sandbox_app[STATE_KEY].users.by_name("alice")
        assert alice is not None
        example = load_aiohttp_example(monkeypatch, str(sandbox.make_url("")).rstrip("/"))
        session_user: dict[str, str | None] = {"uuid": None}

        async def logged_in_user(request: object) -> str | None:
            return session_user["uuid"]

        example.__dict__["twochat_user_uuid"] = logged_in_user  # the page's "your authentication" hook
        backend = TestServer(example.make_app(), host="127.0.0.1")
        await backend.start_server()
        results: dict[str, Any] = {"alice": alice.uuid}
        try:
            async with ClientSession() as client:
                url = backend.make_url("/voice/token")
                async with client.post(url) as response:
                    results["anonymous"] = response.status
                session_user["uuid"] = "USR-no-such-user"
                async with client.post(url) as response:
                    results["unknown"] = response.status
                session_user["uuid"] = alice.uuid
                async with client.post(url) as response:
                    results["status"] = response.status
                    results["raw"] = await response.text()
                    results["body"] = await response.json()
        finally:
            await backend.close()
        return results
    finally:
        await sandbox.close()


def test_the_aiohttp_token_endpoint_works_against_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    results = asyncio.run(_exercise_example(monkeypatch))
    assert results["anonymous"] == 401
    assert results["unknown"] == 403
    assert results["status"] == 200, results.get("raw")
    body = results["body"]
    assert set(body) == {"token", "expires_at"}
    claims = jwt.decode(body["token"], options={"verify_signature": False})
    assert claims["sub"] == results["alice"]
    assert claims["label"] == "web"
    assert API_KEY not in results["raw"]
