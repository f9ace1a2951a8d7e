"""Python driver for the JsSIP browser peer page (tests/pages/jssip-peer.html), sync Playwright."""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["JsSipPeer", "PeerTimeoutError"]


class PeerTimeoutError(AssertionError):
    """An expected JsSIP event did not come; the message lists the events that did."""


class JsSipPeer:
    """A JsSIP user agent in one browser page.

    Every JsSIP event is recorded by the page as ``{seq, t, wall, ev, ...}``; `wait_for` waits for
    one with ``seq >= since`` (take ``since`` from `mark` before the action you wait on).
    """

    def __init__(self, page: Page, name: str = "jssip") -> None:
        self.page = page
        self.name = name
        self.user: str | None = None

    # ------------------------------------------------------------------ events
    def events(self) -> list[dict[str, Any]]:
        """Every event recorded so far."""
        events: list[dict[str, Any]] = self.page.evaluate("PEER.events")
        return events

    def mark(self) -> int:
        """The sequence number the next event will get."""
        count: int = self.page.evaluate("PEER.events.length")
        return count

    def find(self, event: str, since: int = 0) -> dict[str, Any] | None:
        """The first ``event`` with seq >= since, or None."""
        found: dict[str, Any] | None = self.page.evaluate(
            "([ev, since]) => PEER.find(ev, since)", [event, since]
        )
        return found

    def wait_for(self, event: str, *, since: int = 0, timeout: float = 15.0) -> dict[str, Any]:
        """Wait for ``event`` (seq >= since); `PeerTimeoutError` listing the events seen otherwise."""
        deadline = time.monotonic() + timeout
        while True:
            found = self.find(event, since)
            if found is not None:
                return found
            if time.monotonic() > deadline:
                raise PeerTimeoutError(
                    f"{self.name}: no {event!r} event within {timeout:.1f} s; events since #{since}: "
                    f"{self.event_summary(since)}"
                )
            self.page.wait_for_timeout(50)

    def wait_for_any(self, events: Sequence[str], *, since: int = 0, timeout: float = 15.0) -> dict[str, Any]:
        """Wait for the first of several events."""
        deadline = time.monotonic() + timeout
        while True:
            for event in events:
                found = self.find(event, since)
                if found is not None:
                    return found
            if time.monotonic() > deadline:
                raise PeerTimeoutError(
                    f"{self.name}: none of {list(events)} within {timeout:.1f} s; events since #{since}: "
                    f"{self.event_summary(since)}"
                )
            self.page.wait_for_timeout(50)

    def event_summary(self, since: int = 0) -> str:
        """Compact ``ev:status:cause`` list of the events since ``since``."""
        parts = []
        for event in self.events()[since:]:
            text = event["ev"]
            for key in ("originator", "status", "cause", "direction"):
                if event.get(key) not in (None, ""):
                    text += f":{event[key]}"
            parts.append(text)
        return ", ".join(parts)

    def event_log(self) -> str:
        """Every event as one JSON line (for failure reports)."""
        return "\n".join(json.dumps(e, sort_keys=True) for e in self.events())

    # ------------------------------------------------------------------ actions
    def start(
        self,
        ws_url: str,
        uri: str,
        password: str,
        *,
        auto_answer: bool = False,
        register: bool = True,
        **options: Any,
    ) -> int:
        """Create and start the JsSIP UA (registers unless ``register=False``); the mark before it."""
        since = self.mark()
        self.user = uri.split(":", 1)[-1].split("@", 1)[0]
        self.page.evaluate(
            "(o) => PEER.start(o)",
            {
                "ws_url": ws_url,
                "uri": uri,
                "password": password,
                "auto_answer": auto_answer,
                "register": register,
                **options,
            },
        )
        return since

    def register(
        self, ws_url: str, uri: str, password: str, *, timeout: float = 15.0, **options: Any
    ) -> dict[str, Any]:
        """`start` and wait for ``registered``; the event."""
        since = self.start(ws_url, uri, password, **options)
        return self.wait_for("registered", since=since, timeout=timeout)

    def call(self, target: str, *, extra_headers: Sequence[str] = ()) -> int:
        """Call ``target``; the mark before the call."""
        since = self.mark()
        self.page.evaluate("([t, h]) => PEER.call(t, {extra_headers: h})", [target, list(extra_headers)])
        return since

    def answer(self) -> int:
        """Answer the current incoming session; the mark before."""
        since = self.mark()
        self.page.evaluate("PEER.answer()")
        return since

    def reject(self, status_code: int = 486) -> int:
        """Reject the current incoming session with ``status_code``."""
        since = self.mark()
        self.page.evaluate("(c) => PEER.reject(c)", status_code)
        return since

    def dtmf(self, tones: str, *, transport: str = "rfc4733", duration: int = 200, gap: int = 100) -> bool:
        """Send DTMF (``rfc4733`` through RTCDTMFSender, or ``info``); True when canInsertDTMF."""
        can: bool = self.page.evaluate(
            "([t, o]) => PEER.dtmf(t, o)", [tones, {"transport": transport, "duration": duration, "gap": gap}]
        )
        return can

    def hold(self) -> int:
        """Put the session on hold (re-INVITE a=sendonly); the mark before."""
        since = self.mark()
        self.page.evaluate("PEER.hold()")
        return since

    def unhold(self) -> int:
        """Resume the session (re-INVITE a=sendrecv); the mark before."""
        since = self.mark()
        self.page.evaluate("PEER.unhold()")
        return since

    def hangup(self) -> int:
        """BYE (confirmed) or CANCEL (ringing) the current session; the mark before."""
        since = self.mark()
        self.page.evaluate("PEER.hangup()")
        return since

    def stop(self) -> None:
        """Stop the UA (unregisters)."""
        self.page.evaluate("PEER.stop()")

    def stats(self) -> dict[str, Any] | None:
        """Audio stats of the current session (inbound/outbound bytes summed over streams, ICE, DTLS)."""
        stats: dict[str, Any] | None = self.page.evaluate("PEER.stats()")
        return stats

    def inbound_bytes(self) -> int:
        """Inbound audio bytes of the current session (0 without stats)."""
        stats = self.stats()
        return int(stats["in"]["bytes"]) if stats else 0

    def wait_sent_sound(self, *, then_packets: int = 25, timeout: float = 10.0) -> None:
        """Wait until the microphone's energy grew (the fake device beeped) and ``then_packets`` more RTP
        packets went out after that (20 ms each: the beep is on the wire, not only in the microphone)."""
        deadline = time.monotonic() + timeout
        first = self.stats() or {}
        energy0 = float(first.get("out", {}).get("totalAudioEnergy", 0))
        beeped_at: int | None = None
        now: dict[str, Any] = first
        while time.monotonic() < deadline:
            now = self.stats() or {}
            out = now.get("out", {})
            if beeped_at is None and float(out.get("totalAudioEnergy", 0)) > energy0:
                beeped_at = int(out.get("packets", 0))
            if beeped_at is not None and int(out.get("packets", 0)) >= beeped_at + then_packets:
                return
            self.page.wait_for_timeout(50)
        raise PeerTimeoutError(f"{self.name}: no sound went out in {timeout:.1f} s; stats: {now}")

    def wait_inbound_growth(self, min_bytes: int = 4000, timeout: float = 10.0) -> tuple[int, int]:
        """Wait until inbound audio grew by ``min_bytes``; (before, after)."""
        before = self.inbound_bytes()
        deadline = time.monotonic() + timeout
        after = before
        while time.monotonic() < deadline:
            self.page.wait_for_timeout(250)
            after = self.inbound_bytes()
            if after - before >= min_bytes:
                return before, after
        raise PeerTimeoutError(
            f"{self.name}: inbound audio grew {after - before} bytes in {timeout:.1f} s "
            f"(wanted {min_bytes}); stats: {self.stats()}"
        )
