"""Access-pattern alerts over a planted log, on SQLite and PostgreSQL: two weeks of each
client's usual reads, then a day in which each misuse pattern is planted once beside
normal traffic. Each is found, names the entries behind it, and nothing else is."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select

from contracts import Person
from hub.audit import AuditEvent, AuditLog
from hub.audit.patterns import AlertThresholds, find_alerts
from hub.reference.world import generate
from hub.store import Keyring, Store
from hub.store.tables import KIND_TABLES
from tests.conftest import BACKENDS, fresh_postgres_database

NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)  # 20:00 in Beijing
GRID_A, GRID_B = "G32010402001", "G32010402002"
THRESHOLDS = AlertThresholds(
    volume_min=30, night_persons=20, repeat_reads=10, refusals=20, baseline_min_reads=20
)


@dataclass
class Planted:
    store: Store
    log: AuditLog
    grid_a: list[str]
    """``person/<id>`` of 50 people in grid A."""
    grid_b: list[str]
    """... and of 10 in grid B."""
    at: list[dt.datetime]

    def read(self, client: str, when: dt.datetime, refs: list[str]) -> int:
        return self.append(
            AuditEvent(
                action="records.query",
                outcome="allowed",
                client_id=client,
                subject=client,
                kind="person",
                record_ids=refs,
            ),
            when,
        )

    def refused(self, client: str, when: dt.datetime) -> int:
        event = AuditEvent(action="records.query", outcome="denied", client_id=client)
        return self.append(event, when)

    def append(self, event: AuditEvent, when: dt.datetime) -> int:
        assert not self.at or when >= self.at[-1], "plant in time order"
        self.at.append(when)
        return self.log.append(event)


@pytest.fixture(scope="module", params=BACKENDS)
def planted(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Planted]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('patterns') / 'hub.db'}"
        yield from _planted(url)
    else:
        with fresh_postgres_database() as url:
            yield from _planted(url)


def _planted(url: str) -> Iterator[Planted]:
    store = Store.open(url, Keyring.generate())
    store.create_schema()
    people = [Person.parse(p) for p in generate(people=60, seed=3).people]
    placed = [
        (f"P{n}", p.model_copy(update={"grid_code": GRID_A if n < 50 else GRID_B}))
        for n, p in enumerate(people)
    ]
    with store.begin() as tx:
        tx.upsert("police_db", placed)
    table = KIND_TABLES["person"].table
    with store.engine.connect() as conn:
        ids = {key: i for key, i in conn.execute(select(table.c.source_key, table.c.id))}
    refs = [f"person/{ids[key]}" for key, _ in placed]
    at: list[dt.datetime] = []
    log = AuditLog(store, Ed25519PrivateKey.generate(), clock=lambda: at[-1])
    plant = Planted(store, log, refs[:50], refs[50:], at)
    _usual_fortnight(plant)
    try:
        yield plant
    finally:
        store.close()


def _usual_fortnight(p: Planted) -> None:
    """Fourteen days of daytime reads in grid A (10:00 and 15:00 in Beijing), and a
    nightly batch that reads 30 people at 02:00."""
    for day in range(14, 0, -1):
        p.read("batch", NOW - dt.timedelta(days=day, hours=18), p.grid_a[day : day + 30])
        morning = NOW - dt.timedelta(days=day) - dt.timedelta(hours=10)  # 10:00 local
        for n, client in enumerate(["normal", "busy", "nightowl", "roamer"]):
            p.read(client, morning + dt.timedelta(minutes=n), p.grid_a[day : day + 5])
        afternoon = morning + dt.timedelta(hours=5)
        p.read("roamer", afternoon, p.grid_a[:2])


def _a_normal_day(p: Planted) -> None:
    p.read("batch", NOW - dt.timedelta(hours=18), p.grid_a[20:50])  # last night's batch
    morning = NOW - dt.timedelta(hours=10)  # 10:00 local today
    for n, client in enumerate(["normal", "busy", "nightowl", "roamer"]):
        p.read(client, morning + dt.timedelta(minutes=n), p.grid_a[n : n + 6])


def test_normal_traffic_raises_nothing(planted: Planted) -> None:
    _a_normal_day(planted)
    assert find_alerts(planted.log, planted.store, THRESHOLDS, NOW) == []


def test_each_planted_pattern_is_found_with_the_entries_behind_it(planted: Planted) -> None:
    p = planted
    now = NOW + dt.timedelta(days=1)  # the day after the normal one
    start = now - dt.timedelta(hours=9)
    behind: dict[str, list[int]] = {}
    night = now - dt.timedelta(hours=17)  # 03:00 in Beijing, last night: in the window
    behind["night"] = [p.read("nightowl", night, p.grid_a[n : n + 5]) for n in range(0, 25, 5)]
    behind["volume"] = [
        p.read("busy", start + dt.timedelta(minutes=n), p.grid_a[n * 10 : n * 10 + 10])
        for n in range(4)
    ]
    behind["repeat"] = [
        p.read("stalker", start + dt.timedelta(minutes=10 + n), [p.grid_a[7]]) for n in range(12)
    ]
    behind["refusals"] = [
        p.refused("prober", start + dt.timedelta(minutes=30, seconds=n)) for n in range(25)
    ]
    behind["new_grid"] = [p.read("roamer", start + dt.timedelta(minutes=40), p.grid_b[:3])]

    found = {(a.pattern, a.client_id): a for a in find_alerts(p.log, p.store, THRESHOLDS, now)}
    assert set(found) == {
        ("night", "nightowl"),
        ("volume", "busy"),
        ("repeat", "stalker"),
        ("refusals", "prober"),
        ("new_grid", "roamer"),
    }
    for (pattern, _), alert in found.items():
        assert set(behind[pattern]) <= set(alert.seqs), pattern
    assert found[("night", "nightowl")].count == 25
    assert found[("volume", "busy")].count == 40
    assert found[("repeat", "stalker")].about == p.grid_a[7]
    assert found[("repeat", "stalker")].seqs == behind["repeat"]
    assert found[("refusals", "prober")].seqs == behind["refusals"]
    assert found[("new_grid", "roamer")].about == GRID_B
    assert found[("new_grid", "roamer")].seqs == behind["new_grid"]

    # Thresholds are the settings': raised above what was planted, nothing is found.
    lenient = THRESHOLDS.model_copy(
        update={"volume_min": 41, "night_persons": 26, "repeat_reads": 13, "refusals": 26}
    )
    left = {a.pattern for a in find_alerts(p.log, p.store, lenient, now)}
    assert left == {"new_grid"}
    # A day later the window has moved past all of it.
    assert find_alerts(p.log, p.store, THRESHOLDS, now + dt.timedelta(days=2)) == []
