"""Fixing quarantined rows: correct the raw row, run it through its stream's mapping and
contract again, and store it under its source key, or keep it with the new reasons."""

from __future__ import annotations

from typing import Any

from connectors.sdk import Stream
from hub.ingest.sync import admit_rows
from hub.store import QuarantinedRow, Store


class NoSuchEntry(LookupError):
    def __init__(self, entry_id: int) -> None:
        self.entry_id = entry_id
        super().__init__(f"no quarantine entry {entry_id}")


def resubmit(
    store: Store, stream: Stream, entry_id: int, corrections: dict[str, Any], run_id: str
) -> QuarantinedRow:
    """Apply ``corrections`` (source column -> value; None removes the column) and retry.

    Returns the entry as it now stands: ``resolved`` when the row was stored, otherwise
    still ``open`` with the corrected row's failures.
    """
    entry = store.quarantined_row(entry_id)
    if entry is None:
        raise NoSuchEntry(entry_id)
    if entry.stream != stream.name:
        raise ValueError(f"entry {entry_id} belongs to stream {entry.stream!r}")
    row = {k: v for k, v in (entry.row | corrections).items() if v is not None}
    admit_rows(store, entry.source_system, stream, [row], run_id)
    current = store.quarantined_row(entry_id)
    if current is None:
        raise NoSuchEntry(entry_id)
    return current
