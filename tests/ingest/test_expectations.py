"""Dataset-level expectations: generated from the contracts, run with great-expectations."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from contracts import CONTRACTS, Incident, Person
from contracts.codes import ETHNICITY, SEX
from hub.ingest import StreamReport
from hub.ingest.expectations import CITIZEN_ID_PATTERN, checks, validate_run, validate_stored
from hub.ingest.report import RunReport
from hub.store import Store
from policies import mask
from tests.data import ID_NUMBERS, make_records

ROOT = Path(__file__).resolve().parents[2]
NOW = dt.datetime(2026, 11, 20, 12, 0, tzinfo=dt.UTC)


def people() -> list[Person]:
    """Three valid, distinct persons."""
    base = make_records()["person"].model_dump(mode="json")
    return [
        Person.model_validate(base),
        Person.model_validate(
            base
            | {
                "id_number": ID_NUMBERS[1],
                "name": "李娜",
                "sex": "2",
                "birth_date": "1985-06-12",
                "phone": None,
                "police_tags": [],
            }
        ),
        Person.model_validate(
            base | {"id_number": ID_NUMBERS[2], "name": "张小伟", "birth_date": "2012-03-15"}
        ),
    ]


def upsert(store: Store, source: str, pairs: list[tuple[str, Any]], now: dt.datetime) -> None:
    with store.begin() as tx:
        tx.upsert(source, pairs, now=now)


def by_check(results: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    found = {(r["expectation"], r["column"]): r for r in results}
    assert len(found) == len(results), "one result per expectation and column"
    return found


def test_valid_records_of_two_sources_pass_every_expectation(store: Store) -> None:
    police, grid = people(), people()[:2]
    upsert(store, "police", [(f"P{i}", p) for i, p in enumerate(police)], NOW)
    upsert(store, "grid", [(f"G{i}", p) for i, p in enumerate(grid)], NOW)

    results = validate_stored(store, "person", "police", now=NOW)

    assert [r for r in results if not r["success"]] == []
    assert {r["source"] for r in results} == {"police"}
    assert {r["kind"] for r in results} == {"person"}
    assert set(by_check(results)) == {
        *(
            ("expect_column_values_to_not_be_null", name)
            for name in (
                "id_number",
                "name",
                "sex",
                "birth_date",
                "ethnicity",
                "household_type",
                "address_code",
                "grid_code",
                "beat_code",
            )
        ),
        ("expect_column_values_to_be_in_set", "sex"),
        ("expect_column_values_to_be_in_set", "ethnicity"),
        ("expect_column_values_to_be_in_set", "household_type"),
        ("expect_column_values_to_match_regex", "id_number"),
        ("expect_column_values_to_be_unique", "id_number"),
        ("expect_column_max_to_be_between", "last_updated"),
    }
    null = by_check(results)[("expect_column_values_to_not_be_null", "id_number")]
    assert null["observed"] == {
        "element_count": 3,
        "unexpected_count": 0,
        "unexpected_percent": 0.0,
    }
    fresh = by_check(results)[("expect_column_max_to_be_between", "last_updated")]
    assert fresh["observed"]["observed_value"] == NOW.isoformat()
    json.dumps(results)

    grid_results = validate_stored(store, "person", "grid", now=NOW)
    assert all(r["success"] for r in grid_results)
    assert (
        by_check(grid_results)[("expect_column_values_to_be_unique", "id_number")]["observed"][
            "element_count"
        ]
        == 2
    )


def test_a_stale_source_fails_freshness(store: Store) -> None:
    stale = NOW - dt.timedelta(days=30)
    upsert(store, "old", [("P0", people()[0]), ("P1", people()[1])], stale)
    upsert(store, "mixed", [("P0", people()[0])], stale)
    upsert(store, "mixed", [("P1", people()[1])], NOW - dt.timedelta(days=1))

    old = by_check(validate_stored(store, "person", "old", now=NOW))
    freshness = old[("expect_column_max_to_be_between", "last_updated")]
    assert freshness["success"] is False
    assert freshness["observed"] == {
        "observed_value": stale.isoformat(),
        "min_value": (NOW - dt.timedelta(days=7)).isoformat(),
    }
    assert [key for key, r in old.items() if not r["success"]] == [
        ("expect_column_max_to_be_between", "last_updated")
    ]

    lenient = validate_stored(store, "person", "old", now=NOW, max_age=dt.timedelta(days=31))
    assert all(r["success"] for r in lenient)

    mixed = by_check(validate_stored(store, "person", "mixed", now=NOW))
    assert mixed[("expect_column_max_to_be_between", "last_updated")]["success"] is True


def test_a_duplicate_natural_key_within_one_source_fails_uniqueness(store: Store) -> None:
    person = people()[0]
    upsert(store, "police", [("P-1", person), ("P-2", people()[1])], NOW)
    upsert(store, "police", [("P-1-again", person)], NOW)
    upsert(store, "grid", [("G-1", person)], NOW)

    results = validate_stored(store, "person", "police", now=NOW)

    unique = by_check(results)[("expect_column_values_to_be_unique", "id_number")]
    assert unique["success"] is False
    assert unique["observed"]["element_count"] == 3
    assert unique["observed"]["unexpected_count"] == 2
    assert unique["examples"] == ["320104************"]
    assert unique["source_keys"] == ["P-1", "P-1-again"]
    assert [r for r in results if not r["success"]] == [unique]
    assert ID_NUMBERS[0] not in json.dumps(results)

    grid = validate_stored(store, "person", "grid", now=NOW)
    assert all(r["success"] for r in grid)


def test_values_outside_the_contract_fail_with_masked_examples(store: Store) -> None:
    """Records stored before a rule existed (or written around it) are still checked."""
    good = people()[0]
    broken = Person.model_construct(
        **(dict(good) | {"id_number": "320104199013071231", "sex": "7", "ethnicity": "99"})
    )
    upsert(store, "legacy", [("L-1", good), ("L-2", broken)], NOW)

    results = by_check(validate_stored(store, "person", "legacy", now=NOW))

    regex = results[("expect_column_values_to_match_regex", "id_number")]
    assert regex["success"] is False
    assert regex["observed"] == {
        "element_count": 2,
        "unexpected_count": 1,
        "unexpected_percent": 50.0,
    }
    assert regex["examples"] == ["320104************"]
    assert regex["source_keys"] == ["L-2"]
    sex = results[("expect_column_values_to_be_in_set", "sex")]
    assert (sex["success"], sex["examples"]) == (False, ["7"])
    ethnicity = results[("expect_column_values_to_be_in_set", "ethnicity")]
    assert (ethnicity["success"], ethnicity["examples"]) == (False, ["99"])
    assert "320104199013071231" not in json.dumps(list(results.values()))


def test_citizen_ids_in_a_list_field_are_checked_item_by_item(store: Store) -> None:
    incident = make_records()["incident"]
    assert isinstance(incident, Incident)
    broken = Incident.model_construct(
        **(
            dict(incident)
            | {"incident_id": "E2", "party_id_numbers": [ID_NUMBERS[2], "1234567890abcdefgh"]}
        )
    )
    upsert(store, "grid", [("E1", incident), ("E2", broken)], NOW)

    results = by_check(validate_stored(store, "incident", "grid", now=NOW))

    regex = results[("expect_column_values_to_match_regex", "party_id_numbers")]
    assert regex["success"] is False
    assert regex["observed"]["element_count"] == 4
    assert regex["observed"]["unexpected_count"] == 1
    assert regex["examples"] == ["123456************"]
    assert regex["source_keys"] == ["E2"]
    assert [key for key, r in results.items() if not r["success"]] == [
        ("expect_column_values_to_match_regex", "party_id_numbers")
    ]


def test_a_source_without_records_is_not_fresh(store: Store) -> None:
    results = by_check(validate_stored(store, "person", "nobody", now=NOW))
    freshness = results.pop(("expect_column_max_to_be_between", "last_updated"))
    assert freshness["success"] is False
    assert freshness["observed"]["observed_value"] is None
    assert all(r["success"] and r["observed"]["element_count"] == 0 for r in results.values())


def test_validate_run_covers_every_source_and_kind_the_run_touched(store: Store) -> None:
    records = make_records()
    upsert(store, "police", [("P0", records["person"]), ("E0", records["incident"])], NOW)
    upsert(store, "grid", [("G0", records["person"])], NOW)
    report = RunReport("run-1", NOW)
    report.streams = [
        StreamReport("police", "persons", "person"),
        StreamReport("police", "persons_archive", "person"),
        StreamReport("police", "incidents", "incident"),
        StreamReport("grid", "residents", "person"),
    ]

    validate_run(store, report, now=NOW)

    pairs = [(e["source"], e["kind"]) for e in report.expectations]
    assert list(dict.fromkeys(pairs)) == [
        ("police", "person"),
        ("police", "incident"),
        ("grid", "person"),
    ]
    assert len(report.expectations) == 2 * len(checks("person")) + len(checks("incident"))
    assert all(e["success"] for e in report.expectations)
    saved = json.loads(json.dumps(report.as_dict(), ensure_ascii=False))
    assert saved["expectations"] == report.expectations


def test_suites_are_generated_from_every_contract() -> None:
    citizen_ids = {}
    for kind, model in CONTRACTS.items():
        plan = checks(kind, now=NOW)
        kinds = {(c.expectation, c.column) for c in plan}
        for spec in model.specs():
            assert (("ExpectColumnValuesToNotBeNull", spec.name) in kinds) is spec.required
        (key,) = model.natural_key_fields()
        assert ("ExpectColumnValuesToBeUnique", key) in kinds
        freshness = [c for c in plan if c.expectation == "ExpectColumnMaxToBeBetween"]
        assert [(c.column, c.kwargs) for c in freshness] == [
            ("last_updated", {"min_value": NOW - dt.timedelta(days=7)})
        ]
        for check in plan:
            if check.expectation == "ExpectColumnValuesToMatchRegex":
                assert check.kwargs == {"regex": CITIZEN_ID_PATTERN}
                assert check.masked
                citizen_ids[(kind, check.column)] = check.items
    assert citizen_ids == {
        ("person", "id_number"): False,
        ("house", "owner_id_number"): False,
        ("incident", "party_id_numbers"): True,
    }
    value_sets = {
        (kind, c.column): c.kwargs["value_set"]
        for kind in CONTRACTS
        for c in checks(kind)
        if c.expectation == "ExpectColumnValuesToBeInSet"
    }
    assert value_sets[("person", "sex")] == list(SEX) == ["0", "1", "2", "9"]
    assert value_sets[("person", "ethnicity")] == list(ETHNICITY)
    assert value_sets[("person", "household_type")] == ["户籍", "流动", "境外"]
    assert value_sets[("incident", "risk_level")] == ["低", "中", "高"]
    assert "person" in value_sets[("visit", "record_kind")]
    assert ("person", "phone") not in value_sets


@pytest.mark.parametrize(
    ("value", "masked"),
    [
        ("320104199003071231", "320104************"),
        ("13812345678", "138****5678"),
        ("1234567", "12****7"),
        ("", ""),
    ],
)
def test_reports_mask_with_the_policies_mask(value: str, masked: str) -> None:
    assert mask(value) == masked


def test_the_cli_does_not_import_great_expectations() -> None:
    code = (
        "import sys, hub.cli, hub.ingest.expectations, hub.ingest.html; "
        "print(sorted({'great_expectations', 'pandas'} & set(sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == "[]"
