from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query

from hub.api.deps import AccessDep, RequestId, SharingDep

router = APIRouter(prefix="/v1/profiles", tags=["profiles"])


@router.get(
    "/{kind}/{record_id}",
    summary="一人一档 / 一屋一档: one person or house with everything linked to it",
)
def profile(
    kind: Literal["person", "house"],
    record_id: Annotated[int, Path(ge=1, le=2**62)],
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Annotated[str | None, Query()] = None,
) -> dict[str, Any]:
    return sharing.profile(access, access.scopes, kind, record_id, purpose, request_id=request_id)
