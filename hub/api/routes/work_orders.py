"""派单 routes: dispatch, take a step, list (overdue, near due), read with history, stats.

Thin: each route hands the request to ``hub.work.orders.WorkOrders``. Ids in URLs are
the caller's own ids of an order (``hub.sharing.ids``), the same the records routes give
for ``work_order``. GETs need the scope ``work_order.read``, POSTs ``work_order.write``;
every request declares its ``purpose``, as on the records routes.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from pydantic import BaseModel

from contracts import OrderStatus
from contracts.record import Code
from hub.api.deps import AccessDep, RequestId, WorkOrdersDep, scoped
from hub.api.routes.records import Purpose, once
from hub.sharing import Access, Asked
from hub.sharing.ids import ID_PATTERN
from hub.work.requests import DispatchRequest, Placed, StepRequest
from hub.work.stats import OrderStats

KIND = "work_order"


def _scope(request: Request) -> str:
    return f"{KIND}.write" if request.method == "POST" else f"{KIND}.read"


router = APIRouter(prefix="/v1/work-orders", tags=["work orders"], dependencies=[scoped(_scope)])


OrderRef = Annotated[
    str, Path(pattern=ID_PATTERN, description="The order's id as the hub gave it to you.")
]


class OrderView(BaseModel):
    id: str
    version: int
    """The number of steps in the order's history: what a transition names."""
    source: str
    updated: dt.datetime
    record: dict[str, Any]


class OrderPage(BaseModel):
    items: list[OrderView]
    next_cursor: str | None


def _asked(access: Access, purpose: str | None, request_id: str) -> Asked:
    return Asked(access, KIND, purpose, request_id)


@router.post("", status_code=201, summary="Dispatch a work order (派单) from your org")
def dispatch(
    request: Request,
    body: DispatchRequest,
    access: AccessDep,
    orders: WorkOrdersDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> Placed:
    once(request)
    return orders.dispatch(_asked(access, purpose, request_id), body)


@router.post(
    "/{order_id}/transitions",
    summary="Take one step of an order: 签收, 处置中, 已反馈, 已办结, 退回, 转派",
    description="Name the `step` (or the status it leads `to`) and the `version` you saw; "
    "a stale version is 409, a step the order's status does not allow is 409 naming the "
    "rule, a step your side is not granted is 403.",
)
def transition(
    request: Request,
    order_id: OrderRef,
    body: StepRequest,
    access: AccessDep,
    orders: WorkOrdersDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> Placed:
    once(request)
    return orders.transition(_asked(access, purpose, request_id), order_id, body)


@router.get("", summary="Orders within your policy: by status, grid, overdue or near due")
def list_orders(
    request: Request,
    access: AccessDep,
    orders: WorkOrdersDep,
    request_id: RequestId,
    purpose: Purpose = None,
    status: OrderStatus | None = None,
    grid: Code | None = None,
    overdue: bool = False,
    near_due: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> OrderPage:
    once(request)
    page = orders.reads.query(
        _asked(access, purpose, request_id),
        status=status,
        grid=grid,
        overdue=overdue,
        near_due=near_due,
        cursor=cursor,
        limit=limit,
    )
    return OrderPage(items=[OrderView(**item) for item in page.items], next_cursor=page.next_cursor)


@router.get("/stats", summary="Cycle times to 签收 and to 办结, open and overdue, per grid and org")
def order_stats(
    request: Request,
    access: AccessDep,
    orders: WorkOrdersDep,
    request_id: RequestId,
    purpose: Purpose = None,
    grid: Code | None = None,
) -> OrderStats:
    once(request)
    return orders.reads.stats(_asked(access, purpose, request_id), grid=grid)


@router.get("/{order_id}", summary="One order with its full history")
def read_order(
    request: Request,
    order_id: OrderRef,
    access: AccessDep,
    orders: WorkOrdersDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> OrderView:
    once(request)
    return OrderView(**orders.reads.read(_asked(access, purpose, request_id), order_id))
