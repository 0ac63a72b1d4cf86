"""Operators sign in through an OpenID Connect provider: a real one on loopback
(``oidc_provider``), the hub served for real, driven by httpx following the redirects
with the pages' cookies, and once by the browser. The provider says who the person is;
the account, and so the roles, are the hub's; every way the answer can be wrong is
refused and audited."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey
from selenium.webdriver.support.ui import WebDriverWait
from typer.testing import CliRunner

from hub.api import create_app
from hub.audit import AuditEvent, AuditLog
from hub.auth.settings import OperatorIdP
from hub.cli import app as cli
from hub.config import HubConfig, load_config, open_store, save_config
from hub.console import Accounts, ProviderSignIn, SignInRefused
from hub.reference.serve import serve_in_thread
from tests.conftest import BACKENDS, hub_home
from tests.web.browser import Pages, chromium
from tests.web.conftest import PASSWORD, csrf_of
from tests.web.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, served_provider

STEWARD_SUBJECT = "u-1001"
AUDITOR_SUBJECT = "u-2002"


@dataclass
class OidcHub:
    config: HubConfig
    url: str
    provider: Provider

    def sign_ins(self) -> list[AuditEvent]:
        store = open_store(self.config)
        try:
            found = AuditLog.for_store(store).search(action="console.sign_in", limit=10_000)
        finally:
            store.close()
        return [entry.event for entry in found]


def _run(*args: str) -> str:
    done = CliRunner().invoke(cli, list(args))
    assert done.exit_code == 0, done.output
    return done.output


@pytest.fixture(scope="module", params=BACKENDS)
def oidc_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OidcHub]:
    root = tmp_path_factory.mktemp("oidc")
    with served_provider() as provider, hub_home(request.param, root / "hub") as home:
        idp = OperatorIdP(issuer=provider.url, client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
        save_config(load_config(home).model_copy(update={"operator_oidc": idp}))
        password = root / "password"
        password.write_text(PASSWORD + "\n", encoding="utf-8")
        at = ("--home", str(home))
        _run("users", "add", "li.ming", "--role", "steward", "--oidc-subject", STEWARD_SUBJECT, *at)
        _run(
            "users",
            "add",
            "zhao.min",
            "--role",
            "audit_admin",
            "--password-file",
            str(password),
            *at,
        )
        _run("users", "link", "zhao.min", "--oidc-subject", AUDITOR_SUBJECT, *at)
        config = load_config(home)
        with serve_in_thread(create_app(config)) as server:
            yield OidcHub(config, server.url, provider)


@pytest.fixture
def hub(oidc_hub: OidcHub) -> Iterator[OidcHub]:
    oidc_hub.provider.reset()
    yield oidc_hub
    oidc_hub.provider.reset()


def _start(http: httpx.Client, *, follow: bool = True) -> httpx.Response:
    """The sign-in page's provider button pressed: the answer after every redirect."""
    form = http.get("/console/sign-in")
    return http.post(
        "/console/oidc/start", data={"csrf": csrf_of(form.text)}, follow_redirects=follow
    )


def _cookie(response: httpx.Response, name: str) -> str:
    return next(c for c in response.headers.get_list("set-cookie") if c.startswith(f"{name}="))


