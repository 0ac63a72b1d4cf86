"""Retention and archiving of the audit log (issue 8, point 7).

Entries are kept in the database at least ``RETENTION`` (180 days, Cybersecurity Law
art. 21). Older ones can be moved to an archive file, a range at a time, and verified from
that file alone with the log's verifier key.

``archive`` takes the entries after the last archived one and before the cut, rounded down
to the last checkpointed size K, and writes one JSON file (0600, ``write_private``)
holding: every entry (seq, time, exact stored event text); the leaf-range prefix (the
hashes of the complete subtrees before the first entry, so a second archive needs no
first); the signed checkpoint of size K; the newest checkpoint and the consistency proof
from K to it; and the log's verifier key. It re-reads the file and verifies it
(``verify_archive``), checks the database's leaf hashes are the file's, and only then, in
one transaction: appends an ``audit.archived`` entry stating the range, file name, file
digest and root; deletes the range's ``audit_log`` and ``audit_records`` rows; and records
the range in ``audit_archives``. If anything before that commit fails, nothing is removed.

The design: rows are deleted, not blanked. The personal data (event text, the indexed
copies of its fields, the record ids) leaves the database; search and subject access see
nothing they cannot decode. What stays: the Merkle tree (``audit_tree``, 32-byte hashes,
append-only), so the tree, proofs and checkpoints are untouched, and one ``audit_archives``
row per range. ``AuditLog.verify`` trusts that row only as far as the log itself vouches
for it (``archived_prefix``): the ``audit.archived`` entry restating it is a leaf under
the signed roots, so a record removed, altered, extended or forged is caught.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select

from hub.audit.checkpoint import Checkpoint, open_checkpoint
from hub.audit.entry import AuditEvent, iso_utc
from hub.audit.errors import ArchiveError, ArchiveInvalid, NoteError, RetentionError
from hub.audit.log import AuditLog, entry_bytes, fold, push_leaf
from hub.audit.merkle import HASH_SIZE, TreeHash, tree_hash_for, verify_consistency
from hub.audit.note import Verifier
from hub.files import write_private
from hub.store.tables import audit_archives, audit_checkpoints, audit_log, audit_records, audit_tree

RETENTION = dt.timedelta(days=180)
"""How long entries stay in the database at least (Cybersecurity Law art. 21)."""

FORMAT = "hub-audit-archive/v1"
ACTION = "audit.archived"
"""The action of the entry that records an archive."""

_MAX_NAME = 200
"""Characters of an archive's file name: the audit entry must keep it whole."""


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """A range moved to an archive file, as ``audit_archives`` and its entry hold it."""

    first: int
    last: int
    file: str
    """The archive file's name (without its folder)."""
    sha256: str
    root: str
    """The signed root of tree size ``last``, hex."""
    entry: int
    """The ``audit.archived`` entry that states this record."""

    def detail(self) -> dict[str, Any]:
        """What the ``audit.archived`` entry states, as its event's ``detail``."""
        return {
            "first": self.first,
            "last": self.last,
            "file": self.file,
            "sha256": self.sha256,
            "root": self.root,
        }


@dataclass(frozen=True, slots=True)
class ArchiveResult:
    path: Path
    record: ArchiveRecord


@dataclass(frozen=True, slots=True)
class ArchiveCheck:
    """The outcome of ``verify_archive``: ``reason`` says why when not ``ok``."""

    ok: bool
    reason: str | None = None
    first: int = 0
    last: int = 0
    latest: int = 0
    """The size of the newer checkpoint the range was proved consistent with."""
    sha256: str = ""


@dataclass(frozen=True, slots=True)
class _Opened:
    first: int
    last: int
    root: bytes
    latest: int
    leaves: list[bytes]


# --- archiving --------------------------------------------------------------------------


