"""A served hub for the work-order loop, on SQLite and PostgreSQL: the example policies, a
police station and a grid platform on each side of orders, bystanders, and a clock the
tests move (the hub's work-order time: steps, deadlines, overdue).

Partners (client, policy, claims):

- ``police``  police-station, beat B1: issues orders, closes and returns them
- ``police2`` police-station, beat B1: reads the same orders, is party to none of them
- ``grid``    grid-platform, grids G1 and G3: receives orders
- ``grid2``   grid-platform, grid G2: where orders are re-dispatched (转派)
- ``analyst`` street-analyst: takes no part in work orders
- ``revoked`` grid-platform, grid G1, revoked
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from contracts import OrderType
from hub.api import create_app
from hub.audit import AuditEvent, AuditLog
from hub.auth import ClientRegistry
from hub.config import HubConfig, load_config, open_store
from hub.reference.serve import serve_in_thread
from hub.sharing.ids import RecordIds
from hub.store import Store, StoredRecord
from hub.store.tables import outbox
from hub.work.sla import Sla, TypeSla
from tests.api.conftest import GENEROUS, Partner
from tests.conftest import BACKENDS, hub_home
from tests.data import make_records

CST = dt.timezone(dt.timedelta(hours=8))
G1, G2, G3 = "G320104001", "G320104002", "G320104003"
B1, B2 = "B32010401", "B32010402"
PURPOSE = {"police": "社区警务", "police2": "社区警务", "grid": "网格服务", "grid2": "网格服务"}
ORDERS = ["work_order.read", "work_order.write"]
SLA = Sla(by_type={OrderType.DISPUTE: TypeSla(close_within=dt.timedelta(days=1))})
"""The hub's defaults (签收 within 2 h, 办结 within 3 days), disputes closed within a day."""


@dataclass
class Clock:
    """The hub's work-order time; it only moves forward, as histories must."""

    now: dt.datetime = dt.datetime(2026, 11, 2, 9, 0, tzinfo=CST)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


@dataclass
class Loop:
    config: HubConfig
    http: httpx.Client
    clock: Clock
    partners: dict[str, Partner]
    house_ref: str = ""
    """The police client's id of the seeded house (grid G1)."""
    _tokens: dict[tuple[str, str | None], tuple[str, float]] = field(default_factory=dict)

    def client_id(self, who: str) -> str:
        return self.partners[who].client_id

    def token(self, who: str, scope: str | None = None) -> str:
        cached = self._tokens.get((who, scope))
        if cached and time.monotonic() - cached[1] < 200:
            return cached[0]
        partner = self.partners[who]
        data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
        answer = self.http.post("/oauth/token", data=data, auth=(partner.client_id, partner.secret))
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        self._tokens[(who, scope)] = (token, time.monotonic())
        return token

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(who)}"}

    def get(self, who: str, path: str, **params: Any) -> httpx.Response:
        params.setdefault("purpose", PURPOSE.get(who, "统计分析"))
        return self.http.get(path, params=params, headers=self.headers(who))

    def post(self, who: str, path: str, body: dict[str, Any], **params: Any) -> httpx.Response:
        params.setdefault("purpose", PURPOSE.get(who, "统计分析"))
        return self.http.post(path, json=body, params=params, headers=self.headers(who))

    def dispatch(self, who: str = "police", **changes: Any) -> dict[str, Any]:
        """A new order from ``who`` to the grid platform (grid G1), answered 201."""
        answer = self.post(who, "/v1/work-orders", order_request(self, **changes))
        assert answer.status_code == 201, answer.text
        placed: dict[str, Any] = answer.json()
        return placed

    def ref(self, who: str, order_id: str) -> str:
        """``who``'s own id of the order, found as any record is: by a filter."""
        found = self.get(who, "/v1/records/work_order", order_id=order_id).json()
        [item] = found["items"]
        ref: str = item["id"]
        return ref

    def step(self, who: str, ref: str, step: str, version: int, **carried: Any) -> httpx.Response:
        body = {"step": step, "version": version, **carried}
        return self.post(who, f"/v1/work-orders/{ref}/transitions", body)

    def order(self, who: str, ref: str) -> dict[str, Any]:
        answer = self.get(who, f"/v1/work-orders/{ref}")
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    def db_id(self, who: str, ref: str, kind: str = "work_order") -> int:
        with self.store() as store:
            found = RecordIds(store).decode(self.client_id(who), kind, ref)
        assert found is not None
        return found

    @contextmanager
    def store(self) -> Iterator[Store]:
        store = open_store(self.config)
        try:
            yield store
        finally:
            store.close()

    def audited(self, **query: Any) -> list[AuditEvent]:
        """The audit log's events matching ``query`` (``AuditLog.search``), oldest first."""
        with self.store() as store:
            return [e.event for e in AuditLog.for_store(store).search(limit=10_000, **query)]

    def events(self, record_id: int) -> list[dict[str, Any]]:
        """The outbox rows of one order, oldest first."""
        query = (
            select(outbox.c.type, outbox.c.data)
            .where(outbox.c.kind == "work_order", outbox.c.record_id == record_id)
            .order_by(outbox.c.seq)
        )
        with self.store() as store, store.engine.connect() as conn:
            return [{"type": row.type, "data": row.data} for row in conn.execute(query)]

    def stored(self, order_id: str) -> list[StoredRecord]:
        """Every stored record of the order, whatever its source."""
        with self.store() as store:
            return [r for r in store.records("work_order") if r.record.natural_key() == order_id]


