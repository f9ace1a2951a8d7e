"""The browser's unverified JWT decode (token.unverified_claims) agrees with pyjwt, the reference.

The browser does not import pyjwt (it would pull urllib.request, http and email into the page and cost
0.2-1.4 s at start-up); it reads the claims with base64url + JSON. pyjwt stays the oracle: for every token
below, both accept it with the same claims, or both refuse it.
"""

from __future__ import annotations

import base64
import json
from typing import Any

import jwt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from twochat_voice_web.token import unverified_claims


def _pyjwt(token: str) -> dict[str, Any] | None:
    try:
        claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False, "verify_exp": False})
    except jwt.PyJWTError:
        return None
    return claims


def _ours(token: str) -> dict[str, Any] | None:
    try:
        return unverified_claims(token)
    except ValueError:
        return None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


claims_strategy = st.dictionaries(
    st.text(min_size=1, max_size=8),
    st.one_of(
        st.integers(),
        st.floats(allow_nan=False, allow_infinity=False),
        st.text(max_size=12),
        st.none(),
        st.booleans(),
    ),
    max_size=5,
)


@settings(max_examples=300, deadline=None)
@given(claims_strategy, st.sampled_from(["HS256", "HS384", "HS512"]))
def test_well_formed_tokens_decode_the_same(claims: dict[str, Any], algorithm: str) -> None:
    token = jwt.encode(claims, "k" * 64, algorithm=algorithm)
    assert _ours(token) == _pyjwt(token) == claims


@settings(max_examples=1500, deadline=None)
@given(claims_strategy, st.data())
def test_mutated_tokens_are_judged_the_same(claims: dict[str, Any], data: st.DataObject) -> None:
    token = jwt.encode(claims, "k" * 32, algorithm="HS256")
    position = data.draw(st.integers(0, len(token)))
    kind = data.draw(st.sampled_from(["flip", "cut", "insert", "drop"]))
    char = data.draw(st.sampled_from(list('A_-=.+/~{}"0 ')))
    if kind == "flip" and position < len(token):
        mutated = token[:position] + char + token[position + 1 :]
    elif kind == "cut":
        mutated = token[:position]
    elif kind == "drop" and position < len(token):
        mutated = token[:position] + token[position + 1 :]
    else:
        mutated = token[:position] + char + token[position:]
    assert _ours(mutated) == _pyjwt(mutated), mutated


@pytest.mark.parametrize(
    "token",
    [
        "a.b",
        "a.b.c.d",
        "..",
        _b64(b'{"alg":"HS256"}') + "." + _b64(b"[1,2]") + ".c2ln",
        _b64(b"not json") + "." + _b64(b'{"a":1}') + ".c2ln",
        _b64(b'{"alg":"HS256"}') + "." + _b64(b'{"a":1}') + ".***",
        _b64(b'{"alg":"none"}') + "." + _b64(json.dumps({"exp": 1}).encode()) + ".",
        _b64(b'{"alg":"HS256","b64":false}') + ".." + _b64(b"sig"),
    ],
)
def test_odd_tokens_are_judged_the_same(token: str) -> None:
    assert _ours(token) == _pyjwt(token)
