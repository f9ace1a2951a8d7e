"""The signalling WebSocket (RFC 7118, subprotocol ``sip``) over the browser's ``WebSocket``.

One SIP message per frame. Incoming text frames are encoded to UTF-8 bytes, binary frames delivered as
they are. Outgoing messages go as text frames (RFC 7118 §5.3 says SIP over WS uses text frames when the
message is valid UTF-8, which every SIP message without a binary body is), or as a binary frame otherwise.

Lifetime: :func:`open_signalling` resolves once the handshake succeeded *and* the server selected ``sip``.
After that, ``on_close(code, reason)`` runs once if the server or the network ends the connection; after
our own :meth:`BrowserSignallingConnection.close` no callback runs at all (listeners are detached first,
then their proxies destroyed, then the socket closed).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any

import js
from pyodide.ffi import JsException

from twochat_voice_web.errors import ErrorCode, VoiceSDKError

from ._ffi import JsCallError, call_sync, to_js_value
from ._proxies import ProxyOwner

__all__ = ["SIP_SUBPROTOCOL", "BrowserSignallingConnection", "open_signalling"]

SIP_SUBPROTOCOL = "sip"

_OPEN = 1  # WebSocket.OPEN


class BrowserSignallingConnection:
    """An open signalling WebSocket. Implements the platform's ``SignallingConnection``."""

    def __init__(
        self,
        url: str,
        socket: Any,
        owner: ProxyOwner,
        on_message: Callable[[bytes], None],
        on_close: Callable[[int, str], None],
    ) -> None:
        self._url = url
        self._socket: Any = socket
        self._owner = owner
        self._on_message = on_message
        self._on_close = on_close
        self._closed = False

    @property
    def url(self) -> str:
        """The URL the connection was opened to."""
        return self._url

    @property
    def protocol(self) -> str:
        """The subprotocol the server selected (always ``"sip"`` for an open connection)."""
        return str(self._socket.protocol) if self._socket is not None else ""

    @property
    def closed(self) -> bool:
        """True after :meth:`close` or once the peer/network closed it."""
        return self._closed

    @property
    def buffered_amount(self) -> int:
        """Bytes queued by :meth:`send` and not yet handed to the network."""
        return int(self._socket.bufferedAmount) if self._socket is not None else 0

    def send(self, message: bytes) -> None:
        """Send one SIP message: a text frame when it is valid UTF-8, else a binary frame.

        Raises:
            VoiceSDKError: ``TRANSPORT_ERROR`` when the connection is closed.
        """
        if self._closed or self._socket is None or int(self._socket.readyState) != _OPEN:
            raise VoiceSDKError(
                ErrorCode.TRANSPORT_ERROR, f"the signalling connection to {self._url} is closed"
            )
        try:
            payload: Any = bytes(message).decode("utf-8")
        except UnicodeDecodeError:
            payload = to_js_value(bytes(message))
        try:
            call_sync(self._socket, "send", payload)
        except JsCallError as error:
            raise VoiceSDKError(
                ErrorCode.TRANSPORT_ERROR, f"sending on the signalling connection failed ({error})", error
            ) from error

    def close(self) -> None:
        """Close the connection (code 1000); idempotent. No callback runs after this."""
        if self._closed:
            return
        self._closed = True
        self._release_and_close(1000)

    def _release_and_close(self, code: int | None) -> None:
        socket, self._socket = self._socket, None
        self._owner.close()  # detach, then destroy: the socket's late "close" event finds nobody
        if socket is not None and code is not None and int(socket.readyState) < 2:  # CONNECTING or OPEN
            with contextlib.suppress(JsCallError):
                call_sync(socket, "close", code)

    # -- events (wired by open_signalling) --------------------------------------------------------------

    def _handle_message(self, event: Any) -> None:
        if self._closed:
            return
        data = event.data
        # binaryType is "arraybuffer": a frame is a str (text) or an ArrayBuffer (binary).
        payload = data.encode("utf-8") if isinstance(data, str) else js.Uint8Array.new(data).to_bytes()
        self._on_message(payload)

    def _handle_close(self, code: int, reason: str) -> None:
        if self._closed:
            return
        self._closed = True
        # Inside the "close" dispatch: release the proxies on the next turn, not while one is running.
        asyncio.get_running_loop().call_soon(self._release_and_close, None)
        self._on_close(code, reason)


async def open_signalling(
    url: str,
    *,
    on_message: Callable[[bytes], None],
    on_close: Callable[[int, str], None],
    timeout: float,
) -> BrowserSignallingConnection:
    """Open a WebSocket to ``url`` with subprotocol ``sip`` and wait (at most ``timeout`` s) for it.

    Raises:
        VoiceSDKError: ``TRANSPORT_ERROR`` when the URL is unusable, the handshake fails or is refused, or
            the server did not select ``sip``; ``TIMEOUT`` when the handshake takes longer than ``timeout``.
    """
    try:
        socket = js.WebSocket.new(url, SIP_SUBPROTOCOL)
    except JsException as error:  # SyntaxError: not a ws:// or wss:// URL
        raise VoiceSDKError(
            ErrorCode.TRANSPORT_ERROR, f"cannot open a WebSocket to {url!r} ({error})", error
        ) from error
    socket.binaryType = "arraybuffer"
    loop = asyncio.get_running_loop()
    opened: asyncio.Future[None] = loop.create_future()
    owner = ProxyOwner(f"signalling {url}")
    holder: list[BrowserSignallingConnection] = []

    def on_open(_event: Any) -> None:
        if not opened.done():
            opened.set_result(None)

    def on_socket_close(event: Any) -> None:
        code, reason = int(event.code), str(event.reason)
        if not opened.done():
            detail = f"code {code}" + (f", {reason!r}" if reason else "")
            opened.set_exception(
                VoiceSDKError(
                    ErrorCode.TRANSPORT_ERROR, f"the WebSocket handshake with {url} failed ({detail})", code
                )
            )
        elif holder:
            holder[0]._handle_close(code, reason)

    def on_socket_message(event: Any) -> None:
        if holder:
            holder[0]._handle_message(event)

    owner.listen(socket, "open", on_open)
    owner.listen(socket, "close", on_socket_close)
    owner.listen(socket, "message", on_socket_message)
    # "error" always precedes "close" and carries no detail: the close event reports the failure.
    connection = BrowserSignallingConnection(url, socket, owner, on_message, on_close)
    holder.append(connection)

    def abandon() -> None:
        connection._closed = True
        connection._release_and_close(1000)

    try:
        await asyncio.wait_for(asyncio.shield(opened), timeout)
    except TimeoutError as error:
        abandon()
        raise VoiceSDKError(
            ErrorCode.TIMEOUT, f"the WebSocket handshake with {url} took longer than {timeout:g} s"
        ) from error
    except VoiceSDKError:
        connection._closed = True
        owner.close()
        raise
    except BaseException:
        abandon()
        raise
    if str(socket.protocol) != SIP_SUBPROTOCOL:
        selected = repr(str(socket.protocol)) if str(socket.protocol) else "none"
        abandon()
        raise VoiceSDKError(
            ErrorCode.TRANSPORT_ERROR,
            f"the server at {url} did not select the WebSocket subprotocol 'sip' (it selected {selected})",
        )
    return connection
