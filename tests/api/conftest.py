"""A hub with the example policies, three partner clients and a synthetic world's people,
served by a real uvicorn server on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import Person
from hub.api import create_app
from hub.api.limits import RefusalLimits
from hub.auth import ClientRegistry, TokenLimits
from hub.config import HubConfig, load_config, open_store
from hub.reference.serve import serve_in_thread
from hub.reference.world import World, generate
from hub.sharing.ids import RecordIds
from tests.conftest import BACKENDS, hub_home

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
GRID = "G32010401011"
BEAT = "B3201040101"
GENEROUS = {
    "token_limits": TokenLimits(peer_rate=1000, peer_burst=1000, free_failures=1000),
    "refusal_limits": RefusalLimits(limit=10_000),
}
"""Limits the attack suite's ~130 refusals from loopback stay within."""


def pushed_incident(key: str, prefix: str, **changes: Any) -> dict[str, Any]:
    """One incident in the grid client's grid as a push names it, with ``changes``."""
    record = {
        "incident_id": f"{prefix}{key}",
        "incident_type": "矛盾纠纷",
        "reported_at": "2025-05-01T10:00:00+08:00",
        "channel": "居民上报",
        "address_code": "3201040101100001",
        "grid_code": GRID,
        "beat_code": BEAT,
        "description": "邻里噪音纠纷",
    }
    return {"source_key": key, "record": record | changes}


@dataclass(frozen=True)
class Partner:
    client_id: str
    secret: str


@dataclass
class Hub:
    config: HubConfig
    http: httpx.Client
    world: World
    partners: dict[str, Partner]

    def token(self, partner: str, scope: str | None = None) -> str:
        who = self.partners[partner]
        data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        answer = self.http.post("/oauth/token", data=data, auth=(who.client_id, who.secret))
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def audited_ids(self, partner: str, kind: str, items: list[dict[str, Any]]) -> list[str]:
        """The record ids an audit entry names for items a partner was given: the partner
        sees ids of its own, the log the hub's."""
        store = open_store(self.config)
        try:
            ids = RecordIds(store)
            client = self.partners[partner].client_id
            return [f"{kind}/{ids.decode(client, kind, item['id'])}" for item in items]
        finally:
            store.close()

    def get(self, partner: str, path: str, **params: str | int) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(partner)}"}
        return self.http.get(path, params=params, headers=headers)


@pytest.fixture(scope="module", params=BACKENDS)
def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """The hub on each backend: SQLite in its home, PostgreSQL in a database of its own."""
    with hub_home(request.param, tmp_path_factory.mktemp("hub")) as home, _serving(home) as hub:
        yield hub


@contextmanager
def _serving(home: Path) -> Iterator[Hub]:
    config = load_config(home)
    world = generate(people=400, seed=21)
    store = open_store(config)
    people = [Person.parse(p) for p in world.people]
    with store.begin() as tx:
        tx.upsert("police_db", [(f"R{n}", p) for n, p in enumerate(people)])
    registry = ClientRegistry(store)
    read = ["person.read", "house.read", "address.read", "incident.read", "visit.read"]
    added = {
        "grid": registry.add(
            "grid", "grid-platform", [*read, "incident.write"], {"grid_codes": [GRID]}
        ),
        "police": registry.add(
            "police", "police-station", [*read, "audit.read"], {"beat_codes": [BEAT]}
        ),
        "analyst": registry.add(
            "analyst",
            "street-analyst",
            ["person.read", "house.read"],
            {"grid_prefixes": ["G320104"]},
        ),
    }
    store.close()
    partners = {
        name: Partner(new.client.client_id, new.secret or "") for name, new in added.items()
    }
    with (
        serve_in_thread(create_app(config, rate=1000, burst=1000, **GENEROUS)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield Hub(config, http, world, partners)
