"""Delivery claims on both backends: two workers never hold one delivery at once, a
lapsed lease passes to another worker, and the worker that lost it sends nothing."""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor

from hub.events import emit
from tests.events.conftest import Clock, EventsHub


def _events(hub: EventsHub, n: int) -> list[str]:
    with hub.store.begin() as tx:
        return [
            emit(tx, "record.changed:person", kind="person", record_id=hub.people["in_grid"])
            for _ in range(n)
        ]


def test_workers_claim_apart_and_take_over_a_lapsed_lease(hub: EventsHub) -> None:
    rx = hub.receiver()
    sub, _ = hub.subscribe("grid", rx.url, ["record.changed:person"], "网格服务")
    _events(hub, 12)
    clock = Clock()
    lease = dt.timedelta(seconds=30)
    with (
        hub.deliverer(clock, batch=5, lease=lease) as (a, _),
        hub.deliverer(clock, batch=5, lease=lease) as (b, _),
    ):
        with ThreadPoolExecutor(2) as pool:
            first, second = pool.map(lambda w: w.claim(), [a, b])
        assert len(first) == len(second) == 5
        assert not set(first) & set(second)
        third = b.claim()
        assert len(third) == 2
        assert not set(third) & (set(first) | set(second))
        assert b.claim() == []  # the rest are held

        clock.advance(lease + dt.timedelta(seconds=1))
        taken = b.claim() + b.claim() + b.claim()
        assert sorted(taken) == sorted(first + second + third)  # every lease had lapsed
        for delivery in first:
            assert b.deliver(delivery).status == "delivered"
        assert {a.deliver(delivery).status for delivery in first} == {"lost"}
    assert len(rx.arrivals) == 5  # what a lost its claim on, it did not send
    assert sorted(s for s, _ in hub.statuses(sub)).count("delivered") == 5
