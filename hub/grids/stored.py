"""The registry in the hub's database: replaced whole by a load, read back by ingest.

A load writes the grids, the beats and one info row (title, structure, content digest)
in the caller's transaction, with the audit entry that records it. ``load_registry``
reads the info row first and keeps the registry it last built per digest, so a batch
admitted through ``admit_rows`` costs one small query while the registry is unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any

from sqlalchemy import Connection, select

from hub.audit import AuditEvent, AuditLog
from hub.grids.file import registry_document
from hub.grids.model import Beat, Grid, GridRegistry, Structure
from hub.store import Store
from hub.store.tables import grid_beats, grid_registry, grid_registry_info

_built: dict[str, GridRegistry] = {}
"""The registry last built, by its digest (one entry)."""


def digest(registry: GridRegistry) -> str:
    document = json.dumps(registry_document(registry), sort_keys=True, default=str)
    return hashlib.sha256(document.encode()).hexdigest()


def save_registry(conn: Connection, registry: GridRegistry, now: dt.datetime) -> str:
    """Replace the stored registry by ``registry`` (in the caller's transaction); its digest."""
    conn.execute(grid_registry.delete())
    conn.execute(grid_beats.delete())
    conn.execute(grid_registry_info.delete())
    rows: list[dict[str, Any]] = [
        {
            "code": g.code,
            "position": n,
            "name": g.name,
            "grid_type": g.grid_type,
            "category": g.category,
            "community_code": g.community_code,
            "beat_code": g.beat_code,
            "workers": list(g.workers),
            "valid_from": g.valid_from,
            "valid_to": g.valid_to,
        }
        for n, g in enumerate(registry.grids)
    ]
    conn.execute(grid_registry.insert(), rows)
    if registry.beats:
        beats = [{"code": b.code, "name": b.name, "station": b.station} for b in registry.beats]
        conn.execute(grid_beats.insert(), beats)
    content = digest(registry)
    conn.execute(
        grid_registry_info.insert().values(
            id=1,
            title=registry.title,
            structure=registry.structure.template,
            digest=content,
            loaded_at=now,
        )
    )
    return content


def registry_info(conn: Connection) -> dict[str, Any] | None:
    """The loaded registry's title, structure, digest, load time and grid count; None
    when no registry is loaded."""
    info = conn.execute(select(grid_registry_info)).mappings().first()
    return dict(info) if info is not None else None


def load_registry(conn: Connection) -> GridRegistry | None:
    """The stored registry; None when none is loaded (then no registry rule applies)."""
    info = conn.execute(select(grid_registry_info)).first()
    if info is None:
        return None
    if info.digest in _built:
        return _built[info.digest]
    grids = tuple(
        Grid(
            code=row.code,
            name=row.name,
            grid_type=row.grid_type,
            community_code=row.community_code,
            beat_code=row.beat_code,
            category=row.category,
            workers=tuple(row.workers),
            valid_from=row.valid_from,
            valid_to=row.valid_to,
        )
        for row in conn.execute(select(grid_registry).order_by(grid_registry.c.position))
    )
    beats = tuple(
        Beat(row.code, row.name, row.station)
        for row in conn.execute(select(grid_beats).order_by(grid_beats.c.code))
    )
    registry = GridRegistry(grids, beats, Structure(info.structure), info.title)
    _built.clear()
    _built[info.digest] = registry
    return registry


def replace_registry(store: Store, registry: GridRegistry, subject: str, source: str) -> str:
    """Load ``registry`` into ``store`` in place of the one there, with the audit entry
    (``grids.loaded``: who, from where, how many grids and beats, the digest) in the same
    transaction. Records stored before are not judged again: a steward re-runs a sync."""
    now = dt.datetime.now(dt.UTC)
    log = AuditLog.for_store(store)
    with store.begin() as tx:
        before = registry_info(tx.conn)
        content = save_registry(tx.conn, registry, now)
        detail = {
            "source": source,
            "grids": len(registry.grids),
            "beats": len(registry.beat_codes),
            "digest": content,
            "replaced": before["digest"] if before else None,
        }
        event = AuditEvent(action="grids.loaded", outcome="allowed", subject=subject, detail=detail)
        log.append(event, tx)
    return content
