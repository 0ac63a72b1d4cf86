"""The README cannot drift from the hub: every command its shell blocks name exists with
every option they show, and the curl example runs as written against a served hub (its
``http://127.0.0.1:8000`` pointed at the test server's port, the only change)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hub.api import create_app
from hub.auth import ClientRegistry
from hub.cli import app
from hub.config import load_config, open_store
from hub.reference.serve import serve_in_thread

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
HUB = Path(sys.executable).parent / "hub"
runner = CliRunner()


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.DOTALL)


def _hub_lines() -> list[str]:
    """Each ``hub …`` line of the shell blocks, comments and continuations joined, and the
    command of each ``Exec…=`` line of the systemd units."""
    lines = []
    for block in _blocks("sh"):
        joined = block.replace("\\\n", " ")
        for line in joined.splitlines():
            line = line.split("  #")[0].strip()
            if line.startswith("hub "):
                lines.append(line)
    for block in _blocks("ini"):  # systemd units: the hub command each Exec line runs
        lines += [f"hub {m}" for m in re.findall(r"^Exec\w*=\S*/hub (.+)$", block, re.M)]
    return lines


def _commands(line: str) -> list[tuple[list[str], list[str]]]:
    """(command path, options) for each alternative of a synopsis line: ``hub quarantine
    list | show ID`` names ``quarantine list`` and ``quarantine show``; the alternatives
    after the first share its path but for its last word."""
    alternatives = [part.split() for part in " ".join(line.split()[1:]).split(" | ")]
    found = []
    head: list[str] = []
    for n, words in enumerate(alternatives):
        path = list(head)
        options = []
        for word in words:
            bare = word.strip("[]").split("=")[0]
            if bare.startswith("--"):
                options.append(bare)
            elif re.fullmatch(r"[a-z][a-z-]*", word) and not options:
                path.append(word)
        if n == 0:
            head = path[:-1]
        found.append((path, options))
    return found


CASES = [(line, path, options) for line in _hub_lines() for path, options in _commands(line)]


@pytest.mark.parametrize(("line", "path", "options"), CASES, ids=[" ".join(c[1]) for c in CASES])
def test_every_readme_command_exists_with_its_options(
    line: str, path: list[str], options: list[str]
) -> None:
    # Walk down the command groups: under a group each word must be one of its commands;
    # below a command, the words left are its arguments (``schema person``).
    command: list[str] = []
    shown = runner.invoke(app, ["--help"], env={"COLUMNS": "300"})
    for word in path:
        if "COMMAND [ARGS]" not in shown.output:
            break
        assert re.search(rf"│ {re.escape(word)} ", shown.output), f"{line}: no command {word}"
        command.append(word)
        shown = runner.invoke(app, [*command, "--help"], env={"COLUMNS": "300"})
        assert shown.exit_code == 0, shown.output
    help_text = re.sub(r"\s+", " ", shown.output)
    for option in options:
        assert option in help_text, f"{line}: {' '.join(command)} has no {option}"


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    shutil.copytree(ROOT / "policies" / "examples", home / "policies")
    config = load_config(home)
    store = open_store(config)
    new = ClientRegistry(store).add(
        "grid", "grid-platform", ["person.read"], {"grid_codes": ["G32010401011"]}
    )
    store.close()
    with serve_in_thread(create_app(config)) as server:
        yield server.url, new.client.client_id, new.secret or ""


def test_the_readme_curl_example_runs_as_written(served: tuple[str, str, str]) -> None:
    url, client_id, secret = served
    assert shutil.which("curl"), "the README's example needs curl (.ci/run installs it)"
    [block] = [b for b in _blocks("sh") if "curl" in b]
    token_line, query_line = [line for line in block.splitlines() if line.startswith("curl")]

    def bash(line: str, **env: str) -> str:
        command = line.replace("http://127.0.0.1:8000", url)
        done = subprocess.run(
            ["bash", "-c", command], capture_output=True, text=True, env=env, check=True
        )
        return done.stdout

    token = json.loads(bash(token_line, CLIENT_ID=client_id, SECRET=secret))["access_token"]
    page = json.loads(bash(query_line, TOKEN=token))
    assert "items" in page, page
    assert page["next_cursor"] is None or isinstance(page["next_cursor"], str)
