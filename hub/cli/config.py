"""``hub config show``: the effective settings, config.json with the HUB_* environment over
it, as JSON with every secret replaced by ``***``."""

from __future__ import annotations

import json

import typer
from rich.console import Console

from hub.cli.options import HomeOption
from hub.config import load_config, redacted
from hub.errors import ConfigError

app = typer.Typer(help="The hub's settings (config.json, HUB_* variables).")


@app.command()
def show(home: HomeOption = None) -> None:
    """Print the effective settings, secrets redacted (the database URL's password)."""
    try:
        config = load_config(home)
    except ConfigError as exc:
        Console(stderr=True).print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    typer.echo(json.dumps(redacted(config), ensure_ascii=False, indent=2))
