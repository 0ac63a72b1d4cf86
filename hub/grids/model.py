"""The grid and beat registry (网格 / 警格): what grid codes and beat codes exist, and how
they relate; and the row rules a record's codes are held to against it.

A grid belongs to one community or village (社区 / 村), named by its 12-digit statistical
area code: the GB/T 2260 county code (6 digits), the street or township (3), the
community (3). Its code follows the structure the registry declares (``Structure``), a
template over the community code and a serial number: the default ``{community}{serial:3}``
is the community code and a three-digit serial; ``G{county}{street:2}{village:2}{serial:1}``
keeps the last two digits of the street and of the community part (the dropped digits
must be zeros). A grid is basic (基础网格) or dedicated (专属网格: a park, a market, a
school ...), lies in one police beat (警格), has its grid workers, and is in force from
``valid_from`` to ``valid_to`` (both optional, both inclusive).

The row rules (``GridRegistry.check``), each a ``field:rule`` a steward reads in the run
report, for any kind with these fields:

- ``grid_code:unknown_grid``: not in the registry, or not in force today;
- ``beat_code:unknown_beat``: no grid of the registry lies in that beat, nor does the
  registry list it;
- ``beat_code:grid_beat_mismatch``: the grid is known, and lies in another beat;
- ``address_code:unknown_area``: the code does not start with a GB/T 2260 county code.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

from contracts import Record
from contracts.codes.area import area_name
from hub.grids.errors import RegistryInvalid

GridType = Literal["基础网格", "专属网格"]
BASIC: GridType = "基础网格"
DEDICATED: GridType = "专属网格"
CATEGORIES = ("园区", "商圈市场", "学校", "医院", "企事业单位", "景区", "交通场站", "其他")
"""What a dedicated grid covers (专属网格 categories); a basic grid has none."""

DEFAULT_STRUCTURE = "{community}{serial:3}"
FIELDS = ("grid_code", "beat_code", "address_code")
"""The record fields the registry's rules read."""
_PART = re.compile(r"\{(county|street|village|community|serial)(?::(\d+))?\}")
_WIDTH = {"county": 6, "street": 3, "village": 3, "community": 12}
_SLICE = {"county": (0, 6), "street": (6, 9), "village": (9, 12), "community": (0, 12)}


def community_problem(code: str) -> str | None:
    """Why ``code`` is not a 12-digit community (or street: 9 digits) code, or None."""
    if len(code) not in (9, 12) or not code.isdigit():
        return "a community code has 12 digits (a street code 9)"
    if area_name(code[:6], 1980, since=True) is None:
        return f"{code[:6]} is not a GB/T 2260 county code"
    return None


@dataclass(frozen=True)
class Structure:
    """A grid-code template: literal text and the parts ``{county}``, ``{street:N}``,
    ``{village:N}``, ``{community}`` (all 12 digits) and ``{serial:N}`` (last)."""

    template: str = DEFAULT_STRUCTURE

    @cached_property
    def _parts(self) -> list[tuple[str, str, int]]:
        """``(literal before, part, width)`` for each part, the serial last."""
        parts, at = [], 0
        for match in _PART.finditer(self.template):
            name, width = match.group(1), match.group(2)
            size = int(width) if width else _WIDTH.get(name, 0)
            if size <= 0 or size > _WIDTH.get(name, 9):
                raise RegistryInvalid(None, "structure", f"{match.group(0)}: width out of range")
            parts.append((self.template[at : match.start()], name, size))
            at = match.end()
        if not parts or parts[-1][1] != "serial" or at != len(self.template):
            raise RegistryInvalid(None, "structure", "a grid code ends with {serial:N}")
        if sum(name == "serial" for _, name, _ in parts) != 1:
            raise RegistryInvalid(None, "structure", "a grid code has one {serial:N}")
        return parts

    def validate(self) -> None:
        """Raise ``RegistryInvalid`` if the template is not one."""
        self._parts  # noqa: B018 (parsing it is the check)

    @property
    def serial_width(self) -> int:
        return self._parts[-1][2]

    def prefix(self, community: str) -> str | None:
        """What every grid code of ``community`` starts with, or None if the template
        cannot write that community's code (digits it drops are not zeros)."""
        out = []
        for literal, name, width in self._parts[:-1]:
            start, end = _SLICE[name]
            digits = community[start:end]
            kept, dropped = digits[len(digits) - width :], digits[: len(digits) - width]
            if dropped.strip("0"):
                return None
            out.append(literal + kept)
        return "".join(out) + self._parts[-1][0]

    def follows(self, code: str, community: str) -> bool:
        """Whether ``code`` is a grid code of ``community`` under this structure."""
        prefix = self.prefix(community)
        if prefix is None or not code.startswith(prefix):
            return False
        serial = code[len(prefix) :]
        return len(serial) == self.serial_width and serial.isdigit()


@dataclass(frozen=True, slots=True)
class Beat:
    """A police beat (警格 / 警务区)."""

    code: str
    name: str | None = None
    station: str | None = None
    """The police station (派出所) it belongs to."""


