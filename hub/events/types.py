"""The event types the hub tells of, and what each names.

An event of a record-bearing type names one record (its kind and database id); a
subscriber receives it only if its policy lets it read that record, and its payload
carries the record as that policy shows it. ``review.*`` events name a review, not a
stored record: they go to the review's submitter and to the reviewers of its kind.
"""

from __future__ import annotations

from contracts import CONTRACTS

RECORD_CHANGED = "record.changed:"
"""``record.changed:<kind>``: a record of ``kind`` was inserted or updated by admission."""

RECORD_EVENTS: dict[str, str] = {
    "work_order.dispatched": "work_order",
    "work_order.transitioned": "work_order",
    "visit.recorded": "visit",
}
"""Event types naming a record of a fixed kind (besides ``record.changed:<kind>``)."""

REVIEW_EVENTS = frozenset({"review.submitted", "review.decided"})
"""Event types naming a review: ``data`` holds ``review_id``, ``kind``, ``submitter``…"""


def record_kind(event_type: str) -> str | None:
    """The kind of record events of ``event_type`` name; None for a review event.
    ValueError for a type the hub does not know."""
    if event_type.startswith(RECORD_CHANGED):
        kind = event_type.removeprefix(RECORD_CHANGED)
        if kind not in CONTRACTS:
            raise ValueError(f"no record kind {kind!r} in {event_type!r}")
        return kind
    if event_type in RECORD_EVENTS:
        return RECORD_EVENTS[event_type]
    if event_type in REVIEW_EVENTS:
        return None
    raise ValueError(f"unknown event type {event_type!r}")


def known_types() -> list[str]:
    """Every event type a subscription may name."""
    changed = [f"{RECORD_CHANGED}{kind}" for kind in CONTRACTS]
    return sorted({*RECORD_EVENTS, *REVIEW_EVENTS, *changed})
