"""Every creation and step commits with its audit entry and its outbox event, or not at
all; a refused step leaves no change, no event and no ``allowed`` entry, only the refusal."""

from __future__ import annotations

import secrets

import pytest

from contracts import OrderType, Step
from hub.audit import AuditError, AuditLog
from hub.auth import ClientRegistry
from hub.auth.verify import AccessContext
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import Asked, Sharing
from hub.work.orders import WorkOrders
from hub.work.requests import DispatchRequest, StepRequest
from tests.work.conftest import B1, G1, ORDERS, SLA, Loop, order_request


def test_each_creation_and_step_is_audited_and_told(loop: Loop) -> None:
    answer = loop.post("police", "/v1/work-orders", order_request(loop))
    assert answer.status_code == 201, answer.text
    placed = answer.json()
    record_id = loop.db_id("police", placed["id"])
    house_id = loop.db_id("police", loop.house_ref, "house")
    [created] = loop.audited(request_id=answer.headers["X-Request-ID"])
    assert (created.action, created.outcome, created.kind) == (
        "work_orders.dispatch",
        "allowed",
        "work_order",
    )
    assert created.record_ids == [f"work_order/{record_id}", f"house/{house_id}"]
    assert (created.policy_id, created.purpose) == ("police-station", "社区警务")
    assert created.detail["step"] == "派发"
    assert created.detail["version"] == 1
    assert "instruction" not in created.detail

    grid = loop.ref("grid", placed["order_id"])
    answer = loop.step("grid", grid, "签收", 1, note="今日上门")
    assert answer.status_code == 200
    [stepped] = loop.audited(request_id=answer.headers["X-Request-ID"])
    assert (stepped.action, stepped.outcome) == ("work_orders.transition", "allowed")
    assert stepped.client_id == loop.client_id("grid")
    assert stepped.record_ids == [f"work_order/{record_id}"]
    assert {k: stepped.detail[k] for k in ("from", "to", "step", "version")} == {
        "from": "派发",
        "to": "签收",
        "step": "签收",
        "version": 2,
    }
    assert "今日上门" not in stepped.canonical()
    assert loop.events(record_id) == [
        {
            "type": "work_order.dispatched",
            "data": {"from": None, "to": "派发", "step": "派发", "version": 1},
        },
        {
            "type": "work_order.transitioned",
            "data": {"from": "派发", "to": "签收", "step": "签收", "version": 2},
        },
    ]


@pytest.mark.parametrize(
    ("who", "step", "version", "status", "reason"),
    [
        ("police", "签收", 2, 403, "step"),
        ("grid", "处置中", 1, 409, "stale_version"),
        ("grid", "已办结", 2, 403, "step"),
        ("grid", "签收", 2, 409, "illegal_step"),
        ("grid", "已反馈", 2, 409, "illegal_step"),
        ("police2", "已办结", 2, 404, "not_party"),
    ],
)
def test_a_refused_step_leaves_only_its_refusal(
    loop: Loop, who: str, step: str, version: int, status: int, reason: str
) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    assert loop.step("grid", grid, "签收", 1).status_code == 200
    record_id = loop.db_id("police", placed["id"])
    before = (loop.order("police", placed["id"]), loop.events(record_id))
    ref = placed["id"] if who == "police" else loop.ref(who, placed["order_id"])
    answer = loop.step(who, ref, step, version)
    assert answer.status_code == status, answer.text
    [refusal] = loop.audited(request_id=answer.headers["X-Request-ID"])
    assert (refusal.action, refusal.outcome) == ("work_orders.transition", "denied")
    assert refusal.detail["reason"] == reason
    assert refusal.record_ids == [f"work_order/{record_id}"]
    assert (loop.order("police", placed["id"]), loop.events(record_id)) == before


def test_no_change_commits_without_its_audit_entry(loop: Loop) -> None:
    """The service over the hub's database with an audit log that cannot append (opened
    without its signing key): neither a dispatch nor a step is stored, nor told."""
    placed = loop.dispatch()
    grid_ref = loop.ref("grid", placed["order_id"])
    record_id = loop.db_id("police", placed["id"])
    with loop.store() as store:
        log = AuditLog(store, public_key=store.audit_signing_key().public_key())
        policies = PolicyRegistry(log, loop.config.home / POLICIES_DIR)
        orders = WorkOrders(Sharing(store, log, policies), ClientRegistry(store), SLA, loop.clock)
        count = store.count("work_order")
        police = Asked(
            _access(loop, "police", "police-station", beat_codes=(B1,)),
            "work_order",
            "社区警务",
            "r1",
        )
        request = DispatchRequest(
            receiving_org=loop.client_id("grid"),
            grid_code=G1,
            beat_code=B1,
            order_type=OrderType.VERIFICATION,
            instruction="核查",
        )
        with pytest.raises(AuditError):
            orders.dispatch(police, request)
        assert store.count("work_order") == count

        grid = Asked(
            _access(loop, "grid", "grid-platform", grid_codes=(G1,)), "work_order", "网格服务", "r2"
        )
        with pytest.raises(AuditError):
            orders.transition(grid, grid_ref, StepRequest(step=Step.ACCEPT, version=1))
    assert loop.order("police", placed["id"])["version"] == 1
    assert [e["type"] for e in loop.events(record_id)] == ["work_order.dispatched"]


def _access(loop: Loop, who: str, policy_id: str, **claims: tuple[str, ...]) -> AccessContext:
    client_id = loop.client_id(who)
    return AccessContext(
        client_id=client_id,
        subject=client_id,
        scopes=frozenset(ORDERS),
        claims={},
        policy_id=policy_id,
        token_id=secrets.token_hex(8),
        jurisdiction=claims,
    )
