"""A policy installed while the hub serves is in force within seconds, and every version
an audit entry names stays readable."""

from __future__ import annotations

import re
import shutil
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from hub.api import create_app
from hub.audit import AuditLog
from hub.auth import ClientRegistry
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.reference.serve import serve_in_thread
from policies import load_policy
from tests.api.conftest import EXAMPLES, GENEROUS, GRID

runner = CliRunner()


def test_an_installed_policy_is_in_force_within_5_seconds(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(cli, ["init", "--home", str(home)]).exit_code == 0
    (home / "policies").mkdir()
    shutil.copy(EXAMPLES / "grid-platform.yaml", home / "policies")
    config = load_config(home)
    store = open_store(config)
    new = ClientRegistry(store).add(
        "grid", "grid-platform", ["person.read"], {"grid_codes": [GRID]}
    )
    log = AuditLog.for_store(store)
    shipped = load_policy(EXAMPLES / "grid-platform.yaml").version
    narrowed = tmp_path / "grid-next.yaml"
    text = (EXAMPLES / "grid-platform.yaml").read_text("utf-8")
    narrowed.write_text(
        text.replace(f"version: {shipped}", f"version: {shipped + 1}").replace(
            "      name: allow\n", ""
        ),
        "utf-8",
    )
    try:
        with (
            serve_in_thread(create_app(config, rate=1000, burst=1000, **GENEROUS)) as server,
            httpx.Client(base_url=server.url) as http,
        ):
            answer = http.post(
                "/oauth/token",
                data={"grant_type": "client_credentials"},
                auth=(new.client.client_id, new.secret or ""),
            )
            headers = {"Authorization": f"Bearer {answer.json()['access_token']}"}

            def ask() -> httpx.Response:
                return http.get(
                    "/v1/records/person", params={"purpose": "网格服务"}, headers=headers
                )

            before = ask()
            assert before.status_code == 200
            installed = runner.invoke(
                cli, ["policy", "install", str(narrowed), "--home", str(home)]
            )
            assert installed.exit_code == 0, installed.output
            started = time.monotonic()
            while True:
                rid = ask().headers["x-request-id"]
                versions = [
                    e.event.policy_version
                    for e in log.search(action="records.query", limit=10**6)
                    if e.event.request_id == rid
                ]
                if versions == [shipped + 1]:
                    break
                assert time.monotonic() - started < 5, "the new version is not in force after 5 s"
                time.sleep(0.2)
            denied = http.get(
                "/v1/records/person",
                params={"purpose": "网格服务", "fields": "name"},
                headers=headers,
            )
            assert denied.status_code == 403
    finally:
        store.close()
    shown = runner.invoke(cli, ["policy", "show", f"grid-platform@{shipped}", "--home", str(home)])
    assert shown.exit_code == 0, shown.output
    assert f"version: {shipped}" in shown.stdout
    assert re.search(r"^ +name: allow$", shown.stdout, re.MULTILINE)
    current = runner.invoke(cli, ["policy", "show", "grid-platform", "--home", str(home)])
    assert f"version: {shipped + 1}" in current.stdout
    assert not re.search(r"^ +name: allow$", current.stdout, re.MULTILINE)
    changes = [e for e in log.search(action="policy.changed", limit=100)]
    assert [e.event.policy_version for e in changes] == [shipped, shipped + 1]
