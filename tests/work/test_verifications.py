"""Verify once (走访核查): a served hub where the police and the grid hold their own copies of
the same people, and either side's visit counts for both.

The hub's clock is injected and only moves forward from the real time at which the module
starts (the sync that stores self-declarations keeps the wall clock), so "two days ago"
and "forty days ago" are exact, and no assertion waits on time.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, event, select

from connectors.spreadsheet import SpreadsheetSource
from contracts import House, Person
from hub.api import create_app
from hub.audit import AuditLog
from hub.auth import ClientRegistry
from hub.config import HubConfig, load_config, open_store
from hub.files import write_private
from hub.ingest import new_run_id, sync_stream
from hub.reference.serve import serve_in_thread
from hub.reference.world import generate
from hub.sharing.ids import RecordIds
from hub.store import Store
from hub.store.tables import audit_log, outbox, verification_tasks
from tests.api.conftest import BEAT, GENEROUS, GRID
from tests.conftest import BACKENDS, hub_home

CHECK = "走访核查"
SERVICE = "网格服务"
POLICE_WORK = "社区警务"
HOUSE = "H3201040101100777"
LITE_POLICY = f"""
id: grid-lite
version: 1
title: 网格（只见核查结论）
purposes: [{SERVICE}, {CHECK}]
kinds:
  person:
    rows: {{jurisdiction: [{{field: grid_code, claim: grid_codes}}]}}
    fields: {{name: allow, grid_code: allow}}
  visit:
    actions: [read, write]
    rows: {{jurisdiction: [{{field: grid_code, claim: grid_codes}}]}}
    fields: {{side: allow, result: allow}}
    write: [result, visitor]
"""
"""A grid policy that sees only who went (side) and what they found of a verification,
and states no note and no time of its own visits."""


class Clock:
    """The hub's "now": real time at the start, moved on only by the tests."""

    def __init__(self) -> None:
        self.at = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.at

    def advance(self, **delta: float) -> None:
        self.at += dt.timedelta(**delta)


