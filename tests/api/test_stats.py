"""Counts (``GET /v1/stats``): aggregates-only partners get counts and never a row, small
cells suppressed, and an attacker who solves the table from its margins (a linear
program over everything published) recovers no suppressed cell."""

from __future__ import annotations

import random
from collections import Counter
from typing import Any

import pytest
from scipy.optimize import linprog

from contracts import Person
from hub.audit import AuditLog, AuditQuery
from hub.config import open_store
from hub.sharing.disclosure import BELOW, WITHHELD, protect
from hub.sharing.stats import tabulate
from hub.store.query import Counts
from tests.api.conftest import Hub

K = 5
UNKNOWN = "unknown"
Published = list[list[int | str | None]]


def attack(published: Published, k: int) -> dict[tuple[int, int], tuple[float, float]]:
    """What an attacker learns of each hidden cell of a grid with margins (last row and
    column): its least and greatest value consistent with every published count, the
    lines adding up, ``"<k"`` in [1, k-1] and a withheld cell (None) k or more."""
    rows, cols = len(published) - 1, len(published[0]) - 1
    hidden = [
        (i, j) for i in range(rows + 1) for j in range(cols + 1) if not _known(published, i, j)
    ]
    at = {cell: n for n, cell in enumerate(hidden)}
    lines = [[(i, j) for j in range(cols)] + [(i, cols)] for i in range(rows + 1)]
    lines += [[(i, j) for i in range(rows)] + [(rows, j)] for j in range(cols + 1)]
    a_eq, b_eq = [], []
    for line in lines:
        *parts, total = line
        row = [0.0] * len(hidden)
        known = 0
        for sign, cell in [*((1, c) for c in parts), (-1, total)]:
            if cell in at:
                row[at[cell]] += sign
            else:
                known += sign * int(published[cell[0]][cell[1]])  # type: ignore[arg-type]
        if any(row):
            a_eq.append(row)
            b_eq.append(-known)
    bounds = [_bounds(published[i][j], k) for i, j in hidden]
    found = {}
    for cell, n in at.items():
        goal = [0.0] * len(hidden)
        goal[n] = 1.0
        low = linprog(goal, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
        goal[n] = -1.0
        high = linprog(goal, A_eq=a_eq or None, b_eq=b_eq or None, bounds=bounds)
        assert low.status == 0, low.message
        assert high.status in (0, 3), high.message
        found[cell] = (low.fun, float("inf") if high.status == 3 else -high.fun)
    return found


def _bounds(shown: int | str | None, k: int) -> tuple[int, int | None]:
    """``"<k"``: 1 to k-1; null: k or more (complementary); ``WITHHELD`` (a margin of a
    table held back): 1 or more; ``UNKNOWN`` (a cell of a table held back): 0 or more."""
    return {f"<{k}": (1, k - 1), None: (k, None), WITHHELD: (1, None)}.get(shown, (0, None))


def _known(published: Published, i: int, j: int) -> bool:
    return isinstance(published[i][j], int)


def with_margins(cells: list[list[int]]) -> list[list[int]]:
    grid = [[*row, sum(row)] for row in cells]
    return [*grid, [sum(col) for col in zip(*grid, strict=True)]]


def published_grid(grid: list[list[int]], k: int) -> Published:
    hidden = protect(grid, k)
    return [
        [
            f"<{k}" if hidden.get((i, j)) == BELOW else None if (i, j) in hidden else value
            for j, value in enumerate(row)
        ]
        for i, row in enumerate(grid)
    ]


def recovered(published: Published, k: int) -> list[tuple[int, int]]:
    return [cell for cell, (lo, hi) in attack(published, k).items() if hi - lo < 0.5]


CRAFTED = {
    "one-small-cell": [[12, 3], [20, 30]],
    "small-row": [[2, 1, 1], [10, 12, 9], [7, 8, 20]],
    "small-margin-only": [[3, 0, 0], [0, 9, 8], [6, 7, 0]],
    "zeros-around": [[0, 2, 0], [9, 0, 11], [0, 13, 6]],
    "one-way": [[3], [14], [22], [8]],
    "all-small": [[1, 2], [3, 1]],
    "bound-tight": [[4, 5], [5, 40]],
}


@pytest.mark.parametrize("cells", CRAFTED.values(), ids=CRAFTED.keys())
def test_no_suppressed_cell_is_recovered_from_the_margins(cells: list[list[int]]) -> None:
    grid = with_margins(cells)
    published = published_grid(grid, K)
    smalls = {(i, j) for i, row in enumerate(grid) for j, v in enumerate(row) if 0 < v < K}
    assert smalls == {(i, j) for i, r in enumerate(published) for j, v in enumerate(r) if v == "<5"}
    assert all(v != 0 or published[i][j] == 0 for i, r in enumerate(grid) for j, v in enumerate(r))
    assert recovered(published, K) == []


def test_primary_suppression_alone_is_recovered() -> None:
    """The attack works: hiding only the small cells gives them away."""
    grid = with_margins(CRAFTED["one-small-cell"])
    naive: Published = [[v if not 0 < v < K else "<5" for v in row] for row in grid]
    assert recovered(naive, K) == [(0, 1)]


def test_random_tables_resist_the_attack() -> None:
    rng = random.Random(14)  # noqa: S311 (test data)
    for _ in range(25):
        rows, cols = rng.randint(1, 6), rng.randint(1, 5)
        cells = [
            [rng.choice([0, 1, 2, 3, 4, 5, 6, 9, 15, 30]) for _ in range(cols)] for _ in range(rows)
        ]
        published = published_grid(with_margins(cells), K)
        assert recovered(published, K) == [], cells


def family(cells: dict[tuple[str, str], int]) -> tuple[Counts, Counts, Counts, Counts]:
    """The counts of a two-way table and of its family: each one-way table, the total."""
    rows: Counter[str] = Counter()
    cols: Counter[str] = Counter()
    for (a, b), n in cells.items():
        rows[a] += n
        cols[b] += n
    total = sum(cells.values())
    return (
        Counts(dict(cells), {0: dict(rows), 1: dict(cols)}, total),
        Counts({(a,): n for a, n in rows.items()}, {0: dict(rows)}, total),
        Counts({(b,): n for b, n in cols.items()}, {0: dict(cols)}, total),
        Counts({}, {}, total),
    )


def merged(two: dict[str, Any], *others: dict[str, Any]) -> Published:
    """A two-way answer as the attacker's grid, each count it hides filled in from the
    one-way tables and the total wherever they show it; and those must never disagree."""
    first, second = two["group_by"]
    grid = _as_grid(two)
    rows = [m[first] for m in two["margins"][first]]
    cols = [m[second] for m in two["margins"][second]]
    for other in others:
        if not other["group_by"]:
            grid[-1][-1] = _agree(grid[-1][-1], other["total"])
            continue
        [name] = other["group_by"]
        for cell in other["cells"]:
            if name == first:
                i = rows.index(cell[name])
                grid[i][-1] = _agree(grid[i][-1], cell["count"])
            else:
                j = cols.index(cell[name])
                grid[-1][j] = _agree(grid[-1][j], cell["count"])
        if other["withheld"]:  # a one-way table held back shows no cell at all
            assert not other["cells"]
    return grid


def _agree(shown: int | str | None, again: int | str | None) -> int | str | None:
    assert (None if shown == WITHHELD else shown) == again, "two tables show a count unlike"
    return shown


def test_asking_for_the_whole_family_recovers_nothing() -> None:
    """The attacker asks for the two-way table, both one-way tables and the total."""
    rng = random.Random(5)  # noqa: S311 (test data)
    for _ in range(25):
        rows = [f"G{n}" for n in range(rng.randint(1, 6))]
        cols = [f"T{n}" for n in range(rng.randint(1, 4))]
        cells = {
            (a, b): n
            for a in rows
            for b in cols
            if (n := rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 9, 15, 30]))
        }
        if not cells:
            continue
        two, by_row, by_col, total = family(cells)
        answers = [
            tabulate(g, c, K) | {"group_by": g}
            for g, c in ((["a", "b"], two), (["a"], by_row), (["b"], by_col), ([], total))
        ]
        assert recovered(merged(*answers), K) == [], cells


