"""RFC 3264 offer/answer helpers over the SDP model: directions, hold, telephone-event, ICE credentials."""

from __future__ import annotations

from .grammar import Direction
from .model import Codec, MediaDescription, SessionDescription

__all__ = [
    "active_media",
    "answer_direction",
    "audio_codecs",
    "has_telephone_event",
    "ice_credentials",
    "is_ice_restart",
    "is_on_hold",
    "telephone_event",
    "telephone_events",
]


def answer_direction(offer: Direction, local: Direction) -> Direction:
    """The direction to put in an answer, per RFC 3264 §6.1.

    ``offer`` is the direction in the offer; ``local`` is what the answerer would like (for example
    ``SENDONLY`` while it holds the call, ``RECVONLY`` without a microphone). The answer sends only if
    the offerer receives and the answerer wants to send, and receives only if the offerer sends and the
    answerer wants to receive: sendonly -> recvonly/inactive, recvonly -> sendonly/inactive,
    inactive -> inactive, sendrecv -> ``local``.
    """
    return Direction.from_flags(sends=offer.receives and local.sends, receives=offer.sends and local.receives)


# --- codec and DTMF helpers -------------------------------------------------------------------------------
def active_media(sdp: SessionDescription, kind: str | None = "audio") -> list[MediaDescription]:
    """The media sections that are not rejected, of the given media type (``None``: any type)."""
    return [m for m in sdp.media if not m.rejected and (kind is None or m.media == kind)]


def audio_codecs(sdp: SessionDescription) -> list[Codec]:
    """The codecs of the first active audio section, in preference order ([] without one)."""
    audio = active_media(sdp, "audio")
    return audio[0].codecs if audio else []


def telephone_events(media: MediaDescription) -> list[Codec]:
    """Every RFC 4733 telephone-event format of this section (Chromium offers /48000 and /8000)."""
    return [codec for codec in media.codecs if codec.is_telephone_event]


def telephone_event(media: MediaDescription, clock_rate: int | None = None) -> Codec | None:
    """The first telephone-event format of this section (with this clock rate if given), or ``None``.

    To send DTMF over RTP, pick the one whose clock rate matches the audio codec in use.
    """
    for codec in telephone_events(media):
        if clock_rate is None or codec.clock_rate == clock_rate:
            return codec
    return None


def has_telephone_event(sdp: SessionDescription) -> bool:
    """True when some active audio section lists telephone-event (so DTMF can go over RTP).

    Ask it of the *answer* (the remote description after our offer, or our answer): what an answer
    lists is what was negotiated.
    """
    return any(telephone_event(media) is not None for media in active_media(sdp, "audio"))


# --- hold and direction helpers ---------------------------------------------------------------------------
def is_on_hold(sdp: SessionDescription) -> bool:
    """True when the writer of ``sdp`` does not want to receive on any active RTP stream.

    Use it on a *remote* offer: sendonly/inactive (or an RFC 2543 ``c=0.0.0.0`` without ICE) on every
    active stream means the peer put us on hold. False when there is no active RTP stream.
    """
    streams = [m for m in sdp.media if m.is_rtp and not m.rejected]
    return bool(streams) and all(not m.effective_direction.receives for m in streams)


# --- ICE helpers ------------------------------------------------------------------------------------------
def ice_credentials(media: MediaDescription) -> tuple[str, str] | None:
    """``(ice-ufrag, ice-pwd)`` of this section (each inherited from the session level), or ``None``."""
    ufrag = media.inherited_attribute("ice-ufrag")
    pwd = media.inherited_attribute("ice-pwd")
    if ufrag is None or pwd is None:
        return None
    return ufrag, pwd


def is_ice_restart(old: SessionDescription, new: SessionDescription) -> bool:
    """True when ``new`` restarts ICE relative to ``old`` (RFC 8839 §4.4.1.1.1).

    That is when a stream present and active in both has ICE credentials in both and the ufrag or the
    password changed. A stream that gained or lost ICE, or new m= lines, do not count.
    """
    for old_media, new_media in zip(old.media, new.media, strict=False):
        if old_media.rejected or new_media.rejected:
            continue
        before, after = ice_credentials(old_media), ice_credentials(new_media)
        if before is not None and after is not None and before != after:
            return True
    return False


# --- answer validation ------------------------------------------------------------------------------------
