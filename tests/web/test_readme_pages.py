"""The README's pages section runs as written: its ``hub users`` lines add the operators
(one from a prompt, one from a password file), and both sign in at the URL it names."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from hub.api import create_app
from hub.cli import app
from hub.config import load_config
from hub.reference.serve import serve_in_thread
from tests.web.conftest import csrf_of

README = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
PASSWORD = "a passphrase for the readme"  # noqa: S105 (a test account's)


def _block() -> list[str]:
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S)
    # The password accounts' block; the provider-linked one is run by tests/web/test_oidc.py.
    [block] = [b for b in blocks if b.startswith("hub users add") and "--oidc-subject" not in b]
    return [line.split("  #")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_readme_adds_operators_who_then_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    runner = CliRunner()
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    lines = _block()
    assert lines[0].startswith("hub users add")
    names = []
    for line in lines:
        words = shlex.split(line)[1:]
        if "--password-file" in words:
            Path(words[words.index("--password-file") + 1]).write_text(PASSWORD + "\n")
        done = runner.invoke(app, [*words, "--home", str(home)], input=f"{PASSWORD}\n" * 2)
        assert done.exit_code == 0, f"{line}: {done.output}"
        if words[:2] == ["users", "add"]:
            names.append(words[2])
            assert f"added operator {words[2]}" in done.output
    assert all(name in done.output for name in names)  # `hub users list`, the last line
    url = re.search(r"`(http://127\.0\.0\.1:8000/console/sign-in)`", README)
    assert url is not None
    with serve_in_thread(create_app(load_config(home))) as server:
        for name in names:
            with httpx.Client(base_url=server.url) as http:
                path = url.group(1).removeprefix("http://127.0.0.1:8000")
                form = http.get(path)
                answer = http.post(
                    path, data={"name": name, "password": PASSWORD, "csrf": csrf_of(form.text)}
                )
                assert answer.status_code == 303, answer.text
                assert f"您好，{name}" in http.get("/console/").text
