"""Backend helper (CPython): mint 2Chat Voice SDK access tokens with the account API key.

Your backend keeps the long-lived ``X-User-API-Key``; the browser only ever receives the short-lived JWT::

    from twochat_voice_web.server import mint_access_token, InvalidApiKey

    token = mint_access_token(os.environ["TWOCHAT_API_KEY"], "USR...", label="agent-ada", ttl=1800)
    return {"token": token.token, "expires_at": token.expires_at.isoformat()}

:func:`mint_access_token` uses only the standard library (``urllib``); :func:`async_mint_access_token` uses
aiohttp when it is installed and otherwise runs the synchronous version in a worker thread.

2Chat's public material shows two mint paths, :data:`DEFAULT_MINT_PATH` and :data:`ALTERNATE_MINT_PATH`.
When the one asked for answers 404 with a body that is not a 2Chat error (the path does not exist there),
the helper tries the other one once, on the same origin; a custom ``path`` is never changed.

Failures raise a :class:`MintError` subclass built from 2Chat's error body
(``{"success": false, "error": true, "error_message": "..."}``): :class:`InvalidApiKey` (401/403),
:class:`UnknownUser` (400/404 with a 2Chat error body), :class:`RateLimited` (429),
:class:`ServerError` (5xx), :class:`TransportError` (timeout, connection failure), :class:`InvalidResponse`
(unusable answer, or no mint endpoint at either path), and
:class:`InvalidArgument` (also a ``ValueError``) for bad input refused before anything is sent. Server errors,
timeouts and connection failures are retried ``retries`` times with exponential backoff and jitter; nothing
else is. The API key never appears in log records, exception messages or reprs.
"""

from __future__ import annotations

import asyncio
import http.client
import json
import logging
import random
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from twochat_voice_web._version import __version__

try:
    import aiohttp
except ImportError:  # pragma: no cover - twochat-voice-web-sandbox depends on it
    aiohttp = None  # type: ignore[assignment]

__all__ = [
    "ALTERNATE_MINT_PATH",
    "DEFAULT_BASE_URL",
    "DEFAULT_MINT_PATH",
    "AccessToken",
    "InvalidApiKey",
    "InvalidArgument",
    "InvalidResponse",
    "MintError",
    "RateLimited",
    "ServerError",
    "TransportError",
    "UnknownUser",
    "async_mint_access_token",
    "mint_access_token",
]

log = logging.getLogger("twochat_voice_web.server")

DEFAULT_BASE_URL = "https://api.p.2chat.io"
"""2Chat's API origin."""

DEFAULT_MINT_PATH = "/sdk/voip/access-token"
"""The mint path of 2Chat's Voice SDK docs."""

ALTERNATE_MINT_PATH = "/open/sdk/access-token"
"""The mint path of the npm README (2Chat's public material shows both; the sandbox serves both)."""

_MAX_RESPONSE_BYTES = 1 << 20
_USER_AGENT = f"twochat-voice-web/{__version__} (server helper)"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """A minted access token.

    Attributes:
        token: the JWT to hand to the browser (left out of ``repr``).
        user_uuid: the 2Chat user it is bound to.
        label: the label echoed by 2Chat, or ``None``.
        expires_at: absolute expiry, timezone-aware (UTC).
    """

    token: str = field(repr=False)
    user_uuid: str
    label: str | None
    expires_at: datetime


