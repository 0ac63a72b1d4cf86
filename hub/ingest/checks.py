"""Checks a steward can act on across kinds, over the rows one run touched.

Three checks run after a run's streams (``run_sources``, the worker), into
``RunReport.checks``; each entry says ``ok``, ``warn`` or ``fail``, and only a ``fail``
fails the run (``RunReport.ok``): what fails is the steward's choice in ``sources.yaml``
(``checks:`` of a source, ``CheckConfig``), and by default every flag only warns.

- references: every reference a stored record makes to a record of another kind (a
  person's ``house_code`` and ``address_code``, a house's, unit's or incident's
  ``address_code``, a visit's verified record) must name a record the hub holds, from any
  source (linked copies count: the look-up is by ``link_key``, the blind index of the
  target's natural key). Only the records the run stored are read (``StreamReport.touched``),
  in batches of ``BATCH`` keys, and the targets are looked up set-wise by blind index.
  A dangling reference is listed with the source and stream holding it, its kind and
  field, and the record's source key as stored (never the referenced value): ``missing``
  (no record at all) or ``inactive`` (only records their source deleted).
- freshness, per stream of every source in the run: rows read per day over the last
  ``FRESHNESS_DAYS`` days, the last run that read rows and the last that changed any, and
  the gap since rows last came. ``stale`` when that gap exceeds ``max_gap`` (for a stream
  that never sent a row: the gap since its first run). A source that failed to open is
  checked over the streams its past runs name.
- anomalies, per stream: this run's volume and quarantine rate against the stream's last
  ``anomaly.runs`` runs that did not fail (at least ``MIN_HISTORY``). The rules:
  volume flagged when the median of those runs' rows read is at least ``MIN_VOLUME`` and
  this run read more than ``factor`` times it or less than it divided by ``factor``;
  quarantine rate flagged when it exceeds the runs' median rate by more than
  ``max(RATE_FLOOR, 3 × 1.4826 × MAD)`` (median absolute deviation, scaled to a standard
  deviation: robust to the odd bad run in the history).

The history is ``sync_runs`` (counts only: one row per stream per run, written here), so
workers on any machine over one database see each other's runs.
"""

from __future__ import annotations

import datetime as dt
import statistics
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import Connection, func, select

from contracts import CONTRACTS
from hub.ingest.schedule import format_duration, parse_duration
from hub.store import Store
from hub.store.store import any_of, kind_table
from hub.store.tables import sync_runs

if TYPE_CHECKING:
    from hub.ingest.report import RunReport
    from hub.ingest.sync import StreamReport

Flag = Literal["dangling", "stale", "anomaly"]
Outcome = Literal["ok", "warn", "fail"]

MAX_GAP = dt.timedelta(days=7)
"""Default ``max_gap``: a stream that sent no row for longer is stale."""
BATCH = 1000
"""Source keys read, and blind indexes looked up, per statement."""
MAX_LISTED = 100
"""Dangling references listed per (stream, field); all are counted."""
FRESHNESS_DAYS = 7
MIN_HISTORY = 3
MIN_VOLUME = 10
RATE_FLOOR = 0.05
MAD_SCALE = 1.4826


class AnomalyConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    runs: int = Field(default=10, ge=MIN_HISTORY)
    """How many recent runs of the stream this run is compared with."""
    factor: float = Field(default=3.0, gt=1)
    """Volume flagged above ``factor`` × the median, or below the median / ``factor``."""


class StreamCheckConfig(BaseModel):
    """What one stream overrides of its source's ``checks:``."""

    model_config = ConfigDict(extra="forbid")

    max_gap: dt.timedelta | None = None
    fail_on: list[Flag] | None = None
    dangling_max: float | None = Field(default=None, ge=0, le=1)
    anomaly: AnomalyConfig | None = None

    _max_gap = field_validator("max_gap", mode="before")(lambda value: _duration(value))


