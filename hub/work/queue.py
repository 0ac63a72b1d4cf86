"""The review queue's table (``review_queue``): a submission's record sealed, its facets in
clear, and the SQL that reviewers' row scopes compile into.

The facets are the record's single-valued fields of the classes ``REVIEW_ROW_CLASSES``
names (public, internal: codes, types, counts; nothing that says who), as JSON. A policy's
row scope is compiled over them with the compiler that reads the store
(``hub.store.query.compile_scope``), each facet typed as its field is, so a reviewer's
query never fetches a submission outside its rows. The record is sealed with the store's
keyring, bound to its row (kind, submitter, source key), and opened only to be shown
through a policy or admitted.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Connection, Row, Select, null, select, update

from contracts import Record, bare, contract, is_structured
from hub.store import Store
from hub.store.query import compile_scope
from hub.store.tables import review_queue, review_record_context
from policies import REVIEW_ROW_CLASSES, RowScope

ID_KIND = "review"
"""The kind a submission's id is sealed under for a partner (``RecordIds``)."""
Status = Literal["pending", "accepted", "rejected"]


@dataclass(frozen=True)
class Queued:
    """One submission, its record unsealed (``record.model_fields_set``: the fields the
    submitter gave)."""

    id: int
    kind: str
    source_key: str
    submitter: str
    submitter_subject: str
    purpose: str
    status: Status
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    reviewer: str | None
    reviewer_subject: str | None
    reason: str | None
    record_id: int | None
    link_key: str
    record: Record

    @property
    def ref(self) -> str:
        """How audit entries name it (``review/<id>``), beside the records they name."""
        return f"{ID_KIND}/{self.id}"


@cache
def facet_fields(kind: str) -> tuple[str, ...]:
    """The fields of ``kind`` the queue keeps in clear."""
    return tuple(
        spec.name
        for spec in contract(kind).specs()
        if spec.sensitivity in REVIEW_ROW_CLASSES and not is_structured(spec.info.annotation)
    )


def facets_of(record: Record) -> dict[str, Any]:
    facets: dict[str, Any] = record.model_dump(mode="json", include=set(facet_fields(record.kind)))
    return facets


def facet_column(kind: str, name: str) -> ColumnElement[Any]:
    """A submission's value of field ``name`` as SQL, typed as the field is; NULL for a
    field the queue does not keep, so a rule on it admits nothing (the loader refuses such
    review rows: this is only the closed door behind that check)."""
    if name not in facet_fields(kind):
        return null()
    value = cast(Any, review_queue.c.facets[name])
    scalar = bare(contract(kind).model_fields[name].annotation)
    if scalar is bool:
        return cast(ColumnElement[Any], value.as_boolean())
    if isinstance(scalar, type) and issubclass(scalar, int):
        return cast(ColumnElement[Any], value.as_integer())
    if scalar is float:
        return cast(ColumnElement[Any], value.as_float())
    return cast(ColumnElement[Any], value.as_string())


def queue_scope(kind: str, scope: RowScope) -> ColumnElement[bool]:
    """A reviewer's row scope over the submissions of ``kind``, in SQL."""
    return compile_scope(scope, lambda name: facet_column(kind, name))


