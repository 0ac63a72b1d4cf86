"""``/v1/subscriptions`` through a served hub: what a partner may subscribe to is what its
policy lets it read, checked at registration, refusals audited, the secret shown once."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from hub.auth.scopes import scope_problems
from hub.events.errors import UrlRefused
from hub.events.urls import check_url
from hub.store.tables import audit_log, subscriptions
from policies import load_policy
from tests.api.conftest import EXAMPLES
from tests.events.conftest import EventsHub

HOOK = "http://127.0.0.1:9/hook"


def _post(hub: EventsHub, partner: str, **body: Any) -> Any:
    document = {"url": HOOK, "events": ["record.changed:person"], "purpose": "网格服务"} | body
    return hub.call(partner, "POST", "/v1/subscriptions", json=document)


def test_register_list_delete(hub: EventsHub) -> None:
    answer = _post(hub, "grid", filter={"household_type": "户籍"})
    assert answer.status_code == 201, answer.text
    created = answer.json()
    assert created["id"].startswith("sub_")
    assert created["secret"].startswith("whsec_")
    Webhook(created["secret"])  # a key the Standard Webhooks library takes

    listed = hub.call("grid", "GET", "/v1/subscriptions").json()
    [mine] = [s for s in listed if s["id"] == created["id"]]
    assert "secret" not in mine
    assert mine["filter"] == {"household_type": "户籍"}
    assert mine["deliveries"] == {"pending": 0, "delivered": 0, "filtered": 0, "dead": 0}
    assert all(
        s["id"] != created["id"] for s in hub.call("police", "GET", "/v1/subscriptions").json()
    )

    other = hub.call("police", "DELETE", f"/v1/subscriptions/{created['id']}")
    assert other.status_code == 404  # another client's subscription is not there for it
    assert hub.call("grid", "DELETE", f"/v1/subscriptions/{created['id']}").status_code == 204
    assert hub.call("grid", "DELETE", f"/v1/subscriptions/{created['id']}").status_code == 404
    assert all(
        s["id"] != created["id"] for s in hub.call("grid", "GET", "/v1/subscriptions").json()
    )


def test_the_secret_is_sealed_and_never_audited(hub: EventsHub) -> None:
    created = _post(hub, "grid").json()
    with hub.store.engine.connect() as conn:
        stored = conn.execute(
            select(subscriptions.c.secret).where(subscriptions.c.id == created["id"])
        ).scalar_one()
        log = "\n".join(conn.execute(select(audit_log.c.event)).scalars())
    key = created["secret"].removeprefix("whsec_")
    assert key not in stored
    assert key not in log
    [entry] = [
        e
        for e in hub.audit("subscriptions.create")
        if e.event.detail.get("subscription") == created["id"]
    ]
    assert entry.event.client_id == hub.partners["grid"].client_id
    assert entry.event.policy_id == "grid-platform"
    assert entry.event.policy_version == 3


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("ftp://127.0.0.1/hook", "url_scheme"),
        ("http://partner.example.org/hook", "url_scheme"),
        ("https://user:pw@partner.example.org/hook", "url_userinfo"),
        ("https://partner.example.org/hook#part", "url_fragment"),
        ("https://169.254.169.254/latest/meta-data", "url_address"),
        ("https://[ff02::1]/hook", "url_address"),
        ("https:///hook", "url_host"),
        ("https://partner.example.org/ hook", "url_syntax"),
        ("https://partner.example.org:99999/", "url_syntax"),
    ],
)
def test_urls_refused_at_registration(hub: EventsHub, url: str, why: str) -> None:
    answer = _post(hub, "grid", url=url)
    assert answer.status_code == 400, answer.text
    assert answer.json()["type"] == "urn:hub:problem:bad_url"
    assert answer.json()["why"] == why
    [refusal] = [
        e
        for e in hub.audit("subscriptions.create")
        if e.event.outcome == "denied" and e.event.request_id == answer.json()["request_id"]
    ]
    assert refusal.event.detail["why"] == why


def test_https_and_private_networks_are_accepted() -> None:
    assert check_url("HTTPS://Partner.Example.org:8443/hook?x=1") == (
        "https://partner.example.org:8443/hook?x=1"
    )
    assert check_url("https://10.20.30.40/hook") == "https://10.20.30.40/hook"


@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "https://localhost/hook", "https://[::1]/hook"]
)
def test_loopback_only_where_the_hub_allows_it(url: str) -> None:
    with pytest.raises(UrlRefused) as refused:
        check_url(url)
    assert refused.value.reason == "url_loopback"
    assert check_url(url, allow_loopback=True)


@pytest.mark.parametrize(
    ("partner", "body", "status", "code"),
    [
        ("grid", {"events": ["record.changed:spaceship"]}, 400, "unknown_event"),
        ("grid", {"events": ["person.deleted"]}, 400, "unknown_event"),
        ("grid", {"events": []}, 400, "invalid_request"),
        ("grid", {"events": ["record.changed:unit"]}, 403, "denied_kind"),
        ("grid", {"purpose": "案件办理"}, 403, "denied_purpose"),
        ("grid", {"filter": {"police_tags": "重点关注"}}, 403, "denied_filter"),
        ("grid", {"filter": {"id_number": "320104199003071231"}}, 403, "denied_filter"),
        ("grid", {"filter": {"birth_date": "1990-03-07"}}, 403, "denied_filter"),
        ("grid", {"filter": {"no_such_field": "x"}}, 403, "denied_filter"),
        ("grid", {"filter": {"household_type": "火星"}}, 400, "bad_filter"),
        ("grid", {"events": ["review.decided"], "filter": {"grid_code": "G1"}}, 400, "bad_filter"),
        ("grid", {"events": ["review.submitted"]}, 403, "denied_kind"),
        ("reporter", {"events": ["review.submitted"]}, 403, "denied_kind"),
        ("no_person_scope", {}, 403, "denied_scope"),
        ("unsubscribed", {}, 403, "insufficient_scope"),
        (
            "police",
            {"purpose": "社区警务", "filter": {"id_number": "320104199003071231"}},
            400,
            "bad_filter",
        ),
    ],
)
def test_what_the_policy_does_not_grant_is_refused(
    hub: EventsHub, partner: str, body: dict[str, Any], status: int, code: str
) -> None:
    answer = _post(hub, partner, **body)
    assert answer.status_code == status, answer.text
    assert answer.json()["type"] == f"urn:hub:problem:{code}"
    assert "320104199003071231" not in answer.text
    with hub.store.engine.connect() as conn:
        log = "\n".join(conn.execute(select(audit_log.c.event)).scalars())
    assert "320104199003071231" not in log


def test_what_the_policy_grants_is_accepted(hub: EventsHub) -> None:
    for partner, body in [
        ("grid", {"events": ["work_order.dispatched", "work_order.transitioned"],
                  "filter": {"grid_code": "G320104001"}}),
        ("grid", {"filter": {"household_type": ["户籍", "流动"]}}),
        ("reporter", {"events": ["review.decided"]}),
        ("reviewer", {"events": ["review.submitted", "review.decided"], "purpose": "社区警务"}),
        ("police", {"events": ["record.changed:person", "record.changed:work_order"],
                    "purpose": "社区警务", "filter": {"beat_code": "B32010401"}}),
    ]:  # fmt: skip
        answer = _post(hub, partner, **body)
        assert answer.status_code == 201, (partner, answer.text)


def test_subscription_scopes_are_for_partner_policies() -> None:
    auditor = load_policy(EXAMPLES / "audit-office.yaml")
    partner = load_policy(EXAMPLES / "grid-platform.yaml")
    assert scope_problems(["subscriptions.write"], auditor) == [
        "scope 'subscriptions.write' is for partner policies; audit-office@v1 is auditor"
    ]
    assert scope_problems(["subscriptions.read", "subscriptions.write"], partner) == []
