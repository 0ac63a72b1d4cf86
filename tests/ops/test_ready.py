"""``/ready`` names the check that failed, with 503; ``/health`` looks at nothing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.api import create_app
from hub.cli import app as cli
from hub.config import load_config
from hub.reference.serve import serve_in_thread


def test_a_hub_without_policies_is_up_but_not_ready(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("HUB_DATABASE_URL", "HUB_ISSUER", "HUB_AUDIENCE"):
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(cli, ["init", "--home", str(tmp_path)]).exit_code == 0
    app = create_app(load_config(tmp_path))
    with serve_in_thread(app) as server, httpx.Client(base_url=server.url) as http:
        assert http.get("/health").status_code == 200
        ready = http.get("/ready")
        assert ready.status_code == 503
        checks = ready.json()["checks"]
        assert checks["policies"].startswith("no sharing policy in force")
        assert {checks[name] for name in ("database", "keys", "audit")} == {"ok"}
        assert ready.headers["x-request-id"]
