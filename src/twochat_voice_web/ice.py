"""ICE candidates in an SDP, and when a non-trickle offer or answer has enough of them to be sent.

SIP carries one SDP per offer/answer (no trickle ICE), so the SDK waits for candidates before sending it.
Two policies (the Device option ``ice_gathering``):

- ``"complete"``: wait until the browser says gathering is complete (what JsSIP does). In Chromium that
  includes the ICE-TCP host candidates, which its port allocator only starts about 100 ms after the UDP
  ones (its allocation phases are 50 ms apart), so every call pays that delay.
- ``"fast"`` (the default): send as soon as the candidates that can carry the audio are in: the UDP host
  candidates, plus a server-reflexive candidate when a STUN server is configured and a relay candidate
  when a TURN server is, followed by a short quiet window for the candidates of other interfaces.
  ICE-TCP host candidates are not waited for: SIP media gateways (rtpengine, Asterisk, FreeSWITCH, the
  2Chat media servers) speak ICE over UDP, and when UDP is blocked it is a TURN relay that gets through.

Both are bounded by ``ice_gathering_timeout_ms``: a dead STUN server never holds a call up for longer.
This module is pure (no browser): the browser's peer connection asks :func:`candidates_ready` on every
``icecandidate`` event.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from twochat_voice_web.sip.sdp import Candidate, SdpError, parse_candidate

__all__ = [
    "GATHERING_POLICIES",
    "SETTLE_SECONDS",
    "CandidateNeeds",
    "candidates_in",
    "candidates_ready",
    "needs_for",
]

#: The values of the ``ice_gathering`` Device option.
GATHERING_POLICIES = ("fast", "complete")

#: ``fast``: how long no new candidate may arrive, once the needed ones are in, before we send (seconds).
#: Chromium emits the UDP host candidates of all interfaces within a few milliseconds of each other.
SETTLE_SECONDS = 0.025


@dataclass(frozen=True, slots=True)
class CandidateNeeds:
    """What a ``fast`` offer waits for: UDP host candidates always, and a server-reflexive and/or relay
    candidate when STUN and/or TURN servers are configured."""

    srflx: bool = False
    relay: bool = False


def needs_for(urls: Iterable[str]) -> CandidateNeeds:
    """What to wait for, given the ICE servers' URLs (``stun:``/``stuns:``, ``turn:``/``turns:``)."""
    schemes = {url.split(":", 1)[0].strip().lower() for url in urls}
    return CandidateNeeds(
        srflx=bool(schemes & {"stun", "stuns"}),
        relay=bool(schemes & {"turn", "turns"}),
    )


def candidates_in(sdp: str | None) -> list[Candidate]:
    """Every ICE candidate of ``sdp``, in order, as the SIP core's
    :class:`~twochat_voice_web.sip.sdp.Candidate`; lines that are not well-formed candidates (RFC 8839
    §5.1, :func:`~twochat_voice_web.sip.sdp.parse_candidate`) are skipped.

    Only the candidate lines are read, so this works on the partial SDP of a gathering browser too.
    """
    if not sdp:
        return []
    found: list[Candidate] = []
    for line in sdp.splitlines():
        if not line.startswith("a=candidate:"):
            continue
        try:
            found.append(parse_candidate(line))
        except SdpError:
            continue
    return found


def candidates_ready(sdp: str | None, needs: CandidateNeeds) -> bool:
    """Whether ``sdp`` has what a ``fast`` offer or answer needs: a UDP host candidate, plus a
    server-reflexive one if ``needs.srflx`` and a relay one if ``needs.relay``."""
    candidates = candidates_in(sdp)
    kinds = {candidate.type.lower() for candidate in candidates}
    if not any(c.type.lower() == "host" and c.transport.lower() == "udp" for c in candidates):
        return False
    if needs.srflx and "srflx" not in kinds:
        return False
    return not (needs.relay and "relay" not in kinds)
