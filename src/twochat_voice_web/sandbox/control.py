"""Sandbox control endpoints for tests: the event log over HTTP.

- ``GET /sandbox/events?since=<id>&kind=<kind>&call_id=<id>&wait=<seconds>`` →
  ``{"events": [{"id", "time", "kind", ...fields}], "last_id": <newest id ever>}``, oldest first.
  ``wait`` (0..30, default 0) long-polls until at least one matching event exists.
- ``DELETE /sandbox/events`` → ``{"success": true, "cleared": <n>, "last_id": <id>}`` (ids keep increasing).

The SIP server adds ``POST /sandbox/calls`` next to these.
"""

from __future__ import annotations

import json
import math

from aiohttp import web

from .rest import error_response
from .state import STATE_KEY

__all__ = ["MAX_WAIT_SECONDS", "add_control_routes", "clear_events", "get_events"]

MAX_WAIT_SECONDS = 30.0
"""Longest long-poll accepted by ``GET /sandbox/events``."""


async def get_events(request: web.Request) -> web.Response:
    """``GET /sandbox/events``."""
    events = request.app[STATE_KEY].events
    since_raw = request.query.get("since", "0") or "0"
    if not since_raw.isdigit():
        return error_response(400, "since must be a non-negative integer event id")
    wait_raw = request.query.get("wait", "0") or "0"
    try:
        wait = float(wait_raw)
    except ValueError:
        wait = math.nan
    if not 0 <= wait <= MAX_WAIT_SECONDS:
        return error_response(400, f"wait must be a number of seconds between 0 and {MAX_WAIT_SECONDS:g}")
    kind = request.query.get("kind") or None
    call_id = request.query.get("call_id") or None
    found = await events.wait_for(since=int(since_raw), kind=kind, call_id=call_id, timeout=wait)
    body = {"events": [e.to_json() for e in found], "last_id": events.last_id}
    return web.json_response(body, dumps=_dumps)


async def clear_events(request: web.Request) -> web.Response:
    """``DELETE /sandbox/events``."""
    events = request.app[STATE_KEY].events
    cleared = len(events)
    events.clear()
    return web.json_response({"success": True, "cleared": cleared, "last_id": events.last_id})


def _dumps(obj: object) -> str:
    """JSON encoding that never fails on an odd event field (falls back to ``str``)."""
    return json.dumps(obj, default=str)


def add_control_routes(app: web.Application) -> None:
    """Register the event-log endpoints on ``app``."""
    app.router.add_get("/sandbox/events", get_events)
    app.router.add_delete("/sandbox/events", clear_events)
