"""Attacks on the running hub. Every one must be refused with the right status and a
problem document (RFC 9457; the token endpoint answers in RFC 6749's error format), and
every refusal must be in the audit log, found by the request id the response carries.

Tokens are forged with joserfc and by hand; valid-but-wrong ones are signed with the hub's
real signing key, read from the database as the hub itself reads it.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import ECKey
from sqlalchemy import func, select

from hub.api import create_app
from hub.audit import AuditEntry, AuditLog
from hub.auth import AuthSettings, ClientRegistry, SigningKeys
from hub.auth.server import AccessTokenGenerator
from hub.config import open_store
from hub.reference.serve import serve_in_thread
from hub.sharing.ids import RecordIds
from hub.store import Store
from hub.store.query import select_records
from hub.store.store import kind_table
from hub.store.tables import quarantine
from policies import RowScope
from tests.api.conftest import BEAT, GRID, Hub, Partner, pushed_incident

PROBLEM = "application/problem+json"
PEOPLE = "/v1/records/person"
SERVICE = "网格服务"
EVERYWHERE = RowScope(True, (), ())
GRID_SCOPES = ["person.read", "house.read", "address.read", "incident.read", "visit.read"]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _b64json(value: Any) -> str:
    return _b64(json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode())


def _unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


@dataclass
class Attack:
    """The running hub, its store and keys as an attacker with a copy of the code sees
    them, and the refusals the suite has provoked so far."""

    hub: Hub
    store: Store
    log: AuditLog
    settings: AuthSettings
    keys: SigningKeys
    registry: ClientRegistry
    partners: dict[str, Partner]
    denied_at_start: int
    cases: dict[str, bool] = field(default_factory=dict)
    """Each refusal provoked, by request, and whether the log holds it."""
    _tokens: dict[tuple[str, str | None], str] = field(default_factory=dict)

    # --- tokens ---

    def token(self, partner: str, scope: str | None = None) -> str:
        """A genuine token from the token endpoint (kept: the secrets are scrypt-hashed)."""
        if (partner, scope) not in self._tokens:
            who = self.partners[partner]
            data = {"grant_type": "client_credentials"} | ({"scope": scope} if scope else {})
            answer = self.hub.http.post("/oauth/token", data=data, auth=(who.client_id, who.secret))
            assert answer.status_code == 200, answer.text
            self._tokens[partner, scope] = answer.json()["access_token"]
        return self._tokens[partner, scope]

    def claims(self, partner: str = "grid", **changes: Any) -> dict[str, Any]:
        """The claims the hub would put in ``partner``'s token, with ``changes``."""
        client = self.registry.get(self.partners[partner].client_id)
        assert client is not None
        body = AccessTokenGenerator(self.settings, self.keys).claims(client, sorted(client.scopes))
        return body | changes

    def mint(
        self,
        partner: str = "grid",
        *,
        header: dict[str, Any] | None = None,
        drop: tuple[str, ...] = (),
        key: ECKey | None = None,
        **changes: Any,
    ) -> str:
        """A token signed with the hub's active key (or ``key``); header fields set to None
        are left out."""
        body = {k: v for k, v in self.claims(partner, **changes).items() if k not in drop}
        signing = self.keys.active()
        fields = {"alg": "ES256", "typ": "at+jwt", "kid": signing.kid, **(header or {})}
        fields = {k: v for k, v in fields.items() if v is not None}
        return jwt.encode(fields, body, key or signing.key, algorithms=["ES256"], default_type=None)

    def hmac_token(self, secret: bytes) -> str:
        """HS256 over valid claims, keyed with ``secret``: the algorithm-confusion attack."""
        header = {"alg": "HS256", "typ": "at+jwt", "kid": self.keys.active().kid}
        signing_input = f"{_b64json(header)}.{_b64json(self.claims())}"
        mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(mac)}"

    def unsigned(self, alg: str = "none") -> str:
        header = {"alg": alg, "typ": "at+jwt", "kid": self.keys.active().kid}
        return f"{_b64json(header)}.{_b64json(self.claims())}."

    # --- requests ---

    def call(
        self,
        method: str,
        path: str,
        token: str | None = None,
        *,
        headers: dict[str, str] | None = None,
        params: Any = None,
        body: Any = None,
        http: httpx.Client | None = None,
    ) -> httpx.Response:
        sent = dict(headers or {})
        if token is not None:
            sent["Authorization"] = f"Bearer {token}"
        return (http or self.hub.http).request(method, path, headers=sent, params=params, json=body)

    def get(self, partner: str, path: str, **params: Any) -> httpx.Response:
        return self.call("GET", path, self.token(partner), params=params)

    # --- the audit log ---

    def entries(self, request_id: str) -> list[AuditEntry]:
        since = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
        found = self.log.search(since=since, limit=1_000_000)
        return [e for e in found if e.event.request_id == request_id]

    def denied(self) -> int:
        return sum(e.event.outcome == "denied" for e in self.log.search(limit=10_000_000))

    def token_refusals(self, client_id: str | None) -> list[AuditEntry]:
        found = self.log.search(action="token.refused", limit=1_000_000)
        return [e for e in found if e.event.client_id == client_id]

    # --- the verdicts ---

    def refused(
        self,
        answer: httpx.Response,
        status: int,
        code: str | None = None,
        *,
        reason: str | None = None,
    ) -> AuditEntry:
        """The answer is a ``status`` problem document and its refusal is in the log."""
        rid = answer.headers.get("x-request-id", "(none)")
        logged = [e for e in self.entries(rid) if e.event.outcome == "denied"]
        self.cases[f"{_label(answer)} [{rid}]"] = bool(logged)
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith(PROBLEM), answer.headers
        problem = answer.json()
        assert problem["status"] == status
        assert problem["request_id"] == rid
        assert problem["type"].startswith("urn:hub:problem:")
        if code is not None:
            assert problem["type"] == f"urn:hub:problem:{code}", problem
        assert logged, f"refused with {status} but NOT audited: request {rid} {problem}"
        if reason is not None:
            assert logged[0].event.detail.get("reason") == reason, logged[0].event
        return logged[0]

    def token_refused(
        self,
        answer: httpx.Response,
        status: int,
        error: str,
        client_id: str | None,
        before: int,
        *,
        reason: str | None = None,
    ) -> AuditEntry:
        """The token endpoint refused in RFC 6749's error format, and said so in the log.
        (Its audit events carry no request id: they are found by client and count.)"""
        logged = self.token_refusals(client_id)
        audited = len(logged) == before + 1
        rid = answer.headers.get("x-request-id", "(none)")
        self.cases[f"{_label(answer)} as {client_id} [{rid}]"] = audited
        assert answer.status_code == status, answer.text
        assert answer.headers["content-type"].startswith("application/json")
        assert answer.json()["error"] == error
        assert "access_token" not in answer.json()
        assert rid != "(none)"
        assert audited, f"token refusal NOT audited: {answer.text}"
        event = logged[-1].event
        assert event.outcome == "denied"
        assert event.detail["error"] == error
        if reason is not None:
            assert event.detail["reason"] == reason, event
        return logged[-1]


