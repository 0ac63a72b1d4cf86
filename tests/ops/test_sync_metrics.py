"""Rows stored and quarantined are counted per source and stream where a run reports them."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import REGISTRY

from hub.ingest.run import run_sources
from hub.ingest.sources import SourceSpec
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import generate
from hub.store import Store


def _value(name: str, stream: str) -> float:
    return REGISTRY.get_sample_value(name, {"source": "police_db", "stream": stream}) or 0.0


def test_a_run_counts_its_rows(store: Store, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(generate(people=40, seed=5), url).dispose()
    spec = SourceSpec(
        id="police_db", connector="police_db", config={"url": url, "streams": POLICE_STREAMS}
    )
    names = ("hub_sync_rows_stored_total", "hub_sync_rows_quarantined_total")
    streams = [str(s["name"]) for s in POLICE_STREAMS]
    before = {(n, s): _value(n, s) for n in names for s in streams}
    report = run_sources(store, [spec], expectations=False)
    for result in report.streams:
        stored = _value(names[0], result.stream) - before[(names[0], result.stream)]
        quarantined = _value(names[1], result.stream) - before[(names[1], result.stream)]
        assert (stored, quarantined) == (result.stored, result.quarantined)
    assert sum(r.stored for r in report.streams) > 0
