"""Verifying access tokens: the hub's own, and those of a trusted external identity provider.

The checks run in an order that never trusts the token before its signature is checked
except to pick the key: the algorithm must be on the issuer's allow-list (so ``none`` and
HS256-signed-with-our-public-key fail before any key is touched), the key comes from the
hub's keys or the provider's JWKS by ``kid`` alone (never from ``jku``/``jwk`` headers),
then the signature, then the claims with a small leeway, then the client in the registry:
a revoked client's tokens stop working at once, however long they still had to live.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from joserfc import jws
from joserfc.errors import (
    ExpiredTokenError,
    InvalidClaimError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import ECKey, KeySet, OKPKey, RSAKey
from joserfc.jwt import JWTClaimsRegistry

from hub.auth.clients import RESERVED_CLAIMS, Client, ClientRegistry
from hub.auth.errors import TokenInvalid
from hub.auth.keys import ALG, SigningKeys
from hub.auth.settings import AuthSettings, ExternalIdP

log = logging.getLogger(__name__)

AT_JWT_TYPES = frozenset({"at+jwt", "application/at+jwt"})
MAX_TOKEN_BYTES = 8192
PublicKey = RSAKey | ECKey | OKPKey


@dataclass(frozen=True, slots=True)
class AccessContext:
    """Who is calling, with what rights: the result of a verified token."""

    client_id: str
    subject: str
    scopes: frozenset[str]
    claims: dict[str, Any]
    """Every claim of the verified token."""
    policy_id: str
    token_id: str
    issuer: str = ""
    expires_at: int = 0
    jurisdiction: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Grid, beat and area codes the caller's policy rows are scoped by (``policies.Claims``)."""


@dataclass(frozen=True, slots=True)
class _Verified:
    """A token whose signature and claims held when it was first verified."""

    header: dict[str, Any]
    claims: dict[str, Any]
    external: ExternalIdP | None


class JwksSettings(Protocol):
    """Where a provider's JWKS is and how long it is kept (``ExternalIdP`` is one)."""

    @property
    def issuer(self) -> str: ...
    @property
    def jwks_uri(self) -> str: ...
    @property
    def cache_ttl(self) -> float: ...
    @property
    def refetch_interval(self) -> float: ...
    @property
    def timeout(self) -> float: ...


class RemoteJwks:
    """An identity provider's JWKS, fetched with httpx and kept for ``cache_ttl``; fetched
    again early when a token names a kid we do not hold, at most every ``refetch_interval``."""

    def __init__(
        self, idp: JwksSettings, http: httpx.Client, now: Callable[[], float] = time.monotonic
    ) -> None:
        self.idp = idp
        self.http = http
        self.now = now
        self._lock = threading.Lock()
        self._keys: dict[str, PublicKey] | None = None
        self._fetched_at = 0.0
        self._tried_at: float | None = None

    def find(self, kid: str) -> PublicKey | None:
        with self._lock:
            stale = self._keys is None or self.now() - self._fetched_at > self.idp.cache_ttl
            if stale or (self._keys is not None and kid not in self._keys and self._may_refetch()):
                self._fetch()
            if self._keys is None:
                raise TokenInvalid("jwks_unavailable", self.idp.jwks_uri)
            return self._keys.get(kid)

    def _may_refetch(self) -> bool:
        return self._tried_at is None or self.now() - self._tried_at >= self.idp.refetch_interval

    def _fetch(self) -> None:
        """Fetch the JWKS; on failure keep the keys we had (an outage is not a rotation)."""
        self._tried_at = self.now()
        try:
            response = self.http.get(self.idp.jwks_uri, timeout=self.idp.timeout)
            response.raise_for_status()
            key_set = KeySet.import_key_set(response.json())
        except (httpx.HTTPError, JoseError, ValueError, KeyError, TypeError) as exc:
            log.warning("JWKS of %s not fetched: %s", self.idp.issuer, exc)
            return
        self._keys = {
            key.kid: key
            for key in key_set
            if isinstance(key, PublicKey) and key.kid and key.get("use") in (None, "sig")
        }
        self._fetched_at = self._tried_at


