"""The declarative HTTP source against real loopback servers: the reference grid platform's
second dialect (page/pageSize, a ``data.list`` envelope, a token header) read through the
connector harness and synced by ``sources.yaml`` alone; the other paging styles; bad answers
as typed errors naming the source and stream."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI, Request
from typer.testing import CliRunner

from connectors.http import HttpSource
from connectors.sdk import ConfigurationError, FatalError, Source
from connectors.testing import SourceTests, keys_of, read_all
from hub.cli import app as cli
from hub.config import load_config, open_store
from hub.ingest.sources import SourcesFile
from hub.reference.grid_server import Table, create_app
from hub.reference.serve import ServerHandle, serve_in_thread
from hub.reference.sources import GRID_STREAMS
from hub.reference.world import CST, World, generate
from tests.conftest import BACKENDS, hub_home

APP_KEY, APP_SECRET = "hub-app", "v2-secret-4f1c"
FAST_RETRY = {"attempts": 3, "initial": 0.001, "maximum": 0.01, "deadline": 5}
MAPPINGS = {stream["name"]: stream["mapping"] for stream in GRID_STREAMS}


def dialect_2(url: str, **extra: Any) -> dict[str, Any]:
    """The reference platform's second dialect, as a steward would describe it."""
    streams = [
        {
            "name": name,
            "kind": kind,
            "primary_key": key,
            "cursor_field": "updateTime",
            "path": f"/openapi/{name}/list",
            "mapping": MAPPINGS[name],
        }
        for name, kind, key in (
            ("residents", "person", "id"),
            ("addresses", "address", "addressCode"),
            ("events", "incident", "eventNo"),
        )
    ]
    return {
        "base_url": url,
        "auth": {
            "type": "token",
            "url": "/api/auth/token",
            "body": {"appKey": APP_KEY, "appSecret": APP_SECRET},
            "token_path": "data.token",
            "expires_path": "data.expiresIn",
            "header": "X-Access-Token",
            "prefix": "",
        },
        "envelope": {"code_path": "code", "ok": [0], "message_path": "msg"},
        "records": "data.list",
        "paging": {
            "style": "page_number",
            "page_param": "page",
            "size_param": "pageSize",
            "total_path": "data.total",
        },
        "incremental": {"param": "updateTimeStart", "format": "%Y-%m-%d %H:%M:%S"},
        "retry": FAST_RETRY,
        "streams": streams,
    } | extra


@pytest.fixture(scope="module")
def world() -> World:
    return generate(120, seed=11)


@pytest.fixture(scope="module")
def grid(world: World) -> Iterator[tuple[str, FastAPI]]:
    app = create_app(world.grid, set(), {APP_KEY: APP_SECRET})
    with serve_in_thread(app) as server:
        yield server.url, app


@pytest.fixture
def serve() -> Iterator[Callable[[dict[str, list[dict[str, Any]]]], tuple[str, FastAPI]]]:
    servers: list[ServerHandle] = []

    def start(data: dict[str, list[dict[str, Any]]]) -> tuple[str, FastAPI]:
        app = create_app(data, set(), {APP_KEY: APP_SECRET})
        servers.append(serve_in_thread(app))
        return servers[-1].url, app

    yield start
    for server in servers:
        server.stop()


class TestDialect2(SourceTests):
    batch_size = 25
    min_valid_share = 0.8

    @pytest.fixture
    def source(self, grid: tuple[str, FastAPI]) -> Iterator[Source]:
        source = HttpSource("grid_v2", dialect_2(grid[0]))
        yield source
        source.close()

    @pytest.fixture
    def expected_counts(self, world: World) -> dict[str, int]:
        configured = {stream["name"] for stream in dialect_2("")["streams"]}
        return {name: len(rows) for name, rows in world.grid.items() if name in configured}


def test_an_incremental_read_sends_the_highest_time_and_skips_rows_read_at_it(
    serve: Callable[..., tuple[str, FastAPI]], world: World
) -> None:
    residents = [dict(r) for r in world.grid["residents"][:30]]
    url, app = serve({"residents": residents})
    source = HttpSource("grid_v2", dialect_2(url, page_size=7))
    try:
        stream = source.stream("residents")
        batches = read_all(source, stream, None, 1000)
        assert Counter(keys_of(stream, batches)) == Counter(r["id"] for r in residents)
        final = batches[-1].state
        assert final["page"] is None
        assert read_all(source, stream, final, 1000) == []
        # A row changed in the very second the last read ended at: listed again by the
        # inclusive updateTimeStart, handed out once; one changed later too.
        last = max(residents, key=lambda r: r["updatedAt"])
        same_second = residents[3] | {"mobile": "13912345678", "updatedAt": last["updatedAt"]}
        later = residents[4] | {"updatedAt": "2026-12-01T09:00:00+08:00"}
        table: Table = app.state.tables["residents"]
        table.put(same_second)
        table.put(later)
        again = read_all(source, stream, final, 1000)
        assert sorted(keys_of(stream, again)) == sorted([same_second["id"], later["id"]])
        assert again[-1].state["since"] == "2026-12-01 09:00:00"
    finally:
        source.close()