# --- over HTTP --------------------------------------------------------------------------

PEOPLE = "/v1/stats/person"
PREFIX = "G320104"
TWICE = 40
"""People the grid platform also holds (a second source): counted twice, distinct once."""


@pytest.fixture(scope="module")
def counted(hub: Hub) -> Hub:
    store = open_store(hub.config)
    try:
        again = [Person.parse(p) for p in hub.world.people if p["grid_code"].startswith(PREFIX)]
        with store.begin() as tx:
            tx.upsert("grid_platform", [(f"GP{n}", p) for n, p in enumerate(again[:TWICE])])
    finally:
        store.close()
    return hub


def _truth(hub: Hub, *fields: str, distinct: bool = False) -> Counter[tuple[str, ...]]:
    """Records in the analyst's scope by ``fields``: each person held twice counts twice
    (as records), or once (``distinct``)."""
    people = [p for p in hub.world.people if p["grid_code"].startswith(PREFIX)]
    held = people if distinct else people + people[:TWICE]
    return Counter(tuple(p[f] for f in fields) for p in held)


def _as_grid(answer: dict[str, Any]) -> Published:
    """The answer as the attacker's grid: cells, row totals, column totals, total; a
    margin of a field held back is ``WITHHELD``, every cell of a table held back
    ``UNKNOWN``."""
    first, second = answer["group_by"]
    held = answer["withheld"]
    rows = [m[first] for m in answer["margins"][first]]
    cols = [m[second] for m in answer["margins"][second]]
    cells = {(c[first], c[second]): c["count"] for c in answer["cells"]}
    grid: Published = [
        [UNKNOWN if "cells" in held else cells.get((a, b), 0) for b in cols] for a in rows
    ]

    def margin(field: str, shown: int | str | None) -> int | str | None:
        return WITHHELD if field in held and shown is None else shown

    for line, m in zip(grid, answer["margins"][first], strict=True):
        line.append(margin(first, m["count"]))
    grid.append([*(margin(second, m["count"]) for m in answer["margins"][second]), answer["total"]])
    return grid