def test_an_operator_signs_in_through_the_provider_with_the_hubs_roles(hub: OidcHub) -> None:
    # The provider's token claims audit powers; the account is a steward's, and stays so.
    hub.provider.claims = {"roles": ["audit_admin"], "groups": ["system_admin"]}
    with httpx.Client(base_url=hub.url) as http:
        assert "通过统一身份认证登录" in http.get("/console/sign-in").text
        landed = _start(http)
        assert landed.status_code == 200, landed.text
        assert landed.url.path == "/console/oidc/callback"
        sent, _ = landed.history
        assert sent.status_code == 303
        assert sent.headers["location"].startswith(f"{hub.provider.url}/authorize?")
        assert "code_challenge_method=S256" in sent.headers["location"]
        state_cookie = _cookie(sent, "hub_oidc_state").lower()
        assert "httponly" in state_cookie
        assert "samesite=lax" in state_cookie
        assert "path=/console/oidc" in state_cookie
        session_cookie = _cookie(landed, "hub_session").lower()
        assert "httponly" in session_cookie
        assert "samesite=strict" in session_cookie
        assert hub.provider.token_requests[-1] == "issued"  # the PKCE verifier matched

        home = http.get("/console/")
        assert home.status_code == 200
        assert "li.ming" in home.text
        assert "数据管理员" in home.text
        assert http.get("/console/runs").status_code == 200
        assert http.get("/console/audit").status_code == 403
        assert http.get("/console/sharing").status_code == 403

    signed = hub.sign_ins()[-1]
    assert (signed.outcome, signed.subject) == ("allowed", "console:li.ming")
    assert signed.detail == {"method": "oidc"}


def test_the_linked_account_is_the_one_signed_in(hub: OidcHub) -> None:
    hub.provider.person = AUDITOR_SUBJECT
    with httpx.Client(base_url=hub.url) as http:
        assert _start(http).status_code == 200
        home = http.get("/console/")
        assert "zhao.min" in home.text
        assert http.get("/console/audit").status_code == 200
        assert http.get("/console/runs").status_code == 403


def _refused(hub: OidcHub, http: httpx.Client, response: httpx.Response) -> str:
    """The reason the last audited sign-in gives, after checking it opened no session."""
    assert response.status_code == 401, response.text
    assert "hub_session" not in response.cookies
    assert "统一身份认证" in response.text
    assert http.get("/console/", follow_redirects=True).url.path == "/console/sign-in"
    signed = hub.sign_ins()[-1]
    assert signed.outcome == "denied"
    assert signed.detail["method"] == "oidc"
    return str(signed.detail["reason"])


def test_a_wrong_id_token_is_refused_and_audited(hub: OidcHub) -> None:
    now = int(time.time())
    stranger = RSAKey.generate_key(2048, auto_kid=True)
    cases: list[tuple[dict[str, Any], RSAKey | None, str]] = [
        ({"nonce": "not-the-nonce-sent"}, None, "wrong_nonce"),
        ({"aud": "another-client"}, None, "wrong_audience"),
        ({"exp": now - 600, "iat": now - 900}, None, "expired"),
        ({"iss": "http://localhost:1/other"}, None, "wrong_issuer"),
        ({}, stranger, "bad_signature"),  # signed by a key the JWKS does not hold
    ]
    for claims, key, reason in cases:
        hub.provider.claims, hub.provider.sign_with = claims, key
        with httpx.Client(base_url=hub.url) as http:
            assert _refused(hub, http, _start(http)) == reason, claims


def test_an_unknown_subject_is_refused_and_audited(hub: OidcHub) -> None:
    hub.provider.person = "u-9999"
    with httpx.Client(base_url=hub.url) as http:
        answer = _start(http)
        assert "未关联" in answer.text
        assert _refused(hub, http, answer) == "unknown_subject"
    signed = hub.sign_ins()[-1]
    assert signed.subject == "console:oidc"
    assert signed.detail["oidc_subject"] == "u-9999"


def test_a_forged_or_replayed_state_is_refused(hub: OidcHub) -> None:
    def callback_of(http: httpx.Client) -> tuple[str, str]:
        """A sign-in started and answered by the provider, stopped before the hub."""
        to_provider = _start(http, follow=False)
        answer = http.get(to_provider.headers["location"])
        return answer.headers["location"], http.cookies["hub_oidc_state"]

    def holding(state: str) -> httpx.Client:
        http = httpx.Client(base_url=hub.url)
        http.cookies.set("hub_oidc_state", state, path="/console/oidc")
        return http

    with httpx.Client(base_url=hub.url) as attacker, httpx.Client(base_url=hub.url) as victim:
        # Login CSRF: the victim's browser is made to open the attacker's callback.
        callback, held = callback_of(attacker)
        assert _refused(hub, victim, victim.get(callback)) == "state"
        # The callback with its state changed, in the very browser that started it...
        assert _refused(hub, attacker, attacker.get(callback + "x")) == "state"
        # ...ended that sign-in: the right state, even with the cookie kept, is too late.
        with holding(held) as again:
            assert _refused(hub, again, again.get(callback)) == "state"

    with httpx.Client(base_url=hub.url) as http:  # a callback that signed in, replayed
        landed = _start(http)
        assert landed.status_code == 200
        state = landed.history[0].cookies["hub_oidc_state"]
    with holding(state) as replay:
        assert _refused(hub, replay, replay.get(landed.url)) == "state"


