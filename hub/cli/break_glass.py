"""``hub break-glass``: open a session for a client, approve one as an operator, and the
after-the-fact review of every session (``report``)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.cli.options import HomeOption, open_current_store, operator
from hub.config import load_config
from hub.errors import HubError
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import SharingError
from hub.sharing.break_glass import BreakGlass
from hub.store import Store

app = typer.Typer(help="Break-glass sessions: reading beyond a policy in an emergency.")
err = Console(stderr=True)


@contextmanager
def _glass(home: HomeOption) -> Iterator[tuple[Store, BreakGlass]]:
    config = load_config(home)
    store = open_current_store(config)
    try:
        log = AuditLog.for_store(store)
        yield store, BreakGlass(store, log, PolicyRegistry(log, config.home / POLICIES_DIR))
    except SharingError as exc:
        # Refused: the refusal is audited as the service described it, then reported.
        log.append(exc.event)
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    except HubError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None
    finally:
        store.close()


@app.command("open")
def open_session(
    client_id: Annotated[str, typer.Argument(help="The client the session is for.")],
    reason: Annotated[str, typer.Option(help="Why, for the review; no phone or ID number.")],
    kind: Annotated[list[str], typer.Option(help="A kind to read beyond the policy; repeatable.")],
    minutes: Annotated[int | None, typer.Option(help="The box; default the policy's.")] = None,
    home: HomeOption = None,
) -> None:
    """Open a session for a client (one not revoked); print its id, to name on reads."""
    with _glass(home) as (store, glass):
        client = ClientRegistry(store).get(client_id)
        if client is None or client.revoked:
            err.print(f"[red]no live client {client_id}[/red]", highlight=False)
            raise typer.Exit(2)
        session = glass.open(
            client_id=client.client_id,
            policy_id=client.policy_id,
            subject=operator(),
            reason=reason,
            kinds=kind,
            minutes=minutes,
        )
    typer.echo(session.session_id)
    err.print(f"open until {session.expires_at.isoformat()}; a second party must approve it")


@app.command()
def approve(
    session_id: Annotated[str, typer.Argument(help="The session, bg_…")],
    home: HomeOption = None,
) -> None:
    """Approve a session as the operator at the CLI (within its box)."""
    with _glass(home) as (_store, glass):
        session = glass.approve(session_id, approver=operator())
    typer.echo(f"{session.session_id} approved by {session.approved_by}")


@app.command()
def report(
    since: Annotated[
        dt.datetime | None, typer.Option(help="Sessions opened at or after (UTC if no zone).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="table or json")] = "table",
    home: HomeOption = None,
) -> None:
    """Every break-glass session for review: status (approved, pending, unapproved: the box
    passed with no approval), approver, reads and records read under it."""
    if fmt not in ("table", "json"):
        err.print("[red]--format is table or json[/red]")
        raise typer.Exit(2)
    if since is not None and since.tzinfo is None:
        since = since.replace(tzinfo=dt.UTC)
    with _glass(home) as (_store, glass):
        reviewed = glass.report(since)
    if fmt == "json":
        rows = [
            {**r.session.view(glass.clock()), "reads": r.reads, "records": r.records}
            for r in reviewed
        ]
        typer.echo(json.dumps(rows, ensure_ascii=False, default=str, indent=2))
        return
    table = Table()
    for name in ("session", "client", "kinds", "opened", "expires", "status", "approver"):
        table.add_column(name, no_wrap=True)
    table.add_column("reads", justify="right", no_wrap=True)
    table.add_column("records", justify="right", no_wrap=True)
    table.add_column("reason", overflow="fold")
    for r in reviewed:
        s = r.session
        table.add_row(
            s.session_id,
            s.client_id,
            ",".join(s.kinds),
            s.opened_at.isoformat(timespec="seconds"),
            s.expires_at.isoformat(timespec="seconds"),
            r.status,
            s.approved_by or "",
            str(r.reads),
            str(r.records),
            s.reason,
        )
    Console(width=240).print(table)
