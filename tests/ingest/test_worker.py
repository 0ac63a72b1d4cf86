"""Schedules, claims and leases on both backends, in one process: a claimed stream is not
claimed again until its lease lapses; a worker whose lease was taken over cannot commit
another batch; a worker run syncs due streams, writes its report and records the lag."""

from __future__ import annotations

import datetime as dt
import json
import math
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.ingest.errors import ClaimLost
from hub.ingest.schedule import Schedule, format_duration, parse_duration
from hub.ingest.sources import SourceSpec, load_sources, save_sources
from hub.ingest.worker import Claims, Worker, WorkerOptions, record_run, sync_lag
from hub.reference.grid_server import create_app
from hub.reference.serve import serve_in_thread
from hub.reference.sources import GRID_STREAMS
from hub.reference.world import World, generate
from hub.store import Store
from hub.store.tables import sync_claims

API_KEY = "grid-key-worker-0123456789"
KEYS = [("grid", "residents"), ("grid", "addresses")]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("2d", 172800), ("250ms", 0.25)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds
    assert parse_duration(format_duration(parse_duration(text))) == parse_duration(text)


@pytest.mark.parametrize("text", ["", "5", "0s", "5 minutes", "m5", "5x", "-5m", "1h 30m"])
def test_bad_durations(text: str) -> None:
    if text == "5":  # a bare number is seconds
        assert parse_duration(text).total_seconds() == 5
        return
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


def test_a_schedule_in_sources_yaml_round_trips(tmp_path: Path) -> None:
    scheduled = SourceSpec(id="a", connector="police_db", schedule=Schedule(every="5m"))  # type: ignore[arg-type]
    plain = SourceSpec(id="b", connector="police_db")
    save_sources(tmp_path, [scheduled, plain])
    text = (tmp_path / "sources.yaml").read_text()
    assert "every: 5m" in text
    assert text.count("schedule") == 1
    [a, b] = load_sources(tmp_path)
    assert a.schedule is not None
    assert a.schedule.every == dt.timedelta(minutes=5)
    assert b.schedule is None
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - {id: c, connector: police_db, schedule: {every: soon}}\n"
    )
    with pytest.raises(Exception, match=r"schedule\.every"):
        load_sources(tmp_path)


def test_a_claimed_stream_is_not_claimed_again_until_its_lease_lapses(store: Store) -> None:
    lease = dt.timedelta(seconds=1.5)
    one, two = Claims(store, "one", lease), Claims(store, "two", lease)
    one.register(KEYS)
    two.register(KEYS)  # a second registration changes nothing
    first = one.claim(KEYS)
    second = two.claim(KEYS)
    assert first is not None
    assert second is not None
    assert {(first.source, first.stream), (second.source, second.stream)} == set(KEYS)
    assert one.claim(KEYS) is None
    assert two.claim(KEYS) is None
    time.sleep(1.6)
    taken = two.claim([(first.source, first.stream)])  # one's lease lapsed
    assert taken is not None
    assert taken.worker == "two"
    with store.begin() as tx, pytest.raises(ClaimLost):
        one.renew(tx.conn, first)
    assert not one.release(first, None, "run", None, True)
    with store.begin() as tx:
        two.renew(tx.conn, taken)
    assert two.release(taken, taken.started + dt.timedelta(hours=1), "run", None, True)
    assert two.claim([(first.source, first.stream)]) is None  # not due for an hour
    lag = sync_lag(store)
    assert lag[(first.source, first.stream)] < 5
    assert lag[(second.source, second.stream)] == math.inf  # never finished


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=30, seed=11)


@pytest.fixture
def grid_url(world: World) -> Iterator[str]:
    with serve_in_thread(create_app(world.grid, api_keys={API_KEY}, clients={})) as server:
        yield server.url


def grid(url: str, every: str | None = "1h") -> SourceSpec:
    return SourceSpec(
        id="grid",
        connector="grid_platform",
        config={"base_url": url, "api_key": API_KEY, "streams": GRID_STREAMS},
        schedule=None if every is None else Schedule(every=every),  # type: ignore[arg-type]
    )


def test_a_worker_syncs_every_due_stream_once_then_waits(
    store: Store, grid_url: str, world: World, tmp_path: Path
) -> None:
    options = WorkerOptions(once=True, expectations=False, batch_size=7)
    worker = Worker(
        store,
        tmp_path,
        [grid(grid_url), grid(grid_url, None).model_copy(update={"id": "unscheduled"})],
        options,
        "w1",
    )
    assert set(worker.specs) == {"grid"}
    worker.run()
    streams = {(s["name"]) for s in GRID_STREAMS}
    with store.engine.connect() as conn:
        rows = conn.execute(select(sync_claims)).all()
    assert {row.stream for row in rows} == streams
    assert all(row.claimed_by is None and row.last_error is None for row in rows)
    assert all(row.runs == 1 for row in rows)
    reports = [json.loads(p.read_text()) for p in (tmp_path / "reports").glob("*.json")]
    assert len(reports) == len(streams)
    assert all(r["ok"] for r in reports)
    read = {r["streams"][0]["stream"]: r["streams"][0]["read"] for r in reports}
    assert read == {s["name"]: len(world.grid[s["resource"]]) for s in GRID_STREAMS}
    worker.run()  # nothing is due for an hour
    assert len(list((tmp_path / "reports").glob("*.json"))) == len(streams)
    assert max(sync_lag(store).values()) < 60


def test_hub_sync_records_each_stream_for_the_lag(store: Store, grid_url: str) -> None:
    from hub.ingest.run import run_sources

    report = run_sources(store, [grid(grid_url)], expectations=False)
    record_run(store, report)
    lag = sync_lag(store)
    assert set(lag) == {("grid", s["name"]) for s in GRID_STREAMS}
    assert all(0 <= seconds < 60 for seconds in lag.values())
