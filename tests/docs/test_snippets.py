"""Every fenced code block of the documentation (docs/*.md and README.md) is executed or checked.

Each block is claimed by exactly one entry of :data:`RULES`, found by its page and a piece of its text:

* ``run="test_x"``: the test ``test_x`` (here or in test_examples.py) executes the block in CPython
  against the real SDK — on the in-memory platform of the SDK tests, a fake page (``pagefakes.py``) or
  the sandbox — and asserts what the page says it does;
* ``reason="..."``: the block cannot run here, and the reason says why; it is still checked.

Whatever its rule, every block gets the check of its language
(:func:`test_every_block_passes_the_check_of_its_language`): Python compiles and uses only names the package
has (``apicheck.py``: ``device.xxx``/``call.xxx`` attributes, event names, keyword arguments, imports); JSON
parses; HTML parses, its inline Python is checked as Python and its inline JavaScript with ``node --check``;
JavaScript passes ``node --check`` and names only members that ``www/twochat-voice.js`` defines; shell
passes ``bash -n``, and its ``build.py`` commands, sandbox options, pytest paths and curl routes exist; the
Kamailio fragments use only modules, parameters and functions of the Kamailio config the interop suite runs;
XML and INI parse; the event sequences name only real events.
"""

from __future__ import annotations

import ast
import configparser
import json
import logging
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from apicheck import api_problems
from docsite import DOCS_DIR, REPO_ROOT, CodeBlock, all_code_blocks, titled_block
from pagefakes import (
    FetchRecord,
    FetchResponse,
    PageEnvironment,
    answer_outbound_calls,
    fakes,
    parse_page,
    place_inbound_call,
    run,
    run_snippet,
    token_route,
    until,
)

from twochat_voice_web import Call, Device, ErrorCode

KAMAILIO_CFG = REPO_ROOT / "tests" / "interop" / "configs" / "kamailio.cfg"
JS_FACADE = REPO_ROOT / "www" / "twochat-voice.js"


@dataclass(frozen=True)
class Rule:
    """How one block is tested: run by a named test, or only checked for a stated reason."""

    page: str
    needle: str
    run: str | None = None
    reason: str | None = None

    def matches(self, block: CodeBlock) -> bool:
        """True when this rule claims ``block``."""
        return block.page == self.page and self.needle in block.code


DIAGRAM = "a diagram, not code"
NOT_OUR_DEPENDENCY = (
    "{} is not a dependency of this project, so it cannot be imported here; the aiohttp endpoint on the "
    "same page is the same logic and runs against the sandbox"
)
BUILD_COMMAND = (
    "runs the whole build (minutes, network for the first setup): the command names and paths are "
    "checked; build.py itself is tested by tests/browser/test_build_script.py"
)
PYSCRIPT_CONFIG = (
    "a configuration file written by build.py: parsed, and compared with build.py's pyscript_config()"
)
SIP_EXAMPLE_TEST = "test_the_sip_example_prints_what_the_page_shows"
TESTING_PAGE = "test_the_testing_page_is_the_click_to_call_example"
SERVER_CONFIG = (
    "a fragment of a {} configuration file; that server is not part of the test suite (the page says so)"
)

