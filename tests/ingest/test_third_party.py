"""A connector package from outside the hub is installed, discovered and synced unchanged."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from hub.ingest.sources import SourceSpec, save_sources
from tests.data import make_records

pytestmark = pytest.mark.slow

PACKAGE = Path(__file__).parents[1] / "thirdparty" / "hub-connector-jsonl"
HUB = shutil.which("hub") or str(Path(sys.executable).with_name("hub"))


def test_a_third_party_connector_is_discovered_and_synced(tmp_path: Path) -> None:
    target = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--target",
            str(target),
            str(PACKAGE),
        ],
        check=True,
        capture_output=True,
    )
    person = make_records()["person"].model_dump(mode="json")
    rows = [person, {**person, "id_number": "not an id"}]
    data = tmp_path / "people.jsonl"
    data.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    home = tmp_path / "hub"
    env = os.environ | {"HUB_HOME": str(home), "PYTHONPATH": str(target)}
    subprocess.run([HUB, "init"], env=env, check=True, capture_output=True)
    save_sources(home, [SourceSpec(id="partner", connector="jsonl", config={"path": str(data)})])
    done = subprocess.run([HUB, "sync"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    [report] = (home / "reports").glob("*.json")
    [stream] = json.loads(report.read_text(encoding="utf-8"))["streams"]
    assert (stream["source"], stream["read"], stream["stored"], stream["quarantined"]) == (
        "partner",
        2,
        1,
        1,
    )