def _label(answer: httpx.Response) -> str:
    query = unquote(answer.request.url.query.decode())
    form = answer.request.headers.get("content-type", "").startswith("application/x-www-form")
    if form:
        query = unquote(answer.request.content.decode().replace("+", " "))
    target = answer.request.url.path + (f"?{query}" if query else "")
    return f"{answer.request.method} {target[:110]} -> {answer.status_code}"


@pytest.fixture(scope="module")
def attack(hub: Hub) -> Iterator[Attack]:
    store = open_store(hub.config)
    settings = AuthSettings(issuer=hub.config.issuer, audience=hub.config.audience)
    keys = SigningKeys(store, settings.token_lifetime, settings.leeway)
    registry = ClientRegistry(store)
    # A grid-platform client registered with more scopes than its policy grants, so that
    # the policy, not the scope check, is what refuses: reading units, writing people.
    over = registry.add(
        "grid-overscoped",
        "grid-platform",
        [*GRID_SCOPES, "unit.read", "person.write", "incident.write"],
        {"grid_codes": [GRID]},
    )
    partners = dict(hub.partners)
    partners["overscoped"] = Partner(over.client.client_id, over.secret or "")
    attack = Attack(hub, store, AuditLog.for_store(store), settings, keys, registry, partners, 0)
    attack.denied_at_start = attack.denied()
    try:
        yield attack
    finally:
        store.close()


def _now() -> int:
    return int(time.time())


def _other_grid_people(attack: Attack) -> list[tuple[int, dict[str, Any]]]:
    """Stored people outside the grid client's grid, one per grid."""
    found: dict[str, tuple[int, dict[str, Any]]] = {}
    for stored in select_records(attack.store, "person", EVERYWHERE, limit=1000):
        record = stored.record.model_dump()
        if record["grid_code"] != GRID:
            found.setdefault(record["grid_code"], (stored.id, record))
    return list(found.values())


def _own_grid(hub: Hub) -> list[dict[str, Any]]:
    return [p for p in hub.world.people if p["grid_code"] == GRID]


# --- forged, stale and misdirected access tokens -------------------------------------


def _tamper_signature(a: Attack) -> str:
    head, payload, signature = a.token("grid").split(".")
    flipped = "A" if signature[20] != "A" else "B"
    return f"{head}.{payload}.{signature[:20]}{flipped}{signature[21:]}"


def _tamper_payload(a: Attack) -> str:
    head, payload, signature = a.token("grid").split(".")
    claims = _unb64json(payload)
    claims["grid_codes"] = ["G32010601011"]
    claims["scope"] += " audit.read person.write"
    return f"{head}.{_b64json(claims)}.{signature}"


def _attacker_key() -> ECKey:
    return ECKey.generate_key("P-256")


def _embedded_jwk(a: Attack) -> str:
    key = _attacker_key()
    return a.mint(key=key, header={"jwk": key.as_dict(private=False)})


def _foreign_alg_header(a: Attack, alg: str) -> str:
    head, payload, signature = a.token("grid").split(".")
    header = _unb64json(head) | {"alg": alg}
    return f"{_b64json(header)}.{payload}.{signature}"