class TokenVerifier:
    def __init__(
        self,
        settings: AuthSettings,
        keys: SigningKeys,
        registry: ClientRegistry,
        *,
        http: httpx.Client | None = None,
        now: Callable[[], float] = time.time,
        cache_size: int = 10_000,
    ) -> None:
        self.settings = settings
        self.keys = keys
        self.registry = registry
        self.now = now
        self.remote: RemoteJwks | None = None
        self._owned_http: httpx.Client | None = None
        self.cache_size = cache_size
        self._verified: dict[str, _Verified] = {}
        if settings.external is not None:
            if http is None:
                http = self._owned_http = httpx.Client()
            self.remote = RemoteJwks(settings.external, http)

    def close(self) -> None:
        """Close the HTTP client the verifier made for itself (not one it was given)."""
        if self._owned_http is not None:
            self._owned_http.close()

    def verify_access_token(self, token: str) -> AccessContext:
        """The caller's context, or ``TokenInvalid`` with a stable reason word.

        A token whose signature and claims once held is remembered until it expires
        (``_Verified``): asked again, only what can change in its lifetime is checked
        again, which is its expiry, whether its signing key is still published, and the
        client in the registry, so a revocation still bites on the very next request."""
        known = self._verified.get(token)
        if known is None:
            known = self._verify(token)
        elif int(self.now()) > known.claims["exp"] + self.settings.leeway:
            self._verified.pop(token, None)
            raise TokenInvalid("expired")
        else:
            self._key(known.header, known.external)
        claims = dict(known.claims)
        if known.external is None:
            return self._hub_context(claims)
        return self._external_context(claims, known.external)

    def _verify(self, token: str) -> _Verified:
        compact, header, claims = _parse(token)
        external = self._source(header, claims)
        key = self._key(header, external)
        try:
            valid = jws.validate_compact(compact, key, algorithms=[header["alg"]])
        except JoseError as exc:
            raise TokenInvalid(
                "bad_alg", f"key {header['kid']} does not fit {header['alg']}"
            ) from exc
        if not valid:
            raise TokenInvalid("bad_signature")
        self._check_claims(claims, external)
        verified = _Verified(header, claims, external)
        self._remember(token, verified)
        return verified

    def _remember(self, token: str, verified: _Verified) -> None:
        if len(self._verified) >= self.cache_size:
            now = int(self.now())
            for old, held in list(self._verified.items()):
                if now > held.claims["exp"] + self.settings.leeway:
                    self._verified.pop(old, None)
            while len(self._verified) >= self.cache_size:
                self._verified.pop(next(iter(self._verified)), None)
        self._verified[token] = verified

    __call__ = verify_access_token

    def _source(self, header: dict[str, Any], claims: dict[str, Any]) -> ExternalIdP | None:
        """Whose token this claims to be (the hub's: None); its signature decides if it is."""
        idp = self.settings.external
        allowed = {ALG, *(idp.algorithms if idp else ())}
        alg = header.get("alg")
        if not isinstance(alg, str) or alg not in allowed:
            raise TokenInvalid("bad_alg", str(alg)[:32])
        issuer = claims.get("iss")
        if issuer == self.settings.issuer:
            if header["alg"] != ALG:
                raise TokenInvalid("bad_alg", str(header["alg"]))
            external = None
        elif idp is not None and issuer == idp.issuer:
            if header["alg"] not in idp.algorithms:
                raise TokenInvalid("bad_alg", str(header["alg"]))
            external = idp
        else:
            raise TokenInvalid("wrong_issuer", str(issuer)[:256])
        typ = str(header.get("typ", "")).lower()
        if typ not in AT_JWT_TYPES and (external is None or external.require_at_jwt):
            raise TokenInvalid("wrong_type", f"typ {header.get('typ')!r} is not at+jwt")
        return external

    def _key(self, header: dict[str, Any], external: ExternalIdP | None) -> PublicKey:
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise TokenInvalid("unknown_key", "no kid")
        key: PublicKey | None = None
        if external is None:
            key = self.keys.find(kid)
        elif self.remote is not None:
            key = self.remote.find(kid)
        if key is None:
            raise TokenInvalid("unknown_key", kid[:64])
        return key

    def _check_claims(self, claims: dict[str, Any], external: ExternalIdP | None) -> None:
        for name in ("exp", "nbf", "iat"):
            value = claims.get(name)
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int | float)
            ):
                raise TokenInvalid("malformed", f"{name} is not a NumericDate")
        essential = ["exp", "sub"] + ([] if external else ["iat", "jti", "client_id", "policy"])
        registry = JWTClaimsRegistry(
            now=lambda: int(self.now()),
            leeway=self.settings.leeway,
            iss={"essential": True, "value": external.issuer if external else self.settings.issuer},
            aud={
                "essential": True,
                "value": external.audience if external else self.settings.audience,
            },
            **{name: {"essential": True} for name in essential},  # type: ignore[arg-type]
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError:
            raise TokenInvalid("expired") from None
        except MissingClaimError as exc:
            raise TokenInvalid("malformed", f"missing {exc.claim}") from None
        except InvalidClaimError as exc:
            word = {
                "iss": "wrong_issuer",
                "aud": "wrong_audience",
                "nbf": "not_yet_valid",
                "iat": "not_yet_valid",
            }.get(exc.claim, "malformed")
            raise TokenInvalid(word, exc.claim) from None  # type: ignore[arg-type]

    def _client(self, client_id: Any) -> Client:
        client = self.registry.get(client_id) if isinstance(client_id, str) and client_id else None
        if client is None:
            raise TokenInvalid("unknown_client", str(client_id)[:64])
        if client.revoked:
            raise TokenInvalid("revoked", client.client_id)
        return client

    def _hub_context(self, claims: dict[str, Any]) -> AccessContext:
        if claims["client_id"] != claims["sub"] or not isinstance(claims.get("scope", ""), str):
            raise TokenInvalid("malformed", "client_id/sub/scope")
        client = self._client(claims["client_id"])
        jurisdiction = {
            name: tuple(value)
            for name, value in claims.items()
            if name not in RESERVED_CLAIMS
            and isinstance(value, list)
            and all(isinstance(v, str) for v in value)
        }
        return AccessContext(
            client_id=client.client_id,
            subject=str(claims["sub"]),
            scopes=frozenset(claims.get("scope", "").split()),
            claims=claims,
            policy_id=str(claims["policy"]),
            token_id=str(claims["jti"]),
            issuer=str(claims["iss"]),
            expires_at=int(claims["exp"]),
            jurisdiction=jurisdiction,
        )

    def _external_context(self, claims: dict[str, Any], idp: ExternalIdP) -> AccessContext:
        """The provider vouches for who the client is; what it may do and see (scopes
        within its registration, policy, jurisdiction) comes from our registry."""
        client = self._client(_first(claims, idp.client_claims))
        granted = _first(claims, idp.scope_claims) or ""
        if isinstance(granted, str):
            granted = granted.split()
        asked = {s for s in granted if isinstance(s, str)} if isinstance(granted, list) else set()
        return AccessContext(
            client_id=client.client_id,
            subject=str(claims.get(idp.subject_claim) or claims["sub"]),
            scopes=frozenset(asked & client.scopes),
            claims=claims,
            policy_id=client.policy_id,
            token_id=str(claims.get("jti", "")),
            issuer=str(claims["iss"]),
            expires_at=int(claims["exp"]),
            jurisdiction=dict(client.claims),
        )


def _first(claims: dict[str, Any], names: tuple[str, ...]) -> Any:
    """The value of the first of ``names`` the claims hold (and not empty)."""
    return next((claims[name] for name in names if claims.get(name)), None)


def _parse(token: str) -> tuple[Any, dict[str, Any], dict[str, Any]]:
    if not isinstance(token, str) or not token or len(token) > MAX_TOKEN_BYTES:
        raise TokenInvalid("malformed", "not a compact JWS of sane size")
    try:
        compact = jws.extract_compact(token.encode("ascii"))
        claims = json.loads(compact.payload)
    except (JoseError, ValueError) as exc:
        raise TokenInvalid("malformed", type(exc).__name__) from None
    header = compact.headers()
    if not isinstance(claims, dict):
        raise TokenInvalid("malformed", "claims are not a JSON object")
    if "crit" in header or "b64" in header:
        raise TokenInvalid("malformed", "crit/b64 headers are not accepted")
    return compact, header, claims
