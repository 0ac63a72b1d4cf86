"""A grid registry file: one YAML document with the structure, the beats and the grids::

    title: 秦淮区网格与警格
    structure: "{community}{serial:3}"      # optional; this is the default
    beats:                                  # optional; else the grids' beats are the beats
      - {code: B3201040101, name: 夫子庙一警格, station: 夫子庙派出所}
    grids:
      - code: "320104001001001"
        name: 夫子庙第1社区第1网格
        type: 基础网格                       # or 专属网格, with a category
        community: "320104001001"           # 12-digit statistical area code
        beat: B3201040101
        workers: [张伟]
        valid_from: 2024-01-01              # optional, as valid_to

Codes are read as text (quote them: YAML reads ``320104001001`` as a number otherwise; a
number is taken back as its digits).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from hub.files import write_private
from hub.grids.errors import RegistryInvalid
from hub.grids.model import DEFAULT_STRUCTURE, Beat, Grid, GridRegistry, GridType, Structure


def _text(value: Any) -> Any:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class _Beat(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    name: str | None = None
    station: str | None = None
    _codes = field_validator("code", mode="before")(_text)


class _Grid(BaseModel):
    model_config = ConfigDict(extra="forbid")
    code: str = Field(min_length=1, max_length=64)
    name: str = Field(min_length=1)
    type: GridType
    category: str | None = None
    community: str
    beat: str = Field(min_length=1, max_length=64)
    workers: list[str] = Field(default_factory=list)
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None
    _codes = field_validator("code", "community", "beat", mode="before")(_text)


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    title: str = ""
    structure: str = DEFAULT_STRUCTURE
    beats: list[_Beat] = Field(default_factory=list)
    grids: list[_Grid] = Field(min_length=1)


def parse_registry(document: Any) -> GridRegistry:
    """The registry a parsed document describes; ``RegistryInvalid`` naming the entry and
    field of the first problem."""
    try:
        doc = _Document.model_validate(document)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = [str(part) for part in error["loc"]]
        record = None
        if len(where) >= 2 and where[0] in ("grids", "beats") and isinstance(document, dict):
            entry = document[where[0]][int(where[1])]
            record = str(entry.get("code")) if isinstance(entry, dict) else None
        raise RegistryInvalid(record, ".".join(where), error["msg"]) from None
    grids = tuple(
        Grid(
            code=g.code,
            name=g.name,
            grid_type=g.type,
            community_code=g.community,
            beat_code=g.beat,
            category=g.category,
            workers=tuple(g.workers),
            valid_from=g.valid_from,
            valid_to=g.valid_to,
        )
        for g in doc.grids
    )
    beats = tuple(Beat(b.code, b.name, b.station) for b in doc.beats)
    return GridRegistry(grids, beats, Structure(doc.structure), doc.title)


def load_registry_file(path: Path) -> GridRegistry:
    """The registry in the YAML file at ``path``."""
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RegistryInvalid(None, None, f"cannot read {path}: {exc}") from None
    return parse_registry(document)


def registry_document(registry: GridRegistry) -> dict[str, Any]:
    """``registry`` as the document ``parse_registry`` reads back."""
    grids = []
    for g in registry.grids:
        entry: dict[str, Any] = {
            "code": g.code,
            "name": g.name,
            "type": g.grid_type,
            "community": g.community_code,
            "beat": g.beat_code,
        }
        if g.category is not None:
            entry["category"] = g.category
        if g.workers:
            entry["workers"] = list(g.workers)
        if g.valid_from is not None:
            entry["valid_from"] = g.valid_from
        if g.valid_to is not None:
            entry["valid_to"] = g.valid_to
        grids.append(entry)
    beats = [
        {k: v for k, v in (("code", b.code), ("name", b.name), ("station", b.station)) if v}
        for b in registry.beats
    ]
    document: dict[str, Any] = {"title": registry.title, "structure": registry.structure.template}
    if beats:
        document["beats"] = beats
    document["grids"] = grids
    return document


def write_registry_file(registry: GridRegistry, path: Path) -> None:
    """``registry`` as a file ``load_registry_file`` reads, mode 0600 (it names the grid
    workers)."""
    text = yaml.safe_dump(registry_document(registry), allow_unicode=True, sort_keys=False)
    write_private(path, text)
