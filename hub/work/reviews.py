"""The review service: grid reports reviewed into the police record (上报 → 审核入库).

A partner whose policy grants ``submit`` on a kind (not ``write``) sends records the way a
push does; they are mapped and parsed by the contract and judged on what would be stored
(``hub.sharing.push.judge``: fields within ``submit:``, the record inside the submitter's
rows). A record that breaks its contract is refused at once with the rules it broke; it is
not quarantined, for nobody but its sender can correct it. One that passes waits in the
review queue (``hub.work.queue``), not in the store: no record query sees it.

A reviewer (``review`` on the kind) lists and reads the submissions within its rows (in
SQL), each record through its own read treatments, with what it would change in the
stored records of the same real thing that the reviewer may read.

A decision is taken once, by another org than the submitter's. Accepted, the record goes
through ``admit_rows`` (the one door of every row) under ``partner:<submitter>``, the
source it would have had if the submitter had pushed it: it stays the submitter's
statement, linked to the police's own record of the same person or house by natural key,
never overwriting it; the queue row and the audit entry say who submitted it, who reviewed
it and when. Rejected, it never enters the store. Either way the submitter sees the
decision and its reason. Each change commits with its audit entry and its event
(``review.submitted``, ``review.decided``) in one transaction.

A partner sees a submission under an opaque id of its own (``RecordIds``, kind ``review``):
neither ids nor their order tell one partner how much another submits.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast

from sqlalchemy.exc import IntegrityError

from contracts import Record
from hub.audit import AuditEvent
from hub.auth.clients import ClientRegistry
from hub.events import emit
from hub.grids import store_scope
from hub.ingest.sync import admit_rows, push_stream
from hub.sharing import Asked, InvalidRequest, NotFound, Page, Sharing
from hub.sharing.push import disagreements_of, judge, partner_source, refusal
from hub.store import Transaction
from hub.store.query import select_rows
from hub.work.errors import (
    AlreadyDecided,
    AlreadyPending,
    NotAdmissible,
    OwnSubmission,
    SubmissionInvalid,
    SubmitterNotGranted,
)
from hub.work.queue import ID_KIND, Queued, ReviewQueue, Status
from hub.work.verification_tasks import declared
from policies import AccessDenied, Decision, Policy, admits, compiled

Verdict = Literal["accept", "reject"]
VERDICT_STATUS: dict[Verdict, Status] = {"accept": "accepted", "reject": "rejected"}
MAX_REASON = 256
"""Characters of a reason: an audit entry keeps a string of this length whole."""
_SENSITIVE = re.compile(r"(?<![0-9])([0-9]{17}[0-9Xx]|1[3-9][0-9]{9})(?![0-9])")
"""What looks like a citizen ID or mobile number: never in a reason, which the audit log,
the events and the submitter all keep in clear."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _rules(failures: Sequence[dict[str, Any]]) -> list[str]:
    return sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in failures})


