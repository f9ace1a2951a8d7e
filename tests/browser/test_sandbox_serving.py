"""The sandbox serves the built site the way the browser needs it (MIME types, gzip twins, /test/)."""

from __future__ import annotations

import gzip
import urllib.request

import pytest

from browser.harness import BuiltSite, Sandbox


def fetch(url: str, *, gzip_ok: bool = False) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": "gzip" if gzip_ok else "identity"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return {key.lower(): value for key, value in response.headers.items()}, response.read()


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/pyodide/pyodide.mjs", "text/javascript"),
        ("/pyodide/pyodide.asm.mjs", "text/javascript"),
        ("/pyodide/pyodide.asm.wasm", "application/wasm"),
        ("/pyodide/pyodide-lock.json", "application/json"),
        ("/pyscript/core.js", "text/javascript"),
        ("/pyscript/core.css", "text/css"),
        ("/pyscript.json", "application/json"),
        ("/index.html", "text/html"),
        ("/click-to-call.html", "text/html"),
        ("/app/main.py", "text/"),
        ("/test/manifest.json", "application/json"),
        ("/test/vendor/jssip.min.js", "text/javascript"),
    ],
)
def test_content_types(sandbox: Sandbox, path: str, content_type: str) -> None:
    headers, body = fetch(sandbox.url + path)
    assert headers["content-type"].startswith(content_type), headers["content-type"]
    assert body


def test_wheels_are_served(sandbox: Sandbox, built_site: BuiltSite) -> None:
    for wheel in built_site.info["wheels"]:
        headers, body = fetch(f"{sandbox.url}/{wheel}")
        assert body[:2] == b"PK", wheel
        assert headers["content-type"] in ("application/zip", "application/octet-stream"), headers


def test_gzip_twin_is_served_to_browsers_that_accept_it(sandbox: Sandbox, built_site: BuiltSite) -> None:
    plain_headers, plain = fetch(sandbox.url + "/pyodide/pyodide.asm.wasm")
    packed_headers, packed = fetch(sandbox.url + "/pyodide/pyodide.asm.wasm", gzip_ok=True)
    assert "content-encoding" not in plain_headers
    assert packed_headers.get("content-encoding") == "gzip"
    assert packed_headers["content-type"] == "application/wasm"
    assert len(packed) < len(plain) / 2
    assert gzip.decompress(packed) == plain == (built_site.site / "pyodide" / "pyodide.asm.wasm").read_bytes()
