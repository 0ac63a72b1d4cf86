from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel, Field

from contracts import CONTRACTS
from hub.api.deps import AccessDep, RequestId, SharingDep
from hub.api.problems import Problem
from hub.api.responses import json_response
from hub.sharing import Asked, push
from hub.sharing.ids import ID_PATTERN
from hub.store.query import Filter

router = APIRouter(prefix="/v1/records", tags=["records"])
RESERVED = {"purpose", "case", "break_glass", "fields", "limit", "cursor", "include_inactive"}
OPS = ("in", "gte", "lte", "prefix")

Kind = Annotated[str, Path(description="A record kind: " + ", ".join(CONTRACTS))]
Purpose = Annotated[
    str | None, Query(description="The declared purpose of use; it must be one the policy grants.")
]
Case = Annotated[
    str | None,
    Query(
        max_length=64,
        pattern=r"^[^\x00-\x1f\x7f]+$",
        description="The case cited (an incident's or a work order's id), when the purpose "
        "is bound to one: only records linked to the open case are read.",
    ),
]
BreakGlassSession = Annotated[
    str | None,
    Query(
        pattern=r"^bg_[0-9a-f]{24}$",
        description="A break-glass session of yours (POST /v1/break-glass) to read under: "
        "beyond your policy, within the session's kinds and box, flagged in the audit log.",
    ),
]
Fields = Annotated[
    str | None, Query(description="Comma-separated projection; every field must be granted.")
]
RecordRef = Annotated[
    str,
    Path(
        pattern=ID_PATTERN,
        description="The record's id as the hub gave it to you (ids are yours: another "
        "partner's id of the same record is not).",
    ),
]


class Verification(BaseModel):
    """A record's last verification (走访核查), by either side, as your policy's visit grant
    shows it: a field the grant withholds is absent."""

    id: str
    """Your id of the visit (``GET /v1/records/visit/{id}``)."""
    side: str | None = None
    """公安 or 网格."""
    visited_at: dt.datetime | int | None = None
    result: str | None = None
    visitor: str | None = None
    visitor_org: str | None = None


class Inactive(BaseModel):
    since: dt.datetime
    reason: str


IncludeInactive = Annotated[
    bool,
    Query(description="Also records their source deleted or no longer lists (inactive)."),
]


class RecordView(BaseModel):
    id: str
    """Yours alone: stable, opaque, and unlike any other partner's id of the record."""
    source: str
    updated: dt.datetime
    record: dict[str, Any]
    verification: Verification | None = None
    """Of a person, house, unit or address, when your policy and token let you read visits:
    its last verification, or null if it has none you may see. Absent otherwise."""
    inactive: Inactive | None = None
    """Of a record its source deleted, marked 注销 / 迁出, or no longer lists (asked for
    with ``include_inactive=true``): since when and why. Absent on an active record."""


class RecordPage(BaseModel):
    items: list[RecordView]
    next_cursor: str | None


class PushedRecord(BaseModel):
    source_key: str = Field(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
    """The record's key in the partner's own system: printable text."""
    record: dict[str, Any]


class PushRequest(BaseModel):
    records: list[PushedRecord] = Field(min_length=1, max_length=1000)


class PushResult(BaseModel):
    source_key: str
    status: str
    id: str | None = None
    failures: list[dict[str, Any]] = Field(default_factory=list)


def _kind(kind: str) -> str:
    if kind not in CONTRACTS:
        raise Problem(404, f"no record kind {kind!r}", code="not_found")
    return kind


def _fields(fields: str | None) -> list[str] | None:
    return None if fields is None else [f.strip() for f in fields.split(",") if f.strip()]


def once(request: Request) -> None:
    """A parameter given twice is refused: which one counts is not the caller's to guess."""
    names = [name for name, _ in request.query_params.multi_items()]
    twice = sorted({name for name in names if names.count(name) > 1})
    if twice:
        raise Problem(
            400, "a query parameter is repeated", code="repeated_parameter", parameters=twice
        )


def _filters(request: Request) -> list[Filter]:
    return filters_of(request, RESERVED)


def filters_of(request: Request, reserved: set[str]) -> list[Filter]:
    """Every query parameter that is not ``reserved`` is a filter: ``field=value`` for
    equality, ``field__in=a,b``, ``field__gte=``, ``field__lte=``, ``field__prefix=``."""
    once(request)
    filters = []
    for name, value in request.query_params.multi_items():
        if name in reserved:
            continue
        field, _, op = name.partition("__")
        if op and op not in OPS:
            raise Problem(400, f"unknown filter operator {op!r}", code="bad_filter", field=field)
        filters.append(
            Filter(field, "in", value.split(","))
            if op == "in"
            else Filter(field, op or "eq", value)  # type: ignore[arg-type]
        )
    return filters


@router.get(
    "/{kind}",
    response_model=RecordPage,
    response_model_exclude_unset=True,
    summary="Query records of one kind within your policy",
    description="Filters: `field=value`, `field__in=a,b`, `field__gte=`, `field__lte=` (dates, "
    "numbers), `field__prefix=` (codes). Filtering needs the field granted in clear.",
)
def query_records(
    request: Request,
    kind: Kind,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Purpose = None,
    case: Case = None,
    break_glass: BreakGlassSession = None,
    fields: Fields = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
    include_inactive: IncludeInactive = False,
) -> Response:
    page = sharing.query(
        Asked(access, _kind(kind), purpose, request_id, case, break_glass),
        fields=_fields(fields),
        filters=_filters(request),
        cursor=cursor,
        limit=limit,
        include_inactive=include_inactive,
    )
    return json_response({"items": page.items, "next_cursor": page.next_cursor})


@router.get(
    "/{kind}/{record_id}",
    response_model_exclude_unset=True,
    summary="One record, if it exists and is within your policy",
)
def read_record(
    request: Request,
    kind: Kind,
    record_id: RecordRef,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Purpose = None,
    case: Case = None,
    break_glass: BreakGlassSession = None,
    fields: Fields = None,
    include_inactive: IncludeInactive = False,
) -> RecordView:
    once(request)
    asked = Asked(access, _kind(kind), purpose, request_id, case, break_glass)
    view = sharing.read(asked, record_id, fields=_fields(fields), include_inactive=include_inactive)
    return RecordView(**view)


@router.post(
    "/{kind}",
    summary="Push records in: each is stored or quarantined with the rules it broke",
)
def push_records(
    request: Request,
    kind: Kind,
    body: PushRequest,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
    purpose: Purpose = None,
) -> list[PushResult]:
    once(request)
    rows = [(item.source_key, item.record) for item in body.records]
    results = push(sharing, Asked(access, _kind(kind), purpose, request_id), rows)
    return [PushResult(**result) for result in results]