# --- the other paging styles, on a small API of each ---------------------------------------


def paged_api(rows: list[dict[str, Any]]) -> FastAPI:
    """``rows`` behind an offset, a cursor and a next-link API (a key header each)."""
    app = FastAPI()

    def allowed(request: Request) -> bool:
        return request.headers.get("x-tenant-key") == "k-1"

    @app.get("/offset")
    def by_offset(request: Request, offset: int = 0, size: int = 10) -> dict[str, Any]:
        assert allowed(request)
        return {"rows": rows[offset : offset + size], "total": len(rows)}

    @app.get("/cursor")
    def by_cursor(request: Request, token: str = "0", size: int = 10) -> dict[str, Any]:  # noqa: S107
        assert allowed(request)
        start = int(token)
        more = start + size < len(rows)
        return {"result": {"rows": rows[start : start + size]}, "next": str(start + size) * more}

    @app.get("/linked")
    def by_link(request: Request, at: int = 0) -> dict[str, Any]:
        assert allowed(request)
        following = f"/linked?at={at + 4}" if at + 4 < len(rows) else None
        return {"data": rows[at : at + 4], "links": {"next": following}}

    return app


STYLES = {
    "offset": ({"style": "offset", "size_param": "size", "total_path": "total"}, "rows"),
    "cursor": (
        {"style": "cursor", "cursor_param": "token", "cursor_path": "next", "size_param": "size"},
        "result.rows",
    ),
    "linked": ({"style": "next_link", "next_path": "links.next", "size_param": None}, "data"),
}


@pytest.mark.parametrize("style", sorted(STYLES))
def test_every_paging_style_reads_every_row_once_and_resumes_exactly(style: str) -> None:
    rows = [{"no": n, "name": f"row {n}"} for n in range(23)]
    paging, records = STYLES[style]
    with serve_in_thread(paged_api(rows)) as server:
        config = {
            "base_url": server.url,
            "auth": {"type": "api_key", "header": "X-Tenant-Key", "key": "k-1"},
            "paging": paging,
            "records": records,
            "page_size": 5,
            "streams": [
                {
                    "name": "s",
                    "kind": "unit",
                    "primary_key": "no",
                    "path": f"/{style}",
                    "full_refresh": True,
                }
            ],
        }
        source = HttpSource("api", config)
        try:
            stream = source.stream("s")
            batches = read_all(source, stream, None, 1000)
            assert keys_of(stream, batches) == list(range(23))
            for done, batch in enumerate(batches, start=1):
                rest = read_all(source, stream, batch.state, 1000)
                assert keys_of(stream, rest) == keys_of(stream, batches[done:])
        finally:
            source.close()


# --- bad answers ----------------------------------------------------------------------------


def test_bad_answers_are_fatal_errors_naming_source_and_stream(
    grid: tuple[str, FastAPI],
) -> None:
    url = grid[0]
    cases: list[tuple[dict[str, Any], type[Exception], str]] = [
        ({"records": "data.rows"}, FatalError, r"no rows at 'data\.rows'"),
        ({"records": "data"}, FatalError, "not a list of rows"),
    ]
    unknown = dialect_2(url)
    unknown["streams"] = [unknown["streams"][0] | {"path": "/openapi/people/list"}]
    wrong_secret = dialect_2(url)
    wrong_secret["auth"] = wrong_secret["auth"] | {"body": {"appKey": APP_KEY, "appSecret": "x"}}
    no_token = dialect_2(url)
    no_token["auth"] = no_token["auth"] | {"token_path": "data.accessToken"}
    configs = [(dialect_2(url, **change), kind, problem) for change, kind, problem in cases]
    configs += [
        (unknown, FatalError, "answered code 1004: 资源不存在"),
        (wrong_secret, FatalError, r"HTTP 401.*appKey or appSecret wrong.*check auth\.body"),
        (no_token, FatalError, "no token at 'data.accessToken'"),
    ]
    for config, kind, problem in configs:
        source = HttpSource("grid_v2", config)
        try:
            with pytest.raises(kind, match=problem) as caught:
                next(source.read(source.stream("residents"), None, 100))
            assert str(caught.value).startswith("grid_v2/residents: ")
            assert APP_SECRET not in str(caught.value)
        finally:
            source.close()


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"paging": {"style": "scroll"}}, "paging"),
        ({"auth": {"type": "token"}}, "auth.token.url"),
        ({"records": "data..list"}, "records"),
        ({"base_url": "file:///etc"}, "http"),
    ],
)
def test_a_bad_config_is_a_configuration_error_quoting_no_secret(
    change: dict[str, Any], problem: str
) -> None:
    with pytest.raises(ConfigurationError, match=problem) as caught:
        HttpSource("grid_v2", dialect_2("http://grid.example") | change)
    assert APP_SECRET not in str(caught.value)


