"""The information barrier (信息壁垒) in the reference world: what one side holds and the
other does not, and what they hold differently.

Each grid has such cases planted on purpose, beside the ones chance makes, and every one
of them, of whichever origin, is listed in ``World.gaps`` and ``World.disagreements``:
what a reconciliation of the synced sources (``hub.sharing.reconcile``) must find, exactly.
A row quarantined as broken is held by nobody, so its thing may be one-sided.

The planter draws from an RNG of its own, after everything else: every draw the rest of
the world makes is the one it made before there was a planter.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from hub.reference.world import World

CST = dt.timezone(dt.timedelta(hours=8))

SIDES = {"police_db": "police", "grid_platform": "grid", "declarations": "grid"}
"""Which side (公安 or 网格) each reference source system is."""


@dataclass(frozen=True)
class Gap:
    """A thing only one side holds (``side``): a person, house or unit, by natural key."""

    kind: str
    key: str
    grid_code: str
    side: str


@dataclass(frozen=True)
class Disagreement:
    """A thing whose sources' records hold different values of ``field`` (``address``,
    ``phone``, ``occupant_count``, ``household_type``)."""

    kind: str
    key: str
    grid_code: str
    field: str


def plant(world: World, seed: int, addresses: list[dict[str, Any]]) -> None:
    """Plant the barrier's cases in ``world`` and list them all (see the module)."""
    _Planter(world, seed, addresses).plant()


COMPARED: dict[str, dict[str, dict[str, str]]] = {
    "person": {
        "address": {
            "police_db": "DZBM",
            "grid_platform": "addressCode",
            "declarations": "居住地址编码",
        },
        "phone": {"police_db": "LXDH", "grid_platform": "mobile", "declarations": "联系电话"},
        "household_type": {
            "police_db": "HJLX",
            "grid_platform": "residentType",
            "declarations": "人口类型",
        },
    },
    "house": {
        "address": {"police_db": "DZBM", "grid_platform": "addressCode"},
        "occupant_count": {"police_db": "JZRS", "grid_platform": "occupants"},
    },
    "unit": {
        "address": {"police_db": "DZBM", "declarations": "标准地址编码"},
        "phone": {"police_db": "LXDH", "declarations": "联系电话"},
    },
}
"""The fields a reconciliation compares, per kind, as each source's rows name them."""

_HELD = {
    "person": (
        ("police_db", "people", "t_rk_jbxx", "RKID", "SFZH", "WGBM"),
        ("grid_platform", "residents", "residents", "id", "idCard", "gridCode"),
        (
            "declarations",
            "people",
            "person_declarations",
            "公民身份号码",
            "公民身份号码",
            "网格编码",
        ),
    ),
    "house": (
        ("police_db", "houses", "t_fw", "FWBM", "FWBM", "WGBM"),
        ("grid_platform", "houses", "houses", "houseCode", "houseCode", "gridCode"),
    ),
    "unit": (
        ("police_db", "units", "t_dw", "TYSHXYDM", "TYSHXYDM", "WGBM"),
        (
            "declarations",
            "units",
            "unit_declarations",
            "统一社会信用代码",
            "统一社会信用代码",
            "网格编码",
        ),
    ),
}
"""Per kind, each source's (source, stream, table, source key, natural key, grid) columns."""


