"""The OAuth 2 authorization server: authlib's ``AuthorizationServer`` bound to Starlette,
the client registry and the hub's signing keys.

One grant, ``client_credentials`` (RFC 6749 §4.4), with two client authentications:
``client_secret_basic`` and ``private_key_jwt`` (RFC 7523). Tokens are RFC 9068 JWTs.
Every token issued or refused is reported to the audit sink as a ``hub.audit.AuditEvent``;
a sink that raises stops the token from being issued.

Every ``invalid_client`` answer carries the same description, and an unknown client id
costs the same scrypt as a wrong secret (against a dummy hash): neither the answer nor its
time tells which client ids exist. The audit entry keeps the precise reason.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections import defaultdict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InsecureTransportError,
    InvalidClientError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from authlib.oauth2.rfc6749.util import (
    extract_basic_authorization,
    list_to_scope,
    scope_to_list,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.responses import Response

from hub.audit import AuditEvent
from hub.auth.clients import Client, ClientRegistry, burn_secret_check, dummy_hash
from hub.auth.keys import ALG, SigningKeys
from hub.auth.scopes import SCOPES
from hub.auth.settings import ASYMMETRIC_ALGS, AuthSettings

AuditSink = Callable[[AuditEvent], object]

GRANT_TYPES = ("client_credentials",)
AUTH_METHODS = ("client_secret_basic", "private_key_jwt")
ASSERTION_ALGS = tuple(sorted(ASYMMETRIC_ALGS))
MAX_ASSERTION_LIFETIME = 600
UNAUTHENTICATED = "client authentication failed"
"""The one ``error_description`` of every ``invalid_client`` answer."""
THROTTLED = "too many requests"
"""Seconds: a client assertion valid for longer is refused (its jti would be kept as long)."""


@dataclass(frozen=True, slots=True)
class TokenHttpRequest:
    """What the token endpoint read from the HTTP request, before authlib sees it."""

    method: str
    url: str
    headers: Mapping[str, str]
    form: Mapping[str, list[str]] = field(default_factory=dict)
    malformed: str | None = None
    """Why the body could not be read as a form, if it could not."""


class _Payload(OAuth2Payload):  # type: ignore[misc]
    def __init__(self, form: Mapping[str, list[str]]) -> None:
        self._datalist = defaultdict(list, {k: list(v) for k, v in form.items()})
        self._data = {k: v[0] for k, v in form.items() if v}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(self, http: TokenHttpRequest) -> None:
        super().__init__(http.method, http.url, headers=http.headers)
        self.payload = _Payload(http.form)
        self.malformed = http.malformed

    @property
    def form(self) -> dict[str, str]:
        data: dict[str, str] = self.payload.data
        return data

    @property
    def args(self) -> dict[str, str]:
        return {}


class OAuthClient(ClientMixin):  # type: ignore[misc]
    """A registered client as authlib sees it."""

    def __init__(self, client: Client) -> None:
        self.client = client

    def get_client_id(self) -> str:
        return self.client.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        allowed: str = list_to_scope([s for s in scope_to_list(scope) if s in self.client.scopes])
        return allowed

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return self.client.check_secret(client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method == self.client.auth_method

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class _NoClient(ClientMixin):  # type: ignore[misc]
    """Stands for an unknown or revoked client id: its secret check costs a real scrypt
    and fails, so the refusal takes as long as a wrong secret does."""

    def __init__(self, client_id: str) -> None:
        self.client_id = client_id

    def get_client_id(self) -> str:
        return self.client_id

    def check_client_secret(self, client_secret: str) -> bool:
        burn_secret_check(client_secret)
        return False

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return False


class _ClientCredentialsGrant(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS: ClassVar[list[str]] = list(AUTH_METHODS)

    def validate_requested_scope(self) -> None:
        requested = scope_to_list(self.request.payload.scope) or []
        client: OAuthClient = self.request.client
        refused = sorted(s for s in requested if s not in SCOPES or s not in client.client.scopes)
        if refused:
            raise InvalidScopeError(description=_safe(f"scope not granted: {' '.join(refused)}"))


class _PrivateKeyJWT(JWTBearerClientAssertion):  # type: ignore[misc]
    """RFC 7523 §2.2 client assertions, checked against the client's registered JWKS."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, settings: AuthSettings, registry: ClientRegistry) -> None:
        super().__init__(validate_jti=True, leeway=settings.leeway)
        self.settings = settings
        self.registry = registry

    def get_audiences(self) -> list[str]:
        # RFC 7523 §3 and RFC 9126 §2: the token endpoint or the issuer identifier.
        s = self.settings
        return list(dict.fromkeys([s.token_endpoint, s.issuer, s.base_url]))

    def resolve_client_public_key(self, client: OAuthClient | _NoClient) -> KeySet:
        if not isinstance(client, OAuthClient):
            raise InvalidClientError(description="the client does not exist")
        if client.client.auth_method != self.CLIENT_AUTH_METHOD or client.client.jwks is None:
            raise InvalidClientError(description="the client does not use private_key_jwt")
        return client.client.key_set()

    def process_assertion_claims(self, assertion: str, resolve_key: KeySet) -> dict[str, Any]:
        # Overridden to pass an explicit algorithm allow-list (authlib passes none).
        try:
            token = jwt.decode(assertion, resolve_key, algorithms=ASSERTION_ALGS)
        except JoseError as exc:
            raise InvalidClientError(description=f"client assertion refused: {exc.error}") from exc
        self.verify_claims(token.claims)
        return token.claims

    def validate_jti(self, claims: dict[str, Any], jti: Any) -> bool:
        exp = claims["exp"]
        if exp - time.time() > MAX_ASSERTION_LIFETIME:
            raise InvalidClientError(description="client assertion lives too long")
        expires = dt.datetime.fromtimestamp(exp + self.leeway, dt.UTC)
        return self.registry.remember_assertion(str(claims["sub"]), str(jti)[:256], expires)


