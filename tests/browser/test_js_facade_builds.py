"""The JS facade's formats, each as its users meet it: the classic script, the ES module, the declarations.

- ``/plain-js.html`` (www/, the plain-JavaScript example: a classic ``<script src="twochat-voice.global.js">``
  and an inline classic script) is driven like a person would: sign in, call the sandbox's echo number,
  hang up; the sandbox confirms the call from its side.
- The ES module (tests/pages/js_facade.html) starts on the fast path: the Python bundle named by
  build-info.json, no wheel; a second visit starts from the memory snapshot and still registers.
- ``twochat-voice.d.ts`` compiles with ``tsc --noEmit`` (strict) over tests/typescript/: an app written in
  TypeScript (its ``@ts-expect-error`` lines are mistakes the declarations must catch), a classic script on
  the global, and a file generated here from the members that the built files define at run time, so the
  declarations can neither miss a member nor declare one that does not exist.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from browser.harness import REPO_ROOT, BuiltSite, Sandbox

pytestmark = pytest.mark.browser

EXAMPLE = "/plain-js.html"
ESM_PAGE = "/test/pages/js_facade.html"
TSC = REPO_ROOT / "node_modules" / ".bin" / "tsc"
TYPESCRIPT_DIR = REPO_ROOT / "tests" / "typescript"


def sandbox_events(sandbox: Sandbox, call_id: str) -> list[dict[str, Any]]:
    query = urllib.parse.urlencode({"call_id": call_id})
    with urllib.request.urlopen(f"{sandbox.url}/sandbox/events?{query}", timeout=15) as response:
        result = json.load(response)
    events: list[dict[str, Any]] = result["events"] if isinstance(result, dict) else result
    return events


def wait_sandbox_event(sandbox: Sandbox, call_id: str, predicate: Callable[[dict[str, Any]], bool]) -> None:
    deadline = time.monotonic() + 15
    while not any(predicate(event) for event in sandbox_events(sandbox, call_id)):
        if time.monotonic() > deadline:
            raise AssertionError(f"the sandbox never logged it: {sandbox_events(sandbox, call_id)}")
        time.sleep(0.2)


def record_paths(page: Page) -> list[str]:
    """The path of every request the page makes from now on."""
    paths: list[str] = []
    page.on("request", lambda request: paths.append(urllib.parse.urlsplit(request.url).path))
    return paths


def assert_fast_path(paths: list[str], info: dict[str, Any], *, snapshot: str) -> None:
    """The fast start's files were fetched, the slow load's were not (wheels, the stdlib zip)."""
    bundle = info["python_bundle"]
    assert "/build-info.json" in paths
    assert not [path for path in paths if path.startswith("/wheels/")]
    assert "/pyodide/python_stdlib.zip" not in paths
    if snapshot == "made":
        assert "/" + bundle["sdk_url"] in paths and "/" + bundle["stdlib_url"] in paths


def wait_for_snapshot_saved(page: Page) -> None:
    page.wait_for_function(
        "caches.open('twochat-snapshots').then((cache) => cache.keys()).then((keys) => keys.length > 0)",
        timeout=60_000,
        polling=250,
    )


# ------------------------------------------------------------------------------------------ classic script


def test_classic_example_page_registers_and_calls(
    page: Page, sandbox: Sandbox, built_site: BuiltSite
) -> None:
    paths = record_paths(page)
    page.goto(EXAMPLE)
    # The inline classic script after <script src> destructured TwoChatVoice at parse time (else: a page
    # error, which fails the test); the global is the facade, frozen, with the error classes.
    surface = page.evaluate(
        """() => ({
          frozen: Object.isFrozen(TwoChatVoice),
          keys: Object.keys(TwoChatVoice).sort(),
          device: typeof TwoChatVoice.Device,
          errors: ['AuthError', 'RegistrationError', 'TokenError', 'MediaError'].map(
            (name) => TwoChatVoice[name].prototype instanceof TwoChatVoice.VoiceSDKError),
          noModule: !document.querySelector('script[type=module]'),
        })"""
    )
    assert surface["frozen"] and surface["device"] == "function" and surface["noModule"]
    assert surface["errors"] == [True, True, True, True]
    assert {"Device", "Call", "VoiceSDKError", "load", "ready", "isReady", "info", "pyodide"} <= set(
        surface["keys"]
    )
    info = page.evaluate("TwoChatVoice.ready()")
    assert info["snapshot"] == "made" and info["sdkVersion"] == built_site.info["sdk_version"]

    page.select_option("#user", "alice")
    page.click("#sign-in")
    page.wait_for_function("document.getElementById('status').textContent.startsWith('registered as sip:')")
    microphones = page.evaluate(
        "navigator.mediaDevices.enumerateDevices().then((all) => all.filter((d) => d.kind === 'audioinput')"
        ".map((d) => d.deviceId))"
    )
    page.wait_for_function("!document.getElementById('microphone').disabled")
    options = page.eval_on_selector_all("#microphone option", "(all) => all.map((o) => o.value)")
    assert options == ["", *microphones]

    page.fill("#number", "+15550100")
    page.click("#call")
    page.wait_for_function("document.getElementById('call-status').textContent === 'in call'", timeout=30_000)
    call_id = page.evaluate("call.sipCallId")
    wait_sandbox_event(sandbox, call_id, lambda event: event["kind"] == "answered")
    page.click("#hangup")
    page.wait_for_function("document.getElementById('call-status').textContent === 'ended (local)'")
    wait_sandbox_event(sandbox, call_id, lambda e: e["kind"] == "bye" and e.get("who") == "caller")

    assert "/twochat-voice.global.js" in paths and "/twochat-voice.js" not in paths
    assert "/scripts/twochat-start.mjs" not in paths  # bundled into the classic build
    assert_fast_path(paths, built_site.info, snapshot="made")
    page.evaluate("device.destroy()")
    live = page.evaluate("TwoChatVoice.liveObjects()")
    assert live["platformProxies"] == 0 and live["devices"] == 0 and live["calls"] == 0
    assert live["wrappers"] == {"devices": 0, "calls": 0} and live["pending"] == 0


# ------------------------------------------------------------------------------------------ ES module


def test_esm_starts_on_the_fast_path_then_from_the_snapshot(
    page: Page, mint_token: Callable[..., str], built_site: BuiltSite
) -> None:
    paths = record_paths(page)
    page.goto(ESM_PAGE)
    first = page.evaluate("import('/twochat-voice.js').then((m) => m.ready())")
    assert first["snapshot"] == "made"
    assert "/twochat-voice.js" in paths and "/scripts/twochat-start.mjs" in paths
    assert_fast_path(paths, built_site.info, snapshot="made")
    wait_for_snapshot_saved(page)

    # A returning visitor: Python starts from the snapshot, and the facade registers on it.
    paths.clear()
    page.goto(ESM_PAGE + "?token=" + mint_token("alice"))
    page.wait_for_function("window.app && app.status !== 'loading'", timeout=120_000)
    assert page.evaluate("app.status") == "registered", page.evaluate("app.startError")
    assert page.evaluate("TwoChatVoice.info.snapshot") == "restored"
    assert_fast_path(paths, built_site.info, snapshot="restored")
    named = page.evaluate(
        "import('/twochat-voice.js').then((m) => ({same: m.info === m.default.info && m.info !== null,"
        " pyodide: m.pyodide === m.default.pyodide && m.pyodide !== null}))"
    )
    assert named == {"same": True, "pyodide": True}
    page.evaluate("app.device.destroy()")


# ------------------------------------------------------------------------------------------ declarations


def runtime_members(page: Page, mint_token: Callable[..., str]) -> dict[str, list[str]]:
    """The public members the built files define, read in the browser: the module's exports, the default
    object (the global of the classic build), and Device and Call instances (prototype chain included)."""
    page.goto(ESM_PAGE + "?token=" + mint_token("alice"))
    page.wait_for_function("window.app && app.status !== 'loading'", timeout=120_000)
    members: dict[str, list[str]] = page.evaluate(
        """async () => {
          const module = await import('/twochat-voice.js');
          const publicNames = (object) => {
            const names = new Set();
            for (let o = object; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
              for (const name of Object.getOwnPropertyNames(o)) names.add(name);
            }
            return [...names].filter((n) => !n.startsWith('_') && n !== 'constructor').sort();
          };
          const call = await app.device.connect({to: '+15550100'});
          const members = {
            exports: Object.keys(module).filter((n) => n !== 'default').sort(),
            defaultObject: Object.keys(module.default).sort(),
            device: publicNames(app.device),
            call: publicNames(call),
            deviceStatic: Object.keys(module.Device).sort(),
            callStatic: Object.keys(module.Call).sort(),
          };
          await call.disconnect();
          app.device.destroy();
          return members;
        }"""
    )
    page.goto(EXAMPLE)
    members["classicGlobal"] = page.evaluate("Object.keys(TwoChatVoice).sort()")
    return members


def members_check(members: dict[str, list[str]]) -> str:
    """TypeScript that compiles only when the declarations name exactly the runtime's members."""

    def union(names: list[str]) -> str:
        return " | ".join(json.dumps(name) for name in names) or "never"

    lines = [
        "// Generated by tests/browser/test_js_facade_builds.py from the members defined at run time.",
        'import * as Module from "./twochat-voice.js";',
        'import TwoChatVoice, { Call, Device } from "./twochat-voice.js";',
        "type Exact<Declared, Runtime> = [Exclude<Declared, Runtime>, Exclude<Runtime, Declared>];",
        "type Same<Declared, Runtime> =",
        "  Exact<Declared, Runtime> extends [never, never] ? true : Exact<Declared, Runtime>;",
    ]
    checks = {
        "exports": 'Exclude<keyof typeof Module, "default">',
        "defaultObject": "keyof typeof TwoChatVoice",
        "classicGlobal": "keyof typeof TwoChatVoice",
        "device": "keyof Device",
        "call": "keyof Call",
        "deviceStatic": 'Exclude<keyof typeof Device, "prototype">',
        "callStatic": 'Exclude<keyof typeof Call, "prototype">',
    }
    for name, declared in checks.items():
        lines.append(f"export const {name}: Same<{declared}, {union(members[name])}> = true;")
    return "\n".join(lines) + "\n"


