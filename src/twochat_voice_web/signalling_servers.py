"""Several signalling servers: fail over from one SIP-over-WebSocket URL to the next (Twilio's edge
fallback).

The credentials may list several WebSocket URLs (``ws_urls``; ``ws_url`` is the first). The Device
connects through :class:`SignallingServers`:

* **connect**: try the current URL; when it cannot be opened (refused, timeout), the next one, and so on,
  each once per attempt; the first that opens becomes current. Only when every URL failed does the
  attempt fail (with the last error).
* **reconnect**: when an open connection drops, :meth:`SignallingServers.rotate` makes the *next* URL
  current, so the reconnection tries another server first (the one that dropped comes last).

``device.ws_url`` names the server in use; the Device emits ``serverChange`` (``{"ws_url", "previous"}``)
whenever it connects to a server other than the one it was last connected to (the first connection
included, with ``previous`` None).

State machine (per Device)::

    current = urls[0] --connect ok--> connected(current) --drop--> current = next(current) --connect...
         \\--connect fails--> current = next, until every url was tried once --> the attempt fails
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import TypeVar
from urllib.parse import urlsplit

from .errors import ErrorCode, VoiceSDKError

__all__ = ["SignallingServers"]

_T = TypeVar("_T")


class SignallingServers:
    """An ordered list of WebSocket URLs and the one in use.

    Args:
        urls: one or more ``ws://``/``wss://`` URLs, all with the same scheme (the SIP Via transport
            follows it).

    Raises:
        VoiceSDKError: ``CONFIG_FETCH_FAILED`` for an empty list, a URL that is not ws/wss, a repeated
            URL or mixed schemes.
    """

    def __init__(self, urls: Sequence[str]) -> None:
        if not urls:
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, "credentials field 'ws_urls': no WebSocket URL"
            )
        schemes = set()
        for url in urls:
            scheme = urlsplit(url).scheme.lower() if isinstance(url, str) else ""
            if scheme not in ("ws", "wss"):
                raise VoiceSDKError(
                    ErrorCode.CONFIG_FETCH_FAILED,
                    f"credentials field 'ws_urls': {url!r} is not a ws(s):// URL",
                )
            schemes.add(scheme)
        if len(schemes) > 1:
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, "credentials field 'ws_urls': mixes ws:// and wss:// URLs"
            )
        if len(set(urls)) != len(urls):
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, "credentials field 'ws_urls': a URL is repeated"
            )
        self._urls = tuple(urls)
        self._index = 0
        self._connected: str | None = None

    @property
    def urls(self) -> tuple[str, ...]:
        """Every URL, in order."""
        return self._urls

    @property
    def current(self) -> str:
        """The URL tried first at the next connection (the one in use while connected)."""
        return self._urls[self._index]

    @property
    def connected(self) -> str | None:
        """The URL of the last successful connection (None before the first)."""
        return self._connected

    def same_list(self, urls: Sequence[str]) -> bool:
        """True when ``urls`` is this list (fresh credentials that changed nothing)."""
        return tuple(urls) == self._urls

    async def connect(self, open_url: Callable[[str], Awaitable[_T]]) -> tuple[_T, str | None]:
        """Open the current URL, else each next one once; (the connection, the previously connected URL).

        Raises:
            VoiceSDKError: the last URL's error when none could be opened (its ``message`` names how many
                were tried).
        """
        last: VoiceSDKError | None = None
        for offset in range(len(self._urls)):
            index = (self._index + offset) % len(self._urls)
            try:
                connection = await open_url(self._urls[index])
            except VoiceSDKError as exc:
                last = exc
                continue
            previous, self._connected, self._index = self._connected, self._urls[index], index
            return connection, previous
        assert last is not None
        if len(self._urls) == 1:
            raise last
        raise VoiceSDKError(
            last.code,
            f"none of the {len(self._urls)} WebSocket URLs could be opened; last: {last.message}",
            last,
        )

    def rotate(self) -> None:
        """The connection dropped: the next URL becomes current (reconnection tries it first)."""
        self._index = (self._index + 1) % len(self._urls)
