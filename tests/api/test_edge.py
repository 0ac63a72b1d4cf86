"""The API's edge on a real server: body caps before anything is buffered, and a peer that
floods refusals shut out with a bounded number of audit entries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import func, select

from hub.api import create_app
from hub.api.limits import BodyLimits, RefusalLimiter, RefusalLimits, Suppressed
from hub.audit import AuditLog
from hub.config import open_store
from hub.reference.serve import serve_in_thread
from hub.store.tables import audit_log
from tests.api.conftest import Hub
from tests.auth.support import Clock

PROBLEM = "application/problem+json"
MiB = 1 << 20


def _entries(hub: Hub) -> int:
    store = open_store(hub.config)
    try:
        with store.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())
    finally:
        store.close()


def _refusal(hub: Hub, request_id: str) -> dict[str, object]:
    store = open_store(hub.config)
    try:
        found = AuditLog.for_store(store).search(limit=1000)
    finally:
        store.close()
    [entry] = [e for e in found if e.event.request_id == request_id]
    assert entry.event.action == "request.refused"
    return entry.event.detail


def _too_large(answer: httpx.Response, hub: Hub) -> None:
    assert answer.status_code == 413, answer.text
    assert answer.headers["content-type"] == PROBLEM
    body = answer.json()
    assert body["type"] == "urn:hub:problem:too_large"
    assert body["request_id"] == answer.headers["x-request-id"]
    assert _refusal(hub, body["request_id"])["reason"] == "too_large"


@pytest.fixture(scope="module")
def small(hub: Hub) -> Iterator[httpx.Client]:
    limits = BodyLimits(token=2048, records=4096, default=256)
    app = create_app(hub.config, body_limits=limits, refusal_limits=RefusalLimits(limit=1000))
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url) as http:
        yield http


@pytest.mark.parametrize(
    ("path", "size"), [("/oauth/token", 2049), ("/v1/records/person", 4097), ("/health", 257)]
)
def test_a_declared_length_over_the_cap_is_refused_unread(
    hub: Hub, small: httpx.Client, path: str, size: int
) -> None:
    _too_large(small.post(path, content=b"x" * size), hub)


def test_a_body_within_its_cap_goes_through(hub: Hub, small: httpx.Client) -> None:
    answer = small.post("/oauth/token", content=b"grant_type=client_credentials" + b"&" * 1500)
    assert answer.status_code in {400, 401}


def test_a_chunked_body_is_cut_off_at_the_cap(hub: Hub, small: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"y" * 1024

    _too_large(small.post("/v1/records/person", content=chunks()), hub)


def test_200_mb_chunked_without_a_token_gets_413_before_it_is_sent(hub: Hub) -> None:
    sent: list[int] = []

    def chunks() -> Iterator[bytes]:
        block = b"z" * MiB
        for _ in range(200):
            sent.append(len(block))
            yield block

    answer = hub.http.post("/v1/records/person", content=chunks())
    _too_large(answer, hub)
    assert answer.json()["limit"] == 8 * MiB
    assert sum(sent) < 64 * MiB


def test_a_flood_of_bad_tokens_grows_the_log_by_a_bounded_number(hub: Hub) -> None:
    limits = RefusalLimits(limit=20, window=600)
    good = hub.token("police")
    before = _entries(hub)
    with serve_in_thread(create_app(hub.config, refusal_limits=limits)) as server:
        with httpx.Client(base_url=server.url) as http:
            statuses = [
                http.get(
                    "/v1/records/person",
                    params={"purpose": "社区警务"},
                    headers={"Authorization": "Bearer nope"},
                ).status_code
                for _ in range(5000)
            ]
            shut_out = http.get("/health")
        other = httpx.HTTPTransport(local_address="127.0.0.2")
        with httpx.Client(base_url=server.url, transport=other) as elsewhere:
            fine = elsewhere.get(
                "/v1/records/person",
                params={"purpose": "社区警务"},
                headers={"Authorization": f"Bearer {good}"},
            )
    assert statuses.count(401) == 21
    assert statuses.count(429) == 5000 - 21
    assert shut_out.status_code == 429
    assert shut_out.headers["content-type"] == PROBLEM
    assert int(shut_out.headers["retry-after"]) >= 1
    assert fine.status_code == 200, fine.text
    grown = _entries(hub) - before
    assert grown <= limits.limit + 1 + 1 + 1, grown  # refusals, the summary, the good query
    store = open_store(hub.config)
    try:
        [summary] = AuditLog.for_store(store).search(action="request.refused.suppressed")
    finally:
        store.close()
    assert summary.event.detail["peer"] == "127.0.0.1"
    assert summary.event.detail["count"] == 5000 - 21 + 1


def test_the_limiter_shuts_out_one_peer_per_window_and_reports_it_once() -> None:
    clock = Clock()
    limiter = RefusalLimiter(RefusalLimits(limit=2, window=10), clock=clock)
    for _ in range(3):
        assert limiter.blocked("10.0.0.1") == 0
        limiter.refused("10.0.0.1")
    assert limiter.blocked("10.0.0.1") == pytest.approx(10)
    clock.advance(4)
    assert limiter.blocked("10.0.0.1") == pytest.approx(6)
    assert limiter.blocked("10.0.0.2") == 0
    assert limiter.ended() == []
    clock.advance(6)
    assert limiter.ended() == [Suppressed("10.0.0.1", 2, 10)]
    assert limiter.ended() == []
    assert limiter.blocked("10.0.0.1") == 0
    limiter.refused("10.0.0.2")
    assert limiter.drain() == []
