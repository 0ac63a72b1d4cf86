"""The tamper-evident audit log: every token, request and decision, hash-chained and signed."""

from hub.audit.entry import AuditEntry, AuditEvent, Outcome, Treatment, canonical_json
from hub.audit.log import AuditError, AuditLog, Checkpoint, VerifyResult
from hub.audit.search import AuditQuery

__all__ = [
    "AuditEntry",
    "AuditError",
    "AuditEvent",
    "AuditLog",
    "AuditQuery",
    "Checkpoint",
    "Outcome",
    "Treatment",
    "VerifyResult",
    "canonical_json",
]
