"""Records to table rows and back: encryption, blind indexes, content hashes."""

from __future__ import annotations

import enum
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import TypeAdapter

from contracts import Record, untyped
from hub.store.keyring import Keyring
from hub.store.tables import KindTable


def content_hash(record: Record) -> str:
    return hashlib.sha256(record.model_dump_json().encode()).hexdigest()


def encode(kind_table: KindTable, record: Record, keyring: Keyring) -> dict[str, Any]:
    """The field columns of ``record`` (not provenance), sensitive ones sealed."""
    plain = record.model_dump(mode="json")
    row: dict[str, Any] = {}
    for column in kind_table.fields:
        value = plain[column.name]
        if column.encrypted:
            if value is None:
                row[column.name] = None
                if column.indexed:
                    row[column.index_column] = None
                continue
            text = json.dumps(value, ensure_ascii=False)
            row[column.name] = keyring.encrypt(text, f"{record.kind}.{column.name}")
            if column.indexed:
                row[column.index_column] = keyring.blind_index(str(value))
        elif column.structured:
            row[column.name] = value
        else:
            row[column.name] = getattr(record, column.name)
    return row


def decode(kind_table: KindTable, row: Any, keyring: Keyring) -> Record:
    """The record a table row holds.

    Values were validated on the way in; on the way out they are only re-typed (one
    validation of the whole row against the contract's types without its checks), so a
    record stored under an older rule set (say, a retired area code) still reads back.
    """
    values = decode_values(kind_table, row, keyring, [c.name for c in kind_table.fields])
    return kind_table.model.model_construct(**values)


def decode_values(
    kind_table: KindTable, row: Any, keyring: Keyring, names: Iterable[str]
) -> dict[str, Any]:
    """The values of the fields ``names`` a table row holds, re-typed; only those columns
    are decrypted, so a caller granted no police-only field never has one opened."""
    mapping = row._mapping
    values: dict[str, Any] = {}
    for name, context, convert in _readers(kind_table, tuple(names)):
        value = mapping[name]
        if value is not None:
            if context is not None:
                value = json.loads(keyring.decrypt(value, context))
            if convert is not None:
                value = convert(value)
        values[name] = value
    return values


Reader = tuple[str, str | None, Callable[[Any], Any] | None]
"""A field's name, its sealing context (None: stored in clear) and how its value is
re-typed (None: the value as read is already of the field's type)."""


_READERS: dict[tuple[str, tuple[str, ...]], tuple[Reader, ...]] = {}


def _readers(kind_table: KindTable, names: tuple[str, ...]) -> tuple[Reader, ...]:
    """How each of ``names`` is read back, worked out once per kind and projection."""
    kind = kind_table.model.kind
    known = _READERS.get((kind, names))
    if known is not None:
        return known
    readers = []
    for name in names:
        column = kind_table.column(name)
        context = f"{kind}.{name}" if column.encrypted else None
        readers.append((name, context, _retype(column.spec.info.annotation)))
    made = _READERS[kind, names] = tuple(readers)
    return made


def _retype(annotation: Any) -> Callable[[Any], Any] | None:
    """The field's re-typing, without the contract's checks: none for text, whole numbers,
    booleans and literals (what the column or the sealed JSON holds is that type already),
    the enum itself for an enum, and the type's lax validation for anything else (dates
    inside sealed JSON, lists, nested models)."""
    bare = untyped(annotation)
    options = [a for a in typing.get_args(bare) if a is not type(None)]
    if typing.get_origin(bare) not in (typing.Union, types.UnionType):
        options = [bare]
    if len(options) == 1:
        (only,) = options
        if only in (str, int, bool) or typing.get_origin(only) is typing.Literal:
            return None
        if isinstance(only, type) and issubclass(only, enum.Enum):
            return only
    adapter: TypeAdapter[Any] = TypeAdapter(bare)
    return adapter.validate_python
