"""The ``break_glass`` grant of a policy, and the decision a read under a session gets."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from contracts import Person, Sensitivity
from policies import (
    AccessDenied,
    PolicyInvalid,
    Treatment,
    decide_break_glass,
    explain,
    load_policy,
    parse_policy,
)
from policies.diff import diff

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
CLAIMS = {"grid_codes": ("G32010401011",)}


def _grid(glass: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(
        (EXAMPLES / "grid-platform.yaml").read_text(encoding="utf-8")
    )
    return document | {"break_glass": glass}


def test_a_policy_without_the_grant_keeps_its_digest() -> None:
    policy = load_policy(EXAMPLES / "grid-platform.yaml")
    granted = parse_policy(_grid({"kinds": ["person"]}))
    assert parse_policy(_grid(None)).digest == policy.digest
    assert granted.digest != policy.digest
    assert granted.break_glass is not None
    assert granted.break_glass.minutes == 30


@pytest.mark.parametrize(
    "glass", [{"kinds": ["ghost"]}, {}, {"kinds": ["person"], "minutes": 0}, {"minutes": 241}]
)
def test_the_loader_refuses_a_grant_that_grants_nothing_or_no_kind(glass: Any) -> None:
    with pytest.raises(PolicyInvalid):
        parse_policy(_grid(glass))


def test_a_session_read_sees_every_row_and_field_but_police_only_ones() -> None:
    policy = parse_policy(_grid({"kinds": ["person"]}))
    decision = decide_break_glass(policy, CLAIMS, "person", "网格服务")
    assert decision.scope.unrestricted
    assert decision.policy_digest == policy.digest
    police_only = {s.name for s in Person.specs() if s.sensitivity is Sensitivity.POLICE_ONLY}
    assert set(decision.treatments) == {s.name for s in Person.specs()} - police_only
    assert set(decision.treatments.values()) == {Treatment.ALLOW}
    assert set(decision.withheld) == police_only
    police = load_policy(EXAMPLES / "police-station.yaml")
    wide = parse_policy(police.as_dict() | {"break_glass": {"kinds": ["person"]}})
    assert "police_tags" in decide_break_glass(wide, {}, "person", "社区警务").treatments
    for kind, purpose, reason in [
        ("house", "网格服务", "break_glass"),
        ("person", "统计分析", "purpose"),
    ]:
        with pytest.raises(AccessDenied) as refused:
            decide_break_glass(policy, CLAIMS, kind, purpose)
        assert refused.value.reason == reason


def test_explain_names_what_a_session_would_serve_apart_from_the_grant() -> None:
    granted = parse_policy(_grid({"kinds": ["person"]}))
    grants = explain([granted], "person.id_number")
    assert [(g.treatment, g.break_glass) for g in grants] == [
        (Treatment.MASK, False),
        (Treatment.ALLOW, True),
    ]
    assert explain([granted], "person.police_tags") == []
    assert [g.break_glass for g in explain([granted], "house.use")] == [False]


@pytest.mark.parametrize(
    ("before", "after", "wider", "narrower"),
    [
        (None, {"kinds": ["person"]}, ["break_glass.kinds"], []),
        ({"kinds": ["person"]}, None, [], ["break_glass.kinds"]),
        ({"kinds": ["person"]}, {"kinds": ["person"], "minutes": 60}, ["break_glass.minutes"], []),
        ({"kinds": ["person"], "minutes": 60}, {"kinds": ["person"]}, [], ["break_glass.minutes"]),
        (None, {"approve": True}, ["break_glass.approve"], []),
        ({"kinds": ["person"]}, {"kinds": ["person"]}, [], []),
    ],
)
def test_policy_diff_tells_break_glass_widened_from_narrowed(
    before: Any, after: Any, wider: list[str], narrower: list[str]
) -> None:
    changes = diff(parse_policy(_grid(before)), parse_policy(_grid(after)))
    assert [c.where for c in changes if c.widens] == wider
    assert [c.where for c in changes if not c.widens] == narrower
    assert all(c.kind == "" for c in changes)
