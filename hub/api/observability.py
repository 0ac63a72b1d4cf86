"""What an operations team watches: request ids, one JSON log line and the metrics of
every request, readiness checks, and the audit appends counted.

- ``Observe`` (pure ASGI, outermost): gives each request its id (``X-Request-ID``), and once
  it is answered counts it and logs one line on ``hub.access``: request id, client id,
  method, route *template* (``/v1/records/{kind}``), status, duration. Never the raw path,
  a query string or a body: they may hold an ID number.
- ``CountingAuditLog``: the audit log, counting each entry appended (by action) and each
  decision made under a policy (by policy, action, outcome). Every decision the hub makes
  is an audit entry (the sharing invariant), so counting at the log's one door sees the
  token endpoint's, the sharing service's and every refusal's decisions without a call
  in each. An entry counted whose transaction then rolls back is rare (the change failed
  after its entry was written) and is not uncounted.
- ``readiness``: the database answers, the keys are loaded, policies are in force, and the
  audit log can be appended to (its head read, write permission checked: nothing written).
  It also reports each sync stream's lag, which does not make the API unready: a source
  that is down is the worker's trouble, and the hub still serves what it holds.
- ``StoreGauges``: series read from the database at each scrape (sync lag per stream, and
  how long since each stream last read a row).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import case, func, select, text
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from hub import metrics
from hub.audit import AuditEvent, AuditLog
from hub.audit.patterns import PATTERNS, AlertThresholds, find_alerts
from hub.auth.keys import SigningKeys
from hub.ingest.checks import last_sent
from hub.ingest.worker import db_now, sync_lag
from hub.policyfiles import PolicyRegistry
from hub.sharing.break_glass import READ_ACTIONS
from hub.store import Store
from hub.store.tables import audit_log, break_glass_sessions, deliveries

access_log = logging.getLogger("hub.access")
QUIET_ROUTES = frozenset({"/health", "/ready", "/metrics"})
"""Probes and scrapes: counted, but logged at DEBUG so they do not drown the requests."""


class Observe:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})
        request_id = state["request_id"] = uuid.uuid4().hex
        started = time.perf_counter()
        status = 500

        async def answered(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = [h for h in message.get("headers", []) if h[0].lower() != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.app(scope, receive, answered)
        finally:
            self._record(scope, state, status, time.perf_counter() - started)

    def _record(self, scope: Scope, state: dict[str, Any], status: int, seconds: float) -> None:
        route = scope.get("route")
        template = getattr(route, "path", None) or "unmatched"
        method = scope["method"]
        metrics.REQUESTS.labels(method, template, str(status)).inc()
        metrics.LATENCY.labels(method, template).observe(seconds)
        access_log.log(
            logging.DEBUG if template in QUIET_ROUTES else logging.INFO,
            "request",
            extra={
                "request_id": state.get("request_id"),
                "client_id": state.get("client_id"),
                "method": method,
                "route": template,
                "status": status,
                "duration_ms": round(seconds * 1000, 2),
            },
        )


_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({})))


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message and the record's extras.
    Exceptions are named by type only: a traceback's locals or message may hold data."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        line.update((k, v) for k, v in vars(record).items() if k not in _RECORD_ATTRS)
        if record.exc_info and record.exc_info[0] is not None:
            line["exc_type"] = record.exc_info[0].__name__
        return json.dumps(line, ensure_ascii=False, default=str)


def logging_config(level: str = "info") -> dict[str, Any]:
    """A ``logging.config.dictConfig`` for ``hub serve``: JSON lines on stderr for the hub
    and uvicorn's own messages (uvicorn's access log is off: it prints raw query strings)."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": f"{__name__}.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {
            "hub": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn": {"handlers": ["stderr"], "level": level.upper(), "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


class CountingAuditLog(AuditLog):
    def append_all(self, events: Sequence[AuditEvent], tx: Any = None) -> list[int]:
        appended = super().append_all(events, tx)
        for event in events:
            metrics.AUDIT_ENTRIES.labels(event.action).inc()
            if event.policy_id:
                metrics.DECISIONS.labels(event.policy_id, event.action, event.outcome).inc()
                if _break_glass_read(event):
                    metrics.BREAK_GLASS_READS.labels(event.policy_id).inc()
        return appended


def _break_glass_read(event: AuditEvent) -> bool:
    return (
        event.outcome == "allowed"
        and event.action in READ_ACTIONS
        and "break_glass" in event.detail
    )


class AlertGauges(Collector):
    """``hub_access_alerts``: the access-pattern alerts in force (``hub.audit.patterns``)
    by pattern, computed from the log at a scrape, at most once per ``ttl`` seconds (a
    fortnight of reads is read and decoded: seconds on a busy log, not for every scrape)."""

    def __init__(
        self, log: AuditLog, store: Store, thresholds: AlertThresholds, ttl: float = 300
    ) -> None:
        self.log = log
        self.store = store
        self.thresholds = thresholds
        self.ttl = ttl
        self._counted: tuple[float, Counter[str]] | None = None

    def counts(self) -> Counter[str]:
        now = time.monotonic()
        if self._counted is None or now - self._counted[0] >= self.ttl:
            alerts = find_alerts(self.log, self.store, self.thresholds, dt.datetime.now(dt.UTC))
            self._counted = (now, Counter(a.pattern for a in alerts))
        return self._counted[1]

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "hub_access_alerts",
            "Access-pattern alerts over the audit log's last window, by pattern.",
            labels=["pattern"],
        )
        counts = self.counts()
        for pattern in PATTERNS:
            gauge.add_metric([pattern], counts[pattern])
        yield gauge