#: The reviewed list: which test runs each block, or why a block is only checked.
RULES: tuple[Rule, ...] = (
    # backend-token.md
    Rule("backend-token.md", "browser ── POST /voice/token", reason=DIAGRAM),
    Rule("backend-token.md", "from flask import", reason=NOT_OUR_DEPENDENCY.format("Flask")),
    Rule("backend-token.md", "from fastapi import", reason=NOT_OUR_DEPENDENCY.format("FastAPI")),
    Rule("backend-token.md", "web.AppKey", run="test_the_aiohttp_token_endpoint_works_against_the_sandbox"),
    Rule("backend-token.md", "async def refresh_token", run="test_backend_token_page_snippet"),
    # browser-support.md
    Rule(
        "browser-support.md",
        "warm_up_microphone",
        reason="calls the browser's getUserMedia through `js` and `pyodide.ffi`, which exist only in a "
        "page; a fake of getUserMedia would test the fake, not the snippet",
    ),
    Rule("browser-support.md", '@when("click", "#start")', run="test_browser_support_start_button"),
    # byo-sip.md
    Rule("byo-sip.md", "async def sip_account", run="test_credentials_providers_register"),
    # call.md
    Rule("call.md", "pending ──180/183──► ringing", reason=DIAGRAM),
    Rule("call.md", "banner.show", run="test_call_quality_handlers"),
    Rule(
        "call.md",
        "def on_ringing",
        reason="needs a far end that sends 183 early media and collects RFC 4733 digits: "
        "tests/browser/test_call_media_features.py places this call to the sandbox's +15550108 in Chromium "
        "and checks the digits reached the IVR before its answer",
    ),
    Rule(
        "call.md",
        "js.MediaRecorder",
        reason="uses the page's MediaRecorder and DOM through `js`, which exist only in a browser; "
        "tests/browser/test_call_media_features.py checks the streams and the volume events in Chromium",
    ),
    # device.md
    Rule("device.md", 'log_level="info"', run="test_device_and_index_snippets_register"),
    Rule("device.md", "max_average_bitrate=24000", run="test_media_options_snippet"),
    Rule("device.md", '"channel_count": 1})', run="test_audio_constraints_snippet"),
    Rule(
        "device.md",
        "class QuietToneProcessor",
        reason="builds a WebAudio graph through `js`, which exists only in a browser; "
        "tests/browser/test_microphone_capture.py gives a processor of this shape to a Device in Chromium "
        "and checks that its stream is the one sent and handed back to destroy_processed_stream",
    ),
    Rule(
        "device.md",
        "Device(token, close_protection=True)",
        reason="the prompt is the browser's beforeunload dialog: tests/browser/test_page_lifecycle.py "
        "registers this Device in Chromium, tries to close the page during a call and checks the prompt",
    ),
    Rule(
        "device.md",
        '"ws_urls": ["wss://sip-eu.example.com/ws"',
        reason="failover needs servers to die: tests/browser/test_signalling_failover.py registers through a "
        "dead URL and moves to the sandbox's second listener when the connection drops, in Chromium; "
        "tests/unit/test_signalling_servers.py checks the order",
    ),
    # errors.md
    Rule("errors.md", "NEW_TOKEN", run="test_errors_snippet_takes_each_branch"),
    Rule("errors.md", "the WebSocket failed:", run="test_errors_register_error_cause_snippet"),
    # events.md
    Rule("events.md", "def on_disconnect", run="test_events_handler_snippet"),
    Rule("events.md", "def watch_device", run="test_events_listener_set"),
    Rule("events.md", 'connect() returns (status "pending")', reason="an event sequence, not code"),
    Rule("events.md", 'failed      {"reason": "busy"', reason="an event sequence, not code"),
    Rule("events.md", "# sends CANCEL", reason="an event sequence, not code"),
    Rule("events.md", "device: incoming  <Call", reason="an event sequence, not code"),
    Rule("events.md", "websocket closed (1006)", reason="an event sequence, not code"),
    Rule("events.md", "device: incomingRejected", reason="an event sequence, not code"),
    Rule("events.md", "reconnect_grace_ms (30 s) without signalling", reason="an event sequence, not code"),
    # faq.md
    Rule("faq.md", "logging.basicConfig", run="test_faq_logging_snippet"),
    # index.md
    Rule("index.md", "# a JWT minted by your backend", run="test_device_and_index_snippets_register"),
    Rule("index.md", "your web page: Python in the browser", reason=DIAGRAM),
    Rule("index.md", "python3 build.py demo", reason=BUILD_COMMAND),
    # interop.md
    Rule("interop.md", "async def my_credentials", run="test_credentials_providers_register"),
    Rule(
        "interop.md",
        "listen=tcp:0.0.0.0:8080",
        reason="a fragment of a Kamailio configuration; its modules, parameters and functions are checked "
        "against tests/interop/configs/kamailio.cfg, which the interop suite runs",
    ),
    Rule(
        "interop.md",
        "fix_nated_register",
        reason="a fragment of a Kamailio configuration; its modules, parameters and functions are checked "
        "against tests/interop/configs/kamailio.cfg, which the interop suite runs",
    ),
    Rule("interop.md", "ws-binding", reason=SERVER_CONFIG.format("FreeSWITCH")),
    Rule("interop.md", "tlsbindaddr", reason=SERVER_CONFIG.format("Asterisk")),
    Rule("interop.md", "[transport-wss]", reason=SERVER_CONFIG.format("Asterisk")),
    Rule(
        "interop.md",
        "pytest tests/interop",
        reason="starts Kamailio, rtpengine, sipp, baresip and Chromium (minutes, and the interop tools); "
        "the paths and the marker are checked",
    ),
    # js-facade.md
    *(
        Rule(
            "js-facade.md",
            needle,
            reason="JavaScript for a page: checked with node --check and against the members "
            "www/twochat-voice.js defines; the facade is driven in Chromium by "
            "tests/browser/test_js_facade.py",
        )
        for needle in (
            "await device.register();",
            "a classic script, like the 2Chat UMD build",
            "getSipPassword",
            'rel="modulepreload" href="/pyodide/pyodide.mjs"',
            "device.runPreflight({ echoNumber",
            "call.getRemoteStream()",
            "createProcessedStream(stream) {",
        )
    ),
    Rule(
        "js-facade.md",
        "type DisconnectInfo",
        reason="TypeScript for an app: compiled with tsc --noEmit (strict) against www/twochat-voice.d.ts; "
        "the facade is driven in Chromium by tests/browser/test_js_facade.py",
    ),
    # multi-tab.md
    Rule("multi-tab.md", "answered-elsewhere", run="test_multi_tab_snippets"),
    Rule("multi-tab.md", "multi_tab=True", run="test_multi_tab_snippets"),
    # performance.md
    Rule("performance.md", "python3 build.py bench", reason=BUILD_COMMAND),
    # quickstart.md
    Rule("quickstart.md", "python3 build.py    #", reason=BUILD_COMMAND),
    Rule(
        "quickstart.md",
        '"interpreter": "/scripts/twochat-pyodide.mjs"',
        reason=PYSCRIPT_CONFIG,
    ),
    Rule(
        "quickstart.md",
        "cp -r dist/site/pyodide",
        reason="copies the built site into a web server's root; tests/browser/test_pyscript_start.py copies "
        "exactly the files this block names into a site of its own and runs the quickstart's page there",
    ),
    Rule("quickstart.md", "<!doctype html>", run="test_quickstart_page_works"),
    *(Rule("quickstart.md", needle, run="test_quickstart_page_works") for needle in (
        "def fetch_token", "def follow", "def on_incoming", "async def hang_up", "current.mute(True)"
    )),
    Rule("quickstart.md", "python3 build.py demo", reason=BUILD_COMMAND),
    # sandbox.md
    Rule(
        "sandbox.md",
        "python -m twochat_voice_web.sandbox",
        reason="starts a server that runs until stopped; the options are checked against the sandbox's "
        "own --help, and tests/sandbox/ starts it the same way",
    ),
    Rule(
        "sandbox.md",
        "curl -s -X POST",
        reason="needs a running sandbox with a registered browser; the route and the JSON body are checked, "
        "and tests/sandbox/ drives POST /sandbox/calls",
    ),
    Rule("sandbox.md", "create_app(SandboxConfig(port=0))", run="test_sandbox_embedding_snippet"),
    # testing.md
    Rule("testing.md", "pip install dist/wheels/", reason=BUILD_COMMAND),
    Rule("testing.md", "def browser_type_launch_args", run=TESTING_PAGE),
    Rule("testing.md", "def test_the_call_button", run=TESTING_PAGE),
    Rule("testing.md", "def test_an_inbound_call", run=TESTING_PAGE),
    Rule("testing.md", "def test_a_short_lived_token", run=TESTING_PAGE),
    Rule("testing.md", "def test_the_call_survives", run=TESTING_PAGE),
    # sip-core.md
    Rule("sip-core.md", "# 1. inputs", run="test_sip_core_loop_snippet"),
    Rule("sip-core.md", "Two sans-I/O user agents back to back", run=SIP_EXAMPLE_TEST),
    Rule("sip-core.md", "alice -> bob: INVITE", run=SIP_EXAMPLE_TEST),
    Rule("sip-core.md", "make_response(request, 486", run="test_sip_core_message_snippet"),
    # README.md
    Rule("README.md", "python3 build.py demo", reason=BUILD_COMMAND),
    Rule("README.md", "python3 build.py\n", reason=DIAGRAM),
    Rule("README.md", '<script type="py"', run="test_readme_page_places_a_call"),
    Rule(
        "README.md",
        '"interpreter": "/scripts/twochat-pyodide.mjs"',
        reason=PYSCRIPT_CONFIG,
    ),
)

