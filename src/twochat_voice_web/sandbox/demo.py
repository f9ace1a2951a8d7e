"""The demo backend of the softphone page: what a customer's own app server would do.

- ``POST /demo/token`` with JSON ``{"user": "<name or USR… uuid>", "label"?}`` →
  ``{"token", "expires_at", "user_uuid"}``. The token is minted *through*
  :func:`twochat_voice_web.server.async_mint_access_token` against this very server, exactly as a
  production backend calls 2Chat, so the API key never reaches the browser. Lifetime:
  ``--demo-token-ttl``.
- ``GET /demo/users`` → ``{"sip_domain", "users": [{"name", "uuid", "sip_username", "display_name",
  "caller_ids"}]}`` (no secrets).

Errors use 2Chat's error body: 400 bad body, 404 unknown user, 502 when the mint call fails.
"""

from __future__ import annotations

import json

from aiohttp import web

from twochat_voice_web.server import MintError, async_mint_access_token

from .rest import error_response, local_origin
from .state import STATE_KEY

__all__ = ["add_demo_routes", "demo_token", "demo_users"]


async def demo_token(request: web.Request) -> web.Response:
    """``POST /demo/token``: mint a token for a sandbox user via the backend helper."""
    state = request.app[STATE_KEY]
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else {}
    except (UnicodeDecodeError, json.JSONDecodeError):
        return error_response(400, "Request body must be a JSON object like {\"user\": \"alice\"}")
    if not isinstance(body, dict):
        return error_response(400, "Request body must be a JSON object like {\"user\": \"alice\"}")
    key = body.get("user")
    if not isinstance(key, str) or not key:
        return error_response(400, "'user' (a sandbox user name or USR… uuid) is required")
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        return error_response(400, "'label' must be a string")
    user = state.users.by_name_or_uuid(key)
    if user is None:
        return error_response(404, f"Unknown sandbox user {key[:80]!r}")
    try:
        minted = await async_mint_access_token(
            state.config.api_key,
            user.uuid,
            label=label if label is not None else f"demo-{user.name}",
            ttl=state.config.demo_token_ttl,
            base_url=local_origin(request),
            path=state.config.rest_paths.mint[0],
            timeout=10.0,
            retries=0,
        )
    except MintError as exc:
        return error_response(502, f"Minting the demo token failed: {exc.error_message}")
    return web.json_response(
        {"token": minted.token, "expires_at": minted.expires_at.isoformat(), "user_uuid": minted.user_uuid}
    )


async def demo_users(request: web.Request) -> web.Response:
    """``GET /demo/users``: the ready-made users, without secrets."""
    state = request.app[STATE_KEY]
    return web.json_response(
        {"sip_domain": state.sip_domain, "users": [u.public_info() for u in state.users]}
    )


def add_demo_routes(app: web.Application) -> None:
    """Register ``POST /demo/token`` and ``GET /demo/users`` on ``app``."""
    app.router.add_post("/demo/token", demo_token)
    app.router.add_get("/demo/users", demo_users)
