"""``verify_access_token`` refuses every kind of bad token with a stable reason word."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from joserfc.jwk import ECKey

from hub.auth import Client, TokenInvalid
from tests.auth.support import Hub, keyed_client, mint


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(
    header: dict[str, Any], claims: dict[str, Any], sign: Callable[[bytes], bytes]
) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64(sign(signing_input.encode()))}"


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    return dict(json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))))


def forged_signature(hub: Hub, client: Client) -> str:
    impostor = ECKey.generate_key("P-256", parameters={"kid": hub.keys.active().kid})
    return mint(hub, client, key=impostor)


def tampered_payload(hub: Hub, client: Client) -> str:
    header, _, signature = mint(hub, client).split(".")
    wider = claims_of(mint(hub, client, scope="person.read person.write"))
    return f"{header}.{b64(json.dumps(wider).encode())}.{signature}"


def alg_none(hub: Hub, client: Client) -> str:
    header = {"alg": "none", "typ": "at+jwt", "kid": hub.keys.active().kid}
    return hand_made(header, claims_of(mint(hub, client)), lambda _: b"")


def hs256_with_public_key(hub: Hub, client: Client) -> str:
    """The classic confusion: HMAC keyed with the public key anyone can download."""
    active = hub.keys.active()
    secret = active.key.as_pem(private=False)
    header = {"alg": "HS256", "typ": "at+jwt", "kid": active.kid}
    return hand_made(
        header,
        claims_of(mint(hub, client)),
        lambda data: hmac.new(secret, data, hashlib.sha256).digest(),
    )


CASES: dict[str, tuple[Callable[[Hub, Client], str], str]] = {
    "forged signature": (forged_signature, "bad_signature"),
    "tampered payload": (tampered_payload, "bad_signature"),
    "expired": (lambda h, c: mint(h, c, exp=int(h.clock()) - 31), "expired"),
    "not yet valid": (lambda h, c: mint(h, c, nbf=int(h.clock()) + 60), "not_yet_valid"),
    "issued in the future": (lambda h, c: mint(h, c, iat=int(h.clock()) + 60), "not_yet_valid"),
    "wrong audience": (lambda h, c: mint(h, c, aud="https://other.test/api"), "wrong_audience"),
    "wrong issuer": (lambda h, c: mint(h, c, iss="https://evil.test"), "wrong_issuer"),
    "alg none": (alg_none, "bad_alg"),
    "HS256 keyed with the public key": (hs256_with_public_key, "bad_alg"),
    "alg a list": (
        lambda h, c: hand_made({"alg": ["ES256"], "typ": "at+jwt"}, {}, lambda _: b"x"),
        "bad_alg",
    ),
    "unknown kid": (lambda h, c: mint(h, c, header={"kid": "nobody"}), "unknown_key"),
    "no kid": (lambda h, c: mint(h, c, header={"kid": None}), "unknown_key"),
    "typ missing": (lambda h, c: mint(h, c, header={"typ": None}), "wrong_type"),
    "typ JWT": (lambda h, c: mint(h, c, header={"typ": "JWT"}), "wrong_type"),
    "jti missing": (lambda h, c: mint(h, c, drop=("jti",)), "malformed"),
    "exp not a number": (lambda h, c: mint(h, c, exp="tomorrow"), "malformed"),
    "not a JWS": (lambda h, c: "not.a.token", "malformed"),
    "empty": (lambda h, c: "", "malformed"),
    "unregistered client": (
        lambda h, c: mint(h, c, sub="cl_ghost", client_id="cl_ghost"),
        "unknown_client",
    ),
}


@pytest.mark.parametrize(("make", "reason"), CASES.values(), ids=CASES.keys())
def test_bad_tokens_are_refused_with_their_reason(
    hub: Hub, make: Callable[[Hub, Client], str], reason: str
) -> None:
    token = make(hub, keyed_client(hub, claims={"grid_codes": ["G1"]}))
    with pytest.raises(TokenInvalid) as caught:
        hub.verifier.verify_access_token(token)
    assert caught.value.reason == reason


def test_revocation_is_immediate_and_the_leeway_is_small(hub: Hub) -> None:
    client = keyed_client(hub, claims={"grid_codes": ["G1"]})
    token = mint(hub, client)
    not_before_soon = mint(hub, client, nbf=int(hub.clock()) + 20)
    assert hub.verifier.verify_access_token(not_before_soon).client_id == client.client_id
    hub.clock.advance(300 + 29)
    assert hub.verifier.verify_access_token(token).scopes == {"person.read"}
    hub.registry.revoke(client.client_id)
    with pytest.raises(TokenInvalid) as caught:
        hub.verifier.verify_access_token(token)
    assert caught.value.reason == "revoked"


def test_a_remembered_token_is_checked_again_for_what_can_change(hub: Hub) -> None:
    """A verified token is remembered until it expires; each use still checks its expiry
    and its client (revocation bites at once), and the memory is bounded."""
    client = keyed_client(hub, claims={"grid_codes": ["G1"]})
    token = mint(hub, client, exp=int(hub.clock()) + 60)
    first = hub.verifier.verify_access_token(token)
    assert token in hub.verifier._verified
    assert hub.verifier.verify_access_token(token) == first
    hub.clock.advance(60 + hub.settings.leeway + 1)
    with pytest.raises(TokenInvalid) as caught:
        hub.verifier.verify_access_token(token)
    assert caught.value.reason == "expired"
    assert token not in hub.verifier._verified

    hub.verifier.cache_size = 2
    tokens = [mint(hub, client, jti=f"t{n}") for n in range(3)]
    for each in tokens:
        hub.verifier.verify_access_token(each)
    assert len(hub.verifier._verified) <= 2
    assert all(hub.verifier.verify_access_token(each).client_id for each in tokens)
    hub.registry.revoke(client.client_id)
    for each in tokens:
        with pytest.raises(TokenInvalid) as caught:
            hub.verifier.verify_access_token(each)
        assert caught.value.reason == "revoked"