BLOCKS = all_code_blocks()


def rules_for(block: CodeBlock) -> list[Rule]:
    """The rules that claim ``block``."""
    return [rule for rule in RULES if rule.matches(block)]


# ------------------------------------------------------------------------------------------ the registry


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.ident)
def test_every_block_is_claimed_by_exactly_one_rule(block: CodeBlock) -> None:
    claimed = rules_for(block)
    assert len(claimed) == 1, f"{block.ident} ({block.language or 'no language'}): claimed by {claimed}"


def test_every_rule_claims_a_block_and_says_how() -> None:
    for rule in RULES:
        assert any(rule.matches(block) for block in BLOCKS), f"stale rule: {rule}"
        assert (rule.run is None) != (rule.reason is None), f"a rule runs or explains, not both: {rule}"


def test_every_run_rule_names_an_existing_test() -> None:
    tests = set()
    for module in (Path(__file__), Path(__file__).with_name("test_examples.py")):
        tree = ast.parse(module.read_text())
        tests |= {node.name for node in tree.body if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)}
    missing = {rule.run for rule in RULES if rule.run is not None} - tests
    assert missing == set()


def test_every_fence_names_its_language() -> None:
    unnamed = [block.ident for block in BLOCKS if not block.language]
    assert unnamed == [], "give these fences a language (text for diagrams and sequences)"


# ------------------------------------------------------------------------------------------ language checks


