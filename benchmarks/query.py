"""Query latency: a grid client's 100-row page through the real HTTP server, against bare
SQL and against datasette serving the same table.

    python benchmarks/query.py [--people 1000000] [--concurrency 16] [--requests 2000]
                               [--workers N] [--folder DIR] [--database-url URL]
                               [--no-datasette]

Builds a hub home (``hub init``, the example policies) holding N persons spread over the
36 grids of the reference world, stored the hub's way (``Transaction.upsert``: encrypted
fields, blind indexes, link keys), and registers a grid-platform client for one grid. With
``--folder`` the home is kept, and a later run with the same N and database reuses it.

Then serves the hub with uvicorn in a subprocess on a loopback port (``--workers``
processes, default one per core, as ``hub serve --workers`` runs it) and asks, first from
one client one request at a time, then from C threads each with its own keep-alive
``httpx.Client`` and token, R times in all for the first page of the grid
(``GET /v1/records/person?purpose=网格服务&limit=100``, half of them also
``household_type=户籍``): token, row scope in SQL, decryption, masking, audit entry, JSON.

The peer, in the same run with the same clients: datasette (the ``bench`` extra) serving
the same SQLite file (``--database-url`` PostgreSQL: not run, datasette reads SQLite only),
asked for the same rows (``/hub/rec_person.json?grid_code=…&_size=100``, half with
``household_type=户籍``; ``_nocount`` and ``_nofacet``, so it runs the page query alone):
no token, policy, decryption or audit. Then the same statements as bare SQL in this
process, and where the time of one page goes, measured in this process step by step.

Prints p50/p90/p99/max latency and requests/s for each, the ratios, and last a one-line
summary (``GET /v1/records/person p50 X ms …``) to compare run to run. ``--database-url``
(PostgreSQL) puts the records there instead of a SQLite file in the folder; the hub's
tables in that database are dropped and refilled unless they already hold this
benchmark's N persons. Not a test: numbers move with the machine.
"""

from __future__ import annotations

import argparse
import datetime as dt
import itertools
import json
import math
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from faker import Faker
from fastapi import FastAPI
from sqlalchemy import Select, event, select

from contracts import Person
from contracts.kinds.person import HouseholdType
from hub.api import create_app
from hub.api.responses import json_response
from hub.audit import AuditLog
from hub.auth import ClientRegistry
from hub.auth.keys import SigningKeys
from hub.auth.settings import AuthSettings
from hub.auth.verify import AccessContext, TokenVerifier
from hub.cli.init import init
from hub.config import HubConfig, load_config, open_store, sqlite_url
from hub.policyfiles import PolicyRegistry
from hub.reference.world import BIRTHPLACES, ETHNICITIES, TAGS, citizen_id, grids
from hub.sharing import Asked, Sharing
from hub.store import Store, schema
from hub.store.query import Filter, filter_clause, scope_clause, select_rows
from hub.store.store import kind_table

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "policies" / "examples"
MARKER = "benchmark.json"
SOURCE = "police_db"
PURPOSE = "网格服务"
GRID = grids()[0]
PAGE = 100
FILTERED = [Filter("household_type", "eq", "户籍")]
DAYS = 365 * 80
RATE = 1_000_000


# --- the store -------------------------------------------------------------------------


class _Sequence(random.Random):
    """Stands in for ``citizen_id``'s rng to hand it a chosen sequence number, so a million
    ID numbers come out distinct (random ones would collide a few thousand times)."""

    value = 0

    def randrange(self, start: int, stop: int | None = None, step: int = 1) -> int:
        return self.value


