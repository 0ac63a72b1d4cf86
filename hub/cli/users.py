"""``hub users``: the people who sign in to the pages (``/console``), each with roles kept
apart as 三员分立 asks (see ``hub.console.roles``). Passwords are read from a prompt or a
file, never from the command line, and stored as argon2id hashes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.audit import AuditLog
from hub.cli.options import HomeOption, open_current_store, operator
from hub.config import load_config
from hub.console import ROLES, AccountError, Accounts
from hub.console.roles import LABELS, Role

app = typer.Typer(help="Operators of the pages: add, list.")
err = Console(stderr=True)


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="The sign-in name, e.g. wang.fang.")],
    role: Annotated[list[str], typer.Option(help=f"One of {', '.join(ROLES)}; repeatable.")],
    password_file: Annotated[
        Path | None,
        typer.Option(
            exists=True, dir_okay=False, help="Read the password from this file's first line."
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Add an operator. Without --password-file the password is prompted for (twice)."""
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = open_current_store(load_config(home))
    try:
        accounts = Accounts(store, AuditLog.for_store(store))
        added = accounts.add(name, role, password, by=operator())
    except AccountError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    roles = ", ".join(r.value for r in added.roles)
    typer.echo(f"added operator {added.name} ({roles})")


@app.command("list")
def list_users(home: HomeOption = None) -> None:
    """List operators, their roles and whether they are locked out."""
    store = open_current_store(load_config(home))
    try:
        found = Accounts(store, AuditLog.for_store(store)).listing()
    finally:
        store.close()
    table = Table("name", "roles", "locked until")
    for account, locked in found:
        labels = ", ".join(f"{r.value} ({LABELS[Role(r)]})" for r in account.roles)
        table.add_row(account.name, labels, locked.isoformat(timespec="seconds") if locked else "")
    Console().print(table)
