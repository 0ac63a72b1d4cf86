"""The audit Merkle tree: append rate and proof latency on SQLite.

    python benchmarks/merkle.py [--leaves 1000000] [--batch 1000] [--proofs 2000]
                                [--checkpoints 100000,1000000] [--folder DIR]

Appends N leaf hashes to ``audit_tree`` in a fresh SQLite file (the hub's engine: WAL,
synchronous=NORMAL), ``--batch`` leaves per ``MerkleTree.extend`` and one transaction per
batch, and prints the leaves/s (hashing of parents included, of the entries not: the
leaf hashes are made beforehand). At each checkpoint size it times, from a new
connection, P roots, inclusion proofs and consistency proofs at random sizes and indexes
up to that size, each verified once with the pure verifiers outside the timing, and
prints the mean and p99 of each. Not a test: numbers move with the machine.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

from sqlalchemy import Connection

from hub.audit.merkle import MerkleTree, leaf_hash, verify_consistency, verify_inclusion
from hub.store import engine_for
from hub.store.tables import audit_tree


def _timed(calls: int, make: Callable[[], Callable[[], object]]) -> tuple[float, float]:
    """Mean and p99 in milliseconds of ``calls`` calls, each a fresh one from ``make``."""
    times = []
    for _ in range(calls):
        call = make()
        start = time.perf_counter()
        call()
        times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.fmean(times), times[min(len(times) - 1, int(len(times) * 0.99))]


def _draws(
    tree: MerkleTree, conn: Connection, n: int, rng: random.Random
) -> dict[str, Callable[[], Callable[[], object]]]:
    """For each operation, a maker of one call at random sizes and indexes up to ``n``."""

    def root() -> Callable[[], object]:
        return partial(tree.root, conn, rng.randrange(1, n + 1))

    def inclusion() -> Callable[[], object]:
        size = rng.randrange(1, n + 1)
        return partial(tree.inclusion_proof, conn, rng.randrange(size), size)

    def consistency() -> Callable[[], object]:
        size = rng.randrange(2, n + 1)
        return partial(tree.consistency_proof, conn, rng.randrange(1, size), size)

    return {"root": root, "inclusion_proof": inclusion, "consistency_proof": consistency}


def _check(tree: MerkleTree, conn: Connection, n: int, rng: random.Random) -> None:
    """One inclusion and one consistency proof at size ``n`` verified, or exit."""
    root_n = tree.root(conn, n)
    i, m = rng.randrange(n), rng.randrange(1, n)
    leaf = leaf_hash(b"entry %d" % i)
    included = verify_inclusion(leaf, i, n, tree.inclusion_proof(conn, i, n), root_n)
    proof = tree.consistency_proof(conn, m, n)
    if not (included and verify_consistency(m, n, tree.root(conn, m), root_n, proof)):
        raise SystemExit(f"a proof at size {n} does not verify")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--proofs", type=int, default=2000)
    parser.add_argument("--checkpoints", default="100000,1000000")
    parser.add_argument("--folder", type=Path)
    args = parser.parse_args()
    checkpoints = sorted(int(n) for n in args.checkpoints.split(",") if int(n) <= args.leaves)

    folder = args.folder or Path(tempfile.mkdtemp(prefix="merkle-bench-"))
    path = folder / "merkle.db"
    path.unlink(missing_ok=True)
    engine = engine_for(f"sqlite:///{path}")
    audit_tree.create(engine)
    tree = MerkleTree()
    rng = random.Random(7)  # noqa: S311 (which sizes to time, not a secret)
    print(f"SQLite {path}: {args.leaves:,} leaves in batches of {args.batch}")

    size, append_seconds = 0, 0.0
    for target in sorted({*checkpoints, args.leaves}):
        while size < target:
            count = min(args.batch, target - size)
            hashes = [leaf_hash(b"entry %d" % i) for i in range(size, size + count)]
            start = time.perf_counter()
            with engine.begin() as conn:
                tree.extend(conn, hashes, size)
            append_seconds += time.perf_counter() - start
            size += count
        if target not in checkpoints:
            continue
        print(f"\n{size:>9,} leaves  appended at {size / append_seconds:,.0f} leaves/s")
        with engine.connect() as conn:
            _check(tree, conn, size, rng)
            for name, make in _draws(tree, conn, size, rng).items():
                mean, p99 = _timed(args.proofs, make)
                print(f"  {name:<18} mean {mean:6.3f} ms  p99 {p99:6.3f} ms  ({args.proofs} calls)")
    engine.dispose()
    print(f"\nfile size {path.stat().st_size / 2**20:,.1f} MiB")


if __name__ == "__main__":
    main()