def check_python(code: str, where: str) -> list[str]:
    """Compiles (top-level await allowed) and uses only what the package has."""
    try:
        compile(code, where, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    except SyntaxError as exc:
        return [f"does not compile: {exc}"]
    return api_problems(code, where)


def check_json(code: str, where: str) -> list[str]:
    """Parses as JSON."""
    try:
        json.loads(code)
    except json.JSONDecodeError as exc:
        return [f"not JSON: {exc}"]
    return []


def node_check(code: str, where: str) -> list[str]:
    """``node --check`` of an ES module."""
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    completed = subprocess.run(
        [node, "--check", "--input-type=module"], input=code, capture_output=True, text=True, timeout=60,
        check=False,
    )
    return [] if completed.returncode == 0 else [f"node --check: {completed.stderr.strip()}"]


_JS_MEMBER = re.compile(r"\b(?:device|call|TwoChatVoice|err|error)\.([A-Za-z_]\w*)")


def facade_problems(code: str) -> list[str]:
    """Every ``device.x`` / ``call.x`` / ``TwoChatVoice.x`` / ``err.x`` the JavaScript names is defined in
    www/twochat-voice.js (a member, a getter or a property it sets)."""
    source = JS_FACADE.read_text()
    names = {match.group(1) for match in _JS_MEMBER.finditer(code)}
    return [f"www/twochat-voice.js defines no {name!r}" for name in sorted(names)
            if not re.search(rf"(?<![\w$]){re.escape(name)}(?![\w$])", source)]


def check_js(code: str, where: str) -> list[str]:
    """``node --check``, and the facade members it names exist."""
    return node_check(code, where) + facade_problems(code)


TSC = REPO_ROOT / "node_modules" / ".bin" / "tsc"
TS_CONFIG = {
    "compilerOptions": {
        "target": "es2020", "module": "esnext", "moduleResolution": "bundler", "lib": ["es2022", "dom"],
        "strict": True, "noEmit": True, "types": [],
    },
    "files": ["twochat-voice.d.ts", "snippet.ts"],
}


def check_ts(code: str, where: str) -> list[str]:
    """TypeScript: ``tsc --noEmit`` (strict) with the facade's declarations (www/twochat-voice.d.ts) beside
    it as ``./twochat-voice.js``, and the facade members it names exist."""
    if not TSC.exists():
        pytest.skip("typescript is not installed (python3 build.py runs npm ci)")
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        shutil.copy(JS_FACADE.with_suffix(".d.ts"), folder / "twochat-voice.d.ts")
        (folder / "snippet.ts").write_text(code)
        (folder / "tsconfig.json").write_text(json.dumps(TS_CONFIG))
        completed = subprocess.run(
            [str(TSC), "-p", str(folder / "tsconfig.json")], capture_output=True, text=True, timeout=120,
            check=False,
        )
    problems = [] if completed.returncode == 0 else [f"tsc: {(completed.stdout + completed.stderr).strip()}"]
    return problems + facade_problems(code)


def inline_scripts(html: str) -> list[tuple[dict[str, str | None], str]]:
    """The inline ``<script>`` elements of an HTML snippet: (attributes, text)."""
    found: list[tuple[dict[str, str | None], str]] = []
    for match in re.finditer(r"<script(?P<attrs>[^>]*)>(?P<body>.*?)</script>", html, re.S):
        attributes = dict(re.findall(r'(\w+)(?:="([^"]*)")?', match.group("attrs")))
        found.append(({k: v or None for k, v in attributes.items()}, match.group("body")))
    return found


def check_html(code: str, where: str) -> list[str]:
    """Parses; inline Python is checked as Python, inline JavaScript (module or classic) as JavaScript."""
    problems: list[str] = []
    page = parse_page(code)
    if not page.elements and "<script" not in code:
        problems.append("no element and no script: is this HTML?")
    for attributes, body in inline_scripts(code):
        if not body.strip():
            continue
        if attributes.get("type") == "py":
            problems += check_python(_dedent(body), where)
        elif attributes.get("type") in ("module", None, "text/javascript"):  # a module or a classic script
            problems += check_js(body, where)
    return problems


def _dedent(text: str) -> str:
    import textwrap

    return textwrap.dedent(text).strip("\n") + "\n"


def _sandbox_options() -> set[str]:
    completed = subprocess.run(
        [sys.executable, "-m", "twochat_voice_web.sandbox", "--help"], capture_output=True, text=True,
        timeout=60, check=True,
    )
    return set(re.findall(r"--[a-z][a-z-]*", completed.stdout))


def _build_commands() -> set[str]:
    source = (REPO_ROOT / "build.py").read_text()
    match = re.search(r"^COMMANDS = \{(?P<body>[^}]*)\}", source, re.M)
    assert match is not None, "build.py has no COMMANDS table"
    return set(re.findall(r'"(\w+)":', match.group("body")))


def _sandbox_routes() -> set[str]:
    from twochat_voice_web.sandbox import SandboxConfig, create_app

    app = create_app(SandboxConfig(port=0))
    return {resource.canonical for resource in app.router.resources()}


def check_shell(code: str, where: str) -> list[str]:
    """``bash -n``; build.py commands, bench names, sandbox options, pytest paths and markers, curl
    routes and bodies, and what ``cp -r dist/site/...`` copies exist."""
    completed = subprocess.run(["bash", "-n"], input=code, capture_output=True, text=True, check=False)
    if completed.returncode != 0:
        return [f"bash -n: {completed.stderr.strip()}"]
    problems: list[str] = []
    logical = re.sub(r"\\\n\s*", " ", code)
    for line in logical.splitlines():
        words = shlex.split(line, comments=True)
        if not words:
            continue
        if words[:2] == ["python3", "build.py"]:
            rest = words[2:]
            if rest and not rest[0].startswith("-") and rest[0] not in _build_commands():
                problems.append(f"build.py has no command {rest[0]!r}")
            if rest[:1] == ["bench"]:
                for name in rest[1:]:
                    if not name.startswith("-") and not (REPO_ROOT / "bench" / f"bench_{name}.py").is_file():
                        problems.append(f"no bench/bench_{name}.py")
        elif words[:3] == ["python", "-m", "twochat_voice_web.sandbox"]:
            known = _sandbox_options()
            unknown = [w for w in words[3:] if w.startswith("--") and w not in known]
            problems += [f"the sandbox has no option {w}" for w in unknown]
        elif len(words) > 2 and words[1:3] == ["-m", "pytest"]:
            for index, word in enumerate(words[3:], start=3):
                if words[index - 1] == "-m":
                    markers = (REPO_ROOT / "pyproject.toml").read_text()
                    if f'"{word}:' not in markers:
                        problems.append(f"no pytest marker {word!r}")
                elif not word.startswith("-") and not (REPO_ROOT / word.split("::")[0]).exists():
                    problems.append(f"no path {word}")
        elif words[0] == "curl":
            url = next(w for w in words if w.startswith("http"))
            path = re.sub(r"^https?://[^/]+", "", url)
            if path not in _sandbox_routes():
                problems.append(f"the sandbox has no route {path}")
            if "-d" in words:
                problems += check_json(words[words.index("-d") + 1], where)
        elif words[:2] == ["cp", "-r"]:
            build_script = (REPO_ROOT / "build.py").read_text()
            for word in words[2:]:
                name = word.removeprefix("dist/site/")
                if name == word:
                    continue  # the destination
                staged = (REPO_ROOT / "www" / name).exists() or f'"{name}' in build_script
                if not staged:
                    problems.append(f"build.py puts no {name} in dist/site/")
        else:
            problems.append(f"no check knows this command: {line.strip()!r}")
    return problems


_KAMAILIO_FUNCTION = re.compile(r"\b([a-z_][a-z0-9_]*)\s*\(")
_KAMAILIO_KEYWORDS = frozenset({"if", "else", "exit", "event_route", "route", "onreply_route", "is_method"})


def check_kamailio(code: str, where: str) -> list[str]:
    """Every module, module parameter, core parameter and function the fragment uses appears in the
    Kamailio config the interop suite runs."""
    config = KAMAILIO_CFG.read_text()
    problems: list[str] = []
    for raw in code.splitlines():
        line = raw.split("#", 1)[0].strip() if not raw.strip().startswith("#") else ""
        if not line:
            continue
        for module in re.findall(r'loadmodule "([^"]+)"', line):
            if f'loadmodule "{module}"' not in config:
                problems.append(f"kamailio.cfg loads no {module}")
        for module, parameter in re.findall(r'modparam\("([^"]+)", "([^"]+)"', line):
            if f'modparam("{module}", "{parameter}"' not in config:
                problems.append(f"kamailio.cfg sets no {module}.{parameter}")
        core = re.match(r"^([a-z_]+)=", line)
        if core and not re.search(rf"^{core.group(1)}=", config, re.M):
            problems.append(f"kamailio.cfg sets no core parameter {core.group(1)}")
        for function in _KAMAILIO_FUNCTION.findall(line):
            if function in ("loadmodule", "modparam") or function in _KAMAILIO_KEYWORDS:
                continue
            if f"{function}(" not in config:
                problems.append(f"kamailio.cfg never calls {function}()")
    return problems


def check_xml(code: str, where: str) -> list[str]:
    """Well-formed XML (a fragment: wrapped in one root element)."""
    try:
        ET.fromstring(f"<fragment>{code}</fragment>")
    except ET.ParseError as exc:
        return [f"not XML: {exc}"]
    return []


def check_ini(code: str, where: str) -> list[str]:
    """Parses as an Asterisk-style INI file (repeated sections allowed, ``;`` comments)."""
    parser = configparser.ConfigParser(strict=False, inline_comment_prefixes=(";",), interpolation=None)
    try:
        parser.read_string(code)
    except configparser.Error as exc:
        return [f"not INI: {exc}"]
    return [] if parser.sections() else ["no section"]


_SEQUENCE_LINE = re.compile(
    r"^(?:(?P<who>device|call):\s+)?(?P<event>[a-z][A-Za-z-]*)(?:\s+(?P<payload>.*))?$"
)


def check_sequence(code: str, where: str) -> list[str]:
    """An event sequence: every line that starts with an event names one the Device or Call emits."""
    problems: list[str] = []
    for raw in code.splitlines():
        line = raw.strip()
        if not line or line.startswith("...") or raw.startswith((" ", "\t")):
            continue
        match = _SEQUENCE_LINE.match(line)
        if match is None or (match.group("payload") or "").startswith("("):
            continue  # prose: "connect() returns ..."
        event, who = match.group("event"), match.group("who")
        known = Device.EVENTS if who == "device" else Call.EVENTS
        if event not in known:
            problems.append(f"{(who or 'call')} emits no event {event!r}: {line!r}")
    return problems


def check_text(code: str, where: str) -> list[str]:
    """Diagrams and program output: event sequences are checked, the rest is free text."""
    if re.search(r"^(device|call|ringing|failed|disconnect):?\s", code, re.M):
        return check_sequence(code, where)
    return []


CHECKS: dict[str, Callable[[str, str], list[str]]] = {
    "python": check_python,
    "json": check_json,
    "html": check_html,
    "js": check_js,
    "ts": check_ts,
    "bash": check_shell,
    "xml": check_xml,
    "ini": check_ini,
    "kamailio": check_kamailio,
    "text": check_text,
}


@pytest.mark.parametrize("block", BLOCKS, ids=lambda b: b.ident)
def test_every_block_passes_the_check_of_its_language(block: CodeBlock) -> None:
    assert block.language in CHECKS, f"{block.ident}: no check for language {block.language!r}"
    problems = CHECKS[block.language](block.code, block.ident)
    assert problems == [], f"{block.ident}:\n" + "\n".join(problems)


def test_the_documented_pyscript_config_is_what_build_py_writes() -> None:
    import importlib.util

    spec = importlib.util.spec_from_file_location("docs_build_script", REPO_ROOT / "build.py")
    assert spec is not None and spec.loader is not None
    build = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build)
    written = build.pyscript_config()
    documented = [json.loads(b.code) for b in BLOCKS if b.language == "json" and "interpreter" in b.code]
    assert documented, "no page documents pyscript.json"
    for config in documented:
        assert config == written


