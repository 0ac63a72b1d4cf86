"""The ``hub`` command line (typer)."""

from __future__ import annotations

import typer

from hub.cli import (
    audit,
    break_glass,
    clients,
    config,
    contracts,
    db,
    grids,
    keys,
    policy,
    quarantine,
    report,
    transparency,
    users,
    webhooks,
)
from hub.cli.demo import demo
from hub.cli.init import init
from hub.cli.serve import serve
from hub.cli.sync import sync
from hub.cli.worker import worker

app = typer.Typer(
    help="Police–community data-sharing hub.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.command()(init)
app.command()(demo)
app.command()(sync)
app.command()(serve)
app.command()(worker)
app.add_typer(config.app, name="config")
app.add_typer(contracts.app, name="contracts")
app.add_typer(quarantine.app, name="quarantine")
app.add_typer(report.app, name="report")
audit.app.command("key")(transparency.key)
audit.app.command("prove")(transparency.prove_entry)
audit.app.command("check-proof")(transparency.check)
audit.app.add_typer(transparency.witness_app, name="witness")
app.add_typer(audit.app, name="audit")
app.add_typer(policy.app, name="policy")
app.add_typer(clients.app, name="clients")
app.add_typer(keys.app, name="keys")
app.add_typer(db.app, name="db")
app.add_typer(grids.app, name="grids")
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(users.app, name="users")
app.add_typer(break_glass.app, name="break-glass")


def main() -> None:
    app()
