"""The validation report of one sync run, kept as JSON in the hub home's ``reports/``."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.ingest.html import render_html
from hub.ingest.sync import StreamReport

REPORTS_DIR = "reports"
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


@dataclass
class RunReport:
    run_id: str
    started: dt.datetime
    finished: dt.datetime | None = None
    streams: list[StreamReport] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    """Dataset-level checks (great-expectations), one entry per stream and expectation."""

    @property
    def ok(self) -> bool:
        return all(stream.error is None for stream in self.streams)

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "totals": self.totals(),
            "streams": [stream.as_dict() for stream in self.streams],
            "expectations": self.expectations,
        }

    def totals(self) -> dict[str, int]:
        keys = ("read", "stored", "quarantined")
        return {key: sum(stream.as_dict()[key] for stream in self.streams) for key in keys}

    def save(self, home: Path) -> Path:
        """Write the report as JSON and, beside it, as the HTML page stewards read."""
        folder = home / REPORTS_DIR
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{self.run_id}.json"
        document = self.as_dict()
        path.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
        path.with_suffix(".html").write_text(render_html(document), encoding="utf-8")
        return path


def report_path(home: Path, run_id: str = "latest") -> Path | None:
    folder = home / REPORTS_DIR
    if run_id != "latest" and not RUN_ID.fullmatch(run_id):
        return None
    if run_id != "latest":
        path = folder / f"{run_id}.json"
        return path if path.exists() else None
    runs = sorted(folder.glob("*.json")) if folder.exists() else []
    return runs[-1] if runs else None
