"""The sandbox registrar: digest-authenticated REGISTER on the SIP WebSocket, one binding per client flow.

Policy (Kamailio as configured in ``tests/interop/configs/kamailio.cfg``, RFC 3261 §10.3, RFC 5626):

* No credentials for our realm, a nonce we did not issue, or an algorithm/qop we did not offer: **401**
  with two challenges, SHA-256 on top (RFC 8760: most preferred first), then MD5. JsSIP 3.13 knows only
  MD5 and keeps the *last* WWW-Authenticate line of a response (its parser stores the header with
  ``setHeader``, so each line replaces the previous one): MD5 must come last for it. Our client picks
  SHA-256 whatever the order.
* Right credentials on an expired nonce, or a nonce count already used (a replay): **401 with
  stale=true**. A genuine client retries at once with the fresh nonce; a replayer cannot.
* Wrong password or unknown user: **403 "Wrong password"**, no new challenge — what Kamailio answers when
  ``pv_auth_check`` returns -2 (and what our client then reports as a registration failure at once).
* To or From user other than the digest user name (registering someone else), or a connection that already
  authenticated as another user: **403**.
* Expiry: the Contact's ``expires`` parameter, else the Expires header, else 3600 s; 0 < e < 60 is
  refused with **423** and ``Min-Expires: 60``; more than 3600 is granted as 3600. ``expires=0`` removes
  the binding; ``Contact: *`` with ``Expires: 0`` removes every binding of the user (400 otherwise).
* One Contact per REGISTER (one WebSocket flow is one client instance): 400 otherwise. A REGISTER without
  Contact is a query.
* The 200 lists every current binding of the user with its remaining ``expires`` (and
  ``Require: outbound`` when the client asked for RFC 5626 outbound with a ``reg-id``). No GRUU, no
  Path/Service-Route.
* A binding goes away when it expires and when its WebSocket closes (Kamailio's ``handle_lost_tcp``).

The binding belongs to the :class:`~.sip_agent.ClientAgent` of the client instance, named by
``+sip.instance`` (or by the Contact URI when the client sends none). A REGISTER of the same user and
instance on a new connection re-attaches that agent to the new connection (see :mod:`.sip_agent`).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING, Protocol, TypeAlias

from twochat_voice_web.server.digest import DigestServer, VerifyResult
from twochat_voice_web.sip.errors import ParseError, ProtocolError
from twochat_voice_web.sip.headers import NameAddr
from twochat_voice_web.sip.message import Request
from twochat_voice_web.sip.uri import SipUri, parse_uri

from .bindings import Binding
from .hub import SandboxHub

if TYPE_CHECKING:
    from .sip_agent import ClientAgent, Connection
    from .state import UserAccount

__all__ = ["AgentBinding", "Binding", "Registrar", "RegistrarHost", "instance_key_of"]

AgentBinding: TypeAlias = "Binding[ClientAgent]"
"""A binding owned by a sandbox client agent (what the registrar creates)."""

log = logging.getLogger("twochat_voice_web.sandbox.sip")

#: Offered digest algorithms, in the order of the challenges (MD5 last: JsSIP reads the last line only).
CHALLENGE_ALGORITHMS = ("SHA-256", "MD5")


def instance_key_of(contact: NameAddr) -> str:
    """The name of a client instance: its ``+sip.instance`` URN, else ``contact:<Contact URI>``."""
    instance = contact.param("+sip.instance")
    if instance:
        return instance.strip().strip('"').strip("<>")
    return f"contact:{contact.uri}"


class RegistrarHost(SandboxHub, Protocol):
    """What the registrar uses of the SIP server, beyond :class:`~.hub.SandboxHub`: the client agents."""

    @property
    def agents(self) -> Mapping[tuple[str, str], ClientAgent]:
        """The authenticated client agents by (SIP user name, instance key)."""

    def owner_for(self, agent: ClientAgent, user: UserAccount, instance_key: str) -> ClientAgent | None:
        """The agent that owns (user, instance) once ``agent``'s REGISTER succeeds; None: refuse."""

    def transfer(self, connection: Connection, owner: ClientAgent) -> None:
        """Attach ``connection`` to the existing agent ``owner`` (a client instance came back)."""


