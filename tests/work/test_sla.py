"""The work orders' service levels: defaults, per type, from config.json or the HUB_*
environment (a ``_FILE`` reference holding JSON too), positive durations only."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

from contracts import OrderType
from hub.cli import app as cli
from hub.config import load_config
from hub.errors import ConfigError
from hub.work.sla import Sla, SlaEnv, TypeSla

T0 = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("HUB_DATABASE_URL", "HUB_HOME", "HUB_WORK_ORDERS", "HUB_WORK_ORDERS_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert CliRunner().invoke(cli, ["init", "--home", str(tmp_path)]).exit_code == 0
    return tmp_path


def test_defaults_and_per_type_levels() -> None:
    sla = Sla(by_type={OrderType.DISPUTE: TypeSla(close_within=dt.timedelta(hours=12))})
    assert sla.accept_by(OrderType.GROUP_RENTAL, T0) == T0 + dt.timedelta(hours=2)
    assert sla.due_at(OrderType.GROUP_RENTAL, T0) == T0 + dt.timedelta(days=3)
    assert sla.due_at(OrderType.DISPUTE, T0) == T0 + dt.timedelta(hours=12)
    assert sla.accept_by(OrderType.DISPUTE, T0) == T0 + dt.timedelta(hours=2)
    assert set(SlaEnv.model_fields) == set(Sla.model_fields)


@pytest.mark.parametrize("value", ["PT0S", "-PT1H"])
def test_a_level_is_a_positive_duration(value: str) -> None:
    with pytest.raises(ValidationError):
        Sla.model_validate({"accept_within": value})
    with pytest.raises(ValidationError):
        Sla.model_validate({"by_type": {"其他": {"close_within": value}}})


def test_levels_from_the_file_and_the_environment(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert load_config(home).work_orders == Sla()
    stored = json.loads((home / "config.json").read_text())
    levels = {"close_within": "P5D", "by_type": {"矛盾纠纷": {"close_within": "P1D"}}}
    (home / "config.json").write_text(json.dumps(stored | {"work_orders": levels}))
    monkeypatch.setenv("HUB_WORK_ORDERS__ACCEPT_WITHIN", "PT1H")
    sla = load_config(home).work_orders
    assert sla.accept_within == dt.timedelta(hours=1)
    assert sla.close_within == dt.timedelta(days=5)
    assert sla.by_type[OrderType.DISPUTE].close_within == dt.timedelta(days=1)


def test_levels_from_a_file_reference(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    levels = home / "levels.json"
    levels.write_text(json.dumps({"near_due_within": "PT8H"}))
    monkeypatch.setenv("HUB_WORK_ORDERS_FILE", str(levels))
    assert load_config(home).work_orders.near_due_within == dt.timedelta(hours=8)
    monkeypatch.setenv("HUB_WORK_ORDERS__BY_TYPE", '{"不存在的类型": {}}')
    monkeypatch.delenv("HUB_WORK_ORDERS_FILE")
    with pytest.raises(ConfigError, match="work_orders"):
        load_config(home)
