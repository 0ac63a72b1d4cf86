"""Scale: the latency of a grid client's 100-row page as the store grows, 100k to 10M persons.

    python benchmarks/scale.py [--sizes 100000,1000000,10000000] [--requests 400]
                               [--folder DIR] [--database-url URL]

For each size, the hub home of ``benchmarks/query.py`` (the same persons, policies and
client) in ``<folder>/<size>``, built once and reused by later runs (``--folder``, default
``./scale-data``: a 10M store takes a long while to build). With ``--database-url`` (a
PostgreSQL server) each size gets a database of its own on that server,
``hub_scale_<size>``, made if missing.

Each size is served by a uvicorn subprocess and asked, by one client one request at a
time, for the first page of the grid (half of them also filtered on household type), as
``benchmarks/query.py`` asks; bare SQL of the same statements is timed in this process
beside it. Prints p50/p99 per size, and each size's p50 over the smallest size's (the
goal: the largest at most 1.5x the smallest), then a one-line summary last. Not a test:
numbers move with the machine; run it on a quiet one.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.query import (
    Caller,
    bare_sql,
    check_page,
    ms,
    pct,
    prepare,
    register_client,
    sequential,
    serve,
    statement,
)
from hub.audit import AuditLog
from hub.auth import ClientRegistry
from hub.auth.keys import SigningKeys
from hub.auth.settings import AuthSettings
from hub.auth.verify import TokenVerifier
from hub.config import open_store
from hub.policyfiles import PolicyRegistry
from hub.sharing import Sharing


def database_for(server: str, size: int) -> str:
    """The URL of database ``hub_scale_<size>`` on ``server``, made if it is missing."""
    url = make_url(server)
    name = f"hub_scale_{size}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            found = conn.execute(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            ).first()
            if found is None:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def measure(folder: Path, size: int, args: argparse.Namespace) -> tuple[list[float], list[float]]:
    """(page latencies over HTTP, bare SQL latencies) at ``size`` persons."""
    url = database_for(args.database_url, size) if args.database_url else None
    config = prepare(folder / str(size), size, url)
    client_id, secret = register_client(config)
    with serve(config, 1) as served:

        def connect() -> Caller:
            return Caller(served, client_id, secret)

        probe = connect()
        try:
            check_page(probe.page(0))
            check_page(probe.page(1))
            token = probe.headers()["Authorization"].removeprefix("Bearer ")
        finally:
            probe.close()
        _floor, pages = sequential(connect, "/health", args.requests)
    store = open_store(config)
    try:
        log = AuditLog.for_store(store)
        sharing = Sharing(store, log, PolicyRegistry(log, config.home / "policies"))
        settings = AuthSettings(issuer=config.issuer, audience=config.audience)
        keys = SigningKeys(store, token_lifetime=settings.token_lifetime, leeway=settings.leeway)
        access = TokenVerifier(settings, keys, ClientRegistry(store)).verify_access_token(token)
        statements = [statement(store, sharing, access, n) for n in range(2)]
        sql = bare_sql(store, statements, args.requests)
    finally:
        store.close()
    return pages, sql


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100000,1000000,10000000")
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--folder", type=Path, default=Path("scale-data"))
    parser.add_argument("--database-url", default=None, help="a PostgreSQL server")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    backend = "PostgreSQL" if args.database_url else "SQLite"
    results: dict[int, tuple[list[float], list[float]]] = {}
    for size in sizes:
        print(f"--- {size:,} persons on {backend}", flush=True)
        results[size] = measure(args.folder, size, args)
    base_page = pct(results[sizes[0]][0], 0.5)
    base_sql = pct(results[sizes[0]][1], 0.5)
    print()
    print(f"{'persons':>12}  {'page p50':>11}  {'page p99':>11}  {'SQL p50':>11}  ratio (p50)")
    for size in sizes:
        pages, sql = results[size]
        print(
            f"{size:>12,}  {ms(pct(pages, 0.5))}  {ms(pct(pages, 0.99))}  "
            f"{ms(pct(sql, 0.5))}  page {pct(pages, 0.5) / base_page:5.2f} x, "
            f"SQL {pct(sql, 0.5) / base_sql:5.2f} x"
        )
    largest = sizes[-1]
    ratio = pct(results[largest][0], 0.5) / base_page
    print(
        f"GET /v1/records/person p50 {pct(results[largest][0], 0.5) * 1000:.2f} ms at "
        f"{largest:,} persons on {backend}, {ratio:.2f}x the p50 at {sizes[0]:,}"
    )


if __name__ == "__main__":
    main()
