"""The sandbox's media address policy (``sandbox/media_addresses.py``), checked against iproute2.

What the policy gathers on is compared with what ``ip -json addr`` lists (an independent view of this
machine's interfaces), and which remote candidates it accepts with candidates of known kinds (RFC 5737
documentation addresses for "not this machine", mDNS names as Firefox offers them). No test here sends a
packet: the end-to-end proof with ordinary browsers is tests/realbrowser (inside a namespace).
"""

from __future__ import annotations

import ipaddress
import json
import re
import shutil
import subprocess

import pytest
from test_media import SAMPLE_OFFER, run_in_thread

from twochat_voice_web.sandbox.cli import build_config, make_parser
from twochat_voice_web.sandbox.config import ConfigError, SandboxConfig
from twochat_voice_web.sandbox.media import (
    MediaBehaviour,
    MediaConfigError,
    MediaEndpoint,
    SdpNegotiationError,
)
from twochat_voice_web.sandbox.media_addresses import (
    MEDIA_ADDRESSES_ENV,
    MediaAddressPolicy,
    default_policy,
    gather_addresses,
    is_machine_address,
    machine_addresses,
)


def _iproute2_addresses() -> list[dict[str, str]]:
    if shutil.which("ip") is None:
        pytest.skip("iproute2's ip is the oracle of these tests")
    interfaces = json.loads(
        subprocess.run(["ip", "-json", "addr"], capture_output=True, text=True, check=True).stdout
    )
    return [info for interface in interfaces for info in interface.get("addr_info", [])]


def test_host_policy_gathers_on_what_iproute2_lists_plus_loopback() -> None:
    infos = _iproute2_addresses()
    ipv4 = {i["local"] for i in infos if i["family"] == "inet" and i["local"] != "127.0.0.1"}
    ipv6 = {
        str(ipaddress.ip_address(i["local"]))
        for i in infos
        if i["family"] == "inet6" and i.get("scope") == "global"
    }
    gathered = gather_addresses(MediaAddressPolicy.HOST, use_ipv4=True, use_ipv6=True)
    assert gathered[-1] == "127.0.0.1"
    assert {str(ipaddress.ip_address(a)) for a in gathered} == ipv4 | ipv6 | {"127.0.0.1"}
    only_v4 = gather_addresses(MediaAddressPolicy.HOST, use_ipv4=True, use_ipv6=False)
    assert set(only_v4) == ipv4 | {"127.0.0.1"}
    assert set(gather_addresses(MediaAddressPolicy.HOST, use_ipv4=False, use_ipv6=True)) == ipv6


def test_loopback_policy_gathers_on_127_0_0_1_only() -> None:
    assert gather_addresses(MediaAddressPolicy.LOOPBACK, use_ipv4=True, use_ipv6=True) == ["127.0.0.1"]
    assert gather_addresses(MediaAddressPolicy.LOOPBACK, use_ipv4=False, use_ipv6=True) == []


def test_machine_addresses_are_the_interfaces_and_loopback_ranges() -> None:
    machine = machine_addresses()
    for info in _iproute2_addresses():
        assert is_machine_address(info["local"], machine), info
    for address in ("127.0.0.1", "127.0.0.53", "::1", "[::1]"):
        assert is_machine_address(address, machine), address
    # RFC 5737 / RFC 3849 documentation addresses that are not configured here, names, garbage
    for address in ("203.0.113.77", "2001:db8:ffff::77", "abcd.local", "", "not an address"):
        assert not is_machine_address(address, machine), address


def test_default_policy_is_host_unless_the_environment_says_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(MEDIA_ADDRESSES_ENV, raising=False)
    assert default_policy() is MediaAddressPolicy.HOST
    monkeypatch.setenv(MEDIA_ADDRESSES_ENV, " Loopback ")
    assert default_policy() is MediaAddressPolicy.LOOPBACK
    assert SandboxConfig().media_addresses is MediaAddressPolicy.LOOPBACK
    monkeypatch.setenv(MEDIA_ADDRESSES_ENV, "everywhere")
    with pytest.raises(ValueError, match="host, loopback"):
        default_policy()
    with pytest.raises(ConfigError, match=MEDIA_ADDRESSES_ENV):
        build_config(make_parser().parse_args([]))
    # an explicit option wins over the environment
    assert build_config(make_parser().parse_args(["--media-addresses", "host"])).media_addresses == "host"
    with pytest.raises(ConfigError, match="MediaAddressPolicy"):
        SandboxConfig(media_addresses="host")  # type: ignore[arg-type]


def _with_candidates(*lines: str) -> str:
    without = re.sub(r"a=candidate:.*\n", "", SAMPLE_OFFER)
    return without + "".join(line + "\n" for line in lines)


@pytest.mark.parametrize(
    ("policy", "candidates", "needle"),
    [
        # loopback-only: an ordinary browser's offer (its interface address, or mDNS) is refused, saying why
        (
            MediaAddressPolicy.LOOPBACK,
            ["a=candidate:1 1 udp 2122260223 198.51.100.1 50000 typ host"],
            "no 127.0.0.1 UDP candidate",
        ),
        (
            MediaAddressPolicy.LOOPBACK,
            ["a=candidate:0 1 UDP 2122252543 0d1e7a2b-7b1c-4e8e-9a4e-1c2d3e4f5a6b.local 50000 typ host"],
            "--allow-loopback-in-peer-connection",
        ),
        # this machine: an address that is not this machine's is never a target
        (
            MediaAddressPolicy.HOST,
            ["a=candidate:1 1 udp 2122260223 203.0.113.77 50000 typ host"],
            "no UDP candidate on this machine's addresses",
        ),
        (
            MediaAddressPolicy.HOST,
            [
                "a=candidate:1 1 udp 1686052607 203.0.113.77 50000 typ srflx raddr 0.0.0.0 rport 0",
                "a=candidate:3 1 tcp 1518280447 127.0.0.1 9 typ host tcptype active",
            ],
            "no UDP candidate on this machine's addresses",
        ),
    ],
)
def test_offers_without_a_candidate_the_policy_allows_are_refused(
    policy: MediaAddressPolicy, candidates: list[str], needle: str
) -> None:
    async def scenario() -> None:
        endpoint = MediaEndpoint(MediaBehaviour.ECHO, addresses=policy)
        try:
            with pytest.raises(SdpNegotiationError) as info:
                await endpoint.answer(_with_candidates(*candidates))
            assert needle in str(info.value)
            assert info.value.status_hint == 488
        finally:
            await endpoint.close()

    run_in_thread(scenario)


def test_media_endpoint_refuses_a_policy_that_is_not_one() -> None:
    with pytest.raises(MediaConfigError, match="MediaAddressPolicy"):
        MediaEndpoint(MediaBehaviour.ECHO, addresses="host")  # type: ignore[arg-type]
