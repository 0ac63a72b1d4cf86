"""``hub clients``: register, list and revoke the partner systems that may ask for tokens."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.auth.scopes import policy_scopes, scope_problems
from hub.cli.options import HomeOption, operator
from hub.config import load_config, open_store
from hub.errors import HubError
from hub.policyfiles import POLICIES_DIR, install_policy
from policies import PolicyInvalid, load_policy

app = typer.Typer(help="Partner systems (OAuth clients): add, list, revoke.")
err = Console(stderr=True)


def _fail(message: str) -> typer.Exit:
    err.print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(2)


def _claims(items: list[str]) -> dict[str, list[str]]:
    claims: dict[str, list[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep or not name.strip():
            raise _fail(f"--claim takes NAME=CODE[,CODE...], not {item!r}")
        codes = [v.strip() for v in values.split(",") if v.strip()]
        claims.setdefault(name.strip(), []).extend(codes)
    return claims


@app.command()
def add(
    name: Annotated[str, typer.Argument(help="Who the client is, e.g. 秦淮区网格平台.")],
    policy: Annotated[
        Path,
        typer.Option(
            exists=True, dir_okay=False, help="The sharing policy the client is bound to."
        ),
    ],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            help="A scope, e.g. person.read; repeatable. Default: what the policy grants."
        ),
    ] = None,
    claim: Annotated[
        list[str] | None,
        typer.Option(help="Jurisdiction claim NAME=CODE,CODE, e.g. grid_codes=G1,G2; repeatable."),
    ] = None,
    jwks: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="The client's public JWKS: it then authenticates with private_key_jwt, no secret.",
        ),
    ] = None,
    home: HomeOption = None,
) -> None:
    """Register a client; print its id and (for secret clients) its secret, this once only."""
    try:
        bound = load_policy(policy)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            err.print(f"{policy}: {problem.where}: {problem.message}", highlight=False)
        raise typer.Exit(2) from None
    scopes = sorted(set(scope or policy_scopes(bound)))
    if problems := scope_problems(scopes, bound):
        raise _fail("; ".join(problems))
    claims = _claims(claim or [])
    public_jwks: dict[str, Any] | None = None
    if jwks is not None:
        try:
            public_jwks = json.loads(jwks.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise _fail(f"{jwks}: not a JSON key set: {exc}") from None
    try:
        config = load_config(home)
        store = open_store(config)
        try:
            audit = AuditLog.for_store(store)
            installed = install_policy(bound, policy, config.home / POLICIES_DIR, audit)
            new = ClientRegistry(store).add(
                name,
                bound.id,
                scopes,
                claims,
                public_jwks,
                audit=audit,
                by=operator(),
                policy_version=bound.version,
            )
        finally:
            store.close()
    except HubError as exc:
        raise _fail(str(exc)) from None
    typer.echo(f"client_id: {new.client.client_id}")
    if new.secret is not None:
        typer.echo(f"client_secret: {new.secret}")
        err.print("[yellow]the secret is shown this once: the hub keeps only its hash[/yellow]")
    else:
        err.print("authenticates with private_key_jwt against the JWKS given; no secret")
    err.print(f"bound to {bound.ref} ({installed}); scopes: {' '.join(scopes)}", highlight=False)
    needed = {j.claim for grant in bound.kinds.values() for j in grant.rows.jurisdiction}
    if missing := sorted(needed - set(claims)):
        err.print(
            f"[yellow]no {', '.join(missing)} claim: rows the policy scopes by it stay hidden"
            "[/yellow]"
        )


@app.command("list")
def list_clients(
    active: Annotated[bool, typer.Option(help="Only clients not revoked.")] = False,
    home: HomeOption = None,
) -> None:
    """Every registered client (never a secret)."""
    try:
        store = open_store(load_config(home))
    except HubError as exc:
        raise _fail(str(exc)) from None
    try:
        found = ClientRegistry(store).list(include_revoked=not active)
    finally:
        store.close()
    table = Table("client id", "name", "policy", "auth", "scopes", "claims", "created", "revoked")
    for c in found:
        table.add_row(
            c.client_id,
            c.name,
            c.policy_id,
            c.auth_method,
            " ".join(sorted(c.scopes)),
            "; ".join(f"{k}={','.join(v)}" for k, v in sorted(c.claims.items())),
            f"{c.created_at:%Y-%m-%d %H:%M}",
            f"{c.revoked_at:%Y-%m-%d %H:%M}" if c.revoked_at else "",
        )
    Console().print(table)
    err.print(f"{len(found)} clients")


@app.command()
def revoke(client_id: str, home: HomeOption = None) -> None:
    """Revoke a client: it gets no new token, and its unexpired tokens stop working."""
    try:
        store = open_store(load_config(home))
    except HubError as exc:
        raise _fail(str(exc)) from None
    try:
        client = ClientRegistry(store).revoke(
            client_id, audit=AuditLog.for_store(store), by=operator()
        )
    except HubError as exc:
        raise _fail(str(exc)) from None
    finally:
        store.close()
    typer.echo(
        f"revoked {client.client_id} ({client.name}) at {client.revoked_at:%Y-%m-%d %H:%M:%S}"
    )
