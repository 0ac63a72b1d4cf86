"""One sync run over the configured sources: every stream of every source, then the
dataset expectations, into one ``RunReport``.

A source that cannot be opened (bad config, missing ``${VAR}``, unknown connector) or
cannot list its streams is recorded in the report with its error, and the run goes on
with the next source: the report, and so the exit status of ``hub sync``, says the run
is not OK. Every error text is passed through the source's redaction first, so a key,
secret or password of its config never reaches the report, the terminal or a log.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from typing import TypeVar

from connectors.sdk import ConnectorError
from hub import metrics
from hub.ingest.checks import CheckConfig, run_checks
from hub.ingest.report import RunReport, SourceReport
from hub.ingest.sources import SourceSpec
from hub.ingest.sync import StreamReport, new_run_id, sync_stream
from hub.store import Store

REDACTED = "[redacted]"

T = TypeVar("T")


def run_sources(
    store: Store,
    specs: Iterable[SourceSpec],
    batch_size: int = 1000,
    on_progress: Callable[[StreamReport], None] | None = None,
    on_source: Callable[[SourceReport], None] | None = None,
    on_expectations: Callable[[], None] | None = None,
    expectations: bool = True,
    workers: int = 1,
    checks: bool = True,
) -> RunReport:
    """Sync ``specs`` in order and return the run's report (``finished`` set).

    ``on_progress`` sees a stream's report when it starts (nothing read yet), after every
    committed batch and when it ends; ``on_source`` sees each source's entry once it is
    opened or has failed; ``on_expectations`` is called before the dataset checks start.
    ``workers``: processes judging and sealing each stream's rows (``sync_stream``).
    ``checks``: run the cross-kind checks (``hub.ingest.checks``) over what the run stored.
    """
    report = RunReport(new_run_id(), dt.datetime.now(dt.UTC))
    configs: dict[str, CheckConfig | None] = {}
    for spec in specs:
        configs[spec.id] = spec.checks
        entry = SourceReport(spec.id, spec.connector)
        report.sources.append(entry)
        secrets = spec.secrets()
        try:
            source = spec.open()
        except ConnectorError as exc:
            entry.error = redact(str(exc), secrets)
            _call(on_source, entry)
            continue
        try:
            try:
                streams = source.streams()
            except ConnectorError as exc:
                entry.error = redact(str(exc), secrets)
                _call(on_source, entry)
                continue
            entry.streams = [stream.name for stream in streams]
            _call(on_source, entry)
            for stream in streams:
                _call(on_progress, StreamReport(spec.id, stream.name, stream.kind))
                result = sync_stream(
                    store,
                    source,
                    stream,
                    report.run_id,
                    batch_size,
                    on_batch=on_progress,
                    workers=workers,
                )
                if result.error is not None:
                    result.error = redact(result.error, secrets)
                _call(on_progress, result)
                report.streams.append(result)
                metrics.count_stream(spec.id, stream.name, result.stored, result.quarantined)
        finally:
            source.close()
    if checks:
        run_checks(store, report, configs)
    if expectations and report.streams:
        from hub.ingest.expectations import validate_run  # great-expectations: slow import

        if on_expectations is not None:
            on_expectations()
        validate_run(store, report)
    report.finished = dt.datetime.now(dt.UTC)
    return report


def redact(message: str, secrets: Iterable[str]) -> str:
    """``message`` with every occurrence of a secret replaced, longest first (so a secret
    that contains another is replaced whole)."""
    for secret in sorted(secrets, key=len, reverse=True):
        message = message.replace(secret, REDACTED)
    return message


def _call(callback: Callable[[T], None] | None, value: T) -> None:
    if callback is not None:
        callback(value)
