from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from contracts import Record
from hub.cli import app

runner = CliRunner()


def _lines(output: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def test_list_names_every_kind() -> None:
    result = runner.invoke(app, ["contracts", "list"])
    assert result.exit_code == 0
    for kind in ("address", "person", "house", "unit", "incident", "work_order", "visit"):
        assert kind in result.output


def test_schema_is_json_with_metadata() -> None:
    result = runner.invoke(app, ["contracts", "schema", "person"])
    assert result.exit_code == 0
    schema = json.loads(result.output)
    assert schema["properties"]["id_number"]["x-sensitivity"] == "sensitive_personal"
    assert schema["x-natural-key"] == ["id_number"]


def test_unknown_kind_is_a_usage_error() -> None:
    result = runner.invoke(app, ["contracts", "schema", "people"])
    assert result.exit_code == 2


def test_check_jsonl_flags_only_bad_rows(tmp_path: Path, records: dict[str, Record]) -> None:
    good = records["person"].model_dump(mode="json")
    rows = [
        good,
        {**good, "id_number": good["id_number"][:-1] + "0"},
        {**good, "birth_date": "1990-03-08"},
        {k: v for k, v in good.items() if k != "name"},
    ]
    file = tmp_path / "rows.jsonl"
    file.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n")
    result = runner.invoke(app, ["contracts", "check", "person", str(file)])
    assert result.exit_code == 1
    found = {(line["row"], line["field"], line["rule"]) for line in _lines(result.stdout)}
    assert found == {
        (2, "id_number", "id_check_digit"),
        (3, "birth_date", "id_birth_date_mismatch"),
        (4, "name", "required"),
    }


def test_check_csv_with_chinese_headers(tmp_path: Path, records: dict[str, Record]) -> None:
    unit = records["unit"]
    labels = {spec.name: spec.label for spec in unit.specs()}
    good = {labels[k]: ("是" if v is True else v) for k, v in unit.model_dump(mode="json").items()}
    good[labels["key_unit"]] = "true"
    bad = {**good, labels["credit_code"]: good[labels["credit_code"]][:-1] + "1"}
    file = tmp_path / "units.csv"
    header = ",".join(good)
    body = "\n".join(",".join(str(row[h]) for h in good) for row in (good, bad))
    file.write_text(header + "\n" + body + "\n", encoding="utf-8-sig")
    result = runner.invoke(app, ["contracts", "check", "unit", str(file)])
    assert result.exit_code == 1
    assert [(line["row"], line["rule"]) for line in _lines(result.stdout)] == [
        (2, "credit_code_check_digit")
    ]


def test_check_passes_a_valid_file(tmp_path: Path, records: dict[str, Record]) -> None:
    file = tmp_path / "ok.jsonl"
    file.write_text(records["person"].model_dump_json() + "\n")
    result = runner.invoke(app, ["contracts", "check", "person", str(file)])
    assert result.exit_code == 0, result.output
    assert _lines(result.stdout) == []


@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("broken.jsonl", b'{"id_number": \n[1, 2]\n\xff\xfe\n'),
        ("latin1.csv", "姓名,性别\n张三,男\n".encode("gb18030")),
        ("ragged.csv", "姓名,性别\n张三,男,多余\n李四\n".encode()),
        ("empty.csv", b""),
    ],
)
def test_check_never_crashes_on_bad_input(tmp_path: Path, name: str, content: bytes) -> None:
    file = tmp_path / name
    file.write_bytes(content)
    result = runner.invoke(app, ["contracts", "check", "person", str(file)])
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert result.exit_code in (0, 1)
    if content:
        assert result.exit_code == 1
        assert all(line["rule"] for line in _lines(result.stdout))


def test_console_script_runs(tmp_path: Path, records: dict[str, Record]) -> None:
    hub = shutil.which("hub") or str(Path(__file__).parents[2] / ".venv/bin/hub")
    file = tmp_path / "ok.jsonl"
    file.write_text(records["person"].model_dump_json() + "\n")
    done = subprocess.run(
        [hub, "contracts", "check", "person", str(file)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert "1 valid" in done.stderr
