"""The witnesses a hub accepts cosignatures from: partner systems that each keep their own
record of the log's checkpoints (``hub.audit.witness``), so the other side holds the proof.

Each witness is registered twice, on purpose: in the database (``audit_witnesses``), which
the API consults to accept a cosignature, and in the hub home's ``witnesses.json``, which
``hub audit verify`` trusts. An attacker with write access to the database can delete the
first; the second, outside it, still names who must have cosigned.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from sqlalchemy import select

from hub.audit.entry import AuditEvent
from hub.audit.errors import AuditError, NoteError, UnknownWitness
from hub.audit.log import AuditLog
from hub.audit.note import COSIGNATURE_V1, Signature, Verifier
from hub.files import write_private
from hub.store import Store
from hub.store.tables import audit_witnesses

WITNESSES_FILE = "witnesses.json"


def parse_witness_key(vkey: str) -> Verifier:
    """A witness's verifier key (a ``cosignature/v1`` key), or ``AuditError`` saying why."""
    try:
        verifier = Verifier.parse(vkey.strip())
    except NoteError as exc:
        raise AuditError(f"not a witness key: {exc}") from None
    if verifier.algorithm != COSIGNATURE_V1:
        raise AuditError("a witness key must be a cosignature/v1 key (hub audit witness keygen)")
    return verifier


def trusted_witnesses(home: Path) -> list[Verifier]:
    """The witnesses named in the hub home, whose cosignatures ``verify`` requires."""
    path = home / WITNESSES_FILE
    if not path.exists():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return [parse_witness_key(item["vkey"]) for item in document["witnesses"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise AuditError(f"{path} is not a witness list: {exc}") from None


def registered_witnesses(store: Store) -> dict[str, Verifier]:
    """The witnesses the API accepts cosignatures from, by name."""
    with store.engine.connect() as conn:
        rows = conn.execute(select(audit_witnesses.c.name, audit_witnesses.c.vkey)).all()
    return {row.name: parse_witness_key(row.vkey) for row in rows}


def accept_cosignature(log: AuditLog, size: int, line: str) -> tuple[str, int]:
    """Keep a registered witness's cosignature of the checkpoint of ``size`` and audit it;
    returns the witness's name and the cosignature's timestamp. ``UnknownWitness`` for a
    name not registered, ``NoteError`` for a line that does not parse or hold, and
    ``AuditError`` when there is no checkpoint of that size."""
    if log.store is None:
        raise AuditError("cosignatures are accepted through a log opened on the store")
    name = Signature.parse(line).name
    witness = registered_witnesses(log.store).get(name)
    if witness is None:
        raise UnknownWitness(name)
    stamp = log.add_cosignature(size, line, witness)
    log.append(
        AuditEvent(
            action="audit.cosigned",
            outcome="allowed",
            subject=f"witness:{name}",
            detail={"witness": name, "size": size, "timestamp": stamp},
        )
    )
    return name, stamp


def add_witness(log: AuditLog, home: Path, vkey: str, *, by: str | None = None) -> Verifier:
    """Register a witness: the database row and its audit entry in one transaction, then
    the hub home's list. A name already registered with another key is refused."""
    verifier = parse_witness_key(vkey)
    if log.store is None:
        raise AuditError("witnesses are registered through a log opened on the store")
    known = registered_witnesses(log.store)
    held = known.get(verifier.name)
    if held is not None and held.vkey() != verifier.vkey():
        raise AuditError(f"witness {verifier.name} is registered with another key")
    if held is None:
        with log.store.begin() as tx:
            tx.conn.execute(
                audit_witnesses.insert().values(
                    name=verifier.name, vkey=verifier.vkey(), added_at=dt.datetime.now(dt.UTC)
                )
            )
            event = AuditEvent(
                action="audit.witness_added",
                outcome="allowed",
                subject=by,
                detail={"witness": verifier.name, "vkey": verifier.vkey()},
            )
            log.append(event, tx)
    trusted = {w.name: w for w in trusted_witnesses(home)} | {verifier.name: verifier}
    document = {"witnesses": [{"name": w.name, "vkey": w.vkey()} for w in trusted.values()]}
    write_private(home / WITNESSES_FILE, json.dumps(document, indent=2) + "\n")
    return verifier
