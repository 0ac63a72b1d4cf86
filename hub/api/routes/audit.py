from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request

from hub.api.deps import AccessDep, services

router = APIRouter(prefix="/v1", tags=["audit"])


@router.get("/audit", summary="Search the audit log (scope audit.read)")
def search_audit(
    request: Request,
    access: AccessDep,
    client: str | None = None,
    kind: str | None = None,
    purpose: str | None = None,
    record: Annotated[
        str | None, Query(description="A record as KIND/ID: who accessed it (subject access)")
    ] = None,
    since: dt.datetime | None = None,
    until: dt.datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    found = services(request).audit.search(
        client_id=client,
        kind=kind,
        purpose=purpose,
        record_id=record,
        since=since,
        until=until,
        limit=limit,
    )
    return [entry.as_json() for entry in found]
