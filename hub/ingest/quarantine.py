"""Fixing quarantined rows: correct the raw row, run it through its stream's mapping and
contract again, and store it under its source key, or keep it with the new reasons.

A row goes back through the door it first came in by: a configured source's stream, or,
for a record a partner pushed through the API (source ``partner:<client id>``, stream
``push``), the push stream of its kind.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from connectors.sdk import ConnectorError, Source, Stream
from hub.audit import AuditEvent
from hub.ingest.errors import CannotResubmit, NoSuchEntry
from hub.ingest.run import redact
from hub.ingest.sources import SourceSpec
from hub.ingest.sync import PUSH_STREAM, Admitted, admit_rows, push_stream
from hub.store import QuarantinedRow, Store, Transaction

__all__ = [
    "CannotResubmit",
    "NoSuchEntry",
    "entry_stream",
    "read_event",
    "resubmit",
    "resubmit_event",
]

PARTNER_PREFIX = "partner:"

ResubmitAudit = Callable[[Transaction, QuarantinedRow, Admitted], None]
"""Called inside the re-submitting transaction with the entry as it was and what became of
the row: it appends the audit entry, so the change and its record commit together."""


def resubmit(
    store: Store,
    stream: Stream,
    entry_id: int,
    corrections: dict[str, Any],
    run_id: str,
    audit: ResubmitAudit | None = None,
) -> QuarantinedRow:
    """Apply ``corrections`` (source column -> value; None removes the column) and retry.

    Returns the entry as it now stands: ``resolved`` when the row was stored, otherwise
    still ``open`` with the corrected row's failures. When ``audit`` raises, nothing is
    stored and the entry is left as it was.
    """
    entry = store.quarantined_row(entry_id)
    if entry is None:
        raise NoSuchEntry(entry_id)
    if entry.stream != stream.name:
        raise CannotResubmit(
            entry_id, f"it belongs to stream {entry.stream!r}, not {stream.name!r}"
        )
    row = {k: v for k, v in (entry.row | corrections).items() if v is not None}

    def hook(tx: Transaction, admitted: Admitted) -> None:
        if audit is not None:
            audit(tx, entry, admitted)

    admit_rows(store, entry.source_system, stream, [row], run_id, audit=hook)
    current = store.quarantined_row(entry_id)
    if current is None:
        raise NoSuchEntry(entry_id)
    return current


@contextmanager
def entry_stream(entry: QuarantinedRow, specs: list[SourceSpec]) -> Iterator[Stream]:
    """The stream ``entry`` is re-submitted through, its source open for the duration.

    Raises CannotResubmit saying why: the source is not configured, fails to open, or no
    longer has the stream.
    """
    entry_id = entry.id if entry.id is not None else 0
    if entry.source_system.startswith(PARTNER_PREFIX):
        if entry.stream != PUSH_STREAM:
            reason = f"partner entries come through stream {PUSH_STREAM!r}, not {entry.stream!r}"
            raise CannotResubmit(entry_id, reason)
        yield push_stream(entry.kind)
        return
    spec = next((s for s in specs if s.id == entry.source_system), None)
    if spec is None:
        configured = ", ".join(s.id for s in specs) or "none"
        reason = (
            f"its source {entry.source_system!r} is not in sources.yaml (configured: {configured})"
        )
        raise CannotResubmit(entry_id, reason)
    source: Source | None = None
    try:
        source = spec.open()
        stream = source.stream(entry.stream)
    except ConnectorError as exc:
        if source is not None:
            source.close()
        raise CannotResubmit(entry_id, redact(str(exc), spec.secrets())) from None
    try:
        yield stream
    finally:
        source.close()


def read_event(subject: str, entries: list[QuarantinedRow], detail: dict[str, Any]) -> AuditEvent:
    """The entry recording that ``subject`` read ``entries`` (rows in clear): it names the
    entries, kinds and sources, never a value of a row."""
    kinds = sorted({e.kind for e in entries})
    return AuditEvent(
        action="quarantine.read",
        outcome="allowed",
        subject=subject,
        kind=kinds[0] if len(kinds) == 1 else None,
        record_ids=[f"quarantine:{e.id}" for e in entries],
        detail={
            **detail,
            "kinds": kinds,
            "sources": sorted({e.source_system for e in entries}),
        },
    )


def resubmit_event(
    subject: str, before: QuarantinedRow, admitted: Admitted, corrections: dict[str, Any]
) -> AuditEvent:
    """The entry recording that ``subject`` re-submitted ``before`` with ``corrections``
    and what became of it: the columns set and unset, never their values."""
    return AuditEvent(
        action="quarantine.resubmit",
        outcome="allowed",
        subject=subject,
        kind=before.kind,
        record_ids=[f"quarantine:{before.id}"],
        detail={
            "entry": before.id,
            "source": before.source_system,
            "stream": before.stream,
            "result": "stored" if admitted.stored else "quarantined",
            "set": sorted(c for c, v in corrections.items() if v is not None),
            "unset": sorted(c for c, v in corrections.items() if v is None),
        },
    )