class Reviews:
    def __init__(self, sharing: Sharing, clock: Callable[[], dt.datetime] = _now) -> None:
        self.sharing = sharing
        self.store = sharing.store
        self.queue = ReviewQueue(sharing.store)
        self.clock = clock

    # --- submitting (上报) ---------------------------------------------------------------

    def submit(
        self, asked: Asked, rows: Sequence[tuple[str, dict[str, Any]]]
    ) -> list[dict[str, Any]]:
        """Queue each record for review, or refuse them all and queue none."""
        decision, judged = judge(self.sharing, asked, "submit", rows)
        invalid = {
            item.source_key: [
                {"field": f.field, "rule": f.rule, "message": f.message} for f in item.failures
            ]
            for item in judged
            if item.record is None
        }
        if invalid:
            rules = {key: _rules(failures) for key, failures in invalid.items()}
            event = refusal(
                self.sharing,
                asked,
                "submit",
                decision,
                {"reason": "record_invalid", "rules": rules},
            )
            raise SubmissionInvalid(invalid, event)
        records = [(item.source_key, cast(Record, item.record)) for item in judged]
        keys = [key for key, _ in records]
        try:
            with self.store.begin() as tx:
                self._none_pending(asked, decision, keys, tx)
                ids = self._queue(tx, asked, records)
        except IntegrityError:
            # Another request queued one of these keys between the check and the insert.
            self._none_pending(asked, decision, keys, None)
            raise
        client = asked.access.client_id
        return [
            {
                "source_key": key,
                "id": self.sharing.ids.encode(client, ID_KIND, i),
                "status": "pending",
            }
            for key, i in zip(keys, ids, strict=True)
        ]

    def _queue(self, tx: Transaction, asked: Asked, records: list[tuple[str, Record]]) -> list[int]:
        client, now = asked.access.client_id, self.clock()
        ids = [
            self.queue.add(
                tx.conn,
                source_key=key,
                record=record,
                submitter=client,
                subject=asked.access.subject,
                purpose=asked.purpose or "",
                at=now,
            )
            for key, record in records
        ]
        for review_id in ids:
            data = {"review_id": review_id, "submitter": client, "kind": asked.kind}
            emit(tx, "review.submitted", kind=asked.kind, data=data, at=now)
        refs = [f"{ID_KIND}/{i}" for i in ids]
        detail = {
            "submitted": {key: ref for (key, _), ref in zip(records, refs, strict=True)},
            "fields": sorted({name for _, record in records for name in record.model_fields_set}),
        }
        # The entry names the policy, not its read treatments: nothing was read.
        event = self.sharing.event(
            asked, "records.submit", "allowed", policy=self._policy(asked), record_ids=refs,
            detail=detail,
        )  # fmt: skip
        self.sharing.audit.append(event, tx)
        return ids

    def _none_pending(
        self, asked: Asked, decision: Decision, keys: list[str], tx: Transaction | None
    ) -> None:
        pending = self.queue.pending(
            asked.access.client_id, asked.kind, keys, tx.conn if tx else None
        )
        if pending:
            detail = {"reason": "already_pending", "source_keys": pending}
            raise AlreadyPending(pending, refusal(self.sharing, asked, "submit", decision, detail))

    # --- the submitter's view -------------------------------------------------------------

    def submissions(
        self, asked: Asked, *, status: Status | None, cursor: str | None, limit: int
    ) -> Page:
        """The caller's own submissions of the kind, oldest first, with their decisions."""
        decision = self.sharing.decide(asked, "submit")
        after = self._cursor(asked, decision, cursor, "submissions.query")
        self._check_limit(asked, limit, "submissions.query")
        mine = self.queue.mine(asked.access.client_id, asked.kind)
        found = self.queue.read(self.queue.page(mine, status, after, limit))
        self._audit_views(asked, "submissions.query", None, found, {"status": status})
        return self._page(asked, found, limit, [self._submission(asked, q) for q in found])

    def submission(self, asked: Asked, ref: str) -> dict[str, Any]:
        decision = self.sharing.decide(asked, "submit")
        review_id = self._decode(asked, decision, ref, "submissions.read")
        mine = self.queue.mine(asked.access.client_id, asked.kind)
        found = self.queue.read(self.queue.by_id(mine, review_id))
        if not found:
            raise self._not_found(asked, decision, ref, "submissions.read")
        self._audit_views(asked, "submissions.read", None, found)
        return self._submission(asked, found[0])

    def _submission(self, asked: Asked, q: Queued) -> dict[str, Any]:
        """What the submitter learns: the decision, its reason, the reviewing org, and its
        own id of the stored record once accepted; not the reviewing person."""
        client = asked.access.client_id
        return {
            "id": self.sharing.ids.encode(client, ID_KIND, q.id),
            "kind": q.kind,
            "source_key": q.source_key,
            "status": q.status,
            "submitted_at": q.submitted_at,
            "decided_at": q.decided_at,
            "reviewer": q.reviewer,
            "reason": q.reason,
            "stored_id": self._stored_id(asked, q),
        }

    # --- the reviewer's view --------------------------------------------------------------

    def listing(
        self, asked: Asked, *, status: Status | None, cursor: str | None, limit: int
    ) -> Page:
        """Submissions of the kind within the reviewer's rows, oldest first."""
        decision = self.sharing.decide(asked, "review")
        after = self._cursor(asked, decision, cursor, "reviews.query")
        self._check_limit(asked, limit, "reviews.query")
        theirs = self.queue.theirs(asked.kind, decision.scope)
        found = self.queue.read(self.queue.page(theirs, status, after, limit))
        self._audit_views(asked, "reviews.query", decision, found, {"status": status})
        return self._page(asked, found, limit, [self._review(asked, decision, q) for q in found])

    def review(self, asked: Asked, ref: str) -> dict[str, Any]:
        """One submission, and what it would change in the stored records of the same real
        thing that the reviewer may read (``changes``: per record, the fields the submission
        names that differ, both values through the reviewer's treatments)."""
        decision = self.sharing.decide(asked, "review")
        q = self._one(asked, decision, ref, "reviews.read")
        view = self._review(asked, decision, q)
        linked = select_rows(
            self.store,
            q.kind,
            decision.scope,
            list(decision.treatments),
            link_key=q.link_key,
            limit=self.sharing.max_page,
        )
        submitted = q.record.model_dump()
        changes = []
        for row in linked:
            stored = self.sharing.view(asked, decision, row)
            differ = {
                name: {"stored": stored["record"][name], "submitted": view["record"][name]}
                for name in decision.treatments
                if name in q.record.model_fields_set and row.values.get(name) != submitted[name]
            }
            changes.append({"id": stored["id"], "source": stored["source"], "fields": differ})
        self._audit_views(
            asked, "reviews.read", decision, [q], records=[f"{q.kind}/{r.id}" for r in linked]
        )
        return view | {"changes": changes}

    def _review(self, asked: Asked, decision: Decision, q: Queued) -> dict[str, Any]:
        key = self.store.pseudonym_key(asked.access.client_id)
        return {
            "id": self.sharing.ids.encode(asked.access.client_id, ID_KIND, q.id),
            "kind": q.kind,
            "status": q.status,
            "purpose": q.purpose,
            "submitter": q.submitter,
            "submitter_subject": q.submitter_subject,
            "submitted_at": q.submitted_at,
            "reviewer": q.reviewer,
            "reviewer_subject": q.reviewer_subject,
            "decided_at": q.decided_at,
            "reason": q.reason,
            "stored_id": self._stored_id(asked, q),
            "record": decision.apply(q.record.model_dump(), key),
        }

    # --- deciding (审核入库) ---------------------------------------------------------------

    def decide(
        self, asked: Asked, ref: str, verdict: Verdict, reason: str | None
    ) -> dict[str, Any]:
        """Accept (store the record) or reject one pending submission, once."""
        decision = self.sharing.decide(asked, "review")
        reason = self._reason(asked, decision, verdict, reason)
        status = VERDICT_STATUS[verdict]
        client, now = asked.access.client_id, self.clock()
        with self.store.begin() as tx:
            q = self._one(asked, decision, ref, "reviews.decide", tx)
            if q.submitter == client:
                raise OwnSubmission(ref, self._refused(asked, decision, "own_submission", q))
            if q.status != "pending":
                raise AlreadyDecided(
                    ref, q.status, self._refused(asked, decision, "already_decided", q)
                )
            if not self.queue.decide(
                tx.conn, q.id, status, reviewer=client, subject=asked.access.subject,
                reason=reason, at=now,
            ):  # fmt: skip
                raise AlreadyDecided(
                    ref, "decided", self._refused(asked, decision, "already_decided", q)
                )
            detail: dict[str, Any] = {
                "review": q.ref,
                "decision": status,
                "reason": reason,
                "submitter": q.submitter,
                "submitter_subject": q.submitter_subject,
                "submitted_at": q.submitted_at.isoformat(),
            }
            record_id = (
                self._admit(tx, asked, decision, ref, q, detail, now)
                if verdict == "accept"
                else None
            )
            data = {
                "review_id": q.id,
                "submitter": q.submitter,
                "kind": q.kind,
                "decision": status,
                "reason": reason,
            }
            emit(tx, "review.decided", kind=q.kind, record_id=record_id, data=data, at=now)
            records = [q.ref, *([f"{q.kind}/{record_id}"] if record_id is not None else [])]
            event = self.sharing.event(
                asked, "reviews.decide", "allowed", decision=decision, record_ids=records,
                detail=detail,
            )  # fmt: skip
            self.sharing.audit.append(event, tx)
        theirs = self.queue.theirs(q.kind, decision.scope)
        [decided] = self.queue.read(self.queue.by_id(theirs, q.id))
        return self._review(asked, decision, decided)

    def _admit(
        self,
        tx: Transaction,
        asked: Asked,
        decision: Decision,
        ref: str,
        q: Queued,
        detail: dict[str, Any],
        now: dt.datetime,
    ) -> int:
        """Store an accepted record in the decision's transaction, through the one
        admission path, under the submitter's source; were it quarantined instead, the
        decision is rolled back with it. A person, house or unit a grid worker reported
        gets a verification task (``submitted``): what the desk accepted, a visit confirms."""
        if why := self._no_longer_granted(q):
            event = self._refused(asked, decision, "submitter_not_granted", q, why=why)
            raise SubmitterNotGranted(ref, why, event)
        source = partner_source(q.submitter)
        row = q.record.model_dump(mode="json") | {"source_key": q.source_key}
        admitted = admit_rows(
            self.store, source, push_stream(q.kind), [row], run_id=asked.request_id, tx=tx
        )
        if admitted.quarantined:
            rules = _rules(admitted.quarantined[0].failures)
            event = self._refused(asked, decision, "not_admissible", q, rules=rules)
            raise NotAdmissible(ref, rules, event)
        located = tx.located(q.kind, source, [q.source_key])
        record_id = int(located[q.source_key][0])
        self.queue.stored_as(tx.conn, q.id, record_id)
        declared(tx, source, [(q.source_key, q.record)], now, reason="submitted")
        detail["stored"] = {"source_system": source, "record_id": f"{q.kind}/{record_id}"}
        if disagreements := disagreements_of(tx, q.kind, source, located):
            detail["disagreements"] = disagreements[q.source_key]
        return record_id

    def _no_longer_granted(self, q: Queued) -> str | None:
        """Why the submitter could not submit ``q`` today, or None if it still could.

        A submission waits for its review, and grants change meanwhile: what is accepted
        is judged again, as the submitter's own write would be now (client not revoked,
        its current policy granting ``submit`` on the kind with these fields, the record
        inside its rows), so a revoked partner's queue does not enter the record."""
        client = ClientRegistry(self.store).get(q.submitter)
        if client is None or client.revoked:
            return "client revoked"
        policy = self.sharing.policies.get(client.policy_id)
        if policy is None:
            return f"policy {client.policy_id} not loaded"
        try:
            granted = compiled(policy).decide(client.claims, q.kind, q.purpose, "submit")
        except AccessDenied as exc:
            return exc.reason
        if set(q.record.model_fields_set) - granted.writable:
            return "submit_fields"
        if not admits(store_scope(self.sharing.store, granted.scope), q.record.model_dump()):
            return "out_of_scope"
        return None

    def _reason(
        self, asked: Asked, decision: Decision, verdict: Verdict, reason: str | None
    ) -> str | None:
        """The reason, stripped; required to reject; short enough for the audit entry to
        keep whole; with no ID or phone number (it is kept and shown in clear)."""
        reason = (reason or "").strip() or None
        if reason is None:
            if verdict == "reject":
                self._bad_reason(
                    asked, decision, "reason_required", "a rejection states its reason"
                )
            return None
        if len(reason) > MAX_REASON:
            self._bad_reason(
                asked, decision, "reason_too_long", f"a reason has at most {MAX_REASON} characters"
            )
        if _SENSITIVE.search(reason):
            self._bad_reason(
                asked, decision, "reason_sensitive",
                "a reason may not hold an ID or phone number: name the field instead",
            )  # fmt: skip
        return reason

    def _bad_reason(self, asked: Asked, decision: Decision, code: str, message: str) -> None:
        raise InvalidRequest(code, message, self._refused(asked, decision, code, None))

    # --- shared steps ---------------------------------------------------------------------

    def _one(
        self,
        asked: Asked,
        decision: Decision,
        ref: str,
        action: str,
        tx: Transaction | None = None,
    ) -> Queued:
        """The submission ``ref`` names if it lies in the reviewer's rows: absent and out
        of scope look the same."""
        review_id = self._decode(asked, decision, ref, action)
        theirs = self.queue.theirs(asked.kind, decision.scope)
        found = self.queue.read(self.queue.by_id(theirs, review_id), tx.conn if tx else None)
        if not found:
            raise self._not_found(asked, decision, ref, action)
        return found[0]

    def _stored_id(self, asked: Asked, q: Queued) -> str | None:
        if q.record_id is None:
            return None
        return self.sharing.ids.encode(asked.access.client_id, q.kind, q.record_id)

    def _decode(self, asked: Asked, decision: Decision, ref: str, action: str) -> int:
        review_id = self.sharing.ids.decode(asked.access.client_id, ID_KIND, ref)
        if review_id is None:
            raise self._not_found(asked, decision, ref, action)
        return review_id

    def _cursor(self, asked: Asked, decision: Decision, cursor: str | None, action: str) -> int:
        if cursor is None:
            return 0
        after = self.sharing.ids.decode(asked.access.client_id, ID_KIND, cursor, "cursor")
        if after is None:
            event = self.sharing.event(
                asked, action, "denied", decision=decision, detail={"reason": "bad_cursor"}
            )
            raise InvalidRequest("bad_cursor", "the cursor is not one this hub gave out", event)
        return after

    def _check_limit(self, asked: Asked, limit: int, action: str) -> None:
        if not 1 <= limit <= self.sharing.max_page:
            event = self.sharing.event(asked, action, "denied", detail={"reason": "page_size"})
            raise InvalidRequest("page_size", f"limit must be 1 to {self.sharing.max_page}", event)

    def _page(
        self, asked: Asked, found: list[Queued], limit: int, items: list[dict[str, Any]]
    ) -> Page:
        more = len(found) == limit
        client = asked.access.client_id
        cursor = self.sharing.ids.encode(client, ID_KIND, found[-1].id, "cursor") if more else None
        return Page(items, cursor)

    def _audit_views(
        self,
        asked: Asked,
        action: str,
        decision: Decision | None,
        found: list[Queued],
        detail: dict[str, Any] | None = None,
        records: Sequence[str] = (),
    ) -> None:
        """A listing or reading of submissions: a reviewer's names the fields it was shown
        (``decision``); a submitter's, shown no record, names its policy."""
        self.sharing.audit.append(
            self.sharing.event(
                asked,
                action,
                "allowed",
                decision=decision,
                policy=None if decision else self._policy(asked),
                record_ids=[*(q.ref for q in found), *records],
                detail=detail,
            )
        )

    def _not_found(self, asked: Asked, decision: Decision, ref: str, action: str) -> NotFound:
        detail = {"reason": "not_found", "review": ref}
        event = self.sharing.event(asked, action, "denied", decision=decision, detail=detail)
        return NotFound(f"no {asked.kind} submission {ref}", event)

    def _refused(
        self, asked: Asked, decision: Decision, code: str, q: Queued | None, **about: Any
    ) -> AuditEvent:
        """The audit event of a refused decision."""
        return self.sharing.event(
            asked,
            "reviews.decide",
            "denied",
            decision=decision,
            record_ids=[q.ref] if q else [],
            detail={"reason": code, **about},
        )

    def _policy(self, asked: Asked) -> Policy | None:
        return self.sharing.policies.get(asked.access.policy_id)
