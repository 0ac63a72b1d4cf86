from __future__ import annotations

from contracts import Record
from hub.store import Store
from hub.store.linking import linked_record


def test_one_person_from_police_and_grid_is_one_linked_record(
    store: Store, records: dict[str, Record]
) -> None:
    police = records["person"]
    grid = police.model_copy(update={"phone": "13700002222", "police_tags": []})
    with store.begin() as tx:
        tx.upsert("police_db", [("R1", police)])
        tx.upsert("grid_platform", [("100001", grid)])
    linked = linked_record(store, "person", police.id_number.lower())  # type: ignore[attr-defined]
    assert linked is not None
    assert linked.sources == ["grid_platform", "police_db"]
    assert linked.agreed("name") == police.name  # type: ignore[attr-defined]
    assert linked.agreed("phone") is None
    phones = {(a.value, a.source_system) for a in linked.fields["phone"]}
    assert phones == {("13812345678", "police_db"), ("13700002222", "grid_platform")}
    assert [a.source_system for a in linked.fields["police_tags"]] == ["police_db"]


def test_unknown_key_links_nothing(store: Store) -> None:
    assert linked_record(store, "person", "320104199003071231") is None
