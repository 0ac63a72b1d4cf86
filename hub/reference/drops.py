"""The reference drop folder: residents' self-declarations (自主申报) as Excel and CSV files."""

from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Any

from openpyxl import Workbook

from hub.files import private_dir, write_private
from hub.reference.world import World


def write_drops(world: World, folder: Path) -> list[Path]:
    """People as an XLSX workbook and units as a CSV with BOM, both with Chinese headers;
    the folder 0700 and the files 0600 (synthetic, but shaped like the real thing)."""
    private_dir(folder)
    written = []
    people = world.declarations.get("person_declarations", [])
    if people:
        path = folder / "person_declarations.xlsx"
        book = Workbook(write_only=True)
        sheet = book.create_sheet("自主申报")
        headers = list(people[0])
        sheet.append(headers)
        for row in people:
            sheet.append([row.get(h) for h in headers])
        content = io.BytesIO()
        book.save(content)
        write_private(path, content.getvalue())
        written.append(path)
    units = world.declarations.get("unit_declarations", [])
    if units:
        path = folder / "unit_declarations.csv"
        _write_csv(path, units)
        written.append(path)
    return written


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    out = io.StringIO(newline="")
    writer = csv.DictWriter(out, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    write_private(path, out.getvalue(), encoding="utf-8-sig")
