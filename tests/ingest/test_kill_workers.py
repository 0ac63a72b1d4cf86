"""A sync with worker processes, killed with SIGKILL at several points and restarted, ends
with exactly the rows it should hold, and leaves no worker process behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hub.ingest.sources import SourceSpec, save_sources
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import generate
from tests.ingest.test_kill import HUB, _stored

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(sys.platform != "linux", reason="reads /proc for the worker processes"),
]


def _sync(home: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"HUB_HOME": str(home)}
    return subprocess.Popen(
        [HUB, "sync", "police_db", "--batch-size", "25", "--workers", "2"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _children(pid: int) -> set[int]:
    found = set()
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry.name))
    return found


def _gone(pids: set[int], within: float = 10) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if not any(Path(f"/proc/{pid}").exists() for pid in pids):
            return True
        time.sleep(0.05)
    return False


def test_sigkill_with_workers_loses_nothing_repeats_nothing_and_leaves_no_worker(
    tmp_path: Path,
) -> None:
    world = generate(people=3000, seed=7)
    police_url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(world, police_url).dispose()
    world.police = {"t_rk_jbxx": world.police["t_rk_jbxx"]}
    people_only = [s for s in POLICE_STREAMS if s["name"] == "people"]
    home = tmp_path / "hub"
    subprocess.run([HUB, "init", "--home", str(home)], check=True, capture_output=True)
    config = {"url": police_url, "streams": people_only}
    save_sources(home, [SourceSpec(id="police_db", connector="police_db", config=config)])
    db = home / "hub.db"
    rows = world.police["t_rk_jbxx"]
    broken = {
        d.source_key for d in world.defects if (d.source, d.stream) == ("police_db", "people")
    }

    kills = 0
    workers: set[int] = set()
    for fraction in (0.1, 0.35, 0.6, 0.85):
        process = _sync(home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            people, held = _stored(db)
            if people + held >= fraction * len(rows):
                children = _children(process.pid)
                process.send_signal(signal.SIGKILL)
                kills += 1
                workers |= children
                break
            time.sleep(0.005)
        process.wait(timeout=30)
    assert kills >= 3, "the sync finished before it could be killed: make the world bigger"
    assert len(workers) >= 2 * kills, "the killed syncs ran no worker processes"
    assert _gone(workers), "worker processes outlived the sync killed with SIGKILL"

    final = _sync(home)
    assert final.wait(timeout=120) == 0
    people, held = _stored(db)
    assert (people, held) == (len(rows) - len(broken), len(broken))
    engine = create_engine(f"sqlite:///{db}")
    with engine.connect() as conn:
        keys = conn.execute(text("SELECT source_key FROM rec_person")).scalars().all()
    engine.dispose()
    assert len(keys) == len(set(keys))
    assert set(keys) == {r["RKID"] for r in rows} - broken
