"""Several tabs in CPython: fake tabs share BroadcastChannels and Web Locks (``fakes.TabBus``).

Each fake tab is its own FakePlatform (with its own in-memory SIP server: only the leader ever connects to
one). Covered: leader election, followers mirroring registration, incoming calls and call state, actions
forwarded to the leader (media stays there), "answered elsewhere" stopping every ringtone, leader loss and
hand-over, the channel election without Web Locks, and the light default mode of independent tabs.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from fakes import FakePlatform, TabBus, holds_for, make_token, sdp, wait_until

from twochat_voice_web import Call, Device
from twochat_voice_web import tab_election as tabs_module
from twochat_voice_web.errors import AuthError, ErrorCode, VoiceSDKError
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.uri import parse_uri
from twochat_voice_web.tabs import (
    CallSnapshot,
    CallUpdate,
    Claim,
    Handled,
    Hello,
    MirroredCall,
    Reply,
    Snapshot,
    StateUpdate,
    TabMessageError,
    TabRequest,
    decode_message,
    encode_message,
)

API = "http://127.0.0.1:9999"


def recorder(emitter: Any, *names: str) -> list[tuple[str, object]]:
    seen: list[tuple[str, object]] = []
    for name in names:
        emitter.on(name, lambda *args, _n=name: seen.append((_n, args[0] if args else None)))
    return seen


class Tab:
    """One fake tab: its platform, its Device, what it heard."""

    def __init__(self, bus: TabBus, name: str, **options: Any) -> None:
        self.name = name
        self.platform = bus.tab(name)
        options.setdefault("multi_tab", True)
        self.device = Device(make_token(), api_base_url=API, platform=self.platform, **options)
        self.events = recorder(self.device, "registering", "registered", "unregistered", "incoming", "error")
        self.incoming: list[Call] = []
        self.device.on("incoming", self.incoming.append)

    @property
    def ringing(self) -> bool:
        return "incoming" in self.platform.sounds.playing

    def names(self) -> list[str]:
        return [name for name, _ in self.events]

    def registers(self) -> int:
        return len(self.platform.server.requests("REGISTER"))


async def group(count: int = 2, **options: Any) -> tuple[TabBus, list[Tab]]:
    bus = TabBus(web_locks=options.pop("web_locks", True))
    tabs = [Tab(bus, f"tab{i}", **options) for i in range(count)]
    await asyncio.gather(*(tab.device.register() for tab in tabs))
    await wait_until(
        lambda: (
            all(t.device.state == "registered" for t in tabs)
            and [t.device.tab_role for t in tabs].count("leader") == 1
        ),
        what="every tab registered, one leader",
    )
    return bus, tabs


def ring(tab: Tab, *, call_id: str | None = None, headers: list[tuple[str, str]] | None = None) -> str:
    """The tab's SIP server sends an INVITE to it (only the leader's server has a registered client)."""
    return str(
        tab.platform.server.call(
            "invite",
            parse_uri("sip:alice@sandbox.test"),
            sdp=sdp(80),
            headers=headers or [],
            **({"call_id": call_id} if call_id else {}),
        )
    )


async def rung(*tabs: Tab, count: int = 1) -> None:
    """Wait (with a deadline) until each tab has emitted ``count`` incoming calls (a real one or a mirror)."""
    await wait_until(lambda: all(len(t.incoming) >= count for t in tabs), what=f"incoming number {count}")


def answer_outbound(tab: Tab) -> None:
    def on_incoming(event: ev.IncomingCall) -> None:
        tab.platform.server.call("ring", event.call)
        tab.platform.server.call("answer", event.call, sdp(50))

    tab.platform.server.on_incoming = on_incoming


def answer_offers(tab: Tab) -> None:
    """The tab's SIP server answers re-INVITEs (hold/resume)."""

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.RemoteOffer):
            direction = "recvonly" if "a=sendonly" in event.sdp else "sendrecv"
            tab.platform.server.call("answer_offer", event.call, sdp(70, direction))

    tab.platform.server.on_event = on_event


