"""The errors of a sandbox media endpoint (:class:`~.media.MediaEndpoint`).

Each carries ``status_hint``: the SIP status the SIP layer should answer a request with when the request
caused it. Named ``MediaEndpointError`` (not ``MediaError``) so that it is never confused with the SDK's
:class:`twochat_voice_web.errors.MediaError`, which a browser page receives.
"""

from __future__ import annotations

from twochat_voice_web.sip.errors import StatusHintedError

__all__ = [
    "IceRestartError",
    "MediaConfigError",
    "MediaEndpointError",
    "MediaStateError",
    "SdpNegotiationError",
]


class MediaEndpointError(StatusHintedError):
    """Base of the errors of a sandbox media endpoint (:class:`~.media.MediaEndpoint`).

    Attributes:
        status_hint: the SIP status code that fits this error when a request caused it (500 by default).
    """


class SdpNegotiationError(MediaEndpointError):
    """An SDP offer or answer is malformed or asks for something this endpoint cannot do."""

    status_hint = 488


class IceRestartError(MediaEndpointError):
    """A re-offer restarts ICE in a state where the restart cannot be followed."""

    status_hint = 488


class MediaStateError(MediaEndpointError):
    """The method does not fit the endpoint's state (closed, no session yet, exchange in progress)."""


class MediaConfigError(MediaEndpointError, ValueError):
    """A constructor or :meth:`MediaEndpoint.set_sending` argument is out of range or of the wrong type."""
