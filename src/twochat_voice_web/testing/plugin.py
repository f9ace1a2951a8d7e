"""The pytest plugin (entry point ``twochat`` of twochat-voice-web-sandbox): the sandbox as fixtures.

Installed with ``pip install twochat-voice-web-sandbox``; pytest loads it by itself. It gives:

- ``twochat_sandbox`` (session): a fresh sandbox on a free loopback port serving the built runtime, stopped
  at the end of the session; its log is attached to the report of every test that fails while using it.
- ``twochat_clean``: hangs up every call and clears the event log before the test (``usefixtures`` or
  ``autouse`` it in your conftest).
- ``twochat_chromium_args`` / ``twochat_chromium_executable`` (session): Chromium's launch arguments and
  executable for pytest-playwright's ``browser_type_launch_args``.
- ``twochat_page``: a Playwright page in a fresh browser context whose ``base_url`` is the sandbox, with
  microphone permission granted; an uncaught page error fails the test.

Options: ``--twochat-port=N`` (0, the default: a free port), ``--twochat-keep-logs`` (keep the sandbox's
log after the session and print where), ``--twochat-site=DIR`` (the runtime site; default
``$TWOCHAT_SITE``, else ``dist/site`` here or in a parent directory). docs/testing.md documents it all.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path
from typing import Any

import pytest

from .chromium import CHROMIUM_ARGS, find_chromium
from .sandbox import TwoChatSandbox, TwoChatSandboxError, find_site, start_sandbox

__all__ = [
    "pytest_addoption",
    "pytest_runtest_makereport",
    "twochat_chromium_args",
    "twochat_chromium_executable",
    "twochat_clean",
    "twochat_page",
    "twochat_sandbox",
]

_LOG_OFFSET = pytest.StashKey[int]()
_SANDBOX = pytest.StashKey[TwoChatSandbox]()


def pytest_addoption(parser: pytest.Parser) -> None:
    """The plugin's command-line options (``pytest --help``, group ``twochat``)."""
    group = parser.getgroup("twochat", "twochat-voice-web sandbox")
    group.addoption("--twochat-port", type=int, default=0, metavar="PORT",
                    help="port of the sandbox on 127.0.0.1 (default 0: a free one)")
    group.addoption("--twochat-keep-logs", action="store_true", default=False,
                    help="keep the sandbox's log after the session and print where it is")
    group.addoption("--twochat-site", default=None, metavar="DIR",
                    help="the built runtime site the sandbox serves (default $TWOCHAT_SITE, else dist/site "
                    "in the current directory or a parent)")


@pytest.fixture(scope="session")
def twochat_sandbox(pytestconfig: pytest.Config) -> Iterator[TwoChatSandbox]:
    """A fresh 2Chat sandbox for the session, on a free 127.0.0.1 port (``--twochat-port``), serving the
    runtime site (``--twochat-site``): ``url``, ``ws_url``, ``api_key``, ``sip_domain``, ``users``,
    ``runtime_url``; ``mint_token(user="alice", *, ttl=3600, label=None)``, ``mount(prefix, directory)``,
    ``call_user(user, *, from_, headers, media, hangup_after, answer_timeout) -> call_id``,
    ``hangup(call_id)``, ``calls()``, ``events(kind=None, *, call_id=None)``,
    ``wait_for_event(kind, *, timeout=10.0, **match)``, ``drop(user)``, ``registrations()``, ``reset()``.

    Stopped at the end of the session; a failing test's report shows the sandbox log written during it.
    """
    site = find_site(pytestconfig.getoption("--twochat-site"), start=Path(str(pytestconfig.rootpath)))
    keep = bool(pytestconfig.getoption("--twochat-keep-logs"))
    run_dir = Path(tempfile.mkdtemp(prefix="twochat-sandbox-"))
    sandbox = start_sandbox(site, run_dir, port=int(pytestconfig.getoption("--twochat-port")))
    pytestconfig.stash[_SANDBOX] = sandbox
    try:
        yield sandbox
    finally:
        code = sandbox.stop()
        del pytestconfig.stash[_SANDBOX]
        reporter = pytestconfig.pluginmanager.get_plugin("terminalreporter")
        if keep:
            if reporter is not None:
                reporter.write_line(f"twochat: the sandbox log is kept at {sandbox.log_path}")
        else:
            shutil.rmtree(run_dir, ignore_errors=True)
        if code not in (0, -15):
            raise TwoChatSandboxError(f"the sandbox exited with {code} when stopped")


