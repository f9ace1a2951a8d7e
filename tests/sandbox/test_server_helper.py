"""``twochat_voice_web.server``: the backend mint helper, against a live sandbox and scripted servers."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from twochat_voice_web.server import (
    ALTERNATE_MINT_PATH,
    AccessToken,
    InvalidApiKey,
    InvalidArgument,
    InvalidResponse,
    MintError,
    RateLimited,
    ServerError,
    TransportError,
    UnknownUser,
    async_mint_access_token,
    mint_access_token,
)

ALICE = "USR5a1d0c3e9b7f4a2e8c6d1f0a"
SECRET_KEY = "sbx_test_key_0123456789"  # conftest's API key
GOOD_BODY = {"success": True, "token": "a.b.c", "user_uuid": ALICE, "label": "l",
             "expires_at": "2030-01-01T00:00:00+00:00"}


def mint_sync(**kwargs: Any) -> AccessToken:
    return mint_access_token(**kwargs)


def mint_async(**kwargs: Any) -> AccessToken:
    return asyncio.run(async_mint_access_token(**kwargs))


BOTH = pytest.mark.parametrize("mint", [mint_sync, mint_async], ids=["sync", "async"])


def secret_free(exc: BaseException, key: str) -> bool:
    """Neither the exception nor anything it chains to mentions the key."""
    seen: BaseException | None = exc
    while seen is not None:
        if key in str(seen) or key in repr(seen) or key in repr(seen.args):
            return False
        seen = seen.__cause__ or seen.__context__
    return True


# ---------------------------------------------------------------- against the sandbox


@BOTH
def test_mint_against_live_sandbox(threaded_sandbox, mint):
    sandbox = threaded_sandbox()
    token = mint(api_key=SECRET_KEY, user_uuid=ALICE, label="agent-ada", ttl=1800, base_url=sandbox.url)
    assert isinstance(token, AccessToken)
    assert token.user_uuid == ALICE
    assert token.label == "agent-ada"
    assert token.expires_at.tzinfo is not None
    claims = sandbox.state.tokens.verify(token.token)
    assert claims.sub == ALICE
    assert token.expires_at == datetime.fromtimestamp(claims.exp, tz=UTC)
    assert claims.exp - claims.iat == 1800
    assert token.token not in repr(token)
    other = mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=sandbox.url + "/", path=ALTERNATE_MINT_PATH)
    assert other.label is None
    assert sandbox.state.events.query(kind="token_minted")[-1].fields["path"] == ALTERNATE_MINT_PATH


@BOTH
def test_bad_key_is_invalid_api_key_without_the_key(threaded_sandbox, mint):
    sandbox = threaded_sandbox()
    wrong = "sbx_wrong_key_ZZZZ"
    with pytest.raises(InvalidApiKey) as info:
        mint(api_key=wrong, user_uuid=ALICE, base_url=sandbox.url, retries=3, backoff=0.01)
    assert info.value.status == 401
    assert info.value.error_message == "Invalid API key"
    assert secret_free(info.value, wrong)
    assert secret_free(info.value, SECRET_KEY)


@BOTH
def test_unknown_user(threaded_sandbox, mint):
    sandbox = threaded_sandbox()
    with pytest.raises(UnknownUser) as info:
        mint(api_key=SECRET_KEY, user_uuid="USRnobody", base_url=sandbox.url)
    assert info.value.status == 404
    assert "not found" in info.value.error_message


def test_async_reuses_a_session(threaded_sandbox):
    import aiohttp

    sandbox = threaded_sandbox()

    async def main() -> list[AccessToken]:
        async with aiohttp.ClientSession() as session:
            tokens = [await async_mint_access_token(SECRET_KEY, ALICE, base_url=sandbox.url, session=session)
                      for _ in range(2)]
            assert not session.closed
            return tokens

    first, second = asyncio.run(main())
    assert first.token != second.token


# ---------------------------------------------------------------- scripted servers


@dataclass
class Script:
    """Answers given in order (the last one repeats); counts hits per path."""

    answers: list[Callable[[web.Request], Any]]
    hits: dict[str, int] = field(default_factory=dict)
    seen_keys: list[str | None] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.hits[request.path] = self.hits.get(request.path, 0) + 1
        self.seen_keys.append(request.headers.get("X-User-API-Key"))
        index = min(sum(self.hits.values()) - 1, len(self.answers) - 1)
        answer = self.answers[index](request)
        if asyncio.iscoroutine(answer):
            answer = await answer
        return answer  # type: ignore[no-any-return]

    def count(self, path: str = "/sdk/voip/access-token") -> int:
        return self.hits.get(path, 0)


def error(status: int, message: str = "boom", **headers: str) -> Callable[[web.Request], web.Response]:
    return lambda _r: web.json_response({"success": False, "error": True, "error_message": message},
                                        status=status, headers=headers)


def ok(body: Any = None) -> Callable[[web.Request], web.Response]:
    return lambda _r: web.json_response(GOOD_BODY if body is None else body)


@pytest.fixture
def scripted(threaded_app) -> Callable[..., tuple[str, Script]]:
    def start(*answers: Callable[[web.Request], Any]) -> tuple[str, Script]:
        script = Script(list(answers))
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", script.handle)
        return threaded_app(app), script

    return start


@BOTH
def test_retries_5xx_then_succeeds(scripted, mint):
    url, script = scripted(error(503), error(500), ok())
    token = mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=2, backoff=0.01)
    assert token.token == "a.b.c"
    assert token.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert script.count() == 3
    assert script.seen_keys == [SECRET_KEY] * 3


@BOTH
def test_gives_up_after_retries(scripted, mint):
    url, script = scripted(error(503, "maintenance"))
    with pytest.raises(ServerError) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=1, backoff=0.01)
    assert info.value.status == 503
    assert info.value.error_message == "maintenance"
    assert script.count() == 2


@BOTH
@pytest.mark.parametrize(("answer", "kind", "status"), [
    (error(401, "Invalid API key"), InvalidApiKey, 401),
    (error(403, "Forbidden"), InvalidApiKey, 403),
    (error(400, "user_uuid is required"), UnknownUser, 400),
    (error(404, "User not found"), UnknownUser, 404),
    (error(429, "Too many", **{"Retry-After": "7"}), RateLimited, 429),
    (error(418, "teapot"), InvalidResponse, 418),
])
def test_client_errors_are_typed_and_not_retried(scripted, mint, answer, kind, status):
    url, script = scripted(answer, ok())
    with pytest.raises(kind) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=3, backoff=0.01)
    assert info.value.status == status
    assert isinstance(info.value, MintError)
    assert script.count() == 1
    if isinstance(info.value, RateLimited):
        assert info.value.retry_after == 7.0
    assert secret_free(info.value, SECRET_KEY)


@BOTH
def test_server_echoing_the_key_is_redacted(scripted, mint):
    url, _script = scripted(error(401, f"bad key {SECRET_KEY}!"))
    with pytest.raises(InvalidApiKey) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert secret_free(info.value, SECRET_KEY)
    assert "[redacted]" in info.value.error_message


@BOTH
def test_non_json_error_body(scripted, mint):
    url, _script = scripted(lambda _r: web.Response(status=502, text="<html>Bad gateway</html>"))
    with pytest.raises(ServerError) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=0)
    assert info.value.status == 502
    assert info.value.error_message == "Bad Gateway"


@BOTH
@pytest.mark.parametrize("answer", [
    lambda _r: web.Response(text="not json"),
    ok([1, 2]),
    ok({"success": True, "expires_at": "2030-01-01T00:00:00+00:00"}),
    ok({"success": True, "token": "t"}),
    ok({"success": True, "token": "t", "expires_at": "tomorrow"}),
    ok({"success": False, "error": True, "error_message": "nope"}),
])
def test_unusable_success_answers(scripted, mint, answer):
    url, _script = scripted(answer)
    with pytest.raises(InvalidResponse):
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)


@BOTH
def test_naive_expiry_is_taken_as_utc(scripted, mint):
    url, _script = scripted(ok({**GOOD_BODY, "expires_at": "2030-01-01T00:00:00", "label": None}))
    token = mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert token.expires_at == datetime(2030, 1, 1, tzinfo=UTC)
    assert token.label is None


@BOTH
def test_redirects_are_not_followed(scripted, mint):
    url, script = scripted(lambda _r: web.Response(status=307, headers={"Location": "/elsewhere"}))
    with pytest.raises(InvalidResponse) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert info.value.status == 307
    assert script.count("/elsewhere") == 0


@BOTH
def test_timeouts_are_retried_then_transport_error(scripted, mint):
    async def slow(_r: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response(GOOD_BODY)

    url, script = scripted(slow)
    with pytest.raises(TransportError) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, timeout=0.3, retries=1, backoff=0.01)
    assert info.value.status is None
    assert script.count() == 2
    assert secret_free(info.value, SECRET_KEY)


@BOTH
def test_connection_refused_is_transport_error(mint):
    import socket

    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TransportError) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=f"http://127.0.0.1:{port}", retries=1,
             backoff=0.01)
    assert secret_free(info.value, SECRET_KEY)


def test_logs_never_contain_the_key(scripted, caplog):
    url, _script = scripted(error(503), ok())
    with caplog.at_level(logging.DEBUG, logger="twochat_voice_web.server"):
        mint_access_token(SECRET_KEY, ALICE, base_url=url, backoff=0.01)
        asyncio.run(async_mint_access_token(SECRET_KEY, ALICE, base_url=url, backoff=0.01))
    assert caplog.records
    for record in caplog.records:
        assert SECRET_KEY not in record.getMessage()


# ---------------------------------------------------------------- input validation


@BOTH
@pytest.mark.parametrize(("kwargs", "needle"), [
    ({"api_key": ""}, "api_key"),
    ({"api_key": None}, "api_key"),
    ({"api_key": "abc\r\nX-Evil: 1"}, "api_key"),
    ({"api_key": "abc\n"}, "api_key"),
    ({"api_key": "has space"}, "api_key"),
    ({"api_key": "k\0"}, "api_key"),
    ({"user_uuid": ""}, "user_uuid"),
    ({"user_uuid": 5}, "user_uuid"),
    ({"user_uuid": "USR\r\n"}, "user_uuid"),
    ({"label": 5}, "label"),
    ({"ttl": "60"}, "ttl"),
    ({"ttl": True}, "ttl"),
    ({"ttl": 60.5}, "ttl"),
    ({"base_url": "ftp://x"}, "base_url"),
    ({"base_url": "not a url"}, "base_url"),
    ({"base_url": "https://h/?q=1"}, "base_url"),
    ({"path": "sdk/voip"}, "path"),
    ({"path": "/a\r\nb"}, "path"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": True}, "timeout"),
    ({"retries": -1}, "retries"),
    ({"retries": 1.5}, "retries"),
])
def test_bad_arguments_refused_before_sending(scripted, mint, kwargs, needle):
    url, script = scripted(ok())
    args: dict[str, Any] = {"api_key": SECRET_KEY, "user_uuid": ALICE, "base_url": url, **kwargs}
    with pytest.raises(InvalidArgument) as info:
        mint(**args)
    assert isinstance(info.value, ValueError)
    assert needle in str(info.value)
    assert info.value.status is None
    assert script.hits == {}
    key = kwargs.get("api_key")
    if isinstance(key, str) and len(key) > 2:
        assert key.strip() not in str(info.value)


# ---------------------------------------------------------------- the two mint paths

DOCS_PATH = "/sdk/voip/access-token"  # 2Chat's Voice SDK docs
README_PATH = "/open/sdk/access-token"  # 2Chat's npm README


def not_found_page(_r: web.Request) -> web.Response:
    """What a web server says for a path it does not have (aiohttp's own 404 page)."""
    return web.Response(status=404, text="404: Not Found")


@BOTH
@pytest.mark.parametrize("not_found", [
    not_found_page,
    lambda _r: web.json_response({"detail": "Not Found"}, status=404),  # a framework's JSON 404
    lambda _r: web.Response(status=404),
], ids=["html", "json-not-2chat", "empty"])
def test_a_404_that_is_not_2chat_retries_once_on_the_other_documented_path(scripted, mint, not_found):
    url, script = scripted(not_found, ok())
    token = mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert token.token == "a.b.c"
    assert script.count(DOCS_PATH) == 1
    assert script.count(README_PATH) == 1
    assert script.seen_keys == [SECRET_KEY, SECRET_KEY]


@BOTH
def test_the_readme_path_falls_back_to_the_docs_path(scripted, mint):
    url, script = scripted(not_found_page, ok())
    mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, path=README_PATH)
    assert script.hits == {README_PATH: 1, DOCS_PATH: 1}


