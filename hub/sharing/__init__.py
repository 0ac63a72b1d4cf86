"""The sharing service: every read, profile and push of partner data, decided by policy,
scoped in SQL, treated field by field, audited. Knows no HTTP."""

from hub.sharing.errors import (
    CaseDenied,
    Conflict,
    Denied,
    InvalidRequest,
    NotFound,
    SharingError,
    TooLarge,
)
from hub.sharing.push import MAX_RECORD_BYTES, push
from hub.sharing.service import Access, Asked, Page, Sharing

__all__ = [
    "MAX_RECORD_BYTES",
    "Access",
    "Asked",
    "CaseDenied",
    "Conflict",
    "Denied",
    "InvalidRequest",
    "NotFound",
    "Page",
    "Sharing",
    "SharingError",
    "TooLarge",
    "push",
]