@dataclass
class Loop:
    config: HubConfig
    http: httpx.Client
    clock: Clock
    clients: dict[str, str]
    secrets: dict[str, str]
    people: list[dict[str, Any]]
    """The people of GRID, each held by the police (``R<n>``) and the grid (``g<n>``)."""
    outsider: dict[str, Any]
    """A person of another grid and beat."""
    drops: Path

    def headers(self, partner: str) -> dict[str, str]:
        data = {"grant_type": "client_credentials"}
        auth = (self.clients[partner], self.secrets[partner])
        answer = self.http.post("/oauth/token", data=data, auth=auth)
        assert answer.status_code == 200, answer.text
        return {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def store(self) -> Store:
        return open_store(self.config)

    def db_id(self, kind: str, source: str, key: str) -> int:
        store = self.store()
        try:
            found = store.get(kind, source, key)
            assert found is not None
            return found.id
        finally:
            store.close()

    def ref(self, partner: str, kind: str, db_id: int) -> str:
        """The partner's own id of a record, as the hub would give it."""
        store = self.store()
        try:
            return RecordIds(store).encode(self.clients[partner], kind, db_id)
        finally:
            store.close()

    def refs(self, partner: str, person: dict[str, Any]) -> set[str]:
        """The partner's ids of every copy of ``person`` (police's and grid's)."""
        n = person["n"]
        return {
            self.ref(partner, "person", self.db_id("person", "police_db", f"R{n}")),
            self.ref(partner, "person", self.db_id("person", "grid_platform", f"g{n}")),
        }

    def verify(self, partner: str, kind: str, ref: str, **stated: Any) -> httpx.Response:
        body = {"kind": kind, "id": ref, "result": "属实", "visitor": "走访人", "purpose": CHECK}
        body |= stated
        return self.http.post("/v1/verifications", json=body, headers=self.headers(partner))

    def verify_person(self, partner: str, person: dict[str, Any], **stated: Any) -> dict[str, Any]:
        """``partner`` verifies its own source's copy of ``person``."""
        source, key = ("police_db", "R") if partner == "police" else ("grid_platform", "g")
        ref = self.ref(partner, "person", self.db_id("person", source, f"{key}{person['n']}"))
        answer = self.verify(partner, "person", ref, **stated)
        assert answer.status_code == 201, answer.text
        recorded: dict[str, Any] = answer.json()
        return recorded

    def due(self, partner: str, **params: Any) -> list[dict[str, Any]]:
        """Every page of the due list, walked by cursor."""
        items: list[dict[str, Any]] = []
        query = {"grid": GRID, "kind": "person", "purpose": CHECK} | params
        while True:
            answer = self.http.get(
                "/v1/verifications/due", params=query, headers=self.headers(partner)
            )
            assert answer.status_code == 200, answer.text
            page = answer.json()
            items += page["items"]
            if not page["next_cursor"]:
                return items
            query["cursor"] = page["next_cursor"]

    def get(self, partner: str, path: str, **params: Any) -> httpx.Response:
        return self.http.get(path, params=params, headers=self.headers(partner))


def _fields(person: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in person.items() if name != "n"}


def _person_row(person: dict[str, Any]) -> dict[str, str]:
    """A person as a 秦淮e家 export has it: Chinese headers, text cells."""
    labels = {spec.name: spec.label for spec in Person.specs()}
    return {
        labels[name]: str(value)
        for name, value in person.items()
        if name in labels and value not in (None, [])
    }


def declare(loop: Loop, name: str, people: list[dict[str, Any]]) -> None:
    """Residents' self-declarations dropped as a CSV, synced through the spreadsheet
    connector with the stream marked ``self_declared``."""
    rows = [_person_row(p) for p in people]
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_private(loop.drops / name, out.getvalue(), encoding="utf-8-sig")
    stream = {
        "name": "people",
        "kind": "person",
        "pattern": "*.csv",
        "primary_key": "公民身份号码",
        "self_declared": True,
    }
    source = SpreadsheetSource("declarations", {"folder": str(loop.drops), "streams": [stream]})
    store = loop.store()
    try:
        report = sync_stream(store, source, source.stream("people"), new_run_id())
    finally:
        store.close()
    assert report.error is None
    assert report.quarantined == 0


def tasks(loop: Loop) -> list[Any]:
    store = loop.store()
    try:
        with store.engine.connect() as conn:
            t = verification_tasks
            return list(conn.execute(select(t).order_by(t.c.id)).all())
    finally:
        store.close()


def visit_count(loop: Loop) -> int:
    store = loop.store()
    try:
        return store.count("visit")
    finally:
        store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def loop(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Loop]:
    with ExitStack() as stack:
        home = stack.enter_context(hub_home(request.param, tmp_path_factory.mktemp("hub")))
        (home / "policies" / "grid-lite.yaml").write_text(LITE_POLICY, encoding="utf-8")
        config = load_config(home)
        world = generate(people=600, seed=21)
        numbered = [p | {"n": n} for n, p in enumerate(world.people)]
        ours = [p for p in numbered if p["grid_code"] == GRID]
        outsider = next(p for p in numbered if p["grid_code"] != GRID and p["beat_code"] != BEAT)
        store = open_store(config)
        people = [
            (p["n"], Person.parse({k: v for k, v in p.items() if k != "n"})) for p in numbered
        ]
        house = House.parse(
            {
                "house_code": HOUSE,
                "address_code": "3201040101100777",
                "use": "出租",
                "occupant_count": 2,
                "grid_code": GRID,
                "beat_code": BEAT,
            }
        )
        with store.begin() as tx:
            tx.upsert("police_db", [(f"R{n}", p) for n, p in people])
            tx.upsert("police_db", [(HOUSE, house)])
            tx.upsert("grid_platform", [(f"g{n}", p) for n, p in people if p.grid_code == GRID])
        registry = ClientRegistry(store)
        reads = ["person.read", "house.read"]
        visits = ["visit.read", "visit.write"]
        wanted = {
            "police": ("police-station", [*reads, *visits], {"beat_codes": [BEAT]}),
            "grid": ("grid-platform", [*reads, *visits], {"grid_codes": [GRID]}),
            "lite": ("grid-lite", ["person.read", *visits], {"grid_codes": [GRID]}),
            "blind": ("grid-platform", reads, {"grid_codes": [GRID]}),
        }
        added = {
            name: registry.add(name, policy, scopes, claims)
            for name, (policy, scopes, claims) in wanted.items()
        }
        store.close()
        clock = Clock()
        app = create_app(config, rate=1000, burst=1000, clock=clock, **GENEROUS)
        server = stack.enter_context(serve_in_thread(app))
        http = stack.enter_context(httpx.Client(base_url=server.url))
        yield Loop(
            config,
            http,
            clock,
            {name: new.client.client_id for name, new in added.items()},
            {name: new.secret or "" for name, new in added.items()},
            ours,
            outsider,
            home / "drops",
        )


def test_a_police_visit_two_days_ago_takes_the_household_off_the_grids_due_list(
    loop: Loop,
) -> None:
    """The done-when: verified by the police 2 days ago, not due for the grid within 30
    days, and the grid's profile of its own copy shows the police's verification."""
    person = loop.people[0]
    grid_refs = loop.refs("grid", person)
    [before] = [item for item in loop.due("grid") if item["id"] in grid_refs]
    assert before["due"] == {"reason": "never_verified"}
    assert before["verification"] is None

    at = loop.clock() - dt.timedelta(days=2)
    recorded = loop.verify_person("police", person, visitor="民警赵亮", visited_at=at.isoformat())
    assert (recorded["side"], recorded["result"]) == ("公安", "属实")
    assert dt.datetime.fromisoformat(recorded["visited_at"]) == at

    assert not [item for item in loop.due("grid", within_days=30) if item["id"] in grid_refs]
    [stale] = [item for item in loop.due("grid", within_days=1) if item["id"] in grid_refs]
    assert stale["due"] == {"reason": "verification_expired"}
    assert stale["verification"]["side"] == "公安"

    own_copy = loop.ref("grid", "person", loop.db_id("person", "grid_platform", f"g{person['n']}"))
    answer = loop.get("grid", f"/v1/profiles/person/{own_copy}", purpose=SERVICE)
    assert answer.status_code == 200, answer.text
    profile = answer.json()
    shown = profile["record"]["verification"]
    assert shown == {
        "id": shown["id"],
        "side": "公安",
        "visited_at": shown["visited_at"],
        "result": "属实",
        "visitor": "民警赵亮",
        "visitor_org": loop.clients["police"],
    }
    assert dt.datetime.fromisoformat(shown["visited_at"]) == at
    linked = profile["sections"]["linked"]["items"]
    assert {item["source"] for item in linked} == {"police_db", "grid_platform"}
    assert all(item["verification"] == shown for item in linked)
    [visit] = profile["sections"]["visits"]["items"]
    assert visit["id"] == shown["id"]
    assert "*" in visit["record"]["record_key"]
    assert "note" not in visit["record"]


def test_each_policy_sees_only_the_verification_fields_its_visit_grant_allows(loop: Loop) -> None:
    person = loop.people[0]  # verified by the police in the test above
    police_copy = loop.db_id("person", "police_db", f"R{person['n']}")

    def read(partner: str, db_id: int) -> dict[str, Any]:
        path = f"/v1/records/person/{loop.ref(partner, 'person', db_id)}"
        answer = loop.get(partner, path, purpose=SERVICE)
        assert answer.status_code == 200, answer.text
        view: dict[str, Any] = answer.json()
        return view

    assert set(read("grid", police_copy)["verification"]) == {
        "id", "side", "visited_at", "result", "visitor", "visitor_org"
    }  # fmt: skip
    assert set(read("lite", police_copy)["verification"]) == {"id", "side", "result"}
    assert "verification" not in read("blind", police_copy)
    never = loop.db_id("person", "police_db", f"R{loop.people[-1]['n']}")
    assert read("grid", never)["verification"] is None


def test_a_visit_forty_days_ago_is_due_again(loop: Loop) -> None:
    person = loop.people[1]
    grid_refs = loop.refs("grid", person)
    at = loop.clock() - dt.timedelta(days=10)
    loop.verify_person("police", person, visited_at=at.isoformat(), result="人户分离")
    assert not [item for item in loop.due("grid") if item["id"] in grid_refs]
    loop.clock.advance(days=30)
    [due] = [item for item in loop.due("grid") if item["id"] in grid_refs]
    assert due["due"] == {"reason": "verification_expired"}
    assert dt.datetime.fromisoformat(due["verification"]["visited_at"]) == at
    assert due["verification"]["result"] == "人户分离"
    assert not [item for item in loop.due("grid", within_days=41) if item["id"] in grid_refs]


def test_the_grid_visit_of_its_own_copy_counts_for_the_police(loop: Loop) -> None:
    person = loop.people[2]
    police_refs = loop.refs("police", person)
    assert [item for item in loop.due("police") if item["id"] in police_refs]
    recorded = loop.verify_person("grid", person, visitor="网格员陈静", note="三口之家")
    assert recorded["side"] == "网格"
    assert not [item for item in loop.due("police") if item["id"] in police_refs]
    store = loop.store()
    try:
        visits = [s for s in store.records("visit") if s.record.visitor == "网格员陈静"]
        with store.engine.connect() as conn:
            events = conn.execute(select(outbox).where(outbox.c.type == "visit.recorded")).all()
    finally:
        store.close()
    [stored] = visits
    [told] = [e for e in events if e.record_id == stored.id]
    assert (told.kind, told.data) == ("visit", {})
    assert stored.provenance.source_system == "hub"
    visit = stored.record.model_dump()
    assert visit["side"] == "网格"
    assert visit["record_key"] == person["id_number"]
    assert (visit["grid_code"], visit["beat_code"]) == (GRID, BEAT)
    assert visit["visitor_org"] == loop.clients["grid"]
    assert visit["note"] == "三口之家"


def test_a_visit_outside_the_callers_visit_rows_counts_but_is_not_shown(loop: Loop) -> None:
    """The police's copy of a person places them in a neighbouring grid of the same beat:
    its visit lies in that grid, outside the grid client's visit rows. It still takes the
    person off the grid's due list (a visit is a visit), but its facts are not shown."""
    person = loop.people[6]
    store = loop.store()
    try:
        elsewhere = Person.parse(_fields(person) | {"grid_code": "G32010401012"})
        with store.begin() as tx:
            tx.upsert("police_db", [(f"R{person['n']}", elsewhere)])
    finally:
        store.close()
    grid_copy = loop.ref("grid", "person", loop.db_id("person", "grid_platform", f"g{person['n']}"))
    assert [item for item in loop.due("grid") if item["id"] == grid_copy]
    loop.verify_person("police", person)
    assert not [item for item in loop.due("grid") if item["id"] == grid_copy]
    view = loop.get("grid", f"/v1/records/person/{grid_copy}", purpose=SERVICE).json()
    assert view["verification"] is None
    police_copy = loop.db_id("person", "police_db", f"R{person['n']}")
    police_view = loop.get(
        "police", f"/v1/records/person/{loop.ref('police', 'person', police_copy)}",
        purpose=POLICE_WORK,
    ).json()  # fmt: skip
    assert police_view["verification"]["side"] == "公安"


def test_a_record_outside_the_callers_scope_cannot_be_verified_nor_is_ever_due(
    loop: Loop,
) -> None:
    outsider = loop.outsider
    db_id = loop.db_id("person", "police_db", f"R{outsider['n']}")
    before = visit_count(loop)
    refused = [
        loop.verify("grid", "person", loop.ref("grid", "person", db_id)),
        loop.verify("grid", "person", loop.ref("police", "person", db_id)),
        loop.verify("grid", "house", loop.ref("grid", "person", db_id)),
        loop.verify("grid", "person", "A" * 32),
    ]
    assert [(r.status_code, r.json()["type"]) for r in refused] == [
        (404, "urn:hub:problem:not_found")
    ] * 4
    assert visit_count(loop) == before
    assert loop.due("grid", grid=outsider["grid_code"]) == []
    grid_ids = {loop.ref("grid", "person", db_id)}
    listed = loop.due("grid", within_days=1)
    assert listed
    assert not grid_ids & {item["id"] for item in listed}
    assert {item["record"]["grid_code"] for item in listed} == {GRID}


HOURS = dt.timedelta(hours=1)
REFUSED = {
    "in the future": ("police", "person", {"visited_at": HOURS}, 400, "visited_at_future"),
    "40 days back": ("police", "person", {"visited_at": -960 * HOURS}, 400, "visited_at_too_old"),
    "no time zone": ("police", "person", {"visited_at": "2026-01-01T10:00"}, 400, "invalid_record"),
    "no such result": ("police", "person", {"result": "很好"}, 400, "invalid_record"),
    "人户分离 of a house": ("grid", "house", {"result": "人户分离"}, 400, "invalid_record"),
    "a note lite may not state": ("lite", "person", {"note": "备注"}, 403, "denied_write"),
    "no purpose": ("police", "person", {"purpose": None}, 403, "denied_purpose"),
    "without visit.write": ("blind", "person", {}, 403, "insufficient_scope"),
}


@pytest.mark.parametrize("case", list(REFUSED))
def test_what_a_visitor_may_not_state_or_that_cannot_be_is_refused(loop: Loop, case: str) -> None:
    partner, kind, stated, status, code = REFUSED[case]
    if isinstance(stated.get("visited_at"), dt.timedelta):
        stated = stated | {"visited_at": (loop.clock() + stated["visited_at"]).isoformat()}
    db_id = (
        loop.db_id("house", "police_db", HOUSE)
        if kind == "house"
        else loop.db_id("person", "police_db", f"R{loop.people[3]['n']}")
    )
    before = visit_count(loop)
    answer = loop.verify(partner, kind, loop.ref(partner, kind, db_id), **stated)
    assert (answer.status_code, answer.json()["type"]) == (status, f"urn:hub:problem:{code}")
    assert visit_count(loop) == before
    if case == "人户分离 of a house":
        [failure] = answer.json()["failures"]
        assert (failure["field"], failure["rule"]) == ("result", "result_for_kind")
    if case == "a note lite may not state":
        assert answer.json()["fields"] == ["note"]


def test_a_visit_stating_only_what_the_grant_lists_is_recorded(loop: Loop) -> None:
    house = loop.ref("grid", "house", loop.db_id("house", "police_db", HOUSE))
    person = loop.db_id("person", "police_db", f"R{loop.people[3]['n']}")
    assert loop.verify("lite", "person", loop.ref("lite", "person", person)).status_code == 201
    assert loop.verify("grid", "house", house, result="不属实").status_code == 201


def test_the_due_list_needs_visit_read_besides_the_kinds(loop: Loop) -> None:
    due = loop.get("blind", "/v1/verifications/due", grid=GRID, kind="person", purpose=CHECK)
    assert (due.status_code, due.json()["type"]) == (403, "urn:hub:problem:insufficient_scope")
    assert 'scope="visit.read"' in due.headers["WWW-Authenticate"]
    unit = loop.get("grid", "/v1/verifications/due", grid=GRID, kind="unit", purpose=CHECK)
    assert (unit.status_code, unit.json()["type"]) == (403, "urn:hub:problem:insufficient_scope")
    incident = loop.get("grid", "/v1/verifications/due", grid=GRID, kind="incident")
    assert incident.status_code == 400


def test_a_self_declaration_opens_a_task_listed_first_and_closed_by_a_visit(loop: Loop) -> None:
    verified, fresh = loop.people[4], loop.people[5]
    loop.verify_person(
        "police", verified, visited_at=(loop.clock() - dt.timedelta(days=1)).isoformat()
    )
    assert not [i for i in loop.due("grid") if i["id"] in loop.refs("grid", verified)]

    declare(loop, "qinhuai-e-1.csv", [verified, fresh])
    opened = tasks(loop)
    assert [(t.kind, t.reason, t.grid_code, t.done_at) for t in opened] == [
        ("person", "self_declared", GRID, None)
    ] * 2
    declare(loop, "qinhuai-e-2.csv", [verified | {"phone": "13900000000"}])
    assert len(tasks(loop)) == 2, "a second declaration while the task is open opens none"

    due = loop.due("grid")
    first = [item["due"]["reason"] for item in due[:2]]
    assert first == ["self_declared", "self_declared"]
    assert "self_declared" not in {item["due"]["reason"] for item in due[2:]}
    [declared] = [item for item in due[:2] if item["id"] in loop.refs("grid", verified)]
    assert declared["verification"]["side"] == "公安", (
        "the visit before is shown, and does not count"
    )
    paged = loop.due("grid", limit=2)
    assert [item["id"] for item in paged] == [item["id"] for item in due]

    task = next(t for t in opened if t.link_key == _link(loop, verified))
    before = task.created_at - dt.timedelta(hours=1)
    grid_copy = loop.ref("grid", "person", task.record_id)
    assert (
        loop.verify("grid", "person", grid_copy, visited_at=before.isoformat()).status_code == 201
    )
    assert [t.done_at for t in tasks(loop)] == [None, None], (
        "a visit from before it is not its visit"
    )

    loop.clock.advance(minutes=5)
    answer = loop.verify("grid", "person", grid_copy, visitor="网格员陈静")
    assert answer.status_code == 201, answer.text
    closed = {t.link_key: t for t in tasks(loop)}[task.link_key]
    assert closed.done_at == loop.clock()
    assert closed.done_by_visit == _visit_db_id(loop, answer.json()["id"])
    due = loop.due("grid")
    assert not [i for i in due if i["id"] in loop.refs("grid", verified)]
    assert due[0]["id"] in loop.refs("grid", fresh)
    assert due[0]["due"]["reason"] == "self_declared"


def _link(loop: Loop, person: dict[str, Any]) -> str:
    store = loop.store()
    try:
        return store.link_key(person["id_number"])
    finally:
        store.close()


def _visit_db_id(loop: Loop, ref: str) -> int | None:
    store = loop.store()
    try:
        return RecordIds(store).decode(loop.clients["grid"], "visit", ref)
    finally:
        store.close()


def test_a_page_of_records_looks_its_verifications_up_in_one_query(loop: Loop) -> None:
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *_: Any) -> None:
        statements.append(statement)

    event.listen(Engine, "before_cursor_execute", seen)
    try:
        answer = loop.get("police", "/v1/records/person", purpose=POLICE_WORK, limit=50)
    finally:
        event.remove(Engine, "before_cursor_execute", seen)
    assert answer.status_code == 200
    items = answer.json()["items"]
    assert len(items) == 50
    assert any(item["verification"] for item in items)
    assert sum("rec_visit" in s for s in statements) == 1


