"""``submit`` and ``review`` in a policy: what the loader refuses, what a decision grants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.auth.scopes import policy_scopes, scope_problems
from policies import AccessDenied, PolicyInvalid, decide, load_policies, parse_policy

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
JURISDICTION = {"jurisdiction": [{"field": "grid_code", "claim": "grid_codes"}]}


def policy(police: bool = False, **grant: Any) -> dict[str, Any]:
    return {
        "id": "test-policy",
        "version": 1,
        "title": "t",
        "police": police,
        "purposes": ["p"],
        "kinds": {"person": {"rows": JURISDICTION} | grant},
    }


@pytest.mark.parametrize(
    ("grant", "message"),
    [
        ({"submit": ["name"]}, "submit lists fields, but submit is not an action"),
        ({"actions": ["read", "submit"]}, "submit is an action: list the fields it may submit"),
        ({"actions": ["submit"], "submit": ["nickname"]}, "person has no field 'nickname'"),
        (
            {"actions": ["submit"], "submit": ["name", "police_tags"]},
            "police_tags is police_only: only a police policy submits it",
        ),
    ],
)
def test_a_submit_list_must_match_the_action_and_the_contract(
    grant: dict[str, Any], message: str
) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(policy(**grant))
    assert [(p.where, p.message) for p in caught.value.problems] == [
        ("kinds.person.submit", message)
    ]


def test_a_police_policy_may_submit_police_only_fields() -> None:
    parse_policy(policy(police=True, actions=["submit"], submit=["id_number", "police_tags"]))


@pytest.mark.parametrize(
    "rows",
    [
        {"jurisdiction": [{"field": "address_code", "claim": "areas", "match": "prefix"}]},
        {"all": True, "where": [{"field": "name", "equals": "张伟"}]},
    ],
)
def test_review_rows_name_only_what_the_queue_keeps_in_clear(rows: dict[str, Any]) -> None:
    """address_code and name are personal: the queue seals them, no SQL could match them."""
    document = policy(actions=["read", "review"])
    document["kinds"]["person"]["rows"] = rows
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(document)
    assert [p.where for p in caught.value.problems] == ["kinds.person.rows"]
    document["kinds"]["person"]["actions"] = ["read"]
    parse_policy(document)  # for reading, the store holds them in clear: allowed


def test_a_submit_decision_grants_the_submit_list_and_nothing_else() -> None:
    policies = load_policies(EXAMPLES)
    grid, police = policies["grid-platform"], policies["police-station"]
    claims = {"grid_codes": ["G1"]}
    submitting = decide(grid, claims, "person", "网格服务", "submit")
    assert submitting.writable == frozenset(grid.kinds["person"].submit)
    assert "police_tags" not in submitting.writable
    assert decide(grid, claims, "incident", "网格服务", "read").writable == frozenset()
    with pytest.raises(AccessDenied):
        decide(grid, claims, "person", "网格服务", "write")
    with pytest.raises(AccessDenied):
        decide(grid, claims, "person", "网格服务", "review")
    reviewing = decide(police, {"beat_codes": ["B1"]}, "house", "社区警务", "review")
    assert reviewing.writable == frozenset()
    assert reviewing.treatments == dict(police.kinds["house"].fields)


def test_submit_and_review_scopes_follow_the_policy() -> None:
    policies = load_policies(EXAMPLES)
    grid, police = policies["grid-platform"], policies["police-station"]
    assert {"person.submit", "house.submit", "incident.submit"} <= policy_scopes(grid)
    assert {"person.review", "house.review", "incident.review"} <= policy_scopes(police)
    assert scope_problems(["person.review"], grid) == [
        "scope 'person.review' is not granted by policy grid-platform@v3"
    ]
    assert scope_problems(["person.submit"], police) == [
        "scope 'person.submit' is not granted by policy police-station@v3"
    ]
