"""RFC 3261 §8.2 request checks, the answers to methods nobody handles, and the answers to bad input.

Design
======
A new request passes these checks before any part of the user agent sees it (RFC 3261 §8.2, in order):

1. Max-Forwards 0 (except OPTIONS, §11) -> 483 Too Many Hops;
2. a Require'd extension we do not implement -> 420 Bad Extension with Unsupported (§8.2.2.3);
3. (by the facade) an in-dialog request for no dialog of ours -> 481, its CSeq lower than the last -> 500
   (§12.2.2), and then the method: each handled method has its handler in the facade's tables; the rest get
   :meth:`RequestChecks.unhandled` — 481 for in-dialog methods outside a dialog or PRACK (we never send
   reliable provisionals), 405 with Allow for methods we know but do not implement, 501 for the others
   (§8.2.1).

CANCEL skips 1 and 2 (§9.2: it is matched to its INVITE, not processed on its own).

Bad input never raises out of the user agent: a message that does not parse is answered 400 (or 513 Message
Too Large) when its Via, From, To, Call-ID and CSeq can still be read (:func:`salvage_error_response`); a
parsed request that a layer rejects is answered with the status its error suggests. Both are reported as
:class:`~twochat_voice_web.sip.events.MessageRejected`. An ACK is never answered.
"""

from __future__ import annotations

from twochat_voice_web.sip.errors import MessageTooLargeError, ParseError, ProtocolError
from twochat_voice_web.sip.events import MessageRejected
from twochat_voice_web.sip.grammar import CALLID_RE
from twochat_voice_web.sip.headers import Headers, canonical_name, parse_cseq, parse_name_addr, parse_via_list
from twochat_voice_web.sip.message import ParserLimits, Request, Response, make_response
from twochat_voice_web.sip.transaction import ServerTransaction

from .context import ALLOWED_METHODS, SDP_CONTENT_TYPE, SUPPORTED_OPTIONS, UaContext, safe_tokens, sanitize
from .dtmf_info import DTMF_RELAY

__all__ = [
    "DIALOG_METHODS",
    "KNOWN_UNSUPPORTED",
    "SUPPORTED_EXTENSIONS",
    "RequestChecks",
    "salvage_error_response",
]

KNOWN_UNSUPPORTED = frozenset({"REGISTER", "SUBSCRIBE", "PUBLISH", "REFER", "MESSAGE", "PRACK"})
"""Methods we recognise but do not implement: 405 Method Not Allowed (anything else: 501)."""
SUPPORTED_EXTENSIONS = frozenset({"timer"})
"""Extensions we can honour when a request Requires them."""
DIALOG_METHODS = frozenset({"BYE", "INFO", "UPDATE", "PRACK", "NOTIFY"})
"""Methods that only make sense inside a dialog: 481 outside one."""


