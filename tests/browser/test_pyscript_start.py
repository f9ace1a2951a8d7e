"""PyScript pages on the fast start: ``<script type="py">`` with the site's config gets the Python bundle.

The config that build.py writes (dist/site/pyscript.json) names www/scripts/twochat-pyodide.mjs as PyScript's
``interpreter``: PyScript then starts Pyodide through it, from the bytecode bundle (never
python_stdlib.zip or a wheel), with the memory snapshot of a returning visitor, and with PyScript's own
package precompiled. Checked here, functionally (bench/bench_startup.py measures the speed):

- the demo pages (index.html, click-to-call.html) load the bundle and nothing of the standard road;
- a page in a sub-folder naming the config by its absolute path starts, registers, and imports every
  module from the bundle's zips (nothing compiled from source, ``pyscript`` included);
- PyScript's standard-library step (the source it runs before each script, writing its package into the
  working directory) runs as ``import pyscript`` from the bytecode package, and only the exact text that
  the served PyScript runs: the same package's files, as PyScript would write them;
- its second visit (Chromium restarted on the same profile) starts from the memory snapshot;
- the quickstart's page, with exactly the files docs/quickstart.md says to copy, works on a site of its own.
"""

from __future__ import annotations

import contextlib
import json
import re
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, Playwright, Response

from browser.harness import REPO_ROOT, BuiltSite, PageGuard, SandboxProcess, load_build_module, start_sandbox

pytestmark = pytest.mark.timeout(300)

QUICKSTART = REPO_ROOT / "docs" / "quickstart.md"

# A page as a new user writes one in a folder of their site: PyScript from the site's root, the site's
# config by its absolute path. It reports where each imported module came from.
SUB_FOLDER_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>SDK in a sub-folder</title>
<link rel="icon" href="data:,">
<script>
  window.snapshotSaved = null;
  addEventListener("py:ready", () => {
    window.twochatStart.snapshotSaved.then((saved) => { window.snapshotSaved = saved; });
  });
</script>
<script type="module" src="/pyscript/core.js"></script>
</head>
<body>
<p id="status">Loading…</p>
<script type="py" async config="/pyscript.json">
import json
import os
import sys

import js
from pyodide.http import pyfetch
from pyscript import document

from twochat_voice_web import Device

response = await pyfetch("/demo/token", method="POST", headers={"Content-Type": "application/json"},
                         body=json.dumps({"user": "alice"}))
device = Device((await response.json())["token"], api_base_url=str(js.location.origin))
await device.register()


def origin(module):
    spec = getattr(module, "__spec__", None)
    if spec is not None and spec.origin in ("frozen", "built-in"):
        return None
    return getattr(module, "__file__", None)


js.window.report = json.dumps({
    "identity": device.identity,
    "wrote_pyscript_sources": os.path.isdir("pyscript"),
    "files": {name: origin(module) for name, module in list(sys.modules.items())},
})
document.getElementById("status").textContent = "registered"
</script>
</body>
</html>
"""


def loaded_files(page: Page) -> list[str]:
    """The paths of every file the page fetched (Resource Timing)."""
    names: list[str] = page.evaluate(
        "() => performance.getEntriesByType('resource').map((entry) => new URL(entry.name).pathname)"
    )
    return names


def assert_fast_path(page: Page, built_site: BuiltSite) -> None:
    """The page started Python from the bundle: its files were fetched, nothing of the standard road was."""
    bundle = built_site.info["python_bundle"]
    files = loaded_files(page)
    for key in ("stdlib_url", "sdk_url", "pyscript_url"):
        assert "/" + bundle[key] in files, (key, files)
    assert not [f for f in files if f.endswith(("python_stdlib.zip", "pyodide-lock.json", ".whl"))], files
    started = page.evaluate("() => window.twochatStart && {snapshot: window.twochatStart.snapshot}")
    assert started is not None and started["snapshot"] in ("made", "restored"), started


@pytest.fixture(scope="module")
def holdout_sandbox(
    built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[SandboxProcess]:
    """A sandbox serving the site at ``/`` and a folder with one page at ``/holdout/sdk.html``."""
    folder = tmp_path_factory.mktemp("holdout")
    (folder / "sdk.html").write_text(SUB_FOLDER_PAGE)
    process = start_sandbox(
        site=built_site.site, run_dir=tmp_path_factory.mktemp("holdout-sandbox"), mounts={"/holdout": folder}
    )
    yield process
    process.stop()


def open_guarded(browser: Browser, url: str, guard: PageGuard) -> tuple[Page, list[Response]]:
    """A new guarded context's page at ``url``; the responses it gets are collected."""
    context = browser.new_context(permissions=["microphone"])
    guard.attach_context(context)
    page = context.new_page()
    responses: list[Response] = []

    def collect(response: Response) -> None:
        responses.append(response)

    page.on("response", collect)
    page.goto(url)
    return page, responses


