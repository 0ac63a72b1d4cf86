"""The audit log (Merkle tree, a signed checkpoint per append): append rate, verify, proofs.

    python benchmarks/audit.py [--entries 1000000] [--database-url URL] [--batch 1000]
                               [--single 3000] [--writers 8] [--concurrent 4000]
                               [--proofs 2000] [--big 10000000] [--only sqlite|postgresql]

On a SQLite file in a temporary folder (the hub's engine: WAL, synchronous=NORMAL) and,
when ``--database-url`` or ``HUB_TEST_POSTGRES_URL`` names a PostgreSQL server, on a
scratch database created on that server and dropped afterwards, it appends to one
``AuditLog`` (every append checkpointed, the default):

- ``--single`` entries by one writer, one ``append`` (one transaction) each;
- ``--concurrent`` entries by ``--writers`` threads, then as many processes, one
  ``append`` each (the log's lock serialises them);
- batched with ``append_all``, ``--batch`` entries a transaction, until the log holds
  ``--entries`` entries,

and prints entries/s next to a baseline in the same run: the same rows (``audit_log``'s
columns, events already canonical) written by a bare ``executemany`` INSERT into a plain
table (primary key only: no tree, no signing, no search indexes, no ``audit_records``),
with the same transactions and writers. Events are built beforehand; their canonical text,
leaf hash, tree nodes and checkpoint are the log's work and are timed.

Then it times ``verify`` of the whole log and, over ``--proofs`` random proofs through
``AuditLog.inclusion`` and ``AuditLog.consistency`` at the log's size, the mean and p99
latency and the proof size; every proof is checked with the pure verifiers outside the
timing. With ``--big`` (0: skip) it also builds a tree of that many leaves in a separate
table (``MerkleTree.extend``, 100,000 leaves a transaction: no entries, no checkpoints)
and times the same proofs through ``MerkleTree``. Not a test: numbers move with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import multiprocessing as mp
import os
import random
import statistics
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    Integer,
    LargeBinary,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    create_engine,
    insert,
    text,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from hub.audit import AuditEvent, AuditLog
from hub.audit.log import entry_bytes
from hub.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from hub.audit.search import indexed_columns
from hub.store import engine_for
from hub.store.tables import (
    AUDIT_INDEXED,
    UtcDateTime,
    audit_checkpoints,
    audit_cosignatures,
    audit_log,
    audit_records,
    audit_tree,
)

AUDIT_TABLES = (audit_log, audit_records, audit_tree, audit_checkpoints, audit_cosignatures)
BIG_BATCH = 100_000
CLIENTS = [f"cl_{n:016x}" for n in range(40)]
KINDS = ["person", "house", "incident", "unit", "visit"]
PURPOSES = ["网格服务", "社区警务", "案件办理", "统计分析", "走访核查"]
ACTIONS = ["records.query", "records.read", "profile.section", "token.issued", "records.push"]
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

_Id = BigInteger().with_variant(Integer, "sqlite")
bench = MetaData()
plain = Table(
    "bench_plain",
    bench,
    Column("seq", _Id, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime(), nullable=False),
    Column("event", Text(), nullable=False),
    Column("hash", String(64), nullable=False),
    *(Column(name, String(128)) for name in AUDIT_INDEXED),
)
"""The baseline: ``audit_log``'s columns, its primary key and nothing else."""
big_tree = Table(
    "bench_tree",
    bench,
    Column("level", SmallInteger(), primary_key=True, autoincrement=False),
    Column("idx", _Id, primary_key=True, autoincrement=False),
    Column("hash", LargeBinary(32), nullable=False),
    sqlite_with_rowid=False,
)
"""``audit_tree``'s layout, for the ``--big`` tree."""


def events(count: int) -> list[AuditEvent]:
    """``count`` events like the hub's query and read entries (1000 distinct, cycled)."""
    rng = random.Random(1)  # noqa: S311 (reproducible data)
    pool = []
    for n in range(min(count, 1000)):
        kind = rng.choice(KINDS)
        pool.append(
            AuditEvent(
                action=rng.choice(ACTIONS),
                outcome="allowed" if rng.random() < 0.95 else "denied",
                client_id=rng.choice(CLIENTS),
                subject="svc",
                purpose=rng.choice(PURPOSES),
                kind=kind,
                filters={"grid_code": f"G320104{rng.randrange(100):05d}"},
                record_ids=[f"{kind}/{rng.randrange(300_000)}" for _ in range(rng.randint(0, 5))],
                fields={"clear": ["name", "grid_code"], "masked": ["id_number"]},
                policy_id="grid-platform",
                policy_version=2,
                request_id=f"{n:032x}",
            )
        )
    return [pool[i % len(pool)] for i in range(count)]


