"""Errors of the work loop's services. They are sharing errors: each carries the audit
event of its refusal, and the API's problem handlers answer and audit it by its base.

SharingError (hub.sharing.errors)
 ├── InvalidRequest
 │    └── SubmissionInvalid  submitted records broke their contract: the rules, no values
 ├── Denied
 │    └── OwnSubmission      a reviewer deciding a submission of its own org
 └── Conflict
      ├── AlreadyPending     a submission of that source key still waits for its decision
      ├── AlreadyDecided     a review is decided once
      └── NotAdmissible      accepted, but the record no longer enters the store as it is
"""

from __future__ import annotations

from typing import Any

from hub.audit import AuditEvent
from hub.sharing.errors import Conflict, Denied, InvalidRequest


class SubmissionInvalid(InvalidRequest):
    """``invalid``: for each record that breaks its contract, by source key, the rules it
    broke as ``{field, rule, message}``; the offending values are left out (one may be an
    ID number, and the caller knows what it sent)."""

    def __init__(self, invalid: dict[str, list[dict[str, Any]]], event: AuditEvent) -> None:
        super().__init__(
            "record_invalid",
            f"{len(invalid)} record(s) break their contract: nothing was submitted",
            event,
            invalid=invalid,
        )
        self.invalid = invalid


class OwnSubmission(Denied):
    def __init__(self, review_id: str, event: AuditEvent) -> None:
        super().__init__(
            "own_submission",
            "a submission is decided by another org than the one that submitted it",
            event,
            review_id=review_id,
        )
        self.review_id = review_id


class AlreadyPending(Conflict):
    def __init__(self, source_keys: list[str], event: AuditEvent) -> None:
        super().__init__(
            "already_pending",
            "a submission of this record is still pending review",
            event,
            source_keys=source_keys,
        )
        self.source_keys = source_keys


class AlreadyDecided(Conflict):
    def __init__(self, review_id: str, status: str, event: AuditEvent) -> None:
        super().__init__(
            "already_decided", f"review {review_id} is already {status}", event,
            review_id=review_id, review_status=status,
        )  # fmt: skip
        self.review_id = review_id
        self.status = status


class NotAdmissible(Conflict):
    """The store would quarantine the record now (the submitter holds its natural key under
    another source key, or the contract changed since it was submitted): reject it."""

    def __init__(self, review_id: str, rules: list[str], event: AuditEvent) -> None:
        super().__init__(
            "not_admissible",
            f"review {review_id} cannot be stored as it is: {', '.join(rules)}",
            event,
            review_id=review_id,
            rules=rules,
        )
        self.review_id = review_id
        self.rules = rules


class SubmitterNotGranted(Conflict):
    """The submitter may no longer submit this record (its client revoked, its policy
    changed since, the record now outside its rows or its ``submit:`` fields): reject it."""

    def __init__(self, review_id: str, why: str, event: AuditEvent) -> None:
        super().__init__(
            "submitter_not_granted",
            f"review {review_id} cannot be accepted: its submitter may no longer submit it ({why})",
            event,
            review_id=review_id,
            why=why,
        )
        self.review_id = review_id
        self.why = why
