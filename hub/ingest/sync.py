"""Sync: rows from a connector's streams into the store or the quarantine, nothing lost.

For every batch a stream yields, in one database transaction: valid records are upserted
(by source system + source key), invalid rows are quarantined with every broken rule,
and the stream's state is saved. A sync killed at any point therefore resumes after the
last committed batch: no row lost, none stored twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Literal

from connectors.sdk import Batch, ConnectorError, RecordMapping, Source, State, Stream
from contracts import Record
from hub.events import record_changed
from hub.grids import GridRegistry, load_registry
from hub.ingest import pipeline
from hub.ingest.judging import Judged, Prepared, judge, prepare
from hub.store import QuarantinedRow, Sealed, Store, Transaction, UpsertCounts, lifecycle
from hub.work.verification_tasks import declared

MAX_EXAMPLES = 3


@dataclass
class StreamReport:
    source: str
    stream: str
    kind: str
    read: int = 0
    counts: UpsertCounts = field(default_factory=UpsertCounts)
    quarantined: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    """Broken rules as ``field:rule`` -> rows."""
    examples: dict[str, list[str]] = field(default_factory=dict)
    """Source keys of a few rows per broken rule, for the steward to look up."""
    error: str | None = None
    deleted: int = 0
    """Rows that marked their record deleted at the source (``Stream.deleted``)."""
    deactivated: int = 0
    """Records made inactive: marked deleted, or absent from a complete full read."""
    reactivated: int = 0
    """Inactive records their source sent again."""
    touched: list[str] = field(default_factory=list, repr=False)
    """Source keys of the records this run stored (inserted, updated or unchanged): what
    the run's cross-kind checks (``hub.ingest.checks``) look at; not in the report."""

    @property
    def stored(self) -> int:
        return self.counts.total

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "stream": self.stream,
            "kind": self.kind,
            "read": self.read,
            "stored": self.stored,
            "inserted": self.counts.inserted,
            "updated": self.counts.updated,
            "unchanged": self.counts.unchanged,
            "superseded": self.counts.superseded,
            "quarantined": self.quarantined,
            "deleted": self.deleted,
            "deactivated": self.deactivated,
            "reactivated": self.reactivated,
            "failures": dict(self.failures.most_common()),
            "examples": self.examples,
            "error": self.error,
        }


def new_run_id() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ-") + uuid.uuid4().hex[:6]


@dataclass
class Admitted:
    """What became of the rows of one batch."""

    counts: UpsertCounts
    quarantined: list[QuarantinedRow]
    stored: list[str] = field(default_factory=list)
    """Source keys of the rows stored (inserted, updated or unchanged)."""
    deleted: int = 0
    """Rows that marked their record deleted at the source: neither stored nor quarantined."""
    deactivated: list[int] = field(default_factory=list)
    reactivated: list[int] = field(default_factory=list)
    """Ids of the records made inactive, and active again, by these rows."""


AuditHook = Callable[[Transaction, "Admitted"], None]
"""Called inside the admitting transaction, after the writes: it appends the audit entry
that records them (``AuditLog.append(event, tx)``), so both commit or neither does."""

PUSH_STREAM = "push"
"""The stream name of records partners push through the API (source ``partner:<client>``)."""


def push_stream(kind: str) -> Stream:
    """The stream pushed records of ``kind`` are admitted through: fields by name or label,
    keyed by the partner's ``source_key``."""
    return Stream(PUSH_STREAM, kind, "source_key", None, RecordMapping(passthrough=True))


