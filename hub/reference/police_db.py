"""The reference police database: the police share of the world, in police-style tables."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, DateTime, Engine, Integer, MetaData, String, Table, inspect

from hub.files import private_sqlite_file
from hub.reference.world import World
from hub.store import engine_for

PRIMARY_KEYS = {"t_rk_jbxx": "RKID", "t_fw": "FWBM", "t_dw": "TYSHXYDM"}
CURSOR = "GXSJ"


def _table(metadata: MetaData, name: str, rows: list[dict[str, Any]]) -> Table:
    sample = {k: v for row in rows for k, v in row.items() if v is not None}
    columns = []
    for column in rows[0]:
        value = sample.get(column, "")
        kind: Any = String(64)
        if isinstance(value, dt.datetime):
            kind = DateTime()
        elif isinstance(value, int):
            kind = Integer()
        columns.append(
            Column(column, kind, primary_key=column == PRIMARY_KEYS[name], index=column == CURSOR)
        )
    return Table(name, metadata, *columns)


def write_police_db(world: World, url: str, chunk: int = 10_000) -> Engine:
    """Create (or replace) the police tables at ``url`` and fill them from ``world``
    (an SQLite file is created 0600)."""
    private_sqlite_file(url)
    engine = engine_for(url)
    metadata = MetaData()
    tables = {name: _table(metadata, name, rows) for name, rows in world.police.items() if rows}
    existing = set(inspect(engine).get_table_names())
    with engine.begin() as conn:
        for table in tables.values():
            if table.name in existing:
                table.drop(conn)
        metadata.create_all(conn)
        for name, table in tables.items():
            for part in _chunks(world.police[name], chunk):
                conn.execute(table.insert(), part)
    return engine


def _chunks(rows: list[dict[str, Any]], size: int) -> Iterable[list[dict[str, Any]]]:
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
