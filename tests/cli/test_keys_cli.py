"""``hub keys``: show lists key ids only, ``--signing`` rotates the token signing key, and a
rotation that meets a value no key opens says where and exits 1, keeping the old key; an
index rotation that meets an index its row does not account for says where and exits 1,
not switched (the killed and resumed one: ``test_keys_index_kill.py``)."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import update
from typer.testing import CliRunner

from hub.auth.keys import SigningKeys
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.store import KIND_TABLES, Keyring
from hub.store.keyring import key_file_lock
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
    return [
        *document["data_keys"].values(),
        document["index_key"],
        document["partner_root"],
        document["audit_key"],
        *([document["next_index_key"]] if "next_index_key" in document else []),
        *(old["key"] for old in document.get("retired_index_keys", {}).values()),
    ]


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


def test_an_index_rotation_stopped_by_a_stray_index_says_where(tmp_path: Path) -> None:
    home = _home(tmp_path)
    runner = CliRunner()
    nothing = runner.invoke(cli, ["keys", "rotate", "--index", "--resume", "--home", str(home)])
    assert nothing.exit_code == 2
    assert "no index rotation to resume" in nothing.output
    both = runner.invoke(cli, ["keys", "rotate", "--index", "--signing", "--home", str(home)])
    assert both.exit_code == 2
    old = Keyring.load(home / "keys.json").index_key_id
    store = open_store(load_config(home))
    table = KIND_TABLES["person"].table
    with store.begin() as tx:
        tx.conn.execute(update(table).where(table.c.id == 3).values(phone_bidx="0" * 32))
    store.close()

    result = runner.invoke(cli, ["keys", "rotate", "--index", "--home", str(home)])

    assert result.exit_code == 1
    assert "unmatched: rec_person.phone_bidx row 3" in result.output
    assert f"not switched, rows still under index key {old}" in result.output
    shown = runner.invoke(cli, ["keys", "show", "--home", str(home)])
    new = Keyring.load(home / "keys.json").next_index_key_id
    assert f"index key {old}: in force" in shown.output
    assert f"index key {new}: next (rotation unfinished" in shown.output
    assert not any(key in result.output + shown.output for key in _material(home))


def test_two_commands_never_change_the_key_file_at_once(tmp_path: Path) -> None:
    home = _home(tmp_path)
    before = (home / "keys.json").read_text()
    with key_file_lock(home / "keys.json"):
        for args in (["--index"], []):
            busy = CliRunner().invoke(cli, ["keys", "rotate", *args, "--home", str(home)])
            assert busy.exit_code == 2
            assert "another command is changing" in busy.output
    assert (home / "keys.json").read_text() == before
