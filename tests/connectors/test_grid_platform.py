"""The grid platform connector against the reference grid platform on a real loopback server:
the connector harness, keyset paging across equal timestamps, both ways to authenticate,
faults injected by the server, and a sync into the store that catches every planted defect."""

from __future__ import annotations

import datetime as dt
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from connectors.grid_platform import GridPlatformSource
from connectors.sdk import (
    Batch,
    ConfigurationError,
    FatalError,
    Source,
    TransientError,
)
from connectors.testing import SourceTests, keys_of, read_all
from hub.ingest import new_run_id, sync_stream
from hub.reference.grid_server import Faults, Table, create_app
from hub.reference.serve import ServerHandle, serve_in_thread
from hub.reference.world import CST, World, generate
from hub.store import Store

API_KEY = "grid-test-key-7f3a"
CLIENT_ID, CLIENT_SECRET = "hub", "s3cret: with/odd+chars"
FAST_RETRY = {"attempts": 8, "initial": 0.001, "maximum": 0.01, "deadline": 10}

RESIDENTS: dict[str, Any] = {
    "fields": {
        "id_number": {"from": "idCard"},
        "name": {"from": "name"},
        "sex": {"from": "gender", "table": "sex"},
        "birth_date": {"from": "birthday"},
        "ethnicity": {"from": "nation", "table": "ethnicity"},
        "phone": {"from": "mobile"},
        "household_type": {"from": "residentType"},
        "address_code": {"from": "addressCode"},
        "house_code": {"from": "houseCode"},
        "grid_code": {"from": "gridCode"},
        "beat_code": {"from": "policeBeat"},
    }
}
ADDRESSES: dict[str, Any] = {
    "fields": {
        "address_code": {"from": "addressCode"},
        "area_code": {"from": "areaCode"},
        **{name: {"from": name} for name in ("province", "city", "district", "street")},
        **{name: {"from": name} for name in ("community", "road", "building", "room")},
        "door_number": {"from": "doorNo"},
        "unit_number": {"from": "unit"},
        "grid_code": {"from": "gridCode"},
        "beat_code": {"from": "policeBeat"},
        "longitude": {"from": "lng"},
        "latitude": {"from": "lat"},
    }
}
EVENTS: dict[str, Any] = {
    "fields": {
        "incident_id": {"from": "eventNo"},
        "incident_type": {"from": "type"},
        "reported_at": {"from": "reportedAt"},
        "channel": {"from": "channel"},
        "address_code": {"from": "addressCode"},
        "grid_code": {"from": "gridCode"},
        "beat_code": {"from": "policeBeat"},
        "party_id_numbers": {"from": "parties"},
        "description": {"from": "description"},
        "risk_level": {"from": "risk"},
        "status": {"from": "status"},
    }
}
STREAMS = [
    {"name": "residents", "kind": "person", "resource": "residents", "primary_key": "id"},
    {"name": "addresses", "kind": "address", "resource": "addresses", "primary_key": "addressCode"},
    {"name": "events", "kind": "incident", "resource": "events", "primary_key": "eventNo"},
]
MAPPINGS = {"residents": RESIDENTS, "addresses": ADDRESSES, "events": EVENTS}


def grid_config(url: str, **extra: Any) -> dict[str, Any]:
    streams = [s | {"mapping": MAPPINGS[s["name"]]} for s in STREAMS]
    return {"base_url": url, "api_key": API_KEY, "retry": FAST_RETRY, "streams": streams} | extra


def oauth(url: str, method: str = "client_secret_basic", **extra: Any) -> dict[str, Any]:
    return {
        "token_url": f"{url}/oauth/token",
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "auth_method": method,
    } | extra


def json_batches(batches: Iterator[Batch]) -> list[Batch]:
    """Batches with their states round-tripped through JSON, as the hub stores them."""
    return [Batch(b.rows, json.loads(json.dumps(b.state))) for b in batches]


Serve = Callable[..., tuple[str, FastAPI]]


@pytest.fixture(scope="module")
def world() -> World:
    return generate(300)


@pytest.fixture(scope="module")
def grid(world: World) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(world.grid, {API_KEY}, {CLIENT_ID: CLIENT_SECRET})
    with serve_in_thread(app) as server:
        yield server.url, app


@pytest.fixture
def url(grid: tuple[str, FastAPI]) -> str:
    return grid[0]


