"""Codec preferences: which codecs come first in our SDP, and how the far end should send us Opus.

Twilio Voice JS users set ``codecPreferences`` (``['opus', 'pcmu']``), ``maxAverageBitrate`` and DTX per
Device and per call. :func:`parse_codec_preferences` validates them once, into a frozen
:class:`CodecPreferences`; bad input is a ``VoiceSDKError`` (``INVALID_ARGUMENT``) and changes nothing.
How they reach the wire is :mod:`twochat_voice_web.media_options`' (the Opus fmtp line) and the browser
adapter's (``RTCRtpTransceiver.setCodecPreferences``). This module depends on nothing but the errors, so
the platform interface can name the type.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import ErrorCode, VoiceSDKError

__all__ = ["CODEC_NAMES", "MAX_AVERAGE_BITRATE_RANGE", "CodecPreferences", "parse_codec_preferences"]

CODEC_NAMES: tuple[str, ...] = ("opus", "PCMU", "PCMA")
"""Codecs that may be named, as their RTP payload format names (RFC 7587, RFC 3551); matched without case."""

MAX_AVERAGE_BITRATE_RANGE = (6000, 510_000)
"""RFC 7587 §6.1: ``maxaveragebitrate`` is 6000 to 510000 bits per second."""

_BY_LOWER = {name.lower(): name for name in CODEC_NAMES}


def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


@dataclass(frozen=True, slots=True)
class CodecPreferences:
    """Which codecs come first and how Opus should be sent to us.

    Attributes:
        order: codec names (from :data:`CODEC_NAMES`) to put first, in this order; () leaves the browser's.
        max_average_bitrate: Opus ``maxaveragebitrate`` to ask for, bits per second; None: not set.
        dtx: Opus ``usedtx`` to ask for (True: 1, False: 0); None: not set.
    """

    order: tuple[str, ...] = ()
    max_average_bitrate: int | None = None
    dtx: bool | None = None

    @property
    def is_default(self) -> bool:
        """True when nothing is asked (the browser's own codecs and parameters go out unchanged)."""
        return not self.order and self.max_average_bitrate is None and self.dtx is None

    def overridden_by(self, other: CodecPreferences | None) -> CodecPreferences:
        """These preferences with the fields ``other`` sets taken from it (a call's over a Device's)."""
        if other is None:
            return self
        return replace(
            self,
            order=other.order or self.order,
            max_average_bitrate=(
                other.max_average_bitrate
                if other.max_average_bitrate is not None
                else self.max_average_bitrate
            ),
            dtx=other.dtx if other.dtx is not None else self.dtx,
        )

    def fmtp_parameters(self) -> dict[str, str]:
        """The Opus fmtp parameters to write: ``{"maxaveragebitrate": "20000", "usedtx": "1"}``."""
        out: dict[str, str] = {}
        if self.max_average_bitrate is not None:
            out["maxaveragebitrate"] = str(self.max_average_bitrate)
        if self.dtx is not None:
            out["usedtx"] = "1" if self.dtx else "0"
        return out


def parse_codec_preferences(
    codec_preferences: Iterable[str] | None = None,
    *,
    max_average_bitrate: int | None = None,
    dtx: bool | None = None,
) -> CodecPreferences:
    """Validate the codec options.

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown or repeated codec name, an empty list, a string
            instead of a list, a bitrate outside 6000-510000 or a ``dtx`` that is not a bool.
    """
    order: list[str] = []
    if codec_preferences is not None:
        if isinstance(codec_preferences, str | bytes) or not isinstance(codec_preferences, Iterable):
            raise _invalid("codec_preferences must be a list of codec names, e.g. ['opus', 'PCMU']")
        for name in codec_preferences:
            canonical = _BY_LOWER.get(name.lower()) if isinstance(name, str) else None
            if canonical is None:
                raise _invalid(
                    f"unknown codec {name!r} in codec_preferences; known: {', '.join(CODEC_NAMES)}"
                )
            if canonical in order:
                raise _invalid(f"codec {canonical!r} is named twice in codec_preferences")
            order.append(canonical)
        if not order:
            raise _invalid("codec_preferences must name at least one codec (or be left out)")
    if max_average_bitrate is not None:
        low, high = MAX_AVERAGE_BITRATE_RANGE
        if (
            not isinstance(max_average_bitrate, int)
            or isinstance(max_average_bitrate, bool)
            or not low <= max_average_bitrate <= high
        ):
            raise _invalid(f"max_average_bitrate must be an integer from {low} to {high} (bits per second)")
    if dtx is not None and not isinstance(dtx, bool):
        raise _invalid("dtx must be True, False or None")
    return CodecPreferences(tuple(order), max_average_bitrate, dtx)
