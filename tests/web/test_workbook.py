"""The quarantine workbook's format: every cell text (leading zeros kept, nothing a
formula, in the file or once opened), and read back as the text it shows; a formula a
person typed refuses its row."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from openpyxl import load_workbook

from hub.console import BadInput
from hub.console.workbook import ENTRY, RULES, SHEET, read_workbook, write_workbook
from hub.store import QuarantinedRow

TRICKY = {
    "id_number": "010104199003071234",
    "name": '=HYPERLINK("http://evil.example/","点此")',
    "phone": "+8613800000000",
    "note": "-2+3",
    "tag": "@SUM(A1)",
    "code": "0012",
    "tags": ["a", "b"],
}


def _entry(entry_id: int, row: dict[str, object]) -> QuarantinedRow:
    failure = {"field": "id_number", "rule": "id_check_digit", "message": "bad"}
    return QuarantinedRow("partner:x", "push", "person", f"K{entry_id}", row, [failure], entry_id)


def test_every_cell_is_text_and_no_formula_is_written() -> None:
    data = write_workbook([_entry(7, TRICKY), _entry(8, {"code": "0099", "extra": "x"})])
    with zipfile.ZipFile(io.BytesIO(data)) as parts:
        sheets = [n for n in parts.namelist() if re.fullmatch(r"xl/worksheets/sheet\d+\.xml", n)]
        xml = "".join(parts.read(n).decode() for n in sheets)
    assert "<f>" not in xml
    assert "<f " not in xml
    sheet = load_workbook(io.BytesIO(data))[SHEET]
    heads = [c.value for c in sheet[1]]
    assert heads[:2] == [ENTRY, RULES]
    first = {h: c for h, c in zip(heads, sheet[2], strict=True)}
    assert all(c.data_type == "s" for c in first.values() if c.value is not None)
    assert all(c.quotePrefix for c in first.values() if c.value is not None)
    assert first["id_number"].value == TRICKY["id_number"]
    assert first["name"].value == TRICKY["name"]
    assert first["code"].value == "0012"


def test_a_workbook_reads_back_as_the_text_it_shows() -> None:
    data = write_workbook([_entry(7, TRICKY), _entry(8, {"code": "0099"})])
    [first, second] = read_workbook(data)
    assert (first.entry_id, first.refused) == (7, None)
    assert {k: first.cells[k] for k in ("id_number", "name", "phone", "note", "tag", "code")} == {
        k: TRICKY[k] for k in ("id_number", "name", "phone", "note", "tag", "code")
    }
    assert second.cells["code"] == "0099"
    assert second.cells["id_number"] == ""


def test_cells_a_spreadsheet_retyped_are_read_as_shown_and_a_formula_refuses_its_row() -> None:
    book = load_workbook(io.BytesIO(write_workbook([_entry(1, TRICKY), _entry(2, TRICKY)])))
    sheet = book[SHEET]
    heads = [c.value for c in sheet[1]]
    sheet.cell(row=2, column=heads.index("code") + 1).value = 12.0
    sheet.cell(row=2, column=heads.index("note") + 1).value = dt.datetime(2026, 1, 2)
    sheet.cell(row=3, column=heads.index("name") + 1).value = "=1+1"
    out = io.BytesIO()
    book.save(out)
    first, second = read_workbook(out.getvalue())
    assert (first.cells["code"], first.cells["note"]) == ("12", "2026-01-02")
    assert (second.entry_id, second.refused, second.cells) == (2, "formula", {})


@pytest.mark.parametrize("data", [b"not a zip", b"PK\x03\x04broken"])
def test_a_file_that_is_not_a_workbook_is_refused(data: bytes) -> None:
    with pytest.raises(BadInput):
        read_workbook(data)
