"""The verification registry (走访核查): verify once, whichever side goes to the door.

The seeds' complaint: the same household is verified by the 社区民警 and again, days later,
by the 网格员, because neither sees the other's visit. Here either side records a visit of
a person, house, unit or address it may read (``Verifications.record``): the hub writes the
``visit`` record itself (source ``hub``; no source or push writes visits), naming the
verified record by its natural key, sealed, so the visit verifies the real person or place
whichever source's copy was visited; the visitor's side (公安 / 网格) comes from its policy,
the grid and beat from the verified record. The visit, its audit entry, the
``visit.recorded`` event and the closing of the verification tasks it settles commit in one
transaction.

Every view of a person, house, unit or address then carries its last verification within
the caller's visit grant (``Sharing.view``), and the due list (``Verifications.due``) gives
the records of a grid that need a visit: those whose self-declaration waits to be verified
(``hub.work.verification_tasks``), first, then those no visit, by either side, verified in
the window. Whatever is refused is refused with its audit event (``hub.sharing.errors``).

``declared`` is the hook that opens verification tasks; any door admitting a record that
needs a visit calls it in its admitting transaction (``admit_rows`` does, for a
``self_declared`` stream).
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select

from connectors.sdk import RecordMapping, Stream
from contracts import VERIFIED_KINDS, RecordInvalid, Visit, VisitorSide, contract
from hub.audit import AuditEvent
from hub.errors import HubError
from hub.events import emit
from hub.grids import store_scope
from hub.ingest.sync import Admitted, admit_rows
from hub.sharing import Asked, Denied, InvalidRequest, NotFound, Page, Sharing
from hub.store import Transaction
from hub.store.query import Filter, FoundRow, QueryError, select_rows
from hub.store.store import kind_table
from hub.store.visits import DueRow, due_rows
from hub.work.verification_tasks import close, declared
from policies import Decision, admits

__all__ = ["Recorded", "Stated", "Verifications", "declared"]

RECORD = "verifications.record"
DUE = "verifications.due"
HUB_SOURCE = "hub"
VISIT_STREAM = Stream("verifications", "visit", "visit_id", None, RecordMapping(passthrough=True))
"""The stream the hub's own visits are admitted through (source ``hub``)."""
MAX_BACKDATE = dt.timedelta(days=31)
"""How long after a visit it may still be recorded: paper 走访 logs are typed in within the
month. A visit dated further back is more likely a typo than a visit, and would quietly
take a record off the due list of whoever trusts the window."""
CLOCK_SKEW = dt.timedelta(minutes=2)
"""How far ahead of the hub's clock a partner's clock may run; a visit later than that is
in the future, and refused."""
MAX_WINDOW_DAYS = 366
PAGE = "due:{rank}"


@dataclass(frozen=True)
class Stated:
    """What the visitor states of a visit (``Visit.STATED``), as sent: the contract judges it."""

    result: str
    visitor: str
    note: str | None = None
    visited_at: dt.datetime | None = None

    def given(self) -> set[str]:
        return {name for name in Visit.STATED if getattr(self, name) is not None}


@dataclass(frozen=True)
class Recorded:
    """A visit as its visitor is told it was recorded."""

    id: str
    """The visitor's id of the visit."""
    kind: str
    record_id: str
    side: str
    visited_at: dt.datetime
    result: str