class MintError(Exception):
    """Base of the mint errors.

    Attributes:
        status: HTTP status of the answer (``None`` when there was none: bad input, network failure).
        error_message: 2Chat's ``error_message`` (or a description of what went wrong).
    """

    def __init__(self, error_message: str, *, status: int | None = None) -> None:
        self.status = status
        self.error_message = error_message
        super().__init__(f"{error_message} (HTTP {status})" if status is not None else error_message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(status={self.status!r}, error_message={self.error_message!r})"


class InvalidArgument(MintError, ValueError):  # noqa: N818 - the documented public name
    """An argument was refused before any request was sent (the message names it, never the key)."""


class InvalidApiKey(MintError):  # noqa: N818 - the documented public name
    """2Chat refused the API key (401 or 403)."""


class UnknownUser(MintError):  # noqa: N818 - the documented public name
    """2Chat refused the user: 400 or 404 with 2Chat's error body (missing or unknown ``user_uuid``).

    A 400 or 404 without that body (a proxy's or web server's page) is an :class:`InvalidResponse`.
    """


class RateLimited(MintError):  # noqa: N818 - the documented public name
    """2Chat answered 429; ``retry_after`` is the server's hint in seconds, if any."""

    def __init__(
        self, error_message: str, *, status: int | None = 429, retry_after: float | None = None
    ) -> None:
        super().__init__(error_message, status=status)
        self.retry_after = retry_after


class ServerError(MintError):
    """2Chat answered 5xx (after the retries were used up)."""


class TransportError(MintError):
    """No answer: timeout or connection failure (after the retries were used up)."""


class InvalidResponse(MintError):  # noqa: N818 - the documented public name
    """An answer that is not a usable mint response (unexpected status, bad JSON, missing fields, no mint
    endpoint at either path)."""


@dataclass(frozen=True, slots=True)
class _Prepared:
    url: str
    body: bytes
    headers: dict[str, str] = field(repr=False)
    user_uuid: str
    api_key: str = field(repr=False)
    fallback_url: str | None = None
    """The other known mint path on the same origin, tried once after a 404 that is not 2Chat's."""


def _is_visible_ascii(text: str) -> bool:
    return all(0x21 <= ord(c) <= 0x7E for c in text)


def _prepare(
    *,
    api_key: object,
    user_uuid: object,
    label: object,
    ttl: object,
    base_url: object,
    path: object,
    timeout: object,
    retries: object,
) -> _Prepared:
    if not isinstance(api_key, str) or not api_key:
        raise InvalidArgument("api_key must be a non-empty string")
    if not _is_visible_ascii(api_key):
        raise InvalidArgument("api_key must contain only visible ASCII characters (no spaces, CR, LF or NUL)")
    if not isinstance(user_uuid, str) or not user_uuid.strip():
        raise InvalidArgument("user_uuid must be a non-empty string (a 2Chat user UUID, 'USR...')")
    if not _is_visible_ascii(user_uuid) or len(user_uuid) > 200:
        raise InvalidArgument(f"user_uuid {user_uuid[:60]!r} is not a plausible 2Chat user UUID")
    if label is not None and not isinstance(label, str):
        raise InvalidArgument(f"label must be a string or None, got {type(label).__name__}")
    if ttl is not None and (not isinstance(ttl, int) or isinstance(ttl, bool)):
        raise InvalidArgument(f"ttl must be an integer number of seconds or None, got {type(ttl).__name__}")
    if not isinstance(base_url, str):
        raise InvalidArgument("base_url must be a string such as 'https://api.p.2chat.io'")
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InvalidArgument(f"base_url must be an http(s) origin, got {base_url!r}")
    if not isinstance(path, str) or not path.startswith("/") or any(c in path for c in "\r\n\0 ?#"):
        raise InvalidArgument(
            f"path must be an absolute URL path such as {DEFAULT_MINT_PATH!r}, got {path!r}"
        )
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not timeout > 0:
        raise InvalidArgument(f"timeout must be a positive number of seconds, got {timeout!r}")
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise InvalidArgument(f"retries must be a non-negative integer, got {retries!r}")
    payload: dict[str, Any] = {"user_uuid": user_uuid}
    if label is not None:
        payload["label"] = label
    if ttl is not None:
        payload["ttl"] = ttl
    headers = {
        "X-User-API-Key": api_key,
        "Content-Type": "application/json",
        "Accept": "application/json",
        "User-Agent": _USER_AGENT,
    }
    origin = base_url.rstrip("/")
    other = _OTHER_MINT_PATH.get(path)
    return _Prepared(url=origin + path, body=json.dumps(payload).encode(), headers=headers,
                     user_uuid=user_uuid, api_key=api_key,
                     fallback_url=origin + other if other is not None else None)


_OTHER_MINT_PATH = {DEFAULT_MINT_PATH: ALTERNATE_MINT_PATH, ALTERNATE_MINT_PATH: DEFAULT_MINT_PATH}


def _json_body(raw: bytes) -> Any:
    try:
        return json.loads(raw.decode("utf-8")) if raw else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None


def _twochat_error(body: Any) -> str | None:
    """The ``error_message`` of 2Chat's error body (``{"success": false, "error": true, ...}``), else None."""
    if not isinstance(body, dict):
        return None
    message = body.get("error_message")
    if not isinstance(message, str) or not (body.get("success") is False or body.get("error") is True):
        return None
    return message


def _try_fallback(prepared: _Prepared, status: int, raw: bytes) -> _Prepared | None:
    """After a 404 that is not 2Chat's own answer: the request for the other mint path, once."""
    if status != 404 or prepared.fallback_url is None or _twochat_error(_json_body(raw)) is not None:
        return None
    log.info("no mint endpoint at %s (HTTP 404); trying %s", prepared.url, prepared.fallback_url)
    return replace(prepared, url=prepared.fallback_url, fallback_url=None)


def _redact(text: str, secret: str) -> str:
    return text.replace(secret, "[redacted]") if secret else text


def _parse_retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value.strip()))
    except ValueError:
        return None


