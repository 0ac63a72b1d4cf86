"""``hub serve --workers 2`` in a real subprocess: ready, discovery names the port it
serves, a private_key_jwt assertion addressed there is accepted, every worker's metrics in
one scrape, JSON log lines with no ID number in them, and a graceful SIGTERM that lets a
request in flight finish."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OKPKey
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.reference.world import generate
from hub.store.tables import sync_claims

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
HUB = Path(sys.executable).parent / "hub"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
KEY = OKPKey.generate_key("Ed25519", auto_kid=True)

pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    process: subprocess.Popen[bytes]
    url: str
    port: int
    client_id: str
    log: Path

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=40)

    def lines(self) -> list[dict[str, object]]:
        return [json.loads(line) for line in self.log.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    home = tmp_path_factory.mktemp("served")
    assert CliRunner().invoke(cli, ["init", "--home", str(home)]).exit_code == 0
    shutil.copytree(EXAMPLES, home / "policies")
    store = open_store(load_config(home))
    jwks = {"keys": [KEY.as_dict(private=False)]}
    claims = {"beat_codes": ["B3201040101"]}
    added = ClientRegistry(store).add("派出所", "police-station", ["person.read"], claims, jwks)
    an_hour_ago = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    with store.begin() as tx:  # two streams as a worker leaves them: one synced, one never
        for stream, success in (("people", an_hour_ago), ("houses", None)):
            tx.conn.execute(
                sync_claims.insert().values(
                    source_system="police_db",
                    stream=stream,
                    due_at=an_hour_ago,
                    last_success_at=success,
                    runs=1,
                )
            )
    store.close()
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "PROMETHEUS_"))}
    log = home.parent / f"{home.name}.log"
    with log.open("wb") as stderr:
        process = subprocess.Popen(
            [HUB, "serve", "--home", str(home), "--port", str(port), "--workers", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    served = Served(process, f"http://127.0.0.1:{port}", port, added.client.client_id, log)
    try:
        _wait_ready(served)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _wait_ready(served: Served) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert served.process.poll() is None, served.log.read_text()
        try:
            if httpx.get(f"{served.url}/ready", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not ready: {served.log.read_text()}")


def _assertion(client_id: str, audience: str) -> str:
    now = int(time.time())
    claims = {"iss": client_id, "sub": client_id, "aud": audience, "iat": now, "exp": now + 60}
    claims["jti"] = uuid.uuid4().hex
    return jwt.encode({"alg": "Ed25519", "kid": KEY.kid}, claims, KEY, algorithms=["Ed25519"])


def _samples(http: httpx.Client) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    scrape = http.get("/metrics")
    assert scrape.status_code == 200
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(scrape.text)
        for s in family.samples
    }


def test_two_workers_serve_the_hub_at_the_port_they_bind(served: Served) -> None:
    with httpx.Client(base_url=served.url) as http:
        ready = http.get("/ready").json()
        lag = ready.pop("sync_lag")
        assert ready == {
            "status": "ready",
            "checks": {"database": "ok", "keys": "ok", "policies": "ok", "audit": "ok"},
        }
        assert lag["police_db/houses"] is None
        assert 3600 <= lag["police_db/people"] < 3600 + 600
        meta = http.get("/.well-known/oauth-authorization-server").json()
        assert meta["issuer"] == served.url
        assert meta["token_endpoint"] == f"{served.url}/oauth/token"

        id_number = generate(people=3, seed=5).people[0]["id_number"]
        for _ in range(3):  # several tokens: the two workers both answer some
            form = {
                "grant_type": "client_credentials",
                "client_assertion_type": ASSERTION_TYPE,
                "client_assertion": _assertion(served.client_id, meta["token_endpoint"]),
            }
            answer = http.post("/oauth/token", data=form)
            assert answer.status_code == 200, answer.text
            token = answer.json()["access_token"]
            found = http.get(
                "/v1/records/person",
                params={"purpose": "社区警务", "id_number": id_number},
                headers={"Authorization": f"Bearer {token}"},
            )
            assert found.status_code == 200, found.text
        samples = _samples(http)

    def value(name: str, **labels: str) -> float:
        return samples.get((name, frozenset(labels.items())), 0.0)

    assert value("hub_http_requests_total", method="POST", route="/oauth/token", status="200") == 3
    assert value("hub_http_requests_total", method="GET", route="/v1/records/{kind}", status="200")
    assert value("hub_http_request_duration_seconds_count", method="GET", route="/ready") >= 2
    decided = value(
        "hub_policy_decisions_total",
        policy="police-station",
        action="token.issued",
        outcome="allowed",
    )
    assert decided == 3
    reads = [
        labels
        for (name, labels), n in samples.items()
        if name == "hub_policy_decisions_total"
        and n >= 3
        and ("action", "token.issued") not in labels
    ]
    assert reads, "the sharing service's decisions are counted"
    assert value("hub_audit_entries_total", action="token.issued") == 3
    people = value("hub_sync_lag_seconds", source="police_db", stream="people")
    assert 3600 <= people < 3600 + 600
    assert value("hub_sync_lag_seconds", source="police_db", stream="houses") == float("inf")
    for (name, labels), _ in samples.items():
        assert id_number not in name + repr(sorted(labels))

    lines = served.lines()
    requests = [line for line in lines if line.get("msg") == "request"]
    records = [line for line in requests if line["route"] == "/v1/records/{kind}"]
    assert records
    assert {"request_id", "client_id", "route", "status", "duration_ms"} <= set(records[0])
    assert records[0]["client_id"] == served.client_id
    assert records[0]["status"] == 200
    assert id_number not in served.log.read_text()


def test_sigterm_lets_a_request_in_flight_finish(served: Served) -> None:
    body = b"grant_type=client_credentials&scope=person.read"
    head = (
        f"POST /oauth/token HTTP/1.1\r\nHost: 127.0.0.1:{served.port}\r\n"
        "Authorization: Basic bm8tc3VjaDpjbGllbnQ=\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", served.port), timeout=20) as conn:
        conn.sendall(head + body[:10])
        time.sleep(0.3)
        served.process.send_signal(signal.SIGTERM)
        time.sleep(1.0)
        conn.sendall(body[10:])
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 401"), answer[:200]
    assert served.process.wait(timeout=40) == 0
    assert all(isinstance(line, dict) for line in served.lines())
