"""Alembic's entry point, run by ``hub.store.schema``: always on the connection it is handed
(no ini file, no URL of its own), against the store's one ``MetaData``."""

from __future__ import annotations

from alembic import context

from hub.store.schema import render_item
from hub.store.tables import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=True,
    render_item=render_item,
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
