"""Role separation over HTTP against the served hub: every page and action a role must
not reach answers 403 and is audited as refused; every form posted without the
session's CSRF token is refused and changes nothing; no session, no page."""

from __future__ import annotations

from dataclasses import replace

import httpx
import pytest

from hub.config import open_store
from hub.console.workbook import write_workbook
from tests.web.conftest import PASSWORD, ConsoleHub, csrf_of, signed_in

STEWARD_PAGES = [
    "/console/runs",
    "/console/runs/{run}/report",
    "/console/quarantine",
    "/console/quarantine/{entry}",
    "/console/quarantine/export?rule=id_birth_date_mismatch",
    "/console/reviews",
    "/console/reviews/person/{review}",
]
AUDIT_PAGES = [
    "/console/audit?action=records.query",
    "/console/audit/subject",
    "/console/audit/integrity",
    "/console/audit/alerts",
    "/console/policies",
    "/console/policies/grid-platform",
]
SHARING_PAGES = ["/console/sharing"]
OPERATIONS_PAGES = ["/console/operations"]
FORBIDDEN = {
    "steward": AUDIT_PAGES + SHARING_PAGES + OPERATIONS_PAGES,
    "auditor": STEWARD_PAGES + OPERATIONS_PAGES,
    "sysadmin": STEWARD_PAGES + AUDIT_PAGES + SHARING_PAGES,
    "secadmin": STEWARD_PAGES + AUDIT_PAGES + OPERATIONS_PAGES,
    "viewer": STEWARD_PAGES + AUDIT_PAGES + SHARING_PAGES + OPERATIONS_PAGES,
}
ALLOWED = {
    "steward": STEWARD_PAGES,
    "auditor": AUDIT_PAGES + SHARING_PAGES,
    "secadmin": SHARING_PAGES,
    "sysadmin": OPERATIONS_PAGES,
}
CASES = [(name, path) for name, paths in FORBIDDEN.items() for path in paths]


def _path(hub: ConsoleHub, path: str) -> str:
    return path.format(
        entry=min(hub.quarantined.values()), run=hub.run_id, review=hub.review_ref("S2")
    )


@pytest.mark.parametrize(("name", "path"), CASES)
def test_a_role_cannot_reach_another_duty_s_page(
    console_hub: ConsoleHub, name: str, path: str
) -> None:
    before = len(console_hub.events("console.refused"))
    with signed_in(console_hub, name) as http:
        answer = http.get(_path(console_hub, path))
    assert answer.status_code == 403, answer.text
    assert "无权访问" in answer.text
    refused = console_hub.events("console.refused")[before:]
    assert [(e.subject, e.detail["reason"], e.detail["path"]) for e in refused] == [
        (
            f"console:{name}",
            "role",
            _path(console_hub, path).split("?")[0],
        )
    ]


@pytest.mark.parametrize(("name", "path"), [(n, p) for n, ps in ALLOWED.items() for p in ps])
def test_each_role_reaches_its_own_pages(console_hub: ConsoleHub, name: str, path: str) -> None:
    with signed_in(console_hub, name) as http:
        answer = http.get(_path(console_hub, path))
    assert answer.status_code == 200, answer.text
    assert answer.headers["cache-control"] == "no-store"


FORBIDDEN_ACTIONS = {
    "auditor": ["resubmit", "accept", "import"],
    "viewer": ["resubmit", "subject", "verify", "accept", "import"],
    "steward": ["subject", "verify"],
    "sysadmin": ["resubmit", "subject", "verify", "accept"],
    "secadmin": ["accept"],
}


def _fixing_workbook(hub: ConsoleHub) -> bytes:
    """A workbook that would fix the first quarantined row, were it imported."""
    entry_id = min(hub.quarantined.values())
    store = open_store(hub.config)
    try:
        entry = store.quarantined_row(entry_id)
    finally:
        store.close()
    assert entry is not None
    key = next(k for k, v in hub.quarantined.items() if v == entry_id)
    born = hub.people[30 + int(key[1:])].birth_date.isoformat()
    return write_workbook([replace(entry, row=entry.row | {"birth_date": born})])


def _post(hub: ConsoleHub, http: httpx.Client, action: str, csrf: str | None) -> httpx.Response:
    entry = min(hub.quarantined.values())
    if action == "import":
        files = {"file": ("fixed.xlsx", _fixing_workbook(hub))}
        return http.post(
            "/console/quarantine/import",
            files=files,
            data={"csrf": csrf} if csrf is not None else {},
        )
    target, data = {
        "resubmit": (f"/console/quarantine/{entry}/resubmit", {"col:birth_date": "2000-01-01"}),
        "subject": ("/console/audit/subject", {"id_number": hub.read_person.id_number}),
        "verify": ("/console/audit/verify", {}),
        "accept": (
            f"/console/reviews/person/{hub.review_ref('S2')}/decision",
            {"verdict": "accept"},
        ),
    }[action]
    return http.post(target, data=data | ({"csrf": csrf} if csrf is not None else {}))