def destroy_all(tabs: list[Tab]) -> None:
    for tab in tabs:
        tab.device.destroy()


# ------------------------------------------------------------------------------------------ election


async def test_one_tab_registers_and_the_others_mirror_it():
    _bus, tabs = await group(3)
    leader, *followers = tabs
    assert [t.device.tab_role for t in tabs] == ["leader", "follower", "follower"]
    assert sum(t.platform.connections for t in tabs) == 1
    assert leader.registers() == 2  # the 401 challenge, then the authorised REGISTER
    assert all(t.registers() == 0 for t in followers)
    for tab in tabs:
        assert tab.device.state == "registered"
        assert tab.names() == ["registering", "registered"], tab.name
        assert tab.device.identity == "sip:alice@sandbox.test"
    assert all(t.device.calls == [] for t in tabs)
    destroy_all(tabs)


async def test_a_tab_joining_later_gets_the_state_from_the_leader():
    bus, (leader,) = await group(1)
    late = Tab(bus, "late")
    await late.device.register()
    assert late.device.state == "registered" and late.device.tab_role == "follower"
    assert late.names() == ["registering", "registered"]
    assert late.platform.connections == 0
    destroy_all([leader, late])


async def test_without_tab_channels_multi_tab_registers_on_its_own():
    platform = FakePlatform()  # no TabBus: no BroadcastChannel, no Web Locks
    device = Device(make_token(), api_base_url=API, platform=platform, multi_tab="team-7")
    await device.register()
    assert device.state == "registered" and device.tab_role == "leader"
    assert platform.connections == 1
    device.destroy()


@pytest.mark.parametrize("value", ["", 7, "bad\nname", "x" * 201])
async def test_bad_multi_tab_option_is_refused(value):
    with pytest.raises(VoiceSDKError) as info:
        Device(make_token(), api_base_url=API, platform=FakePlatform(), multi_tab=value)
    assert info.value.code is ErrorCode.INVALID_ARGUMENT


async def test_a_named_group_is_separate_from_the_default_one():
    bus = TabBus()
    one = Tab(bus, "one", multi_tab="desk")
    two = Tab(bus, "two", multi_tab=True)
    await asyncio.gather(one.device.register(), two.device.register())
    assert one.device.tab_role == "leader" and two.device.tab_role == "leader"
    assert one.platform.connections == 1 and two.platform.connections == 1
    destroy_all([one, two])


# ------------------------------------------------------------------------------------------ inbound


async def test_incoming_rings_in_every_tab_and_a_follower_accepts_in_the_leader():
    _bus, (leader, follower) = await group(2)
    answer_offers(leader)
    handle = ring(leader, headers=[("X-2Chat-Ticket-Id", "42")])
    await rung(leader, follower)
    (real,) = leader.incoming
    (mirror,) = follower.incoming
    assert isinstance(mirror, MirroredCall) and not isinstance(real, MirroredCall)
    assert mirror.sip_call_id == real.sip_call_id
    assert dict(mirror.custom_headers) == {"Ticket-Id": "42"}
    assert mirror.direction == "inbound" and mirror.status == "pending"
    assert follower.device.calls == [mirror]
    assert leader.ringing and follower.ringing
    seen = recorder(mirror, "accepted", "mute", "hold", "disconnect")
    await mirror.accept()
    assert real.status == "accepted" and mirror.status == "accepted"
    assert not leader.ringing and not follower.ringing
    answered = [e for e in leader.platform.server.events if isinstance(e, ev.CallAnswered)]
    assert answered and answered[0].call == handle
    assert len(leader.platform.peers) == 1 and follower.platform.peers == []  # media in the leader tab
    assert follower.platform.media.opened == []
    mirror.mute(True)
    await wait_until(lambda: real.is_muted() and mirror.is_muted(), what="mute in both tabs")
    await mirror.hold(True)
    assert real.is_on_hold() and mirror.is_on_hold()
    await mirror.hold(False)
    mirror.send_digits("12#")
    await wait_until(lambda: len(leader.platform.peers[0].dtmf) >= 3, what="three tones in the leader")
    assert leader.platform.peers[0].dtmf == ["1", "2", "#"]
    stats = await mirror.get_stats()
    assert stats["packets_received"] > 0
    await mirror.disconnect()
    assert real.status == "disconnected" and mirror.status == "disconnected"
    assert [name for name, _ in seen] == ["accepted", "mute", "hold", "hold", "disconnect"]
    assert seen[-1][1] == {"reason": "local", "status_code": None}
    assert follower.device.calls == [] and leader.device.calls == []
    assert ("play", "disconnect") in leader.platform.sounds.log
    assert ("play", "disconnect") not in follower.platform.sounds.log  # the hang-up tone plays with the media
    destroy_all([leader, follower])


