"""Where the sandbox's media may go: the explicit address policy of its WebRTC end.

The sandbox's test numbers answer (and place) calls with an aiortc peer. Which addresses that peer offers
as ICE host candidates, which remote candidates it pairs with, and which datagram sources it accepts is
one decision, made here and nowhere else:

``MediaAddressPolicy.HOST`` (the default of ``python -m twochat_voice_web.sandbox`` and of
``build.py demo``)
    Media stays on **this machine**. Our host candidates are the addresses of this machine's interfaces
    (IPv4 and global/unique-local IPv6, listed by ``ifaddr`` as aioice does) plus ``127.0.0.1``. A remote
    candidate is paired only when its address is one of this machine's addresses; an mDNS candidate
    (``<uuid>.local``, what Firefox and a page without microphone permission offer) is not resolved:
    the browser's connectivity checks reach our candidates and aioice learns the browser's address as
    a peer-reflexive candidate (RFC 8445 §7.3.1.3), so the SDP keeps no ``a=end-of-candidates`` for it.
    Datagrams from any address that is not this machine's are dropped. An ordinary browser (no test
    flag) on the same machine as the sandbox gets audio this way; a remote public address is never a
    target.

``MediaAddressPolicy.LOOPBACK``
    Strict: only ``127.0.0.1``, both as our candidate and as a source; every other candidate is ignored
    and every other datagram dropped. A browser needs ``--allow-loopback-in-peer-connection`` (Chromium)
    to offer such a candidate. The project's own tests outside their network namespace run the sandbox
    this way, because this machine's non-loopback addresses are not test targets there.

The policy is chosen per sandbox process (``--media-addresses``, :attr:`SandboxConfig.media_addresses`)
and per :class:`~twochat_voice_web.sandbox.media.MediaEndpoint`.
"""

from __future__ import annotations

import ipaddress
import os
from enum import StrEnum
from typing import Final

import ifaddr

__all__ = [
    "LOOPBACK_ADDRESS",
    "MEDIA_ADDRESSES_ENV",
    "MediaAddressPolicy",
    "default_policy",
    "gather_addresses",
    "is_machine_address",
    "is_mdns_hostname",
    "machine_addresses",
]

LOOPBACK_ADDRESS: Final = "127.0.0.1"
"""The IPv4 loopback address, our only candidate under :attr:`MediaAddressPolicy.LOOPBACK`."""

MEDIA_ADDRESSES_ENV: Final = "TWOCHAT_SANDBOX_MEDIA_ADDRESSES"
"""Environment variable giving the default policy (``host`` or ``loopback``) when none is passed."""


class MediaAddressPolicy(StrEnum):
    """Which addresses the sandbox's media end offers, pairs with and hears from (module docstring)."""

    HOST = "host"
    """This machine's interface addresses (and loopback); media never leaves the machine."""

    LOOPBACK = "loopback"
    """Only 127.0.0.1."""


def default_policy() -> MediaAddressPolicy:
    """The policy when none is given: ``$TWOCHAT_SANDBOX_MEDIA_ADDRESSES``, else ``HOST``.

    Raises:
        ValueError: the variable holds something else than ``host`` or ``loopback``.
    """
    value = os.environ.get(MEDIA_ADDRESSES_ENV, "").strip().lower()
    if not value:
        return MediaAddressPolicy.HOST
    try:
        return MediaAddressPolicy(value)
    except ValueError:
        choices = ", ".join(p.value for p in MediaAddressPolicy)
        raise ValueError(f"${MEDIA_ADDRESSES_ENV} must be one of {choices}, not {value!r}") from None


def gather_addresses(policy: MediaAddressPolicy, *, use_ipv4: bool, use_ipv6: bool) -> list[str]:
    """The addresses our host candidates are gathered on under ``policy``.

    ``HOST`` lists the interfaces the way aioice's own ``get_host_addresses`` does (IPv4 but 127.0.0.1,
    IPv6 without a scope, so no link-local and no ``::1``) and adds ``127.0.0.1`` last, so a browser
    started with the loopback flag still finds a pair.
    """
    if policy is MediaAddressPolicy.LOOPBACK:
        return [LOOPBACK_ADDRESS] if use_ipv4 else []
    addresses: list[str] = []
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            if isinstance(ip.ip, str):
                if use_ipv4 and ip.ip != LOOPBACK_ADDRESS:
                    addresses.append(ip.ip)
            elif use_ipv6 and ip.ip[0] != "::1" and ip.ip[2] == 0:
                addresses.append(ip.ip[0])
    if use_ipv4:
        addresses.append(LOOPBACK_ADDRESS)
    return addresses


def machine_addresses() -> frozenset[str]:
    """Every address of this machine's interfaces (loopback and link-local included), normalised.

    IPv6 addresses are in their compressed form without a zone; the loopback ranges are implied by
    :func:`is_machine_address` and need not be listed.
    """
    found: set[str] = set()
    for adapter in ifaddr.get_adapters():
        for ip in adapter.ips:
            address = ip.ip if isinstance(ip.ip, str) else ip.ip[0]
            try:
                found.add(str(ipaddress.ip_address(address.split("%", 1)[0])))
            except ValueError:
                continue
    return frozenset(found)


def is_machine_address(address: str, machine: frozenset[str]) -> bool:
    """Whether ``address`` (an IP literal) is loopback or one of ``machine`` (:func:`machine_addresses`)."""
    try:
        parsed = ipaddress.ip_address(address.strip("[]").split("%", 1)[0])
    except ValueError:
        return False
    return parsed.is_loopback or str(parsed) in machine


def is_mdns_hostname(address: str) -> bool:
    """Whether a candidate address is an mDNS name (``<uuid>.local``, draft mmusic-mdns-ice-candidates)."""
    return address.lower().endswith(".local")
