"""A sync run over configured sources: a source that cannot be opened or reached is in the
run's report with its error and fails the run (``hub sync`` exits non-zero); secrets of a
source's config, given in clear or as ``${VAR}``, never appear in any error."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from connectors.sdk import ConfigurationError
from hub.cli import app
from hub.config import load_config, open_store
from hub.ingest.html import render_html
from hub.ingest.run import REDACTED, redact, run_sources
from hub.ingest.sources import SourceSpec, load_sources, save_sources
from hub.reference.grid_server import create_app
from hub.reference.police_db import write_police_db
from hub.reference.serve import serve_in_thread
from hub.reference.sources import GRID_STREAMS, POLICE_STREAMS
from hub.reference.world import World, generate
from hub.store import Store

runner = CliRunner()
API_KEY = "grid-key-0123456789-secret"
NO_RETRY = {"attempts": 1, "initial": 0, "maximum": 0, "deadline": 5}


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=40, seed=5)


@pytest.fixture
def grid_url(world: World) -> Iterator[str]:
    app_ = create_app(world.grid, api_keys={API_KEY}, clients={})
    with serve_in_thread(app_) as server:
        yield server.url


@pytest.fixture
def police_url(tmp_path: Path, world: World) -> str:
    url = f"sqlite:///{tmp_path / 'police.db'}"
    write_police_db(world, url).dispose()
    return url


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def grid(base_url: str, api_key: str = API_KEY, **extra: object) -> SourceSpec:
    config = {"base_url": base_url, "api_key": api_key, "streams": GRID_STREAMS, **extra}
    return SourceSpec(id="grid_platform", connector="grid_platform", config=config)


def police(url: str) -> SourceSpec:
    return SourceSpec(
        id="police_db", connector="police_db", config={"url": url, "streams": POLICE_STREAMS}
    )


def test_api_key_from_the_environment_reaches_a_real_grid_platform(
    store: Store, grid_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_GRID_KEY", API_KEY)
    report = run_sources(store, [grid(grid_url, "${HUB_TEST_GRID_KEY}")], expectations=False)
    assert report.ok, report.as_dict()
    assert sum(s.read for s in report.streams) > 0


def test_a_police_url_from_the_environment(
    store: Store, police_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUB_TEST_POLICE_URL", police_url)
    spec = police("${HUB_TEST_POLICE_URL}")
    assert spec.resolved_config()["url"] == police_url
    report = run_sources(store, [spec], expectations=False)
    assert report.ok
    assert store.count("person") > 0


def test_a_missing_variable_names_itself_and_the_source_and_nothing_else(
    store: Store, police_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HUB_TEST_UNSET", raising=False)
    spec = grid("http://u:pw-in-url-9876@127.0.0.1:1", "key-${HUB_TEST_UNSET}-tail")
    with pytest.raises(ConfigurationError) as caught:
        spec.resolved_config()
    message = str(caught.value)
    assert "HUB_TEST_UNSET" in message
    assert message.startswith("grid_platform:")
    assert "pw-in-url-9876" not in message
    assert "tail" not in message
    report = run_sources(store, [spec, police(police_url)], expectations=False)
    assert not report.ok
    [broken, fine] = report.sources
    assert broken.error is not None
    assert "HUB_TEST_UNSET" in broken.error
    assert fine.error is None
    assert store.count("person") > 0  # the other source still ran


def test_an_escaped_reference_is_kept_literally() -> None:
    spec = grid("http://127.0.0.1:1", "$${NOT_A_VARIABLE}")
    assert spec.resolved_config()["api_key"] == "${NOT_A_VARIABLE}"


def test_a_broken_config_fails_the_run_without_echoing_its_secrets(
    store: Store, tmp_path: Path
) -> None:
    spec = grid("ftp://user:pw-in-url-9876@127.0.0.1/", timeout="soon")
    report = run_sources(store, [spec], expectations=False)
    assert not report.ok
    assert report.streams == []
    [entry] = report.sources
    assert entry.error is not None
    assert "base_url" in entry.error
    document = json.dumps(report.as_dict())
    page = render_html(report.as_dict())
    for text in (entry.error, document, page):
        assert API_KEY not in text
        assert "pw-in-url-9876" not in text
    assert "base_url" in page
    assert json.loads(document)["sources"][0]["error"] == entry.error


def test_hub_sync_fails_on_an_unreachable_server_and_a_broken_config(
    tmp_path: Path, police_url: str
) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    unreachable = grid(f"http://127.0.0.1:{closed_port()}", retry=NO_RETRY)
    broken = SourceSpec(
        id="broken", connector="police_db", config={"url": police_url, "streams": []}
    )
    save_sources(home, [unreachable, broken, police(police_url)])
    result = runner.invoke(app, ["sync", "--home", str(home)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert API_KEY not in result.output
    [path] = (home / "reports").glob("*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert report["ok"] is False
    sources = {s["source"]: s for s in report["sources"]}
    assert "streams" in sources["broken"]["error"]
    assert sources["grid_platform"]["error"] is None
    errors = [s["error"] for s in report["streams"] if s["source"] == "grid_platform"]
    assert errors
    assert all(e and "connection" in e for e in errors)
    assert all(s["error"] is None for s in report["streams"] if s["source"] == "police_db")
    assert API_KEY not in path.read_text(encoding="utf-8")
    assert "broken" in path.with_suffix(".html").read_text(encoding="utf-8")
    assert [s.id for s in load_sources(home)] == ["grid_platform", "broken", "police_db"]
    store = open_store(load_config(home))
    try:
        assert store.count("person") > 0
    finally:
        store.close()


def test_a_sources_file_error_quotes_no_value(tmp_path: Path) -> None:
    (tmp_path / "sources.yaml").write_text(
        "sources:\n  - id: grid\n    connector: grid_platform\n    api_key: leaked-9876\n"
    )
    with pytest.raises(ConfigurationError) as caught:
        load_sources(tmp_path)
    assert "api_key" in str(caught.value)
    assert "leaked-9876" not in str(caught.value)


def test_redact_replaces_the_longest_secret_first() -> None:
    assert redact("key abcdef and abc", {"abc", "abcdef"}) == f"key {REDACTED} and {REDACTED}"
