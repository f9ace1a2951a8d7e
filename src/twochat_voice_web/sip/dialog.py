"""Dialogs (RFC 3261 §12): the peer-to-peer relationship an INVITE creates.

Design
======
A :class:`Dialog` is identified by Call-ID, local tag and remote tag and holds what every in-dialog request
needs: the local and remote sequence numbers, the local and remote URIs, the remote target (the peer's
Contact) and the route set (from Record-Route). It is created

* on the UAC side by a 1xx that carries a To tag (an *early* dialog) or by a 2xx (*confirmed*),
  with the route set taken from the response's Record-Route in reverse order (§12.1.2);
* on the UAS side when it answers with a tag (1xx or 2xx), with the route set taken from the request's
  Record-Route in order (§12.1.1).

Its state machine is small and written as a table (:data:`DIALOG_TRANSITIONS`): EARLY → CONFIRMED on a
2xx, EARLY/CONFIRMED → TERMINATED on a final failure of the dialog-creating INVITE, on BYE, or on a
481/408 to an in-dialog request. An early dialog that becomes confirmed recomputes its route set from the
2xx (§12.1.2); target-refresh requests (INVITE, UPDATE) and their 2xx replace the remote target (§12.2).

The dialog builds in-dialog requests (:meth:`Dialog.create_request`, §12.2.1.1, loose and strict routing)
and the ACK of a 2xx (:meth:`Dialog.create_ack`, §13.2.2.4), and checks the CSeq of incoming requests
(§12.2.2: a lower CSeq is refused with 500). It never touches a transport or a clock; the user agent owns
the transactions and adds the top Via.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, replace

from .errors import LocalProtocolError, RemoteProtocolError
from .headers import Headers, NameAddr, parse_name_addr
from .message import Request, Response
from .uri import SipUri, Uri

__all__ = [
    "DIALOG_TRANSITIONS",
    "TARGET_REFRESH_METHODS",
    "Dialog",
    "DialogEvent",
    "DialogId",
    "DialogState",
]

TARGET_REFRESH_METHODS = frozenset({"INVITE", "UPDATE"})
"""Methods whose request and 2xx replace the dialog's remote target (RFC 3261 §12.2, RFC 3311)."""


class DialogState(enum.Enum):
    """The states of a dialog."""

    EARLY = "early"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class DialogEvent(enum.Enum):
    """What moves a dialog between states."""

    CONFIRM = "2xx to the dialog-creating INVITE"
    BYE = "BYE sent or received"
    LOST = "481 or 408 to an in-dialog request"


#: ``DIALOG_TRANSITIONS[(state, event)] -> next state``; anything else is a LocalProtocolError.
DIALOG_TRANSITIONS: dict[tuple[DialogState, DialogEvent], DialogState] = {
    (DialogState.EARLY, DialogEvent.CONFIRM): DialogState.CONFIRMED,
    (DialogState.EARLY, DialogEvent.BYE): DialogState.TERMINATED,
    (DialogState.EARLY, DialogEvent.LOST): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogEvent.CONFIRM): DialogState.CONFIRMED,
    (DialogState.CONFIRMED, DialogEvent.BYE): DialogState.TERMINATED,
    (DialogState.CONFIRMED, DialogEvent.LOST): DialogState.TERMINATED,
    (DialogState.TERMINATED, DialogEvent.BYE): DialogState.TERMINATED,
    (DialogState.TERMINATED, DialogEvent.LOST): DialogState.TERMINATED,
}


@dataclass(frozen=True, slots=True)
class DialogId:
    """The three values that identify a dialog from one side."""

    call_id: str
    local_tag: str
    remote_tag: str


def _target_of(message: Request | Response) -> Uri | None:
    contacts = message.contacts
    return contacts[0].uri if contacts else None


