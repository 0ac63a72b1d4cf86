"""A sync killed with SIGKILL at several points, then restarted, ends with exactly the
rows it should hold: none lost, none twice."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.exc import OperationalError

from hub.ingest.sources import SourceSpec, save_sources
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import generate
from hub.store import KIND_TABLES, quarantine

pytestmark = pytest.mark.slow

HUB = shutil.which("hub") or str(Path(sys.executable).with_name("hub"))


def _stored(db: Path) -> tuple[int, int]:
    engine = create_engine(f"sqlite:///{db}")
    try:
        with engine.connect() as conn:
            table = KIND_TABLES["person"].table
            people = conn.execute(select(func.count()).select_from(table)).scalar_one()
            held = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
        return int(people), int(held)
    except OperationalError:  # no tables yet, or the writer holds the lock: look again
        return 0, 0
    finally:
        engine.dispose()


def _sync(home: Path) -> subprocess.Popen[bytes]:
    env = os.environ | {"HUB_HOME": str(home)}
    return subprocess.Popen(
        [HUB, "sync", "police_db", "--batch-size", "25"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_sigkill_at_several_points_loses_nothing_and_repeats_nothing(tmp_path: Path) -> None:
    world = generate(people=3000, seed=5)
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
    for fraction in (0.1, 0.35, 0.6, 0.85):
        process = _sync(home)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            people, held = _stored(db)
            if people + held >= fraction * len(rows):
                process.send_signal(signal.SIGKILL)
                kills += 1
                break
            time.sleep(0.005)
        process.wait(timeout=30)
    assert kills >= 3, "the sync finished before it could be killed: make the world bigger"

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
