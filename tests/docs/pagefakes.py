"""What a documentation snippet needs to run in CPython: a fake page around the real SDK.

* :class:`PageEnvironment` installs stand-ins for the browser-only modules a PyScript page imports
  (``js``, ``pyscript``, ``pyodide.http``) and makes ``twochat_voice_web.Device`` build its
  Devices on the in-memory platform of the SDK tests (``tests/sdk/fakes.py``: a real SIP registrar and
  callee made of our own user agent, fake microphones and peer connections). Everything else — Device,
  Call, the SIP core, the events — is the real code.
* The DOM is built from the page's own HTML snippet: ``document.getElementById`` of an id that the HTML
  does not have raises, so the Python and the HTML of a page are checked against each other.
* :func:`run_snippet` executes a snippet like a PyScript ``<script type="py" async>``: top-level ``await``
  allowed, in a namespace the test prepares.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import inspect
import json
import sys
import types
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import twochat_voice_web
from twochat_voice_web import Device

SDK_FAKES_PATH = Path(__file__).resolve().parents[1] / "sdk" / "fakes.py"


def load_sdk_fakes() -> types.ModuleType:
    """``tests/sdk/fakes.py``, the SDK tests' in-memory platform, as a module."""
    name = "docs_sdk_fakes"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, SDK_FAKES_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


fakes = load_sdk_fakes()


# ------------------------------------------------------------------------------------------ the DOM


@dataclass
class Element:
    """A DOM element: the attributes the pages' Python reads and writes."""

    id: str
    tag: str
    value: str = ""
    textContent: str = ""  # noqa: N815 - the DOM's name
    disabled: bool = False


class _IdCollector(HTMLParser):
    """Collects the elements with an ``id`` and the ``<script type="py">`` tags of an HTML snippet."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: dict[str, Element] = {}
        self.py_scripts: list[dict[str, str | None]] = []
        self.open_tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        element_id = attributes.get("id")
        if element_id:
            self.elements[element_id] = Element(
                element_id, tag, value=attributes.get("value") or "", disabled="disabled" in attributes
            )
        if tag == "script" and attributes.get("type") == "py":
            self.py_scripts.append(attributes)


def parse_page(html: str) -> _IdCollector:
    """The ids and the Python scripts of an HTML snippet."""
    parser = _IdCollector()
    parser.feed(html)
    parser.close()
    return parser


class Document:
    """``pyscript.document``: ``getElementById`` over the ids of the page's HTML."""

    def __init__(self, html: str) -> None:
        self.elements = parse_page(html).elements

    def getElementById(self, element_id: str) -> Element:
        """The element, or a failure naming the id the HTML lacks."""
        if element_id not in self.elements:
            raise AssertionError(f"the page's HTML has no element with id {element_id!r}")
        return self.elements[element_id]


# ------------------------------------------------------------------------------------------ fetch


@dataclass
class FetchResponse:
    """What ``pyodide.http.pyfetch`` resolves with."""

    status: int
    body: Any

    @property
    def ok(self) -> bool:
        """True for 2xx, as ``Response.ok``."""
        return 200 <= self.status < 300

    async def json(self) -> Any:
        """The body, as ``await response.json()``."""
        return self.body

    async def text(self) -> str:
        """The body as text."""
        return self.body if isinstance(self.body, str) else json.dumps(self.body)


@dataclass
class FetchRecord:
    """One ``pyfetch`` the page made."""

    url: str
    method: str
    headers: Mapping[str, str]
    body: str | None


