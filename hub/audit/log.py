"""The append-only audit log: a Merkle tree (RFC 9162) over its entries, signed checkpoints
(C2SP tlog-checkpoint as signed notes), and the cosignatures of witnesses the partners run.

Entry ``seq`` (contiguous from 1) is leaf ``seq - 1`` of the tree; the leaf is
``SHA-256(0x00 || f"{seq}\\n{at}\\n{event}")`` over the canonical event text, so the
entry's position and time are hashed with it. Appending writes the entry, its leaf and
the tree nodes it completes (``hub.audit.merkle``) and, when one is due, a checkpoint:
origin, tree size, root hash and the extension line ``prev <size>`` naming the previous
checkpoint's size, signed by the hub's audit key (Ed25519, or SM2 under the ``gm``
suite, whose tree hashes with SM3 in place of SHA-256: the tree hash follows the key's
algorithm, ``tree_hash_for``, so a verifier holding only the public key knows it). By
default every append is checkpointed (``checkpoint_every=1``), so every committed entry
is covered by a signature.
The audit key is rotated by ``hand_over``; the origin stays the one the first key named and
the checkpoints carry the chain of keys (``hub.audit.keychain``).

Appending is serialised so that the head is read and written under one lock, also across
processes: on PostgreSQL ``pg_advisory_xact_lock`` in the appending transaction, released
by its commit; on SQLite the store's transactions begin IMMEDIATE and so already hold the
write lock (an entry appended inside one, ``append(event, tx)``, commits with the change
it records). The primary keys on ``seq`` and on the tree's nodes are the last line: two
appenders that somehow read the same head cannot both write.

``verify`` recomputes every leaf and the root at every checkpoint's size from the entries
themselves, and checks:

- every checkpoint's signature, its size, and its ``prev`` line (a checkpoint removed from
  the middle breaks the chain); the signatures from the first key on, each hand-over
  checkpoint signed by the key before and the key it names, and every later one by that
  key; ``audit_keys`` states the same hand-overs; opened with its signing key, the chain
  ends at a key the hub holds;
- every entry's text, time and position against its leaf hash and the signed roots (an
  entry changed, removed, inserted, swapped or forged changes a root);
- the log is not shorter than its last checkpoint, and no entry is left uncovered beyond
  the cadence (with every append checkpointed: none), so a forged entry at the head, or
  entries whose checkpoints were deleted, are caught;
- the stored tree's root equals the recomputed one (proofs served from it do not lie);
- every stored cosignature holds over the checkpoint of its size, and every witness the
  verifier names has cosigned at least once;
- archived ranges (``hub.audit.archive``) only as recorded: each ``audit_archives`` row
  continues the one before from entry 1, ends on a checkpointed size with the root it
  records, and is stated word for word by the ``audit.archived`` entry it names; no entry
  of the archived prefix is left in ``audit_log``; and the prefix's leaf hashes, kept in
  the tree, stand in for its entries in every check above.

What no check of the database alone can catch: the newest entries removed *together
with* their checkpoints, or the whole database rewritten and re-signed by someone holding
the hub's own audit key. Witnesses catch both: a witness remembers the last checkpoint it
cosigned and refuses any smaller or inconsistent one (``hub audit witness run``), and a
rewrite below a witnessed size breaks the cosignatures ``verify`` checks.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from pydantic import ValidationError
from sqlalchemy import Connection, Engine, and_, insert, or_, select, text

from hub.audit.checkpoint import Checkpoint, open_checkpoint, sign_checkpoint, verify_cosignature
from hub.audit.entry import AuditEntry, AuditEvent, iso_utc
from hub.audit.errors import AuditError, AuditKeyUnavailable, NoteError
from hub.audit.group import GroupCommit
from hub.audit.keychain import KEY_CHANGED, key_line, next_key, signed_by_next
from hub.audit.merkle import SHA256, MerkleTree, TreeHash, tree_hash_for
from hub.audit.note import Signer, Verifier, add_signatures
from hub.audit.search import AuditQuery, indexed_columns, record_rows, search_entries
from hub.store import Store, Transaction
from hub.store.keyring import ed25519_key_id
from hub.store.store import begin_immediate
from hub.store.suite import PublicKey, SigningKey
from hub.store.tables import (
    audit_checkpoints,
    audit_cosignatures,
    audit_keys,
    audit_log,
    audit_records,
    audit_tree,
)

_PG_LOCK = 0x6875625F61756474
"""The advisory lock key appenders share on PostgreSQL ("hub_audt")."""

_PREV = re.compile(r"prev (0|[1-9][0-9]*)")


@dataclass(frozen=True, slots=True)
class VerifyResult:
    ok: bool
    entries: int
    first_bad: int | None = None
    """The first position at which the evidence breaks (see ``AuditLog.verify``)."""
    reason: str | None = None
    checkpoints: int = 0
    cosignatures: int = 0
    archived: int = 0
    """Entries 1..archived are in archive files; their leaves were checked, not their text."""


@dataclass(frozen=True, slots=True)
class KeyChange:
    """One rotation of the audit key: from the checkpoint of ``size`` (the hand-over one,
    ``note``) on, checkpoints are signed by the key ``vkey``."""

    size: int
    key_id: str
    vkey: str
    at: dt.datetime
    note: str


@dataclass(frozen=True, slots=True)
class StoredCheckpoint:
    size: int
    at: dt.datetime
    note: str
    """The signed note, with the cosignature lines witnesses gave it where asked for."""

    @property
    def checkpoint(self) -> Checkpoint:
        """The checkpoint the note states (its signatures are checked by ``open_checkpoint``)."""
        return Checkpoint.parse(_note_text(self.note))


def entry_bytes(seq: int, at: dt.datetime, event: str) -> bytes:
    """What a leaf hashes: the entry's position, time and canonical event text."""
    return f"{seq}\n{iso_utc(at)}\n{event}".encode()


