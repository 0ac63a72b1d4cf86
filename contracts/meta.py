"""Field metadata every contract field carries: Chinese label, sensitivity, natural key.

The metadata lives in the field's JSON Schema extras (``x-label``, ``x-sensitivity``,
``x-natural-key``) so partners reading the exported schema see exactly what the hub sees.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import TYPE_CHECKING, Any

from pydantic import Field, JsonValue
from pydantic.fields import FieldInfo

if TYPE_CHECKING:
    from contracts.record import Record


class Sensitivity(StrEnum):
    """Sensitivity classes after PIPL and GB/T 35273, from least to most protected."""

    PUBLIC = "public"
    INTERNAL = "internal"
    PERSONAL = "personal"
    SENSITIVE_PERSONAL = "sensitive_personal"
    POLICE_ONLY = "police_only"

    @property
    def encrypted_at_rest(self) -> bool:
        return self in (Sensitivity.SENSITIVE_PERSONAL, Sensitivity.POLICE_ONLY)


def field(
    label: str,
    sensitivity: Sensitivity,
    *,
    key: bool = False,
    default: Any = ...,
    **kwargs: Any,
) -> Any:
    """A pydantic ``Field`` carrying the hub's metadata."""
    extra: dict[str, JsonValue] = {
        "x-label": label,
        "x-sensitivity": sensitivity.value,
        "x-natural-key": key,
    }
    return Field(default, title=label, json_schema_extra=extra, **kwargs)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    label: str
    sensitivity: Sensitivity
    natural_key: bool
    required: bool
    info: FieldInfo


@cache
def field_specs(model: type[Record]) -> tuple[FieldSpec, ...]:
    specs = []
    for name, info in model.model_fields.items():
        extra = info.json_schema_extra
        if not isinstance(extra, dict) or "x-label" not in extra:
            raise TypeError(f"{model.__name__}.{name} is declared without contracts.field()")
        specs.append(
            FieldSpec(
                name=name,
                label=str(extra["x-label"]),
                sensitivity=Sensitivity(str(extra["x-sensitivity"])),
                natural_key=bool(extra["x-natural-key"]),
                required=info.is_required(),
                info=info,
            )
        )
    return tuple(specs)