def _hub_public_pem(a: Attack) -> bytes:
    return a.keys.active().key.as_pem(private=False)


def _hub_public_jwk(a: Attack) -> bytes:
    return json.dumps(a.keys.active().key.as_dict(private=False)).encode()


TokenMaker = Callable[[Attack], str]

FORGED: dict[str, tuple[TokenMaker, str]] = {
    "signature-altered": (_tamper_signature, "bad_signature"),
    "payload-altered": (_tamper_payload, "bad_signature"),
    "attacker-key-with-hub-kid": (lambda a: a.mint(key=_attacker_key()), "bad_signature"),
    "attacker-key-embedded-as-jwk": (_embedded_jwk, "bad_signature"),
    "jku-to-attacker-jwks": (
        lambda a: a.mint(key=_attacker_key(), header={"jku": "https://evil.example/jwks"}),
        "bad_signature",
    ),
    "expired": (
        lambda a: a.mint(iat=_now() - 7200, nbf=_now() - 7200, exp=_now() - 3600),
        "expired",
    ),
    "expired-beyond-leeway": (lambda a: a.mint(exp=_now() - 45), "expired"),
    "nbf-in-the-future": (lambda a: a.mint(nbf=_now() + 3600), "not_yet_valid"),
    "iat-in-the-future": (lambda a: a.mint(iat=_now() + 3600), "not_yet_valid"),
    "wrong-audience": (lambda a: a.mint(aud="https://elsewhere.example/api"), "wrong_audience"),
    "audience-list-without-hub": (lambda a: a.mint(aud=["urn:other:api"]), "wrong_audience"),
    "wrong-issuer": (lambda a: a.mint(iss="https://evil.example"), "wrong_issuer"),
    "no-issuer": (lambda a: a.mint(drop=("iss",)), "wrong_issuer"),
    "alg-none": (lambda a: a.unsigned("none"), "bad_alg"),
    "alg-None-capitalised": (lambda a: a.unsigned("None"), "bad_alg"),
    "hs256-keyed-with-hub-public-pem": (lambda a: a.hmac_token(_hub_public_pem(a)), "bad_alg"),
    "hs256-keyed-with-hub-public-jwk": (lambda a: a.hmac_token(_hub_public_jwk(a)), "bad_alg"),
    "rs256-header-on-es256-signature": (lambda a: _foreign_alg_header(a, "RS256"), "bad_alg"),
    "unknown-kid": (lambda a: a.mint(header={"kid": "attacker-kid"}), "unknown_key"),
    "sql-in-kid": (lambda a: a.mint(header={"kid": "' OR '1'='1' --"}), "unknown_key"),
    "no-kid": (lambda a: a.mint(header={"kid": None}), "unknown_key"),
    "missing-typ": (lambda a: a.mint(header={"typ": None}), "wrong_type"),
    "typ-JWT": (lambda a: a.mint(header={"typ": "JWT"}), "wrong_type"),
    "no-client-id-claim": (lambda a: a.mint(drop=("client_id",)), "malformed"),
    "sub-is-another-client": (
        lambda a: a.mint(sub=a.partners["police"].client_id),
        "malformed",
    ),
    "exp-as-string": (lambda a: a.mint(exp=str(_now() + 300)), "malformed"),
    "unregistered-client": (
        lambda a: a.mint(client_id="cl_0000000000000000", sub="cl_0000000000000000"),
        "unknown_client",
    ),
    "garbage": (lambda a: "garbage", "malformed"),
    "three-garbage-segments": (lambda a: "a.b.c", "malformed"),
    "header-only": (lambda a: _b64json({"alg": "ES256", "typ": "at+jwt"}) + "..", "malformed"),
    "claims-not-an-object": (
        lambda a: a.mint().split(".")[0] + "." + _b64json(["x"]) + "." + "A" * 86,
        "malformed",
    ),
    "oversized": (lambda a: "e" * 9000, "malformed"),
}


@pytest.mark.parametrize("case", sorted(FORGED))
def test_a_forged_or_misdirected_token_is_refused(attack: Attack, case: str) -> None:
    make, reason = FORGED[case]
    answer = attack.call("GET", PEOPLE, make(attack), params={"purpose": SERVICE})
    entry = attack.refused(answer, 401, "invalid_token", reason=reason)
    assert entry.event.action == "request.refused"
    assert entry.event.client_id is None
    assert 'error="invalid_token"' in answer.headers["www-authenticate"]


def _basic(a: Attack) -> str:
    who = a.partners["grid"]
    return "Basic " + base64.b64encode(f"{who.client_id}:{who.secret}".encode()).decode()


NO_BEARER: dict[str, Callable[[Attack], dict[str, str]]] = {
    "no-token": lambda a: {},
    "basic-instead-of-bearer": lambda a: {"Authorization": _basic(a)},
    "bearer-without-token": lambda a: {"Authorization": "Bearer"},
    "token-scheme": lambda a: {"Authorization": f"Token {a.token('grid')}"},
    "token-in-a-cookie": lambda a: {"Cookie": f"access_token={a.token('grid')}"},
}


