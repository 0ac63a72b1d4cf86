"""Errors of ingest that the CLI and API translate (a connector's own errors are
``connectors.sdk.ConnectorError``; they are reported, not raised, by a sync run).

IngestError (HubError)
 ├── NoSuchEntry        no quarantine entry with that id
 ├── CannotResubmit     the entry's source or stream cannot be found to run it through
 │                      again (source not in sources.yaml, stream gone, source fails to open)
 └── ClaimLost          a worker's lease on a stream lapsed and another worker holds it now:
                        the batch in flight is rolled back, the stream left to the other
"""

from __future__ import annotations

from hub.errors import HubError


class IngestError(HubError):
    pass


class NoSuchEntry(IngestError, LookupError):
    def __init__(self, entry_id: int) -> None:
        self.entry_id = entry_id
        super().__init__(f"no quarantine entry {entry_id}")


class CannotResubmit(IngestError):
    def __init__(self, entry_id: int, reason: str) -> None:
        self.entry_id = entry_id
        self.reason = reason
        super().__init__(f"cannot re-submit entry {entry_id}: {reason}")


class ClaimLost(IngestError):
    def __init__(self, source: str, stream: str, worker: str) -> None:
        self.source = source
        self.stream = stream
        self.worker = worker
        super().__init__(
            f"{source}/{stream}: worker {worker} no longer holds the claim (its lease lapsed);"
            " the batch in flight was rolled back"
        )
