"""Rows of a JSONL or CSV file, each either a dict or the reason it could not be read."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from contracts import Record, RecordInvalid, unflatten
from hub.grids import GridRegistry


@dataclass(frozen=True, slots=True)
class Unreadable:
    reason: str


FORMATS = ("jsonl", "csv")


def detect_format(path: Path) -> str | None:
    suffix = path.suffix.lower().lstrip(".")
    return {"jsonl": "jsonl", "ndjson": "jsonl", "json": "jsonl", "csv": "csv"}.get(suffix)


def read_rows(path: Path, fmt: str) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    """Yield ``(row number, row)`` with data rows numbered from 1 (CSV headers excluded)."""
    if fmt == "jsonl":
        yield from _jsonl_rows(path)
    else:
        yield from _csv_rows(path)


def _jsonl_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    number = 0
    with path.open("rb") as lines:
        for raw in lines:
            if not raw.strip():
                continue
            number += 1
            try:
                row = json.loads(raw.decode("utf-8-sig"))
            except UnicodeDecodeError:
                yield number, Unreadable("line is not UTF-8")
                continue
            except json.JSONDecodeError as exc:
                yield number, Unreadable(f"not JSON: {exc.msg} at column {exc.colno}")
                continue
            if isinstance(row, dict):
                yield number, row
            else:
                yield number, Unreadable(f"a JSON object was expected, not {type(row).__name__}")


def _csv_rows(path: Path) -> Iterator[tuple[int, dict[str, Any] | Unreadable]]:
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        yield 0, Unreadable(f"file is not UTF-8 (byte {exc.start}); save it as CSV UTF-8")
        return
    reader = csv.DictReader(io.StringIO(text, newline=""), restkey="\0extra")
    try:
        for number, row in enumerate(reader, start=1):
            if "\0extra" in row:
                yield number, Unreadable("row has more cells than the header")
            elif None in row.values():
                yield number, Unreadable("row has fewer cells than the header")
            else:
                yield number, dict(row)
    except csv.Error as exc:
        yield reader.line_num, Unreadable(f"not CSV: {exc}")


def check_rows(
    model: type[Record], path: Path, fmt: str, registry: GridRegistry | None = None
) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    """Yield ``(row number, failures)`` for every row; an empty list means the row is valid.
    With ``registry``, a row the contract accepts is held to the registry's rules too."""
    for number, row in read_rows(path, fmt):
        if isinstance(row, Unreadable):
            yield (
                number,
                [
                    {
                        "kind": model.kind,
                        "field": None,
                        "rule": "malformed_row",
                        "value": None,
                        "message": row.reason,
                    }
                ],
            )
            continue
        try:
            record = model.parse(unflatten(model, row))
        except RecordInvalid as exc:
            yield number, [failure.as_dict() for failure in exc.failures]
        else:
            yield number, registry.check_record(record) if registry is not None else []
