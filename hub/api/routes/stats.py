"""``GET /v1/stats/{kind}``: counts within the caller's row scope, small cells suppressed."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel

from hub.api.deps import AccessDep, RequestId, SharingDep
from hub.api.routes.records import Kind, Purpose, _kind, filters_of
from hub.sharing import Asked
from hub.sharing.stats import stats

router = APIRouter(prefix="/v1/stats", tags=["stats"])
RESERVED = {"purpose", "group_by", "measure"}


class StatsTable(BaseModel):
    kind: str
    group_by: list[str]
    measure: str
    min_cell: int
    cells: list[dict[str, Any]]
    """One per combination present: the values grouped by and ``count``: a number, ``"<5"``
    (fewer than ``min_cell``), or null (withheld so that no ``"<5"`` can be worked out
    from the totals)."""
    margins: dict[str, list[dict[str, Any]]]
    """Of a two-way table: each field's values and their counts over the other field."""
    total: int | str | None
    withheld: list[str]
    """Parts held back whole, their counts null: a field (its margin; a person there could
    otherwise be worked out), or ``cells`` (the table's cells, zeros included)."""


@router.get(
    "/{kind}",
    response_model=StatsTable,
    summary="Count records of one kind within your policy's rows, small cells suppressed",
    description="`group_by`: one or two fields granted in clear; `measure=count` (records) "
    "or `distinct` (real persons, houses...: records of one person in two sources count "
    "once). Filters as for `GET /v1/records/{kind}`. Needs a grant with `access: aggregate` "
    'or `both`; counts below its `min_cell` read `"<5"`, and further cells are withheld '
    "(null) so that none of them can be worked out from the totals.",
)
def count_records(
    request: Request,
    kind: Kind,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Purpose = None,
    group_by: Annotated[str, Query(max_length=200)] = "",
    measure: Annotated[str, Query(pattern="^(count|distinct)$")] = "count",
) -> dict[str, Any]:
    fields = [f.strip() for f in group_by.split(",") if f.strip()]
    return stats(
        sharing,
        Asked(access, _kind(kind), purpose, request_id),
        group_by=fields,
        measure="distinct" if measure == "distinct" else "count",
        filters=filters_of(request, RESERVED),
    )
