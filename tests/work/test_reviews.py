"""上报 → 审核入库 against a served hub, on SQLite and PostgreSQL: the grid platform submits
people, houses and incidents; the police station of the beat reviews them; a station of
another beat cannot; only an accepted record ever reaches the store."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.hooks import HookContext
from sqlalchemy import func, select
from stdnum.cn import ric

from contracts import House, Person
from hub.api import create_app
from hub.audit import AuditEntry, AuditLog
from hub.auth import ClientRegistry
from hub.config import load_config, open_store
from hub.reference.serve import serve_in_thread
from hub.sharing.ids import RecordIds
from hub.store import Store
from hub.store.store import kind_table
from hub.store.tables import audit_log, outbox, quarantine, review_queue, verification_tasks
from tests.api.conftest import BEAT, GENEROUS, GRID, pushed_incident
from tests.conftest import BACKENDS, hub_home

GRID_SERVICE = "网格服务"
POLICING = "社区警务"
OTHER_BEAT = "B3201060101"
OTHER_GRID = "G32010601011"
HOUSE = "H3201040101001"
STORED_PHONE = "13800000001"
DESK_POLICY = """\
id: street-desk
version: 1
title: 街道综合窗口（测试）
purposes: [网格服务]
kinds:
  person:
    actions: [read, submit, review]
    rows: {jurisdiction: [{field: grid_code, claim: grid_codes}]}
    fields: {name: allow, grid_code: allow}
    submit: [id_number, name, sex, birth_date, ethnicity, phone, household_type,
             address_code, house_code, grid_code, beat_code]
"""
"""A policy that both submits and reviews: its org still may not decide its own."""


def id_number(n: int) -> str:
    """A valid citizen ID number of a man born 1990-03-07 in 秦淮区, one per ``n``."""
    assert 0 <= n < 500
    body = f"32010419900307{2 * n + 1:03d}"
    return body + ric.calc_check_digit(body + "0")


def declared(n: int, **changes: Any) -> dict[str, Any]:
    """A 流动人口 declaration in the grid's grid and the police beat, as submitted."""
    record = {
        "id_number": id_number(n),
        "name": "陈明",
        "sex": "男",
        "birth_date": "1990-03-07",
        "ethnicity": "汉族",
        "phone": f"139{n:08d}",
        "household_type": "流动",
        "address_code": "3201040101100001",
        "house_code": HOUSE,
        "grid_code": GRID,
        "beat_code": BEAT,
    }
    return {"source_key": f"P{n}", "record": record | changes}


@dataclass
class Loop:
    http: httpx.Client
    store: Store
    secrets: dict[str, tuple[str, str]]
    home: Path

    def token(self, partner: str) -> str:
        client_id, secret = self.secrets[partner]
        answer = self.http.post(
            "/oauth/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def client(self, partner: str) -> str:
        return self.secrets[partner][0]

    def call(
        self, partner: str, method: str, path: str, body: Any = None, **params: Any
    ) -> httpx.Response:
        purpose = GRID_SERVICE if partner in ("grid", "desk") else POLICING
        return self.http.request(
            method,
            path,
            params={"purpose": purpose, **params},
            json=body,
            headers={"Authorization": f"Bearer {self.token(partner)}"},
        )

    def submit(self, kind: str, *records: dict[str, Any], partner: str = "grid") -> httpx.Response:
        return self.call(partner, "POST", f"/v1/submissions/{kind}", {"records": list(records)})

    def submitted(self, kind: str, *records: dict[str, Any]) -> list[str]:
        answer = self.submit(kind, *records)
        assert answer.status_code == 200, answer.text
        return [receipt["id"] for receipt in answer.json()]

    def queue(self, partner: str, kind: str, **params: Any) -> list[dict[str, Any]]:
        answer = self.call(partner, "GET", f"/v1/reviews/{kind}", **params)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def reviewer_id(self, kind: str, source_key: str, partner: str = "police") -> str:
        """The reviewer's id of the pending submission with ``source_key``: found through
        the queue, as a reviewer would (its ids are not the submitter's)."""
        ids = RecordIds(self.store)
        with self.store.engine.connect() as conn:
            db_id = conn.execute(
                select(review_queue.c.id).where(
                    review_queue.c.source_key == source_key, review_queue.c.kind == kind
                )
            ).scalar_one()
        return ids.encode(self.client(partner), "review", db_id)

    def decide(
        self, kind: str, ref: str, decision: str, reason: str | None = None, partner: str = "police"
    ) -> httpx.Response:
        body = {"decision": decision} | ({"reason": reason} if reason is not None else {})
        return self.call(partner, "POST", f"/v1/reviews/{kind}/{ref}/decision", body)

    def police_find(self, id_no: str) -> list[dict[str, Any]]:
        answer = self.call("police", "GET", "/v1/records/person", id_number=id_no)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def count(self, table: Any) -> int:
        with self.store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(table)).scalar_one())

    def entries(self, **filters: Any) -> list[AuditEntry]:
        return AuditLog(self.store).search(limit=10**6, **filters)