async def test_accepting_in_the_leader_stops_every_ringtone_and_mirrors_accepted():
    _bus, (leader, follower, other) = await group(3)
    ring(leader)
    await rung(leader, follower, other)
    assert leader.ringing and follower.ringing and other.ringing
    mirror = follower.incoming[0]
    seen = recorder(mirror, "accepted")
    await leader.incoming[0].accept()
    await wait_until(
        lambda: mirror.status == "accepted" and other.incoming[0].status == "accepted",
        what="accepted mirrored in both followers",
    )
    assert not leader.ringing and not follower.ringing and not other.ringing
    assert mirror.status == "accepted" and seen == [("accepted", None)]
    assert other.incoming[0].status == "accepted"
    await leader.incoming[0].disconnect()
    await wait_until(
        lambda: mirror.status == "disconnected" and other.device.calls == [], what="the end in the followers"
    )
    destroy_all([leader, follower, other])


async def test_ignore_in_a_follower_silences_every_tab_and_reject_ends_everywhere():
    _bus, (leader, follower) = await group(2)
    ring(leader)
    await rung(leader, follower)
    real, mirror = leader.incoming[0], follower.incoming[0]
    mirror.ignore()
    await wait_until(lambda: real.ignored, what="the ignore to reach the leader")
    assert not leader.ringing and not follower.ringing
    assert real.ignored and real.status == "pending" and mirror.ignored
    mirror_seen = recorder(mirror, "reject", "disconnect")
    mirror.reject(603)

    def codes_now() -> list[int | None]:
        return [e.status_code for e in leader.platform.server.events if isinstance(e, ev.CallEnded)]

    await wait_until(lambda: bool(codes_now()) and len(mirror_seen) >= 2, what="the rejection everywhere")
    codes = codes_now()
    assert codes == [603]
    assert mirror_seen == [("reject", None), ("disconnect", {"reason": "rejected", "status_code": 603})]
    assert real.status == "disconnected"
    destroy_all([leader, follower])


async def test_caller_hangs_up_before_the_answer():
    _bus, (leader, follower) = await group(2)
    handle = ring(leader)
    await rung(leader, follower)
    mirror = follower.incoming[0]
    seen = recorder(mirror, "cancel", "disconnect")
    leader.platform.server.call("hangup", handle)
    await wait_until(lambda: len(seen) >= 2, what="cancel and disconnect in the follower")
    assert seen == [("cancel", None), ("disconnect", {"reason": "remote-cancelled", "status_code": 487})]
    assert not follower.ringing and not leader.ringing
    destroy_all([leader, follower])


async def test_forwarded_errors_keep_their_code():
    _bus, (leader, follower) = await group(2)
    ring(leader)
    await rung(leader, follower)
    mirror = follower.incoming[0]
    leader.platform.media.fail_with = VoiceSDKError(ErrorCode.MEDIA_PERMISSION_DENIED, "denied")
    with pytest.raises(VoiceSDKError) as info:
        await mirror.accept()
    assert info.value.code is ErrorCode.MEDIA_PERMISSION_DENIED
    await wait_until(lambda: mirror.status == "failed", what="the failure mirrored")
    with pytest.raises(VoiceSDKError) as info:
        await mirror.hold(True)
    assert info.value.code is ErrorCode.INVALID_STATE
    destroy_all([leader, follower])


