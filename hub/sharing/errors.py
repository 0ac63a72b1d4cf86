"""Errors of the sharing service. Each carries the audit event of its refusal, so the one
place that translates it (the API's problem handlers) also writes that event.

SharingError (HubError)
 ├── Denied           the policy does not grant it: a purpose, kind, field, filter, write,
 │   │                or rows outside the caller's scope; ``reason`` a stable word
 │   └── CaseDenied   a cited case refused: not found or outside the caller's rows,
 │                    closed, or not linked to the record; names the case
 ├── NotFound         no such record, or none the caller may see: the two look the same
 ├── InvalidRequest   a request the hub cannot run: a bad cursor or filter, a pushed row
 │                    with an unknown or twice-named field, a source key twice in a push
 ├── TooLarge         a pushed record above the size a record may have
 └── Conflict         the request contradicts the stored state (a review already decided,
                      a stale version, a step the record's state does not allow); ``code``
                      a stable word
"""

from __future__ import annotations

from typing import Any

from hub.audit import AuditEvent
from hub.errors import HubError
from policies import Citation


class SharingError(HubError):
    code: str = "refused"

    def __init__(self, message: str, event: AuditEvent, **extra: Any) -> None:
        super().__init__(message)
        self.event = event
        """The refusal as the audit log keeps it."""
        self.extra = extra
        """What the caller is told besides the message: the fields or source keys concerned."""


class Denied(SharingError):
    def __init__(self, reason: str, message: str, event: AuditEvent, **extra: Any) -> None:
        super().__init__(message, event, **extra)
        self.reason = reason
        self.code = f"denied_{reason}"


class CaseDenied(Denied):
    """A refusal over the case a request cites (``hub.sharing.cases``): the caller is told
    which case (``case``: its kind and id), as the audit entry is."""

    def __init__(self, reason: str, message: str, event: AuditEvent, case: Citation) -> None:
        super().__init__(reason, message, event, case=case.audited())
        self.case = case


class NotFound(SharingError):
    code = "not_found"


class InvalidRequest(SharingError):
    def __init__(self, code: str, message: str, event: AuditEvent, **extra: Any) -> None:
        super().__init__(message, event, **extra)
        self.code = code


class TooLarge(SharingError):
    code = "too_large"


class Conflict(SharingError):
    def __init__(self, code: str, message: str, event: AuditEvent, **extra: Any) -> None:
        super().__init__(message, event, **extra)
        self.code = code
