"""Codec preferences through Kamailio + rtpengine: two of our Devices call each other.

The caller's ``codec_preferences`` must put its codec first in the offer that leaves its WebSocket *and*
in the offer rtpengine hands the callee (Kamailio's sipdump shows both), the Opus ``a=fmtp`` parameters it
asks for must survive the trip, and the codec both browsers then use (their own ``getStats``) must be it.
The answerer's ``accept(codec_preferences=...)`` puts its codec first in the answer, which the caller
then sends (RFC 3264 §6.1).
"""

from __future__ import annotations

import re

from twochat_voice_web.sip.sdp import audio_codecs, parse_sdp

from .sdk_peer import InteropSdk, dialog_records
from .stack import InteropStack


def _codecs_and_opus(message: str) -> tuple[list[str], dict[str, str]]:
    """The audio codec names of a SIP message's SDP, in m-line order, and the Opus fmtp parameters."""
    body = re.split(r"\r?\n\r?\n", message, maxsplit=1)[1]
    codecs = audio_codecs(parse_sdp(body, strict_order=False))
    opus = next((codec for codec in codecs if codec.name.lower() == "opus"), None)
    return [codec.name for codec in codecs], opus.parameters() if opus is not None else {}


def _hang_up(sdk: InteropSdk, call: str, other: str) -> None:
    sdk.call(call, "disconnect")
    assert sdk.wait(call, "disconnect")["args"][0]["reason"] == "local"
    assert sdk.wait(other, "disconnect", timeout=15)["args"][0]["reason"] == "remote"


def test_caller_codec_preferences_and_opus_parameters_cross_kamailio_and_rtpengine(
    sdk: InteropSdk, interop_stack: InteropStack
) -> None:
    alice = sdk.registered_device(
        "1003", codec_preferences=["PCMA", "opus"], max_average_bitrate=20000, dtx=True
    )
    bob = sdk.registered_device("1009")
    mark = sdk.mark()
    outgoing = sdk.connect(alice, interop_stack.uri("1009"))
    incoming = sdk.incoming(bob, since=mark)
    sdk.call(incoming, "accept")
    sdk.wait(outgoing, "accepted")
    sdk.wait_audio(outgoing, peer=sdk.label(bob))
    sdk.wait_audio(incoming, peer=sdk.label(alice))
    caller_codec = str(sdk.stats(outgoing).get("codec"))
    callee_codec = str(sdk.stats(incoming).get("codec"))
    call_id = str(sdk.call(outgoing, "sip_call_id"))
    _hang_up(sdk, outgoing, incoming)

    invites = [
        r for r in dialog_records(interop_stack.kamailio, call_id) if r.first_line.startswith("INVITE ")
    ]
    from_alice = next(r for r in invites if r.direction == "rcv")
    to_bob = next(r for r in invites if r.direction == "snd")
    for where, record in (("from the caller", from_alice), ("to the callee, after rtpengine", to_bob)):
        names, opus = _codecs_and_opus(record.message)
        assert names[:2] == ["PCMA", "opus"], f"the INVITE {where} lists {names}"
        assert "telephone-event" in names, f"the INVITE {where} dropped telephone-event: {names}"
        assert opus.get("maxaveragebitrate") == "20000" and opus.get("usedtx") == "1", f"{where}: {opus}"
    assert caller_codec.upper() == "PCMA" and callee_codec.upper() == "PCMA", (caller_codec, callee_codec)


def test_answerer_codec_preferences_choose_the_codec(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    alice = sdk.registered_device("1003")  # offers the browser's order: opus first
    bob = sdk.registered_device("1009", secure=True)
    mark = sdk.mark()
    outgoing = sdk.connect(alice, interop_stack.uri("1009"))
    incoming = sdk.incoming(bob, since=mark)
    sdk.call(incoming, "accept", codec_preferences=["PCMU"])
    sdk.wait(outgoing, "accepted")
    sdk.wait_audio(outgoing, peer=sdk.label(bob))
    sdk.wait_audio(incoming, peer=sdk.label(alice))
    caller_codec = str(sdk.stats(outgoing).get("codec"))
    callee_codec = str(sdk.stats(incoming).get("codec"))
    call_id = str(sdk.call(outgoing, "sip_call_id"))
    _hang_up(sdk, outgoing, incoming)

    records = dialog_records(interop_stack.kamailio, call_id)
    offer = next(r for r in records if r.direction == "rcv" and r.first_line.startswith("INVITE "))
    answer = next(r for r in records if r.direction == "rcv" and r.first_line.startswith("SIP/2.0 200"))
    assert _codecs_and_opus(offer.message)[0][0] == "opus"
    assert _codecs_and_opus(answer.message)[0][0] == "PCMU", "the answerer's preference is not first"
    # RFC 3264 §6.1: the offerer sends the answerer's preferred codec, so the callee receives PCMU. (The
    # callee's own Chromium keeps sending the offer's first common codec, opus: docs/device.md says so.)
    assert callee_codec.upper() == "PCMU", f"the caller sends {callee_codec}, not the answerer's preference"
    assert caller_codec.lower() == "opus", f"the callee's browser sends {caller_codec}"