# ------------------------------------------------------------------------------------------ outbound


async def test_connect_in_a_follower_is_placed_by_the_leader():
    _bus, (leader, follower) = await group(2)
    answer_outbound(leader)
    call = await follower.device.connect("+15550100", from_="+15550200", extra_headers=["X-2Chat-Ticket: 9"])
    assert isinstance(call, MirroredCall) and call.direction == "outbound"
    seen = recorder(call, "ringing", "accepted", "disconnect")
    await wait_until(lambda: call.status == "accepted", what="the call to be answered")
    invite = leader.platform.server.requests("INVITE")[0]
    assert invite.headers.get("X-2Chat-From") == "+15550200"
    assert invite.headers.get("X-2Chat-Ticket") == "9"
    assert call.sip_call_id == invite.call_id
    assert follower.platform.peers == [] and len(leader.platform.peers) == 1
    assert leader.device.calls[0].sip_call_id == call.sip_call_id
    await call.disconnect()
    assert [name for name, _ in seen] == ["ringing", "accepted", "disconnect"]
    with pytest.raises(VoiceSDKError) as info:
        await follower.device.connect("5550100")
    assert info.value.code is ErrorCode.INVALID_ARGUMENT
    destroy_all([leader, follower])


async def test_a_connect_reply_that_arrives_after_the_calls_updates_does_not_roll_the_call_back():
    """The leader's reply to ``connect`` carries the call as it was when the INVITE went out; updates
    posted later (ringing, accepted) may reach the follower first (in a browser: before the awaiting
    ``connect()`` resumes). The mirror must end as the newest state says: accepted, not pending."""
    _bus, (leader, follower) = await group(2)
    answer_outbound(leader)
    channel = leader.platform.tab_channels[0]
    post = channel.post
    held: list[str] = []
    replies = 0

    def post_reply_after_accepted(text: str) -> None:
        nonlocal replies
        message = decode_message(text)
        if isinstance(message, Reply):
            replies += 1
            if replies == 1:  # the reply to connect(): deliver it after the "accepted" update
                held.append(text)
                return
        post(text)
        if isinstance(message, CallUpdate) and message.event == "accepted" and held:
            post(held.pop())

    channel.post = post_reply_after_accepted  # type: ignore[method-assign]
    call = await follower.device.connect("+15550100")
    seen = recorder(call, "ringing", "accepted")
    await wait_until(lambda: ("accepted", None) in seen, what="the mirrored accepted event")
    # the reply's older snapshot came last: the call must still show the newest state
    await holds_for(lambda: call.status == "accepted", seconds=0.05, what="the call to stay accepted")
    assert [name for name, _ in seen] == ["ringing", "accepted"]
    channel.post = post  # type: ignore[method-assign]
    await call.disconnect()
    destroy_all([leader, follower])


async def test_calls_placed_in_the_leader_show_up_in_followers():
    _bus, (leader, follower) = await group(2)
    answer_outbound(leader)
    call = await leader.device.connect("+15550100")
    await wait_until(
        lambda: [c.status for c in follower.device.calls] == ["accepted"], what="the answered call mirrored"
    )
    (mirror,) = follower.device.calls
    assert mirror.sip_call_id == call.sip_call_id and mirror.status == "accepted"
    assert follower.incoming == []  # outbound calls do not fire `incoming`
    await call.disconnect()
    await wait_until(lambda: follower.device.calls == [], what="the end mirrored")
    destroy_all([leader, follower])


# ------------------------------------------------------------------------------------------ leader loss


