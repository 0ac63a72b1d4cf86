"""The hub's Prometheus metrics (prometheus-client), one set per process.

With ``PROMETHEUS_MULTIPROC_DIR`` set before this module is first imported (``hub serve
--workers N`` sets it for its workers), every process writes its samples to files there
and a scrape of any worker adds up all of them; without it, the process's own registry is
served. Labels are names the hub chose (route templates, policy ids, audit actions, source
and stream ids from ``sources.yaml``), never a value from a request.
"""

from __future__ import annotations

import os
from collections.abc import Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client import multiprocess as _multiprocess
from prometheus_client.registry import Collector

MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
MULTIPROCESS = bool(os.environ.get(MULTIPROCESS_ENV))
"""Decided at import, as prometheus-client decides how its values are kept."""
CONTENT_TYPE = CONTENT_TYPE_LATEST

REQUESTS = Counter("hub_http_requests", "HTTP requests answered.", ["method", "route", "status"])
LATENCY = Histogram(
    "hub_http_request_duration_seconds",
    "Time to answer an HTTP request.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DECISIONS = Counter(
    "hub_policy_decisions",
    "Audited decisions made under a sharing policy.",
    ["policy", "action", "outcome"],
)
BREAK_GLASS_READS = Counter(
    "hub_break_glass_reads",
    "Reads answered under a break-glass session (each one flagged in the audit log).",
    ["policy"],
)
AUDIT_ENTRIES = Counter("hub_audit_entries", "Audit log entries appended.", ["action"])
ROWS_SYNCED = Counter("hub_sync_rows_stored", "Rows stored by syncs.", ["source", "stream"])
ROWS_QUARANTINED = Counter(
    "hub_sync_rows_quarantined", "Rows quarantined by syncs.", ["source", "stream"]
)


def render(read_at_scrape: Iterable[Collector] = ()) -> bytes:
    """The scrape: every process's samples in multiprocess mode, else this process's; and
    the series ``read_at_scrape`` reads from the database, which no process counts (sync lag,
    webhook backlog: a worker or another machine changes them)."""
    fresh = CollectorRegistry()
    for collector in read_at_scrape:
        fresh.register(collector)
    if MULTIPROCESS:
        _multiprocess.MultiProcessCollector(fresh)  # type: ignore[no-untyped-call]
        return generate_latest(fresh)
    return generate_latest(REGISTRY) + generate_latest(fresh)


def count_stream(source: str, stream: str, stored: int, quarantined: int) -> None:
    """A finished stream's rows (``hub.ingest.run.run_sources`` reports each one here)."""
    ROWS_SYNCED.labels(source, stream).inc(stored)
    ROWS_QUARANTINED.labels(source, stream).inc(quarantined)
