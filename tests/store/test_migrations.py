"""The migrations build exactly the schema the models describe, on both backends; a
database made before migrations is taken up at the baseline with its rows kept."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from pathlib import Path

from sqlalchemy import create_engine, func, inspect, select
from typer.testing import CliRunner

from hub.audit import AuditLog
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.ingest.sources import SourceSpec, save_sources
from hub.store import Keyring, Store, schema
from hub.store.store import kind_table
from tests.data import make_records


def test_a_new_database_is_at_head_and_matches_the_models(database_url: str) -> None:
    store = Store.open(database_url, Keyring.generate())
    try:
        store.create_schema()
        assert schema.current(store.engine) == schema.head()
        assert schema.differences(store.engine) == []
        store.create_schema()  # at head: nothing to do, nothing breaks
        assert schema.current(store.engine) == schema.head()
    finally:
        schema.drop(store.engine)
        store.close()


def test_the_differences_check_sees_a_column_the_migrations_lack(database_url: str) -> None:
    store = Store.open(database_url, Keyring.generate())
    try:
        store.create_schema()
        with store.engine.begin() as conn:
            conn.exec_driver_sql("ALTER TABLE outbox ADD COLUMN stray TEXT")
        assert any("stray" in str(d) for d in schema.differences(store.engine))
    finally:
        schema.drop(store.engine)
        store.close()


def test_an_unversioned_database_is_stamped_at_the_baseline_and_upgraded(
    database_url: str,
) -> None:
    """What ``metadata.create_all`` made before migrations: the baseline, no revision."""
    store = Store.open(database_url, Keyring.generate())
    person = make_records()["person"]
    try:
        schema.upgrade(store.engine, schema.BASELINE)
        with store.engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        with store.begin() as tx:
            tx.upsert("police_db", [("R1", person)], dt.datetime.now(dt.UTC))
        assert "outbox" not in inspect(store.engine).get_table_names()
        store.create_schema()
        assert schema.current(store.engine) == schema.head()
        assert schema.differences(store.engine) == []
        table = kind_table("person").table
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(table)).scalar_one() == 1
        [kept] = list(store.records("person"))
        assert kept.record == person
    finally:
        schema.drop(store.engine)
        store.close()


def test_every_revision_downgrades_and_upgrades_again(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        schema.upgrade(engine)
        schema.downgrade(engine, "base")
        assert schema.current(engine) is None
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        schema.upgrade(engine)
        assert schema.differences(engine) == []
    finally:
        schema.drop(engine)
        engine.dispose()


def test_the_db_commands(tmp_path: Path) -> None:
    home = str(tmp_path)
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--home", home]).exit_code == 0
    current = runner.invoke(cli, ["db", "current", "--home", home])
    assert current.exit_code == 0, current.output
    assert f"database {schema.head()}; head {schema.head()}" in current.output
    upgraded = runner.invoke(cli, ["db", "upgrade", "--home", home])
    assert upgraded.exit_code == 0, upgraded.output
    assert f"schema at {schema.head()}" in upgraded.output
    checked = runner.invoke(cli, ["db", "check", "--home", home])
    assert checked.exit_code == 0, checked.output
    assert "schema matches the models" in checked.output


FIXTURES = Path(__file__).parent / "fixtures"
RELEASE = "release-5dbbc28"
"""A database the last release without migrations made (``.sqlite.sql``, its dump), the
keyring it was sealed with, and every record as that release read it back."""


def test_the_previous_release_database_is_upgraded_and_every_record_reads_back(
    tmp_path: Path,
) -> None:
    path = tmp_path / "hub.db"
    with sqlite3.connect(path) as conn:
        conn.executescript((FIXTURES / f"{RELEASE}.sqlite.sql").read_text("utf-8"))
    store = Store.open(f"sqlite:///{path}", Keyring.load(FIXTURES / f"{RELEASE}.keys.json"))
    try:
        assert schema.current(store.engine) is None
        store.create_schema()
        assert schema.current(store.engine) == schema.head()
        assert schema.differences(store.engine) == []
        expected = json.loads((FIXTURES / f"{RELEASE}.records.json").read_text("utf-8"))
        for kind, old in expected.items():
            if kind == "work_order":
                continue  # contract v2 moves the v1 copies aside: tests/work/test_migration.py
            now = [s.record.model_dump(mode="json") for s in store.records(kind)]
            assert len(now) == len(old), kind
            for before in old:
                assert any(_holds(after, before) for after in now), (kind, before)
        verified = AuditLog.for_store(store).verify()
        assert verified.ok, verified.reason
        assert verified.entries == 1
    finally:
        store.close()


def _holds(after: object, before: object) -> bool:
    """``after`` says everything ``before`` said: a newer contract version may add fields."""
    if isinstance(before, dict) and isinstance(after, dict):
        return all(k in after and _holds(after[k], v) for k, v in before.items())
    if isinstance(before, list) and isinstance(after, list):
        return len(before) == len(after) and all(map(_holds, after, before))
    return after == before


def test_db_backup_copies_a_running_sqlite_hub_readably(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert CliRunner().invoke(cli, ["init", "--home", str(home)]).exit_code == 0
    store = open_store(load_config(home))
    person = make_records()["person"]
    with store.begin() as tx:
        tx.upsert("police_db", [("R1", person)])
    try:  # the hub's own connection stays open: the copy is taken online
        copy = tmp_path / "backup.db"
        done = CliRunner().invoke(cli, ["db", "backup", str(copy), "--home", str(home)])
        assert done.exit_code == 0, done.output
        assert copy.stat().st_mode & 0o077 == 0
        again = CliRunner().invoke(cli, ["db", "backup", str(copy), "--home", str(home)])
        assert again.exit_code == 2
    finally:
        store.close()
    restored = Store.open(f"sqlite:///{copy}", Keyring.load(load_config(home).key_file))
    try:
        [kept] = list(restored.records("person"))
        assert kept.record == person
    finally:
        restored.close()


def test_commands_that_do_not_migrate_refuse_a_database_behind_head(tmp_path: Path) -> None:
    home = str(tmp_path / "hub")
    runner = CliRunner()
    assert runner.invoke(cli, ["init", "--home", home]).exit_code == 0
    drop = tmp_path / "drop"
    drop.mkdir()
    spec = {"folder": str(drop)}
    save_sources(Path(home), [SourceSpec(id="declarations", connector="spreadsheet", config=spec)])
    store = open_store(load_config(Path(home)))
    try:
        schema.downgrade(store.engine, schema.BASELINE)
    finally:
        store.close()
    for command in (["sync"], ["webhooks", "deliver", "--once"], ["worker", "--once"]):
        refused = runner.invoke(cli, [*command, "--home", home])
        assert refused.exit_code == 2, (command, refused.output)
        assert f"this hub needs {schema.head()}: run `hub db upgrade`" in refused.output
    assert runner.invoke(cli, ["db", "upgrade", "--home", home]).exit_code == 0
    delivered = runner.invoke(cli, ["webhooks", "deliver", "--once", "--home", home])
    assert delivered.exit_code == 0, delivered.output


def test_workers_upgrading_one_sqlite_database_at_once_all_find_it_at_head(
    tmp_path: Path,
) -> None:
    """``hub serve --workers`` upgrades in every worker: started together on a database some
    revisions behind, none fails and the database ends at head, upgraded once."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    engine = create_engine(url)
    schema.upgrade(engine, "0010")
    engine.dispose()
    start, failures = threading.Barrier(4), []

    def worker() -> None:
        mine = Store.open(url, Keyring.generate())
        try:
            start.wait()
            mine.create_schema()
        except Exception as exc:  # any failure is the finding
            failures.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    engine = create_engine(url)
    try:
        assert schema.current(engine) == schema.head()
        assert schema.differences(engine) == []
    finally:
        engine.dispose()
