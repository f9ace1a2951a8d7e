"""API input that cannot hurt (issue 7), property-tested in CPython: whatever a page passes to ``connect()``
(destination, extra header lines, caller ID) and ``send_digits()``, either the SDK refuses it with
``INVALID_ARGUMENT`` before anything is sent, or the INVITE that goes out carries exactly what was asked —
no CR/LF smuggled into a header, no extra header, no second Via, the destination as the Request-URI.
"""

from __future__ import annotations

import asyncio
import string
from typing import cast

import pytest
from fakes import FakePlatform, holds_for, make_token, sdp, wait_until
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from twochat_voice_web import Device
from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.platform import Platform
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.uri import SipUri

API = "http://127.0.0.1:9999"
NASTY = "\r\n\x00 :;<>\"',@%\t\x0b\x7f\u2028é"

destinations = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True),
    st.text(alphabet=string.digits + "+" + NASTY, max_size=20),
    st.builds(
        lambda user, junk: f"sip:{user}@sandbox.test{junk}",
        st.text(string.ascii_lowercase, min_size=1, max_size=8),
        st.text(NASTY, max_size=4),
    ),
    st.text(max_size=30),
)
header_names = st.one_of(
    st.from_regex(r"X-[A-Za-z][A-Za-z0-9-]{0,10}", fullmatch=True),
    st.sampled_from(
        ["Via", "Contact", "To", "Call-ID", "Route", "Max-Forwards", "v", "X-Bad Name", "", "X:Y"]
    ),
    st.text(max_size=12),
)
header_values = st.one_of(
    st.text(string.ascii_letters + string.digits + " -_.", max_size=20), st.text(max_size=20)
)
header_lines = st.lists(st.builds(lambda n, v: f"{n}: {v}", header_names, header_values), max_size=3)
caller_numbers = st.one_of(
    st.none(), st.from_regex(r"\+[1-9][0-9]{1,14}", fullmatch=True), st.text(max_size=16)
)


async def _try_connects(cases: list[tuple[str, list[str], str | None]]) -> None:
    platform = FakePlatform()
    platform.server.on_incoming = lambda e: platform.server.call("answer", e.call, sdp(50))
    device = Device(make_token(), api_base_url=API, platform=cast(Platform, platform))
    await device.register()
    for to, lines, from_ in cases:
        before = len(platform.server.requests("INVITE"))
        try:
            call = await device.connect(to, from_=from_, extra_headers=lines)
        except VoiceSDKError as error:
            assert error.code is ErrorCode.INVALID_ARGUMENT, (to, lines, from_, error)  # noqa: PT017
            # an INVITE sent anyway would reach the in-memory server within a few event-loop turns
            await holds_for(
                lambda n=before: len(platform.server.requests("INVITE")) == n,
                seconds=0.01,
                what="no INVITE from a refused connect()",
            )
            continue
        await wait_until(
            lambda n=before: len(platform.server.requests("INVITE")) > n, what="the INVITE at the server"
        )
        invites = platform.server.requests("INVITE")
        assert len(invites) == before + 1
        invite: Request = invites[-1]
        assert len(invite.via) == 1
        asked: dict[str, list[str]] = {}
        for line in lines:
            name, _, value = line.partition(":")
            asked.setdefault(name.strip(), []).append(value.strip())
        for name, values in asked.items():
            assert invite.headers.get_all(name) == values, (lines, invite.headers)
        expected_names = {line.partition(":")[0].strip().lower() for line in lines}
        if from_ is not None:
            expected_names.add("x-2chat-from")
        standard = {
            "via", "max-forwards", "from", "to", "call-id", "cseq", "contact", "content-type",
            "content-length", "allow", "supported", "user-agent", "session-expires", "min-se",
        }  # fmt: skip
        unexpected = {n.lower() for n, _ in invite.headers} - standard - expected_names
        assert not unexpected, (to, lines, unexpected)
        assert isinstance(invite.uri, SipUri) and invite.uri.host
        await call.disconnect()
    device.destroy()
    assert [e for e in platform.server.events if isinstance(e, ev.MessageRejected)] == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(destinations, header_lines, caller_numbers), min_size=1, max_size=6))
