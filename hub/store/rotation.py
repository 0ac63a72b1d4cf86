"""Data-key rotation: every sealed value moved to a new key, in batches, resumable.

A rotation has three steps, each safe to be killed at any point:

1. ``start_rotation``: a new data key is added and made active, and the key file is saved
   (atomically, mode 0600) before any value moves. From then on the key file holds the
   new key and the old ones ("draining"), so every value opens whichever key it is under.
2. ``drain``: every sealed value not under the active key (every column the table
   definitions declare sealed: records' sealed fields, quarantine payloads, signing keys,
   webhook secrets, queued submissions) is opened and sealed again under the
   active key with the same associated data, in batches by primary key, each batch one
   transaction (its rows locked: ``FOR UPDATE`` on PostgreSQL, ``BEGIN IMMEDIATE`` on
   SQLite), so a concurrent write to a row is never overwritten with an older value.
   Re-running it continues where it stopped: the rows already moved no longer match.
   A value that opens under no key is reported (table, column, row id; never the value)
   and left as it is, not dropped.
3. ``retire_drained``: a full scan counts the values not under the active key; only when
   it finds none are the draining keys retired (their material removed from the key
   file, their ids kept under ``retired``). A value that would not open keeps its key.

Resuming is explicit: ``hub keys rotate`` refuses while keys are still draining and
``hub keys rotate --resume`` does steps 2 and 3 without adding a key, so a killed rotation
never piles up keys. Processes that hold the keyring in memory (``hub serve``, a running
``hub sync``) read the key file at start: restart them after step 1 (they would not open
values sealed under the new key, and would keep sealing under the old one, which step 3
then finds and refuses to retire).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, func, or_, select, update

from hub.errors import KeyringError
from hub.store.store import Store
from hub.store.tables import SealedContext, metadata, sealed_columns

DEFAULT_BATCH = 500


@dataclass(frozen=True, slots=True)
class SealedTable:
    table: Table
    key: str
    """The primary key column: batches go in its order."""
    columns: tuple[tuple[str, SealedContext], ...]
    """Each sealed column's name and how its row gives the associated data."""
    reads: tuple[str, ...]
    """Every column a batch selects: the key, the sealed columns, and what contexts name."""


def sealed_tables() -> list[SealedTable]:
    """Every table of the store holding values sealed with a data key: the columns the
    table definitions declare sealed (``hub.store.tables.sealed``)."""
    found = []
    for table in metadata.sorted_tables:
        declared = sealed_columns(table)
        if not declared:
            continue
        [key] = [c.name for c in table.primary_key.columns]
        found.append(
            SealedTable(
                table,
                key,
                tuple((c.name, context) for c, context in declared),
                tuple(c.name for c in table.columns),
            )
        )
    return found


@dataclass(frozen=True, slots=True)
class Unreadable:
    """A sealed value that opened under no key of the keyring: where it is, and why."""

    table: str
    column: str
    row: str
    reason: str


@dataclass(frozen=True, slots=True)
class Progress:
    table: str
    moved: int
    """Values moved in this table so far in this run."""
    total: int
    """Values moved in every table so far in this run."""


@dataclass
class DrainReport:
    moved: dict[str, int] = field(default_factory=dict)
    unreadable: list[Unreadable] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(self.moved.values())


class RotationUnfinished(KeyringError):
    """A new rotation was asked for while an earlier one still has keys to drain."""


def _stale(table: Table, name: str, active: str) -> ColumnElement[bool]:
    """``name`` holds a value not sealed under key ``active`` (an exact prefix test:
    SQLite's LIKE ignores case)."""
    prefix = f"{active}."
    column = table.c[name]
    return and_(column.is_not(None), func.substr(column, 1, len(prefix)) != prefix)


def start_rotation(store: Store, key_file: Path) -> str:
    """Add a new active data key and save the key file; returns the new key's id.

    Refused (``RotationUnfinished``) while an earlier rotation still has keys draining."""
    keyring = store.keyring
    if keyring.draining:
        raise RotationUnfinished(
            f"a rotation is unfinished (keys {', '.join(keyring.draining)} still held); "
            "finish it with `hub keys rotate --resume`"
        )
    kid = keyring.rotate()
    keyring.save(key_file)
    return kid


def drain(
    store: Store,
    batch_size: int = DEFAULT_BATCH,
    on_batch: Callable[[Progress], None] | None = None,
) -> DrainReport:
    """Move every sealed value not under the active key to it, ``batch_size`` rows a
    transaction. Values that open under no key are reported in the result, untouched."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = DrainReport()
    for target in sealed_tables():
        report.moved[target.table.name] = 0
        _drain_table(store, target, batch_size, report, on_batch)
    return report


def _drain_table(
    store: Store,
    target: SealedTable,
    batch_size: int,
    report: DrainReport,
    on_batch: Callable[[Progress], None] | None,
) -> None:
    keyring = store.keyring
    table, active = target.table, keyring.active
    prefix = f"{active}."
    key = table.c[target.key]
    names = [name for name, _ in target.columns]
    stale = or_(*(_stale(table, name, active) for name in names))
    after: Any = None
    while True:
        query = select(*(table.c[n] for n in target.reads)).where(stale)
        if after is not None:
            query = query.where(key > after)
        query = query.order_by(key).limit(batch_size).with_for_update()
        moved = 0
        with store.begin() as tx:
            rows = tx.conn.execute(query).all()
            for row in rows:
                values = row._mapping
                fresh: dict[str, str] = {}
                for name, context_of in target.columns:
                    sealed = values[name]
                    if sealed is None or sealed.startswith(prefix):
                        continue
                    context = context_of(dict(values))
                    try:
                        clear = keyring.decrypt(sealed, context)
                    except KeyringError as exc:
                        where = (table.name, name, str(values[target.key]))
                        report.unreadable.append(Unreadable(*where, str(exc)))
                        continue
                    fresh[name] = keyring.encrypt(clear, context)
                if fresh:
                    tx.conn.execute(update(table).where(key == values[target.key]).values(fresh))
                    moved += len(fresh)
        if not rows:
            return
        after = rows[-1]._mapping[target.key]
        report.moved[table.name] += moved
        if on_batch is not None:
            on_batch(Progress(table.name, report.moved[table.name], report.total))


def remaining(store: Store) -> dict[str, int]:
    """The scan: per ``table.column``, how many values are not under the active key
    (only those with any)."""
    active = store.keyring.active
    left: dict[str, int] = {}
    with store.engine.connect() as conn:
        for target in sealed_tables():
            for name, _ in target.columns:
                query = (
                    select(func.count())
                    .select_from(target.table)
                    .where(_stale(target.table, name, active))
                )
                count = int(conn.execute(query).scalar_one())
                if count:
                    left[f"{target.table.name}.{name}"] = count
    return left


def retire_drained(store: Store, key_file: Path) -> tuple[list[str], dict[str, int]]:
    """Retire every draining key if the scan finds no value left off the active key, and
    save the key file; returns the keys retired (none if any value is left) and what the
    scan found."""
    left = remaining(store)
    keyring = store.keyring
    if left:
        return [], left
    retired = keyring.draining
    for kid in retired:
        keyring.retire(kid)
    if retired:
        keyring.save(key_file)
    return retired, left
