from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
)
from rich.table import Table
from rich.text import Text

from connectors.sdk import ConnectorError
from hub.cli.options import HomeOption, open_current_store
from hub.cli.worker import WorkersOption, duration, run_worker
from hub.config import load_config
from hub.errors import HubError
from hub.ingest import StreamReport, checks
from hub.ingest.pipeline import default_workers
from hub.ingest.report import RunReport, SourceReport, report_path
from hub.ingest.run import run_sources
from hub.ingest.sources import SourceSpec, load_sources
from hub.ingest.worker import DEFAULT_POLL, WorkerOptions, record_run
from hub.store import Store

err = Console(stderr=True)


def sync(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids to sync; default every source.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    workers: WorkersOption = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Keep syncing, every stream this often (e.g. 5m): the `hub worker` loop in"
            " this process, for these sources, whatever their schedule:."
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Sync sources into the hub: every row stored or quarantined, then a validation report.

    Exits 0 when every source opened and every stream ran to its end, 1 when one did not
    (the report says which and why), 2 when the hub or its sources.yaml cannot be read.
    With ``--every`` it runs until SIGTERM/SIGINT (exit 0), one report per stream run.
    """
    interval = duration(every)
    try:
        config = load_config(home)
        specs = load_sources(config.home)
    except (HubError, ConnectorError) as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    unknown = set(sources or []) - {spec.id for spec in specs}
    if unknown:
        err.print(Text(f"unknown sources: {', '.join(sorted(unknown))}", style="red"))
        raise typer.Exit(2)
    chosen = [s for s in specs if not sources or s.id in sources]
    if interval is not None:
        poll = min(DEFAULT_POLL, interval)
        options = WorkerOptions(
            override_every=interval,
            poll=poll,
            batch_size=batch_size,
            workers=workers or default_workers(),
        )
        run_worker(config, chosen, options)
        return
    store = open_current_store(config)
    try:
        report = run_sync(store, chosen, batch_size, workers or default_workers())
        record_run(store, report)
    finally:
        store.close()
    path = report.save(config.home)
    Console().print(summary_table(report))
    for entry in checks.failed(report.checks):
        err.print(Text(f"check failed: {checks.describe(entry)}", style="red"))
    err.print(f"report: {path}")
    raise typer.Exit(0 if report.ok else 1)


def run_sync(store: Store, specs: list[SourceSpec], batch_size: int, workers: int = 1) -> RunReport:
    """``run_sources`` with its progress drawn on stderr."""
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        tasks: dict[tuple[str, str], TaskID] = {}
        read: dict[tuple[str, str], int] = {}

        def finish_bars() -> None:
            for key, task in tasks.items():
                progress.update(task, total=read[key], completed=read[key])

        def on_progress(stream: StreamReport) -> None:
            key = (stream.source, stream.stream)
            if key not in tasks:
                finish_bars()
                tasks[key] = progress.add_task(f"{stream.source}/{stream.stream}", total=None)
            read[key] = stream.read
            progress.update(tasks[key], completed=stream.read)

        def on_source(source: SourceReport) -> None:
            if source.error is not None:
                progress.console.print(Text(f"{source.source}: {source.error}", style="red"))

        def on_expectations() -> None:
            finish_bars()
            progress.console.print("dataset expectations (great-expectations)…")

        result = run_sources(
            store,
            specs,
            batch_size,
            workers=workers,
            on_progress=on_progress,
            on_source=on_source,
            on_expectations=on_expectations,
        )
        finish_bars()
    return result


def summary_table(report: RunReport) -> Table:
    table = Table(
        "source/stream",
        "kind",
        "read",
        "inserted",
        "updated",
        "unchanged",
        "quarantined",
        "top failures",
        title=f"sync {report.run_id}",
    )
    for source in report.sources:
        if source.error is not None:
            error = Text(source.error, style="red")
            table.add_row(Text(source.source), "", "", "", "", "", "", error)
    for s in report.streams:
        top = ", ".join(f"{rule} ×{n}" for rule, n in s.failures.most_common(3))
        table.add_row(
            Text(f"{s.source}/{s.stream}"),
            s.kind,
            str(s.read),
            str(s.counts.inserted),
            str(s.counts.updated),
            str(s.counts.unchanged),
            str(s.quarantined),
            Text(s.error, style="red") if s.error else Text(top),
        )
    return table


def report(
    run_id: Annotated[str, typer.Argument(help="A run id, or latest.")] = "latest",
    fmt: Annotated[str, typer.Option("--format", help="json or html")] = "json",
    home: HomeOption = None,
) -> None:
    """Print a sync run's validation report, as JSON or as the steward's HTML page."""
    if fmt not in ("json", "html"):
        err.print(Text("--format is json or html", style="red"))
        raise typer.Exit(2)
    config = load_config(home)
    path = report_path(config.home, run_id)
    if path is None:
        err.print(Text(f"no report {run_id!r} in {config.home}", style="red"))
        raise typer.Exit(2)
    if fmt == "html":
        typer.echo(path.with_suffix(".html").read_text(encoding="utf-8"))
    else:
        typer.echo(path.read_text(encoding="utf-8"))