def test_declarations_match_the_runtime_and_the_example_compiles(
    page: Page, mint_token: Callable[..., str], built_site: BuiltSite, tmp_path: Path
) -> None:
    assert TSC.exists(), "typescript is not installed: run python3 build.py (npm ci)"
    members = runtime_members(page, mint_token)
    assert members["classicGlobal"] == members["defaultObject"]
    assert {"Device", "Call", "VoiceSDKError", "TokenError", "load"} <= set(members["exports"])
    for source in TYPESCRIPT_DIR.iterdir():
        shutil.copy(source, tmp_path / source.name)
    shutil.copy(built_site.site / "twochat-voice.d.ts", tmp_path / "twochat-voice.d.ts")
    (tmp_path / "members.ts").write_text(members_check(members))
    result = subprocess.run(
        [str(TSC), "--noEmit", "-p", str(tmp_path / "tsconfig.json")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr

    # The check can disagree: a member missing from the declarations fails it.
    declarations = (tmp_path / "twochat-voice.d.ts").read_text()
    trimmed, count = re.subn(r"\n  readonly tabRole: [^\n]*", "", declarations)
    assert count == 1
    (tmp_path / "twochat-voice.d.ts").write_text(trimmed)
    broken = subprocess.run(
        [str(TSC), "--noEmit", "-p", str(tmp_path / "tsconfig.json")],
        capture_output=True, text=True, timeout=300, check=False,
    )
    assert broken.returncode != 0 and "members.ts" in broken.stdout + broken.stderr
