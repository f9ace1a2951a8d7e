"""register() failures carry the codes 2Chat documents, and every error class takes the same arguments.

The expectations come from 2Chat's error reference (/work/shared/spec/2chat-voice-sdk.md §6.3):
``CONFIG_FETCH_FAILED`` "fetching SIP credentials from the 2Chat API failed" (``cause``: the fetch error or
HTTP status), ``REGISTRATION_FAILED`` "SIP REGISTER failed", ``REGISTER_ERROR`` "lower-level UA failure
during REGISTER" (``cause``: the detail). ``TRANSPORT_ERROR`` and ``TIMEOUT`` are not 2Chat codes, so an app
written against 2Chat's SDK never sees them from register(): they only appear as a ``cause``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from fakes import DOMAIN, FakePlatform, make_token

from twochat_voice_web import Device, SipCredentials
from twochat_voice_web.errors import (
    AuthError,
    ErrorCode,
    MediaError,
    RegistrationError,
    TokenError,
    VoiceSDKError,
)
from twochat_voice_web.platform import HttpResponse

API = "http://127.0.0.1:9999"
TWOCHAT_REGISTER_CODES = {
    ErrorCode.TOKEN_INVALID,
    ErrorCode.TOKEN_EXPIRED,
    ErrorCode.AUTH_ERROR,
    ErrorCode.CONFIG_FETCH_FAILED,
    ErrorCode.REGISTRATION_FAILED,
    ErrorCode.REGISTER_ERROR,
}
"""The codes 2Chat's docs name for a rejected register() (spec §4.2)."""


async def register_error(platform: FakePlatform, **options: Any) -> VoiceSDKError:
    device = Device(make_token(), api_base_url=API, platform=platform, **options)
    with pytest.raises(VoiceSDKError) as info:  # never a raw ParseError, TypeError...
        await device.register()
    assert info.value.code in TWOCHAT_REGISTER_CODES, info.value
    assert device.state == "unregistered"
    return info.value


# ------------------------------------------------------------------------------------------ the fetch


@pytest.mark.parametrize("status", [404, 500, 502, 503])
async def test_a_credentials_endpoint_error_status_is_config_fetch_failed_with_the_status(status):
    platform = FakePlatform()
    platform.credentials_status = status
    error = await register_error(platform)
    assert error.code is ErrorCode.CONFIG_FETCH_FAILED
    assert error.cause == status
    assert platform.connections == 0


@pytest.mark.parametrize(
    "failure",
    [
        VoiceSDKError(ErrorCode.TIMEOUT, "GET took longer than 10 s"),
        VoiceSDKError(ErrorCode.CONFIG_FETCH_FAILED, "GET failed (TypeError: Failed to fetch)"),
    ],
    ids=["timeout", "network"],
)
async def test_a_credentials_fetch_that_gets_no_answer_is_config_fetch_failed(failure):
    platform = FakePlatform()

    async def no_answer(url: str, *, headers: Mapping[str, str], timeout: float) -> HttpResponse:
        raise failure

    platform.http_get_json = no_answer  # type: ignore[method-assign]
    error = await register_error(platform)
    assert error.code is ErrorCode.CONFIG_FETCH_FAILED
    assert error is failure or error.cause is failure  # the platform's detail stays reachable
    assert platform.connections == 0


@pytest.mark.parametrize(
    "body",
    [None, [1, 2], "text", {"success": False, "error": True, "error_message": "voice is disabled"}],
    ids=["not-json", "a-list", "a-string", "success-false"],
)
async def test_an_unusable_credentials_body_is_config_fetch_failed(body):
    platform = FakePlatform()
    platform.credentials = body
    error = await register_error(platform)
    assert error.code is ErrorCode.CONFIG_FETCH_FAILED
    if isinstance(body, dict):
        assert "voice is disabled" in error.message


# ------------------------------------------------------------------------------------------ the fields

MALFORMED_FIELDS = [
    ({"ws_url": 5}, "ws_url"),
    ({"ws_url": "https://sip.example.com/ws"}, "ws_url"),
    ({"ws_url": "ws://sip.example.com/ws"}, "ws_url"),  # plain ws:// to a host that is not loopback
    ({"ws_url": None}, "ws_url"),
    ({"sip_uri": "not a uri"}, "sip_uri"),
    ({"sip_uri": "tel:+15550100"}, "sip_uri"),
    ({"sip_uri": 42}, "sip_uri"),
    ({"sip_uri": "not a uri", "username": None}, "sip_uri"),
    ({"sip_uri": f"sip:{DOMAIN}", "username": None}, "username"),
    ({"username": 7}, "username"),
    ({"password": 1234}, "password"),
    ({"password": None}, "password"),
    ({"display_name": ["Alice"]}, "display_name"),
    ({"ice_servers": "stun:stun.example.com"}, "ice_servers"),
    ({"ice_servers": [{"urls": "https://not-stun"}]}, "ice_servers"),
    ({"ice_servers": [5]}, "ice_servers"),
    ({"caller_ids": "+15550200"}, "caller_ids"),
    ({"caller_ids": [5]}, "caller_ids[0]"),
    ({"caller_ids": [{"uuid": "VCI1"}]}, "caller_ids[0].phone_number"),
    ({"caller_ids": [{"uuid": 1, "phone_number": "+15550200"}]}, "caller_ids[0].uuid"),
]


@pytest.mark.parametrize(("change", "field"), MALFORMED_FIELDS)
async def test_a_malformed_credentials_field_is_config_fetch_failed_naming_it(change, field):
    platform = FakePlatform()
    platform.credentials.update(change)
    error = await register_error(platform)
    assert error.code is ErrorCode.CONFIG_FETCH_FAILED
    assert f"'{field}'" in error.message, error.message
    assert platform.connections == 0


