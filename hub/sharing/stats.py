"""Counts of one kind within the caller's row scope (一网通研): ``GET /v1/stats/{kind}``.

Decided by the same compiled policy as a read (action ``stats``: a grant whose ``access``
opens counts; the fields grouped by and filtered on granted in clear), counted by the
database within the same row scope and filters as a query (``hub.store.query``), then
suppressed (``hub.sharing.disclosure``): a count below the grant's ``min_cell`` reads
``"<k"``, and a count withheld so that none of those can be worked out from the totals
reads ``null``. The request, the cells suppressed and why, are one audit entry
(``stats.query``), written before the answer leaves.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from hub.sharing.disclosure import Suppression, protect
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
    decision = sharing.decide(asked, "stats", fields=group_by, filters=filters, audited_as=ACTION)
    try:
        counts = count_rows(sharing.store, asked.kind, decision.scope, group_by, filters, measure)
    except QueryError as exc:
        raise _invalid(sharing, asked, filters, query, "bad_filter", str(exc)) from None
    k = decision.min_cell or 1
    table = _Table(group_by, counts)
    if table.size > MAX_CELLS:
        message = f"the table would have {table.size} cells, more than {MAX_CELLS}"
        raise _invalid(sharing, asked, filters, query, "too_many_cells", message)
    hidden = protect(table.grid, k)
    answer = table.answer(hidden, k)
    suppressed = table.suppressed(hidden)
    sharing.audit.append(
        sharing.event(
            asked,
            ACTION,
            "allowed",
            filters=filters,
            decision=decision,
            detail={**query, "min_cell": k, "cells": len(counts.cells), "suppressed": suppressed},
        )
    )
    return {"kind": asked.kind, **query, "min_cell": k, **answer}


class _Table:
    """``Counts`` as the grid ``protect`` reads (cells, then the margins), and back."""

    def __init__(self, group_by: Sequence[str], counts: Counts) -> None:
        self.group_by = list(group_by)
        self.counts = counts
        two = len(group_by) == 2
        self.rows = sorted(counts.margins.get(0, {}), key=_order)
        self.cols = sorted(counts.margins[1], key=_order) if two else [None]
        rows, cols = len(self.rows), len(self.cols)
        grid = [[0] * (cols + 1) for _ in range(rows + 1)]
        for i, a in enumerate(self.rows):
            for j, b in enumerate(self.cols):
                grid[i][j] = counts.cells.get((a, b) if two else (a,), 0)
            grid[i][cols] = counts.margins[0][a]
        for j, b in enumerate(self.cols):
            grid[rows][j] = counts.margins[1][b] if two else counts.total
        grid[rows][cols] = counts.total
        self.grid = grid
        self.two = two

    @property
    def size(self) -> int:
        return len(self.grid) * len(self.grid[0])

    def _shown(self, hidden: Suppression, k: int, *cells: tuple[int, int]) -> Count:
        if any(c in hidden.primary for c in cells):
            return f"<{k}"
        if any(c in hidden for c in cells):
            return None
        i, j = cells[0]
        return self.grid[i][j]

    def answer(self, hidden: Suppression, k: int) -> dict[str, Any]:
        """Cells (combinations present only), margins of a two-way table, the total. A
        one-way table's cells are its row totals as well: either hidden hides both."""
        rows, cols = len(self.rows), len(self.cols)
        if not self.group_by:
            return {"cells": [], "margins": {}, "total": self._shown(hidden, k, (0, 0), (0, 1))}
        cells = []
        for i, a in enumerate(self.rows):
            for j, b in enumerate(self.cols):
                if self.grid[i][j] == 0:
                    continue
                also = () if self.two else ((i, cols),)
                cells.append({**self._names(a, b), "count": self._shown(hidden, k, (i, j), *also)})
        total = self._shown(hidden, k, (rows, cols), *(() if self.two else ((rows, 0),)))
        if not self.two:
            return {"cells": cells, "margins": {}, "total": total}
        first, second = self.group_by
        margins = {
            first: [
                {first: a, "count": self._shown(hidden, k, (i, cols))}
                for i, a in enumerate(self.rows)
            ],
            second: [
                {second: b, "count": self._shown(hidden, k, (rows, j))}
                for j, b in enumerate(self.cols)
            ],
        }
        return {"cells": cells, "margins": margins, "total": total}

    def suppressed(self, hidden: Suppression) -> list[dict[str, Any]]:
        """For the audit entry: each suppressed cell, margin or total, by its values (codes
        of fields kept in clear), and why."""
        rows, cols = len(self.rows), len(self.cols)
        listed = []
        seen = set()
        for why, cells in (
            ("below_min_cell", hidden.primary),
            ("complementary", hidden.complementary),
        ):
            for i, j in sorted(cells):
                a = self.rows[i] if i < rows else _ALL
                b = self.cols[j] if j < cols else _ALL
                named = self._names(a, b)
                key = tuple(sorted(named.items(), key=str))
                if key not in seen:
                    seen.add(key)
                    listed.append({"cell": named, "why": why})
        return listed

    def _names(self, a: Any, b: Any) -> dict[str, Any]:
        named = {}
        if self.group_by and a is not _ALL:
            named[self.group_by[0]] = a
        if self.two and b is not _ALL:
            named[self.group_by[1]] = b
        return named


_ALL = object()


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
