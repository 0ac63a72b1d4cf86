"""A pytest harness every connector passes: subclass ``SourceTests`` in a test module.

::

    class TestMySource(SourceTests):
        @pytest.fixture
        def source(self) -> Iterator[Source]:
            source = MySource("my_source", {...})  # configured, with data present
            yield source
            source.close()

        @pytest.fixture
        def expected_counts(self) -> dict[str, int]:
            return {"people": 500}

The tests read every stream the way the hub does (state saved as JSON after each batch)
and check the invariants sync relies on: nothing lost, nothing twice on resumption.
"""

# ruff: noqa: S101 (test code: pytest reports a failed assert with its message)

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from connectors.sdk import ENTRY_POINT_GROUP, Batch, Source, State, Stream, load_source
from contracts import CONTRACTS, RecordInvalid


def read_all(source: Source, stream: Stream, state: State | None, batch_size: int) -> list[Batch]:
    """Every batch of one read, each state round-tripped through JSON as the hub stores it."""
    return [
        Batch(batch.rows, json.loads(json.dumps(batch.state)))
        for batch in source.read(stream, state, batch_size)
    ]


def keys_of(stream: Stream, batches: list[Batch]) -> list[Any]:
    return [row.get(stream.primary_key) for batch in batches for row in batch.rows]


class SourceTests:
    """Override the ``source`` fixture (and optionally ``expected_counts``)."""

    batch_size: ClassVar[int] = 100
    """The batch size of a full read; resumption tests use smaller batches."""
    min_valid_share: ClassVar[float] = 0.9
    """The share of each stream's rows that must parse with its contract once mapped."""

    @pytest.fixture
    def source(self) -> Iterator[Source]:
        pytest.fail("override the `source` fixture with a configured source and its data")
        yield  # noqa: PT022 (overrides may yield and close the source)

    @pytest.fixture
    def expected_counts(self) -> dict[str, int] | None:
        """Rows a full read of each stream yields, by stream name; None to not check."""
        return None

    def test_streams_name_contract_kinds_and_fields(self, source: Source) -> None:
        streams = source.streams()
        assert streams, "the source declares no streams"
        names = [stream.name for stream in streams]
        assert len(names) == len(set(names)), f"stream names repeat: {names}"
        for stream in streams:
            assert stream.kind in CONTRACTS, f"{stream.name}: unknown kind {stream.kind!r}"
            assert stream.mapping.check(stream.model) == [], stream.name
            assert source.stream(stream.name) == stream

    def test_connector_is_installed_as_an_entry_point(self, source: Source) -> None:
        # One connector by name: a sibling that fails to import is not this one's failure.
        loaded = load_source(source.source_id, source.connector, source.config)
        try:
            assert type(loaded) is type(source), (
                f"entry point {source.connector!r} of group {ENTRY_POINT_GROUP!r} loads "
                f"{type(loaded).__qualname__}, not {type(source).__qualname__}"
            )
        finally:
            loaded.close()

    def test_full_read_yields_rows_with_primary_keys(
        self, source: Source, expected_counts: dict[str, int] | None
    ) -> None:
        counts: dict[str, int] = {}
        for stream in source.streams():
            batches = read_all(source, stream, None, self.batch_size)
            assert all(0 < len(b.rows) <= self.batch_size for b in batches), stream.name
            keys = keys_of(stream, batches)
            assert None not in keys, f"{stream.name}: rows without {stream.primary_key!r}"
            repeated = [key for key, n in Counter(keys).items() if n > 1]
            assert not repeated, f"{stream.name}: keys read twice: {repeated[:5]}"
            counts[stream.name] = len(keys)
        if expected_counts is not None:
            assert counts == expected_counts, f"rows read {counts}, expected {expected_counts}"

    def test_every_state_is_json(self, source: Source) -> None:
        for stream in source.streams():
            for batch in source.read(stream, None, self._small_batch(source, stream)):
                assert json.loads(json.dumps(batch.state)) == batch.state, stream.name

    def test_resuming_from_any_batch_reads_exactly_the_rest(self, source: Source) -> None:
        for stream in source.streams():
            size = self._small_batch(source, stream)
            batches = read_all(source, stream, None, size)
            for done, batch in enumerate(batches, start=1):
                rest = read_all(source, stream, batch.state, size)
                expected = Counter(keys_of(stream, batches[done:]))
                found = Counter(keys_of(stream, rest))
                assert found == expected, (
                    f"{stream.name} resumed after batch {done}: "
                    f"missing {list((expected - found).elements())[:5]}, "
                    f"extra {list((found - expected).elements())[:5]}"
                )

    def test_reading_from_the_final_state_yields_nothing_new(self, source: Source) -> None:
        for stream in source.streams():
            batches = read_all(source, stream, None, self.batch_size)
            if batches:
                again = read_all(source, stream, batches[-1].state, self.batch_size)
                assert keys_of(stream, again) == [], stream.name

    def test_mapped_rows_fit_the_contract(self, source: Source) -> None:
        for stream in source.streams():
            model = stream.model
            failed: dict[str, str] = {}
            rows = 0
            for batch in source.read(stream, None, self.batch_size):
                for row in batch.rows:
                    rows += 1
                    try:
                        model.parse(stream.mapping.apply(model, row))
                    except RecordInvalid as exc:
                        rules = ", ".join(f"{f.field}:{f.rule}" for f in exc.failures)
                        failed[str(row.get(stream.primary_key))] = rules
            report = "; ".join(f"{key} ({rules})" for key, rules in list(failed.items())[:10])
            assert rows - len(failed) >= self.min_valid_share * rows, (
                f"{stream.name}: {len(failed)} of {rows} rows fail the {stream.kind} "
                f"contract, e.g. {report}"
            )

    def _small_batch(self, source: Source, stream: Stream) -> int:
        """A batch size giving a few batches, so resumption crosses batch boundaries."""
        rows = sum(len(b.rows) for b in source.read(stream, None, self.batch_size))
        return max(1, min(self.batch_size, rows // 4 + 1))
