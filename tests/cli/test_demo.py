from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config, open_store
from hub.reference.world import generate

pytestmark = pytest.mark.slow


def test_demo_syncs_every_reference_source_and_quarantines_exactly_the_broken_rows(
    tmp_path: Path,
) -> None:
    home = tmp_path / "hub"
    umask = os.umask(0o022)
    try:
        _demo(home)
    finally:
        os.umask(umask)
    paths = [home, *home.rglob("*")]
    assert {p.name for p in paths} >= {"sources.yaml", "demo-clients.json", "police.db"}
    assert [str(p) for p in paths if p.stat().st_mode & 0o077] == []


def _demo(home: Path) -> None:
    result = CliRunner().invoke(
        app, ["demo", "--home", str(home), "--people", "300", "--seed", "3", "--no-serve"]
    )
    assert result.exit_code == 0, result.output
    [path] = (home / "reports").glob("*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert {s["source"] for s in report["streams"]} == {
        "police_db",
        "grid_platform",
        "declarations",
    }
    for stream in report["streams"]:
        assert stream["error"] is None
        assert stream["read"] == stream["stored"] + stream["quarantined"]
    world = generate(people=300, seed=3)
    assert report["totals"]["quarantined"] == len(world.defects)
    store = open_store(load_config(home))
    try:
        assert len(store.quarantined()) == len(world.defects)
    finally:
        store.close()
    assert "missed" in result.output
    assert report["expectations"]
    assert all(e["success"] for e in report["expectations"]), [
        e for e in report["expectations"] if not e["success"]
    ]
    page = CliRunner().invoke(app, ["report", "latest", "--format", "html", "--home", str(home)])
    assert page.exit_code == 0
    assert page.output.startswith("<!DOCTYPE html>")
    assert report["run_id"] in page.output
    assert CliRunner().invoke(app, ["report", "../../etc", "--home", str(home)]).exit_code == 2
