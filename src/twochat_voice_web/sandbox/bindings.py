"""A registration binding of the sandbox registrar: one registered contact of one client instance.

The binding belongs to the client agent of the instance (:class:`~.sip_agent.ClientAgent`) and the agent
holds it (``agent.binding``): each names the other. So that neither module imports the other, a binding
is generic in its agent's type and needs of it only :class:`BindingOwner`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sized
from dataclasses import dataclass, field
from typing import Generic, Protocol, TypeVar

from twochat_voice_web.sip.headers import NameAddr

from .state import UserAccount

__all__ = ["Binding", "BindingOwner", "NamedFlow"]


class NamedFlow(Protocol):
    """A client's connection, as a binding reports it."""

    @property
    def id(self) -> str:
        """The connection's short id (``c1``...)."""


class BindingOwner(Protocol):
    """What a binding reads of the agent that owns it."""

    @property
    def connection(self) -> NamedFlow | None:
        """The agent's current connection (None while it is away)."""

    @property
    def live_legs(self) -> Sized:
        """The agent's calls that have not ended."""


AgentT = TypeVar("AgentT", bound=BindingOwner)


@dataclass(eq=False)
class Binding(Generic[AgentT]):
    """One registered contact.

    Attributes:
        user: the registered user.
        agent: the client agent whose connection reaches the contact.
        contact: the Contact as registered (without ``expires``).
        instance_key: see :func:`~.registrar.instance_key_of`.
        reg_id: the RFC 5626 ``reg-id``, if any.
        expires: the granted interval, seconds.
        expires_at: when it runs out (event-loop time).
        registered_at: when it was first created (event-loop time).
    """

    user: UserAccount
    agent: AgentT
    contact: NameAddr
    instance_key: str
    reg_id: str | None
    expires: int
    expires_at: float
    registered_at: float
    timer: asyncio.TimerHandle | None = field(default=None, repr=False)

    def remaining(self, now: float) -> int:
        """Seconds left, rounded, never negative."""
        return max(0, round(self.expires_at - now))

    def describe(self, now: float) -> dict[str, object]:
        """JSON view for ``GET /sandbox/registrations``."""
        connection = self.agent.connection
        return {
            "user": self.user.name,
            "sip_username": self.user.sip_username,
            "instance": self.instance_key,
            "reg_id": self.reg_id,
            "contact": str(self.contact.uri),
            "expires": self.expires,
            "expires_in": self.remaining(now),
            "connection": connection.id if connection is not None else None,
            "calls": len(self.agent.live_legs),
        }
