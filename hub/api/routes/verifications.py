"""走访核查: record a visit of a record you may read; list the records of a grid due a visit."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field

from contracts import VERIFIED_KINDS, VerifiedKind
from hub.api.deps import AccessDep, RequestId, VerificationsDep, scoped
from hub.api.routes.records import Purpose, RecordView, once
from hub.sharing import Asked
from hub.sharing.ids import ID_PATTERN
from hub.work.verifications import MAX_WINDOW_DAYS, Stated

router = APIRouter(prefix="/v1/verifications", tags=["verifications"])


class VisitRequest(BaseModel):
    """A visit, as the visitor states it; the hub fills in the rest from the record and
    your policy (your side, 公安 or 网格; the record's grid and beat)."""

    kind: VerifiedKind
    id: str = Field(pattern=ID_PATTERN, description="Your id of the record verified.")
    result: str = Field(description="属实, 不属实, 人户分离, 已搬离, 信息变更 or 无人.")
    visitor: str = Field(max_length=2000, description="Who went to the door.")
    note: str | None = Field(default=None, max_length=2000)
    visited_at: dt.datetime | None = Field(
        default=None, description="When, with its time zone; now if not given."
    )
    purpose: str | None = Field(default=None, max_length=256)


class VisitRecorded(BaseModel):
    id: str
    """Your id of the visit."""
    kind: str
    record_id: str
    side: str
    visited_at: dt.datetime
    result: str


class Due(BaseModel):
    reason: Literal["self_declared", "submitted", "never_verified", "verification_expired"]
    declared_at: dt.datetime | None = None


class DueItem(RecordView):
    due: Due


class DuePage(BaseModel):
    items: list[DueItem]
    next_cursor: str | None


def _kind_read(request: Request) -> str:
    """``<kind>.read``; for a kind that is not verified, the request fails its validation."""
    kind = request.query_params.get("kind")
    return f"{kind}.read" if kind in VERIFIED_KINDS else "visit.read"


@router.post(
    "",
    status_code=201,
    dependencies=[scoped("visit.write")],
    summary="Record a visit (走访核查) of a person, house, unit or address you may read",
)
def record_visit(
    request: Request,
    body: VisitRequest,
    access: AccessDep,
    verifications: VerificationsDep,
    request_id: RequestId,
) -> VisitRecorded:
    once(request)
    stated = Stated(body.result, body.visitor, body.note, body.visited_at)
    asked = Asked(access, "visit", body.purpose, request_id)
    recorded = verifications.record(asked, body.kind, body.id, stated)
    return VisitRecorded(**vars(recorded))


@router.get(
    "/due",
    response_model_exclude_unset=True,
    dependencies=[scoped(_kind_read, "visit.read")],
    summary="The records of a grid due a visit: none verified by either side in the window",
    description="Self-declared records waiting for their visit come first; then those no "
    "visit, by the police or the grid, of any source's copy, verified in `within_days`.",
)
def due(
    request: Request,
    access: AccessDep,
    verifications: VerificationsDep,
    request_id: RequestId,
    grid: Annotated[str, Query(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{1,63}$")],
    kind: VerifiedKind,
    purpose: Purpose = None,
    within_days: Annotated[int, Query(ge=1, le=MAX_WINDOW_DAYS)] = 30,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> DuePage:
    once(request)
    asked = Asked(access, kind, purpose, request_id)
    page = verifications.due(asked, grid, within_days, cursor, limit)
    return DuePage(items=[DueItem(**item) for item in page.items], next_cursor=page.next_cursor)