@pytest.fixture
def twochat_clean(twochat_sandbox: TwoChatSandbox) -> TwoChatSandbox:
    """The session's sandbox after ``reset()``: no live call, an empty event log. Use it per test
    (``@pytest.mark.usefixtures("twochat_clean")`` or an autouse fixture of your conftest)."""
    twochat_sandbox.reset()
    return twochat_sandbox


@pytest.fixture(scope="session")
def twochat_chromium_args() -> list[str]:
    """Chromium's launch arguments for calls through the sandbox: fake microphone (prompt accepted),
    WebRTC to 127.0.0.1, autoplay, and no traffic beyond loopback. For pytest-playwright::

        @pytest.fixture(scope="session")
        def browser_type_launch_args(browser_type_launch_args, twochat_chromium_args,
                                     twochat_chromium_executable):
            return {**browser_type_launch_args, "args": twochat_chromium_args,
                    "executable_path": twochat_chromium_executable}
    """
    return list(CHROMIUM_ARGS)


@pytest.fixture(scope="session")
def twochat_chromium_executable() -> str | None:
    """The Chromium to launch: ``$TWOCHAT_CHROMIUM``, Playwright's own when installed, else Debian's
    ``/usr/lib/chromium/chromium``; None when there is none (Playwright then uses its default)."""
    return find_chromium()


@pytest.fixture
def twochat_page(request: pytest.FixtureRequest, twochat_sandbox: TwoChatSandbox) -> Iterator[Any]:
    """A Playwright page (pytest-playwright's ``browser`` and ``browser_context_args``) in a new context
    whose ``base_url`` is the sandbox (``twochat_page.goto("/app/")``), microphone permission granted. A
    JavaScript error the page does not catch fails the test at teardown. Needs pytest-playwright (the
    ``playwright`` extra of twochat-voice-web-sandbox)."""
    try:
        browser = request.getfixturevalue("browser")
        context_args: dict[str, Any] = request.getfixturevalue("browser_context_args")
    except pytest.FixtureLookupError:
        raise TwoChatSandboxError(
            "twochat_page needs pytest-playwright: pip install 'twochat-voice-web-sandbox[playwright]'"
        ) from None
    context = browser.new_context(**{**context_args, "base_url": twochat_sandbox.url})
    context.grant_permissions(["microphone"], origin=twochat_sandbox.url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(f"{error.name}: {error.message}"))
    try:
        yield page
    finally:
        context.close()
    if errors:
        pytest.fail("uncaught page error(s) in twochat_page:\n" + "\n".join(errors), pytrace=False)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Generator[None, None, None]:
    """Remember where the sandbox log stood when the test started (for the failure report)."""
    sandbox = item.config.stash.get(_SANDBOX, None)
    if sandbox is not None:
        item.stash[_LOG_OFFSET] = sandbox.log_size()
    return (yield)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the sandbox log written during a failed test that used the sandbox to its report."""
    report = yield
    sandbox = item.config.stash.get(_SANDBOX, None)
    uses_sandbox = "twochat_sandbox" in getattr(item, "fixturenames", ())
    if report.failed and sandbox is not None and uses_sandbox:
        text = sandbox.log_text(item.stash.get(_LOG_OFFSET, 0))
        report.sections.append(("twochat sandbox log", text[-20_000:] or "(empty)"))
    return report
