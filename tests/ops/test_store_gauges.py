"""The series /metrics reads from the database at each scrape: what other processes (sync
and delivery workers) leave there, seen by any API process."""

from __future__ import annotations

import datetime as dt

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.api.observability import StoreGauges
from hub.store import Store
from hub.store.tables import deliveries, sync_claims, sync_runs


def _samples(store: Store) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    registry = CollectorRegistry()
    registry.register(StoreGauges(store))
    text = generate_latest(registry).decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_webhook_backlog_and_sync_lag_are_read_from_the_database(store: Store) -> None:
    empty = _samples(store)
    assert empty[("hub_webhook_oldest_pending_seconds", ())] == 0.0
    assert empty[("hub_webhook_deliveries", (("status", "dead"),))] == 0.0
    now = dt.datetime.now(dt.UTC)
    rows = [
        ("pending", now - dt.timedelta(minutes=10)),
        ("pending", now + dt.timedelta(minutes=5)),
        ("dead", now - dt.timedelta(hours=2)),
        ("delivered", now - dt.timedelta(hours=3)),
    ]
    with store.begin() as tx:
        for n, (status, due) in enumerate(rows):
            tx.conn.execute(
                deliveries.insert().values(
                    event_seq=n + 1,
                    subscription_id="sub_1",
                    status=status,
                    attempts=1,
                    next_attempt_at=due,
                )
            )
        tx.conn.execute(
            sync_claims.insert().values(
                source_system="grid_platform",
                stream="people",
                due_at=now,
                last_success_at=now - dt.timedelta(minutes=30),
                runs=3,
            )
        )
    samples = _samples(store)
    counts = {
        dict(labels)["status"]: value
        for (name, labels), value in samples.items()
        if name == "hub_webhook_deliveries"
    }
    assert counts == {"pending": 2, "delivered": 1, "filtered": 0, "dead": 1}
    assert 600 <= samples[("hub_webhook_oldest_pending_seconds", ())] < 600 + 300
    lag = samples[("hub_sync_lag_seconds", (("source", "grid_platform"), ("stream", "people")))]
    assert 1800 <= lag < 1800 + 300


def test_the_time_since_a_stream_last_read_a_row_is_read_from_its_runs(store: Store) -> None:
    now = dt.datetime.now(dt.UTC)
    runs = [("people", 3, 40), ("people", 1, 0), ("houses", 2, 0)]  # (stream, days ago, read)
    with store.begin() as tx:
        for n, (stream, days, read) in enumerate(runs):
            tx.conn.execute(
                sync_runs.insert().values(
                    run_id=f"r{n}",
                    source_system="police_db",
                    stream=stream,
                    kind="person",
                    started_at=now - dt.timedelta(days=days),
                    read=read,
                    stored=read,
                    changed=read,
                    quarantined=0,
                    failed=False,
                )
            )
    samples = _samples(store)
    name = "hub_sync_rows_last_read_seconds"
    people = samples[(name, (("source", "police_db"), ("stream", "people")))]
    assert 3 * 86400 <= people < 3 * 86400 + 300  # the run a day ago read nothing
    assert samples[(name, (("source", "police_db"), ("stream", "houses")))] == float("inf")
