"""Work orders owned by the hub (派单): one record per order, one history, changed only by
the steps partners take here.

An order is one row of ``rec_work_order`` (source ``hub``, source key its order id), so
``GET /v1/records/work_order`` and a policy's ``kinds.work_order`` read grant serve it
like any record; the push door refuses the kind (``owned_by_hub``). The org of a caller is
its OAuth client id; the person, the token's subject.

- ``dispatch`` (派发): the caller is the issuing org. The order is made and parsed by the
  contract first; then the caller's policy must grant 派发 to issuers, within its
  ``work_orders.rows``, and the receiving org must be a live client whose policy
  receives orders and whose rows (on its registered claims) hold this one.
- ``transition``: one step, decided in one transaction against the stored order, its
  row locked: the caller must be its issuer or its receiver (else 404: an order is not
  revealed to a caller it was not addressed to), its policy must grant the step to that
  side on an order within its rows (403), the version it saw must be the stored one
  (409 ``stale_version``), the contract must let the step follow the stored status (409
  ``illegal_step``, naming the rule), and the step must carry what it needs (400). The
  order with the step appended is parsed by the contract again, stored, and its event and
  audit entry written, all in that transaction.
- reads are the sharing service's (policy rows and fields, audited); each view also
  carries the order's ``version``, the number of its history entries, which a step names.

A refused step raises a sharing error carrying the audit event of its refusal; the API
writes that entry once the transaction has rolled back, so a refusal leaves no change and
no ``allowed`` entry behind.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Self

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator
from sqlalchemy import select

from contracts import (
    STEP_TO,
    STEPS,
    OrderStatus,
    OrderType,
    Priority,
    Record,
    RecordInvalid,
    RelatedKind,
    Step,
    WorkOrder,
    contract,
    next_deadline,
    step_refusal,
)
from contracts.record import Code, Text
from hub.audit import AuditEvent
from hub.auth.clients import Client, ClientRegistry
from hub.events import emit
from hub.sharing import Asked, Conflict, Denied, InvalidRequest, NotFound, Page, Sharing
from hub.sharing.ids import ID_PATTERN
from hub.store import Transaction
from hub.store.query import Filter, select_rows
from hub.store.tables import KIND_TABLES
from hub.work.sla import Sla
from hub.work.stats import OrderStats, order_stats
from policies import (
    AccessDenied,
    Policy,
    Side,
    Treatment,
    decide_receiving,
    decide_step,
)

KIND = WorkOrder.kind
SOURCE = "hub"
"""The source system of the hub's own records."""
Clock = Callable[[], dt.datetime]
STATS_FIELDS = ("status", "deadline", "history", "grid_code", "receiving_org")
"""What the cycle-time figures are computed from: the caller's policy must grant them."""


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Related(BaseModel):
    """The record an order is about, by the id the hub gave the caller for it."""

    model_config = ConfigDict(extra="forbid")

    kind: RelatedKind
    id: str = Field(pattern=ID_PATTERN)


class DispatchRequest(BaseModel):
    """派单: what the issuer says; the hub adds the rest (ids, times, status, history)."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    receiving_org: str = Field(
        min_length=1, max_length=64, description="The receiving org's client id"
    )
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
        names = ("feedback", "reason", "receiving_org", "grid_code", "beat_code", "assignee")
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}


class Placed(BaseModel):
    """An order after a step: policy-free facts its parties know."""

    id: str
    """The caller's id of the order."""
    order_id: str
    step: Step
    status: OrderStatus
    version: int


@dataclass(frozen=True, slots=True)
class Receiver:
    """A receiving org as the hub knows it: its client and that client's policy."""

    org: str
    client: Client | None
    policy: Policy | None


