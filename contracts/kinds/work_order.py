"""派单: a work order and its closed loop, with the state machine held as data.

The loop::

    派发 ─签收→ 签收 ─处置中→ 处置中 ─已反馈→ 已反馈 ─已办结→ 已办结 (nothing follows)
                                   ↑                  │
                                   └──处置中── 退回 ←─退回─┘
    转派 (re-dispatch to another org or grid): from 派发, 签收, 处置中 or 退回, back to 派发

``STEPS`` says, for each step, from which statuses it may be taken, the status it leads
to and what its history entry must carry (a feedback, a reason, the new receiving org and
grid). Which side of an order may take a step is not the contract's: it is the sharing
policy's (``work_orders: {issue: …, receive: …}``). The hub enforces both against the
stored order; this contract checks that a history, however it came, is a valid loop.

The receiving side does not refuse an order with 退回: a 退回 status then would mean both
"back to you for rework" (it leads to 处置中) and "refused back to me", and the side that
refused could resume it. An order sent to the wrong org is re-dispatched (转派) by its
issuer.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal, Self, get_args

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


class Step(StrEnum):
    DISPATCH = "派发"
    ACCEPT = "签收"
    HANDLE = "处置中"
    REPORT = "已反馈"
    CLOSE = "已办结"
    RETURN = "退回"
    REDISPATCH = "转派"


class OrderType(StrEnum):
    """What the order is about; the hub's SLA defaults are set per type."""

    GROUP_RENTAL = "群租房核查"
    DISPUTE = "矛盾纠纷"
    VERIFICATION = "走访核查"
    HAZARD = "安全隐患"
    OTHER = "其他"


class Priority(StrEnum):
    NORMAL = "一般"
    URGENT = "紧急"
    CRITICAL = "特急"


RelatedKind = Literal["incident", "house", "unit", "address"]
"""Kinds an order may name as its subject, by natural key. Not ``person``: a person's key
is their ID number, which an order's key field would carry in clear; an order about a
person names their house or address and says who in its instruction."""

EntryField = Literal["feedback", "reason", "receiving_org", "grid_code", "beat_code", "assignee"]


@dataclass(frozen=True, slots=True)
class StepRule:
    step: Step
    after: frozenset[OrderStatus]
    """The statuses it may be taken from (none for 派发: it opens the order)."""
    leads_to: OrderStatus
    needs: frozenset[EntryField] = frozenset()
    """What its history entry must carry."""
    takes: frozenset[EntryField] = frozenset()
    """What else its entry may carry (every entry may carry a note)."""


_ROUTE: frozenset[EntryField] = frozenset({"receiving_org", "grid_code", "beat_code"})
_NAMED: frozenset[EntryField] = frozenset({"assignee"})
_BEAT: frozenset[EntryField] = frozenset({"beat_code"})
_S = OrderStatus
_RULES = (
    StepRule(Step.DISPATCH, frozenset(), _S.DISPATCHED, _ROUTE, _NAMED),
    StepRule(Step.ACCEPT, frozenset({_S.DISPATCHED}), _S.ACCEPTED, frozenset(), _NAMED),
    StepRule(Step.HANDLE, frozenset({_S.ACCEPTED, _S.RETURNED}), _S.IN_PROGRESS),
    StepRule(Step.REPORT, frozenset({_S.IN_PROGRESS}), _S.REPORTED, frozenset({"feedback"})),
    StepRule(Step.CLOSE, frozenset({_S.REPORTED}), _S.CLOSED),
    StepRule(Step.RETURN, frozenset({_S.REPORTED}), _S.RETURNED, frozenset({"reason"})),
    StepRule(
        Step.REDISPATCH,
        frozenset({_S.DISPATCHED, _S.ACCEPTED, _S.IN_PROGRESS, _S.RETURNED}),
        _S.DISPATCHED,
        frozenset({"receiving_org", "grid_code"}),
        _BEAT | _NAMED,
    ),
)
STEPS: dict[Step, StepRule] = {rule.step: rule for rule in _RULES}
"""The 派单 state machine: every step, where it may be taken, where it leads, what it needs."""

NEXT_STATUSES: dict[OrderStatus, frozenset[OrderStatus]] = {
    status: frozenset(rule.leads_to for rule in STEPS.values() if status in rule.after)
    for status in OrderStatus
}
"""The statuses each status may be followed by (read off ``STEPS``)."""

STEP_TO: dict[OrderStatus, Step] = {
    rule.leads_to: rule.step for rule in STEPS.values() if rule.step is not Step.DISPATCH
}
"""The one step that leads to each status (a transition may name its target status)."""


def step_refusal(status: OrderStatus, step: Step) -> tuple[str, str] | None:
    """Why ``step`` may not be taken from ``status``, as (rule, message); None if it may."""
    rule = STEPS[step]
    if status is OrderStatus.CLOSED:
        return "order_closed", "已办结 ends the order: no step follows it"
    if not rule.after:
        return "order_transition", f"{step.value} opens an order: it follows no status"
    if status not in rule.after:
        allowed = "、".join(s.value for s in OrderStatus if s in rule.after)
        return (
            "order_transition",
            f"{step.value} is taken from {allowed}, not from {status.value}",
        )
    return None


def next_deadline(
    status: OrderStatus, accept_by: dt.datetime, due_at: dt.datetime
) -> dt.datetime | None:
    """The next time the order must meet: signing for it while 派发 (or closing it, if that
    comes first), then closing it; none once closed. Past it, the order is overdue."""
    if status is OrderStatus.CLOSED:
        return None
    if status is OrderStatus.DISPATCHED:
        return min(accept_by, due_at)
    return due_at


