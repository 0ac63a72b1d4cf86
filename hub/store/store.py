"""The record store: SQLAlchemy 2 Core over SQLite (embedded default) or PostgreSQL."""

from __future__ import annotations

import datetime as dt
import json
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import (
    ARRAY,
    JSON,
    ColumnElement,
    Connection,
    Engine,
    String,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.engine import make_url

from contracts import Record, contract
from hub.errors import KeyringError
from hub.store import schema
from hub.store.codec import Sealed, decode, decode_values, field_columns, seal
from hub.store.indexstate import REFRESH_SECONDS, IndexState, hold_state, holding, read_state
from hub.store.keyring import Keyring
from hub.store.suite import CryptoSuite, SigningKey
from hub.store.tables import (
    KIND_TABLES,
    SEALED_KEY_PREFIX,
    KindTable,
    index_keys,
    quarantine,
    sync_state,
)
from policies import PseudonymKey


@dataclass(frozen=True, slots=True)
class Provenance:
    source_system: str
    source_key: str
    contract_version: int
    first_seen: dt.datetime
    last_updated: dt.datetime
    content_hash: str
    inactive_since: dt.datetime | None = None
    """When the source deleted the record or stopped listing it (``hub.store.lifecycle``)."""
    inactive_reason: str | None = None


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    source_system: str
    stream: str
    kind: str
    source_key: str
    row: dict[str, Any]
    failures: list[dict[str, Any]]
    id: int | None = None
    run_id: str | None = None
    status: str = "open"


@dataclass(frozen=True, slots=True)
class StoredRecord:
    id: int
    record: Record
    provenance: Provenance


@dataclass(slots=True)
class UpsertCounts:
    """Per record given: inserted, updated, unchanged, or superseded by a later record
    with the same source key in the same call (only the last one is written)."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    superseded: int = 0
    changed: list[tuple[str, int]] = field(default_factory=list)
    """(kind, id) of every record this one call inserted or updated (what ``record.changed``
    tells of). ``+=`` sums the counts, not these: a sync's report would hold every id."""

    def __iadd__(self, other: UpsertCounts) -> UpsertCounts:
        self.inserted += other.inserted
        self.updated += other.updated
        self.unchanged += other.unchanged
        self.superseded += other.superseded
        return self

    @property
    def total(self) -> int:
        return self.inserted + self.updated + self.unchanged + self.superseded


def engine_for(url: str) -> Engine:
    """An engine for ``url``; bare ``postgresql://`` URLs use psycopg 3."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(parsed)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(parsed, pool_pre_ping=True)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # 64 MiB of page cache instead of 2: a batch's inserts land at random places in a dozen
    # blind and code indexes, which miss a small cache ever more as the store grows.
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def begin_immediate(conn: Connection) -> None:
    """Open the transaction on SQLite with ``BEGIN IMMEDIATE`` (pysqlite's own implicit
    ``BEGIN`` would come only at the first write, after the reads). pysqlite commits a
    transaction it did not open itself, so SQLAlchemy's commit and rollback end it normally.
    A no-op elsewhere, and once the transaction has begun."""
    if conn.dialect.name != "sqlite":
        return
    if not getattr(conn.connection.driver_connection, "in_transaction", False):
        conn.exec_driver_sql("BEGIN IMMEDIATE")


class Store:
    def __init__(self, engine: Engine, keyring: Keyring, key_file: Path | None = None) -> None:
        self.engine = engine
        self.keyring = keyring
        self.key_file = key_file
        """Read again when the database names an index key the keyring does not hold."""
        self.index_refresh = REFRESH_SECONDS
        """How old the reading of the index state a look-up relies on may be."""
        self._state = IndexState(None)
        self._state_read: float | None = None
        self._has_index_state = False

    @classmethod
    def open(cls, url: str, keyring: Keyring, key_file: Path | None = None) -> Store:
        return cls(engine_for(url), keyring, key_file)

    def create_schema(self) -> None:
        """Bring the database to the head revision of the migrations (``hub.store.schema``)."""
        schema.upgrade(self.engine)

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def begin(self) -> Iterator[Transaction]:
        """One database transaction: everything written in it commits or none of it does.

        On SQLite it begins IMMEDIATE, taking the write lock before anything is read, so a
        transaction that reads and then writes (the audit head, a record's version) never
        finds the snapshot it read overtaken by another writer.

        The transaction blind-indexes what it writes under the index key the rows are
        under as of its own snapshot (``hub.store.indexstate``): compute an index you
        write inside the transaction that writes it (``Transaction.blind_index``,
        ``link_key``, ``seal_source_key``), never before it.
        """
        with self.engine.begin() as conn:
            begin_immediate(conn)
            yield Transaction(conn, self._indexing(conn, hold=True))

    def _indexing(self, conn: Connection, *, hold: bool = False) -> Keyring:
        """The keyring indexing under the key in force; ``hold``: in a writing transaction."""
        if self._has_index_state or inspect(conn).has_table(index_keys.name):
            self._has_index_state = True
            self._state = hold_state(conn) if hold else read_state(conn)
        self._state_read = time.monotonic()
        indexing = holding(self.keyring, self._state, self.key_file)
        self.keyring = indexing.base
        return indexing

    def index_state(self) -> IndexState:
        """Which index key the rows are under, and any rotation under way."""
        with self.engine.connect() as conn:
            self._indexing(conn)
        return self._state

    def _current(self) -> Keyring:
        """The keyring indexing under the key in force now: read from the database while
        a rotation is under way, else as last read (within ``index_refresh``)."""
        rotating = self.keyring.next_index_key is not None or self._state.rotating
        read = self._state_read
        if rotating or read is None or time.monotonic() - read >= self.index_refresh:
            with self.engine.connect() as conn:
                return self._indexing(conn)
        return holding(self.keyring, self._state, self.key_file)

    def blind_index(self, value: str) -> str:
        """The keyed index of a sealed value, under the key in force: what audit entries
        hold in place of an ID number or phone. A look-up matches ``index_forms``."""
        return self._current().blind_index(value)

    def index_forms(self, value: str) -> list[str]:
        """``value``'s blind index under each key rows may be under: one, and during a
        rotation the next key's too. At any moment every row holding the value holds the
        same one of them (``hub.store.reindex``), so a look-up matching either finds all."""
        holds_next = self.keyring.next_index_key is not None
        keyring = self.keyring if holds_next else self._current().base
        return [keyring.blind_index(value, kid) for kid in keyring.index_keys()]

    def every_blind_index(self, value: str) -> list[str]:
        """``value`` under every index key there ever was: for the audit log, whose
        entries keep the index of their day."""
        return self.keyring.every_blind_index(value)

    def link_key(self, natural_key: str) -> str:
        """The ``link_key`` of records whose natural key is ``natural_key``, in any source,
        under the key in force; a look-up matches ``index_forms(natural_key)``."""
        return self._current().blind_index(natural_key)

    def seal_source_key(self, key: str) -> str:
        """A source key that is itself a sealed value (an ID number), as it may be stored:
        source keys are kept in clear."""
        return SEALED_KEY_PREFIX + self._current().blind_index(key)

    def sealer(self) -> Sealer:
        """A sealer indexing under the key in force now, for records a transaction of this
        store writes later (``Transaction.upsert_sealed`` checks the key still is)."""
        return Sealer(self._current())

    def partner_key(self, partner: str, use: str) -> bytes:
        """A key of this partner's own for ``use`` (``pseudonym``, ``record-id``): what one
        partner is given under it cannot be joined with what another is given."""
        return self.keyring.partner_key(f"hub {use} v1:{partner}".encode())

    def pseudonym_key(self, partner: str) -> PseudonymKey:
        """This partner's pseudonym key, with the hash of the hub's suite (HMAC-SHA256 or
        HMAC-SM3)."""
        secret = self.partner_key(partner, "pseudonym")
        return PseudonymKey(secret, self.keyring.suite.hash_name)

    @property
    def suite(self) -> CryptoSuite:
        """The crypto suite the hub was made with (``hub.store.suite``)."""
        return self.keyring.suite

    def audit_signing_key(self) -> SigningKey:
        return self.keyring.audit_signing_key()

    def audit_keys_on_file(self) -> list[SigningKey]:
        """The audit keys the key file holds now, read again: a rotation by another process
        may have added the one the log has moved to."""
        if self.key_file is None:
            return []
        return Keyring.load(self.key_file).audit_keys_held()

    def seal(self, clear: str, context: str) -> str:
        return self.keyring.encrypt(clear, context)

    def unseal(self, sealed: str, context: str) -> str:
        return self.keyring.decrypt(sealed, context)

    def load_state(self, source_system: str, stream: str) -> dict[str, Any] | None:
        return self.load_read(source_system, stream)[0]

    def load_read(
        self, source_system: str, stream: str
    ) -> tuple[dict[str, Any] | None, str | None]:
        """A stream's saved state, and the full read it is part of (None: not one)."""
        query = select(sync_state.c.state, sync_state.c.read_id).where(
            sync_state.c.source_system == source_system, sync_state.c.stream == stream
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return (None, None) if row is None else (row.state, row.read_id)

    def quarantined(self, status: str = "open") -> list[QuarantinedRow]:
        query = select(quarantine).where(quarantine.c.status == status).order_by(quarantine.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self._quarantined(row) for row in rows]

    def quarantined_row(self, entry_id: int) -> QuarantinedRow | None:
        query = select(quarantine).where(quarantine.c.id == entry_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self._quarantined(row)

    def _quarantined(self, row: Any) -> QuarantinedRow:
        m = row._mapping
        payload = json.loads(self.keyring.decrypt(m["payload"], "quarantine.payload"))
        return QuarantinedRow(
            id=m["id"],
            run_id=m["run_id"],
            source_system=m["source_system"],
            stream=m["stream"],
            kind=m["kind"],
            source_key=m["source_key"],
            row=payload["row"],
            failures=payload["failures"],
            status=m["status"],
        )

    def get(self, kind: str, source_system: str, source_key: str) -> StoredRecord | None:
        kt = kind_table(kind)
        query = select(kt.table).where(
            kt.table.c.source_system == source_system, kt.table.c.source_key == source_key
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else self.stored(kt, row)

    def records(self, kind: str, source_system: str | None = None) -> Iterator[StoredRecord]:
        """Every stored record of ``kind`` (of one source system if given), decrypted, by id."""
        kt = kind_table(kind)
        query = select(kt.table).order_by(kt.table.c.id)
        if source_system is not None:
            query = query.where(kt.table.c.source_system == source_system)
        with self.engine.connect() as conn:
            result = conn.execution_options(yield_per=1000).execute(query)
            try:
                for row in result:
                    yield self.stored(kt, row)
            finally:
                result.close()

    def linked(self, record: Record) -> list[StoredRecord]:
        """Every stored record, from any source, with the same natural key as ``record``."""
        return self.linked_by_key(record.kind, record.natural_key())

    def linked_by_key(self, kind: str, natural_key: str) -> list[StoredRecord]:
        kt = kind_table(kind)
        links = self.index_forms(natural_key)
        query = select(kt.table).where(kt.table.c.link_key.in_(links)).order_by(kt.table.c.id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [self.stored(kt, row) for row in rows]

    def count(self, kind: str) -> int:
        kt = kind_table(kind)
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(kt.table)).scalar_one())

    def values(self, kt: KindTable, row: Any, names: Iterable[str]) -> dict[str, Any]:
        """The fields ``names`` of a table row, decrypted and re-typed."""
        return decode_values(kt, row, self.keyring, names)

    def stored(self, kt: KindTable, row: Any) -> StoredRecord:
        return _stored(kt, row, self.keyring)


def _stored(kt: KindTable, row: Any, keyring: Keyring) -> StoredRecord:
    m = row._mapping
    return StoredRecord(
        id=m["id"],
        record=decode(kt, row, keyring),
        provenance=Provenance(
            source_system=m["source_system"],
            source_key=m["source_key"],
            contract_version=m["contract_version"],
            first_seen=m["first_seen"],
            last_updated=m["last_updated"],
            content_hash=m["content_hash"],
            inactive_since=m["inactive_since"],
            inactive_reason=m["inactive_reason"],
        ),
    )


class Sealer:
    """Seals records as their rows hold them, indexing under one index key.

    A ``Transaction`` is one, indexing under the key its rows are under. ``Store.sealer``
    gives one outside any transaction, to seal ahead of the writing transaction (in the
    worker processes of a parallel sync): ``Transaction.upsert_sealed`` refuses what was
    indexed under another key than its own, so a rotation between the two is never missed.
    """

    def __init__(self, keyring: Keyring) -> None:
        self.keyring = keyring
        """Indexing under the key the rows are under in this transaction."""

    @property
    def index_key(self) -> str:
        """The id of the index key this sealer's blind indexes are under."""
        return self.keyring.indexing_key_id

    def blind_index(self, value: str) -> str:
        return self.keyring.blind_index(value)

    def link_key(self, natural_key: str) -> str:
        return self.keyring.blind_index(natural_key)

    def seal_source_key(self, key: str) -> str:
        return SEALED_KEY_PREFIX + self.keyring.blind_index(key)

    def seal(self, record: Record) -> Sealed:
        """``record`` as its table row holds it (``codec.seal``)."""
        return seal(kind_table(record.kind), record, self.keyring)


class Transaction(Sealer):
    """Writes inside one transaction of the store."""

    def __init__(self, conn: Connection, keyring: Keyring) -> None:
        super().__init__(keyring)
        self.conn = conn

    def locked(self, kind: str, record_id: int) -> StoredRecord | None:
        """Record ``record_id``, its row locked until the transaction ends, so that what is
        decided on it still holds at commit: ``SELECT … FOR UPDATE`` on PostgreSQL; on
        SQLite the transaction began IMMEDIATE and already holds the database's write lock."""
        kt = kind_table(kind)
        query = select(kt.table).where(kt.table.c.id == record_id).with_for_update()
        row = self.conn.execute(query).first()
        return None if row is None else _stored(kt, row, self.keyring)

    def key_owners(self, source_system: str, kind: str, link_keys: list[str]) -> dict[str, str]:
        """For each natural key (as ``link_key``) this source already holds: its source key."""
        table = kind_table(kind).table
        query = select(table.c.link_key, table.c.source_key).where(
            table.c.source_system == source_system, any_of(self.conn, table.c.link_key, link_keys)
        )
        return {link: key for link, key in self.conn.execute(query)}

    def located(
        self, kind: str, source_system: str, source_keys: list[str]
    ) -> dict[str, tuple[int, str]]:
        """For each source key this source holds: the record's id and ``link_key``."""
        table = kind_table(kind).table
        query = select(table.c.source_key, table.c.id, table.c.link_key).where(
            table.c.source_system == source_system,
            any_of(self.conn, table.c.source_key, source_keys),
        )
        found = self.conn.execute(query).all()
        return {source_key: (record_id, link) for source_key, record_id, link in found}

    def records_of(
        self, kind: str, source_system: str, source_keys: list[str]
    ) -> dict[str, Record]:
        """The records this source holds under ``source_keys``, by source key."""
        kt = kind_table(kind)
        query = select(kt.table).where(
            kt.table.c.source_system == source_system, kt.table.c.source_key.in_(source_keys)
        )
        return {row.source_key: decode(kt, row, self.keyring) for row in self.conn.execute(query)}

    def linked_elsewhere(
        self, kind: str, source_system: str, link_keys: list[str]
    ) -> dict[str, list[Record]]:
        """Records of other sources sharing each ``link_key``: the same real thing."""
        kt = kind_table(kind)
        query = select(kt.table).where(
            kt.table.c.source_system != source_system, kt.table.c.link_key.in_(link_keys)
        )
        found: dict[str, list[Record]] = {}
        for row in self.conn.execute(query):
            found.setdefault(row.link_key, []).append(decode(kt, row, self.keyring))
        return found

    def save_state(
        self,
        source_system: str,
        stream: str,
        state: dict[str, Any],
        now: dt.datetime,
        read_id: str | None = None,
    ) -> None:
        """Save a stream's state; ``read_id``: the full read it is part of."""
        key = (sync_state.c.source_system == source_system) & (sync_state.c.stream == stream)
        values = {"state": state, "updated_at": now, "read_id": read_id}
        done = self.conn.execute(update(sync_state).where(key).values(**values))
        if done.rowcount == 0:
            self.conn.execute(
                sync_state.insert().values(source_system=source_system, stream=stream, **values)
            )

    def forget_state(self, source_system: str, stream: str) -> None:
        """The stream's next read starts from the beginning (a full read has ended)."""
        key = (sync_state.c.source_system == source_system) & (sync_state.c.stream == stream)
        self.conn.execute(sync_state.delete().where(key))

    def quarantine(self, run_id: str, rows: list[QuarantinedRow], now: dt.datetime) -> None:
        """Keep rows that broke a contract; one open entry per source row, kept current."""
        for entry in rows:
            payload = json.dumps(
                {"row": entry.row, "failures": entry.failures}, ensure_ascii=False, default=str
            )
            values = {
                "run_id": run_id,
                "kind": entry.kind,
                "rules": sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in entry.failures}),
                "payload": self.keyring.encrypt(payload, "quarantine.payload"),
                "status": "open",
                "last_seen": now,
            }
            key = (
                (quarantine.c.source_system == entry.source_system)
                & (quarantine.c.stream == entry.stream)
                & (quarantine.c.source_key == entry.source_key)
            )
            if self.conn.execute(update(quarantine).where(key).values(**values)).rowcount == 0:
                self.conn.execute(
                    quarantine.insert().values(
                        source_system=entry.source_system,
                        stream=entry.stream,
                        source_key=entry.source_key,
                        first_seen=now,
                        **values,
                    )
                )

    def resolve_quarantined(self, source_system: str, stream: str, source_keys: list[str]) -> None:
        """Close open entries whose source rows have now been stored."""
        if not source_keys:
            return
        self.conn.execute(
            update(quarantine)
            .where(
                quarantine.c.source_system == source_system,
                quarantine.c.stream == stream,
                any_of(self.conn, quarantine.c.source_key, source_keys),
                quarantine.c.status == "open",
            )
            .values(status="resolved")
        )

    def upsert(
        self,
        source_system: str,
        records: Iterable[tuple[str, Record]],
        now: dt.datetime | None = None,
    ) -> UpsertCounts:
        """Insert or update ``(source_key, record)`` pairs of one source, by source key.

        A record whose content hash is unchanged is not written at all, so re-running a
        sync is a no-op. Records may be of several kinds.
        """
        sealed = [(key, self.seal(record)) for key, record in records]
        return self.upsert_sealed(source_system, sealed, now)

    def upsert_sealed(
        self,
        source_system: str,
        records: Iterable[tuple[str, Sealed]],
        now: dt.datetime | None = None,
    ) -> UpsertCounts:
        """``upsert`` of records sealed beforehand (``codec.seal``), possibly in another
        process. KeyringError if one was indexed under another index key than this
        transaction's rows are under: the caller seals it again, here."""
        now = now or dt.datetime.now(dt.UTC)
        in_force = self.keyring.indexing_key_id
        by_kind: dict[str, dict[str, Sealed]] = {}
        counts = UpsertCounts()
        for source_key, record in records:
            if record.index_key != in_force:
                raise KeyringError(
                    f"{record.kind} {source_key} was indexed under key {record.index_key}, "
                    f"the rows are under {in_force}"
                )
            batch = by_kind.setdefault(record.kind, {})
            counts.superseded += source_key in batch
            batch[source_key] = record
        for kind, batch in by_kind.items():
            done = self._upsert_kind(kind_table(kind), source_system, batch, now)
            counts += done
            counts.changed += done.changed
        return counts

    def _upsert_kind(
        self, kt: KindTable, source_system: str, batch: dict[str, Sealed], now: dt.datetime
    ) -> UpsertCounts:
        table = kt.table
        query = select(table.c.source_key, table.c.id, table.c.content_hash).where(
            table.c.source_system == source_system,
            any_of(self.conn, table.c.source_key, list(batch)),
        )
        found = self.conn.execute(query).all()
        existing = {key: (record_id, digest) for key, record_id, digest in found}
        inserts: list[tuple[Any, ...]] = []
        updates: list[dict[str, Any]] = []
        counts = UpsertCounts()
        names = field_columns(kt)
        for source_key, record in batch.items():
            held = existing.get(source_key)
            if held is None:
                provenance = (source_system, source_key, record.link_key, record.version)
                inserts.append((*provenance, now, now, record.content_hash, *record.values))
            elif held[1] == record.content_hash:
                counts.unchanged += 1
            else:
                row = dict(zip(names, record.values, strict=True))
                row.update(
                    link_key=record.link_key,
                    contract_version=record.version,
                    last_updated=now,
                    content_hash=record.content_hash,
                    _source_key=source_key,
                )
                updates.append(row)
                counts.changed.append((kt.model.kind, held[0]))
        if inserts:
            _insert_many(self.conn, kt, inserts)
            ids = self.located(kt.model.kind, source_system, [row[1] for row in inserts])
            counts.changed += [(kt.model.kind, ids[row[1]][0]) for row in inserts]
            counts.inserted = len(inserts)
        if updates:
            statement = (
                update(table)
                .where(table.c.source_system == source_system)
                .where(table.c.source_key == bindparam("_source_key"))
            )
            self.conn.execute(statement, updates)
            counts.updated = len(updates)
        return counts


def any_of(conn: Connection, column: ColumnElement[Any], values: list[str]) -> ColumnElement[bool]:
    """``column IN values`` as one bound parameter (a JSON array on SQLite, an array on
    PostgreSQL) rather than one per value: a batch's look-up by thousands of keys is one
    statement compiled once, not one compiled for every length of list."""
    if conn.dialect.name == "postgresql":
        return column == any_(bindparam(None, values, type_=ARRAY(String)))
    listed = func.json_each(bindparam(None, json.dumps(values), type_=String)).table_valued("value")
    return column.in_(select(listed.c.value))


_PROVENANCE = (
    "source_system",
    "source_key",
    "link_key",
    "contract_version",
    "first_seen",
    "last_updated",
    "content_hash",
)


@dataclass(frozen=True, slots=True)
class _InsertMany:
    """A kind table's INSERT compiled once for a dialect, with each column's bind
    processor: a batch is one ``executemany`` of plain tuples through the DBAPI."""

    sql: str
    named: bool
    """Parameters by name (PostgreSQL's psycopg), else by position (SQLite)."""
    order: tuple[int, ...] | None
    """By position: the index into a row of each placeholder; None: a row's own order."""
    names: tuple[str, ...]
    processors: tuple[tuple[int, Any, bool], ...]
    """(index into a row, processor, values hashable) of the columns whose type converts
    values."""


_INSERTS: dict[tuple[str, str], _InsertMany] = {}


def _insert_many(conn: Connection, kt: KindTable, rows: list[tuple[Any, ...]]) -> None:
    """Insert ``rows`` (provenance then field columns, as ``_upsert_kind`` builds them)."""
    dialect = conn.dialect
    statement = _INSERTS.get((kt.model.kind, dialect.name))
    if statement is None:
        statement = _INSERTS[(kt.model.kind, dialect.name)] = _compile_insert(kt, dialect)
    if statement.processors:
        # Values repeat (a batch's one time, a code, a date): each converted once.
        converted = [list(row) for row in rows]
        for index, process, repeats in statement.processors:
            seen: dict[Any, Any] = {}
            for values in converted:
                value = values[index]
                if value is None:
                    continue
                if not repeats:
                    values[index] = process(value)
                elif value in seen:
                    values[index] = seen[value]
                else:
                    values[index] = seen[value] = process(value)
        rows = [tuple(values) for values in converted]
    params: list[Any] = rows
    if statement.named:
        params = [dict(zip(statement.names, row, strict=True)) for row in rows]
    elif statement.order is not None:
        order = statement.order
        params = [tuple(row[i] for i in order) for row in rows]
    conn.exec_driver_sql(statement.sql, params)


def _compile_insert(kt: KindTable, dialect: Any) -> _InsertMany:
    names = (*_PROVENANCE, *field_columns(kt))
    compiled = kt.table.insert().compile(dialect=dialect, column_keys=list(names))
    processors = []
    for index, name in enumerate(names):
        column_type = kt.table.c[name].type
        process = column_type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((index, process, not isinstance(column_type, JSON)))
    order = None
    if compiled.positional:
        position = {name: index for index, name in enumerate(names)}
        order = tuple(position[name] for name in compiled.positiontup or ())
        if order == tuple(range(len(names))):
            order = None
    return _InsertMany(compiled.string, not compiled.positional, order, names, tuple(processors))


def kind_table(kind: str) -> KindTable:
    contract(kind)
    return KIND_TABLES[kind]
