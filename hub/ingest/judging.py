"""Judging and sealing the rows of one batch: the work a sync does before it writes.

``judge`` is the one place rows are judged (mapping, then the contract); ``prepare`` adds
what the writing transaction needs of each row: its source key, and for a valid record its
sealed row (encrypted, blind-indexed, hashed). Neither touches the database, so both run in
the worker processes of a parallel sync (``hub.ingest.pipeline``) as well as in the writing
process.

With a grid registry (``hub.grids``), a record the contract accepts is also held to the
registry's rules (its grid, its beat, their agreement, its address's area code): a row
breaking one goes to quarantine like one the contract refused. Without a registry the
codes are not checked against one (a hub that has loaded none accepts any grid code).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from connectors.sdk import Stream
from contracts import Record, RecordInvalid, header_names
from hub.grids import GridRegistry
from hub.store import Sealed, Sealer

Judged = Record | list[dict[str, Any]]
"""A row's outcome: its valid record, or the failures that send it to quarantine."""


def judge(
    stream: Stream, rows: list[dict[str, Any]], registry: GridRegistry | None = None
) -> list[Judged]:
    """Each row mapped to the stream's contract and validated, then held to ``registry``
    if there is one: a record or its failures."""
    model = stream.model
    apply = stream.mapping.compiled(model)
    judged: list[Judged] = []
    for row in rows:
        try:
            record = model.parse(apply(row))
        except RecordInvalid as exc:
            judged.append([f.as_dict() for f in exc.failures])
            continue
        if registry is not None:
            failures = registry.check_record(record)
            if failures:
                judged.append(failures)
                continue
        judged.append(record)
    return judged


@dataclass(frozen=True, slots=True)
class Prepared:
    """A judged and sealed batch, ready for its writing transaction."""

    index_key: str
    """The index key the blind indexes in it (sealed source keys too) are under."""
    keys: list[str]
    """Each row's source key."""
    outcomes: list[Sealed | list[dict[str, Any]]]
    """Each row's sealed record, or its failures."""
    records: list[Record | None] | None
    """Each row's record, for a stream whose writes need the records themselves
    (``self_declared``: the verification tasks); None otherwise."""


def prepare(
    stream: Stream,
    rows: list[dict[str, Any]],
    sealer: Sealer,
    judged: list[Judged] | None = None,
    registry: GridRegistry | None = None,
) -> Prepared:
    """Judge ``rows`` (unless given ``judged``) against their contract and ``registry``,
    and seal the valid ones with ``sealer``."""
    if judged is None:
        judged = judge(stream, rows, registry)
    seal_key = sealer.seal_source_key if key_is_sealed(stream) else None
    keys = [source_key_of(stream, row, seal_key) for row in rows]
    outcomes: list[Sealed | list[dict[str, Any]]] = [
        sealer.seal(outcome) if isinstance(outcome, Record) else outcome for outcome in judged
    ]
    records: list[Record | None] | None = None
    if stream.self_declared:
        records = [outcome if isinstance(outcome, Record) else None for outcome in judged]
    return Prepared(sealer.index_key, keys, outcomes, records)


def source_key_of(stream: Stream, row: dict[str, Any], seal: Callable[[str], str] | None) -> str:
    """The row's primary key, or for a row without one a digest of its content.

    A source whose key is itself a sealed value (a spreadsheet keyed by 公民身份号码) gets
    the blind index of it instead: source keys are stored in clear.
    """
    key = row.get(stream.primary_key)
    if key is None or key == "":
        digest = hashlib.sha256(json.dumps(row, sort_keys=True, default=str).encode())
        return "#" + digest.hexdigest()[:32]
    if seal is not None:
        return seal(str(key))
    return str(key)


def key_is_sealed(stream: Stream) -> bool:
    model = stream.model
    fed = [name for name, m in stream.mapping.fields.items() if m.source == stream.primary_key]
    if stream.mapping.passthrough and stream.primary_key in header_names(model):
        fed.append(header_names(model)[stream.primary_key])
    specs = {spec.name: spec for spec in model.specs()}
    return any(specs[name].sensitivity.encrypted_at_rest for name in fed if name in specs)
