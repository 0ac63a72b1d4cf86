from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
import uvicorn
from rich.console import Console
from rich.table import Table

import policies
from hub.api import create_app
from hub.audit import AuditLog
from hub.auth.clients import ClientRegistry
from hub.auth.scopes import SUBSCRIPTION_SCOPES, policy_scopes
from hub.cli.init import init
from hub.cli.options import HomeOption, operator
from hub.cli.sync import run_sync, summary_table
from hub.config import load_config, open_store
from hub.demo import story
from hub.files import private_dir, write_private
from hub.grids import load_registry_file, replace_registry
from hub.ingest.sources import save_sources
from hub.policyfiles import POLICIES_DIR, PolicyRegistry, install_policy
from hub.reference.systems import reference_systems
from hub.reference.world import World
from hub.sharing import Sharing
from hub.sharing.reconcile import KINDS, Reconciliation, Sides
from hub.store import Store
from policies import load_policy

DEMO_CLIENTS = "demo-clients.json"


def demo(
    home: HomeOption = None,
    people: Annotated[int, typer.Option(min=10, help="People in the synthetic world.")] = 2000,
    seed: Annotated[int, typer.Option(help="Seed of the synthetic world.")] = 7,
    serve: Annotated[bool, typer.Option(help="Serve the hub API after the sync.")] = True,
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8000,
) -> None:
    """The main job: reference sources up, every source synced, the report written, serving.

    Stands up a police database, a grid-platform HTTP server and a drop folder of
    self-declarations from one synthetic world, a few percent of whose rows are broken
    on purpose; syncs them all; checks that exactly the broken rows were quarantined,
    each under its expected rule; installs the example sharing policies with one demo
    client each; runs the two-way loop between the police station and the grid platform
    through the API (``hub.demo.story``), printing what each side's webhook receiver got;
    then serves the hub on 127.0.0.1 until interrupted.
    """
    init(home=home, database_url=None)
    config = load_config(home)
    console = Console()
    folder = config.home / "reference"
    with reference_systems(folder, people=people, seed=seed, registry=True) as refs:
        save_sources(config.home, refs.sources)
        store = open_store(config)
        try:
            if refs.grids_file is not None:
                registry = load_registry_file(refs.grids_file)
                replace_registry(store, registry, operator(), str(refs.grids_file))
            report = run_sync(store, refs.sources, batch_size=1000)
            path = report.save(config.home)
            console.print(summary_table(report))
            console.print(defects_table(store, refs.world))
            console.print(barrier_table(store, config.home, refs.world))
            partners = demo_partners(store, config.home, refs.world)
        finally:
            store.close()
        console.print(f"report: {path}")
        console.print(partners_table(partners))
        if not report.ok:
            raise typer.Exit(1)
        console.print("\n[bold]the two-way loop[/bold], through the API, each step pushed out:")
        closed = story.tell(config, partners, console)
        history = closed["record"]["history"]
        console.print(
            f"order {closed['record']['order_id']}: {' → '.join(h['step'] for h in history)}"
        )
        if serve:
            console.print(
                f"serving the hub on http://127.0.0.1:{port} (docs at /docs); Ctrl-C stops"
            )
            uvicorn.run(create_app(config), host="127.0.0.1", port=port, log_level="warning")


EXAMPLE_POLICIES = Path(policies.__file__).parent / "examples"


