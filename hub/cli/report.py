"""``hub report``: a sync run's validation report (``hub report [RUN_ID]``, the default
command ``run``) and the reconciliation of the police's and the grid's records
(``hub report reconcile``), both for a steward at the hub's machine."""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text
from typer.core import TyperGroup

from hub.audit import AuditLog
from hub.cli.options import HomeOption, open_current_store, operator
from hub.cli.sync import report as run_report
from hub.config import load_config
from hub.errors import HubError
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import Sharing
from hub.sharing.reconcile import KINDS, Reconciliation, Sides
from hub.store.query import QueryError

err = Console(stderr=True)


class _RunByDefault(TyperGroup):
    """A group whose first word, when it names none of its commands, is the default
    command's: ``hub report latest`` is ``hub report run latest``, as before the group."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:  # typer's own click Context
        if not args or (args[0] not in self.commands and args[0] not in ("--help", "-h")):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_RunByDefault,
    help="Reports for a steward: a sync run's validation report (the default: "
    "`hub report [RUN_ID|latest]`), the reconciliation of the two sides.",
)
app.command("run")(run_report)


@app.command()
def reconcile(
    grid: Annotated[str | None, typer.Option(help="One grid code; default every grid.")] = None,
    kind: Annotated[
        list[str] | None, typer.Option(help="person, house or unit; repeatable; default all.")
    ] = None,
    lists: Annotated[
        bool, typer.Option("--lists", help="Each thing as a JSON line, not the counts.")
    ] = False,
    home: HomeOption = None,
) -> None:
    """Per grid: known to the police only, to the grid only, to both; what they disagree on.

    People, houses and units, and the facts (address, phone, occupant count, household
    type) the records of both sides disagree on. A source counts under the `side`
    sources.yaml gives it (police or grid).

    --lists prints every such thing with its records: an access to personal data, audited
    (reconcile.read) before anything is printed; names and address codes in clear, ID
    numbers and phones masked.
    """
    kinds = kind or list(KINDS)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        err.print(Text(f"--kind is one of {', '.join(KINDS)}, not {unknown[0]}", style="red"))
        raise typer.Exit(2)
    config = load_config(home)
    store = open_current_store(config)
    try:
        audit = AuditLog.for_store(store)
        policies = PolicyRegistry(audit, config.home / POLICIES_DIR)
        sides = Sides.of_hub(config.home, store, policies)
        missing = sorted({"police", "grid"} - sides.declared())
        for side in missing:
            err.print(
                f"[yellow]no source in sources.yaml has `side: {side}`: "
                "only partners' pushes count on that side[/yellow]"
            )
        service = Reconciliation(Sharing(store, audit, policies), lambda: sides)
        found: list[dict[str, Any]] = []
        for name in kinds:
            if lists:
                found += service.lists(operator(), name, grid)
            else:
                found.append(service.overview(operator(), name, grid))
    except QueryError as exc:
        err.print(Text(f"--grid: {exc}", style="red"))
        raise typer.Exit(2) from None
    except HubError as exc:
        err.print(Text(str(exc), style="red"))
        raise typer.Exit(2) from None
    finally:
        store.close()
    if lists:
        for thing in found:
            typer.echo(json.dumps(thing, ensure_ascii=False))
        return
    for counts in found:
        Console().print(_table(counts))


def _table(counts: dict[str, Any]) -> Table:
    facts = list(counts["totals"]["disagreements"])
    table = Table(
        "grid",
        "police only",
        "grid only",
        "both",
        *facts,
        title=f"reconciliation: {counts['kind']}",
    )
    for row in [*counts["grids"], {"grid_code": "total", **counts["totals"]}]:
        table.add_row(
            Text(row["grid_code"]),
            str(row["police_only"]),
            str(row["grid_only"]),
            str(row["both"]),
            *(str(row["disagreements"][fact]) for fact in facts),
        )
    return table
