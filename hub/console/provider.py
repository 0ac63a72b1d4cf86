"""Signing operators in through an OpenID Connect provider: the authorization code flow
with PKCE (RFC 7636), ``state`` and ``nonce``, spoken by authlib's OAuth 2 client.

``start`` reads the provider's metadata (OpenID Connect Discovery, which must name the
configured issuer), keeps a pending sign-in (the SHA-256 of a fresh ``state``, a
``nonce`` and a PKCE ``code_verifier``, ``operator_sign_ins``) and returns the provider's
authorization URL, with the state the browser is to hold in a cookie. ``finish`` takes
the provider's answer and refuses, audited as ``console.sign_in`` with a reason word:

1. ``state``: the browser holds no state naming a pending sign-in, or the callback's
   state is not the browser's own (a forged callback, or one made in another browser:
   login CSRF); ``state_expired``: the pending sign-in is older than PENDING_FOR. The
   browser's pending sign-in is ended by the first answer that comes back, whatever it is.
2. ``provider_error``: the provider answered with an error (the person refused, …).
3. ``token_request``: the token endpoint refused the code (a replayed code, a wrong
   ``code_verifier``, a wrong client secret) or could not be reached.
4. The ID token, checked as ``hub.auth.verify`` checks an access token: an algorithm of
   ``algorithms`` (never ``none`` or an HMAC), a key of the provider's JWKS by ``kid``
   (``unknown_key``, ``jwks_unavailable``), the signature (``bad_signature``), then the
   claims through authlib's ``CodeIDToken``: ``iss`` (``wrong_issuer``), ``aud`` and
   ``azp`` naming our client (``wrong_audience``), ``exp`` (``expired``), ``nbf``/``iat``
   (``not_yet_valid``), ``nonce`` equal to the pending one (``wrong_nonce``), ``at_hash``
   of the access token (``bad_at_hash``); anything else ``malformed``.
5. ``unknown_subject``: no account is linked to the person ``subject_claim`` names.

Only then is a session opened (``Accounts.sign_in_linked``), with the account's roles.
No code, token, verifier or secret is ever logged or audited.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import httpx2
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from authlib.oidc.core import CodeIDToken
from joserfc import jws
from joserfc.errors import ExpiredTokenError, InvalidClaimError, JoseError, MissingClaimError
from sqlalchemy import delete, insert

from hub.auth.errors import TokenInvalid
from hub.auth.settings import OperatorIdP
from hub.auth.verify import RemoteJwks
from hub.console.accounts import Accounts, Session
from hub.store.tables import operator_sign_ins

log = logging.getLogger(__name__)

PENDING_FOR = dt.timedelta(minutes=10)
"""How long a sign-in sent to the provider may take to come back."""
MAX_ID_TOKEN = 16_384
_CLAIM_REASONS = {
    "iss": "wrong_issuer",
    "aud": "wrong_audience",
    "azp": "wrong_audience",
    "nonce": "wrong_nonce",
    "at_hash": "bad_at_hash",
    "nbf": "not_yet_valid",
    "iat": "not_yet_valid",
}


@dataclass(frozen=True, slots=True)
class Redirect:
    """Where to send the browser, and the state it is to hold until it comes back."""

    url: str
    state: str


@dataclass(frozen=True, slots=True)
class ProviderMetadata:
    """What the hub uses of the provider's discovery document (a ``JwksSettings``)."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    cache_ttl: float
    refetch_interval: float
    timeout: float


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


