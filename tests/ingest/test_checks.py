"""The run's cross-kind checks (``hub.ingest.checks``) through real syncs of the reference
police database, on SQLite and PostgreSQL: a person whose house the hub has never seen is
flagged with its source, a source silent for longer than its ``max_gap`` is stale, the
steward's threshold turns a warning into a failed run; and the anomaly rule."""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select, update
from typer.testing import CliRunner

from contracts import contract
from hub.cli import app
from hub.ingest.checks import REFERENCES, CheckConfig, PastRun, anomalies, last_sent
from hub.ingest.html import render_html
from hub.ingest.run import run_sources
from hub.ingest.sources import SourcesFile, SourceSpec, load_sources, save_sources
from hub.ingest.sync import StreamReport
from hub.reference.police_db import write_police_db
from hub.reference.sources import POLICE_STREAMS
from hub.reference.world import World, generate
from hub.store import Store
from hub.store.tables import sync_runs

NEVER_SEEN = "H9999999999"
"""A house code no source holds."""
runner = CliRunner()


@pytest.fixture(scope="module")
def world() -> World:
    return generate(people=30, seed=11)


@pytest.fixture
def police_url(tmp_path: Path, world: World) -> str:
    """The reference police database, five of its people living in a house never seen."""
    path = tmp_path / "police.db"
    write_police_db(world, f"sqlite:///{path}").dispose()
    with sqlite3.connect(path) as db:
        keys = [
            key
            for (key,) in db.execute(
                "SELECT RKID FROM t_rk_jbxx WHERE FWBM IS NOT NULL ORDER BY RKID LIMIT 5"
            )
        ]
        db.executemany(
            "UPDATE t_rk_jbxx SET FWBM = ? WHERE RKID = ?", [(NEVER_SEEN, k) for k in keys]
        )
    return f"sqlite:///{path}"


def police(url: str, checks: CheckConfig | None = None) -> SourceSpec:
    config = {"url": url, "streams": POLICE_STREAMS}
    return SourceSpec(id="police_db", connector="police_db", config=config, checks=checks)


def _changed(url: str) -> list[str]:
    with sqlite3.connect(url.removeprefix("sqlite:///")) as db:
        return [
            k for (k,) in db.execute("SELECT RKID FROM t_rk_jbxx WHERE FWBM = ?", (NEVER_SEEN,))
        ]


def _entry(report: dict[str, object], kind: str, name: str) -> dict[str, object]:
    checks = report["checks"]
    assert isinstance(checks, dict)
    [entry] = [e for e in checks["references"] if e["kind"] == kind and e["field"] == name]
    return entry  # type: ignore[no-any-return]


def test_a_person_whose_house_the_hub_never_saw_is_flagged_with_its_source(
    store: Store, police_url: str
) -> None:
    report = run_sources(store, [police(police_url)], expectations=False)
    assert report.ok, report.as_dict()  # by default a flag warns
    document = report.as_dict()
    entry = _entry(document, "person", "house_code")
    stored = [k for k in _changed(police_url) if store.get("person", "police_db", k)]
    assert stored, "the planted people must be stored to be checked"
    listed = {item["source_key"]: item for item in entry["listed"]}  # type: ignore[attr-defined]
    for key in stored:
        assert listed[key] == {"source_key": key, "target": "house", "status": "missing"}
    assert entry["source"] == "police_db"
    assert entry["stream"] == "people"
    assert entry["outcome"] == "warn"
    # the same answer read record by record: the people whose house no stored record has
    houses = {r.record.natural_key() for r in store.records("house")}
    people = {
        r.provenance.source_key: r.record.model_dump()["house_code"]
        for r in store.records("person", "police_db")
        if r.record.model_dump()["house_code"]
    }
    dangling = {key for key, house in people.items() if house not in houses}
    assert set(listed) == dangling
    assert entry["dangling"] == len(dangling)
    assert entry["checked"] == len(people)
    text = json.dumps(document, ensure_ascii=False)
    assert NEVER_SEEN not in text  # the dangling value itself is never reported
    page = render_html(document)
    assert "跨类型引用 References" in page
    assert stored[0] in page
    # the houses were checked too (their addresses), as rows this run touched
    assert _entry(document, "house", "address_code")["checked"] > 0


def test_a_second_run_checks_only_the_rows_it_touched(store: Store, police_url: str) -> None:
    run_sources(store, [police(police_url)], expectations=False)
    again = run_sources(store, [police(police_url)], expectations=False)
    assert again.checks["references"] == []  # incremental: nothing read, nothing checked
    entries = {(e["source"], e["stream"]) for e in again.checks["freshness"]}
    assert ("police_db", "people") in entries


def test_the_stewards_threshold_turns_the_warning_into_a_failed_run(
    store: Store, police_url: str
) -> None:
    strict = CheckConfig.model_validate({"fail_on": ["dangling"]})
    report = run_sources(store, [police(police_url, strict)], expectations=False)
    assert not report.ok
    assert _entry(report.as_dict(), "person", "house_code")["outcome"] == "fail"
    assert "项检查不合格" in render_html(report.as_dict())


def test_a_share_under_the_threshold_only_warns(store: Store, police_url: str) -> None:
    lenient = CheckConfig.model_validate(
        {"fail_on": ["dangling"], "streams": {"people": {"dangling_max": 0.9}}}
    )
    report = run_sources(store, [police(police_url, lenient)], expectations=False)
    people = _entry(report.as_dict(), "person", "house_code")
    assert people["outcome"] == "warn"
    assert lenient.for_stream("houses").dangling_max == 0.0


