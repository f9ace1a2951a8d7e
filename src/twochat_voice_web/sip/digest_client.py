"""The client side of SIP digest authentication (RFC 3261 §22.2/22.3, RFC 7616), sans-I/O.

:class:`DigestClient` answers the challenges of a 401/407 for one user and keeps the nonce counts (and the
``-sess`` cnonce) per (realm, nonce); randomness comes from an injectable ``random_bytes(n) -> bytes``
(default :func:`secrets.token_bytes`).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from twochat_voice_web.sip.auth_params import check_quotable, require_token
from twochat_voice_web.sip.digest_hash import Ha1, compute_response, hash_parts, require_algorithm
from twochat_voice_web.sip.digest_headers import DigestChallenge, DigestCredentials, select_challenge
from twochat_voice_web.sip.errors import LocalProtocolError

__all__ = ["DigestClient", "RandomBytes"]

RandomBytes = Callable[[int], bytes]
"""A source of random bytes: called with a length, returns that many bytes."""

# --------------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _NonceUse:
    nc: int
    cnonce: str  # the session cnonce, reused for every request with this nonce under a -sess algorithm


_MAX_REMEMBERED_NONCES = 32


class DigestClient:
    """Answers Digest challenges for one user (the UAC side of RFC 3261 §22.2/22.3).

    Keeps one nonce count per (realm, nonce): answering a second request with the same challenge sends
    nc=00000002 and so on. Safe to share between concurrent requests of one user agent.
    """

    def __init__(
        self,
        username: str,
        password: str | None = None,
        *,
        ha1: str | Ha1 | None = None,
        random_bytes: RandomBytes = secrets.token_bytes,
        max_attempts: int = 2,
    ) -> None:
        """Create a client.

        Args:
            username: the authentication user name.
            password: the password; give this or ``ha1``, not both.
            ha1: a precomputed H(username:realm:password) instead of the password (as JsSIP's ``ha1``);
                a plain string is an MD5 HA1, an :class:`Ha1` names its algorithm. Only challenges of that
                hash (and its ``-sess`` variant) can then be answered.
            random_bytes: source of randomness for cnonces.
            max_attempts: how many authenticated retries one request may make (see :meth:`should_retry`).

        Raises:
            LocalProtocolError: on a user name that cannot be sent, a missing or double secret, a malformed
                HA1, or ``max_attempts < 1``.
        """
        if not isinstance(username, str) or not username:
            raise LocalProtocolError("digest username must be a non-empty string")
        check_quotable(username, "username")
        if (password is None) == (ha1 is None):
            raise LocalProtocolError("give exactly one of password and ha1")
        if max_attempts < 1:
            raise LocalProtocolError(f"max_attempts must be at least 1, got {max_attempts}")
        self._username = username
        self._password = password
        self._ha1: Ha1 | None = Ha1(ha1) if isinstance(ha1, str) else ha1
        self._random_bytes = random_bytes
        self._max_attempts = max_attempts
        self._nonces: dict[tuple[str, str], _NonceUse] = {}

    @property
    def username(self) -> str:
        """The authentication user name."""
        return self._username

    @property
    def max_attempts(self) -> int:
        """How many authenticated retries one request may make."""
        return self._max_attempts

    def supports(self, challenge: DigestChallenge) -> bool:
        """Whether this client can answer ``challenge`` (algorithm, qop, and the HA1 hash if one is used)."""
        if not challenge.supported:
            return False
        return self._ha1 is None or self._ha1.usable_for(challenge.algorithm)

    def select_challenge(self, header_values: Iterable[str | DigestChallenge]) -> DigestChallenge | None:
        """The strongest challenge this client can answer among header lines (:func:`select_challenge`)."""
        return select_challenge(header_values, accept=self.supports)

    def should_retry(
        self, challenge: DigestChallenge, previous_credentials_sent: bool, *, attempts: int
    ) -> bool:
        """Whether to resend the request with credentials after it drew ``challenge``.

        Args:
            challenge: the (selected) challenge of the 401/407.
            previous_credentials_sent: the request that drew it carried our credentials for this realm.
            attempts: how many authenticated retries this request has already made (0 on the first
                challenge). The caller counts per request, so concurrent requests do not interfere.

        Returns:
            True after a first challenge, and after ``stale=true`` (only the nonce expired); False when
            the server challenges our credentials again without ``stale`` (wrong password), when
            ``attempts`` reached :attr:`max_attempts`, or when the challenge cannot be answered.
        """
        if not self.supports(challenge) or attempts >= self._max_attempts:
            return False
        return not previous_credentials_sent or challenge.stale

    def authorize(
        self, method: str, uri: str, challenge: DigestChallenge, body: bytes = b""
    ) -> DigestCredentials:
        """Compute the credentials that answer ``challenge`` for a request.

        qop ``auth`` is used when offered, ``auth-int`` (covering ``body``) when it is the only one, and
        the RFC 2069 form when the challenge has no qop. The nonce count for this nonce is incremented.

        Args:
            method: the request method (``REGISTER``, ``INVITE``...). A CANCEL, and the ACK of a non-2xx
                final response, carry the INVITE's credentials unchanged (RFC 3261 §22.1): copy the header
                value instead of calling this.
            uri: the Request-URI as sent.
            challenge: the challenge to answer.
            body: the request body (only ``auth-int`` uses it).

        Raises:
            LocalProtocolError: the challenge cannot be answered (check :meth:`supports` first), or the
                method is not a token.
        """
        if not self.supports(challenge):
            raise LocalProtocolError(
                f"cannot answer Digest challenge with algorithm={challenge.effective_algorithm} "
                f"qop={','.join(challenge.qop) or 'none'}"
                + ("" if self._ha1 is None else f" using an {self._ha1.algorithm} HA1")
            )
        require_token(method, "method")
        check_quotable(uri, "uri")
        algo = require_algorithm(challenge.algorithm)
        if "auth" in challenge.qop:
            qop: str | None = "auth"
        elif "auth-int" in challenge.qop:
            qop = "auth-int"
        else:
            qop = None
        use = self._next_use(challenge.realm, challenge.nonce)
        cnonce: str | None = None
        if qop is not None:
            cnonce = use.cnonce if algo.sess else self._new_cnonce()
        if self._ha1 is not None:
            ha1 = self._ha1.value
        else:
            ha1 = hash_parts(algo, self._username, challenge.realm, self._password or "")
        response = compute_response(
            algo.name,
            ha1,
            nonce=challenge.nonce,
            method=method,
            uri=uri,
            qop=qop,
            nc=use.nc,
            cnonce=cnonce,
            body=body,
        )
        username = hash_parts(algo, self._username, challenge.realm) if challenge.userhash else self._username
        return DigestCredentials(
            username=username,
            realm=challenge.realm,
            nonce=challenge.nonce,
            uri=uri,
            response=response,
            algorithm=challenge.algorithm,
            cnonce=cnonce,
            opaque=challenge.opaque,
            qop=qop,
            nc=use.nc if qop is not None else None,
            userhash=challenge.userhash,
        )

    def _new_cnonce(self) -> str:
        return self._random_bytes(16).hex()

    def _next_use(self, realm: str, nonce: str) -> _NonceUse:
        key = (realm, nonce)
        use = self._nonces.pop(key, None)
        if use is None or use.nc >= 0xFFFFFFFF:
            use = _NonceUse(nc=0, cnonce=self._new_cnonce())
        use.nc += 1
        self._nonces[key] = use  # most recently used last
        while len(self._nonces) > _MAX_REMEMBERED_NONCES:
            del self._nonces[next(iter(self._nonces))]
        return use