def archive(
    log: AuditLog, before: dt.datetime, path: Path, *, subject: str | None = None
) -> ArchiveResult:
    """Move the entries after the last archived one with ``at < before`` (rounded down to
    a checkpointed size) to the archive file ``path``; ``subject`` is who asked (audited).

    Raises ``RetentionError`` when ``before`` is less than ``RETENTION`` ago, and
    ``ArchiveError`` when there is nothing to archive, the file cannot be written, does not
    verify once written, or the database's leaves are not the file's: in every case
    nothing was removed from the database.
    """
    if log.store is None:
        raise ArchiveError("archiving needs the log opened on its store")
    if before.tzinfo is None:
        raise ArchiveError("naive datetime refused: the cut is an aware time")
    now = dt.datetime.now(dt.UTC)
    if before > now - RETENTION:
        raise RetentionError(
            f"entries are kept {RETENTION.days} days: the cut must be at or before "
            f"{iso_utc(now - RETENTION)}, not {iso_utc(before)}"
        )
    if len(path.name) > _MAX_NAME:
        raise ArchiveError(f"archive file names are at most {_MAX_NAME} characters")
    with log.engine.connect() as conn:
        first = _archived_end(conn) + 1
        cut = conn.execute(select(func.max(audit_log.c.seq)).where(audit_log.c.at < before))
        size = conn.execute(
            select(func.max(audit_checkpoints.c.size)).where(
                audit_checkpoints.c.size.between(first, cut.scalar() or 0)
            )
        ).scalar()
        if size is None:
            raise ArchiveError(
                f"no checkpointed range from entry {first} is older than {iso_utc(before)}: "
                "nothing to archive"
            )
        last = int(size)
        c = audit_log.c
        rows = conn.execute(
            select(c.seq, c.at, c.event).where(c.seq.between(first, last)).order_by(c.seq)
        ).all()
        prefix = _prefix(conn, first - 1)
    verifier = log.verifier_at(last)
    later = [c.size for c in log.key_changes() if c.size > last]
    # the newest checkpoint the key of ``last`` signs: a later hand-over's, signed by both
    signed, latest = log.checkpoint_at(last), log.checkpoint_at(later[0]) if later else log.latest()
    if signed is None or latest is None:
        raise ArchiveError(f"the checkpoint of size {last} is gone: run `hub audit verify`")
    document = {
        "format": FORMAT,
        "vkey": verifier.vkey(),
        "first": first,
        "last": last,
        "prefix": [h.hex() for h in prefix],
        "entries": [{"seq": r.seq, "at": iso_utc(r.at), "event": r.event} for r in rows],
        "checkpoint": signed.note,
        "latest": latest.note,
        "consistency": [h.hex() for h in log.consistency(last, latest.size)],
        "archived_at": iso_utc(now),
    }
    data = (json.dumps(document, ensure_ascii=False, indent=1) + "\n").encode()
    try:
        write_private(path, data)
        written = path.read_bytes()
    except OSError as exc:
        raise ArchiveError(f"cannot write {path}: {exc}; nothing was removed") from exc
    try:
        opened = _open(written, verifier)
    except ArchiveInvalid as exc:
        raise ArchiveError(f"{path} does not verify once written: {exc}; nothing removed") from exc
    digest = hashlib.sha256(written).hexdigest()
    record = ArchiveRecord(first, last, path.name, digest, opened.root.hex(), 0)
    with log.store.begin() as tx:
        if _stored_leaves(tx.conn, first, last) != opened.leaves:
            raise ArchiveError(
                f"the database's leaves {first}..{last} are not the archive's: run "
                "`hub audit verify`; nothing was removed"
            )
        event = AuditEvent(
            action=ACTION, outcome="allowed", subject=subject, detail=record.detail()
        )
        seq = log.append(event, tx)
        record = ArchiveRecord(first, last, path.name, digest, opened.root.hex(), seq)
        tx.conn.execute(delete(audit_records).where(audit_records.c.seq.between(first, last)))
        tx.conn.execute(delete(audit_log).where(audit_log.c.seq.between(first, last)))
        tx.conn.execute(
            insert(audit_archives).values(
                first=first,
                last=last,
                file=record.file,
                sha256=digest,
                root=record.root,
                entry=seq,
                archived_at=now,
            )
        )
    return ArchiveResult(path, record)


def archives(log: AuditLog) -> list[ArchiveRecord]:
    """The archived ranges, oldest first, as the database records them (unverified)."""
    with log.engine.connect() as conn:
        return _records(conn)


# --- verifying an archive file ----------------------------------------------------------