@dataclass(frozen=True, slots=True)
class Grid:
    code: str
    name: str
    grid_type: GridType
    community_code: str
    beat_code: str
    category: str | None = None
    """What a dedicated grid covers (``CATEGORIES``); None for a basic grid."""
    workers: tuple[str, ...] = ()
    """Its grid workers (网格员), by name."""
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @property
    def street_code(self) -> str:
        return self.community_code[:9]

    def in_force(self, day: dt.date) -> bool:
        return (self.valid_from is None or self.valid_from <= day) and (
            self.valid_to is None or day <= self.valid_to
        )


def _failure(kind: str, name: str, rule: str, value: Any, message: str) -> dict[str, Any]:
    return {"kind": kind, "field": name, "rule": rule, "value": value, "message": message}


@dataclass(frozen=True)
class GridRegistry:
    """The grids and beats a hub knows, checked whole when built (``RegistryInvalid``);
    the beats kept in code order, the grids in the order given."""

    grids: tuple[Grid, ...]
    beats: tuple[Beat, ...] = ()
    structure: Structure = field(default_factory=Structure)
    title: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "beats", tuple(sorted(self.beats, key=lambda b: b.code)))
        self.structure.validate()
        seen: set[str] = set()
        for grid in self.grids:
            if grid.code in seen:
                raise RegistryInvalid(grid.code, "code", "listed twice")
            seen.add(grid.code)
            _check_grid(grid, self.structure)
        listed = {beat.code for beat in self.beats}
        if len(listed) != len(self.beats):
            raise RegistryInvalid(None, "beats", "a beat is listed twice")
        if listed:
            for grid in self.grids:
                if grid.beat_code not in listed:
                    raise RegistryInvalid(grid.code, "beat", f"{grid.beat_code} is not listed")

    @cached_property
    def by_code(self) -> dict[str, Grid]:
        return {grid.code: grid for grid in self.grids}

    @cached_property
    def beat_codes(self) -> frozenset[str]:
        return frozenset({beat.code for beat in self.beats} | {g.beat_code for g in self.grids})

    def grids_of(self, areas: Iterable[str]) -> list[str]:
        """The codes of the grids of the communities or streets ``areas`` (12- or 9-digit
        codes; a county's 6 digits too), in registry order."""
        prefixes = tuple(areas)
        return [g.code for g in self.grids if prefixes and g.community_code.startswith(prefixes)]

    def check_record(self, record: Record, today: dt.date | None = None) -> list[dict[str, Any]]:
        """The registry rules a parsed record breaks (``check`` over its own fields)."""
        values = {name: getattr(record, name, None) for name in FIELDS}
        return self.check(record.kind, values, today)

    def check(
        self, kind: str, values: Mapping[str, Any], today: dt.date | None = None
    ) -> list[dict[str, Any]]:
        """The registry rules ``values`` (a record's fields) break, as quarantine failures."""
        today = today or dt.date.today()
        failures = []
        grid_code, beat_code = values.get("grid_code"), values.get("beat_code")
        grid = self.by_code.get(grid_code) if isinstance(grid_code, str) else None
        if isinstance(grid_code, str):
            if grid is None:
                failures.append(
                    _failure(kind, "grid_code", "unknown_grid", grid_code, self._unknown(grid_code))
                )
            elif not grid.in_force(today):
                message = f"grid {grid_code} is not in force on {today.isoformat()}"
                failures.append(_failure(kind, "grid_code", "unknown_grid", grid_code, message))
        if isinstance(beat_code, str):
            if beat_code not in self.beat_codes:
                message = f"beat {beat_code} is not in the grid registry"
                failures.append(_failure(kind, "beat_code", "unknown_beat", beat_code, message))
            elif grid is not None and grid.beat_code != beat_code:
                message = f"grid {grid.code} lies in beat {grid.beat_code}, not {beat_code}"
                failures.append(
                    _failure(kind, "beat_code", "grid_beat_mismatch", beat_code, message)
                )
        address = values.get("address_code")
        if isinstance(address, str) and area_name(address[:6], 1980, since=True) is None:
            message = "an address code starts with a GB/T 2260 county code"
            failures.append(_failure(kind, "address_code", "unknown_area", address, message))
        return failures

    def _unknown(self, code: str) -> str:
        shape = self.structure.template
        return f"grid {code} is not in the grid registry (codes are {shape})"


def _check_grid(grid: Grid, structure: Structure) -> None:
    problem = community_problem(grid.community_code)
    if problem is not None or len(grid.community_code) != 12:
        raise RegistryInvalid(grid.code, "community", problem or "12 digits are needed")
    if not structure.follows(grid.code, grid.community_code):
        message = f"does not follow the structure {structure.template} of its community"
        raise RegistryInvalid(grid.code, "code", message)
    if grid.grid_type == DEDICATED and grid.category not in CATEGORIES:
        raise RegistryInvalid(grid.code, "category", f"a dedicated grid is one of {CATEGORIES}")
    if grid.grid_type == BASIC and grid.category is not None:
        raise RegistryInvalid(grid.code, "category", "a basic grid has no category")
    if grid.valid_from and grid.valid_to and grid.valid_to < grid.valid_from:
        raise RegistryInvalid(grid.code, "valid_to", "before valid_from")
