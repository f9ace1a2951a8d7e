"""Failover between signalling servers: which URL is tried when, and what a bad list gets."""

from __future__ import annotations

import asyncio

import pytest

from twochat_voice_web.credentials import SipCredentials
from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.signalling_servers import SignallingServers

A, B, C = "wss://a.example.com/ws", "wss://b.example.com/ws", "wss://c.example.com/ws"


def _opener(dead: set[str], tried: list[str]):  # type: ignore[no-untyped-def]
    async def open_url(url: str) -> str:
        tried.append(url)
        if url in dead:
            raise VoiceSDKError(ErrorCode.TRANSPORT_ERROR, f"{url} refused")
        return f"conn:{url}"

    return open_url


def test_connect_skips_dead_servers_in_order_and_remembers_the_live_one() -> None:
    servers = SignallingServers([A, B, C])
    tried: list[str] = []
    connection, previous = asyncio.run(servers.connect(_opener({A}, tried)))
    assert (connection, previous, tried) == (f"conn:{B}", None, [A, B])
    assert servers.connected == B and servers.current == B


def test_a_drop_makes_the_next_server_first_and_wraps_around() -> None:
    servers = SignallingServers([A, B, C])
    tried: list[str] = []
    asyncio.run(servers.connect(_opener(set(), tried)))
    servers.rotate()
    _connection, previous = asyncio.run(servers.connect(_opener(set(), tried)))
    assert (servers.connected, previous) == (B, A)
    servers.rotate()
    servers.rotate()
    asyncio.run(servers.connect(_opener(set(), tried)))
    assert servers.connected == A  # after C comes A again
    assert tried == [A, B, A]


def test_when_every_server_fails_the_last_error_is_the_cause() -> None:
    servers = SignallingServers([A, B])
    tried: list[str] = []
    with pytest.raises(VoiceSDKError) as failed:
        asyncio.run(servers.connect(_opener({A, B}, tried)))
    assert tried == [A, B]
    assert failed.value.code is ErrorCode.TRANSPORT_ERROR and "none of the 2" in failed.value.message
    assert isinstance(failed.value.cause, VoiceSDKError) and B in failed.value.cause.message
    assert servers.connected is None and servers.current == A  # nothing changed


@pytest.mark.parametrize(
    "urls", [[], [A, "https://b.example.com/ws"], [A, "ws://127.0.0.1:5060/ws"], [A, A]], ids=str
)
def test_a_bad_list_is_refused(urls: list[str]) -> None:
    with pytest.raises(VoiceSDKError) as refused:
        SignallingServers(urls)
    assert refused.value.code is ErrorCode.CONFIG_FETCH_FAILED and "ws_urls" in refused.value.message


def test_credentials_list_ws_url_first_then_the_others() -> None:
    body = {"ws_urls": [B, C], "sip_uri": "sip:alice@example.com", "password": "x"}
    assert SipCredentials.from_mapping(body).all_ws_urls == (B, C)
    body["ws_url"] = A
    assert SipCredentials.from_mapping(body).all_ws_urls == (A, B, C)
    for bad in ("wss://x", [], [B, 3]):
        with pytest.raises(VoiceSDKError) as refused:
            SipCredentials.from_mapping({**body, "ws_urls": bad})
        assert refused.value.code is ErrorCode.CONFIG_FETCH_FAILED and "ws_urls" in refused.value.message