def order_request(loop: Loop, **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "receiving_org": loop.client_id("grid"),
        "grid_code": G1,
        "beat_code": B1,
        "order_type": "群租房核查",
        "priority": "紧急",
        "instruction": "核查钞库街38号群租情况，核实居住人数并反馈",
        "related": {"kind": "house", "id": loop.house_ref},
        "note": "居民举报",
    }
    body.update(changes)
    return {key: value for key, value in body.items() if value is not None}


@pytest.fixture(scope="module", params=BACKENDS)
def loop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    with hub_home(request.param, tmp_path_factory.mktemp("hub")) as home, serving(home) as loop:
        yield loop


@contextmanager
def serving(home: Path) -> Iterator[Loop]:
    config = load_config(home).model_copy(update={"work_orders": SLA})
    store = open_store(config)
    records = make_records()
    with store.begin() as tx:
        tx.upsert("police_db", [("H1", records["house"]), ("E1", records["incident"])])
    registry = ClientRegistry(store)
    grid_scopes = [*ORDERS, "house.read", "incident.read"]
    added = {
        "police": registry.add(
            "police", "police-station", [*ORDERS, "house.read", "audit.read"], {"beat_codes": [B1]}
        ),
        "police2": registry.add("police2", "police-station", ORDERS, {"beat_codes": [B1]}),
        "grid": registry.add("grid", "grid-platform", grid_scopes, {"grid_codes": [G1, G3]}),
        "grid2": registry.add("grid2", "grid-platform", ORDERS, {"grid_codes": [G2]}),
        "analyst": registry.add(
            "analyst", "street-analyst", ["house.read"], {"grid_prefixes": ["G320104"]}
        ),
        "revoked": registry.add("revoked", "grid-platform", ORDERS, {"grid_codes": [G1]}),
    }
    registry.revoke(added["revoked"].client.client_id)
    store.close()
    partners = {
        name: Partner(new.client.client_id, new.secret or "") for name, new in added.items()
    }
    clock = Clock()
    app = create_app(config, rate=1000, burst=1000, clock=clock, **GENEROUS)
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url) as http:
        loop = Loop(config, http, clock, partners)
        houses = loop.get("police", "/v1/records/house", house_code=records["house"].house_code)
        loop.house_ref = houses.json()["items"][0]["id"]
        yield loop
