"""``hub contracts check --grids`` and ``hub grids load/show``: the registry from a file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config, open_store
from hub.grids import load_registry, write_registry_file
from hub.reference.grids import world_registry
from hub.reference.world import generate

runner = CliRunner()


def _registry_file(tmp_path: Path) -> Path:
    path = tmp_path / "grids.yaml"
    write_registry_file(world_registry(), path)
    return path


def _people_file(tmp_path: Path) -> Path:
    people = [
        dict(p, birth_date=p["birth_date"].isoformat()) for p in generate(people=5).people[:4]
    ]
    people[1]["grid_code"] = "G32010401019"  # the structure's, but not listed
    people[2] |= {"grid_code": "G32010401011", "beat_code": "B3201060202"}  # not its beat
    people[3]["grid_code"] = "ZZZ"
    file = tmp_path / "people.jsonl"
    file.write_text("\n".join(json.dumps(p, ensure_ascii=False) for p in people) + "\n")
    return file


def test_check_flags_an_unknown_grid_and_a_beat_that_disagrees(tmp_path: Path) -> None:
    file, grids = _people_file(tmp_path), _registry_file(tmp_path)
    result = runner.invoke(app, ["contracts", "check", "person", str(file), "--grids", str(grids)])
    assert result.exit_code == 1, result.output
    found = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert [(f["row"], f["field"], f["rule"]) for f in found] == [
        (2, "grid_code", "unknown_grid"),
        (3, "beat_code", "grid_beat_mismatch"),
        (4, "grid_code", "unknown_grid"),
    ]
    assert found[1]["message"] == "grid G32010401011 lies in beat B3201040101, not B3201060202"
    without = runner.invoke(app, ["contracts", "check", "person", str(file)])
    assert without.exit_code == 0, without.output


def test_check_refuses_a_broken_registry_file(tmp_path: Path) -> None:
    file = _people_file(tmp_path)
    grids = tmp_path / "bad.yaml"
    grids.write_text("grids:\n  - {code: G1, name: x, type: 基础网格, community: '1', beat: B}\n")
    result = runner.invoke(app, ["contracts", "check", "person", str(file), "--grids", str(grids)])
    assert result.exit_code == 2
    assert "G1 community: a community code has 12 digits" in " ".join(result.output.split())


def test_load_then_show(tmp_path: Path) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    shown = runner.invoke(app, ["grids", "show", "--home", str(home)])
    assert "no grid registry loaded" in shown.output
    loaded = runner.invoke(
        app, ["grids", "load", str(_registry_file(tmp_path)), "--home", str(home)]
    )
    assert loaded.exit_code == 0, loaded.output
    assert "loaded 36 grids, 12 beats" in loaded.output
    shown = runner.invoke(app, ["grids", "show", "--home", str(home)], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "36 grids" in shown.output
    assert "专属网格/学校" in shown.output
    store = open_store(load_config(home))
    try:
        with store.engine.connect() as conn:
            assert load_registry(conn) == world_registry()
    finally:
        store.close()
