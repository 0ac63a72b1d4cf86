"""A policy or a claim naming a community or a street reads exactly its grids' records:
the area expanded by the database, through the registry, in the query that reads the
rows; the Python reading (``expand_scope`` + ``admits``) agrees with it."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import Person
from hub.grids import expand_scope, replace_registry
from hub.reference.grids import world_registry
from hub.reference.world import generate
from hub.store import Store
from hub.store.query import scope_clause, select_rows
from hub.store.store import kind_table
from policies import Policy, admits, decide

COMMUNITY, STREET = "320104001001", "320104002"


def policy(rows: dict[str, Any]) -> Policy:
    return Policy.model_validate(
        {
            "id": "community-office",
            "version": 1,
            "title": "社区居委会",
            "purposes": ["网格服务"],
            "kinds": {"person": {"rows": rows, "fields": {"name": "allow", "grid_code": "allow"}}},
        }
    )


BY_CLAIM = policy({"jurisdiction": [{"field": "grid_code", "claim": "areas", "match": "area"}]})
BY_POLICY = policy(
    {
        "jurisdiction": [{"field": "grid_code", "claim": "grid_prefixes", "match": "prefix"}],
        "where": [{"field": "grid_code", "area": [COMMUNITY]}],
    }
)


@pytest.fixture
def people(store: Store) -> dict[str, str]:
    """Every person of a small world, stored: grid code by source key."""
    world = generate(people=240, seed=5)
    rows = [(f"P{n}", Person.parse(p)) for n, p in enumerate(world.people)]
    with store.begin() as tx:
        tx.upsert("police_db", rows)
    return {key: person.grid_code for key, person in rows}


def _read(store: Store, decision_policy: Policy, claims: dict[str, list[str]]) -> list[str]:
    decision = decide(decision_policy, claims, "person", "网格服务")
    found = select_rows(store, "person", decision.scope, ["grid_code"], limit=10_000)
    return sorted(row.values["grid_code"] for row in found)


@pytest.mark.parametrize(
    ("chosen", "claims", "area"),
    [
        (BY_CLAIM, {"areas": [COMMUNITY]}, COMMUNITY),
        (BY_CLAIM, {"areas": [STREET]}, STREET),
        (BY_POLICY, {"grid_prefixes": ["G"]}, COMMUNITY),
    ],
)
def test_an_area_reads_exactly_its_grids_records(
    store: Store, people: dict[str, str], chosen: Policy, claims: dict[str, list[str]], area: str
) -> None:
    registry = world_registry()
    replace_registry(store, registry, "test", "world")
    grids = set(registry.grids_of([area]))
    expected = sorted(code for code in people.values() if code in grids)
    assert expected
    assert len(expected) < len(people)
    assert _read(store, chosen, claims) == expected
    decision = decide(chosen, claims, "person", "网格服务")
    assert "grid_registry" in str(scope_clause(kind_table("person"), decision.scope))
    with store.engine.connect() as conn:
        scope = expand_scope(conn, decision.scope)
    assert all(m.op != "area" for m in (*scope.any_of, *scope.all_of))
    admitted = sorted(code for code in people.values() if admits(scope, {"grid_code": code}))
    assert admitted == expected
    assert not any(admits(decision.scope, {"grid_code": code}) for code in people.values())


def test_without_a_registry_an_area_reads_nothing(store: Store, people: dict[str, str]) -> None:
    assert _read(store, BY_CLAIM, {"areas": [COMMUNITY]}) == []
    with store.engine.connect() as conn:
        scope = expand_scope(
            conn, decide(BY_CLAIM, {"areas": [COMMUNITY]}, "person", "网格服务").scope
        )
    assert not any(admits(scope, {"grid_code": code}) for code in people.values())


def test_an_area_names_grid_codes_only() -> None:
    with pytest.raises(ValueError, match="grid_code only"):
        policy({"jurisdiction": [{"field": "beat_code", "claim": "areas", "match": "area"}]})
    with pytest.raises(ValueError, match="grid_code only"):
        policy({"all": True, "where": [{"field": "address_code", "area": [COMMUNITY]}]})
