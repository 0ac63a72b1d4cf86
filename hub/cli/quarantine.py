"""``hub quarantine``: every command here reads or changes personal data, so every one is
audited (``quarantine.read``, ``quarantine.resubmit``) with the operator as subject. An
audit entry names entries, kinds, sources and column names, never a value of a row."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from connectors.sdk import ConnectorError
from hub.audit import AuditLog
from hub.cli.options import HomeOption, operator
from hub.config import load_config, open_store
from hub.errors import HubError
from hub.ingest import new_run_id
from hub.ingest.errors import CannotResubmit, NoSuchEntry
from hub.ingest.quarantine import entry_stream, read_event, resubmit, resubmit_event
from hub.ingest.sources import load_sources
from hub.ingest.sync import Admitted
from hub.store import QuarantinedRow, Store, Transaction

app = typer.Typer(help="Rows that broke a contract: list, inspect, correct and re-submit.")
err = Console(stderr=True)


def _fail(message: str, code: int = 2) -> typer.Exit:
    err.print(Text(message, style="red"))
    return typer.Exit(code)


def _audit_read(store: Store, entries: list[QuarantinedRow], detail: dict[str, object]) -> None:
    """Record who read which entries, before anything is shown: no entry, no output."""
    AuditLog.for_store(store).append(read_event(operator(), entries, detail))


@app.command("list")
def list_entries(
    status: Annotated[str, typer.Option(help="open, resolved")] = "open",
    home: HomeOption = None,
) -> None:
    """List quarantined rows with the rules they broke."""
    try:
        store = open_store(load_config(home))
        try:
            entries = store.quarantined(status)
            _audit_read(store, entries, {"command": "list", "status": status})
        finally:
            store.close()
    except HubError as exc:
        raise _fail(str(exc)) from None
    table = Table("id", "source/stream", "kind", "source key", "broken rules", "run")
    for e in entries:
        table.add_row(
            str(e.id),
            Text(f"{e.source_system}/{e.stream}"),
            e.kind,
            Text(e.source_key),
            Text(", ".join(sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in e.failures}))),
            e.run_id or "",
        )
    Console().print(table)
    err.print(f"{len(entries)} {status} entries")


@app.command()
def show(entry_id: int, home: HomeOption = None) -> None:
    """Print one quarantined row and its failures as JSON (values in clear: handle with care)."""
    try:
        store = open_store(load_config(home))
        try:
            entry = store.quarantined_row(entry_id)
            if entry is not None:
                _audit_read(store, [entry], {"command": "show", "stream": entry.stream})
        finally:
            store.close()
    except HubError as exc:
        raise _fail(str(exc)) from None
    if entry is None:
        raise _fail(f"no quarantine entry {entry_id}")
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
    """Correct a quarantined row and run it through its stream's mapping and contract again.

    A row a partner pushed through the API goes back through the push stream of its kind;
    any other through its source's stream in sources.yaml. Exits 0 when the row is stored,
    1 when it is still quarantined (its failures printed), 2 when it cannot be re-submitted.
    """
    corrections: dict[str, object] = {column: None for column in unset or []}
    for item in set_ or []:
        column, sep, value = item.partition("=")
        if not sep:
            raise _fail(f"--set takes COLUMN=VALUE, not {item!r}")
        corrections[column] = value
    try:
        config = load_config(home)
        store = open_store(config)
        try:
            log = AuditLog.for_store(store)
            entry = store.quarantined_row(entry_id)
            if entry is None:
                raise NoSuchEntry(entry_id)
            partner = entry.source_system.startswith("partner:")
            specs = [] if partner else load_sources(config.home)

            def audit(tx: Transaction, before: QuarantinedRow, admitted: Admitted) -> None:
                log.append(resubmit_event(operator(), before, admitted, corrections), tx)

            with entry_stream(entry, specs) as stream:
                result = resubmit(store, stream, entry_id, corrections, new_run_id(), audit)
        finally:
            store.close()
    except CannotResubmit as exc:
        raise _fail(str(exc)) from None
    except (HubError, ConnectorError) as exc:
        raise _fail(f"cannot re-submit entry {entry_id}: {exc}") from None
    if result.status == "resolved":
        err.print(f"[green]entry {entry_id} stored and resolved[/green]")
        return
    for failure in result.failures:
        typer.echo(json.dumps(failure, ensure_ascii=False, default=str))
    raise typer.Exit(1)