def _duration(value: object) -> object:
    """``2d``, ``12h`` or seconds, as ``schedule:`` reads them."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return parse_duration(str(value))
    return value


class CheckConfig(BaseModel):
    """``checks:`` of a source in ``sources.yaml``::

    checks:
      max_gap: 2d              # stale after 2 days with no row sent (default 7d)
      fail_on: [stale]         # flags that fail the run (default none: all warn)
      dangling_max: 0.05       # with dangling in fail_on: the share of a stream's
                               # checked references that may dangle (default 0)
      anomaly: {runs: 10, factor: 3}
      streams:
        people: {max_gap: 1d, fail_on: [dangling, stale]}
    """

    model_config = ConfigDict(extra="forbid")

    max_gap: dt.timedelta = MAX_GAP
    fail_on: list[Flag] = Field(default_factory=list)
    dangling_max: float = Field(default=0.0, ge=0, le=1)
    anomaly: AnomalyConfig = Field(default_factory=AnomalyConfig)
    streams: dict[str, StreamCheckConfig] = Field(default_factory=dict)

    _max_gap = field_validator("max_gap", mode="before")(lambda value: _duration(value))

    def for_stream(self, stream: str) -> CheckConfig:
        """This config with the stream's overrides applied."""
        override = self.streams.get(stream)
        if override is None:
            return self
        changes = {k: v for k, v in override.model_dump(exclude_none=True).items()}
        if override.anomaly is not None:
            changes["anomaly"] = override.anomaly
        return self.model_copy(update=changes)

    def outcome(self, flag: Flag, flagged: bool, share: float = 1.0) -> Outcome:
        if not flagged:
            return "ok"
        if flag in self.fail_on and (flag != "dangling" or share > self.dangling_max):
            return "fail"
        return "warn"

    def as_yaml(self) -> dict[str, Any]:
        document = self.model_dump(exclude_defaults=True, exclude_none=True)
        if "max_gap" in document:
            document["max_gap"] = format_duration(self.max_gap)
        for name, stream in self.streams.items():
            if stream.max_gap is not None:
                document["streams"][name]["max_gap"] = format_duration(stream.max_gap)
        return document


@dataclass(frozen=True, slots=True)
class Reference:
    """``kind.field`` names a record of ``target`` by its natural key; for a visit the
    target kind is in the record's own ``target_field``."""

    kind: str
    field: str
    target: str | None
    target_field: str | None = None


REFERENCES: tuple[Reference, ...] = (
    Reference("person", "house_code", "house"),
    Reference("person", "address_code", "address"),
    Reference("house", "address_code", "address"),
    Reference("unit", "address_code", "address"),
    Reference("incident", "address_code", "address"),
    Reference("visit", "record_key", None, target_field="record_kind"),
)


def run_checks(
    store: Store,
    report: RunReport,
    configs: Mapping[str, CheckConfig | None],
    now: dt.datetime | None = None,
) -> None:
    """Record the run's streams in ``sync_runs`` and fill ``report.checks``."""
    now = now or dt.datetime.now(dt.UTC)

    def config(source: str, stream: str) -> CheckConfig:
        return (configs.get(source) or CheckConfig()).for_stream(stream)

    with store.engine.connect() as conn:
        history = [
            _history(conn, s.source, s.stream, config(s.source, s.stream).anomaly.runs)
            for s in report.streams
        ]
    record_runs(store, report)
    checks = report.checks
    for stream, past in zip(report.streams, history, strict=True):
        settings = config(stream.source, stream.stream)
        checks["references"].extend(check_references(store, stream, settings))
        checks["anomalies"].extend(anomalies(stream, past, settings))
    sources = [s.source for s in report.sources] or [s.source for s in report.streams]
    checks["freshness"].extend(freshness(store, dict.fromkeys(sources), config, now))


def record_runs(store: Store, report: RunReport) -> None:
    rows = [
        {
            "run_id": report.run_id,
            "source_system": s.source,
            "stream": s.stream,
            "kind": s.kind,
            "started_at": report.started,
            "read": s.read,
            "stored": s.stored,
            "changed": s.counts.inserted + s.counts.updated,
            "quarantined": s.quarantined,
            "failed": s.error is not None,
        }
        for s in report.streams
    ]
    if rows:
        with store.engine.begin() as conn:
            conn.execute(sync_runs.insert(), rows)


# references ---------------------------------------------------------------------------