# ------------------------------------------------------------------------------------------ the checks bite


@pytest.mark.parametrize(
    ("language", "code", "expected"),
    [
        ("python", "device.no_such_member()\n", "Device has no 'no_such_member'"),
        ("python", "call.on('no-such-event', print)\n", "Call emits no event 'no-such-event'"),
        ("python", "from twochat_voice_web import Device\nDevice('t', lvl='x')\n", "no parameter 'lvl'"),
        ("python", "from twochat_voice_web import Nope\n", "has no 'Nope'"),
        ("python", "async def f():\n    await device.conect('+1')\n", "Device has no 'conect'"),
        ("json", '{"a": 1,}', "not JSON"),
        ("js", "const a = ;", "node --check"),
        ("js", "device.noSuchFacadeMember();", "defines no 'noSuchFacadeMember'"),
        ("html", "<script>\n  device.noSuchFacadeMember();\n</script>", "defines no 'noSuchFacadeMember'"),
        (
            "ts",
            'import { Device } from "./twochat-voice.js";\n'
            'new Device({token: "t"}).on("registred", () => {});\n',
            "not assignable to parameter of type 'keyof DeviceEventMap'",
        ),
        ("html", '<script type="py">\ndevice.no_such\n</script>', "Device has no 'no_such'"),
        ("bash", "python3 build.py no-such-command", "no command 'no-such-command'"),
        ("bash", "python3 build.py bench no_such_bench", "no bench/bench_no_such_bench.py"),
        ("bash", "python -m twochat_voice_web.sandbox --no-such-option", "no option --no-such-option"),
        ("bash", ".venv/bin/python -m pytest tests/no_such_dir", "no path tests/no_such_dir"),
        ("bash", "rm -rf /tmp/x", "no check knows this command"),
        ("kamailio", 'modparam("usrloc", "no_such_param", 1)', "sets no usrloc.no_such_param"),
        ("kamailio", "no_such_function();", "never calls no_such_function()"),
        ("xml", "<param name='a'>", "not XML"),
        ("text", "device: incoming  <Call>\ncall:   acepted\n", "emits no event 'acepted'"),
    ],
)
def test_the_checks_catch_what_they_must(language: str, code: str, expected: str) -> None:
    problems = CHECKS[language](code, "negative")
    assert any(expected in problem for problem in problems), problems


# ------------------------------------------------------------------------------------------ runs


def block_with(page: str, needle: str) -> CodeBlock:
    """The one block of ``page`` that contains ``needle``."""
    found = [block for block in BLOCKS if block.page == page and needle in block.code]
    assert len(found) == 1, f"{page}: {len(found)} blocks contain {needle!r}"
    return found[0]


def test_quickstart_page_works(monkeypatch: pytest.MonkeyPatch) -> None:
    """The quickstart's phone.html + phone.py: registers, calls, mutes/holds/DTMF, hangs up, answers an
    inbound call with X-2Chat headers, and refreshes the token on tokenWillExpire."""
    html = titled_block("quickstart.md", "www/phone.html")
    parts = [titled_block("quickstart.md", f"www/phone.py ({n}/4)") for n in range(1, 5)]
    during = block_with("quickstart.md", "current.mute(True)")
    scripts = parse_page(html.code).py_scripts
    assert [s.get("src") for s in scripts] == ["./phone.py"]  # the file the four parts make up
    tokens = [fakes.make_token(), fakes.make_token(label="second")]
    served: list[str] = []

    def demo_token(record: FetchRecord) -> FetchResponse:
        assert record.method == "POST" and json.loads(record.body or "{}") == {"user": "alice"}
        served.append(tokens[len(served)])
        return FetchResponse(200, {"token": served[-1]})

    env = PageEnvironment(html=html.code, routes={"./demo/token": demo_token})

    async def scenario() -> None:
        with env.installed(monkeypatch):
            reoffers = answer_outbound_calls(env.platform)
            page = await run_snippet("".join(part.code for part in parts), {}, "www/phone.py")
            device = page["device"]
            assert env.text("status") == f"Registered as sip:alice@{fakes.DOMAIN}"
            assert not env.document.getElementById("call").disabled
            assert device.platform is env.platform and device.token == tokens[0]

            await env.click("#call")
            await until(lambda: env.text("status") == "In a call with +15550100", "the call to be answered")
            current = page["current"]
            assert isinstance(current, Call) and current.status == "accepted"
            await run_snippet(during.code, {"current": current, "speaker_id": "spk"}, during.ident)
            assert current.is_muted() and current.is_on_hold() and "a=sendonly" in reoffers[-1]
            await env.click("#hangup")
            await until(lambda: env.text("status") == "Call ended: local", "the hang-up")
            assert page["current"] is None

            place_inbound_call(env.platform, [("X-2Chat-Ticket-Id", "42")])
            await until(lambda: env.text("status").startswith("Incoming call from"), "the incoming call")
            assert "{'Ticket-Id': '42'}" in env.text("status")
            assert not env.document.getElementById("answer").disabled
            await env.click("#answer")
            await until(lambda: env.text("status").startswith("In a call with"), "the answer")
            await env.click("#hangup")
            await until(lambda: env.text("status") == "Call ended: local", "the second hang-up")

            device.emit("tokenWillExpire")
            await until(lambda: device.token == tokens[1], "update_token() with the fresh token")
            assert device.state == "registered"

    run(scenario())