def log_key_of_archive(log: AuditLog, path: Path) -> str:
    """The log key to verify the archive file ``path`` with: the one of the log's keys
    (first or a later one, ``AuditLog.key_changes``) that signs its range. Unreadable or
    foreign files get the log's current key, and ``verify_archive`` says what is wrong."""
    try:
        last = int(json.loads(path.read_bytes())["last"])
    except (OSError, ValueError, KeyError, TypeError):
        return log.verifier.vkey()
    return log.verifier_at(last).vkey()


def verify_archive(path: Path, log_vkey: str) -> ArchiveCheck:
    """Verify an archive file alone, against the log's verifier key ``log_vkey``.

    Checked: the file is a ``hub-audit-archive/v1`` document naming that key; its entries
    are numbered ``first``..``last`` with none missing, each time canonical; every leaf is
    recomputed from (seq, time, event text) and, with the prefix's subtree hashes, folded
    into the root of size ``last``, which must be the root of the checkpoint note of that
    size, signed by the key; the newest checkpoint note is signed by it too and the
    consistency proof shows the tree of size ``last`` is a prefix of its tree.
    """
    try:
        data = path.read_bytes()
        opened = _open(data, Verifier.parse(log_vkey))
    except OSError as exc:
        return ArchiveCheck(False, f"cannot read {path}: {exc}")
    except NoteError as exc:
        return ArchiveCheck(False, f"the log key given is not a verifier key: {exc}")
    except ArchiveInvalid as exc:
        return ArchiveCheck(False, exc.reason)
    digest = hashlib.sha256(data).hexdigest()
    return ArchiveCheck(True, None, opened.first, opened.last, opened.latest, digest)


