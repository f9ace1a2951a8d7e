"""Shared run-time state of the sandbox: the ready-made users, the event log, the bound address.

One :class:`SandboxState` per application, reachable from every handler and plugin as
``app[STATE_KEY]`` (``request.app[STATE_KEY]`` in a handler). The SIP server reads users and their SIP
passwords from :attr:`SandboxState.users` (e.g. ``state.users.by_sip_username("alice")``); the media and SIP
parts append to :attr:`SandboxState.events`::

    state = app[STATE_KEY]
    state.events.append("dtmf", call_id=call_id, digit="5")
    state.events.append("hold", call_id=call_id, direction="sendonly")

Every event gets a monotonically increasing ``id`` and a ``time`` (Unix seconds); tests read them with
``GET /sandbox/events?since=<id>&kind=<kind>&call_id=<id>`` (optionally ``&wait=<seconds>`` to long-poll).
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from aiohttp import web

from .config import SandboxConfig
from .tokens import TokenIssuer

__all__ = [
    "ACCOUNT_UUID",
    "RESERVED_EVENT_FIELDS",
    "STATE_KEY",
    "CallerIdRecord",
    "EventFieldError",
    "EventLog",
    "EventLogEntry",
    "SandboxState",
    "UserAccount",
    "UserDirectory",
    "default_users",
]

ACCOUNT_UUID = "ACC5a4db0c2e1f94d7a8b3c6e0d"
"""The (single) 2Chat account of the sandbox, the ``account_uuid`` of its caller IDs."""

RESERVED_EVENT_FIELDS = frozenset({"id", "time", "kind"})
"""Field names every event has; :meth:`EventLog.append` refuses them as extra fields."""


@dataclass(frozen=True, slots=True)
class CallerIdRecord:
    """A caller ID (2Chat ``VCI…``) a user may present on outbound calls.

    Attributes mirror ``GET /open/voip/caller-ids`` items (2chat-voice-sdk.md §2.3).
    """

    uuid: str
    phone_number: str
    friendly_name: str
    channel_uuid: str
    type: str = "VN"
    iso_country_code: str = "US"
    verified: bool = True

    def summary(self) -> dict[str, str]:
        """The ``{"uuid", "phone_number"}`` form used in credentials and the ready file."""
        return {"uuid": self.uuid, "phone_number": self.phone_number}


@dataclass(frozen=True, slots=True)
class UserAccount:
    """A ready-made 2Chat user of the sandbox.

    Attributes:
        name: short lower-case handle (``"alice"``), accepted by ``POST /demo/token``.
        uuid: the 2Chat user UUID (``USR…``), the ``sub`` of its access tokens.
        sip_username: SIP user part and digest username.
        sip_password: digest password, random per run (never listed by ``/demo/users`` or the ready file).
        display_name: SIP display name.
        first_name / last_name / email: the ``GET /open/users`` fields.
        caller_ids: the caller IDs this user may present.
    """

    name: str
    uuid: str
    sip_username: str
    sip_password: str = field(repr=False)
    display_name: str
    first_name: str
    last_name: str
    email: str
    caller_ids: tuple[CallerIdRecord, ...]

    def sip_uri(self, domain: str) -> str:
        """The user's address of record, e.g. ``sip:alice@sandbox.2chat.test``."""
        return f"sip:{self.sip_username}@{domain}"

    def public_info(self) -> dict[str, Any]:
        """The non-secret description used by the ready file, the banner and ``GET /demo/users``."""
        return {
            "name": self.name,
            "uuid": self.uuid,
            "sip_username": self.sip_username,
            "display_name": self.display_name,
            "caller_ids": [c.summary() for c in self.caller_ids],
        }


def default_users(password_factory: Callable[[], str] | None = None) -> tuple[UserAccount, ...]:
    """Return the two ready-made users, Alice and Bob, with fresh SIP passwords.

    UUIDs and numbers are fixed (documented in docs/sandbox.md) so tests and the demo can name them;
    passwords are random per run unless ``password_factory`` is given.
    """
    make_password = password_factory or (lambda: secrets.token_urlsafe(18))
    return (
        UserAccount(
            name="alice",
            uuid="USR5a1d0c3e9b7f4a2e8c6d1f0a",
            sip_username="alice",
            sip_password=make_password(),
            display_name="Alice Sandbox",
            first_name="Alice",
            last_name="Sandbox",
            email="alice@sandbox.2chat.test",
            caller_ids=(
                CallerIdRecord(
                    uuid="VCI0a1ce0200f4b4d2c9e8a7b60",
                    phone_number="+15550200",
                    friendly_name="Alice main line",
                    channel_uuid="DID0a1ce0200f4b4d2c9e8a7b60",
                ),
                CallerIdRecord(
                    uuid="VCI0a1ce0201f4b4d2c9e8a7b61",
                    phone_number="+15550201",
                    friendly_name="Alice support line",
                    channel_uuid="DID0a1ce0201f4b4d2c9e8a7b61",
                ),
            ),
        ),
        UserAccount(
            name="bob",
            uuid="USRb0b7e2d94c1a4f6b8e3d5c2b",
            sip_username="bob",
            sip_password=make_password(),
            display_name="Bob Sandbox",
            first_name="Bob",
            last_name="Sandbox",
            email="bob@sandbox.2chat.test",
            caller_ids=(
                CallerIdRecord(
                    uuid="VCIb0b0210e3c2d4a1b9f8e7d62",
                    phone_number="+15550210",
                    friendly_name="Bob main line",
                    channel_uuid="DIDb0b0210e3c2d4a1b9f8e7d62",
                ),
            ),
        ),
    )


