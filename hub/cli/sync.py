from __future__ import annotations

import datetime as dt
from pathlib import Path
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

from connectors.sdk import ConnectorError
from hub.config import load_config, open_store
from hub.errors import HubError
from hub.ingest import StreamReport, new_run_id, sync_stream
from hub.ingest.report import RunReport, report_path
from hub.ingest.sources import SourceSpec, load_sources
from hub.store import Store

HomeOption = Annotated[Path | None, typer.Option(help="Hub home; default $HUB_HOME or ./hub-data.")]
err = Console(stderr=True)


def sync(
    sources: Annotated[
        list[str] | None, typer.Argument(help="Source ids to sync; default every source.")
    ] = None,
    batch_size: Annotated[int, typer.Option(min=1, max=100_000)] = 1000,
    home: HomeOption = None,
) -> None:
    """Sync sources into the hub: every row stored or quarantined, then a validation report."""
    try:
        config = load_config(home)
        specs = load_sources(config.home)
    except (HubError, ConnectorError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    unknown = set(sources or []) - {spec.id for spec in specs}
    if unknown:
        err.print(f"[red]unknown sources: {', '.join(sorted(unknown))}[/red]")
        raise typer.Exit(2)
    store = open_store(config)
    try:
        report = run_sync(store, [s for s in specs if not sources or s.id in sources], batch_size)
    finally:
        store.close()
    path = report.save(config.home)
    Console().print(summary_table(report))
    err.print(f"report: {path}")
    raise typer.Exit(0 if report.ok else 1)


def run_sync(store: Store, specs: list[SourceSpec], batch_size: int) -> RunReport:
    report = RunReport(new_run_id(), dt.datetime.now(dt.UTC))
    columns = (
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
    )
    with Progress(*columns, console=err, transient=False) as progress:
        for spec in specs:
            try:
                source = spec.open()
                streams = source.streams()
            except ConnectorError as exc:
                err.print(f"[red]{spec.id}: {exc}[/red]")
                continue
            try:
                for stream in streams:
                    task = progress.add_task(f"{spec.id}/{stream.name}", total=None)

                    def advance(done: StreamReport, task: TaskID = task) -> None:
                        progress.update(task, completed=done.read)

                    result = sync_stream(
                        store, source, stream, report.run_id, batch_size, on_batch=advance
                    )
                    progress.update(task, total=result.read, completed=result.read)
                    report.streams.append(result)
            finally:
                source.close()
    if report.streams:
        from hub.ingest.expectations import validate_run  # great-expectations: slow import

        with err.status("dataset expectations (great-expectations)"):
            validate_run(store, report)
    report.finished = dt.datetime.now(dt.UTC)
    return report


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
    for s in report.streams:
        top = ", ".join(f"{rule} ×{n}" for rule, n in s.failures.most_common(3))
        table.add_row(
            f"{s.source}/{s.stream}",
            s.kind,
            str(s.read),
            str(s.counts.inserted),
            str(s.counts.updated),
            str(s.counts.unchanged),
            str(s.quarantined),
            f"[red]{s.error}[/red]" if s.error else top,
        )
    return table


def report(
    run_id: Annotated[str, typer.Argument(help="A run id, or latest.")] = "latest",
    fmt: Annotated[str, typer.Option("--format", help="json or html")] = "json",
    home: HomeOption = None,
) -> None:
    """Print a sync run's validation report, as JSON or as the steward's HTML page."""
    if fmt not in ("json", "html"):
        err.print("[red]--format is json or html[/red]")
        raise typer.Exit(2)
    config = load_config(home)
    path = report_path(config.home, run_id)
    if path is None:
        err.print(f"[red]no report {run_id!r} in {config.home}[/red]")
        raise typer.Exit(2)
    if fmt == "html":
        typer.echo(path.with_suffix(".html").read_text(encoding="utf-8"))
    else:
        typer.echo(path.read_text(encoding="utf-8"))
