"""The ``work_orders`` grant: which side takes which step, on which orders; checked at load
against the contract's steps and fields; ``write`` on work orders refused."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hub.auth.scopes import policy_scopes
from policies import (
    AccessDenied,
    Policy,
    PolicyInvalid,
    decide_receiving,
    decide_step,
    load_policies,
    parse_policy,
)

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
ORDER = {"grid_code": "G320104001", "beat_code": "B32010401"}
ROWS = {"jurisdiction": [{"field": "grid_code", "claim": "grid_codes"}]}


@pytest.fixture(scope="module")
def policies() -> dict[str, Policy]:
    return load_policies(EXAMPLES)


def document(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "test-policy",
        "version": 1,
        "title": "t",
        "purposes": ["p"],
        "work_orders": {"rows": ROWS, "receive": ["签收"]},
    }
    return base | changes


def problems(document: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(PolicyInvalid) as refused:
        parse_policy(document)
    return [(p.where, p.message) for p in refused.value.problems]


def test_the_examples_give_the_station_the_issuing_side_and_the_grid_the_receiving(
    policies: dict[str, Policy],
) -> None:
    station, grid = policies["police-station"].work_orders, policies["grid-platform"].work_orders
    assert station is not None
    assert grid is not None
    assert set(station.issue) == {"派发", "转派", "已办结", "退回"}
    assert not station.receive
    assert set(grid.receive) == {"签收", "处置中", "已反馈"}
    assert not grid.issue
    assert policies["street-analyst"].work_orders is None


@pytest.mark.parametrize(
    ("changes", "where", "says"),
    [
        ({"work_orders": {"rows": ROWS, "receive": ["签到"]}}, "work_orders.receive", "签到"),
        ({"work_orders": {"rows": ROWS, "issue": ["作废"]}}, "work_orders.issue", "作废"),
        ({"work_orders": {"rows": ROWS, "receive": ["派发"]}}, "work_orders.receive", "派发"),
        ({"work_orders": {"rows": ROWS}}, "work_orders", "no step"),
        (
            {
                "work_orders": {
                    "rows": {"jurisdiction": [{"field": "grid", "claim": "g"}]},
                    "receive": ["签收"],
                }
            },
            "work_orders.rows.jurisdiction",
            "no field 'grid'",
        ),
        (
            {
                "work_orders": {
                    "rows": {"all": True, "where": [{"field": "kind", "equals": "x"}]},
                    "issue": ["派发"],
                }
            },
            "work_orders.rows.where",
            "no field 'kind'",
        ),
        (
            {
                "kinds": {
                    "work_order": {
                        "actions": ["read", "write"],
                        "rows": ROWS,
                        "fields": {"status": "allow"},
                        "write": ["status", "history"],
                    }
                }
            },
            "kinds.work_order.actions",
            "not write",
        ),
    ],
)
def test_a_grant_the_loop_cannot_honour_is_refused(
    changes: dict[str, Any], where: str, says: str
) -> None:
    found = problems(document(**changes))
    assert [w for w, _ in found] == [where]
    assert says in found[0][1]


def test_each_side_takes_only_its_steps(policies: dict[str, Policy]) -> None:
    grid, station = policies["grid-platform"], policies["police-station"]
    claims = {"grid_codes": ["G320104001"]}
    decide_step(grid, claims, "网格服务", "receive", "签收", ORDER)
    for side, step in [("receive", "已办结"), ("issue", "签收"), ("issue", "派发")]:
        with pytest.raises(AccessDenied) as refused:
            decide_step(grid, claims, "网格服务", side, step, ORDER)  # type: ignore[arg-type]
        assert refused.value.reason == "step"
    decide_step(station, {"beat_codes": ["B32010401"]}, "社区警务", "issue", "已办结", ORDER)


@pytest.mark.parametrize(
    ("claims", "purpose", "reason"),
    [
        ({"grid_codes": ["G320104002"]}, "网格服务", "scope"),
        ({}, "网格服务", "scope"),
        ({"grid_codes": ["G320104001"]}, "统计分析", "purpose"),
        ({"grid_codes": ["G320104001"]}, None, "purpose"),
    ],
)
def test_a_step_needs_the_order_in_rows_and_a_granted_purpose(
    policies: dict[str, Policy], claims: dict[str, list[str]], purpose: str | None, reason: str
) -> None:
    with pytest.raises(AccessDenied) as refused:
        decide_step(policies["grid-platform"], claims, purpose, "receive", "签收", ORDER)
    assert refused.value.reason == reason


def test_who_may_be_sent_an_order(policies: dict[str, Policy]) -> None:
    decide_receiving(policies["grid-platform"], {"grid_codes": ["G320104001"]}, ORDER)
    cases = [
        ("grid-platform", {"grid_codes": ["G320104009"]}, "scope"),
        ("police-station", {"beat_codes": ["B32010401"]}, "receive"),
        ("street-analyst", {"grid_prefixes": ["G320104"]}, "work_orders"),
    ]
    for policy_id, claims, reason in cases:
        with pytest.raises(AccessDenied) as refused:
            decide_receiving(policies[policy_id], claims, ORDER)
        assert refused.value.reason == reason


def test_a_work_orders_grant_gives_the_write_scope(policies: dict[str, Policy]) -> None:
    assert {"work_order.read", "work_order.write"} <= policy_scopes(policies["grid-platform"])
    assert {"work_order.read", "work_order.write"} <= policy_scopes(policies["police-station"])
    assert "work_order.write" not in policy_scopes(policies["street-analyst"])
    read_only = parse_policy(
        document(work_orders=None, kinds={"work_order": {"rows": ROWS, "fields": {}}})
    )
    assert policy_scopes(read_only) == {"work_order.read"}
