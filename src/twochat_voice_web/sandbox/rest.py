"""The emulated 2Chat REST API (product.md §4, 2chat-voice-sdk.md §2).

Server-to-server endpoints (``X-User-API-Key``; no CORS headers, browsers must not call them):

- ``POST /sdk/voip/access-token`` and ``POST /open/sdk/access-token`` (2Chat's material shows both): JSON
  ``{"user_uuid", "label"?, "ttl"?}`` → ``{"success", "token", "user_uuid", "label", "expires_at"}``.
  ``ttl`` must be an integer (JSON number without fraction) and is clamped to 60..86400 (default 3600).
  Errors: 401 missing/bad key, 400 bad body (not a JSON object, ``user_uuid`` missing or not a string,
  ``label`` not a string, ``ttl`` not an integer), 404 unknown user.
- ``GET /open/users`` → ``{"success", "data": {"users": [{"uuid", "first_name", "last_name", "email"}]}}``.
- ``GET /open/voip/caller-ids?page_number=0&results_per_page=N`` → ``{"success", "page_number",
  "results_per_page", "total", "data": [caller ID objects]}`` (default page size 200, at most 1000).

Browser endpoint (``Authorization: Bearer <jwt>``, CORS per ``SandboxConfig.cors_origins``):

- ``GET /sdk/voip/sip-credentials`` → product.md §4's schema; 401 (with ``WWW-Authenticate: Bearer``) when
  the token is missing, malformed, forged or expired, or its user no longer exists.

Every error uses 2Chat's body ``{"success": false, "error": true, "error_message": "..."}``.
"""

from __future__ import annotations

import hmac
import json
import re
from typing import Any

from aiohttp import hdrs, web

from .state import ACCOUNT_UUID, STATE_KEY, SandboxState, UserAccount
from .tokens import TokenRejectedError, TokenRejection, iso_utc

__all__ = [
    "API_KEY_HEADER",
    "add_rest_routes",
    "check_api_key",
    "error_response",
    "local_origin",
    "request_origin",
]

API_KEY_HEADER = "X-User-API-Key"
"""The header carrying the account API key."""

MAX_LABEL_LENGTH = 256
"""Longest label accepted by the mint endpoint."""

DEFAULT_PAGE_SIZE = 200
MAX_PAGE_SIZE = 1000

_HOST_HEADER = re.compile(
    r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]{2,45}\])(?::[0-9]{1,5})?$"
)


def error_response(status: int, message: str, *, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response with 2Chat's error body."""
    return web.json_response(
        {"success": False, "error": True, "error_message": message}, status=status, headers=headers
    )


def local_origin(request: web.Request) -> str:
    """``http://host:port`` of the socket the request arrived on (trustworthy, unlike the Host header)."""
    sockname: Any = request.transport.get_extra_info("sockname") if request.transport else None
    if isinstance(sockname, tuple) and len(sockname) >= 2:
        host, port = str(sockname[0]), int(sockname[1])
        if host in ("0.0.0.0", ""):
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{request.scheme}://{host}:{port}"
    state = request.app[STATE_KEY]
    if state.base_url:
        return state.base_url
    return f"{request.scheme}://{state.config.host}:{state.config.port}"


def request_origin(request: web.Request) -> str:
    """``scheme://host[:port]`` as the client addressed us (Host header), or :func:`local_origin`."""
    host = request.headers.get(hdrs.HOST, "")
    if _HOST_HEADER.match(host):
        return f"{request.scheme}://{host}"
    return local_origin(request)


def check_api_key(request: web.Request) -> web.Response | None:
    """``None`` when the request carries the right API key, else the 401 response to send."""
    state = request.app[STATE_KEY]
    given = request.headers.get(API_KEY_HEADER)
    if not given:
        return error_response(401, f"Missing {API_KEY_HEADER} header")
    if not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), state.config.api_key.encode()):
        return error_response(401, "Invalid API key")
    return None


