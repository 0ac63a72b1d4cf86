"""The reference source systems running together: police database, grid platform, drops.

Used by ``hub demo``, the tests and the benchmarks: one call stands up all three from one
synthetic world and returns the ``sources.yaml`` entries that point the hub at them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from hub.files import private_dir
from hub.grids import write_registry_file
from hub.ingest.sources import SourceSpec
from hub.reference.drops import write_drops
from hub.reference.grid_server import create_app
from hub.reference.grids import world_registry
from hub.reference.police_db import write_police_db
from hub.reference.serve import serve_in_thread
from hub.reference.sources import reference_sources
from hub.reference.world import World, generate


@dataclass(frozen=True)
class ReferenceSystems:
    world: World
    sources: list[SourceSpec]
    grid_url: str
    grids_file: Path | None = None
    """The world's grid registry file (``hub grids load``), when asked for."""


@contextmanager
def reference_systems(
    folder: Path,
    people: int = 2000,
    seed: int = 7,
    police_url: str | None = None,
    registry: bool = False,
) -> Iterator[ReferenceSystems]:
    """Stand up the reference sources under ``folder``; the grid server stops on exit.

    With ``registry``, the world's grid registry is written to ``folder/grids.yaml`` and
    the world holds rows planted against it: a hub syncing it must load the registry."""
    world = generate(people=people, seed=seed, registry_defects=registry)
    private_dir(folder)
    grids_file = None
    if registry:
        grids_file = folder / "grids.yaml"
        write_registry_file(world_registry(), grids_file)
    police_url = police_url or f"sqlite:///{folder / 'police.db'}"
    write_police_db(world, police_url).dispose()
    drops = folder / "drops"
    write_drops(world, drops)
    api_key = secrets.token_urlsafe(24)
    app = create_app(world.grid, api_keys={api_key}, clients={})
    with serve_in_thread(app) as server:
        specs = reference_sources(police_url, server.url, api_key, drops)
        yield ReferenceSystems(world, specs, server.url, grids_file)
