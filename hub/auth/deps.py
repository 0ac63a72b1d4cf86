"""FastAPI dependencies: a route states the scope it needs and gets the caller's context.

    @router.get("/records/person")
    def people(ctx: Annotated[AccessContext, Depends(require_scope("person.read"))]): ...

The verifier is looked up on ``app.state`` (``use_verifier(app, verifier)``), so routes can
be declared before the hub's keys and registry exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, Request, Security, status
from fastapi.openapi.models import OAuthFlowClientCredentials, OAuthFlows
from fastapi.security import OAuth2
from fastapi.security.utils import get_authorization_scheme_param

from hub.auth.errors import TokenInvalid
from hub.auth.scopes import SCOPES
from hub.auth.verify import AccessContext, TokenVerifier

oauth2_scheme = OAuth2(
    flows=OAuthFlows(
        clientCredentials=OAuthFlowClientCredentials(
            tokenUrl="/oauth/token", scopes={s: s for s in sorted(SCOPES)}
        )
    ),
    scheme_name="hub-oauth",
    auto_error=False,
)
"""Shown in the OpenAPI document, so /docs can fetch a token; it only reads the header."""


def use_verifier(app: FastAPI, verifier: TokenVerifier) -> None:
    app.state.token_verifier = verifier


def get_verifier(request: Request) -> TokenVerifier:
    verifier = getattr(request.app.state, "token_verifier", None)
    if not isinstance(verifier, TokenVerifier):
        raise RuntimeError("no token verifier on this app: call hub.auth.deps.use_verifier")
    return verifier


VerifierDep = Annotated[TokenVerifier, Depends(get_verifier)]


def _unauthorized(error_description: str | None = None) -> HTTPException:
    challenge = 'Bearer realm="hub"'
    if error_description is not None:
        challenge += f', error="invalid_token", error_description="{error_description}"'
    return HTTPException(
        status.HTTP_401_UNAUTHORIZED,
        detail=f"invalid_token: {error_description}" if error_description else "no bearer token",
        headers={"WWW-Authenticate": challenge},
    )


def require_scope(*scopes: str) -> Callable[..., AccessContext]:
    """A dependency that verifies the bearer token and demands every scope in ``scopes``."""
    unknown = set(scopes) - SCOPES
    if unknown:
        raise ValueError(f"unknown scopes {sorted(unknown)}")

    # Sync on purpose: FastAPI runs it in a worker thread, where the registry look-up and
    # a JWKS fetch may block.
    # ``scopes`` is a closure variable, which a string annotation (this module has
    # ``from __future__ import annotations``) could not name: hence a default, not Annotated.
    def dependency(
        verifier: VerifierDep,
        authorization: str | None = Security(oauth2_scheme, scopes=list(scopes)),
    ) -> AccessContext:
        scheme, token = get_authorization_scheme_param(authorization)
        if not authorization or scheme.lower() != "bearer" or not token:
            raise _unauthorized()
        try:
            context = verifier.verify_access_token(token)
        except TokenInvalid as exc:
            raise _unauthorized(exc.reason) from None
        missing = [s for s in scopes if s not in context.scopes]
        if missing:
            needed = " ".join(scopes)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                detail=f"insufficient_scope: needs {' '.join(missing)}",
                headers={
                    "WWW-Authenticate": (
                        f'Bearer realm="hub", error="insufficient_scope", scope="{needed}"'
                    )
                },
            )
        return context

    return dependency