def _interpret(prepared: _Prepared, status: int, raw: bytes, retry_after: str | None) -> AccessToken:
    """Turn an HTTP answer into an :class:`AccessToken` or raise the matching :class:`MintError`."""
    body = _json_body(raw)
    message: str | None = None
    if isinstance(body, dict) and isinstance(body.get("error_message"), str):
        message = _redact(body["error_message"], prepared.api_key)
    if 200 <= status < 300:
        if not isinstance(body, dict):
            raise InvalidResponse("mint response is not a JSON object", status=status)
        if body.get("success") is False or body.get("error") is True:
            raise InvalidResponse(message or "mint response reports a failure", status=status)
        return _token_from_body(prepared, status, body)
    text = message or f"{http.client.responses.get(status, 'HTTP error')}"
    if status in (401, 403):
        raise InvalidApiKey(text, status=status)
    if status in (400, 404):
        if _twochat_error(body) is not None:
            raise UnknownUser(text, status=status)
        what = "no mint endpoint at" if status == 404 else "a refusal that is not 2Chat's from"
        raise InvalidResponse(f"{what} {prepared.url}: {text}", status=status)
    if status == 429:
        raise RateLimited(text, status=status, retry_after=_parse_retry_after(retry_after))
    if status >= 500:
        raise ServerError(text, status=status)
    raise InvalidResponse(f"unexpected answer from the mint endpoint: {text}", status=status)


def _token_from_body(prepared: _Prepared, status: int, body: dict[str, Any]) -> AccessToken:
    token, expires_at = body.get("token"), body.get("expires_at")
    if not isinstance(token, str) or not token:
        raise InvalidResponse("mint response lacks 'token'", status=status)
    if not isinstance(expires_at, str):
        raise InvalidResponse("mint response lacks 'expires_at'", status=status)
    try:
        expiry = datetime.fromisoformat(expires_at)
    except ValueError:
        raise InvalidResponse(
            f"mint response 'expires_at' is not ISO 8601: {expires_at!r}", status=status
        ) from None
    if expiry.tzinfo is None:
        expiry = expiry.replace(tzinfo=UTC)
    user_uuid = body.get("user_uuid")
    label = body.get("label")
    return AccessToken(
        token=token,
        user_uuid=user_uuid if isinstance(user_uuid, str) and user_uuid else prepared.user_uuid,
        label=label if isinstance(label, str) else None,
        expires_at=expiry,
    )


