from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from contracts import CONTRACTS, UnknownKind, contract, json_schema
from hub.cli.rows import FORMATS, check_rows, detect_format
from hub.grids import RegistryInvalid, load_registry_file

app = typer.Typer(help="Record contracts: list them, export JSON Schema, check files.")
err = Console(stderr=True)

KindArg = Annotated[str, typer.Argument(help="Record kind, e.g. person, unit, address.")]


def _model(kind: str) -> Any:
    try:
        return contract(kind)
    except UnknownKind as exc:
        err.print(f"[red]{exc}[/red]; kinds: {', '.join(CONTRACTS)}")
        raise typer.Exit(2) from None


@app.command("list")
def list_contracts() -> None:
    """List every record kind with its version, label and natural key."""
    table = Table("kind", "version", "label", "natural key", "fields", "encrypted at rest")
    for kind, model in CONTRACTS.items():
        specs = model.specs()
        sealed = [s.name for s in specs if s.sensitivity.encrypted_at_rest]
        table.add_row(
            kind,
            str(model.version),
            model.label,
            ", ".join(model.natural_key_fields()),
            str(len(specs)),
            ", ".join(sealed) or "-",
        )
    Console().print(table)


@app.command()
def schema(kind: KindArg) -> None:
    """Print the JSON Schema of a kind's contract."""
    _model(kind)
    typer.echo(json.dumps(json_schema(kind), ensure_ascii=False, indent=2))


@app.command()
def check(
    kind: KindArg,
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)],
    fmt: Annotated[
        str | None,
        typer.Option("--format", help=f"One of {', '.join(FORMATS)}; default by suffix."),
    ] = None,
    grids: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            readable=True,
            help="A grid registry file (YAML): grid and beat codes are checked against it.",
        ),
    ] = None,
) -> None:
    """Check a JSONL or CSV file against a contract (headers: field names or Chinese labels).

    With ``--grids``, every row's grid and beat codes must be in that registry, agree with
    each other, and its address code start with a GB/T 2260 county code (``hub.grids``).
    Prints one JSON line per failure; exits 0 when every row is valid, 1 otherwise.
    """
    model = _model(kind)
    registry = None
    if grids is not None:
        try:
            registry = load_registry_file(grids)
        except RegistryInvalid as exc:
            err.print(f"[red]{grids}: {exc}[/red]")
            raise typer.Exit(2) from None
    fmt = fmt or detect_format(file)
    if fmt not in FORMATS:
        err.print(f"[red]cannot tell the format of {file}[/red]; pass --format jsonl|csv")
        raise typer.Exit(2)
    rows = bad = 0
    for number, problems in check_rows(model, file, fmt, registry):
        rows += 1
        bad += bool(problems)
        for problem in problems:
            line = json.dumps({"row": number, **problem}, ensure_ascii=False, default=str)
            sys.stdout.write(line + "\n")
    colour = "green" if bad == 0 else "red"
    err.print(f"[{colour}]{rows} rows: {rows - bad} valid, {bad} invalid[/{colour}]")
    raise typer.Exit(1 if bad else 0)