async def test_leader_tab_closed_the_next_tab_registers_and_mirrors_end():
    _bus, (leader, second, third) = await group(3)
    ring(leader)
    await rung(leader, second, third)
    await second.incoming[0].accept()
    await wait_until(
        lambda: [c.status for t in (second, third) for c in t.device.calls] == ["accepted", "accepted"],
        what="accepted mirrored",
    )
    mirrors = [second.device.calls[0], third.device.calls[0]]
    seen = [recorder(m, "disconnect") for m in mirrors]
    old_contact = leader.platform.server.requests("REGISTER")[-1].headers.get("Contact")
    leader.platform.close_tab()
    await wait_until(
        lambda: (
            all(seen)
            and second.device.tab_role == "leader"
            and all(t.device.state == "registered" and len(t.names()) >= 5 for t in (second, third))
        ),
        what="the hand-over to the second tab",
    )
    assert second.device.tab_role == "leader" and third.device.tab_role == "follower"
    for record in seen:
        assert record == [("disconnect", {"reason": "leader-lost", "status_code": None})]
    assert second.platform.connections == 1 and third.platform.connections == 0
    new_contact = second.platform.server.requests("REGISTER")[-1].headers.get("Contact")
    assert "+sip.instance" in new_contact and new_contact != old_contact
    for tab in (second, third):
        assert tab.device.state == "registered"
        assert tab.names() == ["registering", "registered", "incoming", "registering", "registered"]
    ring(second)
    await rung(second, third, count=2)
    assert third.ringing and second.ringing
    leader.device.destroy()
    destroy_all([second, third])


async def test_destroying_the_leader_hands_over_and_its_calls_end_as_leader_lost():
    _bus, (leader, follower) = await group(2)
    ring(leader)
    await rung(leader, follower)
    mirror = follower.incoming[0]
    seen = recorder(mirror, "disconnect")
    leader.device.destroy()
    await wait_until(
        lambda: bool(seen) and follower.device.tab_role == "leader" and follower.device.state == "registered",
        what="the hand-over to the follower",
    )
    assert seen == [("disconnect", {"reason": "leader-lost", "status_code": None})]
    assert follower.device.tab_role == "leader" and follower.device.state == "registered"
    assert follower.platform.connections == 1
    assert not follower.ringing
    follower.device.destroy()


async def test_unregister_leaves_the_group():
    _bus, (leader, follower, other) = await group(3)
    await follower.device.unregister()
    assert follower.device.state == "unregistered" and follower.device.tab_role == "idle"
    await leader.device.unregister()
    await wait_until(
        lambda: other.device.tab_role == "leader" and other.device.state == "registered",
        what="the hand-over to the third tab",
    )
    assert leader.device.state == "unregistered" and leader.device.tab_role == "idle"
    assert leader.platform.server.requests("REGISTER")[-1].headers.get("Expires") == "0"
    assert other.device.tab_role == "leader" and other.device.state == "registered"
    assert follower.device.state == "unregistered"  # it left: it mirrors nothing any more
    await follower.device.register()
    assert follower.device.state == "registered" and follower.device.tab_role == "follower"
    destroy_all([leader, follower, other])


async def test_a_leader_that_cannot_register_hands_over_to_the_next_tab():
    bus = TabBus()
    broken = Tab(bus, "broken")
    broken.platform.credentials["password"] = "wrong"
    good = Tab(bus, "good")
    results = await asyncio.gather(broken.device.register(), good.device.register(), return_exceptions=True)
    assert isinstance(results[0], AuthError)
    assert results[1] is None
    assert broken.device.tab_role == "idle" and good.device.tab_role == "leader"
    assert good.device.state == "registered"
    assert good.names() == ["registering", "registered"]
    destroy_all([broken, good])


async def test_pending_requests_fail_when_the_leader_goes_away():
    _bus, (leader, follower) = await group(2)
    ring(leader)
    await rung(leader, follower)
    mirror = follower.incoming[0]
    asked: list[str | None] = []

    async def never(device_id: str | None = None) -> Any:
        asked.append(device_id)
        await asyncio.Event().wait()

    leader.platform.media.get_microphone = never  # type: ignore[method-assign]
    accepting = asyncio.ensure_future(mirror.accept())
    await wait_until(lambda: bool(asked), what="the forwarded accept() pending in the leader")
    leader.platform.close_tab()
    with pytest.raises(VoiceSDKError) as info:
        await accepting
    assert info.value.code is ErrorCode.CALL_FAILED
    await wait_until(lambda: mirror.status == "disconnected", what="the mirror to end")
    destroy_all([leader, follower])


