"""``hub keys rotate --index`` killed with SIGKILL mid-way, then found and finished by the
same command: every record is findable by its ID number at every point, nothing is lost,
both sources' copies stay linked, partners' ids do not change, and at the end no row holds
an index under the old key, which is retired and still finds the log's older searches."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.store import Keyring
from hub.store.indexstate import read_state
from hub.store.tables import index_map
from tests.conftest import fresh_postgres_database
from tests.data import ID_NUMBERS
from tests.store.reindex_data import (
    Filled,
    check_findable,
    fill,
    index_values,
    search_for,
    subject_seqs,
)

pytestmark = pytest.mark.slow

HUB = shutil.which("hub") or str(Path(sys.executable).with_name("hub"))
KILL_AFTER = 8
"""Progress lines (batches) read before the kill."""


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    home = tmp_path / "hub"
    if request.param == "sqlite":
        assert CliRunner().invoke(cli, ["init", "--home", str(home)]).exit_code == 0
        yield home
        return
    with fresh_postgres_database() as url:
        init = ["init", "--home", str(home), "--database-url", url]
        assert CliRunner().invoke(cli, init).exit_code == 0
        yield home


def _hub(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = os.environ | {"HUB_HOME": str(home)}
    return subprocess.run([HUB, *args], env=env, capture_output=True, text=True, timeout=300)


def _sample(filled: Filled) -> Filled:
    return Filled(filled.people[::15], filled.ids, filled.pseudonyms)


def test_sigkill_mid_index_rotation_then_resume(home: Path) -> None:
    config = load_config(home)
    store = open_store(config)
    try:
        filled = fill(store, people=3000)
        searched = search_for(store, ID_NUMBERS[2])
        count = len(index_values(store))
        persons = store.count("person")
    finally:
        store.close()
    old = Keyring.load(config.key_file).index_key_id

    env = os.environ | {"HUB_HOME": str(home)}
    with subprocess.Popen(
        [HUB, "keys", "rotate", "--index", "--batch-size", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as rotation:
        assert rotation.stdout is not None
        seen = 0
        for line in rotation.stdout:
            seen += line.startswith("mapped ")
            if seen >= KILL_AFTER:
                rotation.send_signal(signal.SIGKILL)
                break
        rotation.wait(timeout=30)
    assert rotation.returncode == -signal.SIGKILL, "the rotation finished before the kill"

    # Killed mid-fill: the key file holds both keys, the map is part filled, the rows are
    # all under the old key still, and every look-up finds what it found before.
    keyring = Keyring.load(config.key_file)
    new = keyring.next_index_key_id
    assert new is not None
    assert keyring.index_key_id == old
    store = open_store(config)
    try:
        with store.engine.connect() as conn:
            assert (read_state(conn).in_force, read_state(conn).next) == (old, new)
            mapped = conn.execute(select(func.count()).select_from(index_map)).scalar_one()
        assert 0 < mapped < count
        check_findable(store, _sample(filled))
    finally:
        store.close()

    resumed = _hub(home, "keys", "rotate", "--index", "--batch-size", "500")
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming the unfinished rotation to index key {new}" in resumed.stdout
    assert f"retired: {old}" in resumed.stdout

    keyring = Keyring.load(config.key_file)
    assert (keyring.index_key_id, keyring.next_index_key) == (new, None)
    assert set(keyring.retired_index_keys) == {old}
    store = open_store(config)
    try:
        check_findable(store, _sample(filled))
        stale = {store.keyring.blind_index(p.id_number, old) for p in filled.people}
        stale |= {store.keyring.blind_index(p.phone, old) for p in filled.people if p.phone}
        values = index_values(store)
        assert len(values) == count
        assert not stale & {value.removeprefix("~") for *_where, value in values}
        with store.engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(index_map)).scalar_one() == 0
        assert searched in subject_seqs(store, ID_NUMBERS[2])
    finally:
        store.close()

    shown = _hub(home, "keys", "show")
    assert f"index key {new}: in force" in shown.stdout
    assert f"index key {old}: retired" in shown.stdout
    secrets = json.loads(config.key_file.read_text())
    material = [
        *secrets["data_keys"].values(),
        secrets["index_key"],
        secrets["partner_root"],
        secrets["audit_key"],
        *(old["key"] for old in secrets["retired_index_keys"].values()),
    ]
    for output in (resumed.stdout, resumed.stderr, shown.stdout):
        assert not any(key in output for key in material)
    started = _hub(home, "audit", "search", "--action", "keys.index_rotation_started")
    [start] = [json.loads(line) for line in started.stdout.splitlines()]
    assert start["detail"] == {"new_key": new, "old_key": old}
    assert start["subject"].startswith("cli:")
    rotated = _hub(home, "audit", "search", "--action", "keys.index_rotated")
    [done] = [json.loads(line)["detail"] for line in rotated.stdout.splitlines()]
    assert (done["new_key"], done["old_key"], done["retired"]) == (new, old, old)
    assert done["resumed"] is True
    assert done["unmatched"] == 0
    assert sum(done["mapped"].values()) > 0  # what the killed run had not mapped
    assert done["rewritten"]["rec_person"] == persons  # every row, in one switch
    assert _hub(home, "audit", "verify").returncode == 0
