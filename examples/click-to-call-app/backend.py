"""The click-to-call app's backend (Flask): it mints 2Chat access tokens, so the API key stays here.

``POST /token`` (optional ``?ttl=SECONDS``) answers ``{"token", "expires_at"}`` for the configured user,
minted with :func:`twochat_voice_web.server.mint_access_token`. The page calls it on start and on
``tokenWillExpire``. Configuration comes from the environment when run as a script:

    TWOCHAT_API_KEY=... TWOCHAT_USER_UUID=USR... [TWOCHAT_API_BASE_URL=http://127.0.0.1:8765]
    [APP_ALLOWED_ORIGIN=http://127.0.0.1:8765] python backend.py

``APP_ALLOWED_ORIGIN`` is the origin of the page when it is served from elsewhere (in the tests: the
sandbox, which serves the page beside the Python runtime); it gets the CORS headers.
"""

from __future__ import annotations

import os

from flask import Flask, Response, jsonify, request

from twochat_voice_web.server import DEFAULT_BASE_URL, MintError, mint_access_token


def create_app(
    *, api_key: str, user_uuid: str, api_base_url: str = DEFAULT_BASE_URL, allowed_origin: str | None = None
) -> Flask:
    """The Flask application minting tokens for ``user_uuid`` with ``api_key``."""
    app = Flask(__name__)

    @app.post("/token")
    def token() -> Response | tuple[Response, int]:
        ttl = request.args.get("ttl", type=int)
        try:
            minted = mint_access_token(
                api_key, user_uuid, ttl=ttl, base_url=api_base_url, label="click-to-call"
            )
        except MintError as error:  # never the key in the answer: MintError's message does not hold it
            return jsonify(error=error.error_message), 502
        return jsonify(token=minted.token, expires_at=minted.expires_at.isoformat())

    @app.after_request
    def cors(response: Response) -> Response:
        if allowed_origin and request.headers.get("Origin") == allowed_origin:
            response.headers["Access-Control-Allow-Origin"] = allowed_origin
            response.headers["Vary"] = "Origin"
        return response

    return app


if __name__ == "__main__":
    create_app(
        api_key=os.environ["TWOCHAT_API_KEY"],
        user_uuid=os.environ["TWOCHAT_USER_UUID"],
        api_base_url=os.environ.get("TWOCHAT_API_BASE_URL", DEFAULT_BASE_URL),
        allowed_origin=os.environ.get("APP_ALLOWED_ORIGIN"),
    ).run(host="127.0.0.1", port=int(os.environ.get("PORT", "5000")))
