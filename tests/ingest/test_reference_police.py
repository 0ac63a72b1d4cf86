"""The police reference database synced end to end: every deliberately broken row, and
only those, lands in quarantine with the rule that names its defect."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sdk import load_source
from hub.ingest import new_run_id, sync_stream
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import World, generate
from hub.store import Store


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=600, seed=11)


@pytest.fixture
def police_url(tmp_path: Path, world: World) -> str:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(world, url).dispose()
    return url


def _sync_all(store: Store, url: str) -> dict[str, tuple[int, int, int]]:
    source = load_source("police_db", "police_db", {"url": url, "streams": POLICE_STREAMS})
    run = new_run_id()
    try:
        results = {}
        for stream in source.streams():
            report = sync_stream(store, source, stream, run, batch_size=97)
            assert report.error is None
            results[stream.name] = (report.read, report.stored, report.quarantined)
        return results
    finally:
        source.close()


def test_every_row_is_stored_or_quarantined_with_its_defect(
    store: Store, world: World, police_url: str
) -> None:
    results = _sync_all(store, police_url)
    tables = {"people": "t_rk_jbxx", "houses": "t_fw", "units": "t_dw"}
    for stream, (read, stored, quarantined) in results.items():
        assert read == len(world.police[tables[stream]])
        assert read == stored + quarantined
    expected = {
        (d.stream, d.source_key): d.expected for d in world.defects if d.source == "police_db"
    }
    found = {
        (q.stream, q.source_key): {f"{f['field']}:{f['rule']}" for f in q.failures}
        for q in store.quarantined()
    }
    assert set(found) == set(expected)
    for key, rule in expected.items():
        assert rule in found[key], (key, found[key])


def test_a_second_sync_changes_nothing(store: Store, police_url: str) -> None:
    first = _sync_all(store, police_url)
    counts = {kind: store.count(kind) for kind in ("person", "house", "unit")}
    second = _sync_all(store, police_url)
    assert all(read == 0 for read, _, _ in second.values())
    assert counts == {kind: store.count(kind) for kind in ("person", "house", "unit")}
    assert sum(q for _, _, q in first.values()) == len(store.quarantined())
