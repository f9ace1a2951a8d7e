"""SIP credentials: what the SDK needs to register (WebSocket URL, SIP identity, secret, ICE servers).

2Chat's browser endpoint returns them for a token (``GET {api}/sdk/voip/sip-credentials`` with
``Authorization: Bearer <jwt>``). 2Chat does not publish the schema; ours (served by the sandbox) is
documented in ``docs/`` and parsed tolerantly: unknown fields are ignored, a few alternative names are
accepted. A ``credentials_provider`` may return :class:`SipCredentials` or a dict with the same keys, to use
any SIP-over-WebSocket server (Kamailio, FreeSWITCH, Asterisk).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ErrorCode, TokenError, VoiceSDKError
from .platform import IceServer, Platform
from .signalling_servers import SignallingServers
from .sip.errors import ParseError
from .sip.uri import SipUri, parse_uri
from .token import ServerClock

__all__ = [
    "CallerId",
    "CredentialsProvider",
    "SipCredentials",
    "fetch_credentials",
    "is_loopback_host",
    "obtain_credentials",
    "parse_ice_servers",
]

_LOOPBACK = re.compile(r"^(127(\.\d{1,3}){3}|\[?::1\]?|localhost)$", re.IGNORECASE)


def is_loopback_host(host: str) -> bool:
    """True for 127.0.0.0/8, ::1 and localhost."""
    return bool(_LOOPBACK.fullmatch(host))


@dataclass(frozen=True, slots=True)
class CallerId:
    """A caller ID the user may present (``GET /open/voip/caller-ids`` item)."""

    uuid: str
    phone_number: str


def _bad_field(name: str, problem: str, cause: Any = None) -> VoiceSDKError:
    """``CONFIG_FETCH_FAILED`` naming the credentials field that cannot be used."""
    return VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, f"credentials field {name!r} {problem}", cause)


def _kind(value: object) -> str:
    return "null" if value is None else type(value).__name__


@dataclass(frozen=True, slots=True)
class SipCredentials:
    """Everything needed to register over SIP-over-WebSocket.

    Every field is checked when the object is made: a field that cannot be used raises
    ``VoiceSDKError(CONFIG_FETCH_FAILED)`` whose message names the field (``register()`` reports it as is).

    Attributes:
        ws_url: ``wss://...`` (``ws://`` only for loopback hosts).
        sip_uri: the address of record, e.g. ``sip:alice@example.com``.
        username: digest user name.
        password: digest password.
        display_name: display name for From.
        ice_servers: STUN/TURN servers (:class:`~.platform.IceServer`, or ``{"urls", "username"?,
            "credential"?}`` mappings, turned into IceServer).
        caller_ids: caller IDs this user may present.
        ws_urls: more WebSocket URLs to fail over to, in order (see
            :mod:`~twochat_voice_web.signalling_servers`); ``ws_url`` is always tried first.
    """

    ws_url: str
    sip_uri: str
    username: str
    password: str
    display_name: str | None = None
    ice_servers: tuple[IceServer, ...] = ()
    caller_ids: tuple[CallerId, ...] = ()
    ws_urls: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.ws_url, str) or urlsplit(self.ws_url).scheme.lower() not in ("ws", "wss"):
            raise _bad_field("ws_url", f"must be a ws:// or wss:// URL, got {self.ws_url!r}")
        if not isinstance(self.ws_urls, tuple) or not all(
            isinstance(url, str) and urlsplit(url).scheme.lower() in ("ws", "wss") for url in self.ws_urls
        ):
            raise _bad_field("ws_urls", f"must be a list of ws:// or wss:// URLs, got {self.ws_urls!r}")
        if not isinstance(self.sip_uri, str) or not self.sip_uri:
            raise _bad_field("sip_uri", f"must be a sip:/sips: URI, got {_kind(self.sip_uri)}")
        self.aor()  # validates sip_uri
        if not isinstance(self.username, str) or not self.username:
            raise _bad_field("username", "must be a non-empty string (the digest user name)")
        if not isinstance(self.password, str):
            raise _bad_field("password", f"must be a string, got {_kind(self.password)}")
        if self.display_name is not None and not isinstance(self.display_name, str):
            raise _bad_field("display_name", f"must be a string or null, got {_kind(self.display_name)}")
        try:
            ice_servers = parse_ice_servers(self.ice_servers)
        except VoiceSDKError as exc:
            raise _bad_field("ice_servers", f"is not usable: {exc.message}", exc) from None
        object.__setattr__(self, "ice_servers", ice_servers)
        if not isinstance(self.caller_ids, tuple) or not all(
            isinstance(item, CallerId) for item in self.caller_ids
        ):
            raise _bad_field("caller_ids", "must be a tuple of CallerId")

    def __repr__(self) -> str:
        fields = f"ws_url={self.ws_url!r}, sip_uri={self.sip_uri!r}, username={self.username!r}"
        return f"SipCredentials({fields}, password=***)"

    @property
    def all_ws_urls(self) -> tuple[str, ...]:
        """``ws_url``, then the other ``ws_urls`` in order (each once)."""
        return (self.ws_url, *dict.fromkeys(url for url in self.ws_urls if url != self.ws_url))

    def aor(self) -> SipUri:
        """The SIP URI as a :class:`SipUri`."""
        return _parse_aor(self.sip_uri)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> SipCredentials:
        """Build from the endpoint's JSON (or a provider's dict), tolerating alternative field names.

        Unknown fields are ignored (``realm`` and ``expires_at``, which the sandbox serves, among them);
        a known field of the wrong type or shape raises ``CONFIG_FETCH_FAILED`` naming it.
        """
        if isinstance(data, SipCredentials):
            return data
        if not isinstance(data, Mapping):
            raise VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, "credentials must be a JSON object")
        body: Mapping[str, Any] = data.get("data", data) if isinstance(data.get("data"), Mapping) else data

        def text(*names: str) -> str | None:
            for name in names:
                value = body.get(name)
                if value is None:
                    continue
                if not isinstance(value, str):
                    raise _bad_field(name, f"must be a string, got {_kind(value)}")
                if value:
                    return value
            return None

        def required(*names: str) -> str:
            value = text(*names)
            if value is None:
                others = f" (or {', '.join(names[1:])})" if len(names) > 1 else ""
                raise _bad_field(names[0], f"is missing{others}", tuple(body.keys()))
            return value

        ws_urls = body.get("ws_urls")
        if ws_urls is not None and (
            not isinstance(ws_urls, list | tuple)
            or not ws_urls
            or not all(isinstance(url, str) for url in ws_urls)
        ):
            raise _bad_field("ws_urls", f"must be a non-empty list of URLs, got {_kind(ws_urls)}")
        ws_url = text("ws_url", "wss_url", "websocket_url", "ws_uri")
        if ws_url is None:
            ws_url = ws_urls[0] if ws_urls else required("ws_url", "wss_url", "websocket_url", "ws_uri")
        sip_uri = required("sip_uri", "uri", "aor")
        username = text("username", "authorization_user", "auth_username")
        password = body.get("password")
        if password is None:
            raise _bad_field("password", "is missing", tuple(body.keys()))
        if not isinstance(password, str):
            raise _bad_field("password", f"must be a string, got {_kind(password)}")
        if username is None:
            aor = _parse_aor(sip_uri)
            if not aor.user:
                raise _bad_field("username", f"is missing and sip_uri {sip_uri!r} has no user part")
            username = aor.user
        ice_servers = body.get("ice_servers")
        return cls(
            ws_url=ws_url,
            sip_uri=sip_uri,
            username=username,
            password=password,
            display_name=text("display_name", "name"),
            ice_servers=() if ice_servers is None else ice_servers,
            caller_ids=_caller_ids(body.get("caller_ids")),
            ws_urls=tuple(ws_urls or ()),
        )


def _parse_aor(sip_uri: str) -> SipUri:
    try:
        uri = parse_uri(sip_uri)
    except ParseError as exc:
        raise _bad_field("sip_uri", f"is not a SIP URI: {exc.message}", exc) from None
    if not isinstance(uri, SipUri) or not uri.host:
        raise _bad_field("sip_uri", f"is not a sip:/sips: URI: {sip_uri!r}")
    return uri


def _caller_ids(items: object) -> tuple[CallerId, ...]:
    if items is None:
        return ()
    if not isinstance(items, list | tuple):
        raise _bad_field("caller_ids", f"must be a list of {{uuid, phone_number}}, got {_kind(items)}")
    out: list[CallerId] = []
    for index, item in enumerate(items):
        where = f"caller_ids[{index}]"
        if not isinstance(item, Mapping):
            raise _bad_field(where, f"must be an object {{uuid, phone_number}}, got {_kind(item)}")
        uuid, number = item.get("uuid", ""), item.get("phone_number")
        if not isinstance(number, str) or not number:
            raise _bad_field(f"{where}.phone_number", f"must be a non-empty string, got {_kind(number)}")
        if not isinstance(uuid, str):
            raise _bad_field(f"{where}.uuid", f"must be a string, got {_kind(uuid)}")
        out.append(CallerId(uuid, number))
    return tuple(out)


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
        VoiceSDKError: ``CONFIG_FETCH_FAILED`` for anything else: a network error or a timeout (``cause``
            is the platform's ``VoiceSDKError``), another HTTP status (``cause`` is the status), or a body
            that is not usable (the message names the field).
    """
    url = api_base_url.rstrip("/") + path
    sent_at = clock.page_time() if clock is not None else 0.0
    try:
        response = await platform.http_get_json(
            url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )
    except VoiceSDKError as exc:
        if exc.code is ErrorCode.CONFIG_FETCH_FAILED:
            raise
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, f"fetching SIP credentials failed: {exc.message}", exc
        ) from None
    if clock is not None:
        clock.observe_date(response.date, sent_at=sent_at, received_at=clock.page_time())
    if response.status in (401, 403):
        message = _error_message(response.body) or "the API refused the token"
        raise TokenError(ErrorCode.TOKEN_INVALID, message, response.status)
    if response.status != 200:
        message = _error_message(response.body) or f"HTTP {response.status}"
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, f"fetching SIP credentials failed: {message}", response.status
        )
    if not isinstance(response.body, Mapping):
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, "the credentials response is not a JSON object", response.status
        )
    if response.body.get("success") is False:
        message = _error_message(response.body) or "success is false"
        raise VoiceSDKError(
            ErrorCode.CONFIG_FETCH_FAILED, f"the credentials response reports a failure: {message}"
        )
    return SipCredentials.from_mapping(response.body)