def test_readme_page_places_a_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """README's page: the button fetches a token, registers and calls."""
    block = block_with("README.md", '<script type="py"')
    ((_attributes, body),) = [s for s in inline_scripts(block.code) if s[0].get("type") == "py"]
    env = PageEnvironment(html=block.code, routes={"/your-backend/token": token_route(fakes.make_token())})

    async def scenario() -> None:
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            await run_snippet(_dedent(body), {}, block.ident)
            assert env.devices == []  # nothing happens before the click
            await env.click("#call")
            (device,) = env.devices
            assert device.state == "registered"
            (call,) = device.calls
            await until(lambda: call.status == "accepted", "the call to be answered")
            assert call.remote_identity == "+15551234567"

    run(scenario())


def test_backend_token_page_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("backend-token.md", "async def refresh_token")
    tokens = [fakes.make_token(), fakes.make_token(label="second")]
    served: list[str] = []

    def voice_token(record: FetchRecord) -> FetchResponse:
        assert record.method == "POST"
        served.append(tokens[len(served)])
        return FetchResponse(200, {"token": served[-1], "expires_at": "later"})

    env = PageEnvironment(routes={"/voice/token": voice_token})

    async def scenario() -> None:
        with env.installed(monkeypatch):
            page = await run_snippet(block.code, {}, block.ident)
            device = page["device"]
            assert device.token == tokens[0] and device.listener_count("tokenWillExpire") == 1
            device.emit("tokenWillExpire")
            await until(lambda: device.token == tokens[1], "the refreshed token")

    run(scenario())


