"""Reading work orders: through the sharing service, so what a partner sees of an order
is what its policy's ``kinds.work_order`` grant shows (rows by grid or beat, fields as
granted), and every read is audited as any record's is.

Each view also carries the order's ``version`` (the number of its history entries, the
fact a step must name), whether or not the policy shows the history. The overdue and
near-due lists and the cycle-time figures are judged at the service's clock.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import select

from contracts import OrderStatus, WorkOrder, contract
from hub.sharing import Asked, InvalidRequest, Page, Sharing
from hub.store.query import Filter, select_rows
from hub.store.tables import KIND_TABLES
from hub.work.requests import Related
from hub.work.sla import Sla
from hub.work.stats import OrderStats, order_stats
from policies import Treatment

KIND = WorkOrder.kind
Clock = Callable[[], dt.datetime]
STATS_FIELDS = ("status", "deadline", "history", "grid_code", "receiving_org")
"""What the cycle-time figures are made of: the caller's policy must grant them."""


class OrderReads:
    def __init__(self, sharing: Sharing, sla: Sla, clock: Clock) -> None:
        self.sharing = sharing
        self.sla = sla
        self.clock = clock

    def read(self, asked: Asked, ref: str) -> dict[str, Any]:
        """One order with its full history, as the caller's policy shows it."""
        view = self.sharing.read(asked, ref, fields=None)
        return self._with_versions(asked, [view])[0]

    def query(
        self,
        asked: Asked,
        *,
        status: OrderStatus | None = None,
        grid: str | None = None,
        overdue: bool = False,
        near_due: bool = False,
        cursor: str | None = None,
        limit: int = 100,
    ) -> Page:
        """Orders in the caller's rows; overdue ones (past their next deadline, now) or
        near-due ones (the deadline within ``Sla.near_due_within``). Each filter needs its
        field granted in clear: ``status``, ``grid_code``, ``deadline``."""
        now = self.clock()
        filters = []
        if status is not None:
            filters.append(Filter("status", "eq", status.value))
        if grid is not None:
            filters.append(Filter("grid_code", "eq", grid))
        if overdue and near_due:
            event = self.sharing.event(asked, "records.query", "denied", detail={"reason": "due"})
            raise InvalidRequest("due", "ask for overdue or for near-due orders, not both", event)
        if overdue:
            filters.append(Filter("deadline", "lte", now))
        if near_due:
            filters.append(Filter("deadline", "gte", now))
            filters.append(Filter("deadline", "lte", now + self.sla.near_due_within))
        page = self.sharing.query(asked, fields=None, filters=filters, cursor=cursor, limit=limit)
        return Page(self._with_versions(asked, page.items), page.next_cursor)

    def stats(self, asked: Asked, *, grid: str | None = None) -> OrderStats:
        """Cycle times, open and overdue counts of the orders in the caller's rows, per grid
        and per receiving org (``hub.work.stats``). The caller's policy must grant the
        fields they are made of; the audit entry names how many orders went into them."""
        filters = [Filter("grid_code", "eq", grid)] if grid is not None else []
        decision = self.sharing.decide(asked, "read", fields=STATS_FIELDS, filters=filters)
        now = self.clock()
        orders: list[dict[str, Any]] = []
        after: int | None = None
        while True:
            found = select_rows(
                self.sharing.store,
                KIND,
                decision.scope,
                STATS_FIELDS,
                filters,
                after_id=after,
                limit=self.sharing.max_page,
            )
            orders += [row.values for row in found]
            if len(found) < self.sharing.max_page:
                break
            after = found[-1].id
        self.sharing.audit.append(
            self.sharing.event(
                asked,
                "work_orders.stats",
                "allowed",
                filters=filters,
                decision=decision,
                detail={"orders": len(orders)},
            )
        )
        return order_stats(orders, now)

    def related(
        self, asked: Asked, action: str, related: Related | None
    ) -> tuple[dict[str, Any], list[str]]:
        """The fields naming the record an order is about (its kind and natural key), and
        the audit log's name of that record. The caller must read the key in clear: it
        could not otherwise name the record by a key it may not see."""
        if related is None:
            return {}, []
        key = contract(related.kind).natural_key_fields()[0]
        on = Asked(asked.access, related.kind, asked.purpose, asked.request_id)
        decision = self.sharing.decide(on, "read", fields=[key])
        record_id = self.sharing.ids.decode(asked.access.client_id, related.kind, related.id)
        found = (
            select_rows(
                self.sharing.store, related.kind, decision.scope, [key], record_id=record_id
            )
            if record_id is not None and decision.treatments[key] is Treatment.ALLOW
            else []
        )
        if not found:
            detail = {"reason": "related_not_found"}
            event = self.sharing.event(on, action, "denied", decision=decision, detail=detail)
            raise InvalidRequest(
                "related_not_found",
                f"no {related.kind} {related.id} that you read in clear",
                event,
                field="related",
            )
        values = {"related_kind": related.kind, "related_key": found[0].values[key]}
        return values, [f"{related.kind}/{found[0].id}"]

    def _with_versions(self, asked: Asked, views: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        client = asked.access.client_id
        ids = {view["id"]: self.sharing.ids.decode(client, KIND, view["id"]) for view in views}
        table = KIND_TABLES[KIND].table
        known = [record_id for record_id in ids.values() if record_id is not None]
        query = select(table.c.id, table.c.history).where(table.c.id.in_(known))
        with self.sharing.store.engine.connect() as conn:
            versions = {row.id: len(row.history) for row in conn.execute(query)}
        return [view | {"version": versions.get(ids[view["id"]])} for view in views]