class _Planter:
    """The grid platform's houses, then per grid the planted one-sided things and
    disagreements, then the listing of every gap and disagreement the world holds."""

    def __init__(self, world: World, seed: int, addresses: list[dict[str, Any]]) -> None:
        self.world = world
        self.rng = random.Random(seed * 7919 + 14)  # noqa: S311 (reproducible synthetic data)
        self.addresses = addresses
        self.broken = {(d.source, d.stream, d.source_key) for d in world.defects}

    def tables(self, source: str) -> dict[str, list[dict[str, Any]]]:
        return {
            "police_db": self.world.police,
            "grid_platform": self.world.grid,
            "declarations": self.world.declarations,
        }[source]

    def held(self, kind: str, source: int, *, sole: bool = False) -> dict[str, dict[str, Any]]:
        """The rows of one source of ``kind`` the hub stores (none broken), by natural key.
        ``sole``: only keys no other row of the source names, broken or not (a planted
        change must not leave a duplicate's copy standing in for its original)."""
        name, stream, table, key, natural, _grid = _HELD[kind][source]
        rows = self.tables(name).get(table, [])
        named: dict[str, int] = {}
        for row in rows:
            named[str(row[natural])] = named.get(str(row[natural]), 0) + 1
        return {
            str(row[natural]): row
            for row in rows
            if (name, stream, str(row[key])) not in self.broken
            and not (sole and named[str(row[natural])] > 1)
        }

    def plant(self) -> None:
        self.grid_houses()
        self.people()
        self.houses()
        self.units()
        self.list_them()

    def grid_houses(self) -> None:
        rows = []
        for house in self.held("house", 0).values():
            if self.rng.random() < 0.7:
                rows.append(
                    {
                        "houseCode": house["FWBM"],
                        "addressCode": house["DZBM"],
                        "use": house["FWYT"],
                        "occupants": house["JZRS"],
                        "gridCode": house["WGBM"],
                        "policeBeat": house["JWQBM"],
                        "updatedAt": (house["GXSJ"].replace(tzinfo=CST)).isoformat(),
                    }
                )
        self.world.grid["houses"] = rows

    def _by_grid(self, kind: str, both: list[int]) -> dict[str, list[str]]:
        """Keys held validly, once, by each source of ``both`` and by no other, per grid."""
        held = [self.held(kind, i, sole=True) for i in range(len(_HELD[kind]))]
        others = [held[i] for i in range(len(held)) if i not in both]
        found: dict[str, list[str]] = {}
        for key, row in held[both[0]].items():
            if all(key in held[i] for i in both) and not any(key in h for h in others):
                grid = row[_HELD[kind][both[0]][5]]
                found.setdefault(grid, []).append(key)
        return {grid: sorted(keys) for grid, keys in sorted(found.items())}

    def _drop(self, kind: str, source: int, key: str) -> None:
        name, _stream, table, _key, natural, _grid = _HELD[kind][source]
        rows = self.tables(name)[table]
        rows[:] = [row for row in rows if str(row[natural]) != key]

    def _row(self, kind: str, source: int, key: str) -> dict[str, Any]:
        return self.held(kind, source, sole=True)[key]

    def _phone(self, old: str) -> str:
        while (phone := f"139{self.rng.randrange(10**8):08d}") == old:
            pass
        return phone

    def people(self) -> None:
        addresses: dict[str, list[dict[str, Any]]] = {}
        for a in self.addresses:
            addresses.setdefault(a["grid_code"], []).append(a)
        for grid, keys in self._by_grid("person", [0, 1]).items():
            self.rng.shuffle(keys)
            plants = iter(keys)
            for plant in ("police_only", "grid_only", "phone", "household_type", "address"):
                key = next(plants, None)
                if key is None:
                    break
                police, resident = self._row("person", 0, key), self._row("person", 1, key)
                if plant == "police_only":
                    self._drop("person", 1, key)
                elif plant == "grid_only":
                    self._drop("person", 0, key)
                elif plant == "phone":
                    resident["mobile"] = self._phone(resident["mobile"])
                elif plant == "household_type":
                    police["HJLX"] = self.rng.choice(
                        [t for t in ("户籍", "流动", "境外") if t != police["HJLX"]]
                    )
                else:
                    elsewhere = [
                        a for a in addresses[grid] if a["address_code"] != resident["addressCode"]
                    ]
                    if elsewhere:
                        moved = self.rng.choice(elsewhere)["address_code"]
                        resident["addressCode"], resident["houseCode"] = moved, "H" + moved

    def houses(self) -> None:
        for keys in self._by_grid("house", [0, 1]).values():
            self.rng.shuffle(keys)
            if len(keys) >= 1:
                self._drop("house", 0, keys[0])
            if len(keys) >= 2:
                self._row("house", 1, keys[1])["occupants"] += self.rng.randint(1, 3)

    def units(self) -> None:
        for keys in self._by_grid("unit", [0, 1]).values():
            self.rng.shuffle(keys)
            if len(keys) >= 1:
                self._drop("unit", 0, keys[0])
            if len(keys) >= 2:
                row = self._row("unit", 1, keys[1])
                row["联系电话"] = self._phone(row["联系电话"])

    def list_them(self) -> None:
        for kind, sources in _HELD.items():
            found: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            for i, source in enumerate(sources):
                for key, row in self.held(kind, i).items():
                    found.setdefault(key, []).append((source[0], row))
            for key, holders in sorted(found.items()):
                grids = sorted({str(row[_grid_column(kind, name)]) for name, row in holders})
                sides = {SIDES[name] for name, _row in holders}
                differing = [
                    compared
                    for compared, columns in COMPARED[kind].items()
                    if len(
                        {
                            _compared(row[columns[name]])
                            for name, row in holders
                            if name in columns and row.get(columns[name]) not in (None, "")
                        }
                    )
                    > 1
                ]
                for grid in grids:
                    if len(sides) == 1:
                        self.world.gaps.append(Gap(kind, key, grid, next(iter(sides))))
                    self.world.disagreements += [
                        Disagreement(kind, key, grid, compared) for compared in differing
                    ]


def _grid_column(kind: str, source: str) -> str:
    return next(g for n, *_r, g in _HELD[kind] if n == source)


def _compared(value: Any) -> str:
    """A value as the contracts would store it, for comparing (phones lose their spaces)."""
    return str(value).replace(" ", "")
