"""A small OpenID Connect provider for the tests, served for real on loopback: discovery,
authorize, token and JWKS, issuing RS256-signed ID tokens as a real provider does.

Its issuer is ``http://localhost:PORT`` while the hub is served at ``127.0.0.1``: to a
browser they are two sites, as a provider and the hub are in production, so the
cookies' SameSite rules are put to the test. Whoever ``person`` names is already signed
in at the provider (single sign-on), so ``/authorize`` answers at once; when
``interactive``, it first shows a page whose button the person presses, so the way back
to the hub is a navigation the provider's page begins, as at a real provider. The token
endpoint does what a provider must: the client's secret (``client_secret_basic``), the
code used once, for the redirect URI it was issued for, and the PKCE ``code_verifier``
against the ``S256`` challenge (the hub's requests are recorded in ``token_requests``).
``claims`` is merged over the next ID tokens' and ``sign_with`` signs them with another
key, so a test can forge what a wrong provider would send."""

from __future__ import annotations

import base64
import hashlib
import html
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

from hub.reference.serve import serve_in_thread

CLIENT_ID = "police-grid-hub"
CLIENT_SECRET = "provider-secret-for-the-hub"  # noqa: S105 (the test provider's own)


@dataclass
class Grant:
    subject: str
    client_id: str
    redirect_uri: str
    nonce: str | None
    challenge: str
    method: str


@dataclass
class Provider:
    url: str = ""
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, auto_kid=True))
    person: str = "u-1001"
    interactive: bool = False
    claims: dict[str, Any] = field(default_factory=dict)
    sign_with: RSAKey | None = None
    codes: dict[str, Grant] = field(default_factory=dict)
    token_requests: list[str] = field(default_factory=list)
    """What became of each token request: ``issued`` or the OAuth error word."""

    def reset(self) -> None:
        self.person, self.claims, self.sign_with = "u-1001", {}, None
        self.interactive = False

    def id_token(self, grant: Grant, access_token: str) -> str:
        now = int(time.time())
        body: dict[str, Any] = {
            "iss": self.url,
            "sub": grant.subject,
            "aud": grant.client_id,
            "iat": now,
            "exp": now + 300,
            "auth_time": now - 5,
            "nonce": grant.nonce,
            "at_hash": _half_hash(access_token),
            "preferred_username": f"name-of-{grant.subject}",
            **self.claims,
        }
        signer = self.sign_with or self.key
        header = {"alg": "RS256", "typ": "JWT", "kid": self.key.kid}
        return jwt.encode(header, body, signer, algorithms=["RS256"])


def _half_hash(value: str) -> str:
    digest = hashlib.sha256(value.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest[:16]).rstrip(b"=").decode()


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def _error(word: str, provider: Provider) -> JSONResponse:
    provider.token_requests.append(word)
    return JSONResponse({"error": word}, status_code=400)


def provider_app(provider: Provider) -> FastAPI:
    app = FastAPI()

    @app.get("/.well-known/openid-configuration")
    def discovery() -> dict[str, Any]:
        return {
            "issuer": provider.url,
            "authorization_endpoint": f"{provider.url}/authorize",
            "token_endpoint": f"{provider.url}/token",
            "jwks_uri": f"{provider.url}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [provider.key.as_dict(private=False)]}

    @app.get("/authorize", response_model=None)
    def authorize(
        request: Request,
        response_type: str,
        client_id: str,
        redirect_uri: str,
        state: str,
        scope: str = "",
        nonce: str | None = None,
        code_challenge: str = "",
        code_challenge_method: str = "",
        approved: bool = False,
    ) -> RedirectResponse | HTMLResponse:
        if provider.interactive and not approved:
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in request.query_params.items()
            )
            return HTMLResponse(
                '<!doctype html><meta charset="utf-8"><title>统一身份认证</title>'
                f'<form method="get" action="/authorize">{fields}'
                '<input type="hidden" name="approved" value="true">'
                '<button id="approve">同意并登录</button></form>'
            )
        if response_type != "code" or client_id != CLIENT_ID or "openid" not in scope.split():
            raise ValueError("the test provider was asked something it does not serve")
        if code_challenge_method != "S256" or not code_challenge:
            query = urlencode({"error": "invalid_request", "state": state})
            return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)
        code = secrets.token_urlsafe(24)
        provider.codes[code] = Grant(
            provider.person, client_id, redirect_uri, nonce, code_challenge, code_challenge_method
        )
        query = urlencode({"code": code, "state": state})
        return RedirectResponse(f"{redirect_uri}?{query}", status_code=302)

    @app.post("/token")
    def token(
        request: Request,
        grant_type: str = Form(),
        code: str = Form(),
        redirect_uri: str = Form(),
        code_verifier: str = Form(""),
    ) -> JSONResponse:
        basic = request.headers.get("authorization", "")
        expected = base64.b64encode(f"{CLIENT_ID}:{CLIENT_SECRET}".encode()).decode()
        if basic != f"Basic {expected}":
            return _error("invalid_client", provider)
        grant = provider.codes.pop(code, None)  # used once
        if grant_type != "authorization_code" or grant is None:
            return _error("invalid_grant", provider)
        if grant.redirect_uri != redirect_uri or _s256(code_verifier) != grant.challenge:
            return _error("invalid_grant", provider)
        provider.token_requests.append("issued")
        access_token = secrets.token_urlsafe(32)
        return JSONResponse(
            {
                "access_token": access_token,
                "token_type": "Bearer",
                "expires_in": 300,
                "id_token": provider.id_token(grant, access_token),
            },
            headers={"Cache-Control": "no-store"},
        )

    return app


@contextmanager
def served_provider() -> Iterator[Provider]:
    provider = Provider()
    with serve_in_thread(provider_app(provider)) as server:
        provider.url = server.url.replace("127.0.0.1", "localhost")
        yield provider