class StatusChange(BaseModel):
    """One step of an order's history: which, the status it led to, when, by whom (the
    person, ``by``, and the partner system, ``org``), and what the step carried."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    step: Step
    status: OrderStatus
    at: AwareDatetime
    by: Text
    org: Text
    note: Text | None = None
    feedback: Text | None = None
    reason: Text | None = None
    receiving_org: Text | None = None
    grid_code: Code | None = None
    beat_code: Code | None = None
    assignee: Text | None = None

    @model_validator(mode="after")
    def _carries_what_its_step_needs(self) -> Self:
        rule = STEPS[self.step]
        if self.status is not rule.leads_to:
            raise PydanticCustomError(
                "order_step",
                "{step} leads to {to}, not {status}",
                {"step": self.step.value, "to": rule.leads_to.value, "status": self.status.value},
            )
        carried = {name for name in get_args(EntryField) if getattr(self, name) is not None}
        if missing := sorted(rule.needs - carried):
            raise PydanticCustomError(
                "order_step",
                "{step} needs {fields}",
                {"step": self.step.value, "fields": ", ".join(missing)},
            )
        if extra := sorted(carried - rule.needs - rule.takes):
            raise PydanticCustomError(
                "order_step",
                "{step} does not take {fields}",
                {"step": self.step.value, "fields": ", ".join(extra)},
            )
        return self


class WorkOrder(Record):
    """派单: work one side dispatches to the other, tracked to closure in one history.

    Kept by the hub (``owned_by_hub``): partners change it only by taking steps through
    the hub's work-order routes. Its version is the number of history entries.
    """

    kind = "work_order"
    version = 2
    owned_by_hub = True
    label = "派单"

    order_id: Code = field("工单编号", S.INTERNAL, key=True)
    order_type: OrderType = field("工单类型", S.INTERNAL)
    priority: Priority = field("紧急程度", S.INTERNAL, default=Priority.NORMAL)
    related_kind: RelatedKind | None = field("关联对象类型", S.INTERNAL, default=None)
    related_key: Code | None = field("关联对象编号", S.INTERNAL, default=None)
    issuing_org: Text = field("派单单位", S.INTERNAL)
    receiving_org: Text = field("承办单位", S.INTERNAL)
    assignee: Text | None = field("承办人", S.PERSONAL, default=None)
    instruction: Text = field("派单要求", S.PERSONAL)
    dispatched_at: AwareDatetime = field("派单时间", S.INTERNAL)
    accept_by: AwareDatetime = field("签收时限", S.INTERNAL)
    due_at: AwareDatetime = field("办结时限", S.INTERNAL)
    deadline: AwareDatetime | None = field("当前时限", S.INTERNAL, default=None)
    """``next_deadline`` of the order: what overdue and near-due lists are read by."""
    status: OrderStatus = field("工单状态", S.INTERNAL)
    history: list[StatusChange] = field("状态记录", S.PERSONAL, min_length=1)
    feedback: Text | None = field("处置反馈", S.PERSONAL, default=None)
    """The latest feedback; every one given is in ``history``."""
    grid_code: Code = field("网格编码", S.INTERNAL)
    beat_code: Code = field("警务区编码", S.INTERNAL)

    @model_validator(mode="after")
    def _history_is_a_valid_loop(self) -> Self:
        first = self.history[0]
        if first.step is not Step.DISPATCH:
            raise _history("history must start with 派发")
        for before, after in zip(self.history, self.history[1:], strict=False):
            refusal = step_refusal(before.status, after.step)
            if refusal is not None:
                raise PydanticCustomError(refusal[0], refusal[1])
            if after.at < before.at:
                raise _history("history is not in time order")
        last = self.history[-1]
        if last.status is not self.status:
            raise _history("status differs from the last history entry")
        self._agrees_with_history()
        return self

    def _agrees_with_history(self) -> None:
        """The order's own fields say what its history says."""
        first = self.history[0]
        if first.org != self.issuing_org:
            raise _history("the 派发 entry is not the issuing org's")
        if self.dispatched_at != first.at:
            raise _history("dispatched_at differs from the 派发 entry")
        routed = [e for e in self.history if e.step in (Step.DISPATCH, Step.REDISPATCH)]
        route = routed[-1]
        if (route.receiving_org, route.grid_code) != (self.receiving_org, self.grid_code):
            raise _history("receiving_org and grid_code differ from the last dispatch")
        if route.beat_code is not None and route.beat_code != self.beat_code:
            raise _history("beat_code differs from the last dispatch")
        if self.receiving_org == self.issuing_org:
            raise _history("an org does not dispatch an order to itself")
        if self.accept_by < route.at:
            raise _history("accept_by is before the last dispatch")
        if self.due_at <= self.dispatched_at:
            raise PydanticCustomError("order_due", "due_at must be after dispatched_at")
        if self.deadline != next_deadline(self.status, self.accept_by, self.due_at):
            raise _history("deadline is not the next deadline of the order's status")
        feedbacks = [e.feedback for e in self.history if e.feedback is not None]
        if self.feedback != (feedbacks[-1] if feedbacks else None):
            raise _history("feedback differs from the last 已反馈 entry")
        since = self.history[self.history.index(route) :]
        named = [e.assignee for e in since if e.assignee is not None]
        if self.assignee != (named[-1] if named else None):
            raise _history("assignee differs from the last one named since the last dispatch")
        if (self.related_kind is None) != (self.related_key is None):
            raise PydanticCustomError("order_related", "related_kind and related_key go together")


def _history(message: str) -> PydanticCustomError:
    return PydanticCustomError("order_history", message)
