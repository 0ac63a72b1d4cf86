"""What partners send the work-order service, and what it answers: a dispatch, a step,
and the policy-free facts of an order after either."""

from __future__ import annotations

from typing import Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

from contracts import STEP_TO, OrderStatus, OrderType, Priority, RelatedKind, Step
from contracts.record import Code, Text
from hub.sharing.ids import ID_PATTERN

ORG = Field(min_length=1, max_length=64, description="An org: its OAuth client id")


class Related(BaseModel):
    """The record an order is about, by the id the hub gave the caller for it."""

    model_config = ConfigDict(extra="forbid")

    kind: RelatedKind
    id: str = Field(pattern=ID_PATTERN)


class DispatchRequest(BaseModel):
    """派单: what the issuer says; the hub adds the rest (ids, times, status, history)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    receiving_org: str = ORG
    grid_code: Code
    beat_code: Code
    order_type: OrderType
    instruction: Text
    priority: Priority = Priority.NORMAL
    assignee: Text | None = None
    related: Related | None = None
    due_at: AwareDatetime | None = Field(
        default=None, description="办结时限; by default the hub's for the order type"
    )
    note: Text | None = None


class StepRequest(BaseModel):
    """One step: named as ``step`` or by the status it leads to (``to``), with the version
    of the order the caller saw and what the step carries."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    step: Step | None = None
    to: OrderStatus | None = None
    version: int = Field(ge=1, le=100_000)
    note: Text | None = None
    feedback: Text | None = None
    reason: Text | None = None
    receiving_org: str | None = Field(default=None, min_length=1, max_length=64)
    grid_code: Code | None = None
    beat_code: Code | None = None
    assignee: Text | None = None

    @model_validator(mode="after")
    def _one_step(self) -> Self:
        if self.step is None and self.to is None:
            raise ValueError("name the step, or the status it leads to (to)")
        if self.to is not None and self.step not in (None, STEP_TO[self.to]):
            raise ValueError(f"{self.step} does not lead to {self.to.value}")
        return self

    @property
    def taken(self) -> Step:
        """The step named, or the one leading to ``to``."""
        step = self.step if self.to is None else STEP_TO[self.to]
        if step is None:
            raise ValueError("no step named")  # refused by the validator: not reached
        return step

    def carried(self) -> dict[str, str]:
        """What the step carries into its history entry (besides its note)."""
        names = ("feedback", "reason", "receiving_org", "grid_code", "beat_code", "assignee")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class Placed(BaseModel):
    """An order after a step: facts its parties know whatever their policy shows."""

    id: str
    """The caller's id of the order."""
    order_id: str
    step: Step
    status: OrderStatus
    version: int
