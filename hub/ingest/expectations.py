"""Dataset-level expectations over the stored records of one source, with great-expectations.

The row-level contract checks run at ingest; what they cannot see is the data set as a
whole. For every kind the suite is generated from its contract, never written by hand:

- completeness: every required field is not null;
- uniqueness: the natural key is unique within one source;
- value sets: StrEnum and Literal fields, and code fields (GB/T 2261.1 sex, GB/T 3304
  ethnicity: any field whose validator closes over a ``CodeTable``) hold allowed values;
- format: every citizen-ID field (``CitizenId``, found by its ``check_citizen_id``
  validator in the annotation metadata, in lists too) matches the GB 11643 pattern;
- freshness: the newest ``last_updated`` of the source is at most ``max_age`` old.

Records are decrypted into a pandas DataFrame in memory only. Results name the values
that broke an expectation, masked when the field is sensitive personal or police only.

great-expectations and pandas are imported on first use: the CLI must not pay for them
in commands that do not validate.
"""

from __future__ import annotations

import datetime as dt
import enum
import math
import types
import typing
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pydantic import AfterValidator
from pydantic.fields import FieldInfo

from contracts import contract
from contracts.checks import check_citizen_id
from contracts.codes import CodeTable
from contracts.record import Record
from policies import mask

if TYPE_CHECKING:
    from types import ModuleType

    import pandas as pd

    from hub.ingest.report import RunReport
    from hub.store import Store, StoredRecord

MAX_AGE = dt.timedelta(days=7)
"""Default freshness limit: a source whose newest change is older than this is stale."""

MAX_EXAMPLES = 3

CITIZEN_ID_PATTERN = (
    r"^[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9X]$"
)
"""GB 11643-1999: area code, birth date, sequence number, check character (0-9 or X).

Groups are non-capturing: pandas warns about a pattern with capture groups in
``str.contains``, which great-expectations' pandas engine uses for regex expectations."""

NATURAL_KEY = "natural_key"
"""Column of the joined natural key, for kinds whose key has more than one field."""

FRESHNESS_COLUMN = "last_updated"
_SOURCE_KEY = "source_key"
_RESULT_FORMAT = {
    "result_format": "SUMMARY",
    "partial_unexpected_count": 20,
    "unexpected_index_column_names": [_SOURCE_KEY],
}

# great-expectations 1.x imports the deprecated sre_constants/sre_parse modules (its
# file-path data connector); with warnings as errors the import itself would fail.
_IMPORT_WARNINGS = r"module 'sre_(constants|parse)' is deprecated"


@dataclass(frozen=True, slots=True)
class Check:
    """One generated expectation: a great-expectations class name and its arguments."""

    expectation: str
    column: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    items: bool = False
    """The column is a list field; the expectation applies to each of its items."""
    masked: bool = False
    """Values of the column are sensitive: examples are masked."""


def checks(
    kind: str, *, now: dt.datetime | None = None, max_age: dt.timedelta = MAX_AGE
) -> list[Check]:
    """The expectations of ``kind``, generated from its contract."""
    model = contract(kind)
    now = now or dt.datetime.now(dt.UTC)
    plan: list[Check] = []
    for spec in model.specs():
        masked = spec.sensitivity.encrypted_at_rest
        shape = _shape(spec.info)
        if spec.required:
            plan.append(Check("ExpectColumnValuesToNotBeNull", spec.name, masked=masked))
        if shape.value_set is not None:
            plan.append(
                Check(
                    "ExpectColumnValuesToBeInSet",
                    spec.name,
                    {"value_set": shape.value_set},
                    items=shape.items,
                    masked=masked,
                )
            )
        if shape.citizen_id:
            plan.append(
                Check(
                    "ExpectColumnValuesToMatchRegex",
                    spec.name,
                    {"regex": CITIZEN_ID_PATTERN},
                    items=shape.items,
                    masked=masked,
                )
            )
    plan.append(_uniqueness(model))
    plan.append(Check("ExpectColumnMaxToBeBetween", FRESHNESS_COLUMN, {"min_value": now - max_age}))
    return plan


