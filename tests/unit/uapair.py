"""Test support: build SIP messages, and wire two UserAgents back to back with a fake clock.

In the style of h11's ``ConnectionPair`` and aioquic's ``client_and_server``: bytes move directly between
two in-memory endpoints; time moves only when a test says so.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from twochat_voice_web.server.digest import DigestServer, VerifyResult
from twochat_voice_web.sip import events as ev
from twochat_voice_web.sip.auth import DigestCredentials
from twochat_voice_web.sip.headers import Headers
from twochat_voice_web.sip.message import Request, Response, make_response, parse_message
from twochat_voice_web.sip.uri import SipUri, parse_uri
from twochat_voice_web.sip.useragent import UserAgent, UserAgentConfig

OFFER = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111 126\r\n"
    "c=IN IP4 127.0.0.1\r\na=rtpmap:111 opus/48000/2\r\na=rtpmap:126 telephone-event/8000\r\na=sendrecv\r\n"
)
ANSWER = OFFER.replace("o=- 1 1", "o=- 2 1")
HOLD_OFFER = OFFER.replace("o=- 1 1", "o=- 1 2").replace("a=sendrecv", "a=sendonly")
HOLD_ANSWER = ANSWER.replace("o=- 2 1", "o=- 2 2").replace("a=sendrecv", "a=recvonly")


def request(
    method: str = "OPTIONS", *, branch: str = "z9hG4bKtest1", body: bytes = b"", extra: str = ""
) -> Request:
    """A minimal valid request."""
    text = (
        f"{method} sip:bob@example.com SIP/2.0\r\n"
        f"Via: SIP/2.0/WSS client.invalid{';branch=' + branch if branch else ''}\r\n"
        "Max-Forwards: 70\r\n"
        "From: <sip:alice@example.com>;tag=a1\r\n"
        "To: <sip:bob@example.com>\r\n"
        "Call-ID: call-1@example.com\r\n"
        f"CSeq: 1 {method}\r\n"
        "Contact: <sip:alice@client.invalid;transport=ws>\r\n"
        f"{extra}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    parsed = parse_message(text.encode() + body)
    assert isinstance(parsed, Request)
    return parsed


def ack_for(invite: Request, response: Response) -> Request:
    """The ACK of a non-2xx, as the client transaction builds it (same branch)."""
    headers = Headers(
        [
            ("Via", invite.headers.get_all("Via")[0]),
            ("From", invite.headers.get("From") or ""),
            ("To", response.headers.get("To") or ""),
            ("Call-ID", invite.call_id),
            ("CSeq", f"{invite.cseq.seq} ACK"),
            ("Max-Forwards", "70"),
        ]
    )
    return Request("ACK", invite.uri, headers)


def config(user: str, **overrides: object) -> UserAgentConfig:
    """A UserAgentConfig for ``user@example.com`` with password ``pw-<user>``."""
    base: dict[str, object] = {
        "aor": SipUri("sip", user, host="example.com"),
        "password": f"pw-{user}",
        "transport": "WS",
    }
    base.update(overrides)
    return UserAgentConfig(**base)  # type: ignore[arg-type]


@dataclass
class Side:
    """One user agent of a pair, with everything it emitted."""

    ua: UserAgent
    events: list[ev.Event] = field(default_factory=list)
    received: list[Request | Response] = field(default_factory=list)

    def of(self, kind: type[ev.Event]) -> list[ev.Event]:
        """The events of one type, in order."""
        return [e for e in self.events if isinstance(e, kind)]

    def last(self, kind: type[ev.Event]) -> ev.Event:
        """The last event of one type."""
        found = self.of(kind)
        assert found, f"no {kind.__name__} in {self.events}"
        return found[-1]

    def requests(self, method: str) -> list[Request]:
        """Requests this side received with that method."""
        return [m for m in self.received if isinstance(m, Request) and m.method == method]

    def responses(self, code: int | None = None) -> list[Response]:
        """Responses this side received (optionally with one status)."""
        return [
            m for m in self.received if isinstance(m, Response) and (code is None or m.status_code == code)
        ]


Filter = Callable[[str, Request | Response], bool]


class Pair:
    """Two user agents connected by a perfect (or filtered) in-memory wire."""

    def __init__(self, a: UserAgent, b: UserAgent, *, start: float = 1000.0) -> None:
        self.a = Side(a)
        self.b = Side(b)
        self.now = start
        #: Return False to drop a message: ``drop(direction, message)`` with direction "a->b" or "b->a".
        self.keep: Filter = lambda direction, message: True

    def flush(self) -> None:
        """Deliver messages both ways until both sides are quiet."""
        for _ in range(200):
            moved = self._move(self.a, self.b, "a->b") + self._move(self.b, self.a, "b->a")
            self._collect()
            if not moved:
                return
        raise AssertionError("message loop did not settle")

    def _move(self, src: Side, dst: Side, direction: str) -> int:
        data = src.ua.data_to_send()
        for raw in data:
            message = parse_message(raw)
            if not self.keep(direction, message):
                continue
            dst.received.append(message)
            dst.ua.receive_data(raw, self.now)
        return len(data)

    def _collect(self) -> None:
        self.a.events.extend(self.a.ua.events())
        self.b.events.extend(self.b.ua.events())

    def advance(self, seconds: float) -> None:
        """Move time forward, firing every timer due on the way (in order), flushing as we go."""
        end = self.now + seconds
        while True:
            deadlines = [d for d in (self.a.ua.next_deadline(), self.b.ua.next_deadline()) if d is not None]
            due = [d for d in deadlines if d <= end]
            if not due:
                break
            self.now = max(self.now, min(due))
            self.a.ua.handle_timer(self.now)
            self.b.ua.handle_timer(self.now)
            self.flush()
        self.now = end
        self.flush()


class Registrar:
    """A tiny registrar on top of a server-role UserAgent (REGISTER passed through), with digest auth."""

    def __init__(
        self, ua: UserAgent, passwords: dict[str, str], *, algorithms: tuple[str, ...] = ("SHA-256", "MD5")
    ) -> None:
        self.ua = ua
        self.passwords = passwords
        self.server = DigestServer(
            "example.com", b"k" * 32, algorithms=algorithms, random_bytes=random.Random(7).randbytes
        )
        self.min_expires: int | None = None
        self.bindings: dict[str, int] = {}
        self.results: list[VerifyResult] = []

    def serve(self, side: Side, now: float) -> int:
        """Answer every REGISTER that arrived; returns how many were answered."""
        count = 0
        for event in list(side.events):
            if not isinstance(event, ev.RequestReceived) or event.request.method != "REGISTER":
                continue
            side.events.remove(event)
            count += 1
            self._answer(event.handle, event.request, now)
        return count

    def _answer(self, handle: str, req: Request, now: float) -> None:
        values = req.headers.get_all("Authorization")
        if not values:
            self._challenge(handle, now, stale=False)
            return
        credentials = DigestCredentials.parse(values[0])
        result = self.server.verify("REGISTER", credentials, self.passwords.get, now)
        self.results.append(result)
        if result is not VerifyResult.OK:
            self._challenge(handle, now, stale=result.rechallenge_stale)
            return
        expires = int(req.headers.get("Expires") or "600")
        if self.min_expires is not None and 0 < expires < self.min_expires:
            self.ua.respond(handle, 423, now, headers=[("Min-Expires", str(self.min_expires))])
            return
        contact = req.headers.get("Contact") or ""
        self.bindings[req.from_.uri.user or ""] = expires  # type: ignore[union-attr]
        granted = min(expires, 300) if expires else 0
        self.ua.respond(
            handle, 200, now, headers=[("Contact", contact.rsplit(";expires=", 1)[0] + f";expires={granted}")]
        )

    def _challenge(self, handle: str, now: float, *, stale: bool) -> None:
        headers = [("WWW-Authenticate", str(c)) for c in self.server.challenge(now, stale=stale)]
        self.ua.respond(handle, 401, now, headers=headers)


def registrar_pair(**client_overrides: object) -> tuple[Pair, Registrar]:
    """A client UA (alice) and a registrar UA."""
    client = UserAgent(config("alice", **client_overrides), rng=random.Random(1))
    server = UserAgent(
        config("registrar", password=None, via_host="127.0.0.1", passthrough_methods=frozenset({"REGISTER"})),
        rng=random.Random(2),
    )
    return Pair(client, server), Registrar(server, {"alice": "pw-alice"})


def call_pair(**overrides: dict[str, object]) -> Pair:
    """Two UAs (alice calls bob) — bob's config may be overridden with ``bob={...}``."""
    a = UserAgent(config("alice", **overrides.get("alice", {})), rng=random.Random(11))
    b = UserAgent(config("bob", **overrides.get("bob", {})), rng=random.Random(12))
    return Pair(a, b)


def bob_uri() -> SipUri:
    """Bob's AOR."""
    uri = parse_uri("sip:bob@example.com")
    assert isinstance(uri, SipUri)
    return uri


def respond(req: Request, code: int, **kwargs: object) -> Response:
    """make_response with a To tag for codes above 100."""
    if code > 100 and "to_tag" not in kwargs:
        kwargs["to_tag"] = "srv1"
    return make_response(req, code, **kwargs)  # type: ignore[arg-type]
