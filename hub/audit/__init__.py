"""The tamper-evident audit log: every token, request and decision, in a Merkle tree log
with signed checkpoints that witnesses cosign."""

from hub.audit.checkpoint import Checkpoint
from hub.audit.entry import AuditEntry, AuditEvent, Outcome, Treatment, canonical_json
from hub.audit.errors import AuditError, NoteError
from hub.audit.log import AuditLog, StoredCheckpoint, VerifyResult
from hub.audit.search import AuditQuery

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditQuery",
    "Checkpoint",
    "NoteError",
    "Outcome",
    "StoredCheckpoint",
    "Treatment",
    "VerifyResult",
    "canonical_json",
]
