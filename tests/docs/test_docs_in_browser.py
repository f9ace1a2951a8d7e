"""The built documentation works offline in Chromium: pages render, search works, nothing external loads.

The site is served from 127.0.0.1 by a throw-away HTTP server; every request Chromium makes to another
host is recorded and aborted. (Chromium's own flags already make other hosts unresolvable; recording
makes an attempt visible instead of a silent failure.)
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Playwright, Route
from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

PAGES = ("index.html", "quickstart.html", "device.html", "call.html", "errors.html", "sip-reference.html")


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site_url(built_site: Path) -> Iterator[str]:
    """The built site over HTTP on a free loopback port."""
    handler = functools.partial(_QuietHandler, directory=str(built_site))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="docs-site", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_pages_and_search_work_offline(
    site_url: str, playwright: Playwright, chromium_launch_options: dict[str, Any]
) -> None:
    external: list[str] = []
    page_errors: list[str] = []

    def only_loopback(route: Route) -> None:
        host = urlsplit(route.request.url).hostname
        if host in ("127.0.0.1", "localhost"):
            route.continue_()
        else:
            external.append(route.request.url)
            route.abort()

    browser = playwright.chromium.launch(**chromium_launch_options)
    try:
        context = browser.new_context()
        context.route("**/*", only_loopback)
        page = context.new_page()
        page.on("pageerror", lambda error: page_errors.append(str(error)))
        for name in PAGES:
            response = page.goto(f"{site_url}/{name}", wait_until="load")
            assert response is not None and response.ok, name
            assert page.locator("article h1").first.is_visible(), name
        page.goto(f"{site_url}/device.html", wait_until="load")
        assert page.locator("[id='twochat_voice_web.Device']").count() == 1  # the mkdocstrings reference
        search = page.locator("input.md-search__input")
        results = page.locator(".md-search-result__item")
        search.click()
        for _attempt in range(12):  # the search worker loads its index in the background: type again
            search.fill("")
            search.press_sequentially("update_token")
            try:
                results.first.wait_for(timeout=5_000)
                break
            except PlaywrightTimeoutError:
                continue
        assert results.count() > 0, "the search found nothing for 'update_token'"
        context.close()
    finally:
        browser.close()
    assert external == []
    assert page_errors == []
