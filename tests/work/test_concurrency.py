"""Steps taken at once on one order: the stored state is judged under the row's lock, so
exactly one of several steps that saw the same version is taken; the others are stale."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import httpx

from tests.work.conftest import G2, Loop

RACERS = 8


def _race(loop: Loop, calls: list[tuple[str, str, dict[str, Any]]]) -> list[httpx.Response]:
    """Every call at once, each over its own connection, after all are ready."""
    headers = {who: loop.headers(who) for who, _, _ in calls}
    start = threading.Barrier(len(calls))
    answers: list[httpx.Response | None] = [None] * len(calls)

    def run(index: int, who: str, path: str, body: dict[str, Any]) -> None:
        with httpx.Client(base_url=loop.http.base_url, timeout=30) as http:
            start.wait()
            answers[index] = http.post(
                path, json=body, headers=headers[who], params={"purpose": _purpose(who)}
            )

    threads = [
        threading.Thread(target=run, args=(index, *call)) for index, call in enumerate(calls)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = [answer for answer in answers if answer is not None]
    assert len(done) == len(calls)
    return done


def _purpose(who: str) -> str:
    return "社区警务" if who.startswith("police") else "网格服务"


def _outcomes(answers: list[httpx.Response]) -> Counter[tuple[int, str]]:
    return Counter(
        (a.status_code, "ok" if a.status_code == 200 else a.json()["type"]) for a in answers
    )


def test_one_of_many_identical_steps_wins(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    path = f"/v1/work-orders/{grid}/transitions"
    answers = _race(loop, [("grid", path, {"step": "签收", "version": 1})] * RACERS)
    assert _outcomes(answers) == {
        (200, "ok"): 1,
        (409, "urn:hub:problem:stale_version"): RACERS - 1,
    }
    view = loop.order("police", placed["id"])
    assert view["version"] == 2
    assert [e["step"] for e in view["record"]["history"]] == ["派发", "签收"]
    record_id = loop.db_id("police", placed["id"])
    assert [e["type"] for e in loop.events(record_id)] == [
        "work_order.dispatched",
        "work_order.transitioned",
    ]
    taken = loop.audited(action="work_orders.transition", record_id=f"work_order/{record_id}")
    assert Counter(e.outcome for e in taken) == {"allowed": 1, "denied": RACERS - 1}


def test_the_two_sides_racing_on_one_version_take_one_step(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    accept = ("grid", f"/v1/work-orders/{grid}/transitions", {"step": "签收", "version": 1})
    moved = {
        "step": "转派",
        "version": 1,
        "receiving_org": loop.client_id("grid2"),
        "grid_code": G2,
    }
    redispatch = ("police", f"/v1/work-orders/{placed['id']}/transitions", moved)
    answers = _race(loop, [accept, redispatch] * (RACERS // 2))
    assert sum(a.status_code == 200 for a in answers) == 1
    assert all(a.status_code in (200, 404, 409) for a in answers)
    view = loop.order("police", placed["id"])
    assert view["version"] == 2
    assert len(loop.events(loop.db_id("police", placed["id"]))) == 2