@BOTH
def test_no_endpoint_at_either_path_is_invalid_response_not_unknown_user(scripted, mint):
    url, script = scripted(not_found_page)
    with pytest.raises(InvalidResponse) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=3, backoff=0.01)
    assert not isinstance(info.value, UnknownUser)
    assert info.value.status == 404
    assert script.hits == {DOCS_PATH: 1, README_PATH: 1}
    assert secret_free(info.value, SECRET_KEY)


@BOTH
@pytest.mark.parametrize("status", [400, 404])
def test_unknown_user_only_for_2chats_own_answer(scripted, mint, status):
    url, script = scripted(error(status, "User 'USRx' not found"), ok())
    with pytest.raises(UnknownUser):
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert script.hits == {DOCS_PATH: 1}  # 2Chat answered: the other path is not tried


@BOTH
def test_a_400_that_is_not_2chats_is_invalid_response(scripted, mint):
    url, script = scripted(lambda _r: web.Response(status=400, text="<html>Bad Request</html>"), ok())
    with pytest.raises(InvalidResponse) as info:
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url)
    assert not isinstance(info.value, UnknownUser)
    assert info.value.status == 400
    assert script.hits == {DOCS_PATH: 1}


@BOTH
def test_a_custom_path_is_never_changed(scripted, mint):
    url, script = scripted(not_found_page, ok())
    with pytest.raises(InvalidResponse):
        mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, path="/my/proxy/mint")
    assert script.hits == {"/my/proxy/mint": 1}


@BOTH
def test_the_fallback_path_gets_the_retries_too(scripted, mint):
    url, script = scripted(not_found_page, error(503), ok())
    token = mint(api_key=SECRET_KEY, user_uuid=ALICE, base_url=url, retries=1, backoff=0.01)
    assert token.token == "a.b.c"
    assert script.hits == {DOCS_PATH: 1, README_PATH: 2}


def test_error_reprs():
    exc = InvalidApiKey("Invalid API key", status=401)
    assert repr(exc) == "InvalidApiKey(status=401, error_message='Invalid API key')"
    assert str(exc) == "Invalid API key (HTTP 401)"
    assert str(TransportError("down")) == "down"
    assert json.dumps({"m": exc.error_message})
