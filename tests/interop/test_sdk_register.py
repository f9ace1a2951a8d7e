"""Our SDK registers with a real Kamailio: digest MD5 over ws and wss, SHA-256, a wrong password.

The SDK runs in Chromium (Pyodide, tests/pages/sdk_harness.html) and gets its SIP account from a
``credentials_provider`` (`InteropStack.credentials`). What the SDK reports is checked against what
Kamailio saw: its usrloc (kamcmd ``ul.lookup``) and its sipdump of the REGISTER exchange.
"""

from __future__ import annotations

import re

import pytest

from browser.sdk_driver import SdkError

from .sdk_peer import InteropSdk, wait_sip_record
from .siptrace import SipTraceRecord
from .stack import LOOPBACK, InteropStack, Kamailio


def _challenge_and_answer(kamailio: Kamailio, user: str, since: float) -> tuple[str, str]:
    """(the WWW-Authenticate Kamailio sent to ``user``, the Authorization the SDK answered with)."""

    def is_challenge(record: SipTraceRecord) -> bool:
        return (
            record.direction == "snd"
            and record.first_line.startswith("SIP/2.0 401")
            and f"sip:{user}@" in (record.header("To") or "")
        )

    def is_answer(record: SipTraceRecord) -> bool:
        return (
            record.direction == "rcv"
            and record.first_line.startswith("REGISTER ")
            and record.header("Authorization") is not None
            and f'username="{user}"' in (record.header("Authorization") or "")
        )

    challenge = wait_sip_record(kamailio, is_challenge, f"a 401 challenge to {user}", since=since)
    answer = wait_sip_record(kamailio, is_answer, f"a REGISTER of {user} with credentials", since=since)
    return challenge.header("WWW-Authenticate") or "", answer.header("Authorization") or ""


def test_register_md5_over_ws_and_wss_then_unregister(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    kamailio = interop_stack.kamailio
    started = interop_stack.log_mark().time

    over_ws = sdk.registered_device("1001")
    over_wss = sdk.registered_device("1002", secure=True)

    ws_contacts = kamailio.registrations("1001")
    wss_contacts = kamailio.registrations("1002")
    assert [c.get("Socket") for c in ws_contacts] == [f"tcp:{LOOPBACK}:{kamailio.ws_port}"], (
        f"Kamailio's usrloc for 1001 (SDK over ws): {ws_contacts}"
    )
    assert [c.get("Socket") for c in wss_contacts] == [f"tls:{LOOPBACK}:{kamailio.wss_port}"], (
        f"Kamailio's usrloc for 1002 (SDK over wss): {wss_contacts}"
    )
    for contacts in (ws_contacts, wss_contacts):
        assert re.search(r"\.invalid;transport=wss?", contacts[0]["Address"]), contacts
        assert "urn:uuid:" in contacts[0].get("Instance", ""), (
            f"no +sip.instance in the SDK's Contact: {contacts}"
        )
    challenge, answer = _challenge_and_answer(kamailio, "1001", started)
    assert "qop=" in challenge and "SHA-256" not in challenge, f"Kamailio challenged 1001 with: {challenge}"
    assert "qop=auth" in answer and "SHA-256" not in answer, f"the SDK answered Kamailio with: {answer}"

    sdk.device(over_ws, "unregister")
    assert sdk.device(over_ws, "state") == "unregistered"
    assert kamailio.contacts("1001") == [], "Kamailio still has 1001's contact after the SDK's unregister()"
    assert sdk.device(over_wss, "state") == "registered"
    sdk.wait(over_ws, "unregistered")


def test_register_sha256(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    sha256 = interop_stack.sha256_kamailio()
    started = interop_stack.log_mark().time

    device = sdk.registered_device("1003", secure=True, kamailio=sha256)

    assert sha256.contacts("1003"), "the SHA-256 Kamailio has no contact for 1003 after the SDK registered"
    challenge, answer = _challenge_and_answer(sha256, "1003", started)
    assert "algorithm=SHA-256" in challenge, f"kamailio-sha256 challenged with: {challenge}"
    assert re.search(r"algorithm=\"?SHA-256", answer), (
        f"the SDK answered the SHA-256 challenge with: {answer}"
    )
    assert re.search(r'response="[0-9a-f]{64}"', answer), f"not a SHA-256 digest response: {answer}"
    assert sdk.device(device, "state") == "registered"


def test_wrong_password_is_auth_error(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    started = interop_stack.log_mark().time
    device = sdk.new_device("1004", password="not-the-password")

    with pytest.raises(SdkError) as failure:
        sdk.device(device, "register")

    assert failure.value.code == "AUTH_ERROR", f"register() with a wrong password raised {failure.value}"
    assert sdk.device(device, "state") == "unregistered"
    wait_sip_record(
        interop_stack.kamailio,
        lambda r: (
            r.direction == "snd"
            and r.first_line.startswith("SIP/2.0 403")
            and "sip:1004@" in (r.header("To") or "")
        ),
        "its 403 to the SDK's REGISTER with the wrong password",
        since=started,
    )
    assert interop_stack.kamailio.contacts("1004") == []
