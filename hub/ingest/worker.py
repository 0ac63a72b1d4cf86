"""Scheduled and shared syncs: workers claim due streams from ``sync_claims`` and sync them.

Every (source, stream) of a scheduled source has one row in ``sync_claims``: when it is due,
who holds it and until when (the lease), and how its last run went. A worker:

1. registers the streams of its scheduled sources (rows inserted if missing, due now);
2. claims one due, unclaimed (or lease-expired) stream in a short transaction: on
   PostgreSQL ``SELECT … FOR UPDATE SKIP LOCKED`` then the update setting
   ``claimed_by`` and ``claimed_until = now + lease``, so concurrent workers on any number
   of machines skip each other's rows instead of waiting; on SQLite the same conditional
   ``UPDATE`` inside ``BEGIN IMMEDIATE`` (writers serialise on the database file);
3. syncs the stream (``sync_stream``), renewing the lease *inside every batch's
   transaction* with ``UPDATE … WHERE claimed_by = me``: if the lease lapsed and another
   worker took the stream, that update matches nothing, ``ClaimLost`` rolls the batch
   back, and only the new holder's batches commit. A stream is therefore never written by
   two workers at once, and a dead worker's stream is taken over once its lease expires;
4. writes the run's report to ``reports/`` (as ``hub sync`` does), and releases the claim
   with the next due time (run start + ``every``) and the outcome.

Times come from the database's clock on PostgreSQL (``statement_timestamp()``), so
workers on machines with skewed clocks agree on leases; SQLite is one machine's clock.
A stop (SIGTERM/SIGINT) ends the stream after the batch being written and releases the
claim, due at once, so another worker resumes from the committed state.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
import os
import socket
import threading
import uuid
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite

from connectors.sdk import ConnectorError
from hub.ingest.checks import run_checks
from hub.ingest.errors import ClaimLost
from hub.ingest.report import RunReport, SourceReport
from hub.ingest.run import redact
from hub.ingest.sources import SourceSpec
from hub.ingest.sync import StreamReport, new_run_id, sync_stream
from hub.store import Store, Transaction
from hub.store.store import begin_immediate
from hub.store.tables import sync_claims

log = logging.getLogger("hub.worker")

StreamKey = tuple[str, str]
"""(source id, stream name)."""

DEFAULT_LEASE = dt.timedelta(minutes=2)
DEFAULT_POLL = dt.timedelta(seconds=5)
STOPPED = "stopped before its end (worker shut down); the next run resumes from here"


@dataclass(frozen=True, slots=True)
class Claim:
    source: str
    stream: str
    worker: str
    started: dt.datetime
    """When the claim was taken (database time): the run's start."""


