"""No answer without its audit entry: a page whose entry the database refuses to store is
not served (500, no records), alone or among concurrent requests whose entries share a
transaction; once entries are stored again, every page served has its entry, found by
the request id the answer carries."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from sqlalchemy import text

from hub.audit import AuditLog
from hub.config import open_store
from tests.api.conftest import Hub

QUERY = {"purpose": "网格服务", "limit": 20}
MARK = '%"action":"records.query"%'


@pytest.fixture
def refusing(hub: Hub) -> Iterator[Hub]:
    """The hub whose database refuses every ``records.query`` entry, as a full disk or a
    failing constraint would; the refusal entries of failed requests still go in."""
    store = open_store(hub.config)
    sqlite = store.engine.dialect.name == "sqlite"
    with store.engine.begin() as conn:
        if sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_query BEFORE INSERT ON audit_log "
                    f"WHEN NEW.event LIKE '{MARK}' "
                    "BEGIN SELECT RAISE(ABORT, 'entry refused'); END"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE FUNCTION refuse_query() RETURNS trigger AS $$ BEGIN "
                    f"IF NEW.event LIKE '{MARK}' THEN RAISE EXCEPTION 'entry refused'; "
                    "END IF; RETURN NEW; END $$ LANGUAGE plpgsql"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_query BEFORE INSERT ON audit_log "
                    "FOR EACH ROW EXECUTE FUNCTION refuse_query()"
                )
            )
    try:
        yield hub
    finally:
        with store.engine.begin() as conn:
            conn.execute(text("DROP TRIGGER refuse_query" + ("" if sqlite else " ON audit_log")))
            if not sqlite:
                conn.execute(text("DROP FUNCTION refuse_query()"))
        store.close()


def pages(hub: Hub, count: int) -> list[httpx.Response]:
    """``count`` pages asked at once, each on a connection of its own (a failed request's
    connection is closed by the server, so none is reused)."""
    who = hub.partners["grid"]
    with httpx.Client(base_url=str(hub.http.base_url), timeout=60) as http:
        answer = http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(who.client_id, who.secret),
        )
    headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

    def one(_: int) -> httpx.Response:
        with httpx.Client(base_url=str(hub.http.base_url), timeout=60) as http:
            return http.get("/v1/records/person", params=QUERY, headers=headers)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def entries_of(hub: Hub, request_id: str) -> list[str]:
    store = open_store(hub.config)
    try:
        log = AuditLog.for_store(store)
        return [entry.event.action for entry in log.search(request_id=request_id)]
    finally:
        store.close()


def test_a_page_whose_entry_is_refused_is_not_served(refusing: Hub) -> None:
    answers = [*pages(refusing, 1), *pages(refusing, 8)]
    assert [a.status_code for a in answers] == [500] * len(answers)
    for answer in answers:
        assert "items" not in answer.json()
        rid = answer.headers["X-Request-ID"]
        assert entries_of(refusing, rid) == ["request.refused"]


def test_every_page_served_has_its_entry(hub: Hub) -> None:
    answers = pages(hub, 12)
    assert [a.status_code for a in answers] == [200] * len(answers)
    for answer in answers:
        assert answer.json()["items"]
        assert entries_of(hub, answer.headers["X-Request-ID"]) == ["records.query"]
