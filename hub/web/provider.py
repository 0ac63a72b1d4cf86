"""The console's sign-in through the operators' OpenID Connect provider, when one is
configured (``hub.console.provider`` decides; these routes translate).

``POST /console/oidc/start`` is the sign-in page's second form (its double-submit token
checked as the password form's is): it sends the browser to the provider with a fresh
``state``, which the browser keeps in an HttpOnly cookie scoped to ``/console/oidc``.
That cookie is ``SameSite=Lax``, the strictest a browser sends on the provider's redirect
back, a top-level GET from another site. ``GET /console/oidc/callback`` hands the state
of the cookie and of the query to the service, and on success opens the session.

The session cookie is ``SameSite=Strict``, and a browser does not send such a cookie on
a navigation that a redirect from another site began; so the callback answers with a
page of its own that moves on to the console (a same-site navigation), not a redirect.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from hub.console import SignInRefused
from hub.console.provider import PENDING_FOR, ProviderSignIn
from hub.web.pages import (
    PREFIX,
    _rid,
    _secure,
    open_session,
    page,
    sign_in_form_holds,
    sign_in_page,
)

STATE_COOKIE = "hub_oidc_state"
COOKIE_PATH = f"{PREFIX}/oidc"
_MESSAGES = {
    "unknown_subject": "该统一身份认证账号未关联本平台操作员账户，请联系系统管理员",
    "provider_unavailable": "统一身份认证服务暂不可用，请稍后再试或使用密码登录",
    "provider_error": "统一身份认证未完成登录",
}
_DEFAULT_MESSAGE = "统一身份认证登录未通过（请求无效或已过期），请重新登录"


def provider_router(provider: ProviderSignIn) -> APIRouter:
    router = APIRouter(prefix=PREFIX, include_in_schema=False)

    def callback_uri(request: Request) -> str:
        return provider.settings.redirect_uri or str(request.url_for("oidc_callback"))

    @router.post("/oidc/start")
    def start(request: Request, csrf: Annotated[str, Form(max_length=128)] = "") -> Response:
        if not sign_in_form_holds(request, csrf):
            return sign_in_page(request, 403, "表单已失效，请重新登录")
        try:
            sent = provider.start(callback_uri(request), request_id=_rid(request))
        except SignInRefused as exc:
            return sign_in_page(request, 503, _MESSAGES.get(exc.reason, _DEFAULT_MESSAGE))
        response = RedirectResponse(sent.url, status_code=303)
        response.set_cookie(
            STATE_COOKIE,
            sent.state,
            max_age=int(PENDING_FOR.total_seconds()),
            httponly=True,
            samesite="lax",
            secure=_secure(request),
            path=COOKIE_PATH,
        )
        return response

    @router.get("/oidc/callback", name="oidc_callback")
    def callback(
        request: Request,
        state: str | None = None,
        code: str | None = None,
        error: str | None = None,
    ) -> Response:
        try:
            session = provider.finish(
                held_state=request.cookies.get(STATE_COOKIE),
                state=state,
                code=code,
                error=error,
                request_id=_rid(request),
            )
        except SignInRefused as exc:
            refused = sign_in_page(request, 401, _MESSAGES.get(exc.reason, _DEFAULT_MESSAGE))
            refused.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
            return refused
        onward = page(request, "signed_in.html", None, onward=f"{PREFIX}/")
        onward.delete_cookie(STATE_COOKIE, path=COOKIE_PATH)
        return open_session(onward, request, session)

    return router