def _retry_delay(attempt: int, backoff: float) -> float:
    """Exponential backoff with jitter: about ``backoff * 2**attempt`` seconds (50-100 % of it)."""
    return float(backoff * (2**attempt) * (0.5 + random.random() / 2))


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Never follow redirects: they would carry the API key to another URL."""

    def redirect_request(  # noqa: PLR0917 - urllib's signature
        self,
        req: urllib.request.Request,
        fp: Any,
        code: int,
        msg: str,
        headers: Any,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _send_sync(prepared: _Prepared, timeout: float) -> tuple[int, bytes, str | None]:
    request = urllib.request.Request(
        prepared.url, data=prepared.body, headers=prepared.headers, method="POST"
    )
    opener = urllib.request.build_opener(_NoRedirect())
    try:
        with opener.open(request, timeout=timeout) as response:
            raw = response.read(_MAX_RESPONSE_BYTES)
            return int(response.status), raw, response.headers.get("Retry-After")
    except urllib.error.HTTPError as exc:
        try:
            raw = exc.read(_MAX_RESPONSE_BYTES)
        except OSError:
            raw = b""
        finally:
            exc.close()
        return int(exc.code), raw, exc.headers.get("Retry-After") if exc.headers else None
    except (urllib.error.URLError, http.client.HTTPException, OSError) as exc:
        reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
        kind = "timed out" if isinstance(reason, TimeoutError) else "failed"
        raise TransportError(
            _redact(f"request to {prepared.url} {kind}: {type(reason).__name__}: {reason}", prepared.api_key)
        ) from None


def mint_access_token(
    api_key: str,
    user_uuid: str,
    *,
    label: str | None = None,
    ttl: int | None = None,
    base_url: str = DEFAULT_BASE_URL,
    path: str = DEFAULT_MINT_PATH,
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 0.5,
) -> AccessToken:
    """Mint an access token for ``user_uuid`` (blocking; standard library only).

    Args:
        api_key: the account's ``X-User-API-Key`` (server-side secret).
        user_uuid: the 2Chat user (``USR...``) the token is for.
        label: free text echoed in the token claims.
        ttl: requested lifetime in seconds (2Chat clamps it to 60..86400; default 3600).
        base_url: API origin (the sandbox's URL in development).
        path: mint path (:data:`DEFAULT_MINT_PATH` or :data:`ALTERNATE_MINT_PATH`; when one of these
            answers 404 without a 2Chat error body, the other is tried once).
        timeout: seconds per attempt.
        retries: extra attempts after a 5xx, timeout or connection failure.
        backoff: base delay in seconds before the first retry (doubling, with jitter).

    Raises:
        MintError: a subclass saying what went wrong (see the module docstring).
    """
    prepared = _prepare(
        api_key=api_key, user_uuid=user_uuid, label=label, ttl=ttl, base_url=base_url, path=path,
        timeout=timeout, retries=retries,
    )
    attempt = 0
    while True:
        log.debug("minting a token for %s at %s (attempt %d)", prepared.user_uuid, prepared.url, attempt + 1)
        try:
            status, raw, retry_after = _send_sync(prepared, float(timeout))
            fallback = _try_fallback(prepared, status, raw)
            if fallback is not None:
                prepared = fallback
                continue
            return _interpret(prepared, status, raw, retry_after)
        except (ServerError, TransportError) as exc:
            if attempt >= retries:
                raise
            delay = _retry_delay(attempt, backoff)
            log.info("mint attempt %d failed (%s); retrying in %.2f s", attempt + 1, exc.error_message, delay)
            time.sleep(delay)
        attempt += 1


async def _send_async(
    prepared: _Prepared, timeout: float, session: Any | None
) -> tuple[int, bytes, str | None]:
    assert aiohttp is not None
    client = session if session is not None else aiohttp.ClientSession()
    try:
        async with client.post(
            prepared.url,
            data=prepared.body,
            headers=prepared.headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
        ) as response:
            raw = await response.content.read(_MAX_RESPONSE_BYTES)
            return response.status, raw, response.headers.get("Retry-After")
    except TimeoutError:
        raise TransportError(f"request to {prepared.url} timed out after {timeout} s") from None
    except aiohttp.ClientError as exc:
        raise TransportError(
            _redact(f"request to {prepared.url} failed: {type(exc).__name__}: {exc}", prepared.api_key)
        ) from None
    finally:
        if session is None:
            await client.close()


async def async_mint_access_token(
    api_key: str,
    user_uuid: str,
    *,
    label: str | None = None,
    ttl: int | None = None,
    base_url: str = DEFAULT_BASE_URL,
    path: str = DEFAULT_MINT_PATH,
    timeout: float = 10.0,
    retries: int = 2,
    backoff: float = 0.5,
    session: Any | None = None,
) -> AccessToken:
    """Async :func:`mint_access_token` (same arguments and errors).

    Uses aiohttp when installed (``session``: an optional ``aiohttp.ClientSession`` to reuse), otherwise
    runs the blocking version in a worker thread.
    """
    if aiohttp is None:  # pragma: no cover - aiohttp is present wherever the tests run
        return await asyncio.to_thread(
            mint_access_token, api_key, user_uuid, label=label, ttl=ttl, base_url=base_url, path=path,
            timeout=timeout, retries=retries, backoff=backoff,
        )
    prepared = _prepare(
        api_key=api_key, user_uuid=user_uuid, label=label, ttl=ttl, base_url=base_url, path=path,
        timeout=timeout, retries=retries,
    )
    attempt = 0
    while True:
        log.debug("minting a token for %s at %s (attempt %d)", prepared.user_uuid, prepared.url, attempt + 1)
        try:
            status, raw, retry_after = await _send_async(prepared, float(timeout), session)
            fallback = _try_fallback(prepared, status, raw)
            if fallback is not None:
                prepared = fallback
                continue
            return _interpret(prepared, status, raw, retry_after)
        except (ServerError, TransportError) as exc:
            if attempt >= retries:
                raise
            delay = _retry_delay(attempt, backoff)
            log.info("mint attempt %d failed (%s); retrying in %.2f s", attempt + 1, exc.error_message, delay)
            await asyncio.sleep(delay)
        attempt += 1