def origin_for(public_key: PublicKey) -> str:
    """The log's origin line and key name, from its first audit key: it outlives every
    rotation of the key."""
    return f"hub-audit/{ed25519_key_id(public_key)}"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class AuditLog:
    """Append, checkpoint, prove, verify and search the audit log of one hub database.

    Without ``signing_key`` the log can only be verified (given ``public_key``), proved and
    searched: that is how an auditor who holds only the public key uses it. ``first_key``
    is the log's first audit key (default: this one), which its origin names; after a
    rotation ``key_source`` gives the keys to sign with when the database names one this
    process was not started with (another process rotated the key: ``hand_over``).
    """

    def __init__(
        self,
        store_or_engine: Store | Engine,
        signing_key: SigningKey | None = None,
        *,
        public_key: PublicKey | None = None,
        first_key: PublicKey | None = None,
        key_source: Callable[[], Sequence[SigningKey]] | None = None,
        checkpoint_every: int = 1,
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
        self.first_key = first_key or public_key
        self.origin = None if self.first_key is None else origin_for(self.first_key)
        self._key_source = key_source
        self.checkpoint_every = checkpoint_every
        self.checkpoint_interval = dt.timedelta(seconds=checkpoint_interval)
        self.th = tree_hash_for(self.first_key)
        """The tree's hash (SHA-256, or SM3 under the ``gm`` suite)."""
        self.tree = MerkleTree(audit_tree, self.th)
        self._clock = clock
        self._group = GroupCommit(self._append)

    @classmethod
    def for_store(cls, store: Store, **options: Any) -> AuditLog:
        """The log signed with the audit key of the store's key file."""
        return cls(
            store,
            store.audit_signing_key(),
            first_key=store.keyring.audit_first_key(),
            key_source=store.audit_keys_on_file,
            **options,
        )

    @property
    def verifier(self) -> Verifier:
        """The log's verifier key: what a witness or a partner pins to check checkpoints."""
        if self.public_key is None or self.origin is None:
            raise AuditError("the audit public key is needed")
        return Verifier(self.origin, self.public_key)

    @property
    def first_verifier(self) -> Verifier:
        """The verifier of the log's first key, where ``verify`` starts the key chain."""
        if self.first_key is None or self.origin is None:
            raise AuditError("the audit public key is needed")
        return Verifier(self.origin, self.first_key)

    def key_changes(self) -> list[KeyChange]:
        """The log's audit key changes, oldest first, with their hand-over checkpoints."""
        with self.engine.connect() as conn:
            query = select(audit_keys, audit_checkpoints.c.note).join(
                audit_checkpoints, audit_checkpoints.c.size == audit_keys.c.size
            )
            rows = conn.execute(query.order_by(audit_keys.c.size)).all()
        return [KeyChange(r.size, r.key_id, r.vkey, r.at, r.note) for r in rows]

    def verifier_at(self, size: int) -> Verifier:
        """The key that signs the checkpoint of ``size`` (a hand-over one: the new key,
        though the old one signs it too)."""
        signer = self.first_verifier
        for change in self.key_changes():
            if change.size <= size:
                signer = Verifier.parse(change.vkey)
        return signer

    def hand_over(self, new_key: SigningKey, *, subject: str | None = None) -> KeyChange:
        """Rotate the audit key: append the ``audit.key_changed`` entry and sign the
        checkpoint ending on it with the current key and ``new_key`` both, naming the new
        key in its ``key`` line; from then on this log signs with ``new_key``.

        Idempotent: when the log has already handed over to ``new_key`` (a rotation killed
        after this commit), its hand-over is returned and nothing is appended. Save
        ``new_key`` where every process finds it (the key file's ``audit_next_key``)
        before calling this: from its commit on, checkpoints need it.
        """
        if self._signing_key is None or self.origin is None:
            raise AuditError("this audit log was opened without its signing key: read-only")
        new = Signer(self.origin, new_key)
        new_id = ed25519_key_id(new_key.public_key())
        with self._locked() as conn:
            done = conn.execute(select(audit_keys).where(audit_keys.c.key_id == new_id)).first()
            if done is None:
                old = self._signer(conn)
                event = AuditEvent(
                    action=KEY_CHANGED,
                    outcome="allowed",
                    subject=subject,
                    detail={"from": old.verifier().vkey(), "to": new.verifier().vkey()},
                )
                size, at = self._write(conn, [event])
                self._sign(conn, old, size, new)
                conn.execute(
                    insert(audit_keys).values(
                        size=size, key_id=new_id, vkey=new.verifier().vkey(), at=at
                    )
                )
        self._adopt(new_key)
        return next(c for c in self.key_changes() if c.key_id == new_id)

    # --- appending ------------------------------------------------------------------

    def append(self, event: AuditEvent, tx: Transaction | None = None) -> int:
        """Add ``event`` at the head of the log and return its ``seq``; signs a checkpoint
        in the same transaction when one is due.

        With ``tx`` the entry is written inside that store transaction, so the change it
        records and the entry commit together or not at all. Append last in the
        transaction: from here to its commit the log's lock is held.
        """
        return self.append_all([event], tx)[-1]

    def append_all(self, events: Sequence[AuditEvent], tx: Transaction | None = None) -> list[int]:
        """Add ``events`` in order in one transaction; one checkpoint covers them all.

        Without ``tx``, the transaction may also hold other threads' events appended at the
        same moment (``hub.audit.group``): it returns once that transaction has committed,
        and raises if it did not."""
        if self._signing_key is None:
            raise AuditError("this audit log was opened without its signing key: read-only")
        if tx is None:
            return self._group.submit(events)
        return self._append(events, tx)

    def _append(self, events: Sequence[AuditEvent], tx: Transaction | None = None) -> list[int]:
        if not events:
            return []
        with self._locked(tx) as conn:
            last, at = self._write(conn, events)
            if self._checkpoint_due(conn, last, at):
                self._sign(conn, self._signer(conn), last)
        return list(range(last - len(events) + 1, last + 1))

    def checkpoint(self) -> StoredCheckpoint | None:
        """Sign the current head (or return its checkpoint if it has one); None when empty."""
        if self._signing_key is None:
            raise AuditError("this audit log was opened without its signing key: read-only")
        with self._locked() as conn:
            head = self._head(conn)
            if head is None:
                return None
            existing = self._checkpoint_row(conn, head.seq)
            return existing or self._sign(conn, self._signer(conn), head.seq)

    # --- reading checkpoints and proofs ------------------------------------------------

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.size))
            return [StoredCheckpoint(r.size, r.at, r.note) for r in rows]

    def latest(self, *, cosigned: bool = True) -> StoredCheckpoint | None:
        """The newest checkpoint, with the cosignature lines witnesses gave it."""
        with self.engine.connect() as conn:
            query = select(audit_checkpoints).order_by(audit_checkpoints.c.size.desc()).limit(1)
            row = conn.execute(query).first()
            if row is None:
                return None
            note = self._with_cosignatures(conn, row.size, row.note) if cosigned else row.note
        return StoredCheckpoint(row.size, row.at, note)

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        """The checkpoint of tree size ``size``, with its cosignatures."""
        with self.engine.connect() as conn:
            row = self._checkpoint_row(conn, size)
            if row is None:
                return None
            note = self._with_cosignatures(conn, size, row.note)
        return StoredCheckpoint(row.size, row.at, note)

    def latest_cosigned(self) -> StoredCheckpoint | None:
        """The newest checkpoint some witness has cosigned, with its cosignatures."""
        with self.engine.connect() as conn:
            size = conn.execute(
                select(audit_cosignatures.c.size)
                .order_by(audit_cosignatures.c.size.desc())
                .limit(1)
            ).scalar()
        return None if size is None else self.checkpoint_at(int(size))

    def consistency(self, size1: int, size2: int) -> list[bytes]:
        """RFC 9162 consistency proof that the tree of ``size1`` is a prefix of ``size2``'s."""
        with self.engine.connect() as conn:
            return self.tree.consistency_proof(conn, size1, size2)

    def inclusion(self, seq: int, size: int) -> list[bytes]:
        """RFC 9162 inclusion proof of entry ``seq`` in the tree of ``size`` entries."""
        with self.engine.connect() as conn:
            return self.tree.inclusion_proof(conn, seq - 1, size)

    def entry(self, seq: int) -> tuple[AuditEntry, str] | None:
        """Entry ``seq`` and its exact stored text (what its leaf hashes)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(audit_log).where(audit_log.c.seq == seq)).first()
        return None if row is None else (_entry(row), row.event)

    # --- witnesses ----------------------------------------------------------------------

    def add_cosignature(self, size: int, line: str, witness: Verifier) -> int:
        """Keep a witness's cosignature of the checkpoint of ``size``, once it holds over it;
        returns its timestamp. Raises ``AuditError`` without a checkpoint of that size and
        ``NoteError`` when the cosignature does not hold."""
        with self.engine.begin() as conn:
            row = self._checkpoint_row(conn, size)
            if row is None:
                raise AuditError(f"no checkpoint of size {size}")
            checkpoint = row.checkpoint
            stamp = verify_cosignature(checkpoint, line, witness)
            key = (audit_cosignatures.c.size == size) & (
                audit_cosignatures.c.witness == witness.name
            )
            conn.execute(audit_cosignatures.delete().where(key))
            conn.execute(
                insert(audit_cosignatures).values(
                    size=size, witness=witness.name, line=line.rstrip("\n"), received_at=_now()
                )
            )
        return stamp

    # --- verification -------------------------------------------------------------------

    def verify(
        self,
        public_key: PublicKey | None = None,
        *,
        witnesses: Iterable[Verifier] = (),
        chunk: int = 20_000,
    ) -> VerifyResult:
        """Walk the whole log, its checkpoints and cosignatures; stop at the first break.

        ``first_bad`` is the first entry the evidence no longer vouches for: for a signed
        root that does not match, the first entry after the previous checkpoint. With
        ``witnesses``, each of them must have cosigned, and every cosignature must hold.
        ``public_key`` (the log's *first* key, which its origin names) lets an auditor
        verify without the private key; the later keys are learnt from the checkpoints.
        """
        key = public_key or self.first_key
        if key is None:
            raise AuditError("verifying the checkpoints needs the audit public key")
        verifier = Verifier(origin_for(key), key)
        with self.engine.connect() as conn:
            walk = _Walk(self, conn, verifier, list(witnesses), chunk, tree_hash_for(key))
            return walk.run()

    # --- internals ----------------------------------------------------------------------

    def _write(self, conn: Connection, events: Sequence[AuditEvent]) -> tuple[int, dt.datetime]:
        """Write ``events`` at the head, with their leaves and tree nodes; returns the last
        entry's seq and the time they share. The caller holds the lock."""
        head = self._head(conn)
        first, at = 1, self._clock()
        if head is not None:
            first, at = head.seq + 1, max(at, head.at)
        rows, leaves, names = [], [], []
        for seq, event in enumerate(events, first):
            body = event.canonical()
            leaf = self.th.leaf(entry_bytes(seq, at, body))
            rows.append(
                {"seq": seq, "at": at, "event": body, "hash": leaf.hex(), **indexed_columns(event)}
            )
            leaves.append(leaf)
            names += record_rows(seq, event)
        conn.execute(insert(audit_log), rows)
        if names:
            conn.execute(insert(audit_records), names)
        self.tree.extend(conn, leaves, first - 1)
        return first + len(events) - 1, at

    def _signer(self, conn: Connection) -> Signer:
        """The signer of the log's next checkpoint: the key the last hand-over names (or
        the first key), which this process must hold. The caller holds the lock."""
        if self._signing_key is None or self.origin is None or self.first_key is None:
            raise AuditError("this audit log was opened without its signing key: read-only")
        query = select(audit_keys.c.key_id).order_by(audit_keys.c.size.desc()).limit(1)
        wanted = conn.execute(query).scalar() or ed25519_key_id(self.first_key)
        if wanted != self.key_id:
            held = self._key_source() if self._key_source is not None else []
            key = next((k for k in held if ed25519_key_id(k.public_key()) == wanted), None)
            if key is None:
                raise AuditKeyUnavailable(wanted)
            self._adopt(key)
        return Signer(self.origin, self._signing_key)

    def held_key_ids(self) -> set[str]:
        """The ids of the audit private keys this log can sign with (none when read-only)."""
        if self._signing_key is None:
            return set()
        held = self._key_source() if self._key_source is not None else []
        return {ed25519_key_id(k.public_key()) for k in [self._signing_key, *held]}

    def _adopt(self, key: SigningKey) -> None:
        self._signing_key = key
        self.public_key = key.public_key()
        self.key_id = ed25519_key_id(self.public_key)

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
        query = select(audit_log.c.seq, audit_log.c.at)
        return conn.execute(query.order_by(audit_log.c.seq.desc()).limit(1)).first()

    def _checkpoint_row(self, conn: Connection, size: int) -> Any:
        query = select(audit_checkpoints).where(audit_checkpoints.c.size == size)
        row = conn.execute(query).first()
        return None if row is None else StoredCheckpoint(row.size, row.at, row.note)

    def _last_checkpoint(self, conn: Connection) -> Any:
        query = select(audit_checkpoints.c.size, audit_checkpoints.c.at)
        return conn.execute(query.order_by(audit_checkpoints.c.size.desc()).limit(1)).first()

    def _checkpoint_due(self, conn: Connection, seq: int, at: dt.datetime) -> bool:
        last = self._last_checkpoint(conn)
        if last is None:
            return True
        return bool(
            seq - last.size >= self.checkpoint_every or at - last.at >= self.checkpoint_interval
        )

    def _sign(
        self, conn: Connection, signer: Signer, size: int, next_signer: Signer | None = None
    ) -> StoredCheckpoint:
        """Sign the checkpoint of ``size``; with ``next_signer``, the hand-over one."""
        last = self._last_checkpoint(conn)
        extensions = [f"prev {last.size if last is not None else 0}"]
        if next_signer is not None:
            extensions.append(key_line(next_signer.verifier()))
        checkpoint = Checkpoint(signer.name, size, self.tree.root(conn, size), tuple(extensions))
        also = () if next_signer is None else (next_signer,)
        note = sign_checkpoint(checkpoint, signer, *also)
        at = self._clock()
        conn.execute(insert(audit_checkpoints).values(size=size, at=at, note=note))
        return StoredCheckpoint(size, at, note)

    def _with_cosignatures(self, conn: Connection, size: int, note: str) -> str:
        query = select(audit_cosignatures.c.line).where(audit_cosignatures.c.size == size)
        lines = [line + "\n" for line in conn.execute(query).scalars()]
        return add_signatures(note, *lines) if lines else note

    # --- search --------------------------------------------------------------------------

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


class _Walk:
    """One pass of ``AuditLog.verify`` over a connection."""

    def __init__(
        self,
        log: AuditLog,
        conn: Connection,
        verifier: Verifier,
        witnesses: list[Verifier],
        chunk: int,
        th: TreeHash,
    ) -> None:
        self.log = log
        self.th = th
        self.conn = conn
        self.verifier = verifier
        self.witnesses = witnesses
        self.chunk = chunk
        self.checkpoints: dict[int, Checkpoint] = {}
        self.entries = 0
        self.cosigned = 0
        self.archived = 0

    def bad(self, position: int, reason: str) -> VerifyResult:
        return VerifyResult(False, self.entries, position, reason, len(self.checkpoints))

    def run(self) -> VerifyResult:
        broken = self._checkpoints() or self._archives() or self._entries() or self._cosignatures()
        if broken is not None:
            return broken
        return VerifyResult(
            True,
            self.entries,
            checkpoints=len(self.checkpoints),
            cosignatures=self.cosigned,
            archived=self.archived,
        )

    def _checkpoints(self) -> VerifyResult | None:
        rows = self.conn.execute(select(audit_checkpoints).order_by(audit_checkpoints.c.size)).all()
        prev = 0
        signer = self.verifier
        handed: dict[int, str] = {}
        for row in rows:
            try:
                checkpoint = open_checkpoint(row.note, signer).checkpoint
                new = next_key(checkpoint)
            except NoteError as exc:
                return self.bad(prev + 1, f"checkpoint of size {row.size} refused: {exc}")
            if new is not None:
                if not signed_by_next(row.note, new):
                    return self.bad(
                        prev + 1,
                        f"checkpoint of size {row.size} hands over to a key that did not sign it",
                    )
                signer = new
                handed[row.size] = ed25519_key_id(new.public_key)
            named = _PREV.fullmatch(checkpoint.extensions[0]) if checkpoint.extensions else None
            if checkpoint.size != row.size or named is None:
                return self.bad(
                    prev + 1, f"checkpoint of size {row.size} is not one this log signs"
                )
            if int(named.group(1)) != prev:
                return self.bad(
                    prev + 1,
                    f"checkpoint of size {row.size} follows size {named.group(1)}, but the one "
                    f"before it is of size {prev}: a checkpoint was removed",
                )
            self.checkpoints[row.size] = checkpoint
            prev = row.size
        return self._key_table(handed) or self._key_in_force(signer, max(handed, default=0))

    def _key_in_force(self, signer: Verifier, handed_at: int) -> VerifyResult | None:
        """Opened with its signing key, the log knows where the chain must end: at a key
        its key file holds. Anyone holding a *retired* key can re-sign the hand-over of its
        day to a key of their own; only the key in force, or a witness that cosigned the
        real hand-over, tells the two chains apart."""
        held = self.log.held_key_ids()
        if not held or ed25519_key_id(signer.public_key) in held:
            return None
        return self.bad(
            handed_at,
            f"the checkpoints hand over at size {handed_at} to a key this hub does not hold: "
            "a retired key signed a hand-over of its own",
        )

    def _key_table(self, handed: dict[int, str]) -> VerifyResult | None:
        """``audit_keys`` must state the hand-overs the checkpoints sign, no more, no less:
        the hub signs with the key it names."""
        rows = self.conn.execute(select(audit_keys.c.size, audit_keys.c.key_id)).all()
        table = {int(size): key_id for size, key_id in rows}
        if table == handed:
            return None
        size = min(k for k in table.keys() | handed.keys() if table.get(k) != handed.get(k))
        return self.bad(
            size,
            f"the key change recorded at size {size} is not the one the checkpoints sign: "
            "audit_keys was altered",
        )

    def _archives(self) -> VerifyResult | None:
        """The archived prefix 1..n, once its records hold (``archived_prefix``)."""
        from hub.audit.archive import archived_prefix  # hub.audit.archive imports this module

        found = archived_prefix(self.conn, self.checkpoints)
        if isinstance(found, tuple):
            return self.bad(*found)
        self.archived = found
        return None

    def _entries(self) -> VerifyResult | None:
        stack: list[bytes] = []
        """The hashes of the complete subtrees of the leaves so far, largest first."""
        covered = 0
        expected = 1
        at_last: dt.datetime | None = None
        at_text = ""
        while True:
            rows = self._rows(expected)
            stored = self._nodes(expected - 1, expected - 1 + len(rows))
            for row in rows:
                seq = row.seq
                if seq != expected:
                    return self.bad(expected, f"entry {expected} is missing (next is {seq})")
                if row.event is None:  # archived: the leaf hash kept in the tree stands in
                    leaf = bytes.fromhex(row.hash)
                else:
                    if row.at != at_last:  # entries appended together share their time
                        at_last, at_text = row.at, iso_utc(row.at)
                    leaf = self.th.leaf(f"{seq}\n{at_text}\n{row.event}".encode())
                if leaf.hex() != row.hash or stored.get((0, seq - 1)) != leaf:
                    return self.bad(seq, "the entry does not hash to its leaf: entry modified")
                # The compact range of complete subtrees: leaf ``seq - 1`` completes one
                # parent per trailing 1 bit of its index, each checked against the store.
                level, idx, hash_ = 0, seq - 1, leaf
                while idx & 1:
                    hash_ = self.th.node(stack.pop(), hash_)
                    level, idx = level + 1, idx >> 1
                    if stored.get((level, idx)) != hash_:
                        return self.bad(
                            seq,
                            f"the stored Merkle tree differs from the entries at node "
                            f"({level}, {idx}): proofs served from it would not verify",
                        )
                stack.append(hash_)
                self.entries = expected
                checkpoint = self.checkpoints.get(expected)
                if checkpoint is not None:
                    if fold(stack, self.th) != checkpoint.root:
                        return self.bad(
                            covered + 1,
                            f"entries up to {expected} do not hash to the root signed at that "
                            "size: entries changed, removed, inserted or reordered",
                        )
                    covered = expected
                expected += 1
            if len(rows) < self.chunk:
                break
        last = max(self.checkpoints, default=0)
        if last > self.entries:
            return self.bad(
                self.entries + 1, f"log ends at {self.entries} but is checkpointed to {last}"
            )
        if self.entries - covered >= self.log.checkpoint_every:
            return self.bad(
                covered + 1,
                f"entries {covered + 1}..{self.entries} are covered by no checkpoint, though the "
                f"log checkpoints every {self.log.checkpoint_every}: checkpoints removed or "
                "entries forged",
            )
        return None

    def _rows(self, expected: int) -> list[Any]:
        """Up to ``chunk`` entries from ``expected`` on, by ``seq``: in the archived prefix
        its leaves as stored in the tree (``_ArchivedEntry``), then rows of the log."""
        rows: list[Any] = []
        if expected <= self.archived:
            t = audit_tree.c
            end = min(self.archived, expected + self.chunk - 1)
            leaves = self.conn.execute(
                select(t.idx, t.hash)
                .where(t.level == 0, t.idx.between(expected - 1, end - 1))
                .order_by(t.idx)
            )
            rows = [_ArchivedEntry(int(idx) + 1, bytes(hash_).hex()) for idx, hash_ in leaves]
            expected = self.archived + 1
        log = audit_log.c
        rows += self.conn.execute(
            select(log.seq, log.at, log.event, log.hash)
            .where(log.seq >= expected)
            .order_by(log.seq)
            .limit(self.chunk - len(rows))
        ).all()
        return rows

    def _nodes(self, start: int, end: int) -> dict[tuple[int, int], bytes]:
        """The stored nodes completed by leaves ``start`` to ``end - 1``: node (k, i) is
        completed by its last leaf, (i + 1)·2^k - 1."""
        if end <= start:
            return {}
        t = audit_tree.c
        ranges = []
        for level in range(end.bit_length() + 1):
            low, high = -(-(start + 1) // (1 << level)) - 1, end // (1 << level) - 1
            if low <= high:
                ranges.append(and_(t.level == level, t.idx.between(low, high)))
        rows = self.conn.execute(select(t.level, t.idx, t.hash).where(or_(*ranges))).all()
        return {(int(lv), int(i)): bytes(h) for lv, i, h in rows}

    def _cosignatures(self) -> VerifyResult | None:
        known = {w.name: w for w in self.witnesses}
        seen: set[str] = set()
        rows = self.conn.execute(
            select(audit_cosignatures).order_by(audit_cosignatures.c.size)
        ).all()
        for row in rows:
            witness = known.get(row.witness)
            if witness is None:
                continue
            checkpoint = self.checkpoints.get(row.size)
            if checkpoint is None:
                return self.bad(
                    row.size, f"{row.witness} cosigned size {row.size}, whose checkpoint is gone"
                )
            try:
                verify_cosignature(checkpoint, row.line + "\n", witness)
            except NoteError:
                return self.bad(
                    row.size,
                    f"the cosignature by {row.witness} does not hold over the checkpoint of size "
                    f"{row.size}: the log was rewritten below a witnessed size",
                )
            seen.add(row.witness)
            self.cosigned += 1
        if self.entries and (silent := sorted(set(known) - seen)):
            return self.bad(
                self.entries,
                f"witness {silent[0]} has cosigned nothing: run it, or the log was rewritten",
            )
        return None


class _ArchivedEntry(NamedTuple):
    """An archived entry as ``_Walk`` sees it: its position and stored leaf hash only."""

    seq: int
    hash: str
    at: None = None
    event: None = None


def push_leaf(stack: list[bytes], index: int, leaf: bytes, th: TreeHash = SHA256) -> None:
    """Add leaf ``index`` to ``stack``, the hashes of the complete subtrees of the leaves
    before it (largest first): it completes one parent per trailing 1 bit of its index."""
    hash_ = leaf
    while index & 1:
        hash_ = th.node(stack.pop(), hash_)
        index >>= 1
    stack.append(hash_)


def fold(stack: list[bytes], th: TreeHash = SHA256) -> bytes:
    """The root of the leaves so far: the complete subtrees combined right to left."""
    result = stack[-1]
    for left in reversed(stack[:-1]):
        result = th.node(left, result)
    return result


def _note_text(note: str) -> str:
    return note[: note.index("\n\n") + 1]


def _lock(conn: Connection) -> None:
    """Serialise appenders: PostgreSQL's advisory lock, held to the end of the transaction;
    on SQLite the store's transactions begin IMMEDIATE and so already hold the write lock."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK})
    else:
        begin_immediate(conn)


def _entry(row: Any) -> AuditEntry:
    try:
        event = AuditEvent.model_validate_json(row.event)
    except ValidationError:
        raise AuditError(f"audit entry {row.seq} does not decode; run `hub audit verify`") from None
    return AuditEntry(row.seq, row.at, event, row.hash)
