"""A connector written outside the hub, as a third party would: one file, one class."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

from connectors.sdk import Batch, RecordMapping, Source, State, Stream


class JsonLinesSource(Source):
    """People from a JSON-lines file whose keys are the contract's field names."""

    connector: ClassVar[str] = "jsonl"

    def streams(self) -> list[Stream]:
        return [Stream("people", "person", "id_number", None, RecordMapping(passthrough=True))]

    def read(self, stream: Stream, state: State | None, batch_size: int) -> Iterator[Batch]:
        lines = Path(self.config["path"]).read_text(encoding="utf-8").splitlines()
        start = (state or {}).get("line", 0)
        for first in range(start, len(lines), batch_size):
            chunk = lines[first : first + batch_size]
            yield Batch([json.loads(line) for line in chunk], {"line": first + len(chunk)})
