"""What a steward does at the pages: the sync runs and their reports, the quarantine
browsed by source, stream, rule and date, a row read in clear, fixed and re-submitted;
one rule's rows exported as a workbook for offline correction and imported back.

The listing reads only the columns kept in clear (the broken ``field:rule`` pairs, the
source and stream, the times), so browsing decrypts nothing; opening an entry decrypts
its row and is audited first (``quarantine.read``). Re-submitting goes through the one
door a fixed row has (``hub.ingest.quarantine.resubmit``), its audit entry committed with
the change (``quarantine.resubmit``).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from sqlalchemy import select

from hub.audit import AuditEvent, AuditLog
from hub.console.accounts import Operator
from hub.console.errors import NotFound
from hub.console.figures import LOCAL, Series, by_rule, last_days, sync_by_day
from hub.console.workbook import MAX_ROWS, SheetRow, read_workbook, write_workbook
from hub.ingest import new_run_id
from hub.ingest.errors import CannotResubmit
from hub.ingest.quarantine import (
    PARTNER_PREFIX,
    entry_stream,
    read_event,
    resubmit,
    resubmit_event,
)
from hub.ingest.report import REPORTS_DIR, RUN_ID, report_path
from hub.ingest.sources import load_sources
from hub.ingest.sync import Admitted
from hub.store import QuarantinedRow, Store, Transaction
from hub.store.tables import quarantine

LISTED = 200
"""Entries one page of the quarantine shows (newest first)."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    run_id: str
    started: str
    finished: str | None
    ok: bool
    totals: dict[str, int]
    errors: list[str]


@dataclass(frozen=True, slots=True)
class QuarantineFilter:
    source: str | None = None
    stream: str | None = None
    rule: str | None = None
    """A rule name (``id_check_digit``) or a ``field:rule`` pair as the listing shows it."""
    since: dt.date | None = None
    until: dt.date | None = None
    status: str = "open"


@dataclass(frozen=True, slots=True)
class QuarantineLine:
    id: int
    source: str
    stream: str
    kind: str
    rules: list[str]
    first_seen: dt.datetime
    last_seen: dt.datetime
    status: str


