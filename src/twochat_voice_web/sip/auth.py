"""SIP digest authentication (RFC 2617, RFC 7616, RFC 8760), sans-I/O: the names callers import.

Client side (the browser answering a 401/407)::

    client = DigestClient("alice", "secret")
    challenge = select_challenge(response.headers.get_all("WWW-Authenticate"))
    if challenge is not None and client.should_retry(challenge, sent_credentials, attempts=retries):
        credentials = client.authorize("REGISTER", str(request.uri), challenge)
        request.headers.set("Authorization", str(credentials))

The server side (issuing nonces, verifying credentials: :class:`DigestServer`) is server-only code and
ships in the twochat-voice-web-sandbox distribution: :mod:`twochat_voice_web.server.digest`, built on the
public helpers here (:func:`require_algorithm`, :func:`hash_parts`, :func:`check_quotable` ...).

Notes for callers:

* ``WWW-Authenticate``, ``Authorization``, ``Proxy-Authenticate`` and ``Proxy-Authorization`` are never
  comma-combined (RFC 3261 §7.3.1): read them with ``Headers.get_all`` (one value per header line), not
  ``get_list``. :func:`parse_challenges` still accepts the HTTP form with several challenges in one value.
* Hashes are always taken over the UTF-8 encoding of the (unquoted, unescaped) values.
* ``SHA-512-256`` is recognised and used only when the runtime's :mod:`hashlib` provides ``sha512_256``
  (CPython with OpenSSL does; Pyodide without its OpenSSL package may not): see :data:`SUPPORTED_ALGORITHMS`.
* Nothing here reads a clock: ``now`` (seconds, the same origin for every call on one server) is passed in,
  and randomness comes from an injectable ``random_bytes(n) -> bytes`` (default :func:`secrets.token_bytes`).

One concept a module, all re-exported here: :mod:`.digest_hash` (algorithms, HA1, the request-digest),
:mod:`.auth_params` (the auth-param grammar: parsing and safe quoting), :mod:`.digest_headers`
(:class:`DigestChallenge`, :class:`DigestCredentials`, challenge selection) and :mod:`.digest_client`
(:class:`DigestClient`, the nonce counts).
"""

from __future__ import annotations

from twochat_voice_web.sip.auth_params import check_quotable
from twochat_voice_web.sip.digest_client import DigestClient, RandomBytes
from twochat_voice_web.sip.digest_hash import (
    SUPPORTED_ALGORITHMS,
    DigestAlgorithm,
    Ha1,
    algorithm_named,
    compute_ha1,
    compute_response,
    compute_userhash,
    hash_hex,
    hash_parts,
    require_algorithm,
)
from twochat_voice_web.sip.digest_headers import (
    DigestChallenge,
    DigestCredentials,
    parse_challenges,
    select_challenge,
    select_challenges,
)

__all__ = [
    "SUPPORTED_ALGORITHMS",
    "DigestAlgorithm",
    "DigestChallenge",
    "DigestClient",
    "DigestCredentials",
    "Ha1",
    "RandomBytes",
    "algorithm_named",
    "check_quotable",
    "compute_ha1",
    "compute_response",
    "compute_userhash",
    "hash_hex",
    "hash_parts",
    "parse_challenges",
    "require_algorithm",
    "select_challenge",
    "select_challenges",
]
