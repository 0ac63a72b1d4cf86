"""Counts of one kind within the caller's row scope (一网通研): ``GET /v1/stats/{kind}``.

Decided by the same compiled policy as a read (action ``stats``: a grant whose ``access``
opens counts; the fields grouped by and filtered on granted in clear), counted by the
database within the same row scope and filters as a query (``hub.store.query``), then
suppressed (``hub.sharing.disclosure``): a count below the grant's ``min_cell`` reads
``"<k"``, and a count withheld so that none of those can be worked out from the totals
reads ``null``; each table is suppressed as one of its family (``_Table``). The request,
the cells suppressed and why, are one audit entry (``stats.query``), written before the
answer leaves. A grant with ``access: both`` (it reads the rows anyway) may filter; an
aggregates-only one may not (``policies.evaluate.unfiltered``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from hub.sharing.disclosure import BELOW, WITHHELD, determined, protect
from hub.sharing.errors import InvalidRequest
from hub.sharing.service import Asked, Sharing
from hub.store.query import Counts, Filter, Measure, QueryError, count_rows

ACTION = "stats.query"
MAX_GROUP_BY = 2
MAX_CELLS = 600
"""Cells of a table with its margins (a street's ~50 grids by 4 household types is 255): a
larger one is refused, for its suppression would take seconds; filter by a grid prefix."""
Count = int | str | None


def stats(
    sharing: Sharing,
    asked: Asked,
    *,
    group_by: Sequence[str],
    measure: Measure,
    filters: Sequence[Filter],
) -> dict[str, Any]:
    """The caller's count table of ``asked.kind``; ``Denied`` or ``InvalidRequest``,
    each with its audit event, when it may not have it or the hub cannot count it."""
    query = {"group_by": list(group_by), "measure": measure}
    if len(group_by) > MAX_GROUP_BY or len(set(group_by)) != len(group_by):
        raise _invalid(sharing, asked, filters, query, "group_by", "group by one or two fields")
    fields = sorted(group_by)  # one table, whichever way round it is asked for
    decision = sharing.decide(asked, "stats", fields=group_by, filters=filters, audited_as=ACTION)
    try:
        counts = count_rows(sharing.store, asked.kind, decision.scope, fields, filters, measure)
    except QueryError as exc:
        raise _invalid(sharing, asked, filters, query, "bad_filter", str(exc)) from None
    k = decision.min_cell or 1
    table = _Table(fields, counts, k)
    if table.size > MAX_CELLS:
        message = f"the table would have {table.size} cells, more than {MAX_CELLS}"
        raise _invalid(sharing, asked, filters, query, "too_many_cells", message)
    table.protect()
    sharing.audit.append(
        sharing.event(
            asked,
            ACTION,
            "allowed",
            filters=filters,
            decision=decision,
            detail={
                **query,
                "min_cell": k,
                "cells": len(counts.cells),
                "suppressed": table.suppressed(),
            },
        )
    )
    return {"kind": asked.kind, **query, "min_cell": k, **table.answer()}


def tabulate(group_by: Sequence[str], counts: Counts, k: int) -> dict[str, Any]:
    """``counts`` as ``GET /v1/stats`` answers them: cells, margins, total, suppressed."""
    table = _Table(sorted(group_by), counts, k)
    table.protect()
    return table.answer()


How = str | None
"""How a count is shown: None (as it is), or hidden: ``BELOW`` (``"<k"``),
``COMPLEMENTARY`` or ``WITHHELD`` (null)."""


class _Table:
    """One request's counts, suppressed as every table of the family would suppress them.

    The family is every table of one scope: the total, each field's one-way table, each
    pair's two-way table. A two-way table's margins are one-way tables' cells and its
    corner their total, so each is decided once, in its own table, and taken as given by
    the larger: every count is shown, ``"<k"`` or null alike whichever table asks for it,
    and asking for the tables one by one tells no more than any one of them. A table
    whose hidden counts cannot all be protected (a line whose zeros and bounds pin them)
    is held back whole (``withheld``: the field, or ``cells``). The fields are taken in
    one order (sorted): a table asked for the other way round is the same table."""

    def __init__(self, fields: list[str], counts: Counts, k: int) -> None:
        self.fields = fields
        self.counts = counts
        self.k = k
        self.values = [sorted(counts.margins[n], key=_order) for n in range(len(fields))]
        self.total: How = BELOW if 0 < counts.total < k else None
        self.one_way: list[dict[Any, How]] = []
        self.cells: dict[tuple[Any, ...], How] = {}
        self.withheld: list[str] = []

    @property
    def size(self) -> int:
        return math.prod(len(values) + 1 for values in self.values)

    def protect(self) -> None:
        self.one_way = [self._one_way(n) for n in range(len(self.fields))]
        if len(self.fields) == 2:
            self.cells = self._two_way()
        elif self.fields:
            self.cells = {(value,): how for value, how in self.one_way[0].items()}
        if self.cells and all(how == WITHHELD for how in self.cells.values()):
            self.withheld.append("cells")

    def _one_way(self, n: int) -> dict[Any, How]:
        values, margin, total = self.values[n], self.counts.margins[n], self.counts.total
        last = len(values)
        grid = [*([margin[v], margin[v]] for v in values), [total, total]]
        corner = {(last, 0): BELOW, (last, 1): BELOW} if self.total else {}
        hidden = protect(
            grid,
            self.k,
            given=corner,
            free=lambda cell: cell[0] < last,
            twins={(i, j): (i, 1 - j) for i in range(last) for j in (0, 1)},
        )
        if determined(grid, hidden, self.k):
            if len(self.fields) == 2:
                self.withheld.append(self.fields[n])
            return dict.fromkeys(values, WITHHELD)
        return {v: hidden.get((i, 0)) for i, v in enumerate(values)}

    def _two_way(self) -> dict[tuple[Any, ...], How]:
        rows, cols = self.values
        last_row, last_col = len(rows), len(cols)
        grid = [[self.counts.cells.get((a, b), 0) for b in cols] for a in rows]
        for line, a in zip(grid, rows, strict=True):
            line.append(self.counts.margins[0][a])
        grid.append([*(self.counts.margins[1][b] for b in cols), self.counts.total])
        given: dict[tuple[int, int], str] = {}
        for i, a in enumerate(rows):
            if how := self.one_way[0][a]:
                given[(i, last_col)] = how
        for j, b in enumerate(cols):
            if how := self.one_way[1][b]:
                given[(last_row, j)] = how
        if self.total:
            given[(last_row, last_col)] = self.total
        hidden = protect(
            grid,
            self.k,
            given=given,
            free=lambda cell: cell[0] < last_row and cell[1] < last_col,
        )
        pinned = bool(determined(grid, hidden, self.k))
        return {
            (a, b): WITHHELD if pinned else hidden.get((i, j))
            for i, a in enumerate(rows)
            for j, b in enumerate(cols)
            if grid[i][j]
        }

    def _shown(self, value: int, how: How) -> Count:
        return value if how is None else f"<{self.k}" if how == BELOW else None

    def answer(self) -> dict[str, Any]:
        """Cells (combinations present, unless held back), each field's margin in a
        two-way table (its values, unless held back), the total."""
        counts = self.counts
        cells = [
            {**dict(zip(self.fields, key, strict=True)), "count": self._shown(n, how)}
            for key, how in self.cells.items()
            if (n := counts.cells[key]) and "cells" not in self.withheld
        ]
        margins = {
            name: [
                {name: value, "count": self._shown(counts.margins[n][value], how)}
                for value, how in self.one_way[n].items()
            ]
            for n, name in enumerate(self.fields)
            if len(self.fields) == 2
        }
        total = self._shown(counts.total, self.total)
        return {"cells": cells, "margins": margins, "total": total, "withheld": self.withheld}

    def suppressed(self) -> list[dict[str, Any]]:
        """For the audit entry: each suppressed cell, margin or total, by its values (codes
        of fields kept in clear), and why."""
        listed = [
            {"cell": dict(zip(self.fields, key, strict=True)), "why": how}
            for key, how in self.cells.items()
            if how
        ]
        if len(self.fields) == 2:
            listed += [
                {"cell": {name: value}, "why": how}
                for n, name in enumerate(self.fields)
                for value, how in self.one_way[n].items()
                if how
            ]
        if self.total:
            listed.append({"cell": {}, "why": self.total})
        return listed


def _order(value: Any) -> tuple[bool, str]:
    return (value is None, str(value))


def _invalid(
    sharing: Sharing,
    asked: Asked,
    filters: Sequence[Filter],
    query: dict[str, Any],
    code: str,
    message: str,
) -> InvalidRequest:
    event = sharing.event(
        asked, ACTION, "denied", filters=filters, detail={**query, "reason": code}
    )
    return InvalidRequest(code, message, event)
