"""Cycle-time figures of work orders (seed 001's "from 3 days to 1"): how long orders wait
to be signed for and to be closed, per grid and per receiving org.

- to accept: from the dispatch to that receiver (the last 派发 or 转派 before it) to its
  签收; a re-dispatched order counts the wait of the receiver that signed.
- to close: from the first dispatch to 已办结, the whole loop as the resident sees it.

Each is given as count, median and 90th percentile, in hours; with them, how many orders
are open (not 已办结) and how many of those are overdue (past their next deadline).
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from contracts import OrderStatus, StatusChange, Step

HOUR = dt.timedelta(hours=1)


class CycleTime(BaseModel):
    count: int
    median_hours: float | None
    p90_hours: float | None


class GroupStats(BaseModel):
    key: str
    """The grid code or the receiving org (its client id)."""
    orders: int
    open: int
    overdue: int
    to_accept: CycleTime
    to_close: CycleTime


class OrderStats(BaseModel):
    at: dt.datetime
    """The time overdue was judged at."""
    orders: int
    by_grid: list[GroupStats]
    by_org: list[GroupStats]


@dataclass
class _Group:
    orders: int = 0
    open: int = 0
    overdue: int = 0
    to_accept: list[float] = field(default_factory=list)
    to_close: list[float] = field(default_factory=list)

    def add(self, order: Mapping[str, Any], now: dt.datetime) -> None:
        history: Sequence[StatusChange] = order["history"]
        self.orders += 1
        if order["status"] != OrderStatus.CLOSED:
            self.open += 1
            deadline = order["deadline"]
            self.overdue += deadline is not None and deadline < now
        if (accepted := hours_to_accept(history)) is not None:
            self.to_accept.append(accepted)
        if (closed := hours_to_close(history)) is not None:
            self.to_close.append(closed)

    def stats(self, key: str) -> GroupStats:
        return GroupStats(
            key=key,
            orders=self.orders,
            open=self.open,
            overdue=self.overdue,
            to_accept=cycle_time(self.to_accept),
            to_close=cycle_time(self.to_close),
        )


def hours_to_accept(history: Sequence[StatusChange]) -> float | None:
    dispatched: dt.datetime | None = None
    waited: float | None = None
    for entry in history:
        if entry.status is OrderStatus.DISPATCHED:
            dispatched = entry.at
        elif entry.step is Step.ACCEPT and dispatched is not None:
            waited = (entry.at - dispatched) / HOUR
    return waited


def hours_to_close(history: Sequence[StatusChange]) -> float | None:
    closed = [entry.at for entry in history if entry.step is Step.CLOSE]
    return (closed[-1] - history[0].at) / HOUR if closed else None


def cycle_time(hours: Sequence[float]) -> CycleTime:
    if not hours:
        return CycleTime(count=0, median_hours=None, p90_hours=None)
    p90 = statistics.quantiles(hours, n=10, method="inclusive")[-1] if len(hours) > 1 else hours[0]
    return CycleTime(
        count=len(hours),
        median_hours=round(statistics.median(hours), 2),
        p90_hours=round(p90, 2),
    )


def order_stats(orders: Iterable[Mapping[str, Any]], now: dt.datetime) -> OrderStats:
    """The figures of ``orders`` (each with ``status``, ``deadline``, ``history``,
    ``grid_code`` and ``receiving_org``), overdue judged at ``now``."""
    grids: dict[str, _Group] = {}
    orgs: dict[str, _Group] = {}
    count = 0
    for order in orders:
        count += 1
        grids.setdefault(order["grid_code"], _Group()).add(order, now)
        orgs.setdefault(order["receiving_org"], _Group()).add(order, now)
    return OrderStats(
        at=now,
        orders=count,
        by_grid=[group.stats(key) for key, group in sorted(grids.items())],
        by_org=[group.stats(key) for key, group in sorted(orgs.items())],
    )
