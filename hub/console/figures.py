"""The figures the pages chart, as plain series: rows synced and quarantined per day per
source (from the runs' reports), open quarantine entries per rule, reads per partner per
day (from the audit log). Days are Beijing days (UTC+8), the days the people reading
them work in; the last ``DAYS`` of them, today included."""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from hub.audit import AuditEntry

DAYS = 14
LOCAL = dt.timezone(dt.timedelta(hours=8))
Series = list[tuple[str, list[float]]]


def last_days(now: dt.datetime, days: int = DAYS) -> list[dt.date]:
    today = now.astimezone(LOCAL).date()
    return [today - dt.timedelta(days=n) for n in range(days - 1, -1, -1)]


def day_of(at: dt.datetime) -> dt.date:
    return at.astimezone(LOCAL).date()


def sync_by_day(reports: Iterable[Mapping[str, Any]], days: list[dt.date]) -> Series:
    """Per source, rows stored and rows quarantined on each day (a run counts on the day
    it started)."""
    stored: dict[str, Counter[dt.date]] = defaultdict(Counter)
    held: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for report in reports:
        day = day_of(dt.datetime.fromisoformat(report["started"]))
        for stream in report["streams"]:
            stored[stream["source"]][day] += int(stream.get("stored", 0))
            held[stream["source"]][day] += int(stream.get("quarantined", 0))
    series: Series = []
    for source in sorted(stored):
        series.append((f"{source} 入库", [float(stored[source][d]) for d in days]))
        series.append((f"{source} 隔离", [float(held[source][d]) for d in days]))
    return series


def by_rule(rule_lists: Iterable[list[str]]) -> list[tuple[str, int]]:
    """How many entries broke each ``field:rule`` pair, most first."""
    counts = Counter(pair for pairs in rule_lists for pair in set(pairs))
    return sorted(counts.items(), key=lambda item: (-item[1], item[0]))


def reads_by_day(entries: Iterable[AuditEntry], days: list[dt.date]) -> Series:
    """Per client, its audited reads on each day."""
    counts: dict[str, Counter[dt.date]] = defaultdict(Counter)
    for entry in entries:
        if entry.event.client_id:
            counts[entry.event.client_id][day_of(entry.at)] += 1
    return [(client, [float(counts[client][d]) for d in days]) for client in sorted(counts)]
