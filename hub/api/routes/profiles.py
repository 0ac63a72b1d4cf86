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
    description="`record`: the one asked for; `sections.linked`: every source's record of "
    "the same person or house; `merged`: one view of those, each field your policy serves "
    "from the latest record holding it, with its `source`, `updated` hour and `disagree` "
    "(the linked records hold different values); the other sections: related records.",
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
