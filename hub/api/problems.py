"""Errors as RFC 9457 problem details (``application/problem+json``), and the one place
where a refused request is audited: the handlers below, whoever refused it (the token
check, the sharing service, the request's validation, a crash)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from hub.audit import AuditEvent
from hub.sharing import Conflict, Denied, InvalidRequest, NotFound, SharingError, TooLarge

PROBLEM = "application/problem+json"
_TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Content too large",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
}


class Problem(Exception):
    """An error the API answers with a problem document; ``code`` is a stable word."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        code: str,
        headers: dict[str, str] | None = None,
        event: AuditEvent | None = None,
        **extra: Any,
    ) -> None:
        self.event = event
        """The refusal as the audit log should hold it; without one the handler writes a
        plain ``request.refused`` entry."""
        self.status = status
        self.detail = detail
        self.code = code
        self.headers = headers or {}
        self.extra = extra
        super().__init__(detail)


def problem_response(
    request: Request,
    status: int,
    detail: str,
    code: str,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:hub:problem:{code}",
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "instance": request.url.path,
        "request_id": getattr(request.state, "request_id", None),
        **extra,
    }
    headers = dict(headers or {})
    if body["request_id"]:
        headers["X-Request-ID"] = body["request_id"]
    return JSONResponse(body, status_code=status, media_type=PROBLEM, headers=headers)


_STATUS: dict[type[SharingError], int] = {
    Denied: 403,
    NotFound: 404,
    InvalidRequest: 400,
    TooLarge: 413,
    Conflict: 409,
}


def audit_refusal(
    request: Request, status: int, code: str, event: AuditEvent | None = None
) -> None:
    """Every refused or failed request is in the audit log, whoever refused it: as the
    refusing code described it (``event``), or as a plain ``request.refused``."""
    hub = getattr(request.app.state, "hub", None)
    if hub is None:
        return
    hub.audit.append(
        event
        or AuditEvent(
            action="request.refused",
            outcome="error" if status >= 500 else "denied",
            client_id=getattr(request.state, "client_id", None),
            request_id=getattr(request.state, "request_id", None),
            detail={
                "reason": code,
                "status": status,
                "method": request.method,
                "path": request.url.path[:300],
            },
        )
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(request: Request, exc: Problem) -> JSONResponse:
        audit_refusal(request, exc.status, exc.code, exc.event)
        return problem_response(request, exc.status, exc.detail, exc.code, exc.headers, **exc.extra)

    @app.exception_handler(SharingError)
    async def _refused(request: Request, exc: SharingError) -> JSONResponse:
        status = next(_STATUS[t] for t in type(exc).__mro__ if t in _STATUS)
        audit_refusal(request, status, exc.code, exc.event)
        return problem_response(request, status, str(exc), exc.code, **exc.extra)

    @app.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:
        code = {401: "unauthorized", 403: "forbidden", 404: "not_found"}.get(
            exc.status_code, "http_error"
        )
        audit_refusal(request, exc.status_code, code)
        return problem_response(
            request, exc.status_code, str(exc.detail), code, dict(exc.headers or {})
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in exc.errors()
        ]
        audit_refusal(request, 400, "invalid_request")
        return problem_response(
            request, 400, "the request is not valid", "invalid_request", errors=errors
        )

    @app.exception_handler(Exception)
    async def _crash(request: Request, exc: Exception) -> JSONResponse:
        audit_refusal(request, 500, "internal_error")
        return problem_response(request, 500, "the hub failed to answer", "internal_error")
