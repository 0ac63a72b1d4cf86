"""The grid registry: its file, its structure rule, its row rules, and where it is kept."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest

from hub.audit import AuditLog
from hub.grids import (
    GridRegistry,
    RegistryInvalid,
    Structure,
    load_registry,
    load_registry_file,
    parse_registry,
    registry_document,
    registry_info,
    replace_registry,
    write_registry_file,
)
from hub.reference.grids import world_registry
from hub.reference.world import generate
from hub.store import Store


def document(**changes: Any) -> dict[str, Any]:
    grid = {
        "code": "320104001001001",
        "name": "第1网格",
        "type": "基础网格",
        "community": "320104001001",
        "beat": "B1",
        "workers": ["王芳"],
    }
    school = grid | {"code": "320104001001002", "name": "学校网格", "type": "专属网格"}
    return {"title": "t", "grids": [grid, school | {"category": "学校", "beat": "B2"}], **changes}


def test_a_document_reads_back_as_written(tmp_path: Path) -> None:
    registry = parse_registry(document(beats=[{"code": "B1"}, {"code": "B2", "name": "二"}]))
    assert registry.structure.template == "{community}{serial:3}"
    assert [g.grid_type for g in registry.grids] == ["基础网格", "专属网格"]
    path = tmp_path / "grids.yaml"
    write_registry_file(registry, path)
    assert load_registry_file(path) == registry
    assert registry_document(load_registry_file(path)) == registry_document(registry)


@pytest.mark.parametrize(
    ("change", "record", "field"),
    [
        ({"code": "320104001002001"}, "320104001002001", "code"),  # another community's
        ({"code": "32010400100101"}, "32010400100101", "code"),  # serial too short
        ({"community": "999999001001"}, "320104001001001", "community"),
        ({"community": "3201040010"}, "320104001001001", "community"),
        ({"type": "专属网格"}, "320104001001001", "category"),  # dedicated without one
        ({"category": "学校"}, "320104001001001", "category"),  # basic with one
        ({"valid_from": "2025-01-02", "valid_to": "2025-01-01"}, "320104001001001", "valid_to"),
        ({"type": "网格"}, "320104001001001", "grids.0.type"),
    ],
)
def test_a_broken_grid_is_refused_naming_it_and_the_field(
    change: dict[str, Any], record: str, field: str
) -> None:
    doc = document()
    doc["grids"][0] |= change
    with pytest.raises(RegistryInvalid) as caught:
        parse_registry(doc)
    assert (caught.value.record, caught.value.field) == (record, field)


def test_a_grid_twice_or_an_unlisted_beat_is_refused() -> None:
    doc = document()
    doc["grids"][1] = doc["grids"][0]
    with pytest.raises(RegistryInvalid, match="listed twice"):
        parse_registry(doc)
    with pytest.raises(RegistryInvalid, match="B2 is not listed"):
        parse_registry(document(beats=[{"code": "B1"}]))


def test_a_structure_keeps_the_digits_it_names() -> None:
    structure = Structure("G{county}{street:2}{village:2}{serial:1}")
    assert structure.prefix("320104001002") == "G3201040102"
    assert structure.follows("G32010401023", "320104001002")
    assert not structure.follows("G32010401023", "320104001001")
    assert not structure.follows("G3201040102X", "320104001002")
    assert structure.prefix("320104101002") is None  # the dropped street digit is a 1
    for bad in ("{community}", "{serial:3}{community}", "{community}{serial:3}{serial:1}"):
        with pytest.raises(RegistryInvalid):
            Structure(bad).validate()


def _rules(registry: GridRegistry, **values: Any) -> set[str]:
    return {f"{f['field']}:{f['rule']}" for f in registry.check("person", values)}


def test_the_row_rules() -> None:
    registry = parse_registry(document())
    grid, other = "320104001001001", "320104001001002"
    assert _rules(registry, grid_code=grid, beat_code="B1", address_code="3201040000") == set()
    assert _rules(registry, grid_code="ZZZ", beat_code="B1") == {"grid_code:unknown_grid"}
    assert _rules(registry, grid_code=grid, beat_code="B9") == {"beat_code:unknown_beat"}
    assert _rules(registry, grid_code=other, beat_code="B1") == {"beat_code:grid_beat_mismatch"}
    assert _rules(registry, address_code="999999000") == {"address_code:unknown_area"}
    assert _rules(registry, grid_code="ZZZ", beat_code="B9") == {
        "grid_code:unknown_grid",
        "beat_code:unknown_beat",
    }


def test_a_grid_out_of_force_is_unknown() -> None:
    doc = document()
    doc["grids"][0] |= {"valid_from": "2024-01-01", "valid_to": "2024-12-31"}
    registry = parse_registry(doc)
    values = {"grid_code": "320104001001001", "beat_code": "B1"}
    assert registry.check("person", values, dt.date(2024, 6, 1)) == []
    [failure] = registry.check("person", values, dt.date(2025, 1, 1))
    assert (failure["rule"], failure["message"]) == (
        "unknown_grid",
        "grid 320104001001001 is not in force on 2025-01-01",
    )


def test_a_community_or_a_street_names_its_grids() -> None:
    registry = world_registry()
    assert registry.grids_of(["320104001001"]) == ["G32010401011", "G32010401012", "G32010401013"]
    assert len(registry.grids_of(["320104001"])) == 6
    assert registry.grids_of([]) == []


def test_the_world_registry_knows_every_code_of_the_world() -> None:
    registry = world_registry()
    kinds = {g.grid_type for g in registry.grids}
    assert kinds == {"基础网格", "专属网格"}
    assert {g.category for g in registry.grids} >= {"学校", "园区", None}
    world = generate(people=200, seed=3)
    assert all(registry.check("person", person) == [] for person in world.people)


def test_the_store_keeps_the_registry_and_the_audit_entry(store: Store) -> None:
    with store.engine.connect() as conn:
        assert load_registry(conn) is None
    registry = world_registry()
    digest = replace_registry(store, registry, "cli:tester", "grids.yaml")
    replace_registry(store, registry, "cli:tester", "grids.yaml")  # whole, not added to
    with store.engine.connect() as conn:
        assert load_registry(conn) == registry
        info = registry_info(conn)
    assert info is not None
    assert info["digest"] == digest
    entries = AuditLog.for_store(store).search(action="grids.loaded")
    assert [e.event.detail["grids"] for e in entries] == [36, 36]
    assert entries[-1].event.detail["replaced"] == digest
