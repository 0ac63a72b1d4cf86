"""Ingest: connector streams into the store, invalid rows into the quarantine."""

from hub.ingest.judging import source_key_of
from hub.ingest.sync import StreamReport, new_run_id, sync_stream

__all__ = ["StreamReport", "new_run_id", "source_key_of", "sync_stream"]