class ProviderSignIn:
    def __init__(
        self,
        settings: OperatorIdP,
        accounts: Accounts,
        *,
        http: httpx.Client | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.accounts = accounts
        self.http = http or httpx.Client()
        self.monotonic = monotonic
        self._lock = threading.Lock()
        self._metadata: ProviderMetadata | None = None
        self._fetched_at = 0.0
        self._jwks: RemoteJwks | None = None

    @property
    def label(self) -> str:
        return self.settings.label

    # --- the two legs ------------------------------------------------------------------

    def start(self, redirect_uri: str, *, request_id: str | None = None) -> Redirect:
        """The provider's authorization URL for a new pending sign-in; ``SignInRefused``
        (``provider_unavailable``, audited) if its metadata cannot be read."""
        try:
            metadata = self.metadata()
        except _Refused as exc:
            raise self.accounts.refuse_linked(exc.reason, request_id=request_id) from None
        state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
        verifier = generate_token(64)
        with self._client(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                metadata.authorization_endpoint, state=state, code_verifier=verifier, nonce=nonce
            )
        now = self.accounts.clock()
        with self.accounts.store.begin() as tx:
            tx.conn.execute(
                delete(operator_sign_ins).where(operator_sign_ins.c.created_at < now - PENDING_FOR)
            )
            tx.conn.execute(
                insert(operator_sign_ins).values(
                    state_hash=_digest(state),
                    nonce=nonce,
                    code_verifier=verifier,
                    redirect_uri=redirect_uri,
                    created_at=now,
                )
            )
        return Redirect(str(url), state)

    def finish(
        self,
        *,
        held_state: str | None,
        state: str | None,
        code: str | None,
        error: str | None = None,
        request_id: str | None = None,
    ) -> Session:
        """The session of the account the provider's verified answer names, or
        ``SignInRefused`` with the reason of the first check that failed (all audited)."""
        try:
            subject = self._verified_subject(held_state, state, code, error)
        except _Refused as exc:
            raise self.accounts.refuse_linked(exc.reason, request_id=request_id) from None
        return self.accounts.sign_in_linked(self.settings.issuer, subject, request_id=request_id)

    def _verified_subject(
        self, held_state: str | None, state: str | None, code: str | None, error: str | None
    ) -> str:
        if not held_state:
            raise _Refused("state")
        pending = self._pending(held_state)  # ended by any answer, whatever it is
        if not state or not secrets.compare_digest(held_state, state):
            raise _Refused("state")
        nonce, verifier, redirect_uri = pending
        if error:
            raise _Refused("provider_error")
        if not code:
            raise _Refused("malformed")
        metadata = self.metadata()
        token = self._token(metadata, code, verifier, redirect_uri)
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise _Refused("no_id_token")
        access_token = token.get("access_token")
        claims = self._id_token(
            metadata, id_token, nonce, access_token if isinstance(access_token, str) else None
        )
        subject = claims.get(self.settings.subject_claim)
        if not isinstance(subject, str) or not 0 < len(subject) <= 255:
            raise _Refused("malformed")
        return subject

    def _pending(self, state: str) -> tuple[str, str, str]:
        """The pending sign-in of ``state``, deleted: it is used once, and only in time."""
        with self.accounts.store.begin() as tx:
            mine = operator_sign_ins.c.state_hash == _digest(state)
            row = tx.conn.execute(operator_sign_ins.select().where(mine)).first()
            # Two answers racing for one sign-in: the second waits on the first's delete,
            # then deletes nothing.
            if row is None or tx.conn.execute(delete(operator_sign_ins).where(mine)).rowcount != 1:
                raise _Refused("state")
        if self.accounts.clock() - row.created_at > PENDING_FOR:
            raise _Refused("state_expired")
        return row.nonce, row.code_verifier, row.redirect_uri

    # --- the provider ------------------------------------------------------------------

    def _client(self, redirect_uri: str) -> OAuth2Client:
        secret = self.settings.client_secret
        return OAuth2Client(
            client_id=self.settings.client_id,
            client_secret=secret.get_secret_value() if secret else None,
            token_endpoint_auth_method="client_secret_basic" if secret else "none",
            scope=" ".join(self.settings.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            timeout=self.settings.timeout,
        )

    def _token(
        self, metadata: ProviderMetadata, code: str, verifier: str, redirect_uri: str
    ) -> dict[str, Any]:
        try:
            with self._client(redirect_uri) as client:
                token = client.fetch_token(
                    metadata.token_endpoint,
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=verifier,
                )
        except (OAuthError, httpx2.HTTPError, ValueError) as exc:
            log.warning("token request to %s refused: %s", metadata.issuer, type(exc).__name__)
            raise _Refused("token_request") from None
        return dict(token)

    def metadata(self) -> ProviderMetadata:
        """The provider's discovery document, kept for ``cache_ttl``; one that names
        another issuer than the configured one is refused (OpenID Connect Discovery §4.3)."""
        with self._lock:
            fresh = self.monotonic() - self._fetched_at <= self.settings.cache_ttl
            if self._metadata is not None and fresh:
                return self._metadata
            where = f"{self.settings.issuer.rstrip('/')}/.well-known/openid-configuration"
            try:
                response = self.http.get(where, timeout=self.settings.timeout)
                response.raise_for_status()
                document = response.json()
                metadata = ProviderMetadata(
                    issuer=document["issuer"],
                    authorization_endpoint=document["authorization_endpoint"],
                    token_endpoint=document["token_endpoint"],
                    jwks_uri=document["jwks_uri"],
                    cache_ttl=self.settings.cache_ttl,
                    refetch_interval=self.settings.refetch_interval,
                    timeout=self.settings.timeout,
                )
            except (httpx.HTTPError, ValueError, KeyError, TypeError) as exc:
                log.warning("metadata of %s not read: %s", self.settings.issuer, exc)
                if self._metadata is not None:  # an outage is not a change of provider
                    return self._metadata
                raise _Refused("provider_unavailable") from None
            if metadata.issuer != self.settings.issuer:
                log.warning("metadata at %s names issuer %r", where, metadata.issuer)
                raise _Refused("provider_unavailable")
            if self._jwks is None or self._jwks.idp.jwks_uri != metadata.jwks_uri:
                self._jwks = RemoteJwks(metadata, self.http, self.monotonic)
            self._metadata, self._fetched_at = metadata, self.monotonic()
            return metadata

    def _id_token(
        self,
        metadata: ProviderMetadata,
        id_token: str,
        nonce: str,
        access_token: str | None,
    ) -> dict[str, Any]:
        if len(id_token) > MAX_ID_TOKEN:
            raise _Refused("malformed")
        try:
            compact = jws.extract_compact(id_token.encode("ascii"))
            claims = json.loads(compact.payload)
        except (JoseError, ValueError):
            raise _Refused("malformed") from None
        header = compact.headers()
        if not isinstance(claims, dict) or "crit" in header or "b64" in header:
            raise _Refused("malformed")
        alg, kid = header.get("alg"), header.get("kid")
        if not isinstance(alg, str) or alg not in self.settings.algorithms:
            raise _Refused("bad_alg")
        if not isinstance(kid, str) or not kid:
            raise _Refused("unknown_key")
        if self._jwks is None:  # made with the metadata: never so
            raise _Refused("jwks_unavailable")
        try:
            key = self._jwks.find(kid)
        except TokenInvalid as exc:
            raise _Refused(exc.reason) from None
        if key is None:
            raise _Refused("unknown_key")
        try:
            if not jws.validate_compact(compact, key, algorithms=[alg]):
                raise _Refused("bad_signature")
        except JoseError:
            raise _Refused("bad_alg") from None
        checked = CodeIDToken(
            claims,
            header,
            {
                "iss": {"essential": True, "value": metadata.issuer},
                "aud": {"essential": True, "value": self.settings.client_id},
            },
            {"nonce": nonce, "client_id": self.settings.client_id, "access_token": access_token},
        )
        try:
            checked.validate(
                now=int(self.accounts.clock().timestamp()), leeway=self.settings.leeway
            )
        except ExpiredTokenError:
            raise _Refused("expired") from None
        except MissingClaimError as exc:
            raise _Refused("wrong_nonce" if exc.claim == "nonce" else "malformed") from None
        except InvalidClaimError as exc:
            raise _Refused(_CLAIM_REASONS.get(exc.claim, "malformed")) from None
        return claims
