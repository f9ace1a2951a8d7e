"""Registration (RFC 3261 §10, RFC 5626 outbound): one binding of our Contact at one registrar.

Design
======
Registration is one explicit state machine (field lesson: JsSIP #337/#414 came from implicit state).
Its states are :class:`~.events.RegistrationState`; what moves it are :class:`RegStimulus` values; the
whole machine is the table :data:`REGISTRATION_TRANSITIONS`, each row giving the next state and the one
:class:`RegAction` to run:

* ``register()`` in UNREGISTERED sends a REGISTER; in REGISTERING or REGISTERED it does nothing — the call
  is idempotent while a REGISTER is pending, so an application that calls it twice never sends two;
* a 2xx moves to REGISTERED and arms the refresh timer before the granted expiry (the granted value is
  read from *our* Contact in the 2xx, matched by ``+sip.instance`` or URI, else from Expires);
* 423 Interval Too Brief re-sends at once with the registrar's Min-Expires (bounded);
* any other final failure or a timeout goes back to UNREGISTERED with the reason;
* ``unregister()`` sends ``expires=0``; if a REGISTER is in flight, it waits for its final response
  first (RFC 3261 §10.2: one registration request at a time);
* losing the transport drops to UNREGISTERED and remembers to re-register: :meth:`Registration.restore`
  sends the REGISTER again with the *same* Call-ID, Contact, ``+sip.instance`` and ``reg-id``
  (RFC 5626 §4.2), so the registrar replaces the old flow instead of adding a binding.

Authentication is not handled here: the user agent answers 401/407 challenges for every request and only
passes final outcomes in. The machine builds REGISTER requests without Via; the user agent adds it.
Time is passed in; :meth:`Registration.next_deadline` reports the refresh time.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .errors import LocalProtocolError
from .events import RegistrationChanged, RegistrationState
from .headers import Headers, NameAddr
from .message import Request, Response
from .uri import SipUri

__all__ = [
    "REGISTRATION_TRANSITIONS",
    "RegAction",
    "RegStimulus",
    "Registration",
    "refresh_lead",
]

_S = RegistrationState


class RegStimulus(enum.Enum):
    """What can happen to a registration."""

    REGISTER = "register() called"
    UNREGISTER = "unregister() called"
    OK = "2xx received"
    TOO_BRIEF = "423 Interval Too Brief received"
    FAILED = "final failure received"
    TIMEOUT = "no final response (timer F) or transport failure"
    REFRESH_DUE = "refresh timer fired"
    TRANSPORT_LOST = "transport lost"


class RegAction(enum.Enum):
    """What a transition does."""

    NONE = "nothing"
    SEND_REGISTER = "send REGISTER with the configured expiry"
    SEND_UNREGISTER = "send REGISTER with expires=0"
    RESEND_MIN_EXPIRES = "send REGISTER again with the registrar's Min-Expires"
    DEFER_UNREGISTER = "unregister once the pending REGISTER completes"
    ARM_REFRESH = "arm the refresh timer from the granted expiry"
    FINISH_OR_UNREGISTER = "arm refresh, or run a deferred unregister"


#: ``REGISTRATION_TRANSITIONS[(state, stimulus)] -> (next state, action)``; missing rows are no-ops.
REGISTRATION_TRANSITIONS: dict[tuple[RegistrationState, RegStimulus], tuple[RegistrationState, RegAction]] = {
    (_S.UNREGISTERED, RegStimulus.REGISTER): (_S.REGISTERING, RegAction.SEND_REGISTER),
    (_S.REGISTERING, RegStimulus.OK): (_S.REGISTERED, RegAction.FINISH_OR_UNREGISTER),
    (_S.REGISTERING, RegStimulus.TOO_BRIEF): (_S.REGISTERING, RegAction.RESEND_MIN_EXPIRES),
    (_S.REGISTERING, RegStimulus.FAILED): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REGISTERING, RegStimulus.TIMEOUT): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REGISTERING, RegStimulus.UNREGISTER): (_S.REGISTERING, RegAction.DEFER_UNREGISTER),
    (_S.REGISTERING, RegStimulus.TRANSPORT_LOST): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REGISTERED, RegStimulus.REFRESH_DUE): (_S.REFRESHING, RegAction.SEND_REGISTER),
    (_S.REGISTERED, RegStimulus.UNREGISTER): (_S.UNREGISTERING, RegAction.SEND_UNREGISTER),
    (_S.REGISTERED, RegStimulus.TRANSPORT_LOST): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REFRESHING, RegStimulus.OK): (_S.REGISTERED, RegAction.FINISH_OR_UNREGISTER),
    (_S.REFRESHING, RegStimulus.TOO_BRIEF): (_S.REFRESHING, RegAction.RESEND_MIN_EXPIRES),
    (_S.REFRESHING, RegStimulus.FAILED): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REFRESHING, RegStimulus.TIMEOUT): (_S.UNREGISTERED, RegAction.NONE),
    (_S.REFRESHING, RegStimulus.UNREGISTER): (_S.REFRESHING, RegAction.DEFER_UNREGISTER),
    (_S.REFRESHING, RegStimulus.TRANSPORT_LOST): (_S.UNREGISTERED, RegAction.NONE),
    (_S.UNREGISTERING, RegStimulus.OK): (_S.UNREGISTERED, RegAction.NONE),
    (_S.UNREGISTERING, RegStimulus.FAILED): (_S.UNREGISTERED, RegAction.NONE),
    (_S.UNREGISTERING, RegStimulus.TIMEOUT): (_S.UNREGISTERED, RegAction.NONE),
    (_S.UNREGISTERING, RegStimulus.TOO_BRIEF): (_S.UNREGISTERED, RegAction.NONE),
    (_S.UNREGISTERING, RegStimulus.TRANSPORT_LOST): (_S.UNREGISTERED, RegAction.NONE),
}

MAX_TOO_BRIEF_RETRIES = 2
"""How many times in a row a 423 may raise the expiry before we give up."""


def refresh_lead(granted: int) -> float:
    """How long before expiry to refresh: 10 % of the interval, at least min(32 s, half of it)."""
    return max(granted * 0.1, min(32.0, granted / 2))


@dataclass(frozen=True, slots=True)
class _Outcome:
    event: RegistrationChanged | None
    request: Request | None


class Registration:
    """The registration of one Contact at one registrar.

    Args:
        aor: our address of record (From and To of every REGISTER).
        registrar: the Request-URI of REGISTER (usually ``sip:<domain>``).
        contact: our Contact, carrying ``+sip.instance``/``reg-id`` and the ``;ob`` URI parameter.
        call_id: the Call-ID used for every REGISTER of this binding.
        from_tag: the From tag used for every REGISTER of this binding.
        expires: the interval we ask for, seconds.
    """

    def __init__(
        self,
        *,
        aor: NameAddr,
        registrar: SipUri,
        contact: NameAddr,
        call_id: str,
        from_tag: str,
        expires: int = 600,
    ) -> None:
        if expires <= 0:
            raise LocalProtocolError("registration expiry must be positive")
        self.aor = aor
        self.registrar = registrar
        self.contact = contact
        self.call_id = call_id
        self.from_tag = from_tag
        #: The interval we ask for (raised by 423 Min-Expires).
        self.requested_expires = expires
        self.state = RegistrationState.UNREGISTERED
        #: Seconds the registrar granted in the last 2xx.
        self.granted_expires: int | None = None
        #: Extra headers added to every REGISTER (the user agent sets User-Agent, Supported...).
        self.extra_headers: list[tuple[str, str]] = []
        #: Service-Route values from the last 2xx (RFC 3608), to preload on initial requests.
        self.service_route: list[str] = []
        self._cseq = 0
        self._refresh_at: float | None = None
        self._unregister_deferred = False
        self._restore_wanted = False
        self._too_brief_retries = 0
        self._in_flight: Request | None = None

    # -- API ---------------------------------------------------------------------------------------------

    def register(self, now: float) -> tuple[RegistrationChanged | None, Request | None]:
        """Ask to register; returns the state change and the REGISTER to send (both None if pending)."""
        self._unregister_deferred = False
        outcome = self._stimulate(RegStimulus.REGISTER, now)
        return outcome.event, outcome.request

    def unregister(self, now: float) -> tuple[RegistrationChanged | None, Request | None]:
        """Ask to remove the binding (expires=0)."""
        self._restore_wanted = False
        outcome = self._stimulate(RegStimulus.UNREGISTER, now)
        return outcome.event, outcome.request

    def on_final_response(
        self, request: Request, response: Response, now: float
    ) -> tuple[RegistrationChanged | None, Request | None]:
        """Feed the final response to a REGISTER we sent (auth challenges already dealt with)."""
        if request is not self._in_flight:
            return None, None  # a response to a REGISTER superseded by a newer one
        self._in_flight = None
        code = response.status_code
        if 200 <= code < 300:
            self._too_brief_retries = 0
            if request_expires(request) == 0:
                outcome = self._stimulate(RegStimulus.OK, now, response=response)
            else:
                self.granted_expires = self._granted(response, request)
                self.service_route = response.headers.get_list("Service-Route")
                outcome = self._stimulate(RegStimulus.OK, now, response=response)
        elif code == 423 and self._too_brief_retries < MAX_TOO_BRIEF_RETRIES:
            self._too_brief_retries += 1
            minimum = response.headers.get("Min-Expires")
            try:
                self.requested_expires = max(self.requested_expires, int((minimum or "").strip()))
            except ValueError:
                outcome = self._stimulate(RegStimulus.FAILED, now, response=response)
            else:
                outcome = self._stimulate(RegStimulus.TOO_BRIEF, now, response=response)
        else:
            outcome = self._stimulate(RegStimulus.FAILED, now, response=response)
        return outcome.event, outcome.request

    def on_timeout(
        self, request: Request, now: float, reason: str = "timeout"
    ) -> tuple[RegistrationChanged | None, Request | None]:
        """The REGISTER got no final response (timer F) or the transport failed under it."""
        if request is not self._in_flight:
            return None, None
        self._in_flight = None
        outcome = self._stimulate(RegStimulus.TIMEOUT, now, reason=reason)
        return outcome.event, outcome.request

    def transport_lost(self, now: float) -> RegistrationChanged | None:
        """The flow is gone: the binding is lost with it; remember to re-register on :meth:`restore`."""
        if self.state in (
            RegistrationState.REGISTERING,
            RegistrationState.REGISTERED,
            RegistrationState.REFRESHING,
        ):
            self._restore_wanted = not self._unregister_deferred
        self._in_flight = None
        return self._stimulate(RegStimulus.TRANSPORT_LOST, now, reason="transport lost").event

    def restore(self, now: float) -> tuple[RegistrationChanged | None, Request | None]:
        """A new flow is up: re-register if we were registered (same Call-ID, Contact, instance, reg-id)."""
        if not self._restore_wanted:
            return None, None
        self._restore_wanted = False
        return self.register(now)

    def retry_cseq(self) -> int:
        """Reserve a CSeq number for re-sending a REGISTER (after a 401/407 challenge)."""
        self._cseq += 1
        return self._cseq

    def replace_in_flight(self, old: Request, new: Request) -> None:
        """The user agent re-sent ``old`` as ``new`` (with credentials): track the new one."""
        if self._in_flight is old:
            self._in_flight = new

    def next_deadline(self) -> float | None:
        """When the refresh is due, if registered."""
        return self._refresh_at if self.state is RegistrationState.REGISTERED else None

    def handle_timer(self, now: float) -> tuple[RegistrationChanged | None, Request | None]:
        """Send the refresh REGISTER when due."""
        if (
            self._refresh_at is None
            or now < self._refresh_at
            or self.state is not RegistrationState.REGISTERED
        ):
            return None, None
        self._refresh_at = None
        outcome = self._stimulate(RegStimulus.REFRESH_DUE, now)
        return outcome.event, outcome.request

    # -- machine -----------------------------------------------------------------------------------------

    def _stimulate(
        self,
        stimulus: RegStimulus,
        now: float,
        *,
        response: Response | None = None,
        reason: str | None = None,
    ) -> _Outcome:
        row = REGISTRATION_TRANSITIONS.get((self.state, stimulus))
        if row is None:
            return _Outcome(None, None)
        next_state, action = row
        previous = self.state
        request: Request | None = None
        if action is RegAction.SEND_REGISTER or action is RegAction.RESEND_MIN_EXPIRES:
            request = self._build(self.requested_expires)
        elif action is RegAction.SEND_UNREGISTER:
            request = self._build(0)
        elif action is RegAction.DEFER_UNREGISTER:
            self._unregister_deferred = True
        elif action is RegAction.FINISH_OR_UNREGISTER:
            if self._unregister_deferred:
                self._unregister_deferred = False
                next_state = RegistrationState.UNREGISTERING
                request = self._build(0)
            else:
                granted = self.granted_expires or self.requested_expires
                self._refresh_at = now + granted - refresh_lead(granted)
        if next_state is not RegistrationState.REGISTERED:
            self._refresh_at = None
        self.state = next_state
        if request is not None:
            self._in_flight = request
        if next_state is previous and action is not RegAction.RESEND_MIN_EXPIRES:
            return _Outcome(None, request)
        status = response.status_code if response is not None else None
        if reason is None and response is not None and not 200 <= response.status_code < 300:
            reason = response.reason or str(response.status_code)
        expires = self.granted_expires if next_state is RegistrationState.REGISTERED else None
        event = RegistrationChanged(next_state, previous, expires, status, reason)
        return _Outcome(event, request)

    def _build(self, expires: int) -> Request:
        self._cseq += 1
        headers = Headers()
        headers.add("Max-Forwards", "70")
        headers.add("To", str(self.aor))
        headers.add("From", str(self.aor.with_param("tag", self.from_tag)))
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{self._cseq} REGISTER")
        headers.add("Contact", str(self.contact.with_param("expires", str(expires))))
        headers.add("Expires", str(expires))
        for name, value in self.extra_headers:
            headers.add(name, value)
        return Request("REGISTER", self.registrar, headers)

    def _granted(self, response: Response, request: Request) -> int:
        ours = self.contact
        instance = ours.param("+sip.instance")
        for contact in response.contacts:
            same = (instance is not None and contact.param("+sip.instance") == instance) or (
                isinstance(contact.uri, SipUri)
                and isinstance(ours.uri, SipUri)
                and contact.uri.matches(ours.uri)
            )
            value = contact.param("expires")
            if same and value is not None and value.strip().isdigit():
                return int(value)
        header = response.headers.get("Expires")
        if header is not None and header.strip().isdigit():
            return int(header)
        return request_expires(request) or self.requested_expires


def request_expires(request: Request) -> int | None:
    """The expiry a REGISTER asked for (Contact ``expires`` parameter, else Expires header)."""
    for contact in request.contacts:
        value = contact.param("expires")
        if value is not None and value.strip().isdigit():
            return int(value)
    header = request.headers.get("Expires")
    if header is not None and header.strip().isdigit():
        return int(header)
    return None
