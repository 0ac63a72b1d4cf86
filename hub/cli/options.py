"""What the CLI commands share: their common options, and who the operator at the CLI is."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

from hub.config import HubConfig, open_store
from hub.errors import SchemaBehind
from hub.store import Store

HomeOption = Annotated[Path | None, typer.Option(help="Hub home; default $HUB_HOME or ./hub-data.")]


def operator() -> str:
    """The audit subject of a person at the CLI: ``cli:<login name>``.

    The CLI is run by an operator on the hub's machine, not by a partner client, so its
    entries carry no client id. Without a login name (a container with no passwd entry)
    the numeric user id stands in.
    """
    try:
        return f"cli:{getpass.getuser()}"
    except (OSError, KeyError):
        return f"cli:uid{os.getuid()}"


def open_current_store(config: HubConfig) -> Store:
    """The store for a command that does not migrate it: exit 2, saying why, if the
    database is not at the schema's head revision (``hub db upgrade`` brings it there)."""
    try:
        return open_store(config, at_head=True)
    except SchemaBehind as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(2) from None
