"""UserAgent.invite(call_id=...): a back-to-back server keeps one Call-ID on every leg."""

from __future__ import annotations

import pytest
from uapair import OFFER, bob_uri, call_pair

from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.errors import LocalProtocolError


def test_invite_uses_the_given_call_id():
    pair = call_pair()
    handle = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER, call_id="leg-1@example.com")
    pair.flush()
    assert handle == "leg-1@example.com"
    assert pair.a.ua.call_info(handle).call_id == "leg-1@example.com"
    incoming = pair.b.last(ev.IncomingCall)
    assert incoming.request.call_id == "leg-1@example.com"


def test_invite_with_a_used_call_id_gets_a_distinct_handle():
    pair = call_pair()
    first = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER, call_id="same")
    second = pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER, call_id="same")
    assert first != second
    assert pair.a.ua.call_info(second).call_id == "same"


@pytest.mark.parametrize("bad", ["", "two words", "line\r\nbreak", "a@b@c"])
def test_invite_refuses_a_malformed_call_id_before_sending(bad):
    pair = call_pair()
    with pytest.raises(LocalProtocolError, match="Call-ID"):
        pair.a.ua.invite(bob_uri(), pair.now, sdp=OFFER, call_id=bad)
    assert pair.a.ua.data_to_send() == []
