"""A served hub with the example policies, a synthetic world's people read by a police
client through the API, rows a partner pushed that broke the contract (quarantined), a
second version of one policy, and one operator of each role, added by ``hub users add``."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from sqlalchemy import select
from typer.testing import CliRunner

from contracts import Person, WorkOrder
from hub.api import create_app
from hub.api.limits import RefusalLimits
from hub.audit import AuditEvent, AuditLog
from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import HubConfig, load_config, open_store, save_config
from hub.console import ConsoleSettings
from hub.ingest import new_run_id
from hub.ingest.report import RunReport
from hub.ingest.sync import StreamReport, admit_rows, push_stream
from hub.reference.serve import serve_in_thread
from hub.reference.world import generate
from hub.sharing.ids import RecordIds
from hub.store.tables import review_queue, sync_claims
from tests.conftest import BACKENDS, EXAMPLE_POLICIES, hub_home
from tests.data import make_records

PASSWORD = "correct horse battery staple"  # noqa: S105 (the test operators' own)
OPERATORS = {
    "steward": ["steward"],
    "auditor": ["audit_admin"],
    "sysadmin": ["system_admin"],
    "secadmin": ["security_admin"],
    "viewer": ["viewer"],
}
PARTNER = "partner:cl_grid"
SUBMITTED = (
    *("id_number", "name", "sex", "birth_date", "ethnicity", "phone", "household_type"),
    *("address_code", "house_code", "grid_code", "beat_code"),
)
"""The person fields the grid platform's policy lets it submit for review."""


@dataclass
class ConsoleHub:
    config: HubConfig
    url: str
    people: list[Person]
    quarantined: dict[str, int]
    """Entry id by the source key of each pushed broken row."""
    read_person: Person
    """The person the police client read through the API."""
    police_client: str
    run_id: str
    """The run whose report the steward reads."""
    submitted: dict[str, Person]
    """The people the grid platform submitted for review, by source key (S0, S1, S2)."""
    grid_client: str

    def events(self, action: str) -> list[AuditEvent]:
        store = open_store(self.config)
        try:
            found = AuditLog.for_store(store).search(action=action, limit=10_000)
        finally:
            store.close()
        return [entry.event for entry in found]

    def entry_status(self, entry_id: int) -> str:
        store = open_store(self.config)
        try:
            entry = store.quarantined_row(entry_id)
            assert entry is not None
            return entry.status
        finally:
            store.close()

    def review_ref(self, source_key: str) -> str:
        """The reviewing org's (the police client's) id of the submission ``source_key``."""
        store = open_store(self.config)
        try:
            with store.engine.connect() as conn:
                db_id = conn.execute(
                    select(review_queue.c.id).where(review_queue.c.source_key == source_key)
                ).scalar_one()
            return RecordIds(store).encode(self.police_client, "review", db_id)
        finally:
            store.close()

    def review_status(self, source_key: str) -> tuple[str, str | None, str | None]:
        """(status, reviewer subject, reason) of the submission ``source_key``."""
        store = open_store(self.config)
        try:
            with store.engine.connect() as conn:
                q = review_queue.c
                row = conn.execute(
                    select(q.status, q.reviewer_subject, q.reason).where(q.source_key == source_key)
                ).one()
            return row.status, row.reviewer_subject, row.reason
        finally:
            store.close()

    def stored_person(self, source_key: str, source: str = PARTNER) -> Person | None:
        store = open_store(self.config)
        try:
            found = store.get("person", source, source_key)
            return None if found is None else found.record  # type: ignore[return-value]
        finally:
            store.close()


NOW = dt.datetime.now(dt.UTC)
SYNC_STATE = [
    {
        "source_system": "grid_platform",
        "stream": "people",
        "due_at": NOW,
        "last_run_at": NOW - dt.timedelta(minutes=30),
        "last_success_at": NOW - dt.timedelta(minutes=30),
        "runs": 3,
        "last_error": None,
    },
    {
        "source_system": "police_db",
        "stream": "persons",
        "due_at": NOW,
        "last_run_at": NOW - dt.timedelta(minutes=5),
        "last_success_at": None,
        "runs": 2,
        "last_error": "connection refused",
    },
]
"""Two streams' sync state: one synced half an hour ago, one that never succeeded."""
ORDERS_GRID = "G320104001"


def work_orders() -> list[tuple[str, WorkOrder]]:
    """Two open orders in grid ORDERS_GRID: one long overdue, one due in two days."""
    overdue = make_records()["work_order"]
    assert isinstance(overdue, WorkOrder)
    later = NOW + dt.timedelta(days=2)
    due = overdue.model_copy(update={"order_id": "W20261101002", "deadline": later})
    return [("W1", overdue), ("W2", due)]


def broken_person(person: Person, key: str) -> dict[str, Any]:
    """``person`` as a push names it, its birth date one day off the ID number's."""
    row = person.model_dump(mode="json", exclude_none=True)
    birth = row["birth_date"]
    day = int(birth[-2:])
    row["birth_date"] = f"{birth[:-2]}{day + 1 if day < 28 else day - 1:02d}"
    return {"source_key": key, **row}