class Verifications:
    def __init__(self, sharing: Sharing, clock: Callable[[], dt.datetime]) -> None:
        self.sharing = sharing
        self.clock = clock

    # --- recording a visit ------------------------------------------------------------

    def record(self, asked: Asked, kind: str, ref: str, stated: Stated) -> Recorded:
        """Record the visit of ``kind`` ``ref`` (the caller's id of it) by the caller.

        ``asked`` is the request on kind ``visit``. Refused: without a visit write grant,
        or stating a field the grant's ``write:`` does not list (Denied); a record the
        caller may not read, or none (NotFound, alike); a visit the contract refuses, in
        the future or further back than ``MAX_BACKDATE`` (InvalidRequest); a visit that
        would lie outside the caller's visit rows (Denied)."""
        write = self._decide(asked, "write", RECORD)
        refused = sorted(stated.given() - write.writable)
        if refused:
            event = self._refusal(asked, write, "write_fields", fields=refused)
            raise Denied(
                "write", f"fields not granted for writing: {', '.join(refused)}", event,
                fields=refused,
            )  # fmt: skip
        if kind not in VERIFIED_KINDS:
            event = self._refusal(asked, write, "not_verified_kind", record_kind=kind)
            raise InvalidRequest("not_verified_kind", f"{kind} records are not verified", event)
        target = self._target(asked, kind, ref, write)
        now = self.clock()
        policy = self.sharing.policies.get(asked.access.policy_id)
        side = VisitorSide.POLICE if policy is not None and policy.police else VisitorSide.GRID
        visit = self._visit(asked, write, kind, target, stated, side, now)
        if not admits(store_scope(self.sharing.store, write.scope), visit.model_dump()):
            event = self._refusal(asked, write, "out_of_scope", record_id=ref)
            raise Denied("scope", "the visit would lie outside your visit rows", event)
        stored: list[int] = []

        def settle(tx: Transaction, admitted: Admitted) -> None:
            if admitted.stored != [visit.visit_id]:
                raise HubError(f"visit {visit.visit_id} was not stored")
            [(visit_db, _)] = tx.located("visit", HUB_SOURCE, admitted.stored).values()
            stored.append(visit_db)
            # The record's link key as this transaction sees it: an index rotation may
            # have switched keys since ``target`` was read.
            table = kind_table(kind).table
            link_key = tx.conn.execute(
                select(table.c.link_key).where(table.c.id == target.id)
            ).scalar_one()
            closed = close(tx, kind, link_key, visit_db, visit.visited_at, now)
            emit(tx, "visit.recorded", kind="visit", record_id=visit_db, at=now)
            detail = {
                "verified": f"{kind}/{target.id}",
                "visit_id": visit.visit_id,
                "side": side.value,
                "result": visit.result.value,
                "tasks_closed": closed,
            }
            records = [f"{kind}/{target.id}", f"visit/{visit_db}"]
            event = self.sharing.event(
                asked, RECORD, "allowed", decision=write, record_ids=records, detail=detail
            )
            self.sharing.audit.append(event, tx)

        rows = [visit.model_dump(mode="json")]
        store = self.sharing.store
        admit_rows(store, HUB_SOURCE, VISIT_STREAM, rows, asked.request_id, audit=settle)
        client = asked.access.client_id
        return Recorded(
            id=self.sharing.ids.encode(client, "visit", stored[0]),
            kind=kind,
            record_id=ref,
            side=side.value,
            visited_at=visit.visited_at,
            result=visit.result.value,
        )

    def _target(self, asked: Asked, kind: str, ref: str, write: Decision) -> FoundRow:
        """The record verified, if the caller may read it: its natural key and places, read
        for the visit record (not for the caller, who is told none of them)."""
        reading = Asked(asked.access, kind, asked.purpose, asked.request_id)
        scope = self._decide(reading, "read", RECORD).scope
        record_id = self.sharing.ids.decode(asked.access.client_id, kind, ref)
        fields = [*contract(kind).natural_key_fields(), "grid_code", "beat_code"]
        found = (
            select_rows(self.sharing.store, kind, scope, fields, record_id=record_id, limit=1)
            if record_id is not None
            else []
        )
        if not found:
            event = self._refusal(asked, write, "not_found", record_kind=kind, record_id=ref)
            raise NotFound(f"no {kind} {ref}", event)
        return found[0]

    def _visit(
        self,
        asked: Asked,
        write: Decision,
        kind: str,
        target: FoundRow,
        stated: Stated,
        side: VisitorSide,
        now: dt.datetime,
    ) -> Visit:
        """The visit as it will be stored, judged by its contract and the clock."""
        keys = contract(kind).natural_key_fields()
        row = {
            "visit_id": f"V{now:%Y%m%d}-{secrets.token_hex(6)}",
            "record_kind": kind,
            "record_key": "|".join(str(target.values[name]) for name in keys),
            "side": side.value,
            "visitor": stated.visitor,
            "visitor_org": asked.access.client_id,
            "visited_at": stated.visited_at or now,
            "result": stated.result,
            "note": stated.note,
            "grid_code": target.values["grid_code"],
            "beat_code": target.values["beat_code"],
        }
        try:
            visit = cast(Visit, Visit.parse(row))
        except RecordInvalid as exc:
            # Only what the visitor stated can fail, and is told back without its value.
            failures = [
                {"field": f.field, "rule": f.rule, "message": f.message} for f in exc.failures
            ]
            event = self._refusal(
                asked, write, "invalid_record", rules=[f"{f.field}:{f.rule}" for f in exc.failures]
            )
            raise InvalidRequest(
                "invalid_record", "the visit breaks the contract", event, failures=failures
            ) from None
        if visit.visited_at > now + CLOCK_SKEW:
            event = self._refusal(asked, write, "visited_at_future")
            raise InvalidRequest("visited_at_future", "visited_at is in the future", event)
        if visit.visited_at < now - MAX_BACKDATE:
            event = self._refusal(asked, write, "visited_at_too_old")
            raise InvalidRequest(
                "visited_at_too_old",
                f"a visit is recorded within {MAX_BACKDATE.days} days of it",
                event,
            )
        return visit

    # --- the due list ---------------------------------------------------------------

    def due(
        self, asked: Asked, grid: str, within_days: int, cursor: str | None, limit: int
    ) -> Page:
        """The records of ``asked.kind`` in grid ``grid`` within the caller's read scope
        that need a visit, one per real thing: those with an open verification task first,
        then those no visit (by either side, of any copy) verified in the last
        ``within_days`` days. Each item is the record's view (with its last verification
        as the caller may see it) and ``due``: why it is due."""
        sharing = self.sharing
        for code, bad, message in [
            ("page_size", not 1 <= limit <= sharing.max_page, f"limit is 1 to {sharing.max_page}"),
            (
                "window",
                not 1 <= within_days <= MAX_WINDOW_DAYS,
                f"within_days is 1 to {MAX_WINDOW_DAYS}",
            ),
            (
                "not_verified_kind",
                asked.kind not in VERIFIED_KINDS,
                f"{asked.kind} is not verified",
            ),
        ]:
            if bad:
                event = sharing.event(asked, DUE, "denied", detail={"reason": code})
                raise InvalidRequest(code, message, event)
        after = self._after(asked, cursor) if cursor else None
        in_grid = [Filter("grid_code", "eq", grid)]
        read = self._decide(asked, "read", DUE, filters=in_grid)
        self._decide(Asked(asked.access, "visit", asked.purpose, asked.request_id), "read", DUE)
        since = self.clock() - dt.timedelta(days=within_days)
        try:
            rows = due_rows(
                sharing.store,
                asked.kind,
                read.scope,
                in_grid,
                list(read.treatments),
                since,
                after=after,
                limit=limit,
            )
        except QueryError as exc:
            raise sharing.bad_filter(asked, DUE, exc, in_grid, read) from None
        found = [due.row for due in rows]
        shown = sharing.last_verifications(asked, found)
        sharing.audit.append(
            sharing.event(
                asked,
                DUE,
                "allowed",
                filters=in_grid,
                decision=read,
                found=found,
                shown=shown,
                detail={"within_days": within_days},
            )
        )
        seen = shown.last if shown is not None else {}
        items = [
            sharing.view(asked, read, due.row, shown) | {"due": _why(due, due.row.link_key in seen)}
            for due in rows
        ]
        next_cursor = None
        if len(rows) == limit:
            last = rows[-1]
            use = PAGE.format(rank=last.rank)
            next_cursor = sharing.ids.encode(asked.access.client_id, asked.kind, last.row.id, use)
        return Page(items, next_cursor)

    def _after(self, asked: Asked, cursor: str) -> tuple[int, int]:
        client = asked.access.client_id
        for rank in (0, 1):
            after = self.sharing.ids.decode(client, asked.kind, cursor, PAGE.format(rank=rank))
            if after is not None:
                return rank, after
        event = self.sharing.event(asked, DUE, "denied", detail={"reason": "bad_cursor"})
        raise InvalidRequest("bad_cursor", "the cursor is not one this hub gave out", event)

    # --- decisions and refusals ---------------------------------------------------------

    def _decide(
        self, asked: Asked, action: str, audited_as: str, filters: list[Filter] | None = None
    ) -> Decision:
        """``Sharing.decide``, its refusal audited as this registry's step."""
        try:
            return self.sharing.decide(asked, action, filters=filters or ())
        except Denied as exc:
            event = exc.event.model_copy(update={"action": audited_as})
            raise Denied(exc.reason, str(exc), event, **exc.extra) from None

    def _refusal(self, asked: Asked, decision: Decision, reason: str, **detail: Any) -> AuditEvent:
        return self.sharing.event(
            asked, RECORD, "denied", decision=decision, detail={"reason": reason, **detail}
        )


def _why(due: DueRow, seen: bool) -> dict[str, Any]:
    """Why a record is due: its open task's reason (``self_declared``, ``submitted``) and
    since when, or that the caller sees no visit of it (``never_verified``) or only older
    ones (``verification_expired``; the view's ``verification`` says when)."""
    if due.task is not None:
        return {"reason": due.task, "declared_at": due.declared_at}
    return {"reason": "verification_expired" if seen else "never_verified"}
