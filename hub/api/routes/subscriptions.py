"""Webhook subscriptions: register, list and delete your own (``hub.events.subscriptions``
decides and audits; these routes only translate)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Path, Response
from pydantic import BaseModel, Field

from hub.api.deps import AccessDep, RequestId, scoped
from hub.events.subscriptions import (
    MAX_EVENTS,
    MAX_FILTER,
    FilterValue,
    Subscriptions,
)
from hub.events.types import known_types

Scalar = Annotated[str, Field(max_length=200)] | int | bool


class SubscriptionRequest(BaseModel):
    url: str = Field(max_length=2000, description="https; where the hub POSTs events")
    events: list[Annotated[str, Field(max_length=64)]] = Field(
        min_length=1,
        max_length=MAX_EVENTS,
        description="Event types: " + ", ".join(known_types()),
    )
    filter: dict[Annotated[str, Field(max_length=64)], Scalar | list[Scalar]] = Field(
        default_factory=dict,
        max_length=MAX_FILTER,
        description="field: value (or [values]) the records an event names must match; "
        "each field must be one your policy grants in clear",
    )
    purpose: str = Field(min_length=1, max_length=128, description="A purpose your policy grants")


class SubscriptionView(BaseModel):
    id: str
    url: str
    events: list[str]
    filter: dict[str, FilterValue]
    purpose: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None = None
    deliveries: dict[str, int] | None = None


class NewSubscriptionView(SubscriptionView):
    secret: str
    """``whsec_…``: verify each delivery with it (Standard Webhooks). Shown this once."""


SubscriptionId = Annotated[str, Path(pattern=r"^sub_[0-9a-f]{16}$")]


def subscriptions_router(service: Subscriptions) -> APIRouter:
    router = APIRouter(prefix="/v1/subscriptions", tags=["subscriptions"])

    @router.post(
        "",
        status_code=201,
        summary="Subscribe to events (scope subscriptions.write)",
        description="Each delivery is signed per Standard Webhooks (`webhook-id` is the "
        "event id: your idempotency key) and carries only what your policy lets you read, "
        "as it is when the event is delivered.",
        dependencies=[scoped("subscriptions.write")],
    )
    def create(
        body: SubscriptionRequest, access: AccessDep, request_id: RequestId
    ) -> NewSubscriptionView:
        new = service.register(
            access,
            request_id,
            url=body.url,
            events=body.events,
            filter=body.filter,
            purpose=body.purpose,
        )
        return NewSubscriptionView(**new.subscription.as_dict(), secret=new.secret)

    @router.get(
        "",
        summary="Your active subscriptions, with deliveries counted by status",
        dependencies=[scoped("subscriptions.read")],
    )
    def list_own(access: AccessDep, request_id: RequestId) -> list[SubscriptionView]:
        return [SubscriptionView(**item) for item in service.list(access, request_id)]

    @router.delete(
        "/{subscription_id}",
        status_code=204,
        summary="Delete one of your subscriptions; what it had pending is not sent",
        dependencies=[scoped("subscriptions.write")],
    )
    def delete(
        subscription_id: SubscriptionId, access: AccessDep, request_id: RequestId
    ) -> Response:
        service.revoke(access, request_id, subscription_id)
        return Response(status_code=204)

    return router