def test_an_analyst_gets_counts_by_grid_with_small_cells_suppressed(counted: Hub) -> None:
    answer = counted.get("analyst", PEOPLE, purpose="统计分析", group_by="grid_code,household_type")
    assert answer.status_code == 200, answer.text
    table = answer.json()
    truth = _truth(counted, "grid_code", "household_type")
    shown = {(c["grid_code"], c["household_type"]): c["count"] for c in table["cells"]}
    assert set(shown) == set(truth)
    for cell, n in truth.items():
        if n < K:
            assert shown[cell] == "<5", cell
        else:
            assert shown[cell] in (n, None), cell
    assert None in shown.values()  # complementary suppression did something
    store = open_store(counted.config)
    try:
        query = AuditQuery(action="stats.query", newest_first=True, limit=1)
        [entry] = AuditLog.for_store(store).find(query)
    finally:
        store.close()
    event = entry.event
    assert event.outcome == "allowed"
    assert event.client_id == counted.partners["analyst"].client_id
    assert event.detail["group_by"] == ["grid_code", "household_type"]
    suppressed = event.detail["suppressed"]
    assert {tuple(s["cell"].values()) for s in suppressed if s["why"] == "below_min_cell"} >= {
        c for c, n in truth.items() if n < K
    }
    assert any(s["why"] == "complementary" for s in suppressed)
    others = [
        counted.get("analyst", PEOPLE, purpose="统计分析", group_by=g).json()
        for g in ("grid_code", "household_type", "")
    ]
    assert recovered(merged(table, *others), K) == []
    again = counted.get("analyst", PEOPLE, purpose="统计分析", group_by="household_type,grid_code")
    assert {tuple(sorted(c.items())) for c in again.json()["cells"]} == {
        tuple(sorted(c.items())) for c in table["cells"]
    }


def test_distinct_counts_a_person_held_twice_once(counted: Hub) -> None:
    def total(measure: str) -> Any:
        answer = counted.get("analyst", PEOPLE, purpose="统计分析", measure=measure)
        assert answer.status_code == 200, answer.text
        return answer.json()["total"]

    people = sum(_truth(counted, distinct=True).values())
    assert (total("count"), total("distinct")) == (people + TWICE, people)


@pytest.mark.parametrize(
    ("who", "path", "params", "status", "code"),
    [
        ("analyst", "/v1/records/person", {}, 403, "denied_aggregate_only"),
        ("police", PEOPLE, {"purpose": "社区警务"}, 403, "denied_counts"),
        ("analyst", PEOPLE, {"group_by": "beat_code"}, 403, "denied_fields"),
        ("analyst", PEOPLE, {"group_by": "sex,ethnicity,grid_code"}, 400, "group_by"),
        ("analyst", PEOPLE, {"purpose": "网格服务"}, 403, "denied_purpose"),
        ("analyst", PEOPLE, {"id_number": "110101199003074514"}, 403, "denied_filter"),
        (
            "analyst",
            PEOPLE,
            {"group_by": "grid_code", "household_type": "户籍"},
            403,
            "denied_filter",
        ),
    ],
)
def test_what_an_aggregates_only_partner_is_refused(
    counted: Hub, who: str, path: str, params: dict[str, str], status: int, code: str
) -> None:
    answer = counted.get(who, path, **({"purpose": "统计分析"} | params))
    assert (answer.status_code, answer.json()["type"]) == (status, f"urn:hub:problem:{code}")