def demo_partners(store: Store, home: Path, world: World) -> list[dict[str, Any]]:
    """The example policies installed, and one client per policy (made anew each demo,
    the previous demo's revoked), saved to ``demo-clients.json`` (mode 0600)."""
    folder = private_dir(home / POLICIES_DIR)
    audit = AuditLog.for_store(store)
    for source in sorted(EXAMPLE_POLICIES.glob("*.yaml")):
        install_policy(load_policy(source), source, folder, audit)
    registry = ClientRegistry(store)
    for old in registry.list(include_revoked=False):
        if old.name.startswith("demo "):
            registry.revoke(old.client_id, audit=audit, by=operator())
    grid = world.people[0]["grid_code"]
    beat = world.people[0]["beat_code"]
    wanted = [
        ("demo grid platform", "grid-platform", {"grid_codes": [grid]}, "网格服务"),
        ("demo police station", "police-station", {"beat_codes": [beat]}, "社区警务"),
        ("demo street analyst", "street-analyst", {"grid_prefixes": [grid[:7]]}, "统计分析"),
    ]
    partners = []
    for name, policy_id, claims, purpose in wanted:
        policy = load_policy(EXAMPLE_POLICIES / f"{policy_id}.yaml")
        scopes = sorted(policy_scopes(policy) | SUBSCRIPTION_SCOPES)
        new = registry.add(name, policy_id, scopes, claims, audit=audit, by=operator())
        partners.append(
            {
                "name": name,
                "client_id": new.client.client_id,
                "secret": new.secret,
                "policy": policy_id,
                "claims": claims,
                "purpose": purpose,
            }
        )
    write_private(home / DEMO_CLIENTS, json.dumps(partners, ensure_ascii=False, indent=2))
    return partners


def partners_table(partners: list[dict[str, Any]]) -> Table:
    table = Table(
        "partner",
        "client id",
        "policy",
        "purpose",
        title="demo clients (secrets in demo-clients.json)",
    )
    for p in partners:
        table.add_row(p["name"], p["client_id"], p["policy"], p["purpose"])
    return table


def barrier_table(store: Store, home: Path, world: World) -> Table:
    """The reconciliation of the two sides, kind by kind (``hub report reconcile`` has it
    per grid), beside what the world planted: the two must agree."""
    audit = AuditLog.for_store(store)
    policies = PolicyRegistry(audit, home / POLICIES_DIR)
    sides = Sides.of_hub(home, store, policies)
    service = Reconciliation(Sharing(store, audit, policies), lambda: sides)
    table = Table(
        "kind",
        "police only",
        "grid only",
        "both",
        "disagreements",
        "planted",
        title="the barrier (信息壁垒): hub report reconcile",
    )
    for kind in KINDS:
        totals = service.overview(operator(), kind)["totals"]
        found = totals["police_only"] + totals["grid_only"]
        differing = sum(totals["disagreements"].values())
        gaps = sum(g.kind == kind for g in world.gaps)
        planted = sum(d.kind == kind for d in world.disagreements)
        table.add_row(
            kind,
            str(totals["police_only"]),
            str(totals["grid_only"]),
            str(totals["both"]),
            str(differing),
            f"{gaps} + {planted}"
            + ("" if (found, differing) == (gaps, planted) else " [red]≠[/red]"),
        )
    return table


REGISTRY_RULES = ("unknown_grid", "unknown_beat", "grid_beat_mismatch")


def defects_table(store: Store, world: World) -> Table:
    """Planted defects per source and stream, and how many the hub caught under the
    expected rule; those planted against the grid registry on rows of their own. A
    source keyed by a sealed value has its keys blind-indexed."""
    caught = {
        (q.source_system, q.stream, q.source_key): {f"{f['field']}:{f['rule']}" for f in q.failures}
        for q in store.quarantined()
    }
    table = Table("source/stream", "planted", "caught", "missed", title="deliberately broken rows")
    per_stream: dict[tuple[str, str], list[bool]] = {}
    for d in world.defects:
        keys = (d.source_key, store.seal_source_key(d.source_key))
        hit = any(d.expected in caught.get((d.source, d.stream, key), set()) for key in keys)
        against = " (grid registry)" if d.expected.split(":")[1] in REGISTRY_RULES else ""
        per_stream.setdefault((d.source, d.stream + against), []).append(hit)
    for (source, stream), hits in sorted(per_stream.items()):
        missed = hits.count(False)
        table.add_row(
            f"{source}/{stream}",
            str(len(hits)),
            str(hits.count(True)),
            f"[red]{missed}[/red]" if missed else "0",
        )
    return table