class Baseline:
    """The same rows as the log's, into the plain table, by bare executemany INSERTs."""

    def __init__(self, pool: Sequence[AuditEvent]) -> None:
        self.rows = []
        for seq, event in enumerate(pool, 1):
            body = event.canonical()
            self.rows.append(
                {
                    "seq": seq,
                    "at": START,
                    "event": body,
                    "hash": leaf_hash(entry_bytes(seq, START, body)).hex(),
                }
                | indexed_columns(event)
            )
        self.next = itertools.count(0)

    def take(self, count: int) -> list[dict[str, Any]]:
        """``count`` rows with fresh ``seq`` (thread-safe: ``next`` on a count is atomic)."""
        out = []
        for _ in range(count):
            n = next(self.next)
            out.append(self.rows[n % len(self.rows)] | {"seq": n + 1})
        return out


def _rate(count: int, seconds: float) -> float:
    return count / seconds if seconds else float("inf")


def _threads(writers: int, count: int, work: Callable[[int], None]) -> float:
    """Seconds for ``writers`` threads to do ``work(share)`` with ``count`` in all."""
    shares = [count // writers + (i < count % writers) for i in range(writers)]
    barrier = threading.Barrier(writers + 1)
    errors: list[BaseException] = []

    def run(share: int) -> None:
        barrier.wait()
        try:
            work(share)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(s,)) for s in shares]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return time.perf_counter() - start


def _process_writer(url: str, key: bytes, share: int, ready: Any, go: Any, done: Any) -> None:
    """One writer process: open its own engine and log, wait for the start, append."""
    engine = engine_for(url)
    log = AuditLog(engine, Ed25519PrivateKey.from_private_bytes(key))
    mine = events(share)
    with engine.connect():
        pass  # the connection is made before the clock starts
    ready.put(os.getpid())
    go.wait()
    try:
        for event in mine:
            log.append(event)
        done.put(None)
    except BaseException as exc:
        done.put(repr(exc))
    engine.dispose()


def _process_plain(url: str, rows: list[dict[str, Any]], ready: Any, go: Any, done: Any) -> None:
    engine = engine_for(url)
    with engine.connect():
        pass
    ready.put(os.getpid())
    go.wait()
    try:
        for row in rows:
            with engine.begin() as conn:
                conn.execute(insert(plain), [row])
        done.put(None)
    except BaseException as exc:
        done.put(repr(exc))
    engine.dispose()


def _processes(targets: list[tuple[Callable[..., None], tuple[Any, ...]]]) -> float | str:
    """Seconds from a common start to the last of the processes' end (startup excluded),
    or how many writers failed and the first one's error."""
    ctx = mp.get_context("spawn")
    ready, done, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [ctx.Process(target=f, args=(*a, ready, go, done)) for f, a in targets]
    for p in procs:
        p.start()
    for _ in procs:
        ready.get(timeout=120)
    start = time.perf_counter()
    go.set()
    failures = [e for e in (done.get(timeout=600) for _ in procs) if e is not None]
    seconds = time.perf_counter() - start
    for p in procs:
        p.join()
    if failures:
        return f"{len(failures)} of {len(procs)} writers failed: {failures[0]}"
    return seconds


def _timed(calls: Sequence[Callable[[], list[bytes]]]) -> tuple[float, float, list[list[bytes]]]:
    """Mean and p99 in milliseconds of the calls, and what they returned."""
    times, results = [], []
    for call in calls:
        start = time.perf_counter()
        results.append(call())
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.fmean(times), times[min(len(times) - 1, int(len(times) * 0.99))], results