CredentialsProvider = Callable[[str], Awaitable["SipCredentials | Mapping[str, Any]"]]
"""The Device's ``credentials_provider``: the token in, :class:`SipCredentials` (or a mapping) out."""


async def obtain_credentials(
    platform: Platform,
    token: str,
    *,
    provider: CredentialsProvider | None,
    api_base_url: str,
    path: str,
    clock: ServerClock,
) -> SipCredentials:
    """The credentials to register with: from ``provider`` when there is one, else :func:`fetch_credentials`;
    then checked for use (``ws://`` only to a loopback host, a usable list of signalling servers).

    Raises:
        TokenError: as :func:`fetch_credentials`.
        VoiceSDKError: ``CONFIG_FETCH_FAILED`` (the provider failed, or as :func:`fetch_credentials`, or
            an insecure or unusable WebSocket URL); a ``VoiceSDKError`` the provider raised, unchanged.
    """
    if provider is not None:
        try:
            result = await provider(token)
        except VoiceSDKError:
            raise
        except Exception as exc:
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED, f"the credentials provider failed: {exc}", exc
            ) from None
        credentials = result if isinstance(result, SipCredentials) else SipCredentials.from_mapping(result)
    else:
        credentials = await fetch_credentials(platform, api_base_url, token, path=path, clock=clock)
    for url in credentials.all_ws_urls:
        ws = urlsplit(url)
        if ws.scheme == "ws" and not is_loopback_host(ws.hostname or ""):
            raise VoiceSDKError(
                ErrorCode.CONFIG_FETCH_FAILED,
                f"credentials field 'ws_url': refusing insecure ws:// to {ws.hostname}: use wss:// "
                "(ws:// is for loopback only)",
            )
    SignallingServers(credentials.all_ws_urls)  # validates the list before anything changes
    return credentials


def _error_message(body: object) -> str | None:
    if isinstance(body, Mapping):
        message = body.get("error_message") or body.get("message")
        if isinstance(message, str):
            return message[:200]
    return None
