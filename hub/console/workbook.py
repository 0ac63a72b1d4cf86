"""Quarantined rows as an XLSX workbook a steward corrects offline, and read back.

One sheet, ``隔离数据``: a row per entry, its id and the ``field:rule`` pairs it broke in
the first two columns (``ENTRY``, ``RULES``), then one column per source column the rows
have, headed by the source's own name. Every cell is written as text (type ``s``, format
``@``, quote prefix): an ID number keeps its leading zeros and its 18 digits, a date stays
as the source sent it, and a value starting with ``=``, ``+``, ``-`` or ``@`` is a string,
never a formula, in this file or once a spreadsheet program opens it. A structured value
(a list, a mapping) is written as JSON for reference and is not read back.

Read back, a formula cell is refused whole (``formula``): openpyxl never evaluates one,
and its text is what a person typed, not a value; a cell a spreadsheet program turned into
a number or a date is turned back into the text it shows (``12`` not ``12.0``,
``2026-01-02`` not a time stamp).
"""

from __future__ import annotations

import datetime as dt
import io
import json
import zipfile
from dataclasses import dataclass, field
from typing import Any

from openpyxl import Workbook, load_workbook
from openpyxl.cell.cell import Cell
from openpyxl.styles import Font, PatternFill

from hub.console.errors import BadInput
from hub.store import QuarantinedRow

SHEET = "隔离数据"
ENTRY = "〔条目编号〕"
RULES = "〔违反规则〕"
NOTES = "填写说明"
MAX_ROWS = 5000
"""Rows one workbook carries, either way."""
MAX_BYTES = 20 * 1024 * 1024
"""The largest workbook read back, and the most its parts may unpack to."""
_HEAD = Font(bold=True)
_FIXED = PatternFill("solid", fgColor="F0F4F8")


@dataclass(frozen=True, slots=True)
class SheetRow:
    """One row read back: the entry it names, its cells as text by column, or why not."""

    line: int
    entry_id: int | None
    cells: dict[str, str] = field(default_factory=dict)
    refused: str | None = None


def write_workbook(entries: list[QuarantinedRow]) -> bytes:
    book = Workbook()
    book.remove(book.worksheets[0])
    sheet = book.create_sheet(SHEET)
    columns = list(dict.fromkeys(column for e in entries for column in e.row))
    heads = [ENTRY, RULES, *columns]
    for col, head in enumerate(heads, start=1):
        cell = sheet.cell(row=1, column=col)
        _text(cell, head)
        cell.font = _HEAD
    for line, entry in enumerate(entries, start=2):
        rules = ", ".join(sorted({f"{f['field'] or '(row)'}:{f['rule']}" for f in entry.failures}))
        _text(sheet.cell(row=line, column=1), str(entry.id))
        _text(sheet.cell(row=line, column=2), rules)
        for col, column in enumerate(columns, start=3):
            value = entry.row.get(column)
            if value is not None:
                _text(sheet.cell(row=line, column=col), _shown(value))
        sheet.cell(row=line, column=1).fill = _FIXED
        sheet.cell(row=line, column=2).fill = _FIXED
    sheet.freeze_panes = "C2"
    for col in range(1, len(heads) + 1):
        sheet.column_dimensions[sheet.cell(row=1, column=col).column_letter].width = 22
    notes = book.create_sheet(NOTES)
    for line, text in enumerate(
        [
            "在“隔离数据”表中修改数据后保存，在隔离区页面“导入修正”上传本文件。",
            "前两列（条目编号、违反规则）请勿修改；清空某格即删除该字段。",
            "所有单元格均为文本：身份证号、编码的前导零会保留；请勿输入公式，含公式的行不会导入。",
            "本文件含个人信息明文，导出已记入审计日志；修正完成后请删除。",
        ],
        start=1,
    ):
        _text(notes.cell(row=line, column=1), text)
    notes.column_dimensions["A"].width = 100
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def read_workbook(data: bytes) -> list[SheetRow]:
    """The rows of a workbook ``write_workbook`` made (and a person edited); ``BadInput``
    when it is not one."""
    if len(data) > MAX_BYTES:
        raise BadInput("file", f"a workbook is at most {MAX_BYTES // 2**20} MiB")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as parts:
            if sum(i.file_size for i in parts.infolist()) > MAX_BYTES * 5:
                raise BadInput("file", "the workbook unpacks to too much")
        book = load_workbook(io.BytesIO(data), read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError):
        raise BadInput("file", "not an XLSX workbook") from None
    try:
        if SHEET not in book.sheetnames:
            raise BadInput("file", f"the workbook has no sheet {SHEET!r}")
        rows = book[SHEET].iter_rows()
        heads = [_cell_text(c) for c in next(rows, ())]
        if heads[:2] != [ENTRY, RULES]:
            raise BadInput("file", f"the first columns are not {ENTRY} and {RULES}")
        found = []
        for line, cells in enumerate(rows, start=2):
            if line - 1 > MAX_ROWS:
                raise BadInput("file", f"a workbook carries at most {MAX_ROWS} rows")
            found.append(_row(line, heads, cells))
        return [r for r in found if r.entry_id is not None or r.refused or r.cells]
    finally:
        book.close()


def _row(line: int, heads: list[str], cells: Any) -> SheetRow:
    values: dict[str, str] = {}
    formulas = []
    for head, cell in zip(heads, cells, strict=False):
        if cell.data_type == "f":
            formulas.append(head)
        elif head not in (ENTRY, RULES) and head:
            values[head] = _cell_text(cell)
    entry_text = _cell_text(cells[0]) if cells else ""
    if not entry_text and not any(values.values()) and not formulas:
        return SheetRow(line, None)
    entry_id = int(entry_text) if entry_text.isdigit() else None
    if entry_id is None:
        return SheetRow(line, None, refused="entry")
    if formulas:
        return SheetRow(line, entry_id, refused="formula")
    return SheetRow(line, entry_id, values)


def _text(cell: Cell, text: str) -> None:
    """``text`` in ``cell`` as a string, whatever it starts with: never a formula."""
    cell.value = text
    cell.data_type = "s"
    cell.number_format = "@"
    cell.quotePrefix = True


def _shown(value: Any) -> str:
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def _cell_text(cell: Any) -> str:
    """What a cell shows, as text: numbers without a spurious ``.0``, a date as ISO."""
    value = cell.value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)
