"""The DOMException -> SDK error mapping of twochat_voice_web.browser (pure; runs on CPython, no browser)."""

from __future__ import annotations

import importlib

import pytest

from twochat_voice_web.browser._errors import (
    MICROPHONE_DEVICE_ERRORS,
    MICROPHONE_PERMISSION_ERRORS,
    describe_js_error,
    microphone_error,
    output_device_error,
    peer_error,
)
from twochat_voice_web.errors import ErrorCode, MediaError, VoiceSDKError


@pytest.mark.parametrize("name", sorted(MICROPHONE_PERMISSION_ERRORS))
def test_permission_failures_map_to_permission_denied(name: str) -> None:
    error = microphone_error(name, "Permission denied", cause="js")
    assert isinstance(error, MediaError)
    assert error.code is ErrorCode.MEDIA_PERMISSION_DENIED
    assert name in error.message and "denied" in error.message
    assert error.cause == "js"


@pytest.mark.parametrize("name", sorted(MICROPHONE_DEVICE_ERRORS | {"SomethingNew"}))
def test_device_failures_map_to_device_error(name: str) -> None:
    error = microphone_error(name, "")
    assert error.code is ErrorCode.MEDIA_DEVICE_ERROR
    assert error.message.endswith(f"({name})")


def test_device_messages_say_what_to_do() -> None:
    not_found = microphone_error("NotFoundError", "", device_id="usb-1")
    assert "no microphone with device id 'usb-1'" in not_found.message
    assert microphone_error("NotFoundError", "Requested device not found").message == (
        "no microphone was found (NotFoundError: Requested device not found)"
    )
    assert "in use by another application" in microphone_error("NotReadableError", "x").message
    overconstrained = microphone_error("OverconstrainedError", "", device_id="x")
    assert "no microphone matches device id 'x'" in overconstrained.message
    assert "the microphone 'mic'" in microphone_error("NotAllowedError", "", device_id="mic").message


def test_output_device_errors() -> None:
    missing = output_device_error("NotFoundError", "Requested device not found", device_id="spk")
    assert missing.code is ErrorCode.OUTPUT_DEVICE_ERROR
    assert missing.message == (
        "no audio output device with id 'spk' (NotFoundError: Requested device not found)"
    )
    assert "may not use" in output_device_error("NotAllowedError", "", device_id="spk").message
    assert output_device_error("AbortError", "", device_id="spk").code is ErrorCode.OUTPUT_DEVICE_ERROR


@pytest.mark.parametrize(
    ("name", "remote", "code"),
    [
        ("InvalidStateError", False, ErrorCode.INVALID_STATE),
        ("InvalidStateError", True, ErrorCode.INVALID_STATE),
        ("OperationError", True, ErrorCode.PROTOCOL_ERROR),
        ("InvalidAccessError", True, ErrorCode.PROTOCOL_ERROR),
        ("OperationError", False, ErrorCode.CALL_FAILED),
    ],
)
def test_peer_errors(name: str, remote: bool, code: ErrorCode) -> None:
    error = peer_error("applying the remote SDP offer", name, "Failed to parse", remote=remote)
    assert type(error) is VoiceSDKError
    assert error.code is code
    assert error.message == f"applying the remote SDP offer failed ({name}: Failed to parse)"


def test_describe_js_error() -> None:
    assert describe_js_error("TypeError", "  bad  ") == "TypeError: bad"
    assert describe_js_error("AbortError", "") == "AbortError"


def test_package_imports_outside_the_browser_and_loads_js_names_lazily() -> None:
    browser = importlib.import_module("twochat_voice_web.browser")
    assert set(browser.__all__) == {"BrowserPlatform", "live_proxies"}
    with pytest.raises(ImportError):
        browser.BrowserPlatform  # noqa: B018 - needs the `js` module of Pyodide
    with pytest.raises(AttributeError):
        browser.NoSuchName  # noqa: B018