def _backdate(store: Store, days: int) -> None:
    """Every run recorded so far, as if it had started ``days`` earlier."""
    c = sync_runs.c
    with store.engine.begin() as conn:
        for run_id, started in conn.execute(select(c.id, c.started_at)).all():
            earlier = started - dt.timedelta(days=days)
            conn.execute(update(sync_runs).where(c.id == run_id).values(started_at=earlier))


def test_a_source_silent_for_longer_than_its_gap_is_stale(store: Store, police_url: str) -> None:
    first = run_sources(store, [police(police_url)], expectations=False)
    assert not any(e["stale"] for e in first.checks["freshness"])
    _backdate(store, 3)
    checks = CheckConfig.model_validate({"max_gap": "2d", "streams": {"units": {"max_gap": "4d"}}})
    second = run_sources(store, [police(police_url, checks)], expectations=False)
    assert second.ok  # stale warns by default
    fresh = {e["stream"]: e for e in second.checks["freshness"]}
    people = fresh["people"]
    assert people["stale"] is True
    assert people["outcome"] == "warn"
    assert people["max_gap"] == "2d"
    assert people["gap_seconds"] > 2 * 86400
    day = (dt.datetime.now(dt.UTC) - dt.timedelta(days=3)).date().isoformat()
    assert people["rows_per_day"][day] > 0
    assert fresh["units"]["stale"] is False
    assert "已过期 stale" in render_html(second.as_dict())
    assert last_sent(store)[("police_db", "people")] > 2 * 86400

    failing = CheckConfig.model_validate({"max_gap": "2d", "fail_on": ["stale"]})
    third = run_sources(store, [police(police_url, failing)], expectations=False)
    assert not third.ok
    assert {e["stream"] for e in third.checks["freshness"] if e["outcome"] == "fail"} >= {"people"}


def test_hub_sync_reads_the_thresholds_from_sources_yaml_and_fails(
    tmp_path: Path, police_url: str
) -> None:
    home = tmp_path / "hub"
    assert runner.invoke(app, ["init", "--home", str(home)]).exit_code == 0
    save_sources(home, [police(police_url, CheckConfig.model_validate({"fail_on": ["dangling"]}))])
    assert "fail_on" in (home / "sources.yaml").read_text(encoding="utf-8")
    [spec] = load_sources(home)
    assert spec.checks is not None
    assert spec.checks.fail_on == ["dangling"]
    result = runner.invoke(app, ["sync", "--home", str(home)], env={"COLUMNS": "200"})
    assert result.exit_code == 1, result.output
    assert "police_db/people: person.house_code" in result.output
    [path] = (home / "reports").glob("*.json")
    report = json.loads(path.read_text(encoding="utf-8"))
    assert _entry(report, "person", "house_code")["outcome"] == "fail"


def test_the_references_name_real_fields() -> None:
    for ref in REFERENCES:
        fields = contract(ref.kind).model_fields
        assert ref.field in fields
        if ref.target is not None:
            assert len(contract(ref.target).natural_key_fields()) == 1
        else:
            assert ref.target_field in fields


def _stream(read: int, quarantined: int = 0) -> StreamReport:
    report = StreamReport("police_db", "people", "person", read=read)
    report.quarantined = quarantined
    return report


def test_the_anomaly_rule() -> None:
    config = CheckConfig()
    steady = [PastRun(100, 2), PastRun(110, 3), PastRun(90, 2), PastRun(105, 1)]
    assert anomalies(_stream(100), steady[:2], config) == []  # too little history
    normal = anomalies(_stream(120, 3), steady, config)
    assert [(e["metric"], e["flagged"]) for e in normal] == [
        ("volume", False),
        ("quarantine_rate", False),
    ]
    [volume, _] = anomalies(_stream(400, 3), steady, config)  # > 3 × median 102.5
    assert volume["flagged"]
    assert volume["outcome"] == "warn"
    assert volume["median"] == 102.5
    [drop, _] = anomalies(_stream(30), steady, config)  # < median / 3
    assert drop["flagged"]
    [_, rate] = anomalies(_stream(100, 30), steady, config)  # 30 % against about 2 %
    assert rate["flagged"]
    assert rate["limit"] == pytest.approx(0.0211 + 0.05, abs=1e-3)
    strict = CheckConfig.model_validate({"fail_on": ["anomaly"], "anomaly": {"factor": 2}})
    [volume, _] = anomalies(_stream(250, 3), steady, strict)
    assert volume["outcome"] == "fail"
    small = [PastRun(3, 0), PastRun(4, 0), PastRun(2, 0)]
    assert not anomalies(_stream(40), small, config)[0]["flagged"]  # below MIN_VOLUME


def test_the_readme_documents_the_checks_keys() -> None:
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    specs = [
        spec
        for block in re.findall(r"```yaml\n(.*?)```", readme, flags=re.DOTALL)
        if "sources" in (yaml.safe_load(block) or {})
        for spec in SourcesFile.model_validate(yaml.safe_load(block)).sources
        if spec.checks is not None
    ]
    assert specs
    [checks] = [spec.checks for spec in specs if spec.checks is not None]
    assert checks.max_gap == dt.timedelta(days=2)
    assert checks.for_stream("people").max_gap == dt.timedelta(days=1)
    for key in ("max_gap", "fail_on", "dangling_max", "anomaly"):
        assert f"`{key}`" in readme
