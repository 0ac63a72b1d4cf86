"""``GET /v1/stats/reconciliation``: per grid, what the police hold and the grid does not,
and the reverse (``hub.sharing.reconcile``). A literal path under ``/v1/stats``: the app
includes this router before any ``/v1/stats/{kind}`` route, or that route would take it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from hub.api.deps import AccessDep, RequestId, scoped
from hub.sharing import Asked
from hub.sharing.reconcile import KINDS, Reconciliation

router = APIRouter(prefix="/v1/stats", tags=["stats"])


def _scope(request: Request) -> str:
    """``person.read``, ``house.read`` or ``unit.read``: the scope of the kind reconciled."""
    kind = request.query_params.get("kind", "person")
    return f"{kind if kind in KINDS else 'person'}.read"


def _reconciliation(request: Request) -> Reconciliation:
    service: Reconciliation = request.app.state.reconciliation
    return service


ReconciliationDep = Annotated[Reconciliation, Depends(_reconciliation)]


class GridReconciliation(BaseModel):
    grid_code: str
    police_only: int
    """Held by a police source and by no grid source."""
    grid_only: int
    both: int
    """Held by both sides: the same ID number, house code or credit code."""
    disagreements: dict[str, int]
    """Per compared fact (address, phone, occupant_count, household_type): things held by
    both whose records hold different values."""


class Totals(BaseModel):
    police_only: int
    grid_only: int
    both: int
    disagreements: dict[str, int]


class ReconciliationCounts(BaseModel):
    kind: str
    grids: list[GridReconciliation]
    totals: Totals
    withheld: list[str]
    """Facts not compared for you: your policy does not serve you their field."""


@router.get(
    "/reconciliation",
    dependencies=[scoped(_scope)],
    summary="Per grid: known to the police only, to the grid only, to both, and disagreements",
    description="Counts only, of the things (people, houses or units) with a record in your "
    "rows; a thing's sides and disagreements are judged over all its linked records. "
    "Audited as stats.reconciliation.",
)
def reconciliation(
    access: AccessDep,
    service: ReconciliationDep,
    request_id: RequestId,
    kind: Annotated[Literal["person", "house", "unit"], Query()] = "person",
    grid: Annotated[str | None, Query(max_length=64, description="One grid code")] = None,
    purpose: Annotated[str | None, Query()] = None,
) -> ReconciliationCounts:
    counts = service.counts(Asked(access, kind, purpose, request_id), grid)
    return ReconciliationCounts.model_validate(counts)
