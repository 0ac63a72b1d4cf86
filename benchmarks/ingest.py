"""Ingest throughput: the hub's full sync against a raw executemany of the same rows.

    python benchmarks/ingest.py [--rows 1000000] [--batch-size 5000] [--workers N]
                                [--database-url URL] [--folder DIR]

Generates N person rows in a police database (SQLite), then in this one process times
(a) the baseline, a bare ``executemany`` of the same rows into a table of a fresh hub
database, and (b) the hub's sync of that source into a fresh hub, once with one process
(judging and sealing in the writer) and once with ``--workers`` worker processes (default:
the machine's cores): mapping, contract checks, encryption, blind indexes, provenance,
state checkpoints. Prints the rows/s of each and their ratio to the baseline, the last line
``hub sync end to end: N rows/s`` (the run with workers). Not a test: numbers move with
the machine.

The hub database is a SQLite file in the folder, or with ``--database-url`` a PostgreSQL
server (each run in a database of its own, created and dropped there).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import random
import sqlite3
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from faker import Faker
from sqlalchemy import create_engine, make_url, text

from connectors.sdk import load_source
from hub.ingest import new_run_id, sync_stream
from hub.ingest.pipeline import default_workers
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import BIRTHPLACES, citizen_id
from hub.store import Keyring, Store, engine_for

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
    rows: list[tuple[object, ...]] = []
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


@contextmanager
def hub_database(folder: Path, name: str, server: str | None) -> Iterator[str]:
    """The URL of a fresh hub database: a SQLite file in ``folder``, or a database of its
    own on the PostgreSQL server ``server``, dropped afterwards."""
    if server is None:
        yield f"sqlite:///{folder / name}.db"
        return
    database = f"bench_{name}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(engine_for(server).url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{database}"'))
    try:
        yield make_url(server).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{database}" WITH (FORCE)'))
        admin.dispose()


def baseline(url: str, rows: list[tuple[object, ...]]) -> float:
    """Seconds for a bare executemany of ``rows`` into a table of a hub database."""
    engine = engine_for(url)
    started = time.perf_counter()
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE raw_person ({', '.join(f'{c} TEXT' for c in COLUMNS)})")
        marks = ", ".join("?" if engine.dialect.paramstyle == "qmark" else "%s" for _ in COLUMNS)
        conn.exec_driver_sql(
            f"INSERT INTO raw_person VALUES ({marks})",  # noqa: S608
            [tuple(str(v) for v in row) for row in rows],
        )
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def hub_sync(url: str, source_path: Path, batch_size: int, workers: int) -> tuple[float, int]:
    store = Store.open(url, Keyring.generate())
    store.create_schema()
    people = [s for s in POLICE_STREAMS if s["name"] == "people"]
    source = load_source(
        "police_db", "police_db", {"url": f"sqlite:///{source_path}", "streams": people}
    )
    gc.collect()
    started = time.perf_counter()
    report = sync_stream(
        store, source, source.streams()[0], new_run_id(), batch_size, workers=workers
    )
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
    parser.add_argument("--workers", type=int, default=default_workers())
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server's URL")
    parser.add_argument("--folder", type=Path, default=None)
    args = parser.parse_args()
    server = args.database_url
    with tempfile.TemporaryDirectory(dir=args.folder) as tmp:
        folder = Path(tmp)
        print(f"generating {args.rows:,} police person rows ...", flush=True)
        rows = police_rows(args.rows)
        write_source(folder / "police.db", rows)
        with hub_database(folder, "baseline", server) as url:
            raw = baseline(url, rows)
        count = len(rows)
        del rows  # a real sync does not hold the source's rows: neither does the GC here
        timed = {}
        for workers in dict.fromkeys((1, args.workers)):
            with hub_database(folder, f"hub{workers}", server) as url:
                timed[workers] = hub_sync(url, folder / "police.db", args.batch_size, workers)
        print(f"hub database: {'PostgreSQL' if server else 'SQLite'}, {count:,} rows")
        print(f"baseline executemany:  {count / raw:12,.0f} rows/s ({raw:.1f} s)")
        for workers, (synced, read) in timed.items():
            print(
                f"hub sync, {workers} worker{'s' if workers > 1 else ' '}:   "
                f"{read / synced:12,.0f} rows/s ({synced:.1f} s), {raw / synced:.3f} of baseline"
            )
        synced, read = timed[args.workers]
        print(f"hub sync end to end: {read / synced:,.0f} rows/s")


if __name__ == "__main__":
    main()