class RequestChecks:
    """RFC 3261 §8.2 checks and fixed answers for one user agent."""

    def __init__(self, context: UaContext) -> None:
        self._context = context

    def refuse(self, tx: ServerTransaction, request: Request, now: float) -> bool:
        """Answer ``request`` 483 or 420 when §8.2 says so; True when it was answered."""
        if request.method == "CANCEL":
            return False
        max_forwards = request.max_forwards
        if max_forwards is not None and max_forwards == 0 and request.method != "OPTIONS":
            self._context.respond(tx, 483, now)
            return True
        unsupported = [
            ext for ext in safe_tokens(request, "require") if ext.lower() not in SUPPORTED_EXTENSIONS
        ]
        if unsupported:
            self._context.respond(tx, 420, now, headers=[("Unsupported", ", ".join(unsupported))])
            return True
        return False

    def options(self, tx: ServerTransaction, request: Request, now: float) -> None:
        """Answer OPTIONS with what we can do (RFC 3261 §11.2)."""
        self._context.respond(
            tx,
            200,
            now,
            headers=[
                ("Allow", ", ".join(ALLOWED_METHODS)),
                ("Accept", f"{SDP_CONTENT_TYPE}, {DTMF_RELAY}, application/dtmf"),
                ("Supported", SUPPORTED_OPTIONS),
            ],
        )

    def unhandled(self, tx: ServerTransaction, request: Request, now: float, *, in_dialog: bool) -> None:
        """Answer a method no part handles: 481, 405 with Allow, or 501."""
        method = request.method
        if method == "PRACK" or (not in_dialog and method in DIALOG_METHODS):
            self._context.respond(tx, 481, now)
        elif method in KNOWN_UNSUPPORTED:
            self._context.respond(tx, 405, now, headers=[("Allow", ", ".join(ALLOWED_METHODS))])
        else:
            self._context.respond(tx, 501, now)

    def reject_unparseable(self, raw: bytes, exc: ParseError) -> None:
        """A message that did not parse: answer 400/513 when we can, and report it."""
        context = self._context
        status: int | None = None
        if not raw.lstrip().upper().startswith(b"SIP/"):
            status = exc.status_hint if isinstance(exc, MessageTooLargeError) else 400
            response = salvage_error_response(raw, status, exc.message, context.config.parser_limits)
            if response is None:
                status = None
            else:
                context.outbox.append(response.to_bytes())
        context.events.append(MessageRejected(exc.message, status))

    def reject_parsed(self, message: Request | Response, exc: ProtocolError, now: float) -> None:
        """A parsed message a layer refused: answer a request with the status the error suggests."""
        context = self._context
        status: int | None = None
        if isinstance(message, Request) and message.method != "ACK":
            status = exc.status_hint if 300 <= exc.status_hint <= 699 else 400
            try:
                response = make_response(
                    message,
                    status,
                    sanitize(exc.message) or None,
                    to_tag=None if message.to.tag else context.token(10),
                )
            except ProtocolError:
                status = None
            else:
                transactions = context.transactions.server_transactions()
                tx = next((t for t in transactions if t.request is message), None)
                if tx is not None and not tx.sent_final:
                    context.send_response(tx, response, now)
                else:
                    context.outbox.append(response.to_bytes())
        context.events.append(MessageRejected(exc.message, status))


def salvage_error_response(raw: bytes, status: int, error: str, limits: ParserLimits) -> Response | None:
    """Build a 400/513 for a request that failed to parse, when its routing headers can still be read."""
    head = raw[: limits.max_message_bytes].split(b"\r\n\r\n", 1)[0].replace(b"\r\n", b"\n")
    try:
        lines = head.decode("utf-8").split("\n")
    except UnicodeDecodeError:
        return None
    wanted = ("Via", "From", "To", "Call-ID", "CSeq")
    found: list[tuple[str, str]] = []
    for line in lines[1 : limits.max_headers + 1]:
        name, sep, value = line.partition(":")
        canonical = canonical_name(name.strip())
        if sep and canonical in wanted:
            found.append((canonical, value.strip()))
    try:
        vias = [v for n, v in found if n == "Via"]
        singles = {n: [v for m, v in found if m == n] for n in ("From", "To", "Call-ID", "CSeq")}
        if not vias or any(len(v) != 1 for v in singles.values()):
            return None
        for via in vias:
            parse_via_list(via)
        parse_name_addr(singles["From"][0])
        to = parse_name_addr(singles["To"][0])
        cseq = parse_cseq(singles["CSeq"][0])
        if cseq.method == "ACK" or not CALLID_RE.fullmatch(singles["Call-ID"][0]):
            return None  # an ACK is never answered; a malformed Call-ID cannot go back on the wire
        headers = Headers([("Via", v) for v in vias])
        headers.add("From", singles["From"][0])
        headers.add(
            "To", singles["To"][0] if to.tag else f"{singles['To'][0]};tag=err{abs(hash(raw)) % 10**8}"
        )
        headers.add("Call-ID", singles["Call-ID"][0])
        headers.add("CSeq", singles["CSeq"][0])
        headers.add("Warning", f'399 - "{sanitize(error)}"')
        reason = "Message Too Large" if status == 513 else "Bad Request"
        return Response(status, reason, headers)
    except ProtocolError:
        return None
