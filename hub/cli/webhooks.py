"""``hub webhooks``: the delivery worker, and the operator's list and replay.

The delivery worker is a process of its own (``hub webhooks deliver``), not a part of
``hub worker``: a sync run holds its worker for minutes, while an event should leave
within seconds; a stalled receiver must not hold up syncs, nor a big sync hold up
webhooks; and the two scale apart (``hub worker`` refuses to start with no scheduled
source, which a hub that only pushes events does not need). Both share the one
database, and each kind of work is claimed under a lease, so any number of either may
run on any machine.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.cli.options import HomeOption, open_current_store, operator
from hub.cli.worker import duration, stop_on_signals, worker_logging
from hub.config import HubConfig, load_config, open_store
from hub.errors import HubError
from hub.events.admin import overview, prune, replay
from hub.events.delivery import Deliverer, DeliveryOptions
from hub.events.subscriptions import STATUSES
from hub.policyfiles import POLICIES_DIR, PolicyRegistry
from hub.sharing import Sharing

app = typer.Typer(help="Webhook subscriptions: deliver, list, replay, prune.")
out = Console()
err = Console(stderr=True)


def _config(home: HomeOption) -> HubConfig:
    try:
        return load_config(home)
    except HubError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from None


@app.command()
def deliver(
    once: Annotated[bool, typer.Option(help="Exit once no delivery is due.")] = False,
    lease: Annotated[
        str, typer.Option(help="How long a claim lasts unless renewed (longer than --timeout).")
    ] = "60s",
    poll: Annotated[str, typer.Option(help="How often an idle worker looks again.")] = "2s",
    timeout: Annotated[
        float, typer.Option(min=0.1, max=300, help="Seconds to connect, send, be answered.")
    ] = 10.0,
    batch: Annotated[int, typer.Option(min=1, max=1000)] = 10,
    worker_id: Annotated[str | None, typer.Option(help="Default host:pid:random.")] = None,
    home: HomeOption = None,
) -> None:
    """Send due deliveries as signed webhooks, sharing them with any other delivery
    worker on the database. SIGTERM or SIGINT: finish the delivery in flight, exit 0."""
    config = _config(home)
    options = DeliveryOptions(
        attempts=config.webhook_attempts,
        lease=duration(lease) or DeliveryOptions.lease,
        poll=duration(poll) or DeliveryOptions.poll,
        timeout=timeout,
        batch=batch,
        once=once,
        allow_loopback=config.webhook_loopback,
    )
    worker_logging()
    store = open_current_store(config)
    try:
        log = AuditLog.for_store(store)
        sharing = Sharing(store, log, PolicyRegistry(log, config.home / POLICIES_DIR))
        loop = Deliverer(sharing, ClientRegistry(store), options, worker_id=worker_id)
        try:
            with stop_on_signals(loop):
                loop.run()
        finally:
            loop.close()
    finally:
        store.close()


@app.command("list")
def list_(
    as_json: Annotated[bool, typer.Option("--json", help="One JSON document.")] = False,
    home: HomeOption = None,
) -> None:
    """Every subscription with its deliveries counted by status, then the dead letters."""
    config = _config(home)
    store = open_store(config)
    try:
        seen = overview(store, AuditLog.for_store(store), operator())
    finally:
        store.close()
    if as_json:
        document = {
            "subscriptions": [
                {**s.as_dict(), "client_id": s.client_id, "deliveries": counts}
                for s, counts in seen.subscriptions
            ],
            "dead": seen.dead,
        }
        out.print_json(json.dumps(document, default=str, ensure_ascii=False))
        return
    table = Table("id", "client", "url", "events", "purpose", "state", *STATUSES)
    for s, counts in seen.subscriptions:
        state = "deleted" if s.revoked_at else "active"
        table.add_row(
            s.id, s.client_id, s.url, ", ".join(s.events), s.purpose, state,
            *(str(counts[name]) for name in STATUSES),
        )  # fmt: skip
    out.print(table)
    if not seen.dead:
        out.print("no dead letters")
        return
    dead = Table("delivery", "event", "type", "subscription", "attempts", "last error")
    for row in seen.dead:
        dead.add_row(
            str(row["id"]), row["event_id"], row["type"], row["subscription_id"],
            str(row["attempts"]), row["last_error"] or "",
        )  # fmt: skip
    out.print("dead letters (hub webhooks replay --dead):")
    out.print(dead)


@app.command("replay")
def replay_(
    ref: Annotated[
        str | None, typer.Argument(help="A delivery number, or an event id (evt_…).")
    ] = None,
    dead: Annotated[bool, typer.Option("--dead", help="Every dead letter.")] = False,
    subscription: Annotated[
        str | None, typer.Option(help="Only this subscription's deliveries.")
    ] = None,
    home: HomeOption = None,
) -> None:
    """Queue deliveries again, due at once with fresh attempts: re-rendered under the
    subscriber's policy as it is now."""
    if (ref is None) == (not dead):
        err.print("[red]give a delivery or event id, or --dead[/red]")
        raise typer.Exit(2)
    config = _config(home)
    store = open_store(config)
    try:
        ids = replay(
            store,
            AuditLog.for_store(store),
            operator(),
            ref=ref,
            dead=dead,
            subscription=subscription,
        )
    except HubError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(1) from None
    finally:
        store.close()
    out.print(f"{len(ids)} deliveries queued again" + (f": {ids}" if ids else ""))


@app.command("prune")
def prune_command(
    older_than: Annotated[
        str, typer.Option(help="Events emitted longer ago than this, e.g. 30d, 12h.")
    ] = "30d",
    dead: Annotated[bool, typer.Option("--dead", help="Remove old dead letters too.")] = False,
    home: HomeOption = None,
) -> None:
    """Remove delivered and filtered deliveries of old events, and the old events no
    delivery still needs; pending ones are kept. Run it daily (a timer or cron)."""
    age = duration(older_than) or dt.timedelta()
    config = _config(home)
    store = open_current_store(config)
    try:
        before = dt.datetime.now(dt.UTC) - age
        done = prune(store, AuditLog.for_store(store), operator(), before=before, dead=dead)
    finally:
        store.close()
    typer.echo(
        f"pruned {done.deliveries} deliveries and {done.events} events emitted before "
        f"{before:%Y-%m-%dT%H:%M:%SZ}"
    )
