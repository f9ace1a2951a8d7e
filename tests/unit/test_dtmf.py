"""twochat_voice_web.sip.dtmf against RFC 4733 §3.2's table of DTMF named events."""

from __future__ import annotations

from twochat_voice_web.sip.dtmf import DTMF_EVENTS, DTMF_KEYS, clamp_duration

# RFC 4733 §3.2, Table 7 ("DTMF named events"): event code -> key.
RFC_4733_EVENTS = {
    0: "0", 1: "1", 2: "2", 3: "3", 4: "4", 5: "5", 6: "6", 7: "7", 8: "8", 9: "9",
    10: "*", 11: "#", 12: "A", 13: "B", 14: "C", 15: "D",
}  # fmt: skip


def test_event_codes_are_rfc_4733_s() -> None:
    assert {code: DTMF_EVENTS[code] for code in range(len(DTMF_EVENTS))} == RFC_4733_EVENTS


def test_keys_are_the_sixteen_events() -> None:
    assert set(RFC_4733_EVENTS.values()) == DTMF_KEYS


def test_durations_are_clamped_to_rtcdtmfsender_s_40_to_6000_ms() -> None:
    # W3C webrtc-pc §7.2 (insertDTMF): durations below 40 ms are 40, above 6000 ms are 6000
    assert [clamp_duration(ms) for ms in (0, 39, 40, 100, 6000, 6001, 60_000)] == [
        40, 40, 40, 100, 6000, 6000, 6000
    ]  # fmt: skip
