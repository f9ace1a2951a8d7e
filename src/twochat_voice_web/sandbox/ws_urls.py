"""Several signalling servers in the sandbox's credentials, for failover tests.

The SIP WebSocket is served at two paths of the same server: the configured one (``/sip``) and
:data:`SECOND_WS_PATH` (``/sip-b``), a second listener. By default the credentials name only the first
(``ws_url``). A test can make them list several URLs, in order, dead ones included:

- ``PUT /sandbox/ws-urls`` with ``{"urls": ["ws://127.0.0.1:9/sip", "ws://127.0.0.1:8080/sip-b"]}``: from
  then on the credentials carry ``ws_url`` (the first) and ``ws_urls`` (all of them) → ``{"urls"}``;
- ``GET /sandbox/ws-urls`` → ``{"urls": [...] | null}``;
- ``DELETE /sandbox/ws-urls``: back to the single default URL.

Each WebSocket connection's ``connection_opened`` event names the ``path`` it came in on.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from aiohttp import web

from .rest import error_response
from .state import STATE_KEY, SandboxState

__all__ = ["MAX_URLS", "SECOND_WS_PATH", "add_ws_url_routes", "listed_ws_urls"]

SECOND_WS_PATH = "/sip-b"
"""The second SIP WebSocket listener's path."""

MAX_URLS = 8
"""Most URLs ``PUT /sandbox/ws-urls`` accepts."""

_KEY = "ws_urls"


def listed_ws_urls(state: SandboxState) -> list[str] | None:
    """The URLs the credentials list (None: only the default ``ws_url``)."""
    urls = state.extras.get(_KEY)
    return list(urls) if urls else None


async def put_ws_urls(request: web.Request) -> web.Response:
    """``PUT /sandbox/ws-urls``."""
    try:
        body = await request.json()
    except ValueError:
        return error_response(400, 'the body must be JSON {"urls": [...]}')
    urls = body.get("urls") if isinstance(body, dict) else None
    if not isinstance(urls, list) or not 1 <= len(urls) <= MAX_URLS:
        return error_response(400, f"'urls' must be a list of 1 to {MAX_URLS} WebSocket URLs")
    for url in urls:
        if (
            not isinstance(url, str)
            or urlsplit(url).scheme not in ("ws", "wss")
            or not urlsplit(url).hostname
        ):
            return error_response(400, f"{url!r} is not a ws:// or wss:// URL")
    if len(set(urls)) != len(urls):
        return error_response(400, "a URL is listed twice")
    request.app[STATE_KEY].extras[_KEY] = tuple(urls)
    return web.json_response({"urls": urls})


async def get_ws_urls(request: web.Request) -> web.Response:
    """``GET /sandbox/ws-urls``."""
    return web.json_response({"urls": listed_ws_urls(request.app[STATE_KEY])})


async def delete_ws_urls(request: web.Request) -> web.Response:
    """``DELETE /sandbox/ws-urls``."""
    request.app[STATE_KEY].extras.pop(_KEY, None)
    return web.json_response({"urls": None})


def add_ws_url_routes(app: web.Application) -> None:
    """Register the ``/sandbox/ws-urls`` endpoints on ``app``."""
    app.router.add_put("/sandbox/ws-urls", put_ws_urls)
    app.router.add_get("/sandbox/ws-urls", get_ws_urls)
    app.router.add_delete("/sandbox/ws-urls", delete_ws_urls)
