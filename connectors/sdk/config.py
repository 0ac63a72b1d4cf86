"""What every connector's config shares: validation that never echoes values, retries."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from connectors.sdk.errors import ConfigurationError

M = TypeVar("M", bound=BaseModel)


class RetryConfig(BaseModel):
    """The ``retry`` block of a source's config, for ``retrying(**retry.model_dump())``."""

    model_config = ConfigDict(extra="forbid")

    attempts: int = Field(default=6, ge=1)
    initial: float = Field(default=0.2, ge=0)
    maximum: float = Field(default=5.0, ge=0)
    deadline: float = Field(default=60.0, gt=0)


def parse_config(model: type[M], config: Mapping[str, Any], source_id: str) -> M:
    """``config`` validated by ``model``; a ConfigurationError lists each problem by field,
    without the values given, which may hold a password, a key or a secret."""
    try:
        return model.model_validate(config)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or '(config)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigurationError(problems, source=source_id) from None
