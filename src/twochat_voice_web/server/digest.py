"""SIP digest authentication, the server side (the sandbox registrar): nonces and verification, sans-I/O.

Server-only: it ships in twochat-voice-web-sandbox, not in the SDK wheel that browsers unpack. The client
side and the grammar are :mod:`twochat_voice_web.sip.auth`, whose public helpers this module builds on::

    server = DigestServer("sandbox.local", secret)
    for challenge in server.challenge(now):            # strongest algorithm first
        response.headers.add("WWW-Authenticate", str(challenge))
    result = server.verify("REGISTER", DigestCredentials.parse(value), passwords.get, now)

Nothing here reads a clock: ``now`` (seconds, the same origin for every call on one server) is passed in,
and randomness comes from an injectable ``random_bytes(n) -> bytes`` (default :func:`secrets.token_bytes`).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import math
import re
import secrets
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import Enum

from twochat_voice_web.sip.auth import (
    DigestAlgorithm,
    DigestChallenge,
    DigestCredentials,
    Ha1,
    RandomBytes,
    algorithm_named,
    check_quotable,
    compute_response,
    hash_hex,
    hash_parts,
    require_algorithm,
)
from twochat_voice_web.sip.errors import LocalProtocolError, ParseError

__all__ = ["DigestServer", "PasswordLookup", "VerifyResult"]


class VerifyResult(Enum):
    """Outcome of :meth:`DigestServer.verify`, with the answer a UAS should give.

    * ``OK``: authenticated.
    * ``STALE``: right credentials, expired nonce: challenge again with ``stale=true``.
    * ``REPLAY``: right credentials, but this nonce count was already used (or did not increase): challenge
      again with ``stale=true`` (a genuine client then retries with a fresh nonce; a replayer cannot).
    * ``INVALID_NONCE``: a nonce we did not issue (forged, truncated, other server): challenge again.
    * ``BAD_CREDENTIALS``: wrong response, unknown user, or digest-uri mismatch: 403, or a new challenge.
    * ``REALM_MISMATCH``: credentials for another realm: ignore them and challenge.
    * ``UNSUPPORTED``: an algorithm or qop this server did not offer: challenge again.
    """

    OK = "ok"
    STALE = "stale"
    INVALID_NONCE = "invalid-nonce"
    BAD_CREDENTIALS = "bad-credentials"
    REPLAY = "replay"
    REALM_MISMATCH = "realm-mismatch"
    UNSUPPORTED = "unsupported"

    @property
    def rechallenge_stale(self) -> bool:
        """Whether the fresh challenge should carry ``stale=true`` (STALE and REPLAY)."""
        return self in (VerifyResult.STALE, VerifyResult.REPLAY)


PasswordLookup = Callable[[str], str | Ha1 | None]
"""Maps a user name to its password (str), its precomputed :class:`Ha1`, or None for an unknown user."""

_NONCE_SALT_BYTES = 12
_NONCE_MAC_BYTES = 16
_NONCE_BYTES = 8 + _NONCE_SALT_BYTES + _NONCE_MAC_BYTES
_NONCE_CHARS = (_NONCE_BYTES * 4 + 2) // 3
_NONCE_RE = re.compile(r"[A-Za-z0-9_-]+")
_NONCE_CONTEXT = b"twochat-voice-web digest nonce v1\x00"


@dataclass(slots=True)
class _SeenNonce:
    issued_ms: int
    nc: int


class DigestServer:
    """Issues and verifies Digest challenges for one realm (the UAS/registrar side).

    Nonces are stateless: ``base64url(issued_ms (8 bytes) || salt (12) || HMAC-SHA256(secret, issued_ms ||
    salt || realm)[:16])``, so a nonce's origin and age are checked without remembering it. Replays are
    caught by a bounded memory of the highest nc seen per nonce that authenticated successfully; entries go
    away when their nonce expires. If the memory fills up with live nonces, the oldest are evicted and every
    nonce issued up to the newest evicted one is treated as stale from then on, so nothing can be replayed.
    """

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        nonce_ttl: float = 300.0,
        algorithms: Sequence[str] = ("SHA-256", "MD5"),
        qop: str | Sequence[str] | None = "auth",
        userhash: bool = False,
        random_bytes: RandomBytes = secrets.token_bytes,
        max_tracked_nonces: int = 4096,
        strongest_first: bool = True,
    ) -> None:
        """Create a server.

        Args:
            realm: the realm announced and required.
            secret: the HMAC key for nonces (at least 16 bytes; keep it across restarts to honour nonces).
            nonce_ttl: nonce lifetime in seconds.
            algorithms: the algorithms offered, one challenge each, sent strongest first (see
                ``strongest_first``).
            qop: ``"auth"``, ``"auth-int"``, both (``"auth,auth-int"`` or a sequence), or None/"" for
                RFC 2069 challenges without qop (then each nonce is accepted once).
            userhash: announce ``userhash=true`` (verify then needs ``resolve_userhash``).
            random_bytes: source of nonce salts.
            max_tracked_nonces: bound of the replay memory.
            strongest_first: sort the challenges by strength (RFC 8760: most preferred on top). False
                keeps the given order. JsSIP 3.13 keeps only the *last* WWW-Authenticate line and knows
                only MD5, so a server that must also serve it puts MD5 last — which the default
                strongest-first order does (a :class:`DigestClient` picks SHA-256 whatever the order).

        Raises:
            LocalProtocolError: on an unusable realm, short secret, bad lifetime, unknown or unavailable
                algorithm, unknown qop, or a ``-sess`` algorithm without qop.
        """
        if not isinstance(realm, str):
            raise LocalProtocolError("realm must be a string")
        check_quotable(realm, "realm")
        if not isinstance(secret, bytes | bytearray) or len(secret) < 16:
            raise LocalProtocolError("the nonce secret must be at least 16 bytes")
        if not (isinstance(nonce_ttl, int | float) and math.isfinite(nonce_ttl) and nonce_ttl > 0):
            raise LocalProtocolError(f"nonce_ttl must be a positive number of seconds, got {nonce_ttl!r}")
        if max_tracked_nonces < 1:
            raise LocalProtocolError("max_tracked_nonces must be at least 1")
        if isinstance(qop, str):
            qops = tuple(q.strip().lower() for q in qop.split(",") if q.strip())
        elif qop is None:
            qops = ()
        else:
            qops = tuple(q.strip().lower() for q in qop)
        for value in qops:
            if value not in ("auth", "auth-int"):
                raise LocalProtocolError(f"qop {value!r} is not supported (auth, auth-int)")
        if not algorithms:
            raise LocalProtocolError("offer at least one algorithm")
        algos: list[DigestAlgorithm] = []
        for name in algorithms:
            algo = require_algorithm(name)
            if algo in algos:
                raise LocalProtocolError(f"algorithm {algo.name} is listed twice")
            if algo.sess and not qops:
                raise LocalProtocolError(f"{algo.name} needs a qop (it uses the cnonce)")
            algos.append(algo)
        if strongest_first:
            algos.sort(key=lambda a: -a.strength)  # stable: the caller's order among equals
        self._realm = realm
        self._secret = bytes(secret)
        self._ttl_ms = max(1, round(nonce_ttl * 1000))
        self._algorithms = tuple(algos)
        self._qop = tuple(dict.fromkeys(qops))
        self._userhash = userhash
        self._random_bytes = random_bytes
        self._max_tracked = max_tracked_nonces
        self._seen: dict[str, _SeenNonce] = {}
        self._stale_floor_ms: int | None = None  # nonces issued at or before this are stale (evictions)
        self._next_prune_ms: int | None = None
        self._decoy_ha1 = {a.base: hash_hex(a, random_bytes(32)) for a in algos}

    @property
    def realm(self) -> str:
        """The realm of this server."""
        return self._realm

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The offered algorithms, in the order of the challenges."""
        return tuple(a.name for a in self._algorithms)

    @property
    def qop(self) -> tuple[str, ...]:
        """The offered qop values (empty: RFC 2069 challenges)."""
        return self._qop

    def challenge(self, now: float, *, stale: bool = False) -> list[DigestChallenge]:
        """Fresh challenges, one per algorithm (strongest first by default); each has its own nonce.

        Add each to the 401 (WWW-Authenticate) or 407 (Proxy-Authenticate) as its own header line.
        """
        issued_ms = self._now_ms(now)
        return [
            DigestChallenge(
                realm=self._realm,
                nonce=self._make_nonce(issued_ms),
                algorithm=algo.name,
                qop=self._qop,
                stale=stale,
                userhash=self._userhash,
            )
            for algo in self._algorithms
        ]

    def credentials_for_realm(self, header_values: Iterable[str]) -> DigestCredentials | None:
        """The first parsable credentials for this realm among Authorization header lines, or None.

        Lines for other realms and unparsable lines are skipped (RFC 3261 §22.3: a proxy walks through the
        credentials until it finds its own).
        """
        for value in header_values:
            try:
                credentials = DigestCredentials.parse(value)
            except ParseError:
                continue
            if credentials.realm == self._realm:
                return credentials
        return None

    def verify(
        self,
        method: str,
        credentials: DigestCredentials,
        password_or_ha1_lookup: PasswordLookup,
        now: float,
        body: bytes = b"",
        *,
        request_uri: str | None = None,
        resolve_userhash: Callable[[str], str | None] | None = None,
    ) -> VerifyResult:
        """Check credentials received with a request.

        Args:
            method: the request method (CANCEL and ACK cannot be challenged, RFC 3261 §22.1; if checked,
                pass ``INVITE``, the method their copied credentials were computed with).
            credentials: the parsed Authorization/Proxy-Authorization value.
            password_or_ha1_lookup: user name → password, :class:`Ha1`, or None for an unknown user (which
                takes the same computation path as a wrong password).
            now: the current time, same origin as for :meth:`challenge`.
            body: the request body (``auth-int``).
            request_uri: when given, the digest-uri must equal it (string comparison).
            resolve_userhash: hashed user name → real user name, needed for ``userhash=true`` credentials.

        Returns:
            a :class:`VerifyResult`; only ``OK`` authenticates. STALE is reported only when the response
            is otherwise right, as RFC 7616 §3.3 asks.
        """
        now_ms = self._now_ms(now)
        if credentials.realm != self._realm:
            return VerifyResult.REALM_MISMATCH
        algo = algorithm_named(credentials.algorithm)
        if algo is None or algo not in self._algorithms:
            return VerifyResult.UNSUPPORTED
        if self._qop:
            if credentials.qop not in self._qop or credentials.nc is None or credentials.cnonce is None:
                return VerifyResult.UNSUPPORTED
        elif credentials.qop is not None:
            return VerifyResult.UNSUPPORTED
        issued_ms = self._check_nonce(credentials.nonce)
        if issued_ms is None:
            return VerifyResult.INVALID_NONCE

        username: str | None = credentials.username
        if credentials.userhash:
            if resolve_userhash is None:
                return VerifyResult.UNSUPPORTED
            username = resolve_userhash(credentials.username)
        secret = password_or_ha1_lookup(username) if username is not None else None
        ha1: str | None
        if isinstance(secret, Ha1):
            ha1 = secret.value if secret.usable_for(algo.name) else None
        elif isinstance(secret, str) and username is not None:
            ha1 = hash_parts(algo, username, self._realm, secret)
        else:
            ha1 = None
        authentic = ha1 is not None
        try:
            expected = compute_response(
                algo.name,
                self._decoy_ha1[algo.base] if ha1 is None else ha1,
                nonce=credentials.nonce,
                method=method,
                uri=credentials.uri,
                qop=credentials.qop,
                nc=credentials.nc,
                cnonce=credentials.cnonce,
                body=body,
            )
        except LocalProtocolError:
            return VerifyResult.UNSUPPORTED
        received = credentials.response.lower().encode("utf-8", "replace")
        matches = hmac.compare_digest(expected.encode("ascii"), received)
        if not (matches and authentic):
            return VerifyResult.BAD_CREDENTIALS
        if request_uri is not None and credentials.uri != request_uri:
            return VerifyResult.BAD_CREDENTIALS

        if now_ms > issued_ms + self._ttl_ms or (
            self._stale_floor_ms is not None and issued_ms <= self._stale_floor_ms
        ):
            return VerifyResult.STALE
        return self._record_use(credentials.nonce, issued_ms, credentials.nc or 0, now_ms)

    # -- nonces ------------------------------------------------------------------------------------------

    @staticmethod
    def _now_ms(now: float) -> int:
        if not isinstance(now, int | float) or not math.isfinite(now):
            raise LocalProtocolError(f"now must be a finite number of seconds, got {now!r}")
        now_ms = math.floor(now * 1000)
        if not -(2**63) <= now_ms < 2**63:
            raise LocalProtocolError(f"now is out of range: {now!r}")
        return now_ms

    def _mac(self, stamp: bytes, salt: bytes) -> bytes:
        message = _NONCE_CONTEXT + stamp + salt + self._realm.encode("utf-8")
        return hmac.new(self._secret, message, hashlib.sha256).digest()[:_NONCE_MAC_BYTES]

    def _make_nonce(self, issued_ms: int) -> str:
        stamp = issued_ms.to_bytes(8, "big", signed=True)
        salt = self._random_bytes(_NONCE_SALT_BYTES)
        if len(salt) != _NONCE_SALT_BYTES:
            raise LocalProtocolError(f"random_bytes({_NONCE_SALT_BYTES}) returned {len(salt)} bytes")
        raw = stamp + salt + self._mac(stamp, salt)
        return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")

    def _check_nonce(self, nonce: str) -> int | None:
        """The issue time of a nonce we issued, or None for anything else."""
        if len(nonce) != _NONCE_CHARS or _NONCE_RE.fullmatch(nonce) is None:
            return None
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (binascii.Error, ValueError):
            return None
        if len(raw) != _NONCE_BYTES:
            return None
        stamp, salt, mac = raw[:8], raw[8 : 8 + _NONCE_SALT_BYTES], raw[8 + _NONCE_SALT_BYTES :]
        if not hmac.compare_digest(mac, self._mac(stamp, salt)):
            return None
        return int.from_bytes(stamp, "big", signed=True)

    def _record_use(self, nonce: str, issued_ms: int, nc: int, now_ms: int) -> VerifyResult:
        self._prune(now_ms)
        seen = self._seen.get(nonce)
        if seen is not None:
            if not self._qop or nc <= seen.nc:
                return VerifyResult.REPLAY
            seen.nc = nc
            return VerifyResult.OK
        if self._qop and nc < 1:
            return VerifyResult.REPLAY
        if len(self._seen) >= self._max_tracked:
            self._evict(now_ms)
            if self._stale_floor_ms is not None and issued_ms <= self._stale_floor_ms:
                return VerifyResult.STALE
        self._seen[nonce] = _SeenNonce(issued_ms=issued_ms, nc=nc)
        return VerifyResult.OK

    def _prune(self, now_ms: int) -> None:
        """Forget expired nonces, at most once per nonce lifetime (they can only be STALE now)."""
        if self._next_prune_ms is not None and now_ms < self._next_prune_ms:
            return
        self._next_prune_ms = now_ms + self._ttl_ms
        self._drop_expired(now_ms)

    def _drop_expired(self, now_ms: int) -> None:
        expired = [nonce for nonce, seen in self._seen.items() if now_ms > seen.issued_ms + self._ttl_ms]
        for nonce in expired:
            del self._seen[nonce]

    def _evict(self, now_ms: int) -> None:
        """Make room: drop expired entries, then the older half of the live ones (raising the stale floor)."""
        self._drop_expired(now_ms)
        if len(self._seen) < self._max_tracked:
            return
        by_age = sorted(self._seen.items(), key=lambda item: item[1].issued_ms)
        victims = by_age[: max(1, len(by_age) // 2)]
        floor = victims[-1][1].issued_ms
        for nonce, seen in by_age:
            if seen.issued_ms <= floor:
                del self._seen[nonce]
        self._stale_floor_ms = floor if self._stale_floor_ms is None else max(self._stale_floor_ms, floor)
