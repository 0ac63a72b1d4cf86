"""The authorization server's HTTP endpoints: token, RFC 8414 metadata, JWKS."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from hub.auth.clients import ClientRegistry
from hub.auth.keys import SigningKeys
from hub.auth.server import (
    AuditSink,
    HubAuthorizationServer,
    TokenHttpRequest,
    claimed_client_id,
)
from hub.auth.settings import AuthSettings
from hub.auth.throttle import HashGate, TokenLimits, TokenThrottle, retry_after

FORM = "application/x-www-form-urlencoded"
MAX_FORM_BYTES = 16_384

_TOKEN_REQUEST_DOC: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            FORM: {
                "schema": {
                    "type": "object",
                    "required": ["grant_type"],
                    "properties": {
                        "grant_type": {"type": "string", "enum": ["client_credentials"]},
                        "scope": {"type": "string"},
                        "client_assertion_type": {"type": "string"},
                        "client_assertion": {"type": "string"},
                    },
                }
            }
        },
    }
}


async def read_token_request(request: Request) -> TokenHttpRequest:
    """The request as the authorization server needs it; a body that is not a small UTF-8
    form is marked malformed (answered ``invalid_request``) rather than guessed at."""
    head = TokenHttpRequest(request.method, str(request.url), request.headers)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != FORM:
        return _malformed(head, f"the body must be {FORM}")
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        return _malformed(head, "the body is too large")
    try:
        form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=32)
    except (UnicodeDecodeError, ValueError):
        return _malformed(head, "the body is not a UTF-8 form")
    return TokenHttpRequest(head.method, head.url, head.headers, form)


def _malformed(head: TokenHttpRequest, why: str) -> TokenHttpRequest:
    return TokenHttpRequest(head.method, head.url, head.headers, malformed=why)


def create_auth_router(
    server: HubAuthorizationServer, limits: TokenLimits | None = None
) -> APIRouter:
    """The endpoints; token requests are throttled and run on their own threads
    (``hub.auth.throttle``)."""
    limits = limits or TokenLimits()
    throttle = TokenThrottle(limits)
    gate = HashGate(limits.hash_workers, limits.max_waiting)
    router = APIRouter(tags=["oauth"])

    async def refuse(http: TokenHttpRequest, wait: float, why: str) -> Response:
        refused: Response = await run_in_threadpool(
            server.refuse_throttled, http, retry_after(wait), why
        )
        return refused

    @router.post("/oauth/token", openapi_extra=_TOKEN_REQUEST_DOC)
    async def token(request: Request) -> Response:
        """Client credentials grant (RFC 6749 §4.4); returns an RFC 9068 JWT access token."""
        http = await read_token_request(request)
        peer = request.client.host if request.client else None
        client_id = claimed_client_id(http)
        if wait := throttle.admit(peer, client_id):
            return await refuse(http, wait, "rate")
        response = await gate.run(lambda: server.create_token_response(http))
        if response is None:
            return await refuse(http, 1.0, "busy")
        if response.status_code == 401:
            throttle.failed(peer, client_id)
        elif response.status_code == 200 and client_id is not None:
            throttle.succeeded(peer, client_id)
        return response

    @router.get("/.well-known/oauth-authorization-server")
    def metadata() -> dict[str, Any]:
        return server.metadata()

    @router.get("/.well-known/jwks.json")
    def jwks() -> JSONResponse:
        """The hub's public signing keys, retired ones included while their tokens live."""
        return JSONResponse(
            server.keys.jwks(),
            media_type="application/jwk-set+json",
            headers={"Cache-Control": "public, max-age=60"},
        )

    return router


def auth_router(
    settings: AuthSettings,
    registry: ClientRegistry,
    keys: SigningKeys,
    audit: AuditSink,
    limits: TokenLimits | None = None,
) -> APIRouter:
    """The router with its server; ``audit`` receives every token issued or refused."""
    return create_auth_router(HubAuthorizationServer(settings, registry, keys, audit), limits)
