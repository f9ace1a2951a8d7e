"""Kamailio restarts under our SDK: while registered, and during a call.

A restart closes every WebSocket and empties Kamailio's in-memory usrloc. The SDK must notice, reconnect
(back-off capped at 2 s here: with the default 20 s cap the wait would measure the jitter), register again
with the same ``+sip.instance``, and, with a call up, send a re-INVITE with an ICE restart over the new
connection; media never stops (rtpengine keeps running) and the later BYE still reaches the far end.
`InteropStack.restart_kamailio` re-registers baresip too, so the tests after these ones find the stack as
before.
"""

from __future__ import annotations

import re

from .sdk_peer import InteropSdk, dialog_records, wait_sipp_dialog_message
from .stack import InteropStack


def _ice_ufrags(message: str) -> list[str]:
    return re.findall(r"^a=ice-ufrag:(\S+)", message, re.MULTILINE)


def test_restart_while_registered(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    kamailio = interop_stack.kamailio
    device = sdk.registered_device("1004", reconnect_max_delay_ms=2000)
    before = kamailio.registrations("1004")
    mark = sdk.mark()

    interop_stack.restart_kamailio(down_for=2.0)  # several reconnect attempts find nobody listening
    reconnecting = sdk.wait(device, "reconnecting", since=mark, timeout=15)
    reconnected = sdk.wait(device, "reconnected", since=reconnecting["seq"], timeout=30)
    registered = sdk.wait(device, "registered", since=reconnecting["seq"], timeout=5)
    kamailio.wait_registered("1004")
    after = kamailio.registrations("1004")

    assert sdk.device(device, "state") == "registered"
    assert registered["seq"] > reconnecting["seq"] and reconnected["args"] == []
    assert len(after) == 1, f"Kamailio's usrloc for 1004 after the restart: {after}"
    assert after[0].get("Instance") == before[0].get("Instance"), (
        f"the SDK registered with another +sip.instance after reconnecting: {before} -> {after}"
    )
    # the new registration is usable: Kamailio reaches the SDK over its new WebSocket
    mark = sdk.mark()
    caller = interop_stack.sipp_caller("1004", duration_ms=1500, ticket_id="T-restart")
    call = sdk.incoming(device, since=mark)
    sdk.call(call, "accept")
    sdk.wait_audio(call, min_bytes=2000, peer="the sipp caller")
    disconnect = sdk.wait(call, "disconnect", timeout=15)
    assert disconnect["args"][0]["reason"] == "remote", disconnect
    assert caller.wait(20) == 0, f"the sipp caller after the restart:\n{caller.process.log_tail()}"


def test_restart_during_a_call(sdk: InteropSdk, interop_stack: InteropStack) -> None:
    echo = interop_stack.callee("echo")
    device = sdk.registered_device("1002", reconnect_max_delay_ms=2000)
    call = sdk.connect(device, echo.uri)
    sdk.wait(call, "accepted")
    call_id = str(sdk.call(call, "sip_call_id"))
    sdk.wait_audio(call, min_bytes=2000, peer="sipp echo")
    mark = sdk.mark()

    restarted_at = interop_stack.log_mark().time
    interop_stack.restart_kamailio(down_for=1.0)
    sdk.wait(device, "reconnected", since=mark, timeout=30)
    call_reconnecting = sdk.wait(call, "reconnecting", since=mark, timeout=5)
    sdk.wait(call, "reconnected", since=call_reconnecting["seq"], timeout=20)
    reinvite = wait_sipp_dialog_message(echo, call_id, "INVITE ", count=2)[-1]
    sdk.wait_audio(call, min_bytes=4000, peer="sipp echo, after the restart")
    status = sdk.call(call, "status")
    sdk.call(call, "disconnect")
    disconnect = sdk.wait(call, "disconnect")
    wait_sipp_dialog_message(echo, call_id, "BYE ")

    assert status == "accepted"
    assert disconnect["args"][0]["reason"] == "local", disconnect
    ws_offers = [
        r
        for r in dialog_records(interop_stack.kamailio, call_id)
        if r.direction == "rcv"
        and r.proto == "ws"
        and r.first_line.startswith("INVITE ")
        and "v=0" in r.message
    ]
    first, after_restart = ws_offers[0], [r for r in ws_offers if r.time >= restarted_at]
    assert after_restart, "the SDK sent no re-INVITE over its new WebSocket after the restart"
    assert _ice_ufrags(after_restart[0].message) != _ice_ufrags(first.message), (
        "the SDK's re-INVITE after the restart does not restart ICE (same ice-ufrag)"
    )
    assert "a=sendrecv" in reinvite.message, f"sipp echo got the re-INVITE:\n{reinvite.message}"
    errors = [e for e in sdk.events(mark) if e["name"] == "error"]
    assert errors == [], f"the SDK reported errors around the restart: {errors}"