# ------------------------------------------------------------------------------------------ no Web Locks


async def test_channel_election_without_web_locks(monkeypatch):
    monkeypatch.setattr(tabs_module, "HEARTBEAT_INTERVAL", 0.05)
    monkeypatch.setattr(tabs_module, "LEADER_TIMEOUT", 0.3)
    monkeypatch.setattr(tabs_module, "CLAIM_WAIT", 0.1)
    _bus, tabs = await group(3, web_locks=False)  # one leader, every tab registered
    leaders = [t for t in tabs if t.device.tab_role == "leader"]
    assert len(leaders) == 1
    assert sum(t.platform.connections for t in tabs) == 1
    assert all(t.device.state == "registered" for t in tabs)
    (leader,) = leaders
    rest = [t for t in tabs if t is not leader]
    leader.platform.close_tab()  # no Resign: the heartbeats stop
    await wait_until(
        lambda: (
            [t.device.tab_role for t in rest].count("leader") == 1
            and all(t.device.state == "registered" for t in rest)
        ),
        what="a new leader after LEADER_TIMEOUT",
    )
    new_leaders = [t for t in rest if t.device.tab_role == "leader"]
    assert len(new_leaders) == 1
    assert all(t.device.state == "registered" for t in rest)
    assert new_leaders[0].platform.connections == 1
    destroy_all(tabs)


async def test_refused_web_locks_fall_back_to_the_channel_election(monkeypatch):
    monkeypatch.setattr(tabs_module, "CLAIM_WAIT", 0.05)
    bus = TabBus(lock_error="SecurityError: no lock access")
    tabs = [Tab(bus, f"tab{i}") for i in range(2)]
    await asyncio.gather(*(tab.device.register() for tab in tabs))
    await wait_until(
        lambda: sorted(t.device.tab_role for t in tabs) == ["follower", "leader"], what="the channel election"
    )
    assert sum(t.platform.connections for t in tabs) == 1
    destroy_all(tabs)


async def test_a_clean_leave_without_web_locks_hands_over_at_once(monkeypatch):
    monkeypatch.setattr(tabs_module, "LEADER_TIMEOUT", 30.0)
    monkeypatch.setattr(tabs_module, "CLAIM_WAIT", 0.05)
    _bus, tabs = await group(2, web_locks=False)
    leader = next(t for t in tabs if t.device.tab_role == "leader")
    other = next(t for t in tabs if t is not leader)
    leader.device.destroy()
    # within 10 s, far less than LEADER_TIMEOUT (30 s): the Resign started the election
    await wait_until(
        lambda: other.device.tab_role == "leader" and other.device.state == "registered",
        timeout=10.0,
        what="the hand-over",
    )
    assert other.device.tab_role == "leader" and other.device.state == "registered"
    other.device.destroy()


# ------------------------------------------------------------------------------------------ default mode


async def test_independent_tabs_stop_ringing_at_once_when_another_tab_accepts():
    bus = TabBus()
    one = Tab(bus, "one", multi_tab=False)
    two = Tab(bus, "two", multi_tab=False)
    await asyncio.gather(one.device.register(), two.device.register())
    assert one.platform.connections == 1 and two.platform.connections == 1  # both register
    ring(one, call_id="forked-1")
    handle_two = ring(two, call_id="forked-1")  # the server forks the INVITE to both registrations
    await rung(one, two)
    assert one.ringing and two.ringing
    seen = recorder(two.incoming[0], "cancel", "disconnect")
    await one.incoming[0].accept()
    await wait_until(lambda: not two.ringing, what="the other tab to stop ringing")
    assert two.incoming[0].status == "pending"  # until the server's CANCEL
    two.platform.server.call("hangup", handle_two)
    await wait_until(lambda: bool(seen), what="disconnect in the other tab")
    assert seen == [("disconnect", {"reason": "answered-elsewhere", "status_code": 487})]
    await one.incoming[0].disconnect()
    destroy_all([one, two])


