"""Declarative mapping from a source's columns to a contract's fields.

Written in the source's config, e.g. for a police table::

    fields:
      id_number: {from: SFZH}
      name: {from: XM}
      sex: {from: XB, table: sex}              # 男/女/1/2 -> GB/T 2261.1 code
      birth_date: {from: CSRQ, date_format: "%Y%m%d"}
      household_type: {const: 户籍}
      police_tags: {from: BQ, split: ","}

A value the mapping cannot convert is passed on unchanged, so the contract reports it
under its own rule (``date_format``, ``unknown_code``) and the row goes to quarantine
with that reason: there is one place where rows are judged.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from functools import lru_cache
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from contracts import Record, header_names
from contracts.codes import ETHNICITY, SEX, CodeTable

CODE_TABLES: dict[str, CodeTable] = {"sex": SEX, "ethnicity": ETHNICITY}


class FieldMapping(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    source: str | None = Field(default=None, alias="from")
    const: Any = None
    codes: dict[str, str] | None = None
    table: Literal["sex", "ethnicity"] | None = None
    date_format: str | None = None
    split: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> FieldMapping:
        if (self.source is None) == (self.const is None):
            raise ValueError("a field mapping takes exactly one of 'from' and 'const'")
        return self

    def value(self, row: Mapping[str, Any]) -> Any:
        if self.const is not None:
            return self.const
        value = row.get(self.source)  # type: ignore[arg-type]
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if isinstance(value, str):
            value = value.strip()
        if self.codes is not None:
            value = self.codes.get(str(value), value)
        if self.table is not None:
            value = CODE_TABLES[self.table].lookup(str(value)) or value
        if self.date_format is not None and isinstance(value, str):
            value = _parse_date(value, self.date_format)
        if self.split is not None and isinstance(value, str):
            value = [part.strip() for part in value.split(self.split) if part.strip()]
        return value

    def compiled(self) -> Callable[[Mapping[str, Any]], Any]:
        """``value`` as one plain function, its options bound once."""
        if self.const is not None:
            const = self.const
            return lambda _row: const
        source = self.source
        codes, split, fmt = self.codes, self.split, self.date_format
        lookup = CODE_TABLES[self.table].lookup if self.table is not None else None

        def value(row: Mapping[str, Any]) -> Any:
            value = row.get(source)  # type: ignore[arg-type]
            if value is None:
                return None
            if isinstance(value, str):
                value = value.strip()
                if not value:
                    return None
            if codes is not None:
                value = codes.get(str(value), value)
            if lookup is not None:
                value = lookup(str(value)) or value
            if fmt is not None and isinstance(value, str):
                value = _parse_date(value, fmt)
            if split is not None and isinstance(value, str):
                value = [part.strip() for part in value.split(split) if part.strip()]
            return value

        return value


@lru_cache(maxsize=65536)
def _parse_date(value: str, fmt: str) -> Any:
    if fmt == "%Y%m%d" and len(value) == 8 and value.isascii() and value.isdigit():
        # strptime's own reading of eight digits, without its regex; what fails here
        # (month 13, 30 February) is left to strptime below, which refuses it too.
        try:
            return dt.date(int(value[:4]), int(value[4:6]), int(value[6:]))
        except ValueError:
            pass
    try:
        parsed = dt.datetime.strptime(value, fmt)
    except ValueError:
        return value
    has_time = any(code in fmt for code in ("%H", "%M", "%S"))
    return parsed if has_time else parsed.date()


class RecordMapping(BaseModel):
    """Source row -> contract input. Fields not named keep their source value when the
    source column carries the field's name or Chinese label (``passthrough``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    fields: dict[str, FieldMapping] = Field(default_factory=dict)
    passthrough: bool = False

    def compiled(self, model: type[Record]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
        """``apply`` for ``model`` as one plain function, its options bound once: what a
        sync makes once per batch and calls for every row. A subclass that overrides
        ``apply`` is called through its own ``apply``."""
        if type(self).apply is not RecordMapping.apply:
            return lambda row: self.apply(model, row)
        names = header_names(model) if self.passthrough else None
        fields = [(name, field.compiled()) for name, field in self.fields.items()]

        def apply(row: Mapping[str, Any]) -> dict[str, Any]:
            result: dict[str, Any] = {}
            if names is not None:
                for column, value in row.items():
                    name = names.get(column)
                    if name is not None and value is not None and value != "":
                        result[name] = value.strip() if isinstance(value, str) else value
            for name, value_of in fields:
                value = value_of(row)
                if value is not None:
                    result[name] = value
                else:
                    result.pop(name, None)
            return result

        return apply

    def apply(self, model: type[Record], row: Mapping[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        if self.passthrough:
            names = header_names(model)
            for column, value in row.items():
                name = names.get(column)
                if name is not None and value is not None and value != "":
                    result[name] = value.strip() if isinstance(value, str) else value
        for name, field in self.fields.items():
            value = field.value(row)
            if value is not None:
                result[name] = value
            else:
                result.pop(name, None)
        return result

    def check(self, model: type[Record]) -> list[str]:
        """Problems of the mapping itself: fields the contract does not have."""
        return [
            f"{model.kind} has no field {name!r}"
            for name in self.fields
            if name not in model.model_fields
        ]