@pytest.fixture(scope="module", params=BACKENDS)
def loop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    with ExitStack() as stack:
        home = stack.enter_context(hub_home(request.param, tmp_path_factory.mktemp("reviews")))
        (home / "policies" / "street-desk.yaml").write_text(DESK_POLICY, encoding="utf-8")
        config = load_config(home)
        store = stack.enter_context(closing(open_store(config)))
        store.create_schema()
        stored = declared(400, phone=STORED_PHONE, household_type="户籍")["record"]
        house = {
            "house_code": HOUSE,
            "address_code": "3201040101100001",
            "use": "出租",
            "occupant_count": 4,
            "grid_code": GRID,
            "beat_code": BEAT,
        }
        with store.begin() as tx:
            tx.upsert("police_db", [("R400", Person.parse(stored)), ("H1", House.parse(house))])
        registry = ClientRegistry(store)
        reviewer = [f"{k}.{a}" for k in ("person", "house", "incident") for a in ("read", "review")]
        added = {
            "grid": registry.add(
                "grid",
                "grid-platform",
                [
                    *("person.read", "person.submit", "house.read", "house.submit"),
                    *("incident.read", "incident.write", "incident.submit"),
                ],
                {"grid_codes": [GRID]},
            ),
            "police": registry.add("police", "police-station", reviewer, {"beat_codes": [BEAT]}),
            # Scopes beyond a policy are refused by ``hub clients add``, not by the
            # registry: these let the tests reach the policy's own refusals.
            "far": registry.add(
                "far police",
                "police-station",
                [*reviewer, "person.submit"],
                {"beat_codes": [OTHER_BEAT]},
            ),
            "desk": registry.add(
                "desk",
                "street-desk",
                ["person.read", "person.submit", "person.review", "work_order.submit"],
                {"grid_codes": [GRID]},
            ),
        }
        secrets = {name: (new.client.client_id, new.secret or "") for name, new in added.items()}
        server = stack.enter_context(
            serve_in_thread(create_app(config, rate=1000, burst=1000, **GENEROUS))
        )
        http = stack.enter_context(httpx.Client(base_url=server.url))
        yield Loop(http, store, secrets, home)


def test_a_submission_is_invisible_to_record_queries_until_it_is_accepted(loop: Loop) -> None:
    [mine] = loop.submitted("person", declared(1))
    assert loop.police_find(id_number(1)) == []
    grid_view = loop.call("grid", "GET", "/v1/records/person", name="陈明", household_type="流动")
    assert grid_view.json()["items"] == []

    [pending] = [
        item for item in loop.queue("police", "person", status="pending")
        if item["record"]["id_number"] == id_number(1)
    ]  # fmt: skip
    assert pending["status"] == "pending"
    assert pending["submitter"] == loop.client("grid")
    assert pending["record"]["police_tags"] == []

    accepted = loop.decide("person", pending["id"], "accept")
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["status"] == "accepted"
    [found] = loop.police_find(id_number(1))
    assert found["source"] == "partner"
    assert found["id"] == accepted.json()["stored_id"]

    own = loop.call("grid", "GET", f"/v1/submissions/person/{mine}").json()
    assert own["status"] == "accepted"
    assert own["reviewer"] == loop.client("police")
    grid_record = loop.call("grid", "GET", f"/v1/records/person/{own['stored_id']}")
    assert grid_record.status_code == 200
    assert grid_record.json()["record"]["id_number"] != id_number(1)  # masked for the grid