class UserDirectory:
    """The sandbox users, looked up by UUID, handle or SIP username (lookups are exact, case-insensitive
    for handle and SIP username)."""

    def __init__(self, users: Iterable[UserAccount]) -> None:
        self._users = tuple(users)
        self._by_uuid = {u.uuid: u for u in self._users}
        self._by_name = {u.name.lower(): u for u in self._users}
        self._by_sip = {u.sip_username.lower(): u for u in self._users}
        if not (len(self._by_uuid) == len(self._by_name) == len(self._by_sip) == len(self._users)):
            raise ValueError("sandbox users must have distinct uuids, names and SIP usernames")

    def __iter__(self) -> Iterator[UserAccount]:
        return iter(self._users)

    def __len__(self) -> int:
        return len(self._users)

    @property
    def all(self) -> tuple[UserAccount, ...]:
        """Every user, in definition order."""
        return self._users

    def by_uuid(self, uuid: str) -> UserAccount | None:
        """The user with this ``USR…`` UUID, or ``None``."""
        return self._by_uuid.get(uuid)

    def by_name(self, name: str) -> UserAccount | None:
        """The user with this handle (``"alice"``), or ``None``."""
        return self._by_name.get(name.lower())

    def by_sip_username(self, username: str) -> UserAccount | None:
        """The user with this SIP username, or ``None`` (what the registrar uses for digest auth)."""
        return self._by_sip.get(username.lower())

    def by_name_or_uuid(self, key: str) -> UserAccount | None:
        """The user whose UUID or handle is ``key``, or ``None``."""
        return self.by_uuid(key) or self.by_name(key)

    def by_phone_number(self, phone_number: str) -> UserAccount | None:
        """The user owning this caller-ID number, or ``None``."""
        for user in self._users:
            if any(c.phone_number == phone_number for c in user.caller_ids):
                return user
        return None


class EventFieldError(ValueError):
    """An event was appended with a reserved or non-string field name."""


@dataclass(frozen=True, slots=True)
class EventLogEntry:
    """One entry of the event log.

    Attributes:
        id: monotonically increasing, starting at 1; never reused, even after :meth:`EventLog.clear`.
        time: Unix seconds when it was appended.
        kind: what happened (``"dtmf"``, ``"hold"``, ``"bye"``, ``"register"``, ``"audio_level"``...).
        fields: the rest (``call_id``, ``digit``, ``direction``...), JSON-serialisable values.
    """

    id: int
    time: float
    kind: str
    fields: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        """The flat JSON object served by ``GET /sandbox/events``: ``{"id", "time", "kind", **fields}``."""
        return {"id": self.id, "time": self.time, "kind": self.kind, **self.fields}

    def matches(self, *, since: int = 0, kind: str | None = None, call_id: str | None = None) -> bool:
        """Whether this event is newer than ``since`` and has the given kind and ``call_id`` (if given)."""
        if self.id <= since:
            return False
        if kind is not None and self.kind != kind:
            return False
        return call_id is None or self.fields.get("call_id") == call_id


