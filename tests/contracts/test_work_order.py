"""派单 contract: the loop 派发 → 签收 → 处置中 → 已反馈 → 已办结 as data, and every history
checked against it, whatever wrote it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from contracts import (
    NEXT_STATUSES,
    STEP_TO,
    STEPS,
    OrderStatus,
    RecordInvalid,
    Step,
    WorkOrder,
    next_deadline,
    step_refusal,
)

POLICE, GRID, OTHER_GRID = "cl_police", "cl_grid", "cl_grid_2"
T = "2024-05-0{day}T{hour:02d}:00:00+08:00"
ROUTE = {"receiving_org": GRID, "grid_code": "G320104001", "beat_code": "B32010401"}


def entry(step: str, hour: int, org: str = GRID, day: int = 1, **carried: Any) -> dict[str, Any]:
    status = STEPS[Step(step)].leads_to.value
    at = T.format(day=day, hour=hour)
    return {"step": step, "status": status, "at": at, "by": "王网格", "org": org, **carried}


LOOP = [
    entry("派发", 9, POLICE, **ROUTE),
    entry("签收", 10, assignee="王网格"),
    entry("处置中", 11),
    entry("已反馈", 12, feedback="已核查，责令整改"),
    entry("已办结", 16, POLICE),
]


def order_row(history: list[dict[str, Any]] | None = None, **changes: Any) -> dict[str, Any]:
    steps = LOOP if history is None else history
    status = OrderStatus(steps[-1]["status"])
    accept_by, due_at = T.format(day=1, hour=11), T.format(day=3, hour=18)
    row: dict[str, Any] = {
        "order_id": "WO2024050100123",
        "order_type": "群租房核查",
        "priority": "紧急",
        "related_kind": "house",
        "related_key": "H320104001001",
        "issuing_org": POLICE,
        "receiving_org": GRID,
        "assignee": next((e["assignee"] for e in reversed(steps) if "assignee" in e), None),
        "instruction": "核查瞻园路12号群租情况并反馈",
        "dispatched_at": steps[0]["at"],
        "accept_by": accept_by,
        "due_at": due_at,
        "status": status.value,
        "history": steps,
        "feedback": next((e["feedback"] for e in reversed(steps) if "feedback" in e), None),
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }
    row["deadline"] = _deadline(status, accept_by, due_at)
    row.update(changes)
    return row


def _deadline(status: OrderStatus, accept_by: str, due_at: str) -> str | None:
    found = next_deadline(status, datetime.fromisoformat(accept_by), datetime.fromisoformat(due_at))
    return None if found is None else found.isoformat()


def rules(row: dict[str, Any]) -> list[tuple[str | None, str]]:
    with pytest.raises(RecordInvalid) as caught:
        WorkOrder.parse(row)
    assert all(f.kind == "work_order" for f in caught.value.failures)
    return [(f.field, f.rule) for f in caught.value.failures]


def test_full_loop_passes() -> None:
    order = WorkOrder.parse(order_row())
    assert isinstance(order, WorkOrder)
    assert order.version == 2
    assert order.status is OrderStatus.CLOSED
    assert order.deadline is None
    assert [change.step for change in order.history] == [
        Step.DISPATCH,
        Step.ACCEPT,
        Step.HANDLE,
        Step.REPORT,
        Step.CLOSE,
    ]


def test_feedback_returned_for_rework_then_closed_passes() -> None:
    steps = [
        *LOOP[:4],
        entry("退回", 13, POLICE, reason="未写明整改期限"),
        entry("处置中", 14),
        entry("已反馈", 15, feedback="已责令三日内整改"),
        entry("已办结", 16, POLICE),
    ]
    order = WorkOrder.parse(order_row(steps))
    assert isinstance(order, WorkOrder)
    assert order.feedback == "已责令三日内整改"
    assert [e.feedback for e in order.history if e.feedback] == [
        "已核查，责令整改",
        "已责令三日内整改",
    ]


def test_redispatch_to_another_grid_passes_and_moves_the_order() -> None:
    moved = {"receiving_org": OTHER_GRID, "grid_code": "G320104002"}
    steps = [LOOP[0], LOOP[1], entry("转派", 10, POLICE, **moved), entry("签收", 11, OTHER_GRID)]
    row = order_row(steps, receiving_org=OTHER_GRID, grid_code="G320104002", assignee=None)
    order = WorkOrder.parse(row)
    assert isinstance(order, WorkOrder)
    assert order.status is OrderStatus.ACCEPTED
    assert order.assignee is None  # the first grid's worker does not follow the order
    assert rules(row | {"assignee": "王网格"}) == [(None, "order_history")]
    assert rules(order_row(steps, assignee=None)) == [(None, "order_history")]


def test_a_dispatched_order_is_due_first_for_signing() -> None:
    row = order_row(LOOP[:1], assignee=None)
    assert row["deadline"] == row["accept_by"]
    assert rules(order_row(LOOP[:1], deadline=row["due_at"])) == [(None, "order_history")]


def test_the_state_machine_as_data() -> None:
    assert set(STEPS) == set(Step)
    assert NEXT_STATUSES[OrderStatus.CLOSED] == frozenset()
    assert {rule.leads_to for rule in STEPS.values()} == set(OrderStatus)
    assert STEP_TO[OrderStatus.DISPATCHED] is Step.REDISPATCH
    assert STEPS[Step.REPORT].needs == {"feedback"}
    assert STEPS[Step.RETURN].needs == {"reason"}
    assert STEPS[Step.REDISPATCH].needs == {"receiving_org", "grid_code"}


@pytest.mark.parametrize(
    ("status", "step", "rule"),
    [
        ("派发", "已办结", "order_transition"),
        ("派发", "已反馈", "order_transition"),
        ("签收", "签收", "order_transition"),
        ("已反馈", "转派", "order_transition"),
        ("处置中", "派发", "order_transition"),
        *(("已办结", step.value, "order_closed") for step in Step),
    ],
)
def test_illegal_steps_name_their_rule(status: str, step: str, rule: str) -> None:
    refusal = step_refusal(OrderStatus(status), Step(step))
    assert refusal is not None
    assert refusal[0] == rule


@pytest.mark.parametrize(
    ("status", "step"), [("派发", "签收"), ("退回", "处置中"), ("退回", "转派"), ("已反馈", "退回")]
)
def test_legal_steps_pass(status: str, step: str) -> None:
    assert step_refusal(OrderStatus(status), Step(step)) is None


def test_dispatch_then_close_is_an_illegal_history() -> None:
    steps = [LOOP[0], entry("已办结", 10, POLICE)]
    assert rules(order_row(steps)) == [(None, "order_transition")]


def test_nothing_follows_a_closed_order() -> None:
    steps = [*LOOP, entry("退回", 17, POLICE, reason="重新核查")]
    assert rules(order_row(steps)) == [(None, "order_closed")]


def test_a_step_without_what_it_needs_is_refused() -> None:
    steps = [*LOOP[:3], entry("已反馈", 12)]
    assert rules(order_row(steps, feedback=None)) == [("history", "order_step")]
    returned = [*LOOP[:4], entry("退回", 13, POLICE)]
    assert rules(order_row(returned)) == [("history", "order_step")]


def test_a_step_carrying_what_it_does_not_take_is_refused() -> None:
    steps = [LOOP[0], entry("签收", 10, reason="不属于本网格")]
    assert rules(order_row(steps, assignee=None)) == [("history", "order_step")]


def test_an_entry_whose_status_is_not_its_steps_is_refused() -> None:
    steps = [LOOP[0], LOOP[1] | {"status": "处置中"}]
    assert rules(order_row(steps, status="处置中")) == [("history", "order_step")]


def test_status_differs_from_last_history_entry() -> None:
    assert rules(order_row(status="已反馈")) == [(None, "order_history")]


def test_history_must_start_with_dispatch() -> None:
    assert rules(order_row(LOOP[1:2])) == [(None, "order_history")]


def test_history_cannot_be_empty() -> None:
    assert ("history", "too_short") in rules(order_row(LOOP[:1]) | {"history": []})


def test_history_must_be_in_time_order() -> None:
    steps = [LOOP[0], entry("签收", 8, assignee="王网格")]
    assert rules(order_row(steps, assignee=None)) == [(None, "order_history")]


def test_the_order_agrees_with_its_history() -> None:
    assert rules(order_row(feedback="另一份反馈")) == [(None, "order_history")]
    assert rules(order_row(issuing_org="cl_someone")) == [(None, "order_history")]
    assert rules(order_row(dispatched_at=T.format(day=1, hour=8))) == [(None, "order_history")]
    assert rules(order_row(assignee="李四")) == [(None, "order_history")]


def test_an_org_does_not_dispatch_to_itself() -> None:
    steps = [entry("派发", 9, POLICE, **(ROUTE | {"receiving_org": POLICE}))]
    assert rules(order_row(steps, receiving_org=POLICE, assignee=None)) == [(None, "order_history")]


def test_due_at_must_follow_the_dispatch() -> None:
    at = T.format(day=1, hour=8)
    assert rules(order_row(due_at=at, accept_by=at)) == [(None, "order_history")]
    assert rules(order_row(due_at=T.format(day=1, hour=9))) == [(None, "order_due")]


def test_related_kind_and_key_go_together() -> None:
    assert rules(order_row(related_key=None)) == [(None, "order_related")]
    assert ("related_kind", "value_set") in rules(order_row(related_kind="person"))


def test_naive_due_at_is_refused() -> None:
    assert ("due_at", "datetime_timezone") in rules(order_row(due_at="2024-05-03T18:00:00"))


def test_naive_history_time_is_refused() -> None:
    steps = [dict(e) for e in LOOP]
    steps[0]["at"] = "2024-05-01T09:00:00"
    assert ("history", "datetime_timezone") in rules(
        order_row(steps, dispatched_at=T.format(day=1, hour=9))
    )


def test_unknown_status_step_type_and_priority_are_refused() -> None:
    assert ("status", "value_set") in rules(order_row(status="已完成"))
    assert ("history", "value_set") in rules(order_row([LOOP[0] | {"step": "作废"}]))
    assert ("order_type", "value_set") in rules(order_row(order_type="其它事项"))
    assert ("priority", "value_set") in rules(order_row(priority="很急"))
