"""Service levels of work orders: by when an order must be signed for, and closed.

Signing is due ``accept_within`` of each dispatch (a re-dispatched order gets a fresh
window: the new receiver had not seen it). Closing is due at the order's ``due_at`` when
the issuer names one, else ``close_within`` of the first dispatch. Both defaults may be
set per order type (``by_type``). An order is overdue past its next deadline
(``contracts.next_deadline``), near due within ``near_due_within`` of it.

Set in ``config.json`` under ``work_orders`` or from the environment, durations in ISO 8601
or seconds: ``HUB_WORK_ORDERS__ACCEPT_WITHIN=PT2H``, ``HUB_WORK_ORDERS__CLOSE_WITHIN=P3D``,
``HUB_WORK_ORDERS__BY_TYPE='{"矛盾纠纷": {"close_within": "P1D"}}'``.
"""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict, Field, field_validator

from contracts import OrderType


def _positive(value: dt.timedelta | None) -> dt.timedelta | None:
    if value is not None and value <= dt.timedelta(0):
        raise ValueError("a service level is a positive duration")
    return value


class TypeSla(BaseModel):
    """One order type's own service levels; unset ones are the hub's defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accept_within: dt.timedelta | None = None
    close_within: dt.timedelta | None = None

    _checked = field_validator("accept_within", "close_within")(_positive)


class Sla(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    accept_within: dt.timedelta = dt.timedelta(hours=2)
    close_within: dt.timedelta = dt.timedelta(days=3)
    near_due_within: dt.timedelta = dt.timedelta(hours=4)
    by_type: dict[OrderType, TypeSla] = Field(default_factory=dict)

    _checked = field_validator("accept_within", "close_within", "near_due_within")(_positive)

    def accept_by(self, order_type: OrderType, dispatched: dt.datetime) -> dt.datetime:
        own = self.by_type.get(order_type)
        return dispatched + ((own and own.accept_within) or self.accept_within)

    def due_at(self, order_type: OrderType, dispatched: dt.datetime) -> dt.datetime:
        own = self.by_type.get(order_type)
        return dispatched + ((own and own.close_within) or self.close_within)


class SlaEnv(BaseModel):
    """``Sla``'s fields, each optional: what the ``HUB_WORK_ORDERS__*`` environment sets."""

    accept_within: dt.timedelta | None = None
    close_within: dt.timedelta | None = None
    near_due_within: dt.timedelta | None = None
    by_type: dict[OrderType, TypeSla] | None = None
