"""A hub with partner clients that subscribe, a few real records, and real HTTP receivers.

The hub is served by uvicorn on loopback (``HubConfig.webhook_loopback`` on, as only
tests and the demo have it); a ``Receiver`` is a small ASGI app in a thread of its own
that records every request as it arrived and answers 500 to the first ``fail`` of them,
or holds the first ``stall`` of them until released. Events come from ``emit`` and
``admit_rows`` in store transactions on the stored records, as the routes will emit them.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from starlette.types import Receive, Scope, Send

from contracts import Person, Record
from hub.api import create_app
from hub.audit import AuditLog, AuditQuery
from hub.auth import ClientRegistry
from hub.config import HubConfig, load_config, open_store, save_config
from hub.events.delivery import Deliverer, DeliveryOptions
from hub.events.urls import Resolver, resolve
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.reference.serve import serve_in_thread
from hub.sharing import Sharing
from hub.store import Store
from hub.store.tables import deliveries, subscriptions
from tests.api.conftest import GENEROUS
from tests.conftest import BACKENDS, hub_home
from tests.data import ID_NUMBERS, make_records

GRID = "G320104001"
OTHER_GRID = "G320104999"
BEAT = "B32010401"
SUBSCRIBE = ["subscriptions.read", "subscriptions.write"]
TEST_POLICIES = Path(__file__).parent / "policies"


@dataclass
class Arrival:
    headers: dict[str, str]
    body: bytes
    answered: int


class Receiver:
    """Records each request; answers 500 to the first ``fail``; holds the first ``stall``
    open until ``release`` is set (answering 200 then, to nobody if the sender died)."""

    def __init__(self, fail: int = 0, stall: int = 0) -> None:
        self.fail = fail
        self.stall = stall
        self.arrivals: list[Arrival] = []
        self.release = threading.Event()
        self.in_flight = 0
        self.lock = threading.Lock()
        self.url = ""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        with self.lock:
            n = len(self.arrivals)
            answer = 500 if n < self.fail else 200
            self.arrivals.append(Arrival(headers, body, answer))
            stalled = n < self.stall
            self.in_flight += 1
        try:
            while stalled and not self.release.is_set():
                await asyncio.sleep(0.01)
            await send({"type": "http.response.start", "status": answer, "headers": []})
            await send({"type": "http.response.body", "body": b"ok"})
        finally:
            with self.lock:
                self.in_flight -= 1

    def ids(self) -> list[str]:
        return [a.headers["webhook-id"] for a in self.arrivals]


class Clock:
    """An injected clock: starts now, moves only when told."""

    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, delta: dt.timedelta) -> None:
        self.now += delta


@dataclass(frozen=True)
class Partner:
    client_id: str
    secret: str


@dataclass
class EventsHub:
    config: HubConfig
    http: httpx.Client
    store: Store
    partners: dict[str, Partner]
    people: dict[str, int]
    """Database ids of the stored people: ``in_grid`` (户籍), ``in_grid_migrant`` (流动)
    in the grid client's grid, ``elsewhere`` in another grid of the police beat."""
    work_order: int
    receivers: list[Any] = field(default_factory=list)

    def token(self, partner: str) -> str:
        who = self.partners[partner]
        answer = self.http.post(
            "/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(who.client_id, who.secret),
        )
        assert answer.status_code == 200, answer.text
        token: str = answer.json()["access_token"]
        return token

    def call(self, partner: str, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token(partner)}"}
        return self.http.request(method, path, headers=headers, **kwargs)

    def subscribe(
        self,
        partner: str,
        url: str,
        events: list[str],
        purpose: str,
        filter: dict[str, Any] | None = None,
    ) -> tuple[str, str]:
        """A new subscription's id and secret; the request must succeed."""
        body = {"url": url, "events": events, "purpose": purpose, "filter": filter or {}}
        answer = self.call(partner, "POST", "/v1/subscriptions", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["id"], answer.json()["secret"]

    def receiver(self, **options: int) -> Receiver:
        receiver = Receiver(**options)
        handle = serve_in_thread(receiver)
        receiver.url = f"{handle.url}/hook"
        self.receivers.append((receiver, handle))
        return receiver

    @contextmanager
    def deliverer(
        self, clock: Clock | None = None, resolver: Resolver = resolve, **options: Any
    ) -> Iterator[tuple[Deliverer, AuditLog]]:
        log = AuditLog.for_store(self.store)
        policies = PolicyRegistry(log, self.config.home / POLICIES_DIR, interval=0)
        chosen = {"backoff": 1.0, "backoff_base": 2.0, "timeout": 5.0, "allow_loopback": True}
        chosen |= options
        worker = Deliverer(
            Sharing(self.store, log, policies),
            ClientRegistry(self.store),
            DeliveryOptions(**chosen),
            clock=clock,
            resolver=resolver,
        )
        try:
            yield worker, log
        finally:
            worker.close()

    def statuses(self, subscription_id: str) -> list[tuple[str, int]]:
        d = deliveries.c
        query = (
            select(d.status, d.attempts)
            .where(d.subscription_id == subscription_id)
            .order_by(d.event_seq)
        )
        with self.store.engine.connect() as conn:
            return [(row.status, row.attempts) for row in conn.execute(query)]

    def audit(self, action: str) -> list[Any]:
        return AuditLog.for_store(self.store).find(AuditQuery(action=action, limit=1000))


def _people() -> list[tuple[str, Record]]:
    base = make_records()["person"].model_dump()
    return [
        ("P-in", Person.parse(base | {"id_number": ID_NUMBERS[0], "name": "张伟"})),
        (
            "P-migrant",
            Person.parse(
                base
                | {
                    "id_number": ID_NUMBERS[1],
                    "name": "李娜",
                    "sex": "女",
                    "birth_date": "1985-06-12",
                    "household_type": "流动",
                }
            ),
        ),
        (
            "P-elsewhere",
            Person.parse(
                base
                | {
                    "id_number": ID_NUMBERS[2],
                    "name": "王小明",
                    "birth_date": "2012-03-15",
                    "grid_code": OTHER_GRID,
                }
            ),
        ),
    ]


@contextmanager
def _hub(home: Path) -> Iterator[EventsHub]:
    for path in TEST_POLICIES.glob("*.yaml"):
        shutil.copy(path, home / POLICIES_DIR / path.name)
    save_config(load_config(home).model_copy(update={"webhook_loopback": True}))
    config = load_config(home)
    store = open_store(config)
    with store.begin() as tx:
        tx.upsert("police_db", _people())
        tx.upsert("hub", [("W1", make_records()["work_order"])])
    people = {
        name: found.id
        for name, key in (
            ("in_grid", "P-in"),
            ("migrant", "P-migrant"),
            ("elsewhere", "P-elsewhere"),
        )
        if (found := store.get("person", "police_db", key)) is not None
    }
    order = store.get("work_order", "hub", "W1")
    assert order is not None
    registry = ClientRegistry(store)
    reads = ["person.read", "work_order.read"]
    added = {
        "grid": registry.add("grid", "grid-platform", [*reads, *SUBSCRIBE], {"grid_codes": [GRID]}),
        "police": registry.add(
            "police", "police-station", [*reads, *SUBSCRIBE], {"beat_codes": [BEAT]}
        ),
        "reporter": registry.add(
            "reporter", "grid-reporter", ["person.read", *SUBSCRIBE], {"grid_codes": [GRID]}
        ),
        "reviewer": registry.add(
            "reviewer", "police-reviewer", ["person.read", *SUBSCRIBE], {"beat_codes": [BEAT]}
        ),
        "unsubscribed": registry.add(
            "unsubscribed", "grid-platform", reads, {"grid_codes": [GRID]}
        ),
        "no_person_scope": registry.add(
            "no_person_scope", "grid-platform", ["work_order.read", *SUBSCRIBE],
            {"grid_codes": [GRID]},
        ),
    }  # fmt: skip
    partners = {
        name: Partner(new.client.client_id, new.secret or "") for name, new in added.items()
    }
    with (
        serve_in_thread(create_app(config, rate=1000, burst=1000, **GENEROUS)) as server,
        httpx.Client(base_url=server.url) as http,
    ):
        hub = EventsHub(config, http, store, partners, people, order.id)
        try:
            yield hub
        finally:
            for _, handle in hub.receivers:
                handle.stop()
            store.close()


@pytest.fixture(scope="module", params=BACKENDS)
def events_hub(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EventsHub]:
    with hub_home(request.param, tmp_path_factory.mktemp("hub")) as home, _hub(home) as hub:
        yield hub


@pytest.fixture
def hub(events_hub: EventsHub) -> Iterator[EventsHub]:
    """The module's hub, its subscriptions ended after each test: a test's deliveries
    are its own."""
    yield events_hub
    now = dt.datetime.now(dt.UTC)
    with events_hub.store.begin() as tx:
        tx.conn.execute(
            update(subscriptions).where(subscriptions.c.revoked_at.is_(None)).values(revoked_at=now)
        )
        tx.conn.execute(
            update(deliveries)
            .where(deliveries.c.status == "pending")
            .values(status="filtered", last_error="test over")
        )