def test_browser_support_start_button(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("browser-support.md", '@when("click", "#start")')
    env = PageEnvironment(html='<button id="start">Start phone</button>')

    async def scenario() -> None:
        with env.installed(monkeypatch):
            device = Device(fakes.make_token(), platform=env.platform)
            await run_snippet(block.code, {"when": env.when, "device": device}, block.ident)
            await env.click("#start")
            assert device.state == "registered"
            device.destroy()

    run(scenario())


async def _registered_device(env: PageEnvironment) -> Device:
    device = Device(fakes.make_token(), platform=env.platform)
    await device.register()
    return device


def test_device_and_index_snippets_register(monkeypatch: pytest.MonkeyPatch) -> None:
    device_md = block_with("device.md", 'log_level="info"')
    index_md = block_with("index.md", "# a JWT minted by your backend")

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            page = await run_snippet(device_md.code, {"token": fakes.make_token()}, device_md.ident)
            assert page["device"].state == "registered"
        env = PageEnvironment()
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            page = await run_snippet(index_md.code, {"token": fakes.make_token()}, index_md.ident)
            assert page["device"].state == "registered"
            assert isinstance(page["call"], Call) and page["call"].remote_identity == "+15551234567"
            assert page["device"].listener_count("incoming") == 1

    run(scenario())


def test_errors_snippet_takes_each_branch(monkeypatch: pytest.MonkeyPatch) -> None:
    """errors.md: an expired token is replaced (then register() works), a refused REGISTER shows the
    offline banner, anything else prints to_json()."""
    block = block_with("errors.md", "NEW_TOKEN")

    async def attempt(token: str, setup: Callable[[Any], None]) -> dict[str, Any]:
        env = PageEnvironment()
        setup(env.platform)
        shown: list[str] = []
        with env.installed(monkeypatch):
            device = Device(token, platform=env.platform)
            fresh = fakes.make_token(label="fresh")

            async def fetch_token() -> str:
                return fresh

            namespace: dict[str, Any] = {
                "device": device, "fetch_token": fetch_token,
                "show_offline_banner": lambda: shown.append("offline"),
            }
            printed: list[Any] = []
            namespace["print"] = printed.append
            await run_snippet(block.code, namespace, block.ident)
            return {"device": device, "fresh": fresh, "shown": shown, "printed": printed}

    async def scenario() -> None:
        expired = await attempt(fakes.make_token(ttl=-10), lambda platform: None)
        assert expired["device"].token == expired["fresh"] and expired["shown"] == []
        await expired["device"].register()  # "then register() again"
        assert expired["device"].state == "registered"

        def refuse(platform: Any) -> None:
            platform.server.reject_register = 404

        refused = await attempt(fakes.make_token(), refuse)
        assert refused["shown"] == ["offline"]

        def unreachable(platform: Any) -> None:
            platform.credentials_status = 500

        broken = await attempt(fakes.make_token(), unreachable)
        assert broken["printed"][0]["code"] == ErrorCode.CONFIG_FETCH_FAILED.value
        assert set(broken["printed"][0]) == {"name", "code", "message"}

    run(scenario())


def test_errors_register_error_cause_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    """errors.md: a WebSocket that cannot open is REGISTER_ERROR with the transport error as its cause."""
    block = block_with("errors.md", "the WebSocket failed:")

    async def scenario() -> None:
        env = PageEnvironment()
        env.platform.refuse_connections = True
        with env.installed(monkeypatch):
            printed: list[tuple[Any, ...]] = []
            namespace: dict[str, Any] = {
                "device": Device(fakes.make_token(), platform=env.platform),
                "print": lambda *args: printed.append(args),
            }
            await run_snippet(block.code, namespace, block.ident)
            assert printed == [("the WebSocket failed:", ErrorCode.TRANSPORT_ERROR, "connection refused")]

    run(scenario())


def test_events_handler_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("events.md", "def on_disconnect")

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            device = await _registered_device(env)
            call = await device.connect("+15550100")
            printed: list[tuple[Any, ...]] = []
            namespace = {"call": call, "print": lambda *args: printed.append(args)}
            await run_snippet(block.code, namespace, block.ident)
            assert call.listener_count("disconnect") == 0 and call.listener_count("accepted") == 1
            await until(lambda: call.status == "accepted", "the answer")
            assert printed == [("up",)]
            namespace["on_disconnect"]({"reason": "local", "status_code": None})
            assert printed[-1] == ("ended:", "local", None)

    run(scenario())


def test_events_listener_set(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("events.md", "def watch_device")

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            printed: list[tuple[Any, ...]] = []
            namespace: dict[str, Any] = {"print": lambda *args: printed.append(args)}
            await run_snippet(block.code, namespace, block.ident)
            device = Device(fakes.make_token(), platform=env.platform)
            namespace["watch_device"](device)
            await device.register()
            assert ("registered as", f"sip:alice@{fakes.DOMAIN}") in printed
            place_inbound_call(env.platform)
            await until(lambda: len(device.calls) == 1, "the incoming call")
            (call,) = device.calls
            await call.accept()
            assert ("connected with", call.remote_identity) in printed
            await call.disconnect()
            assert ("ended:", "local") in printed

    run(scenario())


def test_faq_logging_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("faq.md", "logging.basicConfig")

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            monkeypatch.setattr(logging, "basicConfig", lambda **options: None)  # keep pytest's handlers
            namespace = {"Device": env.Device, "token": fakes.make_token()}
            page = await run_snippet(block.code, namespace, block.ident)
            assert page["device"] is not None
            # the Device's own logger traces at debug; basicConfig's root handler prints what it logs
            assert page["device"].logger.isEnabledFor(logging.DEBUG)
            assert page["device"].logger.name.startswith("twochat_voice_web.device.")

    run(scenario())


def test_multi_tab_snippets(monkeypatch: pytest.MonkeyPatch) -> None:
    leader_block = block_with("multi-tab.md", "multi_tab=True")
    banner_block = block_with("multi-tab.md", "answered-elsewhere")

    async def scenario() -> None:
        bus = fakes.TabBus()
        env = PageEnvironment(platform=bus.tab("one"))
        with env.installed(monkeypatch):
            printed: list[Any] = []
            page = await run_snippet(
                leader_block.code,
                {"Device": env.Device, "token": fakes.make_token(), "show_incoming_call": lambda call: None,
                 "print": printed.append},
                leader_block.ident,
            )
            assert printed == ["leader"] and page["device"].state == "registered"
            answer_outbound_calls(env.platform)
            call = await page["device"].connect("+15550100")
            hidden: list[Call] = []
            namespace = {"call": call, "hide_banner": hidden.append}
            await run_snippet(banner_block.code, namespace, banner_block.ident)
            await call.disconnect()
            assert hidden == []  # only for "answered-elsewhere"
            call.emit("disconnect", {"reason": "answered-elsewhere", "status_code": 487})
            assert hidden == [call]

    run(scenario())


def test_credentials_providers_register(monkeypatch: pytest.MonkeyPatch) -> None:
    """interop.md's and byo-sip.md's providers: the Device registers with what they return (the fake
    registrar checks the digest password), and a realm in the credentials changes nothing."""
    for page, needle in (("interop.md", "async def my_credentials"), ("byo-sip.md", "async def sip_account")):
        block = block_with(page, needle)
        asked: list[str] = []

        def account(record: FetchRecord, asked: list[str] = asked) -> FetchResponse:
            asked.append(record.headers["Authorization"])
            return FetchResponse(200, {"user": "alice", "password": "pw-alice", "name": "Alice"})

        env = PageEnvironment(routes={"/api/sip-account": account})

        async def scenario(block: CodeBlock = block, env: PageEnvironment = env) -> Device:
            with env.installed(monkeypatch):
                page_ns = await run_snippet(block.code, {"session_token": "opaque-session-42"}, block.ident)
                device: Device = page_ns["device"]
                assert device.state == "registered"
                assert device.identity == "sip:alice@example.com"
                return device

        run(scenario())
        assert asked == ["Bearer opaque-session-42"], page
        assert env.platform.fetches == []  # the 2Chat credentials endpoint is not used


def test_call_quality_handlers(monkeypatch: pytest.MonkeyPatch) -> None:
    block = block_with("call.md", "banner.show")

    class Recorder:
        """Records every method call as (method, args)."""

        def __init__(self) -> None:
            self.calls: list[tuple[str, tuple[Any, ...]]] = []

        def __getattr__(self, name: str) -> Callable[..., None]:
            return lambda *args: self.calls.append((name, args))

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            device = await _registered_device(env)
            call = await device.connect("+15550100")
            meter, banner = Recorder(), Recorder()
            await run_snippet(block.code, {"call": call, "meter": meter, "banner": banner}, block.ident)
            await until(lambda: bool(meter.calls), "a quality sample", timeout=10)
            ((method, (mos, rtt)),) = meter.calls[:1]
            assert method == "update"
            assert mos is None or 1.0 <= mos <= 4.5
            assert rtt is None or rtt >= 0
            await call.disconnect()

    run(scenario())


def test_media_options_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The Device's codec options reach each call's peer connection; a call's own options win for it."""
    from twochat_voice_web.codec_preferences import CodecPreferences

    block = block_with("device.md", "max_average_bitrate=24000")

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            page = await run_snippet(block.code, {"token": fakes.make_token()}, block.ident)
            first, second = (peer.options for peer in env.platform.peers[-2:])
            assert first.codec_preferences == CodecPreferences(("PCMU",), 24000, True)
            assert second.codec_preferences == CodecPreferences(("opus", "PCMU"), 24000, True)
            assert dict(second.configuration) == {"iceTransportPolicy": "relay"}
            assert [server.urls for server in second.ice_servers] == [("turn:turn.example.com",)]
            for call in page["device"].calls:
                await call.disconnect()

    run(scenario())


def test_audio_constraints_snippet(monkeypatch: pytest.MonkeyPatch) -> None:
    """The constraints reach the call's microphone, a change re-opens it, unset goes back to the defaults."""
    from twochat_voice_web.audio_capture import AudioConstraints

    block = block_with("device.md", '"channel_count": 1})')

    async def scenario() -> None:
        env = PageEnvironment()
        with env.installed(monkeypatch):
            answer_outbound_calls(env.platform)
            page = await run_snippet(block.code, {"token": fakes.make_token()}, block.ident)
            opened = env.platform.media.opened
            assert [mic.constraints for mic in opened] == [
                AudioConstraints(False, False, False, 1),
                AudioConstraints(echo_cancellation=True, noise_suppression=True),
                None,  # the browser's defaults: getUserMedia({audio: true})
            ]
            assert [mic.stopped for mic in opened] == [True, True, False]
            assert env.platform.peers[-1].mic is opened[-1]
            assert page["device"].audio_constraints == {}
            for call in page["device"].calls:
                await call.disconnect()

    run(scenario())


def test_sandbox_embedding_snippet() -> None:
    block = block_with("sandbox.md", "create_app(SandboxConfig(port=0))")
    namespace = run(run_snippet(block.code, {"call_id": "call-1"}, block.ident))
    state = namespace["state"]
    assert state.users.by_sip_username("alice").sip_password
    (dtmf,) = state.events.query(kind="dtmf")
    assert dtmf.fields["call_id"] == "call-1" and dtmf.fields["digit"] == "5"


def test_sip_core_loop_snippet() -> None:
    """The four steps of the loop run as written: a REGISTER goes out, a malformed frame is reported."""
    from twochat_voice_web.sip import events

    block = block_with("sip-core.md", "# 1. inputs")

    class WebSocket:
        """Collects what the loop sends."""

        def __init__(self) -> None:
            self.sent: list[bytes] = []

        def send(self, message: bytes) -> None:
            self.sent.append(message)

    websocket = WebSocket()
    namespace = run(run_snippet(block.code, {"now": 0.0, "frame": b"not SIP\r\n\r\n", "websocket": websocket},
                                block.ident))
    assert websocket.sent and websocket.sent[0].startswith(b"REGISTER sip:example.com SIP/2.0")
    assert namespace["deadline"] is not None
    ua = namespace["ua"]
    ua.receive_data(b"not SIP\r\n\r\n", 0.0)
    assert any(isinstance(e, events.MessageRejected) for e in ua.events())  # inputs never raise


def test_sip_core_message_snippet() -> None:
    block = block_with("sip-core.md", "make_response(request, 486")
    raw = (
        b"INVITE sip:bob@example.com SIP/2.0\r\n"
        b"Via: SIP/2.0/WSS a.invalid;branch=z9hG4bK776asdhds\r\n"
        b"Max-Forwards: 70\r\nTo: <sip:bob@example.com>\r\nFrom: <sip:alice@example.com>;tag=1928301774\r\n"
        b"Call-ID: a84b4c76e66710\r\nCSeq: 314159 INVITE\r\nContent-Length: 0\r\n\r\n"
    )
    printed: list[tuple[Any, ...]] = []
    namespace = run(run_snippet(block.code, {"raw_bytes": raw, "print": lambda *a: printed.append(a)},
                                block.ident))
    assert printed[0][:2] == ("INVITE", "a84b4c76e66710")
    wire = namespace["wire"]
    assert wire.startswith(b"SIP/2.0 486 ") and b"tag=b1" in wire and b"Content-Length: 0" in wire


# ---------------------------------------------------------------------------------------- the reference pages


#: Public members that the reference pages leave out on purpose.
UNDOCUMENTED_MEMBERS = {
    "emit": "the SDK's own: it emits the events (and relays them between tabs); a page only listens",
}


def public_members(cls: type) -> set[str]:
    """The public methods, properties and attributes of ``cls`` (the ones a page may use)."""
    return {name for name in dir(cls) if not name.startswith("_")} - set(UNDOCUMENTED_MEMBERS)


def mkdocstrings_members(page: str, target: str) -> set[str]:
    """The ``members:`` list of the ``::: target`` block of ``page``."""
    text = (DOCS_DIR / page).read_text()
    match = re.search(rf"^::: {re.escape(target)}\n(?P<options>(?:    .*\n)+)", text, re.M)
    assert match is not None, f"{page} has no ::: {target}"
    listed = re.findall(r'^        - "?([A-Za-z_]+)"?$', match.group("options"), re.M)
    return set(listed)


def mentioned(page: str, name: str) -> bool:
    """True when ``page`` names ``name`` in code: `` `name` ``, `` `name(...)` ``, `` `await name(...)` ``."""
    text = (DOCS_DIR / page).read_text()
    return re.search(rf"`(?:await )?(?:\w+\.)?{re.escape(name)}(?:\(|`)", text) is not None


@pytest.mark.parametrize(("cls", "page"), [(Device, "device.md"), (Call, "call.md")])
def test_every_public_member_is_on_its_reference_page(cls: type, page: str) -> None:
    members = public_members(cls)
    assert [name for name in sorted(members) if not mentioned(page, name)] == []
    listed = mkdocstrings_members(page, f"twochat_voice_web.{cls.__name__}")
    assert sorted(members - listed - {"EVENTS"}) == [], f"{page}: missing from the ::: members list"
    assert sorted(listed - members) == [], f"{page}: the ::: members list names what {cls.__name__} lacks"


@pytest.mark.parametrize(("cls", "page"), [(Device, "device.md"), (Call, "call.md")])
def test_every_event_is_on_its_reference_page_and_on_the_events_page(cls: type, page: str) -> None:
    for where in (page, "events.md"):
        missing = [event for event in sorted(cls.EVENTS) if not mentioned(where, event)]  # type: ignore[attr-defined]
        assert missing == [], f"{where} does not name these {cls.__name__} events"


def _glance_table(heading: str) -> set[str]:
    text = (DOCS_DIR / "events.md").read_text()
    section = text.split(f"\n{heading}\n\n|", 1)[1].split("\n\n", 1)[0]
    return set(re.findall(r"^\| `([^`]+)` \|", "|" + section, re.M))


def test_the_events_at_a_glance_are_exactly_the_events() -> None:
    assert _glance_table("Device:") == set(Device.EVENTS)
    assert _glance_table("Call:") == set(Call.EVENTS)


_REPOSITORY_PATH = re.compile(r"`((?:tests|src|www|bench|docs|requirements|\.ci)/[^`\s]*)`")


@pytest.mark.parametrize("page", [p.name for p in sorted(DOCS_DIR.glob("*.md"))] + ["README.md"])
def test_every_repository_path_named_in_backticks_exists(page: str) -> None:
    path = REPO_ROOT / page if page == "README.md" else DOCS_DIR / page
    missing = []
    for written in _REPOSITORY_PATH.findall(path.read_text()):
        name = written.split("::")[0].rstrip(".,;:")
        if "<" in name:
            continue  # a placeholder (bench/bench_<name>.py)
        if not (list(REPO_ROOT.glob(name)) if "*" in name else (REPO_ROOT / name).exists()):
            missing.append(name)
    assert missing == []


def test_the_testing_page_is_the_click_to_call_example() -> None:
    """testing.md's Python blocks are verbatim parts of examples/click-to-call-app, whose tests
    tests/kit/test_example_app.py runs from the built wheels in a fresh virtualenv."""
    example = REPO_ROOT / "examples" / "click-to-call-app"
    sources = "\n".join(path.read_text() for path in sorted(example.rglob("*.py")))
    blocks = [block for block in BLOCKS if block.page == "testing.md" and block.language == "python"]
    assert len(blocks) == 5
    for block in blocks:
        assert block.code.strip() in sources, f"{block.ident} is not the example's code"