class WorkOrders:
    def __init__(
        self, sharing: Sharing, clients: ClientRegistry, sla: Sla, clock: Clock = utc_now
    ) -> None:
        self.sharing = sharing
        self.clients = clients
        self.sla = sla
        self.clock = clock

    # --- 派单 ---------------------------------------------------------------------------

    def dispatch(self, asked: Asked, request: DispatchRequest) -> Placed:
        action = "work_orders.dispatch"
        policy = self._policy(asked, action)
        now = self.clock()
        related, related_ids = self._related(asked, request.related)
        due_at = request.due_at or self.sla.due_at(request.order_type, now)
        if due_at <= now:
            raise InvalidRequest(
                "due_at",
                "due_at must be in the future",
                self._refused(asked, action, policy, "due_at"),
                field="due_at",
            )
        accept_by = self.sla.accept_by(request.order_type, now)
        entry = self._entry(asked, Step.DISPATCH, now, request.note) | {
            "receiving_org": request.receiving_org,
            "grid_code": request.grid_code,
            "beat_code": request.beat_code,
        }
        if request.assignee is not None:
            entry["assignee"] = request.assignee
        values: dict[str, Any] = {
            "order_id": f"WO{now:%Y%m%d}{secrets.token_hex(5).upper()}",
            "order_type": request.order_type,
            "priority": request.priority,
            "issuing_org": asked.access.client_id,
            "receiving_org": request.receiving_org,
            "assignee": request.assignee,
            "instruction": request.instruction,
            "dispatched_at": now,
            "accept_by": accept_by,
            "due_at": due_at,
            "deadline": next_deadline(OrderStatus.DISPATCHED, accept_by, due_at),
            "status": OrderStatus.DISPATCHED,
            "history": [entry],
            "grid_code": request.grid_code,
            "beat_code": request.beat_code,
            **related,
        }
        order = self._parse(asked, action, policy, values)
        self._decide(asked, action, policy, "issue", Step.DISPATCH, order)
        self._receivable(asked, action, policy, order, self._receiver(order.receiving_org))
        with self.sharing.store.begin() as tx:
            record_id = self._store(tx, order, now)
            self._told(tx, asked, action, policy, record_id, None, order, now, related_ids)
        return self._placed(asked, record_id, order)

    # --- steps --------------------------------------------------------------------------

    def transition(self, asked: Asked, ref: str, request: StepRequest) -> Placed:
        action = "work_orders.transition"
        policy = self._policy(asked, action)
        step = request.taken
        record_id = self.sharing.ids.decode(asked.access.client_id, KIND, ref)
        # Whatever may open another connection is read before the transaction: on SQLite
        # it holds the database's write lock, and a policy reload would wait on it.
        receiver = self._receiver(request.receiving_org) if request.receiving_org else None
        now = self.clock()
        with self.sharing.store.begin() as tx:
            stored = tx.locked(KIND, record_id) if record_id is not None else None
            if stored is None or stored.provenance.source_system != SOURCE:
                raise self._not_found(asked, action, policy, ref, "not_found")
            order = _order(stored.record)
            side = self._side(asked, order)
            if side is None:
                raise self._not_found(asked, action, policy, ref, "not_party", stored.id)
            about = {"record_ids": [f"{KIND}/{stored.id}"], "step": step.value}
            self._decide(asked, action, policy, side, step, order, about)
            version = len(order.history)
            if request.version != version:
                raise Conflict(
                    "stale_version",
                    f"the order is at version {version}, not {request.version}: read it again",
                    self._refused(asked, action, policy, "stale_version", **about),
                    version=version,
                )
            if refusal := step_refusal(order.status, step):
                rule, message = refusal
                raise Conflict(
                    "illegal_step",
                    message,
                    self._refused(asked, action, policy, "illegal_step", rule=rule, **about),
                    rule=rule,
                    order_status=order.status.value,
                )
            self._carries(asked, action, policy, step, request, about)
            changed = self._parse(asked, action, policy, self._next(asked, order, request, now))
            if receiver is not None:
                self._decide(asked, action, policy, side, step, changed, about)
                self._receivable(asked, action, policy, changed, receiver)
            self._store(tx, changed, now)
            self._told(tx, asked, action, policy, stored.id, order, changed, now)
        return self._placed(asked, stored.id, changed)

    def _side(self, asked: Asked, order: WorkOrder) -> Side | None:
        if asked.access.client_id == order.issuing_org:
            return "issue"
        if asked.access.client_id == order.receiving_org:
            return "receive"
        return None

    def _carries(
        self,
        asked: Asked,
        action: str,
        policy: Policy,
        step: Step,
        request: StepRequest,
        about: dict[str, Any],
    ) -> None:
        rule = STEPS[step]
        carried = set(request.carried())
        missing = sorted(rule.needs - carried)
        extra = sorted(carried - rule.needs - rule.takes)
        if missing or extra:
            code = "step_needs" if missing else "step_does_not_take"
            said = f"needs {', '.join(missing)}" if missing else f"does not take {', '.join(extra)}"
            event = self._refused(asked, action, policy, code, fields=missing or extra, **about)
            raise InvalidRequest(code, f"{step.value} {said}", event, fields=missing or extra)

    def _next(
        self, asked: Asked, order: WorkOrder, request: StepRequest, now: dt.datetime
    ) -> dict[str, Any]:
        """The order with ``request``'s step taken."""
        step = request.taken
        carried = request.carried()
        values = order.model_dump()
        status = STEPS[step].leads_to
        values["history"].append(self._entry(asked, step, now, request.note) | carried)
        values["status"] = status
        if step is Step.REPORT:
            values["feedback"] = carried["feedback"]
        if step is Step.REDISPATCH:
            values["receiving_org"] = carried["receiving_org"]
            values["grid_code"] = carried["grid_code"]
            values["beat_code"] = carried.get("beat_code", order.beat_code)
            values["accept_by"] = self.sla.accept_by(order.order_type, now)
            values["assignee"] = None
        if "assignee" in carried:
            values["assignee"] = carried["assignee"]
        values["deadline"] = next_deadline(status, values["accept_by"], values["due_at"])
        return values

    # --- reads --------------------------------------------------------------------------

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
        and per receiving org. The caller's policy must grant the fields they are made of
        (``STATS_FIELDS``); the entry names how many orders went into the figures."""
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
        figures = order_stats(orders, now)
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
        return figures

    def _with_versions(self, asked: Asked, views: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Each view with its order's version: the number of history entries, a fact a
        step must name, read whether or not the caller's policy shows the history."""
        client = asked.access.client_id
        ids = {view["id"]: self.sharing.ids.decode(client, KIND, view["id"]) for view in views}
        table = KIND_TABLES[KIND].table
        known = [record_id for record_id in ids.values() if record_id is not None]
        query = select(table.c.id, table.c.history).where(table.c.id.in_(known))
        with self.sharing.store.engine.connect() as conn:
            versions = {row.id: len(row.history) for row in conn.execute(query)}
        return [view | {"version": versions.get(ids[view["id"]])} for view in views]

    # --- decisions and what they leave behind -------------------------------------------

    def _policy(self, asked: Asked, action: str) -> Policy:
        policy = self.sharing.policies.get(asked.access.policy_id)
        if policy is None:
            raise Denied(
                "policy",
                f"no policy {asked.access.policy_id!r} is loaded",
                self._refused(asked, action, None, "policy"),
            )
        return policy

    def _decide(
        self,
        asked: Asked,
        action: str,
        policy: Policy,
        side: Side,
        step: Step,
        order: WorkOrder,
        about: dict[str, Any] | None = None,
    ) -> None:
        try:
            decide_step(
                policy,
                asked.access.jurisdiction,
                asked.purpose,
                side,
                step.value,
                order.model_dump(),
            )
        except AccessDenied as exc:
            event = self._refused(asked, action, policy, exc.reason, side=side, **(about or {}))
            raise Denied(exc.reason, str(exc), event) from None

    def _receiver(self, org: str) -> Receiver:
        client = self.clients.get(org)
        policy = None if client is None else self.sharing.policies.get(client.policy_id)
        return Receiver(org, client, policy)

    def _receivable(
        self, asked: Asked, action: str, policy: Policy, order: WorkOrder, receiver: Receiver
    ) -> None:
        """The receiving org exists, is not revoked, and its policy receives ``order``.
        The caller is told only that it cannot (which partners exist is not its to map);
        the audit entry says why."""
        reason: str | None = None
        if receiver.client is None:
            reason = "unknown_org"
        elif receiver.client.revoked:
            reason = "revoked_org"
        elif receiver.policy is None:
            reason = "no_policy"
        else:
            try:
                decide_receiving(receiver.policy, receiver.client.claims, order.model_dump())
            except AccessDenied as exc:
                reason = f"receiver_{exc.reason}"
        if reason is not None:
            event = self._refused(asked, action, policy, reason, receiving_org=order.receiving_org)
            raise InvalidRequest(
                "receiving_org",
                f"{order.receiving_org} cannot receive this order: no such org, or its "
                "policy does not receive orders of this kind and grid",
                event,
                field="receiving_org",
            )

    def _related(self, asked: Asked, related: Related | None) -> tuple[dict[str, Any], list[str]]:
        """The natural key of the record the order is about, which the caller must read in
        clear (it could not otherwise name it by a key it cannot see)."""
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
            event = self.sharing.event(
                on,
                "work_orders.dispatch",
                "denied",
                decision=decision,
                detail={"reason": "related_not_found"},
            )
            raise InvalidRequest(
                "related_not_found",
                f"no {related.kind} {related.id} that you read in clear",
                event,
                field="related",
            )
        values = {"related_kind": related.kind, "related_key": found[0].values[key]}
        return values, [f"{related.kind}/{found[0].id}"]

    def _parse(
        self, asked: Asked, action: str, policy: Policy, values: dict[str, Any]
    ) -> WorkOrder:
        try:
            order = WorkOrder.parse(values)
        except RecordInvalid as exc:
            failures = [
                {"field": f.field, "rule": f.rule, "message": f.message} for f in exc.failures
            ]
            rules = [{"field": f.field, "rule": f.rule} for f in exc.failures]
            event = self._refused(asked, action, policy, "invalid_order", failures=rules)
            raise InvalidRequest(
                "invalid_order", "the order breaks its contract", event, failures=failures
            ) from None
        return _order(order)

    def _entry(self, asked: Asked, step: Step, at: dt.datetime, note: str | None) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "step": step,
            "status": STEPS[step].leads_to,
            "at": at,
            "by": asked.access.subject,
            "org": asked.access.client_id,
        }
        if note is not None:
            entry["note"] = note
        return entry

    def _store(self, tx: Transaction, order: WorkOrder, now: dt.datetime) -> int:
        tx.upsert(SOURCE, [(order.order_id, order)], now)
        [(record_id, _)] = tx.located(KIND, SOURCE, [order.order_id]).values()
        return record_id

    def _told(
        self,
        tx: Transaction,
        asked: Asked,
        action: str,
        policy: Policy,
        record_id: int,
        before: WorkOrder | None,
        after: WorkOrder,
        now: dt.datetime,
        related: Sequence[str] = (),
    ) -> None:
        """The step's event and its audit entry, in the step's transaction (the entry last:
        it holds the log's lock to the commit)."""
        last = after.history[-1]
        facts = {
            "from": None if before is None else before.status.value,
            "to": after.status.value,
            "step": last.step.value,
            "version": len(after.history),
        }
        kind = "work_order.dispatched" if before is None else "work_order.transitioned"
        emit(tx, kind, kind=KIND, record_id=record_id, data=facts, at=now)
        detail = facts | {"receiving_org": after.receiving_org, "grid_code": after.grid_code}
        self.sharing.audit.append(
            self.sharing.event(
                asked,
                action,
                "allowed",
                policy=policy,
                record_ids=[f"{KIND}/{record_id}", *related],
                detail=detail,
            ),
            tx,
        )

    def _placed(self, asked: Asked, record_id: int, order: WorkOrder) -> Placed:
        return Placed(
            id=self.sharing.ids.encode(asked.access.client_id, KIND, record_id),
            order_id=order.order_id,
            step=order.history[-1].step,
            status=order.status,
            version=len(order.history),
        )

    def _refused(
        self, asked: Asked, action: str, policy: Policy | None, reason: str, **detail: Any
    ) -> AuditEvent:
        record_ids = detail.pop("record_ids", [])
        return self.sharing.event(
            asked,
            action,
            "denied",
            policy=policy,
            record_ids=record_ids,
            detail={"reason": reason, **detail},
        )

    def _not_found(
        self,
        asked: Asked,
        action: str,
        policy: Policy,
        ref: str,
        reason: str,
        record_id: int | None = None,
    ) -> NotFound:
        ids = [f"{KIND}/{record_id}"] if record_id is not None else []
        event = self._refused(asked, action, policy, reason, record_ids=ids, order=ref)
        return NotFound(f"no work order {ref}", event)


def _order(record: Record) -> WorkOrder:
    if not isinstance(record, WorkOrder):
        raise TypeError(f"a {record.kind} record is not a work order")
    return record
