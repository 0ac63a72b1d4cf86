from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hub.cli import app

EXAMPLES = Path(__file__).parents[2] / "policies" / "examples"
runner = CliRunner()


def test_check_passes_the_examples_and_lists_every_problem(tmp_path: Path) -> None:
    for example in EXAMPLES.glob("*.yaml"):
        assert runner.invoke(app, ["policy", "check", str(example)]).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "id: bad\nversion: 1\ntitle: x\npurposes: [p]\nkinds:\n  person:\n"
        "    rows: {all: true}\n    fields: {police_tags: allow, ghost: mask}\n",
        encoding="utf-8",
    )
    result = runner.invoke(app, ["policy", "check", str(bad)])
    assert result.exit_code == 1
    assert "police_tags is police_only" in result.output
    assert "no field 'ghost'" in result.output


def test_explain_lists_the_policies_that_serve_a_field() -> None:
    result = runner.invoke(
        app,
        ["policy", "explain", "person.police_tags", "--policies", str(EXAMPLES)],
        env={"COLUMNS": "200"},
    )
    assert result.exit_code == 0
    assert "police-station@v3" in result.output
    assert "grid-platform" not in result.output
    unknown = runner.invoke(app, ["policy", "explain", "person.ghost", "--policies", str(EXAMPLES)])
    assert unknown.exit_code == 2


def test_diff_exits_1_on_a_widening_unless_allowed_and_2_on_an_invalid_file(
    tmp_path: Path,
) -> None:
    old = EXAMPLES / "grid-platform.yaml"
    text = old.read_text(encoding="utf-8")
    wider = tmp_path / "wider.yaml"
    wider.write_text(
        text.replace("version: 3", "version: 4").replace("id_number: mask", "id_number: allow"),
        encoding="utf-8",
    )
    env = {"COLUMNS": "200"}
    widened = runner.invoke(app, ["policy", "diff", str(old), str(wider)], env=env)
    assert widened.exit_code == 1
    assert "person.fields.id_number" in widened.output
    allowed = ["policy", "diff", str(old), str(wider), "--allow-widen"]
    assert runner.invoke(app, allowed, env=env).exit_code == 0
    narrowed = runner.invoke(app, ["policy", "diff", str(wider), str(old)], env=env)
    assert narrowed.exit_code == 0
    assert "narrows" in narrowed.output
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nversion: 1\n", encoding="utf-8")
    assert runner.invoke(app, ["policy", "diff", str(old), str(bad)]).exit_code == 2
    # two folders, policy by policy: the CI gate over policies/
    folder = tmp_path / "next"
    folder.mkdir()
    for example in EXAMPLES.glob("*.yaml"):
        if example.name not in ("grid-platform.yaml", "audit-office.yaml"):
            (folder / example.name).write_text(example.read_text("utf-8"), encoding="utf-8")
    (folder / "grid-platform.yaml").write_text(wider.read_text("utf-8"), encoding="utf-8")
    both = runner.invoke(app, ["policy", "diff", str(EXAMPLES), str(folder)], env=env)
    assert both.exit_code == 1
    assert "audit-office@v1" in both.output
    assert "2 widening, 1 narrowing" in both.output  # id_number, owner_id_number
    same = runner.invoke(app, ["policy", "diff", str(EXAMPLES), str(EXAMPLES)], env=env)
    assert same.exit_code == 0
