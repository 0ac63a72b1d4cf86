from __future__ import annotations

from enum import StrEnum
from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, model_validator
from pydantic_core import PydanticCustomError

from contracts.meta import Sensitivity as S
from contracts.meta import field
from contracts.record import Code, Record, Text


class OrderStatus(StrEnum):
    DISPATCHED = "派发"
    ACCEPTED = "签收"
    IN_PROGRESS = "处置中"
    REPORTED = "已反馈"
    CLOSED = "已办结"
    RETURNED = "退回"


NEXT_STATUSES: dict[OrderStatus, frozenset[OrderStatus]] = {
    OrderStatus.DISPATCHED: frozenset({OrderStatus.ACCEPTED, OrderStatus.RETURNED}),
    OrderStatus.ACCEPTED: frozenset({OrderStatus.IN_PROGRESS, OrderStatus.RETURNED}),
    OrderStatus.IN_PROGRESS: frozenset({OrderStatus.REPORTED, OrderStatus.RETURNED}),
    OrderStatus.REPORTED: frozenset({OrderStatus.CLOSED, OrderStatus.IN_PROGRESS}),
    OrderStatus.RETURNED: frozenset({OrderStatus.DISPATCHED}),
    OrderStatus.CLOSED: frozenset(),
}
"""The 派单 closed loop: 派发 → 签收 → 处置中 → 已反馈 → 已办结, with 退回 and re-dispatch."""


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    status: OrderStatus
    at: AwareDatetime
    by: str
    note: str | None = None


class WorkOrder(Record):
    """派单: work the police dispatch to the grid (or back), tracked to closure."""

    kind = "work_order"
    version = 1
    owned_by_hub = True
    label = "派单"

    order_id: Code = field("工单编号", S.INTERNAL, key=True)
    incident_id: Code | None = field("关联事件编号", S.INTERNAL, default=None)
    issuing_org: Text = field("派单单位", S.INTERNAL)
    receiving_org: Text = field("承办单位", S.INTERNAL)
    assignee: Text | None = field("承办人", S.PERSONAL, default=None)
    instruction: Text = field("派单要求", S.INTERNAL)
    due_at: AwareDatetime = field("办结时限", S.INTERNAL)
    status: OrderStatus = field("工单状态", S.INTERNAL)
    history: list[StatusChange] = field("状态记录", S.INTERNAL, default_factory=list)
    feedback: Text | None = field("处置反馈", S.PERSONAL, default=None)
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)

    @model_validator(mode="after")
    def _history_is_a_valid_loop(self) -> Self:
        if not self.history:
            return self
        if self.history[0].status is not OrderStatus.DISPATCHED:
            raise PydanticCustomError("order_history", "history must start with 派发")
        for before, after in zip(self.history, self.history[1:], strict=False):
            if after.status not in NEXT_STATUSES[before.status]:
                raise PydanticCustomError(
                    "order_transition",
                    "{a} cannot follow {b}",
                    {"a": after.status.value, "b": before.status.value},
                )
            if after.at < before.at:
                raise PydanticCustomError("order_history", "history is not in time order")
        if self.history[-1].status is not self.status:
            raise PydanticCustomError("order_history", "status differs from the last history entry")
        return self