@dataclass
class PageEnvironment:
    """The fake browser around the real SDK for one test (see the module docstring)."""

    html: str = "<body></body>"
    routes: dict[str, Callable[[FetchRecord], FetchResponse]] = field(default_factory=dict)
    platform: Any = field(default_factory=fakes.FakePlatform)
    location_search: str = ""
    location_origin: str = "http://127.0.0.1:8765"
    fetches: list[FetchRecord] = field(default_factory=list)
    handlers: dict[tuple[str, str], Callable[..., Any]] = field(default_factory=dict)
    devices: list[Device] = field(default_factory=list)
    #: ``twochat_voice_web.Device`` while :meth:`installed`: Devices on the fake platform by default.
    Device: type[Device] = Device

    def __post_init__(self) -> None:
        self.document = Document(self.html)

    # --- pyodide.http

    async def pyfetch(
        self,
        url: str,
        method: str = "GET",
        headers: Mapping[str, str] | None = None,
        body: str | None = None,
        **options: Any,
    ) -> FetchResponse:
        """``pyodide.http.pyfetch``: answered by ``routes[url]``; an unknown URL fails the test."""
        record = FetchRecord(url, method, dict(headers or {}), body)
        self.fetches.append(record)
        if url not in self.routes:
            raise AssertionError(f"the page fetched {url!r}, which the test does not serve")
        await asyncio.sleep(0)
        return self.routes[url](record)

    # --- pyscript

    def when(self, event: str, selector: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """``pyscript.when``: records the handler; the selector must name an element of the HTML."""
        assert selector.startswith("#"), selector
        self.document.getElementById(selector[1:])

        def decorate(handler: Callable[..., Any]) -> Callable[..., Any]:
            self.handlers[(event, selector)] = handler
            return handler

        return decorate

    async def click(self, selector: str) -> None:
        """The user clicks ``selector``: its ``when("click", ...)`` handler runs (awaited if async)."""
        handler = self.handlers[("click", selector)]
        result = handler(types.SimpleNamespace(type="click"))
        if inspect.isawaitable(result):
            await result

    def text(self, element_id: str) -> str:
        """An element's ``textContent``."""
        return self.document.getElementById(element_id).textContent

    # --- installation

    def modules(self) -> dict[str, types.ModuleType]:
        """The stand-ins for the browser-only modules."""
        js = types.ModuleType("js")
        js.location = types.SimpleNamespace(search=self.location_search, origin=self.location_origin)  # type: ignore[attr-defined]
        js.URLSearchParams = types.SimpleNamespace(new=_SearchParams)  # type: ignore[attr-defined]
        pyscript = types.ModuleType("pyscript")
        pyscript.document = self.document  # type: ignore[attr-defined]
        pyscript.when = self.when  # type: ignore[attr-defined]
        pyodide = types.ModuleType("pyodide")
        http = types.ModuleType("pyodide.http")
        http.pyfetch = self.pyfetch  # type: ignore[attr-defined]
        pyodide.http = http  # type: ignore[attr-defined]
        return {"js": js, "pyscript": pyscript, "pyodide": pyodide, "pyodide.http": http}

    @contextmanager
    def installed(self, monkeypatch: pytest.MonkeyPatch) -> Iterator[PageEnvironment]:
        """Install the fake modules and the platform-bound ``Device`` for the duration of the block."""
        for name, module in self.modules().items():
            monkeypatch.setitem(sys.modules, name, module)
        environment = self

        class PageDevice(Device):
            """``Device`` with the fake platform as its default runtime (as the browser's is in a page)."""

            def __init__(self, token: str, **options: Any) -> None:
                options.setdefault("platform", environment.platform)
                super().__init__(token, **options)
                environment.devices.append(self)

        PageDevice.__name__ = "Device"
        PageDevice.__qualname__ = "Device"
        monkeypatch.setattr(twochat_voice_web, "Device", PageDevice)
        self.Device = PageDevice
        try:
            yield self
        finally:
            for device in self.devices:
                device.destroy()


class _SearchParams:
    """``URLSearchParams`` over a query string."""

    def __init__(self, search: str) -> None:
        from urllib.parse import parse_qs

        self._values = {k: v[-1] for k, v in parse_qs(search.lstrip("?")).items()}

    def get(self, name: str) -> str | None:
        """The value of ``name``, or None (JS ``null``)."""
        return self._values.get(name)


# ------------------------------------------------------------------------------------------ running


async def run_snippet(code: str, namespace: dict[str, Any], filename: str) -> dict[str, Any]:
    """Execute ``code`` in ``namespace`` with top-level ``await`` allowed (a PyScript ``async`` script);
    returns the namespace."""
    compiled = compile(code, filename, "exec", flags=ast.PyCF_ALLOW_TOP_LEVEL_AWAIT, dont_inherit=True)
    namespace.setdefault("__name__", "__docs_snippet__")
    result = eval(compiled, namespace)
    if inspect.iscoroutine(result):
        await result
    return namespace


async def until(condition: Callable[[], bool], what: str, timeout: float = 5.0) -> None:
    """Wait until ``condition()`` holds, failing after ``timeout`` seconds (no fixed sleeps)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.005)


def run(coroutine: Awaitable[Any], timeout: float = 30.0) -> Any:
    """Run one test coroutine on a fresh event loop, with a time limit."""
    return asyncio.run(asyncio.wait_for(_as_coroutine(coroutine), timeout))


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


def token_route(token: str) -> Callable[[FetchRecord], FetchResponse]:
    """A backend route that answers ``{"token": token}``."""
    return lambda record: FetchResponse(200, {"token": token, "expires_at": "later"})


def answer_outbound_calls(platform: Any) -> list[str]:
    """Make the fake SIP server ring (180) and answer every INVITE the Device sends, and answer every
    re-INVITE (hold: ``recvonly`` to a ``sendonly`` offer); returns the offers of those re-INVITEs."""
    reoffers: list[str] = []

    def on_incoming(event: Any) -> None:
        platform.server.call("ring", event.call)
        platform.server.call("answer", event.call, fakes.sdp(50))

    def on_event(event: Any) -> None:
        if isinstance(event, fakes.ev.RemoteOffer):
            reoffers.append(event.sdp)
            direction = "recvonly" if "a=sendonly" in event.sdp else "sendrecv"
            platform.server.call("answer_offer", event.call, fakes.sdp(60 + len(reoffers), direction))

    platform.server.on_incoming = on_incoming
    platform.server.on_event = on_event
    return reoffers


def place_inbound_call(platform: Any, headers: list[tuple[str, str]] | None = None) -> str:
    """The fake SIP server calls alice (the Device's user); returns the server-side handle."""
    from twochat_voice_web.sip.uri import parse_uri

    handle: str = platform.server.call(
        "invite", parse_uri(f"sip:alice@{fakes.DOMAIN}"), sdp=fakes.sdp(80), headers=list(headers or [])
    )
    return handle
