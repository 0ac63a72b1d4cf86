"""The demo samples shipped in hub/demo/samples break exactly the rows their README names."""

from __future__ import annotations

import csv
import json
from importlib.resources import files

from contracts import Person, RecordInvalid, Unit, unflatten

SAMPLES = files("hub.demo") / "samples"

PERSON_BROKEN = {
    3: ("id_number", "id_check_digit"),
    7: ("birth_date", "id_birth_date_mismatch"),
    10: ("sex", "id_sex_mismatch"),
    13: ("id_number", "id_area_code"),
    16: ("sex", "unknown_code"),
    19: ("ethnicity", "unknown_code"),
    21: ("name", "required"),
}
UNIT_BROKEN = {
    6: ("credit_code", "credit_code_check_digit"),
    7: ("credit_code", "credit_code_check_digit"),
    8: ("credit_code", "credit_code_format"),
}


def test_person_sample() -> None:
    lines = SAMPLES.joinpath("person.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == 21
    broken: dict[int, list[tuple[str | None, str]]] = {}
    for number, line in enumerate(lines, start=1):
        try:
            Person.parse(json.loads(line))
        except RecordInvalid as exc:
            broken[number] = [(f.field, f.rule) for f in exc.failures]
    # one defect per broken row, so exactly one failure each
    assert broken == {number: [failure] for number, failure in PERSON_BROKEN.items()}


def test_unit_sample() -> None:
    raw = SAMPLES.joinpath("unit.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    with SAMPLES.joinpath("unit.csv").open(encoding="utf-8-sig", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 8
    assert next(iter(rows[0])) == "统一社会信用代码"
    broken: dict[int, list[tuple[str | None, str]]] = {}
    for number, row in enumerate(rows, start=1):
        try:
            Unit.parse(unflatten(Unit, row))
        except RecordInvalid as exc:
            broken[number] = [(f.field, f.rule) for f in exc.failures]
    assert broken == {number: [failure] for number, failure in UNIT_BROKEN.items()}


def test_readme_names_the_broken_rows() -> None:
    readme = " ".join(SAMPLES.joinpath("README.md").read_text(encoding="utf-8").split())
    person, unit = readme.split("`unit.csv`, 8 rows")
    for number, (_, rule) in PERSON_BROKEN.items():
        assert f"row {number} " in person, number
        assert f"`{rule}`" in person, rule
    assert "rows 6 and 7 have a wrong check character (`credit_code_check_digit`)" in unit
    assert "row 8 is malformed" in unit
