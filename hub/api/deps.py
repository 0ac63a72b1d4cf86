"""What a route needs, as ``Annotated`` dependencies: the sharing service, the request id,
and the caller's verified, rate-limited, scope-checked access."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from hub.api.problems import Problem
from hub.api.ratelimit import RateLimiter, retry_after
from hub.audit import AuditEvent, AuditLog
from hub.auth.scopes import SCOPES
from hub.sharing import Access, Sharing
from hub.work.orders import WorkOrders
from hub.work.verifications import Verifications


@dataclass
class HubServices:
    sharing: Sharing
    audit: AuditLog
    verify: Callable[[str], Access]
    """Checks an access token; raises an exception with a ``reason`` when it is refused."""
    refused: tuple[type[Exception], ...]
    limiter: RateLimiter
    verifications: Verifications
    work_orders: WorkOrders


def services(request: Request) -> HubServices:
    hub: HubServices = request.app.state.hub
    return hub


def request_id(request: Request) -> str:
    rid: str = request.state.request_id
    return rid


def required_scope(request: Request) -> str:
    """``person.read``, ``incident.write``, ``audit.read``...: the route's own (``scoped``),
    or else from its kind and method."""
    own: str | None = getattr(request.state, "scope", None)
    if own is not None:
        return own
    kind = request.path_params.get("kind") or request.url.path.strip("/").split("/")[1]
    return f"{kind}.{'write' if request.method == 'POST' else 'read'}"


def scoped(scope: str | Callable[[Request], str], *also: str) -> Any:
    """A router dependency naming the scope its routes need, where the URL does not
    (``dependencies=[scoped("work_order.write")]``); a callable picks it per request;
    ``also``: scopes the route needs besides. It must come before ``AccessDep`` is
    resolved, so put it on the router or route."""

    def name(request: Request) -> None:
        request.state.scope = scope(request) if callable(scope) else scope
        request.state.also_scopes = also

    return Depends(name)


bearer = HTTPBearer(auto_error=False, description="An access token from POST /oauth/token")


def access(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Access:
    hub = services(request)
    rid = request_id(request)
    challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Problem(
            401,
            "an access token is required",
            code="unauthorized",
            headers={"WWW-Authenticate": "Bearer"},
            event=_refusal(rid, None, "no_token", request),
        )
    try:
        caller = hub.verify(credentials.credentials)
    except hub.refused as exc:
        reason = str(getattr(exc, "reason", "invalid"))
        raise Problem(
            401,
            f"access token refused: {reason}",
            code="invalid_token",
            headers=challenge,
            event=_refusal(rid, None, reason, request),
        ) from None
    request.state.client_id = caller.client_id
    wait = hub.limiter.take(caller.client_id)
    if wait:
        raise Problem(
            429,
            "too many requests",
            code="rate_limited",
            headers={"Retry-After": retry_after(wait)},
        )
    needed = (required_scope(request), *getattr(request.state, "also_scopes", ()))
    scope = next((scope for scope in needed if scope not in caller.scopes), None)
    if scope is not None:
        # The scope is made from the URL: only one of ours goes into the header, so no
        # caller-chosen text (non-Latin-1, CR/LF) reaches a response header.
        named = f' scope="{scope}"' if scope in SCOPES else ""
        raise Problem(
            403,
            f"the token lacks scope {scope}",
            code="insufficient_scope",
            headers={"WWW-Authenticate": f'Bearer error="insufficient_scope"{named}'},
            event=_refusal(rid, caller, "insufficient_scope", request, scope=scope),
        )
    return caller


def _refusal(
    rid: str, caller: Access | None, reason: str, request: Request, **detail: Any
) -> AuditEvent:
    return AuditEvent(
        action="request.refused",
        outcome="denied",
        client_id=caller.client_id if caller else None,
        subject=caller.subject if caller else None,
        request_id=rid,
        detail={"reason": reason, "method": request.method, "path": request.url.path, **detail},
    )


AccessDep = Annotated[Access, Depends(access)]


def sharing(request: Request) -> Sharing:
    return services(request).sharing


SharingDep = Annotated[Sharing, Depends(sharing)]
RequestId = Annotated[str, Depends(request_id)]


def verifications(request: Request) -> Verifications:
    return services(request).verifications


VerificationsDep = Annotated[Verifications, Depends(verifications)]


def work_orders(request: Request) -> WorkOrders:
    return services(request).work_orders


WorkOrdersDep = Annotated[WorkOrders, Depends(work_orders)]
