"""Codec preferences, Opus fmtp parameters (RFC 7587 §6.1) and per-call RTCConfiguration: validation and
the SDP edit, on an offer as Chromium writes it."""

from __future__ import annotations

from typing import Any

import pytest

from twochat_voice_web.codec_preferences import CodecPreferences, parse_codec_preferences
from twochat_voice_web.errors import ErrorCode, VoiceSDKError
from twochat_voice_web.media_options import (
    apply_opus_parameters,
    parse_call_media_options,
    parse_rtc_configuration,
)
from twochat_voice_web.sip.sdp import audio_codecs, parse_sdp

# The audio section of a Chromium 120 offer (captured), trimmed of candidates.
CHROME_OFFER = "\r\n".join(
    [
        "v=0",
        "o=- 4611731400430051336 2 IN IP4 127.0.0.1",
        "s=-",
        "t=0 0",
        "a=group:BUNDLE 0",
        "a=msid-semantic: WMS",
        "m=audio 9 UDP/TLS/RTP/SAVPF 111 63 9 0 8 13 110 126",
        "c=IN IP4 0.0.0.0",
        "a=rtcp:9 IN IP4 0.0.0.0",
        "a=ice-ufrag:Vx7n",
        "a=ice-pwd:7Ri2t6Q3BAGe7ZPz4JQ6ZWnS",
        "a=fingerprint:sha-256 5C:2A:5B:9E:0A:2D:7C:4F:11:E2:96:6C:93:4F:0E:F5:2C:1B:93:5E:16:EF:42:4D:2F:1C:"
        "8A:7B:6A:55:44:33",
        "a=setup:actpass",
        "a=mid:0",
        "a=sendrecv",
        "a=rtcp-mux",
        "a=rtpmap:111 opus/48000/2",
        "a=rtcp-fb:111 transport-cc",
        "a=fmtp:111 minptime=10;useinbandfec=1",
        "a=rtpmap:63 red/48000/2",
        "a=fmtp:63 111/111",
        "a=rtpmap:9 G722/8000",
        "a=rtpmap:0 PCMU/8000",
        "a=rtpmap:8 PCMA/8000",
        "a=rtpmap:13 CN/8000",
        "a=rtpmap:110 telephone-event/48000",
        "a=rtpmap:126 telephone-event/8000",
        "",
    ]
)


def _opus_parameters(sdp: str) -> dict[str, str]:
    codecs = audio_codecs(parse_sdp(sdp, strict_order=False))
    return next(c for c in codecs if c.name == "opus").parameters()


def test_opus_parameters_are_written_into_the_existing_fmtp_line() -> None:
    preferences = parse_codec_preferences(max_average_bitrate=20000, dtx=True)
    edited = apply_opus_parameters(CHROME_OFFER, preferences)
    assert _opus_parameters(edited) == {
        "minptime": "10",
        "useinbandfec": "1",
        "maxaveragebitrate": "20000",
        "usedtx": "1",
    }
    # Only that line changed; CRLF endings kept.
    changed = [
        (a, b) for a, b in zip(CHROME_OFFER.split("\r\n"), edited.split("\r\n"), strict=True) if a != b
    ]
    assert changed == [
        (
            "a=fmtp:111 minptime=10;useinbandfec=1",
            "a=fmtp:111 minptime=10;useinbandfec=1;maxaveragebitrate=20000;usedtx=1",
        )
    ]


def test_an_existing_parameter_is_replaced_not_repeated() -> None:
    offer = CHROME_OFFER.replace("useinbandfec=1", "useinbandfec=1;usedtx=1")
    edited = apply_opus_parameters(offer, parse_codec_preferences(dtx=False))
    assert edited.count("usedtx") == 1 and _opus_parameters(edited)["usedtx"] == "0"


def test_an_opus_payload_without_fmtp_gets_one() -> None:
    offer = CHROME_OFFER.replace("a=fmtp:111 minptime=10;useinbandfec=1\r\n", "")
    edited = apply_opus_parameters(offer, parse_codec_preferences(max_average_bitrate=6000))
    assert _opus_parameters(edited) == {"maxaveragebitrate": "6000"}


def test_nothing_changes_without_opus_parameters_or_without_opus() -> None:
    assert apply_opus_parameters(CHROME_OFFER, parse_codec_preferences(["PCMU"])) == CHROME_OFFER
    no_opus = "v=0\r\nm=audio 9 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n"
    assert apply_opus_parameters(no_opus, parse_codec_preferences(dtx=True)) == no_opus


def test_codec_names_are_matched_without_case_and_kept_in_order() -> None:
    assert parse_codec_preferences(["pcma", "OPUS", "pcmu"]).order == ("PCMA", "opus", "PCMU")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"codec_preferences": ["opus", "G729"]},
        {"codec_preferences": ["opus", "OPUS"]},
        {"codec_preferences": []},
        {"codec_preferences": "opus"},
        {"codec_preferences": [None]},
        {"max_average_bitrate": 5999},
        {"max_average_bitrate": 510_001},
        {"max_average_bitrate": True},
        {"max_average_bitrate": 20000.0},
        {"dtx": 1},
    ],
)
def test_bad_codec_options_are_invalid_argument(kwargs: dict[str, Any]) -> None:
    order = kwargs.pop("codec_preferences", None)
    with pytest.raises(VoiceSDKError) as refused:
        parse_codec_preferences(order, **kwargs)
    assert refused.value.code is ErrorCode.INVALID_ARGUMENT


def test_a_call_overrides_only_what_it_sets() -> None:
    device = CodecPreferences(("opus",), 32000, True)
    call = parse_call_media_options(codec_preferences=["PCMU"])
    assert call.codecs_over(device) == CodecPreferences(("PCMU",), 32000, True)
    assert parse_call_media_options().codecs_over(device) == device


def test_rtc_configuration_accepts_both_spellings_and_refuses_the_rest() -> None:
    parsed = parse_rtc_configuration(
        {
            "iceServers": [{"urls": "stun:127.0.0.1:3478"}],
            "ice_transport_policy": "relay",
            "bundlePolicy": "max-bundle",
        }
    )
    assert parsed is not None
    assert parsed.ice_servers is not None and parsed.ice_servers[0].urls == ("stun:127.0.0.1:3478",)
    assert dict(parsed.policies) == {"iceTransportPolicy": "relay", "bundlePolicy": "max-bundle"}
    for bad in ({"iceTransportPolicy": "nohost"}, {"certificates": []}, {"iceCandidatePoolSize": 256}, []):
        with pytest.raises(VoiceSDKError) as refused:
            parse_rtc_configuration(bad)  # type: ignore[arg-type]
        assert refused.value.code is ErrorCode.INVALID_ARGUMENT