@pytest.mark.parametrize(("change", "field"), MALFORMED_FIELDS)
async def test_a_provider_dict_with_a_malformed_field_is_config_fetch_failed_naming_it(change, field):
    platform = FakePlatform()
    credentials = {**platform.credentials, **change}

    async def provider(token: str) -> dict[str, Any]:
        return credentials

    error = await register_error(platform, credentials_provider=provider)
    assert error.code is ErrorCode.CONFIG_FETCH_FAILED
    assert f"'{field}'" in error.message, error.message
    assert platform.fetches == []


def test_sip_credentials_refuse_malformed_fields_when_made():
    good: dict[str, Any] = {
        "ws_url": "wss://sip.example.com",
        "sip_uri": "sip:alice@example.com",
        "username": "alice",
        "password": "pw",
    }
    made = SipCredentials(**good, ice_servers=({"urls": "stun:stun.example.com"},))  # type: ignore[arg-type]
    assert made.ice_servers[0].urls == ("stun:stun.example.com",)
    for change, field in [
        ({"username": ""}, "username"),
        ({"password": None}, "password"),
        ({"sip_uri": "sip:"}, "sip_uri"),
        ({"caller_ids": [{"uuid": "VCI1", "phone_number": "+1555"}]}, "caller_ids"),
        ({"ice_servers": ({"urls": "http://x"},)}, "ice_servers"),
    ]:
        with pytest.raises(VoiceSDKError) as info:
            SipCredentials(**{**good, **change})
        assert info.value.code is ErrorCode.CONFIG_FETCH_FAILED
        assert f"'{field}'" in info.value.message


def test_fields_the_sdk_does_not_use_are_not_part_of_the_credentials():
    """``realm`` and ``expires_at`` are served by the sandbox, but the SDK does nothing with them."""
    parsed = SipCredentials.from_mapping(
        {
            "ws_url": "wss://sip.example.com",
            "sip_uri": "sip:alice@example.com",
            "password": "pw",
            "realm": "example.com",
            "expires_at": "2030-01-01T00:00:00+00:00",
        }
    )
    assert parsed.username == "alice"
    assert not hasattr(parsed, "realm")
    assert not hasattr(parsed, "expires_at")


# ------------------------------------------------------------------------------ the WebSocket and REGISTER


@pytest.mark.parametrize("transport_code", [ErrorCode.TRANSPORT_ERROR, ErrorCode.TIMEOUT])
async def test_a_websocket_that_cannot_open_is_register_error_with_the_transport_detail(transport_code):
    platform = FakePlatform()
    failure = VoiceSDKError(transport_code, "cannot open a WebSocket to 'ws://127.0.0.1:9999/sip'")

    async def refuse(url: str, **_kwargs: Any) -> Any:
        raise failure

    platform.open_signalling = refuse  # type: ignore[method-assign]
    error = await register_error(platform)
    assert isinstance(error, RegistrationError)
    assert error.code is ErrorCode.REGISTER_ERROR
    assert error.cause is failure


async def test_a_register_that_times_out_is_registration_failed_with_a_timeout_cause():
    platform = FakePlatform()
    platform.server.receive = lambda data: None  # type: ignore[method-assign]  # a black hole
    error = await register_error(platform, register_timeout_ms=200)
    assert isinstance(error, RegistrationError)
    assert error.code is ErrorCode.REGISTRATION_FAILED
    assert isinstance(error.cause, VoiceSDKError)
    assert error.cause.code is ErrorCode.TIMEOUT


async def test_a_refused_register_is_registration_failed_with_the_sip_status():
    platform = FakePlatform()
    platform.server.reject_register = 503
    error = await register_error(platform)
    assert isinstance(error, RegistrationError)
    assert error.code is ErrorCode.REGISTRATION_FAILED
    assert error.cause == 503


# ------------------------------------------------------------------------------------------ constructors

CLASSES = [VoiceSDKError, AuthError, RegistrationError, TokenError, MediaError]


@pytest.mark.parametrize("cls", CLASSES)
def test_every_error_class_takes_code_message_cause_in_that_order(cls):
    cause = ValueError("underneath")
    error = cls(ErrorCode.CALL_FAILED, "what happened", cause)
    assert (error.code, error.message, error.cause) == (ErrorCode.CALL_FAILED, "what happened", cause)
    named = cls(code="CALL_FAILED", message="m", cause=7)
    assert (named.code, named.message, named.cause) == (ErrorCode.CALL_FAILED, "m", 7)
    with pytest.raises(TypeError):
        cls("a message first", ErrorCode.CALL_FAILED)  # the old order of the subclasses is refused
    with pytest.raises(TypeError):
        cls("a message first", code=ErrorCode.CALL_FAILED)


@pytest.mark.parametrize(
    ("cls", "default"),
    [
        (AuthError, ErrorCode.AUTH_ERROR),
        (RegistrationError, ErrorCode.REGISTRATION_FAILED),
        (TokenError, ErrorCode.TOKEN_INVALID),
        (MediaError, ErrorCode.MEDIA_DEVICE_ERROR),
    ],
)
def test_a_subclass_given_no_code_has_its_own(cls, default):
    assert cls(None, "m").code is default


def test_the_python_order_is_the_javascript_facades():
    """www/twochat-voice.js builds every error class as ``new X(code, message, options)``."""
    source = (Path(__file__).parents[2] / "www" / "twochat-voice.js").read_text()
    for cls in CLASSES:
        match = re.search(rf"class {cls.__name__}\b[^{{]*\{{.*?constructor\(([^)]*)\)", source, re.DOTALL)
        assert match is not None, cls.__name__
        params = [p.strip() for p in match.group(1).split(",")]
        assert params[:2] == ["code", "message"], (cls.__name__, params)
