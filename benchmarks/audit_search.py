"""Audit search latency over a large log: searches by client, by record, by time range.

    python benchmarks/audit_search.py [--entries 1000000] [--database-url URL]
                                      [--searches 50] [--legacy]

Fills ``audit_log`` and ``audit_records`` with N entries straight through SQL, in batches
of 10,000 (the rows ``AuditLog.append`` writes, leaf hashes included, without the tree,
the checkpoints or the per-entry lock), then times ``AuditLog.find`` for a 100-entry page,
newest first:
by client (40 clients), by record (300,000 records, each named by a handful of entries),
by a one-hour time range, by client within a day, and the second page of a client's
entries (keyset). Prints the median and p90 in ms per search. ``--legacy`` also times the
former search (decode every event in Python) once for one record. SQLite file in a
temporary folder unless ``--database-url`` names a database, whose audit tables are then
dropped and refilled. Not a test: numbers move with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import insert, select

from hub.audit import AuditEvent, AuditLog, AuditQuery
from hub.audit.log import _entry, entry_bytes
from hub.audit.merkle import leaf_hash
from hub.audit.search import indexed_columns
from hub.store import engine_for
from hub.store.tables import audit_checkpoints, audit_log, audit_records

START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
CLIENTS = [f"cl_{n:016x}" for n in range(40)]
KINDS = ["person", "house", "incident", "unit", "visit"]
PURPOSES = ["网格服务", "社区警务", "案件办理", "统计分析", "走访核查"]
ACTIONS = ["records.query", "records.read", "profile.section", "token.issued", "records.push"]
RECORDS = 300_000
BATCH = 10_000


def _event(rng: random.Random, n: int) -> AuditEvent:
    kind = rng.choice(KINDS)
    return AuditEvent(
        action=rng.choice(ACTIONS),
        outcome="allowed" if rng.random() < 0.95 else "denied",
        client_id=rng.choice(CLIENTS),
        subject="svc",
        purpose=rng.choice(PURPOSES),
        kind=kind,
        filters={"grid_code": f"G320104{rng.randrange(100):05d}"},
        record_ids=[f"{kind}/{rng.randrange(RECORDS)}" for _ in range(rng.randint(0, 5))],
        fields={"clear": ["name", "grid_code"], "masked": ["id_number"]},
        policy_id="grid-platform",
        policy_version=2,
        request_id=f"{n:032x}",
    )


def fill(log: AuditLog, entries: int) -> None:
    rng = random.Random(1)  # noqa: S311  (reproducible data)
    with log.engine.begin() as conn:
        for table in (audit_records, audit_checkpoints, audit_log):
            conn.execute(table.delete())
    started = time.perf_counter()
    for first in range(1, entries + 1, BATCH):
        rows, named = [], []
        for seq in range(first, min(first + BATCH, entries + 1)):
            event = _event(rng, seq)
            body, at = event.canonical(), START + dt.timedelta(seconds=seq)
            digest = leaf_hash(entry_bytes(seq, at, body)).hex()
            rows.append(
                {"seq": seq, "at": at, "event": body, "hash": digest} | indexed_columns(event)
            )
            named.append((seq, event))
        names = [
            {"record_id": r, "seq": seq} for seq, event in named for r in set(event.record_ids)
        ]
        with log.engine.begin() as conn:
            conn.execute(insert(audit_log), rows)
            conn.execute(insert(audit_records), names)
        print(f"\r  {rows[-1]['seq']:>9,} entries", end="", flush=True)
    print(f" in {time.perf_counter() - started:.0f} s")


def timed(name: str, searches: int, run: Callable[[random.Random], int]) -> None:
    rng = random.Random(2)  # noqa: S311
    times, found = [], 0
    for _ in range(searches):
        t0 = time.perf_counter()
        found += run(rng)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p90 = times[int(len(times) * 0.9) - 1]
    print(
        f"  {name:<34} median {statistics.median(times):7.2f} ms   p90 {p90:7.2f} ms"
        f"   ({found / searches:.0f} entries a search)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url")
    parser.add_argument("--searches", type=int, default=50)
    parser.add_argument("--legacy", action="store_true")
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="audit-bench-"))
    url = args.database_url or f"sqlite:///{folder / 'hub.db'}"
    engine = engine_for(url)
    for table in (audit_records, audit_checkpoints, audit_log):
        table.drop(engine, checkfirst=True)
    for table in (audit_log, audit_checkpoints, audit_records):
        table.create(engine)
    log = AuditLog(engine)
    print(f"{engine.dialect.name}: filling {args.entries:,} entries")
    fill(log, args.entries)
    end = START + dt.timedelta(seconds=args.entries)

    def page(**filters: object) -> int:
        return len(log.find(AuditQuery(**filters, newest_first=True, limit=100)))  # type: ignore[arg-type]

    def hour(rng: random.Random) -> dt.datetime:
        return START + dt.timedelta(seconds=rng.randrange(args.entries - 3600))

    def second_page(rng: random.Random) -> int:
        client = rng.choice(CLIENTS)
        first = log.find(AuditQuery(client_id=client, newest_first=True, limit=100))
        return page(client_id=client, after_seq=first[-1].seq)

    print(f"100-entry pages, newest first, {args.searches} searches each:")
    timed("by client", args.searches, lambda r: page(client_id=r.choice(CLIENTS)))
    timed(
        "by record",
        args.searches,
        lambda r: page(record_ids=(f"{r.choice(KINDS)}/{r.randrange(RECORDS)}",)),
    )
    timed(
        "by three records (subject access)",
        args.searches,
        lambda r: page(record_ids=tuple(f"person/{r.randrange(RECORDS)}" for _ in range(3))),
    )
    timed(
        "by time range (1 hour)",
        args.searches,
        lambda r: page(since=(t := hour(r)), until=t + dt.timedelta(hours=1)),
    )
    timed(
        "by client within 1 day",
        args.searches,
        lambda r: page(
            client_id=r.choice(CLIENTS), since=(t := hour(r)), until=t + dt.timedelta(days=1)
        ),
    )
    timed(
        "by client + action + outcome=denied",
        args.searches,
        lambda r: page(client_id=r.choice(CLIENTS), action="records.read", outcome="denied"),
    )
    timed("by client, second page (keyset)", args.searches, second_page)
    timed("newest 100, no filter", args.searches, lambda r: page())
    if args.legacy:
        legacy_record_search(log, "person/12345", end)
    engine.dispose()


def legacy_record_search(log: AuditLog, record: str, end: dt.datetime) -> None:
    """The search as it was: every event decoded in Python, 1000 rows a round trip."""
    t0, found, last = time.perf_counter(), 0, 0
    with log.engine.connect() as conn:
        while True:
            query = select(audit_log).where(audit_log.c.seq > last, audit_log.c.at < end)
            rows = conn.execute(query.order_by(audit_log.c.seq).limit(1000)).all()
            found += sum(record in _entry(row).event.record_ids for row in rows)
            if len(rows) < 1000:
                break
            last = rows[-1].seq
    ms = (time.perf_counter() - t0) * 1000
    print(f"  legacy (Python) by record, once      {ms:9.0f} ms   ({found} entries)")


if __name__ == "__main__":
    sys.exit(main())
