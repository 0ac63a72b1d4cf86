"""The hub's record store: tables generated from the contracts, sensitive fields sealed."""

from hub.store.keyring import Keyring
from hub.store.store import (
    Provenance,
    Store,
    StoredRecord,
    Transaction,
    UpsertCounts,
    engine_for,
)
from hub.store.tables import KIND_TABLES, KindTable, metadata

__all__ = [
    "KIND_TABLES",
    "Keyring",
    "KindTable",
    "Provenance",
    "Store",
    "StoredRecord",
    "Transaction",
    "UpsertCounts",
    "engine_for",
    "metadata",
]