@pytest.fixture
def faults(grid: tuple[str, FastAPI]) -> Iterator[Faults]:
    faults: Faults = grid[1].state.faults
    faults.clear()
    yield faults
    faults.clear()


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start another grid platform, serving the data given; stopped after the test."""
    servers: list[ServerHandle] = []

    def start(data: dict[str, list[dict[str, Any]]], **options: Any) -> tuple[str, FastAPI]:
        app = create_app(data, {API_KEY}, {CLIENT_ID: CLIENT_SECRET}, **options)
        servers.append(serve_in_thread(app))
        return servers[-1].url, app

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def make_source() -> Iterator[Callable[..., GridPlatformSource]]:
    sources: list[GridPlatformSource] = []

    def make(config: dict[str, Any]) -> GridPlatformSource:
        sources.append(GridPlatformSource("grid_platform", config))
        return sources[-1]

    yield make
    for source in sources:
        source.close()


class TestGridPlatformSource(SourceTests):
    batch_size = 60
    min_valid_share = 0.85
    """generate(300) has 15 events and breaks 2 of them on purpose (13/15 = 0.87)."""

    @pytest.fixture
    def source(self, url: str) -> Iterator[Source]:
        source = GridPlatformSource("grid_platform", grid_config(url))
        yield source
        source.close()

    @pytest.fixture
    def expected_counts(self, world: World) -> dict[str, int]:
        return {s["name"]: len(world.grid[s["resource"]]) for s in STREAMS}


# --- paging ---------------------------------------------------------------------------------


def test_a_full_read_in_small_pages_returns_every_row_once(
    url: str, world: World, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url, page_size=7))
    stream = source.stream("residents")
    batches = json_batches(source.read(stream, None, 1000))
    residents = world.grid["residents"]
    assert all(0 < len(b.rows) <= 7 for b in batches)
    assert len(batches) == -(-len(residents) // 7)
    keys = keys_of(stream, batches)
    assert Counter(keys) == Counter(row["id"] for row in residents)
    order = [(dt.datetime.fromisoformat(r["updatedAt"]), r["id"]) for b in batches for r in b.rows]
    assert order == sorted(order)
    last = max(residents, key=lambda r: (dt.datetime.fromisoformat(r["updatedAt"]), r["id"]))
    assert batches[-1].state == {"updated_since": last["updatedAt"], "after": last["id"]}


def test_the_batch_size_caps_the_page_size(
    url: str, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url, page_size=50))
    batches = list(source.read(source.stream("addresses"), None, 9))
    assert max(len(b.rows) for b in batches) == 9


def tied_rows(key: str, keys: list[Any]) -> list[dict[str, Any]]:
    """Rows where 20 share one updatedAt, listed out of order (the server sorts them)."""
    t0 = dt.datetime(2026, 11, 1, 8, 0, tzinfo=CST)
    rows = []
    for n, value in enumerate(keys):
        minute = 10 if 10 <= n < 30 else n
        at = t0 + dt.timedelta(minutes=minute)
        rows.append({key: value, "name": f"row {n}", "updatedAt": at.isoformat()})
    random.Random(5).shuffle(rows)  # noqa: S311 (test data)
    return rows


@pytest.mark.parametrize(
    ("resource", "key", "keys"),
    [
        # int keys of different lengths: ordered as numbers, not as text
        ("residents", "id", [5 * n**2 + 3 for n in range(50)]),
        ("addresses", "addressCode", [f"A{n:03d}" for n in range(50)][::-1]),
    ],
)
@pytest.mark.parametrize("page_size", [3, 7, 20])
def test_rows_sharing_a_timestamp_across_pages_are_read_once(
    serve: Serve,
    make_source: Callable[..., GridPlatformSource],
    resource: str,
    key: str,
    keys: list[Any],
    page_size: int,
) -> None:
    rows = tied_rows(key, keys)
    url, _ = serve({resource: rows})
    stream = {"name": "s", "kind": "person", "resource": resource, "primary_key": key}
    source = make_source({"base_url": url, "api_key": API_KEY, "streams": [stream]})
    batches = json_batches(source.read(source.stream("s"), None, page_size))
    assert Counter(keys_of(source.stream("s"), batches)) == Counter(keys)
    tied = [
        r[key] for b in batches for r in b.rows if r["updatedAt"].startswith("2026-11-01T08:10")
    ]
    assert tied == sorted(tied)
    assert len(tied) == 20
    for done, batch in enumerate(batches, start=1):
        rest = json_batches(source.read(source.stream("s"), batch.state, page_size))
        assert keys_of(source.stream("s"), rest) == keys_of(source.stream("s"), batches[done:])


def test_resuming_from_a_mid_way_state_reads_exactly_the_rest(
    url: str, make_source: Callable[..., GridPlatformSource]
) -> None:
    first = make_source(grid_config(url, page_size=7))
    stream = first.stream("residents")
    batches = json_batches(first.read(stream, None, 1000))
    middle = len(batches) // 2
    # A new source, as after a restart: only the saved state carries over.
    second = make_source(grid_config(url, page_size=7))
    rest = json_batches(second.read(stream, batches[middle - 1].state, 1000))
    assert keys_of(stream, rest) == keys_of(stream, batches[middle:])


def test_a_later_read_yields_only_rows_changed_since(
    serve: Serve, world: World, make_source: Callable[..., GridPlatformSource]
) -> None:
    residents = [dict(r) for r in world.grid["residents"][:30]]
    url, app = serve({"residents": residents})
    source = make_source(grid_config(url, page_size=7))
    stream = source.stream("residents")
    state = json_batches(source.read(stream, None, 1000))[-1].state
    assert list(source.read(stream, state, 1000)) == []
    table: Table = app.state.tables["residents"]
    changed = residents[3] | {"mobile": "13912345678", "updatedAt": "2026-12-01T09:00:00+08:00"}
    added = residents[4] | {"id": 999999, "updatedAt": "2026-12-01T09:00:00+08:00"}
    table.put(changed)
    table.put(added)
    again = json_batches(source.read(stream, state, 1000))
    assert [r["id"] for b in again for r in b.rows] == [changed["id"], 999999]
    assert again[-1].state == {"updated_since": "2026-12-01T09:00:00+08:00", "after": 999999}


# --- authentication ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "auth",
    ["api_key", "client_secret_basic", "client_secret_post"],
)
def test_api_key_and_oauth_client_credentials_both_read(
    url: str,
    world: World,
    faults: Faults,
    make_source: Callable[..., GridPlatformSource],
    auth: str,
) -> None:
    config = grid_config(url, page_size=25)
    if auth != "api_key":
        del config["api_key"]
        config["oauth"] = oauth(url, auth)
    source = make_source(config)
    stream = source.stream("residents")
    batches = list(source.read(stream, None, 1000))
    assert len(keys_of(stream, batches)) == len(world.grid["residents"])
    token_requests = 0 if auth == "api_key" else 1
    assert faults.requests == len(batches) + token_requests


def test_a_revoked_token_is_replaced(
    url: str,
    grid: tuple[str, FastAPI],
    world: World,
    faults: Faults,
    make_source: Callable[..., GridPlatformSource],
) -> None:
    config = grid_config(url, page_size=50, oauth=oauth(url))
    del config["api_key"]
    source = make_source(config)
    stream = source.stream("residents")
    read = source.read(stream, None, 1000)
    first = next(read)
    grid[1].state.tokens.revoke_all()
    rest = list(read)
    assert len(keys_of(stream, [first, *rest])) == len(world.grid["residents"])
    # token, page 1, (401, token, page 2), page 3...
    assert faults.requests == 1 + 1 + 3 + (len(rest) - 1)


def test_a_token_is_renewed_before_it_expires(
    serve: Serve, world: World, make_source: Callable[..., GridPlatformSource]
) -> None:
    url, app = serve({"residents": world.grid["residents"]}, token_ttl=1.0)
    third = -(-len(world.grid["residents"]) // 3)  # three pages
    config = grid_config(url, page_size=third, oauth=oauth(url))
    del config["api_key"]
    source = make_source(config)
    read = source.read(source.stream("residents"), None, 1000)
    batches = [next(read)]
    time.sleep(1.0)
    batches += list(read)
    assert len(batches) == 3
    assert app.state.faults.requests == 5  # token, page, token (renewed, no 401), page, page


def test_a_token_refused_as_soon_as_issued_is_fatal_not_a_loop(
    serve: Serve, world: World, make_source: Callable[..., GridPlatformSource]
) -> None:
    url, app = serve({"residents": world.grid["residents"]}, token_ttl=0.0)
    config = grid_config(url, page_size=50, oauth=oauth(url))
    del config["api_key"]
    source = make_source(config)
    with pytest.raises(FatalError, match="HTTP 401") as caught:
        list(source.read(source.stream("residents"), None, 1000))
    assert app.state.faults.requests == 2
    assert CLIENT_SECRET not in str(caught.value)


def test_a_wrong_api_key_is_fatal_and_not_retried(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url, api_key="not-the-key"))
    with pytest.raises(FatalError) as caught:
        next(source.read(source.stream("residents"), None, 100))
    message = str(caught.value)
    assert message.startswith("grid_platform/residents: ")
    assert "HTTP 401" in message
    assert "api_key" in message
    assert "not-the-key" not in message
    assert faults.requests == 1


def test_a_wrong_client_secret_is_fatal(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    config = grid_config(url, oauth=oauth(url, client_secret="wrong"))  # noqa: S106
    del config["api_key"]
    source = make_source(config)
    with pytest.raises(FatalError, match=r"HTTP 401.*client authentication failed.*token"):
        next(source.read(source.stream("residents"), None, 100))
    assert faults.requests == 1


def test_an_unknown_resource_is_fatal(
    url: str, make_source: Callable[..., GridPlatformSource]
) -> None:
    config = grid_config(url)
    config["streams"] = [STREAMS[0] | {"resource": "people"}]
    source = make_source(config)
    with pytest.raises(FatalError, match=r"HTTP 404.*resource"):
        next(source.read(source.stream("residents"), None, 100))


# --- faults -------------------------------------------------------------------------------


def test_503s_and_dropped_connections_mid_sync_lose_nothing(
    url: str, world: World, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url, page_size=7))
    stream = source.stream("residents")
    read = source.read(stream, None, 1000)
    batches = [next(read) for _ in range(5)]
    faults.fail_next(3, status=503)
    faults.drop_next(2)
    batches += list(read)
    assert faults.pending == 0
    assert Counter(keys_of(stream, batches)) == Counter(r["id"] for r in world.grid["residents"])
    assert faults.requests == len(batches) + 5


@pytest.mark.parametrize("status", [408, 429, 502, 503, 504])
def test_transient_statuses_are_retried(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource], status: int
) -> None:
    source = make_source(grid_config(url, page_size=100))
    faults.fail_next(2, status=status)
    batches = list(source.read(source.stream("addresses"), None, 1000))
    assert sum(len(b.rows) for b in batches) > 0
    assert faults.requests == len(batches) + 2


def test_a_read_timeout_is_retried(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url, page_size=500, timeout=0.2))
    faults.delay_next(1, seconds=0.6)
    batches = list(source.read(source.stream("addresses"), None, 1000))
    assert len(batches) == 1
    assert faults.requests == 2


def test_the_token_request_is_retried_too(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    config = grid_config(url, page_size=500, oauth=oauth(url))
    del config["api_key"]
    source = make_source(config)
    faults.fail_next(1, status=503)
    faults.drop_next(1)
    assert len(list(source.read(source.stream("addresses"), None, 1000))) == 1
    assert faults.requests == 4  # token (503), token (dropped), token, page


def test_when_retries_run_out_the_transient_error_propagates(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    retry = {"attempts": 3, "initial": 0.001, "maximum": 0.01}
    source = make_source(grid_config(url, page_size=7, retry=retry))
    read = source.read(source.stream("residents"), None, 1000)
    next(read)
    faults.fail_next(3, status=503)
    with pytest.raises(TransientError, match=r"HTTP 503.*gave up after 3 attempts"):
        next(read)


def test_an_internal_server_error_is_fatal_at_once(
    url: str, faults: Faults, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url))
    faults.fail_next(1, status=500)
    with pytest.raises(FatalError, match="HTTP 500"):
        next(source.read(source.stream("residents"), None, 100))
    assert faults.requests == 1


# --- configuration and state --------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"api_key": None}, "exactly one of 'api_key' and 'oauth'"),
        ({"oauth": {"token_url": "x", "client_id": "a", "client_secret": "b"}}, "token_url"),
        ({"base_url": "ftp://grid.example"}, "http"),
        ({"page_size": 501}, "page_size"),
        ({"retry": {"attempts": 0}}, "retry.attempts"),
        ({"streams": []}, "streams"),
        ({"streams": [STREAMS[0] | {"kind": "citizen"}]}, "unknown kind"),
        ({"streams": [STREAMS[0] | {"mapping": {"fields": {"nick": {"from": "a"}}}}]}, "nick"),
        ({"streams": [STREAMS[0], STREAMS[0]]}, "unique"),
        ({"streams": [STREAMS[0] | {"resource": "../admin"}]}, "resource"),
    ],
)
def test_a_bad_config_is_a_configuration_error(change: dict[str, Any], problem: str) -> None:
    config = grid_config("http://grid.example") | change
    with pytest.raises(ConfigurationError, match=problem) as caught:
        GridPlatformSource("grid_platform", config)
    assert API_KEY not in str(caught.value)


@pytest.mark.parametrize("state", [{"cursor": 3}, {"updated_since": 5, "after": 1}])
def test_a_state_of_another_shape_is_a_configuration_error(
    url: str, make_source: Callable[..., GridPlatformSource], state: dict[str, Any]
) -> None:
    source = make_source(grid_config(url))
    with pytest.raises(ConfigurationError, match="reset it"):
        next(source.read(source.stream("residents"), state, 100))


def test_a_primary_key_the_api_does_not_order_by_is_a_configuration_error(
    url: str, make_source: Callable[..., GridPlatformSource]
) -> None:
    config = grid_config(url, page_size=7)
    config["streams"] = [STREAMS[0] | {"primary_key": "idCard"}]
    source = make_source(config)
    with pytest.raises(ConfigurationError, match="must name the fields it orders by"):
        next(source.read(source.stream("residents"), None, 100))


def test_close_is_idempotent_and_the_source_reopens(
    url: str, make_source: Callable[..., GridPlatformSource]
) -> None:
    source = make_source(grid_config(url))
    stream = source.stream("events")
    assert len(keys_of(stream, read_all(source, stream, None, 100))) > 0
    source.close()
    source.close()
    assert len(keys_of(stream, read_all(source, stream, None, 100))) > 0


# --- the reference server itself ----------------------------------------------------------


def test_the_server_refuses_what_it_should(url: str) -> None:
    key = {"X-API-Key": API_KEY}
    with httpx.Client(base_url=url) as client:
        anonymous = client.get("/api/v1/residents")
        assert anonymous.status_code == 401
        assert anonymous.headers["WWW-Authenticate"].startswith("Bearer realm=")
        bad_token = client.get("/api/v1/residents", headers={"Authorization": "Bearer nope"})
        assert 'error="invalid_token"' in bad_token.headers["WWW-Authenticate"]
        assert client.get("/api/v1/people", headers=key).status_code == 404
        assert client.get("/api/v1/residents?limit=501", headers=key).status_code == 422
        assert client.get("/api/v1/residents?after=3", headers=key).status_code == 400
        naive = client.get("/api/v1/residents?updated_since=2026-11-01T08:00:00", headers=key)
        assert naive.status_code == 422
        wrong = client.post("/oauth/token", data={"grant_type": "client_credentials"})
        assert wrong.status_code == 401
        assert wrong.json()["error"] == "invalid_client"
        grant = client.post(
            "/oauth/token",
            data={"grant_type": "password"},
            auth=(CLIENT_ID, CLIENT_SECRET),
        )
        assert (grant.status_code, grant.json()["error"]) == (400, "unsupported_grant_type")


def test_the_server_issues_working_bearer_tokens(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        form = {"grant_type": "client_credentials"}
        issued = client.post(
            "/oauth/token", data=form | {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET}
        )
        assert issued.status_code == 200
        assert issued.headers["Cache-Control"] == "no-store"
        token = issued.json()
        assert (token["token_type"], token["expires_in"]) == ("Bearer", 300)
        page = client.get(
            "/api/v1/events",
            params={"limit": 2},
            headers={"Authorization": f"Bearer {token['access_token']}"},
        )
        assert page.status_code == 200
        assert len(page.json()["items"]) == 2
        assert set(page.json()["next"]) == {"updated_since", "after"}


# --- into the store ------------------------------------------------------------------------


def test_a_sync_stores_or_quarantines_every_resident_and_catches_every_defect(
    store: Store, url: str, world: World, make_source: Callable[..., GridPlatformSource]
) -> None:
    config = grid_config(url, page_size=40)
    config["streams"] = [STREAMS[0] | {"mapping": RESIDENTS}]
    source = make_source(config)
    report = sync_stream(store, source, source.stream("residents"), new_run_id(), 1000)
    assert report.error is None
    assert report.read == len(world.grid["residents"])
    assert report.read == report.stored + report.quarantined
    assert store.count("person") == report.stored

    caught = {
        q.source_key: {f"{f['field']}:{f['rule']}" for f in q.failures}
        for q in store.quarantined()
        if q.source_system == "grid_platform" and q.stream == "residents"
    }
    defects = [d for d in world.defects if (d.source, d.stream) == ("grid_platform", "residents")]
    assert {d.defect for d in defects} == {
        "bad_check_digit",
        "birth_date_mismatch",
        "unknown_code",
        "missing_field",
        "malformed_date",
        "duplicate",
    }
    missed = {
        d.source_key: d.expected for d in defects if d.expected not in caught.get(d.source_key, ())
    }
    assert missed == {}, f"defects not quarantined as expected: {missed}; caught: {caught}"
    unexpected = set(caught) - {d.source_key for d in defects}
    assert unexpected == set(), {key: caught[key] for key in unexpected}
    assert report.quarantined == len(defects)