async def test_independent_tabs_keep_other_calls_ringing():
    bus = TabBus()
    one = Tab(bus, "one", multi_tab=False)
    two = Tab(bus, "two", multi_tab=False)
    await asyncio.gather(one.device.register(), two.device.register())
    ring(one, call_id="call-a")
    ring(two, call_id="call-b")
    await rung(one, two)
    one.incoming[0].reject()
    await wait_until(lambda: not one.ringing, what="the rejection in the first tab")
    # the tab channel delivers the first tab's news within a few event-loop turns: another call, not
    # ours to silence
    await holds_for(lambda: two.ringing, seconds=0.05, what="the other call ringing")
    destroy_all([one, two])


# ------------------------------------------------------------------------------------------ messages


def _snapshot(**changes: Any) -> CallSnapshot:
    base = CallSnapshot(
        key="t1/abc",
        owner="t1",
        direction="inbound",
        remote_identity="+15550199",
        custom_headers={"Ticket": "1"},
        sip_call_id="abc",
        status="pending",
        timings={"created": 1.5},
        warnings=("high-rtt",),
    )
    return CallSnapshot(**{**{f: getattr(base, f) for f in base.__dataclass_fields__}, **changes})


@pytest.mark.parametrize(
    "message",
    [
        Hello("t1"),
        StateUpdate("t1", "reconnecting", "reconnecting", ({"reason": "websocket closed (1006)"},)),
        CallUpdate("t1", _snapshot(), "incoming", ()),
        Snapshot("t1", "registered", (_snapshot(), _snapshot(key="t1/def", sip_call_id="def"))),
        Handled("t1", "abc", "ignore", "t1/abc"),
        TabRequest("t2", "t1", "t2:1", "connect", None, (), {"to": "+15550100", "from_": None}),
        Reply("t1", "t2", "t2:1", False, None, "INVALID_STATE", "no"),
        Claim("t3"),
    ],
)
def test_messages_round_trip(message):
    assert decode_message(encode_message(message)) == message


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        "[1, 2]",
        '{"p": "other/v9", "type": "hello", "sender": "x"}',
        '{"p": "twochat-voice/v1", "type": "nope", "sender": "x"}',
        '{"p": "twochat-voice/v1", "type": "hello"}',
        '{"p": "twochat-voice/v1", "type": "state", "sender": "x", "state": 3}',
        '{"p": "twochat-voice/v1", "type": "call", "sender": "x", "call": {"key": "k"}}',
    ],
)
def test_foreign_or_malformed_messages_are_typed_errors(text):
    with pytest.raises(TabMessageError) as info:
        decode_message(text)
    assert info.value.code is ErrorCode.PROTOCOL_ERROR


def test_a_snapshot_with_an_unknown_status_is_refused():
    data = _snapshot().to_json()
    data["status"] = "exploded"
    with pytest.raises(TabMessageError, match="unknown status"):
        CallSnapshot.from_json(data)


@pytest.mark.parametrize("revision", [-1, "3", True, 1.5])
def test_a_snapshot_with_a_bad_revision_is_refused(revision):
    data = _snapshot().to_json()
    data["revision"] = revision
    with pytest.raises(TabMessageError, match="revision"):
        CallSnapshot.from_json(data)


def test_a_snapshot_without_a_revision_reads_as_zero():
    data = _snapshot().to_json()
    del data["revision"]
    assert CallSnapshot.from_json(data).revision == 0


async def test_junk_on_the_channel_is_ignored():
    bus, (leader, follower) = await group(2)
    channel = leader.platform.tab_channels[0]
    channel.post("garbage")
    channel.post('{"p": "twochat-voice/v1", "type": "call", "sender": "x", "call": 5}')
    # the channel delivers within a few event-loop turns: the junk is seen and ignored
    await holds_for(
        lambda: follower.device.state == "registered" and follower.device.calls == [],
        seconds=0.05,
        what="the follower unchanged",
    )
    assert bus.posted
    destroy_all([leader, follower])
