"""The hub's record store: tables generated from the contracts, sensitive fields sealed."""

from hub.store.codec import Sealed
from hub.store.keyring import Keyring
from hub.store.store import (
    Provenance,
    QuarantinedRow,
    Sealer,
    Store,
    StoredRecord,
    Transaction,
    UpsertCounts,
    engine_for,
)
from hub.store.tables import KIND_TABLES, KindTable, metadata, quarantine, sync_state

__all__ = [
    "KIND_TABLES",
    "Keyring",
    "KindTable",
    "Provenance",
    "QuarantinedRow",
    "Sealed",
    "Sealer",
    "Store",
    "StoredRecord",
    "Transaction",
    "UpsertCounts",
    "engine_for",
    "metadata",
    "quarantine",
    "sync_state",
]
