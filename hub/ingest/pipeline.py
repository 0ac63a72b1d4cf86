"""A parallel sync of one stream: a reader, a pool of worker processes, one writer.

The reader (the syncing process) reads the stream's batches in order and hands each to a
pool of worker processes, which judge its rows (mapping, contract: ``judging.judge``) and
seal the valid ones (encrypt, blind-index, hash: ``judging.prepare``). The writer (the
syncing process again) takes the prepared batches back *in the order they were read* and
admits each through ``admit_rows``, in one transaction with the stream's state after it,
as the serial sync does. So batch n commits only after batches 1..n-1 have, and a sync
killed at any point resumes after the last committed batch, nothing lost, nothing twice.

At most ``2 × workers`` batches are in flight, so memory stays bounded whatever the size
of the stream. A worker seals under the index key in force when the pool started; a batch
whose transaction finds another key in force (an index rotation switched meanwhile) is
judged and sealed again by ``admit_rows``, under the transaction's key.

The workers are forked: they inherit the keyring in memory (no key crosses a pipe) and
touch no database. On Linux each dies with the syncing process (``PR_SET_PDEATHSIG``), so a
sync killed with SIGKILL leaves no worker behind. Where ``fork`` is not available the sync
runs serially.
"""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
import sys
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from contextlib import contextmanager
from typing import Any

from connectors.sdk import Batch, ConnectorError, Stream
from hub.grids import GridRegistry
from hub.ingest.judging import Prepared, prepare
from hub.store import Sealer

_PR_SET_PDEATHSIG = 1

_job: tuple[Stream, Sealer, GridRegistry | None] | None = None
"""In a worker process: the stream it prepares batches of, the sealer it seals with, and
the grid registry it judges rows against (None: none is loaded)."""


def default_workers() -> int:
    """The machine's cores (those this process may run on)."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


def parallel_available() -> bool:
    return "fork" in multiprocessing.get_all_start_methods()


@contextmanager
def prepared_batches(
    batches: Iterator[Batch],
    stream: Stream,
    sealer: Sealer,
    workers: int,
    registry: GridRegistry | None = None,
) -> Iterator[Iterator[tuple[Batch, Prepared]]]:
    """``batches`` with each one's ``Prepared``, in the order read, prepared by ``workers``
    processes (judged against ``registry`` too, if given). A connector error raised while
    reading comes after every batch read before it, as in a serial sync. The pool is shut
    down when the block ends."""
    context = multiprocessing.get_context("fork")
    gc.freeze()  # what the workers inherit is never scanned by their GC, nor copied
    pool = ProcessPoolExecutor(
        workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(os.getpid(), stream, sealer, registry),
    )
    try:
        yield _in_order(pool, batches, 2 * workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        gc.unfreeze()


def _in_order(
    pool: ProcessPoolExecutor, batches: Iterator[Batch], depth: int
) -> Iterator[tuple[Batch, Prepared]]:
    inflight: deque[tuple[Batch, Future[Prepared]]] = deque()
    failed: ConnectorError | None = None
    while failed is None:
        try:
            batch = next(batches, None)
        except ConnectorError as exc:
            failed = exc
            break
        if batch is None:
            break
        inflight.append((batch, pool.submit(_prepare, batch.rows)))
        if len(inflight) >= depth:
            done, future = inflight.popleft()
            yield done, future.result()
    while inflight:
        done, future = inflight.popleft()
        yield done, future.result()
    if failed is not None:
        raise failed


def _start_worker(
    parent: int, stream: Stream, sealer: Sealer, registry: GridRegistry | None
) -> None:
    """In each worker, once: die with the parent, keep what was inherited out of the GC."""
    global _job
    if sys.platform == "linux":
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)
        # A stop is the syncing process's to decide (it ends after the batch in flight);
        # a worker ends with it, or when the pool is shut down.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _job = (stream, sealer, registry)
    gc.freeze()


@contextmanager
def gc_paused() -> Iterator[None]:
    """The cyclic GC off while a batch is admitted: a batch makes many objects and no
    cycles worth a collection in the middle of it; collections resume after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _prepare(rows: list[dict[str, Any]]) -> Prepared:
    """One batch, in a worker; the GC paused while it runs (its objects are acyclic)."""
    if _job is None:
        raise RuntimeError("_prepare runs in a worker process started by _start_worker")
    with gc_paused():
        return prepare(_job[0], rows, _job[1], registry=_job[2])