def check_references(
    store: Store, stream: StreamReport, config: CheckConfig
) -> list[dict[str, Any]]:
    """One entry per reference field of the stream's kind, over the records it stored."""
    references = [r for r in REFERENCES if r.kind == stream.kind]
    if not references or not stream.touched:
        return []
    kt = kind_table(stream.kind)
    names = sorted(
        {r.field for r in references} | {r.target_field for r in references if r.target_field}
    )
    found: dict[tuple[str, str], dict[str, str]] = {}
    """(field, target kind) -> {source key: referenced value}"""
    table = kt.table
    with store.engine.connect() as conn:
        for keys in _chunks(sorted(set(stream.touched))):
            query = select(table).where(
                table.c.source_system == stream.source, any_of(conn, table.c.source_key, keys)
            )
            for row in conn.execute(query):
                values = store.values(kt, row, names)
                for ref in references:
                    target = ref.target or values.get(ref.target_field or "")
                    value = values.get(ref.field)
                    if value is None or target not in CONTRACTS:
                        continue
                    found.setdefault((ref.field, str(target)), {})[row.source_key] = str(value)
        status: dict[tuple[str, str], str] = {}
        for (_, target), by_key in found.items():
            for value, state in _resolve(store, conn, target, set(by_key.values())).items():
                status[(target, value)] = state
    entries = []
    for ref in references:
        checked = 0
        dangling: list[dict[str, str]] = []
        targets = sorted(t for f, t in found if f == ref.field)
        for target in targets:
            for key, value in sorted(found[(ref.field, target)].items()):
                checked += 1
                state = status[(target, value)]
                if state != "present":
                    dangling.append({"source_key": key, "target": target, "status": state})
        share = len(dangling) / checked if checked else 0.0
        entries.append(
            {
                "source": stream.source,
                "stream": stream.stream,
                "kind": stream.kind,
                "field": ref.field,
                "target": ref.target or ref.target_field,
                "checked": checked,
                "dangling": len(dangling),
                "listed": dangling[:MAX_LISTED],
                "outcome": config.outcome("dangling", bool(dangling), share),
            }
        )
    return entries


def _resolve(store: Store, conn: Connection, target: str, values: set[str]) -> dict[str, str]:
    """``present``, ``inactive`` or ``missing`` for each natural key of ``target``."""
    forms: dict[str, str] = {}
    for value in values:
        for form in store.index_forms(value):
            forms[form] = value
    active: set[str] = set()
    inactive: set[str] = set()
    table = kind_table(target).table
    for links in _chunks(sorted(forms)):
        query = select(table.c.link_key, table.c.inactive_since).where(
            any_of(conn, table.c.link_key, links)
        )
        for link, since in conn.execute(query):
            (active if since is None else inactive).add(forms[link])
    return {
        value: "present" if value in active else "inactive" if value in inactive else "missing"
        for value in values
    }


def _chunks(items: Sequence[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), BATCH):
        yield list(items[start : start + BATCH])


# freshness ----------------------------------------------------------------------------


def freshness(
    store: Store,
    sources: Iterable[str],
    config: Callable[[str, str], CheckConfig],
    now: dt.datetime,
) -> list[dict[str, Any]]:
    """One entry per stream the past runs of ``sources`` name (this run's included)."""
    c = sync_runs.c
    since = now - dt.timedelta(days=FRESHNESS_DAYS)
    entries = []
    with store.engine.connect() as conn:
        for source in sources:
            summary = (
                select(
                    c.stream,
                    func.min(c.started_at),
                    func.max(c.started_at).filter(c.read > 0),
                    func.max(c.started_at).filter(c.changed > 0),
                )
                .where(c.source_system == source)
                .group_by(c.stream)
                .order_by(c.stream)
            )
            for stream, first, last_sent, last_change in conn.execute(summary).all():
                per_day: dict[str, int] = {}
                recent = select(c.started_at, c.read).where(
                    c.source_system == source, c.stream == stream, c.started_at >= since
                )
                for started, read in conn.execute(recent):
                    day = _utc(started).date().isoformat()
                    per_day[day] = per_day.get(day, 0) + read
                settings: CheckConfig = config(source, stream)
                gap = now - _utc(last_sent or first)
                stale = gap > settings.max_gap
                entries.append(
                    {
                        "source": source,
                        "stream": stream,
                        "rows_per_day": dict(sorted(per_day.items())),
                        "last_sent": _iso(last_sent),
                        "last_change": _iso(last_change),
                        "gap_seconds": round(gap.total_seconds()),
                        "max_gap": format_duration(settings.max_gap),
                        "stale": stale,
                        "outcome": settings.outcome("stale", stale),
                    }
                )
    return entries


