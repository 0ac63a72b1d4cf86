"""The hub's HTTP API: OAuth 2 token endpoint, records, profiles, work orders, audit
search, and the operations endpoints ``/health``, ``/ready`` and ``/metrics``."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable

from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hub import __version__, metrics
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
from hub.api.observability import (
    AlertGauges,
    CountingAuditLog,
    Observe,
    StoreGauges,
    readiness,
)
from hub.api.ratelimit import RateLimiter
from hub.api.routes import (
    audit,
    break_glass,
    profiles,
    reconciliation,
    records,
    reviews,
    stats,
    transparency,
    verifications,
    work_orders,
)
from hub.api.routes.subscriptions import subscriptions_router
from hub.auth.clients import ClientRegistry
from hub.auth.errors import TokenInvalid
from hub.auth.keys import SigningKeys
from hub.auth.router import auth_router
from hub.auth.settings import AuthSettings
from hub.auth.throttle import TokenLimits
from hub.auth.verify import TokenVerifier
from hub.config import HubConfig, load_config, open_store
from hub.console import Console
from hub.events.subscriptions import Subscriptions
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import Sharing
from hub.sharing.reconcile import Reconciliation, Sides
from hub.web import install as install_pages
from hub.work.orders import WorkOrders
from hub.work.verifications import Verifications


class Health(BaseModel):
    status: str
    version: str


class Ready(BaseModel):
    status: str
    checks: dict[str, str]
    sync_lag: dict[str, float | None]
    """Seconds since each stream's last successful sync (``source/stream``); null: never."""


def create_app(
    config: HubConfig,
    *,
    rate: float = 50.0,
    burst: int = 100,
    token_limits: TokenLimits | None = None,
    body_limits: BodyLimits | None = None,
    refusal_limits: RefusalLimits | None = None,
    clock: Callable[[], dt.datetime] | None = None,
) -> FastAPI:
    """The API over the hub at ``config``; each client may make ``rate`` requests a second
    (``burst`` at once). The other limits (``hub.auth.throttle``, ``hub.api.limits``) have
    defaults for one hub serving a few dozen partner systems. ``clock`` is the work loop's
    "now" (due lists, visit times, work orders' steps and deadlines); tests inject one."""
    now = clock or (lambda: dt.datetime.now(dt.UTC))
    store = open_store(config)
    store.create_schema()
    log = CountingAuditLog.for_store(store)
    policies = PolicyRegistry(log, config.home / POLICIES_DIR)
    settings = AuthSettings(
        issuer=config.issuer, audience=config.audience, external=config.external_idp
    )
    registry = ClientRegistry(store)
    keys = SigningKeys(store, token_lifetime=settings.token_lifetime, leeway=settings.leeway)
    verifier = TokenVerifier(settings, keys, registry)

    app = FastAPI(
        title="Police–community data-sharing hub",
        version=__version__,
        description="One query API over police and grid records, within each partner's "
        "sharing policy. Every request declares its purpose and is audited.",
    )
    sharing = Sharing(store, log, policies)
    app.state.hub = HubServices(
        sharing=sharing,
        audit=log,
        verify=verifier.verify_access_token,
        refused=(TokenInvalid,),
        limiter=RateLimiter(rate, burst),
        verifications=Verifications(sharing, now),
        work_orders=WorkOrders(sharing, registry, config.work_orders, clock=now),
    )
    problems.install(app)
    app.add_exception_handler(BodyTooLarge, too_large_handler)
    app.add_middleware(BodyLimit, limits=body_limits or BodyLimits())
    limiter = RefusalLimiter(refusal_limits or RefusalLimits())
    app.add_middleware(RefusalGuard, limiter=limiter, audit=log.append)

    app.add_middleware(Observe)
    gauges = StoreGauges(store)
    alerts = AlertGauges(log, store, config.access_alerts)

    @app.get("/health", tags=["operations"])
    def health() -> Health:
        """The process is up (it looks at nothing else: see ``/ready``)."""
        return Health(status="ok", version=__version__)

    @app.get("/ready", tags=["operations"], responses={503: {"model": Ready}})
    async def ready() -> JSONResponse:
        """Database reachable, keys loaded, policies in force, audit log writable; 503
        names the check that failed. The sync lag of each stream is reported beside."""
        result = await run_in_threadpool(readiness, store, keys, policies, log)
        body = Ready(
            status="ready" if result.ready else "not ready",
            checks=result.checks,
            sync_lag={
                f"{source}/{stream}": None if math.isinf(seconds) else round(seconds, 1)
                for (source, stream), seconds in sorted(result.sync_lag.items())
            },
        )
        return JSONResponse(body.model_dump(), status_code=200 if result.ready else 503)

    @app.get("/metrics", tags=["operations"], response_class=Response)
    def scrape() -> Response:
        """Prometheus text format: every worker's samples under ``hub serve --workers``."""
        return Response(metrics.render([gauges, alerts]), media_type=metrics.CONTENT_TYPE)

    app.include_router(auth_router(settings, registry, keys, log.append, token_limits))
    app.include_router(records.router)
    app.include_router(profiles.router)
    # Before any /v1/stats/{kind}: the literal path must be the one that matches.
    app.state.reconciliation = Reconciliation(
        sharing, lambda: Sides.of_hub(config.home, store, policies)
    )
    app.include_router(reconciliation.router)
    app.include_router(stats.router)
    app.include_router(audit.router)
    app.include_router(transparency.router)
    app.include_router(verifications.router)
    subscriptions = Subscriptions.of(app.state.hub.sharing, allow_loopback=config.webhook_loopback)
    app.include_router(subscriptions_router(subscriptions))
    app.include_router(reviews.router)
    app.include_router(work_orders.router)
    app.include_router(break_glass.router)
    console = Console.over(sharing, config.home, config.console, config.access_alerts)
    install_pages(app, console.with_provider(config.operator_oidc))
    return app


def app_from_environment() -> FastAPI:
    """The app factory ``hub serve`` gives uvicorn: each worker process opens the hub at
    ``$HUB_HOME`` with the ``HUB_*`` settings (``hub.config``) the server set for it."""
    return create_app(load_config())