def test_connect_input_is_refused_or_sent_exactly(cases: list[tuple[str, list[str], str | None]]) -> None:
    asyncio.run(asyncio.wait_for(_try_connects(cases), 30))


async def _try_digits(inputs: list[str]) -> None:
    platform = FakePlatform()
    platform.server.on_incoming = lambda e: platform.server.call("answer", e.call, sdp(50))
    device = Device(make_token(), api_base_url=API, platform=cast(Platform, platform), dtmf_transport="info")
    await device.register()
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted", what="the call to be answered")
    accepted: list[str] = []
    for digits in inputs:
        try:
            call.send_digits(digits)
        except VoiceSDKError as error:
            assert error.code is ErrorCode.INVALID_ARGUMENT  # noqa: PT017
            continue
        assert digits and set(digits) <= set("0123456789ABCDabcd*#wW,"), repr(digits)
        accepted.append(digits)
    tones = [c for c in "".join(accepted) if c not in "wW,"]
    pauses = sum(0.5 if c in "wW" else 2.0 for c in "".join(accepted) if c in "wW,")

    def sent() -> list[str]:
        return [e.digit for e in platform.server.events if isinstance(e, ev.DtmfInfoReceived)]

    # every tone takes ~0.17 s and every pause 0.5/2 s: wait for all of them, with room for a loaded machine
    await wait_until(lambda: len(sent()) >= len(tones), timeout=10 + pauses + len(tones), what="every digit")
    assert sent() == [c.upper() for c in tones], (inputs, sent())
    await call.disconnect()
    device.destroy()


@settings(max_examples=20, deadline=None)
@given(st.lists(st.text(alphabet="0123456789*#ABCDabcdwxX!\r\n \x00é", max_size=5), min_size=1, max_size=5))
def test_digits_are_refused_or_valid(inputs: list[str]) -> None:
    asyncio.run(asyncio.wait_for(_try_digits(inputs), 90))


async def test_a_trailing_newline_is_not_a_valid_number_digit_or_host() -> None:
    """``re.match(r"^...$")`` accepts a trailing newline: these checks must match the whole string."""
    from twochat_voice_web.credentials import is_loopback_host

    platform = FakePlatform()
    platform.server.on_incoming = lambda e: platform.server.call("answer", e.call, sdp(50))
    device = Device(make_token(), api_base_url=API, platform=cast(Platform, platform))
    await device.register()
    for kwargs in ({"from_": "+15550200\n"}, {"caller_id": "VCI1\n"}):
        with pytest.raises(VoiceSDKError) as info:
            await device.connect("+15550100", **kwargs)
        assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert platform.media.opened == [], "a refused connect() must not even open the microphone"
    call = await device.connect("+15550100")
    await wait_until(lambda: call.status == "accepted", what="the call to be answered")
    for digits in ("1\n", "#\n"):
        with pytest.raises(VoiceSDKError) as info:
            call.send_digits(digits)
        assert info.value.code is ErrorCode.INVALID_ARGUMENT
    assert not is_loopback_host("localhost\n") and not is_loopback_host("127.0.0.1\n")
    assert is_loopback_host("127.0.0.1") and is_loopback_host("localhost")
    await call.disconnect()
    device.destroy()


async def test_compact_forms_of_the_headers_the_sdk_sets_are_refused() -> None:
    """RFC 3261 §7.3.3 (and RFC 4028 for ``x``): a compact name is the same header as its long form."""
    platform = FakePlatform()
    platform.server.on_incoming = lambda e: platform.server.call("answer", e.call, sdp(50))
    device = Device(make_token(), api_base_url=API, platform=cast(Platform, platform))
    await device.register()
    # compact forms from RFC 3261 §7.3.3 (v, f, t, i, m, l, c) and RFC 4028 §4 (x = Session-Expires)
    lines = ("v: SIP/2.0/WS a.invalid", "f: <sip:a@b>", "x: Y:", "X: 90", "Min-SE: 90", "session-expires: 90")
    for line in lines:
        with pytest.raises(VoiceSDKError) as info:
            await device.connect("+15550100", extra_headers=[line])
        assert info.value.code is ErrorCode.INVALID_ARGUMENT, line
    assert platform.server.requests("INVITE") == []
    device.destroy()
