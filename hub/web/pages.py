"""The console's routes. Each names the area it belongs to and calls one service; the
session, the role and (for a form) the CSRF token are checked by ``Console.authorize``
before anything else runs. Personal data is only ever sent with ``Cache-Control:
no-store``, and an ID number is only ever sent by POST (never in a URL, so never in a
proxy's or server's access log)."""

from __future__ import annotations

import datetime as dt
import re
import secrets
from collections.abc import Callable
from importlib.resources import files
from typing import Annotated, Any, cast
from urllib.parse import quote

from fastapi import APIRouter, Depends, File, Form, Query, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.templating import Jinja2Templates

from hub.audit import AuditQuery
from hub.console import (
    Area,
    BadInput,
    Console,
    ConsoleError,
    CsrfRefused,
    Forbidden,
    NotFound,
    QuarantineFilter,
    ReviewRefused,
    ReviewsClosed,
    Session,
    SessionInvalid,
    SignInRefused,
)
from hub.console.auditor import Matrix
from hub.console.roles import LABELS, Role
from hub.console.steward import corrections_from
from hub.console.workbook import MAX_BYTES
from hub.ingest.errors import CannotResubmit
from hub.sharing.reconcile import COMPARED, KINDS
from hub.store.query import QueryError
from hub.web.charts import grouped_bars, horizontal_bars
from hub.work.queue import Status

