"""``require_scope`` over real HTTP: 401 with a Bearer challenge, 403 for a missing scope,
and the caller's context when all is well; a full round trip on each backend."""

from __future__ import annotations

from hub.auth import NewClient
from tests.auth.support import Hub, mint

GRID = {"grid_codes": ["G3201040101"]}


def get_token(hub: Hub, new: NewClient, scope: str) -> str:
    assert new.secret is not None
    response = hub.http.post(
        "/oauth/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(new.client.client_id, new.secret),
    )
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


def test_round_trip_token_then_api_then_revocation(any_hub: Hub) -> None:
    hub = any_hub
    new = hub.registry.add("网格", "grid-platform", ["person.read", "incident.write"], GRID)
    token = get_token(hub, new, "person.read")
    response = hub.http.get("/people", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert response.json() == {
        "client_id": new.client.client_id,
        "policy": "grid-platform",
        "grid": {"grid_codes": ["G3201040101"]},
    }
    hub.registry.revoke(new.client.client_id)
    response = hub.http.get("/people", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert 'error="invalid_token"' in response.headers["www-authenticate"]
    assert 'error_description="revoked"' in response.headers["www-authenticate"]


def test_missing_bad_and_insufficient_tokens(hub: Hub) -> None:
    new = hub.registry.add("网格", "grid-platform", ["person.read", "incident.write"], GRID)

    missing = hub.http.get("/people")
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="hub"'

    basic = hub.http.get("/people", auth=("a", "b"))
    assert basic.status_code == 401

    expired = mint(hub, new.client, exp=int(hub.clock()) - 120)
    refused = hub.http.get("/people", headers={"Authorization": f"Bearer {expired}"})
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == (
        'Bearer realm="hub", error="invalid_token", error_description="expired"'
    )

    narrow = get_token(hub, new, "incident.write")
    forbidden = hub.http.get("/people", headers={"Authorization": f"Bearer {narrow}"})
    assert forbidden.status_code == 403
    assert forbidden.headers["www-authenticate"] == (
        'Bearer realm="hub", error="insufficient_scope", scope="person.read"'
    )


def test_the_openapi_document_offers_client_credentials(hub: Hub) -> None:
    schemes = hub.http.get("/openapi.json").json()["components"]["securitySchemes"]
    flow = schemes["hub-oauth"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/oauth/token"
    assert "person.read" in flow["scopes"]