def _second_version(home: Path) -> Path:
    """grid-platform one version on: phone no longer served, birth date in full."""
    document = yaml.safe_load((EXAMPLE_POLICIES / "grid-platform.yaml").read_text("utf-8"))
    document["version"] += 1
    fields = document["kinds"]["person"]["fields"]
    fields["phone"] = "deny"
    fields["birth_date"] = "allow"
    path = home / "grid-platform-next.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def _run(*args: str) -> str:
    done = CliRunner().invoke(cli, list(args))
    assert done.exit_code == 0, done.output
    return done.output


@pytest.fixture(scope="module", params=BACKENDS)
def console_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ConsoleHub]:
    root = tmp_path_factory.mktemp("console")
    with hub_home(request.param, root / "hub") as home:
        password_file = root / "password"
        password_file.write_text(PASSWORD + "\n", encoding="utf-8")
        for name, roles in OPERATORS.items():
            flags = [arg for role in roles for arg in ("--role", role)]
            _run(
                "users",
                "add",
                name,
                *flags,
                "--password-file",
                str(password_file),
                "--home",
                str(home),
            )
        for version in (EXAMPLE_POLICIES / "grid-platform.yaml", _second_version(home)):
            _run("policy", "install", str(version), "--home", str(home))
        config = load_config(home)
        world = generate(people=40, seed=12)
        people = [Person.parse(p) for p in world.people]
        store = open_store(config)
        with store.begin() as tx:
            tx.upsert("police_db", [(f"R{n}", p) for n, p in enumerate(people[:30])])
            tx.upsert("police_db", work_orders())
            tx.conn.execute(sync_claims.insert(), SYNC_STATE)
        pushed = [broken_person(p, f"Q{n}") for n, p in enumerate(people[30:33])]
        run_id, started = new_run_id(), dt.datetime.now(dt.UTC)
        admitted = admit_rows(store, PARTNER, push_stream("person"), pushed, run_id)
        stream = StreamReport(
            PARTNER, "push", "person", len(pushed), admitted.counts, len(admitted.quarantined)
        )
        for entry in admitted.quarantined:
            stream.failures.update(f"{f['field']}:{f['rule']}" for f in entry.failures)
        RunReport(run_id, started, dt.datetime.now(dt.UTC), streams=[stream]).save(home)
        quarantined = {e.source_key: e.id for e in store.quarantined() if e.id is not None}
        target = people[0]
        registry = ClientRegistry(store)
        police = registry.add(
            "派出所社区警务",
            "police-station",
            ["person.read", "person.review"],
            {"beat_codes": [target.beat_code]},
        )
        grid = registry.add(
            "网格平台", "grid-platform", ["person.submit"], {"grid_codes": [target.grid_code]}
        )
        store.close()
        # The stewards review for the police station (``console.reviewer``).
        reviewer = ConsoleSettings(reviewer=police.client.client_id)
        save_config(config.model_copy(update={"console": reviewer}))
        config = load_config(home)
        submitted = {
            f"S{n}": p.model_copy(
                update={"grid_code": target.grid_code, "beat_code": target.beat_code}
            )
            for n, p in enumerate(people[33:36])
        }
        limits = RefusalLimits(limit=10_000)
        with serve_in_thread(create_app(config, refusal_limits=limits)) as server:
            with httpx.Client(base_url=server.url) as http:
                grid_token = http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(grid.client.client_id, grid.secret or ""),
                ).json()["access_token"]
                answer = http.post(
                    "/v1/submissions/person",
                    params={"purpose": "网格服务"},
                    json={
                        "records": [
                            {
                                "source_key": key,
                                "record": p.model_dump(
                                    mode="json", include=set(SUBMITTED), exclude_none=True
                                ),
                            }
                            for key, p in submitted.items()
                        ]
                    },
                    headers={"Authorization": f"Bearer {grid_token}"},
                )
                assert answer.status_code == 200, answer.text
                token = http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(police.client.client_id, police.secret or ""),
                ).json()["access_token"]
                answer = http.get(
                    "/v1/records/person",
                    params={"purpose": "社区警务", "id_number": target.id_number},
                    headers={"Authorization": f"Bearer {token}"},
                )
                assert answer.status_code == 200, answer.text
                assert len(answer.json()["items"]) == 1
            yield ConsoleHub(
                config,
                server.url,
                people,
                quarantined,
                target,
                police.client.client_id,
                run_id,
                submitted,
                grid.client.client_id,
            )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def signed_in(hub: ConsoleHub, name: str) -> Iterator[httpx.Client]:
    """An HTTP client holding ``name``'s session cookie (signed in through the form); a
    generous timeout, as a sign-in hashes with argon2 on a machine the suite keeps busy."""
    with httpx.Client(base_url=hub.url, timeout=30) as http:
        form = http.get("/console/sign-in")
        answer = http.post(
            "/console/sign-in",
            data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        yield http