def new_worker_id() -> str:
    """``host:pid:random``: names the holder of a claim in ``sync_claims`` and the logs."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


def db_now(conn: Connection) -> dt.datetime:
    """The database's clock on PostgreSQL (one clock for all workers), else this machine's."""
    if conn.dialect.name == "postgresql":
        now: dt.datetime = conn.execute(select(func.statement_timestamp())).scalar_one()
        return now.astimezone(dt.UTC)
    return dt.datetime.now(dt.UTC)


def _insert_missing(conn: Connection, keys: Iterable[StreamKey], due: dt.datetime) -> None:
    rows = [
        {"source_system": s, "stream": n, "due_at": due, "runs": 0} for s, n in sorted(set(keys))
    ]
    if not rows:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    conn.execute(insert(sync_claims).values(rows).on_conflict_do_nothing())


def _key(source: str, stream: str) -> Any:
    return and_(sync_claims.c.source_system == source, sync_claims.c.stream == stream)


class Claims:
    """The operations on ``sync_claims``: each one short transaction (or a part of one)."""

    def __init__(self, store: Store, worker: str, lease: dt.timedelta = DEFAULT_LEASE) -> None:
        self.store = store
        self.worker = worker
        self.lease = lease

    def register(self, keys: Iterable[StreamKey]) -> None:
        """Rows for streams not yet in the table, due now; existing rows are left alone."""
        with self.store.engine.begin() as conn:
            _insert_missing(conn, keys, db_now(conn))

    def claim(self, among: Collection[StreamKey]) -> Claim | None:
        """Take the most overdue stream of ``among`` that is due and held by no live lease."""
        if not among:
            return None
        c = sync_claims.c
        with self.store.engine.begin() as conn:
            begin_immediate(conn)
            now = db_now(conn)
            free = or_(c.claimed_until.is_(None), c.claimed_until < now)
            candidate = (
                select(c.source_system, c.stream)
                .where(tuple_(c.source_system, c.stream).in_(sorted(among)))
                .where(c.due_at <= now, free)
                .order_by(c.due_at, c.source_system, c.stream)
                .limit(1)
            )
            if conn.dialect.name == "postgresql":
                candidate = candidate.with_for_update(skip_locked=True)
            row = conn.execute(candidate).first()
            if row is None:
                return None
            source, stream = row.source_system, row.stream
            # Conditional even after the row lock: on SQLite it is the claim itself.
            taken = conn.execute(
                update(sync_claims)
                .where(_key(source, stream), c.due_at <= now, free)
                .values(claimed_by=self.worker, claimed_until=now + self.lease, last_run_at=now)
            )
            if taken.rowcount != 1:
                return None
        return Claim(source, stream, self.worker, now)

    def renew(self, conn: Connection, claim: Claim) -> None:
        """Extend the lease inside the caller's transaction; ClaimLost if another worker
        holds the stream now (the caller's transaction must then roll back)."""
        renewed = conn.execute(
            update(sync_claims)
            .where(_key(claim.source, claim.stream), sync_claims.c.claimed_by == claim.worker)
            .values(claimed_until=db_now(conn) + self.lease)
        )
        if renewed.rowcount != 1:
            raise ClaimLost(claim.source, claim.stream, claim.worker)

    def release(
        self,
        claim: Claim,
        next_due: dt.datetime | None,
        run_id: str,
        error: str | None,
        finished: bool,
    ) -> bool:
        """Give the stream up with its outcome; ``next_due`` None: due at once (a run cut
        short). False if the claim had already passed to another worker."""
        c = sync_claims.c
        with self.store.engine.begin() as conn:
            begin_immediate(conn)
            now = db_now(conn)
            values: dict[str, Any] = {
                "claimed_by": None,
                "claimed_until": None,
                "due_at": next_due or now,
                "last_run_id": run_id,
                "runs": c.runs + 1,
            }
            if finished:
                values["last_error"] = error
                if error is None:
                    values["last_success_at"] = claim.started
            released = conn.execute(
                update(sync_claims)
                .where(_key(claim.source, claim.stream), c.claimed_by == claim.worker)
                .values(**values)
            )
            return released.rowcount == 1


def record_run(store: Store, report: RunReport) -> None:
    """Note the outcome of every stream of a run made outside a worker (``hub sync``) in
    ``sync_claims``, so that ``sync_lag`` sees it too. Claims are not touched."""
    with store.engine.begin() as conn:
        begin_immediate(conn)
        now = db_now(conn)
        _insert_missing(conn, [(s.source, s.stream) for s in report.streams], now)
        for stream in report.streams:
            values: dict[str, Any] = {
                "last_run_at": report.started,
                "last_run_id": report.run_id,
                "last_error": stream.error,
                "runs": sync_claims.c.runs + 1,
            }
            if stream.error is None:
                values["last_success_at"] = report.started
            conn.execute(
                update(sync_claims).where(_key(stream.source, stream.stream)).values(**values)
            )


def sync_lag(store: Store, now: dt.datetime | None = None) -> dict[StreamKey, float]:
    """Seconds since the start of each known stream's last successful run (worker or
    ``hub sync``); ``math.inf`` for a stream that never ran successfully. For /metrics and
    /ready."""
    c = sync_claims.c
    with store.engine.connect() as conn:
        now = now or db_now(conn)
        rows = conn.execute(select(c.source_system, c.stream, c.last_success_at)).all()
    return {
        (row.source_system, row.stream): (
            math.inf
            if row.last_success_at is None
            else max(0.0, (now - row.last_success_at).total_seconds())
        )
        for row in rows
    }


@dataclass
class WorkerOptions:
    lease: dt.timedelta = DEFAULT_LEASE
    poll: dt.timedelta = DEFAULT_POLL
    """How long an idle worker waits before looking for due streams again."""
    default_every: dt.timedelta | None = None
    """The interval of sources with no ``schedule:``; None: the worker leaves them alone."""
    override_every: dt.timedelta | None = None
    """An interval for every source, whatever its schedule (``hub sync --every``)."""
    batch_size: int = 1000
    workers: int = 1
    """Processes judging and sealing a stream's rows (``hub.ingest.pipeline``)."""
    expectations: bool = True
    once: bool = False
    """Stop once no stream is due (rather than wait for the next)."""


class Worker:
    """One process's loop: claim a due stream, sync it, report, release; until stopped."""

    def __init__(
        self,
        store: Store,
        home: Path,
        specs: Iterable[SourceSpec],
        options: WorkerOptions | None = None,
        worker_id: str | None = None,
        on_run: Callable[[RunReport, Path], None] | None = None,
    ) -> None:
        self.store = store
        self.home = home
        self.options = options or WorkerOptions()
        self.id = worker_id or new_worker_id()
        self.claims = Claims(store, self.id, self.options.lease)
        self.stop = threading.Event()
        self.on_run = on_run
        self.specs: dict[str, SourceSpec] = {}
        self.every: dict[str, dt.timedelta] = {}
        for spec in specs:
            every = self.options.override_every or (
                spec.schedule.every if spec.schedule else self.options.default_every
            )
            if every is None:
                log.info("source %s has no schedule: not synced by this worker", spec.id)
                continue
            self.specs[spec.id] = spec
            self.every[spec.id] = every
        self.streams: set[StreamKey] = set()
        self._unregistered = set(self.specs)

    def register(self) -> None:
        """List the streams of the scheduled sources not yet registered and add their rows."""
        for source_id in sorted(self._unregistered):
            spec = self.specs[source_id]
            try:
                source = spec.open()
                try:
                    names = [stream.name for stream in source.streams()]
                finally:
                    source.close()
            except ConnectorError as exc:
                log.error("source %s: %s", source_id, redact(str(exc), spec.secrets()))
                continue
            keys = {(source_id, name) for name in names}
            self.claims.register(keys)
            self.streams |= keys
            self._unregistered.discard(source_id)

    def run(self) -> None:
        """Work until ``stop`` is set (or, with ``once``, until nothing is due)."""
        log.info("worker %s: %d sources scheduled", self.id, len(self.specs))
        while not self.stop.is_set():
            if self._unregistered:
                self.register()
            claim = self.claims.claim(self.streams)
            if claim is None:
                if self.options.once:
                    break
                self.stop.wait(self.options.poll.total_seconds())
                continue
            self.run_claim(claim)
        log.info("worker %s: stopped", self.id)

    def run_claim(self, claim: Claim) -> RunReport:
        """Sync the claimed stream, save its report, release the claim."""
        spec = self.specs[claim.source]
        secrets = spec.secrets()
        report = RunReport(new_run_id(), claim.started)
        entry = SourceReport(spec.id, spec.connector, [claim.stream])
        report.sources.append(entry)
        log.info("%s claimed %s/%s (run %s)", self.id, claim.source, claim.stream, report.run_id)
        finished = True
        error: str | None = None
        try:
            source = spec.open()
            try:
                stream = source.stream(claim.stream)
                result = sync_stream(
                    self.store,
                    source,
                    stream,
                    report.run_id,
                    self.options.batch_size,
                    on_batch=self._after_batch,
                    in_batch=lambda tx, _: self._renew(tx, claim),
                    workers=self.options.workers,
                )
            finally:
                source.close()
            if result.error is not None:
                result.error = redact(result.error, secrets)
            report.streams.append(result)
            error = result.error
        except ConnectorError as exc:
            entry.error = error = redact(str(exc), secrets)
        except _Stopped as stopped:
            finished = False
            stopped.report.error = STOPPED
            report.streams.append(stopped.report)
        except ClaimLost as exc:
            log.warning("%s", exc)
            entry.error = str(exc)
            report.finished = dt.datetime.now(dt.UTC)
            self._save(report)
            return report
        except Exception as exc:  # one stream's failure must not stop the worker
            # The first line only: SQLAlchemy adds the statement and its parameters after it.
            first = str(exc).splitlines()[0] if str(exc) else ""
            entry.error = error = redact(f"{type(exc).__name__}: {first}", secrets)
            log.exception("%s/%s: %s", claim.source, claim.stream, entry.error)
        if report.streams and finished:
            run_checks(self.store, report, {spec.id: spec.checks})
        if self.options.expectations and report.streams and finished:
            from hub.ingest.expectations import validate_run  # great-expectations: slow import

            validate_run(self.store, report)
        next_due = claim.started + self.every[claim.source] if finished else None
        if not self.claims.release(claim, next_due, report.run_id, error, finished):
            log.warning("%s/%s: claim had passed to another worker", claim.source, claim.stream)
        report.finished = dt.datetime.now(dt.UTC)
        self._save(report)
        return report

    def _save(self, report: RunReport) -> None:
        path = report.save(self.home)
        totals = report.totals()
        log.info(
            "run %s: %s, read %d stored %d quarantined %d, report %s",
            report.run_id,
            "ok" if report.ok else "NOT OK",
            totals["read"],
            totals["stored"],
            totals["quarantined"],
            path,
        )
        if self.on_run is not None:
            self.on_run(report, path)

    def _renew(self, tx: Transaction, claim: Claim) -> None:
        self.claims.renew(tx.conn, claim)

    def _after_batch(self, report: StreamReport) -> None:
        if self.stop.is_set():
            raise _Stopped(report)


class _Stopped(Exception):
    """Control flow out of ``sync_stream`` on a stop; never leaves this module."""

    def __init__(self, report: StreamReport) -> None:
        self.report = report
        super().__init__("stopped")
