"""Data-key rotation over a store of a few thousand records, on SQLite and PostgreSQL:
every value opens afterwards, none is left under the old key, the old key is retired;
a value that opens under no key is reported and keeps the old key from retiring."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from hub.errors import KeyringError
from hub.store import KIND_TABLES, Keyring, Store
from hub.store.rotation import (
    RotationUnfinished,
    drain,
    remaining,
    retire_drained,
    start_rotation,
)
from tests.conftest import SUITES
from tests.data import ID_NUMBERS
from tests.store.rotation_data import fill, read_everything, sealed_values, under_key


@pytest.fixture(params=SUITES)
def crypto(request: pytest.FixtureRequest) -> str:
    """Every test of this module under each crypto suite (``tests.conftest``)."""
    return str(request.param)


def test_rotation_moves_every_value_and_retires_the_old_key(store: Store, tmp_path: Path) -> None:
    key_file = tmp_path / "keys.json"
    store.keyring.save(key_file)
    counts = fill(store, people=2500)
    old = store.keyring.active
    before = len(sealed_values(store))

    new = start_rotation(store, key_file)
    assert Keyring.load(key_file).active == new  # saved before any value moves
    assert set(Keyring.load(key_file).data_keys) == {old, new}
    progress = []
    report = drain(store, batch_size=300, on_batch=progress.append)
    assert report.unreadable == []
    assert report.total == before
    assert len(progress) > 10
    assert remaining(store) == {}
    retired, left = retire_drained(store, key_file)

    assert (retired, left) == ([old], {})
    after = sealed_values(store)
    assert len(after) == before
    assert all(value.startswith(new + ".") for *_where, value in after)
    reloaded = Keyring.load(key_file)
    assert set(reloaded.data_keys) == {new}
    assert set(reloaded.retired) == {old}
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert read_everything(Store(store.engine, reloaded)) == counts
    assert under_key(store, old) == []  # no column the rotation does not know of


def test_a_value_no_key_opens_is_reported_and_the_old_key_kept(
    store: Store, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys.json"
    store.keyring.save(key_file)
    fill(store, people=50)
    old = store.keyring.active
    table = KIND_TABLES["person"].table
    tampered = store.keyring.encrypt(f'"{ID_NUMBERS[2]}"', "person.phone")  # wrong column
    with store.begin() as tx:
        tx.conn.execute(update(table).where(table.c.id == 7).values(id_number=tampered))
        tx.conn.execute(update(table).where(table.c.id == 9).values(phone="kdeadbeef.AAAA"))

    start_rotation(store, key_file)
    report = drain(store, batch_size=20)
    retired, left = retire_drained(store, key_file)

    where = {(u.table, u.column, u.row) for u in report.unreadable}
    assert where == {("rec_person", "id_number", "7"), ("rec_person", "phone", "9")}
    assert all(ID_NUMBERS[2] not in u.reason for u in report.unreadable)
    assert retired == []
    assert left == {"rec_person.id_number": 1, "rec_person.phone": 1}
    assert old in Keyring.load(key_file).data_keys
    # Everything else did move: only the two bad values are off the active key.
    off = [v for *_w, v in sealed_values(store) if not v.startswith(store.keyring.active + ".")]
    assert sorted(off) == sorted([tampered, "kdeadbeef.AAAA"])
    with pytest.raises(RotationUnfinished, match="--resume"):
        start_rotation(store, key_file)


def test_retiring_the_active_key_is_refused() -> None:
    keyring = Keyring.generate()
    with pytest.raises(KeyringError, match="active"):
        keyring.retire(keyring.active)
