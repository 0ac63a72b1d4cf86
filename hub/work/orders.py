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
from typing import Any

from contracts import (
    STEPS,
    OrderStatus,
    Record,
    RecordInvalid,
    Step,
    WorkOrder,
    next_deadline,
    step_refusal,
)
from hub.audit import AuditEvent
from hub.auth.clients import ClientRegistry
from hub.events import emit
from hub.sharing import Asked, Conflict, Denied, InvalidRequest, NotFound, Sharing
from hub.store import Transaction
from hub.work.parties import Receiver, receiver, receiving_refusal, side_of
from hub.work.reads import OrderReads
from hub.work.requests import DispatchRequest, Placed, StepRequest
from hub.work.sla import Sla
from policies import AccessDenied, Policy, Side, decide_step

KIND = WorkOrder.kind
SOURCE = "hub"
"""The source system of the hub's own records."""
Clock = Callable[[], dt.datetime]


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class WorkOrders:
    def __init__(
        self, sharing: Sharing, clients: ClientRegistry, sla: Sla, clock: Clock = utc_now
    ) -> None:
        self.sharing = sharing
        self.clients = clients
        self.sla = sla
        self.clock = clock
        self.reads = OrderReads(sharing, sla, clock)
        """Orders as the caller's policy shows them: one, a list, the cycle-time figures."""

    # --- 派单 ---------------------------------------------------------------------------

    def dispatch(self, asked: Asked, request: DispatchRequest) -> Placed:
        action = "work_orders.dispatch"
        policy = self._policy(asked, action)
        now = self.clock()
        related, related_ids = self.reads.related(asked, action, request.related)
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
        self._receivable(
            asked,
            action,
            policy,
            order,
            receiver(self.clients, self.sharing.policies, order.receiving_org),
        )
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
        moved_to = (
            receiver(self.clients, self.sharing.policies, request.receiving_org)
            if request.receiving_org
            else None
        )
        now = self.clock()
        with self.sharing.store.begin() as tx:
            stored = tx.locked(KIND, record_id) if record_id is not None else None
            if stored is None or stored.provenance.source_system != SOURCE:
                raise self._not_found(asked, action, policy, ref, "not_found")
            order = _order(stored.record)
            side = side_of(asked.access.client_id, order)
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
            if moved_to is not None:
                self._decide(asked, action, policy, side, step, changed, about)
                self._receivable(asked, action, policy, changed, moved_to)
            self._store(tx, changed, now)
            self._told(tx, asked, action, policy, stored.id, order, changed, now)
        return self._placed(asked, stored.id, changed)

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

    def _receivable(
        self, asked: Asked, action: str, policy: Policy, order: WorkOrder, receiver: Receiver
    ) -> None:
        """The caller is told only that the org cannot receive the order (which partners
        exist is not its to map); the audit entry says why."""
        if reason := receiving_refusal(receiver, order):
            event = self._refused(asked, action, policy, reason, receiving_org=order.receiving_org)
            raise InvalidRequest(
                "receiving_org",
                f"{order.receiving_org} cannot receive this order: no such org, or its "
                "policy does not receive orders of this kind and grid",
                event,
                field="receiving_org",
            )

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
