"""Small-cell suppression of a count table, primary and complementary.

The table is a grid of counts with its margins: rows ``0..R-1`` and columns ``0..C-1`` are
the cells, row ``R`` the column totals, column ``C`` the row totals, ``(R, C)`` the grand
total (a one-way table is a grid of one column). Every row and every column of that grid
is a line whose cells add up to its total, and the total is published too.

- primary: a count of 1 to ``k - 1`` (a cell, a margin or the total) is suppressed and
  reported as ``<k``. Zeros are published: a combination absent from the data is no one.
- complementary: further cells (each ``k`` or more, never a zero) are withheld until no
  suppressed cell can be worked out exactly from what is published.

What the attacker is assumed to know: every published count, that the lines add up, that
a ``<k`` cell lies in ``[1, k-1]``, that a complementary one (not ``<k``) is ``k`` or
more, and that one ``WITHHELD`` (a table held back whole) is present, so 1 or more.
Under that knowledge the unknowns form a transportation problem: the grid's rows and
columns are the vertices of a bipartite graph, each suppressed cell an edge, each line a
known sum. Another solution exists exactly when the cell lies on a cycle of the graph
along which every cell can move by one within its bounds (the line sums are kept by
adding and subtracting 1 alternately round the cycle); the constraint matrix is totally
unimodular, so the integer and the real solutions have the same bounds, and a cell is
determined exactly when no such cycle passes through it. ``determined`` searches for
one, both ways; ``protect`` adds the cheapest rectangle of cells round a determined cell
(the hypercube method of statistical offices, one rectangle at a time) until none is.
Hiding a cell more only widens what an attacker must consider, so a cell once freed
stays free: each is freed once, in turn.

Counts of ``distinct`` records are not additive (a person in two cells of a line counts
once in its total): the pattern is chosen as if they were, and a margin that only bounds
the sum of its cells tells an attacker less than one that equals it.

A table is one of a family (``hub.sharing.stats``): cells fixed by a smaller table are
``given`` here, only the ``free`` ones chosen. When no choice frees every hidden cell,
``protect`` says so (``determined`` is not empty) and the caller holds the table back.
Not answered here: differencing across scopes or filters (two tables whose counts differ
by one person); the stats service allows no filter to an aggregates-only grant, and only
noise (differential privacy) protects an open series of queries.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterator, Mapping

Cell = tuple[int, int]
Grid = list[list[int]]
BELOW, COMPLEMENTARY, WITHHELD = "below_min_cell", "complementary", "withheld"
Hidden = dict[Cell, str]
"""The cells hidden and how: ``BELOW`` (shown as ``<k``), ``COMPLEMENTARY`` (null),
``WITHHELD`` (its whole table held back)."""
CANDIDATES_TRIED = 40
"""Rectangles tried, cheapest first, for one that frees a determined cell."""


def protect(
    grid: Grid,
    k: int,
    *,
    given: Mapping[Cell, str] | None = None,
    free: Callable[[Cell], bool] = lambda cell: True,
    twins: Mapping[Cell, Cell] | None = None,
) -> Hidden:
    """The cells of ``grid`` (with margins: its last row and column) to hide so that every
    count below ``k`` is hidden and, if it can be done, none hidden can be worked out.

    Only ``free`` cells are judged and chosen here; the others are hidden as ``given``
    says or shown. ``twins`` are cells that are one count (a one-way table's cells and its
    row totals): hidden together."""
    tied = twins or {}
    hidden: Hidden = dict(given or {})
    hidden |= {c: BELOW for c, value in _cells(grid) if free(c) and 0 < value < k}

    def choosable(c: Cell) -> bool:
        return c in hidden or (free(c) and grid[c[0]][c[1]] > 0)

    # Hiding one more cell never fixes a hidden one (what is published only shrinks), so
    # each cell is freed once, in turn, the cells added for it queued after it.
    queue = deque(sorted(hidden))
    while queue:
        cell = queue.popleft()
        while _is_determined(grid, hidden, k, cell):
            added = _rectangle(grid, hidden, k, cell, choosable)
            added |= {tied[c] for c in added if c in tied}
            if not added:
                return hidden | {
                    c: COMPLEMENTARY for c, _ in _cells(grid) if c not in hidden and choosable(c)
                }
            hidden |= dict.fromkeys(added, COMPLEMENTARY)
            queue.extend(sorted(added))
    return hidden


def determined(grid: Grid, hidden: Hidden, k: int) -> set[Cell]:
    """The hidden cells whose value what is shown and the bounds fix exactly."""
    return {cell for cell in hidden if _is_determined(grid, hidden, k, cell)}


def _cells(grid: Grid) -> Iterator[tuple[Cell, int]]:
    for i, row in enumerate(grid):
        for j, value in enumerate(row):
            yield (i, j), value


def _rectangle(
    grid: Grid, hidden: Hidden, k: int, cell: Cell, choosable: Callable[[Cell], bool]
) -> set[Cell]:
    """The cells to add round ``cell``: of the rectangles through it whose corners may all
    be hidden and are not all hidden yet, the cheapest (least count withheld) that frees
    it, or the cheapest one if none does; empty if there is none."""
    i, j = cell
    options = []
    for i2 in range(len(grid)):
        for j2 in range(len(grid[0])):
            corners = {(i, j2), (i2, j), (i2, j2)}
            if i2 == i or j2 == j or not all(choosable(c) for c in corners):
                continue
            new = sorted(corners - set(hidden))
            if new:
                options.append((sum(grid[a][b] for a, b in new), new))
    options.sort()
    for _, cells in options[:CANDIDATES_TRIED]:
        if not _is_determined(grid, hidden | dict.fromkeys(cells, COMPLEMENTARY), k, cell):
            return set(cells)
    return set(options[0][1]) if options else set()


def _is_determined(grid: Grid, hidden: Hidden, k: int, cell: Cell) -> bool:
    return not _can_move(grid, hidden, k, cell, +1) and not _can_move(grid, hidden, k, cell, -1)


def _bounds(how: str, k: int) -> tuple[int, int | None]:
    return (1, k - 1) if how == BELOW else (k, None) if how == COMPLEMENTARY else (1, None)


def _can_move(grid: Grid, hidden: Hidden, k: int, cell: Cell, step: int) -> bool:
    """Whether ``cell`` can take the value ``grid[cell] + step`` in another solution: it
    can itself, and a cycle through it lets every other cell move by one the other way.

    Vertices are ``("r", i)`` and ``("c", j)``; a cell's variable is its count, negated
    for a margin of one line (so that every vertex's incident variables sum to zero);
    raising a variable is an arc row → column, lowering it column → row."""
    rows, cols = len(grid) - 1, len(grid[0]) - 1

    def sign(c: Cell) -> int:
        return -1 if (c[0] == rows) != (c[1] == cols) else 1

    def room(c: Cell, direction: int) -> bool:
        """Whether the variable of ``c`` can change by ``direction`` within the bounds."""
        value = grid[c[0]][c[1]]
        low, high = _bounds(hidden[c], k)
        if direction * sign(c) > 0:
            return high is None or value + 1 <= high
        return value - 1 >= low

    direction = step * sign(cell)
    if not room(cell, direction):
        return False
    arcs: dict[tuple[str, int], list[tuple[str, int]]] = {}
    for c in hidden:
        if c == cell:
            continue
        r, col = ("r", c[0]), ("c", c[1])
        if room(c, +1):
            arcs.setdefault(r, []).append(col)
        if room(c, -1):
            arcs.setdefault(col, []).append(r)
    # Raising the variable of ``cell`` is the arc row → column: the cycle closes by a path
    # back from its column to its row; lowering it, from its row to its column.
    here, there = ("r", cell[0]), ("c", cell[1])
    start, goal = (there, here) if direction > 0 else (here, there)
    seen = {start}
    queue = deque([start])
    while queue:
        at = queue.popleft()
        if at == goal:
            return True
        for step_to in arcs.get(at, ()):
            if step_to not in seen:
                seen.add(step_to)
                queue.append(step_to)
    return False