@dataclass
class Line:
    what: str
    count: int
    log_seconds: float
    plain_seconds: float

    def show(self) -> None:
        log, bare = _rate(self.count, self.log_seconds), _rate(self.count, self.plain_seconds)
        print(
            f"  {self.what:<34} {self.count:>9,}  {log:>11,.0f}  {bare:>11,.0f}  {log / bare:>6.2f}"
        )


def proofs(
    name: str,
    size: int,
    count: int,
    inclusion: Callable[[int, int], list[bytes]],
    consistency: Callable[[int, int], list[bytes]],
    root: Callable[[int], bytes],
    leaf: Callable[[int], bytes],
) -> None:
    """Time ``count`` inclusion and consistency proofs at random points of a tree of
    ``size`` leaves, then check each of them (``leaf(i)``: the hash of leaf i)."""
    rng = random.Random(7)  # noqa: S311 (which proofs to time, not a secret)
    leaves = [rng.randrange(size) for _ in range(count)]
    olds = [rng.randrange(1, size) for _ in range(count)]
    inc_mean, inc_p99, inc = _timed([partial(inclusion, i, size) for i in leaves])
    con_mean, con_p99, con = _timed([partial(consistency, m, size) for m in olds])
    top = root(size)
    for i, proof in zip(leaves, inc, strict=True):
        if not verify_inclusion(leaf(i), i, size, proof, top):
            raise SystemExit(f"the inclusion proof of leaf {i} in {size} does not verify")
    for m, proof in zip(olds, con, strict=True):
        if not verify_consistency(m, size, root(m), top, proof):
            raise SystemExit(f"the consistency proof {m} -> {size} does not verify")
    print(f"  proofs at {size:,} leaves ({name}), {count:,} random each, all verified:")
    for what, mean, p99, made in (
        ("inclusion", inc_mean, inc_p99, inc),
        ("consistency", con_mean, con_p99, con),
    ):
        hashes = [len(p) for p in made]
        print(
            f"    {what:<12} mean {mean:6.3f} ms  p99 {p99:6.3f} ms   "
            f"{statistics.fmean(hashes):4.1f} hashes mean, {max(hashes)} max "
            f"({max(hashes) * 32} bytes)"
        )