def test_an_accepted_record_is_stored_under_the_submitter_with_provenance(loop: Loop) -> None:
    loop.submitted("person", declared(2))
    ref = loop.reviewer_id("person", "P2")
    assert loop.decide("person", ref, "accept", "核实无误").status_code == 200

    stored = loop.store.get("person", f"partner:{loop.client('grid')}", "P2")
    assert stored is not None
    assert stored.record.id_number == id_number(2)
    with loop.store.engine.connect() as conn:
        row = conn.execute(select(review_queue).where(review_queue.c.source_key == "P2")).one()
    assert row.record_id == stored.id
    assert (row.submitter, row.reviewer) == (loop.client("grid"), loop.client("police"))
    assert row.submitted_at <= row.decided_at

    [entry] = loop.entries(action="reviews.decide", outcome="allowed", record_id=f"review/{row.id}")
    assert entry.event.client_id == loop.client("police")
    assert entry.event.detail["decision"] == "accepted"
    assert entry.event.detail["submitter"] == loop.client("grid")
    assert entry.event.detail["submitted_at"] == row.submitted_at.isoformat()
    assert entry.event.detail["stored"] == {
        "source_system": f"partner:{loop.client('grid')}",
        "record_id": f"person/{stored.id}",
    }
    assert f"person/{stored.id}" in entry.event.record_ids
    [event] = _events(loop, "review.decided", row.id)
    assert event.record_id == stored.id
    assert event.data == {
        "review_id": row.id,
        "submitter": loop.client("grid"),
        "kind": "person",
        "decision": "accepted",
        "reason": "核实无误",
    }


def test_a_rejected_submission_never_enters_the_store(loop: Loop) -> None:
    people = loop.store.count("person")
    [mine] = loop.submitted("person", declared(3))
    ref = loop.reviewer_id("person", "P3")
    without_reason = loop.decide("person", ref, "reject")
    assert without_reason.status_code == 400
    assert without_reason.json()["type"] == "urn:hub:problem:reason_required"

    rejected = loop.decide("person", ref, "reject", "人员已搬离, 请核实居住地址")
    assert rejected.status_code == 200, rejected.text
    assert loop.store.count("person") == people
    assert loop.police_find(id_number(3)) == []

    own = loop.call("grid", "GET", f"/v1/submissions/person/{mine}").json()
    assert (own["status"], own["reason"], own["stored_id"]) == (
        "rejected",
        "人员已搬离, 请核实居住地址",
        None,
    )
    listed = loop.call("grid", "GET", "/v1/submissions/person", status="rejected").json()
    assert mine in [item["id"] for item in listed["items"]]
    [entry] = loop.entries(action="reviews.decide", outcome="allowed", record_id=_ref(loop, "P3"))
    assert entry.event.detail["decision"] == "rejected"
    assert entry.event.detail["reason"] == "人员已搬离, 请核实居住地址"
    assert "stored" not in entry.event.detail


def test_a_decision_is_taken_once(loop: Loop) -> None:
    loop.submitted("person", declared(4))
    ref = loop.reviewer_id("person", "P4")
    assert loop.decide("person", ref, "reject", "重复上报").status_code == 200
    for decision in ("accept", "reject"):
        again = loop.decide("person", ref, decision, "改判")
        assert again.status_code == 409
        assert again.json()["type"] == "urn:hub:problem:already_decided"
    assert loop.police_find(id_number(4)) == []
    assert (
        len(loop.entries(action="reviews.decide", outcome="denied", record_id=_ref(loop, "P4")))
        == 2
    )


def test_an_invalid_submission_is_refused_at_once_with_its_rules(loop: Loop) -> None:
    queued, held = loop.count(review_queue), loop.count(quarantine)
    bad_digit = id_number(5)[:-1] + ("0" if id_number(5)[-1] != "0" else "1")
    answer = loop.submit("person", declared(5, id_number=bad_digit), declared(6))
    assert answer.status_code == 400
    problem = answer.json()
    assert problem["type"] == "urn:hub:problem:record_invalid"
    assert {f["rule"] for f in problem["invalid"]["P5"]} == {"id_check_digit"}
    assert "P6" not in problem["invalid"]
    assert bad_digit not in answer.text
    assert (loop.count(review_queue), loop.count(quarantine)) == (queued, held)
    [entry] = loop.entries(request_id=answer.headers["x-request-id"])
    assert (entry.event.action, entry.event.outcome) == ("records.submit", "denied")
    assert entry.event.detail["rules"] == {"P5": ["id_number:id_check_digit"]}


