"""SDP (RFC 8866, formerly RFC 4566) parsing and serialisation, and RFC 3264 offer/answer helpers.

Design notes
============

*Model.* A :class:`SessionDescription` holds the session-level fields as typed values (``o=`` is an
:class:`Origin`, ``c=`` a :class:`ConnectionData`, ``b=`` a list of :class:`Bandwidth`, ``t=``/``r=`` a
list of :class:`Timing`) and every ``a=`` line, in order, as an :class:`Attribute` (name, value or ``None``).
Each ``m=`` section is a :class:`MediaDescription` with the same shape. Attributes are kept verbatim,
including the ones this module interprets (``rtpmap``, ``candidate``, ``sendonly``...): the typed views
(:attr:`MediaDescription.codecs`, :attr:`MediaDescription.candidates`, :attr:`MediaDescription.direction`)
are computed from the attribute list on access, so there is exactly one source of truth and
``parse_sdp(str(sdp)) == sdp`` always holds. Lines of a type letter RFC 8866 does not define (``y=``,
``f=`` from some camera firmwares) are kept as :class:`UnknownLine` and written back in the same place.

*Inheritance.* Several values of a media section fall back to the session level: the direction
attribute, ``c=``, ``a=ice-ufrag``/``a=ice-pwd``, ``a=fingerprint``, ``a=setup``. A media description
therefore knows the session it belongs to: :attr:`SessionDescription.media` is a :class:`MediaList`
that links every member on insertion (the link is not part of equality or ``repr``).

*Strictness.* :func:`parse_sdp` enforces the line order of RFC 8866 §5 (``v o s i u e p c b t r z k a``
at session level, ``m i c b k a`` per media), the mandatory ``v=0``, ``o=``, ``s=`` and ``t=`` lines,
the grammar of the typed lines and of the attributes this module interprets, and that every active
stream has connection data. It tolerates what real peers send: LF-only line endings, trailing
whitespace, empty lines at the end, an empty ``s=``, multiple spaces between fields. Pass
``strict_order=False`` to also accept known lines out of order (they are then written back in canonical
order). Bad input raises :class:`SdpError` (a :class:`~twochat_voice_web.sip.errors.ParseError`) naming
the line; API misuse raises :class:`~twochat_voice_web.sip.errors.LocalProtocolError`.

*Offer/answer.* :func:`answer_direction` is the RFC 3264 §6.1 table. Hold is expressed with direction
attributes only (§8.4); the SDK's offers come from the browser, and the helpers here read them
(:func:`is_on_hold`, :func:`is_ice_restart`, :func:`has_telephone_event`). A *received* RFC 2543
hold (``c=IN IP4 0.0.0.0`` without ICE) is still recognised by
:attr:`MediaDescription.effective_direction` and :func:`is_on_hold`. With ICE, ``0.0.0.0`` plus port 9
is the RFC 8840 "no candidate yet" placeholder that Chromium writes before gathering, not a hold.

Modules: :mod:`.grammar` (tokens, line order, :class:`Direction`, :class:`Attribute`, :class:`SdpError`),
:mod:`.candidate` (the one ICE :class:`Candidate` type), :mod:`.model` (the description classes),
:mod:`.parser` (:func:`parse_sdp`) and :mod:`.offer_answer` (RFC 3264 helpers). This package re-exports
their public names.
"""

from __future__ import annotations

from .candidate import Candidate, parse_candidate
from .grammar import Attribute, Direction, SdpError
from .model import (
    STATIC_PAYLOAD_TYPES,
    Bandwidth,
    Codec,
    ConnectionData,
    MediaDescription,
    MediaList,
    Origin,
    SessionDescription,
    Timing,
    UnknownLine,
)
from .offer_answer import (
    active_media,
    answer_direction,
    audio_codecs,
    has_telephone_event,
    ice_credentials,
    is_ice_restart,
    is_on_hold,
    telephone_event,
    telephone_events,
)
from .parser import parse_sdp

__all__ = [
    "STATIC_PAYLOAD_TYPES",
    "Attribute",
    "Bandwidth",
    "Candidate",
    "Codec",
    "ConnectionData",
    "Direction",
    "MediaDescription",
    "MediaList",
    "Origin",
    "SdpError",
    "SessionDescription",
    "Timing",
    "UnknownLine",
    "active_media",
    "answer_direction",
    "audio_codecs",
    "has_telephone_event",
    "ice_credentials",
    "is_ice_restart",
    "is_on_hold",
    "parse_candidate",
    "parse_sdp",
    "telephone_event",
    "telephone_events",
]
