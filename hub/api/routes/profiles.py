from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query

from hub.api.deps import AccessDep, RequestId, SharingDep
from hub.api.routes.records import BreakGlassSession, Case, RecordRef
from hub.sharing import Asked

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


@router.get(
    "/{kind}/{record_id}",
    summary="一人一档 / 一屋一档: one person or house with everything linked to it",
)
def profile(
    kind: Literal["person", "house"],
    record_id: RecordRef,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Annotated[str | None, Query()] = None,
    case: Case = None,
    break_glass: BreakGlassSession = None,
) -> dict[str, Any]:
    asked = Asked(access, kind, purpose, request_id, case, break_glass)
    return sharing.profile(asked, record_id)
