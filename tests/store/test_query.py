from __future__ import annotations

import pytest
from stdnum.cn import ric

from contracts import Person, Record
from hub.store import Store
from hub.store.query import Filter, QueryError, select_records, select_rows
from policies import Match, RowScope
from tests.ingest.listsource import person_row

EVERYTHING = RowScope(unrestricted=True, any_of=(), all_of=())


def grid_scope(*grids: str) -> RowScope:
    return RowScope(False, (Match("grid_code", "in", grids),), ())


@pytest.fixture
def people(store: Store, records: dict[str, Record]) -> list[Person]:
    base = records["person"].model_dump(mode="json")
    people = []
    for n in range(1, 31):
        row = person_row(n)
        born = f"19{50 + n:02d}-03-07"
        number = row["SFZH"][:6] + born.replace("-", "") + row["SFZH"][14:]
        number = number[:17] + ric.calc_check_digit(number[:17] + "0")
        sex = "1" if int(number[16]) % 2 else "2"
        people.append(
            Person.parse(
                base
                | {
                    "id_number": number,
                    "birth_date": born,
                    "sex": sex,
                    "grid_code": f"G32010400{n % 3}",
                    "phone": f"1380000{n:04d}",
                }
            )
        )
    with store.begin() as tx:
        tx.upsert("police_db", [(f"R{n}", p) for n, p in enumerate(people)])
    return people


def test_scope_is_compiled_into_the_query(store: Store, people: list[Person]) -> None:
    assert len(select_records(store, "person", EVERYTHING)) == 30
    mine = select_records(store, "person", grid_scope("G320104001"))
    assert {s.record.grid_code for s in mine} == {"G320104001"}  # type: ignore[attr-defined]
    assert len(mine) == 10
    nothing = RowScope(False, (), ())
    assert select_records(store, "person", nothing) == []


def test_prefix_scopes_treat_wildcards_as_text(store: Store, people: list[Person]) -> None:
    prefix = RowScope(False, (Match("grid_code", "prefix", ("G3201040",)),), ())
    assert len(select_records(store, "person", prefix)) == 30
    wildcard = RowScope(False, (Match("grid_code", "prefix", ("%",)),), ())
    assert select_records(store, "person", wildcard) == []


def test_filters(store: Store, people: list[Person]) -> None:
    def count(*filters: Filter) -> int:
        return len(select_records(store, "person", EVERYTHING, filters, limit=1000))

    assert count(Filter("birth_date", "gte", "1970-01-01")) == 11
    assert (
        count(Filter("birth_date", "gte", "1970-01-01"), Filter("birth_date", "lte", "1975-12-31"))
        == 6
    )
    assert count(Filter("grid_code", "in", ["G320104001", "G320104002"])) == 20
    assert count(Filter("grid_code", "prefix", "G32010400")) == 30
    assert count(Filter("id_number", "eq", people[4].id_number.lower())) == 1
    assert count(Filter("phone", "in", ["13800000001", "13800000002", "0"])) == 2


@pytest.mark.parametrize(
    "bad",
    [
        Filter("ghost", "eq", "x"),
        Filter("police_tags", "eq", "涉稳"),
        Filter("id_number", "prefix", "3201"),
        Filter("birth_date", "gte", "not a date"),
        Filter("name", "gte", "张"),
        Filter("grid_code", "in", []),
    ],
)
def test_filters_the_store_cannot_run_are_refused(
    store: Store, people: list[Person], bad: Filter
) -> None:
    with pytest.raises(QueryError):
        select_records(store, "person", EVERYTHING, [bad])


def test_paging_is_stable_under_inserts(store: Store, people: list[Person]) -> None:
    first = select_records(store, "person", EVERYTHING, limit=10)
    late = people[0].model_copy(update={"id_number": "11010519491231002X"})
    with store.begin() as tx:
        tx.upsert("grid_platform", [("late", late)])
    second = select_records(store, "person", EVERYTHING, after_id=first[-1].id, limit=10)
    rest = select_records(store, "person", EVERYTHING, after_id=second[-1].id, limit=100)
    ids = [s.id for s in first + second + rest]
    assert len(ids) == len(set(ids)) == 31
    assert ids == sorted(ids)


def test_a_record_out_of_scope_is_as_absent_as_a_missing_one(
    store: Store, people: list[Person]
) -> None:
    [one] = select_records(store, "person", grid_scope("G320104002"), limit=1)

    def one_row(scope: RowScope, record_id: int) -> list[int]:
        found = select_rows(store, "person", scope, ["name"], record_id=record_id, limit=1)
        return [row.id for row in found]

    assert one_row(grid_scope("G320104002"), one.id) == [one.id]
    assert one_row(grid_scope("G320104001"), one.id) == []
    assert one_row(grid_scope("G320104002"), 10**9) == []
