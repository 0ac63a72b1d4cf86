"""Administrative changes (policies installed, clients added and revoked) are audited."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hub.audit import AuditLog
from hub.cli import app
from hub.config import load_config, open_store

POLICY = Path(__file__).parents[2] / "policies" / "examples" / "grid-platform.yaml"
runner = CliRunner()


def test_policy_and_client_changes_are_in_the_audit_log(tmp_path: Path) -> None:
    home = str(tmp_path / "hub")
    assert runner.invoke(app, ["init", "--home", home]).exit_code == 0
    added = runner.invoke(
        app,
        [
            "clients",
            "add",
            "网格",
            "--policy",
            str(POLICY),
            "--claim",
            "grid_codes=G1",
            "--home",
            home,
        ],
    )
    assert added.exit_code == 0, added.output
    client_id = next(
        line.split(": ")[1] for line in added.output.splitlines() if line.startswith("client_id")
    )
    again = runner.invoke(app, ["clients", "add", "网格2", "--policy", str(POLICY), "--home", home])
    assert again.exit_code == 0
    explained = runner.invoke(
        app, ["policy", "explain", "person.id_number", "--home", home], env={"COLUMNS": "200"}
    )
    assert explained.exit_code == 0
    assert "网格2" in explained.output
    assert "grid-platform@v3" in explained.output
    assert runner.invoke(app, ["clients", "revoke", client_id, "--home", home]).exit_code == 0
    store = open_store(load_config(Path(home)))
    try:
        log = AuditLog.for_store(store)
        actions = [e.event.action for e in log.search(limit=100)]
        assert log.verify().ok
    finally:
        store.close()
    assert actions.count("policy.changed") == 1
    assert actions.count("client.added") == 2
    assert actions.count("client.revoked") == 1
    assert runner.invoke(app, ["audit", "verify", "--home", home]).exit_code == 0