class Dialog:
    """One dialog, seen from our side. Build it with :meth:`from_uac` or :meth:`from_uas`."""

    def __init__(
        self,
        *,
        dialog_id: DialogId,
        state: DialogState,
        local_seq: int | None,
        remote_seq: int | None,
        local_party: NameAddr,
        remote_party: NameAddr,
        remote_target: Uri,
        route_set: list[str],
        is_uac: bool,
    ) -> None:
        #: Call-ID, local tag, remote tag.
        self.id = dialog_id
        self.state = state
        #: The CSeq number of the last request we sent in the dialog (None before the first).
        self.local_seq = local_seq
        #: The CSeq number of the last request the peer sent in the dialog (None before the first).
        self.remote_seq = remote_seq
        #: Our From/To (without tag).
        self.local_party = local_party
        #: The peer's From/To (without tag).
        self.remote_party = remote_party
        #: Where in-dialog requests go: the peer's Contact URI.
        self.remote_target = remote_target
        #: Route header values for in-dialog requests, first hop first (raw, echoed exactly).
        self.route_set = route_set
        #: True when we sent the INVITE that created the dialog (we own the Call-ID: RFC 3261 §14.1 glare).
        self.is_uac = is_uac

    def __repr__(self) -> str:
        return f"<Dialog {self.id.call_id} {self.id.local_tag}/{self.id.remote_tag} {self.state.value}>"

    # -- creation ----------------------------------------------------------------------------------------

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 1xx-with-tag or 2xx response creates for the INVITE we sent (§12.1.2)."""
        remote_tag = response.to.tag
        local_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise RemoteProtocolError("a dialog-creating response needs tags in From and To")
        target = _target_of(response)
        if target is None:
            if response.status_code >= 200:
                raise RemoteProtocolError("2xx to INVITE without a Contact header")
            target = request.uri  # an early dialog may get its target later (§13.2.2.4)
        route_set = list(reversed(response.headers.get_list("Record-Route")))
        state = DialogState.CONFIRMED if 200 <= response.status_code < 300 else DialogState.EARLY
        return cls(
            dialog_id=DialogId(request.call_id, local_tag, remote_tag),
            state=state,
            local_seq=request.cseq.seq,
            remote_seq=None,
            local_party=request.from_.without_param("tag"),
            remote_party=response.to.without_param("tag"),
            remote_target=target,
            route_set=route_set,
            is_uac=True,
        )

    @classmethod
    def from_uas(cls, request: Request, local_tag: str, *, confirmed: bool = False) -> Dialog:
        """The dialog we create when answering ``request`` with a tagged 1xx or a 2xx (§12.1.1)."""
        target = _target_of(request)
        if target is None:
            raise RemoteProtocolError("dialog-creating request without a Contact header", status_hint=400)
        return cls(
            dialog_id=DialogId(request.call_id, local_tag, request.from_.tag or ""),
            state=DialogState.CONFIRMED if confirmed else DialogState.EARLY,
            local_seq=None,
            remote_seq=request.cseq.seq,
            local_party=request.to.without_param("tag"),
            remote_party=request.from_.without_param("tag"),
            remote_target=target,
            route_set=request.headers.get_list("Record-Route"),
            is_uac=False,
        )

    # -- state -------------------------------------------------------------------------------------------

    def apply(self, event: DialogEvent) -> DialogState:
        """Move the dialog on ``event`` per :data:`DIALOG_TRANSITIONS`."""
        next_state = DIALOG_TRANSITIONS.get((self.state, event))
        if next_state is None:
            raise LocalProtocolError(f"dialog in state {self.state.value} can't take {event.value!r}")
        self.state = next_state
        return next_state

    @property
    def terminated(self) -> bool:
        """True once the dialog is over."""
        return self.state is DialogState.TERMINATED

    # -- incoming ----------------------------------------------------------------------------------------

    def receive_request(self, request: Request) -> None:
        """Check and record an in-dialog request from the peer (§12.2.2).

        Raises RemoteProtocolError(status_hint=500) when the CSeq is lower than the last one seen.
        ACK and CANCEL carry the INVITE's number and are not checked.
        """
        if request.method not in ("ACK", "CANCEL"):
            seq = request.cseq.seq
            if self.remote_seq is not None and seq <= self.remote_seq:
                raise RemoteProtocolError(
                    f"CSeq {seq} is not higher than the last one in this dialog ({self.remote_seq})",
                    status_hint=500,
                )
            self.remote_seq = seq
        if request.method in TARGET_REFRESH_METHODS:
            target = _target_of(request)
            if target is not None:
                self.remote_target = target

    def receive_response(self, request: Request, response: Response) -> None:
        """Apply a response to one of our in-dialog requests, or to the dialog-creating INVITE."""
        code = response.status_code
        if request.method == "INVITE" and self.state is DialogState.EARLY:
            target = _target_of(response)
            if target is not None:
                self.remote_target = target
            if 200 <= code < 300:
                # §12.1.2 / §13.2.2.4: the 2xx fixes the route set of an early dialog.
                if self.is_uac:
                    self.route_set = list(reversed(response.headers.get_list("Record-Route")))
                self.apply(DialogEvent.CONFIRM)
            return
        if 200 <= code < 300 and request.method in TARGET_REFRESH_METHODS:
            target = _target_of(response)
            if target is not None:
                self.remote_target = target
        elif code in (408, 481):
            self.apply(DialogEvent.LOST)

    # -- outgoing ----------------------------------------------------------------------------------------

    def next_cseq(self) -> int:
        """Reserve the next local CSeq number (the first one is 1 on the UAS side)."""
        self.local_seq = 1 if self.local_seq is None else self.local_seq + 1
        return self.local_seq

    def _request_uri_and_routes(self) -> tuple[Uri, list[str]]:
        routes = list(self.route_set)
        if not routes:
            return self.remote_target, []
        first = parse_name_addr(routes[0])
        if isinstance(first.uri, SipUri) and first.uri.has_param("lr"):
            return self.remote_target, routes
        # Strict routing (RFC 2543 next hop, §12.2.1.1): the first route becomes the Request-URI.
        uri = first.uri
        if isinstance(uri, SipUri) and uri.headers:
            uri = replace(uri, headers=())
        return uri, [*routes[1:], f"<{self.remote_target}>"]

    def create_request(
        self,
        method: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
        content_type: str | None = None,
        cseq: int | None = None,
    ) -> Request:
        """Build an in-dialog request (without Via: the user agent adds it with a fresh branch).

        ``cseq`` is given for ACK and CANCEL, which reuse the INVITE's number; otherwise the next number is
        taken.
        """
        if self.terminated and method not in ("ACK", "BYE"):
            raise LocalProtocolError(f"can't send {method} in a terminated dialog")
        if cseq is None:
            cseq = self.next_cseq()
        uri, routes = self._request_uri_and_routes()
        out = Headers()
        for route in routes:
            out.add("Route", route)
        out.add("From", str(self.local_party.with_param("tag", self.id.local_tag)))
        out.add("To", str(self.remote_party.with_param("tag", self.id.remote_tag)))
        out.add("Call-ID", self.id.call_id)
        out.add("CSeq", f"{cseq} {method}")
        out.add("Max-Forwards", "70")
        for name, value in headers:
            out.add(name, value)
        if content_type is not None and body:
            out.set("Content-Type", content_type)
        return Request(method, uri, out, body)

    def create_ack(self, invite: Request, *, body: bytes = b"", content_type: str | None = None) -> Request:
        """The ACK for a 2xx to ``invite`` (§13.2.2.4): the INVITE's CSeq number, credentials copied."""
        extra = [
            (name, value)
            for name, value in invite.headers
            if name.lower() in ("authorization", "proxy-authorization")
        ]
        return self.create_request(
            "ACK", headers=extra, body=body, content_type=content_type, cseq=invite.cseq.seq
        )
