"""Records to table rows and back: encryption, blind indexes, content hashes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict

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
    model = kind_table.model
    mapping = row._mapping
    values: dict[str, Any] = {}
    for name in names:
        column = kind_table.column(name)
        value = mapping[name]
        if value is not None and column.encrypted:
            value = json.loads(keyring.decrypt(value, f"{model.kind}.{name}"))
        values[name] = value
    retyped: dict[str, Any] = _retyper(model)(values)
    return retyped


@cache
def _retyper(model: type[Record]) -> Any:
    fields = {name: untyped(info.annotation) for name, info in model.model_fields.items()}
    stored = TypedDict(f"{model.__name__}Stored", fields, total=False)  # type: ignore[misc]
    adapter: TypeAdapter[Any] = TypeAdapter(stored)
    return adapter.validate_python
