"""The steward's HTML page of a run report: self-contained, escaped, with the numbers."""

from __future__ import annotations

import datetime as dt
import json
from collections import Counter
from typing import Any

from hub.ingest import StreamReport
from hub.ingest.html import render_html
from hub.ingest.report import RunReport
from hub.store import UpsertCounts

STARTED = dt.datetime(2026, 11, 20, 1, 0, tzinfo=dt.UTC)
EVIL = "<script>alert('x')</script>"


def report() -> dict[str, Any]:
    persons = StreamReport(
        "police",
        "persons",
        "person",
        read=1234,
        counts=UpsertCounts(inserted=1100, updated=77, unchanged=40, superseded=3),
        quarantined=14,
        failures=Counter({"id_number:id_check_digit": 9, "ethnicity:unknown_code": 5}),
        examples={
            "id_number:id_check_digit": ["P0005", EVIL],
            "ethnicity:unknown_code": ["P0020"],
        },
    )
    broken = StreamReport("grid", EVIL, "incident", error="connection refused by 网格平台")
    run = RunReport("20261120T010000Z-abc123", STARTED, STARTED + dt.timedelta(seconds=42.5))
    run.streams = [persons, broken]
    run.expectations = [
        {
            "source": "police",
            "kind": "person",
            "expectation": "expect_column_values_to_be_unique",
            "column": "id_number",
            "success": False,
            "observed": {"element_count": 1217, "unexpected_count": 6, "unexpected_percent": 0.49},
            "examples": ["320*************31"],
            "source_keys": ["P0001", EVIL],
        },
        {
            "source": "police",
            "kind": "person",
            "expectation": "expect_column_max_to_be_between",
            "column": "last_updated",
            "success": True,
            "observed": {
                "observed_value": STARTED.isoformat(),
                "min_value": (STARTED - dt.timedelta(days=7)).isoformat(),
            },
            "examples": [],
            "source_keys": [],
        },
    ]
    # What ``hub report`` reads back: the saved JSON.
    loaded: dict[str, Any] = json.loads(json.dumps(run.as_dict(), ensure_ascii=False))
    return loaded


def test_the_page_shows_the_run_and_its_numbers() -> None:
    page = render_html(report())
    assert page.startswith("<!DOCTYPE html>")
    assert "20261120T010000Z-abc123" in page
    assert "2026-11-20 01:00:00 UTC" in page
    assert "42.5 s" in page
    for number in (1234, 1100, 77, 40, 3, 14, 9, 5):
        assert f'<td class="num">{number}</td>' in page, number
    assert '<div class="n">1220</div>' in page  # stored in total
    assert "6 / 1217 (0.49%)" in page
    assert "P0005" in page
    assert "P0020" in page
    assert "320*************31" in page
    assert "connection refused by 网格平台" in page


def test_the_page_labels_kinds_fields_and_checks_in_chinese() -> None:
    page = render_html(report())
    for label in (
        "实有人口",
        "警情事件",
        "公民身份号码",
        "民族",
        "唯一性",
        "时效性",
        "身份号码校验位",
    ):
        assert label in page, label
    assert 'class="fail"' in page
    assert 'class="pass"' in page
    assert "未通过" in page


def test_the_page_is_self_contained() -> None:
    page = render_html(report()).lower()
    for reference in ("<script", "http://", "https://", "<link", "@import", "url(", "src="):
        assert reference not in page, reference
    assert "<style>" in page


def test_every_value_is_escaped() -> None:
    page = render_html(report())
    assert EVIL not in page
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in page


def test_an_empty_or_old_report_still_renders() -> None:
    page = render_html({"run_id": "r1", "started": "not a time", "finished": None})
    assert "r1" in page
    assert "not a time" in page
    assert "本次未运行数据集校验" in page
