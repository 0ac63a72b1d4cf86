"""``hub keys``: show lists key ids only, ``--signing`` rotates the token signing key, and a
rotation that meets a value no key opens says where and exits 1, keeping the old key."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from hub.auth.keys import SigningKeys
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.store import KIND_TABLES, Keyring
from tests.store.rotation_data import fill


def _home(tmp_path: Path) -> Path:
    home = tmp_path / "hub"
    assert CliRunner().invoke(cli, ["init", "--home", str(home)]).exit_code == 0
    store = open_store(load_config(home))
    try:
        fill(store, people=30)
    finally:
        store.close()
    return home


def _material(home: Path) -> list[str]:
    document = json.loads((home / "keys.json").read_text())
    return [*document["data_keys"].values(), document["index_key"], document["audit_key"]]


def test_signing_rotation_and_show(tmp_path: Path) -> None:
    home = _home(tmp_path)
    store = open_store(load_config(home))
    try:
        first = SigningKeys(store).active().kid
    finally:
        store.close()
    rotated = CliRunner().invoke(cli, ["keys", "rotate", "--signing", "--home", str(home)])
    assert rotated.exit_code == 0, rotated.output
    store = open_store(load_config(home))
    try:
        second = SigningKeys(store).active().kid
    finally:
        store.close()
    assert second != first
    assert f"new token signing key {second}" in rotated.output
    shown = CliRunner().invoke(cli, ["keys", "show", "--home", str(home)])
    assert shown.exit_code == 0, shown.output
    active = Keyring.load(home / "keys.json").active
    assert f"data key {active}: active" in shown.output
    assert f"signing key {second}: active" in shown.output
    assert f"signing key {first}: retired" in shown.output
    assert not any(key in rotated.output + shown.output for key in _material(home))


def test_an_unreadable_value_is_reported_and_the_old_key_kept(tmp_path: Path) -> None:
    home = _home(tmp_path)
    old = Keyring.load(home / "keys.json").active
    store = open_store(load_config(home))
    table = KIND_TABLES["person"].table
    sealed = store.keyring.encrypt('"13812345678"', "person.id_number")  # the wrong column
    with store.begin() as tx:
        tx.conn.execute(update(table).where(table.c.id == 3).values(phone=sealed))
    store.close()

    result = CliRunner().invoke(cli, ["keys", "rotate", "--home", str(home)])

    assert result.exit_code == 1
    assert "unreadable: rec_person.phone row 3" in result.output
    assert "old keys kept" in result.output
    assert "13812345678" not in result.output
    assert old in Keyring.load(home / "keys.json").data_keys
    assert not any(key in result.output for key in _material(home))