SESSION_COOKIE = "hub_session"
SIGN_IN_COOKIE = "hub_sign_in"
"""The double-submit CSRF token of the sign-in form (there is no session yet)."""
PREFIX = "/console"
PRIVATE = {"Cache-Control": "no-store"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
IMPORT_REASONS = {
    "entry": "条目编号无效",
    "formula": "含公式，未导入",
    "not_open": "条目不存在或已解决",
    "unchanged": "未修改",
    "cannot_resubmit": "无法重新提交",
    "still_invalid": "修正后仍不合规",
}

_env = Environment(
    loader=PackageLoader("hub.web", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
_env.globals["role_label"] = lambda role: LABELS[Role(role)]
_env.globals["field_label"] = lambda kind, name: Matrix.labels(kind, name)[1] or name
_env.globals["kind_label"] = lambda kind: Matrix.labels(kind, "")[0]
_env.filters["duration"] = lambda seconds: _duration(seconds)
templates = Jinja2Templates(env=_env)
STYLE = files("hub.web").joinpath("static/console.css").read_text(encoding="utf-8")


def _rid(request: Request) -> str | None:
    rid: str | None = getattr(request.state, "request_id", None)
    return rid


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def _console(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def signed_in(area: Area) -> Callable[..., Any]:
    """The dependency of a page of ``area``: the session, its role and, for a form, its
    CSRF token, checked (``Console.authorize``) before the route runs."""

    async def check(request: Request) -> Session:
        console = _console(request)
        session = console.accounts.session(request.cookies.get(SESSION_COOKIE))
        csrf = None
        if request.method not in ("GET", "HEAD"):
            value = (await request.form()).get("csrf")
            csrf = value if isinstance(value, str) else None
        return console.authorize(
            session,
            area,
            method=request.method,
            path=request.url.path,
            csrf=csrf,
            request_id=_rid(request),
        )

    return check


def page(
    request: Request,
    name: str,
    session: Session | None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return templates.TemplateResponse(
        request,
        name,
        {"session": session, "prefix": PREFIX, "Area": Area, **context},
        status_code=status_code,
        headers=PRIVATE,
    )


def sign_in_page(request: Request, status: int = 200, message: str = "") -> HTMLResponse:
    """The sign-in form with a fresh double-submit token in its cookie and its field (and
    the button of the operators' provider, when one is configured)."""
    token = secrets.token_urlsafe(32)
    provider = _console(request).provider
    label = provider.label if provider else None
    response = page(
        request, "sign_in.html", None, status, csrf=token, message=message, provider=label
    )
    response.set_cookie(
        SIGN_IN_COOKIE,
        token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
    )
    return response


def sign_in_form_holds(request: Request, csrf: str) -> bool:
    """The sign-in form came back with the token of its own cookie (double submit)."""
    expected = request.cookies.get(SIGN_IN_COOKIE)
    return bool(expected) and secrets.compare_digest(expected or "", csrf)


def open_session(response: Response, request: Request, session: Session) -> Response:
    """``response`` with the session's cookie set and the sign-in form's deleted."""
    response.delete_cookie(SIGN_IN_COOKIE, path=PREFIX)
    # No max-age: the cookie ends with the browser; the server ends it after
    # IDLE_TIMEOUT without use, whatever the browser keeps.
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path=PREFIX,
    )
    return response


Home = Annotated[Session, Depends(signed_in(Area.HOME))]
Steward = Annotated[Session, Depends(signed_in(Area.STEWARD))]
Auditing = Annotated[Session, Depends(signed_in(Area.AUDIT))]
Sharing = Annotated[Session, Depends(signed_in(Area.SHARING))]
Operating = Annotated[Session, Depends(signed_in(Area.OPERATIONS))]


def console_router(console: Console) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    @router.get("/static/console.css")
    def style() -> Response:
        return Response(STYLE, media_type="text/css")

    # --- signing in and out ----------------------------------------------------------

    @router.get("/sign-in")
    def sign_in_form(request: Request) -> HTMLResponse:
        return sign_in_page(request)

    @router.post("/sign-in")
    def sign_in(
        request: Request,
        name: Annotated[str, Form(max_length=64)],
        password: Annotated[str, Form(max_length=1024)],
        csrf: Annotated[str, Form(max_length=128)] = "",
    ) -> Response:
        if not sign_in_form_holds(request, csrf):
            return sign_in_page(request, 403, "表单已失效，请重新登录")
        try:
            session = console.accounts.sign_in(name, password, request_id=_rid(request))
        except SignInRefused as exc:
            locked = exc.reason in ("locked", "locked_now")
            return sign_in_page(
                request, 401, "账户已锁定，请稍后再试" if locked else "用户名或密码错误"
            )
        return open_session(RedirectResponse(f"{PREFIX}/", status_code=303), request, session)

    @router.post("/sign-out")
    def sign_out(request: Request, session: Home) -> Response:
        console.accounts.sign_out(session, request_id=_rid(request))
        response = RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path=PREFIX)
        return response

    @router.get("/")
    def home(request: Request, session: Home) -> HTMLResponse:
        return page(request, "home.html", session)

    # --- the steward's pages ---------------------------------------------------------

    @router.get("/runs")
    def runs(request: Request, session: Steward) -> HTMLResponse:
        days, series = console.steward.sync_figures(dt.datetime.now(dt.UTC))
        chart = grouped_bars(
            "每日同步行数（按数据源：入库 / 隔离）", _days(days), series, "行", "sync-chart"
        )
        return page(request, "runs.html", session, runs=console.steward.runs(), chart=chart)

    @router.get("/runs/{run_id}/report")
    def report(run_id: str, session: Steward) -> HTMLResponse:
        page = console.steward.report_html(session.operator, run_id)
        return HTMLResponse(page, headers=PRIVATE)

    @router.get("/quarantine")
    def quarantine(
        request: Request,
        session: Steward,
        source: str = "",
        stream: str = "",
        rule: str = "",
        since: str = "",
        until: str = "",
        status: str = "open",
    ) -> HTMLResponse:
        where = QuarantineFilter(
            source or None,
            stream or None,
            rule or None,
            _date("since", since),
            _date("until", until),
            "resolved" if status == "resolved" else "open",
        )
        return page(
            request,
            "quarantine.html",
            session,
            where=where,
            lines=console.steward.quarantined(where),
            rules=console.steward.rules(),
            chart=horizontal_bars(
                "待处理隔离数据（按违反规则）",
                [(rule, [float(n)]) for rule, n in console.steward.quarantine_by_rule()],
                ["条目数"],
                "条",
                "rule-chart",
            ),
        )

    @router.get("/quarantine/export")
    def export(
        session: Steward,
        rule: Annotated[str, Query(min_length=1, max_length=128)],
        source: str = "",
    ) -> Response:
        """One rule's open rows as a workbook to correct offline (rows in clear: audited)."""
        where = QuarantineFilter(source=source or None, rule=rule)
        data, _ = console.steward.export(session.operator, where)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", rule)
        return Response(
            data,
            media_type=XLSX,
            headers={
                **PRIVATE,
                "Content-Disposition": f'attachment; filename="quarantine-{name}.xlsx"',
            },
        )

    @router.post("/quarantine/import")
    async def import_workbook(
        request: Request, session: Steward, file: Annotated[UploadFile, File()]
    ) -> HTMLResponse:
        """A corrected workbook: each row re-submitted or left, with its reason."""
        data = await file.read(MAX_BYTES + 1)
        lines = console.steward.import_workbook(session.operator, data)
        return page(request, "imported.html", session, lines=lines, reasons=IMPORT_REASONS)

    @router.get("/quarantine/{entry_id}")
    def entry(request: Request, session: Steward, entry_id: int, result: str = "") -> HTMLResponse:
        found = console.steward.entry(session.operator, entry_id)
        return page(request, "entry.html", session, entry=found, result=result)

    @router.post("/quarantine/{entry_id}/resubmit")
    async def resubmit(request: Request, session: Steward, entry_id: int) -> Response:
        form = await request.form()
        typed = {
            key[len("col:") :]: value
            for key, value in form.multi_items()
            if key.startswith("col:") and isinstance(value, str)
        }
        before = console.steward.entry(session.operator, entry_id)
        corrections = corrections_from(before.row, typed)
        try:
            after = console.steward.resubmit(session.operator, entry_id, corrections)
        except CannotResubmit as exc:
            return page(request, "entry.html", session, 409, entry=before, error=str(exc))
        outcome = "stored" if after.status == "resolved" else "still"
        return RedirectResponse(f"{PREFIX}/quarantine/{entry_id}?result={outcome}", 303)

    # --- the steward's review queue (上报 → 审核入库) ----------------------------------

    @router.get("/reviews")
    def reviews(
        request: Request,
        session: Steward,
        kind: str = "",
        purpose: str = "",
        status: str = "pending",
        cursor: str = "",
    ) -> HTMLResponse:
        try:
            desk = console.reviews.desk()
        except ReviewsClosed as exc:
            return page(request, "reviews.html", session, desk=None, closed=str(exc))
        kind = kind or (desk.kinds[0] if desk.kinds else "")
        purpose = purpose if purpose in desk.purposes else desk.purposes[0]
        shown = _status(status)
        listed = (
            console.reviews.listing(
                session.operator, kind, purpose, shown, cursor or None, _rid(request)
            )
            if kind
            else None
        )
        return page(
            request,
            "reviews.html",
            session,
            desk=desk,
            kind=kind,
            purpose=purpose,
            status=status,
            listed=listed,
            names=console.reviews.names(),
        )

    @router.get("/reviews/{kind}/{ref}")
    def review(
        request: Request, session: Steward, kind: str, ref: str, purpose: str = ""
    ) -> HTMLResponse:
        desk = console.reviews.desk()
        purpose = purpose if purpose in desk.purposes else desk.purposes[0]
        found = console.reviews.review(session.operator, kind, purpose, ref, _rid(request))
        return page(
            request,
            "review.html",
            session,
            desk=desk,
            purpose=purpose,
            item=found,
            names=console.reviews.names(),
        )

    @router.post("/reviews/{kind}/{ref}/decision")
    def decide(
        request: Request,
        session: Steward,
        kind: str,
        ref: str,
        verdict: Annotated[str, Form(max_length=16)],
        purpose: Annotated[str, Form(max_length=64)] = "",
        reason: Annotated[str, Form(max_length=4096)] = "",
    ) -> Response:
        desk = console.reviews.desk()
        purpose = purpose if purpose in desk.purposes else desk.purposes[0]
        if verdict not in ("accept", "reject"):
            raise BadInput("verdict", "accept or reject")
        try:
            console.reviews.decide(
                session.operator,
                kind,
                purpose,
                ref,
                "accept" if verdict == "accept" else "reject",
                reason,
                _rid(request),
            )
        except ReviewRefused as exc:
            found = console.reviews.review(session.operator, kind, purpose, ref, _rid(request))
            return page(
                request,
                "review.html",
                session,
                409 if exc.reason in _CONFLICTS else 400,
                desk=desk,
                purpose=purpose,
                item=found,
                names=console.reviews.names(),
                error=REVIEW_REFUSALS.get(exc.reason, str(exc)),
                reason=reason,
            )
        return RedirectResponse(
            f"{PREFIX}/reviews/{kind}/{ref}?purpose={quote(purpose)}", status_code=303
        )

    # --- the system admin's page -----------------------------------------------------

    @router.get("/operations")
    def operations(request: Request, session: Operating) -> HTMLResponse:
        ops = console.operations
        orders = ops.work_orders()
        cycle = horizontal_bars(
            "工单用时（按网格，中位数）",
            [(g.key, [g.to_accept.median_hours, g.to_close.median_hours]) for g in orders.by_grid],
            ["签收用时", "办结用时"],
            "小时",
            "cycle-chart",
        )
        return page(
            request,
            "operations.html",
            session,
            streams=ops.streams(),
            clients=ops.clients(),
            orders=orders,
            chart=cycle,
        )

    @router.get("/reconciliation")
    def reconciliation(
        request: Request, session: Steward, kind: str = "person", grid: str = ""
    ) -> HTMLResponse:
        """The counts of every grid; with a grid chosen, its things one side lacks or the
        sides disagree on (each listing audited by the service)."""
        if kind not in KINDS:
            raise BadInput("kind", f"one of {', '.join(KINDS)}")
        service, subject = console.reconciliation, session.operator.subject
        try:
            counts = service.overview(subject, kind, door="console")
            things = service.lists(subject, kind, grid, door="console") if grid else []
        except QueryError as exc:
            raise BadInput("grid", str(exc)) from None
        return page(
            request,
            "reconciliation.html",
            session,
            kind=kind,
            kinds=KINDS,
            grid=grid,
            counts=counts,
            things=things,
            facts=list(COMPARED[kind]),
        )

    # --- the auditor's pages ---------------------------------------------------------

    @router.get("/audit")
    def audit_search(
        request: Request,
        session: Auditing,
        client: str = "",
        kind: str = "",
        purpose: str = "",
        record: str = "",
        action: str = "",
        outcome: str = "",
        since: str = "",
        until: str = "",
    ) -> HTMLResponse:
        first, last = _date("since", since), _date("until", until)
        asked = any((client, kind, purpose, record, action, outcome, since, until))
        query = AuditQuery(
            client_id=client or None,
            kind=kind or None,
            purpose=purpose or None,
            record_ids=(record,) if record else None,
            action=action or None,
            outcome=outcome if outcome in ("allowed", "denied", "error") else None,
            since=_day(first),
            until=_day(last + dt.timedelta(days=1) if last else None),
            newest_first=True,
            limit=200,
        )
        found = console.auditor.search(session.operator, query) if asked else []
        return page(
            request,
            "audit.html",
            session,
            asked=asked,
            found=found,
            form={
                "client": client,
                "kind": kind,
                "purpose": purpose,
                "record": record,
                "action": action,
                "outcome": outcome,
                "since": since,
                "until": until,
            },
        )

    @router.get("/audit/subject")
    def subject_form(request: Request, session: Auditing) -> HTMLResponse:
        return page(request, "subject.html", session, found=None)

    @router.post("/audit/subject")
    def subject(
        request: Request,
        session: Auditing,
        id_number: Annotated[str, Form(max_length=32)],
    ) -> HTMLResponse:
        found = console.auditor.subject(session.operator, id_number)
        return page(request, "subject.html", session, found=found)

    @router.get("/audit/alerts")
    def alerts(request: Request, session: Auditing) -> HTMLResponse:
        found = console.auditor.alerts(session.operator)
        days, series = console.auditor.access_figures()
        chart = grouped_bars("各接入方每日查询次数", _days(days), series, "次", "access-chart")
        return page(
            request,
            "alerts.html",
            session,
            alerts=found,
            chart=chart,
            thresholds=console.auditor.thresholds,
            labels=ALERT_LABELS,
        )

    @router.get("/audit/alerts/{key:path}")
    def alert(request: Request, session: Auditing, key: str) -> HTMLResponse:
        found, entries = console.auditor.alert(session.operator, key)
        return page(request, "alert.html", session, alert=found, found=entries, labels=ALERT_LABELS)

    @router.get("/audit/integrity")
    def integrity(request: Request, session: Auditing) -> HTMLResponse:
        return page(request, "integrity.html", session, state=console.auditor.integrity())

    @router.post("/audit/verify")
    def verify(session: Auditing) -> Response:
        console.auditor.verify(session.operator)
        return RedirectResponse(f"{PREFIX}/audit/integrity", 303)

    @router.get("/sharing")
    def sharing(request: Request, session: Sharing) -> HTMLResponse:
        return page(request, "sharing.html", session, matrix=console.auditor.matrix())

    @router.get("/policies")
    def policies(request: Request, session: Auditing) -> HTMLResponse:
        ids = console.auditor.policy_ids()
        return page(request, "policies.html", session, ids=ids)

    @router.get("/policies/{policy_id}")
    def policy(
        request: Request,
        session: Auditing,
        policy_id: str,
        before: int | None = None,
        after: int | None = None,
    ) -> HTMLResponse:
        history = console.auditor.history(policy_id)
        changes = (
            console.auditor.diff(policy_id, before, after)
            if before is not None and after is not None
            else None
        )
        return page(
            request,
            "policy.html",
            session,
            policy_id=policy_id,
            history=history,
            before=before,
            after=after,
            changes=changes,
        )

    return router


def install(app: Any, console: Console) -> None:
    """Serve the console on ``app``, its errors as pages: no session sends the person to
    the sign-in page, a refusal is a 403 page, a missing object a 404 page."""
    app.state.console = console
    app.include_router(console_router(console))
    if console.provider is not None:
        from hub.web.provider import provider_router

        app.include_router(provider_router(console.provider))

    def _error(request: Request, exc: Exception) -> Response:
        if isinstance(exc, SessionInvalid):
            return RedirectResponse(f"{PREFIX}/sign-in", status_code=303)
        status, message = _ERRORS.get(type(exc), (400, "请求无效"))
        if isinstance(exc, BadInput):
            message = f"请求无效：{exc}"
        if isinstance(exc, ReviewRefused):
            status = 404 if exc.reason in ("not_found", "kind") else 403
            message = "未找到该上报" if status == 404 else f"审核被拒绝：{exc.reason}"
        return templates.TemplateResponse(
            request,
            "error.html",
            {"session": None, "prefix": PREFIX, "message": message, "status": status},
            status_code=status,
            headers=PRIVATE,
        )

    app.add_exception_handler(ConsoleError, _error)


_ERRORS: dict[type[Exception], tuple[int, str]] = {
    Forbidden: (403, "您的角色无权访问此页面或执行此操作"),
    CsrfRefused: (403, "表单已失效（缺少有效的防伪令牌），请返回重试"),
    NotFound: (404, "未找到"),
    ReviewsClosed: (409, "尚未配置审核单位（console.reviewer），审核队列不可用"),
}


ALERT_LABELS = {
    "volume": "访问人数异常增多",
    "night": "夜间批量查询",
    "repeat": "同一人员被反复查询",
    "refusals": "频繁被拒（疑似试探）",
    "new_grid": "查询超出常用网格",
    "break_glass": "紧急调阅（超出策略的访问）",
}
_CONFLICTS = {"already_decided", "not_admissible", "submitter_not_granted"}
REVIEW_REFUSALS = {
    "reason_required": "驳回须填写理由",
    "reason_too_long": "理由过长（最多 256 字）",
    "reason_sensitive": "理由中不得出现身份证号或手机号，请写明字段名",
    "already_decided": "该上报已审核，不能重复审核",
    "not_admissible": "该记录已不符合入库规则，无法通过",
    "submitter_not_granted": "上报方已无上报权限，无法通过",
    "own_submission": "不能审核本单位的上报",
}


def _days(days: list[dt.date]) -> list[str]:
    return [f"{d.month}月{d.day}日" for d in days]


def _duration(seconds: float | None) -> str:
    """A lag as people read it: 45 秒, 12 分钟, 3.5 小时, 2.0 天."""
    if seconds is None:
        return "从未成功"
    if seconds < 60:
        return f"{seconds:.0f} 秒"
    if seconds < 3600:
        return f"{seconds / 60:.0f} 分钟"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} 小时"
    return f"{seconds / 86400:.1f} 天"


def _status(text: str) -> Status | None:
    """A status filter as the form sends it: anything else lists every status."""
    return cast(Status, text) if text in ("pending", "accepted", "rejected") else None


def _day(day: dt.date | None) -> dt.datetime | None:
    return None if day is None else dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


def _date(field: str, text: str) -> dt.date | None:
    """A date filter as a form sends it: empty for none, else ``YYYY-MM-DD``."""
    if not text.strip():
        return None
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise BadInput(field, "a date is YYYY-MM-DD") from None
