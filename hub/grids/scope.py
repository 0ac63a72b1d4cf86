"""Row scopes that name communities or streets, read in Python.

``policies`` cannot know the registry, so a scope's ``area`` match (a grid of these
communities or streets) holds for no record there. The database answers it in the query
(``hub.store.query.area_grids``); where the hub checks a record it holds in hand (a push,
a review, a visit written) it expands the match first, from the same registry table, so
the SQL and the Python reading agree.
"""

from __future__ import annotations

from sqlalchemy import Connection

from hub.grids.stored import load_registry
from hub.store import Store
from policies import Match, RowScope


def expand_scope(conn: Connection, scope: RowScope) -> RowScope:
    """``scope`` with each ``area`` match replaced by the grid codes the registry holds
    for those areas (none loaded: no code, so the match admits nothing)."""
    matches = (*scope.any_of, *scope.all_of)
    if not any(m.op == "area" for m in matches):
        return scope
    registry = load_registry(conn)

    def expanded(match: Match) -> Match:
        if match.op != "area":
            return match
        codes = tuple(registry.grids_of(match.values)) if registry is not None else ()
        return Match(match.field, "in", codes)

    return RowScope(
        scope.unrestricted,
        tuple(expanded(m) for m in scope.any_of),
        tuple(expanded(m) for m in scope.all_of),
    )


def store_scope(store: Store, scope: RowScope) -> RowScope:
    """``expand_scope`` over ``store``'s registry; no query for a scope naming no area."""
    if not any(m.op == "area" for m in (*scope.any_of, *scope.all_of)):
        return scope
    with store.engine.connect() as conn:
        return expand_scope(conn, scope)