def admit_rows(
    store: Store,
    source_id: str,
    stream: Stream,
    rows: list[dict[str, Any]],
    run_id: str,
    state: State | None = None,
    audit: AuditHook | None = None,
    tx: Transaction | None = None,
    prepared: Prepared | None = None,
    read_id: str | None = None,
    registry: GridRegistry | Literal["stored"] | None = "stored",
) -> Admitted:
    """Store the valid rows, quarantine the rest, and save ``state``, in one transaction.

    This is the one path by which rows enter the hub: syncs, re-submitted quarantine
    entries, records pushed through the API and accepted submissions all come through
    here. ``audit`` writes the entry of a change made through a door that audits (API,
    CLI) in the same transaction. With ``tx`` the rows are admitted in the caller's open
    transaction, to commit (or roll back) with a change of its own: a review's decision.
    Each record a ``self_declared`` stream stores gets its verification task
    (``hub.work.verification_tasks``) in that transaction too.

    ``prepared`` is ``rows`` judged and sealed beforehand (by a worker process of a
    parallel sync); it is used if its blind indexes are under the index key the
    transaction's rows are under, else the rows are judged and sealed again here.

    A row marking its record deleted (``Stream.deleted``) is not judged: the record this
    source holds under its key goes inactive (``hub.store.lifecycle``); a record stored
    while inactive goes active again. ``read_id`` names the full read of a full-refresh
    stream these rows are part of: their records are marked as listed by it.

    Rows are judged against the grid registry the store holds (``hub.grids``), or
    ``registry`` when the caller read it already (a sync reads it once per stream; None:
    the store holds none).
    """
    if registry == "stored":
        registry = stored_registry(store, tx)
    if prepared is None:
        judged: list[Judged] | None = judge(stream, rows, registry)
    now = dt.datetime.now(dt.UTC)
    with _within(store, tx) as tx:
        if prepared is None or prepared.index_key != tx.index_key:
            # A sealed source key and the blind indexes: made under the transaction's key.
            again = judged if prepared is None else None
            prepared = prepare(stream, rows, tx, again, registry)
        good: list[tuple[str, Sealed]] = []
        records: dict[str, Record] = {}
        bad: list[QuarantinedRow] = []
        raw: dict[str, dict[str, Any]] = {}
        marks = _deletion_marks(stream, rows, prepared.keys)
        for index, (row, key, outcome) in enumerate(
            zip(rows, prepared.keys, prepared.outcomes, strict=True)
        ):
            if stream.deleted and stream.deletion_mark(row) is not None:
                continue
            raw[key] = row
            if isinstance(outcome, Sealed):
                good.append((key, outcome))
                if prepared.records is not None:
                    records[key] = prepared.records[index]  # type: ignore[assignment]
            else:
                bad.append(QuarantinedRow(source_id, stream.name, stream.kind, key, row, outcome))
        good = _without_duplicates(tx, source_id, stream, good, raw, bad)
        counts = tx.upsert_sealed(source_id, good, now)
        if stream.self_declared:
            declared(tx, source_id, [(key, records[key]) for key, _ in good], now)
        stored = [key for key, _ in good]
        kind, name = stream.kind, stream.name
        reactivated = lifecycle.reactivate(tx, kind, source_id, name, stored, run_id, now)
        deactivated: list[int] = []
        for mark, keys in marks.items():
            reason = f"{lifecycle.DELETED}:{mark}"[:64]
            deactivated += lifecycle.deactivate(
                tx, kind, source_id, name, keys, reason, run_id, now
            )
        if read_id is not None:
            listed = stored + [entry.source_key for entry in bad]
            lifecycle.mark_seen(tx, kind, source_id, name, listed, read_id)
        lifecycle_changed = [(kind, record_id) for record_id in reactivated + deactivated]
        record_changed(tx, [*counts.changed, *lifecycle_changed], now)
        gone = [key for keys in marks.values() for key in keys]
        tx.resolve_quarantined(source_id, stream.name, stored + gone)
        tx.quarantine(run_id, bad, now)
        if state is not None:
            tx.save_state(source_id, stream.name, state, now, read_id)
        admitted = Admitted(counts, bad, stored)
        admitted.deleted = sum(stream.deletion_mark(row) is not None for row in rows)
        admitted.deactivated, admitted.reactivated = deactivated, reactivated
        if audit is not None:
            audit(tx, admitted)
    return admitted


def stored_registry(store: Store, tx: Transaction | None = None) -> GridRegistry | None:
    """The grid registry ``store`` holds (read in ``tx`` when given); None: none loaded."""
    if tx is not None:
        return load_registry(tx.conn)
    with store.engine.connect() as conn:
        return load_registry(conn)


def _deletion_marks(
    stream: Stream, rows: list[dict[str, Any]], keys: list[str]
) -> dict[str, list[str]]:
    """Source keys whose last row in the batch marks them deleted, by mark."""
    if not stream.deleted:
        return {}
    last: dict[str, str | None] = {}
    for row, key in zip(rows, keys, strict=True):
        last[key] = stream.deletion_mark(row)
    marks: dict[str, list[str]] = {}
    for key, mark in last.items():
        if mark is not None:
            marks.setdefault(mark, []).append(key)
    return marks


@contextmanager
def _within(store: Store, tx: Transaction | None) -> Iterator[Transaction]:
    if tx is not None:
        yield tx
        return
    with store.begin() as own:
        yield own


