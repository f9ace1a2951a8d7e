"""Whether a peer's offer holds the call: RFC 3264 §8.4 (a ``sendonly`` or ``inactive`` stream holds it;
``sendrecv`` or nothing resumes it) and RFC 8866 §6.7 (a direction at session level applies to every media
section that does not set its own)."""

from __future__ import annotations

import pytest

from twochat_voice_web.renegotiation import offers_hold


def _offer(*, session: str = "", media: str = "", audio_port: int = 49170) -> str:
    lines = [
        "v=0",
        "o=- 1 2 IN IP4 192.0.2.10",
        "s=-",
        "c=IN IP4 192.0.2.10",
        "t=0 0",
        *([session] if session else []),
        f"m=audio {audio_port} RTP/AVP 0",
        "a=rtpmap:0 PCMU/8000",
        *([media] if media else []),
    ]
    return "\r\n".join(lines) + "\r\n"


@pytest.mark.parametrize(
    ("media", "held"),
    [("a=sendonly", True), ("a=inactive", True), ("a=sendrecv", False), ("a=recvonly", False), ("", False)],
)
def test_the_audio_streams_direction_decides(media: str, held: bool) -> None:
    assert offers_hold(_offer(media=media)) is held


def test_a_session_level_direction_applies_to_the_audio_stream() -> None:
    assert offers_hold(_offer(session="a=sendonly")) is True
    assert offers_hold(_offer(session="a=sendonly", media="a=sendrecv")) is False


def test_a_rejected_audio_stream_or_an_sdp_that_does_not_parse_is_not_a_hold() -> None:
    assert offers_hold(_offer(media="a=inactive", audio_port=0)) is False
    assert offers_hold("this is not SDP") is False
