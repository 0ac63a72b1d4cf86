from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config
from hub.store import Keyring, Store
from tests.conftest import fresh_postgres_database

runner = CliRunner()


def test_init_creates_home_and_keeps_keys(tmp_path: Path) -> None:
    home = tmp_path / "hub-data"
    first = runner.invoke(app, ["init", "--home", str(home)])
    assert first.exit_code == 0, first.output
    keys = (home / "keys.json").read_text()
    assert (home / "keys.json").stat().st_mode & 0o777 == 0o600
    assert json.loads((home / "config.json").read_text())["database_url"].startswith("sqlite:///")
    again = runner.invoke(app, ["init", "--home", str(home)])
    assert again.exit_code == 0
    assert (home / "keys.json").read_text() == keys
    config = load_config(home)
    store = Store.open(config.database_url, Keyring.load(config.key_file))
    assert store.count("person") == 0
    store.close()


@pytest.mark.postgres
def test_init_on_postgres(tmp_path: Path) -> None:
    """In a database of its own: the session's shared one is expected empty elsewhere."""
    with fresh_postgres_database() as postgres_url:
        _init_on(postgres_url, tmp_path / "hub-pg")


def _init_on(postgres_url: str, home: Path) -> None:
    result = runner.invoke(app, ["init", "--home", str(home), "--database-url", postgres_url])
    assert result.exit_code == 0, result.output
    config = load_config(home)
    assert config.database_url == postgres_url
    store = Store.open(config.database_url, Keyring.load(config.key_file))
    assert store.count("unit") == 0
    store.close()
