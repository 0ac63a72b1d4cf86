"""Flat rows (CSV, spreadsheets) to contract input: Chinese or English headers, empty cells."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from contracts.record import Record
from contracts.types import is_structured

_YES_NO = {"是": True, "否": False}


def header_names(model: type[Record]) -> dict[str, str]:
    """Every accepted column header (field name or Chinese label) -> field name."""
    names = {spec.name: spec.name for spec in model.specs()}
    names.update({spec.label: spec.name for spec in model.specs()})
    return names


def unflatten(model: type[Record], row: Mapping[str, Any]) -> dict[str, Any]:
    """A flat row as contract input.

    Headers may be field names or labels (unknown headers are kept, so the contract
    reports them). Empty cells are absent values. Cells of list or object fields hold
    JSON, or for a list of strings, items separated by ``;`` or ``；``. Yes/no cells may
    be written 是/否.
    """
    names = header_names(model)
    result: dict[str, Any] = {}
    for header, cell in row.items():
        name = names.get(str(header).strip(), str(header).strip())
        if cell is None or (isinstance(cell, str) and not cell.strip()):
            continue
        info = model.model_fields.get(name)
        if info is not None and isinstance(cell, str):
            if is_structured(info.annotation):
                cell = _parse_structured(cell)
            elif info.annotation is bool:
                cell = _YES_NO.get(cell.strip(), cell)
        result[name] = cell
    return result


def _parse_structured(cell: str) -> Any:
    text = cell.strip()
    if text[:1] in "[{":
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            return text
    return [part.strip() for part in text.replace("；", ";").split(";") if part.strip()]