class People:
    """Valid persons, number ``n`` always the same one: grid ``n % 36``, 75% 户籍."""

    def __init__(self, seed: int = 7) -> None:
        fake = Faker("zh_CN")
        fake.seed_instance(seed)
        self.names = [fake.name() for _ in range(2000)]
        self.phones = [fake.phone_number() for _ in range(2000)]
        self.rng = random.Random(seed)  # noqa: S311 (synthetic data)
        self.sequence = _Sequence()
        self.grids = grids()

    def person(self, n: int) -> Person:
        rng = self.rng
        grid = self.grids[n % len(self.grids)]
        birth = dt.date(1940, 1, 1) + dt.timedelta(days=n % DAYS)
        rest = n // DAYS
        self.sequence.value = rest % 499
        male = rng.random() < 0.5
        area = BIRTHPLACES[(rest // 499) % len(BIRTHPLACES)]
        draw = rng.random()
        household = "户籍" if draw < 0.75 else "流动" if draw < 0.99 else "境外"
        address = f"{grid.grid_code[1:]}{n:08d}"
        return Person.model_construct(
            id_number=citizen_id(self.sequence, area, birth, male),
            name=self.names[n % 2000],
            sex="1" if male else "2",
            birth_date=birth,
            ethnicity=rng.choice(ETHNICITIES),
            phone=self.phones[(n * 7) % 2000],
            household_type=HouseholdType(household),
            address_code=address,
            house_code="H" + address,
            grid_code=grid.grid_code,
            beat_code=grid.beat_code,
            police_tags=[rng.choice(TAGS)] if rng.random() < 0.03 else [],
        )


def load_people(store: Store, count: int, batch_size: int = 10_000) -> float:
    """Upsert ``count`` persons in batches, one transaction each; the seconds it took.
    Records are built with ``model_construct``; one in a hundred is re-parsed in full
    (``Person.parse``) to prove the values valid."""
    people = People()
    started = time.perf_counter()
    shown = started
    for first in range(0, count, batch_size):
        batch = []
        for n in range(first, min(count, first + batch_size)):
            record = people.person(n)
            if n % 100 == 0:
                Person.parse(record.model_dump())
            batch.append((f"R{n:09d}", record))
        with store.begin() as tx:
            tx.upsert(SOURCE, batch)
        done = first + len(batch)
        now = time.perf_counter()
        if now - shown > 10 or done == count:
            rate = done / (now - started)
            print(f"  {done:>12,} persons  {rate:10,.0f}/s", flush=True)
            shown = now
    return time.perf_counter() - started


def _load_cache(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.execute("PRAGMA cache_size=-500000")


def prepare(folder: Path, count: int, database_url: str | None) -> HubConfig:
    """The hub home in ``folder`` holding ``count`` persons: reused if it already does."""
    home = (folder / "hub").resolve()
    url = database_url or sqlite_url(home)
    wanted = {"people": count, "database_url": url}
    marker = home / MARKER
    shutil.copytree(EXAMPLES, home / "policies", dirs_exist_ok=True)
    if marker.exists() and json.loads(marker.read_text()) == wanted:
        config = load_config(home)
        store = open_store(config)
        try:
            held = store.count("person")
        finally:
            store.close()
        if held == count:
            print(f"reusing the store in {home}: {held:,} persons already loaded")
            return config
    marker.unlink(missing_ok=True)
    if (home / "config.json").exists():
        old = open_store(load_config(home))
        schema.drop(old.engine)
        old.close()
    for name in ("hub.db", "hub.db-wal", "hub.db-shm"):
        (home / name).unlink(missing_ok=True)
    init(home=home, database_url=database_url)
    config = load_config(home)
    store = open_store(config)
    if store.engine.dialect.name == "sqlite":
        # A bigger page cache for the load only: the random blind-index and link-key
        # inserts otherwise miss SQLite's default 2 MB cache ever more as the file grows.
        event.listen(store.engine, "connect", _load_cache)
    print(f"loading {count:,} persons into {store.engine.url.render_as_string()} ...")
    try:
        elapsed = load_people(store, count)
    finally:
        store.close()
    print(f"loaded {count:,} persons in {elapsed:.1f} s ({count / elapsed:,.0f}/s)")
    marker.write_text(json.dumps(wanted) + "\n")
    return config


def register_client(config: HubConfig) -> tuple[str, str]:
    """A fresh grid-platform client for the benchmark's grid: (client id, secret)."""
    store = open_store(config)
    try:
        new = ClientRegistry(store).add(
            "bench-grid", "grid-platform", ["person.read"], {"grid_codes": [GRID.grid_code]}
        )
    finally:
        store.close()
    return new.client.client_id, new.secret or ""


# --- the server ------------------------------------------------------------------------


def app_factory() -> FastAPI:
    """For ``uvicorn benchmarks.query:app_factory --factory``: the hub at ``$HUB_HOME``."""
    rate = float(os.environ.get("HUB_BENCH_RATE", RATE))
    return create_app(load_config(), rate=rate, burst=int(rate))


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serve(config: HubConfig, workers: int = 1) -> Iterator[str]:
    """Run the hub in a uvicorn subprocess; yield its URL once ``/health`` answers."""
    port = free_port()
    env = os.environ | {"HUB_HOME": str(config.home), "HUB_BENCH_RATE": str(RATE)}
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "benchmarks.query:app_factory",
        "--factory",
        "--app-dir",
        str(REPO),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--log-level",
        "warning",
        "--no-access-log",
    ]
    with running(command, env, f"http://127.0.0.1:{port}", "/health") as url:
        yield url


@contextmanager
def serve_datasette(database: Path) -> Iterator[str]:
    """Run datasette on the hub's SQLite file in a subprocess; yield its URL once it answers."""
    port = free_port()
    command = [
        sys.executable,
        "-m",
        "datasette",
        "serve",
        str(database),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--setting",
        "max_returned_rows",
        str(PAGE),
    ]
    url = f"http://127.0.0.1:{port}"
    with running(command, dict(os.environ), url, "/-/versions.json", quiet=True) as url:
        yield url


@contextmanager
def running(
    command: list[str], env: dict[str, str], url: str, probe: str, *, quiet: bool = False
) -> Iterator[str]:
    """Run ``command``, yield ``url`` once ``probe`` answers 200; stop it afterwards.
    ``quiet``: its output (datasette logs every request) is thrown away."""
    out = subprocess.DEVNULL if quiet else None
    server = subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=out)  # noqa: S603
    try:
        deadline = time.monotonic() + 60
        while True:
            if server.poll() is not None:
                raise SystemExit(f"the server exited with {server.returncode}")
            try:
                if httpx.get(f"{url}{probe}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the server did not answer {probe} within 60 s")
            time.sleep(0.1)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


# --- the clients -----------------------------------------------------------------------


def params(n: int) -> dict[str, str | int]:
    """Request ``n``'s query: every other one also filters on household type."""
    base: dict[str, str | int] = {"purpose": PURPOSE, "limit": PAGE}
    return base | {"household_type": "户籍"} if n % 2 else base


class Caller:
    """One keep-alive connection with its own token, renewed well before it expires."""

    def __init__(self, url: str, client_id: str, secret: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.auth = (client_id, secret)
        self.token = ""
        self.fetched = -math.inf

    def close(self) -> None:
        self.http.close()

    def headers(self) -> dict[str, str]:
        if time.monotonic() - self.fetched > 200:
            answer = self.http.post(
                "/oauth/token", data={"grant_type": "client_credentials"}, auth=self.auth
            )
            answer.raise_for_status()
            self.token = answer.json()["access_token"]
            self.fetched = time.monotonic()
        return {"Authorization": f"Bearer {self.token}"}

    def page(self, n: int) -> httpx.Response:
        return self.http.get("/v1/records/person", params=params(n), headers=self.headers())


class DatasetteCaller:
    """One keep-alive connection to datasette, asking for the same rows as ``Caller``."""

    def __init__(self, url: str, database: str) -> None:
        self.http = httpx.Client(base_url=url, timeout=60)
        self.path = f"/{database}/{kind_table('person').table.name}.json"

    def close(self) -> None:
        self.http.close()

    def headers(self) -> dict[str, str]:
        return {}

    def page(self, n: int) -> httpx.Response:
        query: dict[str, str | int] = {
            "grid_code": GRID.grid_code,
            "_size": PAGE,
            "_shape": "objects",
            "_nocount": 1,
            "_nofacet": 1,
        }
        if n % 2:
            query["household_type"] = "户籍"
        return self.http.get(self.path, params=query)


def check_datasette(answer: httpx.Response) -> dict[str, Any]:
    if answer.status_code != 200:
        raise SystemExit(f"datasette failed: {answer.status_code} {answer.text[:500]}")
    rows = answer.json()["rows"]
    if len(rows) != PAGE or rows[0].get("grid_code") != GRID.grid_code:
        raise SystemExit(f"unexpected datasette page: {len(rows)} rows")
    row: dict[str, Any] = rows[0]
    return row


def check_page(answer: httpx.Response) -> dict[str, Any]:
    """The first item of a good page; stops the run on a wrong one."""
    if answer.status_code != 200:
        raise SystemExit(f"query failed: {answer.status_code} {answer.text[:500]}")
    items = answer.json()["items"]
    record = items[0]["record"] if items else {}
    if (
        len(items) != PAGE
        or "*" not in record.get("id_number", "")
        or not isinstance(record.get("birth_date"), int)
        or "police_tags" in record
        or record.get("grid_code") != GRID.grid_code
    ):
        raise SystemExit(f"unexpected page: {len(items)} items, first {record}")
    item: dict[str, Any] = items[0]
    return item


def timed(samples: list[float], call: Callable[[], object]) -> Any:
    started = time.perf_counter()
    result = call()
    samples.append(time.perf_counter() - started)
    return result


Connect = Callable[[], "Caller | DatasetteCaller"]


def run_clients(
    connect: Connect,
    check: Callable[[httpx.Response], object],
    concurrency: int,
    requests: int,
) -> tuple[list[float], float, int]:
    """``requests`` pages over ``concurrency`` threads: (latencies, wall seconds, errors)."""
    counter = itertools.count()
    start = threading.Barrier(concurrency + 1)
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    errors = [0] * concurrency

    def work(slot: int) -> None:
        caller = connect()
        try:
            for n in range(4):  # warm-up: token, connection, caches
                check(caller.page(n))
            caller.headers()
            start.wait()
            while (n := next(counter)) < requests:
                caller.headers()
                answer = timed(latencies[slot], lambda n=n: caller.page(n))
                if answer.status_code != 200:
                    errors[slot] += 1
        finally:
            caller.close()

    threads = [threading.Thread(target=work, args=(i,), daemon=True) for i in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    started = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return [x for slot in latencies for x in slot], wall, sum(errors)


def sequential(connect: Connect, floor: str, count: int) -> tuple[list[float], ...]:
    """One client, one request at a time: ``floor`` (the HTTP floor) and pages."""
    caller = connect()
    health: list[float] = []
    pages: list[float] = []
    try:
        for n in range(4):  # warm-up
            caller.headers()
            caller.page(n)
        for n in range(count):
            timed(health, lambda: caller.http.get(floor))
            caller.headers()
            timed(pages, lambda n=n: caller.page(n))
    finally:
        caller.close()
    return health, pages


# --- in this process ---------------------------------------------------------------------


def statement(store: Store, sharing: Sharing, access: AccessContext, n: int) -> Select[Any]:
    """What ``select_records`` runs for request ``n``'s query."""
    filters = FILTERED if n % 2 else []
    decision = sharing.decide(Asked(access, "person", PURPOSE, "bench"), "read", filters=filters)
    kt = kind_table("person")
    query = select(kt.table).where(scope_clause(kt, decision.scope))
    for item in filters:
        query = query.where(filter_clause(store, kt, item))
    return query.order_by(kt.table.c.id).limit(PAGE)


def bare_sql(store: Store, statements: list[Select[Any]], count: int) -> list[float]:
    samples: list[float] = []
    for n in range(count + 20):
        started = time.perf_counter()
        with store.engine.connect() as conn:
            rows = conn.execute(statements[n % 2]).all()
        if n >= 20:  # the first ones warm the caches
            samples.append(time.perf_counter() - started)
        if len(rows) != PAGE:
            raise SystemExit(f"bare SQL returned {len(rows)} rows")
    return samples


def breakdown(
    store: Store, sharing: Sharing, verifier: TokenVerifier, token: str, pages: int
) -> dict[str, list[float]]:
    """Seconds per page of each step of the query path, run one after another."""
    steps: dict[str, list[float]] = {}

    def step(name: str, call: Callable[[], Any]) -> Any:
        return timed(steps.setdefault(name, []), call)

    kt = kind_table("person")
    encrypted = [c.name for c in kt.fields if c.encrypted]
    keyring = store.keyring
    for n in range(pages + 3):
        access = step("verify token", lambda: verifier.verify_access_token(token))
        filters = FILTERED if n % 2 else []
        decision = step(
            "policy decision",
            lambda f=filters, a=access: sharing.decide(
                Asked(a, "person", PURPOSE, "bench"), "read", filters=f
            ),
        )
        query = statement(store, sharing, access, n)

        def fetch(q: Select[Any] = query) -> list[Any]:
            with store.engine.connect() as conn:
                return list(conn.execute(q))

        rows = step("SQL (bare)", fetch)
        step(
            "  decrypt only",
            lambda r=rows: [
                keyring.decrypt(row._mapping[c], f"person.{c}")
                for row in r
                for c in encrypted
                if row._mapping[c] is not None
            ],
        )
        step("decode (decrypt + retype)", lambda r=rows: [store.stored(kt, row) for row in r])
        found = step(
            "select_rows (SQL + decode of granted columns)",
            lambda d=decision, f=filters: select_rows(
                store, "person", d.scope, list(d.treatments), f, limit=PAGE
            ),
        )
        asked = Asked(access, "person", PURPOSE, "bench")
        items = step(
            "field treatments",
            lambda d=decision, a=asked, f=found: [sharing.view(a, d, s) for s in f],
        )
        step(
            "JSON (orjson)",
            lambda i=items: json_response({"items": i, "next_cursor": "x"}),
        )
        step(
            "audit append",
            lambda d=decision, a=asked, f=found, fl=filters: sharing.audit.append(
                sharing.event(a, "records.query", "allowed", filters=fl, decision=d, found=f)
            ),
        )
        step(
            "Sharing.query in all",
            lambda a=asked, f=filters: sharing.query(
                a, fields=None, filters=f, cursor=None, limit=PAGE
            ),
        )
        if n < 3:  # warm-up rounds
            for samples in steps.values():
                samples.clear()
    return steps


# --- numbers -------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:8.2f} ms"


def summary(label: str, samples: list[float]) -> str:
    return (
        f"{label:<34} p50 {ms(pct(samples, 0.5))}  p90 {ms(pct(samples, 0.9))}  "
        f"p99 {ms(pct(samples, 0.99))}  max {ms(max(samples))}"
    )


@dataclass(frozen=True)
class Measured:
    """One server's numbers: the HTTP floor and pages at one client, then at C clients."""

    floor: list[float]
    single: list[float]
    loaded: list[float]
    wall: float
    errors: int

    @property
    def rate(self) -> float:
        return len(self.loaded) / self.wall

    def show(self, label: str, floor: str, concurrency: int) -> None:
        print(f"{label}, 1 client, {len(self.single)} requests each:")
        print(summary(f"  GET {floor} (HTTP floor)", self.floor))
        print(summary("  GET page", self.single))
        print(
            f"{label}, {concurrency} clients, {len(self.loaded):,} requests, {self.errors} errors:"
        )
        print(summary("  GET page", self.loaded))
        print(f"  throughput {self.rate:10,.0f} requests/s ({self.wall:.2f} s wall)")


def measure(
    connect: Connect, check: Callable[[httpx.Response], object], floor: str, args: Any
) -> Measured:
    alone = min(400, max(50, args.requests // 5))
    health, single = sequential(connect, floor, alone)
    loaded, wall, errors = run_clients(connect, check, args.concurrency, args.requests)
    return Measured(health, single, loaded, wall, errors)


def run(folder: Path, args: argparse.Namespace) -> None:
    config = prepare(folder, args.people, args.database_url)
    client_id, secret = register_client(config)
    per_grid = math.ceil(args.people / len(grids()))
    print(
        f"grid client {client_id}: grid {GRID.grid_code} (~{per_grid:,} persons in scope), "
        f"policy grid-platform, purpose {PURPOSE}, {PAGE} rows a page"
    )
    with serve(config, args.workers) as url:
        print(f"hub: uvicorn subprocess at {url}, {args.workers} worker(s)")

        def connect() -> Caller:
            return Caller(url, client_id, secret)

        probe = connect()
        try:
            sample = check_page(probe.page(0))
            check_page(probe.page(1))
        finally:
            probe.close()
        print(f"sample item: {json.dumps(sample, ensure_ascii=False, default=str)}")
        hub = measure(connect, check_page, "/health", args)
        last = connect()
        try:
            token = last.headers()["Authorization"].removeprefix("Bearer ")
        finally:
            last.close()
    peer: Measured | None = None
    database = config.home / "hub.db"
    if args.database_url is None and not args.no_datasette:
        with serve_datasette(database) as peer_url:
            print(f"datasette: subprocess at {peer_url} on {database}")

            def connect_peer() -> DatasetteCaller:
                return DatasetteCaller(peer_url, database.stem)

            probe_peer = connect_peer()
            try:
                check_datasette(probe_peer.page(0))
                check_datasette(probe_peer.page(1))
            finally:
                probe_peer.close()
            peer = measure(connect_peer, check_datasette, "/-/versions.json", args)
    print()
    hub.show("hub over HTTP", "/health", args.concurrency)
    if peer is not None:
        label = "datasette over HTTP (no token, policy, decryption or audit)"
        peer.show(label, "/-/versions.json", args.concurrency)

    store = open_store(config)
    try:
        log = AuditLog.for_store(store)
        sharing = Sharing(store, log, PolicyRegistry(log, config.home / "policies"))
        settings = AuthSettings(issuer=config.issuer, audience=config.audience)
        keys = SigningKeys(store, token_lifetime=settings.token_lifetime, leeway=settings.leeway)
        verifier = TokenVerifier(settings, keys, ClientRegistry(store))
        access = verifier.verify_access_token(token)
        statements = [statement(store, sharing, access, n) for n in range(2)]
        sql = bare_sql(store, statements, args.requests)
        steps = breakdown(store, sharing, verifier, token, min(100, args.requests))
    finally:
        store.close()
    sql_p50 = pct(sql, 0.5)
    sql_rate = len(sql) / sum(sql)
    print(f"bare SQL, same statements, sequential in this process, {len(sql):,} queries:")
    print(summary("  select ... limit 100", sql))
    print(f"  throughput {sql_rate:10,.0f} queries/s")
    print("ratios (hub over HTTP / bare SQL):")
    print(f"  p50 latency, {args.concurrency} clients {pct(hub.loaded, 0.5) / sql_p50:10.1f} x")
    print(f"  p50 latency, 1 client   {pct(hub.single, 0.5) / sql_p50:10.1f} x")
    print(f"  throughput              {hub.rate / sql_rate:10.3f} (hub req/s / SQL q/s)")
    if peer is not None:
        print("ratios (hub / datasette, same pages, same clients):")
        print(f"  p50 latency, 1 client   {pct(hub.single, 0.5) / pct(peer.single, 0.5):10.2f} x")
        print(f"  req/s, {args.concurrency} clients    {hub.rate / peer.rate:10.2f} x")
    pages = len(next(iter(steps.values())))
    print(f"where a page's time goes, in this process, {pages} pages one at a time (p50):")
    for name, samples in steps.items():
        print(f"  {name:<32} {ms(pct(samples, 0.5))}")
    against = f", {hub.rate / peer.rate:.2f}x datasette's {peer.rate:,.0f}" if peer else ""
    print(
        f"GET /v1/records/person p50 {pct(hub.single, 0.5) * 1000:.2f} ms, "
        f"p99 {pct(hub.single, 0.99) * 1000:.2f} ms at 1 connection; "
        f"{hub.rate:,.0f} req/s at {args.concurrency} connections "
        f"({args.workers} workers){against}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=1_000_000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--no-datasette", action="store_true", help="skip the peer")
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--folder", type=Path, default=None, help="kept, and reused next time")
    parser.add_argument("--database-url", default=None, help="PostgreSQL; default SQLite")
    args = parser.parse_args()
    if args.people < PAGE * len(grids()) * 2:
        parser.error(f"--people must be at least {PAGE * len(grids()) * 2}: a grid's full pages")
    if args.folder is not None:
        args.folder.mkdir(parents=True, exist_ok=True)
        run(args.folder, args)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            run(Path(tmp), args)


if __name__ == "__main__":
    main()
