"""One work order, one history: dispatched by the police, signed for, handled and fed back
by the grid, closed by the police; each step judged against the stored order, by side
(403), by the state machine (409 with its rule), by version (409); nothing rewrites it."""

from __future__ import annotations

from typing import Any

import pytest

from tests.work.conftest import B2, G2, G3, Loop, order_request


def _placed(answer: Any, status: int = 200) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    placed: dict[str, Any] = answer.json()
    return placed


def _problem(answer: Any, status: int, kind: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    body: dict[str, Any] = answer.json()
    assert body["type"] == f"urn:hub:problem:{kind}", body
    return body


def test_an_order_is_one_hub_record_both_sides_read_under_their_own_ids(loop: Loop) -> None:
    placed = loop.dispatch()
    assert (placed["step"], placed["status"], placed["version"]) == ("派发", "派发", 1)
    grid_ref = loop.ref("grid", placed["order_id"])
    assert grid_ref != placed["id"]
    assert loop.ref("police", placed["order_id"]) == placed["id"]

    view = loop.order("grid", grid_ref)
    assert (view["id"], view["version"], view["source"]) == (grid_ref, 1, "hub")
    record = view["record"]
    assert record["issuing_org"] == loop.client_id("police")
    assert record["receiving_org"] == loop.client_id("grid")
    assert (record["related_kind"], record["related_key"]) == ("house", "H320104001001")
    assert record["status"] == "派发"
    assert "beat_code" not in record  # the grid's policy does not show it
    [entry] = record["history"]
    assert entry["step"] == "派发"
    assert entry["org"] == entry["by"] == loop.client_id("police")
    assert entry["note"] == "居民举报"

    [stored] = loop.stored(placed["order_id"])
    assert (stored.provenance.source_system, stored.provenance.source_key) == (
        "hub",
        placed["order_id"],
    )


def test_the_loop_runs_to_closure_with_one_history(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    steps = [
        ("grid", grid, "签收", {"assignee": "陈静"}),
        ("grid", grid, "处置中", {"note": "已联系房东"}),
        ("grid", grid, "已反馈", {"feedback": "实住6人，已责令整改"}),
        ("police", placed["id"], "已办结", {}),
    ]
    for version, (who, ref, step, carried) in enumerate(steps, start=1):
        loop.clock.advance(minutes=30)
        answer = _placed(loop.step(who, ref, step, version, **carried))
        assert (answer["step"], answer["version"]) == (step, version + 1)
    view = loop.order("police", placed["id"])
    record = view["record"]
    assert view["version"] == 5
    assert (record["status"], record["assignee"]) == ("已办结", "陈静")
    assert record["feedback"] == "实住6人，已责令整改"
    assert record["deadline"] is None
    history = record["history"]
    assert [e["step"] for e in history] == ["派发", "签收", "处置中", "已反馈", "已办结"]
    orgs = [loop.client_id(who) for who in ("police", "grid", "grid", "grid", "police")]
    assert [e["org"] for e in history] == orgs
    assert history == sorted(history, key=lambda e: e["at"])
    assert len(loop.stored(placed["order_id"])) == 1


def test_a_step_by_the_wrong_side_is_403_and_changes_nothing(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    body = _problem(loop.step("police", placed["id"], "签收", 1), 403, "denied_step")
    assert "receiver" not in body["detail"]
    _placed(loop.step("grid", grid, "签收", 1))
    _placed(loop.step("grid", grid, "处置中", 2))
    _placed(loop.step("grid", grid, "已反馈", 3, feedback="已核查"))
    for step, carried in [("已办结", {}), ("退回", {"reason": "自行处理"})]:
        _problem(loop.step("grid", grid, step, 4, **carried), 403, "denied_step")
    assert loop.order("police", placed["id"])["version"] == 4


@pytest.mark.parametrize(
    ("steps", "who", "step", "carried", "rule"),
    [
        ([], "police", "已办结", {}, "order_transition"),
        ([], "grid", "已反馈", {"feedback": "x"}, "order_transition"),
        ([("grid", "签收", {})], "grid", "签收", {}, "order_transition"),
        ([("grid", "签收", {})], "police", "退回", {"reason": "x"}, "order_transition"),
    ],
)
def test_an_illegal_step_is_409_naming_the_rule(
    loop: Loop,
    steps: list[tuple[str, str, dict[str, Any]]],
    who: str,
    step: str,
    carried: dict[str, Any],
    rule: str,
) -> None:
    placed = loop.dispatch()
    refs = {"police": placed["id"], "grid": loop.ref("grid", placed["order_id"])}
    for version, (taker, taken, with_) in enumerate(steps, start=1):
        _placed(loop.step(taker, refs[taker], taken, version, **with_))
    version = len(steps) + 1
    body = _problem(loop.step(who, refs[who], step, version, **carried), 409, "illegal_step")
    assert body["rule"] == rule
    assert step in body["detail"]
    assert loop.order("police", placed["id"])["version"] == version


def test_nothing_follows_a_closed_order(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    _placed(loop.step("grid", grid, "签收", 1))
    _placed(loop.step("grid", grid, "处置中", 2))
    _placed(loop.step("grid", grid, "已反馈", 3, feedback="已核查"))
    _placed(loop.step("police", placed["id"], "已办结", 4))
    refused = [
        ("police", placed["id"], "退回", {"reason": "重新核查"}),
        (
            "police",
            placed["id"],
            "转派",
            {"receiving_org": loop.client_id("grid2"), "grid_code": G2},
        ),
        ("police", placed["id"], "已办结", {}),
        ("grid", grid, "处置中", {}),
        ("grid", grid, "签收", {}),
    ]
    for who, ref, step, carried in refused:
        body = _problem(loop.step(who, ref, step, 5, **carried), 409, "illegal_step")
        assert body["rule"] == "order_closed"
    assert loop.order("police", placed["id"])["version"] == 5


def test_a_stale_version_is_409_and_names_the_current_one(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    _placed(loop.step("grid", grid, "签收", 1))
    moved = {"receiving_org": loop.client_id("grid2"), "grid_code": G2}
    for seen in (1, 3):
        body = _problem(
            loop.step("police", placed["id"], "转派", seen, **moved), 409, "stale_version"
        )
        assert body["version"] == 2
    _placed(loop.step("police", placed["id"], "转派", 2, **moved))


def test_feedback_sent_back_is_handled_again(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    _placed(loop.step("grid", grid, "签收", 1))
    _placed(loop.step("grid", grid, "处置中", 2))
    _placed(loop.step("grid", grid, "已反馈", 3, feedback="已核查"))
    _placed(loop.step("police", placed["id"], "退回", 4, reason="未写明居住人数"))
    _placed(loop.step("grid", grid, "处置中", 5))
    _placed(loop.step("grid", grid, "已反馈", 6, feedback="实住6人"))
    record = loop.order("grid", grid)["record"]
    assert record["feedback"] == "实住6人"
    assert [e["feedback"] for e in record["history"] if e["feedback"]] == ["已核查", "实住6人"]
    assert [e["reason"] for e in record["history"] if e["reason"]] == ["未写明居住人数"]


def test_a_transition_may_name_the_status_it_leads_to(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    path = f"/v1/work-orders/{grid}/transitions"
    assert _placed(loop.post("grid", path, {"to": "签收", "version": 1}))["step"] == "签收"
    mismatch = {"to": "处置中", "step": "已反馈", "version": 2}
    _problem(loop.post("grid", path, mismatch), 400, "invalid_request")
    _problem(loop.post("grid", path, {"version": 2}), 400, "invalid_request")


def test_a_step_carries_what_it_needs_and_nothing_else(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    body = _problem(
        loop.step("grid", grid, "签收", 1, reason="不属于本网格"), 400, "step_does_not_take"
    )
    assert body["fields"] == ["reason"]
    _placed(loop.step("grid", grid, "签收", 1))
    _placed(loop.step("grid", grid, "处置中", 2))
    assert _problem(loop.step("grid", grid, "已反馈", 3), 400, "step_needs")["fields"] == [
        "feedback"
    ]
    body = _problem(
        loop.step("police", placed["id"], "转派", 3, receiving_org=loop.client_id("grid2")),
        400,
        "step_needs",
    )
    assert body["fields"] == ["grid_code"]
    assert loop.order("grid", grid)["version"] == 3


def test_redispatch_moves_the_order_to_the_other_receiver(loop: Loop) -> None:
    placed = loop.dispatch(assignee="陈静")
    grid = loop.ref("grid", placed["order_id"])
    _placed(loop.step("grid", grid, "签收", 1))
    loop.clock.advance(minutes=10)
    moved = {"receiving_org": loop.client_id("grid2"), "grid_code": G2, "note": "属G2网格"}
    answer = _placed(loop.step("police", placed["id"], "转派", 2, **moved))
    assert (answer["status"], answer["version"]) == ("派发", 3)
    record = loop.order("police", placed["id"])["record"]
    assert (record["receiving_org"], record["grid_code"]) == (loop.client_id("grid2"), G2)
    assert record["assignee"] is None
    assert record["accept_by"] > record["dispatched_at"]
    # The first grid is party to it no more, and G2 is not in its rows.
    _problem(loop.step("grid", grid, "处置中", 3), 404, "not_found")
    _problem(loop.get("grid", f"/v1/work-orders/{grid}"), 404, "not_found")
    grid2 = loop.ref("grid2", placed["order_id"])
    _placed(loop.step("grid2", grid2, "签收", 3, assignee="李明"))
    assert loop.order("grid2", grid2)["record"]["assignee"] == "李明"


def test_redispatch_is_judged_like_a_dispatch(loop: Loop) -> None:
    placed = loop.dispatch()
    elsewhere = {"receiving_org": loop.client_id("grid"), "grid_code": G2}
    body = _problem(loop.step("police", placed["id"], "转派", 1, **elsewhere), 400, "receiving_org")
    assert body["field"] == "receiving_org"
    outside = {"receiving_org": loop.client_id("grid2"), "grid_code": G2, "beat_code": B2}
    _problem(loop.step("police", placed["id"], "转派", 1, **outside), 403, "denied_scope")
    assert loop.order("police", placed["id"])["version"] == 1


def test_a_caller_who_is_neither_party_is_told_not_found(loop: Loop) -> None:
    placed = loop.dispatch()
    ref = loop.ref("police2", placed["order_id"])  # it reads the order: same beat
    assert loop.order("police2", ref)["record"]["issuing_org"] == loop.client_id("police")
    refused = _problem(loop.step("police2", ref, "已办结", 1), 404, "not_found")
    forged = _problem(loop.step("police2", "A" * 32, "已办结", 1), 404, "not_found")
    assert refused["detail"].replace(ref, "") == forged["detail"].replace("A" * 32, "")
    # An id given to another partner opens nothing either.
    _problem(loop.step("grid2", placed["id"], "签收", 1), 404, "not_found")
    [denied] = loop.audited(request_id=refused["request_id"])
    assert (denied.outcome, denied.detail["reason"]) == ("denied", "not_party")


@pytest.mark.parametrize(
    ("who", "changes", "status", "kind"),
    [
        ("police", {"receiving_org": "cl_nobody"}, 400, "receiving_org"),
        ("police", {"receiving_org": "analyst"}, 400, "receiving_org"),
        ("police", {"receiving_org": "revoked"}, 400, "receiving_org"),
        ("police", {"grid_code": G2}, 400, "receiving_org"),
        ("police", {"receiving_org": "police2"}, 400, "receiving_org"),
        ("police", {"receiving_org": "police"}, 400, "invalid_order"),
        ("police", {"beat_code": B2}, 403, "denied_scope"),
        ("police", {"related": {"kind": "house", "id": "A" * 32}}, 400, "related_not_found"),
        ("police", {"related": {"kind": "person", "id": "A" * 32}}, 400, "invalid_request"),
        ("police", {"due_at": "2026-11-01T09:00:00+08:00"}, 400, "due_at"),
        ("police", {"due_at": "2026-12-01T09:00:00"}, 400, "invalid_request"),
        ("police", {"status": "已办结"}, 400, "invalid_request"),
        ("police", {"history": []}, 400, "invalid_request"),
        ("police", {"order_type": "其它事项"}, 400, "invalid_request"),
        ("grid", {"receiving_org": "grid2", "grid_code": G2, "related": None}, 403, "denied_step"),
        ("analyst", {}, 403, "insufficient_scope"),
    ],
)
def test_a_dispatch_is_refused_unless_both_sides_may_hold_the_order(
    loop: Loop, who: str, changes: dict[str, Any], status: int, kind: str
) -> None:
    if changes.get("receiving_org") in loop.partners:
        changes = changes | {"receiving_org": loop.client_id(changes["receiving_org"])}
    before = loop.audited(action="work_orders.dispatch", outcome="allowed")
    answer = loop.post(who, "/v1/work-orders", order_request(loop, **changes))
    _problem(answer, status, kind)
    assert loop.audited(action="work_orders.dispatch", outcome="allowed") == before
    assert loop.audited(request_id=answer.json()["request_id"])[0].outcome == "denied"


def test_a_dispatch_needs_a_granted_purpose_and_the_write_scope(loop: Loop) -> None:
    body = order_request(loop)
    _problem(
        loop.post("police", "/v1/work-orders", body, purpose="统计分析"), 403, "denied_purpose"
    )
    read_only = loop.token("police", scope="work_order.read")
    answer = loop.http.post(
        "/v1/work-orders",
        json=body,
        params={"purpose": "社区警务"},
        headers={"Authorization": f"Bearer {read_only}"},
    )
    _problem(answer, 403, "insufficient_scope")
    assert answer.headers["WWW-Authenticate"].endswith('scope="work_order.write"')


def test_the_history_cannot_be_rewritten_through_any_endpoint(loop: Loop) -> None:
    placed = loop.dispatch()
    grid = loop.ref("grid", placed["order_id"])
    _placed(loop.step("grid", grid, "签收", 1))
    before = loop.order("police", placed["id"])
    forged = before["record"] | {"status": "派发", "history": before["record"]["history"][:1]}
    push = {"records": [{"source_key": placed["order_id"], "record": forged}]}
    for who in ("police", "grid"):
        answer = loop.post(who, "/v1/records/work_order", push)
        _problem(answer, 403, "denied_owned_by_hub")
    headers = loop.headers("police")
    for path in (f"/v1/work-orders/{placed['id']}", f"/v1/records/work_order/{placed['id']}"):
        for method in ("PUT", "PATCH", "DELETE"):
            answer = loop.http.request(method, path, json=forged, headers=headers)
            assert answer.status_code == 405, (method, path)
    rewrite = {"step": "处置中", "version": 2, "history": []}
    answer = loop.post("grid", f"/v1/work-orders/{grid}/transitions", rewrite)
    _problem(answer, 400, "invalid_request")
    assert loop.order("police", placed["id"]) == before
    assert len(loop.stored(placed["order_id"])) == 1


def test_orders_are_listed_by_status_and_grid_within_each_policy(loop: Loop) -> None:
    first = loop.dispatch()
    second = loop.dispatch(grid_code=G3, related=None)
    grid_first = loop.ref("grid", first["order_id"])
    _placed(loop.step("grid", grid_first, "签收", 1))

    def listed(who: str, **params: Any) -> set[str]:
        answer = loop.get(who, "/v1/work-orders", limit=500, **params)
        assert answer.status_code == 200, answer.text
        items = answer.json()["items"]
        assert all(item["version"] == len(item["record"]["history"]) for item in items)
        return {item["record"]["order_id"] for item in items}

    ids = {first["order_id"], second["order_id"]}
    assert ids <= listed("police")
    assert ids <= listed("grid")
    assert not ids & listed("grid2")
    assert first["order_id"] in listed("grid", status="签收")
    assert second["order_id"] not in listed("grid", status="签收")
    assert listed("grid", grid=G3) >= {second["order_id"]}
    assert first["order_id"] not in listed("grid", grid=G3)
