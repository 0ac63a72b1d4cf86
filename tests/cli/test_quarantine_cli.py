"""``hub quarantine``: every read and every re-submission is in the audit log, which names
entries and columns but never a value of the row; a partner's pushed row is re-submitted
through the push stream of its kind; a failed audit append stores nothing."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.audit import AuditError, AuditEvent, AuditLog
from hub.cli import app
from hub.config import load_config, open_store
from hub.ingest import new_run_id
from hub.ingest.errors import CannotResubmit
from hub.ingest.quarantine import entry_stream, resubmit
from hub.ingest.sources import save_sources
from hub.ingest.sync import admit_rows, push_stream
from hub.store import Store
from hub.store.tables import audit_log
from tests.data import ID_NUMBERS

runner = CliRunner()
PARTNER = "partner:cl_x"
RESUBMIT = ["quarantine", "resubmit"]


def person_row() -> dict[str, Any]:
    return {
        "source_key": "P-1",
        "id_number": ID_NUMBERS[0],
        "name": "张伟",
        "sex": "男",
        "birth_date": "1990-03-08",  # the ID number says 1990-03-07
        "ethnicity": "汉族",
        "phone": "13812345678",
        "household_type": "户籍",
        "address_code": "320104001001001",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
    }


@pytest.fixture
def home(tmp_path: Path) -> Path:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    return home


@pytest.fixture
def store(home: Path) -> Iterator[Store]:
    store = open_store(load_config(home))
    try:
        yield store
    finally:
        store.close()


def _pushed(store: Store, row: dict[str, Any], kind: str = "person") -> int:
    admitted = admit_rows(store, PARTNER, push_stream(kind), [row], new_run_id())
    [entry] = admitted.quarantined
    [held] = [e for e in store.quarantined() if e.source_key == entry.source_key]
    assert held.id is not None
    return held.id


def _audit_text(store: Store) -> str:
    with store.engine.connect() as conn:
        return "\n".join(str(tuple(row)) for row in conn.execute(select(audit_log)))


def _events(store: Store, action: str) -> list[AuditEvent]:
    entries = AuditLog.for_store(store).search(limit=100)
    return [e.event for e in entries if e.event.action == action]


def test_show_and_list_are_audited_without_a_value_of_the_row(home: Path, store: Store) -> None:
    entry_id = _pushed(store, person_row())
    shown = runner.invoke(app, ["quarantine", "show", str(entry_id), "--home", str(home)])
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["row"]["id_number"] == ID_NUMBERS[0]
    listed = runner.invoke(app, ["quarantine", "list", "--home", str(home)])
    assert listed.exit_code == 0, listed.output
    reads = _events(store, "quarantine.read")
    assert [e.detail["command"] for e in reads] == ["show", "list"]
    for event in reads:
        assert event.record_ids == [f"quarantine:{entry_id}"]
        assert event.kind == "person"
        assert event.detail["sources"] == [PARTNER]
        assert (event.subject or "").startswith("cli:")
        assert event.client_id is None
    text = _audit_text(store)
    for value in (ID_NUMBERS[0], "13812345678", "张伟"):
        assert value not in text
    assert AuditLog.for_store(store).verify().ok


def test_a_partner_row_is_fixed_through_the_push_stream_and_audited(
    home: Path, store: Store
) -> None:
    entry_id = _pushed(store, person_row())
    fix = ["--set", "birth_date=1990-03-07", "--unset", "phone", "--home", str(home)]
    fixed = runner.invoke(app, [*RESUBMIT, str(entry_id), *fix])
    assert fixed.exit_code == 0, fixed.output
    assert store.count("person") == 1
    assert store.quarantined() == []
    [event] = _events(store, "quarantine.resubmit")
    assert event.detail == {
        "entry": entry_id,
        "source": PARTNER,
        "stream": "push",
        "result": "stored",
        "set": ["birth_date"],
        "unset": ["phone"],
    }
    assert event.record_ids == [f"quarantine:{entry_id}"]
    text = _audit_text(store)
    for value in (ID_NUMBERS[0], "13812345678", "1990-03-07", "1990-03-08"):
        assert value not in text


def test_a_pushed_incident_is_fixed_with_the_cli(home: Path, store: Store) -> None:
    incident = {
        "source_key": "E-1",
        "incident_id": "E20261101001",
        "incident_type": "矛盾纠纷",
        "reported_at": "2026-11-01T09:00:00+08:00",
        "channel": "网格员巡查",
        "address_code": "320104001001001",
        "grid_code": "G320104001",
        "beat_code": "B32010401",
        "description": "邻里噪音纠纷",
        "risk_level": "中",
        "status": "处置中",
        "party_id_numbers": ["12345"],
    }
    entry_id = _pushed(store, incident, "incident")
    still = runner.invoke(app, ["quarantine", "resubmit", str(entry_id), "--home", str(home)])
    assert still.exit_code == 1, still.output
    assert "id_" in still.stdout  # the failures, printed as JSON lines
    [event] = _events(store, "quarantine.resubmit")
    assert event.detail["result"] == "quarantined"
    fixed = runner.invoke(
        app,
        [*RESUBMIT, str(entry_id), "--unset", "party_id_numbers", "--home", str(home)],
    )
    assert fixed.exit_code == 0, fixed.output
    assert store.count("incident") == 1


def test_a_resubmit_whose_audit_fails_stores_nothing(store: Store) -> None:
    entry_id = _pushed(store, person_row())
    read_only = AuditLog(store)  # no signing key: every append raises AuditError

    def audit(tx: Any, before: Any, admitted: Any) -> None:
        read_only.append(AuditEvent(action="quarantine.resubmit", outcome="allowed"), tx)

    with pytest.raises(AuditError):
        resubmit(
            store,
            push_stream("person"),
            entry_id,
            {"birth_date": "1990-03-07"},
            new_run_id(),
            audit,
        )
    assert store.count("person") == 0
    [entry] = store.quarantined()
    assert entry.status == "open"
    assert entry.row["birth_date"] == "1990-03-08"


def test_every_refusal_says_why(home: Path, store: Store) -> None:
    missing = runner.invoke(app, ["quarantine", "resubmit", "999", "--home", str(home)])
    assert missing.exit_code == 2
    assert "no quarantine entry 999" in missing.output
    admit_rows(store, "police", push_stream("person"), [person_row()], new_run_id())
    [held] = store.quarantined()
    assert held.id is not None
    no_file = runner.invoke(app, ["quarantine", "resubmit", str(held.id), "--home", str(home)])
    assert no_file.exit_code == 2
    assert "sources.yaml" in no_file.output.replace("\n", "")  # rich wraps a long path
    save_sources(home, [])
    unknown = runner.invoke(app, ["quarantine", "resubmit", str(held.id), "--home", str(home)])
    assert unknown.exit_code == 2
    assert "'police' is not in sources.yaml" in unknown.output
    with pytest.raises(CannotResubmit, match=r"not in sources\.yaml"), entry_stream(held, []):
        pass
    partner = dataclasses.replace(held, source_system=PARTNER, stream="people")
    with pytest.raises(CannotResubmit, match="stream 'push'"), entry_stream(partner, []):
        pass
    bad = runner.invoke(app, ["quarantine", "resubmit", "1", "--set", "x", "--home", str(home)])
    assert bad.exit_code == 2
    assert "COLUMN=VALUE" in bad.output
