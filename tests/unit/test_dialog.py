"""Dialog creation, routing (loose and strict), target refresh and CSeq rules (RFC 3261 §12)."""

from __future__ import annotations

import pytest
from uapair import request, respond

from twochat_voice_web.sip.dialog import Dialog, DialogEvent, DialogState
from twochat_voice_web.sip.errors import LocalProtocolError, RemoteProtocolError
from twochat_voice_web.sip.uri import SipUri

RR = "Record-Route: <sip:p1.example.com;lr>\r\nRecord-Route: <sip:p2.example.com;lr>\r\n"


def _uac_dialog(code: int = 200, extra: str = RR) -> tuple[Dialog, object]:
    invite = request("INVITE", extra=extra)
    response = respond(invite, code, headers=[("Contact", "<sip:bob@10.0.0.2:5060;transport=udp>")])
    return Dialog.from_uac(invite, response), invite


def test_uac_dialog_reverses_record_route_and_targets_contact():
    dialog, invite = _uac_dialog()
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.route_set == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    bye = dialog.create_request("BYE")
    assert str(bye.uri) == "sip:bob@10.0.0.2:5060;transport=udp"
    assert bye.headers.get_all("Route") == ["<sip:p2.example.com;lr>", "<sip:p1.example.com;lr>"]
    assert bye.from_.tag == "a1" and bye.to.tag == "srv1"
    assert bye.cseq.seq == invite.cseq.seq + 1


def test_uas_dialog_keeps_record_route_order_and_starts_local_cseq_at_1():
    invite = request("INVITE", extra=RR)
    dialog = Dialog.from_uas(invite, "local9")
    assert dialog.state is DialogState.EARLY
    assert dialog.route_set == ["<sip:p1.example.com;lr>", "<sip:p2.example.com;lr>"]
    assert dialog.remote_seq == 1
    bye = dialog.create_request("BYE")
    assert bye.cseq.seq == 1
    assert bye.from_.tag == "local9" and bye.to.tag == "a1"
    assert str(bye.uri) == "sip:alice@client.invalid;transport=ws"


def test_strict_route_puts_first_hop_in_request_uri():
    dialog, _ = _uac_dialog(extra="Record-Route: <sip:strict.example.com>\r\n")
    bye = dialog.create_request("BYE")
    assert isinstance(bye.uri, SipUri) and bye.uri.host == "strict.example.com"
    assert bye.headers.get_all("Route") == ["<sip:bob@10.0.0.2:5060;transport=udp>"]


def test_early_dialog_confirms_and_recomputes_route_set():
    invite = request("INVITE", extra=RR)
    ringing = respond(invite, 180, headers=[("Contact", "<sip:bob@early.example.com>")])
    dialog = Dialog.from_uac(invite, ringing)
    assert dialog.state is DialogState.EARLY
    ok = respond(
        invite, 200, headers=[("Contact", "<sip:bob@final.example.com>"), ("Record-Route", "<sip:p3;lr>")]
    )
    ok.headers.remove("Record-Route")
    ok.headers.add("Record-Route", "<sip:p3.example.com;lr>")
    dialog.receive_response(invite, ok)
    assert dialog.state is DialogState.CONFIRMED
    assert dialog.route_set == ["<sip:p3.example.com;lr>"]
    assert str(dialog.remote_target) == "sip:bob@final.example.com"


def test_target_refresh_and_cseq_ordering():
    invite = request("INVITE")
    dialog = Dialog.from_uas(invite, "t", confirmed=True)
    reinvite = request("INVITE", extra="")
    reinvite.headers.set("CSeq", "2 INVITE")
    reinvite.headers.set("Contact", "<sip:alice@new.invalid;transport=ws>")
    dialog.receive_request(reinvite)
    assert str(dialog.remote_target) == "sip:alice@new.invalid;transport=ws"
    assert dialog.remote_seq == 2
    old = request("INFO")
    with pytest.raises(RemoteProtocolError) as info:
        dialog.receive_request(old)
    assert info.value.status_hint == 500
    ack = request("ACK")
    dialog.receive_request(ack)  # ACK keeps the INVITE's number: never refused
    info_ok = request("INFO")
    info_ok.headers.set("CSeq", "3 INFO")
    info_ok.headers.remove("Contact")
    dialog.receive_request(info_ok)
    assert str(dialog.remote_target) == "sip:alice@new.invalid;transport=ws"  # INFO is no target refresh


def test_481_and_408_terminate_and_transitions_are_checked():
    dialog, _invite = _uac_dialog()
    info = dialog.create_request("INFO")
    info.headers.prepend("Via", "SIP/2.0/WS c.invalid;branch=z9hG4bKinfo")
    dialog.receive_response(info, respond(info, 481, to_tag=None))
    assert dialog.terminated
    with pytest.raises(LocalProtocolError):
        dialog.create_request("INFO")
    dialog.create_request("BYE")  # allowed to clean up
    fresh, _ = _uac_dialog(180)
    fresh.apply(DialogEvent.BYE)
    with pytest.raises(LocalProtocolError):
        fresh.apply(DialogEvent.CONFIRM)  # a terminated dialog is never confirmed (RFC 3261 §12.3)


def test_ack_copies_credentials_and_reuses_invite_cseq():
    invite = request(
        "INVITE",
        extra='Proxy-Authorization: Digest username="a", realm="r", nonce="n", uri="sip:x", response="0"\r\n',
    )
    ok = respond(invite, 200, headers=[("Contact", "<sip:bob@h>")])
    dialog = Dialog.from_uac(invite, ok)
    ack = dialog.create_ack(invite)
    assert ack.cseq.seq == invite.cseq.seq and ack.cseq.method == "ACK"
    assert ack.headers.get("Proxy-Authorization") == invite.headers.get("Proxy-Authorization")


def test_2xx_without_contact_is_a_remote_error():
    invite = request("INVITE")
    with pytest.raises(RemoteProtocolError):
        Dialog.from_uac(invite, respond(invite, 200))
