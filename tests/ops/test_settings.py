"""Settings: config.json under the HUB_* environment, secrets by file, the external IdP,
and ``hub config show`` with secrets redacted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.auth.settings import ExternalIdP, OperatorIdP
from hub.cli import app as cli
from hub.config import (
    DEFAULT_ISSUER,
    REDACTED,
    ExternalIdPEnv,
    HubConfig,
    HubEnv,
    OperatorIdPEnv,
    load_config,
    save_config,
)
from hub.errors import ConfigError

PG = "postgresql://hub:s3cr3t-pw@db.internal:5432/hub?sslmode=require&sslpassword=k3y-pw"


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HUB_DATABASE_URL", "HUB_ISSUER", "HUB_AUDIENCE", "HUB_HOME"):
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(cli, ["init", "--home", str(tmp_path)]).exit_code == 0
    return tmp_path


def test_every_option_has_an_environment_variable() -> None:
    assert set(HubConfig.model_fields) - {"home"} == set(HubEnv.model_fields)
    assert set(ExternalIdP.model_fields) == set(ExternalIdPEnv.model_fields)
    assert set(OperatorIdP.model_fields) == set(OperatorIdPEnv.model_fields)


def test_the_environment_wins_over_the_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert not load_config(home).issuer_chosen
    monkeypatch.setenv("HUB_ISSUER", "https://hub.example.org")
    monkeypatch.setenv("HUB_AUDIENCE", "https://hub.example.org/api")
    config = load_config(home)
    assert config.issuer == "https://hub.example.org"
    assert config.issuer_chosen
    assert config.audience == "https://hub.example.org/api"


def test_a_config_written_before_serve_did_not_choose_its_issuer(home: Path) -> None:
    stored = json.loads((home / "config.json").read_text())
    (home / "config.json").write_text(json.dumps({**stored, "issuer": DEFAULT_ISSUER}))
    assert not load_config(home).issuer_chosen
    save_config(load_config(home).model_copy(update={"issuer": "https://hub.example.org"}))
    assert load_config(home).issuer == "https://hub.example.org"


def test_a_secret_comes_from_a_file(
    home: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = tmp_path_factory.mktemp("secrets") / "db_url"
    secret.write_text(PG + "\n")
    monkeypatch.setenv("HUB_DATABASE_URL_FILE", str(secret))
    assert load_config(home).database_url == PG
    monkeypatch.setenv("HUB_DATABASE_URL", "sqlite:///elsewhere.db")
    with pytest.raises(ConfigError, match="both HUB_DATABASE_URL and HUB_DATABASE_URL_FILE"):
        load_config(home)
    monkeypatch.delenv("HUB_DATABASE_URL")
    monkeypatch.setenv("HUB_DATABASE_URL_FILE", str(secret.parent / "missing"))
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(home)


def test_the_external_idp_is_configured_from_file_and_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stored = json.loads((home / "config.json").read_text())
    idp = {"issuer": "https://idp.example.org", "audience": "urn:hub:api", "jwks_uri": "x"}
    (home / "config.json").write_text(json.dumps({**stored, "external_idp": idp}))
    with pytest.raises(ConfigError, match="jwks_uri") as refused:
        load_config(home)
    assert "idp.example.org" not in str(refused.value)
    monkeypatch.setenv("HUB_EXTERNAL_IDP__JWKS_URI", "https://idp.example.org/jwks")
    monkeypatch.setenv("HUB_EXTERNAL_IDP__ALGORITHMS", '["ES256"]')
    external = load_config(home).external_idp
    assert external is not None
    assert external.issuer == "https://idp.example.org"
    assert external.jwks_uri == "https://idp.example.org/jwks"
    assert external.algorithms == ("ES256",)
    monkeypatch.setenv("HUB_EXTERNAL_IDP__ALGORITHMS", '["HS256"]')
    with pytest.raises(ConfigError, match="asymmetric"):
        load_config(home)


def test_config_show_redacts_secrets(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HUB_DATABASE_URL", PG)
    result = CliRunner().invoke(cli, ["config", "show", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "s3cr3t-pw" not in result.output
    assert "k3y-pw" not in result.output
    shown = json.loads(result.output)
    assert shown["database_url"].startswith("postgresql://hub:***@db.internal:5432/hub?")
    assert "sslmode=require" in shown["database_url"]
    assert shown["issuer"] == DEFAULT_ISSUER
    assert shown["external_idp"] is None


def test_the_operators_provider_secret_is_kept_and_never_shown(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Saved as it was given (``hub serve`` saves the config it chose an issuer in), set
    over by the environment, never printed by ``hub config show``."""
    secret = "s3cr3t-a"  # noqa: S105 (a test's own)
    idp = OperatorIdP(issuer="https://idp.example.org", client_id="hub", client_secret=secret)
    save_config(load_config(home).model_copy(update={"operator_oidc": idp}))
    stored = load_config(home).operator_oidc
    assert stored is not None
    assert stored.client_secret is not None
    assert stored.client_secret.get_secret_value() == "s3cr3t-a"
    assert "s3cr3t-a" not in repr(stored)
    monkeypatch.setenv("HUB_OPERATOR_OIDC__CLIENT_SECRET", "s3cr3t-b")
    monkeypatch.setenv("HUB_OPERATOR_OIDC__SUBJECT_CLAIM", "preferred_username")
    result = CliRunner().invoke(cli, ["config", "show", "--home", str(home)])
    assert result.exit_code == 0, result.output
    assert "s3cr3t" not in result.output
    shown = json.loads(result.output)["operator_oidc"]
    assert shown["client_secret"] == REDACTED
    assert shown["subject_claim"] == "preferred_username"
    over = load_config(home).operator_oidc
    assert over is not None
    assert over.client_secret is not None
    assert over.client_secret.get_secret_value() == "s3cr3t-b"


def test_an_invalid_value_is_refused_without_echoing_it(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_EXTERNAL_IDP__CACHE_TTL", "not-a-number-s3cr3t")
    result = CliRunner().invoke(cli, ["config", "show", "--home", str(home)])
    assert result.exit_code == 2
    assert "s3cr3t" not in result.output
