"""Trusting an external identity provider: its JWKS served by a real loopback server,
fetched with httpx, cached, fetched again for a new kid; its tokens map to registered
clients, whose registration (not the provider) sets policy, scopes and jurisdiction."""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from hub.auth import ExternalIdP, TokenInvalid, TokenVerifier
from hub.reference.serve import serve_in_thread
from tests.auth.support import Hub, keyed_client, mint

IDP = "https://idp.test/realms/police"


@dataclass
class Provider:
    url: str
    keys: list[RSAKey]
    fetches: int = 0
    published: list[dict[str, Any]] = field(default_factory=list)

    def publish(self, *keys: RSAKey) -> None:
        self.published[:] = [k.as_dict(private=False) for k in keys]

    def token(self, key: RSAKey | None = None, alg: str = "RS256", **claims: Any) -> str:
        now = int(time.time())
        body = {
            "iss": IDP,
            "aud": "https://hub.test/api",
            "sub": "service-account-7",
            "iat": now,
            "exp": now + 300,
            "jti": f"idp-{now}",
            "scope": "person.read audit.read",
            **claims,
        }
        signer = key or self.keys[0]
        header = {"alg": alg, "typ": "at+jwt", "kid": signer.kid}
        return jwt.encode(header, body, signer, algorithms=[alg])


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    keys = [RSAKey.generate_key(2048, auto_kid=True) for _ in range(2)]
    state = Provider("", keys)
    app = FastAPI()

    @app.get("/certs")
    def certs() -> dict[str, Any]:
        state.fetches += 1
        return {"keys": state.published}

    with serve_in_thread(app) as server:
        state.url = server.url
        yield state


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client() as client:
        yield client


def verifier_for(hub: Hub, provider: Provider, http: httpx.Client, **options: Any) -> TokenVerifier:
    provider.publish(provider.keys[0])
    provider.fetches = 0
    idp = ExternalIdP(
        issuer=IDP,
        audience="https://hub.test/api",
        jwks_uri=f"{provider.url}/certs",
        **{"refetch_interval": 0, **options},
    )
    settings = hub.settings.model_copy(update={"external": idp})
    return TokenVerifier(settings, hub.keys, hub.registry, http=http, now=hub.clock)


def test_provider_tokens_map_to_registered_clients(
    hub: Hub, provider: Provider, http: httpx.Client
) -> None:
    verifier = verifier_for(hub, provider, http)
    client = keyed_client(hub, "police-station", claims={"beat_codes": ["B7"]})
    cid = client.client_id

    ctx = verifier.verify_access_token(provider.token(client_id=cid))
    assert ctx.client_id == cid
    assert ctx.subject == "service-account-7"
    assert ctx.issuer == IDP
    assert ctx.scopes == {"person.read"}  # audit.read is not in the registration
    assert ctx.policy_id == "police-station"
    assert ctx.jurisdiction == {"beat_codes": ("B7",)}
    assert verifier.verify_access_token(provider.token(azp=cid)).client_id == cid
    assert provider.fetches == 1  # cached
    hub_token = mint(hub, client)
    assert verifier.verify_access_token(hub_token).issuer == "https://hub.test"

    for token, reason in [
        (provider.token(client_id="cl_stranger"), "unknown_client"),
        (provider.token(), "unknown_client"),
        (provider.token(client_id=cid, aud="https://other.test"), "wrong_audience"),
        (provider.token(client_id=cid, exp=int(time.time()) - 60), "expired"),
        (provider.token(client_id=cid, iss="https://idp.test/realms/other"), "wrong_issuer"),
        (provider.token(key=provider.keys[1], client_id=cid), "unknown_key"),
    ]:
        with pytest.raises(TokenInvalid) as caught:
            verifier.verify_access_token(token)
        assert caught.value.reason == reason, token

    hub.registry.revoke(cid)
    with pytest.raises(TokenInvalid) as caught:
        verifier.verify_access_token(provider.token(client_id=cid))
    assert caught.value.reason == "revoked"


def test_a_new_provider_key_is_fetched_on_first_sight(
    hub: Hub, provider: Provider, http: httpx.Client
) -> None:
    verifier = verifier_for(hub, provider, http)
    cid = keyed_client(hub, "police-station").client_id
    assert verifier.verify_access_token(provider.token(client_id=cid)).client_id == cid
    provider.publish(*provider.keys)  # the provider rotates
    rotated = provider.token(key=provider.keys[1], client_id=cid)
    assert verifier.verify_access_token(rotated).client_id == cid
    assert provider.fetches == 2


def test_unknown_kids_cannot_make_the_verifier_flood_the_provider(
    hub: Hub, provider: Provider, http: httpx.Client
) -> None:
    verifier = verifier_for(hub, provider, http, refetch_interval=60)
    cid = keyed_client(hub, "police-station").client_id
    stranger = provider.token(key=provider.keys[1], client_id=cid)
    for _ in range(5):
        with pytest.raises(TokenInvalid):
            verifier.verify_access_token(stranger)
    assert provider.fetches == 1


def test_provider_hmac_and_unavailable_jwks_are_refused(
    hub: Hub, provider: Provider, http: httpx.Client
) -> None:
    verifier = verifier_for(hub, provider, http)
    cid = keyed_client(hub, "police-station").client_id
    hs = jwt.encode(
        {"alg": "HS256", "typ": "at+jwt", "kid": "k"},
        {"iss": IDP, "client_id": cid},
        OctKey.import_key(secrets.token_bytes(32)),
        algorithms=["HS256"],
    )
    with pytest.raises(TokenInvalid) as caught:
        verifier.verify_access_token(hs)
    assert caught.value.reason == "bad_alg"

    idp = ExternalIdP(issuer=IDP, audience="https://hub.test/api", jwks_uri="http://127.0.0.1:9/")
    settings = hub.settings.model_copy(update={"external": idp})
    offline = TokenVerifier(settings, hub.keys, hub.registry, http=http, now=hub.clock)
    with pytest.raises(TokenInvalid) as caught:
        offline.verify_access_token(provider.token(client_id=cid))
    assert caught.value.reason == "jwks_unavailable"


def test_a_provider_naming_clients_and_scopes_in_its_own_claims_is_mapped(
    hub: Hub, provider: Provider, http: httpx.Client
) -> None:
    """Azure-AD-like tokens: the client in ``appid``, scopes as a ``roles`` list, the
    person in ``preferred_username``. The mapping chooses claims; it never lets a claim
    widen what the registration grants."""
    verifier = verifier_for(
        hub,
        provider,
        http,
        client_claims=("appid",),
        scope_claims=("roles",),
        subject_claim="preferred_username",
    )
    client = keyed_client(hub, "police-station", claims={"beat_codes": ["B7"]})
    token = provider.token(
        appid=client.client_id,
        roles=["person.read", "audit.read"],
        scope="",
        preferred_username="officer-li",
        beat_codes=["B1", "B2"],
        policy="street-analyst",
    )
    ctx = verifier.verify_access_token(token)
    assert ctx.client_id == client.client_id
    assert ctx.subject == "officer-li"
    assert ctx.scopes == {"person.read"}
    assert ctx.policy_id == "police-station"
    assert ctx.jurisdiction == {"beat_codes": ("B7",)}
    with pytest.raises(TokenInvalid) as caught:  # client_id is no longer where it looks
        verifier.verify_access_token(provider.token(client_id=client.client_id))
    assert caught.value.reason == "unknown_client"
