"""Migration 0006: the work orders sources copied in before the hub kept them (contract v1)
move whole to ``work_orders_v1``, ids kept, and the hub's own orders take ids after
theirs; a downgrade brings the copies back."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import create_engine, inspect, select

from hub.store import Keyring, Store, schema
from hub.store.tables import work_orders_v1
from tests.data import make_records

FIXTURES = Path(__file__).parents[1] / "store" / "fixtures"
RELEASE = "release-5dbbc28"
T0 = dt.datetime(2026, 11, 1, 1, 30, tzinfo=dt.UTC)
V1_ORDERS = sa.table(
    "rec_work_order",
    *(sa.column(name) for name in ("id", "source_system", "source_key", "link_key")),
    *(sa.column(name) for name in ("contract_version", "first_seen", "last_updated")),
    *(sa.column(name) for name in ("content_hash", "order_id", "issuing_org", "receiving_org")),
    *(sa.column(name) for name in ("instruction", "due_at", "status", "grid_code", "beat_code")),
    sa.column("history", sa.JSON),
)


def _archived(store: Store) -> list[dict[str, object]]:
    with store.engine.connect() as conn:
        return [dict(row._mapping) for row in conn.execute(select(work_orders_v1))]


def _hub_order_id(store: Store) -> int:
    """A v2 order, stored as the hub stores one; its database id."""
    order = make_records()["work_order"]
    with store.begin() as tx:
        tx.upsert("hub", [("W20261101001", order)])
        [(record_id, _)] = tx.located("work_order", "hub", ["W20261101001"]).values()
    return record_id


def test_the_previous_releases_copy_moves_aside_and_new_ids_follow(tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / f"{RELEASE}.sqlite.sql").read_text("utf-8"))
    store = Store.open(f"sqlite:///{path}", Keyring.load(FIXTURES / f"{RELEASE}.keys.json"))
    try:
        store.create_schema()
        assert store.count("work_order") == 0
        [expected] = json.loads((FIXTURES / f"{RELEASE}.records.json").read_text("utf-8"))[
            "work_order"
        ]
        [moved] = _archived(store)
        assert {k: moved[k] for k in ("order_id", "status", "history", "incident_id")} == {
            k: expected[k] for k in ("order_id", "status", "history", "incident_id")
        }
        assert _hub_order_id(store) > int(str(moved["id"]))
    finally:
        store.close()


def test_on_each_backend_a_copy_moves_aside_and_back(database_url: str) -> None:
    engine = create_engine(database_url)
    store = Store.open(database_url, Keyring.generate())
    try:
        schema.upgrade(engine, "0005")
        copy = {
            "id": 7,
            "source_system": "police_db",
            "source_key": "W1",
            "link_key": "k",
            "contract_version": 1,
            "first_seen": T0,
            "last_updated": T0,
            "content_hash": "h",
            "order_id": "W1",
            "issuing_org": "夫子庙派出所",
            "receiving_org": "钞库街社区网格站",
            "instruction": "上门调解并反馈",
            "due_at": T0 + dt.timedelta(days=2),
            "status": "签收",
            "grid_code": "G320104001",
            "beat_code": "B32010401",
            "history": [{"status": "派发", "at": T0.isoformat(), "by": "民警赵亮"}],
        }
        with engine.begin() as conn:
            conn.execute(V1_ORDERS.insert().values(**copy))
        schema.upgrade(engine)
        assert schema.differences(engine) == []
        [moved] = _archived(store)
        assert (moved["id"], moved["order_id"], moved["history"]) == (7, "W1", copy["history"])
        assert store.count("work_order") == 0
        assert _hub_order_id(store) == 8

        schema.downgrade(engine, "0005")
        assert "work_orders_v1" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            rows = conn.execute(select(V1_ORDERS.c.id, V1_ORDERS.c.order_id)).all()
        assert [tuple(row) for row in rows] == [(7, "W1")]
        schema.upgrade(engine)
        assert schema.differences(engine) == []
    finally:
        store.close()
        schema.drop(engine)
        engine.dispose()
