from __future__ import annotations

from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from contracts import contract
from hub.cli.init import init
from hub.cli.rows import check_rows, detect_format


def demo(
    home: Annotated[
        Path | None, typer.Option(help="Hub home; default $HUB_HOME or ./hub-data.")
    ] = None,
) -> None:
    """The main job: set up the hub, then check the shipped sample data against the contracts.

    Sample files are named after their kind (person.jsonl, unit.csv). Broken rows in them
    are deliberate: the table shows which rules caught them.
    """
    init(home=home, database_url=None)
    table = Table("file", "kind", "rows", "valid", "invalid", "failed rules")
    samples = resources.files("hub.demo") / "samples"
    for sample in sorted(samples.iterdir(), key=lambda p: p.name):
        fmt = detect_format(Path(sample.name))
        if fmt is None:
            continue
        with resources.as_file(sample) as path:
            model = contract(path.stem)
            rules: Counter[str] = Counter()
            rows = bad = 0
            for _, problems in check_rows(model, path, fmt):
                rows += 1
                bad += bool(problems)
                rules.update(f"{p['field'] or '(row)'}:{p['rule']}" for p in problems)
        summary = ", ".join(f"{rule} ×{n}" for rule, n in sorted(rules.items()))
        table.add_row(sample.name, model.kind, str(rows), str(rows - bad), str(bad), summary)
    Console().print(table)
