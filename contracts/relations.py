"""How record kinds relate, for the linked profiles (一人一档 / 一屋一档): declared once here,
beside the contracts, rather than in the code that builds a profile."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Relation:
    """The records of ``kind`` whose ``field`` equals the profiled record's ``via``."""

    section: str
    kind: str
    field: str
    via: str


RELATIONS: dict[str, tuple[Relation, ...]] = {
    "person": (
        Relation("address", "address", "address_code", "address_code"),
        Relation("house", "house", "house_code", "house_code"),
        Relation("incidents", "incident", "address_code", "address_code"),
        Relation("visits", "visit", "record_key", "id_number"),
    ),
    "house": (
        Relation("address", "address", "address_code", "address_code"),
        Relation("residents", "person", "house_code", "house_code"),
        Relation("incidents", "incident", "address_code", "address_code"),
        Relation("visits", "visit", "record_key", "house_code"),
    ),
}
"""Profiled kind -> its sections besides ``linked`` (every source's record of the same
real person or house, by natural key)."""
