"""What the CLI commands share: their common options, and who the operator at the CLI is."""

from __future__ import annotations

import getpass
import os
from pathlib import Path
from typing import Annotated

import typer

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
