"""派单 contract: the closed loop 派发 → 签收 → 处置中 → 已反馈 → 已办结."""

from __future__ import annotations

from typing import Any

import pytest

from contracts import NEXT_STATUSES, OrderStatus, RecordInvalid, WorkOrder

LOOP = [
    ("派发", "2024-05-01T09:00:00+08:00"),
    ("签收", "2024-05-01T09:30:00+08:00"),
    ("处置中", "2024-05-01T10:00:00+08:00"),
    ("已反馈", "2024-05-02T10:00:00+08:00"),
    ("已办结", "2024-05-02T16:00:00+08:00"),
]


def history(*steps: tuple[str, str]) -> list[dict[str, Any]]:
    return [{"status": status, "at": at, "by": "秦淮分局夫子庙派出所"} for status, at in steps]


def order_row(**changes: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "order_id": "WO2024050100123",
        "incident_id": "IN2024050100045",
        "issuing_org": "南京市公安局秦淮分局夫子庙派出所",
        "receiving_org": "秦淮区夫子庙街道网格化服务管理中心",
        "assignee": "王网格",
        "instruction": "核查瞻园路12号群租情况并反馈",
        "due_at": "2024-05-03T18:00:00+08:00",
        "status": "已办结",
        "history": history(*LOOP),
        "feedback": "已核查，责令整改",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }
    row.update(changes)
    return row


def rules(row: dict[str, Any]) -> list[tuple[str | None, str]]:
    with pytest.raises(RecordInvalid) as caught:
        WorkOrder.parse(row)
    assert all(f.kind == "work_order" for f in caught.value.failures)
    return [(f.field, f.rule) for f in caught.value.failures]


def test_full_loop_passes() -> None:
    order = WorkOrder.parse(order_row())
    assert isinstance(order, WorkOrder)
    assert order.status is OrderStatus.CLOSED
    assert [change.status for change in order.history] == [
        OrderStatus.DISPATCHED,
        OrderStatus.ACCEPTED,
        OrderStatus.IN_PROGRESS,
        OrderStatus.REPORTED,
        OrderStatus.CLOSED,
    ]
    assert order.due_at.utcoffset() is not None


def test_return_and_redispatch_passes() -> None:
    steps = [
        ("派发", "2024-05-01T09:00:00+08:00"),
        ("退回", "2024-05-01T09:10:00+08:00"),
        ("派发", "2024-05-01T09:20:00+08:00"),
        ("签收", "2024-05-01T09:30:00+08:00"),
    ]
    assert WorkOrder.parse(order_row(status="签收", history=history(*steps))).status == "签收"


def test_order_without_history_passes() -> None:
    assert WorkOrder.parse(order_row(status="派发", history=[])).history == []


def test_every_status_has_its_successors() -> None:
    assert set(NEXT_STATUSES) == set(OrderStatus)
    assert NEXT_STATUSES[OrderStatus.CLOSED] == frozenset()


def test_illegal_transition() -> None:
    row = order_row(history=history(LOOP[0], LOOP[-1]))
    assert rules(row) == [(None, "order_transition")]


def test_status_differs_from_last_history_entry() -> None:
    assert rules(order_row(status="已反馈")) == [(None, "order_history")]


def test_history_must_start_with_dispatch() -> None:
    assert rules(order_row(status="签收", history=history(LOOP[1]))) == [(None, "order_history")]


def test_history_must_be_in_time_order() -> None:
    steps = [LOOP[0], ("签收", "2024-05-01T08:00:00+08:00")]
    assert rules(order_row(status="签收", history=history(*steps))) == [(None, "order_history")]


def test_naive_due_at_is_refused() -> None:
    assert rules(order_row(due_at="2024-05-03T18:00:00")) == [("due_at", "datetime_timezone")]


def test_naive_history_time_is_refused() -> None:
    steps = history(*LOOP)
    steps[0]["at"] = "2024-05-01T09:00:00"
    assert rules(order_row(history=steps)) == [("history", "datetime_timezone")]


def test_unknown_status_is_refused() -> None:
    assert rules(order_row(status="已完成", history=[])) == [("status", "value_set")]