def test_a_field_outside_the_submit_list_is_refused(loop: Loop) -> None:
    queued = loop.count(review_queue)
    tagged = loop.submit("person", declared(7, police_tags=["重点关注"]))
    assert tagged.status_code == 403
    assert tagged.json()["type"] == "urn:hub:problem:denied_submit"
    assert tagged.json()["fields"] == ["police_tags"]
    noted = loop.submit("incident", pushed_incident("I7", "S", case_notes="案情"))
    assert noted.status_code == 403
    assert noted.json()["fields"] == ["case_notes"]
    assert loop.count(review_queue) == queued


def test_a_record_outside_the_submitters_rows_is_refused(loop: Loop) -> None:
    queued = loop.count(review_queue)
    answer = loop.submit("person", declared(8, grid_code=OTHER_GRID))
    assert answer.status_code == 403
    assert answer.json()["type"] == "urn:hub:problem:denied_scope"
    assert loop.count(review_queue) == queued


def test_a_kind_or_action_the_policy_does_not_grant_is_refused(loop: Loop) -> None:
    queued = loop.count(review_queue)
    unscoped = loop.submit("person", declared(9), partner="police")
    assert unscoped.json()["type"] == "urn:hub:problem:insufficient_scope"
    ungranted = loop.submit("person", declared(9), partner="far")
    assert ungranted.status_code == 403
    assert ungranted.json()["type"] == "urn:hub:problem:denied_kind"
    grid_reviews = loop.call("grid", "GET", "/v1/reviews/person")
    assert grid_reviews.json()["type"] == "urn:hub:problem:insufficient_scope"
    order = {"source_key": "W1", "record": {"order_id": "W1"}}
    kept = loop.submit("work_order", order, partner="desk")
    assert kept.status_code == 403
    assert kept.json()["type"] == "urn:hub:problem:denied_owned_by_hub"
    assert loop.count(review_queue) == queued


def test_a_reviewer_outside_the_jurisdiction_can_neither_see_nor_decide(loop: Loop) -> None:
    loop.submitted("person", declared(10))
    far = loop.reviewer_id("person", "P10", partner="far")
    assert all(item["record"]["id_number"] != id_number(10) for item in loop.queue("far", "person"))
    assert loop.call("far", "GET", f"/v1/reviews/person/{far}").status_code == 404
    assert loop.decide("person", far, "accept", partner="far").status_code == 404
    near = loop.reviewer_id("person", "P10")
    assert loop.call("police", "GET", f"/v1/reviews/person/{near}").json()["status"] == "pending"
    # Another partner's id of the same submission opens nothing.
    assert loop.call("police", "GET", f"/v1/reviews/person/{far}").status_code == 404


def test_an_org_does_not_decide_its_own_submission(loop: Loop) -> None:
    answer = loop.submit("person", declared(11), partner="desk")
    assert answer.status_code == 200, answer.text
    ref = loop.reviewer_id("person", "P11", partner="desk")
    [listed] = [i for i in loop.queue("desk", "person") if i["id"] == ref]
    assert listed["record"] == {"name": "陈明", "grid_code": GRID}  # its own read treatments
    own = loop.decide("person", ref, "accept", partner="desk")
    assert own.status_code == 403
    assert own.json()["type"] == "urn:hub:problem:denied_own_submission"


def test_a_submission_pending_for_a_source_key_is_not_submitted_twice(loop: Loop) -> None:
    loop.submitted("person", declared(12))
    again = loop.submit("person", declared(12, phone="13900009999"))
    assert again.status_code == 409
    assert again.json()["source_keys"] == ["P12"]
    ref = loop.reviewer_id("person", "P12")
    assert loop.decide("person", ref, "reject", "信息不全").status_code == 200
    assert loop.submit("person", declared(12, phone="13900009999")).status_code == 200


def test_the_reviewer_sees_what_a_submission_changes_in_the_stored_record(loop: Loop) -> None:
    loop.submitted("person", declared(400, household_type="户籍"))
    ref = loop.reviewer_id("person", "P400")
    view = loop.call("police", "GET", f"/v1/reviews/person/{ref}").json()
    [police_record] = view["changes"]
    assert police_record["source"] == "police_db"
    assert police_record["fields"] == {
        "phone": {"stored": STORED_PHONE, "submitted": declared(400)["record"]["phone"]}
    }
    assert loop.decide("person", ref, "accept").status_code == 200
    phones = {item["source"]: item["record"]["phone"] for item in loop.police_find(id_number(400))}
    assert phones == {"police_db": STORED_PHONE, "partner": declared(400)["record"]["phone"]}


