"""Access-pattern alerts, computed from the audit log: reads that are allowed one by one
but, taken together, look like a partner system misused (数据滥用) or probed.

Over the ``window`` that ends now (a day by default), against each client's own
``baseline_days`` before it:

- ``volume``   the client read many more distinct persons than on its usual day: at
               least ``volume_min``, and over ``volume_factor`` times the median of its
               active days in the baseline (a client with no baseline: ``volume_min``)
- ``night``    at least ``night_persons`` distinct persons read between ``night_start``
               and ``night_end`` o'clock, local time (``utc_offset_hours``), and over
               ``volume_factor`` times the median of the client's active nights in the
               baseline (a nightly batch job is its usual traffic, not an alert)
- ``repeat``   the same person read at least ``repeat_reads`` times by one client
- ``refusals`` at least ``refusals`` refused requests of one client (probing)
- ``new_grid`` records read in grids the client read none of in its baseline (a client
               with fewer than ``baseline_min_reads`` reads there has no usual grids yet)
- ``break_glass`` reads under a break-glass session (``hub.sharing.break_glass``), whatever
               their number: one alert per session, about the session, for the review

A read is an allowed ``records.query``, ``records.read`` or ``profile.section`` entry of a
client; the persons and grids it touched are its ``record_ids`` looked up in the record
tables (a person is its ``link_key``: the police's and the grid's records of one man are
one person). Each alert names the entries behind it (``seqs``, at most ``MAX_SEQS``).
Nothing here is a value of a record: alerts carry client ids, counts, grid codes and
record ids, as audit entries do.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select

from hub.audit.entry import AuditEntry
from hub.audit.log import AuditLog
from hub.audit.search import AuditQuery
from hub.store import Store
from hub.store.tables import KIND_TABLES

READS = frozenset({"records.query", "records.read", "profile.section"})
PATTERNS = ("volume", "night", "repeat", "refusals", "new_grid", "break_glass")
MAX_SEQS = 500
MAX_ENTRIES = 500_000
"""Entries of one action one computation reads at most (window and baseline together):
each action's and the refusals' are selected in SQL by their indexed columns."""


class AlertThresholds(BaseModel):
    """Set in ``config.json`` under ``access_alerts`` or ``HUB_ACCESS_ALERTS__<NAME>``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    window: dt.timedelta = dt.timedelta(days=1)
    baseline_days: int = Field(default=14, ge=1, le=90)
    baseline_min_reads: int = Field(default=20, ge=1)
    volume_factor: float = Field(default=3.0, gt=1)
    volume_min: int = Field(default=100, ge=1)
    night_start: int = Field(default=0, ge=0, le=23)
    night_end: int = Field(default=6, ge=0, le=23)
    night_persons: int = Field(default=20, ge=1)
    repeat_reads: int = Field(default=10, ge=2)
    refusals: int = Field(default=20, ge=1)
    utc_offset_hours: int = Field(default=8, ge=-12, le=14)


class AlertThresholdsEnv(BaseModel):
    """``AlertThresholds``' fields, each optional: what ``HUB_ACCESS_ALERTS__*`` sets."""

    window: dt.timedelta | None = None
    baseline_days: int | None = None
    baseline_min_reads: int | None = None
    volume_factor: float | None = None
    volume_min: int | None = None
    night_start: int | None = None
    night_end: int | None = None
    night_persons: int | None = None
    repeat_reads: int | None = None
    refusals: int | None = None
    utc_offset_hours: int | None = None


@dataclass(frozen=True, slots=True)
class Alert:
    pattern: str
    client_id: str
    key: str
    """Stable for one finding (``pattern:client[:about]``): the page's link to it."""
    count: int
    threshold: float
    about: str = ""
    """The person (``person/<id>``) or the grids the alert is about, when it has one."""
    seqs: list[int] = field(default_factory=list)


@dataclass
class _Reads:
    """One client's reads, each entry with the persons and grids it touched."""

    persons: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    refs: dict[str, str] = field(default_factory=dict)
    """A person (link key) by one of its record refs, to name it in an alert."""
    grids: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    entries: list[AuditEntry] = field(default_factory=list)


def find_alerts(
    log: AuditLog, store: Store, thresholds: AlertThresholds, now: dt.datetime
) -> list[Alert]:
    t = thresholds
    start = now - t.window
    first = start - dt.timedelta(days=t.baseline_days)
    reads = sorted(
        (
            entry
            for action in sorted(READS)
            for entry in log.find(
                AuditQuery(
                    action=action, outcome="allowed", since=first, until=now, limit=MAX_ENTRIES
                )
            )
            if entry.event.client_id
        ),
        key=lambda e: e.seq,
    )
    refused = log.find(AuditQuery(outcome="denied", since=start, until=now, limit=MAX_ENTRIES))
    touched = _touched(store, reads)
    recent: dict[str, _Reads] = defaultdict(_Reads)
    before: dict[str, _Reads] = defaultdict(_Reads)
    for entry in reads:
        side = recent if entry.at >= start else before
        found = side[entry.event.client_id or ""]
        found.entries.append(entry)
        for ref in entry.event.record_ids:
            link, grid = touched.get(ref, (None, None))
            if ref.startswith("person/"):
                person = link or ref
                found.persons[entry.seq].add(person)
                found.refs.setdefault(person, ref)
            if grid:
                found.grids[entry.seq].add(grid)
    alerts: list[Alert] = []
    for client, mine in sorted(recent.items()):
        alerts += _volume(t, client, mine, before.get(client))
        alerts += _night(t, client, mine, before.get(client))
        alerts += _repeat(t, client, mine)
        alerts += _new_grid(t, client, mine, before.get(client))
        alerts += _break_glass(client, mine)
    alerts += _refusals(t, refused)
    return alerts


