"""When sources are synced: durations like ``30s``, ``5m``, ``1h``, ``1h30m`` or ``2d``, and
the ``schedule:`` a source may carry in ``sources.yaml``::

  sources:
    - id: police
      connector: police_db
      schedule: {every: 5m}
      config: {...}
"""

from __future__ import annotations

import datetime as dt
import re

from pydantic import BaseModel, ConfigDict, field_validator

_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(text: str) -> dt.timedelta:
    """``30s``, ``5m``, ``1h30m``, ``2d``, ``250ms`` (or a bare number of seconds) as a
    positive timedelta; ValueError for anything else."""
    cleaned = text.strip().lower()
    if re.fullmatch(r"\d+(\.\d+)?", cleaned):
        seconds = float(cleaned)
    else:
        parts = _PART.findall(cleaned)
        if not parts or "".join(n + u for n, u in parts) != cleaned:
            raise ValueError(f"not a duration: {text!r} (write e.g. 30s, 5m, 1h, 1h30m, 2d)")
        seconds = sum(int(n) * _UNITS[u] for n, u in parts)
    if seconds <= 0:
        raise ValueError(f"a duration must be positive, got {text!r}")
    return dt.timedelta(seconds=seconds)


class Schedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    every: dt.timedelta
    """How long after a run starts the next one is due."""

    @field_validator("every", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            return parse_duration(str(value))
        return value


def format_duration(delta: dt.timedelta) -> str:
    """The shortest of the forms ``parse_duration`` reads that names ``delta`` (to the ms)."""
    ms = round(delta.total_seconds() * 1000)
    if ms % 1000:
        return f"{ms}ms"
    seconds = ms // 1000
    out = ""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size:
            out += f"{seconds // size}{unit}"
            seconds %= size
    return out or "0s"