@pytest.mark.parametrize("case", sorted(NO_BEARER))
def test_a_request_without_a_bearer_token_is_refused(attack: Attack, case: str) -> None:
    answer = attack.call(
        "GET", PEOPLE, headers=NO_BEARER[case](attack), params={"purpose": SERVICE}
    )
    attack.refused(answer, 401, "unauthorized", reason="no_token")
    assert answer.headers["www-authenticate"].startswith("Bearer")


# --- the token endpoint ----------------------------------------------------------------


def _ask(attack: Attack, client_id: str, secret: str, **form: str) -> httpx.Response:
    data = {"grant_type": "client_credentials"} | form
    return attack.hub.http.post("/oauth/token", data=data, auth=(client_id, secret))


def test_a_wrong_secret_gets_no_token(attack: Attack) -> None:
    who = attack.partners["grid"]
    before = len(attack.token_refusals(who.client_id))
    answer = _ask(attack, who.client_id, who.secret[:-2] + "xx")
    attack.token_refused(
        answer, 401, "invalid_client", who.client_id, before, reason="bad_credentials"
    )


def test_an_unknown_client_gets_no_token(attack: Attack) -> None:
    before = len(attack.token_refusals("cl_deadbeefdeadbeef"))
    answer = _ask(attack, "cl_deadbeefdeadbeef", "guess")
    attack.token_refused(
        answer, 401, "invalid_client", "cl_deadbeefdeadbeef", before, reason="unknown_client"
    )


@pytest.mark.parametrize("grant", ["password", "authorization_code", "urn:evil"])
def test_an_unsupported_grant_type_gets_no_token(attack: Attack, grant: str) -> None:
    who = attack.partners["grid"]
    before = len(attack.token_refusals(who.client_id))
    answer = _ask(attack, who.client_id, who.secret, grant_type=grant, username="x")
    attack.token_refused(answer, 400, "unsupported_grant_type", who.client_id, before)


@pytest.mark.parametrize(
    ("partner", "scope"),
    [
        ("grid", "audit.read"),
        ("grid", "person.write"),
        ("grid", "person.read unit.read"),
        ("analyst", "incident.read"),
        ("police", "person.write"),
        ("grid", "admin"),
        ("grid", 'audit.read "admin"'),
        ("grid", "audit.read person.writé"),
    ],
)
def test_a_client_cannot_escalate_its_scopes(attack: Attack, partner: str, scope: str) -> None:
    who = attack.partners[partner]
    before = len(attack.token_refusals(who.client_id))
    answer = _ask(attack, who.client_id, who.secret, scope=scope)
    event = attack.token_refused(answer, 400, "invalid_scope", who.client_id, before).event
    assert event.detail["requested_scope"] == scope


def test_a_revoked_client_gets_no_token_and_its_tokens_stop_at_once(attack: Attack) -> None:
    new = attack.registry.add("soon-revoked", "grid-platform", GRID_SCOPES, {"grid_codes": [GRID]})
    who = Partner(new.client.client_id, new.secret or "")
    attack.partners["revoked"] = who
    token = attack.token("revoked")
    assert attack.call("GET", PEOPLE, token, params={"purpose": SERVICE}).status_code == 200
    attack.registry.revoke(who.client_id)

    answer = attack.call("GET", PEOPLE, token, params={"purpose": SERVICE})
    attack.refused(answer, 401, "invalid_token", reason="revoked")

    before = len(attack.token_refusals(who.client_id))
    again = _ask(attack, who.client_id, who.secret)
    attack.token_refused(again, 401, "invalid_client", who.client_id, before, reason="revoked")


# --- what a partner may ask for ------------------------------------------------------


def _cursor(value: Any) -> str:
    return _b64(json.dumps(value).encode())


Params = dict[str, Any] | Callable[[Attack], dict[str, Any]]


@dataclass(frozen=True)
class Refusal:
    partner: str
    path: str
    params: Params
    status: int
    code: str
    reason: str | None = None
    scope: str | None = None
    """Ask for a token with only these scopes."""

    def query(self, attack: Attack) -> dict[str, Any]:
        return self.params(attack) if callable(self.params) else self.params


def _own(field: str) -> Callable[[Attack], dict[str, Any]]:
    """``field=`` the clear value of someone in the grid client's own grid, purpose given."""
    return lambda a: {"purpose": SERVICE, field: _own_grid(a.hub)[0][field]}


def _clear_id_for(purpose: str) -> Callable[[Attack], dict[str, Any]]:
    return lambda a: {"purpose": purpose, "id_number": _own_grid(a.hub)[0]["id_number"]}


G = {"purpose": SERVICE}
INSUFFICIENT = "insufficient_scope"
AGGREGATE = "denied_aggregate_only"
SOME_ID = "A" * 32
"""Shaped like a record id the hub gives out, and none it gave."""

