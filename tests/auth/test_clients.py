"""The client registry on each backend, and ``hub clients add|list|revoke``."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from joserfc.jwk import OctKey, OKPKey
from sqlalchemy import select
from typer.testing import CliRunner

from hub.auth import ClientRegistry, ClientRejected, UnknownClient
from hub.cli import app
from hub.store import Keyring, Store
from hub.store.tables import clients

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
runner = CliRunner()


def test_registry_keeps_a_hash_and_revokes_once(store: Store) -> None:
    registry = ClientRegistry(store)
    new = registry.add(
        "社区网格平台", "grid-platform", ["person.read"], {"grid_codes": ["G1", "G1"]}
    )
    assert new.secret is not None
    assert len(new.secret) >= 43
    client = registry.get(new.client.client_id)
    assert client is not None
    assert client.claims == {"grid_codes": ("G1",)}
    assert client.scopes == {"person.read"}
    assert client.check_secret(new.secret)
    assert not client.check_secret(new.secret[:-1])
    with store.engine.connect() as conn:
        stored = conn.execute(select(clients.c.secret_hash)).scalar_one()
    assert stored.startswith("scrypt$")
    assert new.secret not in stored

    first = registry.revoke(client.client_id).revoked_at
    assert first is not None
    assert registry.revoke(client.client_id).revoked_at == first
    assert registry.list(include_revoked=False) == []
    assert [c.client_id for c in registry.list()] == [client.client_id]
    with pytest.raises(UnknownClient):
        registry.revoke("cl_nobody")

    until = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=90)
    assert registry.remember_assertion(client.client_id, "j1", until)
    assert not registry.remember_assertion(client.client_id, "j1", until)
    assert registry.remember_assertion(client.client_id, "j2", until)


@pytest.mark.parametrize(
    ("scopes", "claims", "jwks", "problem"),
    [
        (["person.read"], {"iss": ["x"]}, None, "reserved"),
        (["person.read"], {"grid_codes": []}, None, "at least one"),
        (["person.read"], {"grid_codes": "G1"}, None, "list of codes"),
        (["person.delete"], {}, None, "unknown scope"),
        ([], {}, None, "at least one scope"),
        (["person.read"], {}, "private", "private material"),
        (["person.read"], {}, "symmetric", "symmetric"),
        (["person.read"], {}, "garbage", "not readable"),
    ],
)
def test_registry_refuses_bad_registrations(
    tmp_path: Path, scopes: list[str], claims: dict[str, object], jwks: str | None, problem: str
) -> None:
    store = Store.open(f"sqlite:///{tmp_path / 'r.db'}", Keyring.generate())
    key_sets: dict[str, dict[str, Any]] = {
        "private": {"keys": [OKPKey.generate_key("Ed25519").as_dict(private=True)]},
        "symmetric": {"keys": [OctKey.generate_key(256).as_dict(private=True)]},
        "garbage": {"keys": [{"kty": "EC", "crv": "P-256"}]},
    }
    with pytest.raises(ClientRejected, match=problem):
        ClientRegistry(store).add(
            "x",
            "grid-platform",
            scopes,
            claims,  # type: ignore[arg-type]
            key_sets.get(jwks or ""),
        )
    store.close()


def hub_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    return home


def test_cli_adds_lists_and_revokes(tmp_path: Path) -> None:
    home = hub_home(tmp_path)
    policy = EXAMPLES / "grid-platform.yaml"
    added = runner.invoke(
        app,
        [
            "clients", "add", "秦淮区网格平台", "--policy", str(policy),
            "--claim", "grid_codes=G3201040101,G3201040102", "--home", str(home),
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    lines = dict(line.split(": ", 1) for line in added.stdout.splitlines() if ": " in line)
    client_id, secret = lines["client_id"], lines["client_secret"]
    assert (home / "policies" / "grid-platform.yaml").read_bytes() == policy.read_bytes()

    listed = runner.invoke(app, ["clients", "list", "--home", str(home)], env={"COLUMNS": "300"})
    assert listed.exit_code == 0
    assert client_id in listed.stdout
    assert "grid-platform" in listed.stdout
    assert "incident.write" in listed.stdout  # default scopes: what the policy grants
    assert secret not in listed.stdout

    revoked = runner.invoke(app, ["clients", "revoke", client_id, "--home", str(home)])
    assert revoked.exit_code == 0
    assert (
        runner.invoke(app, ["clients", "revoke", "cl_nobody", "--home", str(home)]).exit_code == 2
    )


def test_cli_refuses_what_the_policy_does_not_grant_and_a_changed_policy(tmp_path: Path) -> None:
    home = hub_home(tmp_path)
    policy = EXAMPLES / "grid-platform.yaml"
    base = ["clients", "add", "网格", "--policy", str(policy), "--home", str(home)]
    beyond = runner.invoke(app, [*base, "--scope", "person.write"])
    assert beyond.exit_code == 2
    assert "not granted by policy grid-platform@v3" in beyond.output

    assert runner.invoke(app, [*base, "--scope", "audit.read"]).exit_code == 0
    changed = tmp_path / "grid.yaml"
    changed.write_text(policy.read_text(encoding="utf-8").replace("走访核查", "其他"), "utf-8")
    conflict = runner.invoke(app, [*base[:3], "--policy", str(changed), "--home", str(home)])
    assert conflict.exit_code == 2
    assert "higher version" in " ".join(conflict.output.split())  # rich wraps long paths

    bumped = tmp_path / "grid-v4.yaml"
    bumped.write_text(changed.read_text("utf-8").replace("version: 3", "version: 4"), "utf-8")
    assert (
        runner.invoke(app, [*base[:3], "--policy", str(bumped), "--home", str(home)]).exit_code == 0
    )
    assert "version: 4" in (home / "policies" / "grid-platform.yaml").read_text("utf-8")


def test_cli_jwks_client_gets_no_secret(tmp_path: Path) -> None:
    home = hub_home(tmp_path)
    jwks = tmp_path / "jwks.json"
    key = OKPKey.generate_key("Ed25519", auto_kid=True)
    jwks.write_text(json.dumps({"keys": [key.as_dict(private=False)]}))
    added = runner.invoke(
        app,
        [
            "clients", "add", "派出所", "--policy", str(EXAMPLES / "police-station.yaml"),
            "--jwks", str(jwks), "--claim", "beat_codes=B1", "--home", str(home),
        ],
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    assert "client_id: cl_" in added.stdout
    assert "client_secret" not in added.stdout
