"""The hub's signing keys on each backend: sealed at rest, shared between processes, and
rotated without stranding a token that is still alive."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.auth import ClientRegistry, SigningKeys, TokenInvalid, TokenVerifier
from hub.auth.server import AccessTokenGenerator, OAuthClient
from hub.errors import KeyringError
from hub.store import Keyring, Store
from hub.store.tables import signing_keys
from tests.auth.support import SETTINGS, Clock


def test_rotation_keeps_old_tokens_verifiable_until_they_expire(store: Store, clock: Clock) -> None:
    registry = ClientRegistry(store)
    keys = SigningKeys(store, SETTINGS.token_lifetime, SETTINGS.leeway, now=clock)
    verifier = TokenVerifier(SETTINGS, keys, registry, now=clock)
    client = OAuthClient(registry.add("网格", "grid-platform", ["person.read"]).client)
    issue = AccessTokenGenerator(SETTINGS, keys, clock)

    old_kid = keys.active().kid
    old_token = issue("client_credentials", client)["access_token"]
    clock.advance(100)
    new_kid = keys.rotate().kid
    assert new_kid != old_kid
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new_kid, old_kid]
    assert verifier.verify_access_token(old_token).token_id

    new_token = issue("client_credentials", client)["access_token"]
    assert verifier.verify_access_token(new_token).claims["exp"] > 0
    clock.advance(229)  # the old token's last second (exp + leeway)
    assert verifier.verify_access_token(old_token).token_id
    clock.advance(2)
    with pytest.raises(TokenInvalid) as caught:
        verifier.verify_access_token(old_token)
    assert caught.value.reason == "expired"
    assert old_kid in [k["kid"] for k in keys.jwks()["keys"]]
    clock.advance(100)  # retired_at + lifetime + leeway: no token of the old key is alive
    assert [k["kid"] for k in keys.jwks()["keys"]] == [new_kid]
    assert keys.find(old_kid) is None


def test_keys_are_sealed_and_shared_between_processes(store: Store, clock: Clock) -> None:
    here = SigningKeys(store, now=clock)
    there = SigningKeys(Store(store.engine, store.keyring), now=clock)
    first = here.active()
    assert there.active().kid == first.kid
    assert there.find(first.kid) is not None

    rotated = there.rotate()
    assert here.active().kid == rotated.kid  # seen at once: the active key is read each time
    assert here.find(rotated.kid) is not None

    with store.engine.connect() as conn:
        row = conn.execute(select(signing_keys).where(signing_keys.c.kid == first.kid)).one()
    private_d = first.key.as_dict(private=True)["d"]
    assert private_d not in row.private_jwk
    assert "d" not in row.public_jwk
    stranger = SigningKeys(Store(store.engine, Keyring.generate()), now=clock)
    with pytest.raises(KeyringError):
        stranger.find(first.kid)
