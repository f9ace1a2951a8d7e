"""The SDP side of a sandbox media endpoint: remote offers and answers checked and normalised for aiortc.

:func:`prepare_remote_sdp` reads a remote SDP with the SIP core's model (:mod:`twochat_voice_web.sip.sdp`),
keeps the ICE candidates the address policy pairs with (:class:`CandidateFilter`, see
:mod:`.media_addresses`), makes the direction explicit and refuses what the endpoint cannot do with
:class:`~.media_errors.SdpNegotiationError` (488). :func:`local_sdp_direction` reads the direction of our
own SDP.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiortc import sdp as aiortc_sdp

from twochat_voice_web.sip.sdp import Candidate, SdpError, ice_credentials, parse_sdp

from .media_addresses import (
    LOOPBACK_ADDRESS,
    MediaAddressPolicy,
    is_machine_address,
    is_mdns_hostname,
    machine_addresses,
)
from .media_errors import SdpNegotiationError

__all__ = ["CandidateFilter", "RemoteSdp", "local_sdp_direction", "prepare_remote_sdp"]


@dataclass(frozen=True, slots=True)
class RemoteSdp:
    """A remote SDP ready for aiortc, with what the endpoint reads of it."""

    sdp: str
    direction: str
    ice_ufrag: str
    ice_pwd: str


class CandidateFilter:
    """Which remote ICE candidates a policy pairs with (see :mod:`.media_addresses`)."""

    def __init__(self, policy: MediaAddressPolicy) -> None:
        self.policy = policy
        self._machine = machine_addresses() if policy is MediaAddressPolicy.HOST else frozenset()

    def classify(self, candidate: Candidate) -> str:
        """``"usable"``, ``"mdns"`` (learnt from its checks under HOST) or ``"ignored"``."""
        if candidate.transport.lower() != "udp":
            return "ignored"
        address = candidate.address
        if self.policy is MediaAddressPolicy.LOOPBACK:
            return "usable" if address == LOOPBACK_ADDRESS else "ignored"
        if is_mdns_hostname(address):
            return "mdns"
        return "usable" if is_machine_address(address, self._machine) else "ignored"


def prepare_remote_sdp(text: str, what: str, *, candidates_filter: CandidateFilter) -> RemoteSdp:
    """Validate a remote SDP and normalise it for aiortc (usable candidates only, explicit direction).

    The SDP is read with the SIP core's model (:func:`~twochat_voice_web.sip.sdp.parse_sdp`, lenient about
    line order) and written back in canonical order for aiortc. Under ``HOST``, mDNS candidates are
    dropped and so is ``a=end-of-candidates`` when there were any: aioice then keeps its check list open
    for the peer-reflexive candidate that the browser's own checks reveal (RFC 8445 §7.3.1.3) instead of
    failing on an empty list.
    """
    if not isinstance(text, str) or not text.strip():
        raise SdpNegotiationError(f"the SDP {what} is empty")
    try:
        sdp = parse_sdp(text, strict_order=False)
    except SdpError as exc:
        raise SdpNegotiationError(f"the SDP {what} is malformed: {exc}") from exc
    kinds = [media.media for media in sdp.media]
    if kinds != ["audio"]:
        found = ", ".join(kinds) or "none"
        raise SdpNegotiationError(
            f"the SDP {what} must have exactly one audio media section (found: {found})"
        )
    media = sdp.media[0]
    direction = media.direction  # media level, else session level, else sendrecv (RFC 8866 §6.7)
    verdicts = [candidates_filter.classify(candidate) for candidate in media.candidates]
    usable, mdns = verdicts.count("usable"), verdicts.count("mdns")
    kept = iter(verdict == "usable" for verdict in verdicts)
    media.remove_attribute("candidate", lambda _attribute: not next(kept))
    if media.media_direction is None:
        media.set_direction(direction)
    if mdns:
        media.remove_attribute("end-of-candidates")
        sdp.remove_attribute("end-of-candidates")
    if usable == 0 and mdns == 0:
        if candidates_filter.policy is MediaAddressPolicy.LOOPBACK:
            hint = (
                f"no {LOOPBACK_ADDRESS} UDP candidate (the sandbox's media runs loopback-only "
                f"(--media-addresses loopback): Chromium needs --allow-loopback-in-peer-connection)"
            )
        else:
            hint = "no UDP candidate on this machine's addresses and no mDNS candidate"
        raise SdpNegotiationError(f"the SDP {what} has {hint}; non-trickle ICE needs one")
    normalised = str(sdp)
    try:
        aiortc_sdp.SessionDescription.parse(normalised)  # what aiortc will read must parse there too
    except Exception as exc:  # aiortc's parser raises assert/Key/Value/Index errors on bad input
        raise SdpNegotiationError(f"the SDP {what} is malformed: {exc!r}") from exc
    if media.port == 0:
        raise SdpNegotiationError(f"the SDP {what} disables its audio stream (port 0)")
    credentials = ice_credentials(media)
    if credentials is None or not all(credentials):
        raise SdpNegotiationError(f"the SDP {what} has no ICE ufrag/pwd")
    if not media.inherited_attribute("fingerprint"):
        raise SdpNegotiationError(f"the SDP {what} has no DTLS fingerprint")
    return RemoteSdp(normalised, direction.value, *credentials)


def local_sdp_direction(sdp_text: str) -> str | None:
    """The direction attribute of our own (aiortc's) SDP, as written, or None."""
    try:
        sdp = parse_sdp(sdp_text, strict_order=False)
    except SdpError:
        return None
    own = next((media.media_direction for media in sdp.media if media.media_direction is not None), None)
    return own.value if own is not None else None
