"""The hub's HTTP API: OAuth 2 token endpoint, records, profiles, audit search."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel

from hub import __version__
from hub.api import problems
from hub.api.deps import HubServices
from hub.api.limits import (
    BodyLimit,
    BodyLimits,
    BodyTooLarge,
    RefusalGuard,
    RefusalLimiter,
    RefusalLimits,
    too_large_handler,
)
from hub.api.ratelimit import RateLimiter
from hub.api.routes import audit, profiles, records, transparency
from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.auth.errors import TokenInvalid
from hub.auth.keys import SigningKeys
from hub.auth.router import auth_router
from hub.auth.settings import AuthSettings
from hub.auth.throttle import TokenLimits
from hub.auth.verify import TokenVerifier
from hub.config import HubConfig, open_store
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import Sharing


class Health(BaseModel):
    status: str
    version: str


def create_app(
    config: HubConfig,
    *,
    rate: float = 50.0,
    burst: int = 100,
    token_limits: TokenLimits | None = None,
    body_limits: BodyLimits | None = None,
    refusal_limits: RefusalLimits | None = None,
) -> FastAPI:
    """The API over the hub at ``config``; each client may make ``rate`` requests a second
    (``burst`` at once). The other limits (``hub.auth.throttle``, ``hub.api.limits``) have
    defaults for one hub serving a few dozen partner systems."""
    store = open_store(config)
    store.create_schema()
    log = AuditLog.for_store(store)
    policies = PolicyRegistry(log, config.home / POLICIES_DIR)
    settings = AuthSettings(issuer=config.issuer, audience=config.audience)
    registry = ClientRegistry(store)
    keys = SigningKeys(store, token_lifetime=settings.token_lifetime, leeway=settings.leeway)
    verifier = TokenVerifier(settings, keys, registry)

    app = FastAPI(
        title="Police–community data-sharing hub",
        version=__version__,
        description="One query API over police and grid records, within each partner's "
        "sharing policy. Every request declares its purpose and is audited.",
    )
    app.state.hub = HubServices(
        sharing=Sharing(store, log, policies),
        audit=log,
        verify=verifier.verify_access_token,
        refused=(TokenInvalid,),
        limiter=RateLimiter(rate, burst),
    )
    problems.install(app)
    app.add_exception_handler(BodyTooLarge, too_large_handler)
    app.add_middleware(BodyLimit, limits=body_limits or BodyLimits())
    limiter = RefusalLimiter(refusal_limits or RefusalLimits())
    app.add_middleware(RefusalGuard, limiter=limiter, audit=log.append)

    @app.middleware("http")
    async def request_ids(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        request.state.request_id = uuid.uuid4().hex
        response = await call_next(request)
        response.headers["X-Request-ID"] = request.state.request_id
        return response

    @app.get("/health", tags=["operations"])
    def health() -> Health:
        return Health(status="ok", version=__version__)

    app.include_router(auth_router(settings, registry, keys, log.append, token_limits))
    app.include_router(records.router)
    app.include_router(profiles.router)
    app.include_router(audit.router)
    app.include_router(transparency.router)
    return app