def test_a_house_report_is_reviewed_into_the_record(loop: Loop) -> None:
    report = {
        "source_key": "HR1",
        "record": {
            "house_code": HOUSE,
            "address_code": "3201040101100001",
            "use": "群租",
            "occupant_count": 11,
            "grid_code": GRID,
            "beat_code": BEAT,
        },
    }
    [mine] = loop.submitted("house", report)
    ref = loop.reviewer_id("house", "HR1")
    view = loop.call("police", "GET", f"/v1/reviews/house/{ref}").json()
    assert view["changes"][0]["fields"] == {
        "use": {"stored": "出租", "submitted": "群租"},
        "occupant_count": {"stored": 4, "submitted": 11},
    }
    # What a report does not name (occupant_count, defaulted) is no change it proposes.
    unnamed = {k: v for k, v in report["record"].items() if k != "occupant_count"}
    loop.submitted("house", {"source_key": "HR2", "record": unnamed})
    second = loop.call("police", "GET", f"/v1/reviews/house/{loop.reviewer_id('house', 'HR2')}")
    assert second.json()["changes"][0]["fields"] == {"use": {"stored": "出租", "submitted": "群租"}}
    assert loop.decide("house", ref, "accept", "群租属实").status_code == 200
    own = loop.call("grid", "GET", f"/v1/submissions/house/{mine}").json()
    stored = loop.call("police", "GET", "/v1/records/house", house_code=HOUSE).json()["items"]
    assert {item["record"]["occupant_count"] for item in stored} == {4, 11}
    assert own["status"] == "accepted"
    # What the desk accepted, a visit confirms: the house is put on its grid's due list.
    with loop.store.engine.connect() as conn:
        tasks = conn.execute(
            select(verification_tasks.c.reason, verification_tasks.c.grid_code).where(
                verification_tasks.c.kind == "house", verification_tasks.c.done_at.is_(None)
            )
        ).all()
    assert [tuple(t) for t in tasks] == [("submitted", GRID)]


def test_an_accept_the_store_would_quarantine_is_refused_and_rolled_back(loop: Loop) -> None:
    """The grid already holds person 16 under key P16; the same person under P16b would be
    a duplicate of its own, which admission quarantines: the decision is not taken."""
    loop.submitted("person", declared(16))
    assert loop.decide("person", loop.reviewer_id("person", "P16"), "accept").status_code == 200
    loop.submitted("person", {**declared(16), "source_key": "P16b"})
    ref = loop.reviewer_id("person", "P16b")
    held, people = loop.count(quarantine), loop.store.count("person")
    refused = loop.decide("person", ref, "accept")
    assert refused.status_code == 409
    assert refused.json()["rules"] == ["id_number:duplicate_key"]
    assert (loop.count(quarantine), loop.store.count("person")) == (held, people)
    assert loop.call("police", "GET", f"/v1/reviews/person/{ref}").json()["status"] == "pending"
    assert loop.decide("person", ref, "reject", "重复申报").status_code == 200


def test_a_submission_of_a_partner_revoked_since_is_not_accepted(loop: Loop) -> None:
    scopes = ["person.read", "person.submit"]
    new = ClientRegistry(loop.store).add("grid, later revoked", "grid-platform", scopes, {
        "grid_codes": [GRID]
    })  # fmt: skip
    loop.secrets["gone"] = (new.client.client_id, new.secret or "")
    records = {"records": [declared(417)]}
    answer = loop.call("gone", "POST", "/v1/submissions/person", records, purpose=GRID_SERVICE)
    assert answer.status_code == 200, answer.text
    ref = loop.reviewer_id("person", "P417")
    ClientRegistry(loop.store).revoke(new.client.client_id)
    people = loop.store.count("person")
    refused = loop.decide("person", ref, "accept")
    assert refused.status_code == 409, refused.text
    assert refused.json()["type"] == "urn:hub:problem:submitter_not_granted"
    assert refused.json()["why"] == "client revoked"
    assert loop.store.count("person") == people
    [entry] = loop.entries(request_id=refused.headers["x-request-id"])
    assert (entry.event.action, entry.event.outcome) == ("reviews.decide", "denied")
    assert entry.event.detail == {"reason": "submitter_not_granted", "why": "client revoked"}
    assert loop.call("police", "GET", f"/v1/reviews/person/{ref}").json()["status"] == "pending"
    assert loop.decide("person", ref, "reject", "申报单位已注销").status_code == 200


