"""Events produced by :class:`~twochat_voice_web.sip.useragent.UserAgent`.

Every event is a frozen, slotted dataclass, documented field by field where it is defined (wsproto style).
Calls are named by a *call handle*: an opaque string the user agent gives each INVITE session (it is the
SIP Call-ID unless that is already in use). Requests the application sent with
:meth:`~twochat_voice_web.sip.useragent.UserAgent.send_request` or must answer after a
:class:`RequestReceived` are named by a *request handle*.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .headers import NameAddr
from .message import Request, Response

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallProgress",
    "DtmfInfoReceived",
    "EndReason",
    "Event",
    "IncomingCall",
    "InfoReceived",
    "MessageRejected",
    "OfferRejected",
    "OfferRequested",
    "OfferRetryDue",
    "RegistrationChanged",
    "RegistrationState",
    "RemoteAnswer",
    "RemoteOffer",
    "RequestFailed",
    "RequestReceived",
    "ResponseReceived",
    "SessionRefreshed",
]


class RegistrationState(enum.Enum):
    """States of the registration machine (see :mod:`.registration`)."""

    UNREGISTERED = "unregistered"
    REGISTERING = "registering"
    REGISTERED = "registered"
    REFRESHING = "refreshing"
    UNREGISTERING = "unregistering"


class EndReason(enum.Enum):
    """Why a call ended."""

    LOCAL_BYE = "local-bye"
    """We hung up an established call (BYE sent)."""
    REMOTE_BYE = "remote-bye"
    """The peer hung up an established call (BYE received)."""
    LOCAL_CANCEL = "local-cancel"
    """We cancelled our outgoing call before it was answered."""
    REMOTE_CANCEL = "remote-cancel"
    """The caller cancelled an incoming call before we answered."""
    LOCAL_REJECT = "local-reject"
    """We rejected an incoming call (final non-2xx sent)."""
    REJECTED = "rejected"
    """The callee or the network answered our INVITE with a final non-2xx (see ``status_code``)."""
    TIMEOUT = "timeout"
    """No final response to our INVITE before timer B, or no ACK to our 2xx before timer H/L."""
    DIALOG_LOST = "dialog-lost"
    """The peer says the dialog does not exist (481) or an in-dialog request timed out (408)."""
    SESSION_EXPIRED = "session-expired"
    """Session timers (RFC 4028) expired without a refresh."""
    TRANSPORT_ERROR = "transport-error"
    """The transport failed while the call could not survive it."""


@dataclass(frozen=True, slots=True)
class Event:
    """Base class of all user-agent events."""


@dataclass(frozen=True, slots=True)
class RegistrationChanged(Event):
    """The registration machine changed state."""

    state: RegistrationState
    """The new state."""
    previous: RegistrationState
    """The state before."""
    expires: int | None = None
    """Seconds granted by the registrar (REGISTERED/REFRESHING), else None."""
    status_code: int | None = None
    """Status code of the response that caused the change, if any."""
    reason: str | None = None
    """Why (reason phrase, "timeout", "transport lost", "authentication failed"...), if not a plain success.
    """


@dataclass(frozen=True, slots=True)
class IncomingCall(Event):
    """A new INVITE arrived; answer it with ``ring``/``answer``/``reject`` on the user agent."""

    call: str
    """The call handle."""
    request: Request
    """The INVITE (headers such as X-2Chat-* are read from it)."""
    remote: NameAddr
    """The caller (From, without tag)."""
    local: NameAddr
    """Who was called (To, without tag)."""
    sdp: str | None
    """The SDP offer, or None for an offerless INVITE (then ``answer`` must carry an offer)."""


@dataclass(frozen=True, slots=True)
class CallProgress(Event):
    """A provisional response (1xx) to our INVITE."""

    call: str
    status_code: int
    reason: str
    sdp: str | None
    """Early-media SDP answer (183 with SDP), or None."""
    response: Response


@dataclass(frozen=True, slots=True)
class CallAnswered(Event):
    """The call is established.

    For our outgoing call: a 2xx arrived (we have sent the ACK). For an incoming call: the peer's ACK
    arrived after our 2xx.
    """

    call: str
    sdp: str | None
    """The SDP answer in the 2xx (outgoing calls), the answer in the ACK (offerless INVITE), else None."""
    message: Request | Response
    """The 2xx response (outgoing) or the ACK (incoming)."""


@dataclass(frozen=True, slots=True)
class CallEnded(Event):
    """The call is over; the handle is no longer valid."""

    call: str
    reason: EndReason
    status_code: int | None = None
    """The SIP status that ended it (e.g. 486, 603, 487, 408), when there was one."""
    text: str | None = None
    """The reason phrase or a short explanation."""


@dataclass(frozen=True, slots=True)
class RemoteOffer(Event):
    """The peer sent a new offer in a re-INVITE or UPDATE: call ``answer_offer`` or ``reject_offer``."""

    call: str
    sdp: str
    method: str
    """"INVITE" or "UPDATE"."""


@dataclass(frozen=True, slots=True)
class OfferRequested(Event):
    """The peer sent a re-INVITE without SDP: call ``answer_offer`` with a fresh *offer*.

    Its answer comes back in the ACK, as :class:`RemoteAnswer`.
    """

    call: str


@dataclass(frozen=True, slots=True)
class RemoteAnswer(Event):
    """The peer answered our re-INVITE/UPDATE offer (or sent the answer in an ACK)."""

    call: str
    sdp: str


@dataclass(frozen=True, slots=True)
class OfferRejected(Event):
    """Our re-INVITE/UPDATE offer was refused; roll the local description back.

    On 491 (glare) the user agent waits the RFC 3261 §14.1 back-off and then emits :class:`OfferRetryDue`.
    """

    call: str
    status_code: int
    will_retry: bool
    """True when an :class:`OfferRetryDue` will follow (491 glare)."""


@dataclass(frozen=True, slots=True)
class OfferRetryDue(Event):
    """The glare back-off is over: make a fresh offer and call ``reinvite`` again."""

    call: str


@dataclass(frozen=True, slots=True)
class SessionRefreshed(Event):
    """A session refresh (RFC 4028) succeeded, sent by us or received from the peer."""

    call: str
    interval: int
    """The negotiated session interval, seconds."""
    local_refresher: bool
    """True when we are the refresher."""


@dataclass(frozen=True, slots=True)
class DtmfInfoReceived(Event):
    """A DTMF digit arrived as SIP INFO (application/dtmf-relay or application/dtmf)."""

    call: str
    digit: str
    duration_ms: int | None


@dataclass(frozen=True, slots=True)
class InfoReceived(Event):
    """An in-dialog INFO or NOTIFY that is not DTMF (already answered 200)."""

    call: str
    request: Request


@dataclass(frozen=True, slots=True)
class RequestReceived(Event):
    """An out-of-dialog request the user agent does not answer itself (e.g. REGISTER at a registrar).

    Answer it with ``UserAgent.respond(handle, ...)``.
    """

    handle: str
    request: Request


@dataclass(frozen=True, slots=True)
class ResponseReceived(Event):
    """A response to a request sent with ``UserAgent.send_request`` (1xx and the final one)."""

    handle: str
    request: Request
    response: Response


@dataclass(frozen=True, slots=True)
class RequestFailed(Event):
    """A request sent with ``send_request`` got no final response: "timeout" or "transport"."""

    handle: str
    request: Request
    reason: str


@dataclass(frozen=True, slots=True)
class MessageRejected(Event):
    """Input that could not be processed: malformed, over a limit, or out of place.

    When it was a request we could still answer, a 4xx/5xx went back (``status_code``).
    """

    error: str
    """What was wrong, for logs."""
    status_code: int | None
    """The status we answered with, or None when nothing could be answered (e.g. a bad response)."""
