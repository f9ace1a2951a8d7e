"""A sans-I/O SIP stack: bytes in, events out, time passed in.

Nothing in this package imports ``js``, ``pyodide`` or ``asyncio`` or reads a clock, so it runs unchanged
in CPython (tests, the sandbox server) and in Pyodide (the browser). Layers, bottom up:

* :mod:`.uri`, :mod:`.headers`, :mod:`.message` — RFC 3261 grammar: parse and build messages;
* :mod:`.sdp` — RFC 4566 / RFC 3264 session descriptions and offer/answer rules;
* :mod:`.auth` — digest authentication, client and server (RFC 2617 / 7616 / 8760);
* :mod:`.transaction` — the four RFC 3261 §17 transaction machines (reliable transports);
* :mod:`.dialog`, :mod:`.registration`, :mod:`.session` — dialogs, the registration machine, calls;
* :mod:`.useragent` — :class:`UserAgent`, the facade the browser SDK and the sandbox server drive.
"""

from .errors import LocalProtocolError, MessageTooLargeError, ParseError, ProtocolError, RemoteProtocolError
from .events import (
    CallAnswered,
    CallEnded,
    CallProgress,
    DtmfInfoReceived,
    EndReason,
    Event,
    IncomingCall,
    InfoReceived,
    MessageRejected,
    OfferRejected,
    OfferRequested,
    OfferRetryDue,
    RegistrationChanged,
    RegistrationState,
    RemoteAnswer,
    RemoteOffer,
    RequestFailed,
    RequestReceived,
    ResponseReceived,
    SessionRefreshed,
)
from .headers import Headers, NameAddr, Via
from .message import Request, Response, make_response, parse_message
from .uri import SipUri, TelUri, parse_uri
from .useragent import CallInfo, UserAgent, UserAgentConfig

__all__ = [
    "CallAnswered",
    "CallEnded",
    "CallInfo",
    "CallProgress",
    "DtmfInfoReceived",
    "EndReason",
    "Event",
    "Headers",
    "IncomingCall",
    "InfoReceived",
    "LocalProtocolError",
    "MessageRejected",
    "MessageTooLargeError",
    "NameAddr",
    "OfferRejected",
    "OfferRequested",
    "OfferRetryDue",
    "ParseError",
    "ProtocolError",
    "RegistrationChanged",
    "RegistrationState",
    "RemoteAnswer",
    "RemoteOffer",
    "RemoteProtocolError",
    "Request",
    "RequestFailed",
    "RequestReceived",
    "Response",
    "ResponseReceived",
    "SessionRefreshed",
    "SipUri",
    "TelUri",
    "UserAgent",
    "UserAgentConfig",
    "Via",
    "make_response",
    "parse_message",
    "parse_uri",
]