def test_a_submission_is_judged_again_under_the_policy_in_force_at_acceptance(
    loop: Loop,
) -> None:
    """The desk submitted a phone number; its policy has since dropped ``phone`` from
    ``submit:``: accepting would store what the desk may no longer submit."""
    answer = loop.submit("person", declared(418), partner="desk")
    assert answer.status_code == 200, answer.text
    ref = loop.reviewer_id("person", "P418")
    policy = loop.home / "policies" / "street-desk.yaml"
    narrowed = DESK_POLICY.replace("version: 1", "version: 2").replace(" phone,", "")
    assert narrowed.count("phone") == 0
    policy.write_text(narrowed, encoding="utf-8")
    time.sleep(1.1)  # the served hub looks at its policy folder every second
    people = loop.store.count("person")
    try:
        refused = loop.decide("person", ref, "accept")
        assert refused.status_code == 409, refused.text
        assert refused.json()["why"] == "submit_fields"
        assert loop.store.count("person") == people
    finally:
        policy.write_text(DESK_POLICY.replace("version: 1", "version: 3"), encoding="utf-8")
        time.sleep(1.1)


def test_a_reason_may_not_carry_an_id_or_phone_number(loop: Loop) -> None:
    loop.submitted("person", declared(13))
    ref = loop.reviewer_id("person", "P13")
    for reason in (f"身份证 {id_number(13)} 有误", "联系电话13912345678不通"):
        answer = loop.decide("person", ref, "reject", reason)
        assert answer.status_code == 400
        assert answer.json()["type"] == "urn:hub:problem:reason_sensitive"
    too_long = loop.decide("person", ref, "reject", "长" * 257)
    assert too_long.json()["type"] == "urn:hub:problem:reason_too_long"
    assert loop.call("police", "GET", f"/v1/reviews/person/{ref}").json()["status"] == "pending"


def test_every_step_is_audited_and_the_events_are_in_the_outbox(loop: Loop) -> None:
    answer = loop.submit("person", declared(14))
    [receipt] = answer.json()
    [submitted] = loop.entries(request_id=answer.headers["x-request-id"])
    assert (submitted.event.action, submitted.event.outcome) == ("records.submit", "allowed")
    review = _ref(loop, "P14")
    assert submitted.event.record_ids == [review]
    db_id = int(review.split("/")[1])
    [event] = _events(loop, "review.submitted", db_id)
    assert event.data == {"review_id": db_id, "submitter": loop.client("grid"), "kind": "person"}

    loop.queue("police", "person")
    ref = loop.reviewer_id("person", "P14")
    loop.call("police", "GET", f"/v1/reviews/person/{ref}")
    loop.call("grid", "GET", "/v1/submissions/person")
    loop.call("grid", "GET", f"/v1/submissions/person/{receipt['id']}")
    actions = {e.event.action for e in loop.entries(record_id=review)}
    assert actions == {
        "records.submit",
        "reviews.query",
        "reviews.read",
        "submissions.query",
        "submissions.read",
    }


def test_concurrent_decisions_take_effect_once(loop: Loop) -> None:
    loop.submitted("person", declared(15))
    ref = loop.reviewer_id("person", "P15")
    token = loop.token("police")
    verdicts = ["accept", "reject"] * 3

    def decide(verdict: str) -> int:
        with httpx.Client(base_url=loop.http.base_url) as http:
            return http.post(
                f"/v1/reviews/person/{ref}/decision",
                params={"purpose": POLICING},
                json={"decision": verdict, "reason": "并发"},
                headers={"Authorization": f"Bearer {token}"},
            ).status_code

    with ThreadPoolExecutor(len(verdicts)) as pool:
        statuses = list(pool.map(decide, verdicts))
    assert sorted(statuses) == [200] + [409] * (len(verdicts) - 1)
    with loop.store.engine.connect() as conn:
        row = conn.execute(select(review_queue).where(review_queue.c.source_key == "P15")).one()
    stored = loop.police_find(id_number(15))
    assert len(stored) == (1 if row.status == "accepted" else 0)
    assert len(_events(loop, "review.decided", row.id)) == 1
    decided = loop.entries(action="reviews.decide", outcome="allowed", record_id=f"review/{row.id}")
    assert len(decided) == 1


