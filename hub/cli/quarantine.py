from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from connectors.sdk import ConnectorError
from hub.cli.sync import HomeOption
from hub.config import load_config, open_store
from hub.ingest import new_run_id
from hub.ingest.quarantine import NoSuchEntry, resubmit
from hub.ingest.sources import load_sources

app = typer.Typer(help="Rows that broke a contract: list, inspect, correct and re-submit.")
err = Console(stderr=True)


@app.command("list")
def list_entries(
    status: Annotated[str, typer.Option(help="open, resolved")] = "open",
    home: HomeOption = None,
) -> None:
    """List quarantined rows with the rules they broke."""
    store = open_store(load_config(home))
    try:
        entries = store.quarantined(status)
    finally:
        store.close()
    table = Table("id", "source/stream", "kind", "source key", "broken rules", "run")
    for e in entries:
        table.add_row(
            str(e.id),
            f"{e.source_system}/{e.stream}",
            e.kind,
            e.source_key,
            ", ".join(sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in e.failures})),
            e.run_id or "",
        )
    Console().print(table)
    err.print(f"{len(entries)} {status} entries")


@app.command()
def show(entry_id: int, home: HomeOption = None) -> None:
    """Print one quarantined row and its failures as JSON (values in clear: handle with care)."""
    store = open_store(load_config(home))
    try:
        entry = store.quarantined_row(entry_id)
    finally:
        store.close()
    if entry is None:
        err.print(f"[red]no quarantine entry {entry_id}[/red]")
        raise typer.Exit(2)
    document = {
        "id": entry.id,
        "source": entry.source_system,
        "stream": entry.stream,
        "kind": entry.kind,
        "source_key": entry.source_key,
        "status": entry.status,
        "row": entry.row,
        "failures": entry.failures,
    }
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2, default=str))


@app.command("resubmit")
def resubmit_entry(
    entry_id: int,
    set_: Annotated[
        list[str] | None,
        typer.Option("--set", help="COLUMN=VALUE in the source's own column names; repeatable."),
    ] = None,
    unset: Annotated[list[str] | None, typer.Option(help="COLUMN to remove; repeatable.")] = None,
    home: HomeOption = None,
) -> None:
    """Correct a quarantined row and run it through its stream's mapping and contract again."""
    corrections: dict[str, object] = {column: None for column in unset or []}
    for item in set_ or []:
        column, sep, value = item.partition("=")
        if not sep:
            err.print(f"[red]--set takes COLUMN=VALUE, not {item!r}[/red]")
            raise typer.Exit(2)
        corrections[column] = value
    config = load_config(home)
    store = open_store(config)
    try:
        entry = store.quarantined_row(entry_id)
        if entry is None:
            raise NoSuchEntry(entry_id)
        spec = next(s for s in load_sources(config.home) if s.id == entry.source_system)
        source = spec.open()
        try:
            result = resubmit(
                store, source.stream(entry.stream), entry_id, corrections, new_run_id()
            )
        finally:
            source.close()
    except (NoSuchEntry, StopIteration, ConnectorError) as exc:
        err.print(
            f"[red]cannot re-submit {entry_id}: {exc or 'its source is not configured'}[/red]"
        )
        raise typer.Exit(2) from None
    finally:
        store.close()
    if result.status == "resolved":
        err.print(f"[green]entry {entry_id} stored and resolved[/green]")
        return
    for failure in result.failures:
        typer.echo(json.dumps(failure, ensure_ascii=False, default=str))
    raise typer.Exit(1)
