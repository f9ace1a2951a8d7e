"""The fast start's Python bundle and how it is served (build.py, www/scripts/twochat-start.mjs).

Functional checks only (benchmarks measure the speed, bench/bench_startup.py): the trimmed standard library
holds every module the SDK needs for a real call, nothing in the page is imported from anywhere else, the
bytecode is this interpreter's, the precompiled regular expressions are what ``re.compile`` builds, and the
runtime files are served brotli- or gzip-compressed, as accepted, with long-lived caching.

The page is bench/pages/ours.html (the fast start as an integrator writes it), served by a sandbox of this
module that also mounts bench/ at ``/bench``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from browser.harness import REPO_ROOT, BuiltSite, PageGuard, SandboxProcess, load_build_module, start_sandbox

pytestmark = pytest.mark.timeout(300)

FAST_PAGE = "/bench/pages/ours.html?driver=0&sw=0&snapshot=0"
CALL_AND_LIST_MODULES = """
import asyncio, json, sys
call = await device.connect("+15550100")
accepted = asyncio.get_event_loop().create_future()
call.on("accepted", lambda *_: accepted.done() or accepted.set_result(True))
call.on("failed", lambda *args: accepted.done() or accepted.set_exception(RuntimeError(repr(args))))
await asyncio.wait_for(accepted, 30)
await call.disconnect()
device.destroy()
def origin(module):
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.origin in ("frozen", "built-in"):
        return None  # inside the interpreter itself
    return getattr(module, "__file__", None)
files = {name: origin(module) for name, module in list(sys.modules.items())}
json.dumps({"status": call.status, "files": files, "path": sys.path,
            "re_cache": getattr(sys.modules.get("_twochat_re_cache"), "TABLE", None) is not None})
"""


@pytest.fixture(scope="module")
def fast_sandbox(built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A sandbox serving the site at ``/`` and bench/ at ``/bench`` (the fast-start page)."""
    process = start_sandbox(
        site=built_site.site,
        run_dir=tmp_path_factory.mktemp("fast-sandbox"),
        mounts={"/bench": REPO_ROOT / "bench"},
    )
    yield process
    process.stop()


def open_fast_page(browser: Browser, url: str, guard: PageGuard) -> Page:
    """A new context on the fast-start page, registered (``window.benchState.ready``)."""
    context = browser.new_context(permissions=["microphone"])
    guard.attach_context(context)
    page = context.new_page()
    page.goto(url + FAST_PAGE)
    page.wait_for_function(
        "() => window.benchState && (window.benchState.ready || !!window.benchState.error)", timeout=120_000
    )
    state = page.evaluate("() => JSON.parse(JSON.stringify(window.benchState))")
    assert state["error"] is None, state["error"]
    return page


def bundle_info(built_site: BuiltSite) -> dict[str, Any]:
    """build-info.json's python_bundle."""
    info: dict[str, Any] = built_site.info["python_bundle"]
    return info


def test_build_info_names_the_bundle_and_its_files_exist(built_site: BuiltSite) -> None:
    bundle = bundle_info(built_site)
    for key in ("stdlib_url", "sdk_url"):
        path = built_site.site / bundle[key]
        assert path.is_file(), bundle[key]
        digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
        assert path.name.split("-")[-1].removesuffix(".zip") == digest
        for twin in (".br", ".gz"):
            assert path.with_name(path.name + twin).is_file(), path.name + twin
    assert bundle["sdk_path"].startswith("/lib/")
    assert built_site.info["pyodide_lock_info"]["python"] == bundle["python"]
    assert len(built_site.info["build_id"]) == 16


def test_the_stdlib_part_is_trimmed_bytecode_and_the_sdk_part_is_complete(built_site: BuiltSite) -> None:
    bundle = bundle_info(built_site)
    stdlib = zipfile.ZipFile(built_site.site / bundle["stdlib_url"])
    names = stdlib.namelist()
    assert all(info.compress_type == zipfile.ZIP_STORED for info in stdlib.infolist())  # brotli does better
    assert not [name for name in names if name.endswith(".py") and not name.startswith("_sysconfigdata")]
    full = zipfile.ZipFile(REPO_ROOT / "node_modules" / "pyodide" / "python_stdlib.zip")
    full_modules = {name for name in full.namelist() if name.endswith(".py")}
    assert len(names) < len(full_modules) * 0.5, "the standard library is not trimmed"
    for needed in ("asyncio/__init__.pyc", "json/__init__.pyc", "re/__init__.pyc", "hashlib.pyc",
                   "ipaddress.pyc", "sitecustomize.pyc", "encodings/idna.pyc"):
        assert needed in names, needed
    for left_out in ("unittest/__init__.pyc", "email/__init__.pyc", "urllib/request.pyc",
                     "tkinter/__init__.pyc", "multiprocessing/__init__.pyc", "pydoc.pyc",
                     # only random's self-test imports statistics (and statistics fractions)
                     "statistics.pyc", "fractions.pyc"):
        assert left_out not in names, left_out
    sdk = zipfile.ZipFile(built_site.site / bundle["sdk_url"])
    # what the server-side distribution (twochat-voice-web-sandbox) ships; the browser never imports it
    server_side = tuple(f"twochat_voice_web/{name}/" for name in ("sandbox", "server", "testing"))
    sdk_names = set(sdk.namelist())
    source = REPO_ROOT / "src" / "twochat_voice_web"
    for path in source.rglob("*.py"):
        relative = path.relative_to(source.parent).as_posix()
        if relative.startswith(server_side):
            assert relative[:-3] + ".pyc" not in sdk_names, relative  # the server-side distribution's
        else:
            assert relative[:-3] + ".pyc" in sdk_names, relative
    assert "_twochat_re_cache.pyc" in sdk_names
    assert not [name for name in sdk_names if name.startswith("jwt/")], "pyjwt is not needed in the browser"


