"""Audit search and subject access: a partner its own entries, an auditor all
(``hub.sharing.auditing`` decides and audits; the routes only translate)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from hub.api.deps import AccessDep, RequestId, SharingDep
from hub.audit import AuditQuery, Outcome
from hub.sharing.auditing import Auditing
from hub.sharing.ids import ID_PATTERN

router = APIRouter(prefix="/v1/audit", tags=["audit"])

Order = Annotated[
    Literal["oldest", "newest"], Query(description="oldest first (the default) or newest first")
]
After = Annotated[
    int | None, Query(ge=0, description="Keyset paging: the last seq of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=1000)]


def _aware(moment: dt.datetime | None) -> dt.datetime | None:
    """A time given without a zone is UTC, as in ``hub audit search``."""
    return moment.replace(tzinfo=dt.UTC) if moment and moment.tzinfo is None else moment


@router.get(
    "",
    summary="Search the audit log (scope audit.read)",
    description="A partner sees the entries of its own requests, records named by its own "
    "ids; a client of an auditor policy sees every entry.",
)
def search_audit(
    access: AccessDep,
    sharing: SharingDep,
    rid: RequestId,
    client: str | None = None,
    kind: str | None = None,
    purpose: str | None = None,
    record: Annotated[
        str | None,
        Query(description="A record as KIND/ID, ID yours for it: who accessed it"),
    ] = None,
    request_id: str | None = None,
    action: str | None = None,
    outcome: Outcome | None = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    after: After = None,
    order: Order = "oldest",
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    query = AuditQuery(
        client_id=client,
        kind=kind,
        purpose=purpose,
        request_id=request_id,
        action=action,
        outcome=outcome,
        since=_aware(since),
        until=_aware(until),
        after_seq=after,
        newest_first=order == "newest",
        limit=limit,
    )
    return Auditing.of(sharing).search(access, query, rid, record=record)


@router.get(
    "/subjects/person/{ref}",
    summary="Subject access (PIPL art. 45): every entry naming a record of this person",
    description="Auditor policies only. `ref` is your id of the person's record; the "
    "entries of every source's record of that person and of the houses they own, newest "
    "first.",
)
def subject_access(
    access: AccessDep,
    sharing: SharingDep,
    rid: RequestId,
    ref: Annotated[str, Path(pattern=ID_PATTERN)],
    after: After = None,
    limit: Limit = 100,
) -> list[dict[str, Any]]:
    return Auditing.of(sharing).subject(access, ref, rid, limit=limit, after_seq=after)