@contextlib.contextmanager
def sub_folder_page(browser: Browser, sandbox: SandboxProcess) -> Iterator[tuple[Page, list[Response]]]:
    """The sub-folder page in a new guarded context (and the responses it got); closed afterwards, and
    the page must not have misbehaved."""
    guard = PageGuard()
    page, responses = open_guarded(browser, f"{sandbox.info.url}/holdout/sdk.html", guard)
    try:
        yield page, responses
    finally:
        page.context.close()
    assert guard.problems() == [], guard.report(guard.problems())


def sub_folder_report(page: Page) -> dict[str, Any]:
    """What the sub-folder page reported once registered."""
    page.wait_for_function("() => typeof window.report === 'string'", timeout=120_000)
    report: dict[str, Any] = json.loads(page.evaluate("() => window.report"))
    return report


def test_the_demo_page_starts_from_the_bundle(sdk_page: Page, built_site: BuiltSite) -> None:
    assert_fast_path(sdk_page, built_site)
    python_step = sdk_page.evaluate("() => window.twochat.steps.python.detail")
    assert "SDK bundle" in python_step


def test_click_to_call_starts_from_the_bundle(open_sdk_page: Any, built_site: BuiltSite) -> None:
    page = open_sdk_page("/click-to-call.html")
    assert_fast_path(page, built_site)
    assert page.locator("#call").is_enabled()


def test_a_page_in_a_sub_folder_with_the_absolute_config_registers_from_the_bundle(
    browser: Browser, holdout_sandbox: SandboxProcess, built_site: BuiltSite
) -> None:
    with sub_folder_page(browser, holdout_sandbox) as (page, responses):
        report = sub_folder_report(page)
        assert_fast_path(page, built_site)
        assert page.text_content("#status") == "registered"
    assert [r.url for r in responses if r.status >= 400] == []
    assert report["identity"]
    bundle = built_site.info["python_bundle"]
    zips = (f"/lib/python{bundle['python'].replace('.', '')[:3]}.zip/", bundle["sdk_path"] + "/",
            bundle["pyscript_path"] + "/")
    elsewhere = {name: file for name, file in report["files"].items() if file and not file.startswith(zips)}
    assert elsewhere == {}, "modules compiled from source instead of coming from the bundle"
    # PyScript's standard-library step ran as an import of the bytecode package: no source written.
    assert report["files"]["pyscript"].startswith(bundle["pyscript_path"] + "/pyscript/")
    assert report["wrote_pyscript_sources"] is False
    assert report["files"]["twochat_voice_web"].startswith(bundle["sdk_path"] + "/")


# In the sub-folder page once it is up: PyScript's step as the served core.js exports it, run through the
# interpreter that PyScript got, once as it is (recognised: nothing written) and once with one character
# changed (another PyScript's step: it runs as written, and writes PyScript's files).
STDLIB_STEP_JS = """async () => {
  const { stdlib } = await import("/pyscript/core.js");
  const { loadPyodide } = await import("/scripts/twochat-pyodide.mjs");
  const pyodide = await loadPyodide();
  const check = "\\nimport os\\nos.path.isdir('pyscript')";
  const before = window.twochatStart.pyscriptSteps.bytecode;
  const same = pyodide.runPython(stdlib + check);
  const counted = window.twochatStart.pyscriptSteps.bytecode - before;
  const other = pyodide.runPython(stdlib.replace("_path = None", "_path = None  ") + check);
  return { stdlib, same, counted, other, total: window.twochatStart.pyscriptSteps.bytecode };
}"""


def written_files(step: str) -> dict[str, str]:
    """The files PyScript's standard-library step writes (``_path = _Path(...)`` then ``write_text``)."""
    pattern = re.compile(
        r'^_path = _Path\("\./([^"]+)"\)\n_path\.write_text\((".*?"),encoding="utf-8"\)$', re.M
    )
    return {name: json.loads(literal) for name, literal in pattern.findall(step)}


