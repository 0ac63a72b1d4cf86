"""The validation report of one sync run, kept as JSON in the hub home's ``reports/``."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hub.files import private_dir, write_private
from hub.ingest import checks as run_checks
from hub.ingest.html import render_html
from hub.ingest.sync import StreamReport

REPORTS_DIR = "reports"
RUN_ID = re.compile(r"\d{8}T\d{6}Z-[0-9a-f]{6}")


@dataclass
class SourceReport:
    """One source of a run: its streams, or why it could not be opened or listed."""

    source: str
    connector: str
    streams: list[str] = field(default_factory=list)
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "connector": self.connector,
            "streams": self.streams,
            "error": self.error,
        }


@dataclass
class RunReport:
    run_id: str
    started: dt.datetime
    finished: dt.datetime | None = None
    sources: list[SourceReport] = field(default_factory=list)
    streams: list[StreamReport] = field(default_factory=list)
    expectations: list[dict[str, Any]] = field(default_factory=list)
    """Dataset-level checks (great-expectations), one entry per stream and expectation."""
    checks: dict[str, list[dict[str, Any]]] = field(default_factory=run_checks.empty)
    """The cross-kind checks over the rows the run touched (``hub.ingest.checks``): lists
    of references, freshness and anomalies entries, each with its outcome."""

    @property
    def ok(self) -> bool:
        """No source failed to open, no stream stopped on an error, and no check's
        outcome is ``fail`` (what the steward's ``checks:`` thresholds make one)."""
        return (
            all(s.error is None for s in self.sources)
            and all(stream.error is None for stream in self.streams)
            and not run_checks.failed(self.checks)
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "started": self.started.isoformat(),
            "finished": self.finished.isoformat() if self.finished else None,
            "ok": self.ok,
            "totals": self.totals(),
            "sources": [source.as_dict() for source in self.sources],
            "streams": [stream.as_dict() for stream in self.streams],
            "expectations": self.expectations,
            "checks": self.checks,
        }

    def totals(self) -> dict[str, int]:
        keys = ("read", "stored", "quarantined", "deleted", "deactivated")
        return {key: sum(stream.as_dict()[key] for stream in self.streams) for key in keys}

    def save(self, home: Path) -> Path:
        """Write the report as JSON and, beside it, as the HTML page stewards read (both
        0600: the examples name source keys)."""
        folder = private_dir(home / REPORTS_DIR)
        path = folder / f"{self.run_id}.json"
        document = self.as_dict()
        write_private(path, json.dumps(document, ensure_ascii=False, indent=2))
        write_private(path.with_suffix(".html"), render_html(document))
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
