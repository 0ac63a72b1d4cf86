from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from hub.cli import app
from hub.config import load_config, open_store
from hub.reference.world import generate
from hub.store.tables import deliveries

pytestmark = pytest.mark.slow


def test_demo_syncs_every_reference_source_and_quarantines_exactly_the_broken_rows(
    tmp_path: Path,
) -> None:
    home = tmp_path / "hub"
    umask = os.umask(0o022)
    try:
        output = _demo(home)
    finally:
        os.umask(umask)
    _the_loop_was_told(home, output)
    again = CliRunner().invoke(
        app, ["demo", "--home", str(home), "--people", "300", "--seed", "3", "--no-serve"]
    )
    assert again.exit_code == 0, again.output  # the story runs again over its own past
    assert again.output.count("webhook: work_order.transitioned") == 8
    paths = [home, *home.rglob("*")]
    assert {p.name for p in paths} >= {"sources.yaml", "demo-clients.json", "police.db"}
    assert [str(p) for p in paths if p.stat().st_mode & 0o077] == []


def _demo(home: Path) -> str:
    result = CliRunner().invoke(
        app,
        ["demo", "--home", str(home), "--people", "300", "--seed", "3", "--no-serve"],
        env={"COLUMNS": "240"},
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
    world = generate(people=300, seed=3, registry_defects=True)
    assert report["totals"]["quarantined"] == len(world.defects)
    store = open_store(load_config(home))
    try:
        assert len(store.quarantined()) == len(world.defects)
    finally:
        store.close()
    assert "missed" in result.output
    assert re.search(r"police_db/people \(grid registry\)\s*│\s*3\s*│\s*3\s*│\s*0", result.output)
    assert "the barrier" in result.output
    assert "≠" not in result.output  # the reconciliation found what the world planted
    assert report["expectations"]
    assert all(e["success"] for e in report["expectations"]), [
        e for e in report["expectations"] if not e["success"]
    ]
    page = CliRunner().invoke(app, ["report", "latest", "--format", "html", "--home", str(home)])
    assert page.exit_code == 0
    assert page.output.startswith("<!DOCTYPE html>")
    assert report["run_id"] in page.output
    assert CliRunner().invoke(app, ["report", "../../etc", "--home", str(home)]).exit_code == 2
    return result.output


def _the_loop_was_told(home: Path, output: str) -> None:
    """The story's every step happened in the store, and reached the other side's
    receiver, signature checked: nothing pending, nothing dead."""
    arrived = re.findall(r"→ (\S+) webhook: (\S+)", output)
    both = [("派出所", "work_order.transitioned"), ("网格平台", "work_order.transitioned")]
    assert arrived == [
        ("网格平台", "work_order.dispatched"),
        *both,  # 签收
        *both,  # 处置中
        ("派出所", "visit.recorded"),
        ("派出所", "review.submitted"),
        ("网格平台", "review.decided"),
        *both,  # 已反馈
        *both,  # 已办结
    ], output
    store = open_store(load_config(home))
    try:
        [order] = [s.record for s in store.records("work_order", "hub")]
        assert [h.step for h in order.history] == ["派发", "签收", "处置中", "已反馈", "已办结"]
        grid = [
            s.record
            for s in store.records("house")
            if s.provenance.source_system.startswith("partner:")
        ]
        assert [(h.use, h.occupant_count) for h in grid] == [("群租", 11)]
        [visit] = [s.record for s in store.records("visit")]
        assert (visit.record_kind, visit.result, visit.side) == ("house", "信息变更", "网格")
        with store.engine.connect() as conn:
            statuses = conn.execute(select(deliveries.c.status)).scalars().all()
        assert len(statuses) == 12
        assert set(statuses) == {"delivered"}
    finally:
        store.close()