async def _json_object(request: web.Request) -> dict[str, Any] | None:
    raw = await request.read()
    try:
        body = json.loads(raw.decode("utf-8")) if raw.strip() else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return body if isinstance(body, dict) else None


async def mint_access_token(request: web.Request) -> web.Response:
    """``POST /sdk/voip/access-token`` (and the ``/open/sdk/access-token`` alias)."""
    refused = check_api_key(request)
    if refused is not None:
        return refused
    state = request.app[STATE_KEY]
    body = await _json_object(request)
    if body is None:
        return error_response(400, "Request body must be a JSON object with 'user_uuid'")
    user_uuid = body.get("user_uuid")
    if user_uuid is None or user_uuid == "":
        return error_response(400, "user_uuid is required")
    if not isinstance(user_uuid, str):
        return error_response(400, "user_uuid must be a string")
    label = body.get("label")
    if label is not None and not isinstance(label, str):
        return error_response(400, "label must be a string")
    if isinstance(label, str) and len(label) > MAX_LABEL_LENGTH:
        return error_response(400, f"label must be at most {MAX_LABEL_LENGTH} characters")
    ttl = body.get("ttl")
    if ttl is not None and type(ttl) is not int:
        return error_response(400, "ttl must be an integer number of seconds")
    user = state.users.by_uuid(user_uuid)
    if user is None:
        return error_response(404, f"User {user_uuid[:80]!r} not found")
    minted = state.tokens.mint(user.uuid, label=label, ttl=ttl)
    state.events.append(
        "token_minted", user_uuid=user.uuid, label=label, ttl=minted.claims.exp - minted.claims.iat,
        jti=minted.claims.jti, path=request.path,
    )
    return web.json_response(
        {
            "success": True,
            "token": minted.token,
            "user_uuid": user.uuid,
            "label": label,
            "expires_at": minted.expires_at,
        }
    )


def _cors_headers(request: web.Request) -> dict[str, str]:
    origins = request.app[STATE_KEY].config.cors_origins
    origin = request.headers.get(hdrs.ORIGIN)
    if "*" in origins:
        return {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: "*"}
    if origin is not None and origin in origins:
        return {hdrs.ACCESS_CONTROL_ALLOW_ORIGIN: origin, hdrs.VARY: hdrs.ORIGIN}
    return {}


async def credentials_preflight(request: web.Request) -> web.Response:
    """CORS preflight of the credentials endpoint."""
    headers = _cors_headers(request)
    if headers:
        headers.update(
            {
                hdrs.ACCESS_CONTROL_ALLOW_METHODS: "GET, OPTIONS",
                hdrs.ACCESS_CONTROL_ALLOW_HEADERS: "Authorization, Content-Type",
                hdrs.ACCESS_CONTROL_MAX_AGE: "600",
            }
        )
    return web.Response(status=204, headers=headers)


def _bearer_error(request: web.Request, message: str, code: str) -> web.Response:
    headers = _cors_headers(request)
    headers[hdrs.WWW_AUTHENTICATE] = f'Bearer realm="2chat", error="{code}"'
    if headers.get(hdrs.ACCESS_CONTROL_ALLOW_ORIGIN):
        headers[hdrs.ACCESS_CONTROL_EXPOSE_HEADERS] = hdrs.WWW_AUTHENTICATE
    return error_response(401, message, headers=headers)


def credentials_body(
    state: SandboxState, user: UserAccount, *, ws_url: str, expires_at: int
) -> dict[str, Any]:
    """The SIP-credentials JSON for ``user`` (product.md §4)."""
    return {
        "success": True,
        "ws_url": ws_url,
        "sip_uri": user.sip_uri(state.sip_domain),
        "username": user.sip_username,
        "password": user.sip_password,
        "realm": state.sip_domain,
        "display_name": user.display_name,
        "ice_servers": [dict(s) for s in state.config.ice_servers],
        "expires_at": iso_utc(expires_at),
        "caller_ids": [c.summary() for c in user.caller_ids],
    }


