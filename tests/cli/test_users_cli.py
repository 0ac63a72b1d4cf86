"""``hub users``: roles that the separation of duties keeps apart are refused with exit 2
and no account is made; the password is read from a prompt or a file, never an option."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from hub.cli import app

runner = CliRunner()


def test_clashing_roles_and_short_passwords_are_refused(tmp_path: Path) -> None:
    home = str(tmp_path / "hub")
    assert runner.invoke(app, ["init", "--home", home]).exit_code == 0
    password = tmp_path / "pw"
    password.write_text("long enough password\n")
    clash = ["users", "add", "a", "--role", "audit_admin", "--role", "system_admin"]
    done = runner.invoke(app, [*clash, "--password-file", str(password), "--home", home])
    assert done.exit_code == 2
    assert "audit_admin is never held with system_admin" in done.output
    short = runner.invoke(
        app, ["users", "add", "b", "--role", "viewer", "--home", home], input="short\nshort\n"
    )
    assert short.exit_code == 2
    assert "at least 12 characters" in short.output
    listed = runner.invoke(app, ["users", "list", "--home", home])
    assert listed.exit_code == 0
    assert " a " not in listed.output
    assert " b " not in listed.output
    assert "--password " not in runner.invoke(app, ["users", "add", "--help"]).output