class StoreGauges(Collector):
    """Series read from the database at each scrape: the lag of every sync stream (seconds
    since the start of its last successful run; +Inf for one that never succeeded), and
    the webhook deliveries by status with the age of the oldest still pending (the
    delivery workers are other processes: only the database knows how far behind they are)."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        lag = GaugeMetricFamily(
            "hub_sync_lag_seconds",
            "Seconds since the start of the stream's last successful sync.",
            labels=["source", "stream"],
        )
        for (source, stream), seconds in sorted(sync_lag(self.store).items()):
            lag.add_metric([source, stream], seconds)
        yield lag
        quiet = GaugeMetricFamily(
            "hub_sync_rows_last_read_seconds",
            "Seconds since a run of the stream last read a row (+Inf: none ever did); the "
            "run report flags it stale beyond the source's max_gap.",
            labels=["source", "stream"],
        )
        for (source, stream), seconds in sorted(last_sent(self.store).items()):
            quiet.add_metric([source, stream], seconds)
        yield quiet
        by_status = GaugeMetricFamily(
            "hub_webhook_deliveries",
            "Webhook deliveries by status (pending, delivered, filtered, dead).",
            labels=["status"],
        )
        backlog = GaugeMetricFamily(
            "hub_webhook_oldest_pending_seconds",
            "Seconds the oldest pending webhook delivery has been due (0: none due).",
        )
        counts, oldest = _deliveries(self.store)
        for status in DELIVERY_STATUSES:
            by_status.add_metric([status], counts.get(status, 0))
        backlog.add_metric([], oldest)
        yield by_status
        yield backlog
        glass = GaugeMetricFamily(
            "hub_break_glass_sessions",
            "Break-glass sessions by status: approved, pending (in their box, not yet "
            "approved), unapproved (the box passed with no approval: flagged for review).",
            labels=["status"],
        )
        for status, count in sorted(_break_glass(self.store).items()):
            glass.add_metric([status], count)
        yield glass


DELIVERY_STATUSES = ("pending", "delivered", "filtered", "dead")


def _break_glass(store: Store) -> dict[str, int]:
    c = break_glass_sessions.c
    now = dt.datetime.now(dt.UTC)
    status = case(
        (c.approved_at.is_not(None), "approved"),
        (c.expires_at > now, "pending"),
        else_="unapproved",
    )
    counts = dict.fromkeys(("approved", "pending", "unapproved"), 0)
    with store.engine.connect() as conn:
        for name, count in conn.execute(select(status, func.count()).group_by(status)):
            counts[name] = count
    return counts


def _deliveries(store: Store) -> tuple[dict[str, int], float]:
    c = deliveries.c
    with store.engine.connect() as conn:
        counts: dict[str, int] = dict(
            conn.execute(select(c.status, func.count()).group_by(c.status)).all()
        )
        due = conn.execute(
            select(func.min(c.next_attempt_at)).where(c.status == "pending")
        ).scalar()
        now = db_now(conn)
    if isinstance(due, str):  # SQLite hands an aggregate's datetime back as text
        due = dt.datetime.fromisoformat(due)
    if due is not None and due.tzinfo is None:
        due = due.replace(tzinfo=dt.UTC)
    return counts, max(0.0, (now - due).total_seconds()) if due is not None else 0.0


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]
    """Check name -> ``ok`` or why it failed (no exception text: it may name a secret)."""
    sync_lag: dict[tuple[str, str], float]
    """Reported, not checked: see the module's docstring."""

    @property
    def ready(self) -> bool:
        return all(result == "ok" for result in self.checks.values())


def readiness(
    store: Store, keys: SigningKeys, policies: PolicyRegistry, log: AuditLog
) -> Readiness:
    checks: dict[str, Callable[[], str | None]] = {
        "database": lambda: _database(store),
        "keys": lambda: _keys(store, keys, log),
        "policies": lambda: _policies(policies),
        "audit": lambda: _audit_writable(store),
    }
    results = {}
    for name, check in checks.items():
        try:
            results[name] = check() or "ok"
        except Exception as exc:  # a probe reports, it never raises
            results[name] = f"failed ({type(exc).__name__})"
    try:
        lag = sync_lag(store)
    except Exception:  # the database check has said why
        lag = {}
    return Readiness(results, lag)


def _database(store: Store) -> str | None:
    with store.engine.connect() as conn:
        conn.execute(text("SELECT 1"))
    return None


def _keys(store: Store, keys: SigningKeys, log: AuditLog) -> str | None:
    if not store.keyring.data_keys:
        return "no data key loaded"
    if log.key_id is None or store.keyring.audit_key is None:
        return "no audit signing key loaded"
    keys.active()
    return None


def _policies(policies: PolicyRegistry) -> str | None:
    policies.refresh()
    return None if policies.ids() else f"no sharing policy in force in {policies.folder.name}/"


def _audit_writable(store: Store) -> str | None:
    """The head is read and write permission checked; no entry is appended, no lock taken."""
    with store.engine.connect() as conn:
        conn.execute(select(audit_log.c.seq).order_by(audit_log.c.seq.desc()).limit(1))
        if conn.dialect.name == "postgresql":
            allowed = conn.execute(
                text("SELECT has_table_privilege(CAST(:t AS text), 'INSERT')"),
                {"t": audit_log.name},
            ).scalar()
            return None if allowed else "the database user may not append to the audit log"
        if conn.execute(text("PRAGMA query_only")).scalar():
            return "the database is read-only"
    database = store.engine.url.database
    if database and database != ":memory:":
        for path in (database, os.path.dirname(database) or "."):
            if not os.access(path, os.W_OK):
                return "the database file or its folder is not writable"
    return None