def sync_stream(
    store: Store,
    source: Source,
    stream: Stream,
    run_id: str,
    batch_size: int = 1000,
    on_batch: Callable[[StreamReport], None] | None = None,
    in_batch: AuditHook | None = None,
    workers: int = 1,
) -> StreamReport:
    """Read ``stream`` from its saved state on, admitting batch after batch.

    ``on_batch`` sees the report after each committed batch; ``in_batch`` runs inside each
    batch's transaction (the worker renews its claim there, so a batch commits only while
    the worker still holds the stream, and raises to roll the batch back if it does not).
    With ``workers`` > 1 the rows are judged and sealed by that many worker processes
    while this one reads and writes (``hub.ingest.pipeline``); batches still commit one by
    one, in order, each with its state.
    """
    report = StreamReport(source.source_id, stream.name, stream.kind)
    if stream.model.owned_by_hub:
        report.error = f"{stream.kind} records are kept by the hub: no source writes them"
        return report
    state, read_id = store.load_read(source.source_id, stream.name)
    registry = stored_registry(store)
    if not stream.full_refresh:
        read_id = None
    elif read_id is None:
        # A new full read: from the beginning, whatever state a former mode left.
        state, read_id = None, uuid.uuid4().hex
    try:
        batches = source.read(stream, state, batch_size)
        with _prepared(store, stream, batches, workers, registry) as read:
            for batch, prepared in read:
                with pipeline.gc_paused():
                    admitted = admit_rows(
                        store,
                        source.source_id,
                        stream,
                        batch.rows,
                        run_id,
                        batch.state,
                        in_batch,
                        prepared=prepared,
                        read_id=read_id,
                        registry=registry,
                    )
                report.read += len(batch.rows)
                report.counts += admitted.counts
                report.quarantined += len(admitted.quarantined)
                report.deleted += admitted.deleted
                report.deactivated += len(admitted.deactivated)
                report.reactivated += len(admitted.reactivated)
                report.touched.extend(admitted.stored)
                for entry in admitted.quarantined:
                    _count_failures(report, entry.source_key, entry.failures)
                if on_batch is not None:
                    on_batch(report)
        if read_id is not None:
            _end_full_read(store, source.source_id, stream, read_id, run_id, report, in_batch)
    except ConnectorError as exc:
        report.error = str(exc)
    return report


def _end_full_read(
    store: Store,
    source_id: str,
    stream: Stream,
    read_id: str,
    run_id: str,
    report: StreamReport,
    in_batch: AuditHook | None,
) -> None:
    """A full read ended complete: the records of the stream it did not list go inactive,
    and the next read starts afresh; in one transaction (a sync killed before it commits
    reads on from the final state, finds nothing more, and comes here again).

    A complete read that listed nothing marks nothing: an empty answer from a source that
    held rows is likelier a fault of the source than every row deleted, so the stream's
    report says so and a steward decides."""
    now = dt.datetime.now(dt.UTC)
    kind, name = stream.kind, stream.name
    with store.begin() as tx:
        if lifecycle.seen_in(tx, kind, source_id, name, read_id):
            swept = lifecycle.sweep(tx, kind, source_id, name, read_id, run_id, now)
            record_changed(tx, [(kind, record_id) for record_id in swept], now)
            report.deactivated += len(swept)
        elif lifecycle.active(tx, kind, source_id, name):
            report.error = (
                "a complete full read listed no row: no record was marked inactive "
                "(an empty answer is likelier a fault than every row deleted)"
            )
        tx.forget_state(source_id, name)
        if in_batch is not None:
            in_batch(tx, Admitted(UpsertCounts(), []))


@contextmanager
def _prepared(
    store: Store,
    stream: Stream,
    batches: Iterator[Batch],
    workers: int,
    registry: GridRegistry | None,
) -> Iterator[Iterator[tuple[Batch, Prepared | None]]]:
    """The batches read, with their rows prepared by ``workers`` processes, or (one
    worker, or no ``fork`` here) with None: ``admit_rows`` prepares them itself."""
    if workers <= 1 or not pipeline.parallel_available():
        yield ((batch, None) for batch in batches)
        return
    sealer = store.sealer()
    with pipeline.prepared_batches(batches, stream, sealer, workers, registry) as prepared:
        yield prepared


def _without_duplicates(
    tx: Transaction,
    source_id: str,
    stream: Stream,
    good: list[tuple[str, Sealed]],
    raw: dict[str, dict[str, Any]],
    bad: list[QuarantinedRow],
) -> list[tuple[str, Sealed]]:
    """Quarantine records whose natural key this source already holds under another key.

    A source that lists one ID number under two of its own keys has a duplicate; which
    one is right is the steward's call, so the later one waits in quarantine.
    """
    owners = tx.key_owners(source_id, stream.kind, sorted({s.link_key for _, s in good}))
    name = stream.model.natural_key_fields()[0]
    kept = []
    for key, sealed in good:
        owner = owners.setdefault(sealed.link_key, key)
        if owner == key:
            kept.append((key, sealed))
            continue
        failure = {
            "kind": stream.kind,
            "field": name,
            "rule": "duplicate_key",
            "value": None,
            "message": f"{name} is already held by this source under key {owner}",
        }
        bad.append(QuarantinedRow(source_id, stream.name, stream.kind, key, raw[key], [failure]))
    return kept


def _count_failures(report: StreamReport, key: str, failures: list[dict[str, Any]]) -> None:
    for name in {f"{f['field'] or '(row)'}:{f['rule']}" for f in failures}:
        report.failures[name] += 1
        examples = report.examples.setdefault(name, [])
        if len(examples) < MAX_EXAMPLES:
            examples.append(key)
