"""The token endpoint: client_secret_basic and private_key_jwt, the RFC 6749 refusals, and
an audit event for every token issued or refused."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from authlib.oauth2.rfc8414 import AuthorizationServerMetadata  # type: ignore[import-untyped]
from joserfc import jws, jwt
from joserfc.jwk import OKPKey, RSAKey

from hub.auth import NewClient
from tests.auth.support import AUDIT_EVENT_FIELDS, Hub

GRID = {"grid_codes": ["G3201040101", "G3201040102"], "beat_codes": ["B0101"]}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def secret_client(
    hub: Hub, scopes: tuple[str, ...] = ("person.read", "incident.write")
) -> NewClient:
    return hub.registry.add("社区网格平台", "grid-platform", scopes, GRID)


def token_request(hub: Hub, new: NewClient, **form: str) -> Any:
    assert new.secret is not None
    data = {"grant_type": "client_credentials", **form}
    return hub.http.post("/oauth/token", data=data, auth=(new.client.client_id, new.secret))


def assertion(client_id: str, key: Any, alg: str, aud: str, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": client_id, "sub": client_id, "aud": aud, "iat": now, "exp": now + 60}
    body["jti"] = uuid.uuid4().hex
    return jwt.encode({"alg": alg, "kid": key.kid}, {**body, **claims}, key, algorithms=[alg])


def test_client_secret_basic_gets_an_rfc9068_token_that_verifies(hub: Hub) -> None:
    new = secret_client(hub)
    response = token_request(hub, new, scope="person.read")
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"  # noqa: S105
    assert body["expires_in"] == 300
    assert body["scope"] == "person.read"
    assert "refresh_token" not in body

    header = jws.extract_compact(body["access_token"].encode()).headers()
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "ES256"
    assert header["kid"] in {
        k["kid"] for k in hub.http.get("/.well-known/jwks.json").json()["keys"]
    }

    ctx = hub.verifier.verify_access_token(body["access_token"])
    assert ctx.client_id == ctx.subject == new.client.client_id
    assert ctx.scopes == {"person.read"}
    assert ctx.policy_id == "grid-platform"
    assert ctx.jurisdiction == {k: tuple(v) for k, v in GRID.items()}
    claims = ctx.claims
    assert claims["iss"] == "https://hub.test"
    assert claims["aud"] == "https://hub.test/api"
    assert claims["exp"] - claims["iat"] == 300
    assert claims["nbf"] == claims["iat"]
    assert claims["policy"] == "grid-platform"

    (issued,) = hub.events
    assert set(issued) <= AUDIT_EVENT_FIELDS
    assert issued["action"] == "token.issued"
    assert issued["client_id"] == new.client.client_id
    assert issued["policy_id"] == "grid-platform"
    assert issued["detail"]["token_id"] == ctx.token_id
    assert issued["detail"]["scopes"] == ["person.read"]
    assert issued["detail"]["auth_method"] == "client_secret_basic"


def test_no_scope_asked_means_every_scope_of_the_client(hub: Hub) -> None:
    response = token_request(hub, secret_client(hub))
    assert response.status_code == 200
    assert response.json()["scope"] == "incident.write person.read"


@pytest.mark.parametrize(
    ("kind", "alg", "aud"),
    [
        ("OKP", "Ed25519", "https://hub.test/oauth/token"),
        ("RSA", "RS256", "https://hub.test"),
    ],
)
def test_private_key_jwt_client_gets_a_token_once_per_assertion(
    hub: Hub, kind: str, alg: str, aud: str
) -> None:
    key: Any = OKPKey.generate_key("Ed25519", auto_kid=True)
    if kind == "RSA":
        key = RSAKey.generate_key(2048, auto_kid=True)
    jwks = {"keys": [key.as_dict(private=False)]}
    new = hub.registry.add("派出所警务平台", "police-station", ["person.read"], GRID, jwks=jwks)
    assert new.secret is None
    signed = assertion(new.client.client_id, key, alg, aud)
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }
    response = hub.http.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    ctx = hub.verifier.verify_access_token(response.json()["access_token"])
    assert ctx.policy_id == "police-station"
    assert hub.issued()[0]["detail"]["auth_method"] == "private_key_jwt"

    replay = hub.http.post("/oauth/token", data=form)
    assert replay.json()["error"] == "invalid_client"
    refused = hub.refused()[-1]
    assert refused["client_id"] == new.client.client_id
    assert refused["detail"]["reason"] == "bad_credentials"


def _forged_assertions(hub: Hub) -> list[tuple[str, str]]:
    key = OKPKey.generate_key("Ed25519", auto_kid=True)
    other = OKPKey.generate_key("Ed25519", parameters={"kid": key.kid or ""})
    new = hub.registry.add("p", "police-station", ["person.read"], jwks={"keys": [key.as_dict()]})
    cid = new.client.client_id
    endpoint = "https://hub.test/oauth/token"
    return [
        (cid, assertion(cid, other, "Ed25519", endpoint)),  # not the registered key
        (cid, assertion(cid, key, "Ed25519", "https://elsewhere.test")),  # wrong audience
        (cid, assertion(cid, key, "Ed25519", endpoint, exp=int(time.time()) - 120)),  # expired
        (cid, assertion(cid, key, "Ed25519", endpoint, exp=int(time.time()) + 3600)),  # too long
        (cid, assertion(cid, key, "Ed25519", endpoint, iss="someone-else")),  # iss != sub
    ]


def test_bad_client_assertions_are_refused(hub: Hub) -> None:
    for cid, signed in _forged_assertions(hub):
        form = {
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": signed,
        }
        response = hub.http.post("/oauth/token", data=form)
        assert response.json()["error"] == "invalid_client", signed
        assert hub.refused()[-1]["client_id"] == cid
    assert not hub.issued()


def test_a_secret_client_cannot_switch_to_assertions(hub: Hub) -> None:
    new = secret_client(hub)
    key = OKPKey.generate_key("Ed25519", auto_kid=True)
    signed = assertion(new.client.client_id, key, "Ed25519", "https://hub.test")
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": signed,
    }
    assert hub.http.post("/oauth/token", data=form).json()["error"] == "invalid_client"


REFUSALS = [
    # (case, status, RFC 6749 error, audit reason)
    ("wrong_secret", 401, "invalid_client", "bad_credentials"),
    ("unknown_client", 401, "invalid_client", "unknown_client"),
    ("revoked", 401, "invalid_client", "revoked"),
    ("no_credentials", 401, "invalid_client", "no_credentials"),
    ("unsupported_grant", 400, "unsupported_grant_type", "unsupported_grant_type"),
    ("scope_not_granted", 400, "invalid_scope", "invalid_scope"),
    ("unknown_scope", 400, "invalid_scope", "invalid_scope"),
    ("repeated_parameter", 400, "invalid_request", "invalid_request"),
    ("json_body", 400, "invalid_request", "invalid_request"),
]


@pytest.mark.parametrize(
    ("case", "status", "error", "reason"), REFUSALS, ids=[r[0] for r in REFUSALS]
)
def test_refusals_use_rfc6749_errors_and_are_audited(
    hub: Hub, case: str, status: int, error: str, reason: str
) -> None:
    new = secret_client(hub)
    cid, secret = new.client.client_id, new.secret
    assert secret is not None
    form: Any = {"grant_type": "client_credentials"}
    auth: tuple[str, str] | None = (cid, secret)
    post: dict[str, Any] = {}
    if case == "wrong_secret":
        auth = (cid, secret + "x")
    elif case == "unknown_client":
        auth = ("cl_nobody", secret)
    elif case == "revoked":
        hub.registry.revoke(cid)
    elif case == "no_credentials":
        auth = None
    elif case == "unsupported_grant":
        form = {"grant_type": "password", "username": "u", "password": "p"}
    elif case == "scope_not_granted":
        form["scope"] = "person.read audit.read"
    elif case == "unknown_scope":
        form["scope"] = "person.delete"
    elif case == "repeated_parameter":
        form = [("grant_type", "client_credentials"), ("scope", "person.read")] * 2
    elif case == "json_body":
        post = {"json": form}
    request: dict[str, Any] = post or {"data": form}
    if case == "repeated_parameter":
        request = {"content": "&".join(f"{k}={v}" for k, v in form)}
        request["headers"] = {"content-type": "application/x-www-form-urlencoded"}
    if auth is not None:
        request["auth"] = auth
    response = hub.http.post("/oauth/token", **request)

    assert response.status_code == status, response.text
    assert response.json()["error"] == error
    if status == 401:
        assert response.headers["www-authenticate"].startswith("Basic ")
    assert not hub.issued()
    (refused,) = hub.refused()
    assert set(refused) <= AUDIT_EVENT_FIELDS
    assert refused["outcome"] == "denied"
    assert refused["detail"]["error"] == error
    assert refused["detail"]["reason"] == reason
    expected_client = {"unknown_client": "cl_nobody", "no_credentials": None}.get(case, cid)
    assert refused["client_id"] == expected_client


def test_plain_http_is_refused(hub: Hub) -> None:
    new = secret_client(hub)
    assert new.secret is not None
    response = hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials"},
        auth=(new.client.client_id, new.secret),
        headers={"X-Forwarded-Proto": "http"},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "insecure_transport"
    assert hub.refused()[0]["detail"]["reason"] == "insecure_transport"


def test_metadata_follows_rfc8414(hub: Hub) -> None:
    document = hub.http.get("/.well-known/oauth-authorization-server").json()
    assert document["issuer"] == "https://hub.test"
    assert document["token_endpoint"] == "https://hub.test/oauth/token"  # noqa: S105
    assert document["jwks_uri"] == "https://hub.test/.well-known/jwks.json"
    assert document["grant_types_supported"] == ["client_credentials"]
    assert document["token_endpoint_auth_methods_supported"] == [
        "client_secret_basic",
        "private_key_jwt",
    ]
    assert "none" not in document["token_endpoint_auth_signing_alg_values_supported"]
    assert not any(
        a.startswith("HS") for a in document["token_endpoint_auth_signing_alg_values_supported"]
    )
    assert {"person.read", "incident.write", "audit.read"} <= set(document["scopes_supported"])
    metadata = AuthorizationServerMetadata(document)
    for key in metadata.REGISTRY_KEYS:
        if key != "response_types_supported":  # empty on purpose: no authorization endpoint
            getattr(metadata, f"validate_{key}")()


def test_jwks_publishes_public_keys_only(hub: Hub) -> None:
    response = hub.http.get("/.well-known/jwks.json")
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    (key,) = response.json()["keys"]
    assert key["kty"] == "EC"
    assert key["crv"] == "P-256"
    assert key["alg"] == "ES256"
    assert key["use"] == "sig"
    assert "d" not in key