def _open(data: bytes, verifier: Verifier) -> _Opened:
    th = tree_hash_for(verifier.public_key)
    try:
        doc = json.loads(data)
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise ArchiveInvalid(f"not a {FORMAT} file")
        if doc["vkey"] != verifier.vkey():
            raise ArchiveInvalid(f"the archive is of the log {doc['vkey']!r}, not the one given")
        first, last = _int(doc["first"]), _int(doc["last"])
        prefix = [_hash(h) for h in doc["prefix"]]
        proof = [_hash(h) for h in doc["consistency"]]
        entries = doc["entries"]
        signed, latest = doc["checkpoint"], doc["latest"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ArchiveInvalid(f"the archive file is malformed: {exc}") from None
    if not 1 <= first <= last or not isinstance(entries, list):
        raise ArchiveInvalid(f"the archive's range {first}..{last} is not one")
    nodes = _prefix_nodes(first - 1)
    if len(prefix) != len(nodes):
        raise ArchiveInvalid(f"the archive's prefix is not the subtrees of {first - 1} leaves")
    stack = list(prefix)
    leaves = []
    for expected, item in enumerate(entries, first):
        leaf = _leaf(item, expected, th)
        push_leaf(stack, expected - 1, leaf, th)
        leaves.append(leaf)
    if len(leaves) != last - first + 1:
        raise ArchiveInvalid(
            f"the archive holds {len(leaves)} entries, not the {last - first + 1} of "
            f"{first}..{last}: entries removed or added"
        )
    size_k = _checkpoint(signed, verifier, "the archived range's")
    newest = _checkpoint(latest, verifier, "the newest")
    root = fold(stack, th)
    if size_k.size != last or size_k.root != root:
        raise ArchiveInvalid(
            f"entries {first}..{last} do not hash to the root signed at size {last}: "
            "an entry altered, removed, added or reordered, or the checkpoint is not theirs"
        )
    if not verify_consistency(last, newest.size, root, newest.root, proof, th):
        raise ArchiveInvalid(
            f"the consistency proof from size {last} to the newest checkpoint "
            f"({newest.size}) does not hold"
        )
    return _Opened(first, last, root, newest.size, leaves)


def _leaf(item: Any, expected: int, th: TreeHash) -> bytes:
    if not isinstance(item, dict) or not isinstance(item.get("event"), str):
        raise ArchiveInvalid(f"archived entry {expected} is malformed")
    if item.get("seq") != expected:
        raise ArchiveInvalid(
            f"archived entry {expected} is missing (next is {item.get('seq')}): entry removed"
        )
    try:
        at = dt.datetime.fromisoformat(item["at"])
        if iso_utc(at) != item["at"]:
            raise ValueError(item["at"])
    except (ValueError, TypeError):
        raise ArchiveInvalid(f"archived entry {expected}'s time is not canonical") from None
    return th.leaf(entry_bytes(expected, at, item["event"]))


def _checkpoint(note: Any, verifier: Verifier, which: str) -> Checkpoint:
    if not isinstance(note, str):
        raise ArchiveInvalid(f"{which} checkpoint is not a note")
    try:
        return open_checkpoint(note, verifier).checkpoint
    except NoteError as exc:
        raise ArchiveInvalid(f"{which} checkpoint is refused: {exc}") from None


def _int(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{value!r} is not a number")
    return value


def _hash(value: Any) -> bytes:
    raw = bytes.fromhex(value)
    if len(raw) != HASH_SIZE:
        raise ValueError(f"a hash of {len(raw)} bytes")
    return raw


# --- the database side --------------------------------------------------------------------


def archived_prefix(
    conn: Connection, checkpoints: Mapping[int, Checkpoint]
) -> int | tuple[int, str]:
    """How far the log is archived (entries 1..n, 0 for none), for ``AuditLog.verify``; or
    the first bad position and why.

    Checked, for each ``audit_archives`` record in order: it starts right after the one
    before (the first at 1); it ends on a size whose signed checkpoint (``checkpoints``,
    already verified) has the root it records; entry ``entry``, after the range, is an
    ``audit.archived`` entry stating exactly that record (that entry's own text is checked
    against its leaf by the walk). Then: no entry of 1..n is left in ``audit_log``.
    """
    end = 0
    for record in _records(conn):
        span = f"entries {record.first}..{record.last}"
        if record.first != end + 1 or record.last < record.first:
            return end + 1, f"the archive record of {span} does not follow entry {end}"
        checkpoint = checkpoints.get(record.last)
        if checkpoint is None or checkpoint.root.hex() != record.root:
            return record.first, f"{span} are archived at a root no checkpoint of that size signs"
        text = conn.execute(select(audit_log.c.event).where(audit_log.c.seq == record.entry))
        if record.entry <= record.last or not _states(text.scalar(), record):
            return record.first, (
                f"the archive record of {span} is not what entry {record.entry} states: "
                "archive record altered or forged"
            )
        end = record.last
    left = conn.execute(select(func.min(audit_log.c.seq)).where(audit_log.c.seq <= end)).scalar()
    if left is not None:
        return int(left), f"entry {left} is in the log, but 1..{end} were archived: entry forged"
    return end


def _states(text: str | None, record: ArchiveRecord) -> bool:
    try:
        event = json.loads(text) if text is not None else None
    except ValueError:
        return False
    return (
        isinstance(event, dict)
        and event.get("action") == ACTION
        and event.get("detail") == record.detail()
    )


def _records(conn: Connection) -> list[ArchiveRecord]:
    rows = conn.execute(select(audit_archives).order_by(audit_archives.c.first))
    return [
        ArchiveRecord(int(r.first), int(r.last), r.file, r.sha256, r.root, int(r.entry))
        for r in rows
    ]


def _archived_end(conn: Connection) -> int:
    last = conn.execute(select(func.max(audit_archives.c.last))).scalar()
    return 0 if last is None else int(last)


def _stored_leaves(conn: Connection, first: int, last: int) -> list[bytes]:
    t = audit_tree.c
    query = select(t.hash).where(t.level == 0, t.idx.between(first - 1, last - 1))
    return [bytes(h) for h in conn.execute(query.order_by(t.idx)).scalars()]


def _prefix_nodes(size: int) -> list[tuple[int, int]]:
    """The complete subtrees (level, idx) covering leaves [0, size), left to right."""
    nodes, start = [], 0
    for level in reversed(range(size.bit_length())):
        if size >> level & 1:
            nodes.append((level, start >> level))
            start += 1 << level
    return nodes


def _prefix(conn: Connection, size: int) -> list[bytes]:
    """The hashes of ``_prefix_nodes(size)``, from the stored tree."""
    t = audit_tree.c
    hashes = []
    for level, idx in _prefix_nodes(size):
        found = conn.execute(select(t.hash).where(t.level == level, t.idx == idx)).scalar()
        if found is None:
            raise ArchiveError(
                f"the stored tree lacks node ({level}, {idx}): run `hub audit verify`"
            )
        hashes.append(bytes(found))
    return hashes
