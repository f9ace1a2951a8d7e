"""SIP credentials: what the SDK needs to register (WebSocket URL, SIP identity, secret, ICE servers).

2Chat's browser endpoint returns them for a token (``GET {api}/sdk/voip/sip-credentials`` with
``Authorization: Bearer <jwt>``). 2Chat does not publish the schema; ours (served by the sandbox) is
documented in ``docs/`` and parsed tolerantly: unknown fields are ignored, a few alternative names are
accepted. A ``credentials_provider`` may return :class:`SipCredentials` or a dict with the same keys, to use
any SIP-over-WebSocket server (Kamailio, FreeSWITCH, Asterisk).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ErrorCode, TokenError, VoiceSDKError
from .platform import IceServer, Platform
from .sip.errors import ParseError
from .sip.uri import SipUri, parse_uri
from .token import ServerClock

__all__ = ["CallerId", "SipCredentials", "fetch_credentials", "is_loopback_host", "parse_ice_servers"]

_LOOPBACK = re.compile(r"^(127(\.\d{1,3}){3}|\[?::1\]?|localhost)$", re.IGNORECASE)


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    return bool(_LOOPBACK.fullmatch(host))


@dataclass(frozen=True, slots=True)
class CallerId:
    """A caller ID the user may present (``GET /open/voip/caller-ids`` item)."""

    uuid: str
    phone_number: str


@dataclass(frozen=True, slots=True)
class SipCredentials:
    """Everything needed to register over SIP-over-WebSocket.

    Attributes:
        ws_url: ``wss://...`` (``ws://`` only for loopback hosts).
        sip_uri: the address of record, e.g. ``sip:alice@example.com``.
        username: digest user name.
        password: digest password.
        realm: digest realm, if known in advance.
        display_name: display name for From.
        ice_servers: STUN/TURN servers.
        expires_at: when these credentials stop working (ISO 8601), if they expire.
        caller_ids: caller IDs this user may present.
    """

    ws_url: str
    sip_uri: str
    username: str
    password: str
    realm: str | None = None
    display_name: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    expires_at: str | None = None
    caller_ids: tuple[CallerId, ...] = ()

    def __post_init__(self) -> None:
        scheme = urlsplit(self.ws_url).scheme.lower()
        if scheme not in ("ws", "wss"):
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, f"ws_url must be ws:// or wss://, got {self.ws_url!r}"
            )
        if not self.username or not isinstance(self.password, str):
            raise VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, "credentials need a username and a password")
        self.aor()  # validates

    def __repr__(self) -> str:
        fields = f"ws_url={self.ws_url!r}, sip_uri={self.sip_uri!r}, username={self.username!r}"
        return f"SipCredentials({fields}, password=***)"

    def aor(self) -> SipUri:
        """The SIP URI as a :class:`SipUri`."""
        try:
            uri = parse_uri(self.sip_uri)
        except ParseError as exc:
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, f"sip_uri is not a SIP URI: {exc.message}"
            ) from None
        if not isinstance(uri, SipUri) or not uri.host:
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, f"sip_uri is not a sip:/sips: URI: {self.sip_uri!r}"
            )
        return uri

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SipCredentials:
        """Build from the endpoint's JSON (or a provider's dict), tolerating alternative field names."""
        if isinstance(data, SipCredentials):
            return data
        if not isinstance(data, Mapping):
            raise VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, "credentials must be a JSON object")
        body: Mapping[str, Any] = data.get("data", data) if isinstance(data.get("data"), Mapping) else data

        def text(*names: str) -> str | None:
            for name in names:
                value = body.get(name)
                if isinstance(value, str) and value:
                    return value
            return None

        ws_url = text("ws_url", "wss_url", "websocket_url", "ws_uri")
        sip_uri = text("sip_uri", "uri", "aor")
        username = text("username", "authorization_user", "auth_username")
        password = body.get("password")
        if ws_url is None or sip_uri is None or not isinstance(password, str):
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED,
                "credentials lack ws_url, sip_uri or password",
                cause=dict(body).keys(),
            )
        if username is None:
            user = parse_uri(sip_uri)
            username = user.user if isinstance(user, SipUri) and user.user else ""
        caller_ids = tuple(
            CallerId(str(item.get("uuid", "")), str(item.get("phone_number", "")))
            for item in body.get("caller_ids") or ()
            if isinstance(item, Mapping) and item.get("phone_number")
        )
        return cls(
            ws_url=ws_url,
            sip_uri=sip_uri,
            username=username,
            password=password,
            realm=text("realm", "domain"),
            display_name=text("display_name", "name"),
            ice_servers=parse_ice_servers(body.get("ice_servers") or ()),
            expires_at=text("expires_at"),
            caller_ids=caller_ids,
        )


def parse_ice_servers(items: object) -> tuple[IceServer, ...]:
    """Parse RTCIceServer-like dicts (``urls`` a string or a list); raises INVALID_ARGUMENT on nonsense."""
    if not isinstance(items, list | tuple):
        raise VoiceSDKError(
            ErrorCode.INVALID_ARGUMENT, "ice_servers must be a list of {urls, username?, credential?}"
        )
    out: list[IceServer] = []
    for item in items:
        if isinstance(item, IceServer):
            out.append(item)
            continue
        if not isinstance(item, Mapping):
            raise VoiceSDKError(ErrorCode.INVALID_ARGUMENT, f"an ICE server must be an object, got {item!r}")
        urls = item.get("urls", item.get("url"))
        url_list = [urls] if isinstance(urls, str) else list(urls) if isinstance(urls, list | tuple) else []
        if not url_list or not all(
            isinstance(u, str) and re.match(r"^(stun|stuns|turn|turns):", u) for u in url_list
        ):
            raise VoiceSDKError(
                ErrorCode.INVALID_ARGUMENT, f"ICE server urls must be stun:/turn: URLs, got {urls!r}"
            )
        username = item.get("username")
        credential = item.get("credential")
        out.append(
            IceServer(
                tuple(url_list),
                username if isinstance(username, str) else None,
                credential if isinstance(credential, str) else None,
            )
        )
    return tuple(out)


async def fetch_credentials(
    platform: Platform,
    api_base_url: str,
    token: str,
    *,
    path: str = "/sdk/voip/sip-credentials",
    timeout: float = 10.0,
    clock: ServerClock | None = None,
) -> SipCredentials:
    """GET the SIP credentials for ``token``.

    ``clock``, when given, learns the server's time from the response's ``Date`` (whatever the status).

    Raises:
        TokenError: the API refused the token (401/403: ``TOKEN_INVALID``).
        VoiceSDKError: ``CONFIG_FETCH_FAILED`` (network, other HTTP status, unusable body; ``cause`` holds
            the status or the error) or ``TIMEOUT``.
    """
    url = api_base_url.rstrip("/") + path
    sent_at = clock.page_time() if clock is not None else 0.0
    response = await platform.http_get_json(
        url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
    )
    if clock is not None:
        clock.observe_date(response.date, sent_at=sent_at, received_at=clock.page_time())
    if response.status in (401, 403):
        message = _error_message(response.body) or "the API refused the token"
        raise TokenError(message, response.status, code=ErrorCode.TOKEN_INVALID)
    if response.status != 200:
        message = _error_message(response.body) or f"HTTP {response.status}"
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, f"fetching SIP credentials failed: {message}", response.status
        )
    if not isinstance(response.body, Mapping) or response.body.get("success") is False:
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, "the credentials response is not a usable JSON object"
        )
    return SipCredentials.from_mapping(response.body)


def _error_message(body: object) -> str | None:
    if isinstance(body, Mapping):
        message = body.get("error_message") or body.get("message")
        if isinstance(message, str):
            return message[:200]
    return None
