"""A legitimate query's latency while the token endpoint is flooded with wrong secrets.

    python -m benchmarks.token_flood [--people 20000] [--threads 32] [--guesses 2000]
                                      [--queries 200] [--flood-from 127.0.0.2]

Builds a hub the way ``benchmarks/query.py`` does (and serves it the same way, uvicorn in a
subprocess on loopback), registers a grid-platform client and takes its token. Then one
caller asks ``GET /v1/records/person?purpose=网格服务&limit=100`` Q times at idle, and Q times
again while T threads send G token requests naming that client with wrong secrets, from
another loopback address (``--flood-from``: the server sees a different peer). Prints p50
and p99 of both, their ratios, and the flood's answers by status. Not a test: numbers move
with the machine.
"""

from __future__ import annotations

import argparse
import collections
import tempfile
import threading
import time
from pathlib import Path

import httpx

from benchmarks.query import PAGE, PURPOSE, Caller, ms, pct, prepare, register_client, serve


def queries(caller: Caller, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        answer = caller.http.get(
            "/v1/records/person",
            params={"purpose": PURPOSE, "limit": PAGE},
            headers=caller.headers(),
        )
        samples.append(time.perf_counter() - started)
        if answer.status_code != 200:
            raise SystemExit(f"the legitimate query failed: {answer.status_code} {answer.text}")
    return samples


def flood(
    url: str, client_id: str, threads: int, guesses: int, source: str, done: threading.Event
) -> collections.Counter[int]:
    statuses: collections.Counter[int] = collections.Counter()
    lock = threading.Lock()
    left = iter(range(guesses))

    def work() -> None:
        transport = httpx.HTTPTransport(local_address=source)
        with httpx.Client(base_url=url, transport=transport, timeout=60) as http:
            while True:
                with lock:
                    n = next(left, None)
                if n is None:
                    return
                answer = http.post(
                    "/oauth/token",
                    data={"grant_type": "client_credentials"},
                    auth=(client_id, f"wrong-{n}"),
                )
                with lock:
                    statuses[answer.status_code] += 1

    workers = [threading.Thread(target=work) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    done.set()
    return statuses


def run(folder: Path, args: argparse.Namespace) -> None:
    config = prepare(folder, args.people, None)
    client_id, secret = register_client(config)
    with serve(config) as url:
        print(f"server: uvicorn subprocess at {url}; flood from {args.flood_from}")
        caller = Caller(url, client_id, secret)
        try:
            caller.headers()
            queries(caller, 20)
            idle = queries(caller, args.queries)
            done = threading.Event()
            result: dict[str, collections.Counter[int]] = {}
            flooder = threading.Thread(
                target=lambda: result.setdefault(
                    "statuses",
                    flood(url, client_id, args.threads, args.guesses, args.flood_from, done),
                )
            )
            started = time.perf_counter()
            flooder.start()
            time.sleep(0.2)
            loaded = queries(caller, args.queries)
            flooder.join()
            wall = time.perf_counter() - started
        finally:
            caller.close()
    statuses = result["statuses"]
    print(f"legitimate query, {args.queries} sequential requests each:")
    print(f"  idle          p50 {ms(pct(idle, 0.5))}  p99 {ms(pct(idle, 0.99))}")
    print(f"  under flood   p50 {ms(pct(loaded, 0.5))}  p99 {ms(pct(loaded, 0.99))}")
    print(
        f"  ratio         p50 {pct(loaded, 0.5) / pct(idle, 0.5):8.2f} x    "
        f"p99 {pct(loaded, 0.99) / pct(idle, 0.99):8.2f} x"
    )
    answered = ", ".join(f"{status}: {n}" for status, n in sorted(statuses.items()))
    print(
        f"flood: {args.guesses} wrong-secret token requests from {args.threads} threads "
        f"in {wall:.1f} s; answers {answered}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=20_000)
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--guesses", type=int, default=2000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--flood-from", default="127.0.0.2")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run(Path(tmp), args)


if __name__ == "__main__":
    main()
