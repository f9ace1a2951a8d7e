"""Media options of a call: codec preferences, Opus parameters and the peer connection's configuration.

Twilio Voice JS users set ``codecPreferences`` (``['opus', 'pcmu']``), ``maxAverageBitrate`` and DTX per
Device, and an ``rtcConfiguration`` per call. Here they are validated once, into frozen values, before
anything is sent; bad input is a ``VoiceSDKError`` (``INVALID_ARGUMENT``) and changes nothing.

* :class:`CodecPreferences`: ``order`` puts the named codecs first, in that order, in every offer and
  answer (the browser's other codecs follow them, ``telephone-event`` included, so DTMF keeps working);
  it is applied with ``RTCRtpTransceiver.setCodecPreferences``. ``max_average_bitrate`` and ``dtx`` are
  written into the Opus ``a=fmtp`` line of the SDP we send (RFC 7587 §6.1: ``maxaveragebitrate``,
  ``usedtx``): they tell the far end how to encode the Opus it sends *us*; a browser or Opus-capable PBX
  honours them.
* :func:`parse_rtc_configuration`: the per-call ``rtc_configuration`` (RTCConfiguration keys, camelCase or
  snake_case).

The SDP edit (:func:`apply_opus_parameters`) is textual and touches only the Opus fmtp line, so the rest of
what the browser wrote is sent byte for byte.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from .codec_preferences import CodecPreferences, parse_codec_preferences
from .credentials import parse_ice_servers
from .errors import ErrorCode, VoiceSDKError
from .platform import IceServer

__all__ = [
    "CallMediaOptions",
    "RtcConfiguration",
    "apply_opus_parameters",
    "parse_call_media_options",
    "parse_rtc_configuration",
]

def _invalid(message: str) -> VoiceSDKError:
    return VoiceSDKError(ErrorCode.INVALID_ARGUMENT, message)


_FMTP_LINE = re.compile(r"^a=fmtp:(\d+) (.*)$")
_RTPMAP_LINE = re.compile(r"^a=rtpmap:(\d+) ([^/\s]+)/(\d+)")


def apply_opus_parameters(sdp: str, preferences: CodecPreferences) -> str:
    """``sdp`` with the Opus fmtp parameters of ``preferences`` set on every Opus payload type.

    Existing parameters of the same name are replaced, others kept in place; an Opus payload type with no
    fmtp line gets one after its rtpmap. Nothing else changes (line endings included).
    """
    wanted = preferences.fmtp_parameters()
    if not wanted:
        return sdp
    newline = "\r\n" if "\r\n" in sdp else "\n"
    lines = sdp.split(newline)
    opus_types = {
        match.group(1)
        for line in lines
        if (match := _RTPMAP_LINE.match(line)) is not None and match.group(2).lower() == "opus"
    }
    if not opus_types:
        return sdp
    with_fmtp = {m.group(1) for line in lines if (m := _FMTP_LINE.match(line)) and m.group(1) in opus_types}
    out: list[str] = []
    for line in lines:
        fmtp = _FMTP_LINE.match(line)
        if fmtp is not None and fmtp.group(1) in opus_types:
            out.append(f"a=fmtp:{fmtp.group(1)} {_merge_parameters(fmtp.group(2), wanted)}")
            continue
        out.append(line)
        rtpmap = _RTPMAP_LINE.match(line)
        if rtpmap is not None and rtpmap.group(1) in opus_types and rtpmap.group(1) not in with_fmtp:
            out.append(f"a=fmtp:{rtpmap.group(1)} {_merge_parameters('', wanted)}")
    return newline.join(out)


def _merge_parameters(text: str, wanted: Mapping[str, str]) -> str:
    items: list[str] = []
    seen: set[str] = set()
    for item in (part.strip() for part in text.split(";")):
        if not item:
            continue
        key = item.partition("=")[0].strip()
        if key.lower() in wanted:
            items.append(f"{key.lower()}={wanted[key.lower()]}")
            seen.add(key.lower())
        else:
            items.append(item)
    items.extend(f"{key}={value}" for key, value in wanted.items() if key not in seen)
    return ";".join(items)


# ------------------------------------------------------------------------------------------ RTCConfiguration

_POLICIES: dict[str, tuple[str, tuple[str, ...]]] = {
    "ice_transport_policy": ("iceTransportPolicy", ("all", "relay")),
    "bundle_policy": ("bundlePolicy", ("balanced", "max-compat", "max-bundle")),
    "rtcp_mux_policy": ("rtcpMuxPolicy", ("require",)),
}
_CAMEL = {"iceServers": "ice_servers", "iceCandidatePoolSize": "ice_candidate_pool_size"} | {
    camel: snake for snake, (camel, _values) in _POLICIES.items()
}


@dataclass(frozen=True, slots=True)
class RtcConfiguration:
    """A validated per-call ``RTCConfiguration``.

    Attributes:
        ice_servers: STUN/TURN servers for this call (None: the Device's).
        policies: other RTCConfiguration members as their JavaScript names, e.g.
            ``(("iceTransportPolicy", "relay"),)``.
    """

    ice_servers: tuple[IceServer, ...] | None = None
    policies: tuple[tuple[str, Any], ...] = ()


def parse_rtc_configuration(value: Mapping[str, Any] | None) -> RtcConfiguration | None:
    """Validate ``rtc_configuration`` (keys in camelCase or snake_case): ``iceServers``,
    ``iceTransportPolicy`` (``all``/``relay``), ``bundlePolicy``, ``rtcpMuxPolicy`` and
    ``iceCandidatePoolSize`` (0-255).

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT`` for an unknown key or value.
    """
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _invalid("rtc_configuration must be an object (RTCConfiguration)")
    ice_servers: tuple[IceServer, ...] | None = None
    policies: list[tuple[str, Any]] = []
    for raw_key, item in value.items():
        key = _CAMEL.get(raw_key, raw_key) if isinstance(raw_key, str) else raw_key
        if key == "ice_servers":
            ice_servers = parse_ice_servers(item)
        elif key in _POLICIES:
            camel, allowed = _POLICIES[key]
            if item not in allowed:
                raise _invalid(f"rtc_configuration {camel} must be one of {', '.join(allowed)}, got {item!r}")
            policies.append((camel, item))
        elif key == "ice_candidate_pool_size":
            if not isinstance(item, int) or isinstance(item, bool) or not 0 <= item <= 255:
                raise _invalid("rtc_configuration iceCandidatePoolSize must be an integer from 0 to 255")
            policies.append(("iceCandidatePoolSize", item))
        else:
            known = "iceServers, iceTransportPolicy, bundlePolicy, rtcpMuxPolicy, iceCandidatePoolSize"
            raise _invalid(f"unknown rtc_configuration key {raw_key!r}; known: {known}")
    return RtcConfiguration(ice_servers, tuple(policies))


# ------------------------------------------------------------------------------------------ per call


@dataclass(frozen=True, slots=True)
class CallMediaOptions:
    """What one ``connect()`` or ``accept()`` asked for, over the Device's options.

    Attributes:
        codecs: codec preferences for this call (fields left unset fall back to the Device's).
        rtc: this call's RTCConfiguration (None: the Device's ICE servers, the browser's defaults).
    """

    codecs: CodecPreferences | None = None
    rtc: RtcConfiguration | None = None

    def codecs_over(self, device: CodecPreferences) -> CodecPreferences:
        """The preferences the call uses: the Device's, with the call's fields on top."""
        return device.overridden_by(self.codecs)

    def ice_servers_over(self, device: tuple[IceServer, ...]) -> tuple[IceServer, ...]:
        """The call's ICE servers when its RTCConfiguration names some, else the Device's."""
        if self.rtc is not None and self.rtc.ice_servers is not None:
            return self.rtc.ice_servers
        return device

    @property
    def configuration(self) -> tuple[tuple[str, Any], ...]:
        """The RTCConfiguration members other than ``iceServers``."""
        return self.rtc.policies if self.rtc is not None else ()


def parse_call_media_options(
    *,
    codec_preferences: Iterable[str] | None = None,
    max_average_bitrate: int | None = None,
    dtx: bool | None = None,
    rtc_configuration: Mapping[str, Any] | None = None,
) -> CallMediaOptions:
    """Validate the media options of one call (as :func:`parse_codec_preferences` and
    :func:`parse_rtc_configuration`).

    Raises:
        VoiceSDKError: ``INVALID_ARGUMENT``.
    """
    codecs = parse_codec_preferences(codec_preferences, max_average_bitrate=max_average_bitrate, dtx=dtx)
    return CallMediaOptions(
        codecs=None if codecs.is_default else codecs, rtc=parse_rtc_configuration(rtc_configuration)
    )
