"""A connector over a list held in memory, for testing the pipeline rather than a connector."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

from stdnum.cn import ric

from connectors.sdk import Batch, FatalError, RecordMapping, Source, State, Stream


def person_row(n: int) -> dict[str, Any]:
    body = f"32010419900307{n:03d}"
    number = body + ric.calc_check_digit(body + "0")
    return {
        "pk": f"P{n:04d}",
        "SFZH": number,
        "XM": f"居民{n}",
        "XB": "男" if n % 2 else "女",
        "CSRQ": "1990-03-07",
        "MZ": "汉族",
        "HJLX": "户籍",
        "DZBM": "320104001001001",
        "WGBM": f"G32010400{n % 3}",
        "JWQBM": "B32010401",
        "updated": n,
    }


MAPPING = RecordMapping.model_validate(
    {
        "fields": {
            "id_number": {"from": "SFZH"},
            "name": {"from": "XM"},
            "sex": {"from": "XB", "table": "sex"},
            "birth_date": {"from": "CSRQ"},
            "ethnicity": {"from": "MZ", "table": "ethnicity"},
            "household_type": {"from": "HJLX"},
            "address_code": {"from": "DZBM"},
            "grid_code": {"from": "WGBM"},
            "beat_code": {"from": "JWQBM"},
        }
    }
)


class ListSource(Source):
    """Rows from a list, in cursor order; optionally fails after some batches."""

    connector: ClassVar[str] = "list"

    def __init__(
        self, rows: list[dict[str, Any]], fail_after: int | None = None, primary_key: str = "pk"
    ) -> None:
        super().__init__("police_list", {})
        self.rows = rows
        self.fail_after = fail_after
        self.primary_key = primary_key

    def streams(self) -> list[Stream]:
        return [Stream("people", "person", self.primary_key, "updated", MAPPING)]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        after = (state or {}).get("updated", -1)
        pending = [r for r in self.rows if r["updated"] > after]
        for number, start in enumerate(range(0, len(pending), batch_size)):
            if self.fail_after is not None and number == self.fail_after:
                raise FatalError("source went away", source=self.source_id, stream=stream.name)
            rows = pending[start : start + batch_size]
            yield Batch(rows, {"updated": rows[-1]["updated"]})
