"""Self-declaration exports (自主申报, e.g. 秦淮e家) dropped as CSV or XLSX files in a folder.

A file is known by the SHA-256 of its bytes, not by its name: renamed or dropped again with
the same content, it is imported once. The state is ``{"done": [fingerprints], "current":
{"fingerprint": ..., "row": N} | None}``; a half-imported file resumes after data row N.

A row is ``{header: cell}`` plus ``_file`` and ``_row`` (the data row, 1-based, blank rows
counted, so the steward can find it in the file). Cells beyond the headers, or under an
empty header, go to ``_extra``; the stream's mapping hands them to the contract, which
reports ``_extra: unknown_field``, so a misaligned row (an unquoted comma, a shifted
column) is quarantined rather than stored half-right.

A file that cannot be read (neither CSV nor XLSX, not UTF-8 or GB18030, corrupt, duplicate
headers, no primary key column) is not imported and not marked done: the other files are
read, then the read fails naming it, and every later sync tries it again.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from openpyxl import load_workbook
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from connectors.sdk import (
    Batch,
    ConfigurationError,
    FatalError,
    RecordMapping,
    Source,
    State,
    Stream,
    StreamConfig,
    parse_config,
)
from contracts import Record

FILE = "_file"
ROW = "_row"
EXTRA = "_extra"
RESERVED = frozenset({FILE, ROW, EXTRA})

CSV_SUFFIXES = frozenset({".csv"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})

Row = dict[str, Any]


class SpreadsheetMapping(RecordMapping):
    """Passthrough by default (the exports use the contracts' Chinese labels), and the
    cells a row has beyond its headers go to the contract, which refuses them."""

    passthrough: bool = True

    def apply(self, model: type[Record], row: Mapping[str, Any]) -> dict[str, Any]:
        result = super().apply(model, row)
        if row.get(EXTRA):
            result[EXTRA] = row[EXTRA]
        return result


def header(value: Any) -> str:
    """A header cell as a column name, whitespace removed (wrapped cells: 公民\\n身份号码)."""
    return "" if value is None else "".join(str(value).split())


class FileStreamConfig(StreamConfig):
    """A stream of the files matching ``pattern``; each file is read whole, once, so the
    stream takes no cursor."""

    pattern: str = Field(min_length=1)
    header_row: int = Field(default=1, ge=1)
    cursor_field: None = None
    mapping: SpreadsheetMapping = Field(default_factory=SpreadsheetMapping)

    @field_validator("primary_key")
    @classmethod
    def _as_header(cls, value: str) -> str:
        if not header(value):
            raise ValueError("primary_key must name a column")
        return header(value)

    @model_validator(mode="after")
    def _relative_pattern(self) -> Self:
        pattern = PurePosixPath(self.pattern.replace("\\", "/"))
        if pattern.is_absolute() or ".." in pattern.parts:
            raise ValueError("pattern must be relative to the folder")
        return self


class SpreadsheetConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    folder: Path
    timezone: str = "Asia/Shanghai"
    """Excel date-times carry no zone; they are taken as wall-clock time here."""
    streams: list[FileStreamConfig] = Field(min_length=1)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @model_validator(mode="after")
    def _unique_names(self) -> Self:
        if len({s.name for s in self.streams}) != len(self.streams):
            raise ValueError("stream names must be unique")
        return self


class Unreadable(Exception):
    """A file that cannot be imported as a whole."""


class SpreadsheetSource(Source):
    connector: ClassVar[str] = "spreadsheet"

    def __init__(self, source_id: str, config: Mapping[str, Any]) -> None:
        super().__init__(source_id, config)
        self.settings = parse_config(SpreadsheetConfig, self.config, source_id)
        self.zone = ZoneInfo(self.settings.timezone)
        self._configs = {stream.name: stream for stream in self.settings.streams}

    def streams(self) -> list[Stream]:
        return [config.to_stream() for config in self.settings.streams]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        config = self._configs.get(stream.name)
        if config is None:
            raise ConfigurationError(f"no stream {stream.name!r}", source=self.source_id)
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        done_list, current, resume_after = self._decode_state(config, state)
        done = set(done_list)
        problems: list[str] = []
        for path, name in self._files(config, current):
            try:
                data = path.read_bytes()
            except FileNotFoundError:  # taken away since it was listed
                continue
            except OSError as exc:
                problems.append(f"{name}: {exc.strerror or exc}")
                continue
            fingerprint = hashlib.sha256(data).hexdigest()
            if fingerprint in done:
                continue
            start = resume_after if fingerprint == current else 0
            pending: list[Row] = []
            try:
                for row in self._rows(config, path, name, data, start):
                    if len(pending) == batch_size:
                        yield Batch(pending, _state(done_list, fingerprint, pending[-1][ROW]))
                        pending = []
                    pending.append(row)
            except Unreadable as exc:
                problems.append(f"{name}: {exc}")
                continue
            done_list.append(fingerprint)
            done.add(fingerprint)
            if pending or start:
                yield Batch(pending, _state(done_list, None, 0))
        if problems:
            raise FatalError(
                f"{len(problems)} file(s) not imported: " + "; ".join(problems),
                source=self.source_id,
                stream=config.name,
            )

    def _files(self, config: FileStreamConfig, current: str | None) -> list[tuple[Path, str]]:
        """Files matching the pattern by name, the half-imported one first: a file that
        sorts before it must not take over ``current`` before it is finished."""
        folder = self.settings.folder
        if not folder.is_dir():
            message = f"folder {str(folder)!r} is not a directory"
            raise ConfigurationError(message, source=self.source_id, stream=config.name)
        found = sorted(
            (path.relative_to(folder).as_posix(), path)
            for path in folder.glob(config.pattern)
            if path.is_file() and not path.name.startswith("~$")  # Excel's lock files
        )
        if current is not None:
            first = [item for item in found if _fingerprint_of(item[1]) == current]
            found = first + [item for item in found if item not in first]
        return [(path, name) for name, path in found]

    def _rows(
        self, config: FileStreamConfig, path: Path, name: str, data: bytes, start: int
    ) -> Iterator[Row]:
        suffix = path.suffix.lower()
        if suffix in CSV_SUFFIXES:
            lines = _csv_lines(data)
        elif suffix in XLSX_SUFFIXES:
            lines = _xlsx_lines(data, self.zone)
        else:
            raise Unreadable("only .csv and .xlsx files are read")
        headers: list[str] | None = None
        for number, cells in enumerate(lines, 1):
            if number < config.header_row:
                continue
            if headers is None:
                headers = _headers(cells, config.primary_key)
                continue
            position = number - config.header_row
            if position <= start or all(cell is None for cell in cells):
                continue
            row: Row = dict.fromkeys(headers)
            extra: list[Any] = []
            for column, cell in enumerate(cells):
                if column < len(headers) and headers[column]:
                    row[headers[column]] = cell
                elif cell is not None:
                    extra.append(cell)
            row.pop("", None)
            if extra:
                row[EXTRA] = extra
            row[FILE] = name
            row[ROW] = position
            yield row

    def _decode_state(
        self, config: FileStreamConfig, state: State | None
    ) -> tuple[list[str], str | None, int]:
        if not state:
            return [], None, 0
        try:
            done = state.get("done", [])
            current = state.get("current")
            if not isinstance(done, list) or not all(isinstance(f, str) for f in done):
                raise TypeError(done)
            if current is None:
                return list(done), None, 0
            row = current["row"]
            if not isinstance(row, int) or row < 0:
                raise TypeError(row)
            fingerprint = current["fingerprint"]
            if not isinstance(fingerprint, str):
                raise TypeError(fingerprint)
            return list(done), fingerprint, row
        except (AttributeError, KeyError, TypeError):
            raise ConfigurationError(
                "the saved state does not fit this stream; reset it",
                source=self.source_id,
                stream=config.name,
            ) from None


def _state(done: list[str], fingerprint: str | None, row: int) -> State:
    current = None if fingerprint is None else {"fingerprint": fingerprint, "row": row}
    return {"done": list(done), "current": current}


def _fingerprint_of(path: Path) -> str | None:
    try:
        with path.open("rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return None


def _headers(cells: list[Any], primary_key: str) -> list[str]:
    headers = [header(cell) for cell in cells]
    named = [h for h in headers if h]
    if duplicated := sorted({h for h in named if named.count(h) > 1}):
        raise Unreadable(f"duplicate headers {', '.join(duplicated)}")
    if reserved := sorted(RESERVED & set(named)):
        raise Unreadable(f"reserved headers {', '.join(reserved)}")
    if primary_key not in named:
        raise Unreadable(f"no primary key column {primary_key!r} (headers: {', '.join(named)})")
    return headers


def _decode(data: bytes) -> str:
    """UTF-8 with or without BOM, else GB18030: what Excel on Chinese Windows writes."""
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise Unreadable("neither UTF-8 nor GB18030 text")


def _csv_lines(data: bytes) -> Iterator[list[Any]]:
    text = _decode(data)
    try:
        for cells in csv.reader(io.StringIO(text, newline="")):
            yield [cell.strip() or None for cell in cells]
    except csv.Error as exc:
        raise Unreadable(f"malformed CSV: {exc}") from None


def _xlsx_lines(data: bytes, zone: ZoneInfo) -> Iterator[list[Any]]:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # styles openpyxl cannot read: irrelevant here
            book = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:
        raise Unreadable(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from None
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        sheet.reset_dimensions()  # some writers record a wrong used range
        for cells in sheet.iter_rows():
            yield [_cell(cell.value, cell.number_format, zone) for cell in cells]
    except Unreadable:
        raise
    except Exception as exc:
        raise Unreadable(f"corrupt XLSX sheet ({type(exc).__name__}: {exc})") from None
    finally:
        book.close()


EXACT = 2**53
"""Integers below this are exact as floats."""
_ZEROS = re.compile(r"0+")
_LITERALS = re.compile(r'"[^"]*"|\\.|\[[^\]]*\]')


def _cell(value: Any, number_format: str | None, zone: ZoneInfo) -> Any:
    """An Excel cell as the text or value a CSV export of it would carry.

    Numbers become text without a trailing ``.0`` (phone numbers and codes typed as
    numbers), zero-padded when the cell's format is ``00``-style; dates become ISO dates
    and date-times ISO date-times in the configured zone.

    A float from 2**53 up has lost digits (Excel keeps 15, writers 16 or 17): an 18-digit
    ID number typed as a number. It stays in scientific notation, which the contract
    refuses, rather than becoming digits that may pass the check digit by chance.
    """
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        if isinstance(value, float) and not (value.is_integer() and abs(value) < EXACT):
            return repr(value)
        text = str(int(value))
        if number_format and _ZEROS.fullmatch(number_format) and not text.startswith("-"):
            text = text.zfill(len(number_format))
        return text
    if isinstance(value, dt.datetime):
        has_date, has_time = _date_parts(number_format)
        if (has_date and not has_time) or (not has_time and value.time() == dt.time()):
            return value.date().isoformat()
        return (value if value.tzinfo else value.replace(tzinfo=zone)).isoformat()
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _date_parts(number_format: str | None) -> tuple[bool, bool]:
    """Whether a number format shows a date and a time (``m`` is either: ignored)."""
    codes = _LITERALS.sub("", number_format or "").lower()
    return any(c in codes for c in "dy"), any(c in codes for c in "hs")
