"""The spreadsheet connector over real files: CSV in UTF-8 (BOM) and GB18030, XLSX written
with openpyxl. The connector harness, then what a folder of dropped files gets wrong:
renamed copies, resumption inside a file, Excel's numbers and dates, misaligned rows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook
from stdnum.cn import ric

from connectors.sdk import (
    Batch,
    ConfigurationError,
    FatalError,
    RecordMapping,
    Source,
    State,
    Stream,
)
from connectors.spreadsheet import SpreadsheetSource
from connectors.testing import SourceTests, read_all
from contracts import Person, RecordInvalid
from hub.ingest import new_run_id, sync_stream
from hub.store import Store

KEY = "公民身份号码"
HEADERS = [
    KEY,
    "姓名",
    "性别",
    "出生日期",
    "民族",
    "联系电话",
    "人口类型",
    "居住地址编码",
    "网格编码",
    "警务区编码",
]


def person(n: int, name: str | None = None) -> dict[str, Any]:
    """A valid person of 秦淮区 under Chinese headers (odd n: male)."""
    birth = dt.date(1960, 1, 1) + dt.timedelta(days=211 * n)
    body = f"320104{birth:%Y%m%d}{n % 1000:03d}"
    return {
        KEY: body + ric.calc_check_digit(body + "0"),
        "姓名": name or f"居民{n}",
        "性别": "男" if n % 2 else "女",
        "出生日期": birth.isoformat(),
        "民族": "汉族",
        "联系电话": f"138{n:08d}",
        "人口类型": "户籍",
        "居住地址编码": "320104001001001",
        "网格编码": f"G32010400{n % 3}",
        "警务区编码": "B32010401",
    }


def write_csv(path: Path, rows: list[list[Any]], encoding: str = "utf-8-sig") -> Path:
    text = io.StringIO()
    csv.writer(text, lineterminator="\r\n").writerows(rows)
    path.write_bytes(text.getvalue().encode(encoding))
    return path


def table(people: list[dict[str, Any]]) -> list[list[Any]]:
    return [HEADERS, *([p[h] for h in HEADERS] for p in people)]


def as_excel_numbers(person: dict[str, Any], id_number: bool = False) -> list[Any]:
    """The person as typed into Excel: phone and address code as numbers, the birth date
    as a date cell, and the ID number as a number too if asked (X forces text)."""
    cells: list[Any] = [person[h] for h in HEADERS]
    if id_number and not cells[0].endswith("X"):
        cells[0] = int(cells[0])
    cells[3] = dt.date.fromisoformat(cells[3])
    cells[5] = int(cells[5])
    cells[7] = int(cells[7])
    return cells


def write_integers_exactly(path: Path, numbers: list[int]) -> None:
    """Rewrite numbers as integer text, as some exporters write them; openpyxl, like
    Excel, writes at most 16 significant digits."""
    with zipfile.ZipFile(path) as book:
        parts = {name: book.read(name) for name in book.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    for number in numbers:
        lossy = f"<v>{number:.16g}</v>".encode()
        assert lossy in parts[sheet]
        parts[sheet] = parts[sheet].replace(lossy, f"<v>{number}</v>".encode())
    with zipfile.ZipFile(path, "w") as book:
        for name, data in parts.items():
            book.writestr(name, data)


def write_xlsx(path: Path, rows: list[list[Any]]) -> Path:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "人员"
    for row in rows:
        sheet.append(row)
    book.create_sheet("说明").append(["not data: only the first sheet is read"])
    book.active = 1
    book.save(path)
    return path


def make_folder(folder: Path) -> Path:
    """30 people in three files: UTF-8 CSV with BOM, GB18030 CSV, XLSX of numbers."""
    folder.mkdir(exist_ok=True)
    write_csv(folder / "person_a.csv", table([person(n) for n in range(1, 11)]))
    people = [person(n, name) for n, name in zip(range(11, 21), ["王䶮", "李喆"] * 5, strict=True)]
    write_csv(folder / "person_b.csv", table(people), encoding="gb18030")
    rows = [HEADERS, *(as_excel_numbers(person(n)) for n in range(21, 31))]
    write_xlsx(folder / "person_c.xlsx", rows)
    (folder / "README.txt").write_text("not matched by the pattern")
    return folder


def config(folder: Path, pattern: str = "person*", **stream: Any) -> dict[str, Any]:
    return {
        "folder": str(folder),
        "streams": [
            {
                "name": "people",
                "kind": "person",
                "pattern": pattern,
                "primary_key": KEY,
                "mapping": {"passthrough": True},
                **stream,
            }
        ],
    }


def spreadsheet(folder: Path, **stream: Any) -> tuple[SpreadsheetSource, Stream]:
    source = SpreadsheetSource("qinhuai_ejia", config(folder, **stream))
    return source, source.stream("people")


def rows_of(batches: list[Batch]) -> list[dict[str, Any]]:
    return [row for batch in batches for row in batch.rows]


def where(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    return [(row["_file"], row["_row"]) for row in rows]


def parse(row: dict[str, Any]) -> Person:
    record = Person.parse(RecordMapping(passthrough=True).apply(Person, row))
    assert isinstance(record, Person)
    return record


class TestSpreadsheetSource(SourceTests):
    batch_size = 100

    @pytest.fixture
    def source(self, tmp_path: Path) -> Iterator[Source]:
        source, _ = spreadsheet(make_folder(tmp_path / "drop"))
        yield source
        source.close()

    @pytest.fixture
    def expected_counts(self) -> dict[str, int]:
        return {"people": 30}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return make_folder(tmp_path / "drop")


def test_streams_are_declared_from_the_config(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    assert source.streams() == [stream]
    assert (stream.name, stream.kind, stream.primary_key, stream.cursor_field) == (
        "people",
        "person",
        KEY,
        None,
    )
    assert stream.model is Person
    assert stream.mapping.passthrough


def test_a_full_read_returns_every_row_of_every_file_in_name_order(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    rows = rows_of(read_all(source, stream, None, 4))
    files = ["person_a.csv"] * 10 + ["person_b.csv"] * 10 + ["person_c.xlsx"] * 10
    assert where(rows) == list(zip(files, list(range(1, 11)) * 3, strict=True))
    assert [row[KEY] for row in rows] == [person(n)[KEY] for n in range(1, 31)]
    for row in rows:
        parse(row)


def test_gb18030_text_is_decoded(folder: Path) -> None:
    with pytest.raises(UnicodeDecodeError):
        (folder / "person_b.csv").read_bytes().decode("utf-8")
    source, stream = spreadsheet(folder, pattern="person_b.csv")
    names = [row["姓名"] for row in rows_of(read_all(source, stream, None, 100))]
    assert names[:2] == ["王䶮", "李喆"]  # 䶮 is in GB18030, not in GBK


def test_a_read_from_the_final_state_returns_nothing(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    batches = read_all(source, stream, None, 7)
    final = batches[-1].state
    assert final["current"] is None
    assert len(final["done"]) == 3
    assert read_all(source, stream, final, 7) == []


def test_the_same_content_under_another_name_is_imported_once(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    final = read_all(source, stream, None, 100)[-1].state
    shutil.copy(folder / "person_a.csv", folder / "person_a_again.csv")
    (folder / "person_c.xlsx").rename(folder / "person_c_renamed.xlsx")
    assert read_all(source, stream, final, 100) == []
    assert len(rows_of(read_all(source, stream, None, 100))) == 30


def test_a_changed_file_is_a_new_file(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    final = read_all(source, stream, None, 100)[-1].state
    write_csv(folder / "person_a.csv", table([person(n) for n in range(1, 12)]))
    rows = rows_of(read_all(source, stream, final, 100))
    assert len(rows) == 11  # the whole file again: the store upserts by source key


def test_resuming_in_the_middle_of_a_file_reads_exactly_the_rest(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    everything = where(rows_of(read_all(source, stream, None, 4)))
    batches = read_all(source, stream, None, 4)
    first = batches[0].state
    assert (first["done"], first["current"]["row"]) == ([], 4)
    rest = where(rows_of(read_all(source, stream, first, 4)))
    assert rest == everything[4:]
    for done, batch in enumerate(batches, start=1):
        consumed = sum(len(b.rows) for b in batches[:done])
        assert where(rows_of(read_all(source, stream, batch.state, 3))) == everything[consumed:]


def test_a_file_dropped_while_another_is_half_imported_waits_its_turn(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    half = read_all(source, stream, None, 4)[1].state  # person_a.csv up to row 8
    write_csv(folder / "person_0_new.csv", table([person(n) for n in range(31, 34)]))
    rows = where(rows_of(read_all(source, stream, half, 4)))
    assert rows[:2] == [("person_a.csv", 9), ("person_a.csv", 10)]
    assert len(rows) == 2 + 10 + 10 + 3
    assert len(set(rows)) == len(rows)


def test_excel_numbers_and_dates_come_out_as_the_contract_expects(tmp_path: Path) -> None:
    people = [p for p in map(person, range(1, 20)) if not p[KEY].endswith("X")][:3]
    book = Workbook()
    sheet = book.worksheets[0]
    sheet.append(["公民\n身份号码", *HEADERS[1:], "房屋编码", "checked_at", "version"])
    for p in people:
        cells = as_excel_numbers(p, id_number=True)
        sheet.append([*cells, 1, dt.datetime(2026, 11, 1, 9, 30), 2.0])
    for cell in sheet["K"][1:]:
        cell.number_format = "000"  # the code 001, typed as 1 and shown padded
    book.save(tmp_path / "person.xlsx")
    write_integers_exactly(tmp_path / "person.xlsx", [int(p[KEY]) for p in people])

    source, stream = spreadsheet(tmp_path, pattern="*.xlsx")
    found = rows_of(read_all(source, stream, None, 100))
    assert [row[KEY] for row in found] == [p[KEY] for p in people]
    first = found[0]
    assert first["联系电话"] == people[0]["联系电话"]
    assert first["出生日期"] == people[0]["出生日期"]
    assert first["居住地址编码"] == "320104001001001"
    assert first["房屋编码"] == "001"
    assert first["checked_at"] == "2026-11-01T09:30:00+08:00"
    assert first["version"] == "2"
    for row, expected in zip(found, people, strict=True):
        record = parse(row)
        assert record.id_number == expected[KEY]
        assert record.birth_date == dt.date.fromisoformat(expected["出生日期"])
        assert record.phone == expected["联系电话"]
        assert record.house_code == "001"


def test_an_id_number_excel_stored_as_a_float_is_refused_not_guessed(tmp_path: Path) -> None:
    """18 digits do not fit a double: the digits read back would be made up."""
    people = [p for p in map(person, range(1, 20)) if not p[KEY].endswith("X")][:3]
    write_xlsx(tmp_path / "person.xlsx", [HEADERS, *(as_excel_numbers(p, True) for p in people)])
    source, stream = spreadsheet(tmp_path)
    for row, expected in zip(rows_of(read_all(source, stream, None, 100)), people, strict=True):
        assert row[KEY] == repr(float(f"{int(expected[KEY]):.16g}"))  # not 18 digits
        with pytest.raises(RecordInvalid) as failed:
            parse(row)
        assert [(f.field, f.rule) for f in failed.value.failures] == [("id_number", "id_format")]


def test_blank_rows_are_skipped_and_extra_cells_quarantine_the_row(tmp_path: Path) -> None:
    rows = table([person(n) for n in range(1, 5)])
    rows.insert(2, ["", " ", ""])
    rows[4] = [*rows[4], "", "多出来的"]  # person 3: one cell too many
    write_csv(tmp_path / "person.csv", rows)
    source, stream = spreadsheet(tmp_path)
    found = rows_of(read_all(source, stream, None, 100))
    assert [row["_row"] for row in found] == [1, 3, 4, 5]
    shifted = found[2]
    assert shifted["_extra"] == ["多出来的"]
    parse(found[1])
    with pytest.raises(RecordInvalid) as failed:
        Person.parse(stream.mapping.apply(Person, shifted))
    assert [(f.field, f.rule) for f in failed.value.failures] == [("_extra", "unknown_field")]


def test_bookkeeping_columns_are_not_mapped(folder: Path) -> None:
    source, stream = spreadsheet(folder)
    row = rows_of(read_all(source, stream, None, 100))[0]
    assert {"_file", "_row"} <= set(row)
    assert not {"_file", "_row", "_extra"} & set(stream.mapping.apply(Person, row))


def test_unreadable_files_are_reported_after_the_others_are_read(folder: Path) -> None:
    (folder / "person_0.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    (folder / "person_1.xls").write_bytes(b"\xd0\xcf\x11\xe0 an Excel 97 file")
    (folder / "person_2.csv").write_bytes("姓名\n".encode("utf-16"))
    write_csv(folder / "person_3.csv", [["身份证号", "姓名"], ["320104199003071231", "张伟"]])
    write_csv(folder / "person_4.csv", [[KEY, "姓名", "姓名"], [person(1)[KEY], "张伟", "张"]])
    source, stream = spreadsheet(folder)
    batches: list[Batch] = []
    reading = source.read(stream, None, 100)
    with pytest.raises(FatalError) as failed:
        batches.extend(reading)
    message = str(failed.value)
    assert message.startswith("qinhuai_ejia/people: 5 file(s) not imported")
    for name in ("person_0.xlsx", "person_1.xls", "person_2.csv", "person_3.csv"):
        assert name in message
    assert "duplicate headers 姓名" in message
    assert len(rows_of(batches)) == 30
    with pytest.raises(FatalError):
        list(source.read(stream, batches[-1].state, 100))


def test_excel_lock_files_and_empty_files_are_ignored(folder: Path) -> None:
    (folder / "~$person_c.xlsx").write_bytes(b"\x0bowner")
    (folder / "person_empty.csv").write_bytes(b"")
    write_csv(folder / "person_header_only.csv", [HEADERS])
    source, stream = spreadsheet(folder)
    assert len(rows_of(read_all(source, stream, None, 100))) == 30


def test_a_title_row_above_the_headers(tmp_path: Path) -> None:
    write_xlsx(tmp_path / "person.xlsx", [["秦淮e家 自主申报导出"], *table([person(1)])])
    source, stream = spreadsheet(tmp_path, header_row=2)
    (row,) = rows_of(read_all(source, stream, None, 100))
    assert row["_row"] == 1
    parse(row)


@pytest.mark.parametrize(
    ("change", "complaint"),
    [
        ({"kind": "citizen"}, "unknown kind"),
        ({"mapping": {"fields": {"shoe_size": {"from": "鞋码"}}}}, "no field 'shoe_size'"),
        ({"pattern": "../elsewhere/*.csv"}, "relative"),
        ({"pattern": "/srv/drop/*.csv"}, "relative"),
        ({"primary_key": " "}, "primary_key"),
        ({"sheet": "人员"}, "sheet"),
    ],
)
def test_bad_stream_configs_are_refused(
    tmp_path: Path, change: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(ConfigurationError, match=complaint):
        spreadsheet(tmp_path, **change)


def test_bad_source_configs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match="folder"):
        SpreadsheetSource("s", {"streams": config(tmp_path)["streams"]})
    with pytest.raises(ConfigurationError, match="time zone"):
        SpreadsheetSource("s", config(tmp_path) | {"timezone": "Mars/Olympus"})
    twice = config(tmp_path)
    twice["streams"] *= 2
    with pytest.raises(ConfigurationError, match="unique"):
        SpreadsheetSource("s", twice)


def test_a_missing_folder_or_a_foreign_state_is_a_configuration_error(tmp_path: Path) -> None:
    source, stream = spreadsheet(tmp_path / "absent")
    with pytest.raises(ConfigurationError, match="not a directory"):
        list(source.read(stream, None, 10))
    source, stream = spreadsheet(make_folder(tmp_path / "drop"))
    for state in ({"key": 5, "current": 3}, {"done": "abc"}, {"current": {"row": 1}}):
        with pytest.raises(ConfigurationError, match="reset it"):
            list(source.read(stream, state, 10))


class Killed(SpreadsheetSource):
    """Dies after handing out a number of batches, as a killed sync would."""

    def __init__(self, folder: Path, batches: int) -> None:
        super().__init__("qinhuai_ejia", config(folder))
        self.batches = batches

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        for number, batch in enumerate(super().read(stream, state, batch_size)):
            if number == self.batches:
                raise FatalError("killed", source=self.source_id, stream=stream.name)
            yield batch


def test_sync_stores_or_quarantines_every_row_and_resumes(store: Store, folder: Path) -> None:
    broken = table([person(n) for n in range(31, 36)])
    broken[2][5] = "12345"  # person 32: not a phone number
    broken[4] = [*broken[4], "多出来的"]  # person 34: a misaligned row
    write_csv(folder / "person_d.csv", broken)

    killed = Killed(folder, batches=4)  # person_a.csv, and person_b.csv up to row 4
    first = sync_stream(store, killed, killed.stream("people"), new_run_id(), batch_size=4)
    assert first.error is not None
    assert first.read == 14

    source, stream = spreadsheet(folder)
    second = sync_stream(store, source, stream, new_run_id(), batch_size=4)
    assert second.error is None
    assert first.read + second.read == 35
    assert (second.stored + first.stored, second.quarantined + first.quarantined) == (33, 2)
    assert second.read == second.stored + second.quarantined
    assert store.count("person") == 33
    assert dict(second.failures) == {"phone:phone_format": 1, "_extra:unknown_field": 1}
    quarantined = sorted(store.quarantined(), key=lambda q: q.row["_row"])
    assert [(q.row["_file"], q.row["_row"]) for q in quarantined] == [
        ("person_d.csv", 2),
        ("person_d.csv", 4),
    ]

    again = sync_stream(store, source, stream, new_run_id(), batch_size=4)
    assert (again.read, again.error) == (0, None)
    assert store.count("person") == 33
