"""Digest authentication of our requests: answering 401/407 and preemptive credentials (RFC 3261 §22).

Design
======
A 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) to one of our requests is answered by sending the same
request again in a new client transaction, with a fresh Via branch, the next CSeq and the credentials;
the :class:`~.context.PendingRequest` goes with it, so its attempt count bounds the retries
(:meth:`~twochat_voice_web.sip.auth.DigestClient.should_retry`). CANCEL is never retried (RFC 3261 §22.1).

The CSeq of the retry depends on what the request is for: the registration's own sequence for REGISTER,
the dialog's for in-dialog requests, the old one plus one otherwise. What else must follow the new
request is the table :data:`AFTER_RETRY` keyed by :class:`~.context.Purpose`: the registration machine
tracks its in-flight REGISTER, a call its INVITE (and a CANCEL it still owes), a re-offer its transaction.

The challenge answered last, per header, is kept: later requests carry credentials for it up front and
save a round trip (REGISTER answers WWW-Authenticate; other requests Proxy-Authenticate).
"""

from __future__ import annotations

from collections.abc import Callable

from twochat_voice_web.sip.auth import DigestClient
from twochat_voice_web.sip.errors import LocalProtocolError, ParseError
from twochat_voice_web.sip.message import Request, Response
from twochat_voice_web.sip.session import CallState
from twochat_voice_web.sip.transaction import ClientTransaction

from .context import PendingRequest, Purpose, UaContext

__all__ = ["AFTER_RETRY", "DigestRetry"]

_NEVER_RETRIED = frozenset({Purpose.CANCEL})


def _register_retried(
    context: UaContext, pending: PendingRequest, old: Request, new: Request, tx: ClientTransaction
) -> None:
    context.registration.replace_in_flight(old, new)


def _invite_retried(
    context: UaContext, pending: PendingRequest, old: Request, new: Request, tx: ClientTransaction
) -> None:
    session = pending.session
    if session is None:
        return
    session.invite = new
    session.invite_tx = tx
    if session.state is CallState.CANCELLING and not session.cancel_deferred:
        session.cancel_deferred = True  # the new INVITE needs its own CANCEL after its first 1xx


def _reinvite_retried(
    context: UaContext, pending: PendingRequest, old: Request, new: Request, tx: ClientTransaction
) -> None:
    if pending.session is not None:
        pending.session.offer_tx = tx


AFTER_RETRY: dict[
    Purpose, Callable[[UaContext, PendingRequest, Request, Request, ClientTransaction], None]
] = {
    Purpose.REGISTER: _register_retried,
    Purpose.INVITE: _invite_retried,
    Purpose.REINVITE: _reinvite_retried,
}
"""What must follow a request that was sent again with credentials, by purpose (nothing for the others)."""


class DigestRetry:
    """The digest client of one user agent: retries on 401/407 and preemptive credentials."""

    def __init__(self, context: UaContext) -> None:
        self._context = context
        self.client: DigestClient | None = None
        config = context.config
        username = config.username or config.aor.user
        if username and (config.password is not None or config.ha1 is not None):
            self.client = DigestClient(
                username,
                config.password,
                ha1=config.ha1,
                random_bytes=context.random_bytes,
                max_attempts=config.max_auth_attempts,
            )

    def update_credentials(self, *, username: str | None, password: str | None, ha1: str | None) -> None:
        """Answer future challenges with new credentials; drops cached challenges."""
        if (password is None) == (ha1 is None):
            raise LocalProtocolError("give exactly one of password and ha1")
        config = self._context.config
        user = username or config.username or config.aor.user
        if not user:
            raise LocalProtocolError("digest authentication needs a user name")
        self.client = DigestClient(
            user,
            password,
            ha1=ha1,
            random_bytes=self._context.random_bytes,
            max_attempts=config.max_auth_attempts,
        )
        self._context.auth_cache.clear()

    def retry(self, tx: ClientTransaction, pending: PendingRequest, response: Response, now: float) -> bool:
        """Send the request of ``tx`` again with credentials for ``response``'s challenge, if we may."""
        if self.client is None or pending.purpose in _NEVER_RETRIED:
            return False
        proxy = response.status_code == 407
        challenge_header = "Proxy-Authenticate" if proxy else "WWW-Authenticate"
        credentials_header = "Proxy-Authorization" if proxy else "Authorization"
        try:
            challenge = self.client.select_challenge(response.headers.get_all(challenge_header))
        except ParseError:
            challenge = None
        if challenge is None:
            return False
        if not self.client.should_retry(
            challenge, pending.credentials_answered, attempts=pending.auth_attempts
        ):
            return False
        context = self._context
        old = tx.request
        headers = old.headers.copy()
        headers.remove("Via")
        headers.remove(credentials_header)
        headers.set("CSeq", f"{self._next_cseq(pending, old)} {old.method}")
        credentials = self.client.authorize(old.method, str(old.uri), challenge, old.body)
        headers.add(credentials_header, str(credentials))
        context.auth_cache[credentials_header] = challenge
        request = Request(old.method, old.uri, headers, old.body)
        pending.auth_attempts += 1
        pending.credentials_answered = True
        new_tx = context.send_request(request, now, pending)
        after = AFTER_RETRY.get(pending.purpose)
        if after is not None:
            after(context, pending, old, request, new_tx)
        return True

    def _next_cseq(self, pending: PendingRequest, old: Request) -> int:
        if pending.purpose is Purpose.REGISTER:
            return self._context.registration.retry_cseq()
        session = pending.session
        if session is not None and session.dialog is not None and pending.purpose is not Purpose.INVITE:
            return session.dialog.next_cseq()
        return old.cseq.seq + 1

    def preempt(self, request: Request) -> None:
        """Answer the last challenge of the same kind ahead of time (saves a round trip)."""
        if self.client is None:
            return
        header = "Authorization" if request.method == "REGISTER" else "Proxy-Authorization"
        challenge = self._context.auth_cache.get(header)
        if challenge is None or header in request.headers:
            return
        credentials = self.client.authorize(request.method, str(request.uri), challenge, request.body)
        request.headers.add(header, str(credentials))