@pytest.mark.parametrize(
    ("name", "action"), [(n, a) for n, actions in FORBIDDEN_ACTIONS.items() for a in actions]
)
def test_a_role_cannot_take_another_duty_s_action_even_with_its_token(
    console_hub: ConsoleHub, name: str, action: str
) -> None:
    entry = min(console_hub.quarantined.values())
    resubmits = len(console_hub.events("quarantine.resubmit"))
    subjects = len(console_hub.events("audit.subject"))
    with signed_in(console_hub, name) as http:
        csrf = csrf_of(http.get("/console/").text)
        answer = _post(console_hub, http, action, csrf)
    assert answer.status_code == 403
    assert console_hub.entry_status(entry) == "open"
    assert console_hub.review_status("S2")[0] == "pending"
    assert len(console_hub.events("quarantine.resubmit")) == resubmits
    assert len(console_hub.events("audit.subject")) == subjects
    assert console_hub.events("console.refused")[-1].detail["reason"] == "role"


@pytest.mark.parametrize(
    ("name", "action"),
    [
        ("steward", "resubmit"),
        ("steward", "accept"),
        ("steward", "import"),
        ("auditor", "subject"),
        ("auditor", "verify"),
    ],
)
@pytest.mark.parametrize("csrf", [None, "", "forged-token"])
def test_a_form_without_the_session_s_csrf_token_is_refused_and_changes_nothing(
    console_hub: ConsoleHub, name: str, action: str, csrf: str | None
) -> None:
    entry = min(console_hub.quarantined.values())
    counts = {
        a: len(console_hub.events(a))
        for a in ("quarantine.resubmit", "audit.subject", "reviews.decide")
    }
    verified = len(console_hub.events("audit.verified"))
    with signed_in(console_hub, name) as http:
        answer = _post(console_hub, http, action, csrf)
    assert answer.status_code == 403
    assert "防伪令牌" in answer.text
    assert console_hub.entry_status(entry) == "open"
    assert console_hub.review_status("S2")[0] == "pending"
    assert {a: len(console_hub.events(a)) for a in counts} == counts
    assert len(console_hub.events("audit.verified")) == verified
    last = console_hub.events("console.refused")[-1]
    assert (last.subject, last.detail["reason"]) == (f"console:{name}", "csrf")


def test_another_session_s_csrf_token_does_not_pass(console_hub: ConsoleHub) -> None:
    entry = min(console_hub.quarantined.values())
    with signed_in(console_hub, "steward") as other:
        stolen = csrf_of(other.get("/console/").text)
    with signed_in(console_hub, "steward") as http:
        answer = _post(console_hub, http, "resubmit", stolen)
    assert answer.status_code == 403
    assert console_hub.entry_status(entry) == "open"


def test_without_a_session_every_page_sends_to_sign_in(console_hub: ConsoleHub) -> None:
    with httpx.Client(base_url=console_hub.url) as http:
        for path in ["/console/", *STEWARD_PAGES, *AUDIT_PAGES, *SHARING_PAGES, *OPERATIONS_PAGES]:
            answer = http.get(_path(console_hub, path))
            assert answer.status_code == 303, path
            assert answer.headers["location"] == "/console/sign-in"
        http.cookies.set("hub_session", "made-up", path="/console")
        assert http.get("/console/quarantine").status_code == 303


def test_a_sign_in_form_posted_without_its_token_is_refused(console_hub: ConsoleHub) -> None:
    signed = len(console_hub.events("console.sign_in"))
    with httpx.Client(base_url=console_hub.url) as http:
        answer = http.post(
            "/console/sign-in", data={"name": "steward", "password": PASSWORD, "csrf": "x"}
        )
    assert answer.status_code == 403
    assert "hub_session" not in answer.cookies
    assert len(console_hub.events("console.sign_in")) == signed


def test_the_session_cookie_is_http_only_strict_and_scoped(console_hub: ConsoleHub) -> None:
    with httpx.Client(base_url=console_hub.url) as http:
        form = http.get("/console/sign-in")
        answer = http.post(
            "/console/sign-in",
            data={"name": "steward", "password": PASSWORD, "csrf": csrf_of(form.text)},
        )
    cookie = next(
        v for k, v in answer.headers.multi_items() if k == "set-cookie" and "hub_session=" in v
    )
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/console"} <= flags
    assert "secure" not in flags  # plain HTTP on loopback; behind TLS it is set (scheme)


def test_sign_in_and_its_refusals_are_audited_without_the_password(
    console_hub: ConsoleHub,
) -> None:
    with httpx.Client(base_url=console_hub.url) as http:
        form = http.get("/console/sign-in")
        wrong = http.post(
            "/console/sign-in",
            data={"name": "viewer", "password": "not it at all", "csrf": csrf_of(form.text)},
        )
    assert wrong.status_code == 401
    assert "用户名或密码错误" in wrong.text
    last = console_hub.events("console.sign_in")[-1]
    assert (last.subject, last.outcome, last.detail) == (
        "console:viewer",
        "denied",
        {"reason": "wrong_password"},
    )
    assert "not it at all" not in repr(console_hub.events("console.sign_in"))
    with signed_in(console_hub, "viewer"):
        pass
    last = console_hub.events("console.sign_in")[-1]
    assert (last.subject, last.outcome) == ("console:viewer", "allowed")