def _touched(store: Store, reads: Iterable[AuditEntry]) -> dict[str, tuple[str | None, str]]:
    """(link key, grid code) of every record the reads name, by ``kind/id``."""
    ids: dict[str, set[int]] = defaultdict(set)
    for entry in reads:
        for ref in entry.event.record_ids:
            kind, _, number = ref.partition("/")
            if kind in KIND_TABLES and number.isdigit():
                ids[kind].add(int(number))
    found: dict[str, tuple[str | None, str]] = {}
    with store.engine.connect() as conn:
        for kind, wanted in ids.items():
            table = KIND_TABLES[kind].table
            listed = sorted(wanted)
            for at in range(0, len(listed), 1000):
                query = select(table.c.id, table.c.link_key, table.c.grid_code).where(
                    table.c.id.in_(listed[at : at + 1000])
                )
                for row in conn.execute(query):
                    found[f"{kind}/{row.id}"] = (row.link_key, row.grid_code or "")
    return found


def _seqs(entries: Iterable[AuditEntry]) -> list[int]:
    return [e.seq for e in entries][:MAX_SEQS]


def _distinct(reads: _Reads, entries: Iterable[AuditEntry]) -> set[str]:
    return {p for e in entries for p in reads.persons.get(e.seq, ())}


def _usual(t: AlertThresholds, past: _Reads | None, nights: bool = False) -> float:
    """The median of the distinct persons a client read on its active days (or, with
    ``nights``, in its active nights) of the baseline; 0 without any."""
    if past is None:
        return 0.0
    daily: dict[dt.date, set[str]] = defaultdict(set)
    for entry in past.entries:
        if not nights or _is_night(t, entry.at):
            daily[_local(t, entry.at).date()] |= past.persons.get(entry.seq, set())
    active = [len(persons) for persons in daily.values() if persons]
    return float(statistics.median(active)) if active else 0.0


def _volume(t: AlertThresholds, client: str, mine: _Reads, past: _Reads | None) -> list[Alert]:
    count = len(_distinct(mine, mine.entries))
    usual = _usual(t, past)
    threshold = max(float(t.volume_min), t.volume_factor * usual)
    if count < t.volume_min or count <= t.volume_factor * usual:
        return []
    with_persons = [e for e in mine.entries if mine.persons.get(e.seq)]
    return [Alert("volume", client, f"volume:{client}", count, threshold, "", _seqs(with_persons))]


def _night(t: AlertThresholds, client: str, mine: _Reads, past: _Reads | None) -> list[Alert]:
    at_night = [e for e in mine.entries if _is_night(t, e.at) and mine.persons.get(e.seq)]
    count = len(_distinct(mine, at_night))
    threshold = max(float(t.night_persons), t.volume_factor * _usual(t, past, nights=True))
    if count < threshold:
        return []
    return [Alert("night", client, f"night:{client}", count, threshold, "", _seqs(at_night))]


def _repeat(t: AlertThresholds, client: str, mine: _Reads) -> list[Alert]:
    times = Counter(p for e in mine.entries for p in mine.persons.get(e.seq, ()))
    alerts = []
    for person, count in sorted(times.items()):
        if count >= t.repeat_reads:
            ref = mine.refs[person]
            behind = [e for e in mine.entries if person in mine.persons.get(e.seq, ())]
            alerts.append(
                Alert(
                    "repeat",
                    client,
                    f"repeat:{client}:{ref}",
                    count,
                    t.repeat_reads,
                    ref,
                    _seqs(behind),
                )
            )
    return alerts


def _new_grid(t: AlertThresholds, client: str, mine: _Reads, past: _Reads | None) -> list[Alert]:
    if past is None or len(past.entries) < t.baseline_min_reads:
        return []
    usual = {g for grids in past.grids.values() for g in grids}
    behind = [e for e in mine.entries if mine.grids.get(e.seq, set()) - usual]
    if not behind:
        return []
    new = sorted({g for e in behind for g in mine.grids[e.seq]} - usual)
    about = ", ".join(new)
    return [Alert("new_grid", client, f"new_grid:{client}", len(new), 1, about, _seqs(behind))]


def _break_glass(client: str, mine: _Reads) -> list[Alert]:
    sessions: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in mine.entries:
        flagged = entry.event.detail.get("break_glass")
        if isinstance(flagged, dict) and isinstance(flagged.get("session"), str):
            sessions[flagged["session"]].append(entry)
    return [
        Alert(
            "break_glass",
            client,
            f"break_glass:{client}:{session}",
            len(found),
            1,
            session,
            _seqs(found),
        )
        for session, found in sorted(sessions.items())
    ]


def _refusals(t: AlertThresholds, entries: Iterable[AuditEntry]) -> list[Alert]:
    refused: dict[str, list[AuditEntry]] = defaultdict(list)
    for entry in entries:
        if entry.event.outcome == "denied" and entry.event.client_id:
            refused[entry.event.client_id].append(entry)
    return [
        Alert("refusals", client, f"refusals:{client}", len(found), t.refusals, "", _seqs(found))
        for client, found in sorted(refused.items())
        if len(found) >= t.refusals
    ]


def _local(t: AlertThresholds, at: dt.datetime) -> dt.datetime:
    return at.astimezone(dt.timezone(dt.timedelta(hours=t.utc_offset_hours)))


def _is_night(t: AlertThresholds, at: dt.datetime) -> bool:
    hour = _local(t, at).hour
    if t.night_start <= t.night_end:
        return t.night_start <= hour < t.night_end
    return hour >= t.night_start or hour < t.night_end
