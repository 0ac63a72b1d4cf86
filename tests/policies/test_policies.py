from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from contracts import Record
from policies import (
    AccessDenied,
    Policy,
    PolicyInvalid,
    Treatment,
    admits,
    decide,
    explain,
    load_policies,
    parse_policy,
)

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
GRID_CLAIMS = {"grid_codes": ["G320104001"]}


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return load_policies(EXAMPLES)


def minimal(**kinds: Any) -> dict[str, Any]:
    return {"id": "test-policy", "version": 1, "title": "t", "purposes": ["p"], "kinds": kinds}


def test_examples_load_and_fit_the_contracts(policies: dict[str, Policy]) -> None:
    assert set(policies) == {"audit-office", "grid-platform", "police-station", "street-analyst"}


@pytest.mark.parametrize(
    ("kinds", "where"),
    [
        ({"people": {"rows": {"all": True}}}, "kinds.people"),
        (
            {"person": {"rows": {"all": True}, "fields": {"nickname": "allow"}}},
            "kinds.person.fields.nickname",
        ),
        (
            {"person": {"rows": {"all": True}, "fields": {"name": "year_only"}}},
            "kinds.person.fields.name",
        ),
        (
            {"house": {"rows": {"all": True}, "fields": {"occupant_count": "mask"}}},
            "kinds.house.fields.occupant_count",
        ),
        (
            {"person": {"rows": {"all": True}, "fields": {"police_tags": "allow"}}},
            "kinds.person.fields.police_tags",
        ),
        (
            {"person": {"rows": {"jurisdiction": [{"field": "phone", "claim": "phones"}]}}},
            "kinds.person.rows.jurisdiction",
        ),
        (
            {"person": {"rows": {"all": True, "where": [{"field": "nope", "equals": 1}]}}},
            "kinds.person.rows.where",
        ),
        # aggregates-only: counts by clear fields, read only, a cell of one never shown
        (
            {"person": {"access": "aggregate", "rows": {"all": True}, "fields": {"name": "mask"}}},
            "kinds.person.fields.name",
        ),
        (
            {
                "person": {
                    "access": "aggregate",
                    "rows": {"all": True},
                    "fields": {"id_number": "allow"},
                }
            },
            "kinds.person.fields.id_number",
        ),
        (
            {"person": {"access": "aggregate", "min_cell": 1, "rows": {"all": True}}},
            "kinds.person.min_cell",
        ),
        (
            {
                "incident": {
                    "access": "aggregate",
                    "actions": ["read", "write"],
                    "write": ["incident_id"],
                    "rows": {"all": True},
                }
            },
            "kinds.incident.actions",
        ),
    ],
)
def test_a_policy_the_contracts_cannot_honour_is_refused(kinds: dict[str, Any], where: str) -> None:
    with pytest.raises(PolicyInvalid) as caught:
        parse_policy(minimal(**kinds))
    assert [p.where for p in caught.value.problems] == [where]


@pytest.mark.parametrize(
    "rows",
    [{}, {"all": True, "jurisdiction": [{"field": "grid_code", "claim": "grid_codes"}]}],
)
def test_rows_must_be_scoped_explicitly(rows: dict[str, Any]) -> None:
    with pytest.raises(PolicyInvalid, match="rows"):
        parse_policy(minimal(person={"rows": rows}))


def test_grid_client_sees_its_grid_with_masks_and_no_police_fields(
    policies: dict[str, Policy], records: dict[str, Record]
) -> None:
    decision = decide(policies["grid-platform"], GRID_CLAIMS, "person", "网格服务")
    assert decision.scope.any_of[0].field == "grid_code"
    assert decision.scope.any_of[0].values == ("G320104001",)
    view = decision.apply(records["person"].model_dump(), key=b"k" * 32)
    assert view["id_number"] == "320104************"
    assert view["phone"] == "138****5678"
    assert view["birth_date"] == 1990
    assert view["name"] == "张伟"
    assert "police_tags" not in view
    assert "police_tags" in decision.withheld
    assert decision.fields_by_treatment()["mask"] == ["id_number", "phone"]


def test_police_client_sees_everything_in_its_beats(
    policies: dict[str, Policy], records: dict[str, Record]
) -> None:
    decision = decide(
        policies["police-station"], {"beat_codes": ["B32010401"]}, "person", "社区警务"
    )
    view = decision.apply(records["person"].model_dump(), key=b"k" * 32)
    assert view == records["person"].model_dump()
    assert decision.withheld == ()