def test_every_visit_and_view_of_one_is_audited_without_a_sealed_value(loop: Loop) -> None:
    store = loop.store()
    try:
        log = AuditLog.for_store(store)
        recorded = log.search(action="verifications.record", limit=1000)
        due = log.search(action="verifications.due", limit=1000)
        reads = log.search(action="records.read", client_id=loop.clients["grid"], limit=1000)
        assert log.verify().ok
        with store.engine.connect() as conn:
            entries = list(conn.execute(select(audit_log.c.event)).scalars())
    finally:
        store.close()
    numbers = {p["id_number"] for p in [*loop.people, loop.outsider]}
    assert not [n for n in numbers if any(n in entry for entry in entries)]
    allowed = [e.event for e in recorded if e.event.outcome == "allowed"]
    assert len(allowed) == visit_count(loop)
    for entry in allowed:
        assert entry.kind == "visit"
        assert entry.purpose == CHECK
        verified, visit = entry.record_ids
        assert verified.split("/")[0] in {"person", "house"}
        assert visit.startswith("visit/")
        assert entry.detail["verified"] == verified
    refused = [e.event for e in recorded if e.event.outcome == "denied"]
    assert {e.detail["reason"] for e in refused} >= {
        "not_found",
        "visited_at_future",
        "write_fields",
    }
    grids = {e.event.filters["grid_code__eq"] for e in due if e.event.outcome == "allowed"}
    assert grids == {GRID, loop.outsider["grid_code"]}
    shown = [e.event for e in reads if e.event.detail.get("verification", {}).get("shown")]
    assert shown
    assert all(any(r.startswith("visit/") for r in e.record_ids) for e in shown)
    assert shown[0].detail["verification"]["fields"]["clear"] == [
        "side", "visited_at", "result", "visitor", "visitor_org"
    ]  # fmt: skip
