"""``hub grids``: the grid and beat registry (``hub.grids``). ``load`` replaces the
registry the hub holds by a file's (audited as ``grids.loaded``); from then on every
record a sync, a push or a re-submission admits is held to it. ``show`` says what is
loaded. A hub that never loaded one checks no grid or beat code against a registry."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from hub.cli.options import HomeOption, open_current_store, operator
from hub.config import load_config
from hub.errors import HubError
from hub.grids import load_registry, load_registry_file, registry_info, replace_registry

app = typer.Typer(help="The grid and beat registry (网格 / 警格): load it, show it.")
err = Console(stderr=True)

FileArg = Annotated[Path, typer.Argument(exists=True, dir_okay=False, readable=True)]


@app.command()
def load(file: FileArg, home: HomeOption = None) -> None:
    """Replace the hub's grid registry by the one in a YAML file (see ``hub.grids.file``)."""
    try:
        registry = load_registry_file(file)
        store = open_current_store(load_config(home))
        try:
            digest = replace_registry(store, registry, operator(), str(file))
        finally:
            store.close()
    except HubError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    typer.echo(
        f"loaded {len(registry.grids)} grids, {len(registry.beat_codes)} beats "
        f"(digest {digest[:12]}) from {file}"
    )


@app.command()
def show(home: HomeOption = None) -> None:
    """What registry is loaded: its grids by community, type and beat."""
    try:
        store = open_current_store(load_config(home))
        try:
            with store.engine.connect() as conn:
                info = registry_info(conn)
                registry = load_registry(conn)
        finally:
            store.close()
    except HubError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    if info is None or registry is None:
        typer.echo("no grid registry loaded: grid and beat codes are not checked")
        return
    typer.echo(
        f"{info['title'] or 'grid registry'}: {len(registry.grids)} grids, "
        f"structure {info['structure']}, digest {info['digest'][:12]}, loaded {info['loaded_at']}"
    )
    table = Table("grid", "name", "type", "community", "beat", "workers", "in force")
    for grid in registry.grids:
        since = grid.valid_from.isoformat() if grid.valid_from else ""
        until = grid.valid_to.isoformat() if grid.valid_to else ""
        table.add_row(
            grid.code,
            Text(grid.name),
            grid.grid_type + (f"/{grid.category}" if grid.category else ""),
            grid.community_code,
            grid.beat_code,
            str(len(grid.workers)),
            f"{since}–{until}" if since or until else "always",
        )
    Console().print(table)