class Stewardship:
    def __init__(self, store: Store, audit: AuditLog, home: Path) -> None:
        self.store = store
        self.audit = audit
        self.home = home

    def _reports(self) -> Iterator[dict[str, Any]]:
        """Every saved run report, newest first."""
        folder = self.home / REPORTS_DIR
        paths = sorted(folder.glob("*.json"), reverse=True) if folder.exists() else []
        for path in paths:
            if RUN_ID.fullmatch(path.stem):
                yield json.loads(path.read_text(encoding="utf-8"))

    def sync_figures(self, now: dt.datetime) -> tuple[list[dt.date], Series]:
        """Rows stored and quarantined per day per source, over the last days."""
        days = last_days(now)
        first = dt.datetime.combine(days[0], dt.time(), tzinfo=LOCAL).isoformat()
        recent = (r for r in self._reports() if r["started"] >= first[:10])
        return days, sync_by_day(recent, days)

    def quarantine_by_rule(self) -> list[tuple[str, int]]:
        """Open entries per ``field:rule`` pair, most first."""
        with self.store.engine.connect() as conn:
            lists = conn.execute(
                select(quarantine.c.rules).where(quarantine.c.status == "open")
            ).scalars()
            return by_rule(list(pairs) for pairs in lists)

    def runs(self) -> list[RunSummary]:
        """Every run with a saved report, newest first."""
        found = []
        for report in self._reports():
            errors = [
                f"{s['source']}: {s['error']}" for s in report["sources"] if s.get("error")
            ] + [
                f"{s['source']}/{s['stream']}: {s['error']}"
                for s in report["streams"]
                if s.get("error")
            ]
            found.append(
                RunSummary(
                    run_id=report["run_id"],
                    started=report["started"],
                    finished=report.get("finished"),
                    ok=bool(report["ok"]),
                    totals=report["totals"],
                    errors=errors,
                )
            )
        return found

    def report_html(self, operator: Operator, run_id: str) -> str:
        """The run's validation report, the page ``hub report --format html`` prints;
        audited (``report.read``), as its examples name source keys."""
        path = report_path(self.home, run_id)
        if path is None or run_id == "latest":
            raise NotFound(f"no report of run {run_id!r}")
        page = path.with_suffix(".html").read_text(encoding="utf-8")
        self.audit.append(
            AuditEvent(
                action="report.read",
                outcome="allowed",
                subject=operator.subject,
                detail={"run_id": run_id},
            )
        )
        return page

    def quarantined(self, where: QuarantineFilter, limit: int = LISTED) -> list[QuarantineLine]:
        """Entries matching ``where``, newest first, at most ``limit``; nothing decrypted."""
        q = quarantine
        query = select(
            q.c.id,
            q.c.source_system,
            q.c.stream,
            q.c.kind,
            q.c.rules,
            q.c.first_seen,
            q.c.last_seen,
            q.c.status,
        ).where(q.c.status == where.status)
        if where.source:
            query = query.where(q.c.source_system == where.source)
        if where.stream:
            query = query.where(q.c.stream == where.stream)
        if where.since:
            query = query.where(q.c.last_seen >= _midnight(where.since))
        if where.until:
            query = query.where(q.c.first_seen < _midnight(where.until + dt.timedelta(days=1)))
        with self.store.engine.connect() as conn:
            rows = conn.execute(query.order_by(q.c.id.desc())).all()
        lines = [
            QuarantineLine(
                r.id,
                r.source_system,
                r.stream,
                r.kind,
                list(r.rules),
                r.first_seen,
                r.last_seen,
                r.status,
            )
            for r in rows
        ]
        # The rule filter runs here, over the JSON list of pairs, the same on both backends.
        if where.rule:
            lines = [line for line in lines if _names_rule(line.rules, where.rule)]
        return lines[:limit]

    def rules(self) -> list[str]:
        """Every ``field:rule`` pair open entries have broken, for the filter's choices."""
        with self.store.engine.connect() as conn:
            lists = conn.execute(
                select(quarantine.c.rules).where(quarantine.c.status == "open")
            ).scalars()
            return sorted({pair for pairs in lists for pair in pairs})

    def entry(self, operator: Operator, entry_id: int) -> QuarantinedRow:
        """One entry with its row in clear, for the steward only; audited before returned."""
        entry = self.store.quarantined_row(entry_id)
        if entry is None:
            raise NotFound(f"no quarantine entry {entry_id}")
        self.audit.append(read_event(operator.subject, [entry], {"page": "quarantine/entry"}))
        return entry

    def resubmit(
        self, operator: Operator, entry_id: int, corrections: dict[str, Any]
    ) -> QuarantinedRow:
        """Apply ``corrections`` (column -> value, None removes it) and re-submit through
        the entry's own stream; returns the entry as it now stands (``resolved`` when
        stored). Raises ``CannotResubmit`` when its stream cannot be opened."""
        entry = self.store.quarantined_row(entry_id)
        if entry is None:
            raise NotFound(f"no quarantine entry {entry_id}")
        specs = [] if entry.source_system.startswith(PARTNER_PREFIX) else load_sources(self.home)

        def audit(tx: Transaction, before: QuarantinedRow, admitted: Admitted) -> None:
            self.audit.append(resubmit_event(operator.subject, before, admitted, corrections), tx)

        with entry_stream(entry, specs) as stream:
            return resubmit(self.store, stream, entry_id, corrections, new_run_id(), audit)

    def export(self, operator: Operator, where: QuarantineFilter) -> tuple[bytes, int]:
        """The open entries ``where`` names (one rule's, as the page asks), oldest first, as
        a workbook (``hub.console.workbook``) with their rows in clear, and how many. The
        read is audited (``quarantine.read``, page ``quarantine/export``) before the file
        is made; an export naming no entry reads nothing and is not."""
        lines = self.quarantined(replace(where, status="open"), limit=MAX_ROWS)
        entries = [e for line in reversed(lines) if (e := self.store.quarantined_row(line.id))]
        if entries:
            detail = {"page": "quarantine/export", "rule": where.rule, "format": "xlsx"}
            self.audit.append(read_event(operator.subject, entries, detail))
        return write_workbook(entries), len(entries)

    def import_workbook(self, operator: Operator, data: bytes) -> list[ImportLine]:
        """Each row of a corrected workbook re-submitted through the fix-and-resubmit path
        (``resubmit``, audited there per entry), or left in quarantine with its reason:
        an entry not open, a formula cell, nothing changed, a stream that cannot open, or
        the rules the corrected row still breaks. ``quarantine.import`` records the file's
        outcome (counts and entry ids, no value)."""
        results = [self._import_row(operator, row) for row in read_workbook(data)]
        self.audit.append(
            AuditEvent(
                action="quarantine.import",
                outcome="allowed",
                subject=operator.subject,
                record_ids=[f"quarantine:{r.entry_id}" for r in results if r.entry_id],
                detail={
                    "rows": len(results),
                    "stored": sum(r.result == "stored" for r in results),
                    "left": sum(r.result != "stored" for r in results),
                    "reasons": sorted({r.reason for r in results if r.reason}),
                },
            )
        )
        return results

    def _import_row(self, operator: Operator, row: SheetRow) -> ImportLine:
        if row.refused or row.entry_id is None:
            return ImportLine(row.line, row.entry_id, "left", row.refused or "entry")
        entry = self.store.quarantined_row(row.entry_id)
        if entry is None or entry.status != "open":
            return ImportLine(row.line, row.entry_id, "left", "not_open")
        corrections = corrections_from(entry.row, row.cells)
        if not corrections:
            return ImportLine(row.line, row.entry_id, "left", "unchanged")
        try:
            after = self.resubmit(operator, row.entry_id, corrections)
        except CannotResubmit as exc:
            return ImportLine(row.line, row.entry_id, "left", "cannot_resubmit", [str(exc)])
        if after.status == "resolved":
            return ImportLine(row.line, row.entry_id, "stored")
        rules = sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in after.failures})
        return ImportLine(row.line, row.entry_id, "left", "still_invalid", rules)


@dataclass(frozen=True, slots=True)
class ImportLine:
    """What became of one row of an imported workbook."""

    line: int
    entry_id: int | None
    result: str
    """``stored`` or ``left`` (in quarantine)."""
    reason: str | None = None
    """Why left: ``entry``, ``formula``, ``not_open``, ``unchanged``, ``cannot_resubmit``,
    ``still_invalid``."""
    rules: list[str] = field(default_factory=list)


def corrections_from(row: dict[str, Any], form: dict[str, str]) -> dict[str, Any]:
    """The corrections a form makes to ``row``: each column whose text changed, the value
    as typed; a column emptied is removed. Columns the row does not have are ignored, so a
    form cannot add a column the source never sent, nor can it retype a structured value
    (a list or a mapping) as text."""
    changed: dict[str, Any] = {}
    for column, old in row.items():
        if column not in form or isinstance(old, dict | list):
            continue
        typed = form[column].strip()
        if typed == ("" if old is None else str(old)):
            continue
        changed[column] = typed or None
    return changed


def _names_rule(pairs: list[str], rule: str) -> bool:
    return any(pair == rule or pair.partition(":")[2] == rule for pair in pairs)


def _midnight(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
