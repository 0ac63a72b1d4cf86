"""Real ``hub worker`` processes against a real, slow grid platform.

On PostgreSQL two workers share the streams of one database and never read one stream at
the same time: the grid server counts the requests in flight per resource (two workers on
one stream would overlap, since each spends most of a batch waiting for a slow page), and
every row is read exactly once over all runs (two workers syncing one stream from the
same state would both read it). A worker killed with SIGKILL mid-stream has its stream
taken over by the other once the lease lapses, not before, and resumed from the state it
committed. On SQLite one worker syncs due streams on schedule and stops cleanly on SIGTERM.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine, func, select
from starlette.types import ASGIApp, Receive, Scope, Send

from hub.ingest.schedule import Schedule
from hub.ingest.sources import SourceSpec, save_sources
from hub.reference.grid_server import create_app
from hub.reference.serve import ServerHandle, serve_in_thread
from hub.reference.sources import GRID_STREAMS
from hub.reference.world import World, generate
from hub.store import KIND_TABLES, quarantine
from hub.store.tables import sync_claims
from tests.conftest import fresh_postgres_database

pytestmark = pytest.mark.slow

HUB = shutil.which("hub") or str(Path(sys.executable).with_name("hub"))
API_KEY = "grid-key-workers-0123456789"


class Slow:
    """Every request waits ``delay`` first; the most requests ever in flight per path."""

    def __init__(self, app: ASGIApp, delay: float) -> None:
        self.app = app
        self.delay = delay
        self.lock = threading.Lock()
        self.inflight: Counter[str] = Counter()
        self.most: Counter[str] = Counter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        with self.lock:
            self.inflight[path] += 1
            self.most[path] = max(self.most[path], self.inflight[path])
        try:
            await asyncio.sleep(self.delay)
            await self.app(scope, receive, send)
        finally:
            with self.lock:
                self.inflight[path] -= 1


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=120, seed=23)


@pytest.fixture
def slow_grid(world: World) -> Iterator[tuple[ServerHandle, Slow]]:
    slow = Slow(create_app(world.grid, api_keys={API_KEY}, clients={}), delay=0.04)
    with serve_in_thread(slow) as server:
        yield server, slow


def make_home(tmp_path: Path, url: str, grid_url: str, every: str, streams: list[str]) -> Path:
    home = tmp_path / "hub"
    subprocess.run(
        [HUB, "init", "--home", str(home), "--database-url", url], check=True, capture_output=True
    )
    config = {
        "base_url": grid_url,
        "api_key": API_KEY,
        "streams": [s for s in GRID_STREAMS if s["name"] in streams],
    }
    spec = SourceSpec(
        id="grid",
        connector="grid_platform",
        config=config,
        schedule=Schedule(every=every),  # type: ignore[arg-type]
    )
    save_sources(home, [spec])
    return home


def start_worker(home: Path, name: str, *extra: str) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "HUB_DATABASE_URL"}
    args = ["--home", str(home), "--worker-id", name, "--no-expectations", "--poll", "100ms"]
    with (home.parent / f"{name}.log").open("wb") as log:  # the child keeps its own copy
        return subprocess.Popen(
            [HUB, "worker", *args, *extra], env=env, stdout=log, stderr=subprocess.STDOUT
        )


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def claims(engine: Engine) -> dict[str, Any]:
    with engine.connect() as conn:
        return {row.stream: row for row in conn.execute(select(sync_claims))}


def reports(home: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((home / "reports").glob("*.json"))]


def stop(process: subprocess.Popen[bytes]) -> int:
    process.send_signal(signal.SIGTERM)
    return process.wait(timeout=30)


def expected_rows(world: World, stream: str) -> int:
    [resource] = [s["resource"] for s in GRID_STREAMS if s["name"] == stream]
    return len(world.grid[resource])


@pytest.mark.postgres
def test_two_workers_never_sync_one_stream_at_once(
    tmp_path: Path, world: World, slow_grid: tuple[ServerHandle, Slow]
) -> None:
    server, slow = slow_grid
    names = [s["name"] for s in GRID_STREAMS]
    with fresh_postgres_database() as url:
        home = make_home(tmp_path, url, server.url, "1h", names)
        engine = create_engine(url)
        workers = [start_worker(home, name, "--batch-size", "6") for name in ("one", "two")]
        try:
            wait_for(
                lambda: (
                    len(claims(engine)) == len(names)
                    and all(row.last_success_at for row in claims(engine).values())
                ),
                90,
                "every stream synced",
            )
            codes = [stop(worker) for worker in workers]
            assert codes == [0, 0]
            assert all(row.claimed_by is None for row in claims(engine).values())
        finally:
            for worker in workers:
                if worker.poll() is None:
                    worker.kill()
                    worker.wait()
            engine.dispose()
    # No stream was ever read by two workers at once...
    assert slow.most, "the grid platform saw no request"
    assert max(slow.most.values()) == 1, dict(slow.most)
    # ...and no row was read twice: each stream ran once, from where it stood.
    runs = reports(home)
    assert len(runs) == len(names)
    assert all(run["ok"] for run in runs)
    read = Counter[str]()
    for run in runs:
        for stream in run["streams"]:
            read[stream["stream"]] += stream["read"]
            assert stream["unchanged"] == 0
    assert read == {name: expected_rows(world, name) for name in names}
    # Both workers took part, so the test did exercise the sharing.
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in ("one", "two")}
    assert all(" claimed grid/" in text for text in logs.values()), logs


def _stored(engine: Engine) -> int:
    with engine.connect() as conn:
        people = conn.execute(select(func.count()).select_from(KIND_TABLES["person"].table))
        held = conn.execute(select(func.count()).select_from(quarantine))
        return int(people.scalar_one()) + int(held.scalar_one())


@pytest.mark.postgres
def test_a_killed_workers_stream_is_taken_over_once_its_lease_lapses(
    tmp_path: Path, world: World, slow_grid: tuple[ServerHandle, Slow]
) -> None:
    server, slow = slow_grid
    total = expected_rows(world, "residents")
    with fresh_postgres_database() as url:
        home = make_home(tmp_path, url, server.url, "1h", ["residents"])
        engine = create_engine(url)
        lease = ("--lease", "2s", "--batch-size", "4")
        slow.delay = 0.25  # pages slow enough that the first worker is mid-stream when killed
        first = start_worker(home, "first", *lease)
        second: subprocess.Popen[bytes] | None = None
        try:
            wait_for(lambda: _stored(engine) >= 8, 30, "the first worker to commit batches")
            second = start_worker(home, "second", *lease)
            time.sleep(1.0)  # the second worker is up and polling, the claim still alive
            assert claims(engine)["residents"].claimed_by == "first"
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
            killed_at = dt.datetime.now(dt.UTC)
            lapses = claims(engine)["residents"].claimed_until
            committed = _stored(engine)
            assert 0 < committed < total, "the first worker finished before it was killed"
            wait_for(
                lambda: claims(engine)["residents"].last_success_at is not None, 60, "take-over"
            )
            row = claims(engine)["residents"]
            assert row.last_run_at >= lapses  # taken only once the lease had lapsed
            assert row.last_run_at - killed_at < dt.timedelta(seconds=10)
            assert _stored(engine) == total
            assert stop(second) == 0
        finally:
            for process in (first, second):
                if process is not None and process.poll() is None:
                    process.kill()
                    process.wait()
            engine.dispose()
            slow.delay = 0.04
    [run] = reports(home)  # the killed worker wrote none; the second resumed
    [stream] = run["streams"]
    assert run["ok"]
    assert stream["read"] <= total - committed
    assert stream["read"] + committed >= total
    assert "second claimed grid/residents" in (tmp_path / "second.log").read_text()


def test_one_worker_on_sqlite_syncs_on_schedule_and_stops_on_sigterm(
    tmp_path: Path, world: World, slow_grid: tuple[ServerHandle, Slow]
) -> None:
    server, _ = slow_grid
    url = f"sqlite:///{tmp_path / 'hub' / 'hub.db'}"
    home = make_home(tmp_path, url, server.url, "2s", ["residents", "addresses"])
    engine = create_engine(url)
    worker = start_worker(home, "solo", "--batch-size", "50")
    try:
        wait_for(lambda: len(reports(home)) == 2, 30, "the first runs")
        first = claims(engine)
        # A resident changes in the grid platform; the next scheduled run brings it in.
        residents = server.server.config.app.app.state.tables["residents"]
        row = dict(world.grid["residents"][0])
        row["name"] = "改名后"
        row["updatedAt"] = dt.datetime.now(dt.UTC).isoformat()
        residents.put(row)
        wait_for(lambda: len(reports(home)) >= 4, 30, "the second runs")
        second = claims(engine)
    finally:
        code = stop(worker)
    assert code == 0
    for name in ("residents", "addresses"):
        gap = second[name].last_run_at - first[name].last_run_at
        assert gap >= dt.timedelta(seconds=2), gap  # not before it was due
        assert gap < dt.timedelta(seconds=6), gap  # and not long after
    final = claims(engine)
    assert all(row.claimed_by is None for row in final.values())
    engine.dispose()
    later = [r for r in reports(home)[2:] if r["streams"][0]["stream"] == "residents"]
    assert later[0]["streams"][0]["read"] == 1
    assert later[0]["streams"][0]["updated"] == 1