class AccessTokenGenerator:
    """RFC 9068 access tokens: ``typ: at+jwt``, signed with the hub's active key, carrying
    the client's policy id and jurisdiction claims."""

    def __init__(
        self, settings: AuthSettings, keys: SigningKeys, now: Callable[[], float] = time.time
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.now = now

    def claims(self, client: Client, scopes: list[str]) -> dict[str, Any]:
        now = int(self.now())
        return {
            **{name: list(codes) for name, codes in client.claims.items()},
            "iss": self.settings.issuer,
            "sub": client.client_id,
            "aud": self.settings.audience,
            "client_id": client.client_id,
            "iat": now,
            "nbf": now,
            "exp": now + self.settings.token_lifetime,
            "jti": secrets.token_urlsafe(16),
            "scope": " ".join(scopes),
            "policy": client.policy_id,
        }

    def __call__(
        self,
        grant_type: str,
        client: OAuthClient,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        scopes = sorted(set(scope_to_list(scope) or client.client.scopes))
        signing = self.keys.active()
        header = {"alg": ALG, "typ": "at+jwt", "kid": signing.kid}
        claims = self.claims(client.client, scopes)
        token = jwt.encode(header, claims, signing.key, algorithms=[ALG])
        return {
            "access_token": token,
            "token_type": "Bearer",
            "expires_in": self.settings.token_lifetime,
            "scope": claims["scope"],
        }


class HubAuthorizationServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(
        self,
        settings: AuthSettings,
        registry: ClientRegistry,
        keys: SigningKeys,
        audit: AuditSink,
        now: Callable[[], float] = time.time,
    ) -> None:
        super().__init__(scopes_supported=sorted(SCOPES))
        self.settings = settings
        self.registry = registry
        self.keys = keys
        self.audit = audit
        dummy_hash()
        self.register_grant(_ClientCredentialsGrant)
        self.register_client_auth_method(
            _PrivateKeyJWT.CLIENT_AUTH_METHOD, _PrivateKeyJWT(settings, registry)
        )
        self.register_token_generator("default", AccessTokenGenerator(settings, keys, now))

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata."""
        s = self.settings
        return {
            "issuer": s.issuer,
            "token_endpoint": s.token_endpoint,
            "jwks_uri": s.jwks_uri,
            "grant_types_supported": list(GRANT_TYPES),
            # REQUIRED by RFC 8414, and empty: there is no authorization endpoint.
            "response_types_supported": [],
            "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
            "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGS),
            "scopes_supported": sorted(SCOPES),
        }

    # --- what authlib asks of a framework integration ---

    def query_client(self, client_id: Any) -> OAuthClient | _NoClient | None:
        if not isinstance(client_id, str) or not client_id:
            return None
        client = self.registry.get(client_id)
        if client is None or client.revoked:
            return _NoClient(client_id)
        return OAuthClient(client)

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        compact = jws.extract_compact(token["access_token"].encode())
        claims = json.loads(compact.payload)
        self.audit(
            AuditEvent(
                action="token.issued",
                outcome="allowed",
                client_id=claims["client_id"],
                subject=claims["sub"],
                policy_id=claims["policy"],
                detail={
                    "token_id": claims["jti"],
                    "scopes": claims["scope"].split(),
                    "auth_method": request.auth_method,
                    "kid": compact.headers()["kid"],
                    "expires_at": claims["exp"],
                },
            )
        )

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        """authlib signals after authenticating a client; nothing listens here."""

    def create_oauth2_request(self, request: TokenHttpRequest) -> OAuth2Request:
        return _Request(request)

    def handle_response(self, status: int, body: Any, headers: list[tuple[str, str]]) -> Response:
        return Response(json.dumps(body), status_code=status, headers=dict(headers))

    def handle_error_response(self, request: OAuth2Request | None, error: OAuth2Error) -> Response:
        self._report_refused(request, error)
        if error.error == "invalid_client":
            error.description = UNAUTHENTICATED
        return self.handle_response(*error(self.get_error_uri(request, error)))

    def refuse_throttled(self, request: TokenHttpRequest, wait: str, why: str) -> Response:
        """429 before any authentication (see ``hub.auth.throttle``), audited as
        ``token.refused`` with reason ``throttled``. RFC 6749 has no error code for it;
        ``invalid_request`` is the one a token endpoint may send that every client knows,
        and the status and ``Retry-After`` say the rest."""
        self.audit(
            AuditEvent(
                action="token.refused",
                outcome="denied",
                client_id=claimed_client_id(request),
                detail={"error": "invalid_request", "reason": "throttled", "throttle": why},
            )
        )
        body = {"error": "invalid_request", "error_description": THROTTLED}
        headers = {"Retry-After": wait, "Cache-Control": "no-store", "Pragma": "no-cache"}
        return Response(
            json.dumps(body), status_code=429, headers=headers, media_type="application/json"
        )

    def create_token_response(self, request: TokenHttpRequest | None = None) -> Response:
        if request is None:
            raise TypeError("the token endpoint needs the HTTP request")
        try:
            oauth_request = self.create_oauth2_request(request)
        except InsecureTransportError as error:
            return self.handle_error_response(None, error)
        try:
            _check_request(oauth_request)
            grant = self.get_token_grant(oauth_request)
            grant.validate_token_request()
            return self.handle_response(*grant.create_token_response())
        except OAuth2Error as error:
            return self.handle_error_response(oauth_request, error)

    # --- audit of refusals ---

    def _report_refused(self, request: OAuth2Request | None, error: OAuth2Error) -> None:
        client_id = _presented_client_id(request)
        reason = error.error
        if error.error == "invalid_client":
            # authlib may have set request.client before the assertion failed.
            reason = self._why_unauthenticated(client_id)
        detail: dict[str, Any] = {"error": error.error, "reason": reason}
        if error.description:
            detail["description"] = str(error.description)
        if request is not None:
            detail["grant_type"] = request.payload.data.get("grant_type")
            detail["requested_scope"] = request.payload.data.get("scope")
        self.audit(
            AuditEvent(action="token.refused", outcome="denied", client_id=client_id, detail=detail)
        )

    def _why_unauthenticated(self, client_id: str | None) -> str:
        if client_id is None:
            return "no_credentials"
        client = self.registry.get(client_id)
        if client is None:
            return "unknown_client"
        return "revoked" if client.revoked else "bad_credentials"


def _safe(description: str) -> str:
    """An error description within RFC 6749's character set (%x20-21 / %x23-5B / %x5D-7E):
    it quotes what the caller sent, which may hold anything."""
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in description)


def _check_request(request: _Request) -> None:
    if request.malformed:
        raise InvalidRequestError(description=request.malformed)
    repeated = sorted(k for k, v in request.payload.datalist.items() if len(v) > 1)
    if repeated:
        raise InvalidRequestError(description=_safe(f"repeated parameter: {', '.join(repeated)}"))
    basic_id, _ = extract_basic_authorization(request.headers)
    if basic_id and "client_assertion" in request.payload.data:
        raise InvalidRequestError(description="more than one client authentication method")


def _presented_client_id(request: OAuth2Request | None) -> str | None:
    """The client the request says it is from (authenticated only if a token was issued)."""
    if request is None:
        return None
    if request.client is not None:
        known: str = request.client.get_client_id()
        return known
    return _claimed(request.headers, request.payload.data)


def claimed_client_id(request: TokenHttpRequest) -> str | None:
    """The client id a token request names (Basic user, assertion ``sub`` or
    ``client_id``), unauthenticated: what the throttle counts by."""
    return _claimed(request.headers, {k: v[0] for k, v in request.form.items() if v})


def _claimed(headers: Mapping[str, str], form: Mapping[str, str]) -> str | None:
    claimed, _ = extract_basic_authorization(headers)
    if not claimed and (assertion := form.get("client_assertion")):
        try:
            claims = json.loads(jws.extract_compact(assertion.encode()).payload)
            claimed = claims.get("sub") if isinstance(claims, dict) else None
        except (JoseError, ValueError):
            claimed = None
    if not claimed:
        claimed = form.get("client_id")
    return claimed[:128] if isinstance(claimed, str) and claimed else None