class Registrar:
    """Answers REGISTER requests (see the module docstring) and keeps the bindings.

    Args:
        server: the SIP server (users, settings, agents, event log).
    """

    def __init__(self, server: RegistrarHost) -> None:
        self.server = server
        self._secret = secrets.token_bytes(32)
        self.digest = self._make_digest(server.settings.nonce_ttl)

    def _make_digest(self, nonce_ttl: float) -> DigestServer:
        return DigestServer(
            self.server.state.sip_domain,
            self._secret,
            nonce_ttl=nonce_ttl,
            algorithms=CHALLENGE_ALGORITHMS,
            strongest_first=False,  # keep exactly CHALLENGE_ALGORITHMS' order
        )

    def set_nonce_ttl(self, seconds: float) -> None:
        """Change the nonce lifetime (tests of stale nonces); nonces already issued keep verifying."""
        self.server.settings.nonce_ttl = seconds
        self.digest = self._make_digest(seconds)

    # -- bindings -------------------------------------------------------------------------------------

    def bindings_for(self, user: UserAccount) -> list[AgentBinding]:
        """The reachable bindings of ``user``, oldest first."""
        found = [
            agent.binding
            for agent in self.server.agents.values()
            if agent.binding is not None
            and agent.binding.user is user
            and agent.connection is not None
            and not agent.discarded
        ]
        return sorted(found, key=lambda b: b.registered_at)

    def all_bindings(self) -> list[AgentBinding]:
        """Every reachable binding."""
        return [b for user in self.server.state.users for b in self.bindings_for(user)]

    def remove(self, binding: AgentBinding, reason: str) -> None:
        """Drop a binding and log ``unregister``."""
        if binding.timer is not None:
            binding.timer.cancel()
            binding.timer = None
        agent = binding.agent
        if agent.binding is not binding:
            return
        agent.binding = None
        connection = agent.connection
        self.server.log_event(
            "unregister",
            user=binding.user.name,
            sip_username=binding.user.sip_username,
            instance=binding.instance_key,
            reason=reason,
            connection=connection.id if connection is not None else None,
        )

    def _expired(self, binding: AgentBinding) -> None:
        binding.timer = None
        self.remove(binding, "expired")

    # -- REGISTER -------------------------------------------------------------------------------------

    def on_register(self, agent: ClientAgent, handle: str, request: Request) -> None:
        """Answer one REGISTER received by ``agent``."""
        try:
            self._register(agent, handle, request)
        except (ParseError, ProtocolError) as exc:
            agent.respond(handle, 400, reason=_reason(f"Bad REGISTER: {exc}"))
            self._after_failure(agent)

    def _register(self, agent: ClientAgent, handle: str, request: Request) -> None:
        now = self.server.now()
        user = self._authenticate(agent, handle, request, now)
        if user is None:
            return
        settings = self.server.settings
        name = user.sip_username.lower()
        to_user = request.to.uri.user if isinstance(request.to.uri, SipUri) else None
        from_user = request.from_.uri.user if isinstance(request.from_.uri, SipUri) else None
        if (to_user or "").lower() != name or (from_user or "").lower() != name:
            self._refuse(agent, handle, user, 403, "Forbidden: To/From user is not the authenticated user")
            return
        if agent.user is not None and agent.user is not user:
            self._refuse(
                agent, handle, user, 403, f"Forbidden: this connection is authenticated as {agent.user_name}"
            )
            return

        raw_contacts = request.headers.get_all("Contact")
        header_expires = _parse_expires(request.headers.get("Expires"), "Expires header")
        if any(value.strip() == "*" for value in raw_contacts):
            if len(raw_contacts) != 1 or header_expires != 0:
                agent.respond(handle, 400, reason="Contact * needs Expires: 0 and no other Contact")
                self._after_failure(agent)
                return
            agent.user = agent.user or user
            for existing in self.bindings_for(user):
                self.remove(existing, "contact-star")
            self._respond_ok(agent, handle, request, user, now)
            self._after_success(agent)
            return
        contacts = request.contacts
        if not contacts:  # a query
            agent.user = agent.user or user
            self._respond_ok(agent, handle, request, user, now)
            self._after_success(agent)
            return
        if len(contacts) > 1:
            agent.respond(handle, 400, reason="One Contact per REGISTER on this registrar")
            self._after_failure(agent)
            return
        contact = contacts[0]
        param = contact.param("expires")
        expires = _parse_expires(param, "Contact expires") if param is not None else header_expires
        if expires is None:
            expires = settings.default_expires
        if 0 < expires < settings.min_expires:
            agent.respond(handle, 423, headers=[("Min-Expires", str(settings.min_expires))])
            self._after_failure(agent)
            return
        expires = min(expires, settings.max_expires)
        key = instance_key_of(contact)

        if expires == 0:
            agent.user = agent.user or user
            owner = self.server.agents.get((user.sip_username, key))
            if owner is not None and owner.binding is not None:
                self.remove(owner.binding, "expires=0")
            self._respond_ok(agent, handle, request, user, now)
            self._after_success(agent)
            return

        owner = self.server.owner_for(agent, user, key)
        if owner is None:
            self._refuse(agent, handle, user, 403, "Forbidden: this connection registered another instance")
            return
        binding = owner.binding
        refresh = binding is not None and binding.instance_key == key
        if binding is None or not refresh:
            if binding is not None:
                self.remove(binding, "replaced")
            binding = Binding(
                user=user,
                agent=owner,
                contact=contact,
                instance_key=key,
                reg_id=contact.param("reg-id"),
                expires=expires,
                expires_at=now + expires,
                registered_at=now,
            )
            owner.binding = binding
        binding.contact = contact.without_param("expires")
        binding.reg_id = contact.param("reg-id")
        binding.expires = expires
        binding.expires_at = now + expires
        if binding.timer is not None:
            binding.timer.cancel()
        binding.timer = self.server.loop.call_at(binding.expires_at, self._expired, binding)
        reattach = owner is not agent
        connection = agent.connection
        self.server.log_event(
            "register",
            user=user.name,
            sip_username=user.sip_username,
            instance=key,
            reg_id=binding.reg_id,
            contact=str(contact.uri),
            expires=expires,
            refresh=refresh and not reattach,
            reconnect=reattach,
            connection=connection.id if connection is not None else None,
        )
        self._respond_ok(agent, handle, request, user, now)
        if reattach and connection is not None:
            self.server.transfer(connection, owner)
        self._after_success(owner)

    def _authenticate(
        self, agent: ClientAgent, handle: str, request: Request, now: float
    ) -> UserAccount | None:
        """The authenticated user, or None after answering 401/403."""
        credentials = self.digest.credentials_for_realm(request.headers.get_all("Authorization"))
        if credentials is None:
            self._challenge(agent, handle, now, stale=False)
            return None
        result = self.digest.verify("REGISTER", credentials, self._password_of, now, request.body)
        if result is VerifyResult.OK and not _same_uri(credentials.uri, request):
            result = VerifyResult.BAD_CREDENTIALS
        user = self.server.state.users.by_sip_username(credentials.username)
        if result is VerifyResult.OK and user is not None:
            return user
        if result is VerifyResult.BAD_CREDENTIALS or result is VerifyResult.OK:
            agent.respond(handle, 403, reason="Wrong password")
            status = 403
        else:
            self._challenge(agent, handle, now, stale=result.rechallenge_stale)
            status = 401
        self.server.log_event(
            "register_rejected",
            user=credentials.username,
            status=status,
            reason=result.value,
            connection=agent.connection.id if agent.connection is not None else None,
        )
        if status == 403:
            self._after_failure(agent)
        return None

    def _password_of(self, username: str) -> str | None:
        user = self.server.state.users.by_sip_username(username)
        return user.sip_password if user is not None else None

    def _challenge(self, agent: ClientAgent, handle: str, now: float, *, stale: bool) -> None:
        headers = [("WWW-Authenticate", str(c)) for c in self.digest.challenge(now, stale=stale)]
        agent.respond(handle, 401, headers=headers)

    def _refuse(self, agent: ClientAgent, handle: str, user: UserAccount, status: int, reason: str) -> None:
        agent.respond(handle, status, reason=reason)
        self.server.log_event(
            "register_rejected",
            user=user.sip_username,
            status=status,
            reason=reason,
            connection=agent.connection.id if agent.connection is not None else None,
        )
        self._after_failure(agent)

    def _respond_ok(
        self, agent: ClientAgent, handle: str, request: Request, user: UserAccount, now: float
    ) -> None:
        headers: list[tuple[str, str]] = []
        for binding in self.bindings_for(user):
            headers.append(
                ("Contact", str(binding.contact.with_param("expires", str(binding.remaining(now)))))
            )
        contacts = request.contacts
        supported = [token.lower() for token in request.headers.get_list("Supported")]
        if contacts and contacts[0].param("reg-id") and "outbound" in supported:
            headers.append(("Require", "outbound"))
        agent.respond(handle, 200, headers=headers)

    def _after_success(self, agent: ClientAgent) -> None:
        if agent.connection is not None:
            agent.connection.release_held()

    def _after_failure(self, agent: ClientAgent) -> None:
        """A refused REGISTER: held frames meet the plain rules now (403 for INVITE, 481 in dialog)."""
        if agent.connection is not None and not agent.authenticated:
            agent.connection.release_held()


def _parse_expires(value: str | None, what: str) -> int | None:
    if value is None:
        return None
    text = value.strip()
    if not text.isdigit() or len(text) > 10:
        raise ParseError(f"{what} must be a number of seconds, got {value[:40]!r}")
    return int(text)


def _same_uri(digest_uri: str, request: Request) -> bool:
    """Whether the digest-uri names the Request-URI (RFC 3261 §22.4: the same URI, compared as URIs)."""
    if digest_uri == str(request.uri):
        return True
    try:
        parsed = parse_uri(digest_uri)
    except ParseError:
        return False
    if isinstance(parsed, SipUri) and isinstance(request.uri, SipUri):
        return parsed.matches(request.uri)
    return str(parsed) == str(request.uri)


def _reason(text: str) -> str:
    """A reason phrase safe to send (printable ASCII, bounded)."""
    cleaned = "".join(ch if 32 <= ord(ch) < 127 else " " for ch in text)
    return cleaned[:100].strip() or "Bad Request"
