"""Ingest against the grid registry: the police reference database synced end to end with
the world's registry loaded, on SQLite and PostgreSQL, serially and by worker processes.
The rows planted against the registry land in quarantine under its rules, the others as
before; without a registry the same rows are stored (a hub without one checks nothing)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.sdk import load_source
from hub.grids import replace_registry
from hub.ingest import new_run_id, sync_stream
from hub.ingest.sync import admit_rows, push_stream
from hub.reference.grids import world_registry
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import World, generate
from hub.store import Store

REGISTRY_RULES = {
    "grid_code:unknown_grid",
    "beat_code:unknown_beat",
    "beat_code:grid_beat_mismatch",
}


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=400, seed=23, registry_defects=True)


@pytest.fixture
def police_url(tmp_path: Path, world: World) -> str:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(world, url).dispose()
    return url


def _sync_people(store: Store, url: str, workers: int = 1) -> tuple[int, int, int]:
    people = [s for s in POLICE_STREAMS if s["name"] == "people"]
    source = load_source("police_db", "police_db", {"url": url, "streams": people})
    try:
        [stream] = source.streams()
        report = sync_stream(store, source, stream, new_run_id(), batch_size=50, workers=workers)
    finally:
        source.close()
    assert report.error is None
    return report.read, report.stored, report.quarantined


def _caught(store: Store) -> dict[str, set[str]]:
    return {
        q.source_key: {f"{f['field']}:{f['rule']}" for f in q.failures} for q in store.quarantined()
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_the_registry_quarantines_its_planted_rows_and_only_those(
    store: Store, world: World, police_url: str, workers: int
) -> None:
    replace_registry(store, world_registry(), "test", "world")
    read, stored, quarantined = _sync_people(store, police_url, workers)
    planted = {
        d.source_key: d.expected
        for d in world.defects
        if (d.source, d.stream) == ("police_db", "people")
    }
    assert read == stored + quarantined
    assert quarantined == len(planted)
    caught = _caught(store)
    assert set(caught) == set(planted)
    for key, rule in planted.items():
        assert rule in caught[key], (key, caught[key])
    registry_caught = {k for k, rules in caught.items() if rules & REGISTRY_RULES}
    assert registry_caught == {k for k, v in planted.items() if v in REGISTRY_RULES}
    assert len(registry_caught) == 3


def test_without_a_registry_the_codes_are_not_checked(
    store: Store, world: World, police_url: str
) -> None:
    _sync_people(store, police_url)
    caught = _caught(store)
    assert not any(rules & REGISTRY_RULES for rules in caught.values())
    planted = [d.source_key for d in world.defects if d.expected in REGISTRY_RULES]
    assert not set(planted) & set(caught)


def test_a_pushed_row_is_held_to_the_registry_the_store_holds(store: Store) -> None:
    """``admit_rows`` without a registry handed to it reads the store's (the door of
    pushes, re-submissions and accepted reviews)."""
    world = generate(people=30, seed=2)
    person = dict(world.people[0], birth_date=world.people[0]["birth_date"].isoformat())
    wrong_beat = person | {"beat_code": "B3201069999"}
    stream = push_stream("person")
    rows = [{"source_key": "p1", **wrong_beat}]
    admitted = admit_rows(store, "partner:x", stream, rows, new_run_id())
    assert admitted.quarantined == []
    assert admitted.stored == ["p1"]
    replace_registry(store, world_registry(), "test", "world")
    rows = [{"source_key": "p2", **wrong_beat}]
    admitted = admit_rows(store, "partner:x", stream, rows, new_run_id())
    [entry] = admitted.quarantined
    assert [f["rule"] for f in entry.failures] == ["unknown_beat"]