def test_a_stream_path_may_not_climb_out() -> None:
    config = dialect_2("http://grid.example")
    config["streams"] = [config["streams"][0] | {"path": "/openapi/../admin"}]
    with pytest.raises(ConfigurationError, match=r"'\.\.'"):
        HttpSource("grid_v2", config)


# --- synced by sources.yaml alone -----------------------------------------------------------

SOURCES_YAML = """\
sources:
  - id: grid_v2
    connector: http
    config:
      base_url: {url}
      auth:
        type: token
        url: /api/auth/token
        body: {{appKey: {app_key}, appSecret: "${{GRID_V2_SECRET}}"}}
        token_path: data.token
        expires_path: data.expiresIn
        header: X-Access-Token
        prefix: ""
      envelope: {{code_path: code, ok: [0], message_path: msg}}
      records: data.list
      paging: {{style: page_number, page_param: page, size_param: pageSize,
               total_path: data.total}}
      incremental: {{param: updateTimeStart, format: "%Y-%m-%d %H:%M:%S"}}
      page_size: 20
      streams:
        - name: residents
          kind: person
          primary_key: id
          cursor_field: updateTime
          path: /openapi/residents/list
          mapping: {mapping}
"""


@pytest.fixture(params=BACKENDS)
def home(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Path]:
    with hub_home(request.param, tmp_path / "hub") as home:
        yield home


def test_a_second_dialect_is_synced_by_sources_yaml_alone(
    home: Path, grid: tuple[str, FastAPI], world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = SOURCES_YAML.format(
        url=grid[0], app_key=APP_KEY, mapping=json.dumps(MAPPINGS["residents"], ensure_ascii=False)
    )
    (home / "sources.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("GRID_V2_SECRET", APP_SECRET)
    runner = CliRunner()
    first = runner.invoke(cli, ["sync", "--home", str(home), "--workers", "1"])
    [path] = (home / "reports").glob("*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    [stream] = report["streams"]
    assert stream["error"] is None, stream
    residents = world.grid["residents"]
    assert stream["read"] == len(residents)
    assert stream["read"] == stream["stored"] + stream["quarantined"]
    assert stream["stored"] > 0.8 * len(residents)
    assert APP_SECRET not in first.output + path.read_text(encoding="utf-8")
    store = open_store(load_config(home))
    try:
        assert store.count("person") == stream["stored"] - stream["superseded"]
        state = store.load_state("grid_v2", "residents")
        assert state is not None
        assert state["page"] is None
        latest = max(dt.datetime.fromisoformat(r["updatedAt"]) for r in residents)
        assert state["since"] == latest.astimezone(CST).strftime("%Y-%m-%d %H:%M:%S")
    finally:
        store.close()
    path.unlink()
    again = runner.invoke(cli, ["sync", "--home", str(home), "--workers", "1"])
    [path] = (home / "reports").glob("*.json")
    [stream] = json.loads(path.read_text(encoding="utf-8"))["streams"]
    assert (stream["error"], stream["read"]) == (None, 0), again.output


def test_the_readmes_http_source_is_a_valid_config(monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    specs = [
        spec
        for block in re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
        if "sources" in (yaml.safe_load(block) or {})  # the sources.yaml blocks, not policies
        for spec in SourcesFile.model_validate(yaml.safe_load(block)).sources
        if spec.connector == "http"
    ]
    assert specs
    monkeypatch.setenv("ZZ_SECRET", "readme-secret")
    for spec in specs:
        source = spec.open()
        assert [s.name for s in source.streams()] == ["residents", "addresses"]
        assert source.stream("residents").deleted == {"status": ("注销", "迁出")}
        assert source.stream("addresses").full_refresh


def test_a_sources_secrets_are_its_credentials_not_the_names_of_places(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GRID_V2_SECRET", APP_SECRET)
    text = SOURCES_YAML.format(url="http://grid.example", app_key=APP_KEY, mapping="{}")
    [spec] = SourcesFile.model_validate(yaml.safe_load(text)).sources
    secrets = spec.secrets()
    assert APP_SECRET in secrets
    assert not secrets & {"data.token", "data.expiresIn", "updateTime"}
