"""Ingest throughput: the hub's full sync against a raw executemany of the same rows.

    python benchmarks/ingest.py [--rows 1000000] [--batch-size 5000] [--folder DIR]

Generates N person rows in a police database (SQLite), then in this one process times
(a) the baseline, a bare ``executemany`` of the same rows into a table of a fresh hub
SQLite file, and (b) the hub's sync of that source into another fresh hub: mapping,
contract checks, encryption, blind indexes, provenance, state checkpoints. Prints the
rows/s of each and their ratio. Not a test: numbers move with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sqlite3
import tempfile
import time
from pathlib import Path

from faker import Faker

from connectors.sdk import load_source
from hub.ingest import new_run_id, sync_stream
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import BIRTHPLACES, citizen_id
from hub.store import Keyring, Store

COLUMNS = (
    "RKID",
    "SFZH",
    "XM",
    "XB",
    "CSRQ",
    "MZ",
    "LXDH",
    "HJLX",
    "DZBM",
    "FWBM",
    "WGBM",
    "JWQBM",
    "ZDRYBQ",
    "GXSJ",
)


def police_rows(count: int, seed: int = 1) -> list[tuple[object, ...]]:
    rng = random.Random(seed)  # noqa: S311 (synthetic data)
    fake = Faker("zh_CN")
    fake.seed_instance(seed)
    names = [fake.name() for _ in range(2000)]
    phones = [fake.phone_number() for _ in range(2000)]
    t0 = dt.datetime(2026, 11, 1, 8, 0)
    rows = []
    for n in range(count):
        male = rng.random() < 0.5
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=rng.randrange(365 * 80))
        grid = f"G3201040{n % 36:02d}"
        address = f"32010401{n % 36:02d}{n:07d}"
        rows.append(
            (
                f"R{n:09d}",
                citizen_id(rng, rng.choice(BIRTHPLACES), birth, male),
                names[n % 2000],
                "1" if male else "2",
                f"{birth:%Y%m%d}",
                "01",
                phones[n % 2000],
                "户籍",
                address,
                "H" + address,
                grid,
                f"B3201040{n % 12:02d}",
                "",
                t0 + dt.timedelta(seconds=n),
            )
        )
    return rows


def write_source(path: Path, rows: list[tuple[object, ...]]) -> None:
    with sqlite3.connect(path) as conn:
        columns = ", ".join(f"{c} TEXT" if c != "GXSJ" else "GXSJ TIMESTAMP" for c in COLUMNS)
        conn.execute(f"CREATE TABLE t_rk_jbxx ({columns}, PRIMARY KEY (RKID))")
        conn.execute("CREATE INDEX ix_gxsj ON t_rk_jbxx (GXSJ)")
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO t_rk_jbxx VALUES ({marks})", rows)  # noqa: S608


def baseline(path: Path, rows: list[tuple[object, ...]]) -> float:
    """Seconds for a bare executemany of ``rows`` into a hub SQLite file."""
    started = time.perf_counter()
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.execute(f"CREATE TABLE raw_person ({', '.join(COLUMNS)})")
        marks = ", ".join("?" for _ in COLUMNS)
        conn.executemany(f"INSERT INTO raw_person VALUES ({marks})", rows)  # noqa: S608
    return time.perf_counter() - started


def hub_sync(hub_path: Path, source_path: Path, batch_size: int) -> tuple[float, int]:
    store = Store.open(f"sqlite:///{hub_path}", Keyring.generate())
    store.create_schema()
    people = [s for s in POLICE_STREAMS if s["name"] == "people"]
    source = load_source(
        "police_db", "police_db", {"url": f"sqlite:///{source_path}", "streams": people}
    )
    started = time.perf_counter()
    report = sync_stream(store, source, source.streams()[0], new_run_id(), batch_size)
    elapsed = time.perf_counter() - started
    source.close()
    store.close()
    if report.error is not None or report.read != report.stored + report.quarantined:
        raise SystemExit(f"sync went wrong: {report.as_dict()}")
    return elapsed, report.read


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        print(f"generating {args.rows:,} police person rows ...", flush=True)
        rows = police_rows(args.rows)
        write_source(folder / "police.db", rows)
        raw = baseline(folder / "baseline.db", rows)
        synced, read = hub_sync(folder / "hub.db", folder / "police.db", args.batch_size)
        print(f"baseline executemany: {len(rows) / raw:12,.0f} rows/s ({raw:.1f} s)")
        print(f"hub sync end to end:  {read / synced:12,.0f} rows/s ({synced:.1f} s)")
        print(f"ratio hub/baseline:   {raw / synced:12.3f}")


if __name__ == "__main__":
    main()
