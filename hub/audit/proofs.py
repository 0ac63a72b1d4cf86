"""Offline proofs that an access happened and was logged: a bundle anyone can check with
the hub's log key (and witnesses' keys) and no database.

A bundle holds the entry exactly as stored (``seq``, ``at``, event text), an RFC 9162
inclusion proof of its leaf in the tree of some size, and the checkpoint of that size as
its signed note, with the cosignatures witnesses gave it. Checking recomputes the leaf,
the root from the proof, and compares it with the root the hub signed and the witnesses
cosigned.
"""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from hub.audit.checkpoint import open_checkpoint
from hub.audit.entry import iso_utc
from hub.audit.errors import AuditError, NoteError
from hub.audit.log import AuditLog, entry_bytes
from hub.audit.merkle import tree_hash_for, verify_inclusion
from hub.audit.note import Verifier

FORMAT = "hub-audit-proof/1"


def prove(log: AuditLog, seq: int) -> dict[str, Any]:
    """The bundle for entry ``seq``, against the newest cosigned checkpoint that covers it
    (or the newest checkpoint, when no witness has cosigned one that does)."""
    found = log.entry(seq)
    if found is None:
        raise AuditError(f"no audit entry {seq}")
    entry, text = found
    stored = log.latest_cosigned()
    if stored is None or stored.size < seq:
        stored = log.latest()
    if stored is None or stored.size < seq:
        raise AuditError(f"entry {seq} is covered by no checkpoint yet")
    return {
        "format": FORMAT,
        "log_key": log.verifier_at(stored.size).vkey(),
        "entry": {"seq": seq, "at": iso_utc(entry.at), "event": text},
        "tree_size": stored.size,
        "inclusion": [base64.b64encode(h).decode() for h in log.inclusion(seq, stored.size)],
        "checkpoint": stored.note,
    }


@dataclass(frozen=True, slots=True)
class ProofCheck:
    ok: bool
    reason: str | None = None
    seq: int | None = None
    tree_size: int | None = None
    cosigned_by: tuple[str, ...] = field(default=())


def check_proof(
    bundle: dict[str, Any], log_key: Verifier, witnesses: tuple[Verifier, ...] = ()
) -> ProofCheck:
    """Whether ``bundle`` proves its entry is in the log ``log_key`` signs, at the size the
    checkpoint names, and every one of ``witnesses`` cosigned that checkpoint. The bundle's
    own ``log_key`` is not trusted: the checker brings the key."""
    try:
        if bundle.get("format") != FORMAT:
            return ProofCheck(False, "not a hub audit proof")
        opened = open_checkpoint(bundle["checkpoint"], log_key, witnesses)
        checkpoint = opened.checkpoint
        item = bundle["entry"]
        seq, size = int(item["seq"]), int(bundle["tree_size"])
        at = dt.datetime.fromisoformat(item["at"])
        proof = [base64.b64decode(h, validate=True) for h in bundle["inclusion"]]
        th = tree_hash_for(log_key.public_key)
        leaf = th.leaf(entry_bytes(seq, at, item["event"]))
    except NoteError as exc:
        return ProofCheck(False, f"the checkpoint does not open: {exc}")
    except (KeyError, TypeError, ValueError) as exc:
        return ProofCheck(False, f"the bundle is malformed: {exc}")
    if size != checkpoint.size:
        return ProofCheck(
            False, f"the proof is for size {size}, the checkpoint for {checkpoint.size}"
        )
    if not verify_inclusion(leaf, seq - 1, size, proof, checkpoint.root, th):
        return ProofCheck(
            False, "the entry is not in the signed tree: entry or proof altered", seq, size
        )
    missing = [w.name for w in witnesses if w.name not in opened.cosigned]
    if missing:
        return ProofCheck(False, f"not cosigned by {', '.join(missing)}", seq, size)
    return ProofCheck(True, None, seq, size, tuple(sorted(opened.cosigned)))
