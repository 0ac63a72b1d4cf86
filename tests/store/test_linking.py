"""Records of one real person from two sources share a ``link_key``: the one linking
mechanism, which profiles (``linked`` section) and subject access read."""

from __future__ import annotations

from contracts import Record
from hub.store import Store
from hub.store.query import select_rows
from policies import RowScope

EVERY_ROW = RowScope(True, (), ())


def test_one_person_from_police_and_grid_shares_a_link_key(
    store: Store, records: dict[str, Record]
) -> None:
    police = records["person"]
    grid = police.model_copy(update={"phone": "13700002222", "police_tags": []})
    with store.begin() as tx:
        tx.upsert("police_db", [("R1", police)])
        tx.upsert("grid_platform", [("100001", grid)])
    key = store.link_key(police.natural_key())
    assert key == store.link_key(police.natural_key().lower())
    found = select_rows(store, "person", EVERY_ROW, ["name", "phone"], link_key=key)
    assert {(row.source_system, row.values["phone"]) for row in found} == {
        ("police_db", "13812345678"),
        ("grid_platform", "13700002222"),
    }
    assert {row.values["name"] for row in found} == {police.name}  # type: ignore[attr-defined]


def test_an_unknown_key_links_nothing(store: Store) -> None:
    key = store.link_key("320104199003071231")
    assert select_rows(store, "person", EVERY_ROW, ["name"], link_key=key) == []
