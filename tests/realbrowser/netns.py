"""A network namespace of the test run's own, where the real-browser tier runs its sandbox and browsers.

Rule of the machines the tests run on: traffic goes to loopback or to test hosts inside a namespace the
run made itself. An ordinary browser (no ``--allow-loopback-in-peer-connection``) offers ICE candidates
on its interfaces' addresses only, never 127.0.0.1, so this tier gives it interfaces that lead nowhere:

    namespace twochat-rb-<pid>
    ┌──────────────────────────────────────────────────────────────────────┐
    │ lo          127.0.0.1        the sandbox's HTTP + SIP-over-WebSocket   │
    │ tcv-a  ◄─veth─►  tcv-b       198.51.100.1/24  ◄──►  198.51.100.2/24   │
    │                              2001:db8:5118::1/64    2001:db8:5118::2/64│
    │ default route via 198.51.100.2 (Firefox gathers no candidate without   │
    │ one; the route ends at the other veth end, inside this namespace)      │
    └──────────────────────────────────────────────────────────────────────┘

Both ends of the veth pair live inside the namespace, which has no other interface: no packet of the
tier can leave it (:meth:`NetworkNamespace.links` lets a test check that). The addresses are TEST-NET-2
(RFC 5737) and the IPv6 documentation prefix (RFC 3849). :meth:`NetworkNamespace.remove` kills what the
run started inside (by PID) and deletes the namespace.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Sequence

__all__ = ["NamespaceError", "NetworkNamespace", "namespaces_supported"]

VETH_A, VETH_B = "tcv-a", "tcv-b"
ADDRESS_A, ADDRESS_B = "198.51.100.1", "198.51.100.2"
ADDRESS6_A, ADDRESS6_B = "2001:db8:5118::1", "2001:db8:5118::2"


class NamespaceError(RuntimeError):
    """Creating or using the namespace failed; the message has the command and its output."""


def namespaces_supported() -> str | None:
    """None when this process can make network namespaces, else why not."""
    if os.geteuid() != 0:
        return "the real-browser tier makes a network namespace: it needs root"
    if shutil.which("ip") is None:
        return "the real-browser tier needs iproute2's `ip`"
    return None


def _run(args: Sequence[str]) -> str:
    completed = subprocess.run(list(args), capture_output=True, text=True, check=False, timeout=30)
    if completed.returncode != 0:
        raise NamespaceError(f"{' '.join(args)} failed ({completed.returncode}): {completed.stderr.strip()}")
    return completed.stdout


class NetworkNamespace:
    """The namespace of one test run (see the module docstring). Use :meth:`create`, then :meth:`remove`."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.address = ADDRESS_A

    @classmethod
    def create(cls, name: str | None = None) -> NetworkNamespace:
        """Make the namespace with its veth pair, addresses and route; raise NamespaceError on failure."""
        namespace = cls(name or f"twochat-rb-{os.getpid()}")
        _run(["ip", "netns", "add", namespace.name])
        try:
            inside = ["ip", "-n", namespace.name]
            _run([*inside, "link", "set", "lo", "up"])
            _run([*inside, "link", "add", VETH_A, "type", "veth", "peer", "name", VETH_B])
            for device, v4, v6 in ((VETH_A, ADDRESS_A, ADDRESS6_A), (VETH_B, ADDRESS_B, ADDRESS6_B)):
                # No kernel-made link-local address: its duplicate-address detection would finish ~1-2 s
                # after the link comes up, and Chromium aborts every load in flight at that moment
                # (net::ERR_NETWORK_CHANGED) -- a page opened early in the run failed that way.
                _run([*inside, "link", "set", "dev", device, "addrgenmode", "none"])
                _run([*inside, "addr", "add", f"{v4}/24", "dev", device])
                _run([*inside, "-6", "addr", "add", f"{v6}/64", "dev", device, "nodad"])
                _run([*inside, "link", "set", device, "up"])
            _run([*inside, "route", "add", "default", "via", ADDRESS_B, "dev", VETH_A])
            namespace.wait_settled()
        except BaseException:
            namespace.remove()
            raise
        return namespace

    def wait_settled(self, timeout: float = 15.0) -> None:
        """Return once both veth ends are up and no address is still tentative, so that no browser
        started afterwards sees the network change under it; raise NamespaceError at the deadline."""
        deadline = time.monotonic() + timeout
        while True:
            state = self.unsettled()
            if not state:
                return
            if time.monotonic() >= deadline:
                raise NamespaceError(f"namespace {self.name} did not settle in {timeout} s: {state}")
            time.sleep(0.05)

    def unsettled(self) -> list[str]:
        """What still changes in the namespace: veth ends not up, addresses tentative (empty when settled)."""
        listing = _run(["ip", "-n", self.name, "-json", "addr", "show"])
        addresses: list[dict[str, object]] = json.loads(listing)
        pending: list[str] = []
        for link in addresses:
            name = str(link.get("ifname"))
            if name in (VETH_A, VETH_B) and link.get("operstate") != "UP":
                pending.append(f"{name} is {link.get('operstate')}")
            for info in link.get("addr_info", []) or []:  # type: ignore[union-attr]
                if isinstance(info, dict) and (info.get("tentative") or info.get("dadfailed")):
                    pending.append(f"{name} {info.get('local')} is tentative")
        return pending

    def command(self, args: Sequence[str]) -> list[str]:
        """``args`` run inside the namespace (``ip netns exec``)."""
        return ["ip", "netns", "exec", self.name, *args]

    def links(self) -> list[dict[str, object]]:
        """The namespace's interfaces as ``ip -json link`` reports them."""
        links: list[dict[str, object]] = json.loads(_run(["ip", "-n", self.name, "-json", "link", "show"]))
        return links

    def pids(self) -> list[int]:
        """PIDs of the processes running inside the namespace."""
        completed = subprocess.run(
            ["ip", "netns", "pids", self.name], capture_output=True, text=True, check=False, timeout=30
        )
        return [int(token) for token in completed.stdout.split() if token.isdigit()]

    def remove(self) -> None:
        """Stop what runs inside (SIGTERM, then SIGKILL after 5 s) and delete the namespace (idempotent)."""
        deadline = time.monotonic() + 5.0
        pids = self.pids()
        for sig in (signal.SIGTERM, signal.SIGKILL):
            for pid in pids:
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    continue
            while pids and time.monotonic() < deadline:
                time.sleep(0.05)
                pids = self.pids()
            if not pids:
                break
        subprocess.run(["ip", "netns", "del", self.name], capture_output=True, check=False, timeout=30)
