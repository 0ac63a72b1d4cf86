"""Records to table rows and back: encryption, blind indexes, content hashes."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from pydantic import TypeAdapter
from typing_extensions import TypedDict

from contracts import Record
from contracts import untyped as untyped  # re-exported: hub.store.query imports it from here
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
    model = kind_table.model
    mapping = row._mapping
    values: dict[str, Any] = {}
    for column in kind_table.fields:
        value = mapping[column.name]
        if value is not None and column.encrypted:
            value = json.loads(keyring.decrypt(value, f"{model.kind}.{column.name}"))
        values[column.name] = value
    return model.model_construct(**_retyper(model)(values))


@cache
def _retyper(model: type[Record]) -> Any:
    fields = {name: untyped(info.annotation) for name, info in model.model_fields.items()}
    adapter: TypeAdapter[Any] = TypeAdapter(TypedDict(f"{model.__name__}Stored", fields))  # type: ignore[operator]
    return adapter.validate_python
