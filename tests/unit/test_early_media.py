"""When DTMF may be sent before the answer (early media, RFC 3960 / RFC 4733): the pure rule."""

from __future__ import annotations

import pytest

from twochat_voice_web.early_media import dtmf_refusal

# A 183's SDP as Asterisk sends it for early media (RFC 4733 §7.1.1: telephone-event offered with 0-16).
_EARLY_SDP_WITH_EVENTS = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0 101\r\na=rtpmap:0 PCMU/8000\r\n"
    "a=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=sendrecv\r\n"
)
_EARLY_SDP_WITHOUT_EVENTS = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 40000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\na=sendrecv\r\n"
)


def test_an_accepted_call_always_may_send() -> None:
    assert dtmf_refusal(status="accepted", early_media=False, dtmf_transport="info", remote_sdp=None) is None


def test_early_media_with_telephone_event_and_rtp_dtmf_may_send() -> None:
    assert (
        dtmf_refusal(
            status="ringing", early_media=True, dtmf_transport="rfc4733", remote_sdp=_EARLY_SDP_WITH_EVENTS
        )
        is None
    )


@pytest.mark.parametrize(
    ("status", "early", "transport", "sdp", "words"),
    [
        ("pending", False, "rfc4733", None, "early media"),
        ("ringing", False, "rfc4733", None, "early media"),  # a 180 without SDP: nothing to carry digits
        ("ringing", True, "info", _EARLY_SDP_WITH_EVENTS, "dtmf_transport='info'"),
        ("ringing", True, "rfc4733", _EARLY_SDP_WITHOUT_EVENTS, "telephone-event"),
        ("ringing", True, "rfc4733", "not sdp", "telephone-event"),
        ("disconnected", True, "rfc4733", _EARLY_SDP_WITH_EVENTS, "disconnected"),
    ],
)
def test_refusals_say_why(status: str, early: bool, transport: str, sdp: str | None, words: str) -> None:
    message = dtmf_refusal(status=status, early_media=early, dtmf_transport=transport, remote_sdp=sdp)
    assert message is not None and words in message
