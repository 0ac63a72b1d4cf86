from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
import yaml
from rich.console import Console
from rich.table import Column, Table

from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.cli.options import HomeOption
from hub.config import default_home, load_config, open_store
from hub.errors import HubError
from hub.policyfiles import POLICIES_DIR, PolicyConflict, install_policy, recorded, versions
from policies import PolicyInvalid, explain, load_policies, load_policy
from policies.diff import Change, diff_all, widenings
from policies.diff import diff as policy_diff

app = typer.Typer(
    help="Sharing policies: check a document, explain who sees a field, diff two versions, "
    "show a version."
)
err = Console(stderr=True)


@app.command()
def check(file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)]) -> None:
    """Validate a policy against the contracts; exit 1 listing every problem."""
    try:
        policy = load_policy(file)
    except PolicyInvalid as exc:
        for problem in exc.problems:
            typer.echo(f"{file}: {problem.where}: {problem.message}")
        raise typer.Exit(1) from None
    err.print(f"[green]{policy.ref} ok[/green] (digest {policy.digest})")


@app.command("diff")
def diff_command(
    old: Annotated[Path, typer.Argument(exists=True)],
    new: Annotated[Path, typer.Argument(exists=True)],
    allow_widen: Annotated[
        bool, typer.Option("--allow-widen", help="Exit 0 even if access widens.")
    ] = False,
) -> None:
    """What NEW grants that OLD did not (widens) and what it takes away (narrows), for
    every kind, field, purpose, action, row rule and work-order step; two folders are
    compared policy by policy (by id). Exit 1 if anything widens (unless --allow-widen),
    2 if a file is not a valid policy."""
    try:
        if old.is_dir() and new.is_dir():
            found = diff_all(load_policies(old), load_policies(new))
        elif old.is_dir() or new.is_dir():
            err.print("[red]compare a file with a file, or a folder with a folder[/red]")
            raise typer.Exit(2)
        else:
            before, after = load_policy(old), load_policy(new)
            found = {after.id: policy_diff(before, after)}
    except PolicyInvalid as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    changes = [change for listed in found.values() for change in listed]
    for policy_id, listed in found.items():
        if listed:
            Console(width=160).print(_diff_table(policy_id, listed))
    wider = widenings(changes)
    err.print(f"{len(wider)} widening, {len(changes) - len(wider)} narrowing")
    if wider and not allow_widen:
        raise typer.Exit(1)


def _diff_table(policy_id: str, changes: list[Change]) -> Table:
    headers = ("", "where", "before", "after", "for example")
    table = Table(*(Column(h, overflow="fold") for h in headers), title=policy_id)
    for change in changes:
        mark = "[red]widens[/red]" if change.widens else "[green]narrows[/green]"
        table.add_row(mark, change.where, change.before, change.after, change.example)
    return table


@app.command("explain")
def explain_field(
    target: Annotated[str, typer.Argument(help="KIND.FIELD, e.g. person.id_number")],
    policies: Annotated[
        Path | None, typer.Option(help="Policy folder; default the hub home's policies/.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Which clients see a field, in clear, masked, hashed or year-only, under which policy
    and for what purpose. Without a hub at HOME, only the policies are listed."""
    folder = policies or (home or default_home()) / POLICIES_DIR
    try:
        grants = explain(load_policies(folder).values(), target)
    except PolicyInvalid as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    except (KeyError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    bound = _clients_by_policy(home)
    headers = ("clients", "policy", "treatment", "access", "actions", "purposes", "rows")
    table = Table(*(Column(h, overflow="fold") for h in headers), title=f"who sees {target}")
    for g in grants:
        table.add_row(
            "\n".join(bound.get(g.policy_id, [])) or "-",
            f"{g.policy_id}@v{g.policy_version}",
            g.treatment.value + (" (break-glass)" if g.break_glass else ""),
            "counts only" if g.access == "aggregate" else g.access,
            ", ".join(g.actions),
            ", ".join(g.purposes),
            g.rows,
        )
    Console().print(table)
    if not grants:
        err.print(f"no policy in {folder} serves {target}")


@app.command()
def install(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False)],
    home: HomeOption = None,
) -> None:
    """Put a policy in force: recorded, audited, and picked up by running hubs within
    seconds. A version number names one content: change the content, raise the version."""
    try:
        policy = load_policy(file)
    except PolicyInvalid as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from None
    config = load_config(home)
    store = open_store(config)
    try:
        target = install_policy(policy, file, config.home / POLICIES_DIR, AuditLog.for_store(store))
    except PolicyConflict as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from None
    finally:
        store.close()
    err.print(f"[green]{policy.ref} in force[/green] (digest {policy.digest}): {target}")


@app.command()
def show(
    ref: Annotated[str, typer.Argument(help="ID (the version in force) or ID@VERSION")],
    home: HomeOption = None,
) -> None:
    """Print a policy as it is, or was, in force: every version an audit entry names stays
    readable after it is replaced."""
    policy_id, _, version = ref.partition("@")
    store = open_store(load_config(home))
    try:
        if version:
            policy = recorded(store, policy_id, int(version)) if version.isdigit() else None
        else:
            path = load_config(home).home / POLICIES_DIR / f"{policy_id}.yaml"
            policy = load_policy(path) if path.exists() else None
        history = versions(store, policy_id)
    finally:
        store.close()
    if policy is None:
        err.print(f"[red]no policy {ref}[/red]")
        raise typer.Exit(2)
    typer.echo(yaml.safe_dump(policy.as_dict(), allow_unicode=True, sort_keys=False), nl=False)
    listed = ", ".join(f"v{v} ({digest}, {at:%Y-%m-%d %H:%M})" for v, digest, at in history)
    err.print(f"{policy.ref} digest {policy.digest}; recorded versions: {listed or 'none'}")


def _clients_by_policy(home: Path | None) -> dict[str, list[str]]:
    """Unrevoked clients by policy id, as ``name (client id)``; empty without a hub."""
    try:
        store = open_store(load_config(home))
    except HubError:
        return {}
    try:
        clients = ClientRegistry(store).list(include_revoked=False)
    finally:
        store.close()
    bound: dict[str, list[str]] = {}
    for client in clients:
        bound.setdefault(client.policy_id, []).append(f"{client.name} ({client.client_id})")
    return bound
