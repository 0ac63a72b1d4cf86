"""``hub users``: the people who sign in to the pages (``/console``), each with roles kept
apart as 三员分立 asks (see ``hub.console.roles``). Passwords are read from a prompt or a
file, never from the command line, and stored as argon2id hashes. An account may be
linked to a person at the operators' OpenID Connect provider (``--oidc-subject``, the
value of the provider's ``subject_claim``), and then needs no password."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.audit import AuditLog
from hub.cli.options import HomeOption, open_current_store, operator
from hub.config import HubConfig, load_config
from hub.console import ROLES, AccountError, Accounts
from hub.console.roles import LABELS, Role

app = typer.Typer(help="Operators of the pages: add, link, list.")
err = Console(stderr=True)
SubjectOption = Annotated[
    str | None,
    typer.Option(
        help="The person's subject at the operators' OpenID Connect provider (operator_oidc)."
    ),
]


def _provider(config: HubConfig) -> str:
    if config.operator_oidc is None:
        err.print("[red]no operators' provider is configured (operator_oidc)[/red]")
        raise typer.Exit(2)
    return config.operator_oidc.issuer


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
    oidc_subject: SubjectOption = None,
    home: HomeOption = None,
) -> None:
    """Add an operator. Without --password-file the password is prompted for (twice),
    unless --oidc-subject links the account to the provider: then it has none."""
    config = load_config(home)
    oidc = (_provider(config), oidc_subject) if oidc_subject is not None else None
    password: str | None = None
    if password_file is not None:
        lines = password_file.read_text(encoding="utf-8").splitlines()
        password = lines[0] if lines else ""
    elif oidc is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    store = open_current_store(config)
    try:
        accounts = Accounts(store, AuditLog.for_store(store))
        added = accounts.add(name, role, password, by=operator(), oidc=oidc)
    except AccountError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    roles = ", ".join(r.value for r in added.roles)
    typer.echo(f"added operator {added.name} ({roles})")


@app.command()
def link(
    name: Annotated[str, typer.Argument(help="An operator's sign-in name.")],
    oidc_subject: Annotated[
        str, typer.Option(help="The person's subject at the operators' OpenID Connect provider.")
    ],
    home: HomeOption = None,
) -> None:
    """Link an existing operator to a person at the provider (replacing an earlier link)."""
    config = load_config(home)
    issuer = _provider(config)
    store = open_current_store(config)
    try:
        Accounts(store, AuditLog.for_store(store)).link(name, issuer, oidc_subject, by=operator())
    except AccountError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()
    typer.echo(f"linked operator {name} to {oidc_subject} at {issuer}")


@app.command("list")
def list_users(home: HomeOption = None) -> None:
    """List operators, their roles, their provider subject and whether they are locked out."""
    store = open_current_store(load_config(home))
    try:
        accounts = Accounts(store, AuditLog.for_store(store))
        found, links = accounts.listing(), accounts.links()
    finally:
        store.close()
    table = Table("name", "roles", "provider subject", "locked until")
    for account, locked in found:
        labels = ", ".join(f"{r.value} ({LABELS[Role(r)]})" for r in account.roles)
        until = locked.isoformat(timespec="seconds") if locked else ""
        table.add_row(account.name, labels, links.get(account.name, ""), until)
    Console().print(table)