def test_kind_tables_are_untouched_by_a_pending_submission(loop: Loop) -> None:
    incidents = loop.count(kind_table("incident").table)
    loop.submitted("incident", pushed_incident("I20", "S"))
    assert loop.count(kind_table("incident").table) == incidents


@pytest.mark.slow
def test_no_input_to_the_review_routes_makes_the_hub_fail(loop: Loop) -> None:
    """Schemathesis on the submission and review operations, each with a token that gets
    past the scope check (the grid's for submissions, the police's for reviews), a purpose
    its policy grants and a kind both policies name."""
    schema = schemathesis.openapi.from_url(f"{str(loop.http.base_url).rstrip('/')}/openapi.json")

    @schema.hook
    def flatmap_query(context: HookContext, query: dict[str, Any] | None) -> Any:
        purpose = GRID_SERVICE if _submitting(context) else POLICING
        return st.sampled_from([True, False]).map(
            lambda fit: {**(query or {}), "purpose": purpose} if fit else query
        )

    @schema.hook
    def flatmap_path_parameters(context: HookContext, path: dict[str, Any] | None) -> Any:
        if not path or "kind" not in path:
            return st.just(path)
        return st.sampled_from(["person", "house", "incident", None]).map(
            lambda kind: path if kind is None else {**path, "kind": kind}
        )

    tokens = {"grid": loop.token("grid"), "police": loop.token("police")}
    failures: list[str] = []
    seen: Counter[int] = Counter()
    for result in schema.get_all_operations():
        operation = result.ok()
        if not operation.path.startswith(("/v1/submissions", "/v1/reviews")):
            continue
        token = tokens["grid" if operation.path.startswith("/v1/submissions") else "police"]
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _fuzz(operation, mode, token, seen)
            except Unsatisfiable:
                pass
            except (Exception, BaseExceptionGroup) as exc:
                failures.append(f"{operation.label} ({mode}):\n{exc}")
    assert not failures, "\n\n".join(failures)
    assert {200, 400, 404} <= set(seen), seen


def _submitting(context: HookContext) -> bool:
    return context.operation is not None and context.operation.path.startswith("/v1/submissions")


def _fuzz(operation: Any, mode: GenerationMode, token: str, seen: Counter[int]) -> None:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=25,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case: Case[Any]) -> None:
        response = case.call_and_validate(
            headers={"Authorization": f"Bearer {token}"}, checks=[not_a_server_error]
        )
        seen[response.status_code] += 1

    run()


def test_no_clear_id_or_phone_number_reaches_the_audit_log(loop: Loop) -> None:
    """Every number submitted in this module (the other tests run first, in file order),
    and a whole round of its own, refusals included."""
    bad = id_number(17)[:-1] + ("1" if id_number(17)[-1] == "0" else "0")
    loop.submit("person", declared(17, id_number=bad))
    loop.submit("person", declared(17, police_tags=["x"]))
    loop.submitted("person", declared(17), declared(18))
    for n, verdict in ((17, "accept"), (18, "reject")):
        ref = loop.reviewer_id("person", f"P{n}")
        loop.call("police", "GET", f"/v1/reviews/person/{ref}")
        loop.decide("person", ref, verdict, "核实")
    loop.police_find(id_number(17))
    loop.call("grid", "GET", "/v1/submissions/person")
    with loop.store.engine.connect() as conn:
        texts = list(conn.execute(select(audit_log.c.event)).scalars())
        events = [str(data) for data in conn.execute(select(outbox.c.data)).scalars()]
    numbers = [id_number(n) for n in range(1, 19)] + [id_number(400), bad]
    phones = [declared(n)["record"]["phone"] for n in range(1, 19)]
    phones += [STORED_PHONE, "13900009999"]
    assert len(texts) > 20
    for text in texts + events:
        assert not any(secret in text for secret in numbers + phones)


def _ref(loop: Loop, source_key: str) -> str:
    with loop.store.engine.connect() as conn:
        ids = list(
            conn.execute(
                select(review_queue.c.id).where(review_queue.c.source_key == source_key)
            ).scalars()
        )
    return f"review/{ids[0]}"


def _events(loop: Loop, type: str, review_id: int) -> list[Any]:
    with loop.store.engine.connect() as conn:
        rows = conn.execute(select(outbox).where(outbox.c.type == type)).all()
    return [row for row in rows if row.data["review_id"] == review_id]