async def sip_credentials(request: web.Request) -> web.Response:
    """``GET /sdk/voip/sip-credentials`` with ``Authorization: Bearer <jwt>``."""
    state = request.app[STATE_KEY]
    authorization = request.headers.get(hdrs.AUTHORIZATION, "")
    scheme, _, token = authorization.strip().partition(" ")
    if not authorization:
        return _bearer_error(request, "Missing Authorization: Bearer <access token>", "invalid_request")
    if scheme.lower() != "bearer" or not token.strip():
        return _bearer_error(request, "Authorization must be 'Bearer <access token>'", "invalid_request")
    try:
        claims = state.tokens.verify(token.strip())
    except TokenRejectedError as exc:
        expired = exc.reason is TokenRejection.EXPIRED
        message = "Access token expired" if expired else f"Invalid access token: {exc}"
        return _bearer_error(request, message, "invalid_token")
    user = state.users.by_uuid(claims.sub)
    if user is None:
        return _bearer_error(request, "Access token user does not exist", "invalid_token")
    ws_url = state.ws_url_for(request_origin(request))
    state.events.append("credentials_fetched", user_uuid=user.uuid, jti=claims.jti)
    body = credentials_body(state, user, ws_url=ws_url, expires_at=claims.exp)
    listed = state.extras.get("ws_urls")  # PUT /sandbox/ws-urls (see .ws_urls)
    if listed:
        body["ws_url"], body["ws_urls"] = listed[0], list(listed)
    return web.json_response(body, headers=_cors_headers(request))


async def list_users(request: web.Request) -> web.Response:
    """``GET /open/users``."""
    refused = check_api_key(request)
    if refused is not None:
        return refused
    users = [
        {"uuid": u.uuid, "first_name": u.first_name, "last_name": u.last_name, "email": u.email}
        for u in request.app[STATE_KEY].users
    ]
    return web.json_response({"success": True, "data": {"users": users}})


def _int_query(request: web.Request, name: str, default: int, low: int, high: int) -> int | web.Response:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit():
        return error_response(400, f"{name} must be a non-negative integer")
    value = int(raw)
    if not low <= value <= high:
        return error_response(400, f"{name} must be between {low} and {high}")
    return value


async def list_caller_ids(request: web.Request) -> web.Response:
    """``GET /open/voip/caller-ids?page_number=0&results_per_page=N``."""
    refused = check_api_key(request)
    if refused is not None:
        return refused
    state = request.app[STATE_KEY]
    page = _int_query(request, "page_number", 0, 0, 1_000_000)
    if isinstance(page, web.Response):
        return page
    size = _int_query(request, "results_per_page", DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE)
    if isinstance(size, web.Response):
        return size
    created = iso_utc(state.started_at)
    items = [
        {
            "uuid": c.uuid,
            "account_uuid": ACCOUNT_UUID,
            "channel_uuid": c.channel_uuid,
            "phone_number": c.phone_number,
            "friendly_name": c.friendly_name,
            "iso_country_code": c.iso_country_code,
            "type": c.type,
            "verified": c.verified,
            "created_at": created,
            "updated_at": created,
            "expires_at": None,
        }
        for user in state.users
        for c in user.caller_ids
    ]
    return web.json_response(
        {
            "success": True,
            "page_number": page,
            "results_per_page": size,
            "total": len(items),
            "data": items[page * size : (page + 1) * size],
        }
    )


def add_rest_routes(app: web.Application) -> None:
    """Register the emulated 2Chat REST endpoints on ``app`` (paths from ``SandboxConfig.rest_paths``)."""
    paths = app[STATE_KEY].config.rest_paths
    for path in paths.mint:
        app.router.add_post(path, mint_access_token)
    app.router.add_get(paths.credentials, sip_credentials)
    app.router.add_route("OPTIONS", paths.credentials, credentials_preflight)
    app.router.add_get(paths.users, list_users)
    app.router.add_get(paths.caller_ids, list_caller_ids)