def _uniqueness(model: type[Record]) -> Check:
    keys = [spec for spec in model.specs() if spec.natural_key]
    masked = any(spec.sensitivity.encrypted_at_rest for spec in keys)
    column = keys[0].name if len(keys) == 1 else NATURAL_KEY
    return Check("ExpectColumnValuesToBeUnique", column, masked=masked)


@dataclass(frozen=True, slots=True)
class _Shape:
    items: bool
    citizen_id: bool
    value_set: list[str] | None


def _shape(info: FieldInfo) -> _Shape:
    """What a field's annotation says, through Optional, Annotated and list wrappers."""
    annotation: Any = info.annotation
    metadata: list[Any] = list(info.metadata)
    items = False
    while True:
        origin = typing.get_origin(annotation)
        args = typing.get_args(annotation)
        if origin is typing.Annotated:
            annotation, metadata = args[0], [*metadata, *args[1:]]
        elif origin in (typing.Union, types.UnionType):
            rest = [arg for arg in args if arg is not type(None)]
            if len(rest) != 1:
                break
            annotation = rest[0]
        elif origin is list and not items:
            annotation, items = args[0], True
        else:
            break
    citizen_id = any(
        isinstance(item, AfterValidator) and item.func is check_citizen_id for item in metadata
    )
    return _Shape(items, citizen_id, _value_set(annotation, metadata))


def _value_set(annotation: Any, metadata: list[Any]) -> list[str] | None:
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return [str(member.value) for member in annotation]
    if typing.get_origin(annotation) is typing.Literal:
        return [str(arg) for arg in typing.get_args(annotation)]
    for item in metadata:
        for cell in getattr(getattr(item, "func", None), "__closure__", None) or ():
            if isinstance(cell.cell_contents, CodeTable):
                return list(cell.cell_contents)
    return None


def validate_stored(
    store: Store,
    kind: str,
    source_system: str,
    *,
    max_age: dt.timedelta = MAX_AGE,
    now: dt.datetime | None = None,
) -> list[dict[str, Any]]:
    """Validate the stored records of ``kind`` from ``source_system``: one dict per
    expectation, JSON-serialisable, sensitive example values masked."""
    plan = checks(kind, now=now, max_age=max_age)
    frames = _frames(store.records(kind, source_system), plan)
    results = _run(f"{source_system}.{kind}", frames, plan)
    return [
        _entry(source_system, kind, check, result)
        for check, result in zip(plan, results, strict=True)
    ]


def validate_run(
    store: Store,
    report: RunReport,
    *,
    max_age: dt.timedelta = MAX_AGE,
    now: dt.datetime | None = None,
) -> None:
    """Fill ``report.expectations`` for every (source, kind) the run's streams touched."""
    pairs = dict.fromkeys((stream.source, stream.kind) for stream in report.streams)
    for source, kind in pairs:
        report.expectations.extend(validate_stored(store, kind, source, max_age=max_age, now=now))


def _frames(stored: Iterable[StoredRecord], plan: list[Check]) -> dict[str | None, pd.DataFrame]:
    """The DataFrame of the records (key None) and one per list field, a row per item."""
    import pandas as pd

    columns = {check.column for check in plan if not check.items}
    joined_key = NATURAL_KEY in columns
    names = sorted(columns - {FRESHNESS_COLUMN, NATURAL_KEY})
    lists = sorted({check.column for check in plan if check.items})
    rows: list[dict[str, Any]] = []
    item_rows: dict[str, list[dict[str, Any]]] = {name: [] for name in lists}
    for entry in stored:
        record, key = entry.record, entry.provenance.source_key
        row = {name: _cell(getattr(record, name)) for name in names}
        row[_SOURCE_KEY] = key
        row[FRESHNESS_COLUMN] = entry.provenance.last_updated
        if joined_key:
            row[NATURAL_KEY] = record.natural_key()
        rows.append(row)
        for name in lists:
            item_rows[name].extend(
                {_SOURCE_KEY: key, name: _cell(item)} for item in getattr(record, name) or ()
            )
    header = [*names, _SOURCE_KEY, FRESHNESS_COLUMN, *([NATURAL_KEY] if joined_key else [])]
    records = pd.DataFrame(rows, columns=header)
    records[FRESHNESS_COLUMN] = pd.to_datetime(records[FRESHNESS_COLUMN], utc=True)
    frames: dict[str | None, pd.DataFrame] = {None: records}
    for name, found in item_rows.items():
        frames[name] = pd.DataFrame(found, columns=[_SOURCE_KEY, name])
    return frames