def run(url: str, args: argparse.Namespace) -> None:
    engine = engine_for(url)
    for table in AUDIT_TABLES:
        table.create(engine)
    bench.create_all(engine)
    key = Ed25519PrivateKey.generate()
    log = AuditLog(engine, key)
    baseline = Baseline(events(1000))
    print(f"\n{engine.dialect.name}: {engine.url.render_as_string(hide_password=True)}")
    print(
        f"  {'append, entries/s':<34} {'entries':>9}  {'audit log':>11}  {'bare INSERT':>11}  ratio"
    )
    lines: list[Line] = []

    # One writer, one entry a transaction.
    mine = events(args.single)
    start = time.perf_counter()
    for event in mine:
        log.append(event)
    log_s = time.perf_counter() - start
    rows = baseline.take(args.single)
    start = time.perf_counter()
    for row in rows:
        with engine.begin() as conn:
            conn.execute(insert(plain), [row])
    lines.append(
        Line("1 writer, 1 entry a transaction", args.single, log_s, time.perf_counter() - start)
    )
    lines[-1].show()

    # Threads, one entry a transaction each.
    def log_writer(share: int) -> None:
        for event in events(share):
            log.append(event)

    def plain_writer(share: int) -> None:
        for row in baseline.take(share):
            with engine.begin() as conn:
                conn.execute(insert(plain), [row])

    w, n = args.writers, args.concurrent
    what = f"{w} threads, 1 entry a transaction"
    try:
        lines.append(Line(what, n, _threads(w, n, log_writer), _threads(w, n, plain_writer)))
        lines[-1].show()
    except OperationalError as exc:  # SQLite's busy timeout (5 s) can run out
        print(f"  {what}: a writer failed: {exc.orig}")

    # Processes, one entry a transaction each.
    if args.processes:
        secret = key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
        shares = [n // w + (i < n % w) for i in range(w)]
        engine.dispose()
        by_log = _processes([(_process_writer, (url, secret, s)) for s in shares])
        by_plain = _processes([(_process_plain, (url, baseline.take(s))) for s in shares])
        what = f"{w} processes, 1 entry a transaction"
        if isinstance(by_log, float) and isinstance(by_plain, float):
            lines.append(Line(what, n, by_log, by_plain))
            lines[-1].show()
        else:
            for name, outcome in (("audit log", by_log), ("bare INSERT", by_plain)):
                print(f"  {what}: {name}: {outcome}")

    # One writer, append_all of --batch entries, up to --entries in the log.
    have = log.latest(cosigned=False)
    todo = args.entries - (have.size if have else 0)
    log_s = plain_s = 0.0
    made = 0
    while made < todo:
        count = min(args.batch, todo - made)
        batch = events(count)
        start = time.perf_counter()
        log.append_all(batch)
        log_s += time.perf_counter() - start
        rows = baseline.take(count)
        start = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(insert(plain), rows)
        plain_s += time.perf_counter() - start
        made += count
        if made % 100_000 < args.batch:
            print(f"\r  … {made:,} of {todo:,} batched", end="", flush=True)
    print("\r" + " " * 60 + "\r", end="")
    lines.append(Line(f"1 writer, append_all {args.batch}/transaction", todo, log_s, plain_s))
    lines[-1].show()

    # Verify the whole log.
    start = time.perf_counter()
    result = log.verify()
    seconds = time.perf_counter() - start
    if not result.ok:
        raise SystemExit(f"verify failed: {result}")
    print(
        f"  verify: {result.entries:,} entries, {result.checkpoints:,} checkpoints in "
        f"{seconds:.2f} s ({result.entries / seconds:,.0f} entries/s)"
    )

    size = result.entries

    def leaf(i: int) -> bytes:
        found = log.entry(i + 1)
        if found is None:
            raise SystemExit(f"entry {i + 1} is missing")
        return bytes.fromhex(found[0].hash)

    with engine.connect() as conn:
        proofs(
            "AuditLog",
            size,
            args.proofs,
            lambda i, n: log.inclusion(i + 1, n),
            log.consistency,
            lambda n: log.tree.root(conn, n),
            leaf,
        )
    if args.big:
        big(engine, args)
    engine.dispose()


def big(engine: Engine, args: argparse.Namespace) -> None:
    """A tree of ``--big`` leaves in ``bench_tree``, built by ``MerkleTree.extend``."""
    tree = MerkleTree(big_tree)
    start = time.perf_counter()
    for first in range(0, args.big, BIG_BATCH):
        hashes = [
            leaf_hash(b"entry %d" % i) for i in range(first, min(first + BIG_BATCH, args.big))
        ]
        with engine.begin() as conn:
            tree.extend(conn, hashes, first)
        print(f"\r  … {first + len(hashes):,} leaves", end="", flush=True)
    seconds = time.perf_counter() - start
    print("\r" + " " * 60, end="")
    rate = args.big / seconds
    print(f"\r  tree of {args.big:,} leaves built in {seconds:.0f} s ({rate:,.0f} leaves/s)")
    with engine.connect() as conn:
        proofs(
            "MerkleTree",
            args.big,
            args.proofs,
            lambda i, n: tree.inclusion_proof(conn, i, n),
            lambda m, n: tree.consistency_proof(conn, m, n),
            lambda n: tree.root(conn, n),
            lambda i: leaf_hash(b"entry %d" % i),
        )


@contextmanager
def scratch_postgres(server: str) -> Iterator[str]:
    """A database of its own on the server ``server`` names, dropped afterwards."""
    url = make_url(server)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    name = f"hub_auditbench_{os.getpid()}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=os.environ.get("HUB_TEST_POSTGRES_URL"))
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--single", type=int, default=3000)
    parser.add_argument("--writers", type=int, default=8)
    parser.add_argument("--concurrent", type=int, default=4000)
    parser.add_argument("--processes", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--big", type=int, default=10_000_000)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.only != "postgresql":
        with tempfile.TemporaryDirectory(prefix="audit-bench-") as folder:
            run(f"sqlite:///{Path(folder) / 'audit.db'}", args)
    if args.only != "sqlite":
        if not args.database_url:
            print("\npostgresql: skipped (no --database-url, no HUB_TEST_POSTGRES_URL)")
            return
        with scratch_postgres(args.database_url) as url:
            run(url, args)


if __name__ == "__main__":
    main()
