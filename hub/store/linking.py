"""One real person, house, unit or address as every source describes it (一人一档).

Records of different sources with the same natural key share a ``link_key``; the linked
view lists, per field, each distinct value with the sources that gave it and when, so a
reader sees where the police and the grid agree and where they differ.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.store.store import Store, StoredRecord


@dataclass(frozen=True, slots=True)
class Attestation:
    value: Any
    source_system: str
    updated: dt.datetime


@dataclass
class LinkedRecord:
    kind: str
    key: str
    records: list[StoredRecord]
    fields: dict[str, list[Attestation]] = field(default_factory=dict)

    @property
    def sources(self) -> list[str]:
        return sorted({r.provenance.source_system for r in self.records})

    def agreed(self, name: str) -> Any:
        """The value every source gives for ``name``, or None when they differ."""
        values = {repr(a.value) for a in self.fields.get(name, [])}
        return self.fields[name][0].value if len(values) == 1 else None


def linked_record(store: Store, kind: str, key: str) -> LinkedRecord | None:
    """Every source's record of the ``kind`` whose natural key is ``key``, merged."""
    records = store.linked_by_key(kind, key)
    if not records:
        return None
    linked = LinkedRecord(kind, key, records)
    for stored in sorted(records, key=lambda r: r.provenance.last_updated, reverse=True):
        for name, value in stored.record.model_dump().items():
            if value is None or value == []:
                continue
            linked.fields.setdefault(name, []).append(
                Attestation(value, stored.provenance.source_system, stored.provenance.last_updated)
            )
    return linked
