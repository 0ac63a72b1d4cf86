from __future__ import annotations

from typing import Any

from contracts.errors import UnknownKind
from contracts.kinds.address import Address
from contracts.kinds.house import House
from contracts.kinds.incident import Incident
from contracts.kinds.person import Person
from contracts.kinds.unit import Unit
from contracts.kinds.visit import Visit
from contracts.kinds.work_order import WorkOrder
from contracts.record import Record

_ALL: tuple[type[Record], ...] = (Address, Person, House, Unit, Incident, WorkOrder, Visit)
_BY_VERSION: dict[tuple[str, int], type[Record]] = {(m.kind, m.version): m for m in _ALL}
CONTRACTS: dict[str, type[Record]] = {m.kind: m for m in sorted(_ALL, key=lambda m: m.version)}
"""The current version of every kind's contract, by kind."""


def contract(kind: str, version: int | None = None) -> type[Record]:
    try:
        return CONTRACTS[kind] if version is None else _BY_VERSION[(kind, version)]
    except KeyError:
        raise UnknownKind(kind, version) from None


def json_schema(kind: str, version: int | None = None) -> dict[str, Any]:
    """The JSON Schema partners validate against, with the hub's field metadata."""
    model = contract(kind, version)
    schema = model.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["$id"] = f"urn:hub:contract:{model.kind}:v{model.version}"
    schema["title"] = f"{model.label} ({model.kind} v{model.version})"
    schema["x-kind"] = model.kind
    schema["x-version"] = model.version
    schema["x-natural-key"] = list(model.natural_key_fields())
    return schema