def test_an_account_without_a_password_signs_in_only_through_the_provider(
    hub: OidcHub,
) -> None:
    with httpx.Client(base_url=hub.url) as http:
        form = http.get("/console/sign-in")
        answer = http.post(
            "/console/sign-in",
            data={"name": "li.ming", "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
        assert answer.status_code == 401
        assert "用户名或密码错误" in answer.text
    signed = hub.sign_ins()[-1]
    assert (signed.subject, signed.detail) == ("console:li.ming", {"reason": "no_password"})


def test_linking_refuses_a_subject_held_and_lists_the_links(hub: OidcHub) -> None:
    home = str(hub.config.home)
    add = ["users", "add", "wu.gang", "--role", "viewer", "--home", home]
    taken = CliRunner().invoke(cli, [*add, "--oidc-subject", STEWARD_SUBJECT])
    assert taken.exit_code == 2
    assert "linked to 'li.ming'" in taken.output
    listed = _run("users", "list", "--home", home)
    assert STEWARD_SUBJECT in listed
    assert AUDITOR_SUBJECT in listed


def test_a_provider_that_cannot_be_read_or_names_another_issuer_is_refused(
    hub: OidcHub,
) -> None:
    """Discovery must name the issuer configured (the same server under another name does
    not); a provider that does not answer refuses the sign-in before the browser leaves."""
    store = open_store(hub.config)
    try:
        accounts = Accounts(store, AuditLog.for_store(store))
        renamed = hub.provider.url.replace("localhost", "127.0.0.1")
        for issuer in (renamed, "http://127.0.0.1:9"):
            idp = OperatorIdP(issuer=issuer, client_id=CLIENT_ID, timeout=2)
            with httpx.Client() as http:
                provider = ProviderSignIn(idp, accounts, http=http)
                with pytest.raises(SignInRefused) as refused:
                    provider.start("http://127.0.0.1/console/oidc/callback")
            assert refused.value.reason == "provider_unavailable"
            assert hub.sign_ins()[-1].detail == {"method": "oidc", "reason": "provider_unavailable"}
    finally:
        store.close()


def test_the_readmes_provider_settings_are_valid() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    [block] = re.findall(r"```json\n(\"operator_oidc\".*?)```", readme, flags=re.DOTALL)
    settings = json.loads("{" + block + "}")["operator_oidc"]
    assert OperatorIdP(**settings).subject_claim == "sub"


@pytest.mark.browser
def test_the_browser_signs_in_through_the_provider(oidc_hub: OidcHub, tmp_path: Path) -> None:
    """The way back from the provider is a navigation the provider's page began: the
    session cookie (SameSite=Strict) must still reach the console's pages after it."""
    oidc_hub.provider.reset()
    oidc_hub.provider.interactive = True
    with chromium(tmp_path) as driver:
        pages = Pages(driver, oidc_hub.url, tmp_path / "shots")
        pages.go("/console/sign-in")
        pages.shot("sign-in-with-provider")
        pages.click("sign-in-oidc")
        assert driver.current_url.startswith(f"{oidc_hub.provider.url}/authorize?")
        pages.click("approve")
        WebDriverWait(driver, 10).until(lambda d: d.current_url == f"{oidc_hub.url}/console/")
        assert "li.ming" in pages.text("header")
        assert "数据管理员" in pages.text("header")
        pages.shot("signed-in-through-provider")
        pages.go("/console/audit")
        assert "无权访问" in pages.text()
    oidc_hub.provider.reset()