REFUSALS: dict[str, Refusal] = {
    # kinds and scopes
    "kind-the-policy-does-not-grant": Refusal(
        "overscoped", "/v1/records/unit", G, 403, "denied_kind", "kind"
    ),
    "kind-without-its-scope": Refusal(
        "grid", "/v1/records/unit", G, 403, INSUFFICIENT, INSUFFICIENT
    ),
    "token-narrowed-to-person-reads-house": Refusal(
        "grid", "/v1/records/house", G, 403, INSUFFICIENT, INSUFFICIENT, scope="person.read"
    ),
    "analyst-reads-houses-without-scope": Refusal(
        "analyst",
        "/v1/records/house",
        {"purpose": "统计分析"},
        403,
        INSUFFICIENT,
        INSUFFICIENT,
        scope="person.read",
    ),
    "unknown-kind": Refusal("grid", "/v1/records/secrets", G, 403, INSUFFICIENT, INSUFFICIENT),
    "non-latin-1-kind": Refusal(
        "grid", "/v1/records/\U0010af17\u00d9", G, 403, INSUFFICIENT, INSUFFICIENT
    ),
    "header-injection-in-kind": Refusal(
        "grid", "/v1/records/a%0D%0AX-Injected:%201", G, 403, INSUFFICIENT, INSUFFICIENT
    ),
    "service-scope-name-as-a-kind": Refusal(
        "police", "/v1/records/audit", {"purpose": "社区警务"}, 404, "not_found"
    ),
    "profile-of-a-kind-without-scope": Refusal(
        "grid", f"/v1/profiles/unit/{SOME_ID}", G, 403, INSUFFICIENT, INSUFFICIENT
    ),
    # audit search
    "audit-search-by-grid": Refusal("grid", "/v1/audit", {}, 403, INSUFFICIENT, INSUFFICIENT),
    "audit-search-by-analyst": Refusal("analyst", "/v1/audit", {}, 403, INSUFFICIENT, INSUFFICIENT),
    "audit-search-with-narrowed-police-token": Refusal(
        "police", "/v1/audit", {}, 403, INSUFFICIENT, INSUFFICIENT, scope="person.read"
    ),
    # projections
    "fields-police-tags": Refusal(
        "grid", PEOPLE, G | {"fields": "police_tags"}, 403, "denied_fields", "fields"
    ),
    "fields-name-and-police-tags": Refusal(
        "grid", PEOPLE, G | {"fields": "name,police_tags"}, 403, "denied_fields", "fields"
    ),
    "fields-unknown": Refusal(
        "grid", PEOPLE, G | {"fields": "no_such_field"}, 403, "denied_fields", "fields"
    ),
    "fields-dunder-class": Refusal(
        "grid", PEOPLE, G | {"fields": "__class__"}, 403, "denied_fields", "fields"
    ),
    # an aggregates-only grant (street-analyst's people): no row, whatever is asked
    "analyst-fields-name": Refusal(
        "analyst",
        PEOPLE,
        {"purpose": "统计分析", "fields": "name"},
        403,
        AGGREGATE,
        "aggregate_only",
    ),
    "read-one-with-fields-police-tags": Refusal(
        "grid", f"{PEOPLE}/{SOME_ID}", G | {"fields": "police_tags"}, 403, "denied_fields", "fields"
    ),
    # filters on what the caller cannot see in clear
    "filter-police-tags": Refusal(
        "grid", PEOPLE, G | {"police_tags": "重点人员"}, 403, "denied_filter", "filter"
    ),
    "filter-police-tags-in": Refusal(
        "grid", PEOPLE, G | {"police_tags__in": "a,b"}, 403, "denied_filter", "filter"
    ),
    "filter-masked-id-number": Refusal(
        "grid", PEOPLE, _own("id_number"), 403, "denied_filter", "filter"
    ),
    "filter-masked-id-number-prefix": Refusal(
        "grid", PEOPLE, G | {"id_number__prefix": "3201"}, 403, "denied_filter", "filter"
    ),
    "filter-masked-phone": Refusal("grid", PEOPLE, _own("phone"), 403, "denied_filter", "filter"),
    "filter-masked-phone-prefix": Refusal(
        "grid", PEOPLE, G | {"phone__prefix": "139"}, 403, "denied_filter", "filter"
    ),
    "filter-year-only-birth-date": Refusal(
        "grid", PEOPLE, G | {"birth_date__gte": "1980-03-01"}, 403, "denied_filter", "filter"
    ),
    "analyst-filters-clear-id-number": Refusal(
        "analyst", PEOPLE, _clear_id_for("统计分析"), 403, AGGREGATE, "aggregate_only"
    ),
    "filter-denied-incident-field": Refusal(
        "grid", "/v1/records/incident", G | {"case_notes": "x"}, 403, "denied_filter", "filter"
    ),
    # injection in parameter names and sort keys
    "sort-key-injection": Refusal(
        "grid", PEOPLE, G | {"sort": "name;DROP TABLE person"}, 403, "denied_filter", "filter"
    ),
    "order-by-injection": Refusal(
        "grid", PEOPLE, G | {"order_by": "id desc--"}, 403, "denied_filter", "filter"
    ),
    "bracketed-prototype-name": Refusal(
        "grid", PEOPLE, G | {"constructor[prototype]": "1"}, 403, "denied_filter", "filter"
    ),
    "unknown-operator": Refusal("grid", PEOPLE, G | {"name__badop": "x"}, 400, "bad_filter"),
    "proto-pollution-name": Refusal("grid", PEOPLE, G | {"__proto__": "1"}, 400, "bad_filter"),
    "chained-operators": Refusal("grid", PEOPLE, G | {"name__prefix__gte": "x"}, 400, "bad_filter"),
    "sql-in-a-typed-value": Refusal(
        "police",
        PEOPLE,
        {"purpose": "社区警务", "birth_date__gte": "1980-01-01' OR '1'='1"},
        400,
        "bad_filter",
    ),
    # paging
    "oversized-page": Refusal("grid", PEOPLE, G | {"limit": 100000}, 400, "invalid_request"),
    "zero-limit": Refusal("grid", PEOPLE, G | {"limit": 0}, 400, "invalid_request"),
    "negative-limit": Refusal("grid", PEOPLE, G | {"limit": -1}, 400, "invalid_request"),
    "non-numeric-limit": Refusal("grid", PEOPLE, G | {"limit": "1;--"}, 400, "invalid_request"),
    "garbage-cursor": Refusal(
        "grid", PEOPLE, G | {"cursor": "!!not-a-cursor!!"}, 400, "bad_cursor"
    ),
    "negative-cursor": Refusal(
        "grid", PEOPLE, G | {"cursor": _cursor({"after": -5})}, 400, "bad_cursor"
    ),
    "sql-in-a-cursor": Refusal(
        "grid", PEOPLE, G | {"cursor": _cursor({"after": "0 OR 1=1"})}, 400, "bad_cursor"
    ),
    "cursor-not-an-object": Refusal(
        "grid", PEOPLE, G | {"cursor": _cursor([1, 2])}, 400, "bad_cursor"
    ),
    "overlong-cursor": Refusal("grid", PEOPLE, G | {"cursor": "A" * 500}, 400, "invalid_request"),
    "record-id-zero": Refusal("grid", f"{PEOPLE}/0", G, 400, "invalid_request"),
    "record-id-beyond-range": Refusal("grid", f"{PEOPLE}/{2**63}", G, 400, "invalid_request"),
    "record-id-not-a-number": Refusal("grid", f"{PEOPLE}/1 OR 1=1", G, 400, "invalid_request"),
    # purposes
    "no-purpose": Refusal("grid", PEOPLE, {}, 403, "denied_purpose", "purpose"),
    "empty-purpose": Refusal("grid", PEOPLE, {"purpose": ""}, 403, "denied_purpose", "purpose"),
    "purpose-not-granted": Refusal(
        "grid", PEOPLE, {"purpose": "案件办理"}, 403, "denied_purpose", "purpose"
    ),
    "another-partners-purpose": Refusal(
        "police", PEOPLE, {"purpose": SERVICE}, 403, "denied_purpose", "purpose"
    ),
    "read-one-without-purpose": Refusal(
        "grid", f"{PEOPLE}/{SOME_ID}", {}, 403, "denied_purpose", "purpose"
    ),
    "profile-without-purpose": Refusal(
        "grid", f"/v1/profiles/person/{SOME_ID}", {}, 403, "denied_purpose", "purpose"
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_request_beyond_the_policy_is_refused(attack: Attack, case: str) -> None:
    r = REFUSALS[case]
    answer = attack.call("GET", r.path, attack.token(r.partner, r.scope), params=r.query(attack))
    entry = attack.refused(answer, r.status, r.code, reason=r.reason)
    assert "x-injected" not in answer.headers
    assert entry.event.client_id == attack.partners[r.partner].client_id
    assert not entry.event.record_ids


# --- records in another jurisdiction -------------------------------------------------


def _ids_for(attack: Attack, partner: str, record_id: int) -> str:
    """The id the hub gives ``partner`` for a record, as an insider could compute it."""
    return RecordIds(attack.store).encode(attack.partners[partner].client_id, "person", record_id)


@pytest.mark.parametrize("which", [0, 1, 2])
def test_guessing_ids_of_people_in_another_grid_finds_nothing(attack: Attack, which: int) -> None:
    record_id, record = _other_grid_people(attack)[which]
    missing = attack.get("grid", f"{PEOPLE}/{SOME_ID}", purpose=SERVICE)
    tried = {
        "the police's id of the record": _ids_for(attack, "police", record_id),
        "the grid's own id of the record": _ids_for(attack, "grid", record_id),
        "the database id, padded": str(record_id).rjust(32, "0"),
    }
    for how, ref in tried.items():
        answer = attack.get("grid", f"{PEOPLE}/{ref}", purpose=SERVICE)
        for got, asked_for in ((missing, SOME_ID), (answer, ref)):
            entry = attack.refused(got, 404, "not_found", reason="not_found")
            assert entry.event.action == "records.read", how
            assert entry.event.detail["record_id"] == asked_for
            assert not entry.event.record_ids
        shown, absent = answer.json(), missing.json()
        assert set(shown) == set(absent)
        assert {
            k: v for k, v in shown.items() if k not in ("detail", "instance", "request_id")
        } == {k: v for k, v in absent.items() if k not in ("detail", "instance", "request_id")}
        assert shown["detail"] == f"no person {ref}"
        assert record["name"] not in answer.text
        assert record["id_number"] not in answer.text


def test_two_partners_see_different_ids_for_one_record(attack: Attack) -> None:
    """The database id is a join key across partners: none leaves the hub."""
    police = attack.get("police", PEOPLE, purpose="社区警务", limit=500).json()["items"]
    grid = attack.get("grid", PEOPLE, purpose=SERVICE, limit=500).json()["items"]
    both = (
        {i["record"]["name"]: i["id"] for i in police},
        {i["record"]["name"]: i["id"] for i in grid},
    )
    shared = set(both[0]) & set(both[1])
    assert shared
    assert all(both[0][name] != both[1][name] for name in shared)
    assert not {i["id"] for i in police} & {i["id"] for i in grid}
    for item in grid:
        assert attack.get("grid", f"{PEOPLE}/{item['id']}", purpose=SERVICE).status_code == 200
    assert attack.get("police", f"{PEOPLE}/{grid[0]['id']}", purpose="社区警务").status_code == 404
    stored_ids = {str(s.id) for s in select_records(attack.store, "person", EVERYWHERE, limit=1000)}
    assert not stored_ids & {i["id"] for i in police + grid}


def test_a_profile_of_a_person_in_another_grid_is_not_found(attack: Attack) -> None:
    record_id, record = _other_grid_people(attack)[0]
    ref = _ids_for(attack, "grid", record_id)
    answer = attack.get("grid", f"/v1/profiles/person/{ref}", purpose=SERVICE)
    attack.refused(answer, 404, "not_found", reason="not_found")
    assert record["name"] not in answer.text


# --- writes ---------------------------------------------------------------------------


def _incident(key: str, **changes: Any) -> dict[str, Any]:
    return pushed_incident(key, "E", **changes)


def _stored(store: Store) -> tuple[int, int]:
    """Rows of incidents and of the quarantine: a refused push must change neither."""
    with store.engine.connect() as conn:
        incidents = conn.execute(
            select(func.count()).select_from(kind_table("incident").table)
        ).scalar_one()
        held = conn.execute(select(func.count()).select_from(quarantine)).scalar_one()
    return incidents, held


ELSEWHERE = "G32010601011"

WRITES: dict[str, tuple[str, str | None, str, dict[str, Any], list[dict[str, Any]], str, str]] = {
    # name: (partner, scope, kind, params, records, code, audit reason)
    "incident-in-another-grid": (
        "grid",
        None,
        "incident",
        G,
        [_incident("W1", grid_code=ELSEWHERE)],
        "denied_scope",
        "out_of_scope",
    ),
    "one-good-one-outside": (
        "grid",
        None,
        "incident",
        G,
        [_incident("W2"), _incident("W3", grid_code=ELSEWHERE)],
        "denied_scope",
        "out_of_scope",
    ),
    "incident-without-a-grid": (
        "grid",
        None,
        "incident",
        G,
        [
            {
                "source_key": "W4",
                "record": {k: v for k, v in _incident("W4")["record"].items() if k != "grid_code"},
            }
        ],
        "denied_scope",
        "out_of_scope",
    ),
    "incident-type-the-policy-excludes": (
        "grid",
        None,
        "incident",
        G,
        [_incident("W5", incident_type="治安")],
        "denied_scope",
        "out_of_scope",
    ),
    "kind-the-policy-only-lets-read": (
        "overscoped",
        None,
        "person",
        G,
        [{"source_key": "W6", "record": dict(name="张三", grid_code=GRID)}],
        "denied_kind",
        "kind",
    ),
    "kind-without-write-scope": (
        "grid",
        None,
        "person",
        G,
        [{"source_key": "W7", "record": {"name": "张三", "grid_code": GRID}}],
        INSUFFICIENT,
        INSUFFICIENT,
    ),
    "write-with-a-read-only-token": (
        "grid",
        "incident.read",
        "incident",
        G,
        [_incident("W8")],
        INSUFFICIENT,
        INSUFFICIENT,
    ),
    "write-for-a-purpose-not-granted": (
        "grid",
        None,
        "incident",
        {"purpose": "案件办理"},
        [_incident("W9")],
        "denied_purpose",
        "purpose",
    ),
    "write-without-purpose": (
        "grid",
        None,
        "incident",
        {},
        [_incident("W10")],
        "denied_purpose",
        "purpose",
    ),
}


@pytest.mark.parametrize("case", sorted(WRITES))
def test_a_write_beyond_the_policy_is_refused_and_stores_nothing(attack: Attack, case: str) -> None:
    partner, scope, kind, params, records, code, reason = WRITES[case]
    before = _stored(attack.store)
    answer = attack.call(
        "POST",
        f"/v1/records/{kind}",
        attack.token(partner, scope),
        params=params,
        body={"records": records},
    )
    attack.refused(answer, 403, code, reason=reason)
    assert _stored(attack.store) == before


# --- injection in filter values: nothing beyond the caller's rows ---------------------

INJECTED: dict[str, dict[str, str]] = {
    "sql-or-true-in-name": {"name": "' OR 1=1 --"},
    "sql-or-true-double-quoted": {"name": '" OR ""="'},
    "sql-union": {"name": "x' UNION SELECT * FROM clients --"},
    "sql-stacked-statement": {"grid_code": f"{GRID}'; DROP TABLE audit_log; --"},
    "like-wildcard-in-equality": {"grid_code": "%"},
    "like-percent-prefix": {"grid_code__prefix": "%"},
    "like-underscore-prefix": {"grid_code__prefix": "_"},
    "like-underscores-the-grid-long": {"grid_code__prefix": "G" + "_" * 11},
    "like-escape-char": {"name__prefix": "\\"},
    "another-grid-by-equality": {"grid_code": ELSEWHERE},
    "another-grid-by-in": {"grid_code__in": f"{ELSEWHERE},{GRID}' OR '1'='1"},
    "wider-prefix-than-the-grid": {"grid_code__prefix": "G3"},
    "empty-prefix": {"grid_code__prefix": ""},
    "the-beat-around-the-grid": {"beat_code": BEAT},
    "fullwidth-grid-code": {"grid_code": "Ｇ32010401011"},
    "zero-width-space": {"grid_code": GRID + "\u200b"},
    "nul-byte": {"grid_code": GRID + "\x00' OR 1=1"},
    "right-to-left-override": {"name": "\u202e' OR 1=1 --"},
    "lowercase-grid-prefix": {"grid_code__prefix": "g320104"},
    "combining-characters": {"name__prefix": "\u0301\u0301%"},
}


WITHIN_THE_GRID = {
    "the-beat-around-the-grid",
    "empty-prefix",
    "wider-prefix-than-the-grid",
    "lowercase-grid-prefix",  # SQLite's LIKE ignores ASCII case: the own grid, no more
}
"""Cases that may answer with the caller's own rows; every other one must find nothing."""


@pytest.mark.parametrize("case", sorted(INJECTED))
def test_injection_in_filter_values_yields_nothing_beyond_the_callers_rows(
    attack: Attack, case: str
) -> None:
    answer = attack.get("grid", PEOPLE, purpose=SERVICE, limit=500, **INJECTED[case])
    if answer.status_code == 400:
        attack.refused(answer, 400)
        return
    assert answer.status_code == 200, answer.text
    items = answer.json()["items"]
    assert all(i["record"]["grid_code"] == GRID for i in items)
    assert len(items) <= len(_own_grid(attack.hub))
    if case not in WITHIN_THE_GRID:
        assert items == [], case
    [entry] = attack.entries(answer.headers["x-request-id"])
    assert entry.event.action == "records.query"
    assert entry.event.record_ids == attack.hub.audited_ids("grid", "person", items)


def test_the_analyst_never_gets_a_person_row(attack: Attack) -> None:
    """Counts only (``access: aggregate``): every door to a row is closed, by id too."""
    police = attack.get("police", PEOPLE, purpose="社区警务", limit=1).json()["items"]
    rows = attack.get("analyst", PEOPLE, purpose="统计分析", fields="id_number", limit=500)
    one = attack.get("analyst", f"{PEOPLE}/{police[0]['id']}", purpose="统计分析")
    for answer in (rows, one):
        assert answer.status_code == 403, answer.text
        assert answer.json()["type"] == f"urn:hub:problem:{AGGREGATE}"
        [entry] = attack.entries(answer.headers["x-request-id"])
        assert entry.event.outcome == "denied"
        assert not entry.event.record_ids
    counts = attack.get("analyst", "/v1/stats/person", purpose="统计分析", group_by="sex")
    assert counts.status_code == 200, counts.text


# --- rate limits ----------------------------------------------------------------------


def test_exceeding_the_rate_limit_is_refused_with_retry_after(attack: Attack) -> None:
    token = attack.token("police")
    with (
        serve_in_thread(create_app(attack.hub.config, rate=1, burst=2)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        answers = [
            attack.call("GET", PEOPLE, token, params={"purpose": "社区警务"}, http=http)
            for _ in range(4)
        ]
    assert [a.status_code for a in answers[:2]] == [200, 200]
    limited = answers[-1]
    assert int(limited.headers["retry-after"]) >= 1
    entry = attack.refused(limited, 429, "rate_limited")
    assert entry.event.client_id == attack.partners["police"].client_id


# --- the log after the attacks --------------------------------------------------------


def test_the_log_holds_every_refusal_and_still_verifies(attack: Attack) -> None:
    """Runs last: each case above must have added at least one denied entry."""
    assert len(attack.cases) >= 40
    assert attack.log.verify().ok
    unaudited = sorted(label for label, audited in attack.cases.items() if not audited)
    grown = attack.denied() - attack.denied_at_start
    assert grown >= len(attack.cases), (
        f"{len(attack.cases)} refusals, {grown} denied entries; not audited:\n"
        + "\n".join(unaudited)
    )
    assert not unaudited
