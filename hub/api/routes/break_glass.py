"""Break-glass (紧急调阅): open a session to read beyond your policy for a stated reason,
approve another client's session; reads under one name it (``break_glass=``)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from pydantic import BaseModel, Field

from hub.api.deps import AccessDep, RequestId, SharingDep, scoped
from hub.api.problems import Problem
from hub.api.routes.records import once
from hub.auth.scopes import BREAK_GLASS_SCOPE

router = APIRouter(
    prefix="/v1/break-glass", tags=["break-glass"], dependencies=[scoped(BREAK_GLASS_SCOPE)]
)
SessionId = Annotated[str, Path(pattern=r"^bg_[0-9a-f]{24}$")]


class OpenRequest(BaseModel):
    reason: str = Field(
        min_length=8,
        max_length=500,
        description="Why, in words an auditor will review; no phone or ID number.",
    )
    kinds: list[str] = Field(min_length=1, max_length=16)
    minutes: int | None = Field(
        default=None, ge=1, description="The box; at most your policy's, which is the default."
    )


class SessionView(BaseModel):
    id: str
    """Name it on each read under the session: ``break_glass=ID``."""
    client_id: str
    reason: str
    kinds: list[str]
    opened_at: dt.datetime
    expires_at: dt.datetime
    approved_by: str | None
    approved_at: dt.datetime | None
    status: Literal["approved", "pending", "unapproved"]
    """pending: in its box, not yet approved; unapproved: the box passed with no approval."""


@router.post("", status_code=201, summary="Open a break-glass session")
def open_session(
    request: Request,
    body: OpenRequest,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
) -> SessionView:
    once(request)
    glass = sharing.break_glass
    session = glass.open(
        client_id=access.client_id,
        policy_id=access.policy_id,
        subject=access.subject,
        reason=body.reason,
        kinds=body.kinds,
        minutes=body.minutes,
        request_id=request_id,
    )
    return SessionView(**session.view(glass.clock()))


@router.post("/{session_id}/approve", summary="Approve another client's break-glass session")
def approve_session(
    session_id: SessionId,
    access: AccessDep,
    sharing: SharingDep,
    request_id: RequestId,
) -> SessionView:
    glass = sharing.break_glass
    session = glass.approve(
        session_id,
        approver=f"client:{access.client_id}",
        client_id=access.client_id,
        policy_id=access.policy_id,
        request_id=request_id,
    )
    return SessionView(**session.view(glass.clock()))


@router.get("/{session_id}", summary="One of your break-glass sessions")
def get_session(session_id: SessionId, access: AccessDep, sharing: SharingDep) -> SessionView:
    glass = sharing.break_glass
    session = glass.get(session_id)
    if session is None or session.client_id != access.client_id:
        raise Problem(404, f"no break-glass session {session_id} of yours", code="not_found")
    return SessionView(**session.view(glass.clock()))
