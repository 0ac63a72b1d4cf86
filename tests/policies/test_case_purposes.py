"""Purposes bound to a case (``purposes: {案件侦查: {requires: incident}}``): how a policy
says it, what the loader refuses, and what both deciders answer to a request that cites a
case or fails to."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest
import yaml

from policies import (
    AccessDenied,
    Citation,
    Decision,
    Match,
    PolicyInvalid,
    compiled,
    decide,
    load_policy,
    parse_policy,
)
from policies.diff import diff

EXAMPLE = Path(__file__).parents[2] / "policies" / "examples" / "police-station.yaml"
CLAIMS = {"beat_codes": ("B3201040101",)}
BOUND = "purposes.案件侦查.requires"


def _station(purposes: Any) -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))
    return document | {"purposes": purposes}


def test_the_mapping_form_binds_purposes_and_the_list_form_is_unchanged() -> None:
    listed = load_policy(EXAMPLE)
    unbound = parse_policy(_station({key: {} for key in listed.purposes}))
    assert unbound == listed
    assert unbound.digest == listed.digest
    assert listed.as_dict()["purposes"] == listed.purposes
    bound = parse_policy(_station({"社区警务": None, "案件侦查": {"requires": "incident"}}))
    assert bound.purposes == ["社区警务", "案件侦查"]
    assert bound.cases == {"案件侦查": "incident"}
    assert bound.digest != parse_policy(_station(["社区警务", "案件侦查"])).digest
    again = parse_policy(bound.as_dict())
    assert again == bound
    assert bound.as_dict()["purposes"] == {"社区警务": {}, "案件侦查": {"requires": "incident"}}


@pytest.mark.parametrize(
    ("purposes", "kinds", "where"),
    [
        ({"案件侦查": {"requires": "person"}}, None, "requires"),
        ({"案件侦查": {"requires": "incident", "until": "closed"}}, None, "until"),
        ({"案件侦查": {"requires": "work_order"}}, {"person"}, "purposes.案件侦查"),
        ({"案件侦查": {"requires": "incident"}}, {"person"}, "purposes.案件侦查"),
    ],
)
def test_the_loader_refuses_a_binding_it_cannot_check(
    purposes: dict[str, Any], kinds: set[str] | None, where: str
) -> None:
    document = _station(purposes)
    if kinds is not None:
        document["kinds"] = {k: v for k, v in document["kinds"].items() if k in kinds}
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(document)
    assert any(where in p.where or where in p.message for p in refused.value.problems)


def _outcome(call: Any, *args: Any, **kwargs: Any) -> Decision | tuple[str, str]:
    try:
        decision: Decision = call(*args, **kwargs)
    except AccessDenied as exc:
        return (exc.reason, str(exc))
    return decision


@pytest.mark.parametrize(
    ("purpose", "case", "expected"),
    [
        ("案件侦查", None, "case_required"),
        ("案件侦查", "", "case_required"),
        ("社区警务", "E1", "case_unbound"),
        ("案件侦查", "E1", Citation("incident", "E1")),
        ("工单核查", "W1", Citation("work_order", "W1")),
        ("未声明", "E1", "purpose"),
    ],
)
def test_both_deciders_require_a_case_exactly_where_the_purpose_is_bound(
    purpose: str, case: str | None, expected: str | Citation
) -> None:
    policy = parse_policy(
        _station(
            {
                "社区警务": {},
                "案件侦查": {"requires": "incident"},
                "工单核查": {"requires": "work_order"},
            }
        )
    )
    for kind in ("person", "visit"):
        slow = _outcome(decide, policy, CLAIMS, kind, purpose, case=case)
        quick = _outcome(compiled(policy).decide, CLAIMS, kind, purpose, case=case)
        assert quick == slow
        if isinstance(expected, str):
            assert isinstance(slow, tuple)
            assert slow[0] == expected
        else:
            assert isinstance(slow, Decision)
            assert slow.case == expected


def test_a_bound_decision_narrows_its_scope_and_reads_links_as_the_sql_does() -> None:
    policy = parse_policy(_station({"案件侦查": {"requires": "incident"}}))
    decision = decide(policy, CLAIMS, "person", "案件侦查", case="E1")
    links = (Match("link_key", "in", ("k1", "k2")), Match("house_code", "in", ("H1",)))
    bound = decision.bind(links)
    assert bound.scope.all_of[-2:] == links
    assert bound.policy_scope == decision.scope
    assert bound.link_fields() == ["house_code"]
    assert bound.linked({"link_key": "k2", "house_code": "H1"})
    assert not bound.linked({"link_key": "k3", "house_code": "H1"})
    assert not bound.linked({"link_key": "k1", "house_code": None})
    assert not decision.linked({"link_key": "k1"})  # a case not bound links nothing
    unbound = decide(policy, CLAIMS, "person", "案件侦查", case="E1")
    with pytest.raises(ValueError, match="binds a case"):
        dataclasses.replace(unbound, case=None).bind(links)


@pytest.mark.parametrize(
    ("before", "after", "wider", "narrower"),
    [
        ({"案件侦查": {"requires": "incident"}}, {"案件侦查": {}}, [BOUND], []),
        ({"案件侦查": {}}, {"案件侦查": {"requires": "incident"}}, [], [BOUND]),
        (
            {"案件侦查": {"requires": "incident"}},
            {"案件侦查": {"requires": "work_order"}},
            [BOUND],
            [BOUND],
        ),
        ({"案件侦查": {"requires": "incident"}}, {"案件侦查": {"requires": "incident"}}, [], []),
    ],
)
def test_policy_diff_tells_a_binding_lifted_from_one_added(
    before: dict[str, Any], after: dict[str, Any], wider: list[str], narrower: list[str]
) -> None:
    changes = diff(parse_policy(_station(before)), parse_policy(_station(after)))
    assert [c.where for c in changes if c.widens] == wider
    assert [c.where for c in changes if not c.widens] == narrower
