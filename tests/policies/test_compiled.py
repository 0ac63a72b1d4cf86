"""The compiled policy decides exactly as the interpreted ``decide``: the same decision,
or the same refusal (reason, message, fields), on the example policies and on crafted
ones, for every kind, action, purpose, projection, filter and set of claims tried."""

from __future__ import annotations

import itertools
import random
from pathlib import Path
from typing import Any

import pytest

from contracts import CONTRACTS, contract
from policies import (
    AccessDenied,
    Decision,
    Policy,
    compiled,
    decide,
    load_policies,
    parse_policy,
)

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
ACTIONS = ("read", "write", "submit", "review", "stats", "delete")
CLAIMS: list[dict[str, tuple[str, ...]]] = [
    {},
    {"grid_codes": ("G32010401011",)},
    {"grid_codes": ("G32010401011", "G32010401012"), "beat_codes": ("B3201040101",)},
    {"beat_codes": ("B3201040101",), "area_codes": ("320104",)},
    {"grid_prefixes": ("G320104",), "grid_codes": ()},
]

CRAFTED: list[dict[str, Any]] = [
    {
        "id": "crafted-where",
        "version": 2,
        "title": "crafted: conditions, prefixes, write and submit",
        "purposes": ["甲", "乙"],
        "kinds": {
            "person": {
                "actions": ["read", "write", "submit"],
                "rows": {
                    "jurisdiction": [
                        {"field": "grid_code", "claim": "grid_prefixes", "match": "prefix"},
                        {"field": "beat_code", "claim": "beat_codes"},
                    ],
                    "where": [
                        {"field": "household_type", "in": ["户籍", "流动"]},
                        {"field": "address_code", "prefix": "3201"},
                        {"field": "sex", "equals": "1"},
                    ],
                },
                "fields": {
                    "id_number": "hash",
                    "name": "mask",
                    "birth_date": "year_only",
                    "grid_code": "allow",
                    "beat_code": "allow",
                    "phone": "deny",
                },
                "write": ["name", "grid_code"],
                "submit": ["name", "phone"],
            },
            "incident": {"rows": {"all": True}, "fields": {}},
        },
    },
    {
        "id": "crafted-all",
        "version": 1,
        "title": "crafted: every row, every field of one kind in clear",
        "purposes": ["丙"],
        "kinds": {
            "house": {
                "actions": ["read", "review"],
                "rows": {"all": True},
                "fields": {s.name: "allow" for s in contract("house").specs()},
            }
        },
    },
    {
        "id": "crafted-counts",
        "version": 1,
        "title": "crafted: counts only of one kind, rows and counts of another",
        "purposes": ["丁"],
        "kinds": {
            "person": {
                "access": "aggregate",
                "min_cell": 10,
                "rows": {"jurisdiction": [{"field": "grid_code", "claim": "grid_codes"}]},
                "fields": {"grid_code": "allow", "household_type": "allow", "sex": "deny"},
            },
            "house": {
                "access": "both",
                "rows": {"all": True},
                "fields": {"house_code": "hash", "use": "allow", "grid_code": "allow"},
            },
        },
    },
]


def policies() -> list[Policy]:
    return [*load_policies(EXAMPLES).values(), *(parse_policy(d) for d in CRAFTED)]


def outcome(call: Any, *args: Any) -> Decision | tuple[str, str, tuple[str, ...], str | None]:
    try:
        result: Decision = call(*args)
    except AccessDenied as exc:
        return (exc.reason, str(exc), exc.fields, exc.kind)
    return result


def asks(policy: Policy, kind: str, rng: random.Random) -> list[tuple[Any, ...]]:
    """Projections and filters worth asking: none, granted ones, refused ones, repeats."""
    names = [s.name for s in contract(kind).specs()]
    picks: list[list[str] | None] = [None, [], names, names[:2] * 2, ["no_such_field"]]
    picks += [rng.sample(names, k=min(len(names), 3)) for _ in range(3)]
    filters: list[list[str]] = [[], names[:1], names[-2:], rng.sample(names, k=2)]
    purposes = [None, "", policy.purposes[0], policy.purposes[-1], "未声明的目的"]
    return list(itertools.product(purposes, ACTIONS, picks, filters))


@pytest.mark.parametrize("policy", policies(), ids=lambda p: p.id)
def test_compiled_and_interpreted_decisions_agree(policy: Policy) -> None:
    rng = random.Random(policy.id)  # noqa: S311 (test sampling)
    fast = compiled(policy)
    tried = decided = 0
    for kind in CONTRACTS:
        for purpose, action, fields, filters in asks(policy, kind, rng):
            for claims in CLAIMS:
                asked = (claims, kind, purpose, action, fields, filters)
                slow = outcome(decide, policy, *asked)
                quick = outcome(fast.decide, *asked)
                assert quick == slow, (kind, purpose, action, fields, filters, claims)
                if isinstance(quick, Decision):
                    assert list(quick.treatments) == list(slow.treatments)  # type: ignore[union-attr]
                    decided += 1
                tried += 1
    assert decided > 0
    assert tried > decided


def test_a_policy_is_compiled_once_per_loaded_version() -> None:
    first, again = (parse_policy(CRAFTED[0]) for _ in range(2))
    assert compiled(first) is compiled(first)
    assert compiled(again) is not compiled(first)
    assert compiled(again).policy is again
