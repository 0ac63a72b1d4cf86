"""``hub keys rotate`` killed with SIGKILL mid-way, then resumed: every value opens at
every point, nothing is lost, and after the resume the old key is unused and retired."""

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
from typer.testing import CliRunner

from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.store import Keyring
from hub.store.rotation import remaining
from tests.conftest import fresh_postgres_database
from tests.store.rotation_data import fill, read_everything, sealed_values

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


def test_sigkill_mid_rotation_then_resume(home: Path) -> None:
    config = load_config(home)
    store = open_store(config)
    try:
        counts = fill(store, people=3000)
        before = len(sealed_values(store))
    finally:
        store.close()
    old = Keyring.load(config.key_file).active

    env = os.environ | {"HUB_HOME": str(home)}
    with subprocess.Popen(
        [HUB, "keys", "rotate", "--batch-size", "20"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    ) as rotation:
        assert rotation.stdout is not None
        seen = 0
        for line in rotation.stdout:
            seen += line.startswith("moved ")
            if seen >= KILL_AFTER:
                rotation.send_signal(signal.SIGKILL)
                break
        rotation.wait(timeout=30)
    assert rotation.returncode == -signal.SIGKILL, "the rotation finished before the kill"

    # Killed: the key file holds both keys, some values moved, every value still opens.
    keyring = Keyring.load(config.key_file)
    new = keyring.active
    assert new != old
    assert set(keyring.data_keys) == {old, new}
    store = open_store(config, keyring)
    try:
        assert read_everything(store) == counts
        values = sealed_values(store)
        assert len(values) == before
        moved = sum(v.startswith(new + ".") for *_w, v in values)
        assert 0 < moved < before
        assert sum(remaining(store).values()) == before - moved
    finally:
        store.close()

    refused = _hub(home, "keys", "rotate")
    assert refused.returncode == 2
    assert "--resume" in refused.stderr
    resumed = _hub(home, "keys", "rotate", "--resume", "--batch-size", "200")
    assert resumed.returncode == 0, resumed.stderr
    assert f"retired: {old}" in resumed.stdout

    keyring = Keyring.load(config.key_file)
    assert keyring.active == new
    assert set(keyring.data_keys) == {new}
    assert set(keyring.retired) == {old}
    store = open_store(config, keyring)
    try:
        assert read_everything(store) == counts
        values = sealed_values(store)
        assert len(values) == before
        assert all(v.startswith(new + ".") for *_w, v in values)
        assert remaining(store) == {}
    finally:
        store.close()

    shown = _hub(home, "keys", "show")
    assert f"data key {new}: active" in shown.stdout
    assert f"data key {old}: retired" in shown.stdout
    secrets = json.loads(config.key_file.read_text())
    material = [
        *secrets["data_keys"].values(),
        secrets["index_key"],
        secrets["partner_root"],
        secrets["audit_key"],
    ]
    for output in (resumed.stdout, resumed.stderr, shown.stdout):
        assert not any(key in output for key in material)
    started = _hub(home, "audit", "search", "--action", "keys.rotation_started")
    [start] = [json.loads(line)["detail"] for line in started.stdout.splitlines()]
    assert start == {"new_key": new, "old_keys": [old]}
    rotated = _hub(home, "audit", "search", "--action", "keys.rotated")
    [done] = [json.loads(line)["detail"] for line in rotated.stdout.splitlines()]
    assert done["resumed"] is True
    assert (done["new_key"], done["old_keys"], done["retired"]) == (new, [old], [old])
    assert done["unreadable"] == 0
    assert sum(done["moved"].values()) == before - moved
    assert _hub(home, "audit", "verify").returncode == 0
