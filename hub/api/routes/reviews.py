"""Submissions for review and their review (上报 → 审核入库): ``hub.work.reviews`` over HTTP.

A submission's id is the caller's own, for one kind; so the kind is in every path, as
for records, and each route needs the scope of that kind: ``{kind}.submit`` for the
submitter's routes, ``{kind}.review`` for the reviewer's.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import BaseModel, Field

from hub.api.deps import AccessDep, RequestId, scoped, services
from hub.api.routes.records import Kind, Purpose, PushRequest, _kind, once
from hub.sharing import Asked
from hub.sharing.ids import ID_PATTERN
from hub.work.queue import Status
from hub.work.reviews import Reviews, Verdict

router = APIRouter(tags=["reviews"])


def _reviews(request: Request) -> Reviews:
    return Reviews(services(request).sharing)


ReviewsDep = Annotated[Reviews, Depends(_reviews)]
SUBMIT = scoped(lambda request: f"{request.path_params['kind']}.submit")
REVIEW = scoped(lambda request: f"{request.path_params['kind']}.review")
ReviewRef = Annotated[
    str, Path(pattern=ID_PATTERN, description="The submission's id as the hub gave it to you.")
]
StatusQuery = Annotated[Status | None, Query(description="pending, accepted or rejected")]
Limit = Annotated[int, Query(ge=1, le=500)]
Cursor = Annotated[str | None, Query(max_length=200)]


class Receipt(BaseModel):
    source_key: str
    id: str
    status: str


class SubmissionView(BaseModel):
    id: str
    kind: str
    source_key: str
    status: Status
    submitted_at: dt.datetime
    decided_at: dt.datetime | None
    reviewer: str | None
    """The reviewing org (its client id)."""
    reason: str | None
    stored_id: str | None
    """Your id of the stored record, once accepted."""


class SubmissionPage(BaseModel):
    items: list[SubmissionView]
    next_cursor: str | None


class Change(BaseModel):
    """A stored record of the same real thing, and the fields the submission would change
    in it, each as you may read it."""

    id: str
    source: str
    fields: dict[str, dict[str, Any]]


class ReviewView(BaseModel):
    id: str
    kind: str
    status: Status
    purpose: str
    submitter: str
    submitter_subject: str
    submitted_at: dt.datetime
    reviewer: str | None
    reviewer_subject: str | None
    decided_at: dt.datetime | None
    reason: str | None
    stored_id: str | None
    record: dict[str, Any]
    """The submitted record through your policy's read treatments."""
    changes: list[Change] | None = None


class ReviewPage(BaseModel):
    items: list[ReviewView]
    next_cursor: str | None


class DecisionRequest(BaseModel):
    decision: Verdict
    reason: str | None = Field(default=None, max_length=4096)
    """Required to reject; the submitter reads it. No ID or phone numbers."""


@router.post(
    "/v1/submissions/{kind}",
    dependencies=[SUBMIT],
    summary="Submit records for review: each waits in the review queue, not the store",
)
def submit(
    request: Request,
    kind: Kind,
    body: PushRequest,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> list[Receipt]:
    once(request)
    rows = [(item.source_key, item.record) for item in body.records]
    receipts = reviews.submit(Asked(access, _kind(kind), purpose, request_id), rows)
    return [Receipt(**receipt) for receipt in receipts]


@router.get(
    "/v1/submissions/{kind}",
    dependencies=[SUBMIT],
    summary="Your submissions of one kind and their decisions",
)
def list_submissions(
    request: Request,
    kind: Kind,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
    status: StatusQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> SubmissionPage:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id)
    page = reviews.submissions(asked, status=status, cursor=cursor, limit=limit)
    return SubmissionPage(
        items=[SubmissionView(**item) for item in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/v1/submissions/{kind}/{review_id}",
    dependencies=[SUBMIT],
    summary="One of your submissions and its decision",
)
def read_submission(
    request: Request,
    kind: Kind,
    review_id: ReviewRef,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> SubmissionView:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id)
    return SubmissionView(**reviews.submission(asked, review_id))


@router.get(
    "/v1/reviews/{kind}",
    dependencies=[REVIEW],
    summary="Submissions of one kind within your jurisdiction, to review",
)
def list_reviews(
    request: Request,
    kind: Kind,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
    status: StatusQuery = None,
    limit: Limit = 100,
    cursor: Cursor = None,
) -> ReviewPage:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id)
    page = reviews.listing(asked, status=status, cursor=cursor, limit=limit)
    return ReviewPage(
        items=[ReviewView(**item) for item in page.items], next_cursor=page.next_cursor
    )


@router.get(
    "/v1/reviews/{kind}/{review_id}",
    dependencies=[REVIEW],
    summary="One submission, with what it would change in the records you may read",
)
def read_review(
    request: Request,
    kind: Kind,
    review_id: ReviewRef,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> ReviewView:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id)
    return ReviewView(**reviews.review(asked, review_id))


@router.post(
    "/v1/reviews/{kind}/{review_id}/decision",
    dependencies=[REVIEW],
    summary="Accept (into the store) or reject a pending submission; decided once",
)
def decide(
    request: Request,
    kind: Kind,
    review_id: ReviewRef,
    body: DecisionRequest,
    access: AccessDep,
    reviews: ReviewsDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> ReviewView:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id)
    return ReviewView(**reviews.decide(asked, review_id, body.decision, body.reason))