def _cell(value: Any) -> Any:
    return value.value if isinstance(value, enum.Enum) else value


def _run(name: str, frames: dict[str | None, pd.DataFrame], plan: list[Check]) -> list[Any]:
    """The great-expectations result of every check of ``plan``, in its order."""
    gx = _gx()
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    source = context.data_sources.add_pandas(name="hub")
    results: list[Any] = [None] * len(plan)
    for frame, data in frames.items():
        asset = source.add_dataframe_asset(name=f"{name}.{frame or 'records'}")
        batch = asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": data}
        )
        suite = gx.ExpectationSuite(name=f"{name}.{frame or 'records'}")
        for index, check in enumerate(plan):
            if (check.column if check.items else None) == frame:
                expectation = getattr(gx.expectations, check.expectation)
                suite.add_expectation(
                    expectation(column=check.column, meta={"check": index}, **check.kwargs)
                )
        outcome = batch.validate(suite, result_format=_RESULT_FORMAT)
        for result in outcome.results:
            results[int(result.expectation_config.meta["check"])] = result
    missing = [plan[i].expectation for i, result in enumerate(results) if result is None]
    if missing:
        raise RuntimeError(f"great-expectations returned no result for {missing}")
    return results


def _gx() -> ModuleType:
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_IMPORT_WARNINGS, category=DeprecationWarning)
        import great_expectations as gx
    return gx


def _entry(source: str, kind: str, check: Check, result: Any) -> dict[str, Any]:
    """The report entry of one ``ExpectationValidationResult``."""
    details: dict[str, Any] = result.result or {}
    entry: dict[str, Any] = {
        "source": source,
        "kind": kind,
        "expectation": str(result.expectation_config.type),
        "column": check.column,
        "success": bool(result.success),
    }
    if "observed_value" in details:
        entry["observed"] = {"observed_value": _json(details["observed_value"])}
        entry["examples"] = []
        entry["source_keys"] = []
    else:
        entry["observed"] = {
            key: _json(details.get(key))
            for key in ("element_count", "unexpected_count", "unexpected_percent")
        }
        examples = _distinct(_json(v) for v in details.get("partial_unexpected_list") or ())
        entry["examples"] = [mask(str(v)) if check.masked else v for v in examples if v is not None]
        entry["source_keys"] = _distinct(
            str(item.get(_SOURCE_KEY))
            for item in details.get("partial_unexpected_index_list") or ()
        )
    if check.expectation == "ExpectColumnMaxToBeBetween":
        entry["observed"]["min_value"] = _json(check.kwargs.get("min_value"))
    errors = _errors(result.exception_info)
    if errors:
        entry["success"] = False
        entry["error"] = "; ".join(errors)
    return entry


def _errors(info: Any) -> list[str]:
    """Exception messages of a result: GE 1.x keys them by metric, or gives one flat dict."""
    if not isinstance(info, dict):
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message"))] if info["raised_exception"] else []
    return _distinct(message for value in info.values() for message in _errors(value))


def _distinct(values: Iterable[Any]) -> list[Any]:
    found: list[Any] = []
    for value in values:
        if value not in found:
            found.append(value)
        if len(found) == MAX_EXAMPLES:
            break
    return found


def _json(value: Any) -> Any:
    """A JSON value for what great-expectations or pandas return (NaN/NaT become None)."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    if isinstance(value, dt.datetime | dt.date):
        return None if value != value else value.isoformat()  # pandas NaT is not itself
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        return _json(item())
    if isinstance(value, list | tuple):
        return [_json(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json(v) for k, v in value.items()}
    return str(value)
