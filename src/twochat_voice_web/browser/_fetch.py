"""HTTP GET of a JSON document with the browser's ``fetch``, bounded by an ``AbortController``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

import js

from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.platform import HttpResponse

from ._ffi import JsCallError, call_async, js_object

__all__ = ["http_get_json"]


def _response_headers(response: Any) -> dict[str, str]:
    headers: dict[str, str] = {}
    for entry in response.headers.entries():
        headers[str(entry[0]).lower()] = str(entry[1])
    return headers


async def http_get_json(url: str, *, headers: Mapping[str, str], timeout: float) -> HttpResponse:
    """GET ``url`` and parse the body as JSON (``body`` is None when it is not JSON).

    Any HTTP status is returned (the caller judges it). The whole exchange, body included, is aborted after
    ``timeout`` seconds. The response is never cached (``cache: "no-store"``): it may hold credentials.

    Raises:
        VoiceSDKError: ``TIMEOUT`` when aborted by the timeout, ``CONFIG_FETCH_FAILED`` on a network error
            (refused, DNS, CORS, a bad URL).
    """
    controller = js.AbortController.new()
    init = js_object({
        "method": "GET",
        "headers": {str(name): str(value) for name, value in headers.items()},
        "signal": controller.signal,
        "cache": "no-store",
    })
    timed_out = False

    def abort() -> None:
        nonlocal timed_out
        timed_out = True
        controller.abort()

    timer = asyncio.get_running_loop().call_later(max(timeout, 0.0), abort)
    try:
        response = await call_async(js.globalThis, "fetch", url, init)
        text = str(await call_async(response, "text"))
    except JsCallError as error:
        if timed_out:
            raise VoiceSDKError(
                ErrorCode.TIMEOUT, f"GET {url} took longer than {timeout:g} s", error
            ) from error
        raise VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, f"GET {url} failed ({error})", error) from error
    except BaseException:
        controller.abort()  # cancelled by the caller: do not leave the request running
        raise
    finally:
        timer.cancel()
    try:
        body: Any = json.loads(text) if text.strip() else None
    except ValueError:
        body = None
    return HttpResponse(status=int(response.status), body=body, headers=_response_headers(response))
