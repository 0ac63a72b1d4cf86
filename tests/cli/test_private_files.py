"""The hub home holds personal data and secrets: the home is 0700 and every file the hub
writes in it 0600, under the usual umask 022, including SQLite's -wal and -shm files."""

from __future__ import annotations

import datetime as dt
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config, open_store
from hub.files import write_private
from hub.ingest.sources import SourceSpec, save_sources
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import generate

runner = CliRunner()


@pytest.fixture(autouse=True)
def usual_umask() -> Iterator[None]:
    old = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(old)


def loose_paths(home: Path) -> list[str]:
    """Every path under ``home`` that a group or other user could read, write or enter."""
    paths = [home, *home.rglob("*")]
    return [f"{p} {oct(stat.S_IMODE(p.stat().st_mode))}" for p in paths if p.stat().st_mode & 0o077]


def test_after_init_sync_report_and_quarantine_nothing_is_readable_by_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "hub"
    police = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(generate(people=40, seed=2), police).dispose()
    monkeypatch.setenv("HUB_TEST_POLICE_URL", police)
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    spec = {"url": "${HUB_TEST_POLICE_URL}", "streams": POLICE_STREAMS}
    save_sources(home, [SourceSpec(id="police_db", connector="police_db", config=spec)])
    synced = runner.invoke(app, ["sync", "--home", str(home)])
    assert synced.exit_code == 0, synced.output
    assert "${HUB_TEST_POLICE_URL}" in (home / "sources.yaml").read_text(encoding="utf-8")
    assert runner.invoke(app, ["report", "--home", str(home)]).exit_code == 0
    assert runner.invoke(app, ["quarantine", "list", "--home", str(home)]).exit_code == 0
    assert {p.name for p in home.iterdir()} >= {"hub.db", "config.json", "keys.json", "reports"}
    assert len(list((home / "reports").iterdir())) == 2
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert loose_paths(home) == []


def test_sqlite_gives_its_wal_and_shm_files_the_database_files_mode(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    store = open_store(load_config(home))
    try:
        with store.begin() as tx:
            tx.save_state("s", "t", {"at": 1}, dt.datetime.now(dt.UTC))
        wal, shm = home / "hub.db-wal", home / "hub.db-shm"
        assert wal.exists()
        assert shm.exists()
        assert loose_paths(home) == []
    finally:
        store.close()


def test_init_tightens_a_home_and_files_an_older_hub_left_open(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    home.chmod(0o755)
    (home / "config.json").chmod(0o644)
    (home / "reports").mkdir(mode=0o755)
    (home / "reports" / "old.json").write_text("{}")
    again = runner.invoke(app, ["init", "--home", str(home)])
    assert again.exit_code == 0, again.output
    assert "tightened" in again.output
    assert loose_paths(home) == []


def test_a_home_created_by_init_is_private(tmp_path: Path) -> None:
    home = tmp_path / "deep" / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    assert loose_paths(home) == []


def test_write_private_replaces_whole_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    target = tmp_path / "f.json"
    target.write_text("old")
    target.chmod(0o644)
    write_private(target, "新")
    assert target.read_text(encoding="utf-8") == "新"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert [p.name for p in tmp_path.iterdir()] == ["f.json"]