def test_the_sdk_makes_a_call_with_nothing_but_the_bundle(
    browser: Browser, fast_sandbox: SandboxProcess, built_site: BuiltSite
) -> None:
    guard = PageGuard()
    page = open_fast_page(browser, fast_sandbox.info.url, guard)
    try:
        text = page.evaluate("(code) => window.pyodide.runPythonAsync(code)", CALL_AND_LIST_MODULES)
        result = json.loads(text)
    finally:
        page.context.close()
    assert guard.problems() == []
    assert result["status"] == "disconnected"
    bundle = bundle_info(built_site)
    allowed = (f"/lib/python{bundle['python'].replace('.', '')[:3]}.zip/", bundle["sdk_path"] + "/")
    elsewhere = {
        name: file for name, file in result["files"].items()
        if file is not None and not file.startswith(allowed) and not name.startswith("bench_")
    }
    assert elsewhere == {}, "modules imported from outside the bundle"
    sdk_modules = [name for name, file in result["files"].items() if name.startswith("twochat_voice_web")]
    assert "twochat_voice_web.browser._peer" in sdk_modules
    assert all(result["files"][name].startswith(bundle["sdk_path"]) for name in sdk_modules)
    assert "jwt" not in result["files"]
    assert result["re_cache"] is True


def test_precompiled_patterns_equal_what_re_compile_builds(
    browser: Browser, fast_sandbox: SandboxProcess
) -> None:
    guard = PageGuard()
    page = open_fast_page(browser, fast_sandbox.info.url, guard)
    try:
        checked = page.evaluate("""() => window.pyodide.runPython(`
import re, _twochat_re_cache
cached = dict(re._cache)
re.purge()
same = sum(cached[(str, p, f)] == re.compile(p, f) for p, f, *_ in _twochat_re_cache.TABLE)
f"{same}/{len(_twochat_re_cache.TABLE)}"
`)""")
    finally:
        page.context.close()
    same, total = map(int, checked.split("/"))
    assert total > 30 and same == total


def _get(url: str, accept_encoding: str) -> tuple[dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Accept-Encoding": accept_encoding})
    with urllib.request.urlopen(request, timeout=30) as response:
        return dict(response.headers), response.read()


@pytest.mark.parametrize("name", ["pyodide/pyodide.asm.wasm", "stdlib_url", "sdk_url"])
def test_runtime_files_are_served_precompressed_with_long_caching(
    browser: Browser, fast_sandbox: SandboxProcess, built_site: BuiltSite, name: str
) -> None:
    relative = bundle_info(built_site).get(name, name)
    original = (built_site.site / relative).read_bytes()
    url = f"{fast_sandbox.info.url}/{relative}"
    headers, body = _get(url, "gzip")
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == original
    assert "immutable" in headers["Cache-Control"] and "max-age=31536000" in headers["Cache-Control"]
    headers, body = _get(url, "br;q=1.0, gzip;q=0.5")
    assert headers["Content-Encoding"] == "br"
    assert body == (built_site.site / (relative + ".br")).read_bytes()
    headers, body = _get(url, "identity")
    assert "Content-Encoding" not in headers and body == original
    # Chromium asks for brotli on 127.0.0.1, gets it, and decodes it to the very same bytes.
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{fast_sandbox.info.url}/build-info.json")
        with page.expect_response(url) as response_info:
            digest = page.evaluate(
                """async (url) => {
                  const body = await (await fetch(url, {cache: "no-store"})).arrayBuffer();
                  const hash = await crypto.subtle.digest("SHA-256", body);
                  return Array.from(new Uint8Array(hash), (b) => b.toString(16).padStart(2, "0")).join("");
                }""",
                url,
            )
        assert response_info.value.headers["content-encoding"] == "br"
    finally:
        context.close()
    assert digest == hashlib.sha256(original).hexdigest()


def test_the_bundle_build_is_cached_and_reports_what_it_left_out(built_site: BuiltSite) -> None:
    build = load_build_module()
    with build.build_lock():  # other sessions may be building this tree
        wheel = next(Path(build.WHEELS).glob("twochat_voice_web-*.whl"))
        first = build.python_bundle([wheel])
        again = build.python_bundle([wheel])
    assert (first.stdlib, first.sdk) == (again.stdlib, again.sdk)
    report = first.report
    assert set(report["excluded_but_imported"]) <= {"twochat_voice_web.sandbox", "twochat_voice_web.server"}
    assert report["precompiled_patterns"] > 30
    assert report["precompile_import_failures"] == {}
    # Everything Pyodide imports while starting is in the bundle (aliases and frozen modules have no file).
    aliases = {"os.path", "collections.abc", "_frozen_importlib", "_frozen_importlib_external"}
    assert set(report["startup_modules"]) - set(report["modules"]) <= aliases


def test_the_service_worker_is_stamped_with_the_build_id(built_site: BuiltSite) -> None:
    """A new build changes sw.js, so that browsers install the worker again and copy the new runtime."""
    served = (built_site.site / "sw.js").read_text()
    source = (REPO_ROOT / "www" / "sw.js").read_text()
    assert served.startswith(source)
    assert served.rstrip().endswith(f"// build {built_site.info['build_id']}")