class ReviewQueue:
    def __init__(self, store: Store) -> None:
        self.store = store

    def add(
        self,
        conn: Connection,
        *,
        source_key: str,
        record: Record,
        submitter: str,
        subject: str,
        purpose: str,
        at: dt.datetime,
    ) -> int:
        """Queue ``record`` as pending; its id."""
        # Only the fields given: what a submission would change is what it names.
        sealed = self.store.seal(
            json.dumps(record.model_dump(mode="json", exclude_unset=True), ensure_ascii=False),
            review_record_context(record.kind, submitter, source_key),
        )
        insert = review_queue.insert().values(
            kind=record.kind,
            source_key=source_key,
            submitter=submitter,
            submitter_subject=subject,
            purpose=purpose,
            status="pending",
            submitted_at=at,
            link_key=self.store.link_key(record.natural_key()),
            facets=facets_of(record),
            record=sealed,
        )
        return int(conn.execute(insert.returning(review_queue.c.id)).scalar_one())

    def pending(
        self, submitter: str, kind: str, source_keys: list[str], conn: Connection | None = None
    ) -> list[str]:
        """Which of ``source_keys`` the submitter has a pending submission of."""
        query = select(review_queue.c.source_key).where(
            review_queue.c.submitter == submitter,
            review_queue.c.kind == kind,
            review_queue.c.status == "pending",
            review_queue.c.source_key.in_(source_keys),
        )
        return sorted(row.source_key for row in self._rows(query, conn))

    @staticmethod
    def mine(submitter: str, kind: str) -> Select[Any]:
        """The submitter's own submissions of ``kind``."""
        return select(review_queue).where(
            review_queue.c.submitter == submitter, review_queue.c.kind == kind
        )

    @staticmethod
    def theirs(kind: str, scope: RowScope) -> Select[Any]:
        """The submissions of ``kind`` within a reviewer's rows."""
        return select(review_queue).where(review_queue.c.kind == kind, queue_scope(kind, scope))

    @staticmethod
    def page(query: Select[Any], status: Status | None, after: int, limit: int) -> Select[Any]:
        """Up to ``limit`` of ``query``'s submissions with ``status``, by id after ``after``."""
        if status is not None:
            query = query.where(review_queue.c.status == status)
        return query.where(review_queue.c.id > after).order_by(review_queue.c.id).limit(limit)

    @staticmethod
    def by_id(query: Select[Any], review_id: int) -> Select[Any]:
        return query.where(review_queue.c.id == review_id)

    def read(self, query: Select[Any], conn: Connection | None = None) -> list[Queued]:
        return [self._queued(row) for row in self._rows(query, conn)]

    def decide(
        self,
        conn: Connection,
        review_id: int,
        status: Status,
        *,
        reviewer: str,
        subject: str,
        reason: str | None,
        at: dt.datetime,
    ) -> bool:
        """Record the decision if the submission is still pending (a conditional UPDATE:
        of two deciders at once, the second finds it decided); whether it was."""
        claimed = conn.execute(
            update(review_queue)
            .where(review_queue.c.id == review_id, review_queue.c.status == "pending")
            .values(
                status=status,
                decided_at=at,
                reviewer=reviewer,
                reviewer_subject=subject,
                reason=reason,
            )
        )
        return claimed.rowcount == 1

    @staticmethod
    def stored_as(conn: Connection, review_id: int, record_id: int) -> None:
        conn.execute(
            update(review_queue).where(review_queue.c.id == review_id).values(record_id=record_id)
        )

    def _rows(self, query: Select[Any], conn: Connection | None) -> Sequence[Row[Any]]:
        """``query``'s rows, in the transaction ``conn`` when given."""
        if conn is not None:
            return conn.execute(query).all()
        with self.store.engine.connect() as fresh:
            return fresh.execute(query).all()

    def _queued(self, row: Any) -> Queued:
        m = row._mapping
        context = review_record_context(m["kind"], m["submitter"], m["source_key"])
        values = json.loads(self.store.unseal(m["record"], context))
        return Queued(
            id=m["id"],
            kind=m["kind"],
            source_key=m["source_key"],
            submitter=m["submitter"],
            submitter_subject=m["submitter_subject"],
            purpose=m["purpose"],
            status=m["status"],
            submitted_at=m["submitted_at"],
            decided_at=m["decided_at"],
            reviewer=m["reviewer"],
            reviewer_subject=m["reviewer_subject"],
            reason=m["reason"],
            record_id=m["record_id"],
            link_key=m["link_key"],
            record=contract(m["kind"]).parse(values),
        )
