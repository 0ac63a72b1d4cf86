"""Records to table rows and back: encryption, blind indexes, content hashes."""

from __future__ import annotations

import enum
import hashlib
import json
import types
import typing
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from pydantic import TypeAdapter

from contracts import Record, untyped
from hub.store.keyring import Keyring
from hub.store.tables import KindTable


def content_hash(record: Record) -> str:
    return hashlib.sha256(record.model_dump_json().encode()).hexdigest()


class Sealed(NamedTuple):
    """A record as its table row holds it, made once and written as is: what a worker
    process hands the writer (``hub.ingest.pipeline``), and what ``Transaction.upsert``
    writes. The blind indexes in it (``link_key``, the ``*_bidx`` columns) are under
    ``index_key``: a transaction writes it only if its rows are under that key too.
    A named tuple: it crosses a pipe for every row, and pickles as fast as a tuple."""

    kind: str
    version: int
    content_hash: str
    link_key: str
    index_key: str
    values: tuple[Any, ...]
    """The field columns, in the order of ``field_columns(kind_table)``."""


def field_columns(kind_table: KindTable) -> tuple[str, ...]:
    """The names of a kind table's field columns (a sealed field's index after it)."""
    return _layout(kind_table)[0]


_Field = tuple[str, str, bool, bool, bool]
"""A field's name, encryption context, and whether it is encrypted, indexed, structured."""
_LAYOUTS: dict[str, tuple[tuple[str, ...], tuple[_Field, ...]]] = {}


def _layout(kind_table: KindTable) -> tuple[tuple[str, ...], tuple[_Field, ...]]:
    """(field column names, fields) of a kind table, worked out once."""
    kind = kind_table.model.kind
    found = _LAYOUTS.get(kind)
    if found is None:
        names: list[str] = []
        for column in kind_table.fields:
            names.append(column.name)
            if column.indexed:
                names.append(column.index_column)
        fields = tuple(
            (c.name, f"{kind}.{c.name}", c.encrypted, c.indexed, c.structured)
            for c in kind_table.fields
        )
        found = _LAYOUTS[kind] = (tuple(names), fields)
    return found


def seal(kind_table: KindTable, record: Record, keyring: Keyring) -> Sealed:
    """``record`` as a table row: one JSON dump, hashed for the content hash and read back
    for the column values; sensitive fields encrypted, the scalar ones blind-indexed."""
    dumped = record.model_dump_json()
    plain = json.loads(dumped)
    indexes: dict[str, str] = {}
    values: list[Any] = []
    for name, context, encrypted, indexed, structured in _layout(kind_table)[1]:
        value = plain[name]
        if encrypted:
            if value is None:
                values.append(None)
                if indexed:
                    values.append(None)
                continue
            values.append(keyring.encrypt(json.dumps(value, ensure_ascii=False), context))
            if indexed:
                clear = str(value)
                indexes[clear] = keyring.blind_index(clear)
                values.append(indexes[clear])
        elif structured:
            values.append(value)
        else:
            values.append(getattr(record, name))
    natural = record.natural_key()
    link = indexes.get(natural) or keyring.blind_index(natural)
    digest = hashlib.sha256(dumped.encode()).hexdigest()
    return Sealed(record.kind, record.version, digest, link, keyring.indexing_key_id, tuple(values))


def encode(kind_table: KindTable, record: Record, keyring: Keyring) -> dict[str, Any]:
    """The field columns of ``record`` (not provenance), sensitive ones sealed."""
    return dict(
        zip(field_columns(kind_table), seal(kind_table, record, keyring).values, strict=True)
    )


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
