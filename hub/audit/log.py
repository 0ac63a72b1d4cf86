"""The append-only, hash-chained audit log with signed checkpoints.

Entry ``seq`` (contiguous from 1) stores the canonical event text, its time, the previous
entry's hash and its own: sha256 over ``prev_hash \\n event \\n seq \\n at``. Only the
event text is free-form and it never holds a raw newline, so the framing is unambiguous.
A checkpoint is an Ed25519 signature over ``f"{seq}:{hash}:{at}"`` of the head at the time.

Appending is serialised so that ``seq`` and ``prev_hash`` are read and written under one
lock, also across processes:

- PostgreSQL: ``pg_advisory_xact_lock`` taken first in the appending transaction, released
  by its commit or rollback. Under READ COMMITTED the next statement then sees the entry
  the previous holder committed.
- SQLite: the transaction opens with ``BEGIN IMMEDIATE``, which takes the database's write
  lock before the head is read (pysqlite's own implicit ``BEGIN`` would come only at the
  INSERT, after the read). Waiting writers queue on the driver's busy timeout (5 s by
  default); pysqlite commits a transaction it did not open itself, so SQLAlchemy's commit
  and rollback end it normally. Every ``Store.begin()`` transaction opens that way, so
  an entry appended inside one (``append(event, tx)``) commits with the change it records.

On any backend the primary key on ``seq`` is the last line: two appenders that somehow read
the same head cannot both write, so the chain never forks.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, text

from hub.audit.entry import AuditEntry, AuditEvent, iso_utc
from hub.audit.search import AuditQuery, index_records, indexed_columns, search_entries
from hub.errors import HubError
from hub.store import Store, Transaction
from hub.store.keyring import ed25519_key_id
from hub.store.store import begin_immediate
from hub.store.tables import audit_checkpoints, audit_log

GENESIS = "0" * 64
"""The ``prev_hash`` of entry 1."""

_PG_LOCK = 0x6875625F61756474
"""The advisory lock key appenders share on PostgreSQL ("hub_audt")."""


class AuditError(HubError):
    """The log cannot do what was asked: no signing key, or an entry that does not decode."""


@dataclass(frozen=True, slots=True)
class Checkpoint:
    seq: int
    hash: str
    at: dt.datetime
    key_id: str
    signature: str


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None = None
    """The first position at which the evidence breaks (see ``AuditLog.verify``)."""
    reason: str | None = None
    checkpoints: int = 0


def entry_hash(prev_hash: str, event: str, seq: int, at: dt.datetime) -> str:
    message = f"{prev_hash}\n{event}\n{seq}\n{iso_utc(at)}"
    return hashlib.sha256(message.encode()).hexdigest()


def checkpoint_message(seq: int, hash_: str, at: dt.datetime) -> bytes:
    return f"{seq}:{hash_}:{iso_utc(at)}".encode()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditLog:
    """Append, checkpoint, verify and search the audit log of one hub database.

    Without ``signing_key`` the log can only be verified (given ``public_key``) and
    searched: that is how an auditor who holds only the public key uses it.
    """

    def __init__(
        self,
        store_or_engine: Store | Engine,
        signing_key: Ed25519PrivateKey | None = None,
        *,
        public_key: Ed25519PublicKey | None = None,
        checkpoint_every: int = 1000,
        checkpoint_interval: float = 60.0,
        clock: Callable[[], dt.datetime] = _now,
    ) -> None:
        if checkpoint_every < 1:
            raise ValueError("checkpoint_every must be at least 1")
        self.store = store_or_engine if isinstance(store_or_engine, Store) else None
        """The store the log lives in, when it was opened on one: transactions that write a
        change and its entry together are begun there."""
        self.engine = (
            store_or_engine.engine if isinstance(store_or_engine, Store) else store_or_engine
        )
        self._signing_key = signing_key
        if signing_key is not None:
            derived = signing_key.public_key()
            if public_key is not None and public_key != derived:
                raise AuditError("the public key given is not the signing key's")
            public_key = derived
        self.public_key = public_key
        self.key_id = None if public_key is None else ed25519_key_id(public_key)
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = dt.timedelta(seconds=checkpoint_interval)
        self._clock = clock

    @classmethod
    def for_store(cls, store: Store, **options: Any) -> AuditLog:
        """The log signed with the audit key of the store's key file."""
        return cls(store, store.audit_signing_key(), **options)

    def append(self, event: AuditEvent, tx: Transaction | None = None) -> int:
        """Add ``event`` at the head of the log and return its ``seq``; signs a checkpoint
        in the same transaction when one is due.

        With ``tx`` the entry is written inside that store transaction, so the change it
        records and the entry commit together or not at all. Append last in the
        transaction: from here to its commit the log's lock is held.
        """
        key = self._require_signing_key()
        body = event.canonical()
        with self._locked(tx) as conn:
            head = self._head(conn)
            seq, prev, at = 1, GENESIS, self._clock()
            if head is not None:
                seq, prev, at = head.seq + 1, head.hash, max(at, head.at)
            digest = entry_hash(prev, body, seq, at)
            conn.execute(
                insert(audit_log).values(
                    seq=seq,
                    at=at,
                    event=body,
                    prev_hash=prev,
                    hash=digest,
                    **indexed_columns(event),
                )
            )
            index_records(conn, seq, event)
            if self._checkpoint_due(conn, seq, at):
                self._sign(conn, key, seq, digest)
        return seq

    def checkpoint(self) -> Checkpoint | None:
        """Sign the current head (or return its checkpoint if it has one); None when empty."""
        key = self._require_signing_key()
        with self._locked() as conn:
            head = self._head(conn)
            if head is None:
                return None
            existing = conn.execute(
                select(audit_checkpoints).where(audit_checkpoints.c.seq == head.seq)
            ).first()
            if existing is not None:
                return _checkpoint(existing)
            return self._sign(conn, key, head.seq, head.hash)

    def checkpoints(self) -> list[Checkpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.seq))
            return [_checkpoint(row) for row in rows]

    def verify(
        self, public_key: Ed25519PublicKey | None = None, *, chunk: int = 1000
    ) -> VerifyResult:
        """Walk the whole log and its checkpoints; stop at the first break.

        Detected: an entry whose text, time or hashes were changed; a ``seq`` missing
        (removed entries), duplicated or out of place (inserted or reordered entries, since
        ``seq`` is in the hash); a broken chain link; a checkpoint whose signature fails,
        that names another key, or whose hash is not the entry's at its ``seq``; and a log
        shorter than its last checkpoint.

        ``first_bad`` is where the evidence breaks, not always the entry that was touched:
        an entry rewritten together with its own hash shows at the next entry, and a chain
        recomputed from some entry onwards shows at the next checkpoint. Entries appended
        after the last checkpoint and then removed leave no trace: a hash chain cannot show
        a cut tail, only checkpoints (kept or copied elsewhere) bound it.

        ``public_key`` lets an auditor verify without the private key; by default the
        key this log was opened with is used.
        """
        key = public_key or self.public_key
        if key is None:
            raise AuditError("verifying the checkpoints needs the audit public key")
        key_id = ed25519_key_id(key)
        checkpoints = {c.seq: c for c in self.checkpoints()}
        expected, prev = 1, GENESIS

        def bad(seq: int, reason: str) -> VerifyResult:
            return VerifyResult(False, expected - 1, seq, reason, len(checkpoints))

        with self.engine.connect() as conn:
            while True:
                query = (
                    select(audit_log)
                    .where(audit_log.c.seq >= expected)
                    .order_by(audit_log.c.seq)
                    .limit(chunk)
                )
                rows = conn.execute(query).all()
                for row in rows:
                    seq = row.seq
                    if seq != expected:
                        return bad(expected, f"entry {expected} is missing (next is {seq})")
                    if entry_hash(row.prev_hash, row.event, seq, row.at) != row.hash:
                        return bad(seq, "hash does not match the entry: entry modified")
                    if row.prev_hash != prev:
                        return bad(seq, "prev_hash is not the hash of the entry before")
                    cp = checkpoints.get(seq)
                    if cp and (reason := _checkpoint_fault(cp, row.hash, key, key_id)):
                        return bad(seq, reason)
                    prev, expected = row.hash, expected + 1
                if len(rows) < chunk:
                    break
        entries = expected - 1
        if beyond := [s for s in checkpoints if s > entries]:
            return bad(entries + 1, f"log ends at {entries} but is checkpointed to {max(beyond)}")
        return VerifyResult(True, entries, checkpoints=len(checkpoints))

    def search(
        self,
        *,
        client_id: str | None = None,
        kind: str | None = None,
        purpose: str | None = None,
        record_id: str | None = None,
        action: str | None = None,
        since: dt.datetime | None = None,
        until: dt.datetime | None = None,
        limit: int = 100,
        chunk: int = 1000,
        request_id: str | None = None,
        outcome: str | None = None,
        after_seq: int | None = None,
        newest_first: bool = False,
    ) -> list[AuditEntry]:
        """Entries matching every filter given, at or after ``since`` and before ``until``,
        oldest first (or ``newest_first``), after ``after_seq`` in that order: ``find``."""
        query = AuditQuery(
            client_id=client_id,
            kind=kind,
            purpose=purpose,
            request_id=request_id,
            action=action,
            outcome=outcome,
            record_ids=None if record_id is None else (record_id,),
            since=since,
            until=until,
            after_seq=after_seq,
            newest_first=newest_first,
            limit=limit,
        )
        return self.find(query, chunk=chunk)

    def find(self, query: AuditQuery, *, chunk: int = 1000) -> list[AuditEntry]:
        """The entries ``query`` selects, filtered in SQL (``hub.audit.search``)."""
        return search_entries(self.engine, query, _entry, chunk=chunk)

    def _require_signing_key(self) -> Ed25519PrivateKey:
        if self._signing_key is None:
            raise AuditError("this audit log was opened without its signing key: read-only")
        return self._signing_key

    @contextmanager
    def _locked(self, tx: Transaction | None = None) -> Iterator[Connection]:
        if tx is not None:
            _lock(tx.conn)
            yield tx.conn
            return
        with self.engine.begin() as conn:
            _lock(conn)
            yield conn

    def _head(self, conn: Connection) -> Any:
        query = select(audit_log.c.seq, audit_log.c.at, audit_log.c.hash)
        return conn.execute(query.order_by(audit_log.c.seq.desc()).limit(1)).first()

    def _checkpoint_due(self, conn: Connection, seq: int, at: dt.datetime) -> bool:
        query = select(audit_checkpoints.c.seq, audit_checkpoints.c.at)
        last = conn.execute(query.order_by(audit_checkpoints.c.seq.desc()).limit(1)).first()
        if last is None:
            covered = 0
            since = conn.execute(select(audit_log.c.at).where(audit_log.c.seq == 1)).scalar_one()
        else:
            covered, since = last.seq, last.at
        return seq - covered >= self.checkpoint_every or at - since >= self.checkpoint_interval

    def _sign(self, conn: Connection, key: Ed25519PrivateKey, seq: int, hash_: str) -> Checkpoint:
        at = self._clock()
        signature = key.sign(checkpoint_message(seq, hash_, at)).hex()
        checkpoint = Checkpoint(seq, hash_, at, ed25519_key_id(key.public_key()), signature)
        conn.execute(
            insert(audit_checkpoints).values(
                seq=seq, hash=hash_, at=at, key_id=checkpoint.key_id, signature=signature
            )
        )
        return checkpoint


def _lock(conn: Connection) -> None:
    """Serialise appenders: PostgreSQL's advisory lock, held to the end of the transaction;
    on SQLite the store's transactions begin IMMEDIATE and so already hold the write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    else:
        begin_immediate(conn)


def _checkpoint_fault(
    cp: Checkpoint, entry_hash_: str, key: Ed25519PublicKey, key_id: str
) -> str | None:
    if cp.key_id != key_id:
        return f"checkpoint signed by key {cp.key_id}, not {key_id}"
    try:
        key.verify(bytes.fromhex(cp.signature), checkpoint_message(cp.seq, cp.hash, cp.at))
    except (InvalidSignature, ValueError):
        return "checkpoint signature is invalid"
    if cp.hash != entry_hash_:
        return "checkpoint names another hash for this entry"
    return None


def _checkpoint(row: Any) -> Checkpoint:
    return Checkpoint(row.seq, row.hash, row.at, row.key_id, row.signature)


def _entry(row: Any) -> AuditEntry:
    try:
        event = AuditEvent.model_validate_json(row.event)
    except ValidationError:
        raise AuditError(f"audit entry {row.seq} does not decode; run `hub audit verify`") from None
    return AuditEntry(row.seq, row.at, event, row.hash)
