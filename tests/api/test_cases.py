"""Case-bound purposes (issue 14, item 3): a read under 案件侦查 cites an open incident in
the caller's beat and gets only the records linked to it; once the incident closes, every
read citing it is refused. On each backend, over a real server."""

from __future__ import annotations

import collections
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from contracts import House, Incident, Person, Record, WorkOrder
from hub.api import create_app
from hub.audit import AuditLog
from hub.auth import ClientRegistry
from hub.config import HubConfig, load_config, open_store
from hub.reference.serve import serve_in_thread
from hub.reference.world import generate
from hub.sharing.ids import RecordIds
from tests.api.conftest import GENEROUS
from tests.conftest import BACKENDS, hub_home
from tests.data import make_records

POLICY = """\
id: case-officer
version: 1
title: 刑侦民警
police: true
purposes:
  社区警务: {}
  案件侦查: {requires: incident}
  工单核查: {requires: work_order}
kinds:
  person:
    rows: {jurisdiction: [{field: beat_code, claim: beat_codes}]}
    fields: {id_number: allow, name: allow, address_code: allow, house_code: allow,
             beat_code: allow}
  house:
    rows: {jurisdiction: [{field: beat_code, claim: beat_codes}]}
    fields: {house_code: allow, address_code: allow, beat_code: allow}
  incident:
    rows: {jurisdiction: [{field: beat_code, claim: beat_codes}]}
    fields: {incident_id: allow, status: allow, beat_code: allow}
  work_order:
    rows: {jurisdiction: [{field: beat_code, claim: beat_codes}]}
    fields: {order_id: allow, status: allow}
"""


@dataclass
class CaseHub:
    config: HubConfig
    http: httpx.Client
    client_id: str
    secret: str
    beat: str
    people: list[dict[str, Any]]
    parties: list[str]
    """The ID numbers of incident E1's parties."""
    address: str
    """E1's address."""

    def get(self, path: str, **params: str | int) -> httpx.Response:
        data = {"grant_type": "client_credentials"}
        answer = self.http.post("/oauth/token", data=data, auth=(self.client_id, self.secret))
        assert answer.status_code == 200, answer.text
        headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}
        return self.http.get(path, params=params, headers=headers)

    def ids(self, kind: str, number: str) -> str:
        """This client's id of the person (or house) whose key is ``number``."""
        store = open_store(self.config)
        try:
            [record] = store.linked_by_key(kind, number)
            return RecordIds(store).encode(self.client_id, kind, record.id)
        finally:
            store.close()

    def upsert(self, source: str, records: list[tuple[str, Record]]) -> None:
        store = open_store(self.config)
        try:
            with store.begin() as tx:
                tx.upsert(source, records)
        finally:
            store.close()

    def entries(self, action: str) -> list[Any]:
        store = open_store(self.config)
        try:
            log = AuditLog.for_store(store)
            return [e.event for e in log.search(client_id=self.client_id, action=action)]
        finally:
            store.close()


def _incident(key: str, beat: str, address: str, parties: list[str], status: str) -> Incident:
    base = make_records()["incident"].model_dump(mode="json")
    changes = {"incident_id": key, "beat_code": beat, "address_code": address}
    record = Incident.parse(base | changes | {"party_id_numbers": parties, "status": status})
    assert isinstance(record, Incident)
    return record


@pytest.fixture(scope="module", params=BACKENDS)
def hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CaseHub]:
    with hub_home(request.param, tmp_path_factory.mktemp("hub")) as home:
        (home / "policies" / "case-officer.yaml").write_text(POLICY, encoding="utf-8")
        yield from _serving(home)