class EventLog:
    """Bounded, append-only log of what the sandbox saw, for tests and the demo.

    :meth:`append` is synchronous and cheap, callable from any code running in the event loop's thread
    (and, thread-safely, from other threads). :meth:`wait_for` lets a handler long-poll for new entries.
    """

    def __init__(self, *, max_events: int = 10_000, clock: Callable[[], float] = time.time) -> None:
        self._events: deque[EventLogEntry] = deque(maxlen=max_events)
        self._clock = clock
        self._last_id = 0
        self._lock = threading.Lock()
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Future[None]]] = []

    @property
    def last_id(self) -> int:
        """The id of the newest event ever appended (0 when none)."""
        return self._last_id

    def append(self, kind: str, /, **fields: Any) -> EventLogEntry:
        """Record an event of ``kind`` with ``fields`` and return it.

        Raises:
            EventFieldError: ``kind`` is empty or a field is named ``id``, ``time`` or ``kind``.
        """
        if not isinstance(kind, str) or not kind:
            raise EventFieldError(f"event kind must be a non-empty string, got {kind!r}")
        clash = RESERVED_EVENT_FIELDS.intersection(fields)
        if clash:
            raise EventFieldError(
                f"event fields {sorted(clash)} are reserved (id, time and kind are set by the log)"
            )
        with self._lock:
            self._last_id += 1
            event = EventLogEntry(
                id=self._last_id, time=self._clock(), kind=kind, fields=MappingProxyType(dict(fields))
            )
            self._events.append(event)
            waiters, self._waiters = self._waiters, []
        for loop, future in waiters:
            if loop.is_closed():
                continue
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is loop:
                if not future.done():
                    future.set_result(None)
            else:
                loop.call_soon_threadsafe(_resolve, future)
        return event

    def query(
        self, *, since: int = 0, kind: str | None = None, call_id: str | None = None
    ) -> list[EventLogEntry]:
        """Events newer than ``since``, optionally only of ``kind`` and/or for ``call_id``, oldest first."""
        with self._lock:
            snapshot = list(self._events)
        return [e for e in snapshot if e.matches(since=since, kind=kind, call_id=call_id)]

    async def wait_for(
        self, *, since: int = 0, kind: str | None = None, call_id: str | None = None, timeout: float = 0.0
    ) -> list[EventLogEntry]:
        """Like :meth:`query`, but wait up to ``timeout`` seconds for at least one matching event."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + max(0.0, timeout)
        while True:
            # Register before looking, so an append from another thread in between still wakes us.
            future: asyncio.Future[None] = loop.create_future()
            with self._lock:
                self._waiters.append((loop, future))
            try:
                found = self.query(since=since, kind=kind, call_id=call_id)
                remaining = deadline - loop.time()
                if found or remaining <= 0:
                    return found
                try:
                    await asyncio.wait_for(future, remaining)
                except TimeoutError:
                    return self.query(since=since, kind=kind, call_id=call_id)
            finally:
                with self._lock:
                    self._waiters = [w for w in self._waiters if w[1] is not future]

    def clear(self) -> None:
        """Forget every event (ids keep increasing)."""
        with self._lock:
            self._events.clear()

    def __len__(self) -> int:
        return len(self._events)


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


@dataclass(slots=True)
class SandboxState:
    """Everything the sandbox's parts share; one per application, stored under :data:`STATE_KEY`.

    Attributes:
        config: the configuration the app was built with.
        users: the ready-made users (with SIP passwords, for the registrar's digest check).
        events: the event log.
        tokens: mints and verifies access tokens (HS256, the config's secret, clock and ttl policy).
        started_at: Unix seconds when the state was created (the caller IDs' ``created_at``).
        base_url: ``http://host:port`` once the server listens (``None`` before, and under test servers
            that do not report it); handlers fall back to the request's local socket address.
        extras: free slots for plugins (e.g. ``extras["sip_server"]``); keys are plugin names.
    """

    config: SandboxConfig
    users: UserDirectory
    events: EventLog
    tokens: TokenIssuer
    started_at: float = 0.0
    base_url: str | None = None
    extras: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def create(cls, config: SandboxConfig, users: Iterable[UserAccount] | None = None) -> SandboxState:
        """Build the state for ``config`` with the default users unless ``users`` given: their passwords are
        ``config.user_passwords`` in order, else fresh ones."""
        if users is None:
            saved = iter(config.user_passwords)
            users = default_users(
                (lambda: next(saved, None) or secrets.token_urlsafe(18)) if config.user_passwords else None
            )
        return cls(
            config=config,
            users=UserDirectory(users),
            events=EventLog(max_events=config.event_log_size, clock=config.clock),
            tokens=TokenIssuer(
                config.jwt_secret,
                clock=config.clock,
                min_ttl=config.min_ttl,
                max_ttl=config.max_ttl,
                default_ttl=config.default_ttl,
            ),
            started_at=config.clock(),
        )

    @property
    def sip_domain(self) -> str:
        """The SIP domain / digest realm."""
        return self.config.sip_domain

    def ws_url_for(self, http_base: str) -> str:
        """The SIP WebSocket URL matching an ``http(s)://host:port`` base URL."""
        scheme, sep, rest = http_base.partition("://")
        ws_scheme = "wss" if scheme == "https" else "ws"
        return f"{ws_scheme}://{rest if sep else http_base}{self.config.rest_paths.sip_ws}"


STATE_KEY: web.AppKey[SandboxState] = web.AppKey("twochat_sandbox_state", SandboxState)
"""Where the :class:`SandboxState` lives in the application: ``app[STATE_KEY]``."""
