"""No source writes a work order: a stream of them is reported, not read, so a source named
``hub`` (or any other) cannot store a second copy of an order or replace its history."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from connectors.sdk import Batch, RecordMapping, Source, State, Stream
from hub.ingest.sync import new_run_id, sync_stream
from hub.store import Store
from tests.data import make_records


class OrderSource(Source):
    connector: ClassVar[str] = "orders"

    def __init__(self) -> None:
        super().__init__("hub", {})
        self.reads = 0

    def streams(self) -> list[Stream]:
        return [Stream("orders", "work_order", "order_id", mapping=RecordMapping(passthrough=True))]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        self.reads += 1
        yield Batch([make_records()["work_order"].model_dump(mode="json")], {})


def test_a_stream_of_work_orders_is_refused_before_it_is_read(store: Store) -> None:
    source = OrderSource()
    [stream] = source.streams()
    report = sync_stream(store, source, stream, new_run_id())
    assert report.error == "work_order records are kept by the hub: no source writes them"
    assert (source.reads, report.read, store.count("work_order")) == (0, 0, 0)
    assert store.quarantined() == []
