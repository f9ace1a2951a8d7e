"""The page's own backend, as a real integration would have one (here: the sandbox's demo endpoints).

- ``GET /demo/users`` lists the accounts a person may sign in as (:func:`fetch_users`).
- ``POST /demo/token`` mints an access token for one of them (:func:`fetch_token`). The backend holds the
  2Chat API key and calls 2Chat's mint endpoint itself: the key never reaches the browser.

Both raise :class:`BackendError` with a sentence for the person when the backend cannot be reached or
answers an error (2Chat's error body ``{"error_message": ...}`` is used when present).
"""

from __future__ import annotations

import json
from typing import Any, NamedTuple

from pyodide.http import pyfetch

__all__ = [
    "BackendError",
    "CallerId",
    "DemoDirectory",
    "DemoToken",
    "DemoUser",
    "fetch_token",
    "fetch_users",
]

USERS_URL = "./demo/users"
TOKEN_URL = "./demo/token"


class BackendError(Exception):
    """The page's backend could not give what was asked; ``str()`` is a sentence for a person."""


class CallerId(NamedTuple):
    """A number the user may present when calling out."""

    uuid: str
    phone_number: str


class DemoUser(NamedTuple):
    """A sandbox account (no secrets)."""

    name: str
    """Short name used to ask for a token (``alice``)."""
    uuid: str
    sip_username: str
    display_name: str
    caller_ids: tuple[CallerId, ...]

    @classmethod
    def from_json(cls, data: Any) -> DemoUser:
        """Build from one ``users`` entry of ``GET /demo/users``; BackendError when malformed."""
        if not isinstance(data, dict) or not isinstance(data.get("name"), str):
            raise BackendError("The list of accounts is malformed (an entry without a name).")
        caller_ids = tuple(
            CallerId(str(item.get("uuid", "")), str(item.get("phone_number", "")))
            for item in data.get("caller_ids") or []
            if isinstance(item, dict) and item.get("phone_number")
        )
        return cls(
            name=data["name"],
            uuid=str(data.get("uuid", "")),
            sip_username=str(data.get("sip_username", data["name"])),
            display_name=str(data.get("display_name") or data["name"]),
            caller_ids=caller_ids,
        )


class DemoDirectory(NamedTuple):
    """What ``GET /demo/users`` returns: the SIP domain and the accounts."""

    sip_domain: str
    users: tuple[DemoUser, ...]

    def user(self, name: str) -> DemoUser | None:
        """The account called ``name`` (or with that uuid), if any."""
        return next((user for user in self.users if name in (user.name, user.uuid)), None)


class DemoToken(NamedTuple):
    """An access token from ``POST /demo/token``."""

    token: str
    expires_at: str
    """ISO 8601 (``2026-05-08T14:30:00+00:00``), as the backend sent it."""
    user_uuid: str


async def _request(url: str, **options: Any) -> Any:
    try:
        response = await pyfetch(url, **options)
    except Exception as error:
        raise BackendError(f"Cannot reach the page's backend ({url}): {error}") from error
    try:
        body = await response.json()
    except Exception:
        body = None
    if not response.ok:
        message = body.get("error_message") if isinstance(body, dict) else None
        raise BackendError(f"The backend answered {response.status}: {message or response.status_text}")
    if not isinstance(body, dict):
        raise BackendError(f"The backend's answer to {url} is not a JSON object.")
    return body


async def fetch_users() -> DemoDirectory:
    """The accounts of ``GET /demo/users``."""
    body = await _request(USERS_URL, method="GET")
    users = body.get("users")
    if not isinstance(users, list):
        raise BackendError("The backend's list of accounts has no 'users'.")
    return DemoDirectory(
        sip_domain=str(body.get("sip_domain") or ""),
        users=tuple(DemoUser.from_json(item) for item in users),
    )


async def fetch_token(user: str) -> DemoToken:
    """A fresh access token for ``user`` (a name or uuid) from ``POST /demo/token``."""
    body = await _request(
        TOKEN_URL,
        method="POST",
        headers={"Content-Type": "application/json"},
        body=json.dumps({"user": user}),
    )
    token = body.get("token")
    if not isinstance(token, str) or not token:
        raise BackendError("The backend's answer has no token.")
    return DemoToken(
        token=token, expires_at=str(body.get("expires_at", "")), user_uuid=str(body.get("user_uuid", ""))
    )
