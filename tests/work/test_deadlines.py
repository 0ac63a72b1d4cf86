"""Service levels with the hub's clock moved by the test: an order is overdue exactly when
it is past its next deadline (签收 due 2 h after each dispatch, 办结 at its due time), near
due within 4 h of it; cycle times per grid and per org."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from tests.work.conftest import G2, G3, Loop

Listed = dict[str, set[str]]


def _ok(answer: Any) -> dict[str, Any]:
    assert answer.status_code == 200, answer.text
    body: dict[str, Any] = answer.json()
    return body


def _lists(loop: Loop, who: str = "police") -> Listed:
    def ids(**flags: str) -> set[str]:
        page = _ok(loop.get(who, "/v1/work-orders", limit=500, **flags))
        return {item["record"]["order_id"] for item in page["items"]}

    return {"overdue": ids(overdue="true"), "near_due": ids(near_due="true")}


def _where(loop: Loop, order_id: str) -> set[str]:
    """The lists the order is on, for the police and (the same) for the grid."""
    police, grid = _lists(loop), _lists(loop, "grid")
    on = {name for name, ids in police.items() if order_id in ids}
    assert on == {name for name, ids in grid.items() if order_id in ids}
    return on


def _at(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_an_order_is_overdue_past_each_deadline_and_not_before(loop: Loop) -> None:
    start = loop.clock.now
    placed = loop.dispatch()  # 群租房核查: the hub's defaults
    order_id, grid = placed["order_id"], loop.ref("grid", placed["order_id"])
    record = loop.order("police", placed["id"])["record"]
    assert _at(record["accept_by"]) == _at(record["deadline"]) == start + dt.timedelta(hours=2)
    assert _at(record["due_at"]) == start + dt.timedelta(days=3)
    assert _where(loop, order_id) == {"near_due"}

    loop.clock.advance(hours=1, minutes=59)
    assert _where(loop, order_id) == {"near_due"}
    loop.clock.advance(minutes=2)
    assert _where(loop, order_id) == {"overdue"}

    assert loop.step("grid", grid, "签收", 1).status_code == 200
    assert _where(loop, order_id) == set()
    record = loop.order("police", placed["id"])["record"]
    assert _at(record["deadline"]) == start + dt.timedelta(days=3)

    loop.clock.now = start + dt.timedelta(days=3, hours=-4, minutes=-1)
    assert _where(loop, order_id) == set()
    loop.clock.advance(minutes=2)
    assert _where(loop, order_id) == {"near_due"}
    loop.clock.now = start + dt.timedelta(days=3, minutes=1)
    assert _where(loop, order_id) == {"overdue"}

    assert loop.step("grid", grid, "处置中", 2).status_code == 200
    assert loop.step("grid", grid, "已反馈", 3, feedback="已核查").status_code == 200
    assert _where(loop, order_id) == {"overdue"}
    assert loop.step("police", placed["id"], "已办结", 4).status_code == 200
    assert _where(loop, order_id) == set()


def test_a_redispatched_order_gets_a_fresh_window_to_be_signed_for(loop: Loop) -> None:
    placed = loop.dispatch()
    loop.clock.advance(hours=3)
    assert placed["order_id"] in _lists(loop)["overdue"]
    moved = {"receiving_org": loop.client_id("grid2"), "grid_code": G2}
    assert loop.step("police", placed["id"], "转派", 1, **moved).status_code == 200
    assert placed["order_id"] not in _lists(loop)["overdue"]
    loop.clock.advance(hours=2, minutes=1)
    assert placed["order_id"] in _lists(loop)["overdue"]
    assert placed["order_id"] in _lists(loop, "grid2")["overdue"]


def test_the_due_time_is_the_orders_or_its_types(loop: Loop) -> None:
    start = loop.clock.now
    dispute = loop.dispatch(order_type="矛盾纠纷")  # this hub closes disputes within a day
    record = loop.order("police", dispute["id"])["record"]
    assert _at(record["due_at"]) == start + dt.timedelta(days=1)
    named = (start + dt.timedelta(hours=1)).isoformat()
    urgent = loop.dispatch(due_at=named)
    record = loop.order("police", urgent["id"])["record"]
    assert _at(record["due_at"]) == _at(record["deadline"]) == _at(named)
    loop.clock.advance(hours=1, minutes=1)
    assert urgent["order_id"] in _lists(loop)["overdue"]
    assert dispute["order_id"] not in _lists(loop)["overdue"]


def test_overdue_and_near_due_are_asked_apart(loop: Loop) -> None:
    answer = loop.get("police", "/v1/work-orders", overdue="true", near_due="true")
    assert answer.status_code == 400
    assert answer.json()["type"] == "urn:hub:problem:due"


def test_cycle_times_per_grid_and_per_org(loop: Loop) -> None:
    t0 = loop.clock.now
    a, b, c = (loop.dispatch(grid_code=G3, related=None) for _ in range(3))
    d = loop.dispatch(grid_code=G2, receiving_org=loop.client_id("grid2"), related=None)
    ref = {order["order_id"]: loop.ref("grid", order["order_id"]) for order in (a, b, c)}

    loop.clock.now = t0 + dt.timedelta(hours=1)
    assert loop.step("grid", ref[a["order_id"]], "签收", 1).status_code == 200
    moved = {"receiving_org": loop.client_id("grid"), "grid_code": G3}
    assert loop.step("police", d["id"], "转派", 1, **moved).status_code == 200
    loop.clock.now = t0 + dt.timedelta(hours=1, minutes=30)
    grid_d = loop.ref("grid", d["order_id"])
    assert loop.step("grid", grid_d, "签收", 2).status_code == 200
    loop.clock.now = t0 + dt.timedelta(hours=3)
    assert loop.step("grid", ref[b["order_id"]], "签收", 1).status_code == 200
    loop.clock.now = t0 + dt.timedelta(hours=10)
    assert loop.step("grid", ref[a["order_id"]], "处置中", 2).status_code == 200
    assert loop.step("grid", ref[a["order_id"]], "已反馈", 3, feedback="已整改").status_code == 200
    assert loop.step("police", a["id"], "已办结", 4).status_code == 200

    answer = loop.get("police", "/v1/work-orders/stats", grid=G3)
    stats = _ok(answer)
    assert stats["orders"] == 4
    [by_grid] = stats["by_grid"]
    [by_org] = stats["by_org"]
    assert by_grid["key"] == G3
    assert by_org["key"] == loop.client_id("grid")
    for group in (by_grid, by_org):
        assert (group["orders"], group["open"], group["overdue"]) == (4, 3, 1)
        # Accepted after 1 h (a), 3 h (b) and 0.5 h after d's re-dispatch; c not signed.
        assert group["to_accept"] == {"count": 3, "median_hours": 1.0, "p90_hours": 2.6}
        assert group["to_close"] == {"count": 1, "median_hours": 10.0, "p90_hours": 10.0}
    assert _ok(loop.get("grid", "/v1/work-orders/stats", grid=G3))["by_grid"] == [by_grid]
    assert _ok(loop.get("grid2", "/v1/work-orders/stats", grid=G3))["orders"] == 0
    [entry] = loop.audited(request_id=answer.headers["X-Request-ID"])
    assert (entry.action, entry.outcome, entry.detail["orders"]) == (
        "work_orders.stats",
        "allowed",
        4,
    )


@pytest.mark.parametrize(
    ("who", "params", "status"),
    [
        ("analyst", {}, 403),
        ("police", {"purpose": "统计分析"}, 403),
        ("police", {"grid": "G 1"}, 400),
    ],
)
def test_stats_are_refused_as_any_read(
    loop: Loop, who: str, params: dict[str, str], status: int
) -> None:
    assert loop.get(who, "/v1/work-orders/stats", **params).status_code == status
