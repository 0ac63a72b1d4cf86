from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Annotated, Any, ClassVar

from pydantic import BaseModel, ConfigDict, StringConstraints, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from contracts.errors import Failure, RecordInvalid
from contracts.meta import FieldSpec, field_specs

Code = Annotated[str, StringConstraints(pattern=r"^[0-9A-Za-z][0-9A-Za-z_-]{1,63}$")]
"""Identifiers of the source systems: grid, beat, address, house codes."""

Text = Annotated[str, StringConstraints(min_length=1, max_length=2000)]

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
"""C0 control characters but tab, LF and CR: no text field holds them. PostgreSQL refuses NUL in
text, and the others are binary garbage or hidden marks in a report; they are judged before
whitespace is stripped, which would drop a trailing U+000B or U+000C unseen."""

_RULE_NAMES = {
    "missing": "required",
    "extra_forbidden": "unknown_field",
    "string_pattern_mismatch": "pattern",
    "string_too_short": "required",
    "enum": "value_set",
    "literal_error": "value_set",
    "date_parsing": "date_format",
    "date_from_datetime_parsing": "date_format",
    "date_from_datetime_inexact": "date_format",
    "datetime_parsing": "datetime_format",
    "datetime_from_date_parsing": "datetime_format",
    "timezone_aware": "datetime_timezone",
    "int_parsing": "integer",
    "bool_parsing": "boolean",
}


class Record(BaseModel):
    """Base of every contract: one record of one kind, at one contract version."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)

    kind: ClassVar[str]
    version: ClassVar[int]
    label: ClassVar[str]
    owned_by_hub: ClassVar[bool] = False
    """Records the hub itself keeps (work orders, visits): no source or push writes them;
    partners act on them through the hub's own routes, which hold their rules."""

    @model_validator(mode="before")
    @classmethod
    def _no_control_characters(cls, data: Any) -> Any:
        """Judged on the input, before any field's own checks, for every field of every kind
        (text nested in lists and objects too), in one pass over the row. A row holding
        control characters is refused for them alone; its other rules are judged once the
        characters are gone."""
        if not isinstance(data, dict) or _control_character(data.values()) is None:
            return data
        errors = [
            InitErrorDetails(
                type=PydanticCustomError(
                    "control_character",
                    "text holds the control character U+{code}",
                    {"code": f"{ord(found.group()):04X}"},
                ),
                loc=(name,),
                input=value,
            )
            for name, value in data.items()
            if (found := _control_character((value,)))
        ]
        raise ValidationError.from_exception_data(cls.__name__, errors)

    @classmethod
    def specs(cls) -> tuple[FieldSpec, ...]:
        return field_specs(cls)

    @classmethod
    def natural_key_fields(cls) -> tuple[str, ...]:
        return tuple(spec.name for spec in cls.specs() if spec.natural_key)

    def natural_key(self) -> str:
        """The natural key as one string (parts joined by '|'), for linking across sources."""
        return "|".join(str(getattr(self, name)) for name in self.natural_key_fields())

    @classmethod
    def parse(cls, row: dict[str, Any]) -> Record:
        """Validate ``row``; raise RecordInvalid naming every broken rule."""
        try:
            return cls.model_validate(row)
        except ValidationError as exc:
            raise RecordInvalid(cls.kind, failures_of(cls.kind, exc)) from None


def _control_character(values: Iterable[Any]) -> re.Match[str] | None:
    """The first control character in the text of ``values``, nested in lists, dicts or
    models too (one regex search over all of it: this runs for every row)."""
    texts: list[str] = []
    _gather(values, texts)
    return _CONTROL.search("\n".join(texts))


def _gather(values: Iterable[Any], texts: list[str]) -> None:
    for value in values:
        if isinstance(value, str):
            texts.append(value)
        elif isinstance(value, list | tuple):
            _gather(value, texts)
        elif isinstance(value, dict):
            _gather(value.values(), texts)
        elif isinstance(value, BaseModel):
            _gather(vars(value).values(), texts)


def failures_of(kind: str, exc: ValidationError) -> tuple[Failure, ...]:
    failures = []
    for error in exc.errors(include_url=False):
        loc = error["loc"]
        name = str(loc[0]) if loc else None
        value = error.get("input") if name is not None else None
        if error["type"] == "missing":
            value = None
        failures.append(
            Failure(
                kind=kind,
                field=name,
                rule=_RULE_NAMES.get(error["type"], error["type"]),
                value=value if _is_plain(value) else repr(value),
                message=error["msg"] if len(loc) <= 1 else f"{error['msg']} (at {_path(loc)})",
            )
        )
    return tuple(failures)


def _is_plain(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool | dt.date)


def _path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)