def _serving(home: Path) -> Iterator[CaseHub]:
    config = load_config(home)
    world = generate(people=160, seed=14)
    beats = collections.Counter(p["beat_code"] for p in world.people)
    (beat, _), (other, _) = beats.most_common(2)
    mine = [p for p in world.people if p["beat_code"] == beat]
    parties = [mine[0]["id_number"], mine[1]["id_number"]]
    address = mine[0]["address_code"]
    stranger = next(p for p in world.people if p["beat_code"] == other)
    house = make_records()["house"].model_dump(mode="json")
    houses = [
        House.parse(house | {"house_code": f"H{n}", "address_code": a, "beat_code": beat})
        for n, a in enumerate([address, address, mine[5]["address_code"] + "9"])
    ]
    order = make_records()["work_order"].model_dump(mode="json")
    order |= {"related_kind": "house", "related_key": "H2", "beat_code": beat}
    order["history"][0]["beat_code"] = beat
    store = open_store(config)
    try:
        with store.begin() as tx:
            tx.upsert("police_db", [(f"R{n}", Person.parse(p)) for n, p in enumerate(world.people)])
            tx.upsert("police_db", [(h.house_code, h) for h in houses])  # type: ignore[attr-defined]
            tx.upsert("hub", [("W1", WorkOrder.parse(order | {"order_id": "W1"}))])
            tx.upsert(
                "police_db",
                [
                    ("E1", _incident("E1", beat, address, parties, "处置中")),
                    ("E2", _incident("E2", other, stranger["address_code"], [], "待处置")),
                    ("E3", _incident("E3", beat, address, parties, "已办结")),
                ],
            )
        added = ClientRegistry(store).add(
            "刑侦",
            "case-officer",
            ["person.read", "house.read", "incident.read", "work_order.read"],
            {"beat_codes": [beat]},
        )
    finally:
        store.close()
    with (
        serve_in_thread(create_app(config, rate=1000, burst=1000, **GENEROUS)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        yield CaseHub(
            config, http, added.client.client_id, added.secret or "", beat, mine, parties, address
        )


def _numbers(answer: httpx.Response) -> set[str]:
    assert answer.status_code == 200, answer.text
    return {item["record"]["id_number"] for item in answer.json()["items"]}


def test_a_case_bound_query_reads_the_parties_of_the_case_only(hub: CaseHub) -> None:
    everyone = _numbers(hub.get("/v1/records/person", purpose="社区警务", limit=500))
    assert len(everyone) == len(hub.people) > 10
    cited = hub.get("/v1/records/person", purpose="案件侦查", case="E1", limit=500)
    assert _numbers(cited) == set(hub.parties)
    [entry] = hub.entries("records.query")[-1:]
    assert entry.detail["case"] == {"kind": "incident", "id": "E1"}
    assert entry.purpose == "案件侦查"
    assert len(entry.record_ids) == 2
    assert not any(number in entry.canonical() for number in hub.parties)


def test_a_case_bound_read_of_a_person_not_a_party_is_refused(hub: CaseHub) -> None:
    party = hub.get(
        f"/v1/records/person/{hub.ids('person', hub.parties[0])}", purpose="案件侦查", case="E1"
    )
    assert party.status_code == 200, party.text
    assert party.json()["record"]["id_number"] == hub.parties[0]
    outsider = next(p["id_number"] for p in hub.people if p["id_number"] not in hub.parties)
    refused = hub.get(
        f"/v1/records/person/{hub.ids('person', outsider)}", purpose="案件侦查", case="E1"
    )
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body["type"] == "urn:hub:problem:denied_case_unlinked"
    assert body["case"] == {"kind": "incident", "id": "E1"}
    assert outsider not in refused.text
    [entry] = hub.entries("records.read")[-1:]
    assert entry.outcome == "denied"
    assert entry.detail["case"] == {"kind": "incident", "id": "E1"}
    assert entry.detail["reason"] == "case_unlinked"


def test_houses_at_the_incident_address_are_linked_and_others_not(hub: CaseHub) -> None:
    answer = hub.get("/v1/records/house", purpose="案件侦查", case="E1")
    assert answer.status_code == 200, answer.text
    assert {i["record"]["house_code"] for i in answer.json()["items"]} == {"H0", "H1"}
    assert {i["record"]["address_code"] for i in answer.json()["items"]} == {hub.address}


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"purpose": "案件侦查"}, "denied_case_required"),
        ({"purpose": "社区警务", "case": "E1"}, "denied_case_unbound"),
        ({"purpose": "案件侦查", "case": "E404"}, "denied_case_not_found"),
        ({"purpose": "案件侦查", "case": "E2"}, "denied_case_not_found"),
        ({"purpose": "案件侦查", "case": "E3"}, "denied_case_closed"),
        ({"purpose": "案件侦查", "case": "W1"}, "denied_case_not_found"),
        ({"purpose": "工单核查", "case": "E1"}, "denied_case_not_found"),
    ],
)
def test_a_case_that_cannot_be_cited_is_refused(
    hub: CaseHub, params: dict[str, str], code: str
) -> None:
    answer = hub.get("/v1/records/person", **params)
    assert answer.status_code == 403, answer.text
    assert answer.json()["type"] == f"urn:hub:problem:{code}"
    [entry] = hub.entries("records.read")[-1:]
    assert entry.outcome == "denied"
    if "case" in params:
        assert entry.detail["case"]["id"] == params["case"]


def test_a_case_outside_the_beat_is_told_apart_in_the_audit_log_only(hub: CaseHub) -> None:
    absent = hub.get("/v1/records/person", purpose="案件侦查", case="E404")
    elsewhere = hub.get("/v1/records/person", purpose="案件侦查", case="E2")
    assert absent.json()["detail"].replace("E404", "X") == elsewhere.json()["detail"].replace(
        "E2", "X"
    )
    checks = [e.detail["case_check"] for e in hub.entries("records.read")[-2:]]
    assert checks == ["absent", "outside_jurisdiction"]


def test_a_work_order_case_links_its_house_and_the_people_in_it(hub: CaseHub) -> None:
    houses = hub.get("/v1/records/house", purpose="工单核查", case="W1")
    assert houses.status_code == 200, houses.text
    assert [i["record"]["house_code"] for i in houses.json()["items"]] == ["H2"]
    people = hub.get("/v1/records/person", purpose="工单核查", case="W1")
    assert _numbers(people) == {p["id_number"] for p in hub.people if p["house_code"] == "H2"}


def test_once_the_incident_closes_every_read_citing_it_is_refused(hub: CaseHub) -> None:
    party = hub.ids("person", hub.parties[0])
    paths = ["/v1/records/person", f"/v1/records/person/{party}", "/v1/records/house"]
    paths.append(f"/v1/profiles/person/{party}")
    for path in paths:
        assert hub.get(path, purpose="案件侦查", case="E1").status_code == 200, path
    closed = _incident("E1", hub.beat, hub.address, hub.parties, "已办结")
    hub.upsert("police_db", [("E1", closed)])
    for path in paths:
        answer = hub.get(path, purpose="案件侦查", case="E1")
        assert answer.status_code == 403, (path, answer.text)
        assert answer.json()["type"] == "urn:hub:problem:denied_case_closed"
        assert answer.json()["case"] == {"kind": "incident", "id": "E1"}
