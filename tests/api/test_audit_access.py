"""Who reads the audit log through the API, on both backends: a partner its own entries,
an auditor-policy client all of them; every search is itself in the log; subject access
finds every entry of a person's records (police, grid, the houses they own) or searching
for their ID number, and nothing else, and the CLI's subject query leaves the ID number
nowhere in clear."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from contracts import House, Person
from hub.audit import AuditEntry, AuditLog
from hub.audit.search import search_terms
from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import open_store
from hub.sharing.auditing import searched_for
from hub.store.query import Filter, select_records
from hub.store.tables import audit_log
from policies import RowScope
from tests.api.conftest import BEAT, GRID, Hub, Partner
from tests.data import make_records


@dataclass(frozen=True)
class Resident:
    id_number: str
    records: frozenset[str]
    """What the log calls the person's records: both sources' persons and the house."""
    searched: frozenset[str]
    """How the log names a search for their ID number (``bidx:…``)."""

    def named_in(self, entry: AuditEntry) -> bool:
        return not (self.records | self.searched).isdisjoint(search_terms(entry.event))


def _entries(hub: Hub) -> list[AuditEntry]:
    store = open_store(hub.config)
    try:
        return AuditLog(store).search(limit=10**7)
    finally:
        store.close()


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json()


@pytest.fixture(scope="module")
def person(hub: Hub) -> Resident:
    """An auditor client, and one resident of the police beat and the grid, known to the
    police and the grid platform both, owning a house; the police and the grid read them."""
    [chosen] = [p for p in hub.world.people if (p["grid_code"], p["beat_code"]) == (GRID, BEAT)][:1]
    number = chosen["id_number"]
    house = make_records()["house"].model_dump() | {
        "house_code": "H3201040101999",
        "owner_id_number": number,
        "grid_code": GRID,
        "beat_code": BEAT,
    }
    store = open_store(hub.config)
    try:
        with store.begin() as tx:
            tx.upsert("grid_platform", [("P-1", Person.parse(chosen | {"phone": None}))])
            tx.upsert("police_db", [("H-1", House.parse(house))])
        new = ClientRegistry(store).add(
            "audit", "audit-office", ["audit.read", "person.read"], {"beat_prefixes": ["B3201"]}
        )
        hub.partners["audit"] = Partner(new.client.client_id, new.secret or "")
        linked = [s.id for s in store.linked_by_key("person", number)]
        searched = frozenset(searched_for(store, number))
        [owned] = select_records(
            store, "house", RowScope(True, (), ()), [Filter("owner_id_number", "eq", number)]
        )
    finally:
        store.close()
    assert len(linked) == 2
    _ok(hub.get("grid", "/v1/records/person", purpose="网格服务", limit=500))
    _ok(hub.get("police", "/v1/records/person", purpose="社区警务", id_number=number))
    _ok(hub.get("police", "/v1/records/house", purpose="社区警务", limit=500))
    records = frozenset({*(f"person/{i}" for i in linked), f"house/{owned.id}"})
    return Resident(number, records, searched)


def test_a_partner_sees_its_own_entries_only_and_may_not_ask_for_others(
    hub: Hub, person: Resident
) -> None:
    police = hub.partners["police"].client_id
    found = _ok(hub.get("police", "/v1/audit", limit=1000))
    own = [e.seq for e in _entries(hub) if e.event.client_id == police][:-1]  # not its own
    assert [e["seq"] for e in found] == own
    assert {e["client_id"] for e in found} == {police}
    named = [r for e in found for r in e["record_ids"]]
    assert named
    assert not any(r.partition("/")[2].isdigit() for r in named)  # its own ids, not the hub's
    newest = _ok(hub.get("police", "/v1/audit", order="newest", limit=5))
    now = [e.seq for e in _entries(hub) if e.event.client_id == police][:-1]
    assert [e["seq"] for e in newest] == now[::-1][:5]

    refused = hub.get("police", "/v1/audit", client=hub.partners["grid"].client_id)
    assert refused.status_code == 403
    assert refused.json()["type"] == "urn:hub:problem:denied_own_entries_only"
    last = _entries(hub)[-1].event
    assert (last.action, last.outcome, last.client_id) == ("audit.search", "denied", police)
    assert last.detail["reason"] == "own_entries_only"


def test_an_auditor_sees_every_entry_and_each_search_is_in_the_log(
    hub: Hub, person: Resident
) -> None:
    before = _entries(hub)
    found = _ok(hub.get("audit", "/v1/audit", limit=1000, order="newest"))
    every = _entries(hub)[:-1]  # all but the search's own entry
    assert [e["seq"] for e in found] == [e.seq for e in every[::-1][:1000]]
    assert {hub.partners["grid"].client_id, hub.partners["police"].client_id} <= {
        e["client_id"] for e in found
    }
    grid = hub.partners["grid"].client_id
    only_grid = _ok(hub.get("audit", "/v1/audit", client=grid, action="records.query"))
    assert only_grid
    assert {(e["client_id"], e["action"]) for e in only_grid} == {(grid, "records.query")}
    _ok(hub.get("police", "/v1/audit", limit=3))

    searches = [e.event for e in _entries(hub)[len(before) :] if e.event.action == "audit.search"]
    auditor, partner = hub.partners["audit"].client_id, hub.partners["police"].client_id
    assert [(s.client_id, s.detail["scope"], s.outcome) for s in searches] == [
        (auditor, "all", "allowed"),
        (auditor, "all", "allowed"),
        (partner, "own", "allowed"),
    ]
    assert searches[0].detail["returned"] == min(1000, len(every))
    assert searches[1].filters == {"client_id": grid, "action": "records.query", "limit": 100}
    assert searches[1].policy_id == "audit-office"


def test_subject_access_finds_every_entry_naming_the_person_and_nothing_else(
    hub: Hub, person: Resident
) -> None:
    page = _ok(
        hub.get("audit", "/v1/records/person", purpose="个人信息查阅", id_number=person.id_number)
    )
    assert len(page["items"]) == 2
    ref = page["items"][1]["id"]
    found = _ok(hub.get("audit", f"/v1/audit/subjects/person/{ref}", limit=1000))
    log = _entries(hub)
    asked = log[-1]
    assert (asked.event.action, asked.event.client_id) == (
        "audit.subject",
        hub.partners["audit"].client_id,
    )
    expected = [e.seq for e in log[:-1] if person.named_in(e)]
    assert [e["seq"] for e in found] == expected[::-1]
    sources = {r.partition("/")[0] for e in found for r in e["record_ids"]}
    assert {"person", "house"} <= sources
    clients = {e["client_id"] for e in found}
    assert {hub.partners[p].client_id for p in ("grid", "police", "audit")} <= clients
    assert asked.event.detail["returned"] == len(expected)

    denied = hub.get("police", f"/v1/audit/subjects/person/{ref}")
    assert denied.status_code == 403
    assert denied.json()["type"] == "urn:hub:problem:denied_auditor_only"
    forged = hub.get("audit", f"/v1/audit/subjects/person/{'A' * 32}")
    assert forged.status_code == 404


def test_the_cli_subject_query_is_audited_and_keeps_the_number_out_of_the_log(
    hub: Hub, person: Resident
) -> None:
    home = str(hub.config.home)
    spaced = f"{person.id_number[:6]} {person.id_number[6:]}"
    answer = CliRunner().invoke(cli, ["audit", "subject", "--id-number", spaced, "--home", home])
    assert answer.exit_code == 0, answer.output
    printed = [line for line in answer.stdout.splitlines() if line]
    log = _entries(hub)
    expected = [e.seq for e in log[:-1] if person.named_in(e)]
    assert len(printed) == min(len(expected), 100)
    assert person.id_number not in answer.output
    asked = log[-1].event
    assert asked.action == "audit.subject"
    assert (asked.subject or "").startswith("cli:")
    assert asked.filters["id_number"].startswith("bidx:")
    assert asked.detail == {"returned": len(printed), "records": 3}

    store = open_store(hub.config)
    try:
        with store.engine.connect() as conn:
            rows = conn.execute(select(audit_log)).all()
    finally:
        store.close()
    text = "\n".join(str(value) for row in rows for value in row)
    assert person.id_number not in text