def last_sent(store: Store, now: dt.datetime | None = None) -> dict[tuple[str, str], float]:
    """Seconds since each known stream last read a row (+inf: never), for ``/metrics``."""
    c = sync_runs.c
    now = now or dt.datetime.now(dt.UTC)
    query = select(c.source_system, c.stream, func.max(c.started_at).filter(c.read > 0)).group_by(
        c.source_system, c.stream
    )
    with store.engine.connect() as conn:
        rows = conn.execute(query).all()
    return {
        (source, stream): float("inf") if at is None else max(0.0, (now - _utc(at)).total_seconds())
        for source, stream, at in rows
    }


def _utc(value: dt.datetime) -> dt.datetime:
    """Aggregates (min/max) come back without the column's type: naive on SQLite."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else _utc(value).isoformat()


# anomalies ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PastRun:
    read: int
    quarantined: int


def _history(conn: Connection, source: str, stream: str, runs: int) -> list[PastRun]:
    """The stream's last ``runs`` runs that did not fail, newest first."""
    c = sync_runs.c
    query = (
        select(c.read, c.quarantined)
        .where(c.source_system == source, c.stream == stream, c.failed.is_(False))
        .order_by(c.started_at.desc(), c.id.desc())
        .limit(runs)
    )
    return [PastRun(read, quarantined) for read, quarantined in conn.execute(query)]


def anomalies(
    stream: StreamReport, history: list[PastRun], config: CheckConfig
) -> list[dict[str, Any]]:
    """The volume and quarantine-rate entries of ``stream`` (none: too little history)."""
    past = history
    if stream.error is not None or len(past) < MIN_HISTORY:
        return []
    factor = config.anomaly.factor
    volume = statistics.median(run.read for run in past)
    jumped = volume >= MIN_VOLUME and (
        stream.read > factor * volume or stream.read * factor < volume
    )
    rates = [run.quarantined / run.read for run in past if run.read]
    entries = [
        {
            "source": stream.source,
            "stream": stream.stream,
            "metric": "volume",
            "value": stream.read,
            "median": volume,
            "runs": len(past),
            "rule": f"median >= {MIN_VOLUME} and value > {factor:g}× or < 1/{factor:g}× median",
            "flagged": jumped,
            "outcome": config.outcome("anomaly", jumped),
        }
    ]
    if stream.read and len(rates) >= MIN_HISTORY:
        rate = stream.quarantined / stream.read
        middle = statistics.median(rates)
        mad = statistics.median(abs(r - middle) for r in rates)
        limit = middle + max(RATE_FLOOR, 3 * MAD_SCALE * mad)
        high = rate > limit
        entries.append(
            {
                "source": stream.source,
                "stream": stream.stream,
                "metric": "quarantine_rate",
                "value": round(rate, 4),
                "median": round(middle, 4),
                "limit": round(limit, 4),
                "runs": len(rates),
                "rule": f"value > median + max({RATE_FLOOR:g}, 3 × {MAD_SCALE} × MAD)",
                "flagged": high,
                "outcome": config.outcome("anomaly", high),
            }
        )
    return entries


def failed(checks: Mapping[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """The entries of ``RunReport.checks`` that fail the run."""
    return [
        entry for entries in checks.values() for entry in entries if entry.get("outcome") == "fail"
    ]


def describe(entry: Mapping[str, Any]) -> str:
    """One line naming a check entry's stream and what it found (no value)."""
    where = f"{entry.get('source')}/{entry.get('stream')}"
    if "field" in entry:
        found = f"{entry['dangling']} of {entry['checked']} references dangle"
        return f"{where}: {entry['kind']}.{entry['field']} → {entry['target']}: {found}"
    if "stale" in entry:
        return f"{where}: no row for {entry['gap_seconds']} s (max_gap {entry['max_gap']})"
    return (
        f"{where}: {entry.get('metric')} {entry.get('value')} against median {entry.get('median')}"
    )


def empty() -> dict[str, list[dict[str, Any]]]:
    return {"references": [], "freshness": [], "anomalies": []}
