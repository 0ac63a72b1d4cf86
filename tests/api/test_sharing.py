"""The heart of the mission: each partner sees what its policy grants, nothing more, and
every access is in the audit log with the fields it got and how."""

from __future__ import annotations

from typing import Any

from hub.audit import AuditLog
from hub.config import open_store
from tests.api.conftest import BEAT, GRID, Hub
from tests.data import make_records


def _page(hub: Hub, partner: str, kind: str = "person", **params: Any) -> Any:
    answer = hub.get(partner, f"/v1/records/{kind}", **params)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_a_grid_client_sees_only_its_grid_masked_and_without_police_fields(hub: Hub) -> None:
    page = _page(hub, "grid", purpose="网格服务", limit=500)
    expected = [p for p in hub.world.people if p["grid_code"] == GRID]
    assert len(page["items"]) == len(expected) > 0
    for item in page["items"]:
        record = item["record"]
        assert record["grid_code"] == GRID
        assert "police_tags" not in record
        assert "*" in record["id_number"]
        assert len(record["id_number"]) == 18
        assert record["phone"] is None or "****" in record["phone"]
        assert isinstance(record["birth_date"], int)
    clear_ids = {p["id_number"] for p in hub.world.people}
    assert not clear_ids & {i["record"]["id_number"] for i in page["items"]}


def test_a_police_client_sees_its_beat_in_full(hub: Hub) -> None:
    page = _page(hub, "police", purpose="社区警务", limit=500)
    expected = {p["id_number"] for p in hub.world.people if p["beat_code"] == BEAT}
    assert {i["record"]["id_number"] for i in page["items"]} == expected
    assert all("police_tags" in i["record"] for i in page["items"])


def test_every_access_is_audited_with_fields_and_treatments(hub: Hub) -> None:
    page = _page(hub, "grid", purpose="网格服务", limit=5)
    store = open_store(hub.config)
    try:
        log = AuditLog.for_store(store)
        [entry] = log.search(
            client_id=hub.partners["grid"].client_id, action="records.query", limit=1000
        )[-1:]
        assert log.verify().ok
    finally:
        store.close()
    event = entry.event
    assert event.purpose == "网格服务"
    assert event.policy_id == "grid-platform"
    assert event.record_ids == hub.audited_ids("grid", "person", page["items"])
    assert set(event.fields["masked"]) == {"id_number", "phone"}
    assert "police_tags" in event.fields["withheld"]
    assert event.fields["year_only"] == ["birth_date"]


def test_paging_walks_every_row_once(hub: Hub) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"purpose": "社区警务", "limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = _page(hub, "police", **params)
        seen += [i["id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == sum(p["beat_code"] == BEAT for p in hub.world.people)


def test_filters_and_projection(hub: Hub) -> None:
    page = _page(
        hub,
        "police",
        purpose="社区警务",
        fields="name,birth_date",
        birth_date__gte="1980-01-01",
        limit=500,
    )
    assert all(set(i["record"]) == {"name", "birth_date"} for i in page["items"])
    assert all(i["record"]["birth_date"] >= "1980-01-01" for i in page["items"])
    person = next(p for p in hub.world.people if p["beat_code"] == BEAT)
    found = _page(hub, "police", purpose="社区警务", id_number=person["id_number"])
    assert [i["record"]["name"] for i in found["items"]] == [person["name"]]


def test_a_record_in_another_grid_is_not_found(hub: Hub) -> None:
    police = _page(hub, "police", purpose="社区警务", limit=500)
    elsewhere = next(i for i in police["items"] if i["record"]["grid_code"] != GRID)
    answer = hub.get("grid", f"/v1/records/person/{elsewhere['id']}", purpose="网格服务")
    assert answer.status_code == 404
    missing = hub.get("grid", f"/v1/records/person/{'A' * 32}", purpose="网格服务")
    assert missing.json()["type"] == answer.json()["type"]


def test_the_analyst_gets_pseudonyms_of_its_own(hub: Hub) -> None:
    """Houses as rows with their codes hashed (people it counts only: ``test_stats``)."""
    house = make_records()["house"]
    codes = [f"H32010400{n:04d}" for n in range(3)]
    store = open_store(hub.config)
    try:
        with store.begin() as tx:
            tx.upsert(
                "police_db",
                [(c, house.model_copy(update={"house_code": c, "beat_code": BEAT})) for c in codes],
            )
    finally:
        store.close()
    page = _page(hub, "analyst", "house", purpose="统计分析", limit=50)
    assert len(page["items"]) == len(codes)
    assert all(
        set(i["record"]) <= {"house_code", "use", "occupant_count", "grid_code"}
        for i in page["items"]
    )
    shown = {i["record"]["house_code"] for i in page["items"]}
    assert len(shown) == len(codes)
    assert not shown & set(codes)
    police = _page(hub, "police", "house", purpose="社区警务", limit=50)
    assert {i["record"]["house_code"] for i in police["items"]} >= set(codes)
