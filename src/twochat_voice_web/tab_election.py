"""Leader election over a BroadcastChannel, for runtimes without Web Locks (``multi_tab``, :mod:`.tabs`).

Heartbeats, claims and the lowest tab id winning a simultaneous election (:class:`ChannelElection`). A tab
whose timers the browser throttles hard may be taken for dead, and then two tabs lead and both register:
the group degrades to independent tabs, never to none.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from .tab_protocol import Claim, Heartbeat, LeaderAnnounce, Resign, TabMessage, WhoLeads

__all__ = ["CLAIM_WAIT", "HEARTBEAT_INTERVAL", "LEADER_TIMEOUT", "ChannelElection"]

_log = logging.getLogger("twochat_voice_web")

HEARTBEAT_INTERVAL = 1.0
"""Channel election: how often the leader says it is alive (seconds)."""
LEADER_TIMEOUT = 5.0
"""Channel election: silence after which followers take the leader for dead (seconds)."""
CLAIM_WAIT = 0.4
"""Channel election: how long a claim waits for objections before it wins (seconds)."""


class ChannelElection:
    """Leader election over the group channel, for runtimes without Web Locks.

    A joining tab asks :class:`WhoLeads`; a live leader answers with a :class:`Heartbeat` (and sends one
    every :data:`HEARTBEAT_INTERVAL`). With no answer within :data:`CLAIM_WAIT`, or no heartbeat for
    :data:`LEADER_TIMEOUT`, or after a :class:`Resign`, a tab posts a :class:`Claim` and wins unless it
    hears, within :data:`CLAIM_WAIT`, a leader or a claim from a lower tab id. Tabs with a lower id contest
    a claim they hear while no leader is alive, so the lowest id wins a simultaneous election.
    """

    def __init__(
        self,
        tab_id: str,
        post: Callable[[TabMessage], None],
        on_elected: Callable[[], None],
        *,
        heartbeat: float | None = None,
        leader_timeout: float | None = None,
        claim_wait: float | None = None,
    ) -> None:
        self.tab_id = tab_id
        self._post = post
        self._on_elected = on_elected
        self._heartbeat = heartbeat if heartbeat is not None else HEARTBEAT_INTERVAL
        self._leader_timeout = leader_timeout if leader_timeout is not None else LEADER_TIMEOUT
        self._claim_wait = claim_wait if claim_wait is not None else CLAIM_WAIT
        self._timer: asyncio.TimerHandle | None = None
        self._claiming = False
        self._leader_alive = False
        self._lowest_claim: str | None = None  # the best rival claim of this election round
        self._rivals: set[str] = set()
        self.leading = False
        self._disposed = False

    def start(self) -> None:
        """Ask who leads; claim if nobody answers."""
        self._post(WhoLeads(self.tab_id))
        self._arm(self._claim_wait, self._claim)

    def handle(self, message: TabMessage) -> None:
        """Feed every message of the group channel from another tab."""
        if self._disposed or message.sender == self.tab_id:
            return
        if isinstance(message, Heartbeat | LeaderAnnounce):
            if self.leading:
                if message.sender not in self._rivals:
                    self._rivals.add(message.sender)
                    _log.warning("two tabs lead this group (%s and %s)", self.tab_id, message.sender)
                return
            self._claiming = False
            self._leader_alive = True
            self._lowest_claim = None
            self._arm(self._leader_timeout, self._leader_silent)
        elif isinstance(message, WhoLeads):
            if self.leading:
                self._post(Heartbeat(self.tab_id))
        elif isinstance(message, Claim):
            if self.leading:
                self._post(Heartbeat(self.tab_id))
                return
            if self._lowest_claim is None or message.sender < self._lowest_claim:
                self._lowest_claim = message.sender
            if self._claiming and message.sender < self.tab_id:
                self._claiming = False
                self._arm(self._leader_timeout, self._leader_silent)
            elif not self._claiming and not self._leader_alive and self.tab_id < self._lowest_claim:
                self._claim()  # we outrank every claim heard: contest
        elif isinstance(message, Resign) and not self.leading:
            self._leader_alive = False
            self._lowest_claim = None
            self._claim()

    def _leader_silent(self) -> None:
        self._leader_alive = False
        self._lowest_claim = None
        self._claim()

    def _claim(self) -> None:
        if self.leading or self._disposed:
            return
        self._claiming = True
        self._post(Claim(self.tab_id))
        self._arm(self._claim_wait, self._claim_won)

    def _claim_won(self) -> None:
        if not self._claiming or self._disposed:
            return
        self._claiming = False
        self.leading = True
        self._beat()
        self._on_elected()

    def _beat(self) -> None:
        if self._disposed:
            return
        self._post(Heartbeat(self.tab_id))
        self._arm(self._heartbeat, self._beat)

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        if self._timer is not None:
            self._timer.cancel()
        self._timer = asyncio.get_event_loop().call_later(delay, callback)

    def dispose(self) -> None:
        """Stop electing and heart-beating; idempotent."""
        self._disposed = True
        self.leading = False
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
