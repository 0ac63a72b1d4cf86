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
from typer.testing import CliRunner

from contracts import Person
from hub.api import create_app
from hub.api.limits import RefusalLimits
from hub.audit import AuditEvent, AuditLog
from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import HubConfig, load_config, open_store
from hub.ingest import new_run_id
from hub.ingest.report import RunReport
from hub.ingest.sync import StreamReport, admit_rows, push_stream
from hub.reference.serve import serve_in_thread
from hub.reference.world import generate
from tests.conftest import BACKENDS, EXAMPLE_POLICIES, hub_home

PASSWORD = "correct horse battery staple"  # noqa: S105 (the test operators' own)
OPERATORS = {
    "steward": ["steward"],
    "auditor": ["audit_admin"],
    "sysadmin": ["system_admin"],
    "secadmin": ["security_admin"],
    "viewer": ["viewer"],
}
PARTNER = "partner:cl_grid"


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

    def stored_person(self, source_key: str) -> Person | None:
        store = open_store(self.config)
        try:
            found = store.get("person", PARTNER, source_key)
            return None if found is None else found.record  # type: ignore[return-value]
        finally:
            store.close()


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
        police = ClientRegistry(store).add(
            "police", "police-station", ["person.read"], {"beat_codes": [target.beat_code]}
        )
        store.close()
        limits = RefusalLimits(limit=10_000)
        with serve_in_thread(create_app(config, refusal_limits=limits)) as server:
            with httpx.Client(base_url=server.url) as http:
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
                config, server.url, people, quarantined, target, police.client.client_id, run_id
            )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


@contextmanager
def signed_in(hub: ConsoleHub, name: str) -> Iterator[httpx.Client]:
    """An HTTP client holding ``name``'s session cookie (signed in through the form)."""
    with httpx.Client(base_url=hub.url) as http:
        form = http.get("/console/sign-in")
        answer = http.post(
            "/console/sign-in",
            data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 303, answer.text
        yield http
