"""What the auth tests share: a clock the test moves, and the hub's auth pieces on one store."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OKPKey
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.auth import (
    AuthSettings,
    Client,
    ClientRegistry,
    HubAuthorizationServer,
    SigningKeys,
    TokenVerifier,
    create_auth_router,
)
from hub.auth.server import AccessTokenGenerator

AUDIT_EVENT_FIELDS = {
    "action",
    "outcome",
    "client_id",
    "subject",
    "purpose",
    "kind",
    "filters",
    "record_ids",
    "fields",
    "policy_id",
    "policy_version",
    "request_id",
    "detail",
}
"""``hub.audit.AuditEvent``'s fields: the sink's events must fit it as they are."""

SETTINGS = AuthSettings(issuer="https://hub.test", audience="https://hub.test/api")


class Clock:
    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@dataclass
class Hub:
    settings: AuthSettings
    clock: Clock
    registry: ClientRegistry
    keys: SigningKeys
    server: HubAuthorizationServer
    verifier: TokenVerifier
    app: FastAPI
    http: httpx.Client
    events: list[dict[str, Any]] = field(default_factory=list)

    def refused(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["action"] == "token.refused"]

    def issued(self) -> list[dict[str, Any]]:
        return [e for e in self.events if e["action"] == "token.issued"]


def make_app(server: HubAuthorizationServer) -> FastAPI:
    app = FastAPI()
    app.include_router(create_auth_router(server))
    return app


class AppSwitch:
    """One uvicorn server for the session; each test plugs its own app in."""

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.app is None:
            raise RuntimeError("no app plugged in")
        await self.app(scope, receive, send)


BEHIND_TLS_PROXY = {"Host": "hub.test", "X-Forwarded-Proto": "https"}
"""What a TLS-terminating proxy in front of the hub sends: the hub sees https://hub.test."""


def mint(
    hub: Hub,
    client: Client,
    *,
    header: dict[str, Any] | None = None,
    drop: tuple[str, ...] = (),
    key: Any = None,
    **claims: Any,
) -> str:
    """A token as the hub would sign it, with claims or header fields changed or dropped
    (a header value of None drops that field)."""
    body = AccessTokenGenerator(hub.settings, hub.keys, hub.clock).claims(client, ["person.read"])
    body.update(claims)
    for name in drop:
        body.pop(name)
    signing = hub.keys.active()
    fields = {"alg": "ES256", "typ": "at+jwt", "kid": signing.kid, **(header or {})}
    fields = {k: v for k, v in fields.items() if v is not None}
    return jwt.encode(fields, body, key or signing.key, algorithms=["ES256"], default_type=None)


PARTNER_KEY = OKPKey.generate_key("Ed25519", auto_kid=True)


def keyed_client(
    hub: Hub,
    policy_id: str = "grid-platform",
    scopes: tuple[str, ...] = ("person.read",),
    claims: dict[str, list[str]] | None = None,
) -> Client:
    """A private_key_jwt client: no scrypt hash to make, where the secret is beside the point."""
    jwks = {"keys": [PARTNER_KEY.as_dict(private=False)]}
    return hub.registry.add("partner", policy_id, scopes, claims, jwks=jwks).client
