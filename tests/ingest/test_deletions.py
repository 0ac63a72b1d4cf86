"""Deletions at the source, through a real grid platform (its second dialect) into the store
on each backend: a row marked 迁出 / 注销 makes its record inactive with the source, run and
time; a full-refresh stream makes inactive the keys a complete read no longer lists; the
record and its history are kept, queries leave it out unless asked, a record sent again is
active again; a complete read that lists nothing marks nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import text

from connectors.http import HttpSource
from connectors.police_db import PoliceDbSource
from hub.ingest import new_run_id, sync_stream
from hub.ingest.sync import StreamReport
from hub.reference.grid_server import Faults, Table, create_app
from hub.reference.police_db import write_police_db
from hub.reference.serve import ServerHandle, serve_in_thread
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import World, generate
from hub.sharing.service import EVERY_ROW
from hub.store import Store, lifecycle
from hub.store.query import select_rows
from tests.connectors.test_http import APP_KEY, APP_SECRET, dialect_2

Sync = Callable[..., StreamReport]


@pytest.fixture(scope="module")
def world() -> World:
    return generate(80, seed=3)  # at least 25 valid residents


@pytest.fixture
def residents(world: World) -> list[dict[str, Any]]:
    """Valid residents only (the planted defects are another test's business)."""
    broken = {d.source_key for d in world.defects if d.stream == "residents"}
    return [dict(r) for r in world.grid["residents"] if str(r["id"]) not in broken][:25]


@pytest.fixture
def served(residents: list[dict[str, Any]]) -> Iterator[tuple[str, FastAPI]]:
    app: FastAPI = create_app({"residents": residents}, set(), {APP_KEY: APP_SECRET})
    server: ServerHandle = serve_in_thread(app)
    try:
        yield server.url, app
    finally:
        server.stop()


@pytest.fixture
def grid(served: tuple[str, FastAPI]) -> tuple[str, Table]:
    return served[0], served[1].state.tables["residents"]


def source_for(url: str, **stream: Any) -> HttpSource:
    config = dialect_2(url, page_size=6)
    config["streams"] = [config["streams"][0] | stream]
    return HttpSource("grid_v2", config)


@pytest.fixture
def sync(store: Store) -> Iterator[Sync]:
    sources: list[HttpSource] = []

    def run(url: str, **stream: Any) -> StreamReport:
        sources.append(source_for(url, **stream))
        source = sources[-1]
        report = sync_stream(store, source, source.stream("residents"), new_run_id(), 10)
        assert report.error is None, report.error
        return report

    yield run
    for source in sources:
        source.close()


def active_keys(store: Store) -> set[str]:
    """Source keys of the records a query finds (an inactive one it does not)."""
    shown = {row.id for row in select_rows(store, "person", EVERY_ROW, [], limit=1000)}
    held = {r.id: r.provenance for r in store.records("person", "grid_v2")}
    assert {i for i, p in held.items() if p.inactive_since is None} == shown
    return {held[i].source_key for i in shown}


MARKED = {"deleted": {"status": ["注销", "迁出"]}}


def test_a_row_marked_gone_makes_its_record_inactive_and_history_is_kept(
    store: Store, grid: tuple[str, Table], residents: list[dict[str, Any]], sync: Sync
) -> None:
    url, table = grid
    first = sync(url, **MARKED)
    assert (first.stored, first.deleted, first.deactivated) == (len(residents), 0, 0)
    moved, cancelled = residents[2], residents[7]
    table.put(moved | {"status": "迁出", "updatedAt": "2026-12-02T10:00:00+08:00"})
    table.put(cancelled | {"status": "注销", "updatedAt": "2026-12-02T10:00:01+08:00"})
    second = sync(url, **MARKED)
    assert (second.read, second.stored, second.quarantined) == (2, 0, 0)
    assert (second.deleted, second.deactivated) == (2, 2)

    held = store.get("person", "grid_v2", str(moved["id"]))
    assert held is not None
    assert held.provenance.inactive_since is not None
    assert held.provenance.inactive_reason == "deleted_at_source:status=迁出"
    assert held.record.id_number == moved["idCard"]  # its last values kept
    with store.begin() as tx:
        [change] = lifecycle.history(tx, "person", held.id)
    assert (change["change"], change["source_system"], change["stream"]) == (
        "inactive",
        "grid_v2",
        "residents",
    )
    assert change["run_id"]

    expected = {str(r["id"]) for r in residents} - {str(moved["id"]), str(cancelled["id"])}
    assert active_keys(store) == expected
    everyone = select_rows(store, "person", EVERY_ROW, [], limit=1000, include_inactive=True)
    assert len(everyone) == len(residents)
    assert {r.inactive_reason for r in everyone if r.inactive_since} == {
        "deleted_at_source:status=迁出",
        "deleted_at_source:status=注销",
    }

    # Moved back: the source lists it again without the mark, and it is active again.
    table.put(moved | {"updatedAt": "2026-12-03T08:00:00+08:00"})
    third = sync(url, **MARKED)
    assert (third.reactivated, third.deactivated) == (1, 0)
    assert str(moved["id"]) in active_keys(store)
    with store.begin() as tx:
        changes = [c["change"] for c in lifecycle.history(tx, "person", held.id)]
    assert changes == ["inactive", "active"]


def test_a_full_refresh_stream_makes_vanished_keys_inactive(
    store: Store, grid: tuple[str, Table], residents: list[dict[str, Any]], sync: Sync
) -> None:
    url, table = grid
    full = {"full_refresh": True}
    first = sync(url, **full)
    assert (first.stored, first.deactivated) == (len(residents), 0)
    assert store.load_state("grid_v2", "residents") is None  # the next read starts afresh
    gone = [residents[0], residents[11], residents[24]]
    for row in gone:
        table.delete(row["id"])
    second = sync(url, **full)
    assert second.read == len(residents) - len(gone)
    assert second.deactivated == len(gone)
    assert active_keys(store) == {str(r["id"]) for r in residents} - {str(r["id"]) for r in gone}
    held = store.get("person", "grid_v2", str(gone[1]["id"]))
    assert held is not None
    assert held.provenance.inactive_reason == lifecycle.VANISHED
    third = sync(url, **full)
    assert (third.deactivated, third.reactivated) == (0, 0)
    table.put(gone[1])
    fourth = sync(url, **full)
    assert (fourth.deactivated, fourth.reactivated) == (0, 1)


def test_a_full_read_listing_nothing_marks_nothing(
    store: Store, grid: tuple[str, Table], residents: list[dict[str, Any]], sync: Sync
) -> None:
    url, table = grid
    sync(url, full_refresh=True)
    for row in residents:
        table.delete(row["id"])
    source = source_for(url, full_refresh=True)
    try:
        report = sync_stream(store, source, source.stream("residents"), new_run_id(), 10)
    finally:
        source.close()
    assert report.error is not None
    assert "listed no row" in report.error
    assert report.deactivated == 0
    assert len(active_keys(store)) == len(residents)


def test_a_full_read_cut_short_resumes_and_sweeps_only_once_complete(
    store: Store,
    served: tuple[str, FastAPI],
    grid: tuple[str, Table],
    residents: list[dict[str, Any]],
    sync: Sync,
) -> None:
    url, table = grid
    sync(url, full_refresh=True)
    gone = [residents[1], residents[20]]
    for row in gone:
        table.delete(row["id"])
    faults: Faults = served[1].state.faults
    source = source_for(url, full_refresh=True)
    try:
        stream = source.stream("residents")

        def cut(report: StreamReport) -> None:
            if report.read and not faults.pending:
                faults.fail_next(10)  # the retries give up: the read ends with an error

        cut_short = sync_stream(store, source, stream, new_run_id(), 6, on_batch=cut)
        assert cut_short.error is not None
        assert "HTTP 503" in cut_short.error
        assert cut_short.deactivated == 0
        state, read_id = store.load_read("grid_v2", "residents")
        assert state is not None
        assert read_id is not None
        faults.clear()
        rest = sync_stream(store, source, stream, new_run_id(), 6)
    finally:
        source.close()
    assert rest.error is None
    assert cut_short.read + rest.read == len(residents) - len(gone)  # resumed, not restarted
    assert rest.deactivated == len(gone)
    assert active_keys(store) == {str(r["id"]) for r in residents} - {str(r["id"]) for r in gone}
    assert store.load_read("grid_v2", "residents") == (None, None)


# --- the same through another connector: the police database -----------------------------


def test_a_police_table_marks_注销_and_a_full_refresh_table_loses_rows(
    store: Store, tmp_path: Path, world: World
) -> None:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    engine = write_police_db(world, url)
    with engine.begin() as conn:
        conn.execute(text("ALTER TABLE t_rk_jbxx ADD COLUMN ZXBS TEXT"))
    marked = POLICE_STREAMS[0] | {"deleted": {"ZXBS": ["注销"]}}
    whole = {k: v for k, v in marked.items() if k != "cursor_field"} | {"full_refresh": True}
    whole["name"] = "people_whole"

    def run(stream: dict[str, Any]) -> StreamReport:
        source = PoliceDbSource("police_db", {"url": url, "streams": [stream]})
        try:
            report = sync_stream(store, source, source.stream(stream["name"]), new_run_id(), 50)
        finally:
            source.close()
        assert report.error is None, report.error
        return report

    assert run(marked).deactivated == 0
    keys = sorted(r.provenance.source_key for r in store.records("person", "police_db"))
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE t_rk_jbxx SET ZXBS = '注销', GXSJ = :at WHERE RKID = :key"),
            {"at": dt.datetime(2027, 1, 1), "key": keys[0]},
        )
    again = run(marked)
    assert (again.read, again.deleted, again.deactivated) == (1, 1, 1)
    held = store.get("person", "police_db", str(keys[0]))
    assert held is not None
    assert held.provenance.inactive_reason == "deleted_at_source:ZXBS=注销"

    first = run(whole)  # the same rows, read whole: the 注销 one stays inactive
    assert (first.deleted, first.deactivated, first.reactivated) == (1, 0, 0)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM t_rk_jbxx WHERE RKID = :key"), {"key": keys[-1]})
    second = run(whole)
    assert second.deactivated == 1
    held = store.get("person", "police_db", str(keys[-1]))
    assert held is not None
    assert held.provenance.inactive_reason == lifecycle.VANISHED
    engine.dispose()


def test_marks_and_sweeps_hold_with_worker_processes(
    store: Store, grid: tuple[str, Table], residents: list[dict[str, Any]]
) -> None:
    url, table = grid
    stream = MARKED | {"full_refresh": True}

    def run() -> StreamReport:
        source = source_for(url, **stream)
        try:
            return sync_stream(
                store, source, source.stream("residents"), new_run_id(), 6, workers=2
            )
        finally:
            source.close()

    assert run().stored == len(residents)
    table.put(residents[5] | {"status": "迁出"})
    table.delete(residents[9]["id"])
    report = run()
    assert report.error is None
    assert (report.deleted, report.deactivated) == (1, 2)
    expected = {str(r["id"]) for r in residents} - {
        str(residents[5]["id"]),
        str(residents[9]["id"]),
    }
    assert active_keys(store) == expected