def test_pseudonyms_differ_per_partner(
    policies: dict[str, Policy], records: dict[str, Record]
) -> None:
    decision = decide(policies["street-analyst"], {"grid_prefixes": ["G3201"]}, "house", "统计分析")
    house = records["house"].model_dump()
    first, second = decision.apply(house, b"a" * 32), decision.apply(house, b"b" * 32)
    assert first["house_code"] != second["house_code"]
    assert first["house_code"] == decision.apply(house, b"a" * 32)["house_code"]
    assert house["house_code"] not in str(first)
    assert set(first) == {"house_code", "use", "occupant_count", "grid_code"}
    assert decision.scope.any_of[0].op == "prefix"


@pytest.mark.parametrize(
    ("kwargs", "reason"),
    [
        ({"purpose": None}, "purpose"),
        ({"purpose": "案件办理"}, "purpose"),
        ({"kind": "unit"}, "kind"),
        ({"kind": "person", "action": "write"}, "kind"),
        ({"fields": ["name", "police_tags"]}, "fields"),
        ({"fields": ["ghost"]}, "fields"),
        ({"filter_fields": ["phone"]}, "filter"),
        ({"filter_fields": ["police_tags"]}, "filter"),
    ],
)
def test_default_deny(policies: dict[str, Policy], kwargs: dict[str, Any], reason: str) -> None:
    request: dict[str, Any] = {"kind": "person", "purpose": "网格服务"} | kwargs
    with pytest.raises(AccessDenied) as caught:
        decide(policies["grid-platform"], GRID_CLAIMS, **request)
    assert caught.value.reason == reason


def test_projection_and_allowed_filters(policies: dict[str, Policy]) -> None:
    decision = decide(
        policies["grid-platform"],
        GRID_CLAIMS,
        "person",
        "网格服务",
        fields=["name", "id_number"],
        filter_fields=["grid_code", "household_type"],
    )
    assert decision.treatments == {"name": Treatment.ALLOW, "id_number": Treatment.MASK}


def test_a_caller_without_the_claims_sees_no_rows(policies: dict[str, Policy]) -> None:
    decision = decide(policies["grid-platform"], {}, "person", "网格服务")
    assert decision.scope.empty


def test_value_conditions_join_the_scope(policies: dict[str, Policy]) -> None:
    decision = decide(policies["grid-platform"], GRID_CLAIMS, "incident", "矛盾纠纷调解")
    [condition] = decision.scope.all_of
    assert (condition.field, condition.op) == ("incident_type", "in")
    assert "治安" not in condition.values


def test_explain_names_who_sees_a_field_and_how(policies: dict[str, Policy]) -> None:
    grants = {g.policy_id: g for g in explain(policies.values(), "person.id_number")}
    assert {k: g.treatment for k, g in grants.items()} == {
        "audit-office": Treatment.ALLOW,
        "grid-platform": Treatment.MASK,
        "police-station": Treatment.ALLOW,
    }
    counted = {g.policy_id: g.access for g in explain(policies.values(), "person.grid_code")}
    assert counted["street-analyst"] == "aggregate"
    assert counted["grid-platform"] == "records"
    assert [g.policy_id for g in explain(policies.values(), "person.police_tags")] == [
        "police-station"
    ]
    with pytest.raises(KeyError):
        explain(policies.values(), "person.ghost")


def test_the_digest_changes_with_the_content(policies: dict[str, Policy]) -> None:
    policy = policies["grid-platform"]
    changed = policy.model_copy(update={"purposes": [*policy.purposes, "其他"]})
    assert changed.digest != policy.digest


def test_admits_checks_a_pushed_record_against_the_scope(policies: dict[str, Policy]) -> None:
    scope = decide(policies["grid-platform"], GRID_CLAIMS, "incident", "矛盾纠纷调解").scope
    assert admits(scope, {"grid_code": "G320104001", "incident_type": "矛盾纠纷"})
    assert not admits(scope, {"grid_code": "G320104002", "incident_type": "矛盾纠纷"})
    assert not admits(scope, {"grid_code": "G320104001", "incident_type": "治安"})
    assert not admits(decide(policies["grid-platform"], {}, "incident", "矛盾纠纷调解").scope, {})
