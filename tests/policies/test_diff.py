"""``policies.diff``: a table of crafted pairs of policies, each with exactly the changes
(and their direction) it must report: every widening flagged, no narrowing taken for one.
Row rules are compared by what they admit, so equal rules written differently are no
change at all."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from policies import Policy, parse_policy
from policies.diff import diff, treatment_order
from policies.model import Treatment

Doc = dict[str, Any]
GRID = {"field": "grid_code", "claim": "grid_codes"}
GRID_PREFIX = {"field": "grid_code", "claim": "grid_codes", "match": "prefix"}
BEAT = {"field": "beat_code", "claim": "beat_codes"}
BASE: Doc = {
    "id": "crafted",
    "version": 1,
    "title": "crafted pair",
    "purposes": ["甲"],
    "kinds": {
        "person": {
            "rows": {"jurisdiction": [GRID]},
            "fields": {
                "name": "mask",
                "grid_code": "allow",
                "birth_date": "year_only",
                "id_number": "hash",
                "household_type": "allow",
            },
        }
    },
}


def person(**changes: Any) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        doc["kinds"]["person"].update(changes)

    return change


def rows(*jurisdiction: Doc, all_rows: bool = False, where: list[Doc] | None = None) -> Doc:
    found: Doc = {"all": True} if all_rows else {"jurisdiction": list(jurisdiction)}
    return found | ({"where": where} if where else {})


def field(name: str, treatment: str | None) -> Callable[[Doc], None]:
    def change(doc: Doc) -> None:
        fields = doc["kinds"]["person"]["fields"]
        if treatment is None:
            fields.pop(name)
        else:
            fields[name] = treatment

    return change


def top(**changes: Any) -> Callable[[Doc], None]:
    return lambda doc: doc.update(changes)


def same(doc: Doc) -> None:
    pass


def add_house(doc: Doc) -> None:
    doc["kinds"]["house"] = {"rows": rows(GRID), "fields": {"house_code": "allow"}}


def orders(issue: list[str], receive: list[str] | None = None) -> Callable[[Doc], None]:
    return top(work_orders={"rows": rows(GRID), "issue": issue, "receive": receive or []})


TYPE = "household_type"
W = "widens"
N = "narrows"
CASES: dict[str, tuple[Callable[[Doc], None], Callable[[Doc], None], set[tuple[str, str]]]] = {
    "nothing": (same, same, set()),
    "mask-to-allow": (same, field("name", "allow"), {("person.fields.name", W)}),
    "allow-to-mask": (field("name", "allow"), same, {("person.fields.name", N)}),
    "unnamed-to-hash": (field("id_number", None), same, {("person.fields.id_number", W)}),
    "hash-to-mask": (
        same,
        field("id_number", "mask"),
        {("person.fields.id_number", W), ("person.fields.id_number", N)},
    ),
    "year-only-to-deny": (same, field("birth_date", "deny"), {("person.fields.birth_date", N)}),
    "deny-to-unnamed": (field("name", "deny"), field("name", None), set()),
    "purpose-added": (same, top(purposes=["甲", "乙"]), {("purposes", W)}),
    "purpose-removed": (top(purposes=["甲", "乙"]), same, {("purposes", N)}),
    "submit-added": (
        same,
        person(actions=["read", "submit"], submit=["name"]),
        {("person.actions", W), ("person.submit", W)},
    ),
    "police-flag": (same, top(police=True), {("police", W)}),
    "auditor-role": (top(role="auditor"), same, {("role", N)}),
    "equals-to-prefix": (same, person(rows=rows(GRID_PREFIX)), {("person.rows", W)}),
    "prefix-to-equals": (person(rows=rows(GRID_PREFIX)), same, {("person.rows", N)}),
    "jurisdiction-added": (same, person(rows=rows(GRID, BEAT)), {("person.rows", W)}),
    "jurisdiction-removed": (person(rows=rows(GRID, BEAT)), same, {("person.rows", N)}),
    "jurisdictions-reordered": (
        person(rows=rows(GRID, BEAT)),
        person(rows=rows(BEAT, GRID)),
        set(),
    ),
    "to-all-rows": (same, person(rows=rows(all_rows=True)), {("person.rows", W)}),
    "from-all-rows": (person(rows=rows(all_rows=True)), same, {("person.rows", N)}),
    "claim-swapped": (
        same,
        person(rows=rows({"field": "grid_code", "claim": "grid_prefixes"})),
        {("person.rows", W), ("person.rows", N)},
    ),
    "condition-added": (
        same,
        person(rows=rows(GRID, where=[{"field": TYPE, "in": ["户籍"]}])),
        {("person.rows", N)},
    ),
    "condition-removed": (
        person(rows=rows(GRID, where=[{"field": TYPE, "in": ["户籍"]}])),
        same,
        {("person.rows", W)},
    ),
    "in-list-grows": (
        person(rows=rows(GRID, where=[{"field": TYPE, "equals": "户籍"}])),
        person(rows=rows(GRID, where=[{"field": TYPE, "in": ["户籍", "流动"]}])),
        {("person.rows", W)},
    ),
    "equals-as-in": (
        person(rows=rows(GRID, where=[{"field": TYPE, "equals": "户籍"}])),
        person(rows=rows(GRID, where=[{"field": TYPE, "in": ["户籍"]}])),
        set(),
    ),
    "shorter-prefix": (
        person(rows=rows(GRID, where=[{"field": "grid_code", "prefix": "G3201"}])),
        person(rows=rows(GRID, where=[{"field": "grid_code", "prefix": "G320"}])),
        {("person.rows", W)},
    ),
    "longer-prefix": (
        person(rows=rows(GRID, where=[{"field": "grid_code", "prefix": "G320"}])),
        person(rows=rows(GRID, where=[{"field": "grid_code", "prefix": "G3201"}])),
        {("person.rows", N)},
    ),
    "in-to-covering-prefix": (
        person(rows=rows(GRID, where=[{"field": TYPE, "in": ["户籍"]}])),
        person(rows=rows(GRID, where=[{"field": TYPE, "prefix": "户"}])),
        {("person.rows", W)},
    ),
    "prefix-claim-within-a-fixed-grid": (
        person(rows=rows(GRID_PREFIX, where=[{"field": "grid_code", "in": ["G1"]}])),
        person(rows=rows(GRID, where=[{"field": "grid_code", "in": ["G1"]}])),
        {("person.rows", N)},
    ),
    "condition-on-the-jurisdiction-field": (
        same,
        person(rows=rows(GRID, where=[{"field": "grid_code", "prefix": "G3201"}])),
        {("person.rows", N)},
    ),
    "aggregates-only-lifted": (
        person(access="aggregate", fields={"grid_code": "allow"}),
        person(fields={"grid_code": "allow"}),
        {("person.access.records", W), ("person.access.counts", N)},
    ),
    "aggregate-to-both": (
        person(access="aggregate", fields={"grid_code": "allow"}),
        person(access="both", fields={"grid_code": "allow"}),
        {("person.access.records", W)},
    ),
    "records-to-both": (same, person(access="both"), {("person.access.counts", W)}),
    "min-cell-lowered": (
        person(access="aggregate", fields={"grid_code": "allow"}),
        person(access="aggregate", fields={"grid_code": "allow"}, min_cell=3),
        {("person.min_cell", W)},
    ),
    "min-cell-raised": (
        person(access="aggregate", fields={"grid_code": "allow"}),
        person(access="aggregate", fields={"grid_code": "allow"}, min_cell=10),
        {("person.min_cell", N)},
    ),
    "kind-added": (
        same,
        add_house,
        {("house.actions", W), ("house.rows", W), ("house.fields.house_code", W)},
    ),
    "kind-removed": (
        add_house,
        same,
        {("house.actions", N), ("house.rows", N), ("house.fields.house_code", N)},
    ),
    "step-added": (orders(["派发"]), orders(["派发", "转派"]), {("work_orders.issue", W)}),
    "steps-granted": (
        same,
        orders(["派发"]),
        {("work_orders.issue", W), ("work_orders.rows", W)},
    ),
    "receive-step-removed": (
        orders([], ["签收", "已反馈"]),
        orders([], ["签收"]),
        {("work_orders.receive", N)},
    ),
}


def policy(change: Callable[[Doc], None]) -> Policy:
    doc = copy.deepcopy(BASE)
    change(doc)
    return parse_policy(doc)


@pytest.mark.parametrize("case", CASES)
def test_each_change_is_reported_with_its_direction(case: str) -> None:
    old, new, expected = CASES[case]
    found = {(c.where, c.direction) for c in diff(policy(old), policy(new))}
    assert found == expected


def test_the_table_covers_widening_and_narrowing() -> None:
    directions = [d for *_, expected in CASES.values() for _, d in expected]
    assert directions.count(W) >= 20
    assert directions.count(N) >= 15


def test_a_row_widening_names_a_caller_and_a_record_it_lets_through() -> None:
    old, new, _ = CASES["shorter-prefix"]
    [change] = diff(policy(old), policy(new))
    assert "grid_codes=[G320" in change.example
    assert "grid_code=G320" in change.example


def test_the_treatment_order() -> None:
    middle = (Treatment.HASH, Treatment.MASK, Treatment.YEAR_ONLY)
    for t in middle:
        assert treatment_order(Treatment.DENY, t) == {W}
        assert treatment_order(t, Treatment.ALLOW) == {W}
        assert treatment_order(Treatment.ALLOW, t) == {N}
        assert treatment_order(t, t) == set()
        for other in middle:
            if other != t:
                assert treatment_order(t, other) == {W, N}