def test_pyscripts_standard_library_step_runs_from_the_bytecode_package_only_when_it_is_the_same(
    browser: Browser, holdout_sandbox: SandboxProcess, built_site: BuiltSite
) -> None:
    with sub_folder_page(browser, holdout_sandbox) as (page, _responses):
        sub_folder_report(page)
        result = page.evaluate(STDLIB_STEP_JS)
    assert result["total"] == 2  # the page's own script, then the step run here
    assert (result["counted"], result["same"]) == (1, False)  # recognised: nothing written
    assert result["other"] is True  # not PyScript's step: run as written
    # What the served PyScript runs is what build.py read from @pyscript/core; the files it would write are
    # the sources build.py compiled, and the served bytecode package holds exactly those modules.
    build = load_build_module()
    assert result["stdlib"] == build.pyscript_stdlib_step()
    written = written_files(result["stdlib"])
    assert "pyscript/__init__.py" in written and len(written) > 5, sorted(written)
    assert {name: data.decode() for name, data in build.pyscript_package_files().items()} == written
    served = built_site.site / built_site.info["python_bundle"]["pyscript_url"]
    with zipfile.ZipFile(served) as archive:
        compiled = {
            name.removesuffix("c") for name in archive.namelist()
            if name.startswith("pyscript/") and name.endswith(".pyc")
        }  # (beside the standard-library modules that only the package imports)
    assert compiled == set(written)


def test_the_sub_folder_page_starts_from_the_snapshot_on_a_second_visit(
    playwright: Playwright,
    chromium_launch_options: dict[str, Any],
    holdout_sandbox: SandboxProcess,
    built_site: BuiltSite,
    tmp_path: Path,
) -> None:
    guard = PageGuard()
    url = f"{holdout_sandbox.info.url}/holdout/sdk.html"
    snapshots = []
    for _visit in range(2):
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path / "profile"), **chromium_launch_options, permissions=["microphone"]
        )
        guard.attach_context(context)
        try:
            page = context.pages[0] if context.pages else context.new_page()
            page.goto(url)
            report = sub_folder_report(page)
            assert report["identity"]
            snapshots.append(page.evaluate("() => window.twochatStart.snapshot"))
            page.wait_for_function("() => window.snapshotSaved !== null", timeout=60_000)
        finally:
            context.close()
    assert guard.problems() == [], guard.report(guard.problems())
    assert snapshots == ["made", "restored"]


# ------------------------------------------------------------------------------------ the quickstart's page


def quickstart_blocks() -> dict[str, str]:
    """docs/quickstart.md's fenced blocks that carry a ``title``, by title."""
    blocks: dict[str, str] = {}
    for match in re.finditer(r'^```\w+ title="([^"]+)"\n(.*?)^```', QUICKSTART.read_text(), re.M | re.S):
        blocks[match.group(1)] = match.group(2)
    return blocks


def documented_copy() -> list[str]:
    """What docs/quickstart.md tells a user to copy from dist/site/ (its ``cp`` block), site-relative."""
    text = QUICKSTART.read_text()
    block = re.search(r"^```bash\n(cp [^`]*?)^```", text, re.M | re.S)
    assert block is not None, "docs/quickstart.md has no cp block saying what to copy"
    return re.findall(r"dist/site/([\w.-]+)", block.group(1))


@pytest.fixture(scope="module")
def copied_site(built_site: BuiltSite, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxProcess]:
    """A site of its own holding only the documented files and the quickstart's page, served by a sandbox."""
    site = tmp_path_factory.mktemp("users-site")
    for name in documented_copy():
        source = built_site.site / name
        if source.is_dir():
            shutil.copytree(source, site / name)
        else:
            shutil.copy2(source, site / name)
    blocks = quickstart_blocks()
    (site / "phone.html").write_text(blocks["www/phone.html"])
    parts = sorted((title for title in blocks if title.startswith("www/phone.py (")), key=lambda t: t[-4:])
    assert len(parts) == 4, parts
    (site / "phone.py").write_text("\n\n".join(blocks[title] for title in parts))
    process = start_sandbox(site=site, run_dir=tmp_path_factory.mktemp("users-sandbox"))
    yield process
    process.stop()


def test_the_documented_copy_is_small_and_its_config_names_only_copied_files(
    built_site: BuiltSite,
) -> None:
    copied = documented_copy()
    assert "pyscript.json" in copied and "build-info.json" in copied
    assert "wheels" not in copied and "app" not in copied
    config = json.loads((built_site.site / "pyscript.json").read_text())
    assert set(config) == {"interpreter"}, config  # no wheel, no file whose name a build changes
    assert config["interpreter"].startswith("/")
    assert config["interpreter"].lstrip("/").split("/")[0] in copied


def test_the_quickstart_page_on_a_users_own_site_registers_from_the_bundle(
    browser: Browser, copied_site: SandboxProcess, built_site: BuiltSite
) -> None:
    guard = PageGuard()
    page, responses = open_guarded(browser, f"{copied_site.info.url}/phone.html", guard)
    try:
        page.locator("#status").filter(has_text="Registered as").wait_for(timeout=120_000)
        assert page.locator("#call").is_enabled()
        assert_fast_path(page, built_site)
    finally:
        page.context.close()
    assert guard.problems() == [], guard.report(guard.problems())
    assert [r.url for r in responses if r.status >= 400] == []
